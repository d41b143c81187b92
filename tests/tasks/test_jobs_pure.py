"""The pure parts of the job executor: JSONPath, matching, env values, plans, the injection guard."""
from __future__ import annotations

import pytest

from reconciler.spec.jobconfig import load_jobconfig
from reconciler.tasks.jobs.jsonpath import JsonPathError, evaluate
from reconciler.tasks.jobs.matching import matching_actions, type_matches
from reconciler.tasks.jobs.output import TailBuffer, bounded_text, capture
from reconciler.tasks.jobs.plan import (
    PlanError,
    check_injection,
    code_positions,
    environment,
    plan_task,
    render_kubelet,
    render_local,
    resolve_env,
    rewrite_keptn_paths,
)
from reconciler.tasks.jobs.redact import Redactor
from reconciler.tasks.jobs.values import format_event_value, go_value

EVENT = {
    "type": "sh.keptn.event.test.triggered", "id": "e1", "shkeptncontext": "ctx-1", "gitcommitid": "abc",
    "data": {"project": "shop", "stage": "dev", "service": "carts",
             "labels": {"build-id": "17", "owner name": "jo"},
             "test": {"teststrategy": "locust"},
             "deployment": {"deploymentURIsLocal": ["http://carts.shop-dev:80", "http://b"]},
             "action": {"value": 2, "ratio": 0.5, "big": 1000000},
             "weird": {"x-y": {"a.b": "deep"}}, "flag": True, "nothing": None},
}


@pytest.mark.parametrize("path, value", [
    ("$", EVENT),
    ("$.data.project", "shop"),
    ("$.data.deployment.deploymentURIsLocal[0]", "http://carts.shop-dev:80"),
    ("$.data.deployment.deploymentURIsLocal[-1]", "http://b"),
    ("$.data['weird']['x-y'][\"a.b\"]", "deep"),
    ("$.data.weird.x-y", {"a.b": "deep"}),
    ("$.data.labels.*", ["17", "jo"]),
    ("$.data.deployment.deploymentURIsLocal[*]", ["http://carts.shop-dev:80", "http://b"]),
])
def test_jsonpath_subset(path, value):
    assert evaluate(path, EVENT) == value


@pytest.mark.parametrize("path, message", [
    ("data.project", "must start with '$'"),
    ("$.data.missing", "unknown key missing"),
    ("$.data.deployment.deploymentURIsLocal[5]", "index 5 out of range"),
    ("$..project", "recursive descent"),
    ("$.data[?(@.x)]", "not supported"),
    ("$.data.deployment.deploymentURIsLocal[0:1]", "not supported"),
    ("$.data['unterminated", "unterminated"),
])
def test_jsonpath_errors_say_what_is_wrong(path, message):
    with pytest.raises(JsonPathError) as err:
        evaluate(path, EVENT)
    assert message in str(err.value)


@pytest.mark.parametrize("pattern, event_type, matched", [
    ("sh.keptn.event.test.triggered", "sh.keptn.event.test.triggered", True),
    ("sh.keptn.event.*.triggered", "sh.keptn.event.deployment.triggered", True),
    ("sh.keptn.event.*.triggered", "sh.keptn.event.deployment.finished", False),
    ("sh.keptn.event.action.triggered", "sh.keptn.event.get-action.triggered", False),
    ("sh.keptn.event.test.triggered", "sh.keptn.event.test.finished", False),
    ("sh.keptn.event.[", "sh.keptn.event.[", False),          # an invalid expression matches nothing
])
def test_event_names_match_like_jes(pattern, event_type, matched):
    assert type_matches(pattern, event_type) is matched


CONFIG = load_jobconfig("""\
apiVersion: v2
actions:
  - name: locust
    events:
      - name: sh.keptn.event.test.triggered
        jsonpath: {property: $.data.test.teststrategy, match: locust}
  - name: any test
    events:
      - name: sh.keptn.event.*.triggered
  - name: scale
    events:
      - name: sh.keptn.event.action.triggered
        jsonpath: {property: $.data.action.value, match: "2"}
  - name: missing property
    events:
      - name: sh.keptn.event.test.triggered
        jsonpath: {property: $.data.nope, match: x}
""")


