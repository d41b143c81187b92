"""`reconciler evaluate` offline: exit codes, the fixed JSON shape, the human table, and
rejections that name the file. (Live mode runs against real Prometheus in
test_prometheus_live.py.)"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.quality import evidence
from reconciler.quality.scoring import evaluate

SLO = """\
comparison: {compare_with: single_result, include_result_with_score: pass}
objectives:
  - sli: response_time
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: error_rate
    pass: [{criteria: ["<=0.01"]}]
  - sli: throughput
total_score: {pass: "90%", warning: "75%"}
"""


@pytest.fixture
def files(tmp_path: Path):
    def write(name: str, content) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)
    return write


def run(*args: str):
    result = CliRunner().invoke(main, ["evaluate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("values, exit_code, verdict", [
    ({"response_time": 500, "error_rate": 0.001, "throughput": 9}, 0, "pass"),
    ({"response_time": 700, "error_rate": 0.001}, 0, "warning"),
    ({"response_time": 900, "error_rate": 0.001}, 1, "fail"),
    ({"response_time": 500, "error_rate": {"error": "no data"}}, 1, "fail"),
])
def test_exit_code_follows_the_verdict(files, values, exit_code, verdict):
    code, out, _ = run("--slo", files("slo.yaml", SLO), "--values", files("v.json", values), "--output", "json")
    assert code == exit_code
    assert json.loads(out)["result"] == verdict


def test_json_shape(files):
    code, out, _ = run("--slo", files("slo.yaml", SLO),
                       "--values", files("v.json", {"response_time": 530, "error_rate": {"error": "no data"}, "throughput": 9}),
                       "--history", files("h.json", [{"result": "fail", "score": 0, "sli_values": {"response_time": 100}},
                                                     {"result": "pass", "score": 100, "sli_values": {"response_time": 500}}]),
                       "--output", "json")
    data = json.loads(out)
    assert {"result", "score", "compared_count", "objectives"} <= data.keys()
    assert "error" not in data and "error_kind" not in data
    assert (data["result"], data["score"], data["compared_count"]) == ("fail", 50.0, 1)
    rt, err, tp = data["objectives"]
    assert rt == {**rt, "sli": "response_time", "status": "pass", "score": 1.0, "value": 530.0,
                  "pass_targets": [{"criteria": "<=+10%", "target_value": 550.0, "violated": False},
                                   {"criteria": "<600", "target_value": 600.0, "violated": False}],
                  "warning_targets": [{"criteria": "<=800", "target_value": 800.0, "violated": False}]}
    assert (err["status"], err["value"], err["error"]) == ("fail", None, "no data")
    assert (tp["status"], tp["value"]) == ("info", 9.0)


def test_human_output_has_a_row_per_objective_and_the_total(files):
    code, out, _ = run("--slo", files("slo.yaml", SLO),
                       "--values", files("v.json", {"response_time": 700, "error_rate": 0.001, "throughput": 9}))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SLI", "value", "pass", "targets", "warning", "targets", "status", "points"]
    assert lines[1].split()[:2] == ["response_time", "700"]
    assert "<600 (600, missed)" in lines[1] and "<=800 (800, met)" in lines[1]
    assert lines[1].split()[-2:] == ["warning", "0.5/1"]
    assert lines[3].split()[-2:] == ["info", "-"]
    assert "Total: 75 (pass >= 90, warning >= 75) -> WARNING, compared with 0 earlier evaluation(s)" in out


def test_history_may_hold_evidence_documents(files):
    earlier = evidence.build(evaluate(SLO, {"response_time": 500, "error_rate": 0}), context="c1", project="p",
                             stage="dev", service="s", evaluated_at=dt.datetime.now(dt.UTC))
    code, out, _ = run("--slo", files("slo.yaml", SLO),
                       "--values", files("v.json", {"response_time": 560, "error_rate": 0}),
                       "--history", files("h.json", [earlier]), "--output", "json")
    data = json.loads(out)
    assert data["compared_count"] == 1
    assert data["objectives"][0]["pass_targets"][0]["target_value"] == 550.0
    assert data["objectives"][0]["status"] == "warning"        # 560 > 550, but <= 800
    assert (code, data["result"]) == (0, "warning")


@pytest.mark.parametrize("slo, kind, message", [
    ("objectives:\n  - sli: a\n    weight: '2'\n", "invalid_slo", "line 3 (objectives[0].weight)"),
    ("objectives: [{sli: a, pass: [{criteria: ['=>5']}]}]\ntotal_score: {pass: 90}\n", "invalid_criteria",
     "error with a: could not parse criteria target value"),
    ("objectives: [{sli: a, pass: [{criteria: ['<5']}]}]\n", "invalid_total_score", "no target score defined"),
])
def test_an_invalid_slo_is_rejected_with_exit_2_naming_the_file(files, slo, kind, message):
    path = files("slo.yaml", slo)
    code, out, err = run("--slo", path, "--values", files("v.json", {"a": 1}), "--output", "json")
    assert code == 2
    assert json.loads(out)["error_kind"] == kind
    assert path in err and message in err
    code, out, err = run("--slo", path, "--values", files("v.json", {"a": 1}))
    assert (code, out) == (2, "")
    assert path in err


@pytest.mark.parametrize("values, message", [
    ('{"a": "fast"}', "SLI 'a': expected a number"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json", ":1: not JSON"),
])
def test_bad_values_files_are_rejected(files, values, message):
    path = files("v.json", values)
    code, _, err = run("--slo", files("slo.yaml", SLO), "--values", path)
    assert code == 2 and path in err and message in err


def test_bad_history_is_rejected(files):
    path = files("h.json", [{"score": 1}])
    code, _, err = run("--slo", files("slo.yaml", SLO), "--values", files("v.json", {}), "--history", path)
    assert code == 2 and f"{path}: entry 0: `result`" in err


def test_missing_file_is_rejected(tmp_path, files):
    missing = str(tmp_path / "nope.yaml")
    code, _, err = run("--slo", missing, "--values", files("v.json", {}))
    assert code == 2 and missing in err and "cannot read" in err


@pytest.mark.parametrize("args, message", [
    ([], "give either --values FILE"),
    (["--values", "VALUES", "--prometheus", "http://127.0.0.1:1", "--sli", "SLO"], "give either --values FILE"),
    (["--values", "VALUES", "--timeframe", "5m"], "only apply with --prometheus"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI", "--timeframe", "soon"], "--timeframe: not a duration"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI", "--start", "2024-05-01T10:00:00Z",
      "--end", "2024-05-01T09:00:00Z"], "the window must end after it starts"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI", "--start", "yesterday", "--timeframe", "5m"],
     "--start: expected ISO 8601"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI"], "give the window"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI", "--timeframe", "5m", "--timeout", "0s"],
     "--timeout must be longer than 0s"),
    (["--prometheus", "http://127.0.0.1:1", "--sli", "SLI", "--timeframe", "5m", "--label", "team"],
     "--label expects KEY=VALUE"),
])
def test_usage_errors_exit_2(files, args, message):
    slo = files("slo.yaml", SLO)
    substitutions = {"VALUES": files("v.json", {}), "SLO": slo, "SLI": files("sli.yaml", "indicators: {}\n")}
    code, _, err = run("--slo", slo, *[substitutions.get(a, a) for a in args])
    assert code == 2 and message in err


def test_an_empty_slo_file_means_no_evaluation(files):
    code, out, _ = run("--slo", files("slo.yaml", ""), "--values", files("v.json", {"a": 1}), "--output", "json")
    assert code == 0
    assert (json.loads(out)["result"], json.loads(out)["score"]) == ("pass", 0.0)
