"""Issue 10 item 4: a task nothing answers is visible at once — status text, events, the page,
the results branch — with what would answer it; `target: none` finishes the deployment at
once saying so; `target: external` waits visibly for the integration."""
from __future__ import annotations

import datetime as dt
import json

import httpx
from click.testing import CliRunner

from reconciler import contract
from reconciler.cli import main
from reconciler.controller.executors import BuiltinExecutors
from reconciler.engine.events import TASK_WAITING
from tests.support.controller import layout_without_test_executor
from tests.support.remotes import git_out
from tests.support.waiting import wait_until


def at(event: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


def test_a_test_task_without_executor_shows_as_waiting_within_a_second(tmp_path, service_factory, human_factory):
    origin = layout_without_test_executor(tmp_path, "none")
    service = service_factory(str(origin), poll=0.05, executors=BuiltinExecutors())
    human_factory(str(origin), "dev").change("helloservice/values.yaml", "image: helloservice:1.1.0\nreplicaCount: 1\n",
                                             "ship 1.1.0")

    waiting = wait_until(lambda: service.index.events(type_prefix=TASK_WAITING), timeout=30,
                         what="the waiting event")[0]
    context = waiting["shkeptncontext"]
    triggered = [e for e in service.index.events(context=context, type_prefix="sh.keptn.event.test.triggered")][0]
    assert waiting["triggeredid"] == triggered["id"]
    assert (at(waiting) - at(triggered)).total_seconds() < 1.0
    message = waiting["data"]["message"]
    assert message.startswith("waiting for an executor: no built-in executor for task 'test'")
    assert "sh.keptn.event.test.triggered in helloservice/job/config.yaml on dev" in message
    assert "GET /api/v1/events/triggered/sh.keptn.event.test.triggered" in message

    # serve said at start that evaluations have no SLI provider (no URL anywhere here)
    log = git_out("log", "--format=%B", contract.RESULTS_BRANCH, cwd=origin)
    assert ("config: WARNING the shipyard evaluates in dev, staging, production but no SLI provider is set "
            "(no Prometheus URL") in log

    # target none: the deployment before it finished at once, saying so
    deployed = service.index.events(context=context, type_prefix="sh.keptn.event.deployment.finished")[0]
    assert deployed["data"]["result"] == "pass"
    assert deployed["data"]["message"].startswith("target none: the change to helloservice is recorded on dev")

    # status text, the page and the results branch show it
    text = CliRunner().invoke(main, ["status", "--workdir", str(service.workdir)]).output
    assert f"dev/helloservice delivery {context[:8]}: {message}" in text
    with httpx.Client(base_url=service.url, follow_redirects=True, timeout=10) as browser:
        assert "waiting for an executor" in browser.get("/status?token=test-token").text
    lane = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{contract.sequence_path('dev', 'helloservice', context)}",
                              cwd=origin))
    assert lane["runs"][0]["tasks"][1]["waiting"] == message

    # an integration answers: the task is no longer waiting
    api = {"x-token": "test-token"}
    for kind in ("started", "finished"):
        event = {"specversion": "1.0", "source": "my-tests", "type": f"sh.keptn.event.test.{kind}",
                 "shkeptncontext": context, "triggeredid": triggered["id"],
                 "data": {"project": "hello", "stage": "dev", "service": "helloservice", "result": "pass",
                          "status": "succeeded"}}
        assert httpx.post(service.url + "/api/v1/event", json=event, headers=api, timeout=10).status_code == 202
    wait_until(lambda: service.index.runs(context=context)[0]["task"] != "test", what="the next task")
    assert "waiting for an executor" not in CliRunner().invoke(main, ["status", "--workdir",
                                                                      str(service.workdir)]).output


def test_an_external_target_waits_visibly_for_the_integration(tmp_path, service_factory, human_factory):
    origin = layout_without_test_executor(tmp_path, "external")
    service = service_factory(str(origin), poll=0.05, executors=BuiltinExecutors())
    human_factory(str(origin), "dev").change("helloservice/values.yaml", "image: helloservice:1.1.0\nreplicaCount: 1\n",
                                             "ship 1.1.0")
    waiting = wait_until(lambda: service.index.events(type_prefix=TASK_WAITING), timeout=30, what="waiting")[0]
    assert waiting["data"]["task"] == "deployment"
    assert waiting["data"]["message"].startswith(
        "waiting for an executor: deployment in dev is handed to an integration (target: external)")
