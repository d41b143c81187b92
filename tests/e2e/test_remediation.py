"""Issue 6: Alertmanager alerts drive the remediation loop: scale by commit, re-evaluate,
escalate when actions run out; duplicate alerts open one remediation, resolved ones close it."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from reconciler import contract
from tests.support.remotes import git_out
from tests.support.waiting import wait_until
from tests.support.webhooks import Receiver


def alert(status: str = "firing", fingerprint: str = "f1nger", starts: str = "2026-11-21T10:00:00Z") -> dict:
    return {"receiver": "reconciler", "status": status, "version": "4", "groupKey": "{}", "alerts": [{
        "status": status, "fingerprint": fingerprint, "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-21T10:05:00Z",
        "labels": {"alertname": "response_time", "stage": "production", "service": "helloservice",
                   "severity": "critical"},
        "annotations": {"summary": "response time of helloservice in production is too high"},
        "generatorURL": "http://prometheus/graph"}]}


def post(service, payload: dict) -> httpx.Response:
    return httpx.post(service.url + "/webhooks/alertmanager", json=payload,
                      headers={"Authorization": "Bearer test-token"}, timeout=30)


def remediation_runs(service) -> list[dict]:
    return sorted(service.index.runs(stage="production", service="helloservice", limit=100),
                  key=lambda r: r["idx"])


def replicas(origin) -> str:
    values = git_out("show", "production:helloservice/values.yaml", cwd=origin)
    return next(line for line in values.splitlines() if line.startswith("replicaCount"))


@pytest.mark.slow
@pytest.mark.project(production_target="none")
def test_an_alert_scales_by_commit_and_the_loop_stops_when_the_evaluation_passes(project, e2e_service):
    project.set_sli("production", "helloservice", 900)
    project.await_sli("production", "helloservice", 900)
    service = e2e_service(project.origin)
    answer = post(service, alert())
    assert answer.status_code == 202 and answer.json()["alerts"][0]["code"] == "opened"
    context = answer.json()["alerts"][0]["context"]
    # the action commits the new replica count (comments kept); then the problem goes away
    wait_until(lambda: replicas(project.origin) == "replicaCount: 4   # production-specific", timeout=60,
               what="the scaling commit")
    project.set_sli("production", "helloservice", 100)
    project.await_sli("production", "helloservice", 100)
    first = wait_until(lambda: [r for r in remediation_runs(service) if r["state"] == "finished"], timeout=60,
                       what="the remediation run")[0]
    assert (first["sequence"], first["result"]) == ("remediation", "pass"), first
    assert first["context"] == context
    assert len(remediation_runs(service)) == 1                    # the evaluation passed: no second round
    message = git_out("log", "-1", "--format=%B", "production", cwd=project.origin)
    assert f"Reconciler-Context: {context}" in message and "Reconciler-Event: sh.keptn.event.action" in message


@pytest.mark.slow
@pytest.mark.project(production_target="none",
                     settings_extra="  webhooks: [{name: pager, url: URL, events: [none], secretEnv: PAGER_SECRET}]\n"
                                    "  remediation: {escalationWebhook: pager}\n")
def test_running_out_of_actions_escalates(project, e2e_service, tmp_path):
    receiver = Receiver()
    try:
        settings = git_out("show", "main:reconciler.yaml", cwd=project.origin).replace("URL", receiver.url)
        _rewrite(project.origin, "main", "reconciler.yaml", settings, tmp_path)
        project.set_sli("production", "helloservice", 900)              # stays bad
        project.await_sli("production", "helloservice", 900)
        service = e2e_service(project.origin, environ={"PAGER_SECRET": "pager-key"})
        context = post(service, alert()).json()["alerts"][0]["context"]
        runs = wait_until(lambda: len(remediation_runs(service)) == 3
                          and all(r["state"] == "finished" for r in remediation_runs(service))
                          and remediation_runs(service), timeout=90, what="three remediation rounds")
        assert [r["result"] for r in runs] == ["fail", "fail", "fail"]
        assert [r["task"] for r in runs][-1] in (None, "get-action")
        assert replicas(project.origin) == "replicaCount: 6   # production-specific"     # 3 + 1 + 2
        # the escalation: a record on the results branch, an event, and the pager webhook
        path = f"escalations/production/helloservice/{context}.json"
        doc = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{path}", cwd=project.origin))
        assert doc["event"]["type"] == "sh.keptn.event.escalation.triggered"
        assert [e["type"] for e in service.index.events(type_prefix="sh.keptn.event.escalation.")] == \
            ["sh.keptn.event.escalation.triggered"]
        wait_until(lambda: receiver.requests, timeout=10, what="the escalation webhook")
        # and on /metrics (issue 16): two actions, each re-evaluated and failing, then one escalation
        value = service.metrics.registry.get_sample_value
        where = {"stage": "production", "service": "helloservice"}
        assert value("reconciler_escalations_total", where) == 1
        assert value("reconciler_remediation_actions_total", {**where, "result": "pass"}) == 2
        assert value("reconciler_evaluations_total", {**where, "result": "fail"}) == 2
        headers, body = receiver.requests[0]
        assert json.loads(body)["type"] == "sh.keptn.event.escalation.triggered"
        assert headers["X-Reconciler-Signature"] == "sha256=" + hmac.new(b"pager-key", body, hashlib.sha256).hexdigest()
        # the web UI's problems view: the alert, each round's scaling commit, the escalation
        page = httpx.get(service.url + "/problems", params={"token": "test-token"}, follow_redirects=True,
                         timeout=30).text
        assert "response time of helloservice in production is too high" in page and "f1nger" in page
        assert "alertname=response_time" in page and page.count("closed") == 3
        assert "3 -&gt; 4 replica(s)" in page and "4 -&gt; 6 replica(s)" in page
        assert context[:8] in page.split("<h2>Escalations</h2>")[1]
    finally:
        receiver.close()


@pytest.mark.slow
@pytest.mark.project(production_target="none")
def test_duplicate_alerts_open_one_remediation_and_a_resolved_alert_closes_it(project, e2e_service):
    project.set_sli("production", "helloservice", 900)
    project.await_sli("production", "helloservice", 900)
    service = e2e_service(project.origin)
    first = post(service, alert()).json()["alerts"][0]
    again = post(service, alert()).json()["alerts"][0]
    assert first["code"] == "opened" and (again["accepted"], again["code"]) == (False, "duplicate")
    assert again["context"] == first["context"]
    resolved = post(service, alert("resolved")).json()["alerts"][0]
    assert resolved["code"] == "closed"
    run = wait_until(lambda: [r for r in remediation_runs(service) if r["state"] == "aborted"], timeout=30,
                     what="the closed remediation")[0]
    assert run["context"] == first["context"]
    # an alert without stage/service labels cannot be routed and says why
    unroutable = alert(fingerprint="other")
    del unroutable["alerts"][0]["labels"]["stage"]
    answer = post(service, unroutable).json()
    assert answer["alerts"] == [] and "stage" in answer["rejected"][0]["reason"]


def _rewrite(origin, branch: str, path: str, text: str, tmp_path) -> None:
    from tests.support.remotes import Human
    human = Human(str(origin), tmp_path / "editor", branch)
    human.change(path, text, f"configure {path}")


def scaling_commits(origin) -> list[str]:
    return [s for s in git_out("log", "--format=%s", "production", cwd=origin).splitlines()
            if s.startswith("scale helloservice")]


def replica_count(origin) -> int:
    return int(replicas(origin).split(":")[1].split("#")[0])


@pytest.mark.slow
@pytest.mark.project(production_target="none",
                     settings_extra="  remediation: {limits: {refireWindow: 3s, cooldown: 10m, maxReplicas: 4}}\n")
def test_a_hundred_fire_resolve_cycles_run_at_most_the_listed_actions(project, e2e_service):
    """Issue 13: Alertmanager sends a new startsAt on every re-fire; 100 fire/resolve cycles of
    one alert (as fast as the webhook answers, ~10 s) must not become 100 remediations."""
    project.set_sli("production", "helloservice", 900)                     # stays bad
    project.await_sli("production", "helloservice", 900)
    service = e2e_service(project.origin)
    codes: list[tuple[int, str]] = []
    for i in range(100):
        starts = f"2026-11-21T10:{i // 60:02d}:{i % 60:02d}Z"
        for status in ("firing", "resolved"):
            answer = post(service, alert(status, starts=starts))
            codes.append((answer.status_code, answer.json()["alerts"][0]["code"]))
    assert codes[:2] == [(202, "opened"), (202, "closed")], codes[:4]
    assert [c for c in codes if c[1] == "opened"] == [(202, "opened")]
    assert {c for c in codes[2:]} <= {(200, "joined"), (200, "ignored: cooldown"), (200, "nothing-open")}
    # once the re-fire window has passed, the cooldown answers
    wait_until(lambda: post(service, alert(starts="2026-11-21T11:00:00Z")).json()["alerts"][0]["code"]
               == "ignored: cooldown", timeout=20, interval=0.5, what="the cooldown answer")
    runs = wait_until(lambda: all(r["state"] in ("finished", "aborted") for r in remediation_runs(service))
                      and remediation_runs(service), timeout=60, what="the remediation to end")
    assert len({r["context"] for r in runs}) == 1 and len(runs) <= 2, runs
    # at most the two listed actions ran, and scaling never passed maxReplicas (3 at the start)
    assert len(scaling_commits(project.origin)) <= 2
    assert 3 <= replica_count(project.origin) <= 4


@pytest.mark.slow
@pytest.mark.project(production_target="none",
                     settings_extra="  remediation: {limits: {refireWindow: 1s, cooldown: 3s, actionsPerHour: 2, "
                                    "maxReplicas: 4}}\n")
def test_slow_flapping_respects_the_cooldown_the_action_cap_and_the_replica_bound(project, e2e_service):
    project.set_sli("production", "helloservice", 900)
    project.await_sli("production", "helloservice", 900)
    service = e2e_service(project.origin)

    def fire(starts: str, status: str = "firing") -> tuple[int, dict]:
        answer = post(service, alert(status, starts=starts))
        return answer.status_code, answer.json()["alerts"][0]

    status, first = fire("2026-11-21T10:00:00Z")
    assert (status, first["code"]) == (202, "opened")
    wait_until(lambda: replica_count(project.origin) == 4, timeout=60, what="the first scaling commit")
    assert fire("2026-11-21T10:00:00Z", "resolved")[1]["code"] == "closed"
    closed_at = time.monotonic()
    # re-fired at once: joins the remediation that just closed (its context), nothing opens
    status, joined = fire("2026-11-21T10:01:00Z")
    assert (status, joined["code"], joined["context"]) == (200, "joined", first["context"])
    time.sleep(max(0.0, closed_at + 1.5 - time.monotonic()))
    status, cooling = fire("2026-11-21T10:02:00Z")
    assert (status, cooling["code"]) == (200, "ignored: cooldown") and "cooldown" in cooling["reason"]
    # after the cooldown a new remediation opens; its scaling is refused at maxReplicas (4)
    time.sleep(max(0.0, closed_at + 3.5 - time.monotonic()))
    status, second = fire("2026-11-21T10:03:00Z")
    assert (status, second["code"]) == (202, "opened") and second["context"] != first["context"]
    ended = wait_until(lambda: [r for r in remediation_runs(service) if r["context"] == second["context"]
                                and r["state"] == "finished"], timeout=60, what="the second remediation")
    assert ended[0]["result"] == "fail" and "at or above the maximum of 4" in ended[0]["message"], ended
    assert replica_count(project.origin) == 4 and len(scaling_commits(project.origin)) == 1
    # two actions in the hour (the second one refused) reach actionsPerHour: 2
    time.sleep(3.5)
    status, capped = fire("2026-11-21T10:04:00Z")
    assert (status, capped["code"]) == (200, "ignored: action cap") and "cap 2" in capped["reason"]
    assert len({r["context"] for r in remediation_runs(service)}) == 2


@pytest.mark.slow
@pytest.mark.project(production_target="none",
                     settings_extra="  remediation: {limits: {refireWindow: 0s, cooldown: 10m}}\n")
def test_the_cooldown_survives_a_restart(project, e2e_service):
    """The history comes from the record (the index of reconciler/results), not from memory."""
    service = e2e_service(project.origin)
    first = post(service, alert()).json()["alerts"][0]
    assert first["code"] == "opened"
    assert post(service, alert("resolved")).json()["alerts"][0]["code"] == "closed"
    wait_until(lambda: [r for r in remediation_runs(service) if r["state"] == "aborted"], timeout=30,
               what="the closed remediation")
    service.stop()
    again = e2e_service(project.origin, name="fresh")          # same origin, a fresh work dir
    answer = post(again, alert(starts="2026-11-21T10:30:00Z")).json()["alerts"][0]
    assert (answer["code"], answer["context"]) == ("ignored: cooldown", first["context"])
    assert len(remediation_runs(again)) == 1
