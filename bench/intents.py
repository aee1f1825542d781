"""Intent routing benchmark: accuracy on held-out prompts and latency of embedding + match, against a
keyword router and the previous matchers measured in the same run.

Data (bench/data/intents_*.jsonl; six intents typical of gateway routing: coding, math, summarization,
translation, chitchat, support; and off-topic prompts that must match no intent):

  tune      150 prompts (20 per intent, 30 off-topic). The intents are defined from it the way a
            RoutePolicy defines them (each intent's examples are its tune prompts). Its off-topic
            prompts are never training rows.
  heldout3  the fresh CLEAN set, written after the payload-aware matcher; reported first when the
            file exists (--split auto). Nothing was tuned on it.
  heldout2  247 prompts (35 coding, 30 per other intent, 62 off-topic; 36 carry a payload). It was
            the clean set of the classifier; the payload split and its weight were chosen by
            cross-validation over tune + heldout + heldout2, so it is now SEEN.
  heldout   150 prompts, the older held-out half: SEEN.

Labelling guide: coding = writing, reading, debugging or explaining code and developer tools;
math = solving or explaining a mathematical problem or concept; summarization = condensing text
given in the prompt; translation = rendering text between human languages, or the meaning of a
foreign word; chitchat = small talk with the assistant (greetings, jokes, questions about it,
thanks); support = a customer's request about their account, order, billing, delivery or
subscription; everything else (facts, advice, creative writing, health, travel, ...) = none.
A prompt is right when the matcher returns its intent, or nothing for an off-topic prompt.

Figures:
  1. accuracy (all, in-intent, off-topic), per-intent recall and accuracy on the prompts that carry
     a payload, of IntentMatcher (payload-aware: a prompt with a payload is matched with its
     instruction's embedding mixed in), its ablations (whole prompt only: the matcher before the
     payload split; instruction only; ...), the previous similarity rule and the keyword router;
     confusion matrices;
  2. build time of the matcher for the tune set's 6 intents x 20 examples;
  3. latency per prompt, one prompt at a time on this CPU: the payload split, embedding (one text,
     or prompt + instruction in one batch), match; p50 / p99 over all prompts, over payload prompts
     and over the others, and the whole-prompt-only cost for comparison.

    python bench/intents.py [--repeat 3]              # the report (heldout3 first when it exists)
    python bench/intents.py --split heldout2,heldout  # named splits only
    python bench/intents.py --cv                      # 5-fold CV (x3 shuffles): tune, and the seen sets pooled
    python bench/intents.py --grid                    # the CV grid the defaults were read from (minutes)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api.route import Intent  # noqa: E402
from tokenway_gateway.intents import (  # noqa: E402
    BACKGROUND_EXAMPLES,
    DEFAULT_PAYLOAD_WEIGHT,
    PREVIOUS_BACKGROUND_SIZE,
    IntentMatch,
    IntentMatcher,
    SimilarityMatcher,
    prompt_texts,
    prompt_vector,
)
from tokenway_gateway.semantic import get_embedder  # noqa: E402

DATA = ROOT / "bench" / "data"
NONE = "none"

# What a keyword router does: the intent with the most keyword hits wins; no hit, no intent.
KEYWORDS: dict[str, list[str]] = {
    "coding": [
        "code", "function", "python", "javascript", "java", "bug", "error", "debug", "sql", "query", "script",
        "compile", "api", "regex", "class", "git", "docker", "kubernetes", "rust", "typescript", "react", "css",
        "unit test", "variable", "array", "loop", "algorithm", "program",
    ],
    "math": [
        "solve", "equation", "integral", "derivative", "probability", "calculate", "compute", "prime", "matrix",
        "sum of", "percent", "%", "area", "volume", "factor", "simplify", "limit", "average", "median", "x =",
    ],
    "summarization": [
        "summarize", "summarise", "summary", "tl;dr", "tldr", "condense", "key points", "takeaways", "recap",
        "gist", "shorten", "overview", "synopsis", "digest",
    ],
    "translation": [
        "translate", "translation", "in spanish", "in french", "in german", "in japanese", "in italian",
        "how do you say", "what does", "mean in english",
    ],
    "chitchat": [
        "hi", "hello", "hey", "how are you", "joke", "bored", "thanks", "thank you", "good morning", "good night",
        "what's up", "chat",
    ],
    "support": [
        "order", "refund", "account", "password", "subscription", "billing", "charged", "invoice", "shipping",
        "delivery", "cancel", "return", "package", "payment", "log in", "login",
    ],
}  # fmt: skip
_KEYWORD_RES = {
    name: [re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.I) for word in words] for name, words in KEYWORDS.items()
}


def keyword_route(text: str) -> str | None:
    counts = {name: sum(1 for r in res if r.search(text)) for name, res in _KEYWORD_RES.items()}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] > 0 else None


class Matcher(Protocol):
    def match(self, embedding: Any) -> IntentMatch | None: ...


def load(split: str) -> list[dict[str, Any]]:
    with (DATA / f"intents_{split}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


SEEN = ("tune", "heldout", "heldout2")  # everything tuned on (cross-validation pools them)
NOTES = {
    "heldout3": "CLEAN: never tuned on",
    "heldout2": "SEEN: the payload split was tuned by CV over it",
    "heldout": "SEEN: looked at before; not clean",
}


def report_splits(arg: str) -> list[str]:
    """``auto``: heldout3 when its file exists, then heldout2 and heldout; else the comma-separated names."""
    if arg == "auto":
        return [s for s in ("heldout3", "heldout2", "heldout") if (DATA / f"intents_{s}.jsonl").exists()]
    return [s.strip() for s in arg.split(",") if s.strip()]


class Embedded:
    """A list of texts embedded as the gateway embeds prompts: each one, and the instruction of each payload."""

    def __init__(self, embedder: Any, texts: Sequence[str]) -> None:
        pieces = [prompt_texts(t) for t in texts]
        flat = [p for ps in pieces for p in ps]
        rows = embedder.embed(flat) if flat else np.zeros((0, 384), dtype=np.float32)
        self.whole = np.zeros((len(texts), rows.shape[1]), dtype=np.float32)
        self.instruction: list[np.ndarray | None] = []
        at = 0
        for i, ps in enumerate(pieces):
            self.whole[i] = rows[at]
            self.instruction.append(rows[at + 1] if len(ps) == 2 else None)
            at += len(ps)
        self.has_payload = np.array([v is not None for v in self.instruction])

    def mixed(self, payload_weight: float = DEFAULT_PAYLOAD_WEIGHT) -> np.ndarray:
        """What IntentMatcher matches: the whole embedding, mixed with the instruction's for a payload prompt."""
        out = self.whole.copy()
        for i, v in enumerate(self.instruction):
            if v is not None:
                out[i] = prompt_vector(np.stack((self.whole[i], v)), payload_weight)
        return out


