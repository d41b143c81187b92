"""Waiting for something a test can observe, instead of sleeping a fixed time.

Every wait is bounded twice: by time (`timeout`) and by the number of polls (enough polls to
cover `timeout` at `interval`, plus one), so a check that returns at once cannot spin forever
and a slow check cannot outlive its deadline by more than one call. A wait that gives up says
what it waited for and the last value it saw, because CI shows only the assertion message.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

class WaitTimeout(AssertionError):
    """`wait_until` gave up; `last` is the check's last value (or the exception it raised)."""

    def __init__(self, message: str, last: object) -> None:
        super().__init__(message)
        self.last = last


def poll(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.02) -> tuple[bool, T | None]:
    """Call `check` until it returns something truthy: (True, value), or (False, last value)."""
    if timeout < 0 or interval <= 0:
        raise ValueError(f"timeout must be >= 0 and interval > 0 (got {timeout}, {interval})")
    deadline = time.monotonic() + timeout
    last: T | None = None
    for _ in range(math.ceil(timeout / interval) + 1):
        last = check()
        if last:
            return True, last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))     # the next check runs at (or after) the deadline
    return False, last


def wait_until(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.02,
               what: str | None = None) -> T:
    """Poll `check` until it returns something truthy and return that; else fail with `what`.

    Raises `WaitTimeout` (an AssertionError) naming `what` (default: the check's name) and the
    last value seen.
    """
    ok, last = poll(check, timeout, interval)
    if ok:
        return last  # type: ignore[return-value]
    label = what or getattr(check, "__name__", "condition")
    raise WaitTimeout(f"timed out after {timeout:g}s waiting for {label} (last value: {last!r})", last)
