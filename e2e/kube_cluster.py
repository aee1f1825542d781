"""A real Kubernetes control plane (etcd + kube-apiserver) on loopback, for tests.

The binaries (kube-apiserver, etcd, helm) are built from pinned Go modules by
``e2e/controlplane/build.sh`` into a cache outside the repository; see
``e2e/controlplane/README.md``.

Typical use::

    with ControlPlane() as cp:
        subprocess.run([cp.helm_path, "install", ..., "--kubeconfig", cp.kubeconfig_path])
        sa_kubeconfig = cp.service_account_kubeconfig("tokenway-system", "tokenway-operator")
        # run the operator with KUBECONFIG=sa_kubeconfig: it has exactly the RBAC
        # that the chart grants to that ServiceAccount.

Only etcd and kube-apiserver run: there is no kube-controller-manager, scheduler
or kubelet. So Deployments never get ReplicaSets or Pods, ownerReference garbage
collection does not happen, and a deleted namespace stays ``Terminating``.
Everything the API server does by itself works: CRDs (with CEL validation),
admission (including ValidatingAdmissionPolicy and webhooks), RBAC, TokenRequest,
server-side apply, watches.

This module deliberately does not import pytest; the fixture lives in
``e2e/conftest_controlplane.py`` and is built on :func:`shared_control_plane`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "BUILD_SCRIPT",
    "ControlPlane",
    "ControlPlaneError",
    "build_binaries",
    "shared_control_plane",
]

BUILD_SCRIPT = Path(__file__).resolve().parent / "controlplane" / "build.sh"
"""The script that builds (or finds cached) kube-apiserver, etcd and helm."""

BIN_DIR_ENV = "TOKENWAY_CONTROLPLANE_BIN"
"""If set, a directory holding prebuilt kube-apiserver, etcd and helm; skips build.sh."""

KEEP_WORKDIR_ENV = "TOKENWAY_CONTROLPLANE_KEEP"
"""If set to 1, the temp dir (certs, logs, etcd data) is kept after stop()."""

ADMIN_USER = "tokenway-e2e-admin"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
BINARIES = ("kube-apiserver", "etcd", "helm")

_LOG_TAIL_BYTES = 6000


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or used."""


# --------------------------------------------------------------------------- build


