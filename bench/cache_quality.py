#!/usr/bin/env python3
"""Semantic-cache quality: precision, recall and false-hit rate on a labelled set of LLM requests.

    .venv/bin/python bench/cache_quality.py            # held-out report (the defaults were tuned on the tune split)
    .venv/bin/python bench/cache_quality.py --split tune

Data: bench/data/cache_pairs_{tune,heldout}.jsonl -- pairs of realistic requests (support, coding,
travel, finance, health). ``label: hit`` pairs are paraphrases that may share an answer; ``miss``
pairs are hard non-paraphrases (negations, numbers/units/dates, entities/identifiers/quoted strings,
role swaps, output forms, near-duplicates about different things, other system prompts). The
verifier rules and the default threshold were chosen looking at the tune split only; the
held-out split is the report.

Each pair runs through the real library path: request A is stored (memory backend, its own
tenant partition), request B is looked up with ``ResponseCache.lookup`` (semantic key, system
prompt digest, index, threshold, verifier). A second, "pooled" run stores every A in one
partition and looks up every B, so a lookup can also hit the wrong entry.

Figures: precision = correct hits / hits; recall = correct hits / hit pairs;
false-hit rate = hits on miss pairs / miss pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api import CachePolicySpec  # noqa: E402
from tokenway_gateway.cache import ResponseCache, analyze, contradiction  # noqa: E402
from tokenway_gateway.semantic import get_embedder  # noqa: E402

DATA = ROOT / "bench" / "data"
TARGET_PRECISION = 0.98
TARGET_RECALL = 0.6
SWEEP = (0.70, 0.75, 0.78, 0.80, 0.82, 0.85, 0.88, 0.90, 0.92, 0.95)


def load(split: str) -> list[dict[str, Any]]:
    with open(DATA / f"cache_pairs_{split}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def request(text: str, system: str | None) -> dict[str, Any]:
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return {"model": "llama-3.1-8b-instruct", "messages": msgs, "temperature": 0}


def answer(i: int) -> bytes:
    return orjson.dumps({"id": f"c{i}", "object": "chat.completion", "created": 1, "model": "llama-3.1-8b-instruct",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {i}"},
                                      "finish_reason": "stop"}]})


def scores(pred_hit: np.ndarray, correct: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, int]:
    tp = int((pred_hit & correct).sum())
    fp = int((pred_hit & ~correct).sum())
    pos = int(labels.sum())
    neg = int((~labels).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / pos if pos else 0.0, int((pred_hit & ~labels).sum()) / neg if neg else 0.0, fp


async def pairwise(recs: list[dict[str, Any]], va: np.ndarray, vb: np.ndarray, policy: CachePolicySpec) -> np.ndarray:
    """Library path, one partition per pair: did B hit A?"""
    cache = ResponseCache(policy)
    hits = np.zeros(len(recs), dtype=bool)
    for i, r in enumerate(recs):
        tenant = r["id"]
        pa = cache.plan(request(r["a"], r.get("a_system")), tenant=tenant, model="m", route="r")
        pa.vector = va[i]
        await cache.store(pa, 200, body=answer(i))
        pb = cache.plan(request(r["b"], r.get("b_system")), tenant=tenant, model="m", route="r")
        pb.vector = vb[i]
        hits[i] = await cache.lookup(pb) is not None
    await cache.aclose()
    return hits


async def pooled(recs: list[dict[str, Any]], va: np.ndarray, vb: np.ndarray,
                 policy: CachePolicySpec) -> tuple[int, int, int, int, list[str]]:
    """Every A in one partition, every B looked up.

    Returns (hits on the partner of a hit pair, hits on the partner of a miss pair, hits on
    another pair's entry -- unlabelled, listed for reading --, positives, cross-pair examples).
    """
    cache = ResponseCache(policy)
    owner: dict[str, list[int]] = {}
    seen: set[str] = set()
    for i, r in enumerate(recs):
        pa = cache.plan(request(r["a"], r.get("a_system")), tenant="t", model="m", route="r")
        pa.vector = va[i]
        owner.setdefault(pa.key, []).append(i)
        if pa.key not in seen:
            seen.add(pa.key)
            await cache.store(pa, 200, body=answer(i))
    good = bad = cross = 0
    wrong: list[str] = []
    for i, r in enumerate(recs):
        pb = cache.plan(request(r["b"], r.get("b_system")), tenant="t", model="m", route="r")
        pb.vector = vb[i]
        hit = await cache.lookup(pb)
        if hit is None:
            continue
        j = owner[hit.response.key][0]
        same_text = recs[j]["a"] == r["a"] and recs[j].get("a_system") == r.get("a_system")
        if same_text and r["label"] == "hit":
            good += 1
        elif same_text:
            bad += 1
            wrong.append(f"FALSE  {hit.similarity:.3f}  {r['b']!r} -> {recs[j]['a']!r}")
        else:
            cross += 1
            wrong.append(f"cross  {hit.similarity:.3f}  {r['b']!r} -> {recs[j]['a']!r}")
    await cache.aclose()
    return good, bad, cross, sum(r["label"] == "hit" for r in recs), wrong


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="heldout", choices=("heldout", "tune"))
    ap.add_argument("--compare-fp32", action="store_true",
                    help="also embed with the fp32 safetensors weights (numpy reference, slow) and compare")
    args = ap.parse_args()
    recs = load(args.split)
    defaults = CachePolicySpec(mode="semantic")
    emb = get_embedder()
    t0 = time.perf_counter()
    va = emb.embed([r["a"] for r in recs])
    vb = emb.embed([r["b"] for r in recs])
    t_embed = time.perf_counter() - t0
    labels = np.array([r["label"] == "hit" for r in recs])
    same_ctx = np.array([r.get("a_system") == r.get("b_system") for r in recs])
    sims = (va * vb).sum(axis=1)
    t0 = time.perf_counter()
    verdicts = [contradiction(analyze(r["b"]), analyze(r["a"])) for r in recs]
    t_verify = (time.perf_counter() - t0) / len(recs)
    ok = np.array([v is None for v in verdicts])

    print(f"split: {args.split} ({len(recs)} pairs: {int(labels.sum())} should hit, {int((~labels).sum())} must miss;"
          f" {Counter(r['domain'] for r in recs)})")
    print(f"model: {emb.model_id}; embedding {len(recs) * 2} texts took {t_embed:.1f}s; verifier "
          f"{t_verify * 1e6:.0f} us per pair (both texts analysed)")
    print(f"defaults: similarityThreshold={defaults.similarity_threshold}, verify={defaults.verify}\n")

    print("== pairwise, library path (store A, look up B, one partition per pair) ==")
    results: dict[str, tuple[float, float, float, int]] = {}
    for name, pol in (("with verifier", defaults),
                      ("without verifier", CachePolicySpec(mode="semantic", verify=False))):
        hits = await pairwise(recs, va, vb, pol)
        # The library must agree with the analytic sweep below at the default threshold.
        expect = (sims >= pol.similarity_threshold) & same_ctx & (ok if pol.verify else True)
        assert (hits == expect).all(), f"library and sweep disagree on {int((hits != expect).sum())} pairs"
        p, r, fhr, fp = scores(hits, labels, labels)
        results[name] = (p, r, fhr, fp)
        print(f"  {name:17s} precision {p:.3f}  recall {r:.3f}  false-hit rate {fhr:.3f}  ({fp} false hits)")

    print("\n== threshold sweep (same pairs) ==")
    print("  threshold | with verifier: precision recall false-hit | without: precision recall false-hit")
    for th in SWEEP:
        base = (sims >= th) & same_ctx
        pv = scores(base & ok, labels, labels)
        pn = scores(base, labels, labels)
        print(f"  {th:9.2f} | {pv[0]:24.3f} {pv[1]:6.3f} {pv[2]:9.3f} | {pn[0]:18.3f} {pn[1]:6.3f} {pn[2]:9.3f}")

    print("\n== false hits by family at the default threshold ==")
    base = (sims >= defaults.similarity_threshold) & same_ctx
    fam_v = Counter(r["family"] for r, h in zip(recs, base & ok, strict=True) if h and r["label"] == "miss")
    fam_n = Counter(r["family"] for r, h in zip(recs, base, strict=True) if h and r["label"] == "miss")
    totals = Counter(r["family"] for r in recs if r["label"] == "miss")
    for fam in sorted(totals):
        print(f"  {fam:6s} {totals[fam]:3d} pairs: {fam_n[fam]:3d} false hits without verifier, {fam_v[fam]:3d} with")
    rules = Counter(v for v, r, b in zip(verdicts, recs, base, strict=True) if v and b and r["label"] == "miss")
    print(f"  verifier rules that caught them: {dict(rules)}")
    lost = Counter(v for v, r, b in zip(verdicts, recs, base, strict=True) if v and b and r["label"] == "hit")
    print(f"  paraphrases the verifier refused (recall cost): {sum(lost.values())} {dict(lost)}")
    for r, h in zip(recs, base & ok, strict=True):
        if h and r["label"] == "miss":
            print(f"    false hit [{r['family']}]: {r['a']!r} ~ {r['b']!r}")

    print("\n== pooled (all A in one partition, every B looked up) ==")
    for name, pol in (("with verifier", defaults),
                      ("without verifier", CachePolicySpec(mode="semantic", verify=False))):
        good, bad, cross, pos, wrong = await pooled(recs, va, vb, pol)
        prec = good / (good + bad) if good + bad else 1.0
        print(f"  {name:17s} labelled precision {prec:.3f}  recall {good / pos:.3f}  ({bad} false hits on the "
              f"pair's own trap; {cross} hits on another pair's entry, unlabelled)")
        if pol.verify:
            for w in wrong:
                print(f"    {w}")

    if args.compare_fp32:
        sys.path.insert(0, str(ROOT / "bench"))
        from minilm_fp32 import MiniLMFp32

        ref = MiniLMFp32()
        t0 = time.perf_counter()
        fa = ref.embed([r["a"] for r in recs])
        fb = ref.embed([r["b"] for r in recs])
        sims32 = (fa * fb).sum(axis=1)
        row_cos = float(np.concatenate([(fa * va).sum(1), (fb * vb).sum(1)]).mean())
        print(f"\n== int8 ONNX vs fp32 safetensors (numpy reference, {time.perf_counter() - t0:.0f}s) ==")
        print(f"  mean cosine(int8 vector, fp32 vector) {row_cos:.4f}; mean |pair similarity difference| "
              f"{float(np.abs(sims32 - sims).mean()):.4f}")
        for th in (0.75, defaults.similarity_threshold, 0.85):
            base8 = (sims >= th) & same_ctx
            base32 = (sims32 >= th) & same_ctx
            a8, a32 = scores(base8 & ok, labels, labels), scores(base32 & ok, labels, labels)
            n8, n32 = scores(base8, labels, labels), scores(base32, labels, labels)
            print(f"  threshold {th:.2f}: with verifier int8 P {a8[0]:.3f} R {a8[1]:.3f} | fp32 P {a32[0]:.3f} "
                  f"R {a32[1]:.3f};  without: int8 P {n8[0]:.3f} R {n8[1]:.3f} | fp32 P {n32[0]:.3f} R {n32[1]:.3f}")

    p, r, _, _ = results["with verifier"]
    ok_target = p >= TARGET_PRECISION and r >= TARGET_RECALL
    print(f"\ntarget precision >= {TARGET_PRECISION} at recall >= {TARGET_RECALL} with the defaults ({args.split}): "
          f"{'MET' if ok_target else 'NOT MET'} (precision {p:.3f}, recall {r:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
