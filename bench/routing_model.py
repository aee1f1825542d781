#!/usr/bin/env python3
"""A discrete-event model of bench/routing.py's fleet, for tuning pickers in seconds, not minutes.

NOT the benchmark: the figures to report come from bench/routing.py (real simulator
processes, real gateways, real HTTP). This model runs the real picker code
(tokenway_gateway.picking, its clock pointed at simulated time) against a model of the
fleet that follows `tokenway sim`'s latency model: FIFO queue, `max_num_seqs` slots,
TTFT = queue wait + prefill_overhead + uncached tokens x prefill_per_token, decode at
ITL(r) per token, an LRU prefix cache of `kv_cache_blocks` blocks keyed by the
simulator's own chained block hashes over its own tokenizer's tokens. Engine metrics
are "scraped" every interval into each gateway replica's Endpoint objects; gateway
replicas share nothing. The workload is bench/workload.py's, answers are pseudo-words.

    python bench/routing_model.py --seed 3 --policies round-robin,least-request,llm-aware   # routing.py's fleet
    python bench/routing_model.py --lb-json '{"scorers": {"queue": 3}}' --gateways 3
    # short prompts (mostly too short for prefix affinity), near the fleet's saturation
    python bench/routing_model.py --system-tokens 20,40 --user-tokens 10,30 --max-turns 2 --rate 48 --gateways 3
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "dataplane"))
sys.path.insert(0, str(BENCH))

from tokenway_gateway import picking  # noqa: E402
from tokenway_gateway.api.route import LoadBalancing  # noqa: E402
from tokenway_gateway.picking import OK, AttemptOutcome, Outcome, prefix_block_hashes  # noqa: E402
from tokenway_gateway.picking.registry import PickerRegistry  # noqa: E402
from tokenway_gateway.routing.endpoints import Endpoint  # noqa: E402
from tokenway_gateway.simulator.prefix_cache import PrefixCache, block_hashes  # noqa: E402
from tokenway_gateway.simulator.tokenizer import chat_prompt_tokens  # noqa: E402
from workload import WorkloadSpec, build, percentile  # noqa: E402


class Clock:
    now = 0.0

    def monotonic(self) -> float:
        return self.now


CLOCK = Clock()
for module in (picking.picker, picking.llm, picking.affinity, picking.outlier):
    module.time = CLOCK  # type: ignore[attr-defined]


class Req:
    __slots__ = ("_hashes", "model", "payload", "session_key")

    def __init__(self, payload: dict[str, Any], session: bytes | None) -> None:
        self.model = "bench-model"
        self.payload = payload
        self.session_key = session
        self._hashes: Sequence[int] | None = None

    @property
    def prefix_hashes(self) -> Sequence[int]:
        if self._hashes is None:
            self._hashes = prefix_block_hashes(self.payload)
        return self._hashes

    def header(self, name: bytes) -> bytes | None:
        return None


class Replica:
    def __init__(self, args: argparse.Namespace) -> None:
        self.slots = args.max_num_seqs
        self.cache = PrefixCache(16, args.kv_cache_blocks)
        self.kv_blocks = args.kv_cache_blocks
        self.waiting: deque[Job] = deque()
        self.running: list[Job] = []
        self.queries = self.hits = 0
        self.prompt_tokens = 0
        self.args = args
        self.lanes = [0.0] * args.prefill_lanes
        self.lane_starts: list[float] = []

    def num_waiting(self, now: float) -> int:
        starts = self.lane_starts
        while starts and starts[0] <= now:
            heapq.heappop(starts)
        return len(self.waiting) + len(starts)


class Job:
    __slots__ = ("arrival", "cached", "endpoint", "gateway", "hashes", "n_out", "on_done", "picker", "replica",
                 "started", "tokens", "ttft")

    def __init__(self) -> None:
        self.ttft = 0.0


class Model:
    def __init__(self, args: argparse.Namespace, lb: LoadBalancing) -> None:
        self.args = args
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.replicas = [Replica(args) for _ in range(args.replicas)]
        urls = [f"http://10.0.0.{i + 1}:8000" for i in range(args.replicas)]
        self.gateways = []
        for _ in range(args.gateways):
            endpoints = [Endpoint(url) for url in urls]
            picker = PickerRegistry().picker("fleet", lb, None, endpoints)
            self.gateways.append((picker, endpoints))
        self.rng = random.Random(args.seed)
        self.ttfts: list[tuple[float, float, int]] = []  # (start, ttft, turn)
        self.jobs: list[tuple[Job, int]] = []

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (when, next(self.seq), action))

    def run(self, until: float) -> None:
        if self.args.stall_for > 0:
            self.at(self.args.stall_at, self.stall)
        for g in range(len(self.gateways)):
            self.at(self.rng.random() * self.args.scrape_interval, lambda g=g: self.scrape(g))  # type: ignore[misc]
        while self.events:
            when, _, action = heapq.heappop(self.events)
            if when > until:
                break
            CLOCK.now = when
            action()

    def stall(self) -> None:
        """A hiccup (a noisy neighbour, a GC pause): every replica's prefill lanes stop for a while."""
        for replica in self.replicas:
            replica.lanes = [max(free, CLOCK.now + self.args.stall_for) for free in replica.lanes]

    def scrape(self, g: int) -> None:
        _, endpoints = self.gateways[g]
        for replica, endpoint in zip(self.replicas, endpoints, strict=True):
            endpoint.waiting = float(replica.num_waiting(CLOCK.now))
            endpoint.running = float(len(replica.running))
            used = sum(-(-(len(j.tokens) + j.n_out) // 16) for j in replica.running)
            endpoint.kv_usage = min(1.0, used / replica.kv_blocks)
            endpoint.scraped_at = CLOCK.now + self.args.scrape_lag
            endpoint.in_flight_at_scrape = endpoint.in_flight
        self.at(CLOCK.now + self.args.scrape_interval, lambda: self.scrape(g))

    def submit(self, messages: list[dict[str, str]], n_out: int, turn: int, on_done: Callable[[str], None]) -> None:
        g = self.rng.randrange(len(self.gateways))
        picker, endpoints = self.gateways[g]
        payload = {"model": "bench-model", "messages": messages, "max_tokens": n_out}
        endpoint = picker.pick(Req(payload, None), ())
        assert endpoint is not None
        endpoint.in_flight += 1
        job = Job()
        job.arrival = CLOCK.now
        job.tokens = chat_prompt_tokens(messages)
        job.n_out = n_out
        job.endpoint = endpoint
        job.picker = picker
        job.replica = self.replicas[endpoints.index(endpoint)]
        job.on_done = lambda text, t=turn, j=job: self.done(j, t, text, on_done)
        # the request reaches the engine after the gateway's overhead
        self.at(CLOCK.now + self.args.hop, lambda: self.enqueue(job))

    def enqueue(self, job: Job) -> None:
        replica = job.replica
        replica.waiting.append(job)
        self.admit(replica)

    def admit(self, replica: Replica) -> None:
        args = self.args
        while replica.waiting and len(replica.running) < replica.slots:
            job = replica.waiting.popleft()
            job.started = CLOCK.now
            replica.running.append(job)
            job.hashes = block_hashes(job.tokens, 16)
            job.cached = replica.cache.match(job.hashes, len(job.tokens))
            replica.queries += len(job.tokens)
            replica.hits += job.cached
            replica.prompt_tokens += len(job.tokens)
            prefill = (args.prefill_overhead_ms + (len(job.tokens) - job.cached) * args.prefill_ms_per_token) / 1000
            if replica.lanes:
                lane = min(range(len(replica.lanes)), key=replica.lanes.__getitem__)
                begin = max(CLOCK.now, replica.lanes[lane])
                replica.lanes[lane] = begin + prefill
                if begin > CLOCK.now:
                    heapq.heappush(replica.lane_starts, begin)
                    prefill += begin - CLOCK.now
            self.at(CLOCK.now + prefill, lambda j=job: self.first_token(j))

    def first_token(self, job: Job) -> None:
        job.replica.cache.insert(job.hashes)
        job.ttft = CLOCK.now - job.arrival + self.args.hop
        args = self.args
        running = len(job.replica.running)
        itl = args.itl_ms / 1000 * (1 + args.itl_growth_per_seq * max(0, running - 1))
        self.at(CLOCK.now + job.n_out * itl, lambda: self.finish(job))

    def finish(self, job: Job) -> None:
        replica = job.replica
        replica.running.remove(job)
        self.admit(replica)
        job.endpoint.in_flight -= 1
        job.picker.observe(job.endpoint, AttemptOutcome(Outcome.OK, 200, ttft=job.ttft) if job.ttft else OK)
        job.on_done(answer(job.n_out, self.rng))

    def done(self, job: Job, turn: int, text: str, then: Callable[[str], None]) -> None:
        self.ttfts.append((job.arrival, job.ttft, turn))
        self.jobs.append((job, turn))
        then(text)


WORDS = ["alpha", "beta", "gamma", "delta", "echo", "fox", "golf", "hotel", "india", "kilo", "lima", "mike"]


def answer(tokens: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS)[:4] for _ in range(tokens))


def play(model: Model, spec: WorkloadSpec) -> None:
    workload = build(spec)
    for conv in workload.conversations:
        model.at(conv.start, Conversation(model, conv, workload.systems[conv.tenant]).start)


class Conversation:
    def __init__(self, model: Model, conv: Any, system: str) -> None:
        self.model = model
        self.conv = conv
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system}]
        self.turn = 0

    def start(self) -> None:
        conv = self.conv
        self.messages.append({"role": "user", "content": conv.questions[self.turn]})
        self.model.submit(list(self.messages), conv.max_tokens[self.turn], self.turn, self.answered)

    def answered(self, text: str) -> None:
        self.messages.append({"role": "assistant", "content": text})
        self.turn += 1
        if self.turn < len(self.conv.questions):
            self.model.at(CLOCK.now + self.conv.thinks[self.turn - 1], self.start)


