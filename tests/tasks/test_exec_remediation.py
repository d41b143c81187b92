"""Remediation: get-action picks actions in order and runs out; scaling commits the replica count."""
from __future__ import annotations

import pytest

from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT, TRAILER_STEP
from reconciler.spec.settings import Settings
from reconciler.tasks.action import ScalingExecutor, set_replica_count
from reconciler.tasks.getaction import GetActionExecutor
from tests.support.remotes import git_out
from tests.support.taskenv import CONTEXT, stage_branches

REMEDIATION = """\
apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts-remediation}
spec:
  remediations:
    - problemType: Response time degradation
      actionsOnOpen:
        - {name: Scale up, action: scaling, description: one more replica, value: "1"}
        - {name: Toggle cache, action: featuretoggle, description: cache on, value: {EnableItemCache: "on"}}
    - problemType: Out of memory
      actionsOnOpen:
        - {name: Restart, action: restart}
    - problemType: default
      actionsOnOpen:
        - {name: Escalate, action: escalate, value: {channel: "#ops"}}
"""
VALUES = """\
# carts values (production)
image: carts:1.0   # pinned
replicaCount: 2    # raised by remediation
resources:
  replicaCount: 99   # nested, not ours
endpoint: prod.example
"""


def get_action(env, problem, index=None, service="carts"):
    data = {"problem": problem}
    if index is not None:
        data["get-action"] = {"actionIndex": index}
    return GetActionExecutor().run(env.request("get-action", "production", service, data), env)


def test_actions_in_order_by_root_cause_then_title_then_default(make_env):
    env, _ = make_env(stage_branches(production={"carts/remediation.yaml": REMEDIATION}))
    first = get_action(env, {"problemTitle": "whatever", "rootCause": "Response time degradation"})
    assert first.result == "pass"
    assert first.data == {"get-action": {"actionIndex": 1}, "action": {
        "name": "Scale up", "action": "scaling", "description": "one more replica", "value": "1"}}
    second = get_action(env, {"rootCause": "Response time degradation"}, index=1)
    assert second.data["action"]["value"] == {"EnableItemCache": "on"}
    assert second.data["get-action"]["actionIndex"] == 2
    by_title = get_action(env, {"ProblemTitle": "Out of memory"})                     # Keptn's old capitalised keys
    assert by_title.data["action"]["action"] == "restart"
    fallback = get_action(env, {"problemTitle": "Disk full"})
    assert fallback.data["action"]["name"] == "Escalate"


def test_running_out_of_actions_succeeds_with_result_fail_and_exhausted(make_env):
    env, _ = make_env(stage_branches(production={"carts/remediation.yaml": REMEDIATION}))
    outcome = get_action(env, {"rootCause": "Response time degradation"}, index=2)
    assert (outcome.result, outcome.status) == ("fail", "succeeded")
    assert "no action with index 2" in outcome.message
    info = outcome.data["get-action"]
    assert info["exhausted"] is True and info["actionIndex"] == 2
    assert [a["name"] for a in info["actionsTried"]] == ["Scale up", "Toggle cache"]


def test_no_matching_problem_type_is_exhausted_at_once(make_env):
    no_default = REMEDIATION.split("    - problemType: default")[0]
    env, _ = make_env(stage_branches(production={"carts/remediation.yaml": no_default}))
    outcome = get_action(env, {"problemTitle": "Disk full"})
    assert (outcome.result, outcome.status) == ("fail", "succeeded")
    assert outcome.data["get-action"]["exhausted"] is True
    assert "unable to find an action for problem title 'Disk full'" in outcome.message


@pytest.mark.parametrize("files, problem", [
    ({}, "there is no carts/remediation.yaml"),
    ({"carts/remediation.yaml": REMEDIATION.replace("0.1.4", "0.2.0")}, "apiVersion is 'spec.keptn.sh/0.2.0'"),
    ({"carts/remediation.yaml": "spec: [\n"}, "carts/remediation.yaml:2: not valid YAML"),
])
def test_missing_or_wrong_remediation_file_is_errored(make_env, files, problem):
    env, _ = make_env(stage_branches(production=files))
    outcome = get_action(env, {"rootCause": "Response time degradation"})
    assert (outcome.result, outcome.status) == ("fail", "errored")
    assert problem in outcome.message


def test_remediation_is_read_at_the_config_ref(make_env):
    env, _ = make_env(stage_branches(production={"carts/remediation.yaml": REMEDIATION}))
    valid = env.mirror.tip("production")
    env.writer.write("production", lambda tip: {"carts/remediation.yaml": b"apiVersion: broken\n"}, "break it")
    env.config_refs[("production", "carts")] = valid          # the last valid config
    assert get_action(env, {"rootCause": "Out of memory"}).data["action"]["name"] == "Restart"


