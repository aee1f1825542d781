"""Polling until the cluster gets there: the one wait loop the e2e tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# What a probe raises while the objects it reads are still on their way (missing keys, no status yet, a
# server still starting): try again. Anything else is a real failure and propagates.
NOT_YET = (AssertionError, AttributeError, KeyError, IndexError, TypeError, httpx.HTTPError)


def eventually(fn: Callable[[], T | None], timeout: float = 20.0, what: str = "", interval: float = 0.1) -> T:
    """``fn()``'s first result that is neither None nor False; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = fn()
            if result is not None and result is not False:
                return result
            last = result
        except NOT_YET as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
