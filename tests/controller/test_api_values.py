"""Keptn's `keptn trigger delivery --image …` through the API: the values travel in the event
with no commit; the controller sets them on the stage (one commit with trailers, comments
kept), the tasks read that commit, and the push it makes starts nothing else."""
from __future__ import annotations

import httpx

from reconciler.controller.executors import BuiltinExecutors
from tests.support.controller import layout_without_test_executor
from tests.support.remotes import git_out
from tests.support.waiting import wait_until


def test_api_delivery_with_values_commits_them_on_the_stage(tmp_path, service_factory, human_factory):
    origin = layout_without_test_executor(tmp_path, "none")
    before = git_out("show", "dev:helloservice/values.yaml", cwd=origin)
    service = service_factory(str(origin), poll=0.05, executors=BuiltinExecutors())
    answer = httpx.post(service.url + "/api/v1/event", headers={"x-token": "test-token"}, timeout=10, json={
        "specversion": "1.0", "source": "keptn-cli", "type": "sh.keptn.event.dev.delivery.triggered",
        "data": {"project": "hello", "stage": "dev", "service": "helloservice",
                 "configurationChange": {"values": {"image": "helloservice:3.1.4"}}}})
    assert answer.status_code == 202, answer.text
    context = answer.json()["keptnContext"]

    deployed = wait_until(lambda: service.index.events(context=context,
                                                       type_prefix="sh.keptn.event.deployment.triggered"),
                          timeout=30, what="the deployment")[0]
    commit = deployed["data"]["configurationChange"]["commit"]
    assert deployed["gitcommitid"] == commit == git_out("rev-parse", "dev", cwd=origin)
    assert git_out("show", "dev:helloservice/values.yaml", cwd=origin) == before.replace(
        "image: helloservice:0.9.0", "image: helloservice:3.1.4")                  # comments kept
    message = git_out("log", "-1", "--format=%B", "dev", cwd=origin)
    assert f"Reconciler-Context: {context}" in message
    assert "configurationChange.values of the trigger" in message
    # our own commit starts no second delivery: a later push elsewhere is processed, dev has one run
    human_factory(str(origin), "staging").change("helloservice/values.yaml", "image: helloservice:0.9.1\n", "hotfix")
    wait_until(lambda: service.index.runs(stage="staging"), what="the later push")
    assert [r["context"] for r in service.index.runs(stage="dev")] == [context]
