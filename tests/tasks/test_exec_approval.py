"""Approval: Keptn's rules, automatic promotion, and manual approval by merging a branch."""
from __future__ import annotations

import dataclasses

import pytest

from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT, TRAILER_STEP, approval_branch
from reconciler.engine.commands import Promote
from reconciler.engine.inputs import PromotionFinished
from reconciler.spec.settings import Settings
from reconciler.tasks.approval import ApprovalError, ApprovalExecutor, approve, decide, decline, judge
from reconciler.tasks.base import Pending, TaskOutcome
from reconciler.tasks.promotion import promote
from tests.support.forge import TOKEN, fake_forge
from tests.support.remotes import every_transport, git, git_out
from tests.support.taskenv import CONTEXT, stage_branches, values_yaml

BRANCH = approval_branch("staging", "carts", CONTEXT)
PROMOTION_KEY = f"{CONTEXT}/staging/0/-/promote"
EVALUATION = {"result": "warning", "score": 80.0, "indicatorResults": [
    {"sli": "response_time", "displayName": "Response time", "status": "warning", "score": 0.5,
     "value": {"metric": "response_time", "value": 700.0, "success": True}},
    {"sli": "error_rate", "displayName": "", "status": "pass", "score": 1,
     "value": {"metric": "error_rate", "value": 0.0, "success": True}}]}


@pytest.mark.parametrize("properties, data, verdict", [
    ({"pass": "automatic"}, {"result": "pass"}, "approve"),
    ({"pass": "automatic", "warning": "automatic"}, {"result": "warning"}, "approve"),
    ({"pass": "automatic", "warning": "manual"}, {"result": "warning"}, "wait"),
    ({"pass": "manual"}, {"result": "pass"}, "wait"),
    ({}, {"result": "pass"}, "wait"),                                    # Keptn waits without properties
    ({"pass": "automatic"}, {}, "wait"),                                 # and without a result
    ({"pass": "automatic"}, {"result": "", "evaluation": {"result": "pass"}}, "approve"),
    ({"pass": "manual"}, {"result": "fail"}, "decline"),
    ({"pass": "automatic"}, {"evaluation": {"result": "fail"}}, "decline"),
])
def test_keptn_approval_rules(properties, data, verdict):
    assert judge(properties, data) == verdict


def dev_change(env, origin, human_factory, image="carts:1.1"):
    human = human_factory(origin.url, "dev")
    base = human.head()
    human.write("carts/values.yaml", values_yaml(image, 1, "dev only"))
    commit = human.commit(f"carts {image}")
    human.push()
    env.refresh()
    return base, commit


def approval_request(env, *, result="pass", properties=None, promotion=None, **data):
    approval = dict(properties if properties is not None else {"pass": "automatic", "warning": "manual"})
    if promotion is not None:
        approval["promotion"] = promotion
    return env.request("approval", "staging", "carts", {"result": result, "approval": approval, **data})


def promotion(base, commit):
    return {"commit": commit, "base": base, "sourceStage": "dev", "stage": "staging", "service": "carts",
            "key": PROMOTION_KEY}


