"""Issue 4: webhooks cause a fetch only when signed; the API requires a token."""
from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from tests.support.waiting import wait_until

SECRET = "s3cret-webhook"


@pytest.fixture
def service(origin, service_factory):
    # no watch, no polling: only a webhook can make this controller look at the remote
    return service_factory(origin.url, poll=0, watch=False, environ={"RECONCILER_WEBHOOK_SECRET": SECRET})


def github(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": "push", "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def push_change(human_factory, origin, image: str) -> str:
    return human_factory(origin.url, "dev").change("helloservice/values.yaml",
                                                   f"image: helloservice:{image}\nreplicaCount: 1\n", image)


def test_signed_github_webhook_triggers_a_fetch(service, origin, human_factory):
    commit = push_change(human_factory, origin, "5.0.0")
    body = json.dumps({"ref": "refs/heads/dev"}).encode()
    r = httpx.post(service.url + "/webhooks/github", content=body, headers=github(body))
    assert r.status_code == 202
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    assert run["trigger_commit"] == commit


@pytest.mark.parametrize("forge,headers", [
    ("github", {"X-GitHub-Event": "push"}),                                        # unsigned
    ("github", {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64}),   # forged
    ("gitea", {"X-Gitea-Event": "push", "X-Gitea-Signature": "deadbeef"}),
    ("gitlab", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}),
    ("generic", {}),
])
def test_unsigned_or_forged_webhooks_are_refused_and_change_nothing(service, origin, human_factory, forge, headers):
    push_change(human_factory, origin, "6.0.0")
    r = httpx.post(f"{service.url}/webhooks/{forge}", content=b'{"ref":"refs/heads/dev"}', headers=headers)
    assert r.status_code == 401
    # nothing was fetched: a correctly signed generic webhook afterwards finds the push new
    assert service.mirror.tip("dev") != git_tip(origin, "dev")
    assert service.index.runs() == []


def test_signed_with_the_wrong_secret_is_refused(service, origin, human_factory):
    body = b'{"ref":"refs/heads/dev"}'
    r = httpx.post(service.url + "/webhooks/github", content=body, headers=github(body, "other-secret"))
    assert r.status_code == 401


def test_oversized_webhook_is_refused(service):
    body = b"x" * (5 * 1024 * 1024 + 10)
    r = httpx.post(service.url + "/webhooks/github", content=body, headers=github(body))
    assert r.status_code == 413


def test_webhooks_are_refused_when_no_secret_is_configured(origin, service_factory):
    service = service_factory(origin.url, name="nosecret", poll=0, watch=False)
    body = b"{}"
    r = httpx.post(service.url + "/webhooks/github", content=body, headers=github(body))
    assert r.status_code == 401 and r.json()["code"] == "webhook-disabled"


def test_api_requires_the_token(service):
    assert httpx.get(service.url + "/api/v1/sequences").status_code == 401
    assert httpx.get(service.url + "/api/v1/sequences", headers={"x-token": "wrong"}).status_code == 401
    ok = httpx.get(service.url + "/api/v1/sequences", headers={"x-token": "test-token"})
    assert ok.status_code == 200 and ok.json() == {"sequences": []}
    bearer = httpx.get(service.url + "/api/v1/status", headers={"Authorization": "Bearer test-token"})
    assert bearer.status_code == 200 and bearer.json()["config"]["valid"] is True


def test_health_readiness_and_metrics(service):
    assert httpx.get(service.url + "/healthz").json()["alive"] is True
    assert httpx.get(service.url + "/readyz").json() == {"ready": True, "reason": "ready"}
    text = httpx.get(service.url + "/metrics").text
    assert "reconciler_fetch_seconds_bucket" in text and "reconciler_active_runs" in text
    assert httpx.get(service.url + "/").status_code == 302          # the web UI wants a login
    page = httpx.get(service.url + "/status", params={"token": "test-token"}, follow_redirects=True)
    assert page.status_code == 200 and "Active sequences" in page.text


def test_api_event_answers_an_external_task_and_rejects_unknown_ones(service, origin, human_factory):
    push_change(human_factory, origin, "7.0.0")
    body = b'{"ref":"refs/heads/dev"}'
    httpx.post(service.url + "/webhooks/github", content=body, headers=github(body))
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    headers = {"x-token": "test-token"}
    triggered = httpx.get(f"{service.url}/api/v1/events/triggered/sh.keptn.event.deployment.triggered",
                          headers=headers).json()["events"]
    assert len(triggered) == 1
    task = triggered[0]

    unknown = {"type": "sh.keptn.event.deployment.finished", "source": "ext", "shkeptncontext": run["context"],
               "triggeredid": "no-such-id", "data": {"project": "hello", "stage": "dev", "service": "helloservice",
                                                      "result": "pass", "status": "succeeded"}}
    r = httpx.post(service.url + "/api/v1/event", json=unknown, headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "unknown-triggeredid"

    finished = dict(unknown, triggeredid=task["id"])
    r = httpx.post(service.url + "/api/v1/event", json=finished, headers=headers)
    assert r.status_code == 202, r.text
    wait_until(lambda: service.index.runs()[0]["task"] == "test", what="the next task")


def test_abort_through_the_api(service, origin, human_factory):
    push_change(human_factory, origin, "8.0.0")
    body = b'{"ref":"refs/heads/dev"}'
    httpx.post(service.url + "/webhooks/generic", content=body,
               headers={"X-Reconciler-Signature": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()})
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    r = httpx.post(f"{service.url}/api/v1/sequences/{run['context']}/control", json={"state": "abort"},
                   headers={"x-token": "test-token"})
    assert r.status_code == 200, r.text
    done = wait_until(lambda: [x for x in service.index.runs() if x["state"] == "aborted"], what="the abort")[0]
    assert (done["result"], done["status"]) == ("fail", "aborted")


def git_tip(origin, branch: str) -> str:
    from tests.support.remotes import git_out
    return git_out("rev-parse", branch, cwd=origin.path)