def build_binaries(*, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Run ``build.sh`` (a no-op when cached) and return the bin directory.

    The build log goes to this process's stderr. ``cache_dir`` overrides
    ``$TOKENWAY_CACHE`` (default ``~/.cache/tokenway``).
    """
    env = dict(os.environ)
    if cache_dir is not None:
        env["TOKENWAY_CACHE"] = os.fspath(cache_dir)
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode} (its log is on stderr)")
    bin_dir = Path(lines[-1])
    _check_bin_dir(bin_dir)
    return bin_dir


def _check_bin_dir(bin_dir: Path) -> None:
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise ControlPlaneError(f"{bin_dir} lacks executable(s): {', '.join(missing)}")


def _resolve_bin_dir(bin_dir: str | os.PathLike[str] | None) -> Path:
    if bin_dir is None and os.environ.get(BIN_DIR_ENV):
        bin_dir = os.environ[BIN_DIR_ENV]
    if bin_dir is None:
        return build_binaries()
    path = Path(bin_dir).resolve()
    _check_bin_dir(path)
    return path


# --------------------------------------------------------------------------- certificates


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


class _Certs:
    """CA, apiserver serving certificate and service-account signing key."""

    def __init__(self, directory: Path) -> None:
        now = dt.datetime.now(dt.UTC)
        not_before = now - dt.timedelta(hours=1)
        not_after = now + dt.timedelta(days=7)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenway-e2e-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        serving_key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [
            x509.DNSName(name)
            for name in (
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            )
        ]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1", "10.0.0.1")]
        serving_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name)
            .public_key(serving_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )

        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        self.ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_path = _write(directory / "ca.crt", self.ca_pem, 0o644)
        self.serving_cert_path = _write(
            directory / "apiserver.crt", serving_cert.public_bytes(serialization.Encoding.PEM)
        )
        self.serving_key_path = _write(directory / "apiserver.key", _pem_key(serving_key))
        self.sa_key_path = _write(directory / "sa.key", _pem_key(sa_key))
        self.sa_pub_path = _write(
            directory / "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            0o644,
        )


# --------------------------------------------------------------------------- processes


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback TCP ports (all sockets are held until all are chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _parent_death_killer() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return set_pdeathsig


def _tail(path: Path, limit: int = _LOG_TAIL_BYTES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = data.decode("utf-8", "replace")
    return ("...\n" if size > limit else "") + text


class _Process:
    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_path: Path,
        cwd: Path,
        kill_on_parent_death: bool,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        preexec = _parent_death_killer() if kill_on_parent_death else None
        try:
            self.popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=preexec,  # only calls prctl(2)
            )
        except BaseException:
            self._log.close()
            raise

    def running(self) -> bool:
        return self.popen.poll() is None

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float) -> None:
        if self.running():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(10)
        self._log.close()


# --------------------------------------------------------------------------- control plane


class ControlPlane:
    """etcd + kube-apiserver on free loopback ports; a context manager.

    Attributes (valid after :meth:`start`):

    * ``bin_dir``: directory with ``kube-apiserver``, ``etcd``, ``helm``.
    * ``helm_path``: the pinned ``helm`` binary.
    * ``workdir``: temp dir with certs, kubeconfigs, logs and etcd data.
    * ``server``: ``https://127.0.0.1:<port>``.
    * ``ca_path``: CA certificate (PEM) that signed the serving certificate.
    * ``admin_token``: bearer token of user ``tokenway-e2e-admin`` in ``system:masters``.
    * ``kubeconfig_path``: kubeconfig for that admin user.
    * ``etcd_url``: ``http://127.0.0.1:<port>``.
    * ``apiserver_log_path`` / ``etcd_log_path``: process logs.
    * ``startup_seconds``: time from launching etcd to the API server being ready.
    """

    def __init__(
        self,
        bin_dir: str | os.PathLike[str] | None = None,
        *,
        startup_timeout: float = 90.0,
        stop_timeout: float = 15.0,
        keep_workdir: bool | None = None,
        extra_apiserver_args: Sequence[str] = (),
        kill_on_parent_death: bool = True,
    ) -> None:
        """Configure (but do not start) a control plane.

        :param bin_dir: prebuilt binaries; default ``$TOKENWAY_CONTROLPLANE_BIN``, else
            the output of ``build.sh`` (built on first use, cached afterwards).
        :param startup_timeout: seconds to wait for etcd and for ``/readyz``.
        :param stop_timeout: seconds to wait after SIGTERM before SIGKILL, per process.
        :param keep_workdir: keep the temp dir after stop (default:
            ``$TOKENWAY_CONTROLPLANE_KEEP == "1"``).
        :param extra_apiserver_args: appended to the kube-apiserver command line
            (a later ``--flag=value`` overrides an earlier one).
        :param kill_on_parent_death: have the kernel SIGKILL etcd/kube-apiserver if
            the process that started them dies (Linux ``PR_SET_PDEATHSIG``; it fires
            when the starting *thread* exits, so pass False when starting from a
            short-lived thread).
        """
        self._bin_dir_arg = bin_dir
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_workdir = keep_workdir if keep_workdir is not None else os.environ.get(KEEP_WORKDIR_ENV) == "1"
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self.kill_on_parent_death = kill_on_parent_death

        self._procs: list[_Process] = []
        self._certs: _Certs | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._workdir: Path | None = None
        self._server: str | None = None
        self._admin_token: str | None = None
        self._kubeconfig_path: Path | None = None
        self._bin_dir: Path | None = None
        self.etcd_url: str | None = None
        self.startup_seconds: float | None = None

    # ---- attributes that only exist once started

    def _need(self, value: Any, what: str) -> Any:
        if value is None:
            raise ControlPlaneError(f"{what} is only available after start()")
        return value

    @property
    def bin_dir(self) -> Path:
        bin_dir: Path = self._need(self._bin_dir, "bin_dir")
        return bin_dir

    @property
    def helm_path(self) -> Path:
        return self.bin_dir / "helm"

    @property
    def workdir(self) -> Path:
        workdir: Path = self._need(self._workdir, "workdir")
        return workdir

    @property
    def server(self) -> str:
        server: str = self._need(self._server, "server")
        return server

    @property
    def ca_path(self) -> Path:
        certs: _Certs = self._need(self._certs, "ca_path")
        return certs.ca_path

    @property
    def admin_token(self) -> str:
        token: str = self._need(self._admin_token, "admin_token")
        return token

    @property
    def kubeconfig_path(self) -> Path:
        path: Path = self._need(self._kubeconfig_path, "kubeconfig_path")
        return path

    @property
    def apiserver_log_path(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    @property
    def etcd_log_path(self) -> Path:
        return self.workdir / "etcd.log"

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.running() for p in self._procs)

    # ---- lifecycle

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        """Start etcd and kube-apiserver and wait until the API is ready."""
        if self._procs:
            raise ControlPlaneError("control plane already started")
        self._bin_dir = _resolve_bin_dir(self._bin_dir_arg)
        self._workdir = Path(tempfile.mkdtemp(prefix="tokenway-controlplane-"))
        atexit.register(self.stop)
        try:
            self._certs = _Certs(self._workdir)
            self._ssl_context = ssl.create_default_context(cafile=str(self._certs.ca_path))
            self._admin_token = secrets.token_urlsafe(32)
            _write(
                self._workdir / "tokens.csv",
                f'{self._admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'.encode(),
            )
            # A port picked by _free_ports can be taken by someone else before the
            # server binds it; retry the whole launch a few times in that case.
            for attempt in range(3):
                t0 = time.monotonic()
                try:
                    self._launch()
                except _PortInUseError:
                    self._stop_processes()
                    if attempt == 2:
                        raise
                    continue
                self.startup_seconds = time.monotonic() - t0
                break
            self._kubeconfig_path = self._write_kubeconfig("admin", self.admin_token, user=ADMIN_USER)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        workdir = self.workdir
        certs = self._need(self._certs, "certs")
        etcd_client, etcd_peer, apiserver_port = _free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{etcd_client}"
        peer_url = f"http://127.0.0.1:{etcd_peer}"
        data_dir = workdir / "etcd-data"
        shutil.rmtree(data_dir, ignore_errors=True)
        etcd_args = [
            str(self.bin_dir / "etcd"),
            "--name=e2e",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=e2e={peer_url}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        self._procs.append(_Process("etcd", etcd_args, self.etcd_log_path, workdir, self.kill_on_parent_death))
        deadline = time.monotonic() + self.startup_timeout
        self._wait(
            "etcd",
            lambda client: client.get(f"{self.etcd_url}/health").status_code == 200,
            deadline,
        )

        self._server = f"https://127.0.0.1:{apiserver_port}"
        apiserver_args = [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={apiserver_port}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={certs.serving_cert_path}",
            f"--tls-private-key-file={certs.serving_key_path}",
            f"--client-ca-file={certs.ca_path}",
            f"--token-auth-file={workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={certs.sa_pub_path}",
            f"--service-account-signing-key-file={certs.sa_key_path}",
            f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # Nothing creates the "default" ServiceAccount without a
            # controller-manager; the ServiceAccount admission plugin would then
            # reject every Pod.
            "--disable-admission-plugins=ServiceAccount",
            # No controller-manager/kubelet: do not reconcile the "kubernetes"
            # Service endpoints (a loopback endpoint would be rejected anyway).
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            "--allow-privileged=true",
            "--profiling=false",
            "--goaway-chance=0",
            "--v=1",
            *self.extra_apiserver_args,
        ]
        self._procs.append(
            _Process(
                "kube-apiserver",
                apiserver_args,
                self.apiserver_log_path,
                workdir,
                self.kill_on_parent_death,
            )
        )
        headers = {"Authorization": f"Bearer {self.admin_token}"}

        def ready(client: httpx.Client) -> bool:
            r = client.get(f"{self.server}/readyz", headers=headers)
            if r.status_code != 200:
                return False
            r = client.get(f"{self.server}/api/v1/namespaces/default", headers=headers)
            return r.status_code == 200

        self._wait("kube-apiserver", ready, deadline)

    def _wait(self, what: str, check: Callable[[httpx.Client], bool], deadline: float) -> None:
        last_error = "not polled yet"
        with httpx.Client(verify=self._need(self._ssl_context, "ssl"), timeout=5.0) as client:
            while True:
                for proc in self._procs:
                    if not proc.running():
                        tail = _tail(proc.log_path)
                        if "address already in use" in tail:
                            raise _PortInUseError(f"{proc.name}: address already in use")
                        raise self._startup_error(
                            f"{proc.name} exited with code {proc.popen.returncode} while waiting for {what}"
                        )
                try:
                    if check(client):
                        return
                    last_error = "not ready"
                except httpx.HTTPError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise self._startup_error(
                        f"{what} not ready within {self.startup_timeout:.0f}s (last poll: {last_error})"
                    )
                time.sleep(0.2)

    def _startup_error(self, message: str) -> ControlPlaneError:
        parts = [message]
        for proc in self._procs:
            parts.append(f"--- tail of {proc.log_path} ---\n{_tail(proc.log_path)}")
        return ControlPlaneError("\n".join(parts))

    def _stop_processes(self) -> None:
        # The API server first (it depends on etcd), then etcd.
        while self._procs:
            self._procs.pop().stop(self.stop_timeout)

    def stop(self) -> None:
        """Stop kube-apiserver and etcd (SIGTERM, then SIGKILL); idempotent."""
        self._stop_processes()
        atexit.unregister(self.stop)
        if self._workdir is not None and not self.keep_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # ---- clients and kubeconfigs

    def _write_kubeconfig(self, name: str, token: str, *, user: str, namespace: str | None = None) -> Path:
        context: dict[str, str] = {"cluster": "tokenway-e2e", "user": user}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "tokenway-e2e",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(
                            self._need(self._certs, "certs").ca_pem
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "tokenway-e2e", "context": context}],
            "current-context": "tokenway-e2e",
            "preferences": {},
        }
        directory = self.workdir / "kubeconfigs"
        directory.mkdir(exist_ok=True)
        # JSON is valid YAML, so every kubeconfig reader accepts it.
        return _write(directory / f"{name}.kubeconfig", json.dumps(config, indent=2).encode())

    def http_client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` for the API server (base_url set, TLS verified).

        Authenticates with ``token`` (default: the admin token). Extra keyword
        arguments go to ``httpx.Client``. Close it (or use ``with``).
        """
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(
            base_url=self.server,
            verify=self._need(self._ssl_context, "ssl"),
            headers=headers,
            **kwargs,
        )

    def service_account_token(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 24 * 3600,
        audiences: Sequence[str] | None = None,
    ) -> str:
        """Create namespace and ServiceAccount if missing; return a TokenRequest token."""
        with self.http_client() as client:
            r = client.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
            if r.status_code not in (201, 409):
                raise ControlPlaneError(f"creating namespace {namespace}: {r.status_code} {r.text}")
            r = client.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts",
                json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
            )
            if r.status_code not in (201, 409):
                raise ControlPlaneError(f"creating ServiceAccount {namespace}/{name}: {r.status_code} {r.text}")
            spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
            if audiences is not None:
                spec["audiences"] = list(audiences)
            r = client.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": spec,
                },
            )
            if r.status_code != 201:
                raise ControlPlaneError(f"TokenRequest for {namespace}/{name}: {r.status_code} {r.text}")
            token: str = r.json()["status"]["token"]
            return token

    def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 24 * 3600,
    ) -> Path:
        """Kubeconfig authenticating as ServiceAccount ``namespace/name``.

        Creates the namespace and the ServiceAccount when missing (an existing one,
        e.g. from a Helm release, is reused), then gets a token through the
        TokenRequest API. The kubeconfig's context namespace is ``namespace``.
        The identity has exactly the RBAC bound to that ServiceAccount.
        """
        token = self.service_account_token(namespace, name, expiration_seconds=expiration_seconds)
        return self._write_kubeconfig(
            f"sa-{namespace}-{name}",
            token,
            user=f"system:serviceaccount:{namespace}:{name}",
            namespace=namespace,
        )

    def env(
        self,
        kubeconfig: str | os.PathLike[str] | None = None,
        base: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Environment for subprocesses (helm, the operator, kubectl-like tools).

        ``KUBECONFIG`` is ``kubeconfig`` (default: the admin one), ``bin_dir`` is
        prepended to ``PATH``, and helm's config/cache/data dirs point into the
        workdir so the user's helm setup is neither used nor touched.
        """
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = os.fspath(kubeconfig or self.kubeconfig_path)
        env["PATH"] = os.pathsep.join(filter(None, [str(self.bin_dir), env.get("PATH")]))
        helm_home = self.workdir / "helm"
        for var, sub in (
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_DATA_HOME", "data"),
        ):
            env[var] = str(helm_home / sub)
        return env

    def helm(
        self,
        *args: str,
        kubeconfig: str | os.PathLike[str] | None = None,
        check: bool = True,
        timeout: float = 300.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned helm with ``--kubeconfig`` (default admin); output captured.

        With ``check`` a non-zero exit raises :class:`ControlPlaneError` with the output.
        """
        kubeconfig = os.fspath(kubeconfig or self.kubeconfig_path)
        cmd = [str(self.helm_path), "--kubeconfig", kubeconfig, *args]
        proc = subprocess.run(
            cmd,
            env=self.env(kubeconfig),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(
                f"{' '.join(cmd)} exited with {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc


class _PortInUseError(ControlPlaneError):
    pass


# --------------------------------------------------------------------------- sharing

_shared_lock = threading.Lock()
_shared: ControlPlane | None = None
_shared_users = 0


@contextlib.contextmanager
def shared_control_plane(**kwargs: Any) -> Iterator[ControlPlane]:
    """One process-wide :class:`ControlPlane`, reference counted.

    The first caller starts it (``kwargs`` go to ``ControlPlane``; later callers'
    kwargs are ignored), the last one to exit stops it. This lets several
    session-scoped fixtures (e.g. the same fixture imported into conftest.py and
    into a test module) share one API server.
    """
    global _shared, _shared_users
    with _shared_lock:
        if _shared is None:
            _shared = ControlPlane(**kwargs).start()
        _shared_users += 1
        cp = _shared
    try:
        yield cp
    finally:
        with _shared_lock:
            _shared_users -= 1
            if _shared_users == 0:
                _shared = None
                cp.stop()
