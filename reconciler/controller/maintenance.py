"""Keeping the work dir's mirror packed while the controller runs.

Every recorded batch, write-back and local fetch leaves loose objects in the mirror; left
alone they grow without bound and reads slow down. The controller counts its commits and calls
`tick` after each commit and once per iteration; after `check_every` commits, or `interval`
seconds, one job in the worker pool counts the loose objects and packs them (`Mirror.maintain`)
when there are `loose_limit` or more. The controller thread only counts: the check and the
packing never run on the hot path, and never two at once.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

log = logging.getLogger("reconciler.controller")


class Packable(Protocol):
    def loose_objects(self) -> int: ...

    def maintain(self) -> bool: ...


class MirrorMaintenance:
    def __init__(self, mirror: Packable, *, check_every: int = 50, interval: float = 3600.0,
                 loose_limit: int = 1000, clock: Callable[[], float] = time.monotonic):
        self.mirror = mirror
        self.check_every = check_every
        self.interval = interval
        self.loose_limit = loose_limit
        self.clock = clock
        self.packed = 0                   # how many times it packed (for tests and logs)
        self._writes = 0
        self._last = clock()
        self._running = threading.Event()
        self._idle = threading.Event()
        self._idle.set()

    def wrote(self) -> None:
        """The controller recorded a batch (controller thread)."""
        self._writes += 1

    def tick(self, pool: Executor, *, now_due: bool = False) -> None:
        """Start a check in `pool` when one is due (or `now_due`: at start, where a fresh
        clone of a local repository brings thousands of loose objects) and none is running
        (controller thread)."""
        if self._running.is_set():
            return
        now = self.clock()
        if not now_due and self._writes < self.check_every and now - self._last < self.interval:
            return
        self._writes = 0
        self._last = now
        self._running.set()
        self._idle.clear()
        try:
            pool.submit(self._check)
        except RuntimeError:              # the pool is shutting down: nothing to do any more
            self._done()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no check is running (tests; a clean stop)."""
        return self._idle.wait(timeout)

    def _done(self) -> None:
        self._running.clear()
        self._idle.set()

    def _check(self) -> None:
        try:
            loose = self.mirror.loose_objects()
            if loose >= self.loose_limit:
                started = time.perf_counter()
                if self.mirror.maintain():
                    self.packed += 1
                    log.info("packed %d loose objects of the mirror in %.2fs", loose,
                             time.perf_counter() - started)
                else:
                    log.warning("packing the mirror's %d loose objects failed", loose)
        except Exception:  # noqa: BLE001 - maintenance must never take the controller down
            log.exception("mirror maintenance failed")
        finally:
            self._done()
