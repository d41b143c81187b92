"""Issue 10: every event JSONPath that a real job config (../shared/corpus/keptn, MANIFEST.tsv)
reads resolves against the events we emit for that task.

The events come from a real controller with the built-in executors, a real remote and the
local target: a pushed delivery (deployment, test, evaluation, release) that staging's gate
fails (rollback), an Alertmanager alert (get-action, action), and the custom tasks of the
corpus in a sequence triggered through Keptn's API, answered by a job config.

Rules, as the job-executor-service applies them:
* an action's `jsonpath` filter is a condition: it must resolve in at least one emitted event
  of its type (else the action could never run on our events);
* `valueFrom: event` paths must resolve in every emitted event the action matches (else its
  job fails; every event of the type when its filter names a value our run did not use),
  except paths into data the sender of the trigger provides (`labels`, and fields
  outside Keptn's event spec such as `additionalData`): those must resolve in the events of
  the context whose trigger carried them.
"""
from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from reconciler.spec.jobconfig import load_jobconfig
from reconciler.tasks.jobs.jsonpath import JsonPathError, evaluate
from reconciler.tasks.jobs.matching import type_matches
from tests.support.waiting import wait_until

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "keptn"
SENDER_ROOTS = ("$.data.labels", "$.data.additionalData")
CUSTOM_TASKS = ("remote-task", "hello-world", "je-deployment", "je-test", "checkcost", "monitoring-setup", "catalog")

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: PROJECT}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - {name: deployment, properties: {deploymentstrategy: direct}}
            - {name: test, properties: {teststrategy: functional}}
            - name: evaluation
            - name: release
        - name: custom
          tasks:
            - {name: deployment, properties: {deploymentstrategy: direct}}
""" + "".join(f"            - name: {t}\n" for t in CUSTOM_TASKS) + """
    - name: staging
      sequences:
        - name: delivery
          triggeredOn: [{event: dev.delivery.finished}]
          tasks:
            - name: deployment
            - {name: test, properties: {teststrategy: performance}}
            - name: evaluation
            - name: release
        - name: rollback
          triggeredOn: [{event: staging.delivery.finished, selector: {match: {result: fail}}}]
          tasks: [{name: rollback}]
    - name: production
      sequences:
        - name: remediation
          triggeredOn: [{event: production.remediation.finished, selector: {match: {evaluation.result: fail}}}]
          tasks:
            - name: get-action
            - name: action
            - {name: evaluation, triggeredAfter: "1s", properties: {timeframe: "5s"}}
"""

JOB = """apiVersion: v2
actions:
  - name: tests
    events: [{name: sh.keptn.event.test.triggered}]
    tasks: [{name: smoke, image: python:3.11-slim, cmd: [python, -c, "print('ok')"]}]
""" + "".join(f"""  - name: {t}
    events: [{{name: sh.keptn.event.{t}.triggered}}]
    tasks: [{{name: run, image: python:3.11-slim, cmd: [python, -c, "print('{t}')"]}}]
