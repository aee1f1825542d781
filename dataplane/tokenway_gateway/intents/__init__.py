"""Semantic intents for routing: a prompt's embedding against each intent's example utterances.

matcher = IntentMatcher.build(route.intents)   # once per config snapshot, off the event loop
found = matcher.match(prompt_embedding)       # IntentMatch(name, score, probability) | None, microseconds

A prompt that carries a payload ("summarize this: <paragraphs>") is embedded with its instruction
(``prompt_texts(text)``: one or two texts, one batch) and matched with
``matcher.prompt_vector(rows)`` (``payload.py``, ``matcher.py``).

``IntentMatcher`` fits a small classifier per snapshot (``matcher.py``); ``SimilarityMatcher`` is
the previous nearest-example rule, kept as the benchmark's baseline (``similarity.py``).
"""

from .background import BACKGROUND_EXAMPLES, PREVIOUS_BACKGROUND_SIZE
from .classifier import SoftmaxRegression, fit_softmax_regression, softmax
from .matcher import (
    DEFAULT_CENTROID_WEIGHT,
    DEFAULT_L2,
    DEFAULT_NONE_WEIGHT,
    DEFAULT_PAYLOAD_WEIGHT,
    DEFAULT_SIMILARITY_SCALE,
    DEFAULT_TOP_K,
    IntentMatcher,
    embed_examples,
    prompt_texts,
    prompt_vector,
)
from .payload import PromptParts, split_payload
from .similarity import ExampleIndex, SimilarityMatcher
from .types import BlockingEmbedder, IntentMatch

__all__ = [
    "BACKGROUND_EXAMPLES",
    "DEFAULT_CENTROID_WEIGHT",
    "DEFAULT_L2",
    "DEFAULT_NONE_WEIGHT",
    "DEFAULT_PAYLOAD_WEIGHT",
    "DEFAULT_SIMILARITY_SCALE",
    "DEFAULT_TOP_K",
    "PREVIOUS_BACKGROUND_SIZE",
    "BlockingEmbedder",
    "ExampleIndex",
    "IntentMatch",
    "IntentMatcher",
    "PromptParts",
    "SimilarityMatcher",
    "SoftmaxRegression",
    "embed_examples",
    "fit_softmax_regression",
    "prompt_texts",
    "prompt_vector",
    "softmax",
    "split_payload",
]
