"""Intent matching: the right intent for in-topic prompts, none for off-topic ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from tokenway_gateway.api.route import Intent, RoutePolicySpec
from tokenway_gateway.intents import IntentMatch, IntentMatcher

DATA = Path(__file__).resolve().parents[1] / "bench" / "data"


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_match_threshold_and_top_k() -> None:
    code = [unit(1, 0, 0), unit(0.9, 0.1, 0)]
    math = [unit(0, 1, 0)]
    m = IntentMatcher(
        ["code", "math"],
        [np.stack(code), np.stack(math)],
        [None, 0.9],
        default_threshold=0.5,
        centroid_weight=0.0,
        top_k=1,
    )
    assert m.match(unit(1, 0.05, 0)) == IntentMatch("code", pytest.approx(float(unit(1, 0.05, 0) @ code[0])))
    found = m.match(unit(0.2, 1, 0))
    assert found is not None and found.name == "math"
    assert m.match(unit(0.5, 1, 0)) is None  # math is nearest but below its own threshold (0.9)
    assert m.match(unit(0, 0, 1)) is None  # far from everything
    assert m.match(unit(-1, 0, 0)) is None
    scores = m.scores(unit(1, 0, 0))
    assert scores.shape == (2,) and scores[0] > scores[1]


def test_top_k_mean_and_centroid_blend() -> None:
    examples = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    q = unit(1, 0, 0)
    top1 = IntentMatcher(["a"], [examples], [None], top_k=1, centroid_weight=0.0)
    top2 = IntentMatcher(["a"], [examples], [None], top_k=2, centroid_weight=0.0)
    cent = IntentMatcher(["a"], [examples], [None], top_k=1, centroid_weight=1.0)
    assert top1.scores(q)[0] == pytest.approx(1.0)
    assert top2.scores(q)[0] == pytest.approx(0.5)  # mean of 1 and 0
    assert cent.scores(q)[0] == pytest.approx(1 / np.sqrt(3), rel=1e-5)
    few = IntentMatcher(["a", "b"], [examples[:1], examples[1:]], [None, None], top_k=3, centroid_weight=0.0)
    assert few.scores(q)[0] == pytest.approx(1.0)  # fewer examples than k: the mean of those there are


def test_margin_refuses_a_coin_flip() -> None:
    a, b = np.stack([unit(1, 0.0, 0)]), np.stack([unit(0.0, 1, 0)])
    between = unit(1, 0.95, 0)
    loose = IntentMatcher(["a", "b"], [a, b], [None, None], default_threshold=0.1, centroid_weight=0.0)
    strict = IntentMatcher(["a", "b"], [a, b], [None, None], default_threshold=0.1, centroid_weight=0.0, margin=0.1)
    assert loose.match(between) is not None
    assert strict.match(between) is None
    assert strict.match(unit(1, 0.2, 0)) is not None


def test_background_rejects_off_topic() -> None:
    code = np.stack([unit(1, 0, 0)])
    background = np.stack([unit(0, 0, 1)])
    m = IntentMatcher(
        ["code"],
        [code],
        [None],
        default_threshold=0.1,
        centroid_weight=0.0,
        background_vectors=background,
        background_margin=0.05,
    )
    assert m.match(unit(1, 0, 0.5)) is not None  # nearer the intent
    assert m.match(unit(0.4, 0, 1)) is None  # nearer the background
    plain = IntentMatcher(["code"], [code], [None], default_threshold=0.1, centroid_weight=0.0)
    assert plain.match(unit(0.4, 0, 1)) is not None


def test_invalid_definitions() -> None:
    v = np.stack([unit(1, 0)])
    with pytest.raises(ValueError):
        IntentMatcher(["a", "a"], [v, v], [None, None])
    with pytest.raises(ValueError):
        IntentMatcher(["a"], [np.zeros((0, 2), dtype=np.float32)], [None])
    assert IntentMatcher([], [], []).match(unit(1, 0)) is None
    with pytest.raises(ValidationError):
        RoutePolicySpec.model_validate(
            {
                "rules": [{"name": "r", "backends": [{"pool": "p"}]}],
                "intents": [{"name": "code", "examples": ["x"]}, {"name": "code", "examples": ["y"]}],
            }
        )
    with pytest.raises(ValidationError):
        Intent(name="code", examples=[])
    with pytest.raises(ValidationError):
        Intent(name="Bad_Name", examples=["x"])
    spec = RoutePolicySpec.model_validate(
        {
            "rules": [{"name": "r", "match": {"intent": "code"}, "backends": [{"pool": "p"}]}],
            "intents": [{"name": "code", "examples": ["write a function"], "threshold": 0.4}],
        }
    )
    assert spec.intents[0].threshold == 0.4


class _RecordingEmbedder:
    """Counts calls; vectors by a keyword so build() can be checked without the model."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack(
            [unit(1, 0, 0) if "code" in t else unit(0, 1, 0) if "sum" in t else unit(0, 0, 1) for t in texts]
        )


def test_build_embeds_examples_and_background_in_one_batch() -> None:
    emb = _RecordingEmbedder()
    intents = [Intent(name="coding", examples=["code a", "code b"]), Intent(name="math", examples=["sum it"])]
    m = IntentMatcher.build(intents, emb, background=["weather", "recipes"])
    assert emb.calls == [5]
    found = m.match(unit(1, 0, 0))
    assert found is not None and found.name == "coding"
    assert m.match(unit(0, 0, 1)) is None  # a background prompt
    assert len(m) == 2


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from tokenway_gateway.semantic import EmbedderUnavailable, get_embedder

    try:
        return get_embedder()
    except EmbedderUnavailable as exc:  # pragma: no cover - the model packages are dependencies
        pytest.skip(f"embedder not installed: {exc}")


def _load(split: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / f"intents_{split}.jsonl").read_text("utf-8").splitlines() if line]


def test_real_prompts_matched_and_off_topic_unmatched(embedder) -> None:  # type: ignore[no-untyped-def]
    tune = _load("tune")
    names = sorted({str(r["intent"]) for r in tune if r["intent"]})
    intents = [Intent(name=n, examples=[str(r["text"]) for r in tune if r["intent"] == n]) for n in names]
    matcher = IntentMatcher.build(intents, embedder)
    cases = {
        "Write a Python function that returns the factorial of n.": "coding",
        "What is the integral of x squared from 0 to 3?": "math",
        "Translate 'good evening' into German.": "translation",
        "Summarize this memo in two sentences: the office will close early on Friday for maintenance.": "summarization",
        "I was charged twice for my order, please refund one payment.": "support",
        "Hey! How's your day going?": "chitchat",
        "What is the tallest mountain in South America?": None,
        "Give me a recipe for lentil soup.": None,
    }
    vectors = embedder.embed(list(cases))
    for (text, expected), vector in zip(cases.items(), vectors, strict=True):
        found = matcher.match(vector)
        assert (found.name if found else None) == expected, (text, found)
