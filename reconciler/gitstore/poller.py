"""Polling the remote: the trigger source that works with every Git host.

A poll is one `ls-remote` (a few milliseconds, no objects transferred). The poller compares
the remote's branch tips with what we already have and calls back only when they differ;
the callback carries no data ("tips may have changed"), the controller fetches and decides.
Intervals are jittered by ±10 % so many reconcilers polling one host do not synchronise.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping

from reconciler.gitstore.mirror import Mirror

Tips = Mapping[str, str]


class Poller:
    """Calls `on_change()` when `remote_tips()` differs from `known_tips()`.

    Without `known_tips`, the previous poll is the reference (the first poll only sets it).
    With it (the mirror's local tips), a change that arrived before the poller started is
    noticed too, and our own pushes, which update the mirror, cause no callback.
    Errors (remote down, callback failing) go to `on_error` and polling continues, backing
    off to at most `max_backoff` seconds between polls while the remote keeps failing.
    """

    def __init__(self, remote_tips: Callable[[], Tips], on_change: Callable[[], None], interval: float,
                 *, known_tips: Callable[[], Tips] | None = None, jitter: float = 0.1,
                 on_error: Callable[[Exception], None] | None = None, max_backoff: float = 60.0,
                 rng: random.Random | None = None, name: str = "git-poller") -> None:
        if interval <= 0:
            raise ValueError("poll interval must be positive")
        self.remote_tips = remote_tips
        self.known_tips = known_tips
        self.on_change = on_change
        self.interval = interval
        self.jitter = jitter
        self.on_error = on_error
        self.max_backoff = max(max_backoff, interval)
        self.name = name
        self.polls = 0
        self.changes = 0
        self.errors = 0
        self._failures_in_a_row = 0
        self._last: dict[str, str] | None = None
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_mirror(cls, mirror: Mirror, on_change: Callable[[], None], interval: float, **kwargs) -> Poller:
        """Poll `mirror`'s remote and compare with the mirror's own branches."""
        return cls(mirror.ls_remote, on_change, interval, known_tips=mirror.tips, **kwargs)

    def poll_once(self) -> bool:
        """One poll; True when the tips differed and `on_change` was called."""
        self.polls += 1
        remote = dict(self.remote_tips())
        if self.known_tips is not None:
            reference: dict[str, str] | None = dict(self.known_tips())
        else:
            reference = self._last
        self._last = remote
        if reference is None or reference == remote:
            return False
        self.changes += 1
        self.on_change()
        return True

    def next_delay(self) -> float:
        """The wait before the next poll: the interval ±jitter, longer while failing."""
        base = self.interval * (2 ** min(self._failures_in_a_row, 16))
        base = min(base, self.max_backoff) if self._failures_in_a_row else base
        return base * (1 + self.jitter * (2 * self._rng.random() - 1))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
                self._failures_in_a_row = 0
            except Exception as exc:  # noqa: BLE001 - a poller must outlive a bad poll
                self.errors += 1
                self._failures_in_a_row += 1
                if self.on_error is not None:
                    self.on_error(exc)
            self._stop.wait(self.next_delay())

    def start(self) -> Poller:
        if self._thread is not None:
            raise RuntimeError("poller already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread (at most `timeout`, plus one in-flight ls-remote)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Poller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
