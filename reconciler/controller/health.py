"""What the probes and `status` say about a running controller, and logging once per change.

Kubernetes restarts a process whose liveness probe fails and sends no traffic to one whose
readiness probe fails, so each answer must mean something:

* **live** (`/healthz`) unless one pass of the controller loop has been busy longer than
  `stuck_after` (a wait for work is not being stuck), or the loop thread ended;
* **ready** (`/readyz`) unless the origin has been unreachable for longer than `origin_grace`,
  or a *fault* stands — a condition the controller cannot leave on its own (another controller
  writes the record, the disk is full, the record cannot be written);
* **notices** (a corrupt object in the origin, a record restored) are shown by both probes and
  by `status` without failing either: the controller keeps serving its last good state.

A fault or notice is logged when it appears, when its message changes and when it clears —
never again while it stands, so a disk that stays full gives one log line, not one per retry.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("reconciler.health")

DEFAULT_ORIGIN_GRACE = 60.0
DEFAULT_STUCK_AFTER = 900.0


class Health:
    """Thread-safe: the controller thread reports, the HTTP thread asks."""

    def __init__(self, *, origin_grace: float = DEFAULT_ORIGIN_GRACE, stuck_after: float = DEFAULT_STUCK_AFTER,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[dict[str, Any]], None] | None = None):
        self.origin_grace = origin_grace
        self.stuck_after = stuck_after
        self.clock = clock
        self.on_change = on_change
        self._lock = threading.Lock()
        self._busy_since: float | None = None
        self._origin_down_since: float | None = None
        self._origin_error: str | None = None
        self._faults: dict[str, str] = {}
        self._signatures: dict[str, str] = {}
        self._notices: dict[str, str] = {}

    # -- the loop's heartbeat --------------------------------------------------------------

    def busy(self) -> None:
        """The loop starts work (a stuck pass is measured from here)."""
        with self._lock:
            self._busy_since = self.clock()

    def idle(self) -> None:
        """The loop waits for work: not stuck, however long the wait."""
        with self._lock:
            self._busy_since = None

    def stuck_for(self) -> float | None:
        """Seconds the current pass has been busy beyond `stuck_after`, else None."""
        with self._lock:
            since = self._busy_since
        if since is None:
            return None
        busy = self.clock() - since
        return busy if busy > self.stuck_after else None

    # -- the origin ------------------------------------------------------------------------

    def origin_failed(self, error: str) -> None:
        with self._lock:
            first = self._origin_down_since is None
            changed = error != self._origin_error
            if first:
                self._origin_down_since = self.clock()
            self._origin_error = error
        if first or changed:
            log.warning("the origin cannot be fetched: %s (retrying; not ready after %gs of this)",
                        error, self.origin_grace)
            self._changed()

    def origin_ok(self) -> None:
        with self._lock:
            since, self._origin_down_since, self._origin_error = self._origin_down_since, None, None
        if since is not None:
            log.info("the origin is reachable again (after %.0fs)", self.clock() - since)
            self._changed()

    def origin_down_for(self) -> float | None:
        with self._lock:
            since = self._origin_down_since
        return None if since is None else self.clock() - since

    # -- faults and notices ------------------------------------------------------------------

    def fault(self, key: str, message: str, *, signature: str | None = None,
              exc_info: BaseException | None = None) -> None:
        """A condition that makes the controller not ready; logged (with `exc_info`'s traceback)
        once per new `signature` (default: the message), however often it is reported."""
        signature = signature or message
        with self._lock:
            same = self._signatures.get(key) == signature
            self._faults[key] = message
            self._signatures[key] = signature
        if not same:
            log.error("%s", message, exc_info=exc_info)
            self._changed()

    def notice(self, key: str, message: str) -> None:
        """Shown by the probes and `status`, without failing them; logged once per new message."""
        if self._set(self._notices, key, message):
            log.warning("%s", message)
            self._changed()

    def clear(self, key: str) -> None:
        with self._lock:
            old = self._faults.pop(key, None) or self._notices.pop(key, None)
            self._signatures.pop(key, None)
        if old is not None:
            log.info("resolved: %s", old)
            self._changed()

    def has_fault(self, key: str) -> bool:
        with self._lock:
            return key in self._faults

    def _set(self, table: dict[str, str], key: str, message: str) -> bool:
        with self._lock:
            if table.get(key) == message:
                return False
            table[key] = message
            return True

    # -- answers -----------------------------------------------------------------------------

    def not_ready_reasons(self) -> list[str]:
        with self._lock:
            reasons = list(self._faults.values())
            down = self._origin_down_since
            error = self._origin_error
        if down is not None and self.clock() - down >= self.origin_grace:
            reasons.append(f"the origin has been unreachable for {self.clock() - down:.0f}s: {error}")
        return reasons

    def snapshot(self) -> dict[str, Any]:
        """What `status` shows (JSON)."""
        with self._lock:
            faults, notices = dict(self._faults), dict(self._notices)
            error = self._origin_error
        down = self.origin_down_for()
        return {"faults": faults, "notices": notices,
                "origin": {"reachable": down is None, "downForSeconds": None if down is None else round(down),
                           "error": error}}

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change({**self.snapshot(), "updated": time.time()})
            except Exception:  # noqa: BLE001 - reporting health must never break the loop
                log.debug("could not publish the controller's health", exc_info=True)
