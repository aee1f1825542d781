#!/usr/bin/env python3
"""A cache hit's end-to-end time against a miss, through the gateway, in front of the simulator.

One simulator replica (its default latency model: 20 ms prefill overhead, 8 ms per output token)
and one gateway with a ``mode: both`` memory CachePolicy. One client, one keep-alive connection,
requests one after the other (the latency a user sees, not a load test):

  miss            new prompts (temperature 0): the gateway looks up, misses, relays, stores;
  exact hit       the same prompts again, word for word;
  semantic hit    paraphrases of the stored prompts (the labelled ``hit`` pairs of
                  bench/data/cache_pairs_heldout.jsonl: A stored, B asked); only the B the cache
                  served count (the others are misses, reported as a count);
  stream miss / stream exact hit   the same for ``stream: true`` (TTFT and end of stream).

Figures: p50/p90/p99 in ms per kind, and the miss/hit ratio of the p50s.

    .venv/bin/python bench/cache_e2e.py                  # about a minute
    .venv/bin/python bench/cache_e2e.py --requests 20 --max-tokens 16
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import dataplane as dp  # noqa: E402  (bench/dataplane.py: process helpers)

MODEL = "sim-model"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"n": len(values), "p50": statistics.median(values), "p90": pct(values, 90), "p99": pct(values, 99)}


def body(text: str, max_tokens: int, stream: bool = False) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    if stream:  # another conversation context: the non-streamed entries never match these semantically
        messages.insert(0, {"role": "system", "content": "Streaming session."})
    return {"model": MODEL, "messages": messages, "temperature": 0, "max_tokens": max_tokens, "stream": stream}


def timed(client: httpx.Client, url: str, payload: dict[str, Any]) -> tuple[str | None, float, float]:
    """(x-tokenway-cache, ms to the first body byte, ms to the end)."""
    started = time.perf_counter()
    first = 0.0
    with client.stream("POST", url, json=payload) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.read()[:300]!r}")
        for _ in response.iter_raw():
            if not first:
                first = time.perf_counter()
        ended = time.perf_counter()
        return response.headers.get("x-tokenway-cache"), (first - started) * 1e3, (ended - started) * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=40, help="prompts per kind")
    p.add_argument("--max-tokens", type=int, default=32, help="output tokens per request")
    p.add_argument("--out", type=Path, help="JSON result path (default bench/results/cache_e2e-<time>.json)")
    args = p.parse_args(argv)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = BENCH / "results" / f"logs-cache_e2e-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tokenway-cache-e2e-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "dataplane"), str(REPO / "operator"),
                                         *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    procs: list[dp.Proc] = []
    lines = (BENCH / "data" / "cache_pairs_heldout.jsonl").read_text().splitlines()
    pairs = [json.loads(line) for line in lines if line.strip()]
    pairs = [r for r in pairs if r["label"] == "hit" and not r.get("system")][: args.requests]
    results: dict[str, Any] = {}
    with dp.cleanup(procs):
        sim_port, gw_port = dp.free_port(), dp.free_port()
        procs.append(dp.spawn("sim", [sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1",
                                      "--port", str(sim_port), "--model", MODEL, "--log-level", "warning"],
                              logdir, env=env, cwd=REPO))
        config = workdir / "gateway.yaml"
        config.write_text(f"""version: "1"
pools:
  - name: sim
    models: [{{name: {MODEL}}}]
    endpoints: [{{url: "http://127.0.0.1:{sim_port}"}}]
caches:
  - {{name: both, mode: both, backend: memory}}
""")
        procs.append(dp.spawn("gateway", [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config",
                                          str(config), "--host", "127.0.0.1", "--port", str(gw_port),
                                          "--log-level", "warning"], logdir, env=env, cwd=REPO))
        url = f"http://127.0.0.1:{gw_port}{dp.CHAT_PATH}"
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=60) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{gw_port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the gateway did not become ready:\n" + procs[-1].log_tail())
                time.sleep(0.2)
            timed(client, url, body("warm up the embedder and the connection", 4))
            kinds: dict[str, list[tuple[str | None, float, float]]] = {k: [] for k in (
                "miss", "exact hit", "semantic hit", "stream miss", "stream exact hit")}
            prompts = [r["a"] for r in pairs]
            for text in prompts:
                kinds["miss"].append(timed(client, url, body(text, args.max_tokens)))
            time.sleep(0.2)
            for text in prompts:
                kinds["exact hit"].append(timed(client, url, body(text, args.max_tokens)))
            semantic_misses = 0
            for r in pairs:
                found = timed(client, url, body(r["b"], args.max_tokens))
                if found[0] == "hit":
                    kinds["semantic hit"].append(found)
                else:
                    semantic_misses += 1
            for text in prompts:
                kinds["stream miss"].append(timed(client, url, body(text, args.max_tokens, True)))
            time.sleep(0.2)
            for text in prompts:
                kinds["stream exact hit"].append(timed(client, url, body(text, args.max_tokens, True)))
    wrong = {k: sum(1 for s, _, _ in v if s != ("miss" if "miss" in k else "hit")) for k, v in kinds.items()}
    for kind, rows in kinds.items():
        results[kind] = {"e2e_ms": summary([e for _, _, e in rows]), "first_byte_ms": summary([f for _, f, _ in rows]),
                         "unexpected_cache_status": wrong[kind]}
    results["semantic hit"]["asked"] = len(pairs)
    results["semantic hit"]["missed"] = semantic_misses

    print(f"\nCache hit vs miss through the gateway, simulator at its default latency, {args.max_tokens} output "
          f"tokens, {len(pairs)} prompts per kind, one client (ms)")
    header = f"{'kind':<18} {'n':>4} {'first byte p50':>15} {'e2e p50':>9} {'e2e p90':>9} {'e2e p99':>9}"
    print(header)
    print("-" * len(header))
    for kind, r in results.items():
        e, f = r["e2e_ms"], r["first_byte_ms"]
        if e:
            print(f"{kind:<18} {e['n']:>4} {f['p50']:>15.2f} {e['p50']:>9.2f} {e['p90']:>9.2f} {e['p99']:>9.2f}")
    ratios = {}
    for miss, hit in (("miss", "exact hit"), ("miss", "semantic hit"), ("stream miss", "stream exact hit")):
        if results[miss]["e2e_ms"] and results[hit]["e2e_ms"]:
            ratios[hit] = results[miss]["e2e_ms"]["p50"] / results[hit]["e2e_ms"]["p50"]
            print(f"{hit}: e2e p50 {ratios[hit]:.0f}x faster than a miss")
    print(f"semantic: {len(kinds['semantic hit'])} of {len(pairs)} paraphrases served from the cache")
    if any(wrong.values()):
        print(f"unexpected cache statuses: {wrong}")
    out = args.out or BENCH / "results" / f"cache_e2e-{stamp}.json"
    out.write_text(json.dumps({"benchmark": "cache_e2e", "time": dt.datetime.now().astimezone().isoformat(),
                               "settings": {k: str(v) for k, v in vars(args).items()}, "results": results,
                               "miss_over_hit_p50": ratios}, indent=2))
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
