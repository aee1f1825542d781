#!/usr/bin/env python3
"""Where a Tokenway gateway's CPU goes per request: py-spy samples under wrk load, in us per request.

Starts one fake upstream and one gateway (pinned like bench/dataplane.py: the gateway on
the proxy core, wrk and the upstream on the load core) with a config of the scaling
run's shape (``--endpoints`` in one pool, ``--rules`` header rules on ``--rule-names``
header names, the request matching the last; ``--noop-stages`` and ``--stage-timing``
as the tokenway-chain target), warms it up, then runs ``wrk -t1 -c32`` while
``py-spy record --nonblocking`` samples the gateway. Each function's share of the
samples times the gateway's CPU-us per request (utime+stime / requests over the same
window) gives its us per request, self and inclusive. Kernel time lands on the Python
frame that made the system call; ``<event loop>`` is time in uvloop's own C code
(polling, callbacks into C transports).

py-spy is not a dependency of the project: ``pip install py-spy`` (a standalone binary)
or point ``--py-spy`` at one.

    python bench/profile_gateway.py --endpoints 1000 --tokenway-rev HEAD
    python bench/profile_gateway.py --rules 256 --seconds 10 --top 40
    python bench/profile_gateway.py --noop-stages 4 --stage-timing
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaling  # bench/scaling.py: the configs

import dataplane as dp  # bench/dataplane.py: processes, pinning, wrk

LOOP = "<event loop>"


def frame_name(frame: str) -> str:
    """'Gateway.handle (tokenway_gateway/proxy/gateway.py:136)' -> 'Gateway.handle (proxy/gateway.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    short = path.split("tokenway_gateway/", 1)[-1] if "tokenway_gateway/" in path else path.rsplit("/", 1)[-1]
    return f"{name} ({short})"


def tally(raw: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Self and inclusive samples per function from py-spy's raw (collapsed stack) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [frame_name(f) for f in stack.split(";")]
        # the asyncio runner's frame is the innermost one when uvloop's C code runs
        leaf = LOOP if frames[-1].startswith("Runner.run ") else frames[-1]
        own[leaf] += n
        for f in set(frames):
            inclusive[f] += n
        if leaf == LOOP:
            inclusive[LOOP] += n
    return own, inclusive, total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoints", type=int, default=1)
    p.add_argument("--rules", type=int, default=1)
    p.add_argument("--rule-names", type=int, default=1, help="distinct header names the rules match on")
    p.add_argument("--algorithm", help="the pool's loadBalancing.algorithm (default: the gateway's, least-request)")
    p.add_argument("--noop-stages", type=int, default=0, help="TOKENWAY_BENCH_NOOP_STAGES")
    p.add_argument("--stage-timing", action="store_true", help="TOKENWAY_STAGE_TIMING=1")
    p.add_argument("--seconds", type=int, default=10, help="sampled wrk run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    p.add_argument("--tokenway-rev", metavar="REV", help="run Tokenway from `git archive REV`")
    p.add_argument("--keep", type=Path, help="also copy py-spy's raw output here")
    args = p.parse_args(argv)
    if not shutil.which(args.py_spy):
        sys.exit("py-spy not found: pip install py-spy, or --py-spy PATH")
    ncpu = len(os.sched_getaffinity(0))
    pin = ncpu >= 2 and shutil.which("taskset")
    # what dataplane's and scaling's helpers read
    args.model, args.tokens, args.interval_ms, args.ttft_ms, args.upstream_workers = "bench-model", 64, 5.0, 5.0, 1
    args.load_cpus = args.upstream_cpus = "0" if pin else None
    args.proxy_cpus = "1" if pin else None
    args.startup_timeout, args.wrk, args.tokenway_arg = 60.0, shutil.which("wrk") or "wrk", None

    workdir = Path(tempfile.mkdtemp(prefix="tokenway-profile-"))
    if args.tokenway_rev:
        args.tokenway_src = dp.export_rev(args.tokenway_rev, workdir)
    extra_env = {}
    if args.noop_stages:
        extra_env["TOKENWAY_BENCH_NOOP_STAGES"] = str(args.noop_stages)
    if args.stage_timing:
        extra_env["TOKENWAY_STAGE_TIMING"] = "1"
    os.environ.update(extra_env)  # dp.tokenway_env copies os.environ
    setting = scaling.Setting(args.endpoints, args.rules, args.rule_names, args.algorithm)
    raw = workdir / "pyspy.txt"
    procs: list[dp.Proc] = []
    with dp.cleanup(procs):
        up, port = dp.start_upstream(args, workdir, host="0.0.0.0" if args.endpoints > 1 else "127.0.0.1")
        procs.append(up)
        scaling.start_gateway(setting, port, args, workdir, workdir)
        assert setting.proc is not None
        procs.append(setting.proc)
        url = f"http://127.0.0.1:{setting.port}{dp.CHAT_PATH}"
        dp.run_wrk(args, url, args.connections, 3, setting.header)
        spy = subprocess.Popen(
            [args.py_spy, "record", "--nonblocking", "-r", str(args.rate), "-f", "raw", "-o", str(raw),
             "-d", str(args.seconds), "-p", str(setting.proc.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        c0 = dp.cpu_seconds(setting.proc.pid)
        r = dp.run_wrk(args, url, args.connections, args.seconds, setting.header)
        spent = dp.cpu_seconds(setting.proc.pid) - c0
        _, err = spy.communicate(timeout=args.seconds + 60)
        if spy.returncode != 0 or not raw.exists():
            sys.exit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
    per_request = spent * 1e6 / r["requests"]
    own, inclusive, total = tally(raw)
    timing = "on" if args.stage_timing else "off"
    print(f"{setting.label}; {args.algorithm or 'default picker'}; noop stages {args.noop_stages}; "
          f"stage timing {timing}: {r['rps']:,.0f} req/s, gateway {per_request:.1f} CPU-us per request "
          f"({spent / (r['duration_us'] / 1e6):.2f} of a core), {total} samples; load average {os.getloadavg()[0]:.2f}")
    print(f"\n{'self us/req':>11} {'incl us/req':>11} {'self %':>7}  function (top {args.top} by self time)")
    for name, n in own.most_common(args.top):
        print(f"{n / total * per_request:11.2f} {inclusive[name] / total * per_request:11.2f} "
              f"{100 * n / total:7.2f}  {name}")
    if args.keep:
        shutil.copy(raw, args.keep)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