# --------------------------------------------------------------------------- scaling

def scaling(env, value, key=None, redelivery=False, **bounds):
    data = {"action": {"name": "Scale up", "action": "scaling", "value": value, **bounds},
            "problem": {"problemTitle": "x"}}
    return ScalingExecutor().run(env.request("action", "production", "carts", data, key=key,
                                             redelivery=redelivery), env)


@pytest.mark.parametrize("text, replicas, expected", [
    (VALUES, 5, VALUES.replace("replicaCount: 2    #", "replicaCount: 5    #")),
    ("image: a\nreplicaCount: 1\n", 3, "image: a\nreplicaCount: 3\n"),
    ("image: a\n", 2, "image: a\nreplicaCount: 2\n"),
    ("image: a", 2, "image: a\nreplicaCount: 2\n"),
    ("", 1, "replicaCount: 1\n"),
    ("replicaCount: 1\r\nimage: a\r\n", 4, "replicaCount: 4\r\nimage: a\r\n"),
])
def test_replica_line_edit_keeps_everything_else(text, replicas, expected):
    assert set_replica_count(text, replicas) == expected


def test_scaling_commits_keeps_comments_and_scales_the_target(make_env):
    env, origin = make_env(stage_branches(production={"carts/values.yaml": VALUES}))
    env.target_impl.deployed[("production", "carts")] = _deployed(env, 2)
    before = env.mirror.tip("production")

    outcome = scaling(env, "+1")

    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    commit = outcome.gitcommitid
    assert commit and outcome.data == {"action": {"gitCommit": commit}}
    assert git_out("rev-parse", "refs/heads/production", cwd=origin.path) == commit
    env.refresh()
    assert env.mirror.read(commit, "carts/values.yaml").decode() == VALUES.replace("replicaCount: 2 ", "replicaCount: 3 ")
    info = env.mirror.commit_info(commit)
    assert info.parents == (before,) and info.changed_paths == ("carts/values.yaml",)
    assert info.trailers.get(TRAILER_CONTEXT) == CONTEXT
    assert info.trailers.get(TRAILER_EVENT) == "sh.keptn.event.action.triggered"
    assert info.trailers.get(TRAILER_STEP) == f"{CONTEXT}/production/0/0/triggered"
    assert env.target_impl.calls[-1] == ("scale", "production", "carts", "3")


def test_scaling_is_idempotent_on_redelivery(make_env):
    env, _ = make_env(stage_branches(production={"carts/values.yaml": VALUES}))
    env.target_impl.deployed[("production", "carts")] = _deployed(env, 2)
    first = scaling(env, "3")
    again = scaling(env, "3", redelivery=True)
    assert again.gitcommitid == first.gitcommitid == env.mirror.tip("production")
    assert b"replicaCount: 5 " in env.mirror.read("production", "carts/values.yaml")
    assert [c for c in env.target_impl.calls if c[0] == "scale"] == [("scale", "production", "carts", "5")] * 2
    other_round = scaling(env, "-1", key=f"{CONTEXT}/production/1/0/triggered")
    assert other_round.gitcommitid != first.gitcommitid
    assert b"replicaCount: 4 " in env.mirror.read("production", "carts/values.yaml")


@pytest.mark.parametrize("value, message", [
    (1, "could not parse action.value to string value"),
    ("one", "could not parse action.value to int"),
    ("1.5", "could not parse action.value to int"),
])
def test_bad_scaling_values_fail_like_the_helm_service(make_env, value, message):
    env, _ = make_env(stage_branches(production={"carts/values.yaml": VALUES}))
    before = env.mirror.tip("production")
    outcome = scaling(env, value)
    assert (outcome.result, outcome.status) == ("fail", "succeeded")
    assert message in outcome.message
    assert env.mirror.tip("production") == before


def test_scaling_without_a_running_service_keeps_the_commit_and_fails(make_env):
    env, _ = make_env(stage_branches(production={"carts/values.yaml": VALUES}))
    outcome = scaling(env, "1")
    assert outcome.result == "fail" and "not-deployed" in outcome.message
    assert outcome.gitcommitid == env.mirror.tip("production")


def test_scaling_only_answers_scaling_actions_and_skips_targetless_stages(make_env):
    settings = Settings.from_data({"spec": {"stages": {"production": {"target": "none"}}}})
    env, _ = make_env(stage_branches(), settings=settings)
    for action, applies in (("scaling", True), ("scale", True), ("featuretoggle", False)):
        request = env.request("action", "production", "carts", {"action": {"action": action, "value": "1"}})
        assert ScalingExecutor().applies(request, env) is applies
    outcome = scaling(env, "1")
    assert outcome.result == "pass" and env.target_impl.calls == []
    assert b"replicaCount: 4 " in env.mirror.read("production", "carts/values.yaml")


