"""Bounded retries for optimistic-concurrency conflicts and transient API errors.

A 409 Conflict means the object changed between our read and our write. The only correct
reaction is to read it again and redo the change, so the operation passed here must do its
own fresh read each time; retrying a write with the same stale resourceVersion cannot help.
A 409 AlreadyExists is not a conflict and is never retried. 429 and 5xx answers (and no
answer at all) are retried on the same budget because they are usually momentary.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from reconciler.kube.client import AlreadyExists, Conflict, KubeError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({0, 429, 500, 502, 503, 504})


def retryable(exc: KubeError) -> bool:
    if isinstance(exc, AlreadyExists):
        return False
    return isinstance(exc, Conflict) or exc.status in RETRYABLE_STATUS


def with_retries(operation: Callable[[], T], *, attempts: int = 5, backoff: float = 0.05,
                 max_backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `operation` (read + write) up to `attempts` times while it fails retryably."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except KubeError as exc:
            if attempt == attempts or not retryable(exc):
                raise
            sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_backoff)
    raise AssertionError("unreachable")
