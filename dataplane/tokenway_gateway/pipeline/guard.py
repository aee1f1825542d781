"""The guard stage: prompt-injection screening and prompt limits, on routes with ``promptGuard`` enabled.

- Limits first: more messages than ``maxMessages`` or an estimated prompt above
  ``maxPromptTokens`` is refused with 400 (``too_many_messages`` / ``prompt_too_long``),
  whatever the action.
- Then the heuristics (:mod:`tokenway_gateway.guard`) on the user and tool messages (or the
  completion prompt). In ``embedding`` mode the last user message's embedding is compared with
  attack exemplars too: the intent stage's embedding is reused when it ran, otherwise the
  request suspends while the shared embedder works.
- ``action: block``: a flagged prompt gets 400 with ``error.code: "prompt_blocked"``;
  ``action: flag``: it goes on with the response header ``x-tokenway-guard: flagged``.
  Both count in ``tokenway_guard_verdicts`` and log one line with the request id, route,
  score and reasons: never the prompt.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..api.snapshot import GatewayConfig, NamedRoutePolicy
from ..guard import GuardVerdict, PromptGuard
from ..guard.guard import VERDICT_CACHE_ENTRIES
from ..server.errors import GatewayError
from .chain import ANSWERED, CONTINUE, Verdict
from .prompt import last_user_text

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..observability.policy_metrics import PolicyMetrics
    from ..proxy.gateway import Gateway
    from ..semantic import AsyncEmbedder
    from .context import RequestContext

log = logging.getLogger("tokenway.guard")

FLAGGED_HEADER = b"x-tokenway-guard: flagged\r\n"
# Roles whose text comes from outside the operator's control (system and assistant turns are not screened).
SCREENED_ROLES = frozenset(("user", "tool", "function"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def screened_texts(payload: dict[str, Any]) -> list[str]:
    """The texts to screen, in conversation order: user, tool and function turns, or the prompt."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        texts = []
        for message in messages:
            if message.__class__ is dict and message.get("role", "user") in SCREENED_ROLES:
                content = message.get("content")
                texts.append(content if content.__class__ is str else _text(content))
        return texts
    prompt = payload.get("prompt", payload.get("input"))
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list):
        return [p for p in prompt if isinstance(p, str)]
    return []


class _EmbedWait:
    __slots__ = ("ctx", "stage", "texts")

    def __init__(self, stage: GuardStage, ctx: RequestContext, texts: list[str]) -> None:
        self.stage = stage
        self.ctx = ctx
        self.texts = texts

    def __call__(self, vector: NDArray[np.float32] | None, error: BaseException | None) -> None:
        ctx = self.ctx
        if ctx.finished:
            return
        if error is not None:
            log.warning("guard embedding failed (%s); screening with the heuristics only", type(error).__name__)
        try:
            proceed = self.stage.screen(ctx, self.texts, vector)
        except GatewayError as exc:
            ctx.fail(exc)
            return
        if proceed:
            ctx.resume()


class GuardStage:
    name = "guard"

    def __init__(self, route: str, guard: PromptGuard, metrics: PolicyMetrics | None,
                 embedder: AsyncEmbedder | None = None) -> None:
        self.route = route
        self.guard = guard
        self.block = guard.action == "block"
        self.metrics = metrics
        self.embedder = embedder
        self.limited = guard.config.max_messages is not None or guard.config.max_prompt_tokens is not None
        self._pass = metrics.guard.get(route, "pass") if metrics is not None else None

    def run(self, ctx: RequestContext) -> Verdict:
        guard = self.guard
        payload = ctx.payload
        if self.limited:
            self.check_limits(ctx)
        texts = screened_texts(payload)
        if guard.needs_embedding:
            intent = ctx.intent
            vector = intent.vector if intent is not None and intent.embedder is self.embedder else None
            if vector is None and self.embedder is not None:
                text = last_user_text(payload)
                if text:
                    self.embedder.submit(text, asyncio.get_running_loop(), _EmbedWait(self, ctx, texts))
                    return ctx.suspend()
            return CONTINUE if self.screen(ctx, texts, vector) else ANSWERED
        return CONTINUE if self.screen(ctx, texts, None) else ANSWERED

    def check_limits(self, ctx: RequestContext) -> None:
        """Raise the 400 for a request over the route's message or prompt-token limit."""
        config = self.guard.config
        messages = ctx.payload.get("messages")
        limits = self.guard.check_limits(messages=len(messages) if isinstance(messages, list) else 1,
                                         prompt_tokens=ctx.prompt_tokens if config.max_prompt_tokens else None)
        if not limits.flagged:
            return
        self._count("limit")
        if "limit:max-messages" in limits.reasons:
            raise GatewayError(400, f"too many messages: this route accepts at most {config.max_messages}",
                               param="messages", code="too_many_messages")
        raise GatewayError(400, f"the prompt is too long for this route: about {ctx.prompt_tokens} tokens, "
                                f"at most {config.max_prompt_tokens}", param="messages", code="prompt_too_long")

    def screen(self, ctx: RequestContext, texts: list[str], vector: NDArray[np.float32] | None) -> bool:
        """Score the texts; True to go on (passed or flagged), False when blocked (answered)."""
        verdict = self.guard.check(texts, vector)
        if not verdict.flagged:
            if self._pass is not None:
                self._pass.value += 1
            return True
        self._report(ctx, verdict)
        if self.block:
            ctx.fail(GatewayError(400, "the prompt was blocked by this route's prompt guard (possible prompt "
                                       "injection or jailbreak attempt)", param="messages", code="prompt_blocked"))
            return False
        ctx.extra_headers += FLAGGED_HEADER
        return True

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.guard.inc(self.route, outcome)

    def _report(self, ctx: RequestContext, verdict: GuardVerdict) -> None:
        outcome = "blocked" if self.block else "flagged"
        self._count(outcome)
        principal = ctx.principal
        log.warning("prompt %s by the guard", outcome, extra={"fields": {
            "request_id": ctx.request.request_id.decode(errors="replace"), "route": self.route,
            "tenant": ctx.tenant, "key_id": getattr(principal, "key_id", None) or None,
            "score": verdict.score, "reasons": list(verdict.reasons),
        }})


def guard_stage(gateway: Gateway, config: GatewayConfig, policy: NamedRoutePolicy | None) -> GuardStage | None:
    if policy is None or policy.prompt_guard is None:
        return None
    # Embedding mode embeds the exemplars here (off the loop). Verdicts of recent texts are kept: a chat
    # re-sends its earlier turns with every request.
    embedder = None
    settings = policy.prompt_guard
    if settings.enabled and settings.action != "off" and settings.mode == "embedding":
        from ..semantic import embedder_for

        embedder = embedder_for(config.embedding, config.pools)
    guard = PromptGuard(settings, verdict_cache=VERDICT_CACHE_ENTRIES, embedder=embedder)
    if not guard.active:
        return None
    return GuardStage(policy.name, guard, gateway.policies.metrics, embedder if guard.needs_embedding else None)
