"""The Prometheus scrape configuration the autoscaler's queries expect (pure).

Two jobs discover Tokenway's Services through EndpointSlices (what kube-proxy reads, so a
replica is scraped as soon as it is an endpoint) and attach the labels the queries group
by: ``namespace`` and ``pool`` on engine replicas, ``namespace`` and ``gateway`` on gateway
replicas (whose series carry the pool as a metric label). ``tokenway scrape-config``
prints it.

Debian's ``prometheus`` package is built without Kubernetes service discovery, so the
tests and benchmarks run that real Prometheus with ``file_sd`` targets that
:func:`slice_targets` derives from the same EndpointSlices with the same labels.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

POOLS_JOB = "tokenway-pools"
GATEWAYS_JOB = "tokenway-gateways"
_SVC = "__meta_kubernetes_service_label_"


def _label(name: str) -> str:
    return _SVC + "".join(c if c.isalnum() else "_" for c in name)


def _job(name: str, component: str, own_label: str, target_label: str, sd: dict[str, Any],
         interval: str) -> dict[str, Any]:
    return {
        "job_name": name,
        "scrape_interval": interval,
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [copy.deepcopy(sd)],
        "relabel_configs": [
            {"source_labels": [_label("app.kubernetes.io/managed-by"), _label("app.kubernetes.io/component")],
             "regex": f"tokenway;{component}", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_endpointslice_port_name"], "regex": "http", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": [_label(own_label)], "target_label": target_label},
            {"source_labels": ["__meta_kubernetes_endpointslice_address_target_name"], "target_label": "pod"},
        ],
    }


def scrape_config(*, interval: str = "15s", namespaces: Sequence[str] = (), api_server: str | None = None,
                  ca_file: str | None = None, bearer_token_file: str | None = None) -> dict[str, Any]:
    """Prometheus config with the two Tokenway jobs. In a cluster leave ``api_server`` unset (Prometheus
    uses its ServiceAccount); outside, point it at the API server with a CA and a token file."""
    sd: dict[str, Any] = {"role": "endpointslice"}
    if namespaces:
        sd["namespaces"] = {"names": list(namespaces)}
    if api_server:
        sd["api_server"] = api_server
        if ca_file:
            sd["tls_config"] = {"ca_file": ca_file}
        if bearer_token_file:
            sd["authorization"] = {"credentials_file": bearer_token_file}
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            _job(POOLS_JOB, "pool", "tokenway.io/pool", "pool", sd, interval),
            _job(GATEWAYS_JOB, "gateway", "tokenway.io/gateway", "gateway", sd, interval),
        ],
    }


@dataclass(frozen=True)
class StaticTarget:
    """A replica outside Kubernetes (benchmarks, tests): host:port plus the labels discovery would attach."""

    address: str
    labels: dict[str, str] = field(default_factory=dict)


def static_scrape_config(targets: Sequence[StaticTarget], *, interval: str = "1s",
                         file_sd: str | None = None) -> dict[str, Any]:
    """The same labels for processes on this machine: static targets, or a file_sd file that is re-read
    when it changes (replicas come and go)."""
    job: dict[str, Any] = {"job_name": "tokenway", "scrape_interval": interval, "metrics_path": "/metrics"}
    if file_sd is not None:
        job["file_sd_configs"] = [{"files": [file_sd], "refresh_interval": "1s"}]
    else:
        job["static_configs"] = [{"targets": [t.address], "labels": t.labels} for t in targets]
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval}, "scrape_configs": [job]}


def slice_targets(services: Sequence[Mapping[str, Any]], slices: Sequence[Mapping[str, Any]]) -> list[StaticTarget]:
    """What the two jobs' relabeling keeps of these EndpointSlices, with the labels it attaches (pure)."""
    labels_of = {((s.get("metadata") or {}).get("namespace"), (s.get("metadata") or {}).get("name")):
                 (s.get("metadata") or {}).get("labels") or {} for s in services}
    targets: list[StaticTarget] = []
    for slice_ in slices:
        meta = slice_.get("metadata") or {}
        namespace = meta.get("namespace", "")
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name", "")
        labels = labels_of.get((namespace, service), {})
        if labels.get("app.kubernetes.io/managed-by") != "tokenway":
            continue
        component = labels.get("app.kubernetes.io/component")
        own = {"pool": ("pool", "tokenway.io/pool"), "gateway": ("gateway", "tokenway.io/gateway")}.get(component or "")
        port = next((p.get("port") for p in slice_.get("ports") or [] if p.get("name") == "http"), None)
        if own is None or port is None:
            continue
        for endpoint in slice_.get("endpoints") or []:
            for address in (endpoint.get("addresses") or [])[:1]:
                host = f"[{address}]" if ":" in address else address
                target = {"namespace": namespace, own[0]: labels.get(own[1], "")}
                pod = (endpoint.get("targetRef") or {}).get("name")
                if pod:
                    target["pod"] = pod
                targets.append(StaticTarget(f"{host}:{port}", target))
    return targets


def file_sd(targets: Sequence[StaticTarget]) -> str:
    return yaml.safe_dump([{"targets": [t.address], "labels": t.labels} for t in targets])


DESCRIPTION = """Print the Prometheus scrape configuration the autoscaler's queries expect: two jobs that
discover Tokenway's pool and gateway Services through EndpointSlices and label every series with
namespace and pool (engines) or namespace and gateway (gateways). Point the operator at that
Prometheus with `tokenway operator --prometheus-url URL` (chart value prometheus.url)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", default="15s", help="scrape interval (default %(default)s)")
    parser.add_argument("-n", "--namespace", action="append", default=[], help="only these namespaces")
    parser.add_argument("--api-server", default=None, help="API server URL (default: in-cluster)")
    parser.add_argument("--ca-file", default=None, help="CA of the API server (with --api-server)")
    parser.add_argument("--bearer-token-file", default=None, help="token file (with --api-server)")


def run(args: argparse.Namespace) -> int:
    config = scrape_config(interval=args.interval, namespaces=args.namespace, api_server=args.api_server,
                           ca_file=args.ca_file, bearer_token_file=args.bearer_token_file)
    sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    return 0
