"""Real processes on loopback for tests: simulator replicas and gateways.

Every wait is bounded; every process is stopped at teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = dict(os.environ)
    extra = f"{ROOT / 'dataplane'}{os.pathsep}{ROOT / 'operator'}"
    env["PYTHONPATH"] = extra + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None,
              log: Path | None = None, verify: str | bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {log.read_text() if log else ''}")
        try:
            context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
            if httpx.get(url, timeout=1.0, verify=context).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s: {log.read_text()[-2000:] if log else ''}")


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.extra.get('scheme', 'http')}://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class ProcessFactory:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[Proc] = []

    def _spawn(self, name: str, args: list[str], port: int, env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tokenway_gateway.cli", *args], stdout=out,
                                    stderr=subprocess.STDOUT, env={**_env(), **(env or {})})
        handle = Proc(proc, port, log)
        self.procs.append(handle)
        return handle

    def simulator(self, model: str = "sim-model", *flags: str, wait: bool = True, ca_file: str | None = None) -> Proc:
        """A simulator; with ``--ssl-certfile`` among the flags it serves HTTPS (``ca_file`` verifies it)."""
        port = free_port()
        handle = self._spawn("sim", ["sim", "--host", "127.0.0.1", "--port", str(port), "--model", model,
                                     "--log-level", "warning", *flags], port)
        if "--ssl-certfile" in flags:
            handle.extra["scheme"] = "https"
        if wait:
            wait_http(handle.url + "/health", proc=handle.proc, log=handle.log, verify=ca_file or True)
        return handle

    def gateway(self, config: dict[str, Any], *flags: str, env: dict[str, str] | None = None,
                ready_timeout: float = 20.0) -> Proc:
        port = free_port()
        config_path = self.workdir / f"gateway-{port}.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        handle = self._spawn("gateway", ["gateway", "--config", str(config_path), "--host", "127.0.0.1",
                                         "--port", str(port), "--reload-interval", "0.1", *flags], port, env)
        handle.extra["config_path"] = config_path
        wait_http(handle.url + "/readyz", timeout=ready_timeout, proc=handle.proc, log=handle.log)
        return handle

    def stop_all(self) -> None:
        for handle in self.procs:
            handle.stop(signal.SIGKILL if handle.proc.poll() is None else signal.SIGTERM, timeout=5)


def pool(name: str, model: str, *urls: str, aliases: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "models": [{"name": model, "aliases": aliases or []}],
            "endpoints": [{"url": url} for url in urls]}


def processes(tmp: Path) -> Iterator[ProcessFactory]:
    factory = ProcessFactory(tmp)
    try:
        yield factory
    finally:
        factory.stop_all()
