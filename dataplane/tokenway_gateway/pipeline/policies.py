"""What the access-policy stages keep across config swaps, on the gateway (``gateway.policies``).

- ``keys``: the key source's entries (:class:`~.authenticate.KeyRing`);
- ``limiters``: the rate limiter and its counters (:class:`~.admit.LimiterHolder`), kept
  while the snapshot's ``limits`` section is unchanged;
- ``metrics``: their Prometheus figures (:class:`~tokenway_gateway.observability.policy_metrics.PolicyMetrics`).

Stage factories read this while a snapshot is built; after each swap (on the loop)
:meth:`PolicyState.applied` lets the limiter and key ring follow the running snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.snapshot import GatewayConfig
from ..observability.policy_metrics import PolicyMetrics
from .admit import LimiterHolder
from .authenticate import KeyRing

if TYPE_CHECKING:
    from ..proxy.gateway import Gateway


class PolicyState:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.metrics = PolicyMetrics(gateway.metrics.registry)
        self.keys = KeyRing(self.metrics)
        self.limiters = LimiterHolder(self.metrics)
        gateway.store.subscribe(self.applied)

    def applied(self, config: GatewayConfig) -> None:
        """A snapshot was swapped in (on the loop)."""
        self.limiters.adopt(config)
        self.keys.follow(self.gateway)

    @property
    def ready(self) -> bool:
        """Authentication can answer (a watched key source has been read once)."""
        return self.keys.ready

    def attach_key_source(self, source: str, kind: str) -> None:
        """Require keys from a source from now on: recompile the running snapshot's chains with authentication."""
        self.keys.attach(source, kind)
        store = self.gateway.store
        if store.current is not None:
            store.apply(store.current, f"{kind} {source}")

    async def aclose(self) -> None:
        await self.limiters.aclose()
