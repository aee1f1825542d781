"""RoutePolicy: which pool serves a request, and how the gateway treats it on the way."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from .common import ApiModel, ObjectStatus
from .pool import NAME_PATTERN, cel

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
    api_key_tiers: list[str] = Field(default_factory=list, max_length=32)
    prompt_regex: str | None = Field(default=None, max_length=4096)
    keywords: list[str] = Field(default_factory=list, max_length=256)
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    max_prompt_tokens: int | None = Field(default=None, ge=0)
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
    pool: str = Field(min_length=1, max_length=253, pattern=NAME_PATTERN)
    weight: int = Field(default=1, ge=0, le=10_000)
    model: str | None = Field(default=None, max_length=256, description="Rewrite the model name sent upstream.")


class RouteRule(ApiModel):
    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    match: RouteMatch = Field(default_factory=RouteMatch)
    backends: list[WeightedBackend] = Field(min_length=1, max_length=32)
    fallbacks: list[str] = Field(default_factory=list, max_length=16, description="Pools tried in order on failure.")


class ScorerWeights(ApiModel):
    """llm-aware picking: weighted scorers as in the Gateway API Inference Extension."""

    queue: float = Field(default=2.0, ge=0, le=100)
    kv_cache: float = Field(default=2.0, ge=0, le=100)
    prefix_cache: float = Field(default=3.0, ge=0, le=100)
    in_flight: float = Field(default=1.0, ge=0, le=100)
    ttft: float = Field(default=1.0, ge=0, le=100)


class LoadBalancing(ApiModel):
    algorithm: BalancingAlgorithm = "least-request"
    hash_header: str | None = Field(default=None, max_length=256, description="consistent-hash key header.")
    bounded_load_factor: float = Field(default=1.25, ge=1.0, le=10.0)
    scorers: ScorerWeights = Field(default_factory=ScorerWeights)


class Retries(ApiModel):
    attempts: int = Field(default=2, ge=0, le=10, description="Extra tries before the first byte reaches the client.")
    retry_on: list[RetryOn] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))
    budget_percent: float = Field(default=20.0, ge=0, le=100, description="Retries as % of active requests.")


class Timeouts(ApiModel):
    request_seconds: float = Field(default=600.0, gt=0, le=86400)
    first_token_seconds: float | None = Field(default=None, gt=0, le=3600)
    connect_seconds: float = Field(default=5.0, gt=0, le=300)


class OutlierDetection(ApiModel):
    consecutive_errors: int = Field(default=5, ge=1, le=1000)
    base_ejection_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_ejection_percent: int = Field(default=50, ge=0, le=100)


class QueueLimits(ApiModel):
    max_queued: int = Field(default=1000, ge=0, le=1_000_000)
    max_wait_seconds: float = Field(default=30.0, ge=0, le=3600)


class RegionPreference(ApiModel):
    preferred: list[str] = Field(default_factory=list, max_length=32, description="Regions in priority order.")
    overprovisioning_factor: float = Field(default=1.4, ge=1.0, le=10.0)


class RateLimit(ApiModel):
    """Sliding-window limits for each tenant of an API-key tier; all of a tenant's keys share them."""

    tier: str = Field(min_length=1, max_length=63)
    requests_per_minute: int | None = Field(default=None, ge=1, le=1_000_000_000)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=1_000_000_000_000)
    tokens_per_day: int | None = Field(default=None, ge=1, le=1_000_000_000_000)


GuardAction = Literal["block", "flag", "off"]
GuardMode = Literal["heuristic", "embedding"]


class PromptGuard(ApiModel):
    """Inline prompt-injection and jailbreak screening, run before the cache and routing."""

    enabled: bool = Field(default=False, description="Screen the prompts of this route.")
    action: GuardAction = Field(
        default="block",
        description="block: answer 400 with error code prompt_blocked; flag: pass the request on with header "
        "x-tokenway-guard: flagged, a metric and a log line; off: do not screen.",
    )
    mode: GuardMode = Field(
        default="heuristic",
        description="heuristic: normalised text against injection patterns (well under 1 ms); embedding: also "
        "compare the prompt's embedding with known attack exemplars (uses the shared embedder).",
    )
    threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Heuristic score (0-1) at or above which a prompt is flagged."
    )
    embedding_threshold: float = Field(
        default=0.82,
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
    rules: list[RouteRule] = Field(min_length=1, max_length=256)
    load_balancing: LoadBalancing = Field(default_factory=LoadBalancing)
    retries: Retries = Field(default_factory=Retries)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    outlier_detection: OutlierDetection | None = None
    queue: QueueLimits | None = None
    region_preference: RegionPreference | None = None
    rate_limits: list[RateLimit] = Field(default_factory=list, max_length=64)
    prompt_guard: PromptGuard | None = None
    intents: list[Intent] = Field(
        default_factory=list,
        max_length=64,
        description="Semantic intents that rules select with match.intent; names must be unique.",
    )
    max_output_tokens: int | None = Field(default=None, ge=1, le=10_000_000)

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
    def _unique_intent_names(self) -> RoutePolicySpec:
        names = [intent.name for intent in self.intents]
        if len(names) != len(set(names)):
            raise ValueError("intent names must be unique")
        return self


class RoutePolicyStatus(ObjectStatus):
    rules: int = 0
