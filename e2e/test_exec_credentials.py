"""The operator authenticates with a kubeconfig `exec` credential plugin, as with EKS, GKE and AKS kubeconfigs.

The plugin here is a script that hands out the operator ServiceAccount's token (what
`aws eks get-token` does with an IAM identity); the operator runs with that kubeconfig
as a user would run it from a laptop, and reconciles a pool in its namespace.
"""

from __future__ import annotations

import json
import stat
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from e2e.conftest import OPERATOR_NAMESPACE, OPERATOR_SA, OperatorProcess
from e2e.kube_cluster import ControlPlane

pytestmark = pytest.mark.e2e


def exec_kubeconfig(cluster: ControlPlane, workdir: Path) -> Path:
    """A kubeconfig whose user runs ./plugin, which prints the operator's token as an ExecCredential."""
    token = cluster.service_account_token(OPERATOR_NAMESPACE, OPERATOR_SA, expiration_seconds=3600)
    (workdir / "token").write_text(token)
    plugin = workdir / "plugin"
    plugin.write_text(f"""#!{sys.executable}
import json, os, pathlib
from datetime import datetime, timedelta, timezone
here = pathlib.Path(__file__).parent
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(here / "runs", "a") as f:
    f.write(info["apiVersion"] + "\\n")
expires = datetime.now(timezone.utc) + timedelta(minutes=15)
print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": {{
    "token": (here / "token").read_text(), "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}}}))
""")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    admin = yaml.safe_load(cluster.kubeconfig_path.read_text())
    admin["users"] = [{"name": "eks-like", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./plugin",
        "interactiveMode": "Never", "provideClusterInfo": True}}}]
    admin["contexts"][0]["context"]["user"] = "eks-like"
    path = workdir / "kubeconfig"
    path.write_text(json.dumps(admin))
    return path


def test_operator_runs_with_an_exec_plugin_kubeconfig(cluster: ControlPlane, operator: OperatorProcess,
                                                      tmp_path: Path) -> None:
    namespace = f"exec-{uuid.uuid4().hex[:5]}"
    with cluster.http_client() as admin:
        admin.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}).raise_for_status()
    kubeconfig = exec_kubeconfig(cluster, tmp_path)
    operator.stop()  # the cluster-wide one would reconcile this namespace too
    scoped = OperatorProcess(cluster, kubeconfig, "--standalone", "--namespace", namespace)
    try:
        scoped.start()
        pool = {"apiVersion": "tokenway.io/v1alpha1", "kind": "InferencePool",
                "metadata": {"name": "llama", "namespace": namespace}, "spec": {"models": [{"name": "llama"}]}}
        with cluster.http_client() as admin:
            admin.post(f"/apis/tokenway.io/v1alpha1/namespaces/{namespace}/inferencepools",
                       json=pool).raise_for_status()
            deadline = time.monotonic() + 30
            while admin.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/llama").status_code != 200:
                assert time.monotonic() < deadline, f"no Deployment from the exec-authenticated operator:\n" \
                                                    f"{scoped.log_tail()}"
                time.sleep(0.2)
            deployment = admin.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/llama").json()
        managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
        assert "tokenway" in managers
        runs = (tmp_path / "runs").read_text().split()
        assert runs and set(runs) == {"client.authentication.k8s.io/v1beta1"}
        # kopf's login and the operator's own writes share one cached credential, valid for 15 minutes.
        assert len(runs) == 1, runs
        assert "Forbidden" not in scoped.log_tail(20000)
    finally:
        scoped.stop()
        operator.start()