LIMITED = Settings.from_data({"spec": {"stages": {"production": {"target": "none"}},
                                        "remediation": {"limits": {"minReplicas": 2, "maxReplicas": 4}}}})


@pytest.mark.parametrize("value, bounds, outcome, replicas, message", [
    # settings: 2..4 (the file has 2)
    ("+1", {}, "pass", 3, "2 -> 3 replica(s)"),
    ("5", {}, "pass", 4, "2 -> 4 (clamped to the maximum of 4 (spec.remediation.limits.maxReplicas in "
                         "reconciler.yaml), not 7)"),
    ("-1", {}, "fail", 2, "scaling carts in production: it has 2 replicas, at or below the minimum of 2 "
                          "(spec.remediation.limits.minReplicas in reconciler.yaml); not scaling down by 1"),
    # the action's own bounds in remediation.yaml win
    ("5", {"maxReplicas": 6}, "pass", 6, "clamped to the maximum of 6 (the action's maxReplicas in remediation.yaml)"),
    ("-3", {"minReplicas": 0}, "pass", 0, "2 -> 0 (clamped to the minimum of 0 (the action's minReplicas"),
    ("1", {"maxReplicas": 2}, "fail", 2, "at or above the maximum of 2 (the action's maxReplicas in remediation.yaml)"),
    ("1", {"minReplicas": 5}, "fail", 2, "minReplicas (5, the action's minReplicas in remediation.yaml) is above "
                                         "maxReplicas (4, spec.remediation.limits.maxReplicas in reconciler.yaml)"),
    ("1", {"maxReplicas": "9"}, "fail", 2, "action.maxReplicas must be a whole number >= 0, not '9'"),
])
def test_scaling_stays_within_the_bounds(make_env, value, bounds, outcome, replicas, message):
    env, _ = make_env(stage_branches(production={"carts/values.yaml": VALUES}), settings=LIMITED)
    before = env.mirror.tip("production")
    result = scaling(env, value, **bounds)
    assert result.result == outcome and message in result.message, result.message
    assert f"replicaCount: {replicas} ".encode() in env.mirror.read("production", "carts/values.yaml")
    assert (env.mirror.tip("production") == before) == (outcome == "fail")


def test_scaling_bounds_reach_the_action_from_remediation_yaml(make_env):
    bounded = REMEDIATION.replace('value: "1"}', 'value: "1", minReplicas: 2, maxReplicas: 8}')
    env, _ = make_env(stage_branches(production={"carts/remediation.yaml": bounded}))
    action = get_action(env, {"rootCause": "Response time degradation"}).data["action"]
    assert (action["minReplicas"], action["maxReplicas"]) == (2, 8)
    assert "minReplicas" not in get_action(env, {"rootCause": "Out of memory"}).data["action"]


def _deployed(env, replicas):
    from tests.support.taskenv import Deployed
    return Deployed(env.mirror.tip("production"), {}, {}, replicas)


def test_scaling_a_helm_service_commits_replica_count_in_its_chart_values_and_redeploys(make_env):
    chart_values = "# chart defaults for payments\nreplicaCount: 2   # production\nimage:\n  tag: '1.0'\n"
    env, _ = make_env(stage_branches(production={"payments/helm/payments/values.yaml": chart_values,
                                                 "payments/helm/payments/Chart.yaml": "name: payments\nversion: 0.1.0\n"}))
    from tests.support.taskenv import Deployed
    env.target_impl.deployed[("production", "payments")] = Deployed(env.mirror.tip("production"), {}, {}, 2)
    data = {"action": {"name": "Scale up", "action": "scaling", "value": "2"}, "problem": {"problemTitle": "x"}}

    outcome = ScalingExecutor().run(env.request("action", "production", "payments", data), env)

    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    env.refresh()
    assert env.mirror.read(outcome.gitcommitid, "payments/helm/payments/values.yaml").decode() == \
        chart_values.replace("replicaCount: 2 ", "replicaCount: 4 ")
    assert env.mirror.commit_info(outcome.gitcommitid).changed_paths == ("payments/helm/payments/values.yaml",)
    assert env.mirror.read(outcome.gitcommitid, "payments/values.yaml") is None
    # a Helm service is deployed again (the chart renders the new count), not scaled behind its back
    assert env.target_impl.calls[-1] == ("deploy", "production", "payments", outcome.gitcommitid)
