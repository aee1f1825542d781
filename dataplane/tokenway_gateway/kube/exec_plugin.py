"""kubeconfig ``exec`` credential plugins (client.authentication.k8s.io v1 and v1beta1).

EKS (``aws eks get-token``), GKE (``gke-gcloud-auth-plugin``) and AKS (``kubelogin``)
kubeconfigs name a command that prints an ``ExecCredential`` with a token (or a
client certificate) and when it expires. The command runs as an asyncio subprocess,
so the event loop never waits on it; :class:`ExecCredentialSource` caches the result
until shortly before its ``expirationTimestamp`` and runs the command once for any
number of concurrent callers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import KubeCredentialsError

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_TIMEOUT_SECONDS = 60.0
REFRESH_BEFORE_EXPIRY_SECONDS = 30.0  # refresh a little early: a request must not carry a token that expires in flight


@dataclass(frozen=True)
class Credentials:
    """What one request authenticates with; ``expires_at`` is wall-clock epoch seconds (None: no expiry)."""

    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    expires_at: float | None = None


@dataclass(frozen=True)
class ExecConfig:
    """The ``users[].user.exec`` section of a kubeconfig."""

    command: str
    api_version: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    provide_cluster_info: bool = False
    install_hint: str | None = None
    interactive_mode: str = "IfAvailable"
    base_dir: Path = field(default_factory=Path.cwd)

    @classmethod
    def from_kubeconfig(cls, section: Mapping[str, Any], base_dir: Path) -> ExecConfig:
        api_version = str(section.get("apiVersion") or "")
        if api_version not in EXEC_API_VERSIONS:
            raise KubeCredentialsError(
                f"exec plugin apiVersion {api_version!r} is not supported (use one of {', '.join(EXEC_API_VERSIONS)})")
        command = section.get("command")
        if not command:
            raise KubeCredentialsError("kubeconfig exec section has no command")
        env = tuple((str(e["name"]), str(e.get("value", ""))) for e in section.get("env") or [])
        return cls(
            command=str(command),
            api_version=api_version,
            args=tuple(str(a) for a in section.get("args") or []),
            env=env,
            provide_cluster_info=bool(section.get("provideClusterInfo", False)),
            install_hint=section.get("installHint"),
            interactive_mode=str(section.get("interactiveMode") or "IfAvailable"),
            base_dir=base_dir,
        )

    def resolved_command(self) -> str:
        """As kubectl does: a command with a path separator is relative to the kubeconfig's folder."""
        if os.sep in self.command and not os.path.isabs(self.command):
            return str(self.base_dir / self.command)
        return self.command


def _parse_timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_exec_credential(stdout: bytes, api_version: str) -> Credentials:
    """The plugin's output -> Credentials; raises KubeCredentialsError when it is not a usable ExecCredential."""
    try:
        body = json.loads(stdout)
    except ValueError as exc:
        raise KubeCredentialsError(f"exec plugin printed no JSON ExecCredential ({exc})") from exc
    if not isinstance(body, dict) or body.get("kind") != "ExecCredential":
        raise KubeCredentialsError("exec plugin output is not an ExecCredential")
    if body.get("apiVersion") != api_version:
        raise KubeCredentialsError(
            f"exec plugin answered apiVersion {body.get('apiVersion')!r}, the kubeconfig asked for {api_version!r}")
    status = body.get("status") or {}
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not token and not (cert and key):
        raise KubeCredentialsError("exec plugin returned neither a token nor a client certificate and key")
    expires = status.get("expirationTimestamp")
    try:
        expires_at = _parse_timestamp(str(expires)) if expires else None
    except ValueError as exc:
        raise KubeCredentialsError(f"exec plugin expirationTimestamp {expires!r} is not RFC 3339") from exc
    return Credentials(
        token=str(token) if token else None,
        cert_data=str(cert).encode() if cert else None,
        key_data=str(key).encode() if key else None,
        expires_at=expires_at,
    )


def cluster_info(server: str, ca_data: bytes | None, insecure: bool) -> dict[str, Any]:
    """``spec.cluster`` of the ExecCredential request (provideClusterInfo: true)."""
    info: dict[str, Any] = {"server": server, "insecure-skip-tls-verify": insecure}
    if ca_data:
        info["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    return info


async def run_exec(config: ExecConfig, cluster: dict[str, Any] | None = None,
                   timeout: float = EXEC_TIMEOUT_SECONDS) -> Credentials:
    """Run the plugin once (never interactively: the operator and the gateway have no terminal)."""
    if config.interactive_mode == "Always":
        raise KubeCredentialsError(
            f"exec plugin {config.command} needs an interactive terminal (interactiveMode: Always)")
    spec: dict[str, Any] = {"interactive": False}
    if config.provide_cluster_info and cluster is not None:
        spec["cluster"] = cluster
    request = {"apiVersion": config.api_version, "kind": "ExecCredential", "spec": spec}
    env = {**os.environ, **dict(config.env), "KUBERNETES_EXEC_INFO": json.dumps(request)}
    command = config.resolved_command()
    try:
        proc = await asyncio.create_subprocess_exec(
            command, *config.args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
    except OSError as exc:
        hint = f" ({config.install_hint.strip()})" if config.install_hint else ""
        raise KubeCredentialsError(f"cannot run exec plugin {command}: {exc}{hint}") from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise KubeCredentialsError(f"exec plugin {command} did not answer within {timeout:.0f}s") from exc
    if proc.returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-500:]
        raise KubeCredentialsError(f"exec plugin {command} exited with code {proc.returncode}: {tail}")
    return parse_exec_credential(stdout, config.api_version)


class ExecCredentialSource:
    """Runs the plugin when no unexpired credential is cached; one run for all concurrent callers."""

    def __init__(self, config: ExecConfig, cluster: dict[str, Any] | None = None) -> None:
        self.config = config
        self.cluster = cluster
        self.runs = 0
        self._cached: Credentials | None = None
        self._lock: asyncio.Lock | None = None

    def _fresh(self) -> Credentials | None:
        cached = self._cached
        if cached is None:
            return None
        if cached.expires_at is not None and time.time() >= cached.expires_at - REFRESH_BEFORE_EXPIRY_SECONDS:
            return None
        return cached

    async def get(self) -> Credentials:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            fresh = self._fresh()  # another caller may have run the plugin meanwhile
            if fresh is None:
                self.runs += 1
                fresh = self._cached = await run_exec(self.config, self.cluster)
            return fresh

    def invalidate(self) -> None:
        """The API server refused the cached credential (401): run the plugin again next time."""
        self._cached = None
