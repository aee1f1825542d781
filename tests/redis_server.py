"""A private, real `redis-server` for tests and benchmarks.

Each instance listens on a free loopback port, keeps its files in its own temp dir,
persists nothing, and is stopped at teardown. It can be killed and restarted on the
same port, so outage tests see the address come back.

Use it from a test module with::

    from redis_server import RedisServer, redis_server_fixture  # noqa: F401  (provides `redis_server`)

    def test_x(redis_server: RedisServer) -> None: ...

`./dev` installs the `redis-server` Debian package (`install_redis`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One `redis-server` process on 127.0.0.1; `url` is stable across kill/start."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (./dev installs the Debian package redis-server)")
        self.binary = binary
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="tw-redis-")) if workdir is None else workdir
        self.port = port or _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.workdir / "redis.log"

    def start(self) -> RedisServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
            "--logfile", str(self.log), "--loglevel", "warning",
        ]
        for attempt in range(3):
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if _ping(self.port):
                    return self
                time.sleep(0.02)
            self.stop()
            if attempt < 2 and self.proc.returncode is not None and self._port_taken():
                self.port = _free_port()  # lost a race for the port (only before the first start matters)
        raise RuntimeError(f"redis-server did not start on port {self.port}: {self._log_tail()}")

    def _port_taken(self) -> bool:
        return "Address already in use" in self._log_tail()

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: an outage as a crashed server looks (connections reset, port closed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test."""
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.close()