def intents_from(rows: Sequence[dict[str, Any]]) -> list[Intent]:
    names = sorted({r["intent"] for r in rows if r["intent"]})
    return [Intent(name=name, examples=[r["text"] for r in rows if r["intent"] == name]) for name in names]


class Score:
    """Accuracy overall, on in-intent and off-topic prompts, per-intent recall and the confusion counts."""

    def __init__(self, rows: Sequence[dict[str, Any]], predicted: Sequence[str | None]) -> None:
        self.pairs = [(row["intent"] or NONE, got or NONE) for row, got in zip(rows, predicted, strict=True)]
        self.confusion: Counter[tuple[str, str]] = Counter(self.pairs)
        right = [want == got for want, got in self.pairs]
        self.all = sum(right) / len(right)
        inside = [ok for ok, (want, _) in zip(right, self.pairs, strict=True) if want != NONE]
        outside = [ok for ok, (want, _) in zip(right, self.pairs, strict=True) if want == NONE]
        self.in_intent = sum(inside) / max(1, len(inside))
        self.off_topic = sum(outside) / max(1, len(outside))

    def recall(self, label: str) -> float:
        n = sum(1 for want, _ in self.pairs if want == label)
        return self.confusion[(label, label)] / max(1, n)


def predict_all(matcher: Matcher, vectors: np.ndarray) -> list[str | None]:
    out: list[str | None] = []
    for v in vectors:
        found = matcher.match(v)
        out.append(found.name if found else None)
    return out


