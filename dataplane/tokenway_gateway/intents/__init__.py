"""Semantic intents for routing: a prompt's embedding against each intent's example utterances.

matcher = IntentMatcher.build(route.intents)   # once per config snapshot, off the event loop
found = matcher.match(prompt_embedding)       # IntentMatch(name, score, probability) | None, microseconds

``IntentMatcher`` fits a small classifier per snapshot (``matcher.py``); ``SimilarityMatcher`` is
the previous nearest-example rule, kept as the benchmark's baseline (``similarity.py``).
"""

from .background import BACKGROUND_EXAMPLES, PREVIOUS_BACKGROUND_SIZE
from .classifier import SoftmaxRegression, fit_softmax_regression, softmax
from .matcher import (
    DEFAULT_CENTROID_WEIGHT,
    DEFAULT_L2,
    DEFAULT_NONE_WEIGHT,
    DEFAULT_SIMILARITY_SCALE,
    DEFAULT_TOP_K,
    IntentMatcher,
    embed_examples,
)
from .similarity import ExampleIndex, SimilarityMatcher
from .types import BlockingEmbedder, IntentMatch

__all__ = [
    "BACKGROUND_EXAMPLES",
    "DEFAULT_CENTROID_WEIGHT",
    "DEFAULT_L2",
    "DEFAULT_NONE_WEIGHT",
    "DEFAULT_SIMILARITY_SCALE",
    "DEFAULT_TOP_K",
    "PREVIOUS_BACKGROUND_SIZE",
    "BlockingEmbedder",
    "ExampleIndex",
    "IntentMatch",
    "IntentMatcher",
    "SimilarityMatcher",
    "SoftmaxRegression",
    "embed_examples",
    "fit_softmax_regression",
    "softmax",
]
