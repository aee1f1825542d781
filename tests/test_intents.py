"""Intent matching: the right intent for in-topic prompts, none for off-topic ones, the same answer every build."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from tokenway_gateway.api.route import Intent, RoutePolicySpec
from tokenway_gateway.intents import (
    BACKGROUND_EXAMPLES,
    ExampleIndex,
    IntentMatch,
    IntentMatcher,
    SimilarityMatcher,
    fit_softmax_regression,
    prompt_texts,
    prompt_vector,
    softmax,
    split_payload,
)

DATA = Path(__file__).resolve().parents[1] / "bench" / "data"


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def around(center: Sequence[float], n: int, spread: float, seed: int) -> np.ndarray:
    """``n`` unit vectors scattered around ``center``."""
    rng = np.random.default_rng(seed)
    c = np.array(center, dtype=np.float32)
    rows = c + spread * rng.standard_normal((n, len(c))).astype(np.float32)
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


# ---- the classifier ------------------------------------------------------------------------------


def test_softmax_regression_separates_and_is_deterministic() -> None:
    x = np.vstack([around([1, 0, 0], 20, 0.2, 1), around([0, 1, 0], 20, 0.2, 2), around([0, 0, 1], 20, 0.2, 3)])
    y = np.repeat([0, 1, 2], 20)
    a = fit_softmax_regression(x, y, 3, l2=1e-3)
    b = fit_softmax_regression(x, y, 3, l2=1e-3)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    assert (a.logits(x.astype(np.float32)).argmax(axis=1) == y).all()
    p = softmax(a.logits(unit(1, 0.1, 0)))
    assert p.argmax() == 0 and p.sum() == pytest.approx(1.0)


def test_sample_weights_move_the_boundary() -> None:
    x = np.vstack([around([1, 0], 20, 0.3, 4), around([0, 1], 20, 0.3, 5)])
    y = np.repeat([0, 1], 20)
    between = unit(1, 1)
    fits = [fit_softmax_regression(x, y, 2, sample_weight=np.where(y == 1, w, 1.0), l2=0.1) for w in (0.2, 1.0, 5.0)]
    p1 = [float(softmax(fit.logits(between))[1]) for fit in fits]
    assert p1[0] < p1[1] < p1[2] and p1[0] < 0.5 < p1[2]


def test_softmax_regression_rejects_bad_input() -> None:
    x = np.eye(3)
    with pytest.raises(ValueError):
        fit_softmax_regression(x, np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError):
        fit_softmax_regression(x, np.array([0, 1]), 3)
    with pytest.raises(ValueError):
        fit_softmax_regression(x, np.array([0, 1, 2]), 3, l2=0.0)


# ---- similarity features ------------------------------------------------------------------------


def test_example_index_top_k_and_leave_one_out() -> None:
    a = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    b = np.stack([unit(1, 1, 0)])
    index = ExampleIndex([a, b], top_k=2)
    sims = index.similarities(unit(1, 0, 0))
    assert index.top_k_means(sims) == pytest.approx([0.5, 1 / np.sqrt(2)], rel=1e-5)  # b has one example
    assert index.centroid_similarities(sims) == pytest.approx([1 / np.sqrt(3), 1 / np.sqrt(2)], rel=1e-5)
    loo = index.leave_one_out_top_k_means()
    # a[0] against its own group without itself: the other two are orthogonal to it
    assert loo[0] == pytest.approx([0.0, 1 / np.sqrt(2)], rel=1e-5)
    assert loo[3, 1] == 0.0  # b's only example has no neighbour left in its group
    assert loo[3, 0] == pytest.approx((2 / np.sqrt(2)) / 2, rel=1e-5)


# ---- IntentMatcher on synthetic vectors --------------------------------------------------------


def synthetic(**kw: object) -> IntentMatcher:
    code = around([1, 0, 0, 0], 12, 0.25, 10)
    math = around([0, 1, 0, 0], 12, 0.25, 11)
    background = around([0, 0, 1, 0], 40, 0.5, 12)
    return IntentMatcher(["code", "math"], [code, math], [None, None], background_vectors=background, **kw)  # type: ignore[arg-type]


def test_intents_matched_and_background_unmatched() -> None:
    m = synthetic()
    found = m.match(unit(1, 0.1, 0, 0))
    assert found is not None and found.name == "code" and 0.5 < found.probability <= 1.0
    assert found.score == pytest.approx(float(m.scores(unit(1, 0.1, 0, 0))[0]), rel=1e-5)
    found = m.match(unit(0.1, 1, 0.2, 0))
    assert found is not None and found.name == "math"
    assert m.match(unit(0, 0.1, 1, 0)) is None  # the none class wins
    assert m.match(unit(0.2, 0, 1, 0.3)) is None
    p = m.probabilities(unit(0, 0, 1, 0))
    assert p.shape == (3,) and p.argmax() == 2 and p.sum() == pytest.approx(1.0)
    assert len(m) == 2 and m.scores(unit(1, 0, 0, 0)).shape == (2,)


def test_none_weight_sets_how_readily_a_prompt_is_routed() -> None:
    between = unit(1, 0, 1.1, 0)  # halfway between code and everyday topics
    eager = synthetic(none_weight=0.05)
    strict = synthetic(none_weight=20.0)
    found = eager.match(between)
    assert found is not None and found.name == "code"
    assert strict.match(between) is None


def test_intent_threshold_is_a_similarity_floor() -> None:
    code = around([1, 0, 0, 0], 12, 0.25, 10)
    math = around([0, 1, 0, 0], 12, 0.25, 11)
    background = around([0, 0, 1, 0], 40, 0.5, 12)
    m = IntentMatcher(["code", "math"], [code, math], [0.99, None], background_vectors=background)
    assert m.match(unit(1, 0.3, 0, 0)) is None  # code wins the classifier but sits under its own 0.99
    found = m.match(unit(0.1, 1, 0, 0))
    assert found is not None and found.name == "math"
    floor = synthetic(default_threshold=0.9)
    assert floor.match(unit(1, 0.3, 0, 0.4)) is None


def test_degenerate_configs() -> None:
    only = IntentMatcher(["code"], [np.stack([unit(1, 0)])], [0.5])  # one intent, nothing else: threshold only
    found = only.match(unit(1, 0.2))
    assert found == IntentMatch("code", found.score if found else -1.0, 1.0)
    assert found is not None and found.score == pytest.approx(float(unit(1, 0.2)[0]))
    assert only.match(unit(0.2, 1)) is None
    assert IntentMatcher([], [], []).match(unit(1, 0)) is None
    assert IntentMatcher([], [], []).scores(unit(1, 0)).shape == (0,)
    v = np.stack([unit(1, 0)])
    with pytest.raises(ValueError):
        IntentMatcher(["a", "a"], [v, v], [None, None])
    with pytest.raises(ValueError):
        IntentMatcher(["a"], [np.zeros((0, 2), dtype=np.float32)], [None])
    with pytest.raises(ValueError):
        IntentMatcher(["a"], [v], [None, None])


def test_route_policy_intents_validate() -> None:
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


# ---- the previous matcher (the benchmark's baseline) --------------------------------------------


def test_similarity_matcher_threshold_margin_background() -> None:
    code = np.stack([unit(1, 0, 0), unit(0.9, 0.1, 0)])
    math = np.stack([unit(0, 1, 0)])
    m = SimilarityMatcher(["code", "math"], [code, math], [None, 0.9], default_threshold=0.5,
                          centroid_weight=0.0, top_k=1)  # fmt: skip
    found = m.match(unit(1, 0.05, 0))
    assert found is not None and found.name == "code"
    assert m.match(unit(0.5, 1, 0)) is None  # math is nearest but below its own threshold (0.9)
    assert m.match(unit(0, 0, 1)) is None
    between = unit(1, 0.95, 0)
    a, b = np.stack([unit(1, 0, 0)]), np.stack([unit(0, 1, 0)])
    strict = SimilarityMatcher(["a", "b"], [a, b], [None, None], default_threshold=0.1, centroid_weight=0.0, margin=0.1)
    assert strict.match(between) is None and strict.match(unit(1, 0.2, 0)) is not None
    bg = SimilarityMatcher(["a"], [a], [None], default_threshold=0.1, centroid_weight=0.0,
                           background_vectors=np.stack([unit(0, 0, 1)]))  # fmt: skip
    assert bg.match(unit(1, 0, 0.5)) is not None and bg.match(unit(0.4, 0, 1)) is None


# ---- build(): embedding, the background cache ----------------------------------------------------


class _RecordingEmbedder:
    """Counts calls; vectors by a keyword so build() can be checked without the model."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rng = np.random.default_rng(len(self.calls))
        rows = [unit(1, 0, 0) if "code" in t else unit(0, 1, 0) if "sum" in t else unit(0, 0, 1) for t in texts]
        jitter = 0.05 * rng.standard_normal((len(rows), 3)).astype(np.float32)
        out = np.stack(rows) + jitter
        normed: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normed


