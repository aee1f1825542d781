"""Semantic intents for routing: a prompt's embedding against each intent's example utterances.

matcher = IntentMatcher.build(route.intents)   # once per config snapshot, off the event loop
found = matcher.match(prompt_embedding)       # IntentMatch(name, score) | None, microseconds
"""

from .background import BACKGROUND_EXAMPLES
from .matcher import (
    DEFAULT_BACKGROUND_MARGIN,
    DEFAULT_CENTROID_WEIGHT,
    DEFAULT_MARGIN,
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    BlockingEmbedder,
    IntentMatch,
    IntentMatcher,
)

__all__ = [
    "BACKGROUND_EXAMPLES",
    "DEFAULT_BACKGROUND_MARGIN",
    "DEFAULT_CENTROID_WEIGHT",
    "DEFAULT_MARGIN",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP_K",
    "BlockingEmbedder",
    "IntentMatch",
    "IntentMatcher",
]
