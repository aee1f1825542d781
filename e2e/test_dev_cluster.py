"""`./dev cluster` (python -m e2e.cluster): a control plane a contributor starts by hand, and Ctrl-C stops.

Also checks the shared client's watch_object against it: the operator-facing way
(a kubeconfig file, as a user would pass to `tokenway operator --kubeconfig`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tokenway_gateway.kube import SECRETS, KubeClient, KubeConnection

from e2e.conftest import ROOT
from e2e.node_harness import python_env

pytestmark = pytest.mark.e2e


def _wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"./dev cluster exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no kubeconfig within {timeout}s:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def test_dev_cluster_starts_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    log = tmp_path / "cluster.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "e2e.cluster", "--nodes", "--kubeconfig-out", str(kubeconfig)],
                                cwd=ROOT, env=python_env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _wait_for(kubeconfig, proc, log)
        assert f"kubeconfig      {kubeconfig}" in log.read_text()
        conn = KubeConnection.from_kubeconfig(kubeconfig)
        crds = asyncio.run(_crd_names(conn))
        assert {"inferencepools.tokenway.io", "inferencegateways.tokenway.io"} <= crds
        asyncio.run(_nodes_run_managed_deployments(conn))
        asyncio.run(_watch_a_secret(conn))
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()[-3000:]
    assert not kubeconfig.exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{conn.server}/readyz", verify=False, timeout=2)  # the API server is gone


async def _crd_names(conn: KubeConnection) -> set[str]:
    async with KubeClient(conn) as kube:
        items, _ = await kube.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        # One multiplexed connection, as client-go: concurrent reconciles never open connections by the hundred.
        assert (await kube.request("GET", "/version")).http_version == "HTTP/2"
    return {item["metadata"]["name"] for item in items}


async def _nodes_run_managed_deployments(conn: KubeConnection) -> None:
    """With --nodes, a Deployment the operator would manage gets a (simulated) ready pod."""
    labels = {"app.kubernetes.io/managed-by": "tokenway", "app.kubernetes.io/component": "pool"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sim", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "sim"}}, "template": {
            "metadata": {"labels": {"app": "sim", **labels}},
            "spec": {"containers": [{"name": "engine", "image": "x", "args": ["--model", "m", "--port", "8000"]}]}}},
    }
    async with KubeClient(conn) as kube:
        response = await kube.request("POST", "/apis/apps/v1/namespaces/default/deployments", json_body=deployment)
        assert response.status_code == 201, response.text
        for _ in range(300):
            found = await kube.get_json("/apis/apps/v1/namespaces/default/deployments/sim")
            if ((found or {}).get("status") or {}).get("readyReplicas") == 1:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the node harness did not run the Deployment's pod")


async def _watch_a_secret(conn: KubeConnection) -> None:
    """watch_object on a Secret (what the gateway will do for its API keys): absent, created, changed, deleted."""
    base = "/api/v1/namespaces/default/secrets"
    async with KubeClient(conn) as kube:
        events = kube.watch_object(SECRETS, "default", "api-keys")
        first = await anext(events)
        assert first.type == "ABSENT"
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-keys"},
                  "stringData": {"keys": "sk-1"}}
        assert (await kube.request("POST", base, json_body=secret)).status_code == 201
        other = {**secret, "metadata": {"name": "unrelated"}}
        assert (await kube.request("POST", base, json_body=other)).status_code == 201  # filtered out by name
        added = await asyncio.wait_for(anext(events), 10)
        assert added.type == "ADDED" and added.object is not None and added.object["metadata"]["name"] == "api-keys"
        patch = json.dumps({"stringData": {"keys": "sk-2"}})
        await kube.request("PATCH", f"{base}/api-keys", content=patch,
                           headers={"Content-Type": "application/merge-patch+json"})
        modified = await asyncio.wait_for(anext(events), 10)
        assert modified.type == "MODIFIED" and modified.object is not None
        assert modified.object["data"]["keys"] == "c2stMg=="  # base64 of sk-2
        await kube.request("DELETE", f"{base}/api-keys")
        deleted = await asyncio.wait_for(anext(events), 10)
        assert deleted.type == "DELETED"
        await events.aclose()


def test_dev_script_has_a_cluster_command() -> None:
    text = (ROOT / "dev").read_text()
    assert "cluster)" in text and "python -m e2e.cluster" in text
    assert os.access(ROOT / "dev", os.X_OK)
