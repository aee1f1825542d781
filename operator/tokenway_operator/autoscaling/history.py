"""What the autoscaler remembers between decisions, as plain data kept in the pool's status.

Kept in ``status.autoscaler.history`` (not in process memory) so that an operator restart,
or another operator replica taking over, continues the same stabilization windows instead
of forgetting a recent spike and scaling down at once.

Recommendations are kept as two monotonic queues, so the memory stays small whatever the
window and the tick: ``highs`` (decreasing values) answers "the highest recommendation of
the last W seconds" (scale-down stabilization), ``lows`` (increasing values) "the lowest"
(scale-up stabilization).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

Point = tuple[float, int]
Event = tuple[float, int, int]  # (time, from, to)


@dataclass(frozen=True)
class History:
    highs: tuple[Point, ...] = ()
    lows: tuple[Point, ...] = ()
    events: tuple[Event, ...] = ()
    last_scale_time: float | None = None
    panic_until: float | None = None
    idle_since: float | None = None

    def remember(self, now: float, recommendation: int, keep_seconds: float) -> History:
        """Add a recommendation; forget what no window of ``keep_seconds`` can need any more."""
        horizon = now - keep_seconds
        highs = [p for p in self.highs if p[0] >= horizon]
        while highs and highs[-1][1] <= recommendation:
            highs.pop()
        highs.append((now, recommendation))
        lows = [p for p in self.lows if p[0] >= horizon]
        while lows and lows[-1][1] >= recommendation:
            lows.pop()
        lows.append((now, recommendation))
        return replace(self, highs=tuple(highs), lows=tuple(lows))

    def highest_since(self, since: float) -> int | None:
        values = [n for t, n in self.highs if t >= since]
        return max(values) if values else None

    def lowest_since(self, since: float) -> int | None:
        values = [n for t, n in self.lows if t >= since]
        return min(values) if values else None

    def scaled(self, now: float, before: int, after: int, keep_seconds: float) -> History:
        events = (*(e for e in self.events if e[0] >= now - keep_seconds), (now, before, after))
        return replace(self, events=events, last_scale_time=now)

    def added_since(self, since: float) -> int:
        """Replicas added by scale-ups since ``since`` (for the scale-up rate limit)."""
        return sum(max(0, to - frm) for t, frm, to in self.events if t >= since)

    def last_direction(self) -> int:
        if not self.events:
            return 0
        _, frm, to = self.events[-1]
        return (to > frm) - (to < frm)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "highs": [[round(t, 3), n] for t, n in self.highs],
            "lows": [[round(t, 3), n] for t, n in self.lows],
            "events": [[round(t, 3), a, b] for t, a, b in self.events],
        }
        for key, value in (("lastScaleTime", self.last_scale_time), ("panicUntil", self.panic_until),
                           ("idleSince", self.idle_since)):
            if value is not None:
                out[key] = round(value, 3)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> History:
        """Tolerant: a malformed or foreign memory is forgotten, never an error."""
        if not isinstance(raw, Mapping):
            return cls()
        try:
            return cls(
                highs=tuple((float(t), int(n)) for t, n in raw.get("highs") or ()),
                lows=tuple((float(t), int(n)) for t, n in raw.get("lows") or ()),
                events=tuple((float(t), int(a), int(b)) for t, a, b in raw.get("events") or ()),
                last_scale_time=_float(raw.get("lastScaleTime")),
                panic_until=_float(raw.get("panicUntil")),
                idle_since=_float(raw.get("idleSince")),
            )
        except (TypeError, ValueError):
            return cls()


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
