"""TEST HARNESS: feeds a real Prometheus the targets Kubernetes service discovery would give it.

Debian's `prometheus` package is built without kubernetes_sd_configs. This thread lists the
Services and EndpointSlices Tokenway manages and writes them, labelled exactly as the
relabeling of `tokenway scrape-config` would (tokenway_operator.autoscaling.scrape.slice_targets),
into a file_sd file that Prometheus re-reads every second.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import httpx
from tokenway_operator.autoscaling.scrape import file_sd, slice_targets, static_scrape_config

from e2e.kube_cluster import ControlPlane

log = logging.getLogger("tokenway.e2e.sd")
MANAGED = "app.kubernetes.io/managed-by=tokenway"


class SliceDiscovery:
    def __init__(self, cp: ControlPlane, path: Path, period: float = 0.5) -> None:
        self.cp = cp
        self.path = path
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="prometheus-sd")
        self.path.write_text("[]\n")

    def config(self, interval: str = "1s") -> dict[str, object]:
        return static_scrape_config([], interval=interval, file_sd=str(self.path))

    def sync(self, client: httpx.Client) -> int:
        services = client.get("/api/v1/services", params={"labelSelector": MANAGED}).raise_for_status().json()
        slices = client.get("/apis/discovery.k8s.io/v1/endpointslices").raise_for_status().json()
        targets = slice_targets(services["items"], slices["items"])
        text = file_sd(targets)
        if not self.path.exists() or self.path.read_text() != text:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, self.path)
        return len(targets)

    def _run(self) -> None:
        with self.cp.http_client() as client:
            while not self._stop.is_set():
                try:
                    self.sync(client)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    log.warning("service discovery: %s", exc)
                self._stop.wait(self.period)

    def __enter__(self) -> SliceDiscovery:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
