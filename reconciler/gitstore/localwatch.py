"""Noticing pushes into a local bare repo within milliseconds, without polling.

When the config repo is a `file://` URL or a plain path (the embedded default), we watch
its ref storage with inotify (watchdog): `refs/` recursively, and the repo root without
recursion for `packed-refs` (where deletions and `git pack-refs` show up). Git updates a
ref by writing `<ref>.lock` and renaming it onto the ref, so the rename's destination is
the signal; lock files themselves and read-only events (`opened`, `closed_no_write`, which
every fetch or ls-remote causes) are ignored. `objects/` is never watched.

Bursts (a push updating five branches) are debounced into one callback. Like the poller,
the callback carries nothing: after any event the controller re-reads all tips.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from reconciler.gitstore.mirror import local_path

# watchdog re-adds the watch of a folder created inside a recursive watch (git creates
# refs/heads/approve/<stage>/<service>/ for an approval branch) and warns that the callback
# "already exists"; the watch stays correct, so the warning is only noise.
warnings.filterwarnings("ignore", message=r"Callback with id .* already exists", category=RuntimeWarning,
                        module=r"watchdog\.observers\.inotify")

# Only these reach the handler; inotify is not even asked for opens and read-only closes.
WRITE_EVENTS = [FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent,
                DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
READ_ONLY_TYPES = frozenset({"opened", "closed_no_write", "attrib"})


def is_ref_change(event: FileSystemEvent, root: Path) -> bool:
    """Whether `event` can mean a branch tip moved (pure; exposed for tests)."""
    if event.event_type in READ_ONLY_TYPES:
        return False
    path = Path(str(event.dest_path or event.src_path))
    if path.name.endswith(".lock"):
        return False
    if path.parent == root:               # the non-recursive watch of the repo root
        return path.name == "packed-refs"
    return True


class _Handler(FileSystemEventHandler):
    def __init__(self, watch: LocalWatch) -> None:
        self.watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        accepted = is_ref_change(event, self.watch.root)
        if accepted:
            self.watch.events += 1
            self.watch._pending.set()
        if self.watch.on_event is not None:
            self.watch.on_event(event, accepted)


class LocalWatch:
    """Calls `on_change()` shortly after a ref of the bare repo at `repo_path` changes.

    `debounce`: quiet time that ends a burst; `max_delay`: a continuous stream of events
    still produces a callback at least this often. `on_event(event, accepted)` sees every
    raw event (for debug logging and tests).
    """

    def __init__(self, repo_path: Path | str, on_change: Callable[[], None], *, debounce: float = 0.005,
                 max_delay: float = 0.1, on_error: Callable[[Exception], None] | None = None,
                 on_event: Callable[[FileSystemEvent, bool], None] | None = None) -> None:
        self.root = Path(repo_path).resolve()
        if not (self.root / "refs").is_dir():
            raise ValueError(f"{self.root} is not a bare Git repository (no refs/ folder)")
        self.on_change = on_change
        self.debounce = debounce
        self.max_delay = max_delay
        self.on_error = on_error
        self.on_event = on_event
        self.events = 0
        self.callbacks = 0
        self._pending = threading.Event()
        self._stop = threading.Event()
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._thread: threading.Thread | None = None

    @classmethod
    def for_url(cls, url: str, on_change: Callable[[], None], **kwargs) -> LocalWatch | None:
        """A watch for a `file://` or plain-path remote; None for network remotes."""
        path = local_path(url)
        if path is None or not (path / "refs").is_dir():
            return None
        return cls(path, on_change, **kwargs)

    def start(self) -> LocalWatch:
        if self._observer is not None:
            raise RuntimeError("watch already started")
        self._stop.clear()
        handler = _Handler(self)
        observer = Observer()
        observer.schedule(handler, str(self.root / "refs"), recursive=True, event_filter=WRITE_EVENTS)
        observer.schedule(handler, str(self.root), recursive=False, event_filter=WRITE_EVENTS)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="git-localwatch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._pending.wait(0.25):
                continue
            first = time.monotonic()
            while True:   # debounce: wait for a quiet gap, bounded by max_delay
                self._pending.clear()
                if self._stop.wait(self.debounce):
                    return
                if not self._pending.is_set() or time.monotonic() - first >= self.max_delay:
                    break
            self._pending.clear()
            self.callbacks += 1
            try:
                self.on_change()
            except Exception as exc:  # noqa: BLE001 - the watch must survive a failing callback
                if self.on_error is not None:
                    self.on_error(exc)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> LocalWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
