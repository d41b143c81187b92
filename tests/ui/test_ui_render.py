"""The UI's pure parts: board model and cells, timeline, SLI table, charts, access rules and
version extraction. Data in, HTML out; every value from Git or an event is escaped."""
from __future__ import annotations

import re

from reconciler.server.ui import access
from reconciler.server.ui.access import AccessSettings
from reconciler.server.ui.board import board_model, render_board
from reconciler.server.ui.charts import heatmap, trend
from reconciler.server.ui.evaluations import render_detail, why_failed
from reconciler.server.ui.sequences import render_timeline
from reconciler.server.ui.source import commit_url_builder
from reconciler.server.ui.versions import Running, version_of
from reconciler.spec.settings import ForgeSettings

EVIL = '<img src=x onerror="alert(1)">'


def lane(stage, service, *, active=(), last=None, evaluation=None):
    return {"stage": stage, "service": service, "active": list(active), "last": last, "evaluation": evaluation}


def test_version_of_reads_image_strings_helm_image_maps_and_chart_versions():
    assert version_of(b"image: shop:1.2.3\nreplicaCount: 2\n", None) == ("shop:1.2.3", "image")
    helm = b"image:\n  repository: ghcr.io/x/shop\n  tag: 2.0.0\n"
    assert version_of(helm, None) == ("ghcr.io/x/shop:2.0.0", "image")
    assert version_of(b"replicaCount: 1\n", b"apiVersion: v2\nname: shop\nversion: 0.4.1\n") == ("chart 0.4.1", "chart")
    assert version_of(b": not yaml: [", None) == ("", "none")
    assert version_of(None, None) == ("", "none")


def test_board_model_puts_versions_gates_running_and_queued_runs_in_their_cells():
    versions = {"dev": {"shop": Running("shop:2.0.0", "image", "a" * 40, "t1")},
                "staging": {"shop": Running("other/shop:1.0.0", "image", "b" * 40, "t2")}}
    lanes = [lane("dev", "shop", active=[{"sequence": "delivery", "state": "started", "task": "test", "context": "c1"},
                                         {"sequence": "delivery", "state": "waiting", "task": None, "context": "c2"}],
                  evaluation={"result": "warning", "score": 75.0, "path": "p", "context": "c0"}),
             lane("staging", "shop", last={"sequence": "delivery", "state": "finished", "result": "fail",
                                           "message": "evaluation failed: response_time 900 > 500", "context": "c3"})]
    stages, services, cells = board_model(["dev", "staging", "production"], lanes, versions)
    assert stages == ["dev", "staging", "production"] and services == ["shop"]
    html = render_board(stages, services, cells, csrf=None)
    dev, staging, production = re.findall(r"<td[^>]*>.*?</td>", html.split("<th><a")[-1])
    assert "<b>2.0.0</b>" in dev and "aaaaaaa" in dev                 # tag only: the image is named after the service
    assert "gate" in dev and "warning 75" in dev
    assert "running</span> delivery: test" in dev and "queued 1" in dev and "class=run" in dev
    assert "<b>other/shop:1.0.0</b>" in staging                        # another repository is shown whole
    assert "failed" in staging and "response_time 900 &gt; 500" in staging and "class=fail" in staging
    assert "no version" in production


def test_waiting_approval_is_an_action_for_operators_and_text_for_viewers():
    lanes = [lane("prod", "shop", active=[{"sequence": "delivery", "state": "waitingForApproval", "task": "approval",
                                           "context": "ctx-1"}])]
    stages, services, cells = board_model(["prod"], lanes, {})
    viewer = render_board(stages, services, cells, csrf=None)
    operator = render_board(stages, services, cells, csrf="tok")
    assert "approval pending" in viewer and "<button" not in viewer and "class=wait" in viewer
    assert operator.count("<form") == 2 and 'action="/ui/actions/approve"' in operator
    assert 'name=csrf value="tok"' in operator and 'name="context" value="ctx-1"' in operator