def test_build_embeds_the_background_once_per_embedder() -> None:
    emb = _RecordingEmbedder()
    background = [f"weather {i}" for i in range(6)]
    intents = [Intent(name="coding", examples=["code a", "code b"]), Intent(name="math", examples=["sum it", "sum up"])]
    m = IntentMatcher.build(intents, emb, background=background)
    assert emb.calls == [10]  # examples and background in one batch
    found = m.match(unit(1, 0, 0))
    assert found is not None and found.name == "coding"
    assert m.match(unit(0, 0, 1)) is None  # a background prompt
    IntentMatcher.build([*intents, Intent(name="more", examples=["code c"])], emb, background=background)
    assert emb.calls == [10, 5]  # a new snapshot: only its examples
    IntentMatcher.build(intents, _RecordingEmbedder(), background=background)  # another embedder: its own vectors
    IntentMatcher.build(intents, emb, background=background[:3])
    assert emb.calls[-1] == 7


def test_background_rows_are_unique_and_not_from_the_labelled_sets() -> None:
    assert len(set(BACKGROUND_EXAMPLES)) == len(BACKGROUND_EXAMPLES)
    labelled = {str(row["text"]).strip().lower() for split in ("tune", "heldout", "heldout2") for row in _load(split)}
    assert not [t for t in BACKGROUND_EXAMPLES if t.strip().lower() in labelled]


