#!/usr/bin/env python3
"""A multi-tenant, shared-prefix, multi-turn chat workload, and the client that plays it.

Shape (every figure from --seed, so two runs with one seed send the same prompts):
* `tenants` tenants, each with its own long system context (`system_tokens` tokens),
  popularity skewed (Zipf exponent `tenant_skew`): a few busy tenants, a long tail;
* `users_per_tenant` users each; a conversation belongs to one user of one tenant;
* conversations arrive as a Poisson process (`conversation_rate` per second, open
  loop: a slow fleet does not slow the arrivals) for `duration` seconds;
* each conversation has 2..`max_turns` turns; a turn is sent `think_time` seconds
  (exponential) after the previous answer ended, and carries the whole history:
  the system context, every earlier user message and the answers the server gave;
* user messages are `user_tokens` tokens, answers `max_tokens` tokens.
The simulator's tokenizer counts a run of up to 4 letters as one token, so the
generated words (2..4 letters) are one token each.

The client streams every request (stream_options.include_usage) with aiohttp and
records, per request: TTFT (first content chunk), end-to-end time, output tokens,
status, which target it went to and when it started.

    python bench/workload.py --describe --seed 7     # print the workload's shape
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

WORDS_CACHE: dict[int, list[str]] = {}


@dataclass
class WorkloadSpec:
    seed: int = 1
    tenants: int = 16
    users_per_tenant: int = 4
    tenant_skew: float = 0.8
    system_tokens: tuple[int, int] = (1500, 3000)
    user_tokens: tuple[int, int] = (40, 200)
    max_tokens: tuple[int, int] = (24, 96)
    min_turns: int = 2
    max_turns: int = 6
    think_time: float = 1.0
    conversation_rate: float = 4.0
    duration: float = 60.0
    send_user: bool = False  # the OpenAI `user` field (a session key) on every request


@dataclass
class Conversation:
    index: int
    tenant: int
    user: int
    start: float  # seconds after the run starts
    questions: list[str]
    max_tokens: list[int]
    thinks: list[float]


@dataclass
class Result:
    conversation: int
    turn: int
    tenant: int
    start: float  # seconds after the run starts
    status: int = 0
    ttft: float | None = None
    e2e: float | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # usage.prompt_tokens_details.cached_tokens: the replica's prefix-cache hit
    target: str = ""
    endpoint: str = ""  # x-tokenway-endpoint, when the target is a Tokenway gateway
    error: str = ""


@dataclass
class Workload:
    spec: WorkloadSpec
    systems: list[str]
    conversations: list[Conversation] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        turns = [len(c.questions) for c in self.conversations]
        by_tenant = [0] * self.spec.tenants
        for c in self.conversations:
            by_tenant[c.tenant] += len(c.questions)
        return {
            "spec": asdict(self.spec),
            "conversations": len(self.conversations),
            "requests": sum(turns),
            "request_rate": round(sum(turns) / self.spec.duration, 2),
            "mean_turns": round(sum(turns) / max(1, len(turns)), 2),
            "system_tokens_mean": round(sum(len(s.split()) for s in self.systems) / len(self.systems)),
            "requests_per_tenant": by_tenant,
        }


def _words(rng: random.Random, count: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 4))) for _ in range(count))


def build(spec: WorkloadSpec) -> Workload:
    rng = random.Random(spec.seed)
    systems = [f"tenant {t} context. " + _words(rng, rng.randint(*spec.system_tokens)) for t in range(spec.tenants)]
    weights = [1.0 / (t + 1) ** spec.tenant_skew for t in range(spec.tenants)]
    workload = Workload(spec, systems)
    at = 0.0
    index = 0
    while True:
        at += rng.expovariate(spec.conversation_rate)
        if at >= spec.duration:
            break
        tenant = rng.choices(range(spec.tenants), weights)[0]
        turns = rng.randint(spec.min_turns, spec.max_turns)
        workload.conversations.append(Conversation(
            index=index, tenant=tenant, user=rng.randrange(spec.users_per_tenant), start=at,
            questions=[f"user {index} asks: " + _words(rng, rng.randint(*spec.user_tokens)) for _ in range(turns)],
            max_tokens=[rng.randint(*spec.max_tokens) for _ in range(turns)],
            thinks=[rng.expovariate(1.0 / spec.think_time) if spec.think_time > 0 else 0.0 for _ in range(turns)],
        ))
        index += 1
    return workload


class Player:
    """Plays a workload against one or more base URLs (a request picks one at random: N gateway replicas)."""

    def __init__(self, workload: Workload, targets: Sequence[str], model: str, seed: int = 0,
                 timeout: float = 300.0) -> None:
        self.workload = workload
        self.targets = list(targets)
        self.model = model
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.results: list[Result] = []
        self.t0 = 0.0

    async def run(self) -> list[Result]:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            self.t0 = time.perf_counter()
            await asyncio.gather(*(self._conversation(http, c) for c in self.workload.conversations))
        return self.results

    async def _conversation(self, http: aiohttp.ClientSession, conv: Conversation) -> None:
        await asyncio.sleep(max(0.0, conv.start - (time.perf_counter() - self.t0)))
        messages: list[dict[str, str]] = [{"role": "system", "content": self.workload.systems[conv.tenant]}]
        for turn, question in enumerate(conv.questions):
            messages.append({"role": "user", "content": question})
            result = Result(conv.index, turn, conv.tenant, time.perf_counter() - self.t0)
            answer = await self._request(http, conv, messages, conv.max_tokens[turn], result)
            self.results.append(result)
            if answer is None:
                return  # a failed turn ends the conversation (a user would retry; the figure shows the error)
            messages.append({"role": "assistant", "content": answer})
            await asyncio.sleep(conv.thinks[turn])

    async def _request(self, http: aiohttp.ClientSession, conv: Conversation, messages: list[dict[str, str]],
                       max_tokens: int, result: Result) -> str | None:
        target = self.targets[0] if len(self.targets) == 1 else self.rng.choice(self.targets)
        result.target = target
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "stream": True, "stream_options": {"include_usage": True}}
        if self.workload.spec.send_user:
            body["user"] = f"tenant-{conv.tenant}-user-{conv.user}"
        started = time.perf_counter()
        parts: list[str] = []
        try:
            async with http.post(target + "/v1/chat/completions", json=body) as response:
                result.status = response.status
                result.endpoint = response.headers.get("x-tokenway-endpoint", "")
                if response.status != 200:
                    result.error = (await response.text())[:200]
                    return None
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    while b"\n\n" in buffer:
                        event, buffer = buffer.split(b"\n\n", 1)
                        if not event.startswith(b"data: ") or event == b"data: [DONE]":
                            continue
                        data = json.loads(event[6:])
                        for choice in data.get("choices") or ():
                            text = (choice.get("delta") or {}).get("content")
                            if text:
                                if result.ttft is None:
                                    result.ttft = time.perf_counter() - started
                                parts.append(text)
                        usage = data.get("usage")
                        if usage:
                            result.prompt_tokens = usage.get("prompt_tokens") or 0
                            result.output_tokens = usage.get("completion_tokens") or 0
                            details = usage.get("prompt_tokens_details") or {}
                            result.cached_tokens = details.get("cached_tokens") or 0
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:  # noqa: UP041
            result.status = result.status or 599
            result.error = repr(exc)[:200]
            return None
        result.e2e = time.perf_counter() - started
        return "".join(parts)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--describe", action="store_true", help="print the workload's shape and exit")
    parser.add_argument("--rate", type=float, default=WorkloadSpec.conversation_rate,
                        help="conversations per second")
    parser.add_argument("--duration", type=float, default=WorkloadSpec.duration)
    parser.add_argument("--target", action="append", default=[], help="base URL (repeat for several)")
    parser.add_argument("--model", default="bench-model")
    args = parser.parse_args()
    workload = build(WorkloadSpec(seed=args.seed, conversation_rate=args.rate, duration=args.duration))
    print(json.dumps(workload.describe(), indent=1))
    if args.describe or not args.target:
        return 0
    results = asyncio.run(Player(workload, args.target, args.model, args.seed).run())
    ttfts = [r.ttft for r in results if r.ttft is not None]
    print(f"{len(results)} requests, TTFT p50 {percentile(ttfts, 50):.3f}s p90 {percentile(ttfts, 90):.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
