"""A batch of pure work (documents to check) on several cores: forked workers, results back
through pipes.

`reconciler validate REPO` on a 1,000-service repository spends ~85 % of its time in libyaml
and the per-document checks, one document at a time, on one core. Forking after the bytes
are read lets each worker inherit its share (nothing is pickled on the way out) and send
back only the results. Fork is only safe in a process with one thread (a lock another
thread holds at fork time stays locked in the child for ever), so with more threads, no
fork support, or few documents this is the plain loop. A worker that fails or dies makes
its share run here instead: the result never depends on the workers.
"""
from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS_PER_WORKER = 500       # below this, fork + pickle cost more than the core saves
PARENT_WEIGHT = 1.3              # measured: a worker's result costs ~25 % more by the time it is loaded here


def worker_count(items: int, cores: int | None = None) -> int:
    """How many processes (this one included) are worth it for `items` documents (pure)."""
    cores = cores if cores is not None else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)
    return max(1, min(cores, items // MIN_ITEMS_PER_WORKER))


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def map_forked(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`[fn(x) for x in items]`, with the work split over `workers` processes (None: as many
    as `worker_count` says) when that is safe."""
    workers = worker_count(len(items)) if workers is None else workers
    if workers <= 1 or len(items) < 2 or not can_fork():
        gc.freeze()          # what exists now is not garbage: collections skip it while we allocate
        try:
            return [fn(x) for x in items]
        finally:
            gc.unfreeze()
    shares = split(len(items), workers)
    children: list[tuple[int, int, list[int]]] = []
    gc.freeze()        # the heap as it is now is never collected: no copy-on-write for gc's sake
    try:
        for share in shares[1:]:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:                                   # the child: compute, send, exit
                _child(fn, items, share, read_end, write_end)
            os.close(write_end)
            children.append((pid, read_end, share))
        results: list[R | None] = [None] * len(items)
        for i in shares[0]:
            results[i] = fn(items[i])
        while children:
            pid, read_end, share = children.pop(0)
            for i, value in zip(share, _collect(fn, items, share, pid, read_end), strict=True):
                results[i] = value
        return results  # type: ignore[return-value]
    finally:
        for pid, read_end, _ in children:                 # only when this process failed
            os.close(read_end)
            os.waitpid(pid, 0)
        gc.unfreeze()


def _child(fn: Callable[[T], R], items: Sequence[T], share: list[int], read_end: int, write_end: int) -> None:
    gc.disable()                                           # short-lived: its garbage goes with it
    os.close(read_end)
    code = 0
    try:
        payload = pickle.dumps([fn(items[i]) for i in share], protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    except BaseException:  # noqa: BLE001 - the parent redoes this share
        code = 1
    os._exit(code)


def _collect(fn: Callable[[T], R], items: Sequence[T], share: list[int], pid: int, read_end: int) -> list[R]:
    """A worker's results; its share computed here if it failed or sent something broken."""
    with os.fdopen(read_end, "rb") as source:
        payload = source.read()
    _, status = os.waitpid(pid, 0)
    try:
        values = pickle.loads(payload) if status == 0 else None
    except Exception:  # noqa: BLE001 - a truncated payload: redo it here
        values = None
    if not isinstance(values, list) or len(values) != len(share):
        values = [fn(items[i]) for i in share]
    return values


def split(count: int, workers: int, parent_weight: float = PARENT_WEIGHT) -> list[list[int]]:
    """Indices 0..count-1 in `workers` shares: the first (this process's) a leading run larger
    by `parent_weight`, since the workers' results still have to be pickled and loaded; the
    rest interleaved among the workers (pure)."""
    total = parent_weight + (workers - 1)
    first = round(count * parent_weight / total)
    rest = list(range(first, count))
    return [list(range(first))] + [rest[i::workers - 1] for i in range(workers - 1)]
