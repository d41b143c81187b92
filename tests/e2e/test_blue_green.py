"""Issue 10 item 3 on the local target, end to end: `deploymentstrategy: blue_green_service`
runs the new version beside the released one behind the target's load balancer; `release`
switches the balancer to it, and `rollback` (the gate failed) drops it while the released one
keeps serving."""
from __future__ import annotations

import urllib.request

import pytest

from tests.support.waiting import wait_until

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: PROJECT}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - {name: deployment, properties: {deploymentstrategy: blue_green_service}}
            - {name: test, properties: {teststrategy: functional}}
            - name: evaluation
            - name: release
        - name: rollback
          triggeredOn: [{event: dev.delivery.finished, selector: {match: {result: fail}}}]
          tasks: [{name: rollback}]
    - name: staging
    - name: production
"""


def body(url: str) -> str:
    with urllib.request.urlopen(url + "/hello", timeout=10) as resp:
        return resp.read().decode()


def finished(service, sequence: str) -> list[dict]:
    return [r for r in service.index.runs(stage="dev", limit=50)
            if r["sequence"] == sequence and r["state"] == "finished"]


@pytest.mark.slow
@pytest.mark.project(shipyard=SHIPYARD)
def test_blue_green_release_switches_and_rollback_keeps_the_released_version(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "image: helloservice:1.1.0\nreplicaCount: 1\n", "ship 1.1.0")
    first = wait_until(lambda: finished(service, "delivery"), timeout=90, what="the first delivery")[0]
    assert first["result"] == "pass", first
    deployed = service.index.events(context=first["context"], type_prefix="sh.keptn.event.deployment.finished")[0]
    balancer = deployed["data"]["deployment"]["deploymentURIsPublic"][0]
    assert "1.1.0" in body(balancer)

    project.set_sli("dev", "helloservice", 900)                   # the next version fails its gate
    project.await_sli("dev", "helloservice", 900)
    dev.change("helloservice/values.yaml", "image: helloservice:2.0.0\nreplicaCount: 1\n", "ship 2.0.0")
    second = wait_until(lambda: len(finished(service, "delivery")) == 2 and finished(service, "delivery")[0],
                        timeout=90, what="the second delivery")
    assert second["result"] == "fail", second
    beside = service.index.events(context=second["context"], type_prefix="sh.keptn.event.deployment.finished")[0]
    assert beside["data"]["deployment"]["deploymentURIsPublic"] == [balancer]
    assert "blue/green" in beside["data"]["message"]
    rollback = wait_until(lambda: finished(service, "rollback"), timeout=60, what="the rollback")[0]
    assert rollback["result"] == "pass", rollback
    rolled = service.index.events(context=second["context"], type_prefix="sh.keptn.event.rollback.finished")[0]
    assert "dropped the new version that ran beside the released one" in rolled["data"]["message"]
    assert "1.1.0" in body(balancer)                               # the released version kept serving
    new_version = beside["data"]["deployment"]["deploymentURIsLocal"][0]
    with pytest.raises(OSError):
        body(new_version)                                          # the new version is gone

    project.set_sli("dev", "helloservice", 100)
    project.await_sli("dev", "helloservice", 100)
    dev = human_factory(str(project.origin), "dev")              # dev moved: the rollback's revert commit
    dev.change("helloservice/values.yaml", "image: helloservice:2.0.1\nreplicaCount: 1\n", "ship the fix")
    third = wait_until(lambda: len(finished(service, "delivery")) == 3 and finished(service, "delivery")[0],
                       timeout=90, what="the third delivery")
    assert third["result"] == "pass", third
    released = service.index.events(context=third["context"], type_prefix="sh.keptn.event.release.finished")[0]
    assert "switched" in released["data"]["message"]
    assert "2.0.1" in body(balancer)
