"""The whole loop end to end: the chart's operator autoscales simulated pools from a real Prometheus,
two regions fail over, a pool wakes from zero.

Real parts: kube-apiserver + etcd, `helm install` of the chart (its operator runs as a process with
the chart's ServiceAccount and the args the chart renders, since no kubelet runs its image), the
Debian `prometheus` scraping every replica and gateway (targets from the EndpointSlices, see
e2e/prometheus_sd.py), `tokenway gateway` and `tokenway sim` processes started by the node
harness, and the official `openai` client driving load. Time is compressed: 1 s decisions and
scrapes, 10 s metric windows, 20 s scale-down stabilization, simulated replicas that start in 1 s.

Phases, in one namespace (two gateways, one per region; a RoutePolicy preferring each gateway's own
region, then the other; a CachePolicy; a scale-to-zero pool):
  1. base load, then 4x: the pools scale up and TTFT p95 returns under target;
  2. load back down: replicas are removed after the stabilization window;
  3. a request to the pool at zero succeeds after its cold start;
  4. Prometheus stops: the autoscaler holds and says why; it resumes when Prometheus is back;
  5. one region's replicas are killed: traffic moves to the other region; no request that had not
     started streaming is lost;
  6. the idle pool goes back to zero; `tokenway status` summarises it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from prometheus_server import PrometheusServer, prometheus_binary

from e2e.cluster import apply
from e2e.conftest import ROOT, OperatorProcess, free_port
from e2e.kube_cluster import ControlPlane
from e2e.node_harness import SIM_ARGS_ENV, NodeHarness, python_env
from e2e.prometheus_sd import SliceDiscovery
from e2e.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(prometheus_binary() is None,
                                                  reason="prometheus not installed (./dev installs it)")]

API = "/apis/tokenway.io/v1alpha1"
CHART = ROOT / "charts" / "tokenway"
TTFT_TARGET = 0.6
# A simulated replica: 4 sequences at once, ~0.4 s per request (30 ms prefill + 24 tokens x 15 ms): ~10 req/s.
SIM_ARGS = "--itl-ms 15 --max-tokens-default 24 --prefill-overhead-ms 30 --startup-delay-s 1"
AUTOSCALING = {
    "enabled": True, "ttftP95TargetSeconds": TTFT_TARGET, "queueDepthPerReplica": 2, "saturationTarget": 0.7,
    "metricsWindowSeconds": 10, "panicWindowSeconds": 3, "scaleDownStabilizationSeconds": 20,
    "scaleUpPeriodSeconds": 4, "cooldownSeconds": 6, "metricsMaxAgeSeconds": 10,
}


# ---- load: the official openai client, open loop ---------------------------------------------


@dataclass
class Result:
    started: float
    ttft: float | None
    ok: bool
    streamed: bool  # a chunk reached the client before any failure
    region: str | None
    error: str | None = None


class Load:
    """Streams chat completions at ``rate`` requests/s through one gateway (AsyncOpenAI in a thread)."""

    def __init__(self, url: str, model: str = "chat") -> None:
        self.url, self.model = url, model
        self.rate = 0.0
        self.results: list[Result] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="load")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    async def _run(self) -> None:
        client = AsyncOpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=60)
        tasks: set[asyncio.Task[None]] = set()
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self.rate <= 0:
                await asyncio.sleep(0.05)
                next_at = time.monotonic()
                continue
            next_at += 1.0 / self.rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(self._one(client))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()

    async def _one(self, client: AsyncOpenAI) -> None:
        self.results.append(await one_request(client, self.model))

    def window(self, since: float, until: float | None = None) -> list[Result]:
        end = until if until is not None else time.monotonic()
        return [r for r in list(self.results) if since <= r.started < end]


async def one_request(client: AsyncOpenAI, model: str) -> Result:
    started = time.monotonic()
    ttft, streamed, region = None, False, None
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=model, stream=True, messages=[{"role": "user", "content": "tell me about autoscaling"}])
        region = raw.headers.get("x-tokenway-region")
        stream = raw.parse()
        async for chunk in stream:
            if ttft is None and chunk.choices:
                ttft, streamed = time.monotonic() - started, True
        return Result(started, ttft, ttft is not None, streamed, region)
    except Exception as exc:  # the test counts failures; it never retries
        return Result(started, ttft, False, streamed, region, f"{type(exc).__name__}: {exc}"[:300])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


# ---- the stack ---------------------------------------------------------------------------------


def _value_env(env: list[dict[str, Any]], pod_id: str, namespace: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        if "value" in item:
            out[item["name"]] = str(item["value"])
        elif (item.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            out[item["name"]] = pod_id
        elif (item.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            out[item["name"]] = namespace
    return out


class ChartOperator:
    """The operator exactly as the installed chart runs it: its args, env and ServiceAccount."""

    def __init__(self, cp: ControlPlane, namespace: str, deployment: dict[str, Any]) -> None:
        pod = deployment["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "operator")
        self.args = list(container["args"])
        self.liveness = next(a.split("=", 1)[1] for a in self.args if a.startswith("--liveness="))
        self.kubeconfig = cp.service_account_kubeconfig(namespace, pod["serviceAccountName"])
        self.env = {**python_env(), **_value_env(container.get("env") or [], "tokenway-operator-0", namespace)}
        self.env.pop("KUBERNETES_SERVICE_HOST", None)
        self.log = cp.workdir / "chart-operator.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChartOperator:
        cmd = [sys.executable, "-m", "tokenway_gateway.cli", *self.args, "--kubeconfig", str(self.kubeconfig)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=ROOT)
        url = self.liveness.replace("0.0.0.0", "127.0.0.1")
        eventually(lambda: httpx.get(url, timeout=1).status_code == 200, 60, "chart operator liveness", 0.2)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class Stack:
    def __init__(self, cp: ControlPlane, ns: str, client: httpx.Client, prometheus: PrometheusServer,
                 harness: NodeHarness, operator: ChartOperator) -> None:
        self.cp, self.ns, self.client = cp, ns, client
        self.prometheus, self.harness, self.operator = prometheus, harness, operator

    def get(self, plural: str, name: str) -> dict[str, Any]:
        group = "/apis/apps/v1" if plural == "deployments" else API
        response = self.client.get(f"{group}/namespaces/{self.ns}/{plural}/{name}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def replicas(self, pool: str) -> int:
        return int(self.get("deployments", pool)["spec"]["replicas"])  # HTTPStatusError until it exists

    def status(self, pool: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get("inferencepools", pool).get("status") or {}
        return status

    def condition(self, pool: str, type_: str) -> dict[str, Any]:
        return next((c for c in self.status(pool).get("conditions") or [] if c["type"] == type_), {})

    def gateway_url(self, name: str) -> str:
        urls = eventually(lambda: self.harness.endpoints_of(self.ns, name) or None, 60, f"gateway {name} ready")
        return urls[0]

    def events(self, pool: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client.get(
            f"/api/v1/namespaces/{self.ns}/events",
            params={"fieldSelector": f"involvedObject.name={pool}"}).json()["items"]
        return items

    def apply_cr(self, plural: str, kind: str, name: str, spec: dict[str, Any]) -> None:
        apply(self.client, f"{API}/namespaces/{self.ns}/{plural}/{name}",
              {"apiVersion": "tokenway.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": self.ns},
               "spec": spec}, manager="e2e-user")


def pool(region: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"models": [{"name": model}], "region": region, "capacity": {"maxConcurrentSequences": 4},
            "replicas": {"min": 1, "max": 6}, "autoscaling": AUTOSCALING, "env": {SIM_ARGS_ENV: SIM_ARGS},
            **extra}


@pytest.fixture(scope="module")
def stack(cluster: ControlPlane, operator: OperatorProcess) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:5]
    ns, release_ns = f"autoscale-{suffix}", f"tw-as-{suffix}"
    operator.stop()  # the session's operator watches every namespace: the chart's operator owns this module
    stack = contextlib.ExitStack()
    stack.callback(operator.start)
    with stack, cluster.http_client() as client:
        client.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
        discovery = stack.enter_context(SliceDiscovery(cluster, cluster.workdir / f"targets-{suffix}.yml"))
        prometheus = stack.enter_context(PrometheusServer(discovery.config(interval="1s")))
        cluster.helm("install", f"tw-{suffix}", str(CHART), "--namespace", release_ns, "--create-namespace",
                     "--set", f"prometheus.url={prometheus.url}", "--set", "autoscaler.interval=1",
                     "--set", "autoscaler.statusInterval=2", "--set", f"operator.watchNamespaces={{{ns}}}",
                     "--set", f"peering.name=tw-as-{suffix}", "--set", f"operator.liveness.port={free_port()}",
                     "--set", f"metrics.port={free_port()}", "--timeout", "120s")
        deployment = eventually(lambda: next(iter(client.get(
            f"/apis/apps/v1/namespaces/{release_ns}/deployments").json()["items"]), None), 30, "chart Deployment")
        chart_operator = ChartOperator(cluster, release_ns, deployment).start()
        stack.callback(chart_operator.stop)
        harness = stack.enter_context(NodeHarness(cluster, processes={ns}, time_scale=1.0,
                                                  ready_in_background=True))
        s = Stack(cluster, ns, client, prometheus, harness, chart_operator)
        s.apply_cr("inferencepools", "InferencePool", "chat-east", pool("us-east", "chat"))
        s.apply_cr("inferencepools", "InferencePool", "chat-west", pool("eu-west", "chat"))
        s.apply_cr("inferencepools", "InferencePool", "cold", pool(
            "eu-west", "cold-chat", replicas={"min": 0, "max": 2}, queue={"maxWaitSeconds": 60},
            autoscaling={**AUTOSCALING, "scaleToZero": True, "scaleToZeroIdleSeconds": 30}))
        s.apply_cr("routepolicies", "RoutePolicy", "geo", {
            "regionPreference": {"preferred": ["us-east", "eu-west"]},
            "retries": {"attempts": 3, "retryOn": ["connect-failure", "reset", "5xx"], "budgetPercent": 100},
            "outlierDetection": {"consecutiveGatewayFailures": 1, "maxEjectionPercent": 100},
            "rules": [{"name": "chat", "match": {"models": ["chat"]},
                       "backends": [{"pool": "chat-east"}, {"pool": "chat-west"}]}]})
        s.apply_cr("cachepolicies", "CachePolicy", "cache", {"mode": "exact"})
        s.apply_cr("inferencegateways", "InferenceGateway", "gw-east", {"region": "us-east", "replicas": 1})
        s.apply_cr("inferencegateways", "InferenceGateway", "gw-west", {"region": "eu-west", "replicas": 1})
        try:
            yield s
        finally:
            print("---- chart operator log tail ----\n" + chart_operator.tail())
            with contextlib.suppress(Exception):
                cluster.helm("uninstall", f"tw-{suffix}", "--namespace", release_ns, "--wait=false", check=False)


# ---- the scenario ------------------------------------------------------------------------------


def test_autoscaling_gslb_and_scale_from_zero(stack: Stack) -> None:
    s = stack
    # Set-up: the chart's operator reads Prometheus; the pools start at min (the cold one at zero).
    eventually(lambda: (s.replicas("chat-east"), s.replicas("chat-west"), s.replicas("cold")) == (1, 1, 0), 60,
               "pool Deployments at replicas.min")
    for name in ("chat-east", "chat-west"):
        eventually(lambda n=name: s.status(n).get("readyEndpoints") == 1, 60, f"{name} ready")
    east, west = s.gateway_url("gw-east"), s.gateway_url("gw-west")
    eventually(lambda: s.condition("chat-east", "ScalingActive").get("status") == "True", 60, "metrics flowing")
    assert "vllm:num_requests_waiting" in s.status("chat-east")["autoscaler"]["queries"]["queueDepth"]

    with Load(east) as load:
        # 1. Base load, then 4x.
        load.rate = 6.0
        time.sleep(15)
        before = s.replicas("chat-east") + s.replicas("chat-west")
        assert before == 2, s.status("chat-east")
        step = time.monotonic()
        load.rate = 24.0  # more than the two replicas can serve: queues build until the pools grow
        eventually(lambda: s.replicas("chat-east") + s.replicas("chat-west") >= 3, 40, "scale-up")

        def recovered() -> float | None:
            recent = [r.ttft for r in load.window(time.monotonic() - 8) if r.ttft is not None]
            value = p95(recent)
            return value if len(recent) > 50 and value <= TTFT_TARGET else None

        recovered_p95 = eventually(recovered, 60, f"TTFT p95 back under {TTFT_TARGET}s")
        recovery = time.monotonic() - step
        peak = s.replicas("chat-east") + s.replicas("chat-west")
        # The 5 s windows from the step to the recovery (at least one: a fast scale-up can recover within 1 s).
        worst = max(p95([r.ttft for r in load.window(t, t + 5) if r.ttft is not None] or [0.0])
                    for t in range(int(step), int(step + recovery) + 1))
        print(f"4x step: {before} -> {peak} replicas; worst 5 s TTFT p95 {worst:.2f}s; back to "
              f"{recovered_p95:.3f}s (target {TTFT_TARGET}s) {recovery:.0f}s after the step")
        ups = eventually(lambda: [e for e in s.events("chat-east") + s.events("chat-west")
                                  if e["reason"] == "ScaledUp"], 10, "ScaledUp events")
        assert all(e["type"] == "Normal" for e in ups)
        assert s.status("chat-east").get("lastScaleTime") or s.status("chat-west").get("lastScaleTime")

        # 2. Back down: replicas go, after the 20 s stabilization window, not before.
        load.rate = 6.0
        down = time.monotonic()
        # Below the most replicas seen, not below `peak`: a recovery within a second leaves scale-ups in flight.
        most = [peak]

        def scaled_down() -> bool:
            now = s.replicas("chat-east") + s.replicas("chat-west")
            most[0] = max(most[0], now)
            return now < most[0]

        eventually(scaled_down, 80, "scale-down")
        assert time.monotonic() - down >= 15, "scaled down before the stabilization window"
        eventually(lambda: any(e["reason"] == "ScaledDown" for e in s.events("chat-east") + s.events("chat-west")),
                   10, "ScaledDown event")
        served = load.window(step, time.monotonic())
        failed = [r for r in served if not r.ok]
        assert len(failed) <= len(served) * 0.01, failed[:5]
        load.rate = 0.0

    # 3. Scale from zero: the request is held by the gateway until the woken replica is ready.
    warm = asyncio.run(_one(west, "chat"))
    cold = asyncio.run(_one(west, "cold-chat"))
    assert cold.ok, cold.error
    assert cold.ttft is not None and warm.ttft is not None
    print(f"scale from zero: first token after {cold.ttft:.2f}s (warm {warm.ttft:.3f}s, cold start adds "
          f"{cold.ttft - warm.ttft:.2f}s with the simulator's 1 s startup delay)")
    assert s.replicas("cold") == 1
    eventually(lambda: any(e["reason"] == "ScaledFromZero" for e in s.events("cold")), 10, "ScaledFromZero event")
    woke = time.monotonic()

    # 4. Prometheus down: every pool holds its size and says why; back up, scaling resumes.
    sizes = {p: s.replicas(p) for p in ("chat-east", "chat-west")}
    s.prometheus.stop()
    held = eventually(lambda: s.condition("chat-east", "ScalingActive").get("status") == "False"
                      and s.condition("chat-east", "ScalingActive"), 20, "MetricsUnavailable")
    # Prometheus shutting down answers 503 before it refuses connections: either is "unavailable".
    assert held["reason"] == "MetricsUnavailable" and "Prometheus at http://127.0.0.1" in held["message"], held
    time.sleep(3)
    assert {p: s.replicas(p) for p in sizes} == sizes
    eventually(lambda: any(e["reason"] == "MetricsUnavailable" and e["type"] == "Warning"
                           for e in s.events("chat-east")), 10, "MetricsUnavailable event")
    s.prometheus.start()
    eventually(lambda: s.condition("chat-east", "ScalingActive").get("status") == "True", 30, "metrics back")

    # 5. Region failure: us-east's replicas die; traffic moves to eu-west; nothing unstarted is lost.
    with Load(east) as load:
        load.rate = 6.0
        time.sleep(5)
        for pod in s.harness.deployments[(s.ns, "chat-east")].pods:
            assert pod.process is not None
            pod.process.kill()
        killed = time.monotonic()
        time.sleep(12)
        load.rate = 0.0
        time.sleep(2)
    after = load.window(killed)
    lost = [r for r in load.results if not r.ok and not r.streamed]
    assert not lost, lost[:5]
    assert after and all(r.region == "eu-west" for r in after[len(after) // 2:]), [r.region for r in after]
    gateway = eventually(lambda: (s.get("inferencegateways", "gw-east").get("status") or {}).get("spilloverShare")
                         and s.get("inferencegateways", "gw-east")["status"], 30, "spillover share in status")
    regions = {r["region"]: r for r in gateway["regions"]}
    assert regions["us-east"]["local"] and "eu-west" in regions and gateway["spilloverShare"] > 0
    broken = [r for r in load.results if not r.ok]
    print(f"region failure: {len(load.results)} requests, {len(broken)} broken mid-stream, 0 lost before "
          f"streaming; gw-east spillover share {gateway['spilloverShare']}")

    # 6. The idle pool returns to zero; `tokenway status` shows pools, gateways and decisions.
    eventually(lambda: s.replicas("cold") == 0, max(5.0, 75 - (time.monotonic() - woke)), "cold pool back to zero")
    eventually(lambda: any(e["reason"] == "ScaledToZero" for e in s.events("cold")), 10, "ScaledToZero event")
    env = {**python_env(), "KUBECONFIG": str(s.cp.kubeconfig_path)}
    out = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "status", "-n", s.ns, "--events", "50"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    print(out)
    assert "chat-east" in out and "gw-west" in out and "ScaledUp" in out and "ScaledToZero" in out, out


async def _one(url: str, model: str) -> Result:
    client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=90)
    try:
        return await one_request(client, model)
    finally:
        await client.close()

