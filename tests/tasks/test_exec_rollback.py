"""Rollback: revert what the context changed in the service folder on this stage, then redeploy."""
from __future__ import annotations

from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT, TRAILER_STEP
from reconciler.engine.commands import Promote
from reconciler.tasks.approval import ApprovalExecutor, approve
from reconciler.tasks.promotion import promote
from reconciler.tasks.rollback import RollbackExecutor
from tests.support.taskenv import CONTEXT, stage_branches, values_yaml

ORIGINAL_STAGING = values_yaml("carts:1.0", 2, "staging only")


def dev_change(env, origin, human_factory, path="carts/values.yaml", content=None):
    human = human_factory(origin.url, "dev")
    base = human.head()
    commit = human.change(path, content or values_yaml("carts:1.1", 1, "dev only"))
    env.refresh()
    return base, commit


def promote_to_staging(env, base, commit):
    answer = promote(Promote(f"{CONTEXT}/staging/0/-/promote", f"{CONTEXT}/staging/0", CONTEXT, "carts", "dev",
                             "staging", commit, base), env)
    env.refresh()
    return answer.commit


def rollback(env, stage, base, commit, run=1, key=None):
    data = {"configurationChange": {"commit": commit, "base": base}, "result": "fail"}
    return RollbackExecutor().run(env.request("rollback", stage, "carts", data, run=run, key=key), env)


def test_rollback_reverts_the_promotion_and_keeps_other_changes(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    promoted = promote_to_staging(env, base, commit)
    human_factory(origin.url, "staging").change("orders/values.yaml", "image: orders:2.0\n")
    env.refresh()

    outcome = rollback(env, "staging", base, commit)

    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    env.refresh()
    revert = outcome.gitcommitid
    assert revert == env.mirror.tip("staging")
    assert env.mirror.read(revert, "carts/values.yaml").decode() == ORIGINAL_STAGING
    assert env.mirror.read(revert, "orders/values.yaml") == b"image: orders:2.0\n"
    info = env.mirror.commit_info(revert)
    assert info.changed_paths == ("carts/values.yaml",)
    assert info.trailers.get(TRAILER_CONTEXT) == CONTEXT
    assert info.trailers.get(TRAILER_EVENT) == "sh.keptn.event.rollback.triggered"
    assert info.trailers.get(TRAILER_STEP) == f"{CONTEXT}/staging/1/0/triggered"
    assert outcome.data["rollback"] == {"gitCommit": revert, "revertedCommits": [promoted]}
    assert outcome.data["deployment"]["gitCommit"] == revert
    assert env.target_impl.calls == [("deploy", "staging", "carts", revert)]
    assert env.target_impl.deployed[("staging", "carts")].values["image"] == "carts:1.0"

    again = rollback(env, "staging", base, commit)                                  # redelivery
    assert again.gitcommitid == revert and env.mirror.tip("staging") == revert
    second_run = rollback(env, "staging", base, commit, run=2)                      # another rollback run
    assert second_run.result == "pass" and "nothing to roll back" in second_run.message
    assert env.mirror.tip("staging") == revert


def test_rollback_on_the_stage_where_the_context_started_reverts_the_trigger(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    human_factory(origin.url, "dev").change("carts/stage.yaml", "stage: dev\nextra: later\n")
    env.refresh()
    outcome = rollback(env, "dev", base, commit)
    assert outcome.result == "pass", outcome.message
    env.refresh()
    assert env.mirror.read("dev", "carts/values.yaml").decode() == values_yaml("carts:1.0", 1, "dev only")
    assert env.mirror.read("dev", "carts/stage.yaml") == b"stage: dev\nextra: later\n"
    assert outcome.data["rollback"]["revertedCommits"] == [commit]


def test_nothing_to_roll_back_when_a_declined_approval_never_landed(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    request = env.request("approval", "staging", "carts", {"result": "warning", "approval": {
        "warning": "manual", "promotion": {"commit": commit, "base": base, "key": "k"}}})
    ApprovalExecutor().run(request, env)          # pushes approve/… ; nobody merges it
    before = env.mirror.tip("staging")
    outcome = rollback(env, "staging", base, commit)
    assert (outcome.result, outcome.status) == ("pass", "succeeded")
    assert "nothing to roll back" in outcome.message
    assert env.mirror.tip("staging") == before and env.target_impl.calls == []


def test_rollback_after_an_approval_merged_with_a_merge_commit(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    request = env.request("approval", "staging", "carts", {"result": "warning", "approval": {
        "warning": "manual", "promotion": {"commit": commit, "base": base, "key": "k"}}})
    ApprovalExecutor().run(request, env)
    human_factory(origin.url, "staging").change("orders/values.yaml", "image: orders:2.0\n")
    approve(env.mirror, env.writer, CONTEXT)                                          # a merge commit
    env.refresh()
    assert b"carts:1.1" in env.mirror.read("staging", "carts/values.yaml")
    outcome = rollback(env, "staging", base, commit)
    assert outcome.result == "pass", outcome.message
    env.refresh()
    assert env.mirror.read("staging", "carts/values.yaml").decode() == ORIGINAL_STAGING
    assert env.mirror.read("staging", "orders/values.yaml") == b"image: orders:2.0\n"


def test_rollback_restores_previous_values_where_the_revert_conflicts(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    promote_to_staging(env, base, commit)
    # a later change on the same lines: the revert does not apply, the keys are restored as state
    later = values_yaml("carts:1.1", 3, "staging only") + "extra: true\n"
    human_factory(origin.url, "staging").change("carts/values.yaml", later)
    env.refresh()
    outcome = rollback(env, "staging", base, commit)
    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    env.refresh()
    assert env.mirror.read("staging", "carts/values.yaml").decode() == \
        values_yaml("carts:1.0", 3, "staging only") + "extra: true\n"


def test_rollback_structural_clash_is_errored_naming_file_and_key(make_env, human_factory):
    env, origin = make_env(stage_branches(staging={"carts/values.yaml": "image: carts:1.0\nlimits:\n  cpu: 1\n"}))
    base, commit = dev_change(env, origin, human_factory, content="image: carts:1.1\nlimits:\n  cpu: 2\n")
    promote_to_staging(env, base, commit)
    human_factory(origin.url, "staging").change("carts/values.yaml", "image: carts:1.1\nlimits:\n  - 2\n")
    env.refresh()
    before = env.mirror.tip("staging")
    outcome = rollback(env, "staging", base, commit)
    assert (outcome.result, outcome.status) == ("fail", "errored")
    assert "staging:carts/values.yaml: limits holds a list" in outcome.message
    assert env.mirror.tip("staging") == before


def test_rolling_back_a_new_service_undeploys_it(make_env, human_factory):
    env, origin = make_env(stage_branches())
    human = human_factory(origin.url, "dev")
    base = human.head()
    human.write("payments/values.yaml", "image: payments:1.0\n")
    commit = human.commit("new service payments")
    human.push()
    env.refresh()
    data = {"configurationChange": {"commit": commit, "base": base}}
    outcome = RollbackExecutor().run(env.request("rollback", "dev", "payments", data), env)
    assert outcome.result == "pass", outcome.message
    assert env.mirror.list_tree(outcome.gitcommitid, "payments") == {}
    assert env.target_impl.calls == [("undeploy", "dev", "payments")]