def evaluate(args: argparse.Namespace, lb: LoadBalancing) -> dict[str, float]:
    CLOCK.now = 0.0
    model = Model(args, lb)
    spec = WorkloadSpec(seed=args.seed, conversation_rate=args.rate, duration=args.duration, tenants=args.tenants,
                        system_tokens=args.system_tokens, user_tokens=args.user_tokens,
                        min_turns=min(WorkloadSpec.min_turns, args.max_turns), max_turns=args.max_turns)
    play(model, spec)
    model.run(args.duration + 600)
    measured = [t for start, t, _ in model.ttfts if start >= args.warmup]
    queries = sum(r.queries for r in model.replicas)
    hits = sum(r.hits for r in model.replicas)
    prompts = [r.prompt_tokens for r in model.replicas]
    if args.explain:
        jobs = [(j, t) for j, t in model.jobs if j.arrival >= args.warmup]
        slow = [(j, t) for j, t in jobs if j.ttft > 0.3]
        print(f"  slow (>0.3s): {len(slow)}/{len(jobs)}; of them missed (>400 uncached tokens): "
              f"{sum(1 for j, _ in slow if len(j.tokens) - j.cached > 400)}, waited for a slot >0.2s: "
              f"{sum(1 for j, _ in slow if j.started - j.arrival > 0.2)}, first turns: "
              f"{sum(1 for _, t in slow if t == 0)}")
        misses = [(j, t) for j, t in jobs if len(j.tokens) - j.cached > 400]
        print(f"  misses: {len(misses)}, first turns among them: {sum(1 for _, t in misses if t == 0)}")
    return {"p50": percentile(measured, 50), "p90": percentile(measured, 90), "p99": percentile(measured, 99),
            "hit": hits / queries if queries else 0.0, "n": len(measured),
            "max_share": max(prompts) / (sum(prompts) or 1)}


