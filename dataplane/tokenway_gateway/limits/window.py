"""The window: a sliding window counter in fixed buckets, strict and settle-friendly.

Why not a token bucket / GCRA: a bucket that starts full and refills at L per minute lets a
tenant use up to 2L in one minute (the burst, then the refill), and a refund cannot be put
back where it was taken. Why not a fixed window: 2L across a minute boundary. A sliding log
is exact but costs memory per request.

This window keeps `k = period / width` buckets plus one. An amount charged in bucket `b`
counts until bucket `b + k` ends, i.e. for between `period` and `period + width` seconds.
So two charges less than `period` apart are always counted together: **no span of `period`
seconds ever holds more than the limit** (it is conservative by at most one bucket, 1 s of
60 for the minute windows, 10 min of 24 h for the day). A reservation is charged to the
bucket of its admission and a settle adjusts that same bucket (while it still counts), so a
refund frees capacity exactly, and usage above the reservation is charged at once.

Memory: `k + 1` ints per window per tenant; the work per call is O(1) amortized (buckets
are cleared as time passes them). `reset` is the time until the window is back to its full
limit (OpenAI's meaning); `retry_after(need)` walks from the oldest bucket to find when
enough expires (only on refusal). The Redis Lua script (redis_scripts.py) is this, verbatim.
"""

from __future__ import annotations

UNSET = -(1 << 62)


class Window:
    __slots__ = ("counts", "head", "k", "m", "total", "width")

    def __init__(self, period: float, width: float) -> None:
        self.width = width
        self.k = round(period / width)
        self.m = self.k + 1
        self.counts = [0] * self.m
        self.head = UNSET  # bucket number of the newest bucket seen
        self.total = 0

    def bucket(self, now: float) -> int:
        return int(now // self.width)

    def advance(self, bucket: int) -> None:
        head = self.head
        if bucket <= head:
            return
        counts = self.counts
        m = self.m
        if bucket - head >= m:
            for i in range(m):
                counts[i] = 0
            self.total = 0
        else:
            total = self.total
            for b in range(head + 1, bucket + 1):
                i = b % m
                total -= counts[i]
                counts[i] = 0
            self.total = total
        self.head = bucket

    def charge(self, amount: int) -> None:
        """Add to the newest bucket (call `advance` first)."""
        self.counts[self.head % self.m] += amount
        self.total += amount

    def adjust(self, bucket: int, delta: int, now_bucket: int) -> None:
        """Settle: change what `bucket` holds by `delta` while it still counts; extra usage after it
        expired is charged now, a refund after it expired has nothing left to free. A window that
        never counted anything (its limit was not set) is left alone."""
        if self.head == UNSET:
            return
        self.advance(now_bucket)
        if bucket > self.head - self.m:
            i = bucket % self.m
            value = self.counts[i] + delta
            if value < 0:  # never below zero, whatever a caller sends
                delta -= value
                value = 0
            self.counts[i] = value
            self.total += delta
        elif delta > 0:
            self.charge(delta)

    def reset_after(self, now: float) -> float:
        """Seconds until nothing counts any more (the window back at its full limit)."""
        if self.total <= 0:
            return 0.0
        counts = self.counts
        m = self.m
        for b in range(self.head, self.head - m, -1):
            if counts[b % m]:
                return max(0.0, (b + m) * self.width - now)
        return 0.0

    def retry_after(self, now: float, need: int, limit: int) -> float | None:
        """Seconds until `need` more fits under `limit`, None if it never can."""
        if need > limit:
            return None
        excess = self.total + need - limit
        if excess <= 0:
            return 0.0
        counts = self.counts
        m = self.m
        for b in range(self.head - m + 1, self.head + 1):
            excess -= counts[b % m]
            if excess <= 0:
                return max(0.0, (b + m) * self.width - now)
        return None  # unreachable unless the counts were corrupted
