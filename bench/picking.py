#!/usr/bin/env python3
"""CPU cost of one endpoint pick, per algorithm, at 1, 10, 100 and 1,000 endpoints.

Runs the pickers in process (no network): each pick is followed by the bookkeeping the
gateway does around it (in-flight +1, and -1 when an earlier request "finishes", so
loads move) and by `observe` with an OK outcome. Requests are chat payloads of a
multi-tenant workload (shared system prompts, distinct conversations), so the
llm-aware picker pays for prefix hashing, affinity lookups and index updates as it
would in the gateway. Endpoints carry fresh scraped load figures (queues of 0-4, KV-cache use 0-75%).

Prompts (llm-aware rows; the classic algorithms never read the prompt):
  mixed    the multi-tenant workload above (system prompts of 1.2-3.5k characters, 0-6 turns);
  short    one short user message (`Say hello in five words.`, as bench/dataplane.py sends):
           too short for prefix affinity;
  5k       a ~5,000-character prompt (a tenant's 3k-character system prompt, a 2k-character question);
  session  short prompts with a session key (the OpenAI `user` field): the session-home path;
  5k busy  the 5k prompts on a fleet whose every queue is over the saturation threshold (the
           filters' and scorers' full path instead of the one-pass one).
Every SCRAPE_EVERY picks a scrape "lands" (each endpoint's in-flight count at the scrape is
reset), so the queue estimates hold the requests sent since the last scrape, as in the gateway.

Prints CPU-microseconds per pick (process time, median of --rounds rounds) and the
ratio to the 1-endpoint figure of the same algorithm, then the prefix-hashing cost
alone for a few prompt sizes. The issue's target is on the whole gateway (req/s at
1,000 endpoints >= 0.8x of 1 endpoint); this bench shows the picker's share of it.

    python bench/picking.py            # about a minute
    python bench/picking.py --quick
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api.route import LoadBalancing  # noqa: E402
from tokenway_gateway.picking import OK, build_picker, prefix_block_hashes  # noqa: E402
from tokenway_gateway.routing.endpoints import Endpoint  # noqa: E402

ALGORITHMS = ["round-robin", "weighted", "least-request", "power-of-two", "consistent-hash", "llm-aware"]
SIZES = [1, 10, 100, 1000]


class Req:
    __slots__ = ("_hashes", "model", "payload", "session_key")

    def __init__(self, payload: dict[str, Any], session: bytes | None) -> None:
        self.model = "m"
        self.payload = payload
        self.session_key = session
        self._hashes: Sequence[int] | None = None

    @property
    def prefix_hashes(self) -> Sequence[int]:
        if self._hashes is None:
            self._hashes = prefix_block_hashes(self.payload)
        return self._hashes

    def header(self, name: bytes) -> bytes | None:
        return self.session_key if name == b"x-session" else None


def workload(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    systems = [f"Tenant {t} instructions. " + "Follow the policy carefully. " * rng.randint(40, 120)
               for t in range(20)]
    out = []
    for i in range(count):
        history = [{"role": "user" if k % 2 == 0 else "assistant", "content": f"turn {k} of chat {i % 300} " * 20}
                   for k in range(rng.randint(0, 6))]
        out.append({"model": "m", "messages": [{"role": "system", "content": rng.choice(systems)},
                                                {"role": "user", "content": f"first question of chat {i % 300}"},
                                                *history]})
    return out


def short_prompts(count: int) -> list[dict[str, Any]]:
    return [{"model": "m", "messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 16}
            for _ in range(count)]


def long_prompts(count: int, seed: int) -> list[dict[str, Any]]:
    """~5,000 characters each: one of 20 tenants' 3k-character system prompts and a 2k-character question."""
    rng = random.Random(seed)
    systems = [f"Tenant {t} instructions. " + "Follow the policy carefully. " * 103 for t in range(20)]
    return [{"model": "m", "messages": [{"role": "system", "content": rng.choice(systems)},
                                        {"role": "user", "content": f"question {i}: " + "details " * 250}]}
            for i in range(count)]


