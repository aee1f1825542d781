"""Intent routing benchmark: accuracy on held-out prompts and latency of embedding + match, against a
keyword router and the previous matcher measured in the same run.

Data (bench/data/intents_*.jsonl; six intents typical of gateway routing: coding, math, summarization,
translation, chitchat, support; and off-topic prompts that must match no intent):

  tune      150 prompts (20 per intent, 30 off-topic). The intents are defined from it the way a
            RoutePolicy defines them (each intent's examples are its tune prompts); the matcher's
            defaults were chosen by cross-validation inside it (--cv, --grid). Its off-topic prompts
            are never training rows.
  heldout2  247 prompts (35 coding, 30 per other intent, 62 off-topic), written and committed before
            the classifier was tuned and never used for tuning: the CLEAN figure.
  heldout   150 prompts, the older held-out half. It was looked at while the previous matcher was
            tuned, so it is reported as SEEN, not as a clean figure.

Labelling guide: coding = writing, reading, debugging or explaining code and developer tools;
math = solving or explaining a mathematical problem or concept; summarization = condensing text
given in the prompt; translation = rendering text between human languages, or the meaning of a
foreign word; chitchat = small talk with the assistant (greetings, jokes, questions about it,
thanks); support = a customer's request about their account, order, billing, delivery or
subscription; everything else (facts, advice, creative writing, health, travel, ...) = none.
A prompt is right when the matcher returns its intent, or nothing for an off-topic prompt.

Figures:
  1. accuracy (all, in-intent, off-topic) and per-intent recall of IntentMatcher (the per-snapshot
     classifier), its ablations, the previous matcher (SimilarityMatcher with its own defaults and
     its 50 background exemplars) and the keyword router, on heldout2 then on heldout (seen);
     confusion matrices of IntentMatcher and of the previous matcher;
  2. build time of the matcher for the tune set's 6 intents x 20 examples;
  3. latency per prompt, one prompt at a time on this CPU: embedding (all-MiniLM-L6-v2 int8),
     match alone, embedding + match; p50 / p99, wall clock and thread CPU time.

    python bench/intents.py [--repeat 3]      # the report
    python bench/intents.py --cv               # 5-fold CV on the tune split (x3 shuffles)
    python bench/intents.py --grid             # the CV grid the defaults were read from (minutes)
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
    PREVIOUS_BACKGROUND_SIZE,
    IntentMatch,
    IntentMatcher,
    SimilarityMatcher,
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
    example_vectors = [embedder.embed(list(i.examples)) for i in intents]
    background_vectors = embedder.embed(list(BACKGROUND_EXAMPLES))
    t0 = time.perf_counter()
    IntentMatcher(names, example_vectors, [None] * len(names), background_vectors=background_vectors)
    fit_s = time.perf_counter() - t0
    variants: dict[str, Matcher] = {
        "IntentMatcher (classifier, defaults)": matcher,
        "  embedding features only": IntentMatcher(
            names, example_vectors, [None] * len(names), background_vectors=background_vectors, similarity_scale=0.0
        ),
        "  with the previous 50 background rows": IntentMatcher(
            names, example_vectors, [None] * len(names),
            background_vectors=background_vectors[:PREVIOUS_BACKGROUND_SIZE],
        ),
        "  with a similarity floor of 0.15": IntentMatcher(
            names, example_vectors, [None] * len(names), background_vectors=background_vectors, default_threshold=0.15
        ),
        "previous matcher (SimilarityMatcher)": previous_matcher(intents, embedder),
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

    for split, note in (("heldout2", "CLEAN: never tuned on"), ("heldout", "SEEN: looked at before; not clean")):
        rows = load(split)
        vectors = embedder.embed([r["text"] for r in rows])
        n_in = sum(1 for r in rows if r["intent"])
        print(f"\n1. accuracy on {split} ({note}): {len(rows)} prompts, {n_in} with an intent, {len(rows) - n_in} "
              f"off-topic; target >= 0.9")
        head = "".join(f"{label[:7]:>8}" for label in labels)
        print(f"  {'':<40}{'all':>7}{'in':>7}{'off':>7}   recall:{head}")
        scores: dict[str, Score] = {}
        for name, m in variants.items():
            scores[name] = Score(rows, predict_all(m, vectors))
        scores["keyword router (baseline)"] = Score(rows, [keyword_route(r["text"]) for r in rows])
        for name, s in scores.items():
            recall = "".join(f"{s.recall(label):8.2f}" for label in labels)
            print(f"  {name:<40}{s.all:7.3f}{s.in_intent:7.3f}{s.off_topic:7.3f}          {recall}")
        print_confusion("IntentMatcher", scores["IntentMatcher (classifier, defaults)"], labels)
        print_confusion("previous matcher", scores["previous matcher (SimilarityMatcher)"], labels)
        if args.errors:
            for row, (want, got) in zip(rows, scores["IntentMatcher (classifier, defaults)"].pairs, strict=True):
                if want != got:
                    print(f"    {want} -> {got}: {row['text'][:90]!r}")

    rows = load("heldout2")
    texts = [r["text"] for r in rows]
    previous = variants["previous matcher (SimilarityMatcher)"]
    for text in texts[:10]:
        matcher.match(embedder.embed([text])[0])
    embed_ms: list[float] = []
    total_ms: list[float] = []
    total_cpu_ms: list[float] = []
    after_embed_us: dict[str, list[float]] = {"classifier": [], "previous": []}
    after_embed_cpu_us: dict[str, list[float]] = {"classifier": [], "previous": []}
    for _ in range(args.repeat):
        for text in texts:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter()
            vector = embedder.embed([text])[0]
            t1 = time.perf_counter()
            m0 = time.thread_time_ns()
            matcher.match(vector)
            m1 = time.thread_time_ns()
            t2 = time.perf_counter()
            previous.match(vector)  # the same prompt, right after: the same (cold) caches for both
            m2 = time.thread_time_ns()
            t3 = time.perf_counter()
            after_embed_us["classifier"].append((t2 - t1) * 1e6)
            after_embed_us["previous"].append((t3 - t2) * 1e6)
            after_embed_cpu_us["classifier"].append((m1 - m0) / 1e3)
            after_embed_cpu_us["previous"].append((m2 - m1) / 1e3)
            total_cpu_ms.append((m1 - c0) / 1e6)
            embed_ms.append((t1 - t0) * 1e3)
            total_ms.append((t2 - t0) * 1e3)
    vectors = embedder.embed(texts)
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
    print(
        f"\n3. latency per prompt (heldout2 x {args.repeat} = {len(total_ms)} prompts, one at a time, this CPU; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print("                                    wall p50     wall p99   thread CPU p50  thread CPU p99")
    print(f"  embedding + match (classifier) {percentile(total_ms, 0.5):8.2f} ms  {percentile(total_ms, 0.99):8.2f} ms"
          f"     {percentile(total_cpu_ms, 0.5):8.2f} ms     {percentile(total_cpu_ms, 0.99):8.2f} ms")
    print(f"  embedding                      {percentile(embed_ms, 0.5):8.2f} ms  {percentile(embed_ms, 0.99):8.2f} ms")
    for name in ("classifier", "previous"):
        wall, cpu = after_embed_us[name], after_embed_cpu_us[name]
        label = f"match, {name} after embedding"
        print(f"  {label:<31}{percentile(wall, 0.5):8.1f} us  {percentile(wall, 0.99):8.1f} us"
              f"     {percentile(cpu, 0.5):8.1f} us     {percentile(cpu, 0.99):8.1f} us")
    for name in ("classifier", "previous"):
        wall = loop_us[name]
        label = f"match, {name} in a loop"
        print(f"  {label:<31}{percentile(wall, 0.5):8.1f} us  {percentile(wall, 0.99):8.1f} us")
    kw50, kw99 = percentile(keyword_us, 0.5), percentile(keyword_us, 0.99)
    print(f"  {'keyword router':<31}{kw50:8.1f} us  {kw99:8.1f} us")


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
    rows = load("tune")
    vectors = embedder.embed([r["text"] for r in rows])
    background = embedder.embed(list(BACKGROUND_EXAMPLES))
    previous_background = background[:PREVIOUS_BACKGROUND_SIZE]

    def classifier(**kw: Any) -> Callable[[list[str], list[np.ndarray]], Matcher]:
        bg = kw.pop("background", background)
        return lambda names, ex: IntentMatcher(names, ex, [None] * len(names), background_vectors=bg, **kw)

    def similarity(**kw: Any) -> Callable[[list[str], list[np.ndarray]], Matcher]:
        bg = kw.pop("background", previous_background)
        return lambda names, ex: SimilarityMatcher(names, ex, [None] * len(names), background_vectors=bg, **kw)

    if args.grid:
        print("5-fold CV on the tune split, 2 shuffles: l2, similarity_scale, none_weight, top_k -> all / in / off")
        for l2, scale, nw, top_k in itertools.product((3e-3, 1e-3, 3e-4), (1.0, 2.0, 3.0), (0.35, 0.5, 0.7), (1, 3, 5)):
            a, i, o = cross_validate(
                rows, vectors, classifier(l2=l2, similarity_scale=scale, none_weight=nw, top_k=top_k), seeds=(0, 1)
            )
            print(f"  {l2:g} {scale:g} {nw:g} {top_k}:  {a:.3f} {i:.3f} {o:.3f}", flush=True)
        return
    variants = {
        "IntentMatcher (defaults)": classifier(),
        "  embedding features only": classifier(similarity_scale=0.0),
        "  previous 50 background rows": classifier(background=previous_background),
        "  similarity floor 0.15": classifier(default_threshold=0.15),
        "  similarity floor 0.10": classifier(default_threshold=0.10),
        "previous matcher (SimilarityMatcher)": similarity(),
        "  with all background rows": similarity(background=background),
    }
    print("5-fold cross-validation on the tune split (x3 shuffles; off-topic prompts only scored)")
    print(f"  {'':<40}{'all':>7}{'in':>7}{'off':>7}")
    for name, make in variants.items():
        a, i, o = cross_validate(rows, vectors, make)
        print(f"  {name:<40}{a:7.3f}{i:7.3f}{o:7.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the prompts for the latency figure")
    parser.add_argument("--cv", action="store_true", help="cross-validation on the tune split instead of the report")
    parser.add_argument("--grid", action="store_true", help="with --cv: the grid the defaults were read from")
    parser.add_argument("--errors", action="store_true", help="list the classifier's wrong answers")
    args = parser.parse_args()
    if args.cv or args.grid:
        cv_report(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
