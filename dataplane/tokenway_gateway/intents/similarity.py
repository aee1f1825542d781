"""Similarity of a prompt embedding to groups of example embeddings, from one matrix-vector product.

:class:`ExampleIndex` stacks every group's examples and then every group's centroid (the
normalised mean of its examples) into one matrix. One product gives the cosine similarity to each
row; from it come, per group, the mean of the ``top_k`` highest similarities (a group with fewer
examples averages those it has) and the similarity to the centroid.

:class:`SimilarityMatcher` is the rule the gateway used before the classifier
(:class:`~tokenway_gateway.intents.IntentMatcher`): score = blend of top-k mean and centroid
similarity, best intent if its score reaches a threshold, beats the runner-up by a margin, and no
none-of-the-above exemplar is nearer by the background margin. ``bench/intents.py`` measures it
beside the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .types import IntentMatch

if TYPE_CHECKING:
    from numpy.typing import NDArray

SIMILARITY_THRESHOLD = 0.15
SIMILARITY_MARGIN = 0.0
SIMILARITY_TOP_K = 3
SIMILARITY_CENTROID_WEIGHT = 0.5
SIMILARITY_BACKGROUND_MARGIN = 0.05


class ExampleIndex:
    """Groups of L2-normalised example vectors; per-group top-k mean and centroid similarity."""

    def __init__(self, groups: Sequence[NDArray[np.float32]], top_k: int) -> None:
        if not groups:
            raise ValueError("an index needs at least one group")
        if any(len(g) == 0 for g in groups):
            raise ValueError("every group needs at least one example")
        counts = [len(g) for g in groups]
        self.counts = np.array(counts, dtype=np.intp)
        self.starts = np.cumsum([0, *counts[:-1]]).astype(np.intp)
        self.n_examples = int(sum(counts))
        examples = np.vstack([np.asarray(g, dtype=np.float32) for g in groups])
        centroids = np.vstack([g.mean(axis=0) for g in examples_by_group(examples, self.starts, self.counts)])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        self.examples: NDArray[np.float32] = examples
        self.matrix: NDArray[np.float32] = np.ascontiguousarray(np.vstack([examples, centroids]), dtype=np.float32)
        self.top_k = max(1, top_k)
        width = max(counts)
        self.k = min(self.top_k, width)
        # (groups, widest group) indices into the similarity vector; padding points at a -inf slot.
        grid = np.full((len(counts), width), self.n_examples, dtype=np.intp)
        for i, (start, count) in enumerate(zip(self.starts, counts, strict=True)):
            grid[i, :count] = np.arange(start, start + count)
        self.grid = grid
        self.divisor = np.minimum(self.counts, self.k).astype(np.float32)
        self._short = bool((self.counts < self.k).any())  # some group has fewer than k examples

    def __len__(self) -> int:
        return len(self.counts)

    def similarities(self, embedding: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosine similarity to every example, then to every centroid (one product)."""
        sims: NDArray[np.float32] = self.matrix @ np.asarray(embedding, dtype=np.float32).reshape(-1)
        return sims

    def top_k_means(self, sims: NDArray[np.float32]) -> NDArray[np.float32]:
        """Per group: mean of its ``k`` highest example similarities (all of them when it has fewer)."""
        examples = sims[: self.n_examples]
        if self.k == 1:
            out1: NDArray[np.float32] = np.maximum.reduceat(examples, self.starts)
            return out1
        if self.grid.shape[1] == self.k:  # no group is wider than k: every example counts
            padded = np.append(examples, np.float32(0.0))[self.grid]
            out0: NDArray[np.float32] = padded.sum(axis=1) / self.divisor
            return out0
        padded = np.append(examples, np.float32(-np.inf))[self.grid]
        width = padded.shape[1]
        top = np.partition(padded, width - self.k, axis=1)[:, width - self.k :]
        if self._short:
            top[np.isneginf(top)] = 0.0
        out: NDArray[np.float32] = top.sum(axis=1) / self.divisor
        return out

    def centroid_similarities(self, sims: NDArray[np.float32]) -> NDArray[np.float32]:
        out: NDArray[np.float32] = sims[self.n_examples :]
        return out

    def leave_one_out_top_k_means(self) -> NDArray[np.float32]:
        """``top_k_means`` for each example as a query, with that example left out of its own group.

        These are the features a training example would get if it were a new prompt: without the
        exclusion every example would be its own nearest neighbour at similarity 1.
        """
        sims = self.examples @ self.examples.T
        np.fill_diagonal(sims, -np.inf)
        out = np.zeros((self.n_examples, len(self.counts)), dtype=np.float32)
        for g, (start, count) in enumerate(zip(self.starts, self.counts, strict=True)):
            block = sims[:, start : start + count]
            k = min(self.k, count)
            top = -np.partition(-block, k - 1, axis=1)[:, :k]
            finite = np.isfinite(top)
            n = finite.sum(axis=1)
            total = np.where(finite, top, 0.0).sum(axis=1)
            out[:, g] = np.where(n > 0, total / np.maximum(n, 1), 0.0)
        return out


