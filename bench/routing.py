#!/usr/bin/env python3
"""Routing quality: where requests go decides TTFT. Peers and Tokenway on one simulated fleet.

Every target gets a fresh fleet of `--replicas` simulated vLLM replicas (`tokenway sim`,
prefix caching on, few batch slots, a KV cache too small to hold every tenant's
context everywhere), and plays the same workload (bench/workload.py: many tenants with
long shared system contexts, several users each, multi-turn chats, open-loop arrivals
near the fleet's saturation). Targets (--targets, comma separated):

  round-robin           Tokenway gateway, loadBalancing.algorithm round-robin
  least-request         Tokenway gateway, least-request
  vllm-router-cache     vllm-router --policy cache_aware (pip vllm-router)
  vllm-router-p2        vllm-router --policy power_of_two
  tokenway              Tokenway gateway, llm-aware (default settings unless --lb-json), 1 replica
  tokenway-3            three Tokenway gateways with one config; each request picks one at random
                        (as a Kubernetes Service spreads connections): no state is shared

Reported per target: TTFT p50/p90/p99 (client side, first content chunk; requests that
started after --warmup seconds), errors, output tokens/s (the fleet's
vllm:generation_tokens over the run), and the fleet's prefix-cache hit rate
(vllm:prefix_cache_hits / vllm:prefix_cache_queries, summed over replicas, over the run).
Then the issue's targets as PASS/FAIL: Tokenway p90 TTFT <= 0.2x round robin and <= vllm-router
cache_aware's; the 3-replica prefix-hit rate within 2 points of 1 replica's.

Tune on one seed, report on another (`--seed`): the workload's prompts, tenants and
arrivals all follow the seed. A JSON file with every figure lands in bench/results/.

    bench/setup.sh                                   # vllm-router (pip), once
    python bench/routing.py --seed 11                # every target, ~12 minutes
    python bench/routing.py --targets tokenway,round-robin --duration 30 --seed 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from workload import Player, Result, WorkloadSpec, build, percentile  # noqa: E402

ALL_TARGETS = ["round-robin", "least-request", "vllm-router-cache", "vllm-router-p2", "tokenway", "tokenway-3"]
MODEL = "bench-model"
# The fleet: prefill is compute-bound and serialized (one prefill lane per replica, as chunked prefill
# on one GPU), so uncached prompt tokens are what queues requests: a 2,000-4,000 token prompt takes
# 0.5-1 s to prefill uncached; 16 batch slots; 2,048 KV blocks (32k tokens) per replica hold the
# contexts of about a dozen tenants, not all sixteen with their conversations.
FLEET_ARGS = ["--max-num-seqs", "16", "--prefill-lanes", "1", "--kv-cache-blocks", "2048", "--block-size", "16",
              "--prefill-overhead-ms", "20", "--prefill-ms-per-token", "0.25", "--itl-ms", "10",
              "--itl-growth-per-seq", "0.03"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env() -> dict[str, str]:
    out = dict(os.environ)
    extra = [str(REPO / "dataplane"), str(REPO / "operator")]
    out["PYTHONPATH"] = os.pathsep.join(extra + ([out["PYTHONPATH"]] if out.get("PYTHONPATH") else []))
    return out


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def spawn(name: str, cmd: list[str], port: int, logdir: Path) -> Proc:
    log = open(logdir / f"{name}-{port}.log", "wb")  # noqa: SIM115  # closed with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env(), cwd=REPO)
    return Proc(name, proc, port)


def wait_ready(proc: Proc, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}")
        try:
            with urllib.request.urlopen(proc.url + path, timeout=1.0) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{proc.name} not ready on {path} after {timeout}s")


def start_fleet(args: argparse.Namespace, logdir: Path) -> list[Proc]:
    fleet = []
    for i in range(args.replicas):
        port = free_port()
        cmd = [sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
               "--model", MODEL, "--log-level", "warning", "--seed", str(i), *FLEET_ARGS, *args.sim_arg]
        fleet.append(spawn(f"sim{i}", cmd, port, logdir))
    for sim in fleet:
        wait_ready(sim, "/health")
    return fleet


def gateway_config(fleet: list[Proc], lb: dict[str, Any]) -> str:
    return json.dumps({
        "version": "1",
        "pools": [{"name": "fleet", "models": [{"name": MODEL}], "loadBalancing": lb,
                   "endpoints": [{"url": sim.url} for sim in fleet]}],
    })


def start_router(target: str, fleet: list[Proc], args: argparse.Namespace, workdir: Path,
                 logdir: Path) -> list[Proc]:
    urls = [sim.url for sim in fleet]
    if target.startswith("vllm-router"):
        port = free_port()
        policy = "cache_aware" if target == "vllm-router-cache" else "power_of_two"
        cmd = [args.vllm_router_python, "-m", "vllm_router.launch_router", "--host", "127.0.0.1", "--port", str(port),
               "--worker-urls", *urls, "--policy", policy, "--log-level", "warning",
               "--prometheus-port", str(free_port()), "--rate-limit-tokens-per-second", "10000000"]
        router = spawn(target, cmd, port, logdir)
        wait_ready(router, "/health", 120.0)
        return [router]
    if target in ("round-robin", "least-request"):
        lb: dict[str, Any] = {"algorithm": target}
    else:
        lb = {"algorithm": "llm-aware", **json.loads(args.lb_json)}
    config = workdir / f"{target}.json"
    config.write_text(gateway_config(fleet, lb))
    gateways = []
    for i in range(3 if target == "tokenway-3" else 1):
        port = free_port()
        cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(config),
               "--host", "127.0.0.1", "--port", str(port)]
        gateways.append(spawn(f"{target}-{i}", cmd, port, logdir))
    for gateway in gateways:
        wait_ready(gateway, "/readyz")
    return gateways


def fleet_counters(fleet: list[Proc]) -> dict[str, float]:
    names = {"vllm:prefix_cache_queries_total": "queries", "vllm:prefix_cache_hits_total": "hits",
             "vllm:generation_tokens_total": "generated", "vllm:prompt_tokens_total": "prompt"}
    totals = dict.fromkeys(names.values(), 0.0)
    for sim in fleet:
        with urllib.request.urlopen(sim.url + "/metrics", timeout=5) as response:
            page = response.read().decode()
        for line in page.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in names:
                totals[names[name]] += float(line.rsplit(" ", 1)[1])
    return totals


@dataclass
class Figures:
    target: str
    requests: int = 0
    measured: int = 0
    errors: int = 0
    ttft_p50: float = float("nan")
    ttft_p90: float = float("nan")
    ttft_p99: float = float("nan")
    output_tokens_per_s: float = 0.0
    prefix_hit_rate: float = 0.0
    wall_s: float = 0.0
    per_replica_prompt_share: list[float] = field(default_factory=list)


def run_target(target: str, args: argparse.Namespace, workdir: Path, logdir: Path) -> tuple[Figures, list[Result]]:
    fleet = start_fleet(args, logdir)
    routers: list[Proc] = []
    try:
        routers = start_router(target, fleet, args, workdir, logdir)
        before = fleet_counters(fleet)
        per_before = [fleet_counters([sim])["prompt"] for sim in fleet]
        workload = build(spec_from(args))
        started = time.perf_counter()
        results = asyncio.run(Player(workload, [r.url for r in routers], MODEL, args.seed).run())
        wall = time.perf_counter() - started
        after = fleet_counters(fleet)
        per_after = [fleet_counters([sim])["prompt"] for sim in fleet]
    finally:
        for proc in routers + fleet:
            proc.stop()
    measured = [r for r in results if r.start >= args.warmup]
    ttfts = [r.ttft for r in measured if r.ttft is not None and r.status == 200]
    queries = after["queries"] - before["queries"]
    prompts = [a - b for a, b in zip(per_after, per_before, strict=True)]
    figures = Figures(
        target=target, requests=len(results), measured=len(measured),
        errors=sum(1 for r in results if r.status != 200 or r.ttft is None),
        ttft_p50=percentile(ttfts, 50), ttft_p90=percentile(ttfts, 90), ttft_p99=percentile(ttfts, 99),
        output_tokens_per_s=(after["generated"] - before["generated"]) / wall,
        prefix_hit_rate=(after["hits"] - before["hits"]) / queries if queries else 0.0,
        wall_s=wall, per_replica_prompt_share=[round(p / (sum(prompts) or 1), 3) for p in prompts],
    )
    return figures, results


def spec_from(args: argparse.Namespace) -> WorkloadSpec:
    return WorkloadSpec(seed=args.seed, conversation_rate=args.rate, duration=args.duration,
                        tenants=args.tenants, send_user=args.send_user)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(ALL_TARGETS))
    parser.add_argument("--seed", type=int, default=11, help="workload seed (tune on one, report on another)")
    parser.add_argument("--rate", type=float, default=5.0,
                        help="conversations per second (default %(default)s: ~20 requests/s, near the fleet's "
                             "saturation under round robin)")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of conversation arrivals")
    parser.add_argument("--warmup", type=float, default=30.0,
                        help="requests started earlier are not measured (cold caches, group sizes settling)")
    parser.add_argument("--tenants", type=int, default=WorkloadSpec.tenants)
    parser.add_argument("--send-user", action="store_true", help="send the OpenAI `user` field (a session key)")
    parser.add_argument("--replicas", type=int, default=6)
    parser.add_argument("--sim-arg", action="append", default=[], help="extra `tokenway sim` flag (repeat)")
    parser.add_argument("--lb-json", default="{}", help="extra loadBalancing settings for the tokenway targets")
    parser.add_argument("--vllm-router-python", default=sys.executable)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    workload = build(spec_from(args))
    shape = workload.describe()
    print(f"workload seed {args.seed}: {shape['conversations']} conversations, {shape['requests']} requests "
          f"({shape['request_rate']}/s over {args.duration:g}s), {args.tenants} tenants, system context "
          f"~{shape['system_tokens_mean']} tokens, {args.replicas} replicas: {' '.join(FLEET_ARGS + args.sim_arg)}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    logdir = results_dir / f"routing-logs-{stamp}"
    logdir.mkdir()
    all_figures: dict[str, Figures] = {}
    raw: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            print(f"  running {target} ...", flush=True)
            try:
                figures, results = run_target(target, args, Path(tmp), logdir)
            except (RuntimeError, TimeoutError, OSError) as exc:
                print(f"  {target} failed: {exc} (logs in {logdir})")
                continue
            all_figures[target] = figures
            raw[target] = [asdict(r) for r in results]
            print(f"  {target}: p90 {figures.ttft_p90:.3f}s, hit {figures.prefix_hit_rate:.1%}", flush=True)
    print()
    print(f"{'target':<20}{'TTFT p50':>10}{'p90':>9}{'p99':>9}{'out tok/s':>11}{'prefix hit':>12}{'errors':>8}"
          f"{'requests':>10}  prompt share per replica")
    for f in all_figures.values():
        print(f"{f.target:<20}{f.ttft_p50:>10.3f}{f.ttft_p90:>9.3f}{f.ttft_p99:>9.3f}{f.output_tokens_per_s:>11.1f}"
              f"{f.prefix_hit_rate:>12.1%}{f.errors:>8}{f.measured:>10}  {f.per_replica_prompt_share}")
    print()
    verdicts = check_targets(all_figures)
    for line in verdicts:
        print(line)
    out = Path(args.out) if args.out else results_dir / f"routing-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "fleet_args": FLEET_ARGS, "workload": shape,
                               "figures": {k: asdict(v) for k, v in all_figures.items()},
                               "verdicts": verdicts, "results": raw}, indent=1, default=str))
    print(f"\nJSON: {out}\nlogs: {logdir}")
    return 0


def check_targets(figures: dict[str, Figures]) -> list[str]:
    lines = []
    tw, rr, ca, tw3 = (figures.get(k) for k in ("tokenway", "round-robin", "vllm-router-cache", "tokenway-3"))
    if tw and rr:
        ratio = tw.ttft_p90 / rr.ttft_p90
        lines.append(f"{'PASS' if ratio <= 0.2 else 'FAIL'}  tokenway p90 TTFT {tw.ttft_p90:.3f}s = {ratio:.2f}x "
                     f"round robin's {rr.ttft_p90:.3f}s (target <= 0.2x)")
    if tw and ca:
        lines.append(f"{'PASS' if tw.ttft_p90 <= ca.ttft_p90 else 'FAIL'}  tokenway p90 TTFT {tw.ttft_p90:.3f}s vs "
                     f"vllm-router cache_aware {ca.ttft_p90:.3f}s (target <=)")
    if tw and tw3:
        gap = (tw.prefix_hit_rate - tw3.prefix_hit_rate) * 100
        lines.append(f"{'PASS' if gap <= 2.0 else 'FAIL'}  prefix-hit rate 3 replicas {tw3.prefix_hit_rate:.1%} vs "
                     f"1 replica {tw.prefix_hit_rate:.1%} (target: within 2 points)")
    for f in figures.values():
        if f.errors:
            lines.append(f"NOTE  {f.target}: {f.errors} failed requests")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
