"""Operations: metrics for gate results, approvals, remediation, fetches and the build; JSON
log lines attributed to their sequence; the Grafana dashboard uses only metrics that exist."""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
from itertools import count
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.controller.metrics import Metrics
from reconciler.controller.observe import observe
from reconciler.engine.events import CloudEvent
from reconciler.logs import configure, log_context, make_handler
from tests.support.waiting import wait_until

_IDS = count(1)                         # CloudEvent ids are required: one per event here
TIME = "2026-01-01T00:00:00.000Z"

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "reconciler.json"
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "time", "by", "without",
                "histogram_quantile", "le", "bool", "and", "or", "unless", "on", "ignoring", "offset"}


def exposed_names(text: str) -> set[str]:
    """Every series name `/metrics` can produce, also for labelled metrics without samples yet."""
    names = set()
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"],
                "info": ["_info"], "gauge": [""], "summary": ["_sum", "_count"]}
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def dashboard_metrics() -> set[str]:
    used = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = re.sub(r"\{[^}]*\}", "", target["expr"])               # label matchers
            expr = re.sub(r"\[[^\]]*\]", "", expr)                          # range selectors
            expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)         # grouping labels
            used.update(w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if w not in PROMQL_WORDS)
    return used


def test_every_metric_the_dashboard_uses_exists_on_metrics(origin, service_factory):
    service = service_factory(origin.url)
    exposed = exposed_names(httpx.get(service.url + "/metrics").text)
    used = dashboard_metrics()
    assert {"reconciler_evaluations_total", "reconciler_evaluation_score", "reconciler_approvals_waiting",
            "reconciler_remediation_actions_total", "reconciler_escalations_total", "reconciler_fetch_errors_total",
            "reconciler_last_successful_fetch_timestamp_seconds", "reconciler_build_info"} <= used
    assert used <= exposed, f"the dashboard uses metrics /metrics does not have: {sorted(used - exposed)}"


def test_the_dashboard_check_catches_an_unknown_metric(tmp_path, monkeypatch):
    board = json.loads(DASHBOARD.read_text())
    board["panels"][1]["targets"][0]["expr"] = "sum(rate(reconciler_no_such_thing_total[5m]))"
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    monkeypatch.setattr(__import__(__name__), "DASHBOARD", path)
    assert "reconciler_no_such_thing_total" in dashboard_metrics()


def event(type_: str, data: dict, context: str = "ctx-1") -> CloudEvent:
    return CloudEvent(type=type_, data={"project": "hello", "stage": "prod", "service": "web", **data},
                      shkeptncontext=context, id=f"ev-{next(_IDS)}", time=TIME)


def test_events_update_gate_remediation_and_escalation_metrics():
    metrics = Metrics()
    value = metrics.registry.get_sample_value
    observe(metrics, event("sh.keptn.event.evaluation.finished",
                           {"result": "fail", "evaluation": {"result": "fail", "score": 33.3}}))
    observe(metrics, event("sh.keptn.event.evaluation.finished",
                           {"result": "pass", "evaluation": {"result": "pass", "score": 100}}))
    observe(metrics, event("sh.keptn.event.action.finished", {"result": "pass", "action": {"gitCommit": "abc"}}))
    observe(metrics, event("sh.keptn.event.escalation.triggered", {}))
    labels = {"stage": "prod", "service": "web"}
    assert value("reconciler_evaluations_total", {**labels, "result": "fail"}) == 1
    assert value("reconciler_evaluations_total", {**labels, "result": "pass"}) == 1
    assert value("reconciler_evaluation_score", labels) == 100          # the last one
    assert value("reconciler_remediation_actions_total", {**labels, "result": "pass"}) == 1
    assert value("reconciler_escalations_total", labels) == 1
    assert value("reconciler_build_info", {"version": "0.1.0", "python": __import__("platform").python_version()}) == 1


@pytest.fixture
def json_log():
    """Root logger lines as JSON objects (the handler serve installs with --log-format json)."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_json_line_at_each_sequence_end_with_result_and_message(json_log):
    observe(Metrics(), event("sh.keptn.event.prod.delivery.finished",
                             {"result": "fail", "status": "succeeded", "message": "evaluation failed: score 33"}))
    [line] = [r for r in json_log() if r["logger"] == "reconciler.sequence"]
    assert line["level"] == "warning" and line["result"] == "fail" and line["status"] == "succeeded"
    assert (line["context"], line["stage"], line["service"], line["sequence"]) == ("ctx-1", "prod", "web", "delivery")
    assert "evaluation failed: score 33" in line["message"]


def test_every_line_carries_context_stage_service_and_task(json_log):
    log = logging.getLogger("some.library")
    log.info("outside")
    with log_context(context="c9", stage="dev", service="web"), log_context(task="test"):
        log.info("inside a task")
    outside, inside = json_log()
    assert {k: outside[k] for k in ("context", "stage", "service", "task")} == dict.fromkeys(
        ("context", "stage", "service", "task"))
    assert {k: inside[k] for k in ("context", "stage", "service", "task")} == {
        "context": "c9", "stage": "dev", "service": "web", "task": "test"}


def test_text_stays_the_default_and_http_client_lines_are_off_unless_debug():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure("info", "text", stream)
        logging.getLogger("httpx").info("HTTP Request: GET http://prometheus/api/v1/query")
        with log_context(stage="dev", service="web", task="evaluation", context="c1"):
            logging.getLogger("reconciler.x").info("evaluating")
        text = stream.getvalue()
        assert "HTTP Request" not in text
        assert text.rstrip().endswith("evaluating [dev/web task=evaluation context=c1]")
        configure("debug", "text", stream)
        logging.getLogger("httpx").debug("HTTP Request: GET http://prometheus/x")
        assert "HTTP Request" in stream.getvalue()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name in ("httpx", "httpcore", "urllib3", "kubernetes.client.rest"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_fetches_count_errors_and_remember_the_last_success(origin, service_factory, tmp_path):
    service = service_factory(origin.url)
    value = service.metrics.registry.get_sample_value
    assert value("reconciler_last_successful_fetch_timestamp_seconds") > 0
    assert value("reconciler_fetch_errors_total") == 0
    moved = tmp_path / "gone.git"
    shutil.move(str(origin.path), moved)            # the remote is no repository any more
    origin.path.write_text("not a repository\n")
    try:
        service.controller.notify_tips_changed("test")
        wait_until(lambda: value("reconciler_fetch_errors_total") >= 1, timeout=20, what="a failed fetch")
    finally:
        origin.path.unlink()
        shutil.move(str(moved), str(origin.path))
