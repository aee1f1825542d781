"""Autoscaling under a 4x load step, four ways, on a simulated fleet.

The same open-loop load (the official `openai` client, streaming) steps from 1x to 4x; one pool
of `tokenway sim` replicas behind a real `tokenway gateway`; a real Prometheus scrapes them
(Debian package). Variants:

  fixed        replicas sized for the peak, all the time;
  hpa-rps      HPA-style: the HPA rule on requests/s per replica (from Prometheus), HPA's
               stabilization, no panic mode (what an HPA on a request-rate custom metric does);
  tokenway-q   Tokenway's autoscaler on queue depth (+ saturation, which lets it shrink);
  tokenway-ttft Tokenway's autoscaler on TTFT p95 (+ saturation).

The autoscaled variants run the operator's own code: PrometheusSource (the same PromQL, batched)
and the pure decision. Only the Deployment controller is played here: a replica is a process
that starts (with the simulator's --startup-delay-s standing in for model loading), turns ready
on /health, and only then enters the gateway's config, as an EndpointSlice would.

Time is compressed, the same for every variant: 1 s decisions and scrapes, 10 s metric windows,
30 s scale-down stabilization. Figures per variant: share of requests whose TTFT met the target
(failures count as misses), replica-seconds (starting replicas count: they hold a GPU), time to
recover (step -> the rolling 5 s TTFT p95 is under target for the rest of the run), and scale
direction changes after the step. Targets: >= 95 % within target, <= 1 direction change after the
step, fewer replica-seconds than the fixed pool.

The share within target depends on how long the 4x plateau lasts next to the transient, so the first
30 s after the step are also reported on their own.

    python bench/autoscale.py [--base-rate 2.5] [--before 90] [--after 150] [--variants fixed,hpa-rps,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "dataplane", ROOT / "operator", ROOT / "tests"):
    sys.path.insert(0, str(path))

from openai import AsyncOpenAI  # noqa: E402
from procs import _env, free_port  # noqa: E402
from prometheus_server import PrometheusServer, prometheus_binary  # noqa: E402
from tokenway_gateway.api import InferencePoolSpec  # noqa: E402
from tokenway_operator.autoscaling.decision import LOAD, Decision, Observation, Signal, decide  # noqa: E402
from tokenway_operator.autoscaling.history import History  # noqa: E402
from tokenway_operator.autoscaling.prometheus import PrometheusSource  # noqa: E402
from tokenway_operator.autoscaling.scrape import StaticTarget, file_sd, static_scrape_config  # noqa: E402
from tokenway_operator.autoscaling.signals import observation  # noqa: E402

NS, POOL, MODEL = "bench", "chat", "chat"
# One replica: 2 sequences at once, ~0.36 s each (30 ms prefill + 8 tokens x 40 ms): ~5.5 requests/s. Few, slow
# tokens keep the fleet's CPU (two cores for every process here) out of the latencies being measured.
MAX_SEQS = 2
SIM_FLAGS = ["--itl-ms", "40", "--max-tokens-default", "8", "--prefill-overhead-ms", "30"]
# Every autoscaled variant: the same windows and scale-up rate (HPA's: double or +4 pods per period).
WINDOWS = {"metricsWindowSeconds": 10, "panicWindowSeconds": 3, "scaleDownStabilizationSeconds": 30,
           "scaleUpPeriodSeconds": 4, "scaleUpMaxPercent": 100, "scaleUpMaxPods": 4, "cooldownSeconds": 10,
           "metricsMaxAgeSeconds": 10}


@dataclass
class Replica:
    port: int
    proc: subprocess.Popen[bytes]
    started: float
    ready: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Fleet:
    """Plays the Deployment controller, kubelet and EndpointSlice controller for one pool."""

    workdir: Path
    startup_delay: float
    replicas: list[Replica] = field(default_factory=list)
    gateway: subprocess.Popen[bytes] | None = None
    gateway_port: int = 0
    replica_seconds: float = 0.0
    _accounted: float = 0.0
    _retire: list[Replica] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.workdir / "gateway.yaml"

    @property
    def sd_path(self) -> Path:
        return self.workdir / "targets.yml"

    def start_gateway(self) -> str:
        self.write_config()
        self.gateway_port = free_port()
        log = open(self.workdir / "gateway.log", "ab")  # noqa: SIM115 - kept open for the process' life
        self.gateway = subprocess.Popen(
            [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(self.config_path),
             "--host", "127.0.0.1", "--port", str(self.gateway_port), "--reload-interval", "0.1",
             "--log-level", "warning"], env=_env(), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.gateway_port}"
        wait_http(url + "/readyz", 30)
        return url

    def write_config(self) -> None:
        endpoints = [{"url": r.url} for r in self.replicas if r.ready]
        config = {"version": str(time.monotonic_ns()), "pools": [
            {"name": POOL, "models": [{"name": MODEL}], "endpoints": endpoints,
             "capacity": {"maxConcurrentSequences": MAX_SEQS}, "queue": {"maxWaitSeconds": 60}}]}
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config))
        os.replace(tmp, self.config_path)
        targets = [StaticTarget(f"127.0.0.1:{r.port}", {"namespace": NS, "pool": POOL}) for r in self.replicas
                   if r.ready]
        if self.gateway_port:
            targets.append(StaticTarget(f"127.0.0.1:{self.gateway_port}", {"namespace": NS, "gateway": "gw"}))
        tmp = self.sd_path.with_suffix(".tmp")
        tmp.write_text(file_sd(targets))
        os.replace(tmp, self.sd_path)

    def account(self, now: float) -> None:
        if self._accounted:
            self.replica_seconds += len(self.replicas) * (now - self._accounted)
        self._accounted = now

    def scale(self, desired: int) -> None:
        self.account(time.monotonic())
        changed = False
        while len(self.replicas) > desired:
            victim = min(self.replicas, key=lambda r: (r.ready, -r.started))  # starting ones first, then newest
            self.replicas.remove(victim)
            changed = changed or victim.ready
            self._retire.append(victim)
        if changed:
            self.write_config()  # out of the endpoints first, then stopped (as a terminating pod)
        for victim in self._retire:
            with contextlib.suppress(ProcessLookupError):
                victim.proc.send_signal(signal.SIGTERM)
        self._retire = []
        while len(self.replicas) < desired:
            port = free_port()
            log = open(self.workdir / f"sim-{port}.log", "ab")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
                 "--model", MODEL, "--max-num-seqs", str(MAX_SEQS), "--startup-delay-s", str(self.startup_delay),
                 "--log-level", "warning", *SIM_FLAGS], env=_env(), stdout=log, stderr=subprocess.STDOUT)
            self.replicas.append(Replica(port, proc, time.monotonic()))

    async def probe(self, client: httpx.AsyncClient) -> None:
        """Readiness: a starting replica that answers /health joins the endpoints."""
        changed = False
        for replica in self.replicas:
            if replica.ready:
                continue
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(replica.url + "/health", timeout=0.5)).status_code == 200:
                    replica.ready = changed = True
        if changed:
            self.write_config()

    def stop(self) -> None:
        for replica in self.replicas:
            replica.proc.kill()
        self.replicas = []
        if self.gateway is not None:
            self.gateway.kill()


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(url)


@dataclass
class Sample:
    started: float
    ttft: float | None


async def load(url: str, schedule: list[tuple[float, float]], samples: list[Sample]) -> None:
    """Open loop: ``schedule`` is [(duration, rate)]; every request is a stream; TTFT as the client sees it."""
    client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        started = time.monotonic()
        ttft = None
        try:
            stream = await client.chat.completions.create(
                model=MODEL, stream=True, messages=[{"role": "user", "content": "how do autoscalers work?"}])
            async for chunk in stream:
                if ttft is None and chunk.choices:
                    ttft = time.monotonic() - started
        except Exception:  # a failure is a miss; the figure counts it
            ttft = None
        samples.append(Sample(started, ttft))

    for duration, rate in schedule:
        end = time.monotonic() + duration
        next_at = time.monotonic()
        while time.monotonic() < end:
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    await client.close()


def pool_spec(variant: str, ttft_target: float, queue_target: float, max_replicas: int) -> InferencePoolSpec:
    autoscaling: dict[str, Any] = {"enabled": True, **WINDOWS, "saturationTarget": 0.7,
                                   "ttftP95TargetSeconds": None, "queueDepthPerReplica": None}
    if variant == "tokenway-q":
        autoscaling["queueDepthPerReplica"] = queue_target
    elif variant == "tokenway-ttft":
        autoscaling["ttftP95TargetSeconds"] = ttft_target
    elif variant == "hpa-rps":
        autoscaling.update(saturationTarget=None, panicThreshold=100)
    return InferencePoolSpec.model_validate({
        "models": [{"name": MODEL}], "capacity": {"maxConcurrentSequences": MAX_SEQS},
        "replicas": {"min": 1, "max": max_replicas}, "autoscaling": autoscaling})


async def hpa_observation(prom: PrometheusServer, ready: int, target_rps: float) -> Observation:
    """HPA on a request-rate custom metric: requests/s per ready replica over the stable window."""
    query = (f'sum(rate(tokenway_requests_total{{namespace="{NS}",pool="{POOL}"}}'
             f'[{WINDOWS["metricsWindowSeconds"]}s]))')
    try:
        result = await asyncio.to_thread(prom.query, query)
    except httpx.HTTPError as exc:
        return Observation(error=str(exc))
    rate = float(result[0]["value"][1]) if result else 0.0
    return Observation((Signal("requests/s", LOAD, target_rps, rate / max(1, ready)),), activity=rate,
                       sample_age=0.0)


@dataclass
class Outcome:
    variant: str
    within: float
    replica_seconds: float
    recover: float | None
    changes_after_step: int
    trajectory: list[tuple[float, int]]
    requests: int
    p95: float
    within_transient: float  # share within target in the first 30 s after the step


def rolling_recovery(samples: list[Sample], step: float, end: float, target: float) -> float | None:
    """Seconds from the step until every later 5 s window's TTFT p95 is under target (None: never)."""
    last_bad = None
    t = step
    while t < end - 5:
        window = [s.ttft if s.ttft is not None else math.inf for s in samples if t <= s.started < t + 5]
        if window and sorted(window)[min(len(window) - 1, round(0.95 * (len(window) - 1)))] > target:
            last_bad = t + 5
        t += 1
    return 0.0 if last_bad is None else (last_bad - step if last_bad < end - 5 else None)


