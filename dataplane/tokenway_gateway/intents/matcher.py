"""Match a prompt's embedding against the intents a RoutePolicy defines.

Each intent is a set of example utterances, embedded once when the config is built (a
blocking call: build the matcher off the event loop). A prompt's score for an intent blends
how close it is to the intent's nearest examples (the mean of its ``top_k`` highest cosine
similarities) with how close it is to the intent as a whole (cosine similarity to the
normalised mean of its examples): ``(1 - centroid_weight) * top_k_mean + centroid_weight *
centroid``. The nearest examples catch prompts phrased like one example; the centroid catches
prompts of a broad intent ("coding") that resemble no single example. The best-scoring
intent matches when

* its score reaches the intent's threshold (``Intent.threshold``, else the default), and
* it beats the runner-up intent by at least ``margin``: a prompt that sits between two
  intents is not routed on a coin flip.

* no built-in none-of-the-above exemplar (``background.py``: everyday prompts that belong
  to no routing intent) is nearer than the intent by ``background_margin`` or more.

Otherwise nothing matches, so off-topic prompts fall through to the rules that do not need
an intent. The defaults (top-3 mean blended half and half with the centroid, threshold 0.15,
no margin, background margin 0.05) were chosen by 5-fold cross-validation on the tune half of
``bench/data/intents_*.jsonl``; the held-out half is what ``bench/intents.py`` reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .background import BACKGROUND_EXAMPLES

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..api.route import Intent

DEFAULT_THRESHOLD = 0.15
DEFAULT_MARGIN = 0.0
DEFAULT_TOP_K = 3
DEFAULT_CENTROID_WEIGHT = 0.5
DEFAULT_BACKGROUND_MARGIN = 0.05


class BlockingEmbedder(Protocol):
    """What the matcher needs to embed the examples: ``embed(texts) -> (n, dim)`` L2-normalised rows."""

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The matched intent and its score (cosine similarity, top-k mean)."""

    name: str
    score: float


