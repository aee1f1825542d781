"""RoutePolicy: which pool serves a request, and how the gateway treats it on the way."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from .common import NAME_PATTERN, ApiModel, ObjectStatus, cel

BalancingAlgorithm = Literal[
    "least-request",
    "round-robin",
    "weighted",
    "power-of-two",
    "consistent-hash",
    "llm-aware",
]


RetryOn = Literal["connect-failure", "5xx", "reset", "429"]
DEFAULT_RETRY_ON: tuple[RetryOn, ...] = ("connect-failure", "5xx", "reset")


class RouteMatch(ApiModel):
    """Every set field must match (AND); an empty match matches everything."""

    models: list[str] = Field(default_factory=list, max_length=64, description="Requested model names or aliases.")
    headers: dict[str, str] = Field(default_factory=dict, description="Exact header values (names lower-case).")
    api_key_tiers: list[str] = Field(default_factory=list, max_length=32, description="Tiers of the caller's API key.")
    prompt_regex: str | None = Field(default=None, max_length=4096, description="Regular expression on the prompt.")
    keywords: list[str] = Field(default_factory=list, max_length=256, description="Any of these words in the prompt.")
    min_prompt_tokens: int | None = Field(default=None, ge=0, description="Estimated prompt tokens at least this.")
    max_prompt_tokens: int | None = Field(default=None, ge=0, description="Estimated prompt tokens at most this.")
    intent: str | None = Field(default=None, max_length=256, description="Semantic intent label (embedding match).")

    @field_validator("prompt_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"promptRegex does not compile: {exc}") from exc
        return value


class WeightedBackend(ApiModel):
    """A pool that serves a rule, with its share of the rule's traffic."""

    pool: str = Field(min_length=1, max_length=253, pattern=NAME_PATTERN, description="InferencePool name.")
    weight: int = Field(default=1, ge=0, le=10_000, description="Relative share of the rule's traffic.")
    model: str | None = Field(default=None, max_length=256, description="Rewrite the model name sent upstream.")


class RouteRule(ApiModel):
    """Requests that match go to the backends, then to the fallbacks."""

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN, description="Rule name, unique in the policy.")
    match: RouteMatch = Field(default_factory=RouteMatch, description="What a request must match (all set fields).")
    backends: list[WeightedBackend] = Field(min_length=1, max_length=32, description="Pools that serve the rule.")
    fallbacks: list[str] = Field(default_factory=list, max_length=16, description="Pools tried in order on failure.")


class ScorerWeights(ApiModel):
    """llm-aware picking: weights of the scorers (Gateway API Inference Extension style); 0 turns one off."""

    # Defaults tuned on bench/routing.py's workload (tune seeds 3 and 4, reported on another): prefix
    # affinity outweighs load until the saturation filter steps in; the TTFT scorer is off by default
    # (a TTFT sample mostly says how much of that prompt was cached, not how fast the endpoint is).

    queue: float = Field(default=2.0, ge=0, le=100, description="Weight of the queue-depth scorer.")
    kv_cache: float = Field(default=1.0, ge=0, le=100, description="Weight of the KV-cache-use scorer.")
    prefix_cache: float = Field(default=6.0, ge=0, le=100, description="Weight of the prefix-cache-affinity scorer.")
    in_flight: float = Field(default=1.0, ge=0, le=100, description="Weight of the in-flight-requests scorer.")
    ttft: float = Field(default=0.0, ge=0, le=100, description="Weight of the time-to-first-token scorer.")