# ---- the real embedder -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from tokenway_gateway.semantic import EmbedderUnavailable, get_embedder

    try:
        return get_embedder()
    except EmbedderUnavailable as exc:  # pragma: no cover - the model packages are dependencies
        pytest.skip(f"embedder not installed: {exc}")


def _load(split: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / f"intents_{split}.jsonl").read_text("utf-8").splitlines() if line]


def _tune_intents() -> list[Intent]:
    tune = _load("tune")
    names = sorted({str(r["intent"]) for r in tune if r["intent"]})
    return [Intent(name=n, examples=[str(r["text"]) for r in tune if r["intent"] == n]) for n in names]


def _decide(matcher: IntentMatcher, embedder, cases: dict[str, str | None]) -> None:  # type: ignore[no-untyped-def]
    vectors = embedder.embed(list(cases))
    got = {}
    for text, vector in zip(cases, vectors, strict=True):
        found = matcher.match(vector)
        got[text] = found.name if found else None
    assert got == cases


def test_real_prompts_matched_and_off_topic_unmatched(embedder) -> None:  # type: ignore[no-untyped-def]
    matcher = IntentMatcher.build(_tune_intents(), embedder)
    _decide(matcher, embedder, {
        "Write a Python function that returns the factorial of n.": "coding",
        "My Go program panics with 'index out of range' inside a goroutine, how do I debug it?": "coding",
        "What is the integral of x squared from 0 to 3?": "math",
        "Translate 'good evening' into German.": "translation",
        "Summarize this memo in two sentences: the office will close early on Friday for maintenance.": "summarization",
        "I was charged twice for my order, please refund one payment.": "support",
        "Hey! How's your day going?": "chitchat",
        "What is the tallest mountain in South America?": None,
        "Give me a recipe for lentil soup.": None,
        "What are the rules of water polo?": None,
    })  # fmt: skip


