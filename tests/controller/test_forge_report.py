"""Gate results as commit statuses and an in-place PR comment, on each fake forge; a forge
that is down costs the controller nothing (tests/support/forge.py speaks each forge's API)."""
from __future__ import annotations

from itertools import count

import pytest

from reconciler.controller.forgereport import ForgeReporter, status_for
from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import ForgeSettings, Settings
from reconciler.tasks.forges.registry import from_settings
from tests.support.forge import TOKEN, fake_forge

_IDS = count(1)                         # CloudEvent ids are required: one per event here
TIME = "2026-01-01T00:00:00.000Z"

SHA = "89abcdef0123456789abcdef0123456789abcdef"
FIX = "fedcba9876543210fedcba9876543210fedcba98"
INDICATORS = [{"displayName": "Response time p95", "value": {"metric": "response_time_p95", "value": 912.0,
                                                              "success": True},
               "status": "fail", "score": 0}]


def evaluation(result: str, score: float, commit: str = SHA, context: str = "ctx-1") -> CloudEvent:
    return CloudEvent(type="sh.keptn.event.evaluation.finished", shkeptncontext=context,
                      id=f"ev-{next(_IDS)}", time=TIME,
                      data={"project": "shop", "stage": "staging", "service": "web", "result": result,
                            "evaluation": {"result": result, "score": score, "gitCommit": commit,
                                           "indicatorResults": INDICATORS}})


def approval_started(number: int, context: str = "ctx-1") -> CloudEvent:
    return CloudEvent(type="sh.keptn.event.approval.started", shkeptncontext=context,
                      id=f"ev-{next(_IDS)}", time=TIME,
                      data={"project": "shop", "stage": "production", "service": "web", "approval": {
                          "branch": "approve/production/web/ctx", "pullRequest": {"number": number}}})


def settings(forge, statuses: bool = True) -> Settings:
    return Settings.from_data({"spec": {"forge": {
        "kind": forge.kind, "url": forge.api, "repository": forge.repository, "statuses": statuses,
        "statusUrl": "https://reconciler.example/?context={context}&stage={stage}"}}})


def test_which_events_set_which_status():
    failed = status_for(evaluation("fail", 33.3))
    assert (failed.commit, failed.state, failed.context) == (SHA, "failure", "reconciler/staging/web/evaluation")
    assert failed.description == "quality gate fail: score 33.3"
    assert status_for(evaluation("warning", 75)).state == "success"
    action = CloudEvent(type="sh.keptn.event.action.finished", shkeptncontext="c",
                        id=f"ev-{next(_IDS)}", time=TIME, data={
        "stage": "production", "service": "web", "result": "pass", "action": {"gitCommit": FIX}})
    assert (status_for(action).commit, status_for(action).context) == (FIX, "reconciler/production/web/remediation")
    rollback = CloudEvent(type="sh.keptn.event.rollback.finished", shkeptncontext="c",
                          id=f"ev-{next(_IDS)}", time=TIME, data={
        "stage": "staging", "service": "web", "result": "pass", "rollback": {"gitCommit": FIX}})
    assert (status_for(rollback).context, status_for(rollback).description) == (
        "reconciler/staging/web/rollback", "rollback pass")
    assert status_for(CloudEvent(type="sh.keptn.event.deployment.finished", shkeptncontext="c",
                        id=f"ev-{next(_IDS)}", time=TIME, data={})) is None


@pytest.mark.parametrize("kind", ["github", "gitea", "gitlab"])
def test_a_failing_gate_sets_a_failure_status_and_the_approval_pr_gets_one_comment(kind):
    with fake_forge(kind) as forge:
        pr = from_settings(ForgeSettings(kind=kind, url=forge.api, repository=forge.repository), "file:///x.git",
                           environ={"RECONCILER_FORGE_TOKEN": TOKEN}).open_pull_request(
            "approve/production/web/ctx", "production", "approve", "")
        reporter = ForgeReporter(lambda: settings(forge), "file:///x.git", environ={"RECONCILER_FORGE_TOKEN": TOKEN})
        try:
            reporter.send(evaluation("fail", 33.3))
            reporter.send(approval_started(pr.number))
            reporter.send(evaluation("pass", 100.0))           # re-evaluated: the same comment changes
            assert reporter.drain()
        finally:
            reporter.close()
        status = forge.status(SHA, "reconciler/staging/web/evaluation")
        assert status["state"] == "success" and status["description"] == "quality gate pass: score 100"
        assert [s["state"] for s in forge.statuses] == (["failed", "success"] if kind == "gitlab"
                                                        else ["failure", "success"])
        assert status["target_url"] == "https://reconciler.example/?context=ctx-1&stage=staging"
        [comment] = forge.comments[pr.number]
        assert "| Response time p95 | 912.0 | fail | 0 |" in comment["body"]
        assert "Quality gate of web in staging: pass**, score 100.0" in comment["body"]
        assert reporter.failed == 0


def test_nothing_is_reported_unless_statuses_are_on():
    with fake_forge("github") as forge:
        reporter = ForgeReporter(lambda: settings(forge, statuses=False), "file:///x.git", environ={})
        try:
            reporter.send(evaluation("fail", 10))
            assert reporter.drain()
        finally:
            reporter.close()
        assert forge.requests == []


def test_a_forge_that_is_down_is_counted_and_never_raises():
    with fake_forge("github") as forge:
        forge.down = True
        reporter = ForgeReporter(lambda: settings(forge), "file:///x.git", environ={"RECONCILER_FORGE_TOKEN": TOKEN})
        try:
            for i in range(5):
                reporter.send(evaluation("fail", i, context=f"ctx-{i}"))      # returns at once: queued
            assert reporter.drain()
        finally:
            reporter.close()
        assert reporter.failed == 5 and forge.statuses == []