class LoadBalancing(ApiModel):
    """How an endpoint is picked inside a pool."""

    algorithm: BalancingAlgorithm = Field(default="least-request", description="Endpoint picking algorithm.")
    hash_header: str | None = Field(
        default=None, max_length=256,
        description="consistent-hash key header; unset: the session key (conversation id, session header, user).",
    )
    bounded_load_factor: float = Field(
        default=1.25, ge=1.0, le=10.0, description="Affinity and consistent-hash: most load of an endpoint vs average."
    )
    scorers: ScorerWeights = Field(default_factory=ScorerWeights)
    sample_size: int = Field(
        default=4, ge=1, le=64,
        description="Endpoints sampled at random per pick beside the affinity candidates (pools over 16 endpoints).",
    )
    queue_threshold: int = Field(
        default=5, ge=0, le=100_000, description="llm-aware: waiting requests that make an endpoint saturated."
    )
    kv_cache_threshold: float = Field(
        default=0.8, ge=0, le=1, description="llm-aware: KV-cache use (0..1) that makes an endpoint saturated."
    )
    min_prefix_match_tokens: int = Field(
        default=256, ge=1, le=1_000_000,
        description="Shortest prompt prefix (about 4 characters a token) that earns prefix affinity.",
    )
    session_affinity: bool = Field(
        default=True, description="llm-aware: keep a session on its endpoint while healthy and not saturated."
    )
    metrics_interval_seconds: float = Field(
        default=0.2, gt=0, le=60, description="llm-aware: how often each endpoint's /metrics is scraped."
    )


class Retries(ApiModel):
    """Retries before the first byte reaches the client."""

    attempts: int = Field(default=2, ge=0, le=10, description="Extra tries before the first byte reaches the client.")
    retry_on: list[RetryOn] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_ON), description="Failures that are retried."
    )
    budget_percent: float = Field(default=20.0, ge=0, le=100, description="Retries as % of active requests.")


class Timeouts(ApiModel):
    """Time limits of upstream requests."""

    request_seconds: float = Field(default=600.0, gt=0, le=86400, description="Whole request, stream included.")
    first_token_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Until the first response byte from upstream."
    )
    connect_seconds: float = Field(default=5.0, gt=0, le=300, description="TCP (and TLS) connect.")
    per_try_seconds: float | None = Field(
        default=None, gt=0, le=86400,
        description="One attempt, until its whole response (or a stream's first token); then it is retried.",
    )


class OutlierDetection(ApiModel):
    """Passive health checking (as Envoy's): failing endpoints leave rotation for a while."""

    consecutive_errors: int = Field(
        default=5, ge=1, le=1000, description="5xx answers or failures in a row that eject an endpoint."
    )
    consecutive_gateway_failures: int = Field(
        default=3, ge=1, le=1000, description="Connect failures, resets or timeouts in a row that eject an endpoint."
    )
    base_ejection_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="First ejection length (grows with repeated ejections)."
    )
    max_ejection_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="Longest ejection, however often an endpoint is ejected."
    )
    max_ejection_percent: int = Field(
        default=50, ge=0, le=100, description="Most endpoints of a pool ejected at once, in percent."
    )


class ActiveHealthCheck(ApiModel):
    """Active health checks, for endpoints outside Kubernetes (engine external) that no probe watches."""

    path: str = Field(default="/health", pattern=r"^/", max_length=1024, description="Path probed with GET.")
    interval_seconds: float = Field(default=5.0, gt=0, le=3600, description="Time between probes of an endpoint.")
    timeout_seconds: float = Field(default=2.0, gt=0, le=300, description="A probe slower than this fails.")
    unhealthy_threshold: int = Field(default=2, ge=1, le=100, description="Failed probes in a row: unhealthy.")
    healthy_threshold: int = Field(default=1, ge=1, le=100, description="Good probes in a row: healthy again.")


class QueueLimits(ApiModel):
    """Requests wait in the gateway, fairly across tenants, while a pool is saturated or has no endpoint."""

    max_queued: int = Field(default=1000, ge=0, le=1_000_000, description="Most waiting requests; more get 429.")
    max_wait_seconds: float = Field(default=30.0, ge=0, le=3600, description="Longest wait before 503.")
    tenant_header: str = Field(
        default="x-tenant-id", max_length=256,
        description="Header naming the tenant of unauthenticated requests (keys name the tenant otherwise).",
    )
    priority_header: str = Field(
        default="x-tokenway-priority", max_length=256,
        description="Header with an integer priority band; higher bands are served first.",
    )
    tier_weights: dict[str, float] = Field(
        default_factory=dict, description="Fair-share weight per API-key tier (default 1): a tier of weight 2 "
                                          "gets twice the tokens of a tier of weight 1 while both wait.",
    )