def test_service_filter_and_escaping_on_the_board():
    versions = {"dev": {EVIL: Running(EVIL, "image", None, "t"), "cart": Running("cart:1", "image", None, "t")}}
    stages, services, cells = board_model(["dev"], [], versions, service_filter="IMG")
    assert services == [EVIL]
    html = render_board(stages, services, cells, None)
    assert EVIL not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_timeline_shows_each_task_with_times_duration_executor_and_message():
    run = {"stage": "dev", "service": "shop", "sequence": "delivery", "index": 0, "state": "finished",
           "result": "fail", "status": "errored", "triggeredAt": 100.0, "finishedAt": 160.0,
           "message": "deployment failed: " + EVIL,
           "tasks": [{"name": "deployment", "state": "done", "triggeredAt": 100.0, "completedAt": 112.5,
                      "result": "fail", "started": {"reconciler/deployment": {"at": 101.0}},
                      "finished": {"reconciler/deployment": {"at": 112.5, "message": "helm exited 1"}}}]}
    html = render_timeline("ctx", [run], ["dev"], [{"branch": "dev", "oid": "f" * 40, "message": "promote\n\nbody"}],
                           [], csrf=None, commit_url=lambda oid: f"https://forge/x/commit/{oid}")
    row = re.search(r"<tr><td>deployment</td>.*?</tr>", html).group(0)
    assert "1970-01-01 00:01:40" in row and "1970-01-01 00:01:41" in row and "12.5 s" in row
    assert ">deployment</td>" in row and "helm exited 1" in row and "class=fail" in row
    assert EVIL not in html and "finished, result fail, status errored" in html
    assert '<a href="https://forge/x/commit/' + "f" * 40 + '">' in html and ">promote</td>" in html
    assert "Abort" not in html                      # finished: nothing to control


def test_sli_table_says_why_each_objective_failed():
    doc = {"stage": "dev", "service": "shop", "result": "fail", "score": 50.0, "time": "2026-01-01T00:00:00Z",
           "thresholds": {"pass": 90, "warning": 75}, "objectives": [
               {"sli": "response_time", "status": "fail", "score": 0, "value": 900.0, "compared_value": 400.0,
                "pass_targets": [{"criteria": "<=500", "target_value": 500, "violated": True}],
                "warning_targets": [], "weight": 1, "key_sli": True},
               {"sli": "errors", "status": "fail", "score": 0, "value": None, "compared_value": 0,
                "pass_targets": [], "warning_targets": [], "weight": 1, "key_sli": False,
                "error": "no samples for query " + EVIL}]}
    html = render_detail("evaluations/dev/shop/x.json", doc, csrf="c")
    assert "violates pass criteria &lt;=500" in html and "key SLI" in html and "400.0" in html
    assert "no samples for query &lt;img" in html and EVIL not in html
    assert 'action="/ui/actions/invalidate"' in html
    assert why_failed({"status": "pass", "pass_targets": []}) == ""
    assert "/ui/actions/invalidate" not in render_detail("p", dict(doc, invalidated=True), csrf="c")


def test_heatmap_and_trend_write_status_as_text_not_only_colour():
    cols = [{"label": "01-01 10:00", "score": 100.0, "result": "pass",
             "objectives": {"rt": {"status": "pass", "value": 120.0}}},
            {"label": "01-02 10:00", "score": 0.0, "result": "fail",
             "objectives": {"rt": {"status": "fail", "value": 900.0}}}]
    svg = heatmap(["rt"], cols)
    assert "✓ 120" in svg and "✗ 900" in svg and svg.count("<rect") == 4
    line = trend("rt", [("a", 1.0, "pass"), ("b", 3.0, "fail")], {"pass": 2.0})
    assert "<polyline" in line and line.count("<circle") == 2 and ">pass</text>" in line
    assert "no values" in trend("x", [("a", None, None)])


def test_sessions_roles_csrf_and_loopback():
    s = AccessSettings(api_token="op-token", read_token="ro-token")
    assert access.role_of_token(s, "op-token") == "operator"
    assert access.role_of_token(s, "ro-token") == "viewer"
    assert access.role_of_token(s, "guess") is None
    op = access.session_value(s, "operator")
    assert "op-token" not in op and access.role_of_cookie(s, op) == "operator"
    assert access.role_of_cookie(s, "operator.n." + "0" * 64) is None
    assert access.role_of_cookie(s, "operator." + "0" * 64) is None
    assert access.role_of_cookie(s, op.replace("operator.", "viewer.", 1)) is None       # no role change
    other = access.session_value(s, "operator")
    assert other != op and access.csrf_token(s, other) != access.csrf_token(s, op)     # a CSRF value per session
    assert access.role_of_cookie(AccessSettings(api_token="rotated"), op) is None     # a new token logs out
    assert access.csrf_ok(s, op, access.csrf_token(s, op)) and not access.csrf_ok(s, op, "x")
    assert access.role_of_request(s, None, "127.0.0.1") is None
    opened = AccessSettings(api_token="t", open_on_loopback=True, listen_host="127.0.0.1")
    assert access.role_of_request(opened, None, "127.0.0.1") == "viewer"
    assert access.role_of_request(opened, None, "10.0.0.5") is None
    exposed = AccessSettings(api_token="t", open_on_loopback=True, listen_host="0.0.0.0")
    assert access.role_of_request(exposed, None, "127.0.0.1") is None


