"""Which queued runs may start: one running sequence per (stage, service), FIFO (Keptn f.4).

A lane holds only its *active* runs, ordered by their queue place, so deciding what may
start costs the lane's length, not the number of runs in the world.

Rules:
* A run holds its lane while `started` — also during a `triggeredAfter` delay and while it
  waits for the controller (commit, promotion) — and while `paused` after having started
  (our choice: pausing does not hand the service to someone else mid-sequence).
* `waitingForApproval` does not hold the lane; neither do queued or paused-while-queued runs.
* Runs of one context never block each other (a rollback after its own delivery, the
  remediation self-loop, a second sequence of the same change).
* Otherwise strict FIFO: a queued run starts only when no other context holds the lane and
  no other context's run is queued ahead of it. Paused queued runs keep their place but do
  not block the runs behind them.

Queue place is the tuple `(sequence number, generation, creation number)`. A follow-up
into the *same* lane inherits its parent's sequence number with the next generation, so a
rollback or the next remediation round runs before work of other contexts that queued
meanwhile; every other run gets a fresh sequence number (FIFO by trigger order).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from reconciler.engine.state import PAUSED, STARTED, TRIGGERED, WAITING

QUEUED_STATES = frozenset({TRIGGERED, WAITING})


class LaneRun(Protocol):
    context: str
    state: str
    paused_from: str | None
    queue: tuple[int, int, int]


# The rules need only LaneRun's fields; generic so that callers get back the runs they put in
# (the sequencer's SequenceRun), not the protocol.
R = TypeVar("R", bound=LaneRun)


def holds_lane(run: LaneRun) -> bool:
    return run.state == STARTED or (run.state == PAUSED and run.paused_from == STARTED)


def startable(runs_in_order: Iterable[R]) -> list[R]:
    """The queued runs (state triggered or waiting) that may take the lane now, in order."""
    runs = list(runs_in_order)
    holders = {r.context for r in runs if holds_lane(r)}
    queued_ahead: set[str] = set()      # contexts with a run still queued ahead
    ready: list[R] = []
    for run in runs:
        if run.state not in QUEUED_STATES:
            continue
        blocked = any(c != run.context for c in holders) or any(c != run.context for c in queued_ahead)
        if blocked:
            queued_ahead.add(run.context)
        else:
            ready.append(run)
            holders.add(run.context)
    return ready


def position(runs_in_order: Iterable[R], run: R) -> int | None:
    """1-based place of a queued run among the queued runs of its lane (None if not queued)."""
    if run.state not in QUEUED_STATES:
        return None
    n = 0
    for r in runs_in_order:
        if r.state in QUEUED_STATES:
            n += 1
            if r is run:
                return n
    return None


class Lane(Generic[R]):
    """The active runs of one (stage, service), kept sorted by queue place."""

    __slots__ = ("key", "_keys", "_runs")

    def __init__(self, key: tuple[str, str]):
        self.key = key
        self._keys: list[tuple[int, int, int]] = []
        self._runs: list[R] = []

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[R]:
        return iter(self._runs)

    def add(self, run: R) -> None:
        i = bisect.bisect_right(self._keys, run.queue)
        self._keys.insert(i, run.queue)
        self._runs.insert(i, run)

    def remove(self, run: R) -> bool:
        for i, r in enumerate(self._runs):
            if r is run:
                del self._keys[i]
                del self._runs[i]
                return True
        return False

    def startable(self) -> list[R]:
        return startable(self._runs)

    def holders(self) -> list[R]:
        return [r for r in self._runs if holds_lane(r)]

    def position(self, run: R) -> int | None:
        return position(self._runs, run)
