"""Session fixtures of the e2e suite: the real control plane, Tokenway's CRDs, and the operator.

The operator runs as a subprocess (`tokenway operator`), authenticated as a
ServiceAccount bound to exactly ``OPERATOR_RULES`` (what the Helm chart grants), in
peering mode as in production. Set TOKENWAY_SKIP_E2E=1 to skip the e2e tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `import e2e.…` regardless of how pytest was started
    sys.path.insert(0, str(ROOT))

from e2e.cluster import apply, install_crds  # noqa: E402 - shared with ./dev cluster and the bench
from e2e.conftest_controlplane import control_plane  # noqa: E402, F401 - the session fixture
from e2e.kube_cluster import ControlPlane  # noqa: E402
from e2e.node_harness import python_env  # noqa: E402

OPERATOR_NAMESPACE = "tokenway-system"
OPERATOR_SA = "tokenway-operator"
PEERING = "tokenway"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TOKENWAY_SKIP_E2E") != "1":
        return
    skip = pytest.mark.skip(reason="TOKENWAY_SKIP_E2E=1")
    e2e_dir = Path(__file__).resolve().parent
    for item in items:
        if e2e_dir in Path(str(item.fspath)).resolve().parents or item.get_closest_marker("e2e"):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bind_operator_rbac(cp: ControlPlane) -> Path:
    """ServiceAccount + ClusterRole(OPERATOR_RULES) + binding; returns the SA's kubeconfig."""
    from tokenway_operator.rbac import cluster_role

    kubeconfig = cp.service_account_kubeconfig(OPERATOR_NAMESPACE, OPERATOR_SA)
    role = cluster_role("tokenway-operator")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "tokenway-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tokenway-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_SA, "namespace": OPERATOR_NAMESPACE}],
    }
    with cp.http_client() as client:
        apply(client, "/apis/rbac.authorization.k8s.io/v1/clusterroles/tokenway-operator", role)
        apply(client, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/tokenway-operator", binding)
        peering = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": PEERING}}
        apply(client, f"/apis/kopf.dev/v1/clusterkopfpeerings/{PEERING}", peering)
    return kubeconfig


class OperatorProcess:
    """`tokenway operator` in a subprocess; restartable, killable, with its log kept."""

    def __init__(self, cp: ControlPlane, kubeconfig: Path, *extra: str) -> None:
        self.cp = cp
        self.kubeconfig = kubeconfig
        self.extra = extra
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.log_path = cp.workdir / "operator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, wait: bool = True) -> OperatorProcess:
        cmd = [
            sys.executable,
            "-m",
            "tokenway_gateway.cli",
            "operator",
            "--kubeconfig",
            str(self.kubeconfig),
            "--peering",
            PEERING,
            "--metrics-port",
            str(self.metrics_port),
            "--liveness",
            f"http://127.0.0.1:{self.liveness_port}/healthz",
            "--gateway-image",
            "tokenway:e2e",
            "--resync-seconds",
            "60",
            *self.extra,
        ]
        env = python_env()
        env.pop("KUBERNETES_SERVICE_HOST", None)
        # One pod: a restart is the same peer (as the chart sets POD_ID from the pod name), not a rival.
        env["POD_ID"] = "tokenway-operator-e2e"
        self.starts += 1
        with open(self.log_path, "ab") as out:
            out.write(f"\n==== start {self.starts} ====\n".encode())
            self.process = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
            )
        if wait:
            self.wait_live()
        return self

    def wait_live(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, f"operator exited:\n{self.log_tail()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"operator not live within {timeout}s:\n{self.log_tail()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> ControlPlane:  # noqa: F811 - the imported fixture
    install_crds(control_plane, listable=False)  # the operator starts while CRD storage may still initialize
    return control_plane


@pytest.fixture(scope="session")
def operator(cluster: ControlPlane) -> Iterator[OperatorProcess]:
    """The operator, running with exactly the chart's RBAC, for the whole session."""
    proc = OperatorProcess(cluster, bind_operator_rbac(cluster)).start()
    yield proc
    proc.stop()
    print("---- operator log tail ----\n" + proc.log_tail(3000))