def direction_changes(trajectory: list[tuple[float, int]], step: float) -> int:
    """Scale direction reversals after the step (up then down counts one)."""
    sizes = [n for t, n in trajectory if t < step][-1:] + [n for t, n in trajectory if t >= step]
    signs = [1 if b > a else -1 for a, b in itertools.pairwise(sizes) if b != a]
    return sum(1 for a, b in itertools.pairwise(signs) if a != b)


async def run_variant(variant: str, args: argparse.Namespace, workdir: Path) -> Outcome:
    fleet = Fleet(workdir, args.startup_delay)
    spec = pool_spec(variant, args.ttft_target, args.queue_target, args.max_replicas)
    fleet.sd_path.write_text("[]\n")
    prom = PrometheusServer(static_scrape_config([], interval="1s", file_sd=str(fleet.sd_path)),
                            workdir=workdir / "prometheus")
    prom.start()
    source = PrometheusSource(prom.url, ttl=0.5)
    samples: list[Sample] = []
    trajectory: list[tuple[float, int]] = []
    try:
        url = fleet.start_gateway()
        fleet.scale(args.peak_replicas if variant == "fixed" else 1)
        async with httpx.AsyncClient() as client:
            while not all(r.ready for r in fleet.replicas):
                await fleet.probe(client)
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # a few scrapes before traffic
            began = time.monotonic()
            step = began + args.before
            schedule = [(args.before, args.base_rate), (args.after, 4 * args.base_rate)]
            traffic = asyncio.create_task(load(url, schedule, samples))
            history = History()
            fleet.account(began)
            trajectory.append((0.0, len(fleet.replicas)))
            next_tick = time.monotonic()
            while not traffic.done():
                await fleet.probe(client)
                if variant != "fixed" and time.monotonic() >= next_tick:
                    next_tick += 1.0
                    decision = await decide_once(variant, spec, source, prom, fleet, history, args)
                    history = decision.history
                    if args.verbose and (decision.desired != len(fleet.replicas) or args.verbose > 1):
                        print(f"    t={time.monotonic() - began:5.1f}s ready {sum(r.ready for r in fleet.replicas)}"
                              f"/{len(fleet.replicas)}: {decision.reason}", flush=True)
                    if decision.desired != len(fleet.replicas):
                        fleet.scale(decision.desired)
                        trajectory.append((time.monotonic() - began, decision.desired))
                await asyncio.sleep(0.1)
            end = time.monotonic()
            fleet.account(end)
    finally:
        source.close()
        fleet.stop()
        prom.close()
    ttfts = [s.ttft if s.ttft is not None else math.inf for s in samples]
    within = sum(1 for t in ttfts if t <= args.ttft_target) / max(1, len(ttfts))
    changes = direction_changes(trajectory, args.before)
    ordered = sorted(ttfts)
    transient = [s.ttft if s.ttft is not None else math.inf for s in samples if step <= s.started < step + 30]
    return Outcome(variant, within, fleet.replica_seconds, rolling_recovery(samples, step, end, args.ttft_target),
                   changes, trajectory, len(samples), ordered[round(0.95 * (len(ordered) - 1))] if ordered else 0,
                   sum(1 for t in transient if t <= args.ttft_target) / max(1, len(transient)))


