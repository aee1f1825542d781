"""The picking frame's vocabulary: what a picker sees of a request, and what an attempt reports back.

Filters -> weighted scorers -> picker, as in the Gateway API Inference Extension:
a candidate set (bounded, whatever the pool size) is narrowed by filters, scored
by weighted scorers into one number per endpoint, and the highest score wins.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint


class PickRequest(Protocol):
    """What a picker may read of a request. The gateway's RequestContext satisfies it."""

    model: str  # canonical model name

    @property
    def session_key(self) -> bytes | None:
        """Conversation id, session header or the OpenAI `user` field, when present."""
        ...

    @property
    def payload(self) -> Mapping[str, Any]:
        """The request body, parsed (prefix affinity reads the prompt's lengths before hashing it)."""
        ...

    @property
    def prefix_hashes(self) -> Sequence[int]:
        """Chained block hashes of the prompt (picking.prefix_block_hashes); computed on first use."""
        ...

    def header(self, name: bytes) -> bytes | None:
        """A request header by its lower-case name."""
        ...


class Outcome(enum.IntEnum):
    OK = 0  # any answer that is not a 5xx (a 4xx or a 429 says nothing bad about the endpoint)
    HTTP_5XX = 1
    CONNECT_FAILURE = 2
    RESET = 3  # the connection broke before the response ended
    TIMEOUT = 4  # no (first) byte in time
    CANCELLED = 5  # the client went away: not the endpoint's fault, only the bookkeeping counts


GATEWAY_FAILURES = frozenset((Outcome.CONNECT_FAILURE, Outcome.RESET, Outcome.TIMEOUT))


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one upstream attempt ended; `ttft` is seconds from send to the first token (streams) or byte."""

    kind: Outcome
    status: int = 0
    ttft: float | None = None

    @property
    def failed(self) -> bool:
        return self.kind is not Outcome.OK and self.kind is not Outcome.CANCELLED


# Outcomes without figures are shared, so the hot path allocates nothing for them.
OK = AttemptOutcome(Outcome.OK, 200)
CONNECT_FAILURE = AttemptOutcome(Outcome.CONNECT_FAILURE)
RESET = AttemptOutcome(Outcome.RESET)
TIMEOUT = AttemptOutcome(Outcome.TIMEOUT)
CANCELLED = AttemptOutcome(Outcome.CANCELLED)


class Filter(Protocol):
    """Drops candidates. A soft filter never leaves nothing: when it would, the set is kept as it was."""

    name: str
    soft: bool

    def filter(self, request: PickRequest, candidates: list[Endpoint], now: float) -> list[Endpoint]: ...


class Scorer(Protocol):
    """Adds weight * score (score within 0..1, higher is better) to each candidate's total."""

    name: str
    needs_prefix: bool

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None: ...

    def picked(self, request: PickRequest, endpoint: Endpoint, now: float) -> None:
        """The frame chose `endpoint` for `request` (learned state is updated here)."""
        ...
