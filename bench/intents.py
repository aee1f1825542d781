"""Intent routing benchmark: accuracy on held-out prompts and latency of embedding + match, against a
keyword router measured in the same run.

The labelled set is bench/data/intents_{tune,heldout}.jsonl: prompts of six intents typical of
gateway routing (coding, math, summarization, translation, chitchat, support) and off-topic
prompts that must match no intent. The intents are defined the way a RoutePolicy defines them:
each intent's examples are the tune half's prompts of that intent; the matcher's defaults were
chosen by leave-one-out on the tune half. Accuracy is on the held-out half: a prompt is right when
the matcher returns its intent, or nothing for an off-topic prompt.

Figures:
  1. accuracy of IntentMatcher (defaults: top-3 mean blended with the centroid, none-of-the-above
     exemplars), of simpler variants (top-3 mean alone; nearest example only; no none-of-the-above
     exemplars), and of the keyword router;
     accuracy on in-intent prompts and on off-topic prompts separately;
  2. latency per prompt: embedding (all-MiniLM-L6-v2 int8 on this CPU, one prompt at a time),
     match alone, and embedding + match (p50 / p99).

    python bench/intents.py [--split heldout] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api.route import Intent  # noqa: E402
from tokenway_gateway.intents import IntentMatcher  # noqa: E402
from tokenway_gateway.semantic import get_embedder  # noqa: E402

DATA = ROOT / "bench" / "data"

# What a keyword router does: the intent with the most keyword hits wins; no hit, no intent.
KEYWORDS: dict[str, list[str]] = {
    "coding": [
        "code",
        "function",
        "python",
        "javascript",
        "java",
        "bug",
        "error",
        "debug",
        "sql",
        "query",
        "script",
        "compile",
        "api",
        "regex",
        "class",
        "git",
        "docker",
        "kubernetes",
        "rust",
        "typescript",
        "react",
        "css",
        "unit test",
        "variable",
        "array",
        "loop",
        "algorithm",
        "program",
    ],
    "math": [
        "solve",
        "equation",
        "integral",
        "derivative",
        "probability",
        "calculate",
        "compute",
        "prime",
        "matrix",
        "sum of",
        "percent",
        "%",
        "area",
        "volume",
        "factor",
        "simplify",
        "limit",
        "average",
        "median",
        "x =",
    ],
    "summarization": [
        "summarize",
        "summarise",
        "summary",
        "tl;dr",
        "tldr",
        "condense",
        "key points",
        "takeaways",
        "recap",
        "gist",
        "shorten",
        "overview",
        "synopsis",
        "digest",
    ],
    "translation": [
        "translate",
        "translation",
        "in spanish",
        "in french",
        "in german",
        "in japanese",
        "in italian",
        "how do you say",
        "what does",
        "mean in english",
    ],
    "chitchat": [
        "hi",
        "hello",
        "hey",
        "how are you",
        "joke",
        "bored",
        "thanks",
        "thank you",
        "good morning",
        "good night",
        "what's up",
        "chat",
    ],
    "support": [
        "order",
        "refund",
        "account",
        "password",
        "subscription",
        "billing",
        "charged",
        "invoice",
        "shipping",
        "delivery",
        "cancel",
        "return",
        "package",
        "payment",
        "log in",
        "login",
    ],
}
_KEYWORD_RES = {
    name: [re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.I) for word in words] for name, words in KEYWORDS.items()
}


def keyword_route(text: str) -> str | None:
    counts = {name: sum(1 for r in res if r.search(text)) for name, res in _KEYWORD_RES.items()}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] > 0 else None


def load(split: str) -> list[dict[str, Any]]:
    with (DATA / f"intents_{split}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def intents_from(rows: Sequence[dict[str, Any]]) -> list[Intent]:
    names = sorted({r["intent"] for r in rows if r["intent"]})
    return [Intent(name=name, examples=[r["text"] for r in rows if r["intent"] == name]) for name in names]


def accuracy(
    rows: Sequence[dict[str, Any]], predict: Callable[[int], str | None]
) -> tuple[float, float, float, Counter[str]]:
    right = right_in = right_none = n_in = 0
    confusions: Counter[str] = Counter()
    for i, row in enumerate(rows):
        got = predict(i)
        ok = got == row["intent"]
        right += ok
        if row["intent"] is None:
            right_none += ok
        else:
            n_in += 1
            right_in += ok
        if not ok:
            confusions[f"{row['intent'] or 'none'} -> {got or 'none'}"] += 1
    n_none = len(rows) - n_in
    return right / len(rows), right_in / max(1, n_in), right_none / max(1, n_none), confusions


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="heldout", choices=["heldout", "tune"])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the prompts for the latency figure")
    args = parser.parse_args()

    tune, rows = load("tune"), load(args.split)
    intents = intents_from(tune)
    embedder = get_embedder()
    start = time.perf_counter()
    matcher = IntentMatcher.build(intents, embedder)
    build_s = time.perf_counter() - start
    nearest = IntentMatcher.build(intents, embedder, top_k=1, centroid_weight=0.0)
    top3 = IntentMatcher.build(intents, embedder, centroid_weight=0.0)
    no_background = IntentMatcher.build(intents, embedder, background=())
    vectors = embedder.embed([r["text"] for r in rows])
    n_in = sum(1 for r in rows if r["intent"])
    print(
        f"intents: {', '.join(i.name for i in intents)} ({sum(len(i.examples) for i in intents)} examples from the "
        f"tune half; matcher built in {build_s * 1e3:.0f} ms)"
    )
    print(f"labelled set: {args.split} half, {len(rows)} prompts ({n_in} with an intent, {len(rows) - n_in} off-topic)")

    def via(m: IntentMatcher) -> Callable[[int], str | None]:
        def predict(i: int) -> str | None:
            found = m.match(vectors[i])
            return found.name if found else None

        return predict

    print("\n1. accuracy (target >= 0.9)            all     in-intent  off-topic")
    results = {
        "IntentMatcher (defaults)": accuracy(rows, via(matcher)),
        "  top-3 mean, no centroid": accuracy(rows, via(top3)),
        "  nearest example only": accuracy(rows, via(nearest)),
        "  without none-of-the-above": accuracy(rows, via(no_background)),
        "keyword router (baseline)": accuracy(rows, lambda i: keyword_route(rows[i]["text"])),
    }
    for name, (acc, acc_in, acc_none, _) in results.items():
        print(f"  {name:<36} {acc:6.3f}    {acc_in:6.3f}    {acc_none:6.3f}")
    print("  IntentMatcher errors:", dict(results["IntentMatcher (defaults)"][3].most_common()))

    texts = [r["text"] for r in rows]
    for text in texts[:10]:
        matcher.match(embedder.embed([text])[0])
    embed_ms: list[float] = []
    match_us: list[float] = []
    total_ms: list[float] = []
    total_cpu_ms: list[float] = []
    match_cpu_us: list[float] = []
    for _ in range(args.repeat):
        for text in texts:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            vector = embedder.embed([text])[0]
            t1 = time.perf_counter()
            m0 = time.thread_time_ns()
            matcher.match(vector)
            match_cpu_us.append((time.thread_time_ns() - m0) / 1e3)
            t2 = time.perf_counter()
            total_cpu_ms.append((time.thread_time() - c0) * 1e3)
            embed_ms.append((t1 - t0) * 1e3)
            match_us.append((t2 - t1) * 1e6)
            total_ms.append((t2 - t0) * 1e3)
    keyword_us: list[float] = []
    for text in texts * args.repeat:
        t0 = time.perf_counter()
        keyword_route(text)
        keyword_us.append((time.perf_counter() - t0) * 1e6)
    print(
        f"\n2. latency per prompt ({len(total_ms)} prompts, one at a time, this CPU; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"  embedding          p50 {percentile(embed_ms, 0.5):7.2f} ms   p99 {percentile(embed_ms, 0.99):7.2f} ms")
    print(f"  match              p50 {percentile(match_us, 0.5):7.1f} us   p99 {percentile(match_us, 0.99):7.1f} us")
    print(f"  embedding + match  p50 {percentile(total_ms, 0.5):7.2f} ms   p99 {percentile(total_ms, 0.99):7.2f} ms")
    print(
        f"  CPU time (thread)  match p50 {percentile(match_cpu_us, 0.5):6.1f} us  p99 "
        f"{percentile(match_cpu_us, 0.99):6.1f} us;  embedding + match p50 {percentile(total_cpu_ms, 0.5):6.2f} ms  "
        f"p99 {percentile(total_cpu_ms, 0.99):6.2f} ms"
    )
    print(
        f"  keyword router     p50 {percentile(keyword_us, 0.5):7.1f} us   p99 {percentile(keyword_us, 0.99):7.1f} us"
    )


if __name__ == "__main__":
    main()
