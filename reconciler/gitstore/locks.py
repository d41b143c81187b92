"""Lock files that a Git writer left behind when it died.

Git and libgit2 move a ref by creating `<ref>.lock`, writing the new id into it and renaming
it onto the ref. A writer killed between the two (kill -9, OOM, power loss) leaves the lock,
and every later update of that ref fails with "failed to lock file" until someone removes
it; neither git nor libgit2 ever does. A live writer holds a ref lock for milliseconds, so a
lock that stays for seconds belongs to a dead one: we wait that long, then remove it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

STALE_AFTER = 5.0          # seconds; git itself waits 100 ms (core.filesRefLockTimeout)
POLL = 0.05


def ref_locks(gitdir: Path, refname: str, deleting: bool = False) -> list[Path]:
    """The lock files that block an update of `refname` (`refs/heads/...`) in `gitdir`
    (a deletion also rewrites packed-refs)."""
    return [gitdir / f"{refname}.lock"] + ([gitdir / "packed-refs.lock"] if deleting else [])


def all_locks(gitdir: Path) -> list[Path]:
    """Every lock file of a bare repository's refs and config."""
    found = [p for p in (gitdir / "refs").rglob("*.lock") if p.is_file()]
    return found + [p for p in (gitdir / n for n in ("packed-refs.lock", "HEAD.lock", "config.lock"))
                    if p.is_file()]


def age(path: Path, now: float | None = None) -> float | None:
    """Seconds since `path` was last written; None if it does not exist."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return max(0.0, (time.time() if now is None else now) - mtime)


def wait_or_break(paths: Iterable[Path], stale_after: float = STALE_AFTER,
                  sleep: Callable[[float], None] = time.sleep) -> list[tuple[Path, float]]:
    """Wait until none of `paths` exists; remove a lock once it is `stale_after` seconds old.

    Returns the locks removed, with their age. Bounded: a lock is either released by its
    writer or broken within `stale_after` seconds (plus one poll)."""
    paths = list(paths)
    broken: list[tuple[Path, float]] = []
    for _ in range(int(stale_after / POLL) + 2):
        held = [(p, a) for p in paths if (a := age(p)) is not None]
        if not held:
            return broken
        for path, seconds in held:
            if seconds >= stale_after:
                try:
                    path.unlink()
                    broken.append((path, seconds))
                except FileNotFoundError:
                    pass
        if all(seconds >= stale_after for _, seconds in held):
            continue
        sleep(POLL)
    return broken
