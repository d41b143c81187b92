"""The controller's inbox: what other threads hand to the controller thread, and draining it.

Everything that changes sequence state arrives here (API events and controls, alerts, executors'
answers, approval decisions); the controller thread is the only reader. A wake-up carries no
data (tips may have changed: the controller fetches once however many arrived), and a stop
request ends the loop after the batch in hand.
"""
from __future__ import annotations

import queue
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.inputs import Input
from reconciler.engine.problems import Problem
from reconciler.tasks.base import Detached, Pending, TaskOutcome, TaskRequest

BATCH_LIMIT = 500        # items per iteration, so a flood still commits and runs effects regularly


@dataclass
class Submit:
    """An input from the API (event or control), answered through `future` once recorded."""

    input: Input
    future: Future[Any] | None = None


@dataclass
class Problems:
    """Alerts from Alertmanager; `future` gets one answer per problem."""

    problems: list[Problem]
    future: Future[Any]


@dataclass
class Started:
    """A built-in executor took a task (its `.started`)."""

    request: TaskRequest
    executor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Done:
    """A built-in executor answered: its `.finished`, or Pending (started, decided later)."""

    request: TaskRequest
    executor: str
    outcome: TaskOutcome | Pending | Detached
    seconds: float = 0.0


@dataclass
class Answer:
    """An input an effect produced (a promotion's result)."""

    input: Input


@dataclass
class Decided:
    """An approval check came back: the outcome, or None while nobody has decided."""

    request: TaskRequest
    outcome: TaskOutcome | None


Item = Submit | Problems | Started | Done | Answer | Decided

_WAKE = object()
_STOP = object()


class Inbox:
    """A thread-safe queue of `Item`s plus wake-up and stop markers."""

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue()

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def wake(self) -> None:
        self._queue.put(_WAKE)

    def stop(self) -> None:
        self._queue.put(_STOP)

    def qsize(self) -> int:
        return self._queue.qsize()

    def drain(self, timeout: float) -> tuple[list[Item], bool]:
        """Wait up to `timeout` for the first item, then take what is there (at most
        `BATCH_LIMIT` items). Returns the items and whether a stop was asked for."""
        items: list[Item] = []
        stop = False
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return items, stop
        pending = [first]
        while True:
            for item in pending:
                if item is _STOP:
                    stop = True
                elif item is not _WAKE:
                    items.append(item)  # type: ignore[arg-type]
            if len(items) >= BATCH_LIMIT:
                break
            try:
                pending = [self._queue.get_nowait()]
            except queue.Empty:
                break
        return items, stop
