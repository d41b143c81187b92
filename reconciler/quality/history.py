"""Which earlier evaluations a quality gate compares with, and the baseline they give.

Keptn §4/§5: drop invalidated evaluations, keep those whose result matches
`include_result_with_score`, take the newest N (filter first, then limit), and aggregate each
SLI's successful earlier values with avg/p50/p90/p95. An evaluation without values still uses
up a slot; a failed earlier value is ignored rather than counted as 0.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.quality.slo import Comparison
from reconciler.quality.values import SliValue, ValuesError, value_from_json

_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95}
_INCLUDED = {"pass": frozenset({"pass"}), "pass_or_warn": frozenset({"pass", "warning"})}


@dataclass(frozen=True, slots=True)
class PreviousEvaluation:
    """One earlier evaluation as the comparison sees it."""

    result: str                       # the event-level result (`data.result`), what the filter reads
    values: tuple[SliValue, ...] = ()  # its indicator values in stored order (one per objective)
    invalidated: bool = False
    id: str = ""                      # evidence path or event id, reported as a compared evaluation
    score: float | None = None        # informational only


class HistoryError(ValueError):
    """A history entry that cannot be read; the message names the entry."""


def previous_from_json(raw: Any, index: int = 0) -> PreviousEvaluation:
    """`{result, score, sli_values, invalidated?, id?}` (the `--history` entry of DESIGN §6)."""
    if not isinstance(raw, Mapping):
        raise HistoryError(f"entry {index}: expected an object with result and sli_values")
    result = raw.get("result")
    if not isinstance(result, str):
        raise HistoryError(f"entry {index}: `result` must be pass, warning or fail")
    sli_values = raw.get("sli_values")
    if sli_values is None:
        sli_values = {}
    if not isinstance(sli_values, Mapping):
        raise HistoryError(f"entry {index}: `sli_values` must be an object of SLI name → value")
    try:
        values = tuple(value_from_json(str(k), v) for k, v in sli_values.items())
    except ValuesError as exc:
        raise HistoryError(f"entry {index}: {exc}") from None
    invalidated = raw.get("invalidated", False)
    if not isinstance(invalidated, bool):
        raise HistoryError(f"entry {index}: `invalidated` must be true or false")
    score = raw.get("score")
    return PreviousEvaluation(
        result=result,
        values=values,
        invalidated=invalidated,
        id=str(raw.get("id") or ""),
        score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
    )


def select(previous: Iterable[PreviousEvaluation], comparison: Comparison) -> list[PreviousEvaluation]:
    """The evaluations to compare with; `previous` is newest first."""
    wanted = _INCLUDED.get(comparison.include)
    limit = comparison.limit
    chosen: list[PreviousEvaluation] = []
    for evaluation in previous:
        if evaluation.invalidated:
            continue
        if wanted is not None and evaluation.result not in wanted:
            continue
        chosen.append(evaluation)
        if 0 < limit <= len(chosen):
            break
    return chosen


def values_by_sli(selected: Sequence[PreviousEvaluation]) -> dict[str, list[float]]:
    """Successful earlier values per SLI, newest evaluation first, stored order within one."""
    out: dict[str, list[float]] = {}
    for evaluation in selected:
        for value in evaluation.values:
            if value.success and math.isfinite(value.value):
                out.setdefault(value.metric, []).append(value.value)
    return out


def aggregate(values: Sequence[float], function: str) -> float:
    """avg, or Keptn's p50/p90/p95 (position p·(n+1), linear between neighbours); any
    other name gives 0 — a baseline of 0, not "no baseline" (quirk kept, see
    docs/compatibility.md)."""
    if function == "avg":
        return sum(values) / len(values)
    p = _PERCENTILES.get(function)
    if p is None:
        return 0.0
    ordered = sorted(values)
    n = len(ordered)
    pos = p * (n + 1)
    if pos < 1:
        return ordered[0]
    if pos >= n:
        return ordered[-1]
    k = math.floor(pos)
    return ordered[k - 1] + (pos - k) * (ordered[k] - ordered[k - 1])


def baseline(history: Mapping[str, Sequence[float]], sli: str, function: str) -> float | None:
    """The baseline for one SLI, or None when there is nothing to compare with."""
    values = history.get(sli)
    if not values:
        return None
    return aggregate(values, function)
