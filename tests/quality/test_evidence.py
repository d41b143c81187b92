"""The evidence document: schema-valid for every kind of outcome, and readable back as history."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.quality import evidence
from reconciler.quality.scoring import evaluate

NOW = dt.datetime(2026, 11, 21, 22, 48, 24, 123456, tzinfo=dt.UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "evaluation.json"
SLO = """\
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: info
total_score: {pass: "90%", warning: "50%"}
"""


def doc(ev, context="ctx-1", at=NOW):
    built = evidence.build(ev, context=context, project="shop", stage="dev", service="cart",
                           evaluated_at=at, window=(at.timestamp() - 600, at.timestamp()),
                           provider={"kind": "prometheus", "url": "http://127.0.0.1:9090"},
                           slo_path="cart/slo.yaml", commit="ab" * 20, labels={"team": "blue"})
    return json.loads(json.dumps(built, allow_nan=False))      # what a commit would hold


def test_the_schema_file_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("slo, values, kw", [
    (SLO, {"rt": 100, "err": 0, "info": 3}, {}),
    (SLO, {"rt": float("nan"), "err": {"error": "no data"}}, {}),
    (SLO, {}, {"sli_event_status": "errored", "sli_event_message": "down"}),
    ("objectives: 5", {}, {}),
    ("objectives: [{sli: a, pass: [{criteria: ['10']}]}]", {}, {}),
    (None, {}, {}),
])
def test_every_outcome_is_schema_valid(slo, values, kw):
    d = doc(evaluate(slo, values, **kw))
    evidence.check(d)
    assert d["apiVersion"] == "reconciler/v1" and d["kind"] == "Evaluation"


def test_document_content():
    d = doc(evaluate(SLO, {"rt": 100, "err": {"error": "no data"}, "info": 3, "extra": 1}))
    assert d["time"] == "2026-11-21T22:48:24.123Z"
    assert d["window"] == {"start": "2026-11-21T22:38:24.123Z", "end": "2026-11-21T22:48:24.123Z"}
    assert d["slo"] == {"path": "cart/slo.yaml", "text": SLO}
    assert (d["result"], d["score"], d["thresholds"]) == ("warning", 50.0, {"pass": 90.0, "warning": 50.0})
    rt, err, info = d["objectives"]
    assert rt["pass_targets"] == [{"criteria": "<=+10%", "target_value": 0.0, "violated": False},
                                  {"criteria": "<600", "target_value": 600.0, "violated": False}]
    assert (err["value"], err["success"], err["error"], err["status"]) == (None, False, "no data", "fail")
    assert (info["status"], info["value"]) == ("info", 3.0)
    assert [v["metric"] for v in d["sli_values"]] == ["rt", "err", "info", "extra"]


def test_a_rejected_slo_is_kept_as_written():
    text = "objectives:\n  - sli: a\n    weight: '2'\n"
    d = doc(evaluate(text, {"a": 1}))
    assert (d["error_kind"], d["slo"]["text"]) == ("invalid_slo", text)
    assert "line 3" in d["error"]


def test_path_sorts_by_time():
    early = evidence.path_for("dev", "cart", NOW, "c2")
    late = evidence.path_for("dev", "cart", NOW + dt.timedelta(milliseconds=1), "c1")
    assert early == "evaluations/dev/cart/20261121T224824.123Z-c2.json"
    assert sorted([late, early]) == [early, late]


def test_stored_evaluations_are_the_history_of_later_ones():
    first = doc(evaluate(SLO, {"rt": 100, "err": 0}), "c1", NOW)
    second = doc(evaluate(SLO, {"rt": 200, "err": 0}), "c2", NOW + dt.timedelta(minutes=5))
    files = [(evidence.path_for("dev", "cart", NOW, "c1"), first),
             (evidence.path_for("dev", "cart", NOW + dt.timedelta(minutes=5), "c2"), second)]
    history = evidence.history(files)
    assert [h.id for h in history] == [files[1][0], files[0][0]]          # newest first
    assert history[1].result == "pass" and history[0].result == "pass"

    # single_result compares with the newest (rt 200): 215 is within +10%.
    third = evaluate(SLO, {"rt": 215, "err": 0}, history)
    assert third.objectives[0].compared_value == 200 and third.objectives[0].status == "pass"
    assert third.compared == (files[1][0],)

    # Invalidating the newest makes the comparison fall back to the one before (rt 100).
    files[1] = (files[1][0], evidence.invalidate(second, at=NOW, reason="load test was broken"))
    evidence.check(files[1][1])
    fourth = evaluate(SLO, {"rt": 215, "err": 0}, evidence.history(files))
    assert fourth.objectives[0].compared_value == 100 and fourth.objectives[0].status == "fail"


def test_history_filters_on_the_event_result():
    # The get-sli event said fail: the score passed but the evaluation counts as a fail.
    d = doc(evaluate(SLO, {"rt": 100, "err": 0}, sli_event_result="fail"))
    assert (d["result"], d["event_result"]) == ("pass", "fail")
    assert evidence.from_evidence(d).result == "fail"


def test_only_usable_values_are_read_back():
    d = doc(evaluate(SLO, {"rt": 100, "err": {"error": "x"}, "info": 3}))
    values = evidence.from_evidence(d, "p").values
    assert [(v.metric, v.value) for v in values] == [("rt", 100.0), ("info", 3.0)]


def test_a_broken_document_is_refused_with_its_name():
    with pytest.raises(evidence.EvidenceError, match="evaluations/dev/cart/x.json: not an evaluation document"):
        evidence.from_evidence({"kind": "Evaluation"}, "evaluations/dev/cart/x.json")
