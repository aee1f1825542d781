"""Failover and hedging (issue 7): a simulated fleet behind one Tokenway gateway, each feature against a baseline.

Both parts start 4 simulated vLLM replicas (`tokenway sim`) and one `tokenway gateway` in front of them, and
play the same open-loop streaming load (Poisson arrivals from --seed, official `openai` AsyncOpenAI client,
TTFT = request sent to the first chunk with content). Each configuration gets a fresh fleet and gateway.

1. Failover. At --kill-at seconds one replica (chosen by the seed) is SIGKILLed. Configurations:
     tokenway   the gateway's defaults: retries (2 extra tries on connect failure, reset, 5xx) and passive
                outlier detection (ejection after 3 gateway failures in a row)
     baseline   the same gateway with `server.retries.attempts: 0` and the pool's
                `outlierDetection.maxEjectionPercent: 0` (nothing is ever ejected)
   Reported per window of request start (before the kill, the 5 s after it, the rest): requests, failed
   requests, error rate, TTFT p50/p99 of the successful ones; then the time until traffic was rebalanced:
   the latest of (a) the last failed upstream attempt (`tokenway_upstream_errors_total` at the gateway's
   /metrics, scraped every 0.25 s: after the kill only the killed replica fails), (b) the last request that
   failed at the client and (c) the start of the first rolling 10 s window of TTFT p99 within 10% of the
   pre-kill p99 that every later window also meets. "never" when one of them still held at the end.

2. Hedging. One replica stalls its first token: its stall (POST /sim/faults stall_first_token_ms) is switched
   on (--stall-ms) and off at random (seeded) every 1-3 s, about half of the time on. Configurations: one
   catch-all route without hedging (`hedging-off`) and with `hedging: {delaySeconds, budgetPercent}`
   (`hedging-on`). Reported: TTFT p50/p90/p99, errors, upstream attempts per client request (the fleet's
   `vllm:request_success_total` over every finish reason, aborted losers included) and the hedges
   (`tokenway_hedges_total{outcome}`: sent as a share of the client requests, won, lost), the requests that
   waited out the stall and the share of the attempts that went to the stalling replica.

    python bench/failover.py             # both parts, about 3 minutes
    python bench/failover.py --quick     # shorter runs, about 1.5 minutes
    python bench/failover.py --parts hedging --hedge-delay 0.15 --hedge-budget 5

JSON with every request lands in bench/results/failover-<time>.json, process logs in
bench/results/failover-logs-<time>/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import random
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletionChunk

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from routing import MODEL, Proc, free_port, spawn, wait_ready  # noqa: E402
from workload import percentile  # noqa: E402

REPLICAS = 4
# Simulated replicas: ~25-30 ms TTFT for these short prompts, 8 ms between tokens (the simulator's defaults).
SIM_ARGS = ["--prefill-overhead-ms", "20", "--itl-ms", "8", "--max-num-seqs", "64"]
SCRAPE_INTERVAL = 0.25
ROLLING_WINDOW = 10.0  # at 10 req/s ~100 requests: p99 is about the 2nd slowest, so one hiccup does not decide
ROLLING_STEP = 0.5
AFTER_KILL_WINDOW = 5.0
TOPICS = ["billing", "a flight to Lisbon", "unit tests", "a sourdough recipe", "Kubernetes probes", "tax forms",
          "a birthday poem", "SQL indexes", "the weather", "a job interview", "garden pests", "TCP backlog"]


# ---- processes ---------------------------------------------------------------------------------------
def start_fleet(logdir: Path, tag: str, sim_args: list[str]) -> list[Proc]:
    fleet = []
    for i in range(REPLICAS):
        port = free_port()
        cmd = [sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
               "--model", MODEL, "--log-level", "warning", "--seed", str(i), *SIM_ARGS, *sim_args]
        fleet.append(spawn(f"{tag}-sim{i}", cmd, port, logdir))
    for sim in fleet:
        wait_ready(sim, "/health")
    return fleet


def start_gateway(config: dict[str, Any], workdir: Path, logdir: Path, tag: str) -> Proc:
    path = workdir / f"{tag}.json"
    path.write_text(json.dumps(config))
    port = free_port()
    cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(path), "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    gateway = spawn(f"{tag}-gateway", cmd, port, logdir)
    wait_ready(gateway, "/readyz")
    return gateway


def pool_config(fleet: list[Proc], **extra: Any) -> dict[str, Any]:
    return {"name": "fleet", "models": [{"name": MODEL}], "endpoints": [{"url": sim.url} for sim in fleet], **extra}


def prom_values(url: str, name: str) -> dict[str, float]:
    """Samples of one metric family at url/metrics, keyed by their label text."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return parse_prom(response.read().decode(), name)


