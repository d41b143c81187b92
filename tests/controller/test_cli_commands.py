"""The CLI commands that change things: trigger delivery, approve/decline, abort/pause/resume."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from reconciler import contract
from reconciler.cli import main
from reconciler.controller.executors import BuiltinExecutors
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

MANUAL_SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: approval, properties: {pass: manual, warning: manual}}, {name: external-check}]
    - name: staging
    - name: production
"""


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"RECONCILER_API_TOKEN": "test-token"})
    return result.exit_code, result.output


def test_trigger_delivery_makes_a_human_commit_that_starts_the_sequence(origin, service_factory):
    service = service_factory(origin.url, poll=0.05)
    code, out = cli("trigger", "delivery", "--repo", origin.url, "--stage", "dev", "--service", "helloservice",
                    "--set", "image=helloservice:5.5.5", "-o", "json")
    assert code == 0, out
    pushed = json.loads(out)
    values = git_out("show", "dev:helloservice/values.yaml", cwd=origin.path)
    assert "image: helloservice:5.5.5" in values and values.startswith("#")          # comment kept
    assert git_out("log", "-1", "--format=%ae", "dev", cwd=origin.path) != contract.BOT_EMAIL
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    assert (run["context"], run["trigger_commit"]) == (pushed["keptnContext"], pushed["commit"])
    # the same values again: nothing to commit, and it says so
    code, out = cli("trigger", "delivery", "--repo", origin.url, "--stage", "dev", "--service", "helloservice",
                    "--set", "image=helloservice:5.5.5")
    assert code == 1 and "nothing to commit" in out


def test_trigger_delivery_refuses_bad_input(origin):
    assert cli("trigger", "delivery", "--repo", origin.url, "--stage", "moon", "--service", "helloservice",
               "--set", "image=x")[0] == 2
    code, out = cli("trigger", "delivery", "--repo", origin.url, "--stage", "dev", "--service", "helloservice",
                    "--set", "novalue")
    assert code == 2 and "KEY=VALUE" in out


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_approve_and_decline_a_waiting_approval_with_plain_git(origin, service_factory, human_factory, decision):
    human_factory(origin.url, "main").change("shipyard.yaml", MANUAL_SHIPYARD, "manual approval in dev")
    service = service_factory(origin.url, poll=0.05, executors=BuiltinExecutors())
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:6.0.0\n", "ship")
    run = wait_until(lambda: [r for r in service.index.runs() if r["state"] == "waitingForApproval"],
                     what="the approval to wait")[0]
    branch = contract.approval_branch("dev", "helloservice", run["context"])
    assert branch in git_out("branch", "--list", "approve/*", cwd=origin.path)
    # the 8 characters `status` prints, or (without a work dir) any unique prefix of 6 or more
    short = run["context"][:8] if decision == "approve" else run["context"][:6]
    code, out = cli(decision, short, "--repo", origin.url, "-o", "json")
    assert code == 0, out
    assert json.loads(out)["decision"] == ("approved" if decision == "approve" else "declined")
    assert git_out("branch", "--list", "approve/*", cwd=origin.path) == ""
    if decision == "approve":
        after = wait_until(lambda: [r for r in service.index.runs() if r["task"] == "external-check"],
                           what="the next task")[0]
        assert after["state"] == "started"
    else:
        done = wait_until(lambda: [r for r in service.index.runs() if r["state"] == "finished"], what="the end")[0]
        assert done["result"] == "fail"
    # nothing is waiting any more
    code, out = cli(decision, run["context"], "--repo", origin.url)
    assert code == 1 and "no approval is waiting" in out


def test_pause_resume_and_abort_through_the_api_with_short_context_ids(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:7.0.0\n", "ship")
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    workdir = str(service.workdir)
    short = run["context"][:8]                     # what `reconciler status` prints
    assert cli("pause", short, "-w", workdir)[0] == 0
    wait_until(lambda: service.index.runs()[0]["state"] == "paused", what="paused")
    assert cli("resume", run["context"][:6], "-w", workdir)[0] == 0
    wait_until(lambda: service.index.runs()[0]["state"] == "started", what="resumed")
    code, out = cli("abort", short, "-w", workdir, "-o", "json")
    assert code == 0 and json.loads(out)["accepted"] is True
    done = wait_until(lambda: service.index.runs()[0]["state"] == "aborted" and service.index.runs()[0],
                      what="aborted")
    assert (done["result"], done["status"]) == ("fail", "aborted")
    # a finished context is not "accepted" again
    code, out = cli("abort", short, "-w", workdir)
    assert code == 1 and "already finished" in out and "accepted" not in out
    code, out = cli("abort", "no-such-context", "-w", workdir)
    assert code == 2 and "no context starts with 'no-such-context'" in out
    code, out = cli("pause", short[:5], "-w", workdir)
    assert code == 2 and "at least 6" in out
