"""The controller's own hardening: not dumpable, so `/proc/<pid>/environ` and memory are closed.

A process that is not dumpable can be read through `/proc/<pid>/{environ,mem,maps}` or ptrace
only by a process holding CAP_SYS_PTRACE. Jobs and replicas that run as another user (see
`launch.RunAs`), or as the same unprivileged user, therefore cannot read the controller's API
token, forge token or `RECONCILER_SECRET_*` values from it.
"""
from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger("reconciler.sandbox")

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def make_non_dumpable() -> bool:
    """Mark this process non-dumpable; False (with a warning) where the kernel refuses."""
    if _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("could not mark the controller non-dumpable (errno %d): processes of the same "
                    "user may read its environment", ctypes.get_errno())
        return False
    return True


def is_dumpable() -> bool:
    return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def running_as_root() -> bool:
    return os.geteuid() == 0
