"""EndpointSlices -> the gateway's endpoint list (pure), read as kube-proxy reads them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokenway_gateway.api import EndpointConfig


def _port(slice_: dict[str, Any]) -> int | None:
    ports = slice_.get("ports") or []
    named = [p for p in ports if p.get("name") == "http"] or ports
    port = named[0].get("port") if named else None
    return int(port) if port is not None else None


def _host(address: str, family: str | None) -> str:
    return f"[{address}]" if family == "IPv6" or ":" in address else address


def ready_endpoints(slices: Iterable[dict[str, Any]]) -> list[EndpointConfig]:
    """Ready endpoints of one Service's slices, deduplicated and sorted (a stable config hash).

    ``conditions.ready`` unset means ready, as the EndpointSlice API documents.
    """
    seen: dict[str, EndpointConfig] = {}
    for slice_ in slices:
        port = _port(slice_)
        if port is None:
            continue
        family = slice_.get("addressType")
        for endpoint in slice_.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            name = (endpoint.get("targetRef") or {}).get("name")
            for address in endpoint.get("addresses") or []:
                url = f"http://{_host(address, family)}:{port}"
                seen.setdefault(url, EndpointConfig(url=url, name=name))
    return [seen[url] for url in sorted(seen)]
