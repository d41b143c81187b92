"""Every case in ../shared/conformance/evaluation/ through the same `evaluate` the engine and
the CLI use. Cases are picked up by glob, so new files are tested without touching this file.

Quirk cases where we deliberately differ from Keptn are not skipped: they are checked against
our documented behaviour (DEVIATIONS below, with the reasons in docs/compatibility.md), so a
change in either direction is noticed.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from reconciler.quality.scoring import evaluate
from tests.support import shared

CONFORMANCE = shared.shared_path() / "conformance" / "evaluation"
CASE_FILES = sorted(CONFORMANCE.glob("*.json"))
# without ../shared, one placeholder case that the shared_dir fixture skips (fails in CI)
CASES = CASE_FILES or [pytest.param(None, id="shared-missing")]

_REJECTED = {"objectives": {}, "indicator_results": None}

# name → (reason, fields of `expected` that our behaviour changes). Keep in step with
# docs/compatibility.md.
DEVIATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "derived_get_sli_errored": (
        "a failed SLI retrieval fails the gate closed (Keptn leaves evaluation.result 'pass')",
        {"result": "fail"}),
    "derived_get_sli_aborted": (
        "a failed SLI retrieval fails the gate closed (Keptn leaves evaluation.result 'pass')",
        {"result": "fail"}),
    "derived_duplicate_sli_objectives": (
        "every objective reads its SLI's value; Keptn's first objective 'consumes' it",
        {"result": "pass", "score": 100, "event_result": "pass",
         "objectives": {"a": {"status": "pass", "score": 1}, "a#2": {"status": "pass", "score": 1}},
         "indicator_results": "not compared"}),
    "derived_empty_criteria_list_counts_nothing": (
        "an objective shown as pass with 1 point adds its point to the total",
        {"result": "pass", "score": 100, "event_result": "pass"}),
    "derived_invalid_criteria_with_missing_value_not_detected": (
        "a criterion that does not parse rejects the evaluation whether or not a value arrived",
        {"result": "fail", "score": 0, "event_result": "fail",
         "error_kind": "invalid_criteria", "error": "error with a: invalid criteria string",
         "compared_count": None, **_REJECTED}),
    "derived_invalid_warning_criteria_ignored": (
        "a warning criterion that does not parse rejects the evaluation instead of being ignored",
        {"error_kind": "invalid_criteria", "error": "error with a: could not parse criteria target value",
         "compared_count": None, **_REJECTED}),
    "derived_no_objectives_zero_pass_threshold": (
        "an SLO without objectives fails; Keptn's evaluation.result says pass when the threshold is 0%",
        {"result": "fail"}),
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_conformance_cases_are_present(shared_dir):
    assert shared_dir / "conformance" / "evaluation" == CONFORMANCE
    assert len(CASE_FILES) >= 70, f"expected the conformance cases in {CONFORMANCE}"


def test_every_deviation_names_a_quirk_case(shared_dir):
    """We only deviate where the vectors themselves flag Keptn's behaviour as a quirk."""
    names = {p.stem: _load(p) for p in CASE_FILES}
    for name in DEVIATIONS:
        assert name in names, f"deviation for a case that does not exist: {name}"
        assert names[name].get("quirk") is True, f"{name} is not a quirk case; we must match Keptn"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case(shared_dir, path: Path):
    case = _load(path)
    assert case["name"] == path.stem
    expected = dict(case["expected"])
    if case["name"] in DEVIATIONS:
        expected.update(DEVIATIONS[case["name"]][1])

    ev = evaluate(
        case["slo"],
        case["sli_results"],
        case.get("previous_results", []),
        sli_event_result=case.get("sli_event_result", "pass"),
        sli_event_status=case.get("sli_event_status", "succeeded"),
    )

    assert ev.result == expected["result"]
    assert ev.score == pytest.approx(expected["score"], abs=1e-9)
    assert ev.event_result == expected["event_result"]
    assert ev.event_status == expected["event_status"]
    assert (ev.error is not None) == ("error" in expected), ev.error
    assert ev.error_kind == expected.get("error_kind")
    if "compared_count" in expected:
        assert ev.compared_count == expected["compared_count"]

    ours: dict[str, dict[str, Any]] = {}
    for o in ev.objectives:
        key = o.sli
        n = 1
        while key in ours:
            n += 1
            key = f"{o.sli}#{n}"
        ours[key] = {"status": o.status, "score": o.score}
    assert ours == expected["objectives"]

    want = expected.get("indicator_results")
    if want == "not compared":
        return
    got = ev.indicator_results
    if want is None:
        assert got is None
        return
    assert got is not None and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _assert_indicator(g, w)


def _assert_indicator(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("sli", "displayName", "status", "keySli"):
        assert got[key] == want[key], key
    assert got["score"] == pytest.approx(want["score"], abs=1e-9)
    if want["value"] is None:
        assert got["value"] is None
    else:
        gv, wv = got["value"], want["value"]
        assert gv["metric"] == wv["metric"]
        assert gv["success"] == wv["success"]
        assert gv.get("message") == wv.get("message")
        assert gv["value"] == pytest.approx(wv["value"], abs=1e-9)
        assert gv["comparedValue"] == pytest.approx(wv["comparedValue"], abs=1e-9)
    for key in ("passTargets", "warningTargets"):
        g, w = got[key] or [], want[key] or []       # Keptn mixes null and [] for "none"
        assert [t["criteria"] for t in g] == [t["criteria"] for t in w], key
        assert [t["violated"] for t in g] == [t["violated"] for t in w], key
        for gt, wt in zip(g, w, strict=True):
            assert math.isclose(gt["targetValue"], wt["targetValue"], abs_tol=1e-9), (key, gt, wt)