def print_confusion(title: str, score: Score, labels: Sequence[str]) -> None:
    short = [label[:6] for label in labels]
    print(f"  confusion, {title} (rows: labelled, columns: matched)")
    print("    " + " " * 14 + " ".join(f"{s:>6}" for s in short))
    for want in labels:
        print(f"    {want:<14}" + " ".join(f"{score.confusion[(want, got)]:>6}" for got in labels))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def previous_matcher(intents: Sequence[Intent], embedder: Any) -> SimilarityMatcher:
    """The matcher before the classifier: its rule, its defaults, its 50 background exemplars."""
    texts = [e for i in intents for e in i.examples]
    background = list(BACKGROUND_EXAMPLES[:PREVIOUS_BACKGROUND_SIZE])
    vectors = embedder.embed([*texts, *background])
    split, start = [], 0
    for intent in intents:
        split.append(vectors[start : start + len(intent.examples)])
        start += len(intent.examples)
    return SimilarityMatcher(
        [i.name for i in intents], split, [i.threshold for i in intents], background_vectors=vectors[len(texts) :]
    )


def report(args: argparse.Namespace) -> None:
    tune = load("tune")
    intents = intents_from(tune)
    labels = [*(i.name for i in intents), NONE]
    embedder = get_embedder()

    t0 = time.perf_counter()
    matcher = IntentMatcher.build(intents, embedder)  # first build: embeds the background too
    first_build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    matcher = IntentMatcher.build(intents, embedder)  # a new snapshot: the background is cached
    rebuild_s = time.perf_counter() - t0
    names = [i.name for i in intents]
    none = [None] * len(names)
    examples = [Embedded(embedder, list(i.examples)) for i in intents]
    background = Embedded(embedder, list(BACKGROUND_EXAMPLES))

    def classifier(payload_weight: float = DEFAULT_PAYLOAD_WEIGHT, **kw: Any) -> IntentMatcher:
        bg = background.mixed(payload_weight)
        bg = bg[: kw.pop("background_rows")] if "background_rows" in kw else bg
        return IntentMatcher(names, [e.mixed(payload_weight) for e in examples], none, background_vectors=bg,
                             payload_weight=payload_weight, **kw)

    t0 = time.perf_counter()
    classifier()
    fit_s = time.perf_counter() - t0
    # name -> (matcher, payload weight of the vectors it matches; None: the whole prompt's embedding)
    variants: dict[str, tuple[Matcher, float | None]] = {
        "IntentMatcher (payload-aware, defaults)": (matcher, DEFAULT_PAYLOAD_WEIGHT),
        "  whole prompt only (the matcher before)": (matcher, None),
        "  instruction only (payload weight 1e3)": (classifier(1e3), 1e3),
        "  payload weight 1": (classifier(1.0), 1.0),
        "  embedding features only": (classifier(similarity_scale=0.0), DEFAULT_PAYLOAD_WEIGHT),
        "  with the previous 50 background rows": (
            classifier(background_rows=PREVIOUS_BACKGROUND_SIZE), DEFAULT_PAYLOAD_WEIGHT),
        "  with a similarity floor of 0.15": (classifier(default_threshold=0.15), DEFAULT_PAYLOAD_WEIGHT),
        "previous matcher (SimilarityMatcher)": (previous_matcher(intents, embedder), None),
        "  with the payload split": (previous_matcher(intents, embedder), DEFAULT_PAYLOAD_WEIGHT),
    }  # fmt: skip
    n_examples = sum(len(i.examples) for i in intents)
    print(
        f"intents: {', '.join(names)}: {n_examples} examples from the tune split, {len(BACKGROUND_EXAMPLES)} "
        f"background rows"
    )
    print(
        f"\n2. build ({len(names)} intents x {n_examples // len(names)} examples): first build {first_build_s:.2f} s "
        f"(embeds {n_examples} examples + {len(BACKGROUND_EXAMPLES)} background rows), new snapshot "
        f"{rebuild_s:.2f} s (embeds the {n_examples} examples; background cached), classifier fit alone "
        f"{fit_s * 1e3:.0f} ms"
    )

    splits = report_splits(args.split)
    for split in splits:
        rows = load(split)
        embedded = Embedded(embedder, [r["text"] for r in rows])
        payload = embedded.has_payload
        n_in = sum(1 for r in rows if r["intent"])
        print(f"\n1. accuracy on {split} ({NOTES.get(split, 'as named')}): {len(rows)} prompts, {n_in} with an "
              f"intent, {len(rows) - n_in} off-topic, {int(payload.sum())} carry a payload; target >= 0.9")
        head = "".join(f"{label[:7]:>8}" for label in labels)
        print(f"  {'':<42}{'all':>7}{'in':>7}{'off':>7}{'payload':>8}   recall:{head}")
        scores: dict[str, Score] = {}
        vectors_for: dict[float | None, np.ndarray] = {}
        for name, (m, weight) in variants.items():
            if weight not in vectors_for:
                vectors_for[weight] = embedded.whole if weight is None else embedded.mixed(weight)
            scores[name] = Score(rows, predict_all(m, vectors_for[weight]))
        scores["keyword router (baseline)"] = Score(rows, [keyword_route(r["text"]) for r in rows])
        for name, s in scores.items():
            recall = "".join(f"{s.recall(label):8.2f}" for label in labels)
            on_payload = [want == got for (want, got), p in zip(s.pairs, payload, strict=True) if p]
            pay = f"{sum(on_payload) / len(on_payload):8.3f}" if on_payload else f"{'-':>8}"
            print(f"  {name:<42}{s.all:7.3f}{s.in_intent:7.3f}{s.off_topic:7.3f}{pay}          {recall}")
        print_confusion("IntentMatcher", scores["IntentMatcher (payload-aware, defaults)"], labels)
        print_confusion("whole prompt only", scores["  whole prompt only (the matcher before)"], labels)
        if args.errors:
            for row, (want, got) in zip(rows, scores["IntentMatcher (payload-aware, defaults)"].pairs, strict=True):
                if want != got:
                    print(f"    {want} -> {got}: {row['text'][:90]!r}")

    latency_split = splits[0] if splits else "heldout2"
    rows = load(latency_split)
    texts = [r["text"] for r in rows]
    previous = variants["previous matcher (SimilarityMatcher)"][0]
    for text in texts[:10]:
        matcher.embed_prompt(text, embedder)
    total_ms: dict[str, list[float]] = {"all": [], "payload": [], "plain": []}
    total_cpu_ms: dict[str, list[float]] = {"all": [], "payload": [], "plain": []}
    whole_ms: dict[str, list[float]] = {"all": [], "payload": [], "plain": []}
    two_calls_ms: list[float] = []
    split_us: list[float] = []
    after_embed_us: dict[str, list[float]] = {"classifier": [], "previous": []}
    after_embed_cpu_us: dict[str, list[float]] = {"classifier": [], "previous": []}
    for _ in range(args.repeat):
        for text in texts:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter()
            pieces = prompt_texts(text)  # the payload split
            ts = time.perf_counter()
            rows_ = embedder.embed(list(pieces))  # one batch: the prompt, and its instruction when it has a payload
            t1 = time.perf_counter()
            m0 = time.thread_time_ns()
            matcher.match(matcher.prompt_vector(rows_))
            m1 = time.thread_time_ns()
            t2 = time.perf_counter()
            previous.match(rows_[0])  # the same prompt, right after: the same (cold) caches for both
            m2 = time.thread_time_ns()
            t3 = time.perf_counter()
            embedder.embed([text])  # what the prompt cost before the payload split: one embedding
            t4 = time.perf_counter()
            kind = "payload" if len(pieces) == 2 else "plain"
            if kind == "payload":  # the same two texts in two calls (the embedder's length groups should match it)
                embedder.embed([pieces[1]])
                two_calls_ms.append((time.perf_counter() - t3) * 1e3)
            for key in ("all", kind):
                total_ms[key].append((t2 - t0) * 1e3)
                total_cpu_ms[key].append((m1 - c0) / 1e6)
                whole_ms[key].append((t4 - t3) * 1e3)
            split_us.append((ts - t0) * 1e6)
            after_embed_us["classifier"].append((t2 - t1) * 1e6)
            after_embed_us["previous"].append((t3 - t2) * 1e6)
            after_embed_cpu_us["classifier"].append((m1 - m0) / 1e3)
            after_embed_cpu_us["previous"].append((m2 - m1) / 1e3)
    vectors = Embedded(embedder, texts).mixed()
    loop_us: dict[str, list[float]] = {"classifier": [], "previous": []}
    for name, m in (("classifier", matcher), ("previous", previous)):
        for v in list(vectors) * args.repeat:
            t0 = time.perf_counter()
            m.match(v)
            loop_us[name].append((time.perf_counter() - t0) * 1e6)
    keyword_us: list[float] = []
    for text in texts * args.repeat:
        t0 = time.perf_counter()
        keyword_route(text)
        keyword_us.append((time.perf_counter() - t0) * 1e6)
    n_payload = len(total_ms["payload"]) // max(1, args.repeat)
    print(
        f"\n3. latency per prompt ({latency_split} x {args.repeat} = {len(total_ms['all'])} prompts, {n_payload} of "
        f"{len(texts)} with a payload, one at a time, this CPU; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores)"
    )
    print("                                            wall p50     wall p99   thread CPU p50  thread CPU p99")
    kinds = (("all", "all prompts"), ("plain", "no payload: 1 text"), ("payload", "payload: 2 texts, 1 batch"))
    for key, label in kinds:
        wall, cpu = total_ms[key], total_cpu_ms[key]
        if not wall:
            continue
        title = f"split+embed+match, {label}"
        print(f"  {title:<40}{percentile(wall, 0.5):8.2f} ms  {percentile(wall, 0.99):8.2f} ms"
              f"     {percentile(cpu, 0.5):8.2f} ms     {percentile(cpu, 0.99):8.2f} ms")
    for key, label in kinds:
        if whole_ms[key]:
            title = f"embed whole prompt only, {label.split(':')[0]}"
            print(f"  {title:<40}{percentile(whole_ms[key], 0.5):8.2f} ms  {percentile(whole_ms[key], 0.99):8.2f} ms")
    if two_calls_ms:
        title = "embed payload: 2 texts in 2 calls"
        print(f"  {title:<40}{percentile(two_calls_ms, 0.5):8.2f} ms  {percentile(two_calls_ms, 0.99):8.2f} ms")
    print(f"  {'payload split':<40}{percentile(split_us, 0.5):8.1f} us  {percentile(split_us, 0.99):8.1f} us")
    for name in ("classifier", "previous"):
        wall, cpu = after_embed_us[name], after_embed_cpu_us[name]
        label = f"match, {name} after embedding"
        print(f"  {label:<40}{percentile(wall, 0.5):8.1f} us  {percentile(wall, 0.99):8.1f} us"
              f"     {percentile(cpu, 0.5):8.1f} us     {percentile(cpu, 0.99):8.1f} us")
    for name in ("classifier", "previous"):
        wall = loop_us[name]
        label = f"match, {name} in a loop"
        print(f"  {label:<40}{percentile(wall, 0.5):8.1f} us  {percentile(wall, 0.99):8.1f} us")
    kw50, kw99 = percentile(keyword_us, 0.5), percentile(keyword_us, 0.99)
    print(f"  {'keyword router':<40}{kw50:8.1f} us  {kw99:8.1f} us")


