"""The intent stage (entry chain) and the route-decision header (route chain).

Intent: when some RoutePolicy rule matches on ``intent``, the last user message (or the
completion prompt) is embedded by the process's shared embedder
(:func:`tokenway_gateway.semantic.get_embedder`: one worker thread, batched under load)
while the request is suspended; the callback matches the embedding against every intent the
snapshot's RoutePolicies define (:class:`tokenway_gateway.intents.IntentMatcher`), sets
``ctx.intent`` and resumes the request, which then routes with ``match.intent`` known.
Requests for models no intent rule names skip the embedding. A prompt that carries a payload
("summarize this: <paragraphs>", pasted text then "TL;DR?", a stack trace and a question;
:func:`tokenway_gateway.intents.split_payload`) has its instruction embedded too, submitted with
the prompt so that the worker embeds both in one batch; the match uses their mix
(``IntentMatcher.prompt_vector``), while ``IntentDecision.vector`` stays the prompt's own embedding
(the cache and the guard reuse it). A prompt without a payload costs one embedding, as before.
When the embedder fails, or has :data:`MAX_BACKLOG` texts queued already, the request routes
without an intent (counted in ``tokenway_intent_errors``) rather than waiting.

Intents are defined per RoutePolicy and matched per snapshot: the same name in two
policies pools their examples (the first policy's threshold wins). A rule naming an intent
no policy defines rejects the snapshot.

Decision header: on snapshots with prompt-based rules (intent, keywords, promptRegex,
min/maxPromptTokens), every routed response carries ``x-tokenway-route: rule=R`` (``default``
when no rule matched), plus ``; intent=I; score=S`` when the prompt was embedded (``none``
when no intent was close enough). ``tokenway_route_decisions{rule, intent}`` counts them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..api.route import Intent
from ..api.snapshot import GatewayConfig, NamedRoutePolicy
from ..intents import IntentMatcher, split_payload
from .chain import CONTINUE, Verdict
from .prompt import last_user_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..intents.types import BlockingEmbedder
    from ..observability.policy_metrics import PolicyMetrics
    from ..proxy.gateway import Gateway
    from ..semantic import AsyncEmbedder
    from .context import RequestContext

log = logging.getLogger("tokenway.intent")

MAX_BACKLOG = 256  # prompts waiting for the embedder beyond which requests route without an intent
MAX_EMBED_CHARS = 2048  # the model reads 256 tokens (about 1,000 characters); tokenizing more is waste
SPLIT_HEAD_CHARS = 4096  # a long prompt is split on its head and tail only: the instruction sits at either end
SPLIT_TAIL_CHARS = 1024
NO_INTENT = "none"


@dataclass(slots=True, frozen=True)
class IntentDecision:
    """What the intent stage found: ``name`` is None when no intent was close enough."""

    name: str | None
    score: float
    vector: NDArray[np.float32] | None = None  # the prompt's own embedding (not the payload mix)
    embedder: object | None = None  # what made ``vector``: only vectors of the same model are comparable


class _Backlog:
    """Prompts submitted to the shared embedder and not answered yet (one embedder per process)."""

    waiting = 0


class _IntentWait:
    """Waits for the prompt's embedding, and its instruction's when it carries a payload (``pending`` 2)."""

    __slots__ = ("ctx", "error", "instruction", "pending", "stage", "started", "whole")

    def __init__(self, stage: IntentStage, ctx: RequestContext, started: float, pending: int) -> None:
        self.stage = stage
        self.ctx = ctx
        self.started = started
        self.pending = pending
        self.whole: NDArray[np.float32] | None = None
        self.instruction: NDArray[np.float32] | None = None
        self.error: BaseException | None = None

    def __call__(self, vector: NDArray[np.float32] | None, error: BaseException | None) -> None:
        self.whole = vector
        self._arrived(error)

    def instruction_done(self, vector: NDArray[np.float32] | None, error: BaseException | None) -> None:
        self.instruction = vector
        self._arrived(error)

    def _arrived(self, error: BaseException | None) -> None:
        _Backlog.waiting -= 1
        if error is not None and self.error is None:
            self.error = error
        self.pending -= 1
        if self.pending:
            return
        ctx = self.ctx
        if ctx.finished:
            return
        stage = self.stage
        if self.whole is None:
            stage.failed(self.error)
        else:  # without the instruction's embedding (it failed alone) the prompt's own decides
            stage.decide(ctx, self.whole, self.instruction)
            if stage.metrics is not None:
                stage.metrics.intent_seconds.observe(time.perf_counter() - self.started)
        ctx.resume()


def split_sample(text: str) -> str:
    """What the payload splitter reads: the prompt, or the head and tail of a very long one."""
    if len(text) <= SPLIT_HEAD_CHARS + SPLIT_TAIL_CHARS:
        return text
    return f"{text[:SPLIT_HEAD_CHARS]}\n\n{text[-SPLIT_TAIL_CHARS:]}"


class IntentStage:
    name = "intent"

    def __init__(self, matcher: IntentMatcher | None, models: frozenset[str] | None, embedder: AsyncEmbedder,
                 metrics: PolicyMetrics | None) -> None:
        self.matcher = matcher
        self.models = models  # None: intent rules apply to every model
        self.embedder = embedder
        self.metrics = metrics
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = 0.0

    def run(self, ctx: RequestContext) -> Verdict:
        if self.models is not None and ctx.requested_model not in self.models:
            return CONTINUE
        if self.matcher is None:  # the embeddings pool could not embed the examples: route without intents
            if self.metrics is not None:
                self.metrics.intent_errors.inc("unavailable")
            return CONTINUE
        text = last_user_text(ctx.payload)
        if not text:
            return CONTINUE
        if _Backlog.waiting >= MAX_BACKLOG:
            if self.metrics is not None:
                self.metrics.intent_errors.inc("overloaded")
            return CONTINUE
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        parts = split_payload(split_sample(text))
        pending = 1 if parts is None else 2
        wait = _IntentWait(self, ctx, time.perf_counter(), pending)
        _Backlog.waiting += pending
        # Both submitted before the loop yields: the worker finds them queued together (one batch).
        self.embedder.submit(text[:MAX_EMBED_CHARS], loop, wait)
        if parts is not None:
            self.embedder.submit(parts.instruction[:MAX_EMBED_CHARS], loop, wait.instruction_done)
        return ctx.suspend()

    def decide(self, ctx: RequestContext, vector: NDArray[np.float32],
               instruction: NDArray[np.float32] | None = None) -> None:
        """Match the prompt (mixed with its instruction's embedding when it carries a payload)."""
        matcher = self.matcher
        assert matcher is not None  # run() submits nothing without one
        query = vector if instruction is None else matcher.prompt_vector(np.stack((vector, instruction)))
        found = matcher.match(query)
        if found is not None:
            ctx.intent = IntentDecision(found.name, found.score, vector, self.embedder)
        else:
            scores = matcher.scores(query)
            ctx.intent = IntentDecision(None, float(scores.max()) if scores.size else 0.0, vector,
                                        self.embedder)
        if self.metrics is not None:
            self.metrics.intents.inc(found.name if found is not None else NO_INTENT)

    def failed(self, error: BaseException | None) -> None:
        if self.metrics is not None:
            self.metrics.intent_errors.inc("error")
        now = time.monotonic()
        if now - self._warned > 60.0:  # once a minute at most, however many requests fail
            self._warned = now
            log.warning("prompt embedding failed (%s); routing without intents", type(error).__name__)


# ---- building -----------------------------------------------------------------------------------


def _intent_rules(config: GatewayConfig) -> list[tuple[NamedRoutePolicy, str, str, list[str]]]:
    return [(policy, rule.name, rule.match.intent, rule.match.models)
            for policy in config.routes for rule in policy.rules if rule.match.intent is not None]


def merged_intents(routes: list[NamedRoutePolicy]) -> list[Intent]:
    """Every policy's intents; one name in several policies pools its examples (first threshold wins)."""
    merged: dict[str, Intent] = {}
    for policy in sorted(routes, key=lambda p: -p.priority):
        for intent in policy.intents:
            seen = merged.get(intent.name)
            if seen is None:
                merged[intent.name] = intent
            else:
                examples = list(dict.fromkeys([*seen.examples, *intent.examples]))
                threshold = seen.threshold if seen.threshold is not None else intent.threshold
                merged[intent.name] = Intent(name=intent.name, examples=examples, threshold=threshold)
    return list(merged.values())


class _MatcherCache:
    """The last matcher built, by its intents: a snapshot that only moved endpoints embeds nothing."""

    lock = threading.Lock()
    key: tuple[int, tuple[tuple[str, tuple[str, ...], float | None], ...]] | None = None
    matcher: IntentMatcher | None = None


def build_matcher(intents: list[Intent], embedder: BlockingEmbedder | None = None) -> IntentMatcher:
    key = (id(embedder), tuple((i.name, tuple(i.examples), i.threshold) for i in intents))
    with _MatcherCache.lock:
        if _MatcherCache.key == key and _MatcherCache.matcher is not None:
            return _MatcherCache.matcher
        matcher = IntentMatcher.build(intents, embedder=embedder)  # embeds the examples (blocking: off the loop)
        _MatcherCache.key, _MatcherCache.matcher = key, matcher
        return matcher


def intent_stage(gateway: Gateway, config: GatewayConfig) -> IntentStage | None:
    rules = _intent_rules(config)
    if not rules:
        return None
    intents = merged_intents(config.routes)
    defined = {intent.name for intent in intents}
    for policy, rule, intent, _ in rules:
        if intent not in defined:
            raise ValueError(f"route {policy.name}/{rule} matches intent {intent!r}, which no RoutePolicy defines "
                             f"(defined: {sorted(defined) or 'none'})")
    models: frozenset[str] | None = None
    if all(rule_models for _, _, _, rule_models in rules):
        models = frozenset(model for _, _, _, rule_models in rules for model in rule_models)
    from ..semantic import EmbeddingsPoolError, embedder_for

    embedder = embedder_for(config.embedding, config.pools)
    matcher: IntentMatcher | None = None
    try:
        matcher = build_matcher(intents, embedder)
    except EmbeddingsPoolError as exc:  # the pool is down: serve without intents, never reject the snapshot
        log.error("intent examples could not be embedded (%s): routing without intents until the next config",
                  exc)
    return IntentStage(matcher, models, embedder, gateway.policies.metrics)


class RouteNoteStage:
    """Adds ``x-tokenway-route`` (rule, and intent with its score) and counts the decision."""

    name = "route-note"

    def __init__(self, metrics: PolicyMetrics | None) -> None:
        self.metrics = metrics

    def run(self, ctx: RequestContext) -> Verdict:
        target = ctx.target
        rule = target.route if target is not None else "default"
        intent = ctx.intent
        if intent is None:
            ctx.extra_headers += b"x-tokenway-route: rule=%s\r\n" % rule.encode()
            label = "-"
        else:
            label = intent.name or NO_INTENT
            ctx.extra_headers += b"x-tokenway-route: rule=%s; intent=%s; score=%.3f\r\n" % (
                rule.encode(), label.encode(), intent.score)
        if self.metrics is not None:
            self.metrics.decisions.inc(rule, label)
        return CONTINUE


def prompt_based(config: GatewayConfig) -> bool:
    """Whether any rule matches on the prompt (intent, keywords, regex, token bounds)."""
    for policy in config.routes:
        for rule in policy.rules:
            match = rule.match
            if (match.intent is not None or match.keywords or match.prompt_regex is not None
                    or match.min_prompt_tokens is not None or match.max_prompt_tokens is not None):
                return True
    return False


def route_note_stage(gateway: Gateway, config: GatewayConfig, policy: NamedRoutePolicy | None) -> RouteNoteStage | None:
    return RouteNoteStage(gateway.policies.metrics) if prompt_based(config) else None
