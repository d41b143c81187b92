"""Issue 10, end to end on a real remote with real Prometheus: promotion by state.

1.0.0 passes to staging; 2.0.0 fails staging's gate and is rolled back; 2.0.1 (the fix) still
promotes to staging — the cherry-pick of dev's 2.0.0→2.0.1 diff conflicted with staging's
1.0.0 here — while the keys only staging has stay as staging has them."""
from __future__ import annotations

import pytest

from tests.support.remotes import git_out
from tests.support.waiting import wait_until

STAGING_ONLY = "ingress:\n  host: staging.example.com   # staging only\n"


def finished(service, stage: str, sequence: str = "delivery") -> list[dict]:
    return [r for r in service.index.runs(stage=stage, service="helloservice", limit=100)
            if r["sequence"] == sequence and r["state"] in ("finished", "aborted", "timedOut")]


def staging_values(project) -> str:
    return git_out("show", "staging:helloservice/values.yaml", cwd=project.origin)


def dev_values(version: str) -> str:
    return f"# dev values\nimage: helloservice:{version}\nreplicaCount: 1   # dev-specific\n"


def expected_staging(version: str) -> str:
    return (f"# staging values\nimage: helloservice:{version}\nreplicaCount: 2   # staging-specific\n"
            + STAGING_ONLY).rstrip("\n")


@pytest.mark.slow
@pytest.mark.project(version="0.9.0", extra_values={"staging": STAGING_ONLY})
def test_a_fix_after_a_failed_version_promotes_and_stage_values_stay(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")

    # 1.0.0 passes dev and staging
    dev.change("helloservice/values.yaml", dev_values("1.0.0"), "ship 1.0.0")
    first = wait_until(lambda: finished(service, "staging"), timeout=90, what="staging delivery of 1.0.0")[0]
    assert (first["result"], first["status"]) == ("pass", "succeeded"), first
    assert staging_values(project) == expected_staging("1.0.0")

    # 2.0.0 fails staging's gate and is rolled back
    project.set_sli("staging", "helloservice", 900)
    project.await_sli("staging", "helloservice", 900)
    dev.change("helloservice/values.yaml", dev_values("2.0.0"), "ship the slow 2.0.0")
    second = wait_until(lambda: len(finished(service, "staging")) == 2 and finished(service, "staging")[0],
                        timeout=90, what="staging delivery of 2.0.0")
    assert (second["result"], second["status"]) == ("fail", "succeeded"), second
    rollback = wait_until(lambda: finished(service, "staging", "rollback"), timeout=60, what="the rollback")[0]
    assert rollback["result"] == "pass", rollback
    assert staging_values(project) == expected_staging("1.0.0")

    # 2.0.1 fixes it: dev's change is 2.0.0 -> 2.0.1, staging holds 1.0.0; the key is set
    project.set_sli("staging", "helloservice", 100)
    project.await_sli("staging", "helloservice", 100)
    dev.change("helloservice/values.yaml", dev_values("2.0.1"), "ship the fix 2.0.1")
    third = wait_until(lambda: len(finished(service, "staging")) == 3 and finished(service, "staging")[0],
                       timeout=90, what="staging delivery of 2.0.1")
    assert (third["result"], third["status"]) == ("pass", "succeeded"), third
    assert staging_values(project) == expected_staging("2.0.1")

    # the change travelled as data: Keptn's values in the staging deployment's event
    triggered = [e for e in service.index.events(context=third["context"], stage="staging",
                                                 type_prefix="sh.keptn.event.deployment.triggered")]
    assert triggered, "no deployment.triggered in staging"
    change = triggered[0]["data"]["configurationChange"]
    assert change["values"] == {"image": "helloservice:2.0.1"}
    assert change["files"] == [{"path": "values.yaml",
                                "keys": [{"key": ["image"], "value": "helloservice:2.0.1"}]}]
    # and the promotion commit says what it set
    message = git_out("log", "-1", "--format=%B", "staging", cwd=project.origin)
    assert "values.yaml: image" in message