def test_commit_links_follow_the_configured_forge():
    gh = commit_url_builder(ForgeSettings(kind="github", repository="acme/shop"), "https://github.com/acme/shop.git")
    assert gh("abc") == "https://github.com/acme/shop/commit/abc"
    gitea = commit_url_builder(ForgeSettings(kind="gitea", url="https://git.example/api/v1"),
                               "https://git.example/acme/shop.git")
    assert gitea("abc") == "https://git.example/acme/shop/commit/abc"
    lab = commit_url_builder(ForgeSettings(kind="gitlab", url="https://lab.example"), "https://lab.example/a/b.git")
    assert lab("abc") == "https://lab.example/a/b/-/commit/abc"
    assert commit_url_builder(ForgeSettings(), "file:///x") is None


def test_problems_show_the_alert_the_actions_and_escalations():
    from reconciler.engine.problems import problems_from_alertmanager
    from reconciler.server.ui.problems import render_problems
    problems, _ = problems_from_alertmanager({"alerts": [{
        "status": "firing", "fingerprint": "fp-1234567890", "startsAt": "2026-01-01T00:00:00Z",
        "labels": {"alertname": "response_time", "stage": "production", "service": "shop", "severity": "page"},
        "annotations": {"summary": "response time " + EVIL}}]})
    trigger = {"data": {"stage": "production", "service": "shop", "problem": dict(problems[0].details)}}
    run = {"context": problems[0].context, "stage": "production", "service": "shop", "sequence": "remediation",
           "state": "finished", "result": "pass", "triggeredAt": 0.0, "trigger": trigger,
           "tasks": [{"name": "action", "state": "done", "result": "pass",
                      "message": "replicaCount 1 -> 2 (commit abc123)"},
                     {"name": "evaluation", "state": "done", "result": "pass"}]}
    escalation = {"kind": "Escalation", "event": {"shkeptncontext": "ctx-esc", "time": "2026-01-02T00:00:00Z",
                                                  "data": {"stage": "production", "service": "shop",
                                                           "message": "no action left for response_time"}}}
    html = render_problems([run], [escalation])
    assert "closed" in html and "response time &lt;img" in html and EVIL not in html
    assert "severity=page" in html and "fp-1234567890" in html
    assert "replicaCount 1 -&gt; 2 (commit abc123)" in html and "evaluation: pass" in html
    assert "production · shop" in html and "no action left for response_time" in html and "ctx-esc" in html


def test_config_view_lists_findings_ignored_branches_and_integrations():
    from reconciler.server.ui.configview import render_config
    view = {"resultsCommit": "r" * 40,
            "config": {"valid": False, "defaultBranch": "main", "projectCommit": "p" * 40,
                       "findings": [{"file": "staging:helloservice/slo.yaml", "line": 7, "severity": "error",
                                     "code": "slo-criteria", "message": "criteria " + EVIL}],
                       "rejectedTriggers": []},
            "stages": [{"name": "dev", "target": "local", "sequences": ["delivery"], "tip": "d" * 40}],
            "ignoredBranches": {"feature/x": "f" * 40},
            "integrations": [{"name": "job-executor", "hostname": "pod-1", "version": "0.3.0",
                              "lastseen": "2026-01-01T10:00:00.000Z",
                              "subscriptions": [{"event": "sh.keptn.event.test.triggered"}]}]}
    html = render_config(view)
    assert "staging:helloservice/slo.yaml:7" in html and "criteria &lt;img" in html and EVIL not in html
    assert "has errors" in html and "feature/x" in html and ">local</td>" in html
    assert "job-executor" in html and "2026-01-01 10:00:00" in html and "sh.keptn.event.test.triggered" in html


def test_approvals_show_the_branch_pull_request_and_evaluation_with_buttons_for_operators():
    from reconciler.server.ui.approvals import render_approvals
    pending = [{"context": "ctx-approve", "stage": "production", "service": "shop", "since": 0.0,
                "branch": "approve/production/shop/ctx-appr",
                "pullRequest": {"url": "https://forge/acme/shop/pull/7", "number": 7},
                "evaluation": {"path": "evaluations/staging/shop/x.json", "stage": "staging", "result": "warning",
                               "score": 80.0, "invalidated": 1}}]
    operator, viewer = render_approvals(pending, "tok"), render_approvals(pending, None)
    assert "approve/production/shop/ctx-appr" in operator and 'href="https://forge/acme/shop/pull/7"' in operator
    assert "warning 80" in operator and "invalidated" in operator and "staging" in operator
    assert 'action="/ui/actions/approve"' in operator and "<button" not in viewer
    assert "no approval is pending" in render_approvals([], None)