def parse_prom(page: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in page.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            key, _, value = line.rpartition(" ")
            out[key[len(name):]] = float(value)
    return out


def fleet_attempts(fleet: list[Proc]) -> float:
    """Requests the fleet finished, every finish reason (aborted ones too): the attempts it received."""
    return sum(sum(prom_values(sim.url, "vllm:request_success_total").values()) for sim in fleet)


# ---- load --------------------------------------------------------------------------------------------
@dataclass
class Request:
    index: int
    start: float  # seconds after the load began (scheduled arrival)
    ttft: float | None = None
    end: float | None = None
    ok: bool = False
    error: str = ""
    endpoint: str = ""


@dataclass
class Scrape:
    at: float
    upstream_errors: float
    hedges: dict[str, float] = field(default_factory=dict)


def arrivals(seed: int, rate: float, duration: float) -> list[float]:
    rng = random.Random(seed)
    out: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        out.append(t)


async def one_request(client: openai.AsyncOpenAI, req: Request, t0: float, max_tokens: int) -> None:
    await asyncio.sleep(max(0.0, t0 + req.start - time.perf_counter()))
    sent = time.perf_counter()
    req.start = sent - t0
    messages = [{"role": "user", "content": f"Request {req.index}: tell me about {TOPICS[req.index % len(TOPICS)]}."}]
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=messages, max_tokens=max_tokens, stream=True)  # type: ignore[arg-type]
        req.endpoint = raw.headers.get("x-tokenway-endpoint", "")
        stream: openai.AsyncStream[ChatCompletionChunk] = raw.parse()  # type: ignore[assignment]
        async for chunk in stream:
            if req.ttft is None and chunk.choices and chunk.choices[0].delta.content:
                req.ttft = time.perf_counter() - sent
        req.ok = req.ttft is not None
        if not req.ok:
            req.error = "no content"
    except openai.APIStatusError as exc:
        req.error = f"status {exc.status_code}"
    except Exception as exc:  # a broken stream surfaces as the transport's or the SSE parser's exception
        req.error = type(exc).__name__
    req.end = time.perf_counter() - t0


async def scrape_loop(gateway: Proc, t0: float, stop: asyncio.Event, out: list[Scrape]) -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        async def scrape() -> None:
            try:
                page = (await http.get(gateway.url + "/metrics")).text
            except httpx.HTTPError:
                return
            hedges = {k.split('outcome="', 1)[1].split('"', 1)[0]: v
                      for k, v in parse_prom(page, "tokenway_hedges_total").items() if 'outcome="' in k}
            out.append(Scrape(time.perf_counter() - t0,
                              sum(parse_prom(page, "tokenway_upstream_errors_total").values()), hedges))

        while not stop.is_set():
            await scrape()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SCRAPE_INTERVAL)
        await scrape()  # after every request ended: the final counts


