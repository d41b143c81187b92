"""Selecting earlier evaluations and aggregating their values (Keptn §4/§5)."""
from __future__ import annotations

import pytest

from reconciler.quality.history import (
    HistoryError,
    PreviousEvaluation,
    aggregate,
    baseline,
    previous_from_json,
    select,
    values_by_sli,
)
from reconciler.quality.slo import Comparison
from reconciler.quality.values import SliValue


def prev(result: str, rt: float | None = None, *, invalidated: bool = False, id: str = "") -> PreviousEvaluation:
    values = (SliValue.ok("rt", rt),) if rt is not None else ()
    return PreviousEvaluation(result, values, invalidated, id)


HISTORY = [prev("fail", 1000, id="e1"), prev("pass", 100, id="e2"), prev("warning", 200, id="e3"),
           prev("pass", 300, invalidated=True, id="e4"), prev("pass", 500, id="e5"), prev("pass", id="e6")]


@pytest.mark.parametrize("comparison, ids", [
    (Comparison("single_result", "all"), ["e1"]),
    (Comparison("single_result", "pass"), ["e2"]),
    (Comparison("several_results", "pass", 2), ["e2", "e5"]),            # filter first, then limit
    (Comparison("several_results", "pass_or_warn", 3), ["e2", "e3", "e5"]),
    (Comparison("several_results", "all", 10), ["e1", "e2", "e3", "e5", "e6"]),   # invalidated dropped
    (Comparison("several_results", "all", -1), ["e1", "e2", "e3", "e5", "e6"]),   # ≤ 0: no limit
    (Comparison("", "all"), ["e1", "e2", "e3"]),                         # anything else: 3
])
def test_select(comparison, ids):
    assert [p.id for p in select(HISTORY, comparison)] == ids


def test_evaluations_without_values_use_up_a_slot():
    chosen = select([prev("pass"), prev("pass", 100)], Comparison("single_result", "pass"))
    assert baseline(values_by_sli(chosen), "rt", "avg") is None


def test_failed_and_non_finite_earlier_values_are_ignored_not_zero():
    history = [PreviousEvaluation("pass", (SliValue.failed("rt", "timeout"),)),
               PreviousEvaluation("pass", (SliValue("rt", float("nan")),)),
               prev("pass", 100)]
    assert values_by_sli(history) == {"rt": [100.0]}


@pytest.mark.parametrize("values, function, expected", [
    ([5, 15], "avg", 10),
    (list(range(11)), "p90", 9.8),
    (list(range(11)), "p95", 10),
    (list(range(11)), "p50", 5),
    ([10, 5], "p50", 7.5),
    ([100, 200], "p90", 200),
    ([42], "p50", 42),
    ([1, 2, 3], "median", 0),          # unknown name: baseline 0, not "no baseline" (quirk kept)
    ([1, 2, 3], "AVG", 0),             # case-sensitive
])
def test_aggregate(values, function, expected):
    assert aggregate([float(v) for v in values], function) == pytest.approx(expected, abs=1e-12)


def test_previous_from_json():
    p = previous_from_json({"result": "pass", "score": 90, "sli_values": {"a": 1, "b": {"error": "x"}},
                            "invalidated": True, "id": "e7"})
    assert (p.result, p.score, p.invalidated, p.id) == ("pass", 90.0, True, "e7")
    assert p.values == (SliValue.ok("a", 1), SliValue.failed("b", "x"))


@pytest.mark.parametrize("raw, message", [
    ([], "entry 3: expected an object"),
    ({"sli_values": {}}, "entry 3: `result`"),
    ({"result": "pass", "sli_values": []}, "entry 3: `sli_values`"),
    ({"result": "pass", "sli_values": {"a": "fast"}}, "entry 3: SLI 'a'"),
    ({"result": "pass", "invalidated": "yes"}, "entry 3: `invalidated`"),
])
def test_previous_from_json_rejects_with_the_entry(raw, message):
    with pytest.raises(HistoryError, match=message):
        previous_from_json(raw, 3)
