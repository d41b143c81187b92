"""triggeredOn selectors (Keptn f.3 and quirk 2, with our `failed` fix)."""
import pytest
from engine_harness import shipyard

from reconciler.engine.selectors import followups, normalize_result, selector_matches

# (match, result, last task, fires)
CASES = [
    (None, "pass", "release", True),              # no selector: pass …
    (None, "warning", "release", True),           # … and warning (the docs say pass only)
    (None, "fail", "release", False),
    ({}, "pass", "release", True),                # empty match = mis-indented selector = default
    ({}, "fail", "release", False),
    ({"result": "fail"}, "fail", "release", True),
    ({"result": "fail"}, "pass", "release", False),
    ({"result": "pass"}, "warning", "release", False),   # an explicit pass does not take warning
    ({"result": "warning"}, "warning", "release", True),
    ({"result": "failed"}, "fail", "release", True),     # our fix: failed is read as fail
    ({"evaluation.result": "fail"}, "fail", "evaluation", True),
    ({"evaluation.result": "fail"}, "fail", "get-action", False),  # last task that ran decides
    ({"evaluation.result": "failed"}, "fail", "evaluation", True),
    ({"get-action.result": "fail"}, "fail", "get-action", True),
    ({"evaluation.result": "pass"}, "pass", "evaluation", True),
    ({"evaluation.result": "fail"}, "fail", None, False),          # no task ran
    ({"foo": "fail"}, "fail", "release", False),          # other keys are ignored …
    ({"foo": "pass"}, "pass", "release", False),          # … so this selector never fires
    ({"foo": "bar", "result": "fail"}, "fail", "release", True),
    ({"result": "FAIL"}, "fail", "release", False),       # exact strings
]


@pytest.mark.parametrize("match,result,last,expected", CASES)
def test_selector_rule(match, result, last, expected):
    assert selector_matches(match, result, last) is expected


@pytest.mark.parametrize("value,expected", [("failed", "fail"), ("fail", "fail"), ("pass", "pass"),
                                            ("warning", "warning"), (None, None), ("Failed", "Failed")])
def test_normalize_result(value, expected):
    assert normalize_result(value) == expected


SY = shipyard([
    {"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": "deployment"}]}]},
    {"name": "staging", "sequences": [
        {"name": "delivery", "triggeredOn": [{"event": "dev.delivery.finished"}], "tasks": [{"name": "deployment"}]},
        {"name": "rollback", "triggeredOn": [{"event": "dev.delivery.finished", "selector": {"match": {"result": "fail"}}},
                                             {"event": "dev.delivery.finished", "selector": {"match": {"deployment.result": "fail"}}}],
         "tasks": [{"name": "rollback"}]},
    ]},
    {"name": "perf", "sequences": [
        {"name": "delivery", "triggeredOn": [{"event": "dev.delivery.finished", "selector": {"match": {"result": "pass"}}}],
         "tasks": [{"name": "test"}]},
    ]},
])


@pytest.mark.parametrize("result,last,expected", [
    ("pass", "deployment", [("staging", "delivery"), ("perf", "delivery")]),     # parallel stages
    ("warning", "deployment", [("staging", "delivery")]),
    ("fail", "deployment", [("staging", "rollback")]),      # two entries match, one run
    ("fail", None, [("staging", "rollback")]),
])
def test_followups_in_shipyard_order_once_per_sequence(result, last, expected):
    got = [(st.name, seq.name) for st, seq in followups(SY, "dev", "delivery", result, last)]
    assert got == expected


def test_followups_only_for_the_named_finished_event():
    assert followups(SY, "staging", "delivery", "pass", "deployment") == []
    assert followups(SY, "dev", "other", "pass", "deployment") == []
