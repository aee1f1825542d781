"""Where the API server is and how to authenticate to it: in-cluster, or a kubeconfig.

Shared by the gateway (its config and Secret watches) and the operator (kopf's login
and its own writes), so both authenticate the same way. Supported kubeconfig users:
bearer token, token file, client certificate, and ``exec`` credential plugins (EKS,
GKE, AKS). Several ``$KUBECONFIG`` files are merged as kubectl merges them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from .errors import KubeCredentialsError
from .exec_plugin import Credentials, ExecConfig, ExecCredentialSource, cluster_info

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_FILE_REREAD_SECONDS = 60.0  # projected service-account tokens rotate long before they expire


@dataclass
class KubeConnection:
    """Where the API server is and how to authenticate to it."""

    server: str
    ca_data: bytes | None = None
    insecure: bool = False
    token: str | None = None
    token_file: str | None = None  # re-read at most every minute: projected tokens rotate
    cert_data: bytes | None = None
    key_data: bytes | None = None
    namespace: str | None = None
    exec: ExecConfig | None = None
    _exec_source: ExecCredentialSource | None = field(default=None, repr=False)
    _file_token: tuple[float, str] | None = field(default=None, repr=False)
    _ssl: dict[tuple[bytes | None, bytes | None], ssl.SSLContext] = field(default_factory=dict, repr=False)

    # ---- credentials ------------------------------------------------------------------------

    async def credentials(self) -> Credentials:
        """The credential for the next request (runs the exec plugin when its token expired)."""
        if self.exec is not None:
            if self._exec_source is None:
                self._exec_source = ExecCredentialSource(
                    self.exec, cluster_info(self.server, self.ca_data, self.insecure))
            creds = await self._exec_source.get()
            if creds.cert_data is None and self.cert_data is not None:
                creds = Credentials(creds.token, self.cert_data, self.key_data, creds.expires_at)
            return creds
        token = self.token
        if self.token_file:
            cached = self._file_token
            if cached is None or time.monotonic() - cached[0] > TOKEN_FILE_REREAD_SECONDS:
                text = await asyncio.to_thread(Path(self.token_file).read_text)
                cached = self._file_token = (time.monotonic(), text.strip())
            token = cached[1]
        return Credentials(token=token, cert_data=self.cert_data, key_data=self.key_data)

    def invalidate(self) -> None:
        """The API server said 401: forget cached tokens so the next request fetches fresh ones."""
        self._file_token = None
        if self._exec_source is not None:
            self._exec_source.invalidate()

    async def auth_headers(self) -> dict[str, str]:
        token = (await self.credentials()).token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ssl_context(self, creds: Credentials | None = None) -> ssl.SSLContext:
        """TLS settings for the API server, with the client certificate of ``creds`` (or the static one)."""
        cert = creds.cert_data if creds is not None else self.cert_data
        key = creds.key_data if creds is not None else self.key_data
        ctx = self._ssl.get((cert, key))
        if ctx is None:
            ctx = ssl.create_default_context()
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.ca_data:
                ctx.load_verify_locations(cadata=self.ca_data.decode())
            if cert and key:
                _load_cert_chain(ctx, cert, key)
            self._ssl = {(cert, key): ctx}  # a rotated certificate replaces the old one
        return ctx

    def client(self, timeout: httpx.Timeout | float = 30.0) -> httpx.AsyncClient:
        """A bare httpx client for this server: TLS set up, no credentials (pass headers, or use KubeClient)."""
        return httpx.AsyncClient(base_url=self.server, verify=self.ssl_context(), timeout=timeout)

    # ---- where from -------------------------------------------------------------------------

    @classmethod
    def in_cluster(cls) -> KubeConnection:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        namespace_file = SA_DIR / "namespace"
        return cls(
            server=f"https://{host}:{port}",
            ca_data=(SA_DIR / "ca.crt").read_bytes(),
            token_file=str(SA_DIR / "token"),
            namespace=namespace_file.read_text().strip() if namespace_file.exists() else None,
        )

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], context: str | None = None) -> KubeConnection:
        """One kubeconfig file (or several, separated as in $KUBECONFIG, merged as kubectl merges them)."""
        paths = [Path(p) for p in str(path).split(os.pathsep) if p]
        config = _merge([(yaml.safe_load(p.read_text()) or {}, p.parent) for p in paths if p.exists()])
        if not config.get("clusters") and paths and not any(p.exists() for p in paths):
            raise FileNotFoundError(f"no kubeconfig at {path}")
        context_name = context or config.get("current-context")
        if not context_name:
            raise ValueError("kubeconfig has no current-context (pass a context)")
        ctx, _ = _named(config.get("contexts"), context_name, "context")
        cluster, cluster_dir = _named(config.get("clusters"), ctx.get("cluster"), "cluster")
        user, user_dir = _named(config.get("users"), ctx.get("user"), "user") if ctx.get("user") else ({}, Path())
        if user.get("auth-provider"):
            name = (user["auth-provider"] or {}).get("name")
            raise KubeCredentialsError(
                f"kubeconfig user {ctx.get('user')!r} uses auth-provider {name!r}, which is not supported: "
                "use its exec credential plugin (gke-gcloud-auth-plugin, kubelogin, aws eks get-token)")
        token_file = user.get("tokenFile")
        return cls(
            server=str(cluster["server"]).rstrip("/"),
            ca_data=_data_or_file(cluster, "certificate-authority", cluster_dir),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            token=user.get("token"),
            token_file=str(user_dir / token_file) if token_file else None,
            cert_data=_data_or_file(user, "client-certificate", user_dir),
            key_data=_data_or_file(user, "client-key", user_dir),
            namespace=ctx.get("namespace"),
            exec=ExecConfig.from_kubeconfig(user["exec"], user_dir) if user.get("exec") else None,
        )

    @classmethod
    def from_env(cls, kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> KubeConnection:
        """``kubeconfig`` when given; else in-cluster in a pod; else $KUBECONFIG or ~/.kube/config.

        ``context`` picks a kubeconfig context (it implies a kubeconfig, even in a pod).
        Raises KubeCredentialsError with a one-line reason when nothing works."""
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST") \
                and (SA_DIR / "token").exists():
            return cls.in_cluster()
        path = str(kubeconfig or os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config")
        try:
            return cls.from_kubeconfig(path, context)
        except KubeCredentialsError:
            raise
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            where = "" if kubeconfig else "not in a pod, and "
            raise KubeCredentialsError(f"no Kubernetes credentials: {where}kubeconfig {path} is unusable ({exc})") \
                from exc


def _merge(files: list[tuple[dict[str, Any], Path]]) -> dict[str, Any]:
    """kubectl's merge: the first file to name a cluster, user or context wins; so does the first current-context."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    for config, base in files:
        for section in ("clusters", "users", "contexts"):
            known = {item.get("name") for item in merged[section]}
            for item in config.get(section) or []:
                if item.get("name") not in known:
                    merged[section].append({**item, "_base": base})
        if not merged.get("current-context") and config.get("current-context"):
            merged["current-context"] = config["current-context"]
    return merged


def _named(items: list[dict[str, Any]] | None, name: str | None, what: str) -> tuple[dict[str, Any], Path]:
    for item in items or []:
        if item.get("name") == name:
            value: dict[str, Any] = item.get(what) or {}
            return value, Path(item.get("_base") or ".")
    raise ValueError(f"kubeconfig has no {what} named {name!r}")


def _data_or_file(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    if section.get(f"{key}-data"):
        return base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        return (base / str(section[key])).read_bytes()
    return None


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl wants files; write them to a private temp dir just long enough to load.
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        os.chmod(key_path, 0o600)
        ctx.load_cert_chain(str(cert_path), str(key_path))
