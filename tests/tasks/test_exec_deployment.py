"""Deployment and release: the service folder at the sequence's commit goes to the stage's target."""
from __future__ import annotations

from reconciler.spec.settings import Settings
from reconciler.targets.base import DeploymentFailed
from reconciler.tasks.deployment import DeploymentExecutor
from reconciler.tasks.release import ReleaseExecutor
from tests.support.taskenv import stage_branches, values_yaml


def test_deploys_the_folder_at_the_event_commit(make_env, human_factory):
    env, origin = make_env(stage_branches(dev={"carts/k8s/app.yaml": "kind: Deployment\n"}))
    commit = env.mirror.tip("dev")
    human_factory(origin.url, "dev").change("carts/values.yaml", values_yaml("carts:9.9", 1, "later"))
    env.refresh()

    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "carts", commit=commit), env)

    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    assert env.target_impl.calls == [("deploy", "dev", "carts", commit)]
    deployed = env.target_impl.deployed[("dev", "carts")]
    assert deployed.values == {"image": "carts:1.0", "tier": "web", "replicaCount": 1, "endpoint": "dev only.example"}
    assert set(deployed.files) == {"values.yaml", "stage.yaml", "k8s/app.yaml"}    # the folder, not the repo
    assert outcome.data["deployment"] == {
        "deploymentURIsLocal": ["http://127.0.0.1:9/carts-dev"], "deploymentURIsPublic": [],
        "deploymentNames": ["carts-dev"], "deploymentstrategy": "direct", "gitCommit": commit}
    assert not list((env.workdir / "tmp").iterdir())                               # export cleaned up


def test_failed_deployment_names_the_reason_and_api_errors_are_errored(make_env):
    env, _ = make_env(stage_branches())
    env.target_impl.fail = DeploymentFailed("not-healthy", "replica carts-0 exited: boom")
    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "carts"), env)
    assert (outcome.result, outcome.status) == ("fail", "succeeded")
    assert "not-healthy" in outcome.message and "boom" in outcome.message
    env.target_impl.fail = DeploymentFailed("api-error", "the API server said 500")
    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "carts"), env)
    assert (outcome.result, outcome.status) == ("fail", "errored")


def test_bad_values_and_missing_folder_fail_with_the_file(make_env):
    env, _ = make_env(stage_branches(dev={"carts/values.yaml": "image: [oops\n"}))
    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "carts"), env)
    assert outcome.result == "fail" and "carts/values.yaml:2" in outcome.message
    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "payments"), env)
    assert outcome.result == "fail" and "no folder payments/" in outcome.message
    assert env.target_impl.calls == []


def test_an_external_target_has_no_builtin_deployment(make_env):
    settings = Settings.from_data({"spec": {"stages": {"production": {"target": "external"},
                                                       "staging": {"target": "none"}}}})
    env, _ = make_env(stage_branches(), settings=settings)
    assert not DeploymentExecutor().applies(env.request("deployment", "production", "carts"), env)
    assert DeploymentExecutor().applies(env.request("deployment", "staging", "carts"), env)
    assert DeploymentExecutor().applies(env.request("deployment", "dev", "carts"), env)


def test_release_names_the_commit(make_env):
    env, _ = make_env(stage_branches())
    outcome = ReleaseExecutor().run(env.request("release", "staging", "carts"), env)
    assert outcome.result == "pass"
    assert outcome.data == {"release": {"gitCommit": env.mirror.tip("staging")}}


def test_target_none_records_the_change_and_finishes_at_once(make_env):
    env, _ = make_env(stage_branches(), settings=Settings.from_data({"spec": {"stages": {"dev": {"target": "none"}}}}))
    outcome = DeploymentExecutor().run(env.request("deployment", "dev", "carts", {}), env)
    tip = env.mirror.tip("dev")
    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    assert outcome.message.startswith(f"target none: the change to carts is recorded on dev as {tip[:12]}; "
                                      "nothing deploys it")
    assert outcome.data["deployment"] == {"deploymentNames": ["carts"], "deploymentURIsLocal": [],
                                          "deploymentURIsPublic": [], "gitCommit": tip}
    assert env.target_impl.calls == []
