#!/usr/bin/env python3
"""Scaling: does Tokenway's per-request cost grow with its config?

One fake upstream (``bench/fake_upstream.py``, bound to 0.0.0.0 so that every
127.0.0.0/8 address reaches it) and one Tokenway gateway per setting, each pinned to
the proxy core, all measured the same way (``wrk -t1 -c32`` POSTs of a small
non-streaming chat completion carrying the last rule's header, ``x-tier: t<R-1>``):

  endpoints  1, 10, 100 and 1,000 endpoints in one pool (1 rule). Endpoint i is
             ``http://127.0.x.y:PORT``: distinct URLs, so distinct endpoints to the
             gateway (it keys endpoints, their pooled connections and their load by
             URL), all served by the one fake upstream. The default picker
             (least-request) spreads the load over them.
  rules      1, 64 and 256 header rules in one RoutePolicy (1 endpoint): rule i
             matches ``x-tier: t<i>``; the request matches the last one;
  names      256 header rules on 256 header names (``--scaling-named-rules``): rule i
             matches ``x-rule-<i>: t<i>``; the request carries the last rule's header.

Settings take turns within each of ``--rounds`` rounds (medians are reported), so load
drifting over the run hits them alike. Reported: req/s, its ratio to the 1-endpoint,
1-rule figure, p50/p99, the gateway's CPU-us per request (utime+stime / requests).
Before measuring, 64 probe requests check each setting: every answer is 200, requests
spread over the endpoints (distinct ``x-tokenway-endpoint`` values), and they were
routed by the last rule (its name in ``tokenway_requests_total{route=...}``).

Issue 6's targets, as PASS/FAIL lines: req/s at 1,000 endpoints and at 256 rules
>= 0.8x the 1-endpoint, 1-rule figure. ``python bench/dataplane.py`` runs this too
(unless ``--no-scaling``), so its targets are checked in the same run as the rest.

    python bench/scaling.py            # about 2 minutes
    python bench/scaling.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataplane as dp  # bench/dataplane.py: processes, pinning, wrk

MIN_SCALING_RATIO = 0.8
RULE_HEADER = "x-tier"
PROBES = 64


@dataclass
class Setting:
    endpoints: int
    rules: int
    names: int = 1  # distinct header names the rules match on
    algorithm: str | None = None  # the pool's loadBalancing.algorithm; None: the default (least-request)
    port: int = 0
    proc: dp.Proc | None = None
    error: str | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.endpoints}e-{self.rules}r" + (f"-{self.names}n" if self.names > 1 else "")

    @property
    def label(self) -> str:
        plural = "s" if self.endpoints > 1 else "", "s" if self.rules > 1 else ""
        names = f" on {self.names} headers" if self.names > 1 else ""
        return f"{self.endpoints:,} endpoint{plural[0]}, {self.rules} rule{plural[1]}{names}"

    def rule_header(self, i: int) -> tuple[str, str]:
        return (f"x-rule-{i % self.names}" if self.names > 1 else RULE_HEADER), f"t{i}"

    @property
    def header(self) -> str:
        """The request's header: it matches the last rule."""
        return "{}: {}".format(*self.rule_header(self.rules - 1))


def settings_for(endpoint_counts: list[int], rule_counts: list[int], named: list[int]) -> list[Setting]:
    """The 1-endpoint, 1-rule baseline first, then each endpoint count (1 rule), then each rule count (1 endpoint),
    then the rule counts of `named` with each rule on a header name of its own."""
    out = [Setting(1, 1)]
    out += [Setting(n, 1) for n in endpoint_counts if n != 1]
    out += [Setting(1, r) for r in rule_counts if r != 1]
    out += [Setting(1, r, r) for r in named if r > 1]
    return out


def endpoint_url(i: int, port: int) -> str:
    """The i-th distinct loopback address (127.0.0.1, 127.0.0.2, ..., 127.0.0.254, 127.0.1.1, ...)."""
    if i >= 254 * 256:
        raise ValueError("at most 65,024 endpoints")
    return f"http://127.0.{i // 254}.{i % 254 + 1}:{port}"


def gateway_config(setting: Setting, upstream: int, model: str) -> str:
    lines = [
        'version: "1"',
        "pools:",
        "  - name: fake",
        f"    models: [{{name: {model}}}]",
        *([f"    loadBalancing: {{algorithm: {setting.algorithm}}}"] if setting.algorithm else []),
        "    endpoints:",
        *(f'      - {{url: "{endpoint_url(i, upstream)}"}}' for i in range(setting.endpoints)),
        "routes:",
        "  - name: scaling",
        "    rules:",
    ]
    for i in range(setting.rules):
        name, value = setting.rule_header(i)
        lines += [
            f"      - name: r{i}",
            f"        match: {{headers: {{{name}: {value}}}}}",
            "        backends: [{pool: fake}]",
        ]
    return "\n".join(lines) + "\n"


