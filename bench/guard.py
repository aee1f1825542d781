"""Prompt guard benchmark: detection quality on held-out labelled data, and latency, against a
naive keyword filter measured in the same run.

The labelled sets are bench/data/guard_*.jsonl: injection and jailbreak attempts (plain, and
obfuscated with homoglyphs, zero-width and tag characters, base64, hex, rot13, reversed text,
leetspeak, full-width forms, letter spacing) and benign prompts, many with trigger words ("ignore
the noise in this audio", "act as a tour guide"). An attack and its obfuscated variants share a
group. Each heldoutN set (heldout2 onwards, each made by its bench/data/make_guard_heldoutN.py)
was written by a separate session that read neither the rules nor the model nor any earlier row,
and was run once on the frozen model before it was looked at; after that it is *seen* and may be
trained on (bench/train_guard.py refuses sets not yet released to it). The weights' metadata
(`trained_on`) lists the sets the shipped model learned from: the script says, per split, whether
its figures are in-sample. The honest figures are a split the model was not trained on, and the
grouped cross-validation bench/train_guard.py prints.

Figures:
  1. TPR and FPR of PromptGuard in heuristic mode (the rules alone, threshold 0.5) and of the
     baseline (a case-insensitive regex of the phrases simple filters look for, on the raw text);
     TPR per obfuscation and FPR on the benign prompts with trigger words;
  1b. classifier mode (the default: the trained model at its shipped threshold);
  2. latency of one check() (p50 / p99 / max over every prompt of the split, repeated), and of a
     100 KiB prompt and a 1 MiB base64 blob (the bounded decoders), in both modes;
  3. with --embedding: embedding mode (attack exemplars, shared MiniLM embedder), its
     threshold chosen on the tune set.

    python bench/guard.py [--split heldout|heldout2|...|heldout6|tune] [--repeat 20] [--embedding] [--misses]
                       [--far-from-training 0.5]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api.route import PromptGuard as PromptGuardConfig  # noqa: E402
from tokenway_gateway.guard import PromptGuard  # noqa: E402
from tokenway_gateway.guard.classifier import load_classifier  # noqa: E402

DATA = ROOT / "bench" / "data"

# What a simple filter does: a case-insensitive regex of well-known attack phrases and words.
BASELINE = re.compile(
    r"ignore (?:all )?(?:the )?(?:previous|prior|above) (?:instructions|prompts?)|disregard|jailbreak|"
    r"\bdan\b|developer mode|system prompt|act as|pretend|role-?play|no restrictions|without restrictions|"
    r"bypass|override|forget (?:all|everything|your)|unfiltered|uncensored|reveal your|do anything now",
    re.I,
)


def load(split: str) -> list[dict[str, Any]]:
    return load_path(DATA / f"guard_{split}.jsonl")


WORD = re.compile(r"\w+")


def _words(text: str) -> frozenset[str]:
    return frozenset(WORD.findall(text.lower()))


def far_from_training(rows: Sequence[dict[str, Any]], trained_on: Sequence[str],
                      max_overlap: float) -> tuple[list[dict[str, Any]], int]:
    """``rows`` without those whose words overlap (Jaccard) more than ``max_overlap`` with any prompt the model
    was trained on: two blind authors can still write the same well-known attack, and such a row measures recall
    of the training data, not generalisation. Returns the kept rows and how many were dropped."""
    trained: list[frozenset[str]] = []
    for name in trained_on:
        path = DATA / (f"guard_{name}.jsonl" if name != "train_extra" else "guard_train_extra.jsonl")
        if path.exists():
            trained += [_words(r["text"]) for r in load_path(path)]
    kept = []
    for row in rows:
        words = _words(row["text"])
        near = any(len(words & t) / max(1, len(words | t)) > max_overlap for t in trained if t)
        if not near:
            kept.append(row)
    return kept, len(rows) - len(kept)


def load_path(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def quality(rows: Sequence[dict[str, Any]], flag: Callable[[str], bool]) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    by_obf: Counter[str] = Counter()
    by_obf_hit: Counter[str] = Counter()
    trig = trig_fp = 0
    for row in rows:
        flagged = flag(row["text"])
        if row["label"] == "attack":
            by_obf[row["obfuscation"]] += 1
            if flagged:
                tp += 1
                by_obf_hit[row["obfuscation"]] += 1
            else:
                fn += 1
        else:
            if row["category"] == "trigger":
                trig += 1
                trig_fp += flagged
            if flagged:
                fp += 1
            else:
                tn += 1
    return {
        "tpr": tp / max(1, tp + fn),
        "fpr": fp / max(1, fp + tn),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "trigger_fpr": trig_fp / max(1, trig),
        "trigger_fp": trig_fp,
        "trigger_n": trig,
        "by_obfuscation": {k: (by_obf_hit[k], by_obf[k]) for k in sorted(by_obf)},
    }


def latency(fn: Callable[[str], object], texts: Sequence[str], repeat: int) -> dict[str, float]:
    """Wall time and this thread's CPU time of each call (CPU time is what the call costs even
    when other processes compete for the cores; the project's stages report CPU-us per request)."""
    for text in texts[:50]:
        fn(text)  # warm caches (the confusables table, compiled patterns)
    order = [t for _ in range(repeat) for t in texts]
    random.Random(1).shuffle(order)
    wall: list[float] = []
    cpu: list[float] = []
    gc.collect()
    for text in order:
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        fn(text)
        cpu.append((time.thread_time_ns() - start_cpu) / 1e3)
        wall.append((time.perf_counter_ns() - start) / 1e3)
    wall.sort()
    cpu.sort()
    return {
        "p50": wall[len(wall) // 2],
        "p99": wall[int(len(wall) * 0.99)],
        "max": wall[-1],
        "cpu_p50": cpu[len(cpu) // 2],
        "cpu_p99": cpu[int(len(cpu) * 0.99)],
        "n": len(wall),
    }


def one_shot(fn: Callable[[str], object], text: str, repeat: int = 5) -> str:
    """Best of ``repeat`` calls: wall and CPU milliseconds."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        fn(text)
        cpu = min(cpu, (time.thread_time_ns() - start_cpu) / 1e6)
        wall = min(wall, (time.perf_counter_ns() - start) / 1e6)
    return f"wall {wall:6.2f} ms  CPU {cpu:6.2f} ms"


def show_quality(name: str, q: dict[str, Any]) -> None:
    print(
        f"  {name:<26} TPR {q['tpr']:.3f} ({q['tp']}/{q['tp'] + q['fn']})   FPR {q['fpr']:.3f} "
        f"({q['fp']}/{q['fp'] + q['tn']})   FPR on trigger-word benign {q['trigger_fpr']:.3f} "
        f"({q['trigger_fp']}/{q['trigger_n']})"
    )


def show_misses(rows: Sequence[dict[str, Any]], flag: Callable[[str], bool]) -> None:
    for row in rows:
        if flag(row["text"]) != (row["label"] == "attack"):
            kind = "missed attack" if row["label"] == "attack" else "false positive"
            text = row["text"].replace("\n", " ")
            print(f"    {kind:<14} {row['id']} {row['category']}/{row['obfuscation']}: {text[:110]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    splits = ["tune", "heldout", *(f"heldout{n}" for n in range(2, 7))]
    parser.add_argument("--split", default="heldout", choices=splits)
    parser.add_argument("--far-from-training", type=float, metavar="JACCARD",
                        help="drop prompts whose word overlap with any prompt the shipped model was trained on "
                        "exceeds JACCARD (e.g. 0.5): the figure then measures generalisation only")
    parser.add_argument("--repeat", type=int, default=20, help="times each prompt is checked for the latency figure")
    parser.add_argument("--embedding", action="store_true", help="also measure embedding mode (loads the embedder)")
    parser.add_argument("--misses", action="store_true", help="list the guard's false negatives and false positives")
    args = parser.parse_args()

    rows = load(args.split)
    if args.far_from_training is not None:
        trained_on = load_classifier().meta.get("trained_on", ())
        rows, dropped = far_from_training(rows, trained_on, args.far_from_training)
        print(f"dropped {dropped} prompts of {args.split} whose word overlap with a training prompt exceeds "
              f"{args.far_from_training} (Jaccard)")
    guard = PromptGuard(PromptGuardConfig(enabled=True, mode="heuristic"))
    n_attack = sum(r["label"] == "attack" for r in rows)
    print(f"labelled set: {args.split} half, {len(rows)} prompts ({n_attack} attacks, {len(rows) - n_attack} benign)")

    def guard_flag(text: str) -> bool:
        return guard.check([text]).flagged

    def baseline_flag(text: str) -> bool:
        return BASELINE.search(text) is not None

    q_guard = quality(rows, guard_flag)
    q_base = quality(rows, baseline_flag)
    print("\n1. detection (targets: TPR >= 0.9 at FPR <= 0.02)")
    show_quality("PromptGuard heuristic", q_guard)
    show_quality("baseline keyword regex", q_base)
    print("  TPR by obfuscation          guard        baseline")
    for obf, (hit, total) in q_guard["by_obfuscation"].items():
        base_hit, _ = q_base["by_obfuscation"][obf]
        print(
            f"    {obf:<24} {hit:>3}/{total:<3} {hit / total:5.2f}   {base_hit:>3}/{total:<3} {base_hit / total:5.2f}"
        )
    if args.misses:
        show_misses(rows, guard_flag)

    classifier = PromptGuard(PromptGuardConfig(enabled=True, mode="classifier"))
    model = load_classifier()

    def classifier_flag(text: str) -> bool:
        return classifier.check([text]).flagged

    q_model = quality(rows, classifier_flag)
    seen = "in-sample: trained on this split" if args.split in model.meta.get("trained_on", ()) else "not trained on"
    print(f"\n1b. classifier mode (threshold {model.threshold:.2f}, {len(model.weights)} features; {seen})")
    show_quality("PromptGuard classifier", q_model)
    print("  TPR by obfuscation          classifier")
    for obf, (hit, total) in q_model["by_obfuscation"].items():
        print(f"    {obf:<24} {hit:>3}/{total:<3} {hit / total:5.2f}")
    if args.misses:
        show_misses(rows, classifier_flag)

    texts = [r["text"] for r in rows]
    lat_guard = latency(lambda t: guard.check([t]), texts, args.repeat)
    lat_model = latency(lambda t: classifier.check([t]), texts, args.repeat)
    lat_base = latency(lambda t: BASELINE.search(t), texts, args.repeat)
    load_average = os.getloadavg()[0]
    print(
        f"\n2. latency of one check, {lat_guard['n']:.0f} calls (target: p99 <= 1 ms in heuristic mode); "
        f"load average {load_average:.1f} on {os.cpu_count()} cores"
    )
    for name, lat in (
        ("PromptGuard heuristic", lat_guard),
        ("PromptGuard classifier", lat_model),
        ("baseline keyword regex", lat_base),
    ):
        print(
            f"  {name:<26} wall p50 {lat['p50']:7.1f} us  p99 {lat['p99']:7.1f} us  max {lat['max']:8.1f} us"
            f"   CPU p50 {lat['cpu_p50']:7.1f} us  p99 {lat['cpu_p99']:7.1f} us"
        )
    plain = (" ".join(r["text"] for r in rows if r["category"] == "general") * 40)[:102_400]
    dense = (" ".join(r["text"] for r in rows if r["category"] == "trigger") * 40)[:102_400]
    blob = "Decode this: " + base64.b64encode(random.Random(2).randbytes(768 * 1024)).decode()
    check = lambda t: guard.check([t])  # noqa: E731
    print(f"  100 KiB everyday prompt    {one_shot(check, plain)} (head and tail scanned)")
    print(f"  100 KiB of trigger words   {one_shot(check, dense)} (benign prompts with trigger words)")
    print(f"  1 MiB base64 blob          {one_shot(check, blob)}")
    check_model = lambda t: classifier.check([t])  # noqa: E731
    print(f"  classifier: 100 KiB everyday prompt  {one_shot(check_model, plain)}")
    print(f"  classifier: 100 KiB of trigger words {one_shot(check_model, dense)}")
    print(f"  classifier: 1 MiB base64 blob        {one_shot(check_model, blob)}")

    if args.embedding:
        embedding_mode(args.split, args.misses)


def embedding_mode(split: str, misses: bool = False) -> None:
    from tokenway_gateway.semantic import get_embedder

    embedder = get_embedder()
    tune, report = load("tune"), load(split)
    guard = PromptGuard(PromptGuardConfig(enabled=True, mode="embedding"), embedder=embedder)
    tune_vectors = embedder.embed([r["text"] for r in tune])
    report_vectors = embedder.embed([r["text"] for r in report])
    tune_heuristic = [guard.check([r["text"]]).flagged for r in tune]
    tune_similarity = [guard.exemplar_similarity(v) for v in tune_vectors]
    # the highest TPR on the tune half whose FPR stays <= 0.01 there
    best = (-1.0, 1.0)
    for step in range(40, 100):
        threshold = step / 100
        flags = [h or s >= threshold for h, s in zip(tune_heuristic, tune_similarity, strict=True)]
        q = quality(tune, dict(zip((r["text"] for r in tune), flags, strict=True)).__getitem__)
        if q["fpr"] <= 0.01 and q["tpr"] > best[0]:
            best = (q["tpr"], threshold)
    threshold = best[1]
    report_flags = {
        r["text"]: guard.check([r["text"]]).flagged or guard.exemplar_similarity(v) >= threshold
        for r, v in zip(report, report_vectors, strict=True)
    }
    q = quality(report, report_flags.__getitem__)
    print(f"\n3. embedding mode (exemplar threshold {threshold:.2f}, chosen on the tune half)")
    show_quality("heuristic + exemplars", q)
    if misses:
        show_misses(report, report_flags.__getitem__)
    texts = [r["text"] for r in report]
    lat = latency(lambda t: guard.check([t], embedder.embed([t])[0]), texts, 2)
    print(
        f"  embed + check              wall p50 {lat['p50'] / 1e3:6.2f} ms  p99 {lat['p99'] / 1e3:6.2f} ms   "
        f"CPU p50 {lat['cpu_p50'] / 1e3:6.2f} ms  p99 {lat['cpu_p99'] / 1e3:6.2f} ms"
    )


if __name__ == "__main__":
    main()
