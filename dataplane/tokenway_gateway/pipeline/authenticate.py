"""The authenticate stage: who is calling, from the `Authorization: Bearer` key.

Runs (in the entry chain, before routing, so rules can match on the key's tier) when the
snapshot has an `auth` section or the gateway watches a key source (a Kubernetes Secret
or a file: :mod:`tokenway_gateway.config.key_sources`). Without either the gateway is open
and every caller is tenant ``anonymous`` with no tier.

Keys come from two places, merged (a key listed twice: disabled wins, else the source's):
the snapshot's ``auth.keys`` and the key source's entries. A :class:`KeyRing` on the gateway
holds the source's entries across config swaps; each snapshot's stage holds a
:class:`~tokenway_gateway.auth.KeyStore` built from both. When the source changes, the ring
builds the live stage's new store off the event loop and swaps it in with one assignment:
requests in flight keep the store they started with, none is dropped.

Nothing key-derived is logged beyond a digest prefix (``Principal.key_id``); errors never
echo the presented key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..api.snapshot import GatewayConfig
from ..auth import KeyEntry, KeyStore
from ..server.errors import GatewayError
from .chain import CONTINUE, Verdict

if TYPE_CHECKING:
    from ..observability.policy_metrics import PolicyMetrics
    from ..proxy.gateway import Gateway
    from .context import RequestContext

log = logging.getLogger("tokenway.auth")

AUTHORIZATION = b"authorization"
# Below this many entries a store is rebuilt right away on the loop (about a microsecond per entry).
INLINE_REBUILD_ENTRIES = 2000


class KeyRing:
    """The key source's entries, shared by every snapshot's authenticate stage (lives on the gateway)."""

    def __init__(self, metrics: PolicyMetrics | None = None) -> None:
        self.source: str | None = None  # "secret ns/name" or "file PATH"; None: no key source
        self.source_kind = ""  # "secret" | "file": the metrics label
        self.entries: tuple[KeyEntry, ...] = ()
        self.generation = 0  # bumps on every accepted change of the source
        self.loaded = False  # the source was read successfully at least once
        self.live: AuthStage | None = None  # the authenticate stage of the running snapshot
        self.metrics = metrics

    def attach(self, source: str, kind: str) -> None:
        """Declare a key source (before its first read): authentication is required from now on."""
        self.source = source
        self.source_kind = kind

    @property
    def ready(self) -> bool:
        """Without a source there is nothing to wait for; with one, its first read must have succeeded."""
        return self.source is None or self.loaded

    async def update(self, entries: Sequence[KeyEntry]) -> None:
        """New entries from the source (on the event loop): the live stage gets a new store, built in a thread."""
        self.entries = tuple(entries)
        self.generation += 1
        self.loaded = True
        generation = self.generation
        if self.metrics is not None:
            self.metrics.keys_loaded[self.source_kind or "source"] = len(self.entries)
        stage = self.live
        if stage is not None:
            store = await asyncio.to_thread(KeyStore.merged, stage.config_entries, self.entries)
            stage.install(store, generation)

    def follow(self, gateway: Gateway) -> None:
        """After a config swap: remember the running snapshot's stage (it catches up if it is behind)."""
        table = gateway.table
        self.live = None
        if table is not None:
            for stage in table.entry:
                if isinstance(stage, AuthStage):
                    self.live = stage
                    stage.catch_up()
                    break
        if self.metrics is not None:
            self.metrics.keys_loaded["config"] = len(self.live.config_entries) if self.live is not None else 0


class AuthStage:
    """Sets ``ctx.principal``, ``ctx.tenant`` and ``ctx.tier``, or ends the request with 401/403."""

    name = "authenticate"
    before_parse = True  # headers only: a caller without a key costs no JSON parsing

    def __init__(self, ring: KeyRing, config_entries: Sequence[KeyEntry], metrics: PolicyMetrics | None) -> None:
        self.ring = ring
        self.config_entries = tuple(config_entries)
        self.generation = ring.generation
        self.store = KeyStore.merged(self.config_entries, ring.entries)
        self._rebuilding = False
        ok = metrics.auth.get("ok") if metrics is not None else None
        self._ok = ok
        self._metrics = metrics

    def install(self, store: KeyStore, generation: int) -> None:
        """Swap in a store built from a newer source generation (older ones are ignored)."""
        if generation > self.generation:
            self.store = store
            self.generation = generation

    def catch_up(self) -> None:
        """The source changed after this stage's store was built (a config swap raced a rotation)."""
        ring = self.ring
        if self.generation == ring.generation or self._rebuilding:
            return
        entries, generation = ring.entries, ring.generation
        if len(entries) + len(self.config_entries) <= INLINE_REBUILD_ENTRIES:
            self.install(KeyStore.merged(self.config_entries, entries), generation)
            return
        self._rebuilding = True

        def done(task: asyncio.Future[KeyStore]) -> None:
            self._rebuilding = False
            if not task.cancelled() and task.exception() is None:
                self.install(task.result(), generation)

        future = asyncio.ensure_future(asyncio.to_thread(KeyStore.merged, self.config_entries, entries))
        future.add_done_callback(done)

    def run(self, ctx: RequestContext) -> Verdict:
        if self.generation != self.ring.generation:
            self.catch_up()
        try:
            principal = self.store.authenticate(ctx.request.header(AUTHORIZATION))
        except GatewayError as error:
            if self._metrics is not None:
                self._metrics.auth.inc(_result(error, ctx))
            raise
        ctx.principal = principal
        ctx.tenant = principal.tenant
        ctx.tier = principal.tier
        if self._ok is not None:
            self._ok.value += 1
        return CONTINUE


def _result(error: GatewayError, ctx: RequestContext) -> str:
    if error.status == 403:
        return "disabled"
    return "missing" if not ctx.request.header(AUTHORIZATION) else "invalid"


def authenticate_stage(gateway: Gateway, config: GatewayConfig) -> AuthStage | None:
    """The stage when the snapshot has `auth` or the gateway watches a key source; else None (open)."""
    policies = gateway.policies
    ring = policies.keys
    if config.auth is None and ring.source is None:
        return None
    return AuthStage(ring, config.auth.keys if config.auth is not None else (), policies.metrics)
