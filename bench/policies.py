#!/usr/bin/env python3
"""What the access policies cost through the gateway: each variant against a plain gateway, same run.

Every variant is the same gateway and fake upstream (bench/fake_upstream.py) with one more
policy on; they take turns for ``--rounds`` rounds and medians are kept, so load drifting
over the run hits them alike. Variants (``--variants``):

  plain         no policies: the reference
  rule          a RoutePolicy rule and nothing else (what every policy variant below routes through)
  auth          API keys (``auth.keys``): wrk sends a valid key
  auth-memory   keys + memory rate limits on a RoutePolicy (limits never reached)
  auth-redis    keys + Redis rate limits (a private redis-server on loopback)
  chain         keys + memory limits + prompt guard (block): dataplane.py's tokenway-policies
  chain-unique  the same, each request's prompt different (the guard's verdict cache never hits)

Figures per variant: p50/p99 at 1 connection (``wrk -t1 -c1``) and p50 added over plain;
req/s at ``--connections`` and the gateway's CPU-us per request (utime+stime over the
throughput rounds), added over plain. Issue 8's targets are checked on the p50s: auth +
memory limits <= 0.05 ms, auth + Redis limits <= 0.5 ms over plain.

Pinning as bench/dataplane.py: the gateway alone on CPU 1, wrk and the upstream on CPU 0.

    python bench/policies.py                  # about 2 minutes
    python bench/policies.py --rounds 1 --seconds 2 --variants plain,auth-memory
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "tests")]

from redis_server import RedisServer  # noqa: E402

import dataplane as dp  # noqa: E402  (bench/dataplane.py: process, pinning and wrk helpers)

VARIANTS = ["plain", "rule", "auth", "auth-memory", "auth-redis", "chain", "chain-unique"]
KEY = "tw-bench-policies-key"
UNIQUE_SCRIPT = BENCH / "wrk" / "chat_unique.lua"
TARGETS_MS = {"auth-memory": 0.05, "auth-redis": 0.5}


def config(variant: str, upstream: int, model: str, redis_url: str | None) -> str:
    text = f"""version: "1"
pools:
  - name: fake
    models: [{{name: {model}}}]
    endpoints: [{{url: "http://127.0.0.1:{upstream}"}}]
"""
    rule = f"""routes:
  - name: policies
    rules: [{{name: all, match: {{models: [{model}]}}, backends: [{{pool: fake}}]}}]
"""
    if variant == "plain":
        return text
    if variant == "rule":
        return text + rule
    text += f"""auth:
  keys: [{{sha256: "{hashlib.sha256(KEY.encode()).hexdigest()}", tenant: bench, tier: bench}}]
