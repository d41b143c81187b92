"""Scoring behaviour the conformance vectors do not pin down: our fail-closed rules, the
messages a person reads, and the shapes other parts of the system consume."""
from __future__ import annotations

import math

import pytest

from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.scoring import evaluate, go_float
from reconciler.quality.values import SliValue

SLO = """\
objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
    warning: [{criteria: ["<=5"]}]
total_score: {pass: "90%", warning: "75%"}
"""


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_fails_its_objective_even_where_relative_criteria_would_pass(bad):
    # Without history, "<=+10%" is met by any number; NaN must not sneak through that way.
    ev = evaluate(SLO, {"rt": bad, "err": 0})
    rt = ev.objectives[0]
    assert (rt.status, rt.score) == ("fail", 0.0)
    assert "not a number that can be compared" in rt.error
    assert rt.indicator_result()["value"]["success"] is False
    assert ev.result == "fail"


def test_a_provider_failure_fails_closed_with_its_message():
    ev = evaluate(SLO, {"rt": 1, "err": 0}, sli_event_status="errored",
                  sli_event_message="Prometheus at http://p:9090 is unreachable")
    assert (ev.result, ev.score, ev.event_result, ev.event_status) == ("fail", 0.0, "fail", "errored")
    assert ev.error_kind == "sli_retrieval_failed"
    assert ev.message == "lighthouse failed because SLI failed with message Prometheus at http://p:9090 is unreachable"
    assert not ev.passed


def test_an_sli_event_result_fail_fails_the_event_but_not_the_score():
    ev = evaluate(SLO, {"rt": 1, "err": 0}, sli_event_result="fail")
    assert (ev.result, ev.score, ev.event_result) == ("pass", 100.0, "fail")
    assert not ev.passed


def test_no_slo_is_keptns_pass_without_evaluation():
    ev = evaluate(None, {"rt": 1}, project="shop")
    assert (ev.result, ev.score, ev.event_result, ev.objectives) == ("pass", 0.0, "pass", ())
    assert ev.message == "no evaluation performed by lighthouse because no SLO file configured for project shop"


@pytest.mark.parametrize("values, result, message", [
    ({"rt": 1, "err": 0}, "pass", "Evaluation passed: the calculated score of 100 meets the target value of 90"),
    ({"rt": 1, "err": 3}, "warning",
     "Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75"),
    ({"rt": 1, "err": 9}, "fail", "Evaluation failed since the calculated score of 50 is below the warning value of 75"),
])
def test_verdict_messages(values, result, message):
    ev = evaluate(SLO, values)
    assert (ev.result, ev.message) == (result, message)


def test_below_pass_without_warning_threshold_message():
    ev = evaluate(SLO.replace(', warning: "75%"', ""), {"rt": 1, "err": 3})
    assert ev.message == "Evaluation failed since the calculated score of 75 is below the target value of 90"


def test_key_sli_messages_name_the_objective_and_the_reason():
    slo = SLO.replace("displayName: Response time", "displayName: Response time\n    key_sli: true")
    missing = evaluate(slo, {"err": 0})
    assert missing.message == ("Evaluation failed due to key_sli objective 'Response time': "
                               "no value received from SLI provider")
    history = [PreviousEvaluation("pass", (SliValue.ok("rt", 100),))]
    violated = evaluate(slo, {"rt": 200, "err": 0}, history)
    assert violated.message == ("Evaluation failed due to key_sli objective 'Response time': "
                                "failed evaluation with score 0.000000")
    assert violated.score == 50


def test_values_without_objective_are_mentioned():
    ev = evaluate(SLO, {"rt": 1, "err": 0, "cpu": 3})
    assert ev.message.endswith("SLIs without an objective (not scored): cpu")


@pytest.mark.parametrize("total, error", [
    ("{pass: nan}", "could not parse pass target percentage"),
    ("{pass: '90%', warning: ' 75%'}", "could not parse warning target percentage"),
    ("{pass: '90%%'}", "could not parse pass target percentage"),
    ("{warning: 50}", "no target score defined"),
])
def test_thresholds_that_cannot_be_compared_are_rejected(total, error):
    ev = evaluate(f"objectives: [{{sli: a, pass: [{{criteria: ['<1']}}]}}]\ntotal_score: {total}\n", {"a": 0})
    assert (ev.error, ev.error_kind, ev.event_status) == (error, "invalid_total_score", "errored")


def test_rejections_keep_their_precedence():
    both = "objectives: [{sli: a, pass: [{criteria: ['10']}]}]\ntotal_score: {pass: x}\n"
    assert evaluate(both, {}).error_kind == "invalid_criteria"
    assert evaluate("objectives: 5\ntotal_score: {pass: x}\n", {}).error_kind == "invalid_slo"


def test_compared_evaluations_are_reported_by_id():
    history = [PreviousEvaluation("pass", (SliValue.ok("rt", 100),), id="evaluations/dev/a/1.json"),
               PreviousEvaluation("fail", (), id="evaluations/dev/a/0.json")]
    ev = evaluate(SLO, {"rt": 105, "err": 0}, history)
    assert ev.compared == ("evaluations/dev/a/1.json",) and ev.compared_count == 1
    assert ev.objectives[0].compared_value == 100
    assert [(t.criteria, t.target_value, t.violated) for t in ev.objectives[0].pass_targets] == [("<=+10%", 110.0, False)]


def test_history_may_be_given_as_json_entries():
    ev = evaluate(SLO, {"rt": 120, "err": 0}, [{"result": "pass", "score": 100, "sli_values": {"rt": 100}}])
    assert ev.objectives[0].status == "fail"


def test_cli_json_shape():
    out = evaluate(SLO, {"rt": 1, "err": {"error": "timeout"}}).to_json()
    assert {"result", "score", "compared_count", "objectives"} <= out.keys()
    assert "error" not in out
    rt, err = out["objectives"]
    assert {"sli", "status", "score", "value", "pass_targets", "warning_targets"} <= rt.keys()
    assert (err["value"], err["error"], err["status"]) == (None, "timeout", "fail")
    assert rt["pass_targets"] == [{"criteria": "<=+10%", "target_value": 0.0, "violated": False}]
    rejected = evaluate("objectives: 5", {}).to_json()
    assert rejected["error_kind"] == "invalid_slo" and rejected["objectives"] == []


@pytest.mark.parametrize("x, text", [(75.3, "75.3"), (74.0, "74"), (100 * (2 / 3), "66.66666666666666"),
                                     (0.5, "0.5"), (math.nan, "NaN"), (-math.inf, "-Inf")])
def test_go_float(x, text):
    assert go_float(x) == text


def test_unparsable_criteria_of_an_informational_objective_are_ignored_as_in_keptn():
    # Keptn never evaluates an objective without pass criteria, so its broken warning criteria
    # raise nothing; a scored objective with the same criteria is still rejected.
    slo = ("objectives:\n"
           "  - sli: info\n    warning: [{criteria: ['<=abc']}, {criteria: ['<=5']}]\n"
           "  - sli: a\n    pass: [{criteria: ['<=10']}]\n"
           "total_score: {pass: '90%'}\n")
    ev = evaluate(slo, {"info": 7, "a": 1})
    assert ev.error is None and (ev.result, ev.score) == ("pass", 100.0)
    info = ev.objectives[0]
    assert info.status == "info" and [t.criteria for t in info.warning_targets] == ["<=5"]
    scored = slo.replace("sli: info\n    warning", "sli: info\n    pass: [{criteria: ['<=9']}]\n    warning")
    assert evaluate(scored, {"info": 7, "a": 1}).error_kind == "invalid_criteria"