async def decide_once(variant: str, spec: InferencePoolSpec, source: PrometheusSource, prom: PrometheusServer,
                      fleet: Fleet, history: History, args: argparse.Namespace) -> Decision:
    current = len(fleet.replicas)
    ready = sum(1 for r in fleet.replicas if r.ready)
    if variant == "hpa-rps":
        obs = await hpa_observation(prom, ready, args.rps_target)
    else:
        obs = observation(spec, await source.measure(NS, POOL, spec), ready)
    return decide(spec, obs, current, ready, history, time.time())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-rate", type=float, default=2.5, help="requests/s before the step (x4 after)")
    parser.add_argument("--before", type=float, default=90.0, help="seconds at the base rate")
    parser.add_argument("--after", type=float, default=150.0, help="seconds at 4x")
    parser.add_argument("--ttft-target", type=float, default=0.5, help="TTFT p95 target, seconds")
    parser.add_argument("--queue-target", type=float, default=2.0, help="waiting requests per replica")
    parser.add_argument("--rps-target", type=float, default=4.0,
                        help="hpa-rps: requests/s per replica (70%% of the ~5.5 one replica serves)")
    parser.add_argument("--peak-replicas", type=int, default=3, help="the fixed pool's size (sized for the peak)")
    parser.add_argument("--max-replicas", type=int, default=8)
    parser.add_argument("--startup-delay", type=float, default=3.0, help="simulated model loading, seconds")
    parser.add_argument("--variants", default="fixed,hpa-rps,tokenway-q,tokenway-ttft")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="print scale decisions (-vv: all)")
    args = parser.parse_args()
    if prometheus_binary() is None:
        print("prometheus is not installed (./dev installs the Debian package)", file=sys.stderr)
        return 2
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.base_rate:g} -> {4 * args.base_rate:g} req/s at t={args.before:g}s for {args.after:g}s; "
          f"TTFT target {args.ttft_target}s; replica start {args.startup_delay:g}s + process start")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="tw-autoscale-") as tmp:
        for variant in args.variants.split(","):
            (Path(tmp) / variant).mkdir()
            outcome = asyncio.run(run_variant(variant, args, Path(tmp) / variant))
            outcomes.append(outcome)
            print(f"  {variant:14s} done: {outcome.requests} requests, replicas {outcome.trajectory}", flush=True)
    fixed = next((o for o in outcomes if o.variant == "fixed"), None)
    print(f"\n{'variant':14s} {'within target':>13s} {'first 30 s':>10s} {'TTFT p95':>9s} {'replica-s':>10s} "
          f"{'vs fixed':>9s} {'recover':>8s} {'dir. changes':>12s}")
    for o in outcomes:
        ratio = f"{o.replica_seconds / fixed.replica_seconds:.2f}x" if fixed else "-"
        recover = "never" if o.recover is None else f"{o.recover:.0f}s"
        print(f"{o.variant:14s} {100 * o.within:12.1f}% {100 * o.within_transient:9.1f}% {o.p95:8.3f}s "
              f"{o.replica_seconds:10.0f} {ratio:>9s} {recover:>8s} {o.changes_after_step:12d}")
    ok = True
    for o in outcomes:
        if o.variant.startswith("tokenway"):
            checks = {"within >= 95%": o.within >= 0.95, "<= 1 direction change": o.changes_after_step <= 1,
                      "fewer replica-s than fixed": fixed is None or o.replica_seconds < fixed.replica_seconds}
            print(f"targets {o.variant}: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
            ok = ok and all(checks.values())
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