async def play(gateway: Proc, args: argparse.Namespace, duration: float,
               events: list[tuple[float, Any]]) -> tuple[list[Request], list[Scrape], float]:
    """Open-loop load for `duration` s; events are (seconds, callable) run at those times. Returns the
    requests, the gateway scrapes and the wall time."""
    reqs = [Request(i, t) for i, t in enumerate(arrivals(args.seed, args.rate, duration))]
    scrapes: list[Scrape] = []
    stop = asyncio.Event()
    async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="bench", max_retries=0,
                                  timeout=args.request_timeout) as client:
        t0 = time.perf_counter()
        scraper = asyncio.create_task(scrape_loop(gateway, t0, stop, scrapes))
        tasks = [asyncio.create_task(one_request(client, r, t0, args.max_tokens)) for r in reqs]
        for at, action in sorted(events, key=lambda e: e[0]):
            await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
            result = action()
            if asyncio.iscoroutine(result):
                await result
        if tasks:
            await asyncio.wait(tasks, timeout=max(0.0, t0 + duration - time.perf_counter()) + args.request_timeout
                               + 5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.perf_counter() - t0
        stop.set()
        await scraper
    return reqs, scrapes, wall


def ttft_ms(reqs: list[Request], q: float) -> float:
    return percentile([r.ttft * 1000 for r in reqs if r.ok and r.ttft is not None], q)


# ---- part 1: failover --------------------------------------------------------------------------------
@dataclass
class Window:
    name: str
    requests: int
    errors: int
    error_rate: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    killed_share: float  # of the successful requests, served by the killed replica


@dataclass
class FailoverFigures:
    config: str
    killed: int
    kill_at: float
    requests: int
    errors: int
    failed_attempts: float
    windows: list[Window]
    last_failed_attempt_s: float | None
    last_client_error_s: float | None
    ttft_recovered_s: float | None
    rebalanced_s: float | None
    pre_kill_p99_ms: float
    rolling_p99_ms: list[tuple[float, float]]
    wall_s: float


def window(name: str, reqs: list[Request], killed_port: int) -> Window:
    errors = sum(1 for r in reqs if not r.ok)
    served = [r for r in reqs if r.ok]
    on_killed = sum(1 for r in served if r.endpoint.endswith(f":{killed_port}"))
    return Window(name, len(reqs), errors, errors / len(reqs) if reqs else math.nan, ttft_ms(reqs, 50),
                  ttft_ms(reqs, 99), on_killed / len(served) if served else math.nan)


def failover_figures(config: str, reqs: list[Request], scrapes: list[Scrape], killed: int, killed_port: int,
                     args: argparse.Namespace, duration: float, wall: float) -> FailoverFigures:
    kill = args.kill_at
    # a request still in flight at the kill (a stream the kill broke, or one retried elsewhere) counts after it
    before = [r for r in reqs if args.warmup <= r.start < kill and r.end is not None and r.end < kill]
    during = [r for r in reqs if r.start < kill + AFTER_KILL_WINDOW and (r.end is None or r.end >= kill)
              and (r.start >= kill or r.start >= args.warmup)]
    after = [r for r in reqs if r.start >= kill + AFTER_KILL_WINDOW]
    windows = [window("before", before, killed_port), window(f"kill+{AFTER_KILL_WINDOW:g}s", during, killed_port),
               window("after", after, killed_port)]
    # (a) the last failed upstream attempt: the scrape where the gateway's upstream error count last grew
    grew = [cur.at for prev, cur in itertools.pairwise(scrapes)
            if cur.upstream_errors > prev.upstream_errors and cur.at > kill]
    last_attempt: float | None = max(grew) - kill if grew else 0.0
    if grew and max(grew) > duration - 2.0:  # still failing in the last 2 s of arrivals: never stopped
        last_attempt = None
    # (b) the last request that failed at the client (when it failed: a stream the kill broke started before it)
    failed = [r.end for r in reqs if not r.ok and r.end is not None and r.end >= kill]
    last_error: float | None = max(failed) - kill if failed else 0.0
    if failed and max(failed) > duration - 2.0:
        last_error = None
    # (c) rolling TTFT p99 back within 10% of the pre-kill p99, and staying there
    reference = ttft_ms(before, 99)
    rolling: list[tuple[float, float]] = []
    start = kill
    while start + ROLLING_WINDOW <= duration + 1e-9:
        rolling.append((round(start - kill, 3), ttft_ms([r for r in reqs if start <= r.start < start + ROLLING_WINDOW],
                                                        99)))
        start += ROLLING_STEP
    recovered: float | None = None
    for offset, p99 in reversed(rolling):
        if math.isnan(p99) or p99 > 1.1 * reference:
            break
        recovered = offset
    parts = (last_attempt, last_error, recovered)
    rebalanced = None if any(p is None for p in parts) else max(p for p in parts if p is not None)
    errors_total = [s.upstream_errors for s in scrapes]
    return FailoverFigures(
        config=config, killed=killed, kill_at=kill, requests=len(reqs), errors=sum(1 for r in reqs if not r.ok),
        failed_attempts=(errors_total[-1] - errors_total[0]) if errors_total else math.nan, windows=windows,
        last_failed_attempt_s=last_attempt, last_client_error_s=last_error, ttft_recovered_s=recovered,
        rebalanced_s=rebalanced, pre_kill_p99_ms=reference, rolling_p99_ms=rolling, wall_s=wall)


def run_failover(config_name: str, args: argparse.Namespace, duration: float, workdir: Path,
                 logdir: Path) -> tuple[FailoverFigures, list[Request]]:
    fleet: list[Proc] = []
    gateway: Proc | None = None
    killed = random.Random(args.seed).randrange(REPLICAS)
    try:
        fleet = start_fleet(logdir, config_name, [])
        if config_name == "baseline":
            config = {"version": "1", "server": {"retries": {"attempts": 0}},
                      "pools": [pool_config(fleet, outlierDetection={"maxEjectionPercent": 0})]}
        else:
            config = {"version": "1", "pools": [pool_config(fleet)]}
        gateway = start_gateway(config, workdir, logdir, config_name)
        victim = fleet[killed]
        reqs, scrapes, wall = asyncio.run(play(gateway, args, duration, [(args.kill_at, victim.proc.kill)]))
    finally:
        for proc in ([gateway] if gateway else []) + fleet:
            proc.stop()
    return failover_figures(config_name, reqs, scrapes, killed, victim.port, args, duration, wall), reqs


def fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def print_failover(figs: list[FailoverFigures], args: argparse.Namespace, duration: float) -> None:
    print(f"\nFailover: {REPLICAS} replicas, {args.rate:g} req/s for {duration:g}s (max_tokens {args.max_tokens}), "
          f"replica sim{figs[0].killed} SIGKILLed at {args.kill_at:g}s; 'before': requests started from "
          f"{args.warmup:g}s that ended before the kill; 'kill+{AFTER_KILL_WINDOW:g}s': in flight at the kill or "
          f"started in the {AFTER_KILL_WINDOW:g}s after it; 'after': started later")
    print(f"{'config':<10}{'window':<10}{'requests':>9}{'failed':>8}{'error rate':>11}{'TTFT p50':>10}{'p99':>9}"
          f"{'on killed':>11}")
    for f in figs:
        for i, w in enumerate(f.windows):
            print(f"{f.config if i == 0 else '':<10}{w.name:<10}{w.requests:>9}{w.errors:>8}{w.error_rate:>11.1%}"
                  f"{w.ttft_p50_ms:>8.1f}ms{w.ttft_p99_ms:>7.1f}ms{w.killed_share:>11.1%}")
    print(f"\n{'config':<10}{'rebalanced':>11}{'last failed attempt':>21}{'last client error':>19}"
          f"{'TTFT p99 back':>15}{'pre-kill p99':>14}{'failed attempts':>17}{'failed requests':>17}")
    for f in figs:
        print(f"{f.config:<10}{fmt_s(f.rebalanced_s):>11}{fmt_s(f.last_failed_attempt_s):>21}"
              f"{fmt_s(f.last_client_error_s):>19}{fmt_s(f.ttft_recovered_s):>15}{f.pre_kill_p99_ms:>12.1f}ms"
              f"{f.failed_attempts:>17.0f}{f.errors:>17}")
    print("(times after the kill; 'on killed': successful requests served by the killed replica; "
          "'failed attempts': the gateway's upstream errors over the run)")


# ---- part 2: hedging ---------------------------------------------------------------------------------
@dataclass
class HedgingFigures:
    config: str
    requests: int
    measured: int
    errors: int
    ttft_p50_ms: float
    ttft_p90_ms: float
    ttft_p99_ms: float
    attempts: float
    attempts_per_request: float
    hedges_sent: float
    hedges_won: float
    hedges_lost: float
    hedge_share: float
    stalled: int  # measured requests whose TTFT waited out the stall (>= 0.9 x --stall-ms)
    staller_attempt_share: float  # of the fleet's attempts, those the stalling replica received
    stall_on_share: float
    wall_s: float


def stall_schedule(seed: int, duration: float, stall_ms: float) -> list[tuple[float, float]]:
    """(time, stall ms): switched every 1-3 s, on about half of the time; the same for every config."""
    rng = random.Random(seed * 7919 + 1)
    out, t = [], 0.0
    while t < duration:
        out.append((t, stall_ms if rng.random() < 0.5 else 0.0))
        t += rng.uniform(1.0, 3.0)
    return out


def run_hedging(config_name: str, args: argparse.Namespace, duration: float, workdir: Path,
                logdir: Path) -> tuple[HedgingFigures, list[Request]]:
    fleet: list[Proc] = []
    gateway: Proc | None = None
    staller = REPLICAS - 1
    schedule = stall_schedule(args.seed, duration, args.stall_ms)
    try:
        fleet = start_fleet(logdir, config_name, [])
        route: dict[str, Any] = {"name": "all", "rules": [{"name": "all", "backends": [{"pool": "fleet"}]}]}
        if config_name == "hedging-on":
            route["hedging"] = {"delaySeconds": args.hedge_delay, "budgetPercent": args.hedge_budget}
        gateway = start_gateway({"version": "1", "pools": [pool_config(fleet)], "routes": [route]}, workdir, logdir,
                                config_name)
        faults_url = fleet[staller].url + "/sim/faults"

        def set_stall(ms: float) -> Any:
            async def post() -> None:
                async with httpx.AsyncClient(timeout=2.0) as http:
                    try:
                        (await http.post(faults_url, json={"stall_first_token_ms": ms})).raise_for_status()
                    except httpx.HTTPError as exc:
                        print(f"  stall switch failed: {exc}", flush=True)
            return post()

        before = fleet_attempts(fleet)
        staller_before = fleet_attempts([fleet[staller]])
        events = [(at, (lambda ms=ms: set_stall(ms))) for at, ms in schedule]
        reqs, scrapes, wall = asyncio.run(play(gateway, args, duration, events))
        after = fleet_attempts(fleet)
        staller_attempts = fleet_attempts([fleet[staller]]) - staller_before
    finally:
        for proc in ([gateway] if gateway else []) + fleet:
            proc.stop()
    measured = [r for r in reqs if r.start >= args.warmup]
    hedges = scrapes[-1].hedges if scrapes else {}
    on_time = sum(min(nxt, duration) - at for (at, ms), (nxt, _) in zip(schedule, [*schedule[1:], (duration, 0.0)],
                                                                         strict=True) if ms > 0)
    attempts = after - before
    figs = HedgingFigures(
        config=config_name, requests=len(reqs), measured=len(measured), errors=sum(1 for r in reqs if not r.ok),
        ttft_p50_ms=ttft_ms(measured, 50), ttft_p90_ms=ttft_ms(measured, 90), ttft_p99_ms=ttft_ms(measured, 99),
        attempts=attempts, attempts_per_request=attempts / len(reqs) if reqs else math.nan,
        hedges_sent=hedges.get("sent", 0.0), hedges_won=hedges.get("won", 0.0), hedges_lost=hedges.get("lost", 0.0),
        hedge_share=hedges.get("sent", 0.0) / len(reqs) if reqs else math.nan,
        stalled=sum(1 for r in measured if r.ttft is not None and r.ttft >= 0.9 * args.stall_ms / 1000),
        staller_attempt_share=staller_attempts / attempts if attempts else math.nan, stall_on_share=on_time / duration,
        wall_s=wall)
    return figs, reqs


def print_hedging(figs: list[HedgingFigures], args: argparse.Namespace, duration: float) -> None:
    print(f"\nHedging: {REPLICAS} replicas, {args.rate:g} req/s for {duration:g}s (max_tokens {args.max_tokens}); "
          f"sim{REPLICAS - 1} stalls its first token {args.stall_ms:g} ms while its stall is on "
          f"({figs[0].stall_on_share:.0%} of the run, switched every 1-3 s); hedging delay {args.hedge_delay:g}s, "
          f"budget {args.hedge_budget:g}%; TTFT of requests from {args.warmup:g}s")
    print(f"{'config':<13}{'requests':>9}{'failed':>7}{'TTFT p50':>10}{'p90':>10}{'p99':>10}{'stalled':>9}"
          f"{'attempts/req':>14}{'to staller':>12}{'hedged':>8}{'hedged %':>10}{'won':>5}{'lost':>6}")
    for f in figs:
        print(f"{f.config:<13}{f.requests:>9}{f.errors:>7}{f.ttft_p50_ms:>8.1f}ms{f.ttft_p90_ms:>8.1f}ms"
              f"{f.ttft_p99_ms:>8.1f}ms{f.stalled:>9}{f.attempts_per_request:>14.3f}{f.staller_attempt_share:>12.1%}"
              f"{f.hedges_sent:>8.0f}{f.hedge_share:>10.1%}{f.hedges_won:>5.0f}{f.hedges_lost:>6.0f}")
    print("(stalled: measured requests whose TTFT waited out the stall; attempts/req: requests the fleet finished, "
          "aborted ones included, per client request;\n to staller: share of those attempts on the stalling replica; "
          "hedged %: hedges sent per client request; won/lost: tokenway_hedges_total{outcome}:\n "
          "won = the hedge answered first, lost = the original did)")


# ---- main --------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="failover,hedging", help="failover, hedging or both (comma separated)")
    parser.add_argument("--quick", action="store_true", help="shorter runs (failover 24 s, kill at 8 s; hedging 15 s)")
    parser.add_argument("--seed", type=int, default=7, help="arrivals, the killed replica and the stall schedule")
    parser.add_argument("--rate", type=float, default=10.0, help="client requests per second (Poisson)")
    parser.add_argument("--max-tokens", type=int, default=48, help="output tokens per request")
    parser.add_argument("--failover-duration", type=float, default=40.0, help="seconds of arrivals (failover)")
    parser.add_argument("--kill-at", type=float, default=15.0, help="when a replica is SIGKILLed")
    parser.add_argument("--hedging-duration", type=float, default=30.0, help="seconds of arrivals (hedging)")
    parser.add_argument("--stall-ms", type=float, default=2000.0, help="first-token stall of the stalling replica")
    parser.add_argument("--hedge-delay", type=float, default=0.2, help="hedging.delaySeconds")
    parser.add_argument("--hedge-budget", type=float, default=10.0, help="hedging.budgetPercent")
    parser.add_argument("--warmup", type=float, default=2.0, help="requests started earlier are not measured")
    parser.add_argument("--request-timeout", type=float, default=20.0, help="client timeout per request")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if set(parts) - {"failover", "hedging"}:
        parser.error(f"unknown parts {parts}")
    failover_duration, hedging_duration = args.failover_duration, args.hedging_duration
    if args.quick:
        failover_duration, hedging_duration = 24.0, 15.0
        args.kill_at = min(args.kill_at, 8.0)
    if not args.warmup < args.kill_at < failover_duration - AFTER_KILL_WINDOW - ROLLING_WINDOW:
        parser.error("--kill-at must leave the warmup before it and 10 s of load after it")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    logdir = results_dir / f"failover-logs-{stamp}"
    logdir.mkdir()
    report: dict[str, Any] = {"args": vars(args), "sim_args": SIM_ARGS, "replicas": REPLICAS}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        if "failover" in parts:
            figs: list[FailoverFigures] = []
            raw: dict[str, Any] = {}
            for name in ("tokenway", "baseline"):
                print(f"  failover: {name} ...", flush=True)
                fig, reqs = run_failover(name, args, failover_duration, Path(tmp), logdir)
                figs.append(fig)
                raw[name] = [asdict(r) for r in reqs]
            print_failover(figs, args, failover_duration)
            report["failover"] = {"duration": failover_duration, "figures": [asdict(f) for f in figs],
                                  "requests": raw}
        if "hedging" in parts:
            hfigs: list[HedgingFigures] = []
            hraw: dict[str, Any] = {}
            for name in ("hedging-off", "hedging-on"):
                print(f"  hedging: {name} ...", flush=True)
                hfig, reqs = run_hedging(name, args, hedging_duration, Path(tmp), logdir)
                hfigs.append(hfig)
                hraw[name] = [asdict(r) for r in reqs]
            print_hedging(hfigs, args, hedging_duration)
            report["hedging"] = {"duration": hedging_duration, "figures": [asdict(f) for f in hfigs],
                                 "schedule": stall_schedule(args.seed, hedging_duration, args.stall_ms),
                                 "requests": hraw}
    out = Path(args.out) if args.out else results_dir / f"failover-{stamp}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\ntotal {time.monotonic() - started:.0f}s\nJSON: {out}\nlogs: {logdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
