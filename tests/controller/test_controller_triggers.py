"""Issue 4, the controller side: pushes become recorded triggers; config problems start nothing."""
from __future__ import annotations

import json

from reconciler import contract
from tests.support.remotes import every_transport, git_out
from tests.support.waiting import wait_until


def results_log(origin) -> list[str]:
    return git_out("log", "--format=%H %s", contract.RESULTS_BRANCH, cwd=origin.path).splitlines()


def read_results(origin, path: str) -> dict:
    return json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{path}", cwd=origin.path))


def runs(service, **filters):
    return service.index.runs(**filters)


@every_transport
def test_push_to_stage_branch_records_a_triggered_sequence(origin, service_factory, human_factory):
    # polling as the trigger for network remotes (no inotify there), the watch for file://
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    commit = dev.change("helloservice/values.yaml", "image: helloservice:1.1.0\nreplicaCount: 1\n", "new image")

    run = wait_until(lambda: runs(service, stage="dev"), what="a run for the push")[0]
    assert (run["service"], run["sequence"], run["trigger_commit"]) == ("helloservice", "delivery", commit)
    assert run["state"] == "started" and run["task"] == "deployment"      # waits for an executor

    # the record is on the remote's results branch, with the contract's trailers
    lane = read_results(origin, run["path"])
    assert lane["runs"][0]["trigger"]["type"] == "sh.keptn.event.dev.delivery.triggered"
    # (the newest results commit may already be the next step: the deployment waiting for an executor)
    message = git_out("log", "-1", "--format=%B", "--grep=Reconciler-Event: sh.keptn.event.dev.delivery.triggered",
                      contract.RESULTS_BRANCH, cwd=origin.path)
    assert f"Reconciler-Context: {run['context']}" in message
    assert "Reconciler-Event: sh.keptn.event.dev.delivery.triggered" in message
    tips = read_results(origin, "state/tips.json")["tips"]
    assert tips["dev"] == commit
    # the change travels as data: Keptn's values plus our per-file change
    change = lane["runs"][0]["trigger"]["data"]["configurationChange"]
    assert change["values"] == {"image": "helloservice:1.1.0"}
    assert change["files"] == [{"path": "values.yaml", "keys": [{"key": ["image"], "value": "helloservice:1.1.0"}]}]
    assert change["commit"] == commit


def test_quality_gate_only_change_is_validated_but_triggers_nothing(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    text = git_out("show", "dev:helloservice/slo.yaml", cwd=origin.path)
    dev.change("helloservice/slo.yaml", text + "\n# tuned\n", "tune slo")
    # a deployable change afterwards proves the controller processed the first push already
    commit = dev.change("helloservice/values.yaml", "image: helloservice:1.2.0\nreplicaCount: 1\n", "bump")
    run = wait_until(lambda: runs(service, stage="dev"), what="a run")[0]
    assert run["trigger_commit"] == commit
    assert len(runs(service)) == 1


def test_invalid_shipyard_is_reported_and_the_last_valid_one_stays_in_force(origin, service_factory,
                                                                              human_factory):
    service = service_factory(origin.url, poll=0.05)
    main = human_factory(origin.url, "main")
    main.change("shipyard.yaml", "apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nspec:\n  stages:\n"
                "    - name: Dev_Stage\n", "break the shipyard")
    wait_until(lambda: not (service.index.document("config/status.json") or {}).get("valid", True),
               what="the config error to be recorded")
    status = service.index.document("config/status.json")
    errors = [f for f in status["findings"] if f["severity"] == "error"]
    assert errors and all(f["file"].startswith("main:shipyard.yaml") for f in errors)
    assert all(isinstance(f["line"], int) for f in errors)

    # the old shipyard still runs the project: a push to dev starts dev's delivery
    dev = human_factory(origin.url, "dev")
    commit = dev.change("helloservice/values.yaml", "image: helloservice:1.3.0\nreplicaCount: 1\n", "bump")
    run = wait_until(lambda: runs(service, stage="dev"), what="a run under the old shipyard")[0]
    assert (run["sequence"], run["trigger_commit"]) == ("delivery", commit)


def test_invalid_service_config_starts_nothing_and_says_why(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    dev.write("helloservice/slo.yaml", "objectives:\n  - sli: response_time_p95\n    pass:\n"
              "      - criteria: ['=>10']\n")               # no total_score, and a reversed operator
    dev.write("helloservice/values.yaml", "image: helloservice:9.9.9\nreplicaCount: 1\n")
    commit = dev.commit("bad slo and a new image")
    dev.push()
    status = wait_until(lambda: (service.index.document("config/status.json") or {}).get("rejectedTriggers"),
                        what="the refused trigger")
    assert status[0]["commit"] == commit and status[0]["service"] == "helloservice"
    assert any("dev:helloservice/slo.yaml" in e["file"] for e in status[0]["errors"])
    assert runs(service) == []


def test_own_commits_never_trigger(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    dev.write("helloservice/values.yaml", "image: helloservice:1.4.0\nreplicaCount: 3\n")
    dev.commit("scale\n\nReconciler-Context: 0b7d4c8e-0000-4000-8000-000000000001\n"
               "Reconciler-Event: sh.keptn.event.action.finished")
    dev.push()
    # then a human change: only that one triggers
    commit = dev.change("helloservice/values.yaml", "image: helloservice:1.5.0\nreplicaCount: 3\n", "human")
    wait_until(lambda: runs(service), what="the human trigger")
    assert [r["trigger_commit"] for r in runs(service)] == [commit]


def test_skip_trailer_and_sequence_trailer(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    dev.write("helloservice/values.yaml", "image: helloservice:2.1.0\nreplicaCount: 1\n")
    dev.commit("quiet change\n\nReconciler-Skip: true")
    dev.push()
    dev.write("helloservice/values.yaml", "image: helloservice:2.2.0\nreplicaCount: 1\n")
    commit = dev.commit("evaluate only\n\nReconciler-Sequence: evaluation")
    dev.push()
    run = wait_until(lambda: runs(service), what="the evaluation run")[0]
    assert (run["sequence"], run["trigger_commit"]) == ("evaluation", commit)
    assert len(runs(service)) == 1


@every_transport
def test_human_commits_on_the_results_branch_are_kept(origin, service_factory, human_factory):
    """A person (or another tool) writing to reconciler/results while the controller writes:
    both survive, nothing is force-pushed."""
    service = service_factory(origin.url, poll=0.05)
    results = human_factory(origin.url, contract.RESULTS_BRANCH)
    note = results.change("notes/audit.md", "checked by ops\n", "ops note")
    dev = human_factory(origin.url, "dev")
    dev.change("helloservice/values.yaml", "image: helloservice:3.0.0\nreplicaCount: 1\n", "bump")
    wait_until(lambda: runs(service), what="a run")
    wait_until(lambda: len(results_log(origin)) >= 3, what="the controller's commit on top")
    subjects = results_log(origin)
    assert any(line.startswith(note) for line in subjects)
    assert git_out("merge-base", "--is-ancestor", note, contract.RESULTS_BRANCH, cwd=origin.path) == ""
