"""Operator benchmark on a real kube-apiserver + etcd (e2e/kube_cluster.py).

Figures:
  1. time to reconcile N InferencePools from scratch: every pool's Deployment, Service
     and PodDisruptionBudget applied, its status written for generation 1, and the
     gateway's compiled config listing all N pools;
  2. EndpointSlice write -> new config applied by the gateway's config source
     (KubeConfigMapSource, the gateway's own code, with the gateway's ServiceAccount):
     p50 / p99 / max over M changes, with the N pools present (target p99 <= 2 s);
  3. the operator's RSS with N pools.

Every pool has autoscaling on (--no-autoscaling turns it off): one autoscaler timer per pool, each
reading a real Prometheus (started here when the `prometheus` binary exists; its targets come from the
API server's EndpointSlices; the pools have no replicas to scrape, so they hold their size).

    python bench/operator_bench.py [--pools 200] [--changes 50] [--no-autoscaling]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "dataplane", ROOT / "operator", ROOT / "tests"):
    sys.path.insert(0, str(path))

from prometheus_server import PrometheusServer, prometheus_binary  # noqa: E402
from tokenway_gateway.config.kube_source import KubeConnection  # noqa: E402
from tokenway_gateway.config.store import parse_config  # noqa: E402

from e2e.conftest import OperatorProcess, apply, bind_operator_rbac, install_crds  # noqa: E402
from e2e.kube_cluster import ControlPlane  # noqa: E402
from e2e.prometheus_sd import SliceDiscovery  # noqa: E402
from e2e.propagation import GatewayConfigWatch, endpoint_slice  # noqa: E402

NS = "bench"
API = "/apis/tokenway.io/v1alpha1"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process: a figure the other load on a shared machine does not inflate much."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


AUTOSCALING = True


def pool_body(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"models": [{"name": name}], "replicas": {"min": 1, "max": 1}}
    if AUTOSCALING:
        spec["replicas"] = {"min": 1, "max": 4}
        spec["autoscaling"] = {"enabled": True}
    return {"apiVersion": "tokenway.io/v1alpha1", "kind": "InferencePool",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


_CONFIG_POOLS: dict[str, int] = {}  # config version -> pools in it (each version is parsed once)
# Lists from the API server's watch cache, metadata only where that is enough: polling 1,000 pools must not
# load the API server (or this process) more than the operator under test.
_CACHED = {"resourceVersion": "0"}
_METADATA = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}


def reconciled(client: httpx.Client, n: int) -> tuple[int, int, int]:
    """(pools with status for their generation, pool Deployments, pools in the gateway config)."""
    pools = client.get(f"{API}/namespaces/{NS}/inferencepools", params=_CACHED, timeout=120).json()["items"] or []
    done = sum(1 for p in pools if (p.get("status") or {}).get("observedGeneration") == p["metadata"]["generation"])
    deployments = client.get(f"/apis/apps/v1/namespaces/{NS}/deployments", headers=_METADATA, timeout=120,
                             params={**_CACHED, "labelSelector": "app.kubernetes.io/component=pool"}
                             ).json()["items"] or []
    cm = client.get(f"/api/v1/namespaces/{NS}/configmaps/gw-config", timeout=120)
    if cm.status_code != 200:
        return done, len(deployments), 0
    version = cm.json()["metadata"].get("annotations", {}).get("tokenway.io/config-version", "")
    if version not in _CONFIG_POOLS:
        _CONFIG_POOLS[version] = len(parse_config(cm.json()["data"]["config.yaml"]).pools)
    return done, len(deployments), _CONFIG_POOLS[version]


def bench_reconcile(cp: ControlPlane, n: int) -> float:
    with cp.http_client() as client:
        client.post("/api/v1/namespaces", json={"metadata": {"name": NS}})
        apply(client, f"{API}/namespaces/{NS}/inferencegateways/gw", {
            "apiVersion": "tokenway.io/v1alpha1", "kind": "InferenceGateway",
            "metadata": {"name": "gw", "namespace": NS}, "spec": {"replicas": 1}})
        while reconciled(client, n)[2] != 0 or client.get(f"/api/v1/namespaces/{NS}/configmaps/gw-config"
                                                           ).status_code != 200:
            time.sleep(0.1)
        started = time.monotonic()
        for i in range(n):
            client.post(f"{API}/namespaces/{NS}/inferencepools", json=pool_body(f"pool-{i:03d}")).raise_for_status()
        created = time.monotonic() - started
        while True:
            done, deployments, in_config = reconciled(client, n)
            if done == deployments == in_config == n:
                break
            if time.monotonic() - started > 600:
                raise SystemExit(f"not reconciled after 600 s: {done=} {deployments=} {in_config=}")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        print(f"reconcile {n} pools from scratch: {elapsed:.2f} s "
              f"({n / elapsed:.1f} pools/s; creating them took {created:.2f} s of it)")
        return elapsed


async def bench_propagation(cp: ControlPlane, changes: int, pools: int) -> list[float]:
    latencies: list[float] = []
    async with GatewayConfigWatch(cp, NS, "gw-config", "gw") as watch, \
            KubeConnection.from_kubeconfig(cp.kubeconfig_path).client() as admin:
        while watch.store.current is None:
            await asyncio.sleep(0.01)
        for i in range(min(changes, pools)):
            target = f"pool-{i:03d}"
            service = (await admin.get(f"/api/v1/namespaces/{NS}/services/{target}",
                                       headers={"Authorization": f"Bearer {cp.admin_token}"})).json()
            ips = [f"10.2.{i % 250}.{j}" for j in (1, 2)]
            slice_ = endpoint_slice(NS, target, f"{target}-bench", service["metadata"]["uid"], ips)
            latency = await watch.time_change(admin, cp.admin_token, slice_)
            latencies.append(latency if latency is not None else float("inf"))
            await asyncio.sleep(0.05)
    ms = [x * 1000 for x in latencies]
    print(f"endpoint change -> gateway config applied ({len(ms)} changes, {pools} pools): "
          f"p50 {statistics.median(ms):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms "
          f"(target p99 <= 2000 ms)")
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--no-autoscaling", action="store_true", help="pools without autoscaling (no timers)")
    args = parser.parse_args()
    global AUTOSCALING
    AUTOSCALING = not args.no_autoscaling
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"autoscaling {'on' if AUTOSCALING else 'off'} for every pool")
    # One Service per pool: the e2e control plane's /24 service range holds 254, too few for 1,000 pools.
    with ControlPlane(extra_apiserver_args=("--service-cluster-ip-range=10.96.0.0/16",)) as cp, \
            contextlib.ExitStack() as stack:
        install_crds(cp)
        extra = ["--resync-seconds", "3600"]
        if AUTOSCALING and prometheus_binary() is not None:
            discovery = stack.enter_context(SliceDiscovery(cp, cp.workdir / "targets.yml", period=5.0))
            prom = stack.enter_context(PrometheusServer(discovery.config(interval="5s")))
            extra += ["--prometheus-url", prom.url]
            print(f"prometheus {prom.url}; operator --autoscale-interval 15 (default)")
        operator = OperatorProcess(cp, bind_operator_rbac(cp), *extra).start()
        try:
            assert operator.process is not None
            idle = rss_mib(operator.process.pid)
            cpu_before = cpu_seconds(operator.process.pid)
            elapsed = bench_reconcile(cp, args.pools)
            cpu = cpu_seconds(operator.process.pid) - cpu_before
            print(f"operator CPU while reconciling: {cpu:.1f} s ({1000 * cpu / args.pools:.1f} ms per pool, "
                  f"{100 * cpu / elapsed:.0f}% of one core)")
            print(f"operator RSS: {idle:.0f} MiB idle, {rss_mib(operator.process.pid):.0f} MiB "
                  f"with {args.pools} pools")
            latencies = asyncio.run(bench_propagation(cp, args.changes, args.pools))
            with cp.http_client() as client:
                size = len(client.get(f"/api/v1/namespaces/{NS}/configmaps/gw-config").json()["data"]["config.yaml"])
            print(f"operator RSS after the endpoint changes: {rss_mib(operator.process.pid):.0f} MiB; "
                  f"config size {size / 1024:.0f} KiB")
            return 0 if percentile(latencies, 0.99) <= 2.0 else 1
        finally:
            operator.stop()


if __name__ == "__main__":
    sys.exit(main())