class RegionPreference(ApiModel):
    """Prefer nearby regions, spilling over as they saturate."""

    preferred: list[str] = Field(default_factory=list, max_length=32, description="Regions in priority order.")
    overprovisioning_factor: float = Field(
        default=1.4, ge=1.0, le=10.0, description="Spillover starts below 1/factor healthy capacity (as Envoy)."
    )


class Hedging(ApiModel):
    """A second attempt when the first is slow to start: whichever answers first is relayed."""

    delay_seconds: float | None = Field(
        default=None, gt=0, le=600, description="Hedge when no first byte arrived within this time."
    )
    ttft_percentile: float | None = Field(
        default=None, gt=0, lt=100,
        description="Hedge after this percentile of the route's recent time to first byte (used when no delay).",
    )
    budget_percent: float = Field(
        default=5.0, ge=0, le=100, description="Hedged requests as % of the route's requests, at most."
    )

    @model_validator(mode="after")
    def _delay_or_percentile(self) -> Hedging:
        if self.delay_seconds is None and self.ttft_percentile is None:
            raise ValueError("hedging needs delaySeconds or ttftPercentile")
        return self


class RateLimit(ApiModel):
    """Sliding-window limits for each tenant of an API-key tier; all of a tenant's keys share them."""

    tier: str = Field(min_length=1, max_length=63, description="API-key tier the limits apply to.")
    requests_per_minute: int | None = Field(default=None, ge=1, le=1_000_000_000, description="Requests per minute.")
    tokens_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000_000_000, description="Tokens (prompt + output) per minute."
    )
    tokens_per_day: int | None = Field(
        default=None, ge=1, le=1_000_000_000_000, description="Tokens (prompt + output) per day."
    )


GuardAction = Literal["block", "flag", "off"]
GuardMode = Literal["heuristic", "classifier", "embedding"]


class PromptGuard(ApiModel):
    """Inline prompt-injection and jailbreak screening, run before the cache and routing."""

    enabled: bool = Field(default=False, description="Screen the prompts of this route.")
    action: GuardAction = Field(
        default="block",
        description="block: answer 400 with error code prompt_blocked; flag: pass the request on with header "
        "x-tokenway-guard: flagged, a metric and a log line; off: do not screen.",
    )
    mode: GuardMode = Field(
        default="classifier",
        description="heuristic: normalised text against injection patterns (well under 1 ms); classifier: a "
        "trained model over the normalised text's words and the patterns' evidence decides (also well under "
        "1 ms); embedding: heuristics, and also compare the prompt's embedding with known attack exemplars "
        "(uses the shared embedder).",
    )
    threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Heuristic score (0-1) at or above which a prompt is flagged."
    )
    classifier_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="classifier mode: model probability (0-1) at or above which a prompt is flagged; unset uses "
        "the threshold shipped with the model (chosen by cross-validation for a false-positive rate under 2%).",
    )
    embedding_threshold: float = Field(
        default=0.54,
        ge=0.0,
        le=1.0,
        description="embedding mode: cosine similarity to the nearest attack exemplar at or above which a prompt "
        "is flagged.",
    )
    max_prompt_tokens: int | None = Field(
        default=None, ge=1, description="Refuse prompts estimated above this many tokens (all messages together)."
    )
    max_messages: int | None = Field(default=None, ge=1, description="Refuse requests with more messages than this.")
    extra_patterns: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="Extra regular expressions (case-insensitive, matched on the normalised prompt); a match flags.",
    )

    @field_validator("extra_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"extraPatterns entry {pattern!r} does not compile: {exc}") from exc
        return value


class Intent(ApiModel):
    """A semantic intent: a prompt matches when its embedding is close enough to one of the example utterances."""

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN, description="Name used by match.intent.")
    examples: list[str] = Field(
        min_length=1,
        max_length=512,
        description="Example prompts of this intent; embedded once when the config is loaded.",
    )
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Cosine similarity a prompt needs to match this intent; unset uses the gateway's default.",
    )


