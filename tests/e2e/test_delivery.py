"""Issue 5, end to end on a real remote with the built-in executors: promotion by commit,
automatic and manual approval (merge / delete), rollback by revert, lanes."""
from __future__ import annotations

import pytest

from reconciler import contract
from tests.support.remotes import git, git_out
from tests.support.waiting import wait_until


def lane_runs(service, stage: str, service_name: str = "helloservice") -> list[dict]:
    return service.index.runs(stage=stage, service=service_name, limit=100)


def finished(service, stage: str, sequence: str = "delivery", service_name: str = "helloservice"):
    return [r for r in lane_runs(service, stage, service_name)
            if r["sequence"] == sequence and r["state"] in ("finished", "aborted", "timedOut")]


def show(origin, rev_path: str) -> str:
    return git_out("show", rev_path, cwd=origin)


def trailers_of(origin, rev: str) -> str:
    return git_out("log", "-1", "--format=%B", rev, cwd=origin)


@pytest.mark.slow
def test_push_promotes_through_staging_and_production_waits_for_a_merge(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "# dev values\nimage: helloservice:1.1.0\nreplicaCount: 1   # dev-specific\n",
               "ship 1.1.0")

    dev_run = wait_until(lambda: finished(service, "dev"), timeout=60, what="dev delivery")[0]
    assert (dev_run["result"], dev_run["status"]) == ("pass", "succeeded"), dev_run
    staging_run = wait_until(lambda: finished(service, "staging"), timeout=60, what="staging delivery")[0]
    assert staging_run["result"] == "pass", staging_run
    assert staging_run["context"] == dev_run["context"]

    # promotion is a commit on staging, carrying the change and keeping staging's own values
    values = show(project.origin, "staging:helloservice/values.yaml")
    assert "image: helloservice:1.1.0" in values and "replicaCount: 2   # staging-specific" in values
    message = trailers_of(project.origin, "staging")
    assert f"Reconciler-Context: {dev_run['context']}" in message

    # evidence for both gates is on the results branch
    evidence = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "evaluations/", cwd=project.origin)
    assert "evaluations/dev/helloservice/" in evidence and "evaluations/staging/helloservice/" in evidence

    # production waits for a person: the approval branch holds the promotion, production is untouched
    waiting = wait_until(lambda: [r for r in lane_runs(service, "production") if r["state"] == "waitingForApproval"],
                         timeout=30, what="the production approval")[0]
    branch = contract.approval_branch("production", "helloservice", waiting["context"])
    assert "helloservice:1.1.0" in show(project.origin, f"{branch}:helloservice/values.yaml")
    assert "helloservice:1.0.0" in show(project.origin, "production:helloservice/values.yaml")

    # a reviewer merges the approval branch (a merge commit, as a forge would)
    reviewer = human_factory(str(project.origin), "production")
    git("fetch", "-q", "origin", branch, cwd=reviewer.path)
    git("-c", "user.name=reviewer", "-c", "user.email=r@x", "merge", "-q", "--no-ff", "-m", "approve",
        "FETCH_HEAD", cwd=reviewer.path)
    reviewer.push()
    prod_run = wait_until(lambda: finished(service, "production"), timeout=60, what="production delivery")[0]
    assert prod_run["result"] == "pass", prod_run
    values = show(project.origin, "production:helloservice/values.yaml")
    assert "image: helloservice:1.1.0" in values and "replicaCount: 3   # production-specific" in values
    # the merge did not start a second production delivery
    assert len([r for r in lane_runs(service, "production") if r["sequence"] == "delivery"]) == 1


@pytest.mark.slow
def test_deleting_the_approval_branch_declines_and_nothing_reaches_production(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "image: helloservice:1.2.0\nreplicaCount: 1\n", "ship 1.2.0")
    waiting = wait_until(lambda: [r for r in lane_runs(service, "production") if r["state"] == "waitingForApproval"],
                         timeout=90, what="the production approval")[0]
    branch = contract.approval_branch("production", "helloservice", waiting["context"])
    git("push", "-q", "origin", f":refs/heads/{branch}", cwd=dev.path)
    prod = wait_until(lambda: finished(service, "production"), timeout=60, what="the declined delivery")[0]
    assert prod["result"] == "fail"
    rollback = wait_until(lambda: finished(service, "production", "rollback"), timeout=60, what="the rollback")[0]
    assert rollback["result"] == "pass"      # nothing landed, nothing to revert
    assert "helloservice:1.0.0" in show(project.origin, "production:helloservice/values.yaml")


@pytest.mark.slow
def test_a_failing_gate_runs_the_rollback_sequence_and_leaves_a_revert_commit(project, e2e_service, human_factory):
    project.set_sli("staging", "helloservice", 900)          # staging is slow: its gate fails
    project.await_sli("staging", "helloservice", 900)
    service = e2e_service(project.origin)
    before = show(project.origin, "staging:helloservice/values.yaml")
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "image: helloservice:2.0.0\nreplicaCount: 1\n", "ship the slow 2.0.0")
    staging = wait_until(lambda: finished(service, "staging"), timeout=90, what="staging delivery")[0]
    assert (staging["result"], staging["status"]) == ("fail", "succeeded")
    rollback = wait_until(lambda: finished(service, "staging", "rollback"), timeout=60, what="the rollback")[0]
    assert rollback["result"] == "pass", rollback
    # the promotion and its revert are both in staging's history; the values are back
    log = git_out("log", "--format=%s%n%b", "-3", "staging", cwd=project.origin)
    assert "Revert" in log or "revert" in log
    assert show(project.origin, "staging:helloservice/values.yaml") == before
    # production never heard of 2.0.0
    assert lane_runs(service, "production") == []
    # the failed evaluation is recorded with its score and the SLI value
    evals = service.index.evaluations(stage="staging", service="helloservice")
    assert evals and evals[0]["result"] == "fail"


@pytest.mark.slow
@pytest.mark.project(test_sleep=1.0, services=("helloservice", "worldservice"))
def test_two_pushes_queue_in_one_lane_and_two_services_run_in_parallel(project, e2e_service, human_factory):
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", "image: helloservice:3.0.0\nreplicaCount: 1\n", "first")
    dev.change("helloservice/values.yaml", "image: helloservice:3.0.1\nreplicaCount: 1\n", "second")
    dev.change("worldservice/values.yaml", "image: worldservice:3.0.0\nreplicaCount: 1\n", "other service")
    hello = wait_until(lambda: len(finished(service, "dev")) == 2 and finished(service, "dev"), timeout=90,
                       what="both hello runs")
    world = wait_until(lambda: finished(service, "dev", service_name="worldservice"), timeout=90, what="world")[0]
    first, second = sorted(hello, key=lambda r: r["triggered_at"])
    assert second["started_at"] >= first["finished_at"]          # FIFO in one lane, no overlap
    assert world["started_at"] < first["finished_at"] or world["started_at"] < second["finished_at"]