def test_an_intent_on_a_background_topic_still_wins_its_prompts(embedder) -> None:  # type: ignore[no-untyped-def]
    """The background has cooking and travel rows; a user's cooking and travel intents still get those prompts."""
    cooking = Intent(name="cooking", examples=[
        "How do I make a creamy mushroom pasta sauce?", "What can I cook with leftover roast potatoes?",
        "Give me a quick weeknight stir-fry recipe.", "How long should I rest a steak after grilling?",
        "How do I make pancakes without buttermilk?", "What's a good marinade for tofu?",
        "How do I thicken a soup that's too watery?", "How do I bake crusty bread at home?",
        "What herbs go well with roast lamb?", "How do you make guacamole?",
    ])  # fmt: skip
    travel = Intent(name="travel", examples=[
        "Plan a four-day trip to Vienna.", "What should I see in Edinburgh in two days?",
        "Is it easy to travel around Portugal by train?", "Best neighbourhoods to stay in Mexico City?",
        "How many days do I need in Tokyo?", "Suggest a backpacking route through Vietnam.",
        "Is Morocco good for a family holiday?", "Itinerary for a week in Sicily, please.",
    ])  # fmt: skip
    coding = Intent(name="coding", examples=["Write a Python function that reverses a string.",
                                             "How do I write a SQL join across three tables?"])  # fmt: skip
    matcher = IntentMatcher.build([cooking, travel, coding], embedder)
    assert "How do I make a fluffy omelette?" in BACKGROUND_EXAMPLES
    _decide(matcher, embedder, {
        "How do I make a fluffy omelette?": "cooking",  # a background row, verbatim
        "What's the best way to cook salmon in the oven?": "cooking",
        "Plan a weekend in Lisbon for two people.": "travel",  # a background row, verbatim
        "Two weeks in New Zealand: where should I go?": "travel",
        "Why do cats purr?": None,
        "How do I ask my boss for a raise?": None,
    })  # fmt: skip


def test_builds_are_deterministic(embedder) -> None:  # type: ignore[no-untyped-def]
    intents = _tune_intents()
    a = IntentMatcher.build(intents, embedder)
    b = IntentMatcher.build(intents, embedder)
    assert a.classifier is not None and b.classifier is not None
    assert np.array_equal(a.classifier.weights, b.classifier.weights)
    assert np.array_equal(a.classifier.bias, b.classifier.bias)
    vectors = embedder.embed([str(r["text"]) for r in _load("tune")])
    assert [a.match(v) for v in vectors] == [b.match(v) for v in vectors]


def test_a_high_threshold_turns_one_intent_off(embedder) -> None:  # type: ignore[no-untyped-def]
    intents = [i if i.name != "coding" else Intent(name="coding", examples=i.examples, threshold=0.95)
               for i in _tune_intents()]  # fmt: skip
    matcher = IntentMatcher.build(intents, embedder)
    _decide(matcher, embedder, {
        "Write a Python function that returns the factorial of n.": None,
        "What is the integral of x squared from 0 to 3?": "math",
    })  # fmt: skip


# ---- prompts that carry a payload ----------------------------------------------------------------

_PARAGRAPH = (
    "In a randomised trial of 1,200 adults with mild hypertension, participants who cut their salt intake "
    "to under five grams a day lowered their systolic blood pressure by an average of 6 mmHg over six months, "
    "compared with 1 mmHg in the control group. Side effects were rare, and the benefit was largest in "
    "participants over sixty."
)