class IntentMatcher:
    """Built once per config snapshot; ``match`` is a single matrix-vector product (microseconds)."""

    def __init__(
        self,
        names: Sequence[str],
        example_vectors: Sequence[NDArray[np.float32]],
        thresholds: Sequence[float | None],
        *,
        default_threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        top_k: int = DEFAULT_TOP_K,
        centroid_weight: float = DEFAULT_CENTROID_WEIGHT,
        background_vectors: NDArray[np.float32] | None = None,
        background_margin: float = DEFAULT_BACKGROUND_MARGIN,
    ) -> None:
        if not (len(names) == len(example_vectors) == len(thresholds)):
            raise ValueError("names, example_vectors and thresholds must have the same length")
        if len(set(names)) != len(names):
            raise ValueError("intent names must be unique")
        if any(len(v) == 0 for v in example_vectors):
            raise ValueError("every intent needs at least one example")
        self.names: tuple[str, ...] = tuple(names)
        self.thresholds = np.array([default_threshold if t is None else t for t in thresholds], dtype=np.float32)
        self.margin = margin
        self.top_k = max(1, top_k)
        counts = [len(v) for v in example_vectors]
        self._starts = np.cumsum([0, *counts[:-1]]) if counts else np.zeros(0, dtype=np.intp)
        self._matrix: NDArray[np.float32] = (
            np.vstack(example_vectors).astype(np.float32, copy=False)
            if example_vectors
            else np.zeros((0, 0), dtype=np.float32)
        )
        # One matrix holds every example, then each intent's centroid, then the background
        # exemplars: one matrix-vector product scores them all.
        self._n_examples = int(sum(counts))
        self.centroid_weight = centroid_weight
        if counts:
            centroids = np.vstack([v.mean(axis=0) for v in example_vectors]).astype(np.float32)
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
            self._matrix = np.vstack([self._matrix, centroids])
        self._n_scored = self._n_examples + len(counts)
        self._has_background = background_vectors is not None and len(background_vectors) > 0
        if self._has_background and counts:
            assert background_vectors is not None
            self._matrix = np.vstack([self._matrix, np.asarray(background_vectors, dtype=np.float32)])
        self.background_margin = background_margin
        # Top-k means without a Python loop: a (intents, max examples) grid of indices into the
        # similarity vector, padded with an index that holds -inf.
        width = max(counts, default=1)
        self._k = min(self.top_k, width)
        grid = np.full((len(counts), width), self._n_examples, dtype=np.intp)
        for i, (start, count) in enumerate(zip(self._starts, counts, strict=True)):
            grid[i, :count] = np.arange(start, start + count)
        self._grid = grid
        self._divisor = np.minimum(np.array(counts, dtype=np.float32), self._k)

    @classmethod
    def build(
        cls,
        intents: Sequence[Intent],
        embedder: BlockingEmbedder | None = None,
        *,
        default_threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        top_k: int = DEFAULT_TOP_K,
        centroid_weight: float = DEFAULT_CENTROID_WEIGHT,
        background: Sequence[str] = BACKGROUND_EXAMPLES,
        background_margin: float = DEFAULT_BACKGROUND_MARGIN,
    ) -> IntentMatcher:
        """Embed every intent's examples in one batch (blocking: call it off the event loop).

        ``background``: none-of-the-above exemplars (``()`` turns that rule off).
        """
        if embedder is None:
            from ..semantic import get_embedder

            embedder = get_embedder()
        texts = [example for intent in intents for example in intent.examples]
        n_background = len(background) if texts else 0
        all_vectors = (
            embedder.embed([*texts, *background[:n_background]]) if texts else np.zeros((0, 0), dtype=np.float32)
        )
        vectors = all_vectors[: len(texts)]
        background_vectors = all_vectors[len(texts) :] if n_background else None
        split: list[NDArray[np.float32]] = []
        start = 0
        for intent in intents:
            split.append(vectors[start : start + len(intent.examples)])
            start += len(intent.examples)
        return cls(
            [intent.name for intent in intents],
            split,
            [intent.threshold for intent in intents],
            default_threshold=default_threshold,
            margin=margin,
            top_k=top_k,
            centroid_weight=centroid_weight,
            background_vectors=background_vectors,
            background_margin=background_margin,
        )

    def __len__(self) -> int:
        return len(self.names)

    def scores(self, embedding: NDArray[np.float32]) -> NDArray[np.float32]:
        """Score of every intent (in ``names`` order) for one L2-normalised prompt embedding."""
        if not self.names:
            return np.zeros(0, dtype=np.float32)
        return self._intent_scores(self._similarities(embedding))

    def _similarities(self, embedding: NDArray[np.float32]) -> NDArray[np.float32]:
        sims: NDArray[np.float32] = self._matrix @ np.asarray(embedding, dtype=np.float32).reshape(-1)
        return sims

    def _intent_scores(self, sims: NDArray[np.float32]) -> NDArray[np.float32]:
        examples = sims[: self._n_examples]
        if self._k == 1:
            nearest = np.maximum.reduceat(examples, self._starts)
        else:
            padded = np.append(examples, np.float32(-np.inf))[self._grid]
            width = padded.shape[1]
            top = np.partition(padded, width - self._k, axis=1)[:, width - self._k :]
            top[np.isneginf(top)] = 0.0
            nearest = top.sum(axis=1) / self._divisor
        centroid = sims[self._n_examples : self._n_scored]
        w = self.centroid_weight
        out: NDArray[np.float32] = ((1.0 - w) * nearest + w * centroid).astype(np.float32, copy=False)
        return out

    def match(self, embedding: NDArray[np.float32]) -> IntentMatch | None:
        """The intent this prompt belongs to, or None (below threshold, or too close to call)."""
        if not self.names:
            return None
        sims = self._similarities(embedding)
        scores = self._intent_scores(sims)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < float(self.thresholds[best]):
            return None
        if scores.size > 1 and self.margin > 0:
            runner_up = float(np.partition(scores, scores.size - 2)[scores.size - 2])
            if score - runner_up < self.margin:
                return None
        if self._has_background and float(sims[self._n_scored :].max()) >= score + self.background_margin:
            return None
        return IntentMatch(self.names[best], score)
