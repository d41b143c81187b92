"""Issue 6: the demo as an end-to-end test, checked from the Git record it leaves, not from
what it prints (shorter timings than `make demo`)."""
from __future__ import annotations

import json
import subprocess

import pytest

from reconciler import contract
from reconciler.demo.story import FAST, Demo
from reconciler.engine.events import context_uuid
from tests.support.remotes import git_out


def lane_docs(origin) -> list[dict]:
    paths = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "sequences/", cwd=origin)
    return [json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{p}", cwd=origin)) for p in paths.splitlines()]


def runs_of(origin, context: str) -> dict[tuple[str, str], dict]:
    out = {}
    for doc in lane_docs(origin):
        for run in doc["runs"]:
            if run["context"] == context:
                out[(run["stage"], run["sequence"])] = run
    return out


def trigger_commit(origin, image: str) -> str:
    return git_out("log", "--format=%H", f"--grep=set image=helloservice:{image}", "dev", cwd=origin)


@pytest.mark.slow
def test_demo_leaves_the_whole_story_in_git(tmp_path):
    workdir = tmp_path / "demo"
    lines: list[str] = []
    assert Demo(workdir, timings=FAST, out=lines.append).run() == 0, "\n".join(lines)
    origin = workdir / "config.git"

    # version 1: dev → staging → production, production approved by merging its approval branch
    v1 = context_uuid(f"dev:helloservice:{trigger_commit(origin, '1.0.0')}")
    runs = runs_of(origin, v1)
    assert {k: runs[k]["result"] for k in runs} == {
        ("dev", "delivery"): "pass", ("staging", "delivery"): "pass", ("production", "delivery"): "pass"}
    assert "image: helloservice:1.0.0" in git_out("show", "production:helloservice/values.yaml", cwd=origin)
    approvals = git_out("log", "--format=%H", f"--grep=Reconciler-Context: {v1}", "production", cwd=origin)
    assert approvals, "the approval commit reached production"
    assert git_out("branch", "--list", "approve/*", cwd=origin) == ""          # merged and deleted

    # version 2: dev passes, staging's gate fails, rollback reverts staging, production never sees it
    v2 = context_uuid(f"dev:helloservice:{trigger_commit(origin, '2.0.0')}")
    runs = runs_of(origin, v2)
    assert runs[("dev", "delivery")]["result"] == "pass"
    assert runs[("staging", "delivery")]["result"] == "fail"
    assert runs[("staging", "rollback")]["result"] == "pass"
    assert not [k for k in runs if k[0] == "production"]
    assert "image: helloservice:1.0.0" in git_out("show", "staging:helloservice/values.yaml", cwd=origin)
    assert "helloservice:2.0.0" not in git_out("log", "-p", "production", cwd=origin)
    staging_log = git_out("log", "--format=%s", "staging", cwd=origin)
    assert "roll back helloservice in staging" in staging_log

    # remediation: an alert opened it, a commit scaled production, the re-evaluation passed
    remediations = [run for doc in lane_docs(origin) for run in doc["runs"] if run["sequence"] == "remediation"]
    assert remediations and remediations[-1]["state"] == "finished"
    context = remediations[0]["context"]
    assert remediations[0]["trigger"]["data"]["problem"]["rootCause"] == "response_time_p95"
    scale = git_out("log", "--format=%H", f"--grep=Reconciler-Context: {context}", "production", cwd=origin)
    assert scale, "a scaling commit with the remediation's context"
    assert "replicaCount: 2" in git_out("show", "production:helloservice/values.yaml", cwd=origin)
    evaluations = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "evaluations/production/",
                          cwd=origin).splitlines()
    last = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{sorted(evaluations)[-1]}", cwd=origin))
    assert last["result"] in ("pass", "warning")

    # everything the demo started is gone
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
