"""A local Kubernetes control plane to try Tokenway on: ``./dev cluster`` (or ``python -m e2e.cluster``).

Starts etcd and kube-apiserver (built from pinned Go modules by e2e/controlplane/build.sh,
the same control plane the e2e tests use), installs Tokenway's CRDs, prints a kubeconfig
path and the commands to run the operator against it, and with ``--nodes`` also runs the
node harness (e2e/node_harness.py: it plays kubelet, the Deployment controller and the
EndpointSlice controller, running ``tokenway sim`` for pools and the real gateway for
gateways). Ctrl-C (or SIGTERM) stops everything. There is no scheduler, controller-manager
or garbage collector: see e2e/kube_cluster.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python e2e/cluster.py` as well as `python -m e2e.cluster`
    sys.path.insert(0, str(ROOT))

from e2e.kube_cluster import ControlPlane  # noqa: E402

CRD_DIR = ROOT / "crds"


def apply(client: httpx.Client, path: str, manifest: dict[str, Any], manager: str = "e2e") -> dict[str, Any]:
    """Server-side apply as ``manager`` (like `kubectl apply --server-side`)."""
    response = client.patch(
        path,
        params={"fieldManager": manager, "force": "true"},
        content=json.dumps(manifest),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def install_crds(cp: ControlPlane, crd_dir: Path = CRD_DIR, timeout: float = 30.0, listable: bool = True,
                 ) -> list[str]:
    """Apply every CRD in ``crd_dir`` and wait until the API server serves them; returns their names.

    Right after a CRD is established its storage is still initializing, and lists answer
    429 for a moment; ``listable`` waits for that too (the e2e fixtures do not: the operator
    must cope with it, as after a fresh install)."""
    with cp.http_client() as client:
        crds = []
        for path in sorted(crd_dir.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                apply(client, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{doc['metadata']['name']}", doc)
                crds.append(doc)
        deadline = time.monotonic() + timeout
        for doc in crds:
            name, spec = doc["metadata"]["name"], doc["spec"]
            collection = f"/apis/{spec['group']}/{spec['versions'][0]['name']}/{spec['names']['plural']}"
            while True:
                crd = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").json()
                conds = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
                if conds.get("Established") == "True" and (not listable or client.get(collection).status_code == 200):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"CRD {name} not served within {timeout:.0f}s")
                time.sleep(0.1)
    return [doc["metadata"]["name"] for doc in crds]


def banner(cp: ControlPlane, kubeconfig: Path, nodes: bool) -> str:
    lines = [
        f"kube-apiserver  {cp.server}   (etcd {cp.etcd_url}; started in {cp.startup_seconds or 0:.1f}s)",
        f"kubeconfig      {kubeconfig}",
        f"logs            {cp.workdir}",
        f"node harness    {'on: Deployments get pods (tokenway sim / tokenway gateway)' if nodes else 'off (--nodes)'}",
        "",
        "Try it:",
        f"  export KUBECONFIG={kubeconfig}",
        "  tokenway operator --standalone --metrics-port 0 --liveness ''",
        "  kubectl create namespace demo      # any kubectl; helm is in " + str(cp.bin_dir),
        "  kubectl apply -n demo -f examples/pools.yaml",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", action="store_true",
                        help="also run the node harness: managed Deployments get (simulated) pods and endpoints")
    parser.add_argument("--kubeconfig-out", type=Path, default=None, metavar="PATH",
                        help="also copy the admin kubeconfig here (written once the cluster is ready)")
    parser.add_argument("--no-crds", action="store_true", help="do not install Tokenway's CRDs")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with ExitStack() as stack:
        print("starting etcd and kube-apiserver ...", file=sys.stderr, flush=True)
        cp = stack.enter_context(ControlPlane())
        if not args.no_crds:
            install_crds(cp)
        if args.nodes:
            from e2e.node_harness import NodeHarness

            stack.enter_context(NodeHarness(cp, processes=True))
        kubeconfig = cp.kubeconfig_path
        if args.kubeconfig_out is not None:
            args.kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
            partial = args.kubeconfig_out.with_suffix(".tmp")
            shutil.copyfile(kubeconfig, partial)
            partial.replace(args.kubeconfig_out)  # whoever waits for the file never reads half of it
            kubeconfig = args.kubeconfig_out
        print(banner(cp, kubeconfig, args.nodes), flush=True)
        while not stop.wait(0.5):
            if not cp.running:
                print("the control plane exited; its logs are in " + str(cp.workdir), file=sys.stderr)
                return 1
        print("stopping ...", file=sys.stderr, flush=True)
    if args.kubeconfig_out is not None:
        args.kubeconfig_out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