def _check_output_caps(where: str, default: int | None, maximum: int | None) -> None:
    if default is not None and maximum is not None and default > maximum:
        raise ValueError(f"{where}defaultOutputTokens must not exceed maxOutputTokens")


class TierOutputTokens(ApiModel):
    """Output-token caps for one API-key tier (unset fields fall back to the route's)."""

    tier: str = Field(min_length=1, max_length=63, description="API-key tier these caps apply to.")
    default_output_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000, description="max_tokens for this tier's requests that set none."
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Most output tokens this tier's requests may ask for."
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> TierOutputTokens:
        _check_output_caps(f"outputTokensByTier[{self.tier}]: ", self.default_output_tokens, self.max_output_tokens)
        return self


class RoutePolicySpec(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.rules.all(r, self.rules.exists_one(o, o.name == r.name))",
                    "rule names must be unique",
                )
            ]
        }
    )

    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher priority policies match first.")
    rules: list[RouteRule] = Field(min_length=1, max_length=256, description="Rules, first match wins.")
    load_balancing: LoadBalancing | None = Field(
        default=None, description="Endpoint picking for this policy's requests; overrides the pools' own."
    )
    retries: Retries = Field(default_factory=Retries, description="Retries before the first byte.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Upstream time limits.")
    outlier_detection: OutlierDetection | None = Field(
        default=None, description="Eject failing endpoints; overrides the pools' own."
    )
    queue: QueueLimits | None = Field(
        default=None, description="Queue requests while the pools are saturated; overrides the pools' own."
    )
    region_preference: RegionPreference | None = Field(default=None, description="Preferred regions, in order.")
    hedging: Hedging | None = Field(default=None, description="Send a second attempt when the first is slow.")
    rate_limits: list[RateLimit] = Field(default_factory=list, max_length=64, description="Limits per API-key tier.")
    prompt_guard: PromptGuard | None = Field(default=None, description="Prompt-injection screening.")
    intents: list[Intent] = Field(
        default_factory=list,
        max_length=64,
        description="Semantic intents that rules select with match.intent; names must be unique.",
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000,
        description="Most output tokens a request may ask for: larger max_tokens / max_completion_tokens are "
        "lowered to it; a request that sets neither gets defaultOutputTokens, else this.",
    )
    default_output_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000,
        description="max_tokens sent upstream for requests that set neither max_tokens nor max_completion_tokens.",
    )
    output_tokens_by_tier: list[TierOutputTokens] = Field(
        default_factory=list, max_length=64,
        description="Per API-key tier: defaultOutputTokens and maxOutputTokens that replace the route's.",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> RoutePolicySpec:
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        tiers = [limit.tier for limit in self.rate_limits]
        if len(tiers) != len(set(tiers)):
            raise ValueError("rateLimits tiers must be unique")
        return self

    @model_validator(mode="after")
    def _output_caps_consistent(self) -> RoutePolicySpec:
        _check_output_caps("", self.default_output_tokens, self.max_output_tokens)
        tiers = [caps.tier for caps in self.output_tokens_by_tier]
        if len(tiers) != len(set(tiers)):
            raise ValueError("outputTokensByTier tiers must be unique")
        return self

    @model_validator(mode="after")
    def _unique_intent_names(self) -> RoutePolicySpec:
        names = [intent.name for intent in self.intents]
        if len(names) != len(set(names)):
            raise ValueError("intent names must be unique")
        return self


class RoutePolicyStatus(ObjectStatus):
    rules: int = Field(default=0, description="Rules in the policy.")