def test_split_payload_finds_the_instruction() -> None:
    trace = (
        "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    main()\n"
        "  File \"app.py\", line 8, in main\n    total = sum(prices) / len(prices)\n"
        "ZeroDivisionError: division by zero\nwhy does this happen?"
    )
    code = ("```python\ndef average(values):\n    total = sum(values)\n    return total / len(values)\n\n"
            "print(average([]))\n```\nWhy does this crash on an empty list?")
    cases: dict[str, str | None] = {
        f"Summarize this in one sentence:\n\n{_PARAGRAPH}": "Summarize this in one sentence:",
        f"tldr pls\n\n{_PARAGRAPH}": "tldr pls",
        f"Give me the gist of this abstract: {_PARAGRAPH}": "Give me the gist of this abstract:",
        f"Summarize the key findings of this study. {_PARAGRAPH}": "Summarize the key findings of this study.",
        f"{_PARAGRAPH}\n\nTL;DR?": "TL;DR?",
        f"{_PARAGRAPH} What is the main point here?": "What is the main point here?",
        f"Translate to French: {_PARAGRAPH}": "Translate to French:",
        "What does this clause say in plain words? 'The Licensee shall indemnify and hold harmless the Licensor "
        "from any and all claims arising out of the use of the Software.'":
            "What does this clause say in plain words?",
        "Condense these minutes into one paragraph:\nItem 1: Budget approved with 3% increase.\nItem 2: Repairs "
        "scheduled for August; two quotes reviewed.\nItem 3: Next meeting 3 September.":
            "Condense these minutes into one paragraph:",
        trace: "Traceback (most recent call last): why does this happen?",
        code: "Why does this crash on an empty list?",
        # No payload: short prompts, and long ones without an instruction apart from their content.
        "Write a Python function that returns the factorial of n.": None,
        "Summarize this memo: the office closes early on Friday.": None,
        "I ordered a blue jacket three weeks ago and it still has not arrived even though the tracking page says "
        "it was delivered to my address last Tuesday afternoon, so what can I do now": None,
        "```python\nprint('only code, nothing else to go by, so the whole prompt is what we embed here')\n```": None,
    }  # fmt: skip
    got = {text: (p.instruction if (p := split_payload(text)) else None) for text in cases}
    assert got == cases
    parts = split_payload(f"Summarize this in one sentence:\n\n{_PARAGRAPH}")
    assert parts is not None and parts.payload == _PARAGRAPH


def test_prompt_texts_and_vector() -> None:
    assert prompt_texts("hello there") == ("hello there",)
    text = f"Summarize this:\n\n{_PARAGRAPH}"
    assert prompt_texts(text) == (text, "Summarize this:")
    whole, instruction = unit(1, 0, 0), unit(0, 1, 0)
    assert np.array_equal(prompt_vector(whole[None, :]), whole)  # no payload: the prompt's own embedding
    mixed = prompt_vector(np.stack([whole, instruction]), payload_weight=2.0)
    assert np.allclose(mixed, unit(1, 2, 0))


def test_build_embeds_payload_examples_with_their_instruction() -> None:
    emb = _RecordingEmbedder()
    background = [f"weather {i}" for i in range(6)]
    payload_example = f"sum this up:\n\n{_PARAGRAPH}"
    intents = [Intent(name="coding", examples=["code a", "code b"]),
               Intent(name="math", examples=["sum it", payload_example])]  # fmt: skip
    IntentMatcher.build(intents, emb, background=background)
    assert emb.calls == [11]  # 4 examples, one instruction, 6 background rows: one batch