def test_automatic_approval_lands_the_promotion_with_the_promotion_key(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    before = env.mirror.tip("staging")

    outcome = ApprovalExecutor().run(approval_request(env, promotion=promotion(base, commit)), env)

    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass" and outcome.status == "succeeded"
    env.refresh()
    assert outcome.gitcommitid == env.mirror.tip("staging") != before
    assert env.mirror.read("staging", "carts/values.yaml").decode() == values_yaml("carts:1.1", 2, "staging only")
    trailers = env.mirror.commit_info(outcome.gitcommitid).trailers
    assert trailers.get(TRAILER_STEP) == PROMOTION_KEY
    assert trailers.get(TRAILER_EVENT) == "sh.keptn.event.approval.triggered"
    # a Promote with the same key (e.g. after a restart) finds that commit instead of writing again
    again = promote(Promote(PROMOTION_KEY, f"{CONTEXT}/staging/0", CONTEXT, "carts", "dev", "staging", commit, base), env)
    assert again == PromotionFinished(f"{CONTEXT}/staging/0", outcome.gitcommitid)


def test_automatic_approval_without_promotion_and_automatic_decline(make_env):
    env, _ = make_env(stage_branches())
    tip = env.mirror.tip("staging")
    approved = ApprovalExecutor().run(approval_request(env, result="pass"), env)
    assert isinstance(approved, TaskOutcome) and approved.result == "pass" and approved.gitcommitid is None
    declined = ApprovalExecutor().run(approval_request(env, result="fail", properties={"pass": "manual"}), env)
    assert isinstance(declined, TaskOutcome)
    assert (declined.result, declined.status) == ("fail", "succeeded")
    assert "declined" in declined.message
    env.refresh()
    assert env.mirror.tip("staging") == tip and BRANCH not in env.mirror.tips()


def test_automatic_approval_sets_the_change_whatever_version_the_stage_holds(make_env, human_factory):
    env, origin = make_env(stage_branches(staging={"carts/values.yaml": values_yaml("carts:0.9", 2, "staging only")}))
    base, commit = dev_change(env, origin, human_factory)
    outcome = ApprovalExecutor().run(approval_request(env, promotion=promotion(base, commit)), env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass", outcome
    env.refresh()
    assert env.mirror.read("staging", "carts/values.yaml").decode() == values_yaml("carts:1.1", 2, "staging only")


def test_automatic_approval_with_a_structural_clash_errors_naming_file_and_key(make_env, human_factory):
    env, origin = make_env(stage_branches(staging={"carts/values.yaml": "image:\n  - carts:0.9\n"}))
    human = human_factory(origin.url, "dev")
    human.write("carts/values.yaml", "image:\n  repository: carts\n  tag: '1.0'\n")
    human.commit("image as a mapping")
    base = human.head()
    human.write("carts/values.yaml", "image:\n  repository: carts\n  tag: '1.1'\n")
    commit = human.commit("image tag 1.1")
    human.push()
    env.refresh()
    outcome = ApprovalExecutor().run(approval_request(env, promotion=promotion(base, commit)), env)
    assert isinstance(outcome, TaskOutcome) and outcome.status == "errored" and outcome.result == "fail"
    assert "staging:carts/values.yaml: image holds a list" in outcome.message and "image.tag" in outcome.message


def open_manual(env, origin, human_factory, **kw):
    base, commit = dev_change(env, origin, human_factory)
    request = approval_request(env, result="warning", promotion=promotion(base, commit), **kw)
    pending = ApprovalExecutor().run(request, env)
    assert isinstance(pending, Pending), pending
    return request, pending


@every_transport
def test_manual_approval_pushes_the_promotion_and_a_merge_approves(make_env, human_factory, remote_kind):
    env, origin = make_env(stage_branches(), kind=remote_kind)
    stage_tip = env.mirror.tip("staging")
    request, pending = open_manual(env, origin, human_factory)

    info = pending.data["approval"]
    assert info["branch"] == BRANCH and BRANCH in pending.message
    approval_commit = git_out("rev-parse", f"refs/heads/{BRANCH}", cwd=origin.path)
    assert info["commit"] == approval_commit
    assert git_out("rev-parse", f"{approval_commit}^", cwd=origin.path) == stage_tip    # stage tip + one commit
    shown = git_out("show", f"{approval_commit}:carts/values.yaml", cwd=origin.path)
    assert shown + "\n" == values_yaml("carts:1.1", 2, "staging only")
    message = git_out("log", "-1", "--format=%B", approval_commit, cwd=origin.path)
    assert f"{TRAILER_CONTEXT}: {CONTEXT}" in message
    assert f"{TRAILER_EVENT}: sh.keptn.event.approval.triggered" in message
    assert f"{TRAILER_STEP}: {PROMOTION_KEY}" in message
    assert decide(pending.data, request, env) is None                        # nobody decided yet

    reviewer = human_factory(origin.url, "staging")
    git("fetch", "-q", "origin", cwd=reviewer.path)
    git("merge", "-q", "--ff-only", f"origin/{BRANCH}", cwd=reviewer.path)
    reviewer.push("staging")
    env.refresh()

    outcome = decide(pending.data, request, env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass"
    assert outcome.gitcommitid == approval_commit == env.mirror.tip("staging")
    env.refresh()
    assert BRANCH not in env.mirror.tips()                                     # merged branch cleaned up


def test_manual_approval_redelivered_reuses_the_branch(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    again = ApprovalExecutor().run(request, env)
    assert isinstance(again, Pending)
    assert again.data["approval"]["commit"] == pending.data["approval"]["commit"]
    assert again.data["approval"]["base"] == pending.data["approval"]["base"]


def test_deleting_the_branch_declines(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    git("branch", "-D", BRANCH, cwd=origin.path)
    env.refresh()
    outcome = decide(pending.data, request, env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "fail" and "deleted" in outcome.message


def test_a_merge_commit_after_the_stage_moved_approves(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    reviewer = human_factory(origin.url, "staging")
    reviewer.change("orders/values.yaml", "image: orders:3.0\n")               # the stage moves on
    git("fetch", "-q", "origin", cwd=reviewer.path)
    git("merge", "-q", "--no-ff", "-m", "Merge approval", f"origin/{BRANCH}", cwd=reviewer.path)
    reviewer.push("staging")
    env.refresh()
    outcome = decide(pending.data, request, env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass"
    assert outcome.gitcommitid == env.mirror.tip("staging") == reviewer.head()


def test_a_squash_merge_is_recognised_by_its_trailers(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    approval_commit = pending.data["approval"]["commit"]
    reviewer = human_factory(origin.url, "staging")
    reviewer.change("orders/values.yaml", "image: orders:3.0\n")
    git("fetch", "-q", "origin", cwd=reviewer.path)
    git("merge", "-q", "--squash", f"origin/{BRANCH}", cwd=reviewer.path)
    body = git_out("log", "-1", "--format=%B", approval_commit, cwd=reviewer.path)
    git("commit", "-q", "-m", f"Approve carts (#7)\n\n* {body}", cwd=reviewer.path)   # GitHub's squash message
    reviewer.push("staging")
    git("branch", "-D", BRANCH, cwd=origin.path)                                    # the forge deletes it
    env.refresh()
    assert not env.mirror.is_ancestor(approval_commit, env.mirror.tip("staging"))
    outcome = decide(pending.data, request, env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass"
    assert outcome.gitcommitid == reviewer.head()


@pytest.mark.parametrize("kind", ["github", "gitea", "gitlab"])
def test_pull_request_is_opened_and_closing_it_declines(make_env, human_factory, monkeypatch, kind):
    with fake_forge(kind) as forge:
        monkeypatch.setenv("RECONCILER_FORGE_TOKEN", TOKEN)
        settings = Settings.from_data({"spec": {"forge": {"kind": kind, "url": forge.api,
                                                          "repository": forge.repository}}})
        env, origin = make_env(stage_branches(), settings=settings)
        request, pending = open_manual(env, origin, human_factory, evaluation=EVALUATION)
        again = ApprovalExecutor().run(request, env)                           # redelivery: no second PR
        assert isinstance(again, Pending)
        assert list(forge.pulls) == [1]
        pr = forge.pulls[1]
        assert (pr.head, pr.base) == (BRANCH, "staging")
        for expected in ("warning", "80.0", "Response time", "700.0", "error_rate", CONTEXT):
            assert expected in pr.body
        assert pending.data["approval"]["pullRequest"]["number"] == 1
        assert pending.data["approval"]["pullRequest"]["url"] in pending.message
        assert decide(pending.data, request, env) is None

        forge.close(1)
        outcome = decide(pending.data, request, env)
        assert isinstance(outcome, TaskOutcome) and outcome.result == "fail"
        assert "closed without merging" in outcome.message


def test_refused_forge_token_still_waits_and_says_why(make_env, human_factory, monkeypatch):
    with fake_forge("github") as forge:
        monkeypatch.setenv("RECONCILER_FORGE_TOKEN", "wrong")
        settings = Settings.from_data({"spec": {"forge": {"kind": "github", "url": forge.api,
                                                          "repository": forge.repository}}})
        env, origin = make_env(stage_branches(), settings=settings)
        _, pending = open_manual(env, origin, human_factory)
        assert "could not be opened" in pending.message and "RECONCILER_FORGE_TOKEN" in pending.message
        assert "wrong" not in pending.message
        assert not forge.pulls


def test_manual_approval_without_promotion_is_one_empty_commit(make_env):
    env, origin = make_env(stage_branches())
    request = approval_request(env, result="pass", properties={"pass": "manual"})
    pending = ApprovalExecutor().run(request, env)
    assert isinstance(pending, Pending)
    commit = pending.data["approval"]["commit"]
    assert git_out("log", "-1", "--format=%s", commit, cwd=origin.path) == f"approve staging carts {CONTEXT}"
    assert git_out("rev-parse", f"{commit}^{{tree}}", cwd=origin.path) == git_out(
        "rev-parse", "staging^{tree}", cwd=origin.path)


def test_plain_git_approve_fast_forwards_and_deletes_the_branch(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    decision = approve(env.mirror, env.writer, CONTEXT)
    assert decision.fast_forward and decision.decision == "approved"
    assert decision.commit == pending.data["approval"]["commit"]
    assert git_out("rev-parse", "refs/heads/staging", cwd=origin.path) == decision.commit
    assert git("rev-parse", "--verify", "-q", f"refs/heads/{BRANCH}", cwd=origin.path, check=False).returncode != 0
    env.refresh()
    outcome = decide(pending.data, request, env)
    assert isinstance(outcome, TaskOutcome) and outcome.result == "pass" and outcome.gitcommitid == decision.commit


def test_plain_git_approve_merges_when_the_stage_moved(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    human_factory(origin.url, "staging").change("orders/values.yaml", "image: orders:3.0\n")
    decision = approve(env.mirror, env.writer, CONTEXT[:8], stage="staging")
    assert not decision.fast_forward
    parents = git_out("log", "-1", "--format=%P", decision.commit, cwd=origin.path).split()
    assert parents[1] == pending.data["approval"]["commit"]
    message = git_out("log", "-1", "--format=%B", decision.commit, cwd=origin.path)
    assert f"{TRAILER_CONTEXT}: {CONTEXT}" in message and "sh.keptn.event.approval.finished" in message
    merged = git_out("show", f"{decision.commit}:carts/values.yaml", cwd=origin.path)
    assert "carts:1.1" in merged and "replicaCount: 2" in merged
    assert git_out("show", f"{decision.commit}:orders/values.yaml", cwd=origin.path) == "image: orders:3.0"
    env.refresh()
    assert decide(pending.data, request, env).result == "pass"


def test_plain_git_decline_deletes_the_branch(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request, pending = open_manual(env, origin, human_factory)
    decision = decline(env.mirror, env.writer, CONTEXT)
    assert decision.decision == "declined" and decision.branch == BRANCH
    env.refresh()
    assert decide(pending.data, request, env).result == "fail"
    with pytest.raises(ApprovalError, match="no approval is waiting"):
        approve(env.mirror, env.writer, CONTEXT)


def test_plain_git_approve_asks_which_when_several_wait(make_env):
    env, _ = make_env(stage_branches())
    for stage in ("staging", "production"):
        request = env.request("approval", stage, "carts", {"result": "pass", "approval": {"pass": "manual"}})
        assert isinstance(ApprovalExecutor().run(request, env), Pending)
    with pytest.raises(ApprovalError, match="several approvals"):
        approve(env.mirror, env.writer, CONTEXT)
    decision = approve(env.mirror, env.writer, CONTEXT, stage="production")
    assert decision.stage == "production"


def test_redelivery_with_another_key_finds_the_approval_and_a_foreign_branch_is_refused(make_env, human_factory):
    env, origin = make_env(stage_branches())
    request = approval_request(env, result="pass", properties={"pass": "manual"})
    pending = ApprovalExecutor().run(request, env)
    human_factory(origin.url, "staging").change("orders/values.yaml", "image: orders:3.0\n")   # stage moves on
    env.refresh()
    again = ApprovalExecutor().run(dataclasses.replace(request, key="another-key"), env)
    assert isinstance(again, Pending)
    assert again.data["approval"]["commit"] == pending.data["approval"]["commit"]

    other = "0b7c3e52-ffff-4d2a-9f55-7d0a4c1e2f3a"                 # same first 8 characters
    foreign = env.request("approval", "staging", "carts", {"result": "pass", "approval": {"pass": "manual"}},
                          context=other)
    outcome = ApprovalExecutor().run(foreign, env)
    assert isinstance(outcome, TaskOutcome) and outcome.status == "errored"
    assert BRANCH in outcome.message and CONTEXT in outcome.message


@pytest.mark.parametrize("kind, url, repo_url, api, repository", [
    ("github", None, "https://x-access-token:t@github.com/shop/config.git", "https://api.github.com", "shop/config"),
    ("gitea", None, "https://gitea.example/shop/config.git", "https://gitea.example/api/v1", "shop/config"),
    ("gitlab", None, "git@gitlab.example:group/sub/config.git", "https://gitlab.example/api/v4", "group/sub/config"),
    ("gitlab", "https://gl.example/api/v4/", "ssh://git@gl.example/a/b", "https://gl.example/api/v4", "a/b"),
    ("github", "https://ghe.example/api/v3", "https://ghe.example/o/r", "https://ghe.example/api/v3", "o/r"),
])
def test_forge_address_and_repository_default_to_the_config_repo(kind, url, repo_url, api, repository):
    from reconciler.spec.settings import ForgeSettings
    from reconciler.tasks.forges.registry import from_settings
    client = from_settings(ForgeSettings(kind=kind, url=url), repo_url, environ={})
    assert (client.kind, client.api, client.repository) == (kind, api, repository)


def test_forge_without_a_repository_says_what_to_set():
    from reconciler.spec.settings import ForgeSettings
    from reconciler.tasks.forges.base import ForgeError
    from reconciler.tasks.forges.registry import from_settings
    assert from_settings(ForgeSettings(kind="none"), "file:///x.git") is None
    with pytest.raises(ForgeError, match="spec.forge.repository"):
        from_settings(ForgeSettings(kind="github"), "file:///srv/config.git", environ={})
    with pytest.raises(ForgeError, match="spec.forge.url"):
        from_settings(ForgeSettings(kind="gitea", repository="o/r"), "/srv/config.git", environ={})
    with pytest.raises(ForgeError, match=r"'bitbucket' is not supported \(gitea, github, gitlab\)"):
        from_settings(ForgeSettings(kind="bitbucket"), "https://x/o/r.git", environ={})


def test_the_schema_names_exactly_the_forges_there_are():
    import json
    from pathlib import Path

    from reconciler.tasks.forges.registry import NONE, kinds
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "reconciler.json").read_text())
    assert sorted(schema["$defs"]["ForgeSettings"]["properties"]["kind"]["enum"]) == sorted([NONE, *kinds()])
    assert kinds() == ("gitea", "github", "gitlab")
