"""`tokenway status -n NS`: pools, gateways and recent scaling decisions of a namespace, in one screen.

Reads what the operator wrote (status, Events) with the caller's credentials, as
kubectl would; the rendering is a pure function of those objects so it is tested
without a cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import Any

DESCRIPTION = """Summarise a namespace: each InferencePool (engine, region, replicas ready/desired, TTFT p95,
queue, saturation, whether autoscaling reads its metrics, the last decision), each InferenceGateway
(replicas, config version, region health and spillover share) and the latest scaling Events."""

SCALING_REASONS = frozenset({"ScaledUp", "ScaledDown", "ScaledToZero", "ScaledFromZero", "MetricsUnavailable",
                             "StaleMetrics", "MetricsAvailable"})
API = "/apis/tokenway.io/v1alpha1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", required=True, help="namespace to summarise")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig path (default: in-cluster, else $KUBECONFIG)")
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("--events", type=int, default=10, help="recent scaling events to show (default %(default)s)")


def _cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), {})


def _num(value: Any, unit: str = "", digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def render(namespace: str, pools: Sequence[dict[str, Any]], gateways: Sequence[dict[str, Any]],
           events: Sequence[dict[str, Any]], limit: int = 10) -> str:
    out = [f"namespace {namespace}", ""]
    rows = [["POOL", "ENGINE", "REGION", "READY/DESIRED", "TTFT-P95", "QUEUE/REPLICA", "SATURATION", "AUTOSCALING",
             "LAST DECISION"]]
    for pool in sorted(pools, key=lambda p: p["metadata"]["name"]):
        spec, status = pool.get("spec") or {}, pool.get("status") or {}
        autoscaling = (spec.get("autoscaling") or {}).get("enabled")
        active = _cond(pool, "ScalingActive")
        mode = "off" if not autoscaling else ("on" if active.get("status") == "True" else
                                              f"holding ({active.get('reason', 'pending')})")
        decision = (status.get("autoscaler") or {}).get("reason") or status.get("lastScaleReason") or "-"
        rows.append([pool["metadata"]["name"], str(spec.get("engine", "vllm")), str(spec.get("region", "default")),
                     f"{status.get('readyReplicas', 0)}/{status.get('desiredReplicas', 0)}",
                     _num(status.get("observedTtftP95Seconds"), "s", 3), _num(status.get("observedQueueDepth")),
                     _num(status.get("observedSaturation")), mode, decision[:100]])
    out += _table(rows) if len(rows) > 1 else ["no InferencePools"]
    out.append("")
    rows = [["GATEWAY", "REGION", "READY", "CONFIG", "SPILLOVER", "REGIONS (health, share of requests)"]]
    for gateway in sorted(gateways, key=lambda g: g["metadata"]["name"]):
        spec, status = gateway.get("spec") or {}, gateway.get("status") or {}
        regions = ", ".join(
            f"{r['region']}{'*' if r.get('local') else ''} {_num(r.get('health'))}"
            + (f" {_num(r.get('requestShare'))}" if r.get("requestShare") is not None else "")
            for r in status.get("regions") or [])
        rows.append([gateway["metadata"]["name"], str(spec.get("region", "default")),
                     f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 2)}",
                     str(status.get("configVersion", "-")), _num(status.get("spilloverShare")), regions or "-"])
    out += _table(rows) if len(rows) > 1 else ["no InferenceGateways"]
    out += ["", "recent scaling decisions:"]
    scaling = [e for e in events if e.get("reason") in SCALING_REASONS
               and (e.get("involvedObject") or {}).get("kind") == "InferencePool"]
    scaling.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""), reverse=True)
    for event in scaling[:limit]:
        out.append(f"  {event.get('lastTimestamp') or event.get('eventTime') or '?'}  "
                   f"{event['involvedObject'].get('name')}  {event.get('reason')}: {event.get('message', '')}")
    if not scaling:
        out.append("  none")
    return "\n".join(out) + "\n"


async def _fetch(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    from tokenway_gateway.kube import KubeClient, KubeConnection

    client = KubeClient(KubeConnection.from_env(args.kubeconfig, args.context))
    try:
        ns = args.namespace
        pools = (await client.get_json(f"{API}/namespaces/{ns}/inferencepools") or {}).get("items") or []
        gateways = (await client.get_json(f"{API}/namespaces/{ns}/inferencegateways") or {}).get("items") or []
        events = (await client.get_json(f"/api/v1/namespaces/{ns}/events",
                                        {"fieldSelector": "involvedObject.kind=InferencePool"}) or {}).get("items")
        return pools, gateways, events or []
    finally:
        await client.aclose()


def run(args: argparse.Namespace) -> int:
    from tokenway_gateway.kube import KubeCredentialsError, KubeError

    try:
        pools, gateways, events = asyncio.run(_fetch(args))
    except (KubeCredentialsError, KubeError, OSError, ValueError, KeyError) as exc:
        logging.getLogger("tokenway").error("cannot read namespace %s: %s", args.namespace, exc)
        return 2
    print(render(args.namespace, pools, gateways, events, args.events), end="")
    return 0
