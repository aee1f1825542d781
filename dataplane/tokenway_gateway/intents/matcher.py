"""Match a prompt's embedding against the intents a RoutePolicy defines: a small classifier per snapshot.

When a config snapshot is built, every intent's examples and the built-in none-of-the-above
exemplars (``background.py``: everyday prompts that belong to no routing intent) are embedded
(a blocking call: build the matcher off the event loop) and a multinomial logistic regression is
fitted over ``K`` intents plus one "none" class. Its features for a prompt are

* the prompt's embedding itself (384 numbers): a direction per intent, which carries a broad
  intent ("coding") to prompts that resemble no single example;
* per class (each intent and the background), the mean cosine similarity of the prompt's
  ``top_k`` nearest examples, times ``similarity_scale``: how close the prompt sits to the
  examples themselves. For the training rows these come from leave-one-out (an example does not
  count as its own neighbour), so they look as they will for a new prompt.

Each intent carries the same share of the training loss whatever its number of examples; the
background as a whole carries ``none_weight`` of an intent's share. That ratio sets how readily a
prompt between an intent and everyday topics is routed, the same for any number of intents, and
it replaces a similarity threshold as the none-of-the-above rule. ``match`` takes the class with
the highest logit: "none" matches nothing; an intent matches when, in addition, its ``score``
(cosine similarity: top-k mean blended with the centroid) reaches ``Intent.threshold`` when the
intent sets one. By default there is no similarity floor: the classifier's none class decides.

A prompt that carries a payload ("summarize this: <three paragraphs>", pasted text then "TL;DR?",
a stack trace and a question) is embedded twice in one batch, whole and its instruction alone
(``payload.py`` finds it), and matched with ``normalise(whole + payload_weight * instruction)``
(:func:`prompt_vector`): the mean-pooled embedding of the whole prompt follows the pasted content
(a summary request over a medical paragraph lands on health), the instruction's does not, and the
whole still counts (a terse "what's wrong?" under a stack trace stays coding). Examples and
background rows that carry a payload are mixed the same way; every other prompt keeps its single
embedding, unchanged and at the same cost.

Chosen by 5-fold cross-validation: ``top_k`` 3, ``similarity_scale`` 2 and ``l2`` 3e-3 on the
tune split (``bench/data/intents_tune.jsonl``; its off-topic prompts are never training rows, as
a user's traffic is not); ``payload_weight`` 2 (flat from 1.5 to 3; instruction alone scores the
same on these sets), ``none_weight`` 0.85 (0.5 before, which tune alone still prefers: 0.949
against 0.938; pooled, 0.7 to 1.0 is flat) and the splitter's
lengths on tune + heldout + heldout2 pooled, all three SEEN now. A similarity floor (0.1 to 0.25),
a minimum probability, per-intent floors and payload-carrying background rows (proofreading,
replies, feedback on pasted text) each lowered cross-validated accuracy. Pooled CV accuracy
(x3 shuffles): 0.929 before (whole prompt, none_weight 0.5), 0.948 with the payload split, 0.961
with none_weight 0.85. Train on tune, score heldout2 (seen): 0.826 before, 0.887 with the payload
split, 0.923 with both (summarization recall 0.40 -> 0.90; payload prompts 0.40 -> 0.91). The
clean figure is ``intents_heldout3`` (``bench/intents.py`` reports it when present).

Cost: building fits on a few hundred rows (~0.1-0.5 s plus the embedding, and the background is
embedded once per process); ``match`` is one matrix-vector product over every example, centroid
and the classifier's weights, a top-k per class and a small product (tens of microseconds). A
payload prompt (about one in seven on heldout2) costs a second embedding in the same batch; the
embedder runs texts of very different lengths in separate passes (``semantic.embedder.length_groups``),
so the short instruction costs its own length, not the prompt's (heldout3's payload prompts, one
core: p50 29 ms whole only, 36 ms both; before that grouping, 57 ms; prompts without a payload
9 ms, unchanged; ``bench/intents.py`` reports it). The
split itself is a few microseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from .background import BACKGROUND_EXAMPLES
from .classifier import SoftmaxRegression, fit_softmax_regression, softmax
from .payload import split_payload
from .similarity import ExampleIndex
from .types import BlockingEmbedder, IntentMatch

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..api.route import Intent

DEFAULT_TOP_K = 3
DEFAULT_SIMILARITY_SCALE = 2.0
DEFAULT_L2 = 3e-3
DEFAULT_NONE_WEIGHT = 0.85
DEFAULT_CENTROID_WEIGHT = 0.5  # in the reported score (and the threshold it is compared with) only
DEFAULT_PAYLOAD_WEIGHT = 2.0  # the instruction's weight against the whole prompt's in a payload prompt's vector


def prompt_texts(text: str) -> tuple[str, ...]:
    """What to embed for ``text``: the prompt alone, or the prompt and its instruction when it carries a payload.

    Embed them in one batch (``embed(list(...))``, or both submitted at once) and pass the rows to
    :func:`prompt_vector`.
    """
    parts = split_payload(text)
    return (text,) if parts is None else (text, parts.instruction)


def prompt_vector(vectors: NDArray[np.float32], payload_weight: float = DEFAULT_PAYLOAD_WEIGHT) -> NDArray[np.float32]:
    """The vector a prompt is matched with, from the rows of :func:`prompt_texts`' embeddings.

    One row (no payload): that row, unchanged. Two rows: ``normalise(whole + payload_weight *
    instruction)``: the instruction leads, the pasted content still counts (a stack trace makes a
    terse "what's wrong?" a coding prompt).
    """
    rows = np.asarray(vectors, dtype=np.float32)
    if rows.ndim == 1 or rows.shape[0] == 1:
        return rows.reshape(-1)
    mixed = rows[0] + np.float32(payload_weight) * rows[1]
    norm = float(np.linalg.norm(mixed))
    out: NDArray[np.float32] = (mixed / max(norm, 1e-12)).astype(np.float32, copy=False)
    return out


class IntentMatcher:
    """Built once per config snapshot; ``match`` costs one matrix-vector product and a few small steps."""

    def __init__(
        self,
        names: Sequence[str],
        example_vectors: Sequence[NDArray[np.float32]],
        thresholds: Sequence[float | None],
        *,
        background_vectors: NDArray[np.float32] | None = None,
        default_threshold: float | None = None,
        top_k: int = DEFAULT_TOP_K,
        similarity_scale: float = DEFAULT_SIMILARITY_SCALE,
        l2: float = DEFAULT_L2,
        none_weight: float = DEFAULT_NONE_WEIGHT,
        centroid_weight: float = DEFAULT_CENTROID_WEIGHT,
        payload_weight: float = DEFAULT_PAYLOAD_WEIGHT,
    ) -> None:
        if not (len(names) == len(example_vectors) == len(thresholds)):
            raise ValueError("names, example_vectors and thresholds must have the same length")
        if len(set(names)) != len(names):
            raise ValueError("intent names must be unique")
        if any(len(v) == 0 for v in example_vectors):
            raise ValueError("every intent needs at least one example")
        if none_weight <= 0:
            raise ValueError("none_weight must be positive")
        self.names: tuple[str, ...] = tuple(names)
        floors = [default_threshold if t is None else t for t in thresholds]
        self.thresholds = np.array([-np.inf if f is None else f for f in floors], dtype=np.float32)
        self.centroid_weight = centroid_weight
        self.payload_weight = payload_weight
        self.similarity_scale = similarity_scale
        self._n = len(self.names)
        if not self.names:
            self._index: ExampleIndex | None = None
            self.classifier: SoftmaxRegression | None = None
            return
        groups = [np.asarray(v, dtype=np.float32) for v in example_vectors]
        has_background = background_vectors is not None and len(background_vectors) > 0
        if has_background:
            assert background_vectors is not None
            groups.append(np.asarray(background_vectors, dtype=np.float32))
        index = ExampleIndex(groups, top_k)
        self._index = index
        self._has_none = has_background
        n_classes = len(groups)
        dim = index.examples.shape[1]
        self._dim = dim
        self._n_index = index.matrix.shape[0]
        if n_classes == 1:  # one intent and nothing to tell it from: only its threshold decides
            self.classifier = None
            self._matrix = index.matrix
            return
        labels = np.repeat(np.arange(n_classes), index.counts)
        weights = 1.0 / index.counts[labels].astype(np.float64)
        if has_background:
            weights[labels == n_classes - 1] *= none_weight
        # Small products, hundreds of times: BLAS threads only contend (5-20x slower on a busy
        # 2-core machine) and would take cores from the event loop.
        with threadpool_limits(limits=1, user_api="blas"):
            features = np.hstack([index.examples, similarity_scale * index.leave_one_out_top_k_means()])
            self.classifier = fit_softmax_regression(features, labels, n_classes, sample_weight=weights, l2=l2)
        w = self.classifier.weights
        # The embedding part of the logits joins the similarity product: one matrix-vector product.
        self._matrix = np.ascontiguousarray(np.vstack([index.matrix, w[:dim].T]), dtype=np.float32)
        self._similarity_weights = np.ascontiguousarray(similarity_scale * w[dim:], dtype=np.float32)
        self._bias = self.classifier.bias

    @classmethod
    def build(
        cls,
        intents: Sequence[Intent],
        embedder: BlockingEmbedder | None = None,
        *,
        background: Sequence[str] = BACKGROUND_EXAMPLES,
        default_threshold: float | None = None,
        top_k: int = DEFAULT_TOP_K,
        similarity_scale: float = DEFAULT_SIMILARITY_SCALE,
        l2: float = DEFAULT_L2,
        none_weight: float = DEFAULT_NONE_WEIGHT,
        centroid_weight: float = DEFAULT_CENTROID_WEIGHT,
        payload_weight: float = DEFAULT_PAYLOAD_WEIGHT,
    ) -> IntentMatcher:
        """Embed the examples (and, once per process and embedder, the background) and fit the classifier.

        Blocking: call it off the event loop. ``background``: none-of-the-above exemplars (``()``
        leaves the classifier without a none class: then only thresholds refuse a prompt). Examples
        and background rows that carry a payload are embedded as prompts are (:func:`prompt_vector`).
        """
        if embedder is None:
            from ..semantic import get_embedder

            embedder = get_embedder()
        examples, background_vectors = embed_examples(intents, background, embedder, payload_weight)
        return cls(
            [intent.name for intent in intents],
            examples,
            [intent.threshold for intent in intents],
            background_vectors=background_vectors,
            default_threshold=default_threshold,
            top_k=top_k,
            similarity_scale=similarity_scale,
            l2=l2,
            none_weight=none_weight,
            centroid_weight=centroid_weight,
            payload_weight=payload_weight,
        )

    def prompt_vector(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """The vector to match, from the embeddings of :func:`prompt_texts` (one row, or whole and instruction)."""
        return prompt_vector(vectors, self.payload_weight)

    def embed_prompt(self, text: str, embedder: BlockingEmbedder) -> NDArray[np.float32]:
        """Blocking: embed ``text`` (with its instruction, in the same batch, when it carries a payload)."""
        return self.prompt_vector(embedder.embed(list(prompt_texts(text))))

    def __len__(self) -> int:
        return self._n

    def _evaluate(
        self, embedding: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None]:
        """(top-k means per class, centroid similarities per intent, logits or None)."""
        assert self._index is not None
        index = self._index
        product = self._matrix @ np.asarray(embedding, dtype=np.float32).reshape(-1)
        sims = product[: self._n_index]
        top = index.top_k_means(sims)
        centroids = sims[index.n_examples : index.n_examples + self._n]
        if self.classifier is None:
            return top, centroids, None
        logits: NDArray[np.float32] = product[self._n_index :] + top @ self._similarity_weights + self._bias
        return top, centroids, logits

    def _blend(self, top: NDArray[np.float32], centroids: NDArray[np.float32]) -> NDArray[np.float32]:
        w = self.centroid_weight
        out: NDArray[np.float32] = ((1.0 - w) * top[: self._n] + w * centroids).astype(np.float32, copy=False)
        return out

    def scores(self, embedding: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosine-similarity score of every intent (``names`` order): top-k mean blended with the centroid."""
        if self._index is None:
            return np.zeros(0, dtype=np.float32)
        top, centroids, _ = self._evaluate(embedding)
        return self._blend(top, centroids)

    def probabilities(self, embedding: NDArray[np.float32]) -> NDArray[np.float64]:
        """The classifier's probability per intent (``names`` order), then for none when there is a background."""
        if self._index is None:
            return np.ones(1)
        _, _, logits = self._evaluate(embedding)
        if logits is None:
            return np.ones(1)
        return softmax(logits)

    def match(self, embedding: NDArray[np.float32]) -> IntentMatch | None:
        """The intent this prompt belongs to, or None (the none class wins, or below the intent's threshold)."""
        if self._index is None:
            return None
        top, centroids, logits = self._evaluate(embedding)
        if logits is None:
            best, probability = 0, 1.0
        else:
            best = int(np.argmax(logits))
            if best >= self._n:
                return None
            probability = 1.0 / float(np.exp(logits - logits[best]).sum())
        w = self.centroid_weight
        score = float((1.0 - w) * top[best] + w * centroids[best])
        if score < float(self.thresholds[best]):
            return None
        return IntentMatch(self.names[best], score, probability)