def examples_by_group(
    examples: NDArray[np.float32], starts: NDArray[np.intp], counts: NDArray[np.intp]
) -> list[NDArray[np.float32]]:
    return [examples[s : s + c] for s, c in zip(starts, counts, strict=True)]


class SimilarityMatcher:
    """The previous matcher: nearest examples and centroid, threshold, margin, none-of-the-above exemplars."""

    def __init__(
        self,
        names: Sequence[str],
        example_vectors: Sequence[NDArray[np.float32]],
        thresholds: Sequence[float | None],
        *,
        default_threshold: float = SIMILARITY_THRESHOLD,
        margin: float = SIMILARITY_MARGIN,
        top_k: int = SIMILARITY_TOP_K,
        centroid_weight: float = SIMILARITY_CENTROID_WEIGHT,
        background_vectors: NDArray[np.float32] | None = None,
        background_margin: float = SIMILARITY_BACKGROUND_MARGIN,
    ) -> None:
        if not (len(names) == len(example_vectors) == len(thresholds)):
            raise ValueError("names, example_vectors and thresholds must have the same length")
        if len(set(names)) != len(names):
            raise ValueError("intent names must be unique")
        self.names: tuple[str, ...] = tuple(names)
        self.thresholds = np.array([default_threshold if t is None else t for t in thresholds], dtype=np.float32)
        self.margin = margin
        self.centroid_weight = centroid_weight
        self.background_margin = background_margin
        self._index = ExampleIndex(list(example_vectors), top_k) if example_vectors else None
        self._background = (
            np.asarray(background_vectors, dtype=np.float32)
            if background_vectors is not None and len(background_vectors)
            else None
        )

    def __len__(self) -> int:
        return len(self.names)

    def scores(self, embedding: NDArray[np.float32]) -> NDArray[np.float32]:
        if self._index is None:
            return np.zeros(0, dtype=np.float32)
        sims = self._index.similarities(embedding)
        w = self.centroid_weight
        out: NDArray[np.float32] = (
            (1.0 - w) * self._index.top_k_means(sims) + w * self._index.centroid_similarities(sims)
        ).astype(np.float32, copy=False)
        return out

    def match(self, embedding: NDArray[np.float32]) -> IntentMatch | None:
        if self._index is None:
            return None
        scores = self.scores(embedding)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < float(self.thresholds[best]):
            return None
        if scores.size > 1 and self.margin > 0:
            runner_up = float(np.partition(scores, scores.size - 2)[scores.size - 2])
            if score - runner_up < self.margin:
                return None
        if self._background is not None:
            nearest_background = float((self._background @ np.asarray(embedding, dtype=np.float32)).max())
            if nearest_background >= score + self.background_margin:
                return None
        return IntentMatch(self.names[best], score)
