"""`tokenway operator`: run the kopf operator with liveness, metrics, peering and namespace scoping."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import socket

DESCRIPTION = """Run the Tokenway Kubernetes operator.

Reconciles InferencePool, RoutePolicy, CachePolicy and InferenceGateway objects into
inference Deployments, gateway Deployments and one compiled gateway config per
namespace (ConfigMap <gateway>-config). Credentials: --kubeconfig/--context, else the
in-cluster service account, else $KUBECONFIG (token, client certificate or exec plugin,
e.g. EKS, GKE, AKS). Serves liveness on --liveness and Prometheus metrics on
--metrics-port. Several replicas coordinate through kopf peering (--peering)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .settings import GATEWAY_IMAGE, SGLANG_IMAGE, VLLM_IMAGE

    kube = parser.add_argument_group("Kubernetes")
    kube.add_argument("--kubeconfig", default=None, help="kubeconfig path (default: in-cluster, else $KUBECONFIG)")
    kube.add_argument("--context", default=None, help="kubeconfig context (default: its current-context)")
    scope = parser.add_argument_group("scope")
    scope.add_argument("-n", "--namespace", action="append", default=[], metavar="NS",
                       help="watch only this namespace (repeatable; globs allowed); default: all namespaces")
    peer = parser.add_argument_group("peering (one active operator at a time)")
    peer.add_argument("--peering", default=os.environ.get("TOKENWAY_PEERING", "tokenway"), metavar="NAME",
                      help="kopf peering object name (default %(default)s; needs the kopf.dev peering CRDs)")
    peer.add_argument("--standalone", action="store_true", help="no peering: run alone (tests, local dev)")
    peer.add_argument("--priority", type=int, default=None,
                      help="peering priority, higher wins (default: derived from POD_ID or the host name, so "
                           "replicas differ: kopf pauses every peer when two share the top priority)")
    peer.add_argument("--peering-lifetime", type=int, default=30, metavar="SECONDS",
                      help="a silent peer counts as gone after this long (default %(default)s). Set env POD_ID "
                           "to the pod name so a restarted container is not taken for a rival")
    srv = parser.add_argument_group("endpoints")
    srv.add_argument("--liveness", default="http://0.0.0.0:8081/healthz", metavar="URL",
                     help="kopf liveness endpoint (default %(default)s; empty disables)")
    srv.add_argument("--metrics-port", type=int, default=int(os.environ.get("TOKENWAY_METRICS_PORT", "9090")),
                     help="Prometheus metrics port (default %(default)s; 0 disables)")
    img = parser.add_argument_group("images")
    img.add_argument("--gateway-image", default=os.environ.get("TOKENWAY_GATEWAY_IMAGE", GATEWAY_IMAGE))
    img.add_argument("--vllm-image", default=os.environ.get("TOKENWAY_VLLM_IMAGE", VLLM_IMAGE))
    img.add_argument("--sglang-image", default=os.environ.get("TOKENWAY_SGLANG_IMAGE", SGLANG_IMAGE))
    auto = parser.add_argument_group("autoscaling (InferencePool spec.autoscaling)")
    auto.add_argument("--prometheus-url", default=os.environ.get("TOKENWAY_PROMETHEUS_URL") or None, metavar="URL",
                      help="Prometheus the autoscaler queries (scrape config: `tokenway scrape-config`); unset: "
                           "autoscaled pools hold their size and report MetricsUnavailable")
    auto.add_argument("--autoscale-interval", type=float, default=15.0, metavar="SECONDS",
                      help="each autoscaled pool decides this often (default %(default)s)")
    auto.add_argument("--autoscale-status-interval", type=float, default=30.0, metavar="SECONDS",
                      help="refresh an unchanged decision in status at most this often (default %(default)s)")
    tun = parser.add_argument_group("tuning")
    tun.add_argument("--resync-seconds", type=float, default=300.0,
                     help="re-apply every child this often, a backstop for missed events (default %(default)s)")
    tun.add_argument("--log-level", default=os.environ.get("TOKENWAY_LOG_LEVEL", "info"),
                     choices=["debug", "info", "warning", "error"])


def default_priority() -> int:
    """A stable per-replica priority in [1, 10000] from the pod's identity."""
    identity = os.environ.get("POD_ID") or socket.gethostname()
    return 1 + int(hashlib.sha256(identity.encode()).hexdigest()[:8], 16) % 10_000


def run(args: argparse.Namespace) -> int:
    import kopf
    from prometheus_client import start_http_server
    from tokenway_gateway.kube import KubeConnection, KubeCredentialsError

    from . import handlers  # noqa: F401  (registers the handlers)
    from .autoscaling.handlers import register as register_autoscaler
    from .autoscaling.loop import AutoscaleSettings
    from .cache_status import register as register_cache_status
    from .logs import configure
    from .settings import Images, OperatorSettings

    configure(args.log_level)
    try:
        connection = KubeConnection.from_env(args.kubeconfig, args.context)
    except (KubeCredentialsError, OSError, ValueError, KeyError) as exc:
        logging.getLogger("tokenway.operator").error("cannot reach Kubernetes: %s", exc)
        return 2
    settings = OperatorSettings(
        images=Images(vllm=args.vllm_image, sglang=args.sglang_image, gateway=args.gateway_image),
        resync_seconds=args.resync_seconds,
        namespaces=tuple(args.namespace),
        peering_lifetime=args.peering_lifetime,
    )
    if args.metrics_port:
        start_http_server(args.metrics_port)
    autoscale = AutoscaleSettings(prometheus_url=args.prometheus_url, interval_seconds=args.autoscale_interval,
                                  status_interval_seconds=args.autoscale_status_interval)
    parts = register_autoscaler(autoscale)
    register_cache_status(parts.source)  # CachePolicy hit rates, from the same Prometheus
    memo = kopf.Memo(connection=connection, operator_settings=settings, autoscaling=parts)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(kopf.operator(
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            standalone=args.standalone,
            peering_name=None if args.standalone else args.peering,
            priority=args.priority if args.priority is not None else default_priority(),
            liveness_endpoint=args.liveness or None,
            memo=memo,
        ))
    return 0
