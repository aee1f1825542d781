"""`tokenway up`: the embedded default, a gateway in front of a simulated pool on loopback.

No cluster, no GPU: simulator processes stand in for vLLM replicas, the gateway
runs in this process, and a live table shows what each pool is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from .config.file_source import FileConfigSource
from .config.store import ConfigStore
from .observability.logs import configure_logging
from .observability.metrics import GatewayMetrics
from .observability.quantiles import bucket_counts, counter_total, histogram_quantile, subtract
from .proxy.gateway import Gateway
from .server.lifecycle import GatewayServer, ListenError

DESCRIPTION = """Run the embedded default: a Tokenway gateway in front of a simulated pool.

Starts simulator replicas (vLLM-like, no GPU) for two models on loopback, a gateway
in front of them, prints how to call it with curl and the openai SDK, and shows live
per-pool figures (requests, TTFT p50/p95, tokens/s). Ctrl-C stops everything."""


@dataclass
class DemoPool:
    name: str
    model: str
    aliases: list[str]
    replicas: int
    ports: list[int] = field(default_factory=list)


DEMO_POOLS = [
    DemoPool("llama", "llama-3.1-8b-instruct", ["llama"], 2),
    DemoPool("qwen", "qwen2.5-7b-instruct", ["qwen"], 1),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="gateway listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="gateway port (default 8080; 0 picks a free one)")
    parser.add_argument("--traffic", type=float, default=1.0,
                        help="built-in demo requests per second so the figures move (0 turns it off)")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop after this many seconds (0: run until Ctrl-C)")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between live figure updates")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, json_lines=False)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    workdir = Path(tempfile.mkdtemp(prefix="tokenway-up-"))
    procs = _start_simulators(workdir)
    try:
        _wait_healthy()
        config_path = workdir / "gateway.yaml"
        config_path.write_text(yaml.safe_dump(demo_config(), sort_keys=False))
        return asyncio.run(_serve(args, config_path))
    finally:
        _stop_processes(procs)
        if os.environ.get("TOKENWAY_KEEP_LOGS") is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_simulators(workdir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for pool in DEMO_POOLS:
        for index in range(pool.replicas):
            port = _free_port()
            pool.ports.append(port)
            log_file = open(workdir / f"sim-{pool.name}-{index}.log", "wb")  # noqa: SIM115  # lives as long as the process
            cmd = [sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
                   "--model", pool.model, "--seed", str(index)]
            for alias in pool.aliases:
                cmd += ["--served-model-name", alias]
            procs.append(subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT))
    return procs


def demo_config() -> dict[str, object]:
    return {
        "version": "demo-1",
        "pools": [
            {
                "name": pool.name,
                "models": [{"name": pool.model, "aliases": pool.aliases}],
                # The simulated replicas serve vLLM's metrics: pick by queue, KV cache and prefix affinity.
                "loadBalancing": {"algorithm": "llm-aware"},
                "endpoints": [{"url": f"http://127.0.0.1:{port}", "name": f"{pool.name}-{i}"}
                              for i, port in enumerate(pool.ports)],
            }
            for pool in DEMO_POOLS
        ],
    }


def _wait_healthy(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        for pool in DEMO_POOLS:
            for port in pool.ports:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"simulator on port {port} did not become healthy in {timeout:g}s")
                    time.sleep(0.1)


def _stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _banner(url: str, config_path: Path) -> str:
    model = DEMO_POOLS[0].model
    pools = ", ".join(f"{p.name} ({p.model}, {p.replicas} simulated replica{'s' if p.replicas > 1 else ''})"
                      for p in DEMO_POOLS)
    return f"""
Tokenway is up at {url}   (config: {config_path}, edit it and it reloads)
Pools: {pools}

  curl {url}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}], "stream": true}}'

  python -c 'from openai import OpenAI; c = OpenAI(base_url="{url}/v1", api_key="none"); \\
r = c.chat.completions.create(model="{model}", messages=[{{"role": "user", "content": "Hi"}}]); \\
print(r.choices[0].message.content)'

Metrics: {url}/metrics    Ctrl-C stops everything.
"""


class Dashboard:
    """Per-pool figures over the last refresh window, from the gateway's own histograms."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics
        self.last_time = time.monotonic()
        self.last: dict[str, tuple[list[tuple[float, float]], float]] = {}
        self.lines_drawn = 0

    def render(self) -> str:
        registry = self.metrics.registry
        now = time.monotonic()
        elapsed = max(now - self.last_time, 1e-6)
        self.last_time = now
        rows = [f"{'pool':<8} {'requests':>9} {'TTFT p50':>9} {'TTFT p95':>9} {'tokens/s':>9}"]
        for pool in DEMO_POOLS:
            match = {"pool": pool.name}
            buckets = bucket_counts(registry, "tokenway_ttft_seconds", match)
            requests = counter_total(registry, "tokenway_requests", match)
            tokens = counter_total(registry, "tokenway_completion_tokens", match)
            before_buckets, before_tokens = self.last.get(pool.name, ([], 0.0))
            window = subtract(buckets, before_buckets)
            self.last[pool.name] = (buckets, tokens)
            p50, p95 = histogram_quantile(0.5, window), histogram_quantile(0.95, window)
            rows.append(f"{pool.name:<8} {int(requests):>9} {_ms(p50):>9} {_ms(p95):>9} "
                        f"{(tokens - before_tokens) / elapsed:>9.1f}")
        return "\n".join(rows)

    def draw(self) -> None:
        text = self.render()
        if sys.stdout.isatty() and self.lines_drawn:
            sys.stdout.write(f"\x1b[{self.lines_drawn}F\x1b[J")
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self.lines_drawn = text.count("\n") + 1


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


async def _demo_traffic(url: str, rate: float) -> None:
    """A gentle stream of chat requests across both models so the table shows live figures."""
    prompts = ["Explain KV caching in one paragraph.", "Write a haiku about GPUs.", "What is TTFT?"]
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        turn = 0
        while True:
            pool = DEMO_POOLS[turn % len(DEMO_POOLS)]
            body = {"model": pool.model, "stream": True, "max_tokens": 32,
                    "messages": [{"role": "user", "content": prompts[turn % len(prompts)]}]}
            turn += 1
            with contextlib.suppress(httpx.HTTPError):
                async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    async for _ in response.aiter_bytes():
                        pass
            await asyncio.sleep(1.0 / rate)


async def _serve(args: argparse.Namespace, config_path: Path) -> int:
    store = ConfigStore()
    source = FileConfigSource(config_path, store)
    source.load_now()
    metrics = GatewayMetrics()
    server = GatewayServer(Gateway(store, metrics), args.host, args.port)
    try:
        await server.start()
    except ListenError as exc:
        print(f"tokenway up: {exc} (pick another with --port)", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{server.port}"
    print(_banner(url, config_path), flush=True)
    tasks = [asyncio.create_task(source.run())]
    if args.traffic > 0:
        tasks.append(asyncio.create_task(_demo_traffic(url, args.traffic)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    dashboard = Dashboard(metrics)
    started = time.monotonic()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.refresh)
            dashboard.draw()
            if args.duration and time.monotonic() - started >= args.duration:
                break
        print("\nstopping...", flush=True)
    finally:
        for task in tasks:
            task.cancel()
        await server.drain(5.0)
        await server.stop()
    return 0