def fleet(size: int, busy: bool = False) -> list[Endpoint]:
    now = time.monotonic()
    out = []
    for i in range(size):
        endpoint = Endpoint(f"http://10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}:8000")
        endpoint.weight = 1 + i % 3
        endpoint.waiting = float(i % 5 + (6 if busy else 0))  # busy: every queue over the threshold (5)
        endpoint.running = float(i % 17)
        endpoint.kv_usage = (i % 10) / 12
        endpoint.scraped_at = now + 3600  # stays fresh for the whole run
        out.append(endpoint)
    return out


SCRAPE_EVERY = 200  # picks between two scrapes


def measure(algorithm: str, size: int, requests: list[Req], picks: int, busy: bool = False) -> float:
    endpoints = fleet(size, busy)
    lb = LoadBalancing(algorithm=algorithm)  # type: ignore[arg-type]
    picker = build_picker("pool", lb, None, endpoints)
    window: list[Endpoint] = []
    count = len(requests)
    scraping = 0.0
    start = time.process_time()
    for i in range(picks):
        request = requests[i % count]
        request._hashes = None  # every request hashes its own prompt, as in the gateway
        endpoint = picker.pick(request, ())
        assert endpoint is not None
        endpoint.in_flight += 1
        window.append(endpoint)
        if len(window) > 64:  # 64 requests outstanding; the oldest finishes
            done = window.pop(0)
            done.in_flight -= 1
            picker.observe(done, OK)
        if i % SCRAPE_EVERY == 0:  # a scrape lands: the engines report the requests they took (not timed)
            paused = time.process_time()
            for e in endpoints:
                e.in_flight_at_scrape = e.in_flight
            scraping += time.process_time() - paused
    return (time.process_time() - start - scraping) / picks * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--picks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.picks, args.rounds = 4000, 1
    payloads = workload(2000, args.seed)
    sessions = [b"user-%d" % (i % 500) for i in range(len(payloads))]
    prompts = {"mixed": payloads, "short": short_prompts(len(payloads)), "5k": long_prompts(len(payloads), args.seed)}
    rows: list[tuple[str, str, list[Req], bool]] = []
    for algorithm in ALGORITHMS:
        if algorithm != "llm-aware":  # consistent-hash keys on the session
            rows.append((algorithm, algorithm, [Req(p, s if algorithm == "consistent-hash" else None)
                                                for p, s in zip(payloads, sessions, strict=True)], False))
            continue
        for kind in ("mixed", "short", "5k"):
            rows.append((f"{algorithm} {kind}", algorithm, [Req(p, None) for p in prompts[kind]], False))
        rows.append((f"{algorithm} session", algorithm,
                     [Req(p, s) for p, s in zip(prompts["short"], sessions, strict=True)], False))
        rows.append((f"{algorithm} 5k busy", algorithm, [Req(p, None) for p in prompts["5k"]], True))
    print(f"CPU-us per pick (median of {args.rounds} rounds of {args.picks} picks), ratio to 1 endpoint")
    print(f"{'algorithm':<22}" + "".join(f"{n:>10}" for n in SIZES) + f"{'1000/1':>10}")
    for label, algorithm, requests, busy in rows:
        row = []
        for size in SIZES:
            row.append(statistics.median(measure(algorithm, size, requests, args.picks, busy)
                                         for _ in range(args.rounds)))
        print(f"{label:<22}" + "".join(f"{v:>10.2f}" for v in row) + f"{row[-1] / row[0]:>10.2f}", flush=True)
    print()
    print("prefix_block_hashes alone (CPU-us per call)")
    for chars in (500, 4000, 16000, 64000, 1_000_000):
        payload = {"messages": [{"role": "system", "content": "x" * (chars // 2)},
                                {"role": "user", "content": "y" * (chars // 2)}]}
        calls = max(200, 2_000_000 // chars)
        start = time.process_time()
        for _ in range(calls):
            hashes = prefix_block_hashes(payload)
        print(f"  {chars:>9} chars: {(time.process_time() - start) / calls * 1e6:8.2f}  ({len(hashes)} blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
