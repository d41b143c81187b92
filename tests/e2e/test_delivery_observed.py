"""Issue 16, operations, end to end: a delivery through two gates to a waiting approval shows
on `/metrics` (evaluations by result, scores, approvals waiting), in JSON logs (one line per
sequence end; task lines attributed to their context, stage, service and task) and in Slack
(configured in reconciler.yaml, the webhook URL from the environment)."""
from __future__ import annotations

import io
import json
import logging

import httpx
import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.logs import make_handler
from tests.support.chat_schemas import SLACK_MESSAGE
from tests.support.waiting import wait_until
from tests.support.webhooks import Receiver


def samples(service) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(service.url + "/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.slow
@pytest.mark.project(settings_extra="  notifications:\n"
                                    "    - {name: team, kind: slack, urlEnv: SLACK_URL,\n"
                                    "       events: [sequence.finished, approval.waiting],\n"
                                    "       stages: [dev, production]}\n")
def test_a_delivery_shows_in_metrics_json_logs_and_slack(project, e2e_service, human_factory):
    slack = Receiver()
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        service = e2e_service(project.origin, environ={"SLACK_URL": slack.url})
        human_factory(str(project.origin), "dev").change(
            "helloservice/values.yaml", "image: helloservice:1.1.0\nreplicaCount: 1\n", "ship 1.1.0")
        wait_until(lambda: [r for r in service.index.runs(stage="production") if r["state"] == "waitingForApproval"],
                   timeout=90, what="the production approval")
        values = wait_until(lambda: (v := samples(service)).get(("reconciler_approvals_waiting", frozenset())) == 1
                            and v, timeout=10, what="approvals waiting on /metrics")
        wait_until(lambda: len(slack.requests) >= 2, timeout=10, what="two Slack messages")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        slack.close()
    messages = [json.loads(body) for _, body in slack.requests]
    for message in messages:
        jsonschema.validate(message, SLACK_MESSAGE)
    assert [m["blocks"][0]["text"]["text"] for m in messages] == [
        "delivery of helloservice in dev finished (pass)", "Approval waiting: helloservice in production"]
    for stage in ("dev", "staging"):
        labels = {"stage": stage, "service": "helloservice"}
        assert values[("reconciler_evaluations_total", frozenset({**labels, "result": "pass"}.items()))] == 1
        assert 0 <= values[("reconciler_evaluation_score", frozenset(labels.items()))] <= 100
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ends = [r for r in lines if r["logger"] == "reconciler.sequence"]
    assert {(r["stage"], r["sequence"], r["result"]) for r in ends} >= {("dev", "delivery", "pass"),
                                                                        ("staging", "delivery", "pass")}
    dev_end = next(r for r in ends if r["stage"] == "dev")
    assert dev_end["service"] == "helloservice" and dev_end["context"] and dev_end["status"] == "succeeded"
    assert all(set(r) >= {"time", "level", "logger", "message", "context", "stage", "service", "task"} for r in lines)
    in_tasks = [r for r in lines if r["task"] and r["context"] == dev_end["context"]]
    assert in_tasks and all(r["stage"] in ("dev", "staging", "production") for r in in_tasks)


@pytest.mark.slow
@pytest.mark.parametrize("down", [False, True], ids=["forge-up", "forge-down"])
@pytest.mark.project(settings_extra="  forge: {kind: github, url: FORGE_URL, repository: shop/config, statuses: true}\n")
def test_gate_results_reach_the_forge_and_a_forge_that_is_down_delays_nothing(project, e2e_service, human_factory,
                                                                             tmp_path, down):
    from reconciler import contract
    from tests.support.forge import TOKEN, fake_forge
    from tests.support.remotes import Human, git_out
    with fake_forge("github") as forge:
        forge.down = down
        settings = git_out("show", "main:reconciler.yaml", cwd=project.origin).replace("FORGE_URL", forge.api)
        Human(str(project.origin), tmp_path / "editor", "main").change("reconciler.yaml", settings, "forge")
        service = e2e_service(project.origin, environ={"RECONCILER_FORGE_TOKEN": TOKEN})
        commit = human_factory(str(project.origin), "dev").change(
            "helloservice/values.yaml", "image: helloservice:1.2.0\nreplicaCount: 1\n", "ship 1.2.0")
        waiting = wait_until(lambda: [r for r in service.index.runs(stage="production")
                                      if r["state"] == "waitingForApproval"], timeout=90,
                             what="the production approval")[0]
        staging = [r for r in service.index.runs(stage="staging") if r["context"] == waiting["context"]][0]
        if down:       # the sequence went on as if there were no forge; the failures were only logged
            assert forge.statuses == [] and forge.pulls == {}
            return
        dev_status = wait_until(lambda: forge.status(commit, "reconciler/dev/helloservice/evaluation"),
                                timeout=10, what="the dev evaluation's status")
        assert dev_status["state"] == "success" and dev_status["description"].startswith("quality gate pass")
        assert wait_until(lambda: forge.status(staging["gitcommitid"], "reconciler/staging/helloservice/evaluation"),
                          timeout=10, what="the staging evaluation's status")
        [pr] = forge.pulls.values()
        assert pr.head == contract.approval_branch("production", "helloservice", waiting["context"])
        comment = wait_until(lambda: forge.comments.get(pr.number), timeout=10, what="the PR comment")[0]
        assert "Quality gate of helloservice in staging: pass" in comment["body"]
