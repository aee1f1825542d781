"""The engine of one simulated vLLM replica: latency model, continuous batching, KV blocks.

Latency model (all milliseconds multiplied by ``time_scale``; 0 never sleeps):

* TTFT = queue wait + prefill_overhead_ms + uncached_prompt_tokens * prefill_ms_per_token
  (+ stall_first_token_ms, a fault, in wall-clock ms). Tokens found in the prefix
  cache skip prefill.
* ITL(r) = itl_ms * (1 + itl_growth_per_seq * (r - 1)), r = sequences running when the
  token is scheduled: a bigger batch makes every decode step slower, as on a GPU.

Continuous batching: at most ``max_num_seqs`` sequences run; the others wait in a FIFO
queue. A sequence is admitted when a slot is free and the KV cache can hold its prompt
plus its whole output (vLLM preempts instead; reserving up front keeps the model simple
and never over-commits). ``kv_cache_usage_perc`` counts the blocks the running sequences
hold now (prompt + tokens generated so far), like vLLM.

With time_scale 0 a sequence emits all its tokens in one step (no ITL samples then).

There is no scheduler task and no task per request: every running sequence has one
event-loop timer for its next token, so the loop's timer heap is the scheduler.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from enum import Enum

from .config import SimulatorConfig
from .metrics import SimulatorMetrics
from .prefix_cache import PrefixCache, block_hashes


class State(Enum):
    WAITING = 1
    RUNNING = 2
    FINISHED = 3


class Sink:
    """Wakes the HTTP handler that owns one or more sequences when any of them progresses.

    A notification that arrives while the handler is busy (writing) is remembered, so
    the next `wait` returns at once and no progress is ever missed.
    """

    __slots__ = ("_loop", "_pending", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self._pending = False

    def notify(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        else:
            self._pending = True

    async def wait(self) -> None:
        if self._pending:
            self._pending = False
            return
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


class Sequence:
    """One choice being generated: the engine advances `emitted`, the handler reads it."""

    __slots__ = (
        "arrival",
        "blocks_held",
        "blocks_reserved",
        "cached_tokens",
        "emitted",
        "finish_reason",
        "first_token_at",
        "hashes",
        "last_token_at",
        "max_tokens",
        "num_prompt",
        "prompt",
        "sink",
        "stall_s",
        "state",
        "timer",
    )

    def __init__(self, prompt: list[str], max_tokens: int, finish_reason: str, sink: Sink,
                 stall_s: float = 0.0) -> None:
        self.prompt: list[str] | None = prompt  # dropped once hashed: only the count is needed after
        self.num_prompt = len(prompt)
        self.max_tokens = max_tokens
        self.finish_reason = finish_reason  # the reason reported once max_tokens tokens are out
        self.sink = sink
        self.stall_s = stall_s
        self.state = State.WAITING
        self.emitted = 0
        self.cached_tokens = 0
        self.hashes: list[int] = []
        self.blocks_held = 0
        self.blocks_reserved = 0
        self.arrival = 0.0
        self.first_token_at = 0.0
        self.last_token_at = 0.0
        self.timer: asyncio.TimerHandle | asyncio.Handle | None = None

    @property
    def finished(self) -> bool:
        return self.state is State.FINISHED


class Engine:
    """Admits, schedules and finishes sequences; owns the prefix cache and KV accounting."""

    def __init__(self, config: SimulatorConfig, metrics: SimulatorMetrics,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.loop = loop or asyncio.get_running_loop()
        self.cache = PrefixCache(config.block_size, config.kv_cache_blocks)
        self.waiting: deque[Sequence] = deque()
        self.num_running = 0
        self.used_blocks = 0
        self.reserved_blocks = 0
        scale = config.time_scale / 1000.0
        self._prefill_base_s = config.prefill_overhead_ms * scale
        self._prefill_token_s = config.prefill_ms_per_token * scale
        self._itl_s = config.itl_ms * scale
        self._growth = config.itl_growth_per_seq
        self._instant = config.time_scale == 0
        self._lanes = [0.0] * config.prefill_lanes  # when each prefill lane is free (loop time)
        self._lane_starts: list[float] = []  # heap: when prefills waiting for a lane will start
        metrics.bind(lambda: self.num_running, self.num_waiting, self.kv_cache_usage)

    def num_waiting(self) -> int:
        """Sequences waiting for a slot, plus (with prefill lanes) running ones waiting for a lane."""
        starts = self._lane_starts
        now = self.loop.time()
        while starts and starts[0] <= now:
            heapq.heappop(starts)
        return len(self.waiting) + len(starts)

    # -- the latency model -------------------------------------------------------------
    def prefill_seconds(self, uncached_tokens: int) -> float:
        return self._prefill_base_s + uncached_tokens * self._prefill_token_s

    def itl_seconds(self, running: int) -> float:
        return self._itl_s * (1.0 + self._growth * max(0, running - 1))

    def kv_cache_usage(self) -> float:
        return self.used_blocks / self.config.kv_cache_blocks

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.config.block_size)

    # -- lifecycle ---------------------------------------------------------------------
    def submit(self, seq: Sequence) -> None:
        """Queue a sequence; it starts as soon as a slot and KV blocks are free (FIFO)."""
        seq.arrival = self.loop.time()
        seq.blocks_reserved = self.blocks_for(seq.num_prompt + seq.max_tokens)
        self.waiting.append(seq)
        self._admit()

    def cancel(self, seq: Sequence) -> None:
        """Abort a sequence (client gone): free its slot and blocks at once."""
        if seq.state is State.FINISHED:
            return
        if seq.state is State.WAITING:
            self.waiting.remove(seq)
        else:
            if seq.timer is not None:
                seq.timer.cancel()
                seq.timer = None
            self._release(seq)
        self.metrics.request_success["abort"].inc()
        seq.state = State.FINISHED
        seq.finish_reason = "abort"
        self._admit()

    def shutdown(self) -> None:
        for seq in list(self.waiting):
            self.cancel(seq)

    def _admit(self) -> None:
        cfg = self.config
        waiting = self.waiting
        while waiting and self.num_running < cfg.max_num_seqs:
            head = waiting[0]
            # FCFS like vLLM: a head that does not fit blocks the queue (unless nothing runs:
            # then it could never fit, and the front end rejected it already).
            if self.reserved_blocks + head.blocks_reserved > cfg.kv_cache_blocks and self.num_running:
                break
            waiting.popleft()
            self._start(head)

    def _start(self, seq: Sequence) -> None:
        now = self.loop.time()
        metrics = self.metrics
        cfg = self.config
        seq.state = State.RUNNING
        self.num_running += 1
        self.reserved_blocks += seq.blocks_reserved
        seq.blocks_held = self.blocks_for(seq.num_prompt)
        self.used_blocks += seq.blocks_held
        metrics.queue_time.observe(now - seq.arrival)
        metrics.prompt_tokens.inc(seq.num_prompt)
        if cfg.enable_prefix_caching and seq.prompt is not None:
            seq.hashes = block_hashes(seq.prompt, cfg.block_size)
            seq.cached_tokens = self.cache.match(seq.hashes, seq.num_prompt)
            metrics.prefix_queries.inc(seq.num_prompt)
            if seq.cached_tokens:
                metrics.prefix_hits.inc(seq.cached_tokens)
        seq.prompt = None
        delay = self.prefill_seconds(seq.num_prompt - seq.cached_tokens) + seq.stall_s
        lanes = self._lanes
        if lanes:
            lane = min(range(len(lanes)), key=lanes.__getitem__)
            begin = max(now, lanes[lane])
            lanes[lane] = begin + delay
            if begin > now:
                heapq.heappush(self._lane_starts, begin)
                delay += begin - now
        if delay > 0:
            seq.timer = self.loop.call_later(delay, self._tick, seq)
        else:
            seq.timer = self.loop.call_soon(self._tick, seq)

    def _tick(self, seq: Sequence) -> None:
        """Emit the next token of a running sequence (all of them when time_scale is 0)."""
        now = self.loop.time()
        seq.timer = None
        metrics = self.metrics
        if seq.emitted == 0:
            seq.first_token_at = now
            metrics.ttft.observe(now - seq.arrival)
            if seq.hashes:
                # Prefill done: the prompt's blocks are now in the cache for later requests.
                self.cache.insert(seq.hashes)
                seq.hashes = []
        else:
            metrics.itl.observe(now - seq.last_token_at)
        seq.last_token_at = now
        count = seq.max_tokens - seq.emitted if self._instant else 1
        seq.emitted += count
        metrics.generation_tokens.inc(count)
        held = self.blocks_for(seq.num_prompt + seq.emitted)
        self.used_blocks += held - seq.blocks_held
        seq.blocks_held = held
        if seq.emitted >= seq.max_tokens:
            self._finish(seq, now)
        else:
            seq.timer = self.loop.call_later(self.itl_seconds(self.num_running), self._tick, seq)
        seq.sink.notify()

    def _finish(self, seq: Sequence, now: float) -> None:
        seq.state = State.FINISHED
        self._release(seq)
        self.metrics.e2e.observe(now - seq.arrival)
        self.metrics.request_success[seq.finish_reason].inc()
        self._admit()

    def _release(self, seq: Sequence) -> None:
        self.num_running -= 1
        self.reserved_blocks -= seq.blocks_reserved
        self.used_blocks -= seq.blocks_held
        seq.blocks_held = 0
