"""Slack and Teams notifications: which events, payloads in the documented shapes, filters,
retries, the URL from the environment, and a storm held by the rate limit."""
from __future__ import annotations

import json
from itertools import count

import jsonschema
import pytest
from pydantic import ValidationError

from reconciler.controller.chat import ChatNotifier, TokenBucket
from reconciler.controller.chatmessages import generic_payload, notice_for, slack_payload, teams_payload
from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import Settings
from tests.support.chat_schemas import SLACK_MESSAGE, TEAMS_MESSAGE
from tests.support.webhooks import Receiver

_IDS = count(1)                         # CloudEvent ids are required: one per event here
TIME = "2026-01-01T00:00:00.000Z"


def event(type_: str, context: str = "ctx-1", **data) -> CloudEvent:
    return CloudEvent(type=type_, data={"project": "hello", "stage": "production", "service": "web", **data},
                      shkeptncontext=context, id=f"ev-{next(_IDS)}", time=TIME)


FINISHED = event("sh.keptn.event.production.delivery.finished", result="pass", status="succeeded")
FAILED = event("sh.keptn.event.production.delivery.finished", result="fail", status="succeeded",
               message="Evaluation failed since the calculated score of 33 is below the target value of 90")
WAITING = event("sh.keptn.event.approval.started", approval={
    "branch": "approve/production/web/abc123", "pullRequest": {"kind": "github", "url": "https://forge.example/pr/7"}})
ACTION = event("sh.keptn.event.action.finished", result="pass", status="succeeded", action={"gitCommit": "abc"})
ESCALATION = event("sh.keptn.event.escalation.triggered")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def settings(*targets: dict) -> Settings:
    return Settings.from_data({"spec": {"notifications": list(targets)}})


def test_which_events_become_which_notifications():
    assert [notice_for(e).event for e in (FINISHED, FAILED, WAITING, ACTION, ESCALATION)] == [
        "sequence.finished", "sequence.failed", "approval.waiting", "remediation", "escalation"]
    assert notice_for(event("sh.keptn.event.production.delivery.finished", result="pass",
                            status="errored")).event == "sequence.failed"
    assert notice_for(event("sh.keptn.event.deployment.triggered")) is None
    assert notice_for(event("sh.keptn.event.approval.finished", result="pass")) is None
    waiting = notice_for(WAITING)
    assert waiting.link == "https://forge.example/pr/7" and "approve/production/web/abc123" in waiting.text
    assert "score of 33" in notice_for(FAILED).text


@pytest.mark.parametrize("source", [FINISHED, FAILED, WAITING, ACTION, ESCALATION])
def test_slack_and_teams_payloads_have_the_documented_shapes(source):
    notice = notice_for(source)
    for suppressed in (0, 12):
        jsonschema.validate(slack_payload(notice, suppressed), SLACK_MESSAGE)
        jsonschema.validate(teams_payload(notice, suppressed), TEAMS_MESSAGE)
    slack = slack_payload(notice)
    assert slack["blocks"][0]["text"]["text"] == notice.title
    assert {"type": "mrkdwn", "text": "*Stage*\nproduction"} in slack["blocks"][1]["fields"]
    card = teams_payload(notice)["attachments"][0]["content"]
    assert {"title": "Service", "value": "web"} in card["body"][2]["facts"]


def test_long_texts_are_cut_to_slacks_limits():
    notice = notice_for(event("sh.keptn.event.production.delivery.finished", result="fail", status="succeeded",
                              service="s" * 400, message="m" * 5000))
    payload = slack_payload(notice)
    jsonschema.validate(payload, SLACK_MESSAGE)
    assert len(payload["blocks"][0]["text"]["text"]) == 150 and payload["blocks"][0]["text"]["text"].endswith("…")