class _SubmitRecorder:
    """An AsyncEmbedder that records what is submitted and answers on the loop (one fixed vector per text)."""

    dim = 3

    def __init__(self) -> None:
        self.texts: list[str] = []

    def submit(self, text: str, loop, callback) -> None:  # type: ignore[no-untyped-def]
        self.texts.append(text)
        vector = unit(1, 0, 0) if len(self.texts) % 2 else unit(0, 1, 0)
        loop.call_soon(callback, vector, None)

    async def aembed(self, text: str) -> np.ndarray:  # pragma: no cover - not used by the stage
        raise NotImplementedError


class _Ctx:
    requested_model = "auto"
    finished = False

    def __init__(self, text: str) -> None:
        self.payload = {"messages": [{"role": "user", "content": text}]}
        self.intent = None
        self.resumed = 0

    def suspend(self) -> str:
        return "suspended"

    def resume(self) -> None:
        self.resumed += 1


def test_intent_stage_embeds_the_instruction_only_for_a_payload_prompt() -> None:
    import asyncio

    from tokenway_gateway.pipeline.intent import IntentStage

    matcher = IntentMatcher(["coding", "summarization"], [around((1, 0, 0), 5, 0.1, 1), around((0, 1, 0), 5, 0.1, 2)],
                            [None, None], background_vectors=around((0, 0, 1), 5, 0.1, 3))  # fmt: skip

    async def run(text: str) -> tuple[_SubmitRecorder, _Ctx]:
        embedder = _SubmitRecorder()
        stage = IntentStage(matcher, None, embedder, None)  # type: ignore[arg-type]
        ctx = _Ctx(text)
        assert stage.run(ctx) == "suspended"  # type: ignore[arg-type,comparison-overlap]
        for _ in range(5):
            await asyncio.sleep(0)
        return embedder, ctx

    embedder, ctx = asyncio.run(run("Write a Python function that reverses a string."))
    assert embedder.texts == ["Write a Python function that reverses a string."]  # no payload: one embedding
    assert ctx.resumed == 1 and ctx.intent is not None and ctx.intent.name == "coding"

    text = f"Summarize this for the team:\n\n{_PARAGRAPH}"
    embedder, ctx = asyncio.run(run(text))
    assert embedder.texts == [text, "Summarize this for the team:"]  # both queued together: one batch
    assert ctx.resumed == 1 and ctx.intent is not None
    # The prompt's own embedding says "coding" here; mixed with its instruction's it is a summary request,
    # and the decision keeps the prompt's own vector for the cache and the guard.
    assert ctx.intent.name == "summarization"
    assert np.array_equal(ctx.intent.vector, unit(1, 0, 0))


def test_a_summary_request_carrying_a_medical_paragraph_is_summarization(embedder) -> None:  # type: ignore[no-untyped-def]
    summarization = Intent(name="summarization", examples=[
        "Summarize this article in three bullet points.", "Give me a TL;DR of this email thread.",
        "Condense these meeting notes into the key decisions.", "What are the main points of this report?",
        "Write a short summary of this chapter.",
    ])  # fmt: skip
    health = Intent(name="health", examples=[
        "What are the symptoms of high blood pressure?", "How much salt should I eat a day?",
        "Is it safe to take ibuprofen every day?", "What causes migraines?", "How can I lower my cholesterol?",
    ])  # fmt: skip
    coding = Intent(name="coding", examples=["Write a Python function that reverses a string.",
                                             "How do I fix a null pointer exception in Java?"])  # fmt: skip
    matcher = IntentMatcher.build([summarization, health, coding], embedder)
    text = f"Summarize this for me in two sentences:\n\n{_PARAGRAPH}"
    rows = embedder.embed(list(prompt_texts(text)))
    assert rows.shape[0] == 2
    assert matcher.match(rows[0]).name == "health"  # type: ignore[union-attr]  # the whole prompt follows the paragraph
    found = matcher.match(matcher.embed_prompt(text, embedder))
    assert found is not None and found.name == "summarization"
    question = matcher.match(matcher.embed_prompt("Does cutting salt lower blood pressure?", embedder))
    assert question is not None and question.name == "health"
