"""TEST HARNESS: plays kubelet + Deployment controller + EndpointSlice controller on loopback.

The e2e control plane is etcd + kube-apiserver only. This harness does, for the
Deployments the Tokenway operator manages (label ``app.kubernetes.io/managed-by=tokenway``),
what the missing components would do:

* Deployment controller: keep ``spec.replicas`` Pods per Deployment (a changed pod
  template replaces them all, like ``Recreate``), and write the Deployment's status.
* kubelet: give each Pod an address and, optionally, run a process for it:
  ``tokenway sim`` for an inference pool, the real ``tokenway gateway`` for a
  gateway (with a kubeconfig of the gateway's ServiceAccount, i.e. exactly its
  Role). A Pod turns Ready when the process answers its readiness path, or at once
  without processes. The API server refuses loopback addresses in EndpointSlices,
  so pods share this machine's non-loopback IPv4 address (or, lacking one, the
  FQDN ``localhost``) and each gets its own port.
* EndpointSlice controller: one slice per (Service, port), as the real controller
  groups endpoints by port: here one slice per Pod, labelled
  ``kubernetes.io/service-name`` plus the Service's labels (copied, as the real
  controller does), listing the Pod's address if it is ready.

It is NOT part of the product and never runs in a cluster.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import logging
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from e2e.kube_cluster import ControlPlane

log = logging.getLogger("tokenway.e2e.harness")

REPO = Path(__file__).resolve().parents[1]
MANAGED = "app.kubernetes.io/managed-by=tokenway"
HARNESS_MANAGER = "endpointslice-controller.k8s.io"
NODE_NAME = "harness-node"
SIM_ARGS_ENV = "TOKENWAY_SIM_ARGS"  # extra `tokenway sim` flags for a pool's simulated replicas



def pod_address() -> tuple[str, str]:
    """(address, addressType) pods listen on and EndpointSlices carry."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))  # no packet is sent: this only picks the outgoing interface
            address: str = s.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if ipaddress.ip_address(address).is_loopback:
        return "localhost", "FQDN"
    return address, "IPv4"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "dataplane"), str(REPO / "operator")])
    return env


@dataclass
class FakePod:
    name: str
    uid: str
    ip: str
    port: int
    template_hash: str
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class FakeDeployment:
    namespace: str
    name: str
    component: str
    template: dict[str, Any] = field(default_factory=dict)
    pods: list[FakePod] = field(default_factory=list)

    @property
    def pod_labels(self) -> dict[str, str]:
        labels: dict[str, str] = (self.template.get("metadata") or {}).get("labels") or {}
        return labels


def _flag_values(args: list[str], flag: str) -> list[str]:
    """Values after ``flag`` up to the next ``--flag``."""
    if flag not in args:
        return []
    values: list[str] = []
    for arg in args[args.index(flag) + 1 :]:
        if arg.startswith("--"):
            break
        values.append(arg)
    return values


