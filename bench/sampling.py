"""Timing helpers shared by the benchmarks."""
from __future__ import annotations

import time
from collections.abc import Callable


def interleaved(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Milliseconds per call for each case, taking turns, so load from elsewhere on the
    machine hits the baseline and the subject alike."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            out[name].append((time.perf_counter() - t) * 1000)
    return out
