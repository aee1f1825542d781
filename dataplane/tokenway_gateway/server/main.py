"""`tokenway gateway`: run the gateway with a config file or a Kubernetes config source."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal

from ..config.file_source import FileConfigSource
from ..config.store import ConfigStore
from ..observability.logs import configure_logging
from ..observability.metrics import GatewayMetrics
from ..proxy.gateway import Gateway
from .lifecycle import GatewayServer, ListenError
from .tls import TlsFiles

DESCRIPTION = """Run the Tokenway gateway: an OpenAI-compatible proxy in front of inference pools.

Config comes from a YAML file (hot-reloaded: validated whole, then swapped; a bad
file is logged and the last good config keeps serving) or, in a cluster, from the
ConfigMap the operator writes (--kube-configmap NAMESPACE/NAME, watched live).
SIGTERM drains: stop accepting, let streams finish up to the drain timeout."""

log = logging.getLogger("tokenway.gateway")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="path of the gateway config YAML (GatewayConfig)")
    source.add_argument("--kube-configmap", metavar="NAMESPACE/NAME", help="watch this ConfigMap's config.yaml")
    kube = parser.add_argument_group("Kubernetes (with --kube-configmap)")
    kube.add_argument("--kubeconfig", default=None, help="kubeconfig path (default: in-cluster, else $KUBECONFIG)")
    kube.add_argument("--context", default=None, help="kubeconfig context (default: its current-context)")
    parser.add_argument("--host", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8080, help="listen port (default 8080)")
    parser.add_argument("--admin-port", type=int, default=None,
                        help="admin listener port (DELETE /admin/cache ...); off unless given, never the public port")
    parser.add_argument("--admin-host", default="127.0.0.1", help="admin listen address (default 127.0.0.1)")
    parser.add_argument("--reload-interval", type=float, default=0.5, help="config file poll interval in seconds")
    parser.add_argument("--drain-seconds", type=float, default=None,
                        help="drain timeout on SIGTERM (default: server.drainSeconds of the config)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true",
                        help="log one JSON line per proxied request (status, pool, latency, tokens; never prompts)")
    keys = parser.add_argument_group(
        "API keys (besides the config's auth.keys; either source makes a key required on every request)")
    keys.add_argument("--api-keys-file", metavar="FILE",
                      help="YAML list of key entries (`tokenway keys new` prints them), watched: rotation is live")
    keys.add_argument("--kube-api-key-secret", metavar="NAMESPACE/NAME",
                      help="watch this Secret's key entries (the gateway's Role may read that Secret only)")
    keys.add_argument("--kube-api-key-secret-key", default="api-keys", metavar="KEY",
                      help="the Secret's data key holding the entries (default api-keys)")
    tls = parser.add_argument_group("TLS (a second listener: HTTP/2 and HTTP/1.1 by ALPN; files reloaded on change)")
    tls.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain (overrides the config's tls section)")
    tls.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    tls.add_argument("--tls-client-ca", metavar="FILE", help="PEM CA bundle: require client certificates it signed")
    tls.add_argument("--tls-port", type=int, default=8443, help="TLS listen port (default 8443)")


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return asyncio.run(serve(args))


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("config source stopped: %r; the last good config keeps serving", task.exception())


async def serve(args: argparse.Namespace) -> int:
    if bool(args.tls_cert) != bool(args.tls_key) or (args.tls_client_ca and not args.tls_cert):
        log.error("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
        return 2
    if args.admin_port is not None and args.admin_port != 0 and args.admin_port in (args.port, args.tls_port):
        log.error("--admin-port must differ from the public ports (--port, --tls-port)")
        return 2
    tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    store = ConfigStore()
    tasks: list[asyncio.Task[None]] = []
    if args.config:
        file_source = FileConfigSource(args.config, store, args.reload_interval)
        try:
            if not file_source.load_now():
                log.error("the initial config is invalid; fix it and start again")
                return 2
        except OSError as exc:
            log.error("cannot read config %s: %s", args.config, exc)
            return 2
        tasks.append(asyncio.create_task(file_source.run()))
    else:
        from ..config.kube_source import KubeConnection, KubeCredentialsError, kube_source_from_arg

        try:  # resolve credentials now: a gateway that can never get its config must not look alive
            connection = KubeConnection.from_env(args.kubeconfig, args.context)
            kube_source = kube_source_from_arg(args.kube_configmap, store, connection=connection)
        except (KubeCredentialsError, ValueError) as exc:
            log.error("%s", exc)
            return 2
        tasks.append(asyncio.create_task(kube_source.run()))

    for task in tasks:
        task.add_done_callback(_log_crash)
    metrics = GatewayMetrics()
    store.subscribe(lambda _: metrics.config_reloads.labels("applied").inc())
    store.on_reject(lambda _: metrics.config_reloads.labels("rejected").inc())
    gateway = Gateway(store, metrics, access_log=args.access_log)
    gateway.caches.instance = args.kube_configmap or ""  # Redis cache keys: this gateway's, shared by its replicas
    from ..config.key_sources import start_key_sources

    key_tasks = await start_key_sources(
        gateway.policies, api_keys_file=args.api_keys_file, secret=args.kube_api_key_secret,
        secret_key=args.kube_api_key_secret_key, kubeconfig=args.kubeconfig, context=args.context,
        interval=args.reload_interval)
    if key_tasks is None:
        return 2
    for task in key_tasks:
        task.add_done_callback(_log_crash)
    tasks += key_tasks
    server = GatewayServer(gateway, args.host, args.port, tls=tls, tls_port=args.tls_port)
    try:
        await server.start()
    except ListenError as exc:
        log.error("%s", exc)
        return 2

    admin = None
    if args.admin_port is not None:
        from .admin import AdminServer

        admin = AdminServer(gateway, args.admin_host, args.admin_port)
        try:
            await admin.start()
        except OSError as exc:
            log.error("cannot listen on %s:%d (admin): %s", args.admin_host, args.admin_port, exc.strerror or exc)
            await server.stop()
            return 2

    # Everything built so far (modules, the config, the first routing table) lives as long as the process: move it
    # out of the collector's sight, so a full collection (a response cache's churn triggers them) is a few ms.
    gc.freeze()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    drain = args.drain_seconds
    if drain is None:
        drain = store.current.server.drain_seconds if store.current else 30.0
    log.info("draining for up to %.1fs", drain)
    await server.drain(drain)
    for task in tasks:
        task.cancel()
    if admin is not None:
        await admin.stop()
    await server.stop()
    await asyncio.to_thread(gateway.tracer.shutdown)  # flushes spans over the network
    log.info("stopped")
    return 0