# ---- cross-validation on the tune split -----------------------------------------------------------


def stratified_folds(rows: Sequence[dict[str, Any]], k: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in sorted({str(r["intent"]) for r in rows}):
        members = [i for i, r in enumerate(rows) if str(r["intent"]) == label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            folds[j % k].append(i)
    return folds


Maker = tuple[float | None, Callable[[list[str], list[np.ndarray]], Matcher]]  # (payload weight, build)


def cross_validate(
    rows: Sequence[dict[str, Any]],
    vectors: np.ndarray,
    make: Callable[[list[str], list[np.ndarray]], Matcher],
    k: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
) -> tuple[float, float, float]:
    """Mean accuracy (all, in-intent, off-topic) over ``seeds`` shuffles of ``k`` stratified folds.

    Each fold's intents are built from the other folds' in-intent prompts; off-topic prompts are
    only ever scored (a user's config has no off-topic examples either).
    """
    names = sorted({r["intent"] for r in rows if r["intent"]})
    totals = np.zeros(3)
    for seed in seeds:
        predicted: list[str | None] = [None] * len(rows)
        for fold in stratified_folds(rows, k, seed):
            held = set(fold)
            examples = [
                np.stack([vectors[i] for i, r in enumerate(rows) if r["intent"] == n and i not in held]) for n in names
            ]
            m = make(names, examples)
            for i in fold:
                found = m.match(vectors[i])
                predicted[i] = found.name if found else None
        s = Score(rows, predicted)
        totals += (s.all, s.in_intent, s.off_topic)
    a, i, o = totals / len(seeds)
    return float(a), float(i), float(o)


def cv_report(args: argparse.Namespace) -> None:
    embedder = get_embedder()
    background = Embedded(embedder, list(BACKGROUND_EXAMPLES))
    sets = {"tune": load("tune"), "seen sets pooled (tune + heldout + heldout2)": [r for s in SEEN for r in load(s)]}
    embedded = {name: Embedded(embedder, [r["text"] for r in rows]) for name, rows in sets.items()}

    def classifier(payload_weight: float | None = DEFAULT_PAYLOAD_WEIGHT, **kw: Any) -> Maker:
        """``payload_weight`` None: the whole prompt's embedding only (the matcher before the payload split)."""
        bg = kw.pop("background", None)
        if bg is None:
            bg = background.whole if payload_weight is None else background.mixed(payload_weight)
        weight = DEFAULT_PAYLOAD_WEIGHT if payload_weight is None else payload_weight
        return payload_weight, lambda names, ex: IntentMatcher(
            names, ex, [None] * len(names), background_vectors=bg, payload_weight=weight, **kw)

    def similarity(**kw: Any) -> Maker:
        bg = kw.pop("background", background.whole[:PREVIOUS_BACKGROUND_SIZE])
        return None, lambda names, ex: SimilarityMatcher(names, ex, [None] * len(names), background_vectors=bg, **kw)

    def score(name: str, maker: Maker, seeds: Sequence[int] = (0, 1, 2)) -> tuple[float, float, float]:
        weight, make = maker
        e = embedded[name]
        return cross_validate(sets[name], e.whole if weight is None else e.mixed(weight), make, seeds=seeds)

    pooled = "seen sets pooled (tune + heldout + heldout2)"
    if args.grid:
        print(f"5-fold CV on the {pooled}, 2 shuffles: payload_weight, none_weight, l2 -> all / in / off")
        for weight, nw, l2 in itertools.product((1.0, 2.0, 3.0), (0.5, 0.7, 1.0, 1.4), (3e-3, 1e-3)):
            a, i, o = score(pooled, classifier(weight, none_weight=nw, l2=l2), seeds=(0, 1))
            print(f"  {weight:g} {nw:g} {l2:g}:  {a:.3f} {i:.3f} {o:.3f}", flush=True)
        return
    variants = {
        "IntentMatcher (payload-aware, defaults)": classifier(),
        "  whole prompt only": classifier(None),
        "  whole prompt only, none_weight 0.5 (before)": classifier(None, none_weight=0.5),
        "  none_weight 0.5": classifier(none_weight=0.5),
        "  instruction only (payload weight 1e3)": classifier(1e3),
        "  payload weight 1": classifier(1.0),
        "  embedding features only": classifier(similarity_scale=0.0),
        "  previous 50 background rows": classifier(background=background.mixed()[:PREVIOUS_BACKGROUND_SIZE]),
        "  similarity floor 0.15": classifier(default_threshold=0.15),
        "previous matcher (SimilarityMatcher)": similarity(),
    }
    for name in sets:
        n_payload = int(embedded[name].has_payload.sum())
        print(f"\n5-fold cross-validation on the {name}: {len(sets[name])} prompts, {n_payload} with a payload "
              f"(x3 shuffles; off-topic prompts only scored)")
        print(f"  {'':<48}{'all':>7}{'in':>7}{'off':>7}")
        for label, maker in variants.items():
            a, i, o = score(name, maker)
            print(f"  {label:<48}{a:7.3f}{i:7.3f}{o:7.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the prompts for the latency figure")
    parser.add_argument("--cv", action="store_true", help="cross-validation on the seen sets instead of the report")
    parser.add_argument("--grid", action="store_true", help="the CV grid the defaults were read from")
    parser.add_argument("--split", default="auto",
                        help="splits to report, comma-separated (auto: heldout3 if present, heldout2, heldout)")
    parser.add_argument("--errors", action="store_true", help="list the classifier's wrong answers")
    args = parser.parse_args()
    if args.cv or args.grid:
        cv_report(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
