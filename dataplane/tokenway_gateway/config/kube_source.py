"""Hot reload from a Kubernetes ConfigMap: list once, then watch it, with plain httpx.

The operator writes the compiled snapshot into ConfigMap ``<gateway>-config``; this
source hands every new revision to :meth:`ConfigStore.offer` within
milliseconds of the write (a watch, not the kubelet's minute-long volume sync).
The gateway's Role allows get/list/watch on that one ConfigMap only, which is why
the list and the watch carry ``fieldSelector=metadata.name=...``.

Credentials: the pod's service account (in-cluster), else the kubeconfig named by
``$KUBECONFIG`` (token or client certificate; exec plugins are not supported).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from .store import ConfigStore

log = logging.getLogger("tokenway.config")

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
WATCH_SECONDS = 290  # under the API server's 5-minute cap; a fresh watch resumes from the last version
BACKOFF_MIN = 0.2
BACKOFF_MAX = 10.0


@dataclass
class KubeConnection:
    """Where the API server is and how to authenticate to it."""

    server: str
    ca_data: bytes | None = None
    insecure: bool = False
    token: str | None = None
    token_file: str | None = None  # re-read on every connect: projected tokens rotate
    cert_data: bytes | None = None
    key_data: bytes | None = None
    namespace: str | None = None
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    def bearer_token(self) -> str | None:
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token

    def headers(self) -> dict[str, str]:
        token = self.bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.ca_data:
                ctx.load_verify_locations(cadata=self.ca_data.decode())
            if self.cert_data and self.key_data:
                _load_cert_chain(ctx, self.cert_data, self.key_data)
            self._ssl = ctx
        return self._ssl

    def client(self, timeout: httpx.Timeout | float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server, verify=self.ssl_context(), timeout=timeout)

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
        base = Path(path).parent
        config: dict[str, Any] = yaml.safe_load(Path(path).read_text())
        context_name = context or config.get("current-context")
        ctx = _named(config.get("contexts"), context_name, "context")
        cluster = _named(config.get("clusters"), ctx.get("cluster"), "cluster")
        user = _named(config.get("users"), ctx.get("user"), "user") if ctx.get("user") else {}
        token_file = user.get("tokenFile")
        return cls(
            server=cluster["server"].rstrip("/"),
            ca_data=_data_or_file(cluster, "certificate-authority", base),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            token=user.get("token"),
            token_file=str(base / token_file) if token_file else None,
            cert_data=_data_or_file(user, "client-certificate", base),
            key_data=_data_or_file(user, "client-key", base),
            namespace=ctx.get("namespace"),
        )

    @classmethod
    def from_env(cls) -> KubeConnection:
        """In-cluster when running in a pod, else $KUBECONFIG (first entry) or ~/.kube/config.

        Raises KubeCredentialsError with a one-line reason when neither works."""
        if os.environ.get("KUBERNETES_SERVICE_HOST") and (SA_DIR / "token").exists():
            return cls.in_cluster()
        paths = os.environ.get("KUBECONFIG", "")
        path = next((p for p in paths.split(os.pathsep) if p), str(Path.home() / ".kube" / "config"))
        try:
            return cls.from_kubeconfig(path)
        except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
            raise KubeCredentialsError(
                f"no Kubernetes credentials: not in a pod, and kubeconfig {path} is unusable ({exc})") from exc


def _named(items: list[dict[str, Any]] | None, name: str | None, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            value: dict[str, Any] = item.get(what) or {}
            return value
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


class KubeCredentialsError(RuntimeError):
    """Neither in-cluster credentials nor a usable kubeconfig."""


class WatchExpired(Exception):
    """The resourceVersion we watch from is gone (HTTP 410): list again."""


class KubeConfigMapSource:
    """Keeps ``store`` on the latest valid revision of one ConfigMap key."""

    def __init__(
        self, namespace: str, name: str, store: ConfigStore, key: str = "config.yaml",
        connection: KubeConnection | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.store = store
        self.key = key
        self.connection = connection
        self.applied_resource_version: str | None = None
        self._last_text: str | None = None

    @property
    def origin(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    def _path_params(self) -> tuple[str, dict[str, str]]:
        return (f"/api/v1/namespaces/{self.namespace}/configmaps",
                {"fieldSelector": f"metadata.name={self.name}"})

    async def _handle(self, obj: dict[str, Any]) -> None:
        """One revision of the ConfigMap: apply its key when the text changed."""
        meta = obj.get("metadata") or {}
        text = (obj.get("data") or {}).get(self.key)
        if text is None:
            log.error("%s has no key %r, keeping the current config", self.origin, self.key)
            return
        if text != self._last_text:
            self._last_text = text
            await self.store.offer(text, f"{self.origin}@{meta.get('resourceVersion')}")
        self.applied_resource_version = meta.get("resourceVersion")

    async def list_once(self, client: httpx.AsyncClient, conn: KubeConnection) -> str:
        path, params = self._path_params()
        response = await client.get(path, params=params, headers=conn.headers())
        response.raise_for_status()
        body = response.json()
        items = body.get("items") or []
        if items:
            await self._handle(items[0])
        else:
            log.warning("%s does not exist yet; waiting for it", self.origin)
        version: str = body["metadata"]["resourceVersion"]
        return version

    async def watch(self, client: httpx.AsyncClient, conn: KubeConnection, version: str) -> str:
        """Follow changes from ``version``; returns the last version seen when the server ends the watch."""
        path, params = self._path_params()
        params |= {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true",
                   "timeoutSeconds": str(WATCH_SECONDS)}
        timeout = httpx.Timeout(10.0, read=WATCH_SECONDS + 30.0)
        async with client.stream("GET", path, params=params, headers=conn.headers(), timeout=timeout) as response:
            if response.status_code == 410:
                raise WatchExpired()
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired()
                    raise RuntimeError(f"watch error: {obj.get('message')}")
                version = (obj.get("metadata") or {}).get("resourceVersion", version)
                if kind in ("ADDED", "MODIFIED"):
                    await self._handle(obj)
                elif kind == "DELETED":
                    log.error("%s was deleted, keeping config version %s", self.origin,
                              self.store.current.version if self.store.current else "none")
                    self._last_text = None
        return version

    async def run(self) -> None:
        """List, then watch forever; relist on 410 and reconnect with backoff on errors."""
        conn = self.connection or KubeConnection.from_env()
        backoff = BACKOFF_MIN
        async with conn.client() as client:
            version: str | None = None
            while True:
                try:
                    if version is None:
                        version = await self.list_once(client, conn)
                    started = time.monotonic()
                    version = await self.watch(client, conn, version)
                    backoff = BACKOFF_MIN
                    if time.monotonic() - started < 1.0:
                        await asyncio.sleep(BACKOFF_MIN)  # a server ending watches at once must not spin us
                except WatchExpired:
                    version = None  # list again: events in between are summarised by the current state
                except (httpx.HTTPError, ValueError, RuntimeError, OSError) as exc:
                    log.warning("watching %s failed (%s); retrying in %.1fs", self.origin, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    version = None


def kube_source_from_arg(arg: str, store: ConfigStore, key: str = "config.yaml",
                         connection: KubeConnection | None = None) -> KubeConfigMapSource:
    """``"namespace/name"`` (as given to ``--kube-configmap``) -> a source; a bare name uses the pod's namespace."""
    namespace, sep, name = arg.partition("/")
    if not sep:
        name = namespace
        namespace = os.environ.get("POD_NAMESPACE") or _pod_namespace()
    if not namespace or not name:
        raise ValueError(f"--kube-configmap wants NAMESPACE/NAME, got {arg!r}")
    return KubeConfigMapSource(namespace, name, store, key=key, connection=connection)


def _pod_namespace() -> str:
    path = SA_DIR / "namespace"
    return path.read_text().strip() if path.exists() else "default"