""" for t in CUSTOM_TASKS)


def corpus_job_configs() -> list[Path]:
    with open(CORPUS / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / r["local_path"] for r in rows if r["kind"] == "jobconfig" and r["expected"] == "valid"]


def reads(path: Path) -> list[tuple[str, str, str, tuple]]:
    """(action, event pattern, JSONPath, kind) for every path a config reads from its event;
    kind is ("filter",) or ("env", filters of that event pattern)."""
    config = load_jobconfig(path.read_bytes(), str(path))
    out = []
    for action in config.actions:
        filters = tuple((e.name, e.jsonpath.property, e.jsonpath.match) for e in action.events if e.jsonpath.property)
        for event in action.events:
            if event.jsonpath.property:
                out.append((action.name, event.name, event.jsonpath.property, ("filter",)))
            for task in action.tasks:
                for env in task.env:
                    if env.valueFrom == "event":
                        out.append((action.name, event.name, env.value, ("env", filters)))
    return out


def resolves(path: str, event: dict) -> bool:
    try:
        evaluate(path, event)
    except JsonPathError:
        return False
    return True


def matched(event: dict, filters: tuple) -> bool:
    for pattern, prop, match in filters:
        if type_matches(pattern, event["type"]):
            try:
                if str(evaluate(prop, event)) != match:
                    return False
            except JsonPathError:
                return False
    return True


def run_everything(project, service, human_factory) -> tuple[list[dict], str]:
    """Emit every task the corpus reads; returns (all events, the API-triggered context)."""
    project.set_sli("staging", "helloservice", 900)                      # staging's gate fails
    project.await_sli("staging", "helloservice", 900)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "# dev values\nimage: helloservice:1.1.0\nreplicaCount: 1\n", "ship 1.1.0")
    wait_until(lambda: [r for r in service.index.runs(stage="staging", limit=50)
                        if r["sequence"] == "rollback" and r["state"] == "finished"],
               timeout=120, what="the staging rollback")

    # Keptn's `keptn trigger sequence` through the API, with labels and data of the sender
    answer = httpx.post(service.url + "/api/v1/event", headers={"x-token": "test-token"}, timeout=30, json={
        "specversion": "1.0", "source": "test", "type": "sh.keptn.event.dev.custom.triggered",
        "datacontenttype": "application/json",
        "data": {"project": project.name, "stage": "dev", "service": "helloservice",
                 "configurationChange": {"values": {"image": "helloservice:1.1.0"}},
                 "labels": {"jsonPathLabel": "from-the-sender"},
                 "additionalData": {"jsonPathArray": ["a", "b"]}}})
    assert answer.status_code in (200, 202), answer.text
    custom = answer.json()["keptnContext"]
    wait_until(lambda: [r for r in service.index.runs(context=custom, limit=10) if r["state"] == "finished"],
               timeout=90, what="the custom sequence")

    alert = {"receiver": "reconciler", "status": "firing", "version": "4", "groupKey": "{}", "alerts": [{
        "status": "firing", "fingerprint": "corpus", "startsAt": "2026-11-21T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": {"alertname": "response_time", "stage": "production", "service": "helloservice"},
        "annotations": {"summary": "response time of helloservice in production is too high"}}]}
    posted = httpx.post(service.url + "/webhooks/alertmanager", json=alert,
                        headers={"Authorization": "Bearer test-token"}, timeout=30)
    assert posted.status_code == 202, posted.text
    wait_until(lambda: service.index.events(type_prefix="sh.keptn.event.action.triggered"),
               timeout=60, what="the remediation action")
    return service.index.events(limit=5000), custom


@pytest.mark.slow
@pytest.mark.project(shipyard=SHIPYARD, job=JOB)
def test_every_jsonpath_of_the_corpus_job_configs_resolves_against_our_events(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    events, custom = run_everything(project, service, human_factory)
    triggered = [e for e in events if e["type"].endswith(".triggered")]
    configs = corpus_job_configs()
    assert len(configs) >= 20

    problems, checked = [], 0
    for path in configs:
        name = str(path.relative_to(CORPUS))
        for action, pattern, jsonpath, kind in reads(path):
            ours = [e for e in triggered if type_matches(pattern, e["type"])]
            if not ours:
                problems.append(f"{name}: {action}: we emit no {pattern}")
                continue
            checked += 1
            if kind[0] == "filter":
                if not any(resolves(jsonpath, e) for e in ours):
                    problems.append(f"{name}: {action}: filter {jsonpath} resolves in none of our {pattern}")
                continue
            if jsonpath.startswith(SENDER_ROOTS):
                ours = [e for e in ours if e["shkeptncontext"] == custom]
            # the filter names what the user's remediation.yaml or shipyard chose (an action
            # we did not run, say): then the path must resolve in every event of the type
            ours = [e for e in ours if matched(e, kind[1])] or ours
            bad = [e["data"].get("stage") for e in ours if not resolves(jsonpath, e)]
            if not ours or bad:
                problems.append(f"{name}: {action}: {jsonpath} does not resolve in our {pattern} "
                                f"(stages {bad or 'none matched'})")
    assert not problems, "\n".join(problems)
    assert checked >= 25