def test_every_matching_action_runs_and_jsonpath_filters_compare_strings():
    assert [a.name for _, a in matching_actions(CONFIG, EVENT)] == ["locust", "any test"]
    action_event = {**EVENT, "type": "sh.keptn.event.action.triggered"}
    assert [a.name for _, a in matching_actions(CONFIG, action_event)] == ["any test"]   # 2 is not "2"


def test_env_from_event_string_secret_labels_and_keptn_variables():
    task = load_jobconfig("""\
apiVersion: v2
actions:
  - tasks:
      - env:
          - {name: HOST, value: "$.data.deployment.deploymentURIsLocal[0]", valueFrom: event}
          - {name: DEPLOY, value: "$.data.deployment", valueFrom: event}
          - {name: AS_YAML, value: "$.data.test", valueFrom: event, as: YAML}
          - {name: URIS, value: "$.data.deployment.deploymentURIsLocal", valueFrom: event}
          - {name: URIS_JSON, value: "$.data.deployment.deploymentURIsLocal", valueFrom: event, as: json}
          - {name: COUNT, value: "$.data.action.value", valueFrom: event}
          - {name: RATIO, value: "$.data.action.ratio", valueFrom: event}
          - {name: BIG, value: "$.data.action.big", valueFrom: event}
          - {name: FLAG, value: "$.data.flag", valueFrom: event}
          - {name: NOTHING, value: "$.data.nothing", valueFrom: event}
          - {name: DATA_DIR, value: /tmp/data, valueFrom: string}
          - {name: creds, valueFrom: secret}
""").actions[0].tasks[0]
    env = {e.name: (e.value, e.source) for e in resolve_env(task, EVENT)}
    assert env["HOST"] == ("http://carts.shop-dev:80", "event")
    assert env["DEPLOY"][0] == '{"deploymentURIsLocal":["http://carts.shop-dev:80","http://b"]}'
    assert env["AS_YAML"][0] == "teststrategy: locust\n"
    assert env["URIS"][0] == "[http://carts.shop-dev:80 http://b]"
    assert env["URIS_JSON"][0] == '["http://carts.shop-dev:80","http://b"]'
    assert [env[k][0] for k in ("COUNT", "RATIO", "BIG", "FLAG", "NOTHING")] == ["2", "0.5", "1e+06", "true", "<nil>"]
    assert env["DATA_DIR"] == ("/tmp/data", "string") and env["creds"] == ("", "secret")
    assert env["KEPTN_PROJECT"] == ("shop", "auto") and env["KEPTN_STAGE"][0] == "dev"
    assert env["KEPTN_SERVICE"][0] == "carts" and env["KEPTN_CONTEXT"][0] == "ctx-1"
    assert env["LABELS_BUILD_ID"] == ("17", "label") and env["LABELS_OWNER_NAME"][0] == "jo"


@pytest.mark.parametrize("env, message", [
    ("{name: X, value: $.data.nope, valueFrom: event}", "env 'X': could not read '$.data.nope'"),
    ("{name: X, value: y, valueFrom: configmap}", "unknown valueFrom 'configmap'"),
    ("{name: X, value: y}", "unknown valueFrom ''"),
])
def test_env_errors_name_the_variable(env, message):
    task = load_jobconfig(f"apiVersion: v2\nactions:\n  - tasks:\n      - env: [{env}]\n").actions[0].tasks[0]
    with pytest.raises(PlanError) as err:
        resolve_env(task, EVENT)
    assert message in str(err.value)


def test_plan_carries_timeouts_and_identity():
    config = load_jobconfig("apiVersion: v2\nactions:\n  - name: a\n    tasks:\n      - {name: t, cmd: [x]}\n"
                            "      - {name: u, cmd: [y], maxPollDuration: 7}\n")
    action = config.actions[0]
    first = plan_task(0, action, 0, action.tasks[0], EVENT, default_timeout=300, max_output_bytes=4096)
    second = plan_task(0, action, 1, action.tasks[1], EVENT, default_timeout=300, max_output_bytes=4096)
    assert (first.timeout, second.timeout) == (300, 7)
    assert (first.context, first.event_id, first.git_commit) == ("ctx-1", "e1", "abc")


