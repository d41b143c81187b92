"""One `reconciler serve` per work dir.

Two controllers on one work dir would move the same mirror refs, write the same index and
start the same local replicas. An exclusive `flock` on `<workdir>/serve.lock` rules that out,
and because the kernel drops it when its process dies (even by kill -9), whatever lock files
the work dir still holds when we get it were left by a dead predecessor and may be removed.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "serve.lock"


class WorkdirBusy(RuntimeError):
    """Another live process holds the work dir."""


class WorkdirLock:
    def __init__(self, workdir: Path):
        self.path = Path(workdir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> WorkdirLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkdirBusy(f"another reconciler (pid {holder}) is using the work dir {self.path.parent}; "
                              "stop it or pass another --workdir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)       # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
