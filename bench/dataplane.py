#!/usr/bin/env python3
"""Dataplane benchmark: Tokenway against vllm-router and HAProxy, side by side, in one run.

Every target sits in front of the same fast fake upstream (``bench/fake_upstream.py``)
and every figure is measured for all targets back to back in the same run, so the
ratios stay fair on a noisy machine even when the absolute numbers do not.

Targets (``--targets``, comma separated, in this order by default):
  direct       the client talks to the fake upstream itself: the floor for latency
               and the ceiling for throughput of this harness on this machine;
  haproxy      HAProxy in HTTP mode, one thread, keep-alive and connection reuse to
               the upstream (``http-reuse always``) and ``option http-no-delay``
               (without it HAProxy coalesces SSE chunks into ~4 KiB writes and
               TTFT jumps to ~90 ms): the C baseline;
  vllm-router  the Rust router from ``pip install vllm-router``, started as
               ``python -m vllm_router.launch_router --worker-urls UPSTREAM
               --policy round_robin --port P --log-level warning`` (its token-bucket
               rate limit is raised so it does not cap throughput);
  tokenway     ``python -m tokenway_gateway.cli gateway --config FILE --port P`` with
               PYTHONPATH=dataplane:operator and a generated config with one pool;
  tokenway-chain  the same gateway and config (the default picker, least-request) with
               ``TOKENWAY_BENCH_NOOP_STAGES=--noop-stages`` (4) no-op stages on the route
               and ``TOKENWAY_STAGE_TIMING=1``: its /metrics counters, read before and
               after each throughput round, give CPU-us per request per stage.
  tokenway-policies  the gateway with issue 8's access policies on: API keys (wrk sends a
               valid key), memory rate limits on every request (limits high enough never
               to refuse) and the prompt guard (block) on one RoutePolicy rule.
  tokenway-cache  the gateway with an exact, in-memory response cache on every request and 0%
               hits: wrk sends bench/wrk/chat_cache_miss.lua (temperature 0, a new prompt on every
               request and run), so each request is looked up, missed, relayed and stored; streams
               bypass the cache (cacheStreaming: false), so its streaming figures are the plain relay's.

All targets run at once (idle while another is measured). Figures, phase by phase;
within a phase the targets take turns for ``--rounds`` rounds (default 3) and the
median of the rounds is reported, so background load drifting over the run hits
every target alike:
  1. non-streaming latency at 1 connection: ``wrk -t1 -c1``; p50/p99, and the p50
     added over direct;
  2. non-streaming throughput at 32 connections: ``wrk -t1 -c32``; req/s, p50/p99,
     ratio to vllm-router, the proxy's CPU use (1.0 = one core saturated) and the
     rest of the proxy core's busy time ("other cpu": other jobs on the machine;
     a WARNING line is printed when it is high);
  3. streaming at 64 concurrent streams (``bench/stream_client.py``): TTFT and
     inter-token latency (ITL) p50/p99 and their deltas over direct;
  4. memory soak: RSS (VmRSS, summed over the proxy's process tree) before and after
     ``--soak-requests`` non-streaming requests (wrk, 32 connections).
  5. scaling (``bench/scaling.py``, unless ``--no-scaling``): Tokenway's req/s with 1, 10,
     100 and 1,000 endpoints in one pool and 1, 64 and 256 header rules, against the
     1-endpoint, 1-rule figure.
Every proxy's CPU-us per request (utime+stime of its process tree over the throughput
rounds / requests) and tokenway-chain's per-stage costs are printed in their own table.
Then the targets from the issue, as PASS/FAIL lines for every proxy target:
  req/s >= 1.0x vllm-router; added p50 at 1 connection <= 0.2 ms over direct;
  streaming TTFT p50 and ITL p99 within 1 ms of direct; RSS growth < 10 %;
and issue 6's: tokenway-chain req/s >= 1.4x vllm-router; added p50 <= 0.12 ms over
direct; req/s at 1,000 endpoints and at 256 rules >= 0.8x the 1-endpoint, 1-rule figure.
A JSON file with everything lands in ``bench/results/`` (gitignored).

CPU pinning (``taskset``), the default when the machine has at least two CPUs:
  CPU 0: the load generators (wrk, the stream client) and the fake upstream;
  CPU 1: the proxy under test, whichever it is, alone.
Every proxy therefore gets exactly one core (HAProxy runs one thread; vllm-router's
tokio threads and any Tokenway worker processes all share CPU 1), and a proxy never
competes with the load it is measured under. The price: the load side also has one
core, so the direct figure is the harness's ceiling; a proxy whose req/s comes close
to it (>= 90 %) is marked "load-bound" and its figure is a lower bound. On a bigger
machine, give the proxy and the load more CPUs with ``--proxy-cpus`` / ``--load-cpus``
/ ``--upstream-cpus``; ``--no-pin`` turns pinning off. On a busy machine (a build next
door), ``--nice -10`` (root) runs every benchmark process at that niceness.

Run ``bench/setup.sh`` once (wrk, haproxy, vllm-router), then
``python bench/dataplane.py`` (about 6-7 minutes with the scaling run) or ``python bench/dataplane.py --quick``
(about 2 minutes, smaller samples, for smoke tests).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WRK_SCRIPT = BENCH / "wrk" / "chat.lua"
ALL_TARGETS = ["direct", "haproxy", "vllm-router", "tokenway", "tokenway-chain", "tokenway-policies", "tokenway-cache",
               "tokenway-llm-aware"]
PROXY_REF = "vllm-router"
CHAT_PATH = "/v1/chat/completions"

# Targets from the issue.
MIN_RPS_RATIO = 1.0
MAX_ADDED_P50_MS = 0.2
MAX_STREAM_DELTA_MS = 1.0
MAX_RSS_GROWTH = 0.10
LOAD_BOUND = 0.9
# Issue 6's targets (the stage chain, bench/scaling.py's ratios are checked in the same run).
CHAIN_TARGET = "tokenway-chain"  # tokenway with TOKENWAY_BENCH_NOOP_STAGES=--noop-stages and TOKENWAY_STAGE_TIMING=1
MIN_CHAIN_RPS_RATIO = 1.4
MAX_ADDED_P50_MS_ISSUE6 = 0.12
# Issue 8's target: the whole chain with auth, memory rate limits and the guard on.
POLICIES_TARGET = "tokenway-policies"
MIN_POLICIES_RPS_RATIO = 1.3
BENCH_KEY = "tw-bench-dataplane-key"
TARGET_HEADERS: dict[str, str] = {}  # target url -> one request header its clients send (the API key)
# Issue 9's target: an exact memory cache on, 0% hits, still well ahead of vllm-router.
CACHE_TARGET = "tokenway-cache"
MIN_CACHE_RPS_RATIO = 1.3
TARGET_SCRIPTS: dict[str, Path] = {}  # target url -> the wrk script its load uses instead of WRK_SCRIPT
# Issue 7's target: llm-aware picking on (a pool of 4 endpoint URLs on the fake upstream, which serves
# vLLM's gauges, so the scraper and every scorer run).
LLM_AWARE_TARGET = "tokenway-llm-aware"
MIN_LLM_AWARE_RPS_RATIO = 1.3
NOISY_CORE = 0.15  # share of the proxy's core used by other work above which the run is called noisy


# ----------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NICE = 0  # --nice: applied to every process the harness starts


def pinned(cpus: str | None, cmd: list[str]) -> list[str]:
    """cmd under taskset (when pinning) and nice (when --nice)."""
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    if NICE:
        cmd = ["nice", "-n", str(NICE), *cmd]
    return cmd


def proc_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pid: int) -> int:
    """VmRSS summed over the process tree, KiB."""
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """utime+stime of the process tree (all threads), seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def http_ok(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 2.0,
            extra: dict[str, str] | None = None) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        headers.update(extra or {})
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def pct_delta(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    return a - b


def fmt(v: Any, spec: str = ".2f", none: str = "-") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return none
    if isinstance(v, str):
        return v
    return format(v, spec)


def table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = [
        f"\n{title}",
        "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))),
    ]
    out.append(line)
    for r in rows:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(out)


# ----------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)  # its own session: only what we started
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def spawn(name: str, cmd: list[str], logdir: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
    log_path = logdir / f"{name}.log"
    f = open(log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
    f.write(("$ " + " ".join(cmd) + "\n").encode())
    f.flush()
    popen = subprocess.Popen(
        cmd,
        stdout=f,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
    )
    return Proc(name, popen, log_path)


@dataclass
class Target:
    name: str
    port: int
    proc: Proc | None = None  # None for direct
    startup_s: float = 0.0
    error: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CHAT_PATH}"


NONSTREAM_BODY = json.dumps(
    {"model": "bench-model", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 4}
).encode()


def wait_ready(port: int, proc: Proc | None, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            tail = proc.log_tail()
            last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "")
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {last}\n{tail}")
        if http_ok(port, "POST", CHAT_PATH, NONSTREAM_BODY, timeout=1.0, extra=headers):
            return
        time.sleep(0.1)
    tail = proc.log_tail() if proc else ""
    raise RuntimeError(f"not ready after {timeout:.0f}s (POST {CHAT_PATH} never answered 200)\n{tail}")


def start_upstream(args: argparse.Namespace, logdir: Path, host: str = "127.0.0.1",
                   name: str = "upstream") -> tuple[Proc, int]:
    port = free_port()
    cmd = pinned(
        args.upstream_cpus,
        [
            sys.executable,
            str(BENCH / "fake_upstream.py"),
            "--port",
            str(port),
            "--model",
            args.model,
            "--tokens",
            str(args.tokens),
            "--interval-ms",
            str(args.interval_ms),
            "--ttft-ms",
            str(args.ttft_ms),
            "--workers",
            str(args.upstream_workers),
            "--host",
            host,
        ],
    )
    proc = spawn(name, cmd, logdir)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"fake upstream exited:\n{proc.log_tail()}")
        if http_ok(port, "GET", "/health", timeout=0.5):
            return proc, port
        time.sleep(0.05)
    raise RuntimeError(f"fake upstream not ready:\n{proc.log_tail()}")


def haproxy_cmd(port: int, upstream: int, workdir: Path) -> list[str]:
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(
        f"""global
    maxconn 4096
    nbthread 1
defaults
    mode http
    option http-keep-alive
    # relay each SSE chunk at once (default coalesces with MSG_MORE: ~90 ms TTFT)
    option http-no-delay
    http-reuse always
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server up1 127.0.0.1:{upstream} maxconn 4096
"""
    )
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return [exe, "-db", "-f", str(cfg)]


def vllm_router_cmd(port: int, upstream: int, python: str) -> list[str]:
    return [
        python,
        "-m",
        "vllm_router.launch_router",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--worker-urls",
        f"http://127.0.0.1:{upstream}",
        "--policy",
        "round_robin",
        "--log-level",
        "warning",
        "--prometheus-port",
        str(free_port()),
        # the default token bucket refills at max_concurrent_requests (32768) per second:
        # raise it so a rate limiter is not what the throughput figure measures
        "--rate-limit-tokens-per-second",
        "10000000",
    ]


def tokenway_cmd(port: int, upstream: int, workdir: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    cfg = workdir / "tokenway.yaml"
    cfg.write_text(
        f"""version: "1"
pools:
  - name: fake
    models: [{{name: {args.model}}}]
    endpoints: [{{url: "http://127.0.0.1:{upstream}"}}]
"""
    )
    cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(cfg), "--port", str(port)]
    return cmd + list(args.tokenway_arg or []), tokenway_env(args)


def policies_cmd(port: int, upstream: int, workdir: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """tokenway_cmd's gateway with a key, memory rate limits and the prompt guard on every request."""
    import hashlib

    cmd, env = tokenway_cmd(port, upstream, workdir, args)
    cfg = workdir / "tokenway-policies.yaml"
    digest = hashlib.sha256(BENCH_KEY.encode()).hexdigest()
    cfg.write_text((workdir / "tokenway.yaml").read_text() + f"""auth:
  keys: [{{sha256: "{digest}", tenant: bench, tier: bench}}]
routes:
  - name: policies
    rules: [{{name: all, match: {{models: [{args.model}]}}, backends: [{{pool: fake}}]}}]
    rateLimits: [{{tier: bench, requestsPerMinute: 1000000000, tokensPerMinute: 1000000000000}}]
    promptGuard: {{enabled: true, action: block}}
""")
    cmd[cmd.index("--config") + 1] = str(cfg)
    return cmd, env


def cache_cmd(port: int, upstream: int, workdir: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """tokenway_cmd's gateway with an exact, in-memory response cache on every request (streams bypass it)."""
    cmd, env = tokenway_cmd(port, upstream, workdir, args)
    cfg = workdir / "tokenway-cache.yaml"
    cfg.write_text((workdir / "tokenway.yaml").read_text() + """caches:
  - {name: exact, mode: exact, backend: memory, cacheStreaming: false}
""")
    cmd[cmd.index("--config") + 1] = str(cfg)
    return cmd, env


def llm_aware_cmd(port: int, upstream: int, workdir: Path,
                  args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """tokenway_cmd's gateway with llm-aware picking over four endpoint URLs of the one fake upstream."""
    cmd, env = tokenway_cmd(port, upstream, workdir, args)
    cfg = workdir / "tokenway-llm-aware.yaml"
    urls = [f"http://{host}:{upstream}{tail}" for host in ("127.0.0.1", "localhost") for tail in ("", "/")]
    endpoints = ", ".join(f'{{url: "{url}"}}' for url in urls)
    cfg.write_text(f"""version: "1"
pools:
  - name: fake
    models: [{{name: {args.model}}}]
    loadBalancing: {{algorithm: llm-aware}}
    endpoints: [{endpoints}]
""")
    cmd[cmd.index("--config") + 1] = str(cfg)
    return cmd, env


def tokenway_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of a Tokenway gateway: its code from --tokenway-rev's export, else the working tree."""
    src = getattr(args, "tokenway_src", None) or REPO
    env = dict(os.environ)
    extra = [str(src / "dataplane"), str(src / "operator")]
    env["PYTHONPATH"] = os.pathsep.join(extra + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def export_rev(rev: str, workdir: Path) -> Path:
    """`git archive` of rev's dataplane/ and operator/ into workdir: a fixed tree to measure while the
    working tree changes under other engineers' hands."""
    dest = workdir / "src"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "dataplane", "operator"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def start_target(name: str, upstream: int, args: argparse.Namespace, workdir: Path, logdir: Path) -> Target:
    if name == "direct":
        return Target(name, upstream)
    port = free_port()
    env = None
    if name == "haproxy":
        cmd = haproxy_cmd(port, upstream, workdir)
    elif name == "vllm-router":
        cmd = vllm_router_cmd(port, upstream, args.vllm_router_python)
    elif name == "tokenway":
        cmd, env = tokenway_cmd(port, upstream, workdir, args)
    elif name == POLICIES_TARGET:
        cmd, env = policies_cmd(port, upstream, workdir, args)
        TARGET_HEADERS[f"http://127.0.0.1:{port}{CHAT_PATH}"] = f"Authorization: Bearer {BENCH_KEY}"
        if args.time_policy_stages:
            env["TOKENWAY_STAGE_TIMING"] = "1"
    elif name == LLM_AWARE_TARGET:
        cmd, env = llm_aware_cmd(port, upstream, workdir, args)
    elif name == CACHE_TARGET:
        cmd, env = cache_cmd(port, upstream, workdir, args)
        TARGET_SCRIPTS[f"http://127.0.0.1:{port}{CHAT_PATH}"] = BENCH / "wrk" / "chat_cache_miss.lua"
        if args.time_policy_stages:
            env["TOKENWAY_STAGE_TIMING"] = "1"
    elif name == CHAIN_TARGET:
        cmd, env = tokenway_cmd(port, upstream, workdir, args)
        env["TOKENWAY_BENCH_NOOP_STAGES"] = str(args.noop_stages)
        env["TOKENWAY_STAGE_TIMING"] = "1"
    else:
        raise ValueError(name)
    t0 = time.monotonic()
    proc = spawn(name, pinned(args.proxy_cpus, cmd), logdir, env=env, cwd=REPO)
    target = Target(name, port, proc)
    wait_ready(port, proc, args.startup_timeout,
               {"Authorization": f"Bearer {BENCH_KEY}"} if name == POLICIES_TARGET else None)
    target.startup_s = time.monotonic() - t0
    return target


# ----------------------------------------------------------------------------- load generators


def run_wrk(args: argparse.Namespace, url: str, conns: int, seconds: int, header: str | None = None) -> dict[str, Any]:
    header = header or TARGET_HEADERS.get(url)
    cmd = pinned(
        args.load_cpus,
        [
            args.wrk,
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(TARGET_SCRIPTS.get(url, WRK_SCRIPT)),
            url,
            "--",
            args.model,
            *([header] if header else []),
        ],
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            r: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["error_count"] = sum(r["errors"].values())
            return r
    raise RuntimeError(f"wrk gave no summary (rc={out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")


def run_streams(args: argparse.Namespace, url: str) -> dict[str, Any]:
    cmd = pinned(
        args.load_cpus,
        [
            sys.executable,
            str(BENCH / "stream_client.py"),
            "--url",
            url,
            "--model",
            args.model,
            "-c",
            str(args.streams),
            "-d",
            str(args.stream_seconds),
            "--warmup",
            str(args.stream_warmup),
            "--expect-tokens",
            str(args.tokens),
            "--stagger-ms",
            str(args.interval_ms),
            *(["--header", TARGET_HEADERS[url]] if url in TARGET_HEADERS else []),
        ],
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.stream_seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"stream client failed (rc={out.returncode}): {out.stderr[-800:]}")
    r: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return r


# ----------------------------------------------------------------------------- phases


def phase(targets: list[Target], title: str, fn: Callable[[Target], None]) -> None:
    for t in targets:
        if t.error:
            continue
        log(f"{title}: {t.name}")
        try:
            fn(t)
        except Exception as e:
            t.error = f"{title}: {e}"
            log(f"  {t.name} failed: {e}")
        if t.proc is not None and not t.proc.alive():
            t.error = t.error or f"{title}: process exited ({t.proc.popen.returncode})"
            log(f"  {t.name} died:\n{t.proc.log_tail()}")


SUMMED = {"requests", "bytes", "streams", "errors", "short_streams", "reconnects", "events", "error_count"}


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from several rounds: the median of every number, the sum of every count."""
    out: dict[str, Any] = {}
    for key, first in rounds[0].items():
        vals = [r[key] for r in rounds if key in r]
        if isinstance(first, dict):
            out[key] = combine(vals)
        elif isinstance(first, (int, float)) and not isinstance(first, bool):
            nums = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if key in SUMMED:
                out[key] = sum(nums)
            else:
                out[key] = statistics.median(nums) if nums else None
        else:
            out[key] = first
    return out


def cpu_busy(cpus: str | None) -> tuple[float, float] | None:
    """(busy, total) jiffies of one CPU from /proc/stat; None unless cpus names a single CPU."""
    if not cpus or not cpus.isdigit():
        return None
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpus} "):
                v = [int(x) for x in line.split()[1:]]
                total = sum(v[:8])  # user nice system idle iowait irq softirq steal
                return total - v[3] - v[4], total
    return None


STAGE_LINE = re.compile(r'^tokenway_stage_(seconds|calls)_total\{stage="([^"]+)"\} (\S+)$', re.M)


def scrape_stages(port: int) -> dict[str, dict[str, float]]:
    """{stage: {"seconds", "calls"}} from the gateway's /metrics (TOKENWAY_STAGE_TIMING=1)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out: dict[str, dict[str, float]] = {}
    for kind, stage, value in STAGE_LINE.findall(text):
        out.setdefault(stage, {})[kind] = float(value)
    if not out:
        raise RuntimeError("no tokenway_stage_* series at /metrics: is TOKENWAY_STAGE_TIMING=1 honoured?")
    return out


def stage_costs(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]],
                requests: int) -> dict[str, dict[str, float]]:
    """Per stage over one run: time per call and per request (us), calls per request."""
    out: dict[str, dict[str, float]] = {}
    for stage, now in after.items():
        was = before.get(stage, {})
        seconds = now.get("seconds", 0.0) - was.get("seconds", 0.0)
        calls = now.get("calls", 0.0) - was.get("calls", 0.0)
        if calls <= 0 or not requests:
            continue
        out[stage] = {
            "us_per_call": seconds * 1e6 / calls,
            "us_per_request": seconds * 1e6 / requests,
            "calls_per_request": calls / requests,
        }
    return out


# The stage frame alone, in process: walks of the real chain (pipeline.chain.advance, RequestContext) over
# N no-op stages and a last stage that suspends, against a walk of the last stage alone, untimed and timed.
FRAME_BENCH = r"""
import json, sys, time
from tokenway_gateway.pipeline.chain import SUSPENDED, advance, advance_timed
from tokenway_gateway.pipeline.context import RequestContext
from tokenway_gateway.pipeline.stages import NoopStage

count, walks = int(sys.argv[1]), int(sys.argv[2])

class Stop:
    name = "stop"
    def run(self, ctx):
        return SUSPENDED

class Gateway:
    stage_costs = {}

def per_walk(stages, walk):
    ctx = RequestContext.__new__(RequestContext)
    ctx.gateway, ctx.stages = Gateway(), stages
    best = float("inf")
    for _ in range(7):
        started = time.process_time()
        for _ in range(walks):
            ctx.next_stage = 0
            walk(ctx)
        best = min(best, (time.process_time() - started) / walks)
    return best * 1e6

chain, alone = (*(NoopStage(i) for i in range(count)), Stop()), (Stop(),)
out = {}
for name, walk in (("untimed", advance), ("timed", advance_timed)):
    out[name + "_us_per_stage"] = (per_walk(chain, walk) - per_walk(alone, walk)) / count
print(json.dumps(out))
"""


def frame_cost(args: argparse.Namespace) -> dict[str, float] | None:
    """CPU-us one no-op stage adds to a request's walk, untimed and with TOKENWAY_STAGE_TIMING's wrapper."""
    if args.noop_stages <= 0:
        return None
    cmd = pinned(args.proxy_cpus, [sys.executable, "-c", FRAME_BENCH, str(args.noop_stages), "100000"])
    out = subprocess.run(cmd, capture_output=True, text=True, env=tokenway_env(args), cwd=REPO, timeout=120)
    if out.returncode != 0:
        log(f"frame cost bench failed: {out.stderr[-500:]}")
        return None
    r: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return r


def measure(targets: list[Target], args: argparse.Namespace) -> None:
    """Phase by phase; within a phase, round-robin over the targets ``--rounds`` times, so
    that background load drifting over the run hits every target alike; medians are kept."""

    def warm(t: Target) -> None:
        run_wrk(args, t.url, args.connections, args.warmup_seconds)

    def latency_c1(t: Target) -> dict[str, Any]:
        return run_wrk(args, t.url, 1, args.c1_seconds)

    def throughput(t: Target) -> dict[str, Any]:
        s0 = scrape_stages(t.port) if t.name in timed_targets(args) else None
        c0 = cpu_seconds(t.proc.pid) if t.proc else 0.0
        b0 = cpu_busy(args.proxy_cpus)
        r = run_wrk(args, t.url, args.connections, args.seconds)
        b1 = cpu_busy(args.proxy_cpus)
        secs = r["duration_us"] / 1e6
        if t.proc:
            spent = cpu_seconds(t.proc.pid) - c0
            r["proxy_cpu"] = spent / secs
            # every request's share of the whole process (wrk counts completed requests only: a handful
            # still in flight at the end are charged to the rest)
            r["cpu_us_per_request"] = spent * 1e6 / r["requests"] if r["requests"] else None
        if s0 is not None:
            r["stages"] = stage_costs(s0, scrape_stages(t.port), r["requests"])
        if b0 and b1 and b1[1] > b0[1]:
            # share of the proxy's CPU busy with anything (the proxy, softirqs, other jobs)
            r["proxy_core_busy"] = (b1[0] - b0[0]) / (b1[1] - b0[1])
            r["proxy_core_other"] = max(0.0, r["proxy_core_busy"] - r.get("proxy_cpu", 0.0))
        return r

    def streaming(t: Target) -> dict[str, Any]:
        return run_streams(args, t.url)

    def soak(t: Target) -> None:
        if t.proc is None:
            return
        pid = t.proc.pid
        before = rss_kib(pid)
        # wrk runs for whole seconds: go in slices sized from the rate of the last slice
        # (the first one calibrates), so the count lands just past --soak-requests
        done, errors, runs, secs = 0, 0, 0, 1
        t0 = time.monotonic()
        while done < args.soak_requests and runs < 100:
            r = run_wrk(args, t.url, args.connections, secs)
            done += r["requests"]
            errors += r["error_count"]
            runs += 1
            if r["requests"] == 0:
                break
            secs = max(1, min(10, (args.soak_requests - done) // max(1, int(r["rps"]))))
        after = rss_kib(pid)
        t.results["soak"] = {
            "requests": done,
            "errors": errors,
            "seconds": round(time.monotonic() - t0, 2),
            "wrk_runs": runs,
            "rss_start_kib": t.results.get("rss_start_kib"),
            "rss_before_kib": before,
            "rss_after_kib": after,
            "growth": (after - before) / before if before else None,
        }

    def rounds(key: str, title: str, fn: Callable[[Target], dict[str, Any]]) -> None:
        per: dict[str, list[dict[str, Any]]] = {}
        for i in range(args.rounds):
            label = f"{title} (round {i + 1}/{args.rounds})" if args.rounds > 1 else title

            def one(t: Target) -> None:
                per.setdefault(t.name, []).append(fn(t))

            phase(targets, label, one)
        for t in targets:
            if per.get(t.name):
                t.results[key] = {**combine(per[t.name]), "rounds": per[t.name]}

    phase(targets, "warm-up", warm)
    for t in targets:
        if t.proc and not t.error:
            t.results["rss_after_warmup_kib"] = rss_kib(t.proc.pid)
    rounds("c1", "latency @1 conn", latency_c1)
    rounds("c32", f"throughput @{args.connections} conns", throughput)
    rounds("stream", f"streaming @{args.streams} streams", streaming)
    phase(targets, f"soak {args.soak_requests} requests", soak)
    chain = next((t for t in targets if t.name == CHAIN_TARGET and not t.error), None)
    if chain is not None:
        log("frame cost: no-op stages in process")
        chain.results["frame"] = frame_cost(args)


# ----------------------------------------------------------------------------- report


def report(
    targets: list[Target], args: argparse.Namespace, scaling: dict[str, Any] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    by = {t.name: t for t in targets}
    direct = by.get("direct")
    ref = by.get(PROXY_REF)

    def get(t: Target | None, *path: str) -> Any:
        cur: Any = t.results if t else None
        for p in path:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
        return cur

    def err(t: Target) -> str:
        e = (t.error or "").splitlines()
        return (e[0][:77] + "...") if e and len(e[0]) > 80 else (e[0] if e else "")

    def ms(us: float | None) -> float | None:
        return None if us is None else us / 1000.0

    rounds = f"median of {args.rounds} rounds" if args.rounds > 1 else "1 round"
    direct_rps = get(direct, "c32", "rps")
    ref_rps = get(ref, "c32", "rps")
    out = []

    rows = []
    d50_c32 = ms(get(direct, "c32", "latency_us", "p50"))
    for t in targets:
        r = t.results.get("c32")
        if not r:
            rows.append([t.name, *["-"] * 7, err(t)])
            continue
        ratio = r["rps"] / ref_rps if ref_rps else None
        note = []
        if t.name != "direct" and direct_rps and r["rps"] >= LOAD_BOUND * direct_rps:
            note.append("load-bound")
        if r["error_count"]:
            note.append(f"{r['error_count']} errors")
        if err(t):
            note.append(err(t))
        rows.append(
            [
                t.name,
                fmt(r["rps"], ",.0f"),
                fmt(ratio, ".2f") + "x" if ratio else "-",
                fmt(ms(r["latency_us"]["p50"]), ".3f"),
                fmt(ms(r["latency_us"]["p99"]), ".3f"),
                fmt(pct_delta(ms(r["latency_us"]["p50"]), d50_c32), "+.3f"),
                fmt(r.get("proxy_cpu"), ".2f"),
                fmt(r.get("proxy_core_other"), ".2f"),
                ", ".join(note),
            ]
        )
    out.append(
        table(
            f"Non-streaming throughput: wrk -t1 -c{args.connections}, {args.seconds}s per round, {rounds}",
            [
                "target",
                "req/s",
                f"x {PROXY_REF}",
                "p50 ms",
                "p99 ms",
                "p50 vs direct",
                "proxy cpu",
                "other cpu",
                "note",
            ],
            rows,
        )
    )

    rows = []
    d50 = get(direct, "c1", "latency_us", "p50")
    for t in targets:
        r = t.results.get("c1")
        if not r:
            rows.append([t.name, "-", "-", "-", "-", err(t)])
            continue
        added = ms(r["latency_us"]["p50"] - d50) if d50 is not None else None
        rows.append(
            [
                t.name,
                fmt(ms(r["latency_us"]["p50"]), ".3f"),
                fmt(added, "+.3f"),
                fmt(ms(r["latency_us"]["p99"]), ".3f"),
                fmt(r["rps"], ",.0f"),
                ", ".join(x for x in (f"{r['error_count']} errors" if r["error_count"] else "", err(t)) if x),
            ]
        )
    out.append(
        table(
            f"Non-streaming latency at 1 connection: wrk -t1 -c1, {args.c1_seconds}s per round, {rounds}",
            ["target", "p50 ms", "added p50 ms", "p99 ms", "req/s", "note"],
            rows,
        )
    )

    rows = []
    for t in targets:
        r = t.results.get("stream")
        if not r:
            rows.append([t.name, *["-"] * 8, err(t)])
            continue
        note = []
        if r["errors"] or r["short_streams"]:
            note.append(f"{r['errors']} errors, {r['short_streams']} short")
        if r.get("client_cpu") and r["client_cpu"] > 0.8:
            note.append(f"client cpu {r['client_cpu']:.2f}!")
        if err(t):
            note.append(err(t))
        rows.append(
            [
                t.name,
                fmt(r["ttft_ms"]["p50"], ".3f"),
                fmt(r["ttft_ms"]["p99"], ".3f"),
                fmt(r["itl_ms"]["p50"], ".3f"),
                fmt(r["itl_ms"]["p99"], ".3f"),
                fmt(pct_delta(r["ttft_ms"]["p50"], get(direct, "stream", "ttft_ms", "p50")), "+.3f"),
                fmt(pct_delta(r["itl_ms"]["p99"], get(direct, "stream", "itl_ms", "p99")), "+.3f"),
                str(r["streams"]),
                fmt(r.get("client_cpu"), ".2f"),
                ", ".join(note),
            ]
        )
    out.append(
        table(
            f"Streaming (ms): {args.streams} concurrent streams x {args.tokens} tokens every {args.interval_ms:g} ms "
            f"(first after {args.ttft_ms:g} ms), {args.stream_seconds:g}s per round, {rounds}",
            [
                "target",
                "TTFT p50",
                "TTFT p99",
                "ITL p50",
                "ITL p99",
                "dTTFT p50",
                "dITL p99",
                "streams",
                "client cpu",
                "note",
            ],
            rows,
        )
    )

    rows = []
    mib = 1 / 1024.0
    for t in targets:
        r = t.results.get("soak")
        if t.proc is None and not (t.error and t.name != "direct"):
            continue
        if not r:
            rows.append([t.name, "-", "-", "-", "-", "-", err(t)])
            continue
        rows.append(
            [
                t.name,
                fmt(r["requests"], ","),
                fmt((r["rss_start_kib"] or 0) * mib, ".1f"),
                fmt(r["rss_before_kib"] * mib, ".1f"),
                fmt(r["rss_after_kib"] * mib, ".1f"),
                fmt(r["growth"] * 100 if r["growth"] is not None else None, "+.1f"),
                ", ".join(x for x in (f"{r['errors']} errors" if r["errors"] else "", err(t)) if x),
            ]
        )
    out.append(
        table(
            f"Memory: RSS of the proxy's process tree, before and after >= {args.soak_requests:,} non-streaming "
            f"requests (wrk -c{args.connections})",
            ["target", "requests", "start MiB", "before MiB", "after MiB", "growth %", "note"],
            rows,
        )
    )

    out.append(cost_report(targets, args))
    if scaling is not None:
        import scaling as scaling_bench  # bench/scaling.py, beside this file

        out.append(scaling_bench.report_table(scaling))

    # checks, for every proxy target; tokenway's are the ones the issue asks for
    checks: list[dict[str, Any]] = []

    def check(target: str, name: str, ok: bool | None, detail: str) -> None:
        checks.append({"target": target, "check": name, "pass": ok, "detail": detail})

    for t in targets:
        if t.name == "direct":
            continue
        rps = get(t, "c32", "rps")
        if t.name != PROXY_REF:
            if rps is not None and ref_rps:
                check(
                    t.name,
                    f"non-streaming req/s >= {MIN_RPS_RATIO:.1f}x {PROXY_REF}",
                    rps >= MIN_RPS_RATIO * ref_rps,
                    f"{rps:,.0f} vs {ref_rps:,.0f} req/s = {rps / ref_rps:.2f}x",
                )
            else:
                check(
                    t.name,
                    f"non-streaming req/s >= {MIN_RPS_RATIO:.1f}x {PROXY_REF}",
                    None,
                    f"not measured (needs {t.name}'s and {PROXY_REF}'s figures)",
                )
        p50 = get(t, "c1", "latency_us", "p50")
        if p50 is not None and d50 is not None:
            added = (p50 - d50) / 1000.0
            check(
                t.name,
                f"added p50 at 1 connection <= {MAX_ADDED_P50_MS} ms",
                added <= MAX_ADDED_P50_MS,
                f"{added:+.3f} ms ({p50 / 1000:.3f} vs direct {d50 / 1000:.3f})",
            )
        else:
            check(
                t.name,
                f"added p50 at 1 connection <= {MAX_ADDED_P50_MS} ms",
                None,
                "not measured (needs its and direct's figures)",
            )
        for fig, key in (("TTFT p50", ("ttft_ms", "p50")), ("ITL p99", ("itl_ms", "p99"))):
            v, d = get(t, "stream", *key), get(direct, "stream", *key)
            delta = pct_delta(v, d)
            check(
                t.name,
                f"streaming {fig} within {MAX_STREAM_DELTA_MS:g} ms of direct",
                None if delta is None else delta <= MAX_STREAM_DELTA_MS,
                "not measured (needs its and direct's figures)"
                if delta is None
                else f"{delta:+.3f} ms ({v:.3f} vs direct {d:.3f})",
            )
        g = get(t, "soak", "growth")
        n = get(t, "soak", "requests")
        check(
            t.name,
            f"RSS growth over {args.soak_requests:,} requests < {MAX_RSS_GROWTH:.0%}",
            None if g is None else g < MAX_RSS_GROWTH,
            "not measured" if g is None else f"{g:+.1%} over {n:,} requests",
        )

    checks += issue6_checks(targets, args, scaling)
    checks += feature_checks(targets)
    lines = ["\nTargets from the issue (tokenway's are the ones that count; the others calibrate the bar):"]
    names = [t.name for t in targets]
    if "tokenway" not in names:
        lines.append("  SKIP  tokenway was not among --targets")
    for c in sorted(checks, key=lambda c: (not c["target"].startswith("tokenway"), names.index(c["target"]))):
        status = "SKIP" if c["pass"] is None else "PASS" if c["pass"] else "FAIL"
        lines.append(f"  {status}  {c['target']:<14} {c['check']}: {c['detail']}")
    for t in targets:
        if t.error:
            lines.append(f"  ERROR {t.name}: {t.error.splitlines()[0]}")
    others = [v for t in targets if (v := get(t, "c32", "proxy_core_other")) is not None]
    if others and statistics.median(others) > NOISY_CORE:
        lines.append(
            f"  WARNING: the proxy's CPU was {statistics.median(others):.0%} busy with other work during the "
            "throughput runs (column 'other cpu'): figures are noisy; rerun on a quiet machine or with --nice -10"
        )
    out.append("\n".join(lines))
    return "\n".join(out), checks


def _get(t: Target | None, *path: str) -> Any:
    cur: Any = t.results if t else None
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def timed_targets(args: argparse.Namespace) -> set[str]:
    """The targets run with TOKENWAY_STAGE_TIMING=1 (their stage costs are read from /metrics)."""
    return {CHAIN_TARGET, POLICIES_TARGET, CACHE_TARGET} if args.time_policy_stages else {CHAIN_TARGET}


def stage_table(target: Target | None, title: str) -> str | None:
    """One target's stage costs from its throughput rounds, with what the rest of the process spent."""
    stages: dict[str, dict[str, float]] | None = _get(target, "c32", "stages")
    if target is None or not stages:
        return None
    rows = []
    total = 0.0
    for stage, c in stages.items():
        total += c["us_per_request"]
        rows.append([stage, fmt(c["us_per_call"], ".2f"), fmt(c["calls_per_request"], ".2f"),
                     fmt(c["us_per_request"], ".2f")])
    process = _get(target, "c32", "cpu_us_per_request")
    rows.append(["all stages", "", "", fmt(total, ".2f")])
    if process is not None:
        rows.append(["outside the stages", "", "", fmt(process - total, ".2f")])
        rows.append(["whole process", "", "", fmt(process, ".2f")])
    return table(title, ["stage", "us/call", "calls/req", "us/req"], rows)


def cost_report(targets: list[Target], args: argparse.Namespace) -> str:
    """CPU-us per request of every proxy, and tokenway-chain's stages (from the throughput rounds)."""
    by = {t.name: t for t in targets}
    rows = []
    for t in targets:
        if t.proc is None:
            continue
        us = _get(t, "c32", "cpu_us_per_request")
        rps, cpu = _get(t, "c32", "rps"), _get(t, "c32", "proxy_cpu")
        rows.append([t.name, fmt(us, ".1f"), fmt(rps, ",.0f"), fmt(cpu, ".2f")])
    out = [
        table(
            f"CPU per request: utime+stime of the proxy's process tree over the throughput rounds / requests "
            f"(wrk -c{args.connections})",
            ["target", "cpu-us/req", "req/s", "proxy cpu"],
            rows,
        )
    ]
    for name in timed_targets(args) - {CHAIN_TARGET}:
        policy_table = stage_table(by.get(name), f"Stage costs of {name} (TOKENWAY_STAGE_TIMING=1, "
                                   "--time-policy-stages: time inside each stage's run(), us; settle hooks such as "
                                   "the limiter's settle and the cache's store run after the response, outside)")
        if policy_table:
            out.append(policy_table)
    chain = by.get(CHAIN_TARGET)
    stages: dict[str, dict[str, float]] | None = _get(chain, "c32", "stages")
    chain_table = stage_table(chain, f"Stage costs of {CHAIN_TARGET} ({args.noop_stages} no-op stages, default "
                              "picker; TOKENWAY_STAGE_TIMING=1: time inside each stage's run(), us)")
    if chain is None or not stages or not chain_table:
        return "\n".join(out)
    process = _get(chain, "c32", "cpu_us_per_request")
    out.append(chain_table)
    noops = [c["us_per_call"] for name, c in stages.items() if name.startswith("noop-")]
    notes = []
    frame = _get(chain, "frame")
    if frame:
        notes.append(
            f"frame cost per no-op stage, in process (pipeline.chain.advance over {args.noop_stages} no-op stages vs "
            f"none, CPU time): {frame['untimed_us_per_stage']:.3f} us; with the timing wrapper "
            f"{frame['timed_us_per_stage']:.3f} us (so timing adds "
            f"{frame['timed_us_per_stage'] - frame['untimed_us_per_stage']:.3f} us to each of the "
            f"{len(stages)} stages {CHAIN_TARGET} runs per request)"
        )
    if noops:
        notes.append(f"no-op stage as timed in the gateway (mean of {len(noops)}; includes reading the clock): "
                     f"{statistics.mean(noops):.3f} us")
    plain = _get(by.get("tokenway"), "c32", "cpu_us_per_request")
    if plain is not None and process is not None and args.noop_stages:
        delta = process - plain
        notes.append(
            f"{CHAIN_TARGET} - tokenway, whole process: {delta:+.2f} us/request = {delta / args.noop_stages:+.2f} us "
            f"per no-op stage (includes timing every stage; noisy at this scale)"
        )
    notes.append("'dispatch' includes the pick and the upstream write; 'outside' is HTTP parsing, upstream and "
                 "client I/O, the relay, settle, metrics and the kernel's share (stime)")
    notes.append("stage times are wall-clock (perf_counter) inside the gateway: on a busy core (see 'other cpu') "
                 "they include time the process waited for the CPU")
    out.append("\n".join("  " + n for n in notes))
    return "\n".join(out)


def issue6_checks(targets: list[Target], args: argparse.Namespace,
                  scaling: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Issue 6's targets: the stage chain's throughput and latency, and the scaling ratios."""
    by = {t.name: t for t in targets}
    checks: list[dict[str, Any]] = []

    def check(target: str, name: str, ok: bool | None, detail: str) -> None:
        checks.append({"target": target, "check": f"[issue 6] {name}", "pass": ok, "detail": detail})

    chain, ref, direct = by.get(CHAIN_TARGET), by.get(PROXY_REF), by.get("direct")
    if chain is not None:
        rps, ref_rps = _get(chain, "c32", "rps"), _get(ref, "c32", "rps")
        name = f"non-streaming req/s with {args.noop_stages} no-op stages >= {MIN_CHAIN_RPS_RATIO:.1f}x {PROXY_REF}"
        if rps and ref_rps:
            check(chain.name, name, rps >= MIN_CHAIN_RPS_RATIO * ref_rps,
                  f"{rps:,.0f} vs {ref_rps:,.0f} req/s = {rps / ref_rps:.2f}x")
        else:
            check(chain.name, name, None, f"not measured (needs {chain.name}'s and {PROXY_REF}'s figures)")
    d50 = _get(direct, "c1", "latency_us", "p50")
    for t in (by.get("tokenway"), chain):
        if t is None:
            continue
        p50 = _get(t, "c1", "latency_us", "p50")
        name = f"added p50 at 1 connection <= {MAX_ADDED_P50_MS_ISSUE6} ms"
        if p50 is not None and d50 is not None:
            added = (p50 - d50) / 1000.0
            check(t.name, name, added <= MAX_ADDED_P50_MS_ISSUE6,
                  f"{added:+.3f} ms ({p50 / 1000:.3f} vs direct {d50 / 1000:.3f})")
        else:
            check(t.name, name, None, "not measured (needs its and direct's figures)")
    if scaling is not None:
        import scaling as scaling_bench  # bench/scaling.py, beside this file

        for c in scaling_bench.checks(scaling):
            check("tokenway", c["check"], c["pass"], c["detail"])
    return checks


def overhead_check(targets: list[Target], target: str, issue: int, what: str, ratio: float) -> list[dict[str, Any]]:
    """A feature's overhead target: with it on, non-streaming req/s still ``ratio`` x vllm-router's."""
    by = {t.name: t for t in targets}
    measured, ref, plain = by.get(target), by.get(PROXY_REF), by.get("tokenway")
    if measured is None:
        return []
    rps, ref_rps = _get(measured, "c32", "rps"), _get(ref, "c32", "rps")
    name = f"[issue {issue}] non-streaming req/s with {what} >= {ratio:.1f}x {PROXY_REF}"
    if not (rps and ref_rps):
        return [{"target": target, "check": name, "pass": None,
                 "detail": f"not measured (needs {target}'s and {PROXY_REF}'s figures)"}]
    detail = f"{rps:,.0f} vs {ref_rps:,.0f} req/s = {rps / ref_rps:.2f}x"
    plain_rps = _get(plain, "c32", "rps")
    if plain_rps:
        detail += f"; {rps / plain_rps:.2f}x plain tokenway"
    p50, plain50 = _get(measured, "c1", "latency_us", "p50"), _get(plain, "c1", "latency_us", "p50")
    if p50 is not None and plain50 is not None:
        detail += f"; p50 at 1 conn {(p50 - plain50) / 1000:+.3f} ms over tokenway"
    return [{"target": target, "check": name, "pass": rps >= ratio * ref_rps, "detail": detail}]


def feature_checks(targets: list[Target]) -> list[dict[str, Any]]:
    return (overhead_check(targets, LLM_AWARE_TARGET, 7, "llm-aware picking", MIN_LLM_AWARE_RPS_RATIO)
            + overhead_check(targets, POLICIES_TARGET, 8, "auth + memory rate limits + guard",
                             MIN_POLICIES_RPS_RATIO)
            + overhead_check(targets, CACHE_TARGET, 9, "an exact cache, 0% hits", MIN_CACHE_RPS_RATIO))


# ----------------------------------------------------------------------------- main


def versions(args: argparse.Namespace) -> dict[str, str]:
    v: dict[str, str] = {"python": sys.version.split()[0]}
    with contextlib.suppress(Exception):
        v["wrk"] = subprocess.run([args.wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    with contextlib.suppress(Exception):
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        v["haproxy"] = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        v["vllm-router"] = version("vllm-router")
    with contextlib.suppress(Exception):
        v["git"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    return v


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--targets",
        default=",".join(ALL_TARGETS),
        help=f"comma-separated subset of {','.join(ALL_TARGETS)} (direct is always useful)",
    )
    p.add_argument("--quick", action="store_true", help="short smoke run (< 1 min): smaller samples, 20k soak")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per figure (medians are reported)")
    p.add_argument("--seconds", type=int, default=4, help="throughput run per target and round (wrk -d)")
    p.add_argument("--c1-seconds", type=int, default=2, help="1-connection latency run per target and round")
    p.add_argument("--warmup-seconds", type=int, default=1, help="wrk warm-up per target before measuring")
    p.add_argument("--connections", type=int, default=32, help="wrk connections for throughput and soak")
    p.add_argument("--streams", type=int, default=64, help="concurrent streams")
    p.add_argument("--stream-seconds", type=float, default=2.0, help="measured streaming per target and round")
    p.add_argument("--stream-warmup", type=float, default=0.3, help="uncounted streaming before each round")
    p.add_argument("--soak-requests", type=int, default=200_000, help="requests between the two RSS readings")
    p.add_argument("--tokens", type=int, default=64, help="tokens per stream from the fake upstream")
    p.add_argument("--interval-ms", type=float, default=5.0, help="inter-token interval of the fake upstream")
    p.add_argument("--ttft-ms", type=float, default=5.0, help="first-token delay of the fake upstream")
    p.add_argument("--upstream-workers", type=int, default=1, help="fake upstream processes (SO_REUSEPORT)")
    p.add_argument("--model", default="bench-model")
    p.add_argument("--load-cpus", help="taskset CPU list for wrk and the stream client (default 0)")
    p.add_argument("--upstream-cpus", help="taskset CPU list for the fake upstream (default: as --load-cpus)")
    p.add_argument("--proxy-cpus", help="taskset CPU list for the proxy under test (default 1)")
    p.add_argument("--no-pin", action="store_true", help="no taskset at all")
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run every benchmark process at this niceness (e.g. -10 as root on a busy machine)",
    )
    p.add_argument("--startup-timeout", type=float, default=60.0, help="seconds a target may take to answer")
    p.add_argument(
        "--tokenway-arg",
        action="append",
        metavar="ARG",
        help="extra argument for `tokenway gateway` (repeatable), e.g. --tokenway-arg=--workers=1",
    )
    p.add_argument(
        "--vllm-router-python", default=sys.executable, help="python with vllm-router installed (e.g. a venv's)"
    )
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--out", type=Path, help="JSON result path (default bench/results/dataplane-<time>.json)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a tokenway check fails or a target errors")
    p.add_argument("--tokenway-rev", metavar="REV",
                   help="run Tokenway from `git archive REV` (e.g. HEAD) instead of the working tree")
    p.add_argument("--noop-stages", type=int, default=4, help=f"no-op stages of the {CHAIN_TARGET} target")
    p.add_argument("--time-policy-stages", action="store_true",
                   help=f"also run {POLICIES_TARGET} and {CACHE_TARGET} with TOKENWAY_STAGE_TIMING=1 and print their "
                   "stage costs (the timing wrapper adds ~0.3 us per stage, so their req/s drop slightly)")
    p.add_argument("--no-scaling", dest="scaling", action="store_false",
                   help="skip the scaling run (bench/scaling.py: endpoints and rules)")
    import scaling as scaling_bench  # bench/scaling.py, beside this file

    scaling_bench.add_arguments(p)
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.c1_seconds, args.warmup_seconds = 1, 3, 2, 1
        args.stream_seconds, args.stream_warmup = 1.5, 0.3
        if args.soak_requests == 200_000:
            args.soak_requests = 20_000
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in ALL_TARGETS]
    if unknown:
        p.error(f"unknown targets {unknown}; choose from {ALL_TARGETS}")
    args.target_list = targets
    ncpu = len(os.sched_getaffinity(0))
    if args.no_pin or ncpu < 2 or not shutil.which("taskset"):
        args.load_cpus = args.upstream_cpus = args.proxy_cpus = None
    else:
        args.load_cpus = args.load_cpus or "0"
        args.upstream_cpus = args.upstream_cpus or args.load_cpus
        args.proxy_cpus = args.proxy_cpus or "1"
    return args


def preflight(args: argparse.Namespace) -> None:
    missing = []
    if not shutil.which(args.wrk):
        missing.append("wrk (apt-get install -y wrk)")
    if "haproxy" in args.target_list and not (shutil.which("haproxy") or os.path.exists("/usr/sbin/haproxy")):
        missing.append("haproxy (apt-get install -y haproxy)")
    if "vllm-router" in args.target_list:
        probe = [args.vllm_router_python, "-c", "import vllm_router.launch_router"]
        if subprocess.run(probe, capture_output=True).returncode != 0:
            missing.append("vllm-router (pip install vllm-router)")
    if missing:
        sys.exit("missing: " + "; ".join(missing) + "  -- run bench/setup.sh")


@contextlib.contextmanager
def cleanup(procs: list[Proc]) -> Iterator[None]:
    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_signal)
    try:
        yield
    finally:
        for p in reversed(procs):
            p.stop()
        signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    global NICE
    # bench/scaling.py imports this file as `dataplane`: let it share this module (and NICE) when run as a script
    sys.modules.setdefault("dataplane", sys.modules[__name__])
    args = parse_args(argv)
    NICE = args.nice
    preflight(args)
    started = time.monotonic()
    load_start = os.getloadavg()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = BENCH / "results"
    logdir = results_dir / f"logs-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tokenway-bench-"))
    procs: list[Proc] = []
    targets: list[Target] = []
    log(
        f"nice {NICE}; pinning: load={args.load_cpus} upstream={args.upstream_cpus} proxy={args.proxy_cpus}; "
        f"load average {os.getloadavg()[0]:.2f}; logs in {logdir.relative_to(REPO)}"
    )
    if args.tokenway_rev:
        args.tokenway_src = export_rev(args.tokenway_rev, workdir)
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.tokenway_rev],
                             capture_output=True, text=True).stdout.strip()
        log(f"tokenway from {args.tokenway_rev} ({sha}), exported to {args.tokenway_src}")
    with cleanup(procs):
        up, up_port = start_upstream(args, logdir)
        procs.append(up)
        for name in args.target_list:
            log(f"starting {name}")
            try:
                t = start_target(name, up_port, args, workdir, logdir)
            except Exception as e:
                log(f"  {name} did not start: {e}")
                t = Target(name, 0, error=f"start: {e}")
            if t.proc is not None:
                procs.append(t.proc)
                t.results["rss_start_kib"] = rss_kib(t.proc.pid)
            targets.append(t)
        measure(targets, args)
        upstream_rss = rss_kib(up.pid)
        scaling: dict[str, Any] | None = None
        if args.scaling and "tokenway" in args.target_list:
            import scaling as scaling_bench  # bench/scaling.py, beside this file

            for p in procs:  # the measured targets are done: free the machine for the scaling run
                p.stop()
            scaling = scaling_bench.run(args, logdir, workdir, procs)
    text, checks = report(targets, args, scaling)
    print(text)

    out = args.out or results_dir / f"dataplane-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "dataplane",
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "pinning": {"load": args.load_cpus, "upstream": args.upstream_cpus, "proxy": args.proxy_cpus, "nice": NICE},
        "versions": versions(args),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "upstream_rss_kib": upstream_rss,
        "targets": {
            t.name: {"port": t.port, "startup_s": round(t.startup_s, 3), "error": t.error, **t.results} for t in targets
        },
        "scaling": scaling,
        "checks": checks,
    }
    out.write_text(json.dumps(doc, indent=2, default=str))
    print(f"\nJSON: {out}   logs: {logdir}   ({time.monotonic() - started:.0f}s)")
    shutil.rmtree(workdir, ignore_errors=True)
    if args.strict:
        failed = [c for c in checks if c["target"].startswith("tokenway") and c["pass"] is False]
        if failed or any(t.error for t in targets):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
