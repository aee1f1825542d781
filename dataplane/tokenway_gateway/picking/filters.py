"""Filters of the llm-aware frame. Health and ejection are checked while candidates are drawn
(picker.Candidates), so a filter here only sees endpoints that may take traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import PickRequest
from .signals import Freshness

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint


class SaturationFilter:
    """Drops endpoints whose waiting queue or KV-cache use is above its threshold.

    Soft: when every candidate is saturated they all stay (the picker's scorers then
    choose the least bad one; queuing in the gateway is a separate stage).
    """

    name = "saturation"
    soft = True

    def __init__(self, freshness: Freshness, queue_threshold: int, kv_threshold: float) -> None:
        self.freshness = freshness
        self.queue_threshold = queue_threshold
        self.kv_threshold = kv_threshold

    def saturated(self, endpoint: Endpoint, now: float) -> bool:
        freshness = self.freshness
        return freshness.queue(endpoint, now) > self.queue_threshold or \
            freshness.kv_usage(endpoint, now) > self.kv_threshold

    def filter(self, request: PickRequest, candidates: list[Endpoint], now: float) -> list[Endpoint]:
        saturated = self.saturated
        return [e for e in candidates if not saturated(e, now)]


class ModelFilter:
    """Drops endpoints that report the models and LoRA adapters they serve and lack the requested one.

    Soft: endpoints that report nothing are kept, and when no candidate reports the model
    (a served name that differs from the canonical one) the filter steps aside.
    """

    name = "model"
    soft = True

    def filter(self, request: PickRequest, candidates: list[Endpoint], now: float) -> list[Endpoint]:
        model = request.model
        return [e for e in candidates if e.served_models is None or model in e.served_models]