@pytest.mark.parametrize("argv, positions", [
    (["sh", "-c", "echo hi", "x"], {0, 2}),
    (["/bin/bash", "-ec", "echo hi"], {0, 2}),
    (["bash", "-e", "-c", "--", "echo"], {0, 4}),
    (["bash", "script.sh", "-c"], {0}),
    (["busybox", "sh", "-c", "echo"], {0, 3}),
    (["python3.11", "-c", "print(1)"], {0, 2}),
    (["node", "-e", "1"], {0, 2}),
    (["curl", "-c", "x"], {0}),
])
def test_code_positions(argv, positions):
    assert code_positions(argv) == positions


@pytest.mark.parametrize("payload", ["; rm -rf /", "$(touch pwned)", "`touch pwned`", "a b", "x\ny", "'q'"])
def test_event_data_with_shell_syntax_is_refused_in_code_positions(payload):
    values, tainted = {"X": payload}, frozenset({"X"})
    with pytest.raises(PlanError) as err:
        check_injection(["sh", "-c", "echo $(X)"], values, tainted)
    assert "pass it as an environment variable" in str(err.value)
    # ...but it is fine as a plain argument, where it stays one literal argument
    assert render_local(["echo"], ["$(X)"], values, tainted) == ["echo", payload]


def test_plain_event_data_and_config_values_may_go_into_scripts():
    values = {"HOST": "http://carts.shop-dev:80/x,y=1", "CONF": "; anything", "X": "a"}
    tainted = frozenset({"HOST", "X"})
    assert render_local(["sh", "-c", "curl $(HOST); $(CONF)"], [], values, tainted)[2] == \
        "curl http://carts.shop-dev:80/x,y=1; ; anything"  # CONF comes from the config, not the event
    with pytest.raises(PlanError) as err:
        render_local(["$(X)"], [], values, tainted)
    assert "program to run may not come from event data" in str(err.value)


def test_environment_applies_secrets_in_place_and_tracks_taint():
    task = load_jobconfig("apiVersion: v2\nactions:\n  - tasks:\n      - env:\n"
                          "          - {name: TOKEN, value: $.data.project, valueFrom: event}\n"
                          "          - {name: creds, valueFrom: secret}\n").actions[0].tasks[0]
    action = load_jobconfig("apiVersion: v2\nactions:\n  - name: a\n").actions[0]
    plan = plan_task(0, action, 0, task, EVENT, default_timeout=1, max_output_bytes=1024)
    values, tainted = environment(plan, {"creds": {"TOKEN": "s3cret", "USER": "u"}})
    assert values["TOKEN"] == "s3cret" and "TOKEN" not in tainted     # the secret came later and wins
    assert "KEPTN_PROJECT" in tainted and "USER" not in tainted


def test_keptn_paths_map_to_the_local_files_directory():
    assert rewrite_keptn_paths("/keptn/locust/basic.py", "/w/k") == "/w/k/locust/basic.py"
    assert rewrite_keptn_paths("--config=/keptn/a", "/w/k") == "--config=/w/k/a"
    assert rewrite_keptn_paths("find /keptn -type f", "/w/k") == "find /w/k -type f"
    assert rewrite_keptn_paths("/keptnx /opt/keptn/a", "/w/k") == "/keptnx /opt/keptn/a"


def test_kubelet_rendering_leaves_only_secret_references():
    out = render_kubelet(["--host", "$(HOST)", "$(TOKEN)", "$(NOPE)", "$$(HOST)"],
                         {"HOST": "$(TOKEN)"}, frozenset({"TOKEN"}))
    assert out == ["--host", "$$(TOKEN)", "$(TOKEN)", "$$(NOPE)", "$$(HOST)"]


def test_redaction_and_bounded_output():
    r = Redactor(["hunter2", "hunter", ""])
    assert r.text("pw=hunter2 / hunter") == "pw=*** / ***"
    assert r.data({"a": ["hunter2"], "hunter": 1}) == {"a": ["***"], "***": 1}
    buf = TailBuffer(keep=10 + r.margin)
    for i in range(1000):
        buf.write(b"line %d hunter2\n" % i)
    text, truncated = bounded_text(buf.tail(), buf.total, 10, r)
    assert truncated and "hunter" not in text and text.endswith("***\n")
    assert len(text.split("\n", 1)[1].encode()) <= 10
    small, cut = capture("short hunter2", 100, r)
    assert (small, cut) == ("short ***", False)


def test_values_print_like_go():
    assert go_value([1, "a", {"b": 2.5, "a": None}]) == "[1 a map[a:<nil> b:2.5]]"
    assert format_event_value({"k": [1]}, "") == '{"k":[1]}'
