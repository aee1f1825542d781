#!/usr/bin/env python3
"""TLS and HTTP/2 benchmark: Tokenway's listeners against its own plain HTTP/1.1 and HAProxy, in one run.

Everything sits in front of the same fast fake upstream (``bench/fake_upstream.py``)
and every figure is measured for every row back to back, in interleaved rounds
(medians reported), so ratios hold on a noisy machine. One Tokenway process serves
the plain port and the TLS port (``--tls-cert/--tls-key/--tls-port``); one HAProxy
(one thread, the same certificate and key, ``alpn h2,http/1.1``, the same TLS 1.2
cipher list, ``http-reuse always``, ``option http-no-delay``) is the C baseline.
The certificate is a fresh ECDSA P-256 one from a throwaway CA (``cryptography``).

Rows:
  direct h1        wrk straight to the fake upstream (the harness's ceiling);
  <proxy> h1       plain HTTP/1.1 (wrk);
  <proxy> tls-h1   HTTP/1.1 over TLS (wrk https, ALPN-less: http/1.1);
  <proxy> tls-h2   HTTP/2 over TLS by ALPN (h2load, one stream per connection, as many
                   connections as wrk uses);
  <proxy> tls-h2x  the same requests multiplexed: h2load -c1 -m<connections>;
  tokenway h2c     HTTP/2 with prior knowledge on the plain port (h2load http://).

Figures:
  1. non-streaming throughput, ``--connections`` concurrent requests: req/s, p50/p99,
     proxy CPU-us per request;
  2. non-streaming latency at one connection (c=1): p50/p99 (h2load's per-request
     log gives the HTTP/2 percentiles);
  3. new TLS connections per second: wrk with ``Connection: close`` (every request
     a full handshake; wrk never resumes sessions), ``--handshake-connections`` at once;
  4. streaming: ``--streams`` concurrent SSE streams (``bench/h2_stream_client.py``):
     over one HTTP/2 connection (tls-h2, h2c) or one HTTP/1.1 connection each (h1,
     tls-h1), TTFT and inter-token latency (ITL) p50/p99 against direct, and the proxy's CPU per
     relayed token (its CPU over the run / the tokens the client counted, scaled by the warm-up
     share: approximate, but far steadier than latency percentiles on a busy machine).
``--phases`` runs a subset (throughput, latency, handshakes, streaming).
Targets (issue 11), PASS/FAIL lines: Tokenway TLS/HTTP/1.1 req/s >= 0.8x its own plain
HTTP/1.1; Tokenway HTTP/2 streaming ITL p99 within 1 ms of its HTTP/1.1 (TLS/h2 vs
TLS/h1, and h2c vs plain h1).

Pinning as bench/dataplane.py: CPU 0 load generators and upstream, CPU 1 the proxy
under test (each proxy one core). Needs wrk, h2load (nghttp2-client) and haproxy:
``bench/setup.sh``. Run ``python bench/tls_h2.py`` (about 5 minutes) or ``--quick``.
JSON with every round lands in bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import dataplane as dp  # noqa: E402  (bench/dataplane.py: processes, pinning, wrk, the fake upstream)

REPO = BENCH.parent
CHAT_PATH = "/v1/chat/completions"
MIN_TLS_RATIO = 0.8
MAX_ITL_DELTA_MS = 1.0


# ----------------------------------------------------------------------------- certificates


def make_certificate(workdir: Path) -> tuple[Path, Path, Path, Path]:
    """A throwaway CA and an ECDSA P-256 server certificate for 127.0.0.1/localhost.

    Returns (ca, cert, key, haproxy_pem) paths; haproxy_pem holds cert then key.
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("bench-ca")).issuer_name(name("bench-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    paths = (workdir / "ca.crt", workdir / "server.crt", workdir / "server.key", workdir / "haproxy.pem")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(key_pem)
    paths[3].write_bytes(cert.public_bytes(pem) + key_pem)
    return paths


# ----------------------------------------------------------------------------- proxies


class Proxy:
    def __init__(self, name: str, proc: dp.Proc, plain: int, tls: int) -> None:
        self.name = name
        self.proc = proc
        self.plain = plain
        self.tls = tls


def start_tokenway(args: argparse.Namespace, upstream: int, workdir: Path, logdir: Path,
                   cert: Path, key: Path) -> Proxy:
    plain, tls = dp.free_port(), dp.free_port()
    cfg = workdir / "tokenway.yaml"
    cfg.write_text(f'version: "1"\npools:\n  - name: fake\n    models: [{{name: {args.model}}}]\n'
                   f'    endpoints: [{{url: "http://127.0.0.1:{upstream}"}}]\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "dataplane"), str(REPO / "operator")]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(cfg), "--host", "127.0.0.1",
           "--port", str(plain), "--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", str(tls),
           "--log-level", "warning"]
    proc = dp.spawn("tokenway", dp.pinned(args.proxy_cpus, cmd), logdir, env=env, cwd=REPO)
    dp.wait_ready(plain, proc, args.startup_timeout)
    return Proxy("tokenway", proc, plain, tls)


def start_haproxy(args: argparse.Namespace, upstream: int, workdir: Path, logdir: Path, pem: Path) -> Proxy:
    plain, tls = dp.free_port(), dp.free_port()
    cfg = workdir / "haproxy-tls.cfg"
    cfg.write_text(f"""global
    maxconn 8192
    nbthread 1
    ssl-default-bind-ciphers ECDHE+AESGCM:ECDHE+CHACHA20
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    option http-keep-alive
    option http-no-delay
    http-reuse always
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:{plain}
    bind 127.0.0.1:{tls} ssl crt {pem} alpn h2,http/1.1
    default_backend be
backend be
    server up1 127.0.0.1:{upstream} maxconn 8192
""")
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = dp.spawn("haproxy", dp.pinned(args.proxy_cpus, [exe, "-db", "-f", str(cfg)]), logdir)
    dp.wait_ready(plain, proc, args.startup_timeout)
    return Proxy("haproxy", proc, plain, tls)


# ----------------------------------------------------------------------------- load generators


def wrk(args: argparse.Namespace, url: str, conns: int, seconds: int, header: str | None = None) -> dict[str, Any]:
    cmd = dp.pinned(args.load_cpus, [args.wrk, "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s",
                                     str(dp.WRK_SCRIPT), url, "--", args.model] + ([header] if header else []))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            r: dict[str, Any] = json.loads(line[len("WRKJSON "):])
            secs = r["duration_us"] / 1e6
            r["rps"] = r["requests"] / secs if secs else 0.0
            r["error_count"] = sum(r["errors"].values())
            r["p50_ms"] = r["latency_us"]["p50"] / 1000
            r["p99_ms"] = r["latency_us"]["p99"] / 1000
            return r
    raise RuntimeError(f"wrk gave no summary (rc={out.returncode}): {out.stdout[-400:]} {out.stderr[-400:]}")


def h2load(args: argparse.Namespace, url: str, clients: int, streams: int, seconds: int,
           workdir: Path) -> dict[str, Any]:
    body = workdir / "body.json"
    body.write_text(json.dumps({"model": args.model, "messages": [{"role": "user",
                                                                    "content": "Say hello in five words."}],
                                "max_tokens": 16}, separators=(",", ":")))
    log_file = workdir / "h2load.log"
    log_file.unlink(missing_ok=True)
    cmd = dp.pinned(args.load_cpus, [args.h2load, "-t1", f"-c{clients}", f"-m{streams}", "-D", str(seconds),
                                     "-d", str(body), "-H", "content-type: application/json",
                                     f"--log-file={log_file}", url])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                     r"(\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    finished = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    if not (done and codes and finished):
        raise RuntimeError(f"h2load gave no summary (rc={out.returncode}): {text[-400:]} {out.stderr[-400:]}")
    durations = sorted(int(line.split("\t")[2]) for line in log_file.read_text().splitlines() if line.count("\t") >= 2)
    if not durations:
        raise RuntimeError("h2load logged no requests")
    ok = int(codes.group(1))
    errors = int(done.group(5)) + int(done.group(6)) + int(done.group(7)) + (int(done.group(4)) - ok)
    return {"rps": float(finished.group(3)), "requests": int(done.group(4)), "error_count": max(0, errors),
            "p50_ms": dp_pct(durations, 50) / 1000, "p99_ms": dp_pct(durations, 99) / 1000,
            "protocol": "h2" if "h2" in text else "?"}


def dp_pct(sorted_vals: list[int], p: float) -> float:
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return float(sorted_vals[k])


def streams(args: argparse.Namespace, url: str, proto: str, cafile: Path | None) -> dict[str, Any]:
    cmd = dp.pinned(args.load_cpus, [
        sys.executable, str(BENCH / "h2_stream_client.py"), "--url", url, "--proto", proto, "--model", args.model,
        "-c", str(args.streams), "-d", str(args.stream_seconds), "--warmup", str(args.stream_warmup),
        "--expect-tokens", str(args.tokens), "--stagger-ms", str(args.interval_ms)]
        + (["--cafile", str(cafile)] if cafile else []))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.stream_seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"stream client failed (rc={out.returncode}): {out.stderr[-800:]}")
    r: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return r


# ----------------------------------------------------------------------------- measuring


class Row:
    def __init__(self, name: str, proxy: Proxy | None, run: Callable[[int], dict[str, Any]]) -> None:
        self.name = name
        self.proxy = proxy
        self.run = run  # argument: connections (or streams)
        self.rounds: list[dict[str, Any]] = []
        self.error: str | None = None

    def median(self, key: str) -> float | None:
        vals = [r[key] for r in self.rounds if r.get(key) is not None and not math.isnan(r[key])]
        return statistics.median(vals) if vals else None


def measure(rows: list[Row], arg: int, rounds: int, title: str, counted_share: float = 1.0) -> None:
    """``counted_share``: for streaming, the part of a run whose tokens the client counts (the rest is
    warm-up), so that the proxy's CPU over the whole run is divided by an estimate of all its tokens."""
    for i in range(rounds):
        for row in rows:
            if row.error:
                continue
            dp.log(f"{title} (round {i + 1}/{rounds}): {row.name}")
            c0 = dp.cpu_seconds(row.proxy.proc.pid) if row.proxy else 0.0
            try:
                r = row.run(arg)
            except Exception as exc:
                row.error = str(exc).splitlines()[0][:200]
                dp.log(f"  {row.name} failed: {row.error}")
                continue
            if row.proxy is not None and r.get("requests"):
                r["cpu_us_per_request"] = (dp.cpu_seconds(row.proxy.proc.pid) - c0) * 1e6 / r["requests"]
            if row.proxy is not None and r.get("events"):
                r["cpu_us_per_token"] = (dp.cpu_seconds(row.proxy.proc.pid) - c0) * 1e6 * counted_share / r["events"]
            row.rounds.append(r)


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def report_requests(rows: list[Row], title: str, with_cpu: bool) -> str:
    headers = ["row", "req/s", "p50 ms", "p99 ms", "errors"] + (["cpu-us/req"] if with_cpu else [])
    lines = []
    for row in rows:
        errors = sum(r.get("error_count", 0) for r in row.rounds)
        cells = [row.name, fmt(row.median("rps"), ",.0f"), fmt(row.median("p50_ms"), ".3f"),
                 fmt(row.median("p99_ms"), ".3f"), str(errors) if row.rounds else (row.error or "-")]
        if with_cpu:
            cells.append(fmt(row.median("cpu_us_per_request"), ".1f"))
        lines.append(cells)
    return dp.table(title, headers, lines)


def stream_value(row: Row, key: str, p: str) -> float | None:
    vals = [r[key][p] for r in row.rounds if not math.isnan(r[key][p])]
    return statistics.median(vals) if vals else None


def report_streams(rows: list[Row], title: str) -> str:
    direct = next((r for r in rows if r.proxy is None), None)
    d_ttft = stream_value(direct, "ttft_ms", "p50") if direct else None
    d_itl = stream_value(direct, "itl_ms", "p99") if direct else None
    lines = []
    for row in rows:
        if not row.rounds:
            lines.append([row.name] + ["-"] * 8 + [row.error or ""])
            continue
        ttft50, ttft99 = stream_value(row, "ttft_ms", "p50"), stream_value(row, "ttft_ms", "p99")
        itl50, itl99 = stream_value(row, "itl_ms", "p50"), stream_value(row, "itl_ms", "p99")
        bad = sum(r["errors"] + r["short_streams"] for r in row.rounds)
        lines.append([row.name, fmt(ttft50, ".3f"), fmt(ttft99, ".3f"), fmt(itl50, ".3f"), fmt(itl99, ".3f"),
                      fmt(None if d_ttft is None or ttft50 is None else ttft50 - d_ttft, "+.3f"),
                      fmt(None if d_itl is None or itl99 is None else itl99 - d_itl, "+.3f"),
                      str(sum(r["streams"] for r in row.rounds)),
                      fmt(statistics.median(r["cpu_us_per_token"] for r in row.rounds)
                          if all("cpu_us_per_token" in r for r in row.rounds) else None, ".1f"),
                      (f"{bad} errors/short; " if bad else "")
                      + f"client cpu {statistics.median(r['client_cpu'] or 0 for r in row.rounds):.2f}"])
    return dp.table(title, ["row", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "dTTFT p50", "dITL p99", "streams",
                            "cpu-us/token", "note"], lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one short round of everything (about a minute)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=4, help="throughput run per row and round")
    p.add_argument("--c1-seconds", type=int, default=2)
    p.add_argument("--handshake-seconds", type=int, default=3)
    p.add_argument("--handshake-connections", type=int, default=8)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--streams", type=int, default=64)
    p.add_argument("--stream-seconds", type=float, default=2.0)
    p.add_argument("--stream-warmup", type=float, default=0.3)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--interval-ms", type=float, default=5.0)
    p.add_argument("--ttft-ms", type=float, default=5.0)
    p.add_argument("--upstream-workers", type=int, default=1)
    p.add_argument("--model", default="bench-model")
    p.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy rows")
    p.add_argument("--phases", default="throughput,latency,handshakes,streaming",
                   help="comma-separated subset of throughput,latency,handshakes,streaming")
    p.add_argument("--load-cpus")
    p.add_argument("--upstream-cpus")
    p.add_argument("--proxy-cpus")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--h2load", default=shutil.which("h2load") or "h2load")
    p.add_argument("--out", help="JSON results file (default bench/results/tls_h2-<time>.json)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.c1_seconds, args.handshake_seconds = 1, 2, 1, 2
        args.stream_seconds, args.stream_warmup = 1.5, 0.3
    ncpu = os.cpu_count() or 1
    if args.no_pin or ncpu < 2 or not shutil.which("taskset"):
        args.load_cpus = args.upstream_cpus = args.proxy_cpus = None
    else:
        args.load_cpus = args.load_cpus or "0"
        args.upstream_cpus = args.upstream_cpus or args.load_cpus
        args.proxy_cpus = args.proxy_cpus or "1"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in (args.wrk, args.h2load):
        if not shutil.which(tool):
            print(f"{tool} not found: run bench/setup.sh", file=sys.stderr)
            return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    logdir = results_dir / f"logs-tls_h2-{stamp}"
    logdir.mkdir()
    procs: list[dp.Proc] = []
    with tempfile.TemporaryDirectory(prefix="tokenway-tls-bench-") as tmp:
        workdir = Path(tmp)
        ca, cert, key, pem = make_certificate(workdir)
        try:
            upstream_proc, upstream = dp.start_upstream(args, logdir)
            procs.append(upstream_proc)
            tw = start_tokenway(args, upstream, workdir, logdir, cert, key)
            procs.append(tw.proc)
            proxies = [tw]
            if not args.no_haproxy:
                ha = start_haproxy(args, upstream, workdir, logdir, pem)
                procs.append(ha.proc)
                proxies.append(ha)
            dp.log(f"upstream :{upstream}; " + "; ".join(f"{p.name} plain :{p.plain} tls :{p.tls}" for p in proxies))
            text, data = run_all(args, upstream, proxies, workdir, ca)
        finally:
            for proc in reversed(procs):
                proc.stop()
    print(text)
    out = Path(args.out) if args.out else results_dir / f"tls_h2-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "versions": dp.versions(args), **data}, indent=1, default=str))
    dp.log(f"results: {out}; logs: {logdir}")
    return 0


def run_all(args: argparse.Namespace, upstream: int, proxies: list[Proxy], workdir: Path,
            ca: Path) -> tuple[str, dict[str, Any]]:
    url = f"http://127.0.0.1:{upstream}{CHAT_PATH}"

    def h1(proxy: Proxy | None, tls: bool, header: str | None = None, secs: int = 0) -> Callable[[int], dict[str, Any]]:
        target = url if proxy is None else (f"https://127.0.0.1:{proxy.tls}{CHAT_PATH}" if tls
                                            else f"http://127.0.0.1:{proxy.plain}{CHAT_PATH}")
        return lambda c: wrk(args, target, c, secs or (args.seconds if c > 1 else args.c1_seconds), header)

    def h2(proxy: Proxy, tls: bool, multiplex: bool = False) -> Callable[[int], dict[str, Any]]:
        target = f"https://127.0.0.1:{proxy.tls}{CHAT_PATH}" if tls else f"http://127.0.0.1:{proxy.plain}{CHAT_PATH}"
        return lambda c: h2load(args, target, 1 if multiplex else c, c if multiplex else 1,
                                args.seconds if c > 1 else args.c1_seconds, workdir)

    request_rows = [Row("direct h1", None, h1(None, False))]
    for proxy in proxies:
        request_rows += [Row(f"{proxy.name} h1", proxy, h1(proxy, False)),
                         Row(f"{proxy.name} tls-h1", proxy, h1(proxy, True)),
                         Row(f"{proxy.name} tls-h2", proxy, h2(proxy, True))]
        if proxy.name == "tokenway":
            request_rows.append(Row("tokenway h2c", proxy, h2(proxy, False)))
    multiplexed = [Row(f"{p.name} tls-h2x", p, h2(p, True, multiplex=True)) for p in proxies]
    handshake_rows = [Row(f"{p.name} tls-h1 new conn", p, h1(p, True, "Connection: close", args.handshake_seconds))
                      for p in proxies]

    def stream_row(name: str, proxy: Proxy | None, tls: bool, proto: str) -> Row:
        port = upstream if proxy is None else (proxy.tls if tls else proxy.plain)
        target = f"{'https' if tls else 'http'}://127.0.0.1:{port}{CHAT_PATH}"
        return Row(name, proxy, lambda _c: streams(args, target, proto, ca if tls else None))

    stream_rows = [stream_row("direct h1", None, False, "h1")]
    for proxy in proxies:
        stream_rows += [stream_row(f"{proxy.name} h1", proxy, False, "h1"),
                        stream_row(f"{proxy.name} tls-h1", proxy, True, "h1"),
                        stream_row(f"{proxy.name} tls-h2", proxy, True, "h2")]
        if proxy.name == "tokenway":
            stream_rows.append(stream_row("tokenway h2c", proxy, False, "h2"))

    phases = set(args.phases.split(","))
    c32 = [Row(r.name, r.proxy, r.run) for r in request_rows] + multiplexed
    c1 = [Row(r.name, r.proxy, r.run) for r in request_rows]
    if phases & {"throughput", "latency"}:
        dp.log("warm-up")
        for row in request_rows + multiplexed:
            try:
                row.run(args.connections)
            except Exception as exc:
                dp.log(f"  warm-up {row.name} failed: {exc}")
    if "throughput" in phases:
        measure(c32, args.connections, args.rounds, f"throughput @{args.connections}")
    if "latency" in phases:
        measure(c1, 1, args.rounds, "latency @1")
    if "handshakes" in phases:
        measure(handshake_rows, args.handshake_connections, args.rounds, "new TLS connections")
    if "streaming" in phases:
        measure(stream_rows, args.streams, args.rounds, f"streaming @{args.streams}",
                args.stream_seconds / (args.stream_seconds + args.stream_warmup))

    rounds = f"median of {args.rounds} rounds" if args.rounds > 1 else "1 round"
    out = [
        report_requests(c32, f"Non-streaming throughput, {args.connections} concurrent requests (wrk "
                        f"-c{args.connections}; h2load -c{args.connections} -m1; tls-h2x: h2load -c1 "
                        f"-m{args.connections}), {args.seconds}s, {rounds}", True),
        report_requests(c1, f"Non-streaming latency at one connection (wrk -c1; h2load -c1 -m1), "
                        f"{args.c1_seconds}s, {rounds}", False),
        report_requests(handshake_rows, f"New TLS connections per second (wrk -c{args.handshake_connections} "
                        f"'Connection: close': a full handshake per request), {args.handshake_seconds}s, {rounds}",
                        True),
        report_streams(stream_rows, f"Streaming (ms): {args.streams} streams x {args.tokens} tokens every "
                       f"{args.interval_ms:g} ms; h2 rows: all streams on ONE connection; h1 rows: a connection "
                       f"each; {args.stream_seconds:g}s, {rounds}"),
    ]
    checks = targets(c32, stream_rows)
    out.append("\nTargets from issue 11:\n" + "\n".join(
        f"  {'SKIP' if c['pass'] is None else 'PASS' if c['pass'] else 'FAIL'}  {c['check']}: {c['detail']}"
        for c in checks))
    data = {"throughput": {r.name: r.rounds for r in c32}, "latency_c1": {r.name: r.rounds for r in c1},
            "handshakes": {r.name: r.rounds for r in handshake_rows},
            "streaming": {r.name: r.rounds for r in stream_rows}, "checks": checks}
    return "\n".join(out), data


def targets(c32: list[Row], stream_rows: list[Row]) -> list[dict[str, Any]]:
    by = {r.name: r for r in c32}
    sby = {r.name: r for r in stream_rows}
    checks: list[dict[str, Any]] = []
    plain, tls = (by["tokenway h1"].median("rps") if "tokenway h1" in by else None,
                  by["tokenway tls-h1"].median("rps") if "tokenway tls-h1" in by else None)
    name = f"Tokenway TLS/HTTP/1.1 req/s >= {MIN_TLS_RATIO}x its plain HTTP/1.1"
    checks.append({"check": name, "pass": None if not (plain and tls) else tls >= MIN_TLS_RATIO * plain,
                   "detail": "not measured" if not (plain and tls) else
                   f"{tls:,.0f} vs {plain:,.0f} req/s = {tls / plain:.2f}x"})
    for h2_name, h1_name in (("tokenway tls-h2", "tokenway tls-h1"), ("tokenway h2c", "tokenway h1")):
        a, b = sby.get(h2_name), sby.get(h1_name)
        va = stream_value(a, "itl_ms", "p99") if a and a.rounds else None
        vb = stream_value(b, "itl_ms", "p99") if b and b.rounds else None
        name = f"{h2_name} streaming ITL p99 within {MAX_ITL_DELTA_MS:g} ms of {h1_name}"
        checks.append({"check": name, "pass": None if va is None or vb is None else va - vb <= MAX_ITL_DELTA_MS,
                       "detail": "not measured" if va is None or vb is None else
                       f"{va - vb:+.3f} ms ({va:.3f} vs {vb:.3f})"})
    return checks


if __name__ == "__main__":
    sys.exit(main())