class NodeHarness:
    """Run with ``with NodeHarness(cp, processes=True) as harness: ...``."""

    def __init__(
        self,
        cp: ControlPlane,
        *,
        processes: bool | set[str] = False,
        gateways: bool = True,
        time_scale: float = 0.0,
        ignore: set[str] | None = None,
        ready_in_background: bool = False,
    ) -> None:
        """``processes``: run sim/gateway processes (everywhere, or in these namespaces only);
        ``ignore``: namespaces left alone (a test plays the controllers there itself);
        ``ready_in_background``: probe readiness of started processes in a thread, so a slow start (the
        simulator's ``--startup-delay-s``) holds back only its own pod, as on a real node."""
        self.cp = cp
        self.processes = processes
        self.gateways = gateways
        self.time_scale = time_scale
        self.ignore = ignore if ignore is not None else set()
        self.ready_in_background = ready_in_background
        self.deployments: dict[tuple[str, str], FakeDeployment] = {}
        self._events: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._client = cp.http_client()
        self._pod_counter = itertools.count()
        self.address, self.address_type = pod_address()
        self.bind_host = "127.0.0.1" if self.address_type == "FQDN" else self.address
        self.errors: list[str] = []

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> NodeHarness:
        for path in ("/apis/apps/v1/deployments", "/api/v1/services"):
            thread = threading.Thread(target=self._watch, args=(path,), daemon=True, name=f"harness-watch{path}")
            thread.start()
            self._threads.append(thread)
        worker = threading.Thread(target=self._work, daemon=True, name="harness-worker")
        worker.start()
        self._threads.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._events.put(None)
        for dep in list(self.deployments.values()):
            for pod in dep.pods:
                pod.stop()
        # Only the worker is joined; the watch threads (daemons) end with their current short watch.
        self._threads[-1].join(timeout=10)
        self._client.close()

    def endpoints_of(self, namespace: str, name: str) -> list[str]:
        """``http://ip:port`` of the ready pods of Deployment ``namespace/name``."""
        dep = self.deployments.get((namespace, name))
        return [f"http://{self.address}:{p.port}" for p in dep.pods if p.ready] if dep else []

    # ---- watching (list, then watch; relist on errors) -------------------------------------

    def _watch(self, path: str) -> None:
        kind = path.rsplit("/", 1)[-1]
        version: str | None = None
        with self.cp.http_client(timeout=httpx.Timeout(10.0, read=30.0)) as client:
            while not self._stop.is_set():
                try:
                    if version is None:
                        listing = client.get(path, params={"labelSelector": MANAGED}).raise_for_status().json()
                        for item in listing["items"]:
                            self._events.put((kind, "ADDED", item))
                        version = listing["metadata"]["resourceVersion"]
                    # Short watches, resumed from the last version: stop() never waits long on a read.
                    params = {"labelSelector": MANAGED, "watch": "true", "resourceVersion": version,
                              "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
                    with client.stream("GET", path, params=params) as response:
                        response.raise_for_status()
                        for line in response.iter_lines():
                            if self._stop.is_set():
                                return
                            if not line.strip():
                                continue
                            event = json.loads(line)
                            if event["type"] == "ERROR":
                                version = None  # 410 Gone: list again
                                break
                            version = event["object"]["metadata"].get("resourceVersion", version)
                            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                                self._events.put((kind, event["type"], event["object"]))
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    version = None
                    if not self._stop.is_set():
                        log.warning("harness watch %s: %s", path, exc)
                        time.sleep(0.5)

    def _work(self) -> None:
        while True:
            item = self._events.get()
            if item is None or self._stop.is_set():
                return
            kind, event, obj = item
            meta = obj["metadata"]
            if meta["namespace"] in self.ignore:
                continue
            try:
                if kind == "pod-ready":
                    self._on_pod_ready(obj)
                elif kind == "deployments":
                    self._on_deployment(event, obj)
                else:
                    self._publish_slice_for_service(obj, deleted=event == "DELETED")
            except Exception as exc:  # keep playing the node; tests read self.errors
                log.exception("harness failed on %s %s/%s", kind, meta["namespace"], meta["name"])
                self.errors.append(f"{kind} {meta['namespace']}/{meta['name']}: {exc}")

    # ---- Deployment controller + kubelet --------------------------------------------------

    def _on_deployment(self, event: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        labels = meta.get("labels") or {}
        dep = self.deployments.get(key)
        if event == "DELETED":
            if dep is not None:
                for pod in dep.pods:
                    self._delete_pod(dep, pod)
                del self.deployments[key]
                self._publish_slices(meta["namespace"])
            return
        if dep is None:
            dep = self.deployments[key] = FakeDeployment(
                meta["namespace"], meta["name"], labels.get("app.kubernetes.io/component", "")
            )
        template = obj["spec"]["template"]
        dep.template = template
        template_hash = str(abs(hash(json.dumps(template, sort_keys=True))))[:10]
        desired = int(obj["spec"].get("replicas", 1))
        changed = False
        for pod in [p for p in dep.pods if p.template_hash != template_hash]:
            self._delete_pod(dep, pod)  # a new template replaces every pod (Recreate)
            changed = True
        while len(dep.pods) > desired:
            self._delete_pod(dep, dep.pods[-1])
            changed = True
        while len(dep.pods) < desired:
            dep.pods.append(self._create_pod(dep, template, template_hash))
            changed = True
        if changed:
            self._publish_slices(dep.namespace)
        self._write_deployment_status(obj, dep)

    def _create_pod(self, dep: FakeDeployment, template: dict[str, Any], template_hash: str) -> FakePod:
        name = f"{dep.name}-{template_hash[:5]}-{next(self._pod_counter)}"
        container = template["spec"]["containers"][0]
        ip, port = self.bind_host, free_port(self.bind_host)
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": dep.namespace,
                "labels": template["metadata"].get("labels", {}),
                "annotations": template["metadata"].get("annotations", {}),
            },
            "spec": {**template["spec"], "nodeName": NODE_NAME},
        }
        created = self._client.post(f"/api/v1/namespaces/{dep.namespace}/pods", json=body).raise_for_status().json()
        pod = FakePod(name, created["metadata"]["uid"], ip, port, template_hash)
        if self.processes is True or (isinstance(self.processes, set) and dep.namespace in self.processes):
            pod.process = self._start_process(dep, container, ip, port)
        if self.ready_in_background and pod.process is not None:
            def probe() -> None:
                ready = self._wait_ready(pod, dep.component, timeout=120.0)
                self._events.put(("pod-ready", "MODIFIED", {"metadata": {"namespace": dep.namespace,
                                                                         "name": dep.name}, "pod": pod,
                                                             "ready": ready}))

            threading.Thread(target=probe, daemon=True, name=f"harness-probe-{name}").start()
        else:
            pod.ready = self._wait_ready(pod, dep.component)
        self._write_pod_status(dep, pod)
        return pod

    def _on_pod_ready(self, item: dict[str, Any]) -> None:
        """A background probe finished: the pod turns Ready, its slice lists it, the Deployment counts it."""
        meta, pod = item["metadata"], item["pod"]
        dep = self.deployments.get((meta["namespace"], meta["name"]))
        if dep is None or pod not in dep.pods:
            return  # deleted meanwhile
        pod.ready = bool(item["ready"])
        self._write_pod_status(dep, pod)
        self._publish_slices(dep.namespace)
        response = self._client.get(f"/apis/apps/v1/namespaces/{dep.namespace}/deployments/{dep.name}")
        if response.status_code == 200:
            self._write_deployment_status(response.json(), dep)

    def _start_process(
        self, dep: FakeDeployment, container: dict[str, Any], ip: str, port: int
    ) -> subprocess.Popen[bytes] | None:
        args = list(container.get("args") or [])
        if dep.component == "pool":
            model = (_flag_values(args, "--model") or _flag_values(args, "--model-path") or ["model"])[0]
            names = [n for n in _flag_values(args, "--served-model-name") if n != model]
            cmd = [
                sys.executable,
                "-m",
                "tokenway_gateway.cli",
                "sim",
                "--host",
                ip,
                "--port",
                str(port),
                "--model",
                model,
                "--time-scale",
                str(self.time_scale),
                "--log-level",
                "warning",
            ]
            if names:
                cmd += ["--served-model-name", *names]
            cmd += ["--max-num-seqs", *(_flag_values(args, "--max-num-seqs") or ["256"])[:1]]
            # Simulator-only knobs (latency model, --startup-delay-s) from the pool's env: what a test varies.
            env_vars = {e.get("name"): e.get("value", "") for e in container.get("env") or []}
            cmd += shlex.split(env_vars.get(SIM_ARGS_ENV) or "")
            env = python_env()
        elif dep.component == "gateway" and self.gateways:
            command = list(container.get("command") or [])
            configmap = _flag_values(command, "--kube-configmap")[0]
            sa = self._service_account_of(dep)
            kubeconfig = self.cp.service_account_kubeconfig(dep.namespace, sa)
            cmd = [
                sys.executable,
                "-m",
                "tokenway_gateway.cli",
                "gateway",
                "--kube-configmap",
                configmap,
                "--host",
                ip,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            for flag in ("--kube-api-key-secret", "--kube-api-key-secret-key"):  # the key Secret it watches
                cmd += [part for value in _flag_values(command, flag) for part in (flag, value)]
            env = python_env()
            env["KUBECONFIG"] = str(kubeconfig)
            env.pop("KUBERNETES_SERVICE_HOST", None)
        else:
            return None
        log_path = self.cp.workdir / f"pod-{dep.namespace}-{dep.name}-{ip}.log"
        with open(log_path, "ab") as out:
            return subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO
            )

    def _service_account_of(self, dep: FakeDeployment) -> str:
        obj = self._client.get(f"/apis/apps/v1/namespaces/{dep.namespace}/deployments/{dep.name}").json()
        return str(obj["spec"]["template"]["spec"].get("serviceAccountName", "default"))

    def _wait_ready(self, pod: FakePod, component: str, timeout: float = 30.0) -> bool:
        """The readiness probe: 200 on /health (engines) or /readyz (gateway)."""
        if pod.process is None:
            return True
        path = "/readyz" if component == "gateway" else "/health"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if pod.process.poll() is not None:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://{pod.ip}:{pod.port}{path}").status_code == 200:
                        return True
                time.sleep(0.1)
        return False

    def _write_pod_status(self, dep: FakeDeployment, pod: FakePod) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ready = "True" if pod.ready else "False"
        status = {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": self.address if self.address_type == "IPv4" else "127.0.0.1",
            "podIPs": [{"ip": self.address if self.address_type == "IPv4" else "127.0.0.1"}],
            "startTime": now,
            "conditions": [
                {"type": t, "status": s, "lastTransitionTime": now}
                for t, s in (
                    ("PodScheduled", "True"),
                    ("Initialized", "True"),
                    ("ContainersReady", ready),
                    ("Ready", ready),
                )
            ],
        }
        self._client.patch(
            f"/api/v1/namespaces/{dep.namespace}/pods/{pod.name}/status",
            content=json.dumps({"status": status}),
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()

    def _delete_pod(self, dep: FakeDeployment, pod: FakePod) -> None:
        pod.stop()
        dep.pods.remove(pod)
        self._client.delete(f"/api/v1/namespaces/{dep.namespace}/pods/{pod.name}", params={"gracePeriodSeconds": "0"})

    def _write_deployment_status(self, obj: dict[str, Any], dep: FakeDeployment) -> None:
        meta = obj["metadata"]
        ready = sum(1 for p in dep.pods if p.ready)
        desired = int(obj["spec"].get("replicas", 1))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        available = "True" if ready >= desired else "False"
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(dep.pods),
            "updatedReplicas": len(dep.pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable",
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
            ],
        }
        current = obj.get("status") or {}
        if all(
            current.get(k) == status[k]
            for k in ("observedGeneration", "replicas", "readyReplicas", "updatedReplicas", "availableReplicas")
        ):
            return
        response = self._client.patch(
            f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}/status",
            content=json.dumps({"status": status}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        if response.status_code != 404:
            response.raise_for_status()

    # ---- EndpointSlice controller ---------------------------------------------------------

    def _publish_slices(self, namespace: str) -> None:
        services = (
            self._client.get(f"/api/v1/namespaces/{namespace}/services", params={"labelSelector": MANAGED})
            .raise_for_status()
            .json()["items"]
        )
        for service in services:
            self._publish_slice_for_service(service)

    def _publish_slice_for_service(self, service: dict[str, Any], deleted: bool = False) -> None:
        """Make the Service's slices list its ready pods: one slice per pod (each pod has its own port)."""
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        base = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        selector = service["spec"].get("selector") or {}
        port = service["spec"]["ports"][0]
        desired: dict[str, dict[str, Any]] = {}
        for dep in [] if deleted else list(self.deployments.values()):
            if dep.namespace != namespace or not selector or \
                    not all(dep.pod_labels.get(k) == v for k, v in selector.items()):
                continue
            for pod in dep.pods:
                desired[f"{name}-{pod.name.rsplit('-', 1)[-1]}"] = self._slice(service, pod, port)
        owned = f"kubernetes.io/service-name={name},endpointslice.kubernetes.io/managed-by={HARNESS_MANAGER}"
        existing = self._client.get(base, params={"labelSelector": owned}).raise_for_status().json()["items"]
        for item in existing:
            if item["metadata"]["name"] not in desired:
                self._client.delete(f"{base}/{item['metadata']['name']}")
        for slice_name, body in desired.items():
            body["metadata"]["name"] = slice_name
            self._client.patch(
                f"{base}/{slice_name}", params={"fieldManager": HARNESS_MANAGER, "force": "true"},
                content=json.dumps(body), headers={"Content-Type": "application/apply-patch+yaml"},
            ).raise_for_status()

    def _slice(self, service: dict[str, Any], pod: FakePod, port: dict[str, Any]) -> dict[str, Any]:
        meta = service["metadata"]
        labels = {**(meta.get("labels") or {}), "kubernetes.io/service-name": meta["name"],
                  "endpointslice.kubernetes.io/managed-by": HARNESS_MANAGER}
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"namespace": meta["namespace"], "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": meta["name"],
                                              "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": self.address_type,
            "endpoints": [{
                "addresses": [self.address],
                "conditions": {"ready": pod.ready, "serving": pod.ready, "terminating": False},
                "nodeName": NODE_NAME,
                "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": pod.name, "uid": pod.uid},
            }],
            "ports": [{"name": port.get("name", ""), "port": pod.port, "protocol": "TCP"}],
        }


@contextlib.contextmanager
def node_harness(cp: ControlPlane, **kwargs: Any) -> Iterator[NodeHarness]:
    harness = NodeHarness(cp, **kwargs)
    with harness:
        yield harness