"""
    if variant == "auth":
        return text
    if variant == "auth-redis":
        text += f"limits: {{backend: redis, redisUrl: \"{redis_url}\"}}\n"
    text += rule + "    rateLimits: [{tier: bench, requestsPerMinute: 1000000000, tokensPerMinute: 1000000000000}]\n"
    if variant.startswith("chain"):
        text += "    promptGuard: {enabled: true, action: block}\n"
    return text


def wrk(args: argparse.Namespace, port: int, variant: str, conns: int, seconds: int) -> dict[str, Any]:
    script = UNIQUE_SCRIPT if variant == "chain-unique" else dp.WRK_SCRIPT
    header = None if variant in ("plain", "rule") else f"Authorization: Bearer {KEY}"
    saved, dp.WRK_SCRIPT = dp.WRK_SCRIPT, script
    try:
        return dp.run_wrk(args, f"http://127.0.0.1:{port}{dp.CHAT_PATH}", conns, seconds, header)
    finally:
        dp.WRK_SCRIPT = saved


def overhead(port: int, variant: str, model: str, count: int) -> list[float]:
    """x-tokenway-overhead-ms of ``count`` sequential requests on one keep-alive connection: the time from
    the request's arrival to its dispatch upstream, as the gateway measures it (Redis waits included)."""
    import http.client

    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello in five words."}],
                       "max_tokens": 16}).encode()
    headers = {"Content-Type": "application/json"}
    if variant not in ("plain", "rule"):
        headers["Authorization"] = f"Bearer {KEY}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    try:
        for i in range(count):
            if variant == "chain-unique":
                body = body.replace(b"words.", b"words %d." % i) if i == 0 else body.replace(
                    b"words %d." % (i - 1), b"words %d." % i)
            conn.request("POST", dp.CHAT_PATH, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            value = response.getheader("x-tokenway-overhead-ms")
            if response.status == 200 and value is not None:
                out.append(float(value))
    finally:
        conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=3, help="throughput run per variant and round")
    p.add_argument("--c1-seconds", type=int, default=3, help="1-connection latency run per variant and round")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--sequential", type=int, default=2000,
                   help="sequential requests per variant and round whose x-tokenway-overhead-ms is read")
    p.add_argument("--model", default="bench-model")
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--no-pin", action="store_true")
    args = p.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}")
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    args.load_cpus = "0" if pin else None
    args.proxy_cpus = "1" if pin else None
    workdir = Path(tempfile.mkdtemp(prefix="tokenway-policies-bench-"))
    logdir = workdir / "logs"
    logdir.mkdir()
    procs: list[dp.Proc] = []
    redis = RedisServer(workdir / "redis") if "auth-redis" in variants else None
    results: dict[str, dict[str, Any]] = {v: {"c1": [], "c32": [], "overhead": []} for v in variants}
    started = time.monotonic()
    try:
        if redis is not None:
            redis.workdir.mkdir()
            redis.start()
        up_port = dp.free_port()
        procs.append(dp.spawn("upstream", dp.pinned(args.load_cpus, [
            sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(up_port), "--model", args.model]),
            logdir))
        ports: dict[str, int] = {}
        gateways: dict[str, dp.Proc] = {}
        for variant in variants:
            cfg = workdir / f"{variant}.yaml"
            cfg.write_text(config(variant, up_port, args.model, redis.url if redis else None))
            for attempt in range(3):  # another process may take the free port before the gateway binds it
                port = dp.free_port()
                cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(cfg), "--host",
                       "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                proc = dp.spawn(variant, dp.pinned(args.proxy_cpus, cmd), logdir, env=dp.tokenway_env(args),
                                cwd=REPO)
                procs.append(proc)
                try:
                    keyed = variant not in ("plain", "rule")
                    dp.wait_ready(port, proc, 60, {"Authorization": f"Bearer {KEY}"} if keyed else None)
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            gateways[variant], ports[variant] = proc, port
            wrk(args, port, variant, args.connections, 1)  # warm-up
        for rnd in range(args.rounds):
            for variant in variants:
                dp.log(f"round {rnd + 1}/{args.rounds}: {variant}")
                results[variant]["c1"].append(wrk(args, ports[variant], variant, 1, args.c1_seconds))
                results[variant]["overhead"].append(
                    statistics.median(overhead(ports[variant], variant, args.model, args.sequential)))
                pid = gateways[variant].pid
                cpu0 = dp.cpu_seconds(pid)
                r = wrk(args, ports[variant], variant, args.connections, args.seconds)
                r["cpu_us_per_request"] = (dp.cpu_seconds(pid) - cpu0) * 1e6 / max(1, r["requests"])
                results[variant]["c32"].append(r)
    finally:
        for proc in procs:
            proc.stop()
        if redis is not None:
            redis.close()

    def median(variant: str, phase: str, *path: str) -> float:
        values = []
        for r in results[variant][phase]:
            cur: Any = r
            for key in path:
                cur = cur[key]
            values.append(float(cur))
        return statistics.median(values)

    errors = {v: sum(r["error_count"] for ph in ("c1", "c32") for r in results[v][ph]) for v in variants}
    base = "plain" if "plain" in variants else None
    rows = []
    for v in variants:
        p50 = median(v, "c1", "latency_us", "p50") / 1000
        cpu = median(v, "c32", "cpu_us_per_request")
        inside = statistics.median(results[v]["overhead"])
        rows.append({
            "overhead_p50_ms": inside,
            "added_overhead_p50_ms": inside - statistics.median(results[base]["overhead"]) if base else None,
            "variant": v, "p50_ms": p50, "p99_ms": median(v, "c1", "latency_us", "p99") / 1000,
            "added_p50_ms": p50 - median(base, "c1", "latency_us", "p50") / 1000 if base else None,
            "rps": median(v, "c32", "rps"), "cpu_us": cpu,
            "added_cpu_us": cpu - median(base, "c32", "cpu_us_per_request") if base else None,
            "errors": errors[v],
        })
    lines = [f"Access-policy cost through the gateway (medians of {args.rounds} rounds; wrk -c1 {args.c1_seconds}s "
             f"for client-side latency, -c{args.connections} {args.seconds}s for req/s and CPU; 'in gw' is the p50 "
             f"of x-tokenway-overhead-ms over {args.sequential} sequential requests: arrival to dispatch upstream)",
             f"{'variant':<14} {'in gw ms':>8} {'+in gw':>7} {'p50 ms':>7} {'+p50 ms':>8} {'p99 ms':>7} "
             f"{'req/s':>8} {'cpu-us/req':>10} {'+cpu-us':>8} {'errors':>6}"]

    def signed(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        lines.append(f"{r['variant']:<14} {r['overhead_p50_ms']:>8.3f} {signed(r['added_overhead_p50_ms'], '+.3f'):>7} "
                     f"{r['p50_ms']:>7.3f} {signed(r['added_p50_ms'], '+.3f'):>8} {r['p99_ms']:>7.3f} "
                     f"{r['rps']:>8,.0f} {r['cpu_us']:>10.1f} {signed(r['added_cpu_us'], '+.1f'):>8} {r['errors']:>6}")
    lines.append("Targets (issue 8): added latency p50 over plain, inside the gateway (arrival to dispatch); the "
                 "client-side c1 p50 delta is printed beside it")
    checks = []
    for variant, limit in TARGETS_MS.items():
        row = next((r for r in rows if r["variant"] == variant), None)
        if row is None or row["added_overhead_p50_ms"] is None:
            continue
        ok = row["added_overhead_p50_ms"] <= limit and row["errors"] == 0
        checks.append({"variant": variant, "limit_ms": limit, "added_ms": row["added_overhead_p50_ms"],
                       "added_client_p50_ms": row["added_p50_ms"], "pass": ok})
        lines.append(f"  {'PASS' if ok else 'FAIL'}  {variant}: {row['added_overhead_p50_ms']:+.3f} ms <= {limit} ms "
                     f"(client-side c1 p50: {row['added_p50_ms']:+.3f} ms)")
    print("\n".join(lines))
    out = BENCH / "results" / f"policies-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "checks": checks, "raw": results, "seconds": time.monotonic() - started},
                              indent=1))
    print(f"JSON: {out}")
    return 0 if all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
