"""Limits shared by every gateway replica through one Redis, atomic in Lua, pipelined.

One multiplexed connection per process, driven by callbacks (no task per request): commands
from all requests of a loop iteration go out in one write, replies come back in order and
are parsed by hiredis. Settle adjustments never cost a round trip of their own: they are
queued and written with the next reservation, or by a short timer when no reservation comes.

Outage: every request waits at most `timeout_ms` for Redis. A timeout or a broken connection
marks Redis down (logged once), answers the waiting requests by the `on_down` policy, and
later requests take that policy at once (no waiting) until a reconnect succeeds; reconnects
are tried in the background with a capped backoff. Policies: `allow` (fail open), `deny`
(fail closed: 429), `local` (this process enforces limit / replicas in memory).

A reservation whose reply timed out may have been counted in Redis; it then holds its tokens
until its window expires (at most a minute, or a day for `tokensPerDay`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

import hiredis

from .memory import MemoryLimiter
from .redis_scripts import RESERVE, RESERVE_SHA, SETTLE, SETTLE_SHA
from .types import REQUESTS_PER_MINUTE, TOKENS_PER_DAY, TOKENS_PER_MINUTE, UNAVAILABLE, Decision, Limits, unlimited

log = logging.getLogger("tokenway.limits")

OnDown = Literal["allow", "deny", "local"]
DecisionCallback = Callable[[Decision], None]
_REFUSED_BY = (None, REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, TOKENS_PER_DAY)
MAX_SETTLES_PER_COMMAND = 256
BACKOFF_START = 0.05
BACKOFF_MAX = 2.0


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def command(*args: bytes) -> bytes:
    """One RESP command."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(arg) for arg in args)


def _int(value: int) -> bytes:
    text = b"%d" % value
    return b"$%d\r\n%s\r\n" % (len(text), text)