def pair(text: str) -> tuple[int, int]:
    low, high = text.split(",")
    return int(low), int(high)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--tenants", type=int, default=WorkloadSpec.tenants)
    parser.add_argument("--replicas", type=int, default=6)
    parser.add_argument("--gateways", type=int, default=1)
    parser.add_argument("--policies", default="llm-aware")
    parser.add_argument("--lb-json", action="append", default=[], help="llm-aware settings (repeat: one run each)")
    parser.add_argument("--max-num-seqs", type=int, default=16)
    parser.add_argument("--kv-cache-blocks", type=int, default=2048)
    parser.add_argument("--prefill-lanes", type=int, default=1)
    parser.add_argument("--prefill-overhead-ms", type=float, default=20.0)
    parser.add_argument("--prefill-ms-per-token", type=float, default=0.25)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--itl-growth-per-seq", type=float, default=0.03)
    parser.add_argument("--scrape-interval", type=float, default=0.2)
    parser.add_argument("--scrape-lag", type=float, default=0.0)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--stall-at", type=float, default=45.0, help="when the fleet-wide hiccup starts")
    parser.add_argument("--stall-for", type=float, default=0.0, help="seconds every prefill lane stops (0: none)")
    parser.add_argument("--hop", type=float, default=0.002, help="seconds between the gateway and the engine")
    parser.add_argument("--system-tokens", type=pair, default=WorkloadSpec.system_tokens, help="LO,HI")
    parser.add_argument("--user-tokens", type=pair, default=WorkloadSpec.user_tokens, help="LO,HI")
    parser.add_argument("--max-turns", type=int, default=WorkloadSpec.max_turns)
    args = parser.parse_args()
    runs: list[tuple[str, LoadBalancing]] = []
    for policy in args.policies.split(","):
        if policy == "llm-aware":
            for extra in args.lb_json or ["{}"]:
                runs.append((f"llm-aware {extra}", LoadBalancing(algorithm="llm-aware", **json.loads(extra))))
        else:
            runs.append((policy, LoadBalancing(algorithm=policy)))  # type: ignore[arg-type]
    for name, lb in runs:
        for gateways in sorted({args.gateways, 1} if args.gateways > 1 else {1}):
            args.gateways = gateways
            r = evaluate(args, lb)
            print(f"{name:<60} gw={gateways} p50 {r['p50']:.3f} p90 {r['p90']:.3f} p99 {r['p99']:.3f} "
                  f"hit {r['hit']:.1%} max-share {r['max_share']:.2f} n={r['n']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
