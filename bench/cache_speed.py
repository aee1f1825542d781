#!/usr/bin/env python3
"""Semantic-cache lookup latency at 1k, 10k and 100k entries in one partition.

    .venv/bin/python bench/cache_speed.py                  # 1k, 10k, 100k
    .venv/bin/python bench/cache_speed.py --sizes 1000     # quick

Per lookup, split three ways, p50 and p99:

* embed   -- the shared CPU embedder (all-MiniLM-L6-v2 int8 ONNX) on the query text, through its
             worker thread (``aembed``); independent of the cache size, so measured once;
* search  -- nearest neighbours in the partition (brute force below the ANN threshold, HNSW above);
* verify  -- the verifier's analysis of the query and its checks against candidates above the
             threshold (a no-candidate lookup costs ~0 here).

The issue's target is a whole lookup -- embedding, search and verification -- at p99 <= 5 ms with
100k entries. Both are checked: the whole lookup (the embedding's p99 plus the rest's, an upper
bound) and the part after the embedding (search + verify + exact probe and bookkeeping), which is
what remains on this CPU when the embedding runs on an embeddings pool (CachePolicy
``embedding: {kind: pool}``).

Entries: the vectors are the embeddings of the labelled set's ~1k texts plus, beyond that,
mixtures of 3 of them with noise (re-normalised), so the partition has the clustered structure of
real traffic without embedding 100k texts; each entry carries one of the real texts for the
verifier. Half the queries are near an entry (a stored vector plus noise, cosine ~0.9, and a real
paraphrase-or-trap text), so they reach the verifier; half are fresh mixtures.

A second table compares brute force and HNSW at each size (the ANN switch point and library
choice) with HNSW's recall@1 against brute force.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api import CachePolicySpec  # noqa: E402
from tokenway_gateway.cache import (  # noqa: E402
    CachedResponse,
    MemoryBackend,
    ResponseCache,
    VectorIndex,
    analyze,
)
from tokenway_gateway.cache.index import ANN_THRESHOLD  # noqa: E402
from tokenway_gateway.semantic import get_embedder  # noqa: E402

DATA = ROOT / "bench" / "data"
QUERIES = 400
TARGET_P99_MS = 5.0
BODY = orjson.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "cached"},
                                  "finish_reason": "stop"}]})


def pct(xs: list[float]) -> str:
    a = np.array(xs) * 1e3
    return f"p50 {np.percentile(a, 50):7.3f} ms  p99 {np.percentile(a, 99):7.3f} ms"


def texts() -> tuple[list[str], list[str]]:
    a: list[str] = []
    b: list[str] = []
    for split in ("tune", "heldout"):
        with open(DATA / f"cache_pairs_{split}.jsonl") as f:
            for line in f:
                r = json.loads(line)
                a.append(r["a"])
                b.append(r["b"])
    return a, b


def mixtures(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, len(base), (n, 3))
    w = rng.dirichlet([1.0, 1.0, 1.0], n).astype(np.float32)
    v = (base[idx] * w[:, :, None]).sum(axis=1) + rng.normal(0, 0.03, (n, base.shape[1])).astype(np.float32)
    out: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return out


def request(text: str) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "temperature": 0}


async def embed_latency(emb: Any, qs: list[str]) -> tuple[list[float], list[float], float]:
    cpu: list[float] = []
    for q in qs:
        c = time.thread_time()
        emb.embed([q])  # onnxruntime runs on the calling thread (1 intra-op thread)
        cpu.append(time.thread_time() - c)
    lat: list[float] = []
    for q in qs:
        t = time.perf_counter()
        await emb.aembed(q)
        lat.append(time.perf_counter() - t)
    # 64 concurrent requests: the worker batches what is queued.
    t = time.perf_counter()
    await asyncio.gather(*(emb.aembed(q) for q in qs[:64]))
    return lat, cpu, (time.perf_counter() - t) / 64


async def run_size(n: int, base: np.ndarray, a_texts: list[str], b_texts: list[str],
                   rng: np.random.Generator, build_threads: int) -> dict[str, Any]:
    policy = CachePolicySpec(mode="semantic", max_entries=max(n, 1000))
    cache = ResponseCache(policy)
    backend = cache.backend
    assert isinstance(backend, MemoryBackend)
    vecs = base[:n] if n <= len(base) else np.vstack([base, mixtures(base, n - len(base), rng)])
    feats = [analyze(t) for t in a_texts]
    plan0 = cache.plan(request("x"), tenant="t", model="m", route="r")
    ctx = plan0.semantic.context  # type: ignore[union-attr]
    keys: list[str] = []
    t0 = time.perf_counter()
    index: VectorIndex | None = None
    for i in range(n):
        j = i % len(a_texts)
        key = f"{i:064x}"
        entry = CachedResponse(BODY, key=key, semantic_text=a_texts[j])
        index = backend.put_nowait(plan0.partition, entry, ctx, feats[j], base.shape[1])
        keys.append(key)
    assert index is not None
    index.bulk_load(keys, vecs, threads=build_threads)
    build = time.perf_counter() - t0

    near = rng.integers(0, n, QUERIES // 2)
    qv_near = vecs[near] + rng.normal(0, 0.018, (len(near), base.shape[1])).astype(np.float32)
    qv_near /= np.linalg.norm(qv_near, axis=1, keepdims=True)
    qv_far = mixtures(base, QUERIES - len(near), rng)
    queries = [(qv_near[i], b_texts[near[i] % len(b_texts)]) for i in range(len(near))]
    queries += [(qv_far[i], b_texts[i % len(b_texts)]) for i in range(len(qv_far))]
    order = rng.permutation(len(queries))
    search: list[float] = []
    verify: list[float] = []
    total: list[float] = []
    cpu: list[float] = []
    hits = 0
    for k in order:
        vec, text = queries[k]
        plan = cache.plan(request(text), tenant="t", model="m", route="r")
        plan.vector = vec.astype(np.float32)
        t = time.perf_counter()
        c = time.thread_time()
        hit = await cache.lookup(plan)
        cpu.append(time.thread_time() - c)
        total.append(time.perf_counter() - t)
        search.append(plan.timings["search"])
        verify.append(plan.timings["verify"])
        hits += hit is not None
    rej = sum(cache.stats.route("r").rejections.values())
    await cache.aclose()
    return {"n": n, "kind": index.kind, "build": build, "search": search, "verify": verify, "total": total, "cpu": cpu,
            "hits": hits, "rejections": rej}


def flat_vs_hnsw(n: int, base: np.ndarray, rng: np.random.Generator, build_threads: int) -> str:
    vecs = base[:n] if n <= len(base) else np.vstack([base, mixtures(base, n - len(base), rng)])
    keys = [str(i) for i in range(n)]
    flat = VectorIndex(base.shape[1], ann_threshold=10**9)
    flat.bulk_load(keys, vecs)
    ann = VectorIndex(base.shape[1], ann_threshold=0)
    ann.bulk_load(keys, vecs, threads=build_threads)
    qs = mixtures(base, 300, rng)
    tf: list[float] = []
    th: list[float] = []
    agree = 0
    for q in qs:
        t = time.perf_counter()
        rf = flat.search(q, 4)
        tf.append(time.perf_counter() - t)
        t = time.perf_counter()
        rh = ann.search(q, 4)
        th.append(time.perf_counter() - t)
        agree += rf[0][0] == rh[0][0]
    return (f"  {n:>7d}  brute force {pct(tf)}   hnsw {pct(th)}   hnsw recall@1 {agree / len(qs):.3f}")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--build-threads", type=int, default=2, help="threads for the one-off HNSW bulk build")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(7)
    emb = get_embedder()
    a_texts, b_texts = texts()
    base = emb.embed(a_texts)

    load = [f"{x:.1f}" for x in os.getloadavg()]
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(load)} (wall-clock tails include other "
          f"processes' CPU use; thread CPU time does not)")
    lat, ecpu, batched = await embed_latency(emb, b_texts[:200])
    print(f"embed (single text, aembed via the worker thread): wall {pct(lat)}; CPU {pct(ecpu)}; "
          f"64 concurrent: {batched * 1e3:.2f} ms per text amortised (batches of up to 64)")
    print(f"ANN threshold: brute force up to {ANN_THRESHOLD} entries per partition, HNSW (usearch) above\n")

    print("lookup latency, embedding excluded (vector given), one partition:")
    worst_p99: dict[int, float] = {}
    cpu_p99: dict[int, float] = {}
    for n in sizes:
        r = await run_size(n, base, a_texts, b_texts, rng, args.build_threads)
        print(f"  {n:>7d} entries ({r['kind']}, built in {r['build']:.1f}s): hits {r['hits']}/{QUERIES}, "
              f"verifier rejections {r['rejections']}")
        print(f"           search {pct(r['search'])}")
        print(f"           verify {pct(r['verify'])}")
        print(f"           lookup {pct(r['total'])}   (exact probe + search + verify + bookkeeping)")
        print(f"           lookup {pct(r['cpu'])}   thread CPU time")
        worst_p99[n] = float(np.percentile(np.array(r["total"]) * 1e3, 99))
        cpu_p99[n] = float(np.percentile(np.array(r["cpu"]) * 1e3, 99))
        e50 = np.percentile(np.array(lat) * 1e3, 50)
        e99 = np.percentile(np.array(lat) * 1e3, 99)
        t50 = np.percentile(np.array(r["total"]) * 1e3, 50)
        print(f"           with embedding: ~p50 {e50 + t50:.2f} ms, "
              f"p99 <= {e99 + worst_p99[n]:.2f} ms (sum of the parts)")

    print("\nbrute force vs HNSW (search only, k=4):")
    for n in sizes:
        print(flat_vs_hnsw(n, base, rng, args.build_threads))

    big = max(sizes)
    p99 = worst_p99[big]
    whole = float(np.percentile(np.array(lat) * 1e3, 99)) + p99
    print(f"\ntarget lookup p99 <= {TARGET_P99_MS} ms at {big} entries, with the CPU embedding: "
          f"{'MET' if whole <= TARGET_P99_MS else 'NOT MET'} (p99 <= {whole:.2f} ms, sum of the parts)")
    print(f"  without the embedding (an embeddings pool does it): "
          f"{'MET' if p99 <= TARGET_P99_MS else 'NOT MET'} (wall p99 {p99:.3f} ms; CPU p99 {cpu_p99[big]:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
