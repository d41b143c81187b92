"""Data flow between tasks and the aggregation of several executors' answers (Keptn f.2)."""
import pytest

from reconciler.engine.payload import aggregate, deep_merge, json_copy, stops_sequence, task_data


@pytest.mark.parametrize("answers,expected", [
    ([("pass", "succeeded")], ("pass", "succeeded")),
    ([("pass", "succeeded"), ("warning", "succeeded")], ("warning", "succeeded")),
    ([("pass", "succeeded"), ("fail", "succeeded")], ("fail", "succeeded")),
    ([("warning", "succeeded"), ("fail", "succeeded")], ("fail", "succeeded")),
    ([("failed", "succeeded")], ("fail", "succeeded")),          # not pass/warning → fail
    ([(None, "succeeded")], ("fail", "succeeded")),              # missing result → fail
    ([("pass", "errored")], ("fail", "errored")),               # our fix: errored forces fail
    ([("pass", "succeeded"), ("pass", "errored")], ("fail", "errored")),
    ([("pass", "aborted"), ("pass", "errored")], ("fail", "errored")),   # errored > aborted
    ([("pass", "aborted"), ("pass", "succeeded")], ("pass", "aborted")),
    ([("pass", "unknown")], ("fail", "unknown")),                # unknown forces fail
    ([("pass", None)], ("fail", "unknown")),
    ([("warning", "succeeded"), ("pass", "weird")], ("fail", "unknown")),
    ([], ("fail", "unknown")),
])
def test_aggregate(answers, expected):
    assert aggregate(answers) == expected


@pytest.mark.parametrize("result,status,stops", [
    ("pass", "succeeded", False), ("warning", "succeeded", False), ("fail", "succeeded", True),
    ("pass", "errored", True), ("warning", "errored", True), ("pass", "aborted", False),
])
def test_stop_rule(result, status, stops):
    assert stops_sequence(result, status) is stops


def test_deep_merge_merges_mappings_and_replaces_the_rest_without_changing_inputs():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "keep": {"k": 1}}
    over = {"a": {"y": [3], "z": {"n": 1}}, "b": {"now": "map"}}
    out = deep_merge(base, over)
    assert out == {"a": {"x": 1, "y": [3], "z": {"n": 1}}, "b": {"now": "map"}, "keep": {"k": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1, "keep": {"k": 1}}
    assert over == {"a": {"y": [3], "z": {"n": 1}}, "b": {"now": "map"}}


def test_json_copy_is_deep():
    value = {"a": [{"b": 1}], "c": {"d": "e"}}
    copy = json_copy(value)
    assert copy == value
    copy["a"][0]["b"] = 2
    copy["c"]["d"] = "x"
    assert value == {"a": [{"b": 1}], "c": {"d": "e"}}


def test_task_data_order_of_precedence():
    run_data = {"project": "p", "stage": "wrong", "service": "s", "message": "old",
                "configurationChange": {"values": {"image": "v1"}}, "test": {"start": "t0"},
                "result": "fail"}
    data = task_data(run_data, project="p", stage="dev", service="s", result="warning", status="succeeded",
                     task_name="test", properties={"teststrategy": "functional"})
    assert data == {"project": "p", "stage": "dev", "service": "s", "result": "warning", "status": "succeeded",
                    "configurationChange": {"values": {"image": "v1"}},
                    "test": {"start": "t0", "teststrategy": "functional"}}
    assert run_data["stage"] == "wrong" and run_data["message"] == "old"     # input unchanged


def test_task_data_keeps_the_trigger_result_for_the_first_task():
    data = task_data({"result": "warning", "status": "succeeded"}, project="p", stage="prod", service="s",
                     result=None, status=None, task_name="approval", properties={})
    assert data["result"] == "warning" and "approval" not in data


def test_merge_answer_puts_a_later_tasks_list_entries_first_like_keptn():
    from reconciler.engine.payload import merge_answer
    base = {"deployment": {"deploymentURIsLocal": ["http://dev"], "replicas": 1, "ok": True}, "tags": ["a"]}
    over = {"deployment": {"deploymentURIsLocal": ["http://staging"], "replicas": 3, "ok": False}, "tags": "b"}
    out = merge_answer(base, over)
    assert out["deployment"]["deploymentURIsLocal"] == ["http://staging", "http://dev"]     # keptn#7627
    assert (out["deployment"]["replicas"], out["deployment"]["ok"]) == (3, False)          # Keptn keeps 1/True
    assert out["tags"] == "b"                                                              # not both lists
    assert base["deployment"]["deploymentURIsLocal"] == ["http://dev"]                     # inputs untouched