def safe_url(url: str) -> str:
    """The URL without its credentials, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


class _Pending:
    """A command awaiting its reply (replies come back in the order commands were sent)."""

    __slots__ = ("callback", "deadline", "key", "limits", "origin", "tokens")

    def __init__(self, deadline: float, callback: DecisionCallback | None, key: bytes, limits: Limits | None,
                 tokens: int, origin: Hashable = None) -> None:
        self.deadline = deadline
        self.callback = callback
        self.key = key  # the Redis key
        self.origin = origin  # the caller's key (the local fallback counts under it)
        self.limits = limits
        self.tokens = tokens


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: RedisLimiter) -> None:
        self.owner = owner
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        owner = self.owner
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError:
                owner._connection_failed(self, "protocol error")
                return
            if reply is False:
                return
            owner._on_reply(self, reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._connection_failed(self, f"connection lost ({exc or 'closed by server'})")


class RedisLimiter:
    """The shared backend. `reserve_cb` is the callback API of the pipeline; `areserve` awaits."""

    def __init__(self, url: str, *, timeout_ms: float = 50.0, on_down: OnDown = "local", replicas: int = 1,
                 prefix: str = "tokenway:rl:", settle_flush_ms: float = 5.0,
                 now_ms: Callable[[], int] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("redis URL must start with redis:// or rediss://")
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.tls = parts.scheme == "rediss"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        self.db = int(path) if path else 0
        self.timeout = timeout_ms / 1000.0
        self.on_down: OnDown = on_down
        self.replicas = replicas
        self.prefix = prefix.encode()
        self.settle_flush = settle_flush_ms / 1000.0
        self.now_ms = now_ms  # tests: a shared fake clock; production: Redis server time
        self.local = MemoryLimiter()
        self._scaled: dict[Limits, Limits] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._waiting: deque[_Pending] = deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._settles: list[tuple[bytes, bytes]] = []
        self._settle_timer: asyncio.TimerHandle | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_START
        self._closed = False
        self.stats = {"reserves": 0, "fallbacks": 0, "timeouts": 0, "writes": 0, "settle_batches": 0,
                      "settles": 0, "settles_dropped": 0, "outages": 0, "errors": 0}
        self._reserve_head = b"*9\r\n$7\r\nEVALSHA\r\n$40\r\n" + RESERVE_SHA.encode() + b"\r\n$1\r\n1\r\n"

    # ---- public API -------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self._proto is not None and self._down_since is None

    def reserve_cb(self, key: Hashable, limits: Limits, tokens: int, callback: DecisionCallback) -> Decision | None:
        """Reserve on Redis. Returns a Decision now when none needs Redis (no limits; Redis known
        down: the `on_down` policy); otherwise returns None and calls `callback(decision)` exactly
        once from the event loop, within `timeout_ms`. Call it on the event loop's thread."""
        if limits.empty:
            return unlimited(tokens)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if self._proto is None and self._connecting is None:
            if self._down_since is not None and loop.time() < self._retry_at:
                return self._fallback(key, limits, tokens)
            self._start_connect()
        self.stats["reserves"] += 1
        redis_key = self.prefix + (key.encode() if isinstance(key, str) else key if isinstance(key, bytes)
                                   else repr(key).encode())
        now = b"0" if self.now_ms is None else b"%d" % self.now_ms()
        self._out.append(b"".join((
            self._reserve_head, _bulk(redis_key), _bulk(now), _int(tokens),
            _int(limits.requests_per_minute or 0), _int(limits.tokens_per_minute or 0),
            _int(limits.tokens_per_day or 0),
        )))
        deadline = loop.time() + self.timeout
        self._waiting.append(_Pending(deadline, callback, redis_key, limits, tokens, key))
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(deadline, self._check_deadline)
        if not self._flush_scheduled and self._proto is not None:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return None

    async def areserve(self, key: Hashable, limits: Limits, tokens: int) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def resolve(decision: Decision) -> None:
            if not future.done():
                future.set_result(decision)
            elif decision.allowed:
                decision.release()  # the caller went away before the answer came

        decision = self.reserve_cb(key, limits, tokens, resolve)
        return decision if decision is not None else await future

    def reserve(self, key: Hashable, limits: Limits, tokens: int) -> Decision:
        raise TypeError("the Redis limiter answers asynchronously: use reserve_cb or areserve")

    async def aclose(self) -> None:
        """Send queued settles, wait briefly for their replies, close."""
        self._closed = True
        if self._proto is not None and self._settles:
            self._queue_settles()
            self._flush()
            deadline = time.monotonic() + self.timeout
            while self._waiting and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        if self._connecting is not None:
            self._connecting.cancel()
        self._drop_connection()

    # ---- settle (Decision calls this) --------------------------------------------------
    def _settle(self, decision: Decision, delta_tokens: int, delta_requests: int) -> None:
        if self._proto is None or self._closed:
            self.stats["settles_dropped"] += 1
            return
        key = decision.key
        assert isinstance(key, bytes)
        self._settles.append((_bulk(key), b"".join((_int(decision.bucket_minute), _int(decision.bucket_day),
                                                     _int(delta_tokens), _int(delta_requests)))))
        self.stats["settles"] += 1
        if len(self._settles) >= MAX_SETTLES_PER_COMMAND:
            self._queue_settles()
            self._schedule_flush()
        elif self._settle_timer is None and self._loop is not None and not self._flush_scheduled:
            self._settle_timer = self._loop.call_later(self.settle_flush, self._settle_timeout)

    def _settle_timeout(self) -> None:
        self._settle_timer = None
        if self._settles and self._proto is not None:
            self._queue_settles()
            self._flush()

    def _queue_settles(self) -> None:
        """Put the queued settles, as one EVALSHA, in front of the next write."""
        settles = self._settles
        self._settles = []
        count = len(settles)
        now = b"0" if self.now_ms is None else b"%d" % self.now_ms()
        head = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % (3 + count + 1 + 4 * count, SETTLE_SHA.encode())
        keys = [key for key, _ in settles]
        args = [arg for _, arg in settles]
        self._enqueue_front(0, b"".join((head, _int(count), *keys, _bulk(now), *args)))
        self.stats["settle_batches"] += 1

    def _enqueue_front(self, position: int, cmd: bytes) -> None:
        """Insert a command whose reply nobody awaits at `position` among the not-yet-written ones.

        Invariant: `_waiting` holds one record per command sent, in order, then one per command
        still in `_out`, in order; replies arrive in that order.
        """
        assert self._loop is not None
        index = len(self._waiting) - len(self._out) + position
        self._out.insert(position, cmd)
        self._waiting.insert(index, _Pending(self._loop.time() + self.timeout, None, b"", None, 0))

    # ---- I/O ----------------------------------------------------------------------------
    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._proto is not None and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        proto = self._proto
        if proto is None or proto.transport is None:
            return
        if self._settles:
            self._queue_settles()
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            proto.transport.write(data)
            self.stats["writes"] += 1

    def _on_reply(self, proto: _Protocol, reply: Any) -> None:
        if proto is not self._proto or not self._waiting:
            return
        pending = self._waiting.popleft()
        if isinstance(reply, hiredis.ReplyError):
            self.stats["errors"] += 1
            if str(reply).startswith("NOSCRIPT"):
                self._load_scripts()
            else:
                log.warning("rate-limit Redis error: %s", reply)
            if pending.callback is not None and pending.limits is not None:
                _deliver(pending.callback, self._fallback(pending.origin, pending.limits, pending.tokens))
            return
        if pending.callback is not None and pending.limits is not None:
            _deliver(pending.callback, self._decision(reply, pending))

    def _decision(self, reply: list[int], pending: _Pending) -> Decision:
        limits = pending.limits
        assert limits is not None
        allowed, refused, retry_ms, bucket_minute, bucket_day, rem_r, reset_r, rem_t, reset_t, rem_d, reset_d = reply
        decision = Decision(bool(allowed), pending.tokens)
        if allowed:
            decision._settler = self
            decision.key = pending.key
            decision.bucket_minute = bucket_minute
            decision.bucket_day = bucket_day
        else:
            decision.refused_by = _REFUSED_BY[refused]
            decision.retry_after = None if retry_ms < 0 else retry_ms / 1000.0
        if limits.requests_per_minute is not None:
            decision.limit_requests = limits.requests_per_minute
            decision.remaining_requests = rem_r
            decision.reset_requests = reset_r / 1000.0
        tpm = limits.tokens_per_minute
        tpd = limits.tokens_per_day
        if tpm is not None and (tpd is None or rem_t <= rem_d):
            decision.limit_tokens = tpm
            decision.remaining_tokens = rem_t
            decision.reset_tokens = reset_t / 1000.0
        elif tpd is not None:
            decision.limit_tokens = tpd
            decision.remaining_tokens = rem_d
            decision.reset_tokens = reset_d / 1000.0
        return decision

    def _fallback(self, key: Hashable, limits: Limits, tokens: int) -> Decision:
        self.stats["fallbacks"] += 1
        if self.on_down == "allow":
            return unlimited(tokens)
        if self.on_down == "deny":
            decision = Decision(False, tokens)
            decision.refused_by = UNAVAILABLE
            decision.retry_after = 1.0
            return decision
        scaled = self._scaled.get(limits)
        if scaled is None:
            scaled = self._scaled[limits] = limits.scaled(self.replicas)
        decision = self.local.reserve(key, scaled, tokens)
        decision.local = True
        return decision

    # ---- deadlines and outages ----------------------------------------------------------
    def _check_deadline(self) -> None:
        self._deadline_timer = None
        loop = self._loop
        assert loop is not None
        if not self._waiting:
            return
        head = self._waiting[0]
        if head.deadline <= loop.time():
            self.stats["timeouts"] += 1
            self._mark_down(f"no reply within {self.timeout * 1000:.0f} ms")
            return
        self._deadline_timer = loop.call_at(head.deadline, self._check_deadline)

    def _connection_failed(self, proto: _Protocol, reason: str) -> None:
        if proto is self._proto:
            self._mark_down(reason)

    def _mark_down(self, reason: str) -> None:
        """Redis is unreachable or too slow: answer everyone waiting by policy, reconnect later."""
        loop = self._loop
        assert loop is not None
        if self._down_since is None:
            self._down_since = loop.time()
            self.stats["outages"] += 1
            if not self._closed:
                log.warning("rate-limit Redis %s unavailable: %s; applying onRedisDown=%s until it is back",
                            safe_url(self.url), reason, self.on_down)
        self._retry_at = loop.time() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._drop_connection()
        waiting, self._waiting = self._waiting, deque()
        self._out.clear()
        self.stats["settles_dropped"] += len(self._settles)
        self._settles.clear()
        for pending in waiting:
            if pending.callback is not None and pending.limits is not None:
                _deliver(pending.callback, self._fallback(pending.origin, pending.limits, pending.tokens))

    def _drop_connection(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.abort()
        for timer in (self._deadline_timer, self._settle_timer):
            if timer is not None:
                timer.cancel()
        self._deadline_timer = None
        self._settle_timer = None
        self._flush_scheduled = False

    def _start_connect(self) -> None:
        assert self._loop is not None
        self._connecting = self._loop.create_task(self._connect())

    async def _connect(self) -> None:
        loop = self._loop
        assert loop is not None
        try:
            ssl_context = ssl.create_default_context() if self.tls else None
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port, ssl=ssl_context),
                timeout=max(self.timeout, 1.0),
            )
        except (OSError, TimeoutError) as exc:
            self._connecting = None
            if self._waiting or self._down_since is None:
                self._mark_down(f"cannot connect ({exc.__class__.__name__}: {exc})")
            else:
                self._retry_at = loop.time() + self._backoff
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            return
        except asyncio.CancelledError:
            self._connecting = None
            raise
        self._connecting = None
        assert isinstance(proto, _Protocol)
        self._proto = proto
        init: list[bytes] = []
        if self.password is not None:
            init.append(command(b"AUTH", *((self.username.encode(),) if self.username else ()), self.password.encode()))
        if self.db:
            init.append(command(b"SELECT", str(self.db).encode()))
        for position, cmd in enumerate(init):
            self._enqueue_front(position, cmd)
        self._load_scripts(first=len(init))
        if self._down_since is not None:
            log.warning("rate-limit Redis %s is back after %.1f s", safe_url(self.url), loop.time() - self._down_since)
        self._down_since = None
        self._backoff = BACKOFF_START
        self._flush()

    def _load_scripts(self, first: int = 0) -> None:
        """SCRIPT LOAD both scripts ahead of anything not yet written."""
        for position, script in enumerate((RESERVE, SETTLE)):
            self._enqueue_front(first + position, command(b"SCRIPT", b"LOAD", script.encode()))
        self._schedule_flush()


def _deliver(callback: DecisionCallback, decision: Decision) -> None:
    try:
        callback(decision)
    except Exception:  # a caller's bug must not break the connection's reply loop
        log.exception("rate-limit decision callback failed")
