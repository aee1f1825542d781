"""Endpoint picking in the Gateway API Inference Extension / llm-d shape.

candidates (bounded) -> filters -> weighted scorers -> highest score. The classic
algorithms (round robin, weighted, least request, power of two, consistent hash with
bounded load) and `llm-aware` are pickers of this frame; PickerRegistry keeps them,
and their state, across config swaps. See picker.py for the frame, llm.py for the
LLM-aware picker, affinity.py for prefix affinity across gateway replicas.
"""

from .base import CANCELLED, CONNECT_FAILURE, OK, RESET, TIMEOUT, AttemptOutcome, Outcome, PickRequest
from .picker import EndpointPicker
from .prefix import PrefixHashes, prefix_block_hashes
from .registry import PickerRegistry, build_picker

__all__ = [
    "CANCELLED",
    "CONNECT_FAILURE",
    "OK",
    "RESET",
    "TIMEOUT",
    "AttemptOutcome",
    "EndpointPicker",
    "Outcome",
    "PickRequest",
    "PickerRegistry",
    "PrefixHashes",
    "build_picker",
    "prefix_block_hashes",
]