# ---- embedding ----------------------------------------------------------------------------------


class _BackgroundCache:
    """The background's embeddings for the last (embedder, background) pair: embedded once per process."""

    lock = threading.Lock()
    embedder: object | None = None
    texts: tuple[str, ...] = ()
    vectors: NDArray[np.float32] | None = None  # rows of every background row's prompt_texts, in order


def _mixed(texts: Sequence[str], vectors: NDArray[np.float32], payload_weight: float) -> NDArray[np.float32]:
    """One row per text from the rows of each text's :func:`prompt_texts`, in order."""
    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
    row = 0
    for i, text in enumerate(texts):
        n = len(prompt_texts(text))
        out[i] = prompt_vector(vectors[row : row + n], payload_weight)
        row += n
    return out


def embed_examples(
    intents: Sequence[Intent],
    background: Sequence[str],
    embedder: BlockingEmbedder,
    payload_weight: float = DEFAULT_PAYLOAD_WEIGHT,
) -> tuple[list[NDArray[np.float32]], NDArray[np.float32] | None]:
    """Each intent's example vectors and the background's (None when there is none or no intent).

    A row that carries a payload is embedded with its instruction (one batch for everything) and
    mixed as a prompt is (:func:`prompt_vector`), so examples and prompts look alike.
    """
    texts = [example for intent in intents for example in intent.examples]
    if not texts:
        return [], None
    background = tuple(background)
    to_embed = [piece for text in texts for piece in prompt_texts(text)]
    with _BackgroundCache.lock:
        cached = _BackgroundCache.vectors
        reuse = cached is not None and _BackgroundCache.embedder is embedder and _BackgroundCache.texts == background
        todo = to_embed if reuse or not background else [*to_embed, *(p for t in background for p in prompt_texts(t))]
        vectors = embedder.embed(todo)
        if background and not reuse:
            cached = np.ascontiguousarray(vectors[len(to_embed) :], dtype=np.float32)
            _BackgroundCache.embedder, _BackgroundCache.texts, _BackgroundCache.vectors = embedder, background, cached
    mixed = _mixed(texts, np.asarray(vectors[: len(to_embed)], dtype=np.float32), payload_weight)
    split: list[NDArray[np.float32]] = []
    start = 0
    for intent in intents:
        split.append(mixed[start : start + len(intent.examples)])
        start += len(intent.examples)
    if not background:
        return split, None
    assert cached is not None
    return split, _mixed(background, cached, payload_weight)
