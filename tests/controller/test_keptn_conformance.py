"""Issue 11, conformance gaps seen through a running controller: a trigger for a stage that does
not exist is finished errored and recorded; `tasks: []` loads with a warning and fails only
that sequence."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.controller import EXAMPLE, wait_until

H = {"x-token": "test-token"}


@pytest.fixture
def remote_kind():
    return "file"


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0, watch=True)


def trigger(service, stage: str, sequence: str) -> str:
    context = str(uuid.uuid4())
    r = httpx.post(service.url + "/api/v1/event", headers=H, json={
        "type": f"sh.keptn.event.{stage}.{sequence}.triggered", "source": "test", "shkeptncontext": context,
        "data": {"project": "hello", "stage": stage, "service": "helloservice"}})
    assert r.status_code == 202, r.text
    return context


def test_a_trigger_for_an_unknown_stage_is_finished_errored_and_recorded(service):
    context = trigger(service, "qa", "delivery")
    run = wait_until(lambda: service.index.runs(context=context), what="the recorded run")[0]
    assert (run["stage"], run["state"], run["result"], run["status"]) == ("qa", "finished", "fail", "errored")
    assert "stage 'qa' is not in shipyard.yaml" in run["message"]
    types = [e["type"] for e in service.index.events(context=context)]
    assert "sh.keptn.event.qa.delivery.finished" in types
    assert service.mirror.read("reconciler/results", f"sequences/qa/helloservice/{context}.json")


def test_a_sequence_without_tasks_loads_with_a_warning_and_fails_only_when_triggered(service, origin,
                                                                                    human_factory):
    shipyard = (EXAMPLE / "main" / "shipyard.yaml").read_text().replace(
        "    - name: staging\n", "        - name: hotfix\n          tasks: []\n\n    - name: staging\n", 1)
    assert "name: hotfix" in shipyard
    human_factory(origin.url, "main").change("shipyard.yaml", shipyard, "an empty sequence")

    def loaded():
        status = httpx.get(service.url + "/api/v1/status", headers=H).json()["config"]
        return status if any(f["code"] == "empty-tasks" for f in status["findings"]) else None
    config = wait_until(loaded, what="the new shipyard")
    assert config["valid"] is True
    [finding] = [f for f in config["findings"] if f["code"] == "empty-tasks"]
    assert finding["severity"] == "warning"

    context = trigger(service, "dev", "hotfix")
    run = wait_until(lambda: service.index.runs(context=context), what="the hotfix run")[0]
    assert (run["state"], run["result"], run["status"]) == ("finished", "fail", "errored")
    assert "does not contain any tasks" in run["message"]
    other = trigger(service, "dev", "delivery")          # the rest of the shipyard works
    wait_until(lambda: [r for r in service.index.runs(context=other) if r["state"] == "started"],
               what="the delivery to start")