def start_gateway(setting: Setting, upstream: int, args: argparse.Namespace, workdir: Path, logdir: Path) -> None:
    cfg = workdir / f"scaling-{setting.key}.yaml"
    cfg.write_text(gateway_config(setting, upstream, args.model))
    env = dp.tokenway_env(args)
    setting.port = dp.free_port()
    cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(cfg), "--port", str(setting.port)]
    cmd += list(args.tokenway_arg or [])
    setting.proc = dp.spawn(f"scaling-{setting.key}", dp.pinned(args.proxy_cpus, cmd), logdir, env=env, cwd=dp.REPO)
    dp.wait_ready(setting.port, setting.proc, args.startup_timeout)


ROUTE_COUNT = re.compile(r'^tokenway_requests_total\{[^}]*route="([^"]+)"[^}]*status="200"[^}]*\} (\S+)$', re.M)


def probe(setting: Setting, model: str) -> dict[str, Any]:
    """PROBES requests on one keep-alive connection: statuses, endpoints that served them, routes counted."""
    name, value = setting.header.split(": ", 1)
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 4})
    statuses: dict[int, int] = {}
    endpoints: set[str] = set()
    conn = http.client.HTTPConnection("127.0.0.1", setting.port, timeout=5)
    try:
        for _ in range(PROBES):
            conn.request("POST", dp.CHAT_PATH, body=body, headers={"Content-Type": "application/json", name: value})
            resp = conn.getresponse()
            resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            endpoints.add(resp.getheader("x-tokenway-endpoint") or "?")
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
    finally:
        conn.close()
    routes = {route: float(count) for route, count in ROUTE_COUNT.findall(metrics)}
    last_rule = f"r{setting.rules - 1}"
    problems = []
    if statuses != {200: PROBES}:
        problems.append(f"statuses {statuses}")
    if routes.get(last_rule, 0) < PROBES:
        problems.append(f"not routed by rule {last_rule}: {routes}")
    if len(endpoints) < min(setting.endpoints, PROBES // 2):
        problems.append(f"only {len(endpoints)} distinct endpoints served {PROBES} requests")
    if problems:
        raise RuntimeError("probe: " + "; ".join(problems))
    return {"statuses": statuses, "distinct_endpoints": len(endpoints), "routes": routes}


def run(args: argparse.Namespace, logdir: Path, workdir: Path, procs: list[dp.Proc]) -> dict[str, Any]:
    """Start an upstream and one gateway per setting, measure them in interleaved rounds, stop them."""
    settings = settings_for(args.scaling_endpoints, args.scaling_rules, args.scaling_named_rules)
    up, up_port = dp.start_upstream(args, logdir, host="0.0.0.0", name="scaling-upstream")
    procs.append(up)
    started: list[dp.Proc] = [up]
    try:
        for s in settings:
            dp.log(f"scaling: starting tokenway with {s.label}")
            try:
                start_gateway(s, up_port, args, workdir, logdir)
                s.probe = probe(s, args.model)
            except Exception as e:
                s.error = f"start: {e}"
                dp.log(f"  {s.label}: {e}")
            if s.proc is not None:
                procs.append(s.proc)
                started.append(s.proc)
        live = [s for s in settings if not s.error]
        for s in live:
            dp.log(f"scaling warm-up: {s.label}")
            # large pools open a connection per endpoint first: warm long enough to have them all
            dp.run_wrk(args, f"http://127.0.0.1:{s.port}{dp.CHAT_PATH}", args.connections,
                       max(args.warmup_seconds, 2 if s.endpoints >= 100 else 1), s.header)
        for i in range(args.rounds):
            for s in live:
                if s.error:
                    continue
                dp.log(f"scaling (round {i + 1}/{args.rounds}): {s.label}")
                try:
                    s.rounds.append(measure_one(s, args))
                except Exception as e:
                    s.error = f"measure: {e}"
                    dp.log(f"  {s.label}: {e}")
                if s.proc is not None and not s.proc.alive():
                    s.error = s.error or f"process exited ({s.proc.popen.returncode})"
    finally:
        for p in reversed(started):
            p.stop()
    return summarise(settings, args)


def measure_one(s: Setting, args: argparse.Namespace) -> dict[str, Any]:
    assert s.proc is not None
    c0 = dp.cpu_seconds(s.proc.pid)
    r = dp.run_wrk(args, f"http://127.0.0.1:{s.port}{dp.CHAT_PATH}", args.connections, args.seconds, s.header)
    spent = dp.cpu_seconds(s.proc.pid) - c0
    r["proxy_cpu"] = spent / (r["duration_us"] / 1e6)
    r["cpu_us_per_request"] = spent * 1e6 / r["requests"] if r["requests"] else None
    if r["error_count"]:
        raise RuntimeError(f"wrk saw errors: {r['errors']}")
    return r


def summarise(settings: list[Setting], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": [], "rounds": args.rounds, "seconds": args.seconds,
                           "connections": args.connections}
    base_rps = base_cpu = None
    for s in settings:
        row: dict[str, Any] = {"key": s.key, "label": s.label, "endpoints": s.endpoints, "rules": s.rules,
                               "names": s.names,
                               "error": s.error, "probe": s.probe, "rounds": s.rounds}
        if s.rounds:
            rps = [r["rps"] for r in s.rounds]
            row["rps"] = statistics.median(rps)
            row["p50_ms"] = statistics.median(r["latency_us"]["p50"] for r in s.rounds) / 1000
            row["p99_ms"] = statistics.median(r["latency_us"]["p99"] for r in s.rounds) / 1000
            cpus = [r["cpu_us_per_request"] for r in s.rounds if r.get("cpu_us_per_request") is not None]
            row["cpu_us_per_request"] = statistics.median(cpus) if cpus else None
            row["proxy_cpu"] = statistics.median(r["proxy_cpu"] for r in s.rounds)
        if s.endpoints == 1 and s.rules == 1:
            base_rps, base_cpu = row.get("rps"), row.get("cpu_us_per_request")
        out["settings"].append(row)
    for row in out["settings"]:
        row["ratio"] = row["rps"] / base_rps if base_rps and row.get("rps") else None
        # what the req/s ratio would be with the gateway's core saturated: CPU per request, inverted
        cpu = row.get("cpu_us_per_request")
        row["cpu_ratio"] = base_cpu / cpu if base_cpu and cpu else None
    return out


def report_table(result: dict[str, Any]) -> str:
    rows = []
    for row in result["settings"]:
        rows.append([
            row["label"],
            dp.fmt(row.get("rps"), ",.0f"),
            dp.fmt(row.get("ratio"), ".2f") + "x" if row.get("ratio") else "-",
            dp.fmt(row.get("cpu_ratio"), ".2f") + "x" if row.get("cpu_ratio") else "-",
            dp.fmt(row.get("p50_ms"), ".3f"),
            dp.fmt(row.get("p99_ms"), ".3f"),
            dp.fmt(row.get("cpu_us_per_request"), ".1f"),
            dp.fmt(row.get("proxy_cpu"), ".2f"),
            str(row["probe"].get("distinct_endpoints", "-")),
            (row["error"] or "").splitlines()[0][:80] if row["error"] else "",
        ])
    rounds = f"median of {result['rounds']} rounds" if result["rounds"] > 1 else "1 round"
    return dp.table(
        f"Scaling: tokenway req/s vs config size, one core, one fake upstream, wrk -t1 -c{result['connections']}, "
        f"{result['seconds']}s per round, {rounds}",
        ["setting", "req/s", "x 1e-1r", "cpu x 1e-1r", "p50 ms", "p99 ms", "cpu-us/req", "proxy cpu",
         "endpoints seen", "note"],
        rows,
    ) + (
        "\n  x 1e-1r: req/s against the 1-endpoint, 1-rule setting; cpu x 1e-1r: its CPU-us per request against"
        "\n  this one's, the req/s ratio a saturated core would give (proxy cpu < 1 means the load side, not the"
        "\n  gateway, capped req/s, and the req/s ratio alone could hide a cost). A target passes when both hold."
    )


def checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """req/s at the largest endpoint count and the largest rule count >= MIN_SCALING_RATIO x the baseline."""
    rows = result["settings"]
    base = rows[0]
    out = []
    picks = []
    by_endpoints = [r for r in rows if r["rules"] == 1 and r["endpoints"] > 1]
    by_rules = [r for r in rows if r["endpoints"] == 1 and r["rules"] > 1 and r["names"] == 1]
    by_names = [r for r in rows if r["endpoints"] == 1 and r["rules"] > 1 and r["names"] > 1]
    for group, size in ((by_endpoints, "endpoints"), (by_rules, "rules"), (by_names, "rules")):
        if group:
            picks.append(max(group, key=lambda r: r[size]))
    for row in picks:
        what = f"{row['endpoints']:,} endpoints" if row["rules"] == 1 else f"{row['rules']} header rules"
        if row["names"] > 1:
            what += f" on {row['names']} header names"
        name = f"req/s at {what} >= {MIN_SCALING_RATIO}x the 1-endpoint, 1-rule figure"
        if row.get("ratio") is None or row.get("cpu_ratio") is None:
            out.append({"check": name, "pass": None,
                        "detail": f"not measured ({row.get('error') or base.get('error') or 'no figure'})"})
        else:
            out.append({
                "check": name,
                "pass": min(row["ratio"], row["cpu_ratio"]) >= MIN_SCALING_RATIO,
                "detail": f"{row['rps']:,.0f} vs {base['rps']:,.0f} req/s = {row['ratio']:.2f}x; CPU per request "
                f"{row['cpu_us_per_request']:.1f} vs {base['cpu_us_per_request']:.1f} us = {row['cpu_ratio']:.2f}x",
            })
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the scaling run (dataplane.py takes them too)."""
    p.add_argument("--scaling-endpoints", type=_counts, default=[1, 10, 100, 1000],
                   help="endpoint counts, comma separated (default 1,10,100,1000)")
    p.add_argument("--scaling-rules", type=_counts, default=[1, 64, 256],
                   help="header rule counts, comma separated (default 1,64,256; at most 256, one RoutePolicy)")
    p.add_argument("--scaling-named-rules", type=_counts, default=[256],
                   help="rule counts also run with every rule on a header name of its own (default 256; '' for none)")


def _counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 round of 3 s per setting")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=4, help="wrk run per setting and round")
    p.add_argument("--warmup-seconds", type=int, default=1)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--model", default="bench-model")
    p.add_argument("--load-cpus")
    p.add_argument("--upstream-cpus")
    p.add_argument("--proxy-cpus")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--tokenway-arg", action="append", metavar="ARG")
    p.add_argument("--tokenway-rev", metavar="REV",
                   help="run Tokenway from `git archive REV` (e.g. HEAD) instead of the working tree")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--out", type=Path)
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    add_arguments(p)
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 3
    # what dataplane.start_upstream needs
    args.tokens, args.interval_ms, args.ttft_ms, args.upstream_workers = 64, 5.0, 5.0, 1
    ncpu = len(os.sched_getaffinity(0))
    if args.no_pin or ncpu < 2 or not shutil.which("taskset"):
        args.load_cpus = args.upstream_cpus = args.proxy_cpus = None
    else:
        args.load_cpus = args.load_cpus or "0"
        args.upstream_cpus = args.upstream_cpus or args.load_cpus
        args.proxy_cpus = args.proxy_cpus or "1"
    dp.NICE = args.nice
    if not shutil.which(args.wrk):
        sys.exit("missing: wrk (apt-get install -y wrk) -- run bench/setup.sh")

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = dp.BENCH / "results"
    logdir = results_dir / f"logs-scaling-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tokenway-scaling-"))
    if args.tokenway_rev:
        args.tokenway_src = dp.export_rev(args.tokenway_rev, workdir)
        dp.log(f"tokenway from {args.tokenway_rev}, exported to {args.tokenway_src}")
    load_start = os.getloadavg()
    started = time.monotonic()
    dp.log(f"pinning: load={args.load_cpus} proxy={args.proxy_cpus}; load average {load_start[0]:.2f}")
    procs: list[dp.Proc] = []
    with dp.cleanup(procs):
        result = run(args, logdir, workdir, procs)
    found = checks(result)
    print(report_table(result))
    print("\nTargets from issue 6:")
    for c in found:
        status = "SKIP" if c["pass"] is None else "PASS" if c["pass"] else "FAIL"
        print(f"  {status}  tokenway  {c['check']}: {c['detail']}")
    load_end = os.getloadavg()
    print(f"\nload average {load_start[0]:.2f} at start, {load_end[0]:.2f} at the end")
    out = args.out or results_dir / f"scaling-{stamp}.json"
    doc = {
        "benchmark": "scaling",
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": load_end},
        "pinning": {"load": args.load_cpus, "upstream": args.upstream_cpus, "proxy": args.proxy_cpus},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scaling": result,
        "checks": found,
    }
    out.write_text(json.dumps(doc, indent=2, default=str))
    print(f"JSON: {out}   logs: {logdir}   ({time.monotonic() - started:.0f}s)")
    shutil.rmtree(workdir, ignore_errors=True)
    if args.strict and (any(c["pass"] is False for c in found) or any(r["error"] for r in result["settings"])):
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