def test_the_validators_reject_a_wrong_shape():
    payload = slack_payload(notice_for(FAILED))
    payload["blocks"][0]["text"]["type"] = "mrkdwn"              # headers take plain_text only
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, SLACK_MESSAGE)
    card = teams_payload(notice_for(FAILED))
    card["attachments"][0]["content"]["body"][2]["facts"][0]["name"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(card, TEAMS_MESSAGE)


def test_the_generic_template_fills_placeholders_and_keeps_unknown_ones():
    template = {"summary": "{title}", "labels": {"stage": "{stage}", "result": "{result}"},
                "lines": ["{message}", "{nope}"], "count": 3}
    body = generic_payload(template, notice_for(FAILED))
    assert body["labels"] == {"stage": "production", "result": "fail"}
    assert body["lines"][1] == "{nope}" and body["count"] == 3
    assert body["summary"].startswith("delivery of web in production failed")


def test_targets_get_what_their_filters_select_in_their_format(receiver):
    notifier = ChatNotifier(lambda: settings(
        {"name": "slack", "kind": "slack", "urlEnv": "SLACK_URL", "events": ["sequence.failed", "escalation"]},
        {"name": "teams", "kind": "teams", "url": receiver.url + "/teams", "stages": ["staging"]},
        {"name": "ops", "kind": "generic", "url": receiver.url + "/generic", "services": ["web"],
         "events": ["approval.waiting"], "template": {"text": "{title}"}}),
        environ={"SLACK_URL": receiver.url + "/slack"})
    try:
        for source in (FINISHED, FAILED, WAITING, ACTION, ESCALATION):
            notifier.send(source)
        assert notifier.drain()
    finally:
        notifier.close()
    bodies = [json.loads(body) for _, body in receiver.requests]
    slack = [b for b in bodies if "blocks" in b]
    assert [b["blocks"][0]["text"]["text"].split(":")[0].split(" ")[0] for b in slack] == ["delivery", "Escalation"]
    assert not [b for b in bodies if b.get("type") == "message"]              # teams wants staging only
    assert [b for b in bodies if set(b) == {"text"}] == [{"text": "Approval waiting: web in production"}]
    assert notifier.delivered == 3 and notifier.failed == 0


def test_failures_are_retried_and_a_missing_url_is_an_error_not_a_crash():
    receiver = Receiver(fail_first=2)
    try:
        notifier = ChatNotifier(lambda: settings(
            {"name": "slack", "kind": "slack", "urlEnv": "SLACK_URL", "retries": 3},
            {"name": "teams", "kind": "teams", "urlEnv": "TEAMS_URL"}),
            environ={"SLACK_URL": receiver.url}, base_delay=0.01)
        try:
            notifier.send(FAILED)
            assert notifier.drain()
        finally:
            notifier.close()
        assert len(receiver.requests) == 3                       # 503, 503, then accepted
        assert notifier.delivered == 1 and notifier.failed == 1   # teams: TEAMS_URL is not set
    finally:
        receiver.close()


def test_a_notification_storm_is_rate_limited_and_the_next_message_says_so(receiver):
    clock = Clock()
    notifier = ChatNotifier(lambda: settings({"name": "slack", "kind": "slack", "url": receiver.url,
                                              "rateLimit": {"count": 5, "per": "1m"}}), clock=clock)
    try:
        for i in range(200):                          # a flapping alert: 200 remediation rounds at once
            notifier.send(event("sh.keptn.event.action.finished", context=f"ctx-{i}", result="fail"))
        assert notifier.drain()
        assert len(receiver.requests) == 5 and notifier.rate_limited == 195
        clock.now += 12                               # one token back (5 per minute)
        notifier.send(FAILED)
        assert notifier.drain()
    finally:
        notifier.close()
    assert len(receiver.requests) == 6
    last = json.loads(receiver.requests[-1][1])
    assert "195 earlier notification(s) dropped by the rate limit" in last["blocks"][1]["text"]["text"]


def test_the_token_bucket_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(2, 10.0, clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 5
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 100
    assert [bucket.take() for _ in range(3)] == [True, True, False]     # never more than the burst


@pytest.mark.parametrize("target,message", [
    ({"name": "a", "kind": "slack", "url": "http://x", "urlEnv": "X"}, "exactly one of url and urlEnv"),
    ({"name": "a", "kind": "slack"}, "exactly one of url and urlEnv"),
    ({"name": "a", "kind": "generic", "url": "http://x"}, "needs a template"),
    ({"name": "a", "kind": "teams", "url": "http://x", "template": {}}, "only for kind generic"),
    ({"name": "a", "kind": "slack", "url": "http://x", "events": ["sequence.done"]}, "sequence.done"),
])
def test_bad_notification_settings_are_refused(target, message):
    with pytest.raises(ValidationError, match=message):
        settings(target)


def test_reconciler_yaml_validation_names_the_line_of_a_bad_notification():
    from reconciler.spec.validate import validate_document
    good = ("apiVersion: reconciler/v1\nkind: Settings\nspec:\n  notifications:\n"
            "    - {name: team, kind: slack, urlEnv: SLACK_URL, events: [sequence.failed],\n"
            "       rateLimit: {count: 5, per: 1m}}\n"
            "    - {name: ops, kind: generic, url: 'http://127.0.0.1:9/hook', template: {text: '{title}'}}\n")
    assert [f for f in validate_document(good, name="main:reconciler.yaml") if f.severity == "error"] == []
    bad = good.replace("events: [sequence.failed]", "events: [sequence.done]")
    findings = [f for f in validate_document(bad, name="main:reconciler.yaml") if f.severity == "error"]
    assert findings and findings[0].line == 5, findings
    both = good.replace("urlEnv: SLACK_URL", "urlEnv: SLACK_URL, url: 'http://x'")
    assert [f for f in validate_document(both, name="main:reconciler.yaml") if f.severity == "error"]


def test_429_waits_for_retry_after_and_outcomes_are_counted_on_metrics():
    from reconciler.controller.metrics import Metrics
    receiver = Receiver(answers=[(429, {"Retry-After": "0.2"}), (202, {}), (400, {})])
    metrics = Metrics()
    try:
        notifier = ChatNotifier(lambda: settings({"name": "slack", "kind": "slack", "url": receiver.url}),
                                base_delay=0.01, metrics=metrics)
        try:
            notifier.send(FAILED)          # 429, then accepted after Retry-After
            notifier.send(ESCALATION)      # 400: not retried
            assert notifier.drain()
        finally:
            notifier.close()
        assert len(receiver.requests) == 3      # the 429 was retried, the 400 was not
        assert [json.loads(body)["blocks"][0]["text"]["text"].split(" ")[0] for _, body in receiver.requests] == [
            "delivery", "delivery", "Escalation:"]
        value = metrics.registry.get_sample_value
        assert value("reconciler_notifications_total", {"target": "slack", "outcome": "delivered"}) == 1
        assert value("reconciler_notifications_total", {"target": "slack", "outcome": "failed"}) == 1
    finally:
        receiver.close()
