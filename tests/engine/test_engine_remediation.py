"""Remediation admission (engine.remediation): which alert opens, joins or closes a remediation."""
import re

import pytest

from reconciler.engine.events import parse_type
from reconciler.engine.problems import Problem, problems_from_alertmanager
from reconciler.engine.remediation import (KnownRun, OutOfBounds, ReplicaBounds, Scaled, admit, remediation_triggered,
                                          scale_within)

NOW = 1_700_000_000.0


def problem(state="open", *, fingerprint="fp1", starts="2023-11-14T22:00:00Z", labels=None):
    alert = {"status": "resolved" if state == "resolved" else "firing", "fingerprint": fingerprint,
             "startsAt": starts,
             "labels": {"alertname": "response_time_p95", "stage": "production", "service": "carts",
                        **(labels or {})},
             "annotations": {"summary": "slow responses"}}
    (p,), _ = problems_from_alertmanager({"alerts": [alert]})
    return p


def run(active, *, sequence="remediation", at=NOW - 60):
    return KnownRun(run_id=f"ctx/production/{int(active)}", sequence=sequence, active=active, triggered_at=at)


@pytest.mark.parametrize("state,known,action,accepted,code", [
    # firing, nothing in its context yet: open one
    ("open", [], "open", True, "opened"),
    # firing again while the remediation of this fingerprint runs: one open per fingerprint
    ("open", [run(True)], "none", False, "duplicate"),
    # firing again after its remediation ended (same context): a new remediation run
    ("open", [run(False)], "open", True, "opened"),
    # any active run in the context counts, whatever sequence it is
    ("open", [run(False), run(True, sequence="delivery")], "none", False, "duplicate"),
    # resolved while open: close it
    ("resolved", [run(True)], "close", True, "closed"),
    # resolved with nothing open: nothing to do, still accepted
    ("resolved", [], "none", True, "nothing-open"),
    ("resolved", [run(False)], "none", True, "nothing-open"),
])
def test_admission_table(state, known, action, accepted, code):
    verdict = admit(problem(state), known, project="sockshop", now=NOW)
    assert (verdict.action, verdict.accepted, verdict.code) == (action, accepted, code)
    assert verdict.context == problem(state).context
    assert (verdict.event is not None) == (action == "open")
    assert verdict.reason


def test_the_opening_event_is_a_remediation_trigger_for_the_alerts_lane():
    p = problem(labels={"pod_name": "carts-1", "severity": "page"})
    event = admit(p, [], project="sockshop", now=NOW).event
    assert event is not None
    parsed = parse_type(event.type)
    assert (parsed.scope, parsed.stage, parsed.sequence, parsed.kind) == ("sequence", "production",
                                                                          "remediation", "triggered")
    assert event.shkeptncontext == p.context and event.source == "reconciler/alertmanager"
    assert event.data["project"] == "sockshop" and event.data["problem"]["problemTitle"] == "slow responses"
    # routing labels are already stage/service; the others are there for action placeholders
    assert event.data["labels"] == {"alertname": "response_time_p95", "pod_name": "carts-1", "severity": "page"}
    assert event.time == "2023-11-14T22:13:20.000Z"


def test_the_same_notification_makes_the_same_event_and_a_new_firing_a_new_context():
    first = remediation_triggered(problem(), project="p", now=NOW)
    again = remediation_triggered(problem(), project="p", now=NOW + 30)
    assert first.id == again.id and first.shkeptncontext == again.shkeptncontext
    refired = problem(starts="2023-11-15T08:00:00Z")
    assert refired.context != problem().context
    assert remediation_triggered(refired, project="p", now=NOW).id != first.id


def test_a_problem_without_labels_gets_no_labels_key():
    p = Problem(state="open", fingerprint="f", stage="dev", service="carts", project=None, context="c",
                details={"problemTitle": "t"})
    assert "labels" not in remediation_triggered(p, project="p", now=NOW).data


BOUNDS = ReplicaBounds(1, "min from settings", 5, "max from remediation.yaml")


@pytest.mark.parametrize("count,increment,expected", [
    (3, 1, Scaled(4)),
    (3, 2, Scaled(5)),
    (4, 3, Scaled(5, "clamped to the maximum of 5 (max from remediation.yaml), not 7")),
    (2, -3, Scaled(1, "clamped to the minimum of 1 (min from settings), not -1")),
    (3, 0, Scaled(3)),
    (9, -2, Scaled(7)),                     # above the maximum (set by hand): scaling down is fine
    (0, 1, Scaled(1)),                      # below the minimum: scaling up is fine
])
def test_scaling_stays_within_bounds(count, increment, expected):
    assert scale_within(count, increment, BOUNDS) == expected


@pytest.mark.parametrize("count,increment,message", [
    (5, 1, "it has 5 replicas, at or above the maximum of 5 (max from remediation.yaml); not scaling up by 1"),
    (9, 1, "at or above the maximum of 5"),
    (1, -1, "it has 1 replicas, at or below the minimum of 1 (min from settings); not scaling down by 1"),
])
def test_scaling_that_cannot_move_is_refused(count, increment, message):
    with pytest.raises(OutOfBounds, match=re.escape(message)):
        scale_within(count, increment, BOUNDS)
