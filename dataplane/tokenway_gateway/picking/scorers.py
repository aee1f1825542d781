"""Scorers of the generic frame (picker.ScoringPicker): each adds weight x score (0..1, higher is
better) to every candidate's total, normalized min-max over the candidates as the Inference
Extension's queue scorer does: the least loaded candidate scores 1, the most loaded 0.

The llm-aware picker (llm.py) computes its scorers (queue, KV cache, in-flight, TTFT, prefix) in
one pass over shared per-candidate signals instead, for speed; the formulas are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import PickRequest

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint


def _add_min_max(values: list[float], totals: list[float], weight: float) -> None:
    """totals[i] += weight * (max - v) / (max - min): lower values score higher."""
    low = min(values)
    high = max(values)
    if high <= low:
        for i in range(len(totals)):
            totals[i] += weight
        return
    scale = weight / (high - low)
    for i, value in enumerate(values):
        totals[i] += (high - value) * scale


class _NoState:
    needs_prefix = False

    def picked(self, request: PickRequest, endpoint: Endpoint, now: float) -> None:
        return None


class InFlightScorer(_NoState):
    """Requests the gateway has outstanding on the endpoint, per unit of weight."""

    name = "in_flight"

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        _add_min_max([e.in_flight / e.weight for e in candidates], totals, weight)
