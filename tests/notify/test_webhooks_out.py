"""Outbound webhooks: subscriptions by pattern, HMAC-signed CloudEvents, retries, escalation."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from reconciler.controller.notify import WebhookNotifier
from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import Settings
from tests.support.webhooks import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def settings(url: str, **extra) -> Settings:
    return Settings.from_data({"spec": {"webhooks": [{"name": "chat", "url": url, "secretEnv": "CHAT_SECRET",
                                                       "events": ["sh.keptn.event.*.delivery.finished"],
                                                       "retries": 3}], **extra}})


def event(type_: str) -> CloudEvent:
    return CloudEvent(type=type_, data={"project": "hello", "stage": "dev", "service": "helloservice",
                                        "result": "pass"}, shkeptncontext="ctx-1",
                      id=f"{type_}/1", time="2026-01-01T00:00:00.000Z")


def test_matching_events_are_posted_signed_and_others_are_not(receiver):
    notifier = WebhookNotifier(lambda: settings(receiver.url), environ={"CHAT_SECRET": "k"})
    try:
        notifier.send(event("sh.keptn.event.dev.delivery.finished"))
        notifier.send(event("sh.keptn.event.deployment.triggered"))      # no subscription matches
        assert notifier.drain()
    finally:
        notifier.close()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/cloudevents+json"
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert headers["X-Reconciler-Signature"] == expected
    sent = json.loads(body)
    assert sent["type"] == "sh.keptn.event.dev.delivery.finished" and sent["specversion"] == "1.0"


def test_server_errors_are_retried_with_backoff():
    receiver = Receiver(fail_first=2)
    notifier = WebhookNotifier(lambda: settings(receiver.url), environ={"CHAT_SECRET": "k"}, base_delay=0.01)
    try:
        notifier.send(event("sh.keptn.event.dev.delivery.finished"))
        assert notifier.drain()
    finally:
        notifier.close()
        receiver.close()
    assert len(receiver.requests) == 3 and notifier.delivered == 1


def test_a_missing_secret_sends_nothing_rather_than_unsigned(receiver):
    notifier = WebhookNotifier(lambda: settings(receiver.url), environ={})
    try:
        notifier.send(event("sh.keptn.event.dev.delivery.finished"))
        assert notifier.drain()
    finally:
        notifier.close()
    assert receiver.requests == [] and notifier.failed == 1


def test_escalations_reach_the_escalation_webhook_whatever_its_patterns(receiver):
    s = settings(receiver.url, remediation={"escalationWebhook": "chat"})
    notifier = WebhookNotifier(lambda: s, environ={"CHAT_SECRET": "k"})
    try:
        notifier.escalate(event("sh.keptn.event.escalation.triggered"))
        assert notifier.drain()
    finally:
        notifier.close()
    assert [json.loads(b)["type"] for _, b in receiver.requests] == ["sh.keptn.event.escalation.triggered"]
