"""RequestContext: everything one proxied request carries down the stage chain, once.

Stages fill it in as they learn things (tenant, route target, token estimate, cache key,
prefix hashes) and read what earlier stages left. What costs something to compute
(prompt text, token estimate, prefix hashes, session key) is computed on first use,
so a route whose stages never ask pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..limits.estimate import estimate_prompt_tokens
from ..server.errors import GatewayError
from .chain import ANSWERED, SUSPENDED, Stage, Verdict, resume
from .prompt import prompt_text

if TYPE_CHECKING:
    from ..proxy.call import ClientCall
    from ..proxy.gateway import Gateway
    from ..routing.table import RoutingTable, Target
    from ..server.channel import ClientChannel, Request

SettleHook = Callable[["RequestContext"], None]
# Headers that name a conversation, for session affinity (first match wins; then the body's `user`).
SESSION_HEADERS = (b"x-session-id", b"x-conversation-id")
ANONYMOUS_TENANT = "anonymous"


class RequestContext:
    __slots__ = (
        "_prefix_hashes",
        "_prompt_text",
        "_prompt_tokens",
        "_session_key",
        "call",
        "capture",
        "channel",
        "dirty",
        "extra_headers",
        "finished",
        "gateway",
        "intent",
        "model",
        "next_stage",
        "on_cancel",
        "path",
        "payload",
        "principal",
        "request",
        "requested_model",
        "route_note",
        "settle_hooks",
        "span",
        "stages",
        "status",
        "stream",
        "table",
        "target",
        "tenant",
        "tier",
        "usage",
    )

    def __init__(self, gateway: Gateway, request: Request, channel: ClientChannel, path: bytes,
                 table: RoutingTable, stages: tuple[Stage, ...]) -> None:
        self.gateway = gateway
        self.request = request
        self.channel = channel
        self.path = path
        self.table = table  # the snapshot this request started under, whatever swaps meanwhile
        self.stages = stages
        self.next_stage = 0
        self.payload: dict[str, Any] = {}
        self.dirty = False  # payload changed: re-encode it for upstream
        self.requested_model = ""
        self.model = ""  # canonical once routed
        self.stream = False
        self.target: Target | None = None
        self.tenant = ANONYMOUS_TENANT
        self.tier: str | None = None
        self.principal: Any = None
        self.intent: Any = None  # the intent match of the prompt, when a stage computed it (has ``.name``)
        self.route_note = b""  # value of x-tokenway-route, when a stage explains its decision
        self.extra_headers = b""  # response header lines added by stages
        self.settle_hooks: list[SettleHook] | None = None
        self.on_cancel: Callable[[], None] | None = None
        self.call: ClientCall | None = None
        self.capture: list[bytes] | None = None  # set by a stage that wants the response body (cache store)
        self.span: Any = None
        self.finished = False
        self.status = 0
        self.usage: dict[str, Any] | None = None
        self._prompt_text: str | None = None
        self._prompt_tokens = -1
        self._prefix_hashes: list[int] | None = None
        self._session_key: bytes | bool | None = False  # False: not looked up yet

    # ---- what stages read -----------------------------------------------------------
    def header(self, name: bytes) -> bytes | None:
        return self.request.header(name)

    @property
    def prompt_text(self) -> str:
        """The prompt's text (message contents in order, or the completion prompt)."""
        if self._prompt_text is None:
            self._prompt_text = prompt_text(self.payload)
        return self._prompt_text

    @property
    def prompt_tokens(self) -> int:
        """A fast estimate of the prompt's token count."""
        if self._prompt_tokens < 0:
            self._prompt_tokens = estimate_prompt_tokens(self.payload)
        return self._prompt_tokens

    @property
    def prefix_hashes(self) -> list[int]:
        """Chained hashes of the prompt's leading blocks (one implementation: tokenway_gateway.picking)."""
        if self._prefix_hashes is None:
            from ..picking.prefix import prefix_block_hashes

            self._prefix_hashes = prefix_block_hashes(self.payload)
        return self._prefix_hashes

    @property
    def session_key(self) -> bytes | None:
        """A conversation id (header, else the body's ``user``), for session affinity."""
        key = self._session_key
        if key is False:
            key = None
            for name in SESSION_HEADERS:
                key = self.request.header(name)
                if key:
                    break
            if not key:
                user = self.payload.get("user")
                key = user.encode() if isinstance(user, str) and user else None
            self._session_key = key
        return key  # type: ignore[return-value]

    def intent_name(self) -> str | None:
        intent = self.intent
        return intent.name if intent is not None else None  # type: ignore[no-any-return]

    def upstream_body(self) -> bytes:
        """The body to send upstream: the client's bytes unless a stage changed the payload."""
        return orjson.dumps(self.payload) if self.dirty else bytes(self.request.body)

    def retarget(self, table: RoutingTable) -> None:
        """Resolve the route again under a newer snapshot (a request that waited across a config swap)."""
        self.table = table
        target = table.resolve(self)
        if target is None:
            return  # the route is gone: the old target answers (no endpoint)
        self.target = target
        self.model = target.model
        if self.payload.get("model") != target.upstream_model:
            self.payload["model"] = target.upstream_model
            self.dirty = True

    # ---- what stages do -----------------------------------------------------------------
    def add_header(self, line: bytes) -> None:
        """Add ``name: value`` to the response (without CRLF)."""
        self.extra_headers += line + b"\r\n"

    def on_settle(self, hook: SettleHook) -> None:
        """Run ``hook(ctx)`` once when the request ends, whatever the outcome."""
        if self.settle_hooks is None:
            self.settle_hooks = [hook]
        else:
            self.settle_hooks.append(hook)

    def suspend(self, on_cancel: Callable[[], None] | None = None) -> Verdict:
        """Pause the chain; ``on_cancel`` runs if the client leaves meanwhile. Return the result."""
        self.on_cancel = on_cancel
        return SUSPENDED

    def resume(self) -> None:
        """Continue with the next stage (from the callback that ended the suspension)."""
        self.on_cancel = None
        resume(self)

    def respond(self, status: int, body: bytes, content_type: bytes = b"application/json",
                extra: bytes = b"") -> Verdict:
        """Answer the client now (e.g. a cache hit) and end the request."""
        if not self.finished:
            self.channel.send(status, body, self.request, content_type, self.extra_headers + extra)
            self.finish(status)
        return ANSWERED

    def fail(self, error: GatewayError) -> Verdict:
        """Answer with an OpenAI-format error and end the request."""
        if not self.finished:
            self.channel.send_error(error, self.request, self.extra_headers)
            self.finish(error.status)
        return ANSWERED

    def finish(self, status: int) -> None:
        """End the request once: settle hooks, metrics, trace, access log, then free the channel."""
        if self.finished:
            return
        self.finished = True
        self.status = status
        self.on_cancel = None
        self.gateway.settle(self)
        self.channel.request_done(self.request)

    # ---- FlowControlled, while no upstream call owns the channel -------------------------
    def client_gone(self) -> None:
        cancel, self.on_cancel = self.on_cancel, None
        if cancel is not None:
            cancel()
        self.finish(499)

    def pause_upstream(self) -> None:
        """Nothing upstream yet."""

    def resume_upstream(self) -> None:
        """Nothing upstream yet."""
