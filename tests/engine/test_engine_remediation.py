"""Remediation admission (engine.remediation): which alert opens, joins or closes a remediation."""
import re

import pytest

from reconciler.engine.events import parse_type
from reconciler.engine.problems import Problem, problems_from_alertmanager
from reconciler.engine.remediation import (
    KnownRun,
    Limits,
    OutOfBounds,
    ReplicaBounds,
    Scaled,
    admit,
    remediation_triggered,
    scale_within,
)

NOW = 1_700_000_000.0


def problem(state="open", *, fingerprint="fp1", starts="2023-11-14T22:00:00Z", labels=None):
    alert = {"status": "resolved" if state == "resolved" else "firing", "fingerprint": fingerprint,
             "startsAt": starts,
             "labels": {"alertname": "response_time_p95", "stage": "production", "service": "carts",
                        **(labels or {})},
             "annotations": {"summary": "slow responses"}}
    (p,), _ = problems_from_alertmanager({"alerts": [alert]})
    return p


MINE = problem().context
OTHER = "ctx-of-an-earlier-firing"
LIMITS = Limits(refire_window=300, cooldown=600, actions_per_hour=3)


def run(active, *, sequence="remediation", at=NOW - 60, context=MINE, fingerprint="fp1", ended=None):
    return KnownRun(run_id=f"{context}/production/{int(active)}", sequence=sequence, active=active,
                    triggered_at=at, context=context, fingerprint=fingerprint,
                    finished_at=None if active else (NOW - 30 if ended is None else ended))


@pytest.mark.parametrize("state,known,actions,action,accepted,code,context", [
    # firing, nothing known yet: open one
    ("open", [], [], "open", True, "opened", MINE),
    # the same notification again while its remediation runs: one open per notification
    ("open", [run(True)], [], "none", False, "duplicate", MINE),
    # any active run in its own context counts, whatever sequence it is
    ("open", [run(False, ended=NOW - 4000), run(True, sequence="delivery")], [], "none", False, "duplicate", MINE),
    # a re-fire (new startsAt, so a new context) while the fingerprint's remediation runs: joined
    ("open", [run(True, context=OTHER)], [], "none", True, "joined", OTHER),
    # … or shortly after it ended (within refireWindow): joined, nothing new starts
    ("open", [run(False, context=OTHER, ended=NOW - 299)], [], "none", True, "joined", OTHER),
    # after the re-fire window, within the cooldown: ignored
    ("open", [run(False, context=OTHER, ended=NOW - 301)], [], "none", True, "ignored: cooldown", OTHER),
    ("open", [run(False, ended=NOW - 599)], [], "none", True, "ignored: cooldown", MINE),
    # the cooldown is per stage/service too: another alert's remediation just ended
    ("open", [run(False, context=OTHER, fingerprint="fp2", ended=NOW - 10)], [], "none", True,
     "ignored: cooldown", OTHER),
    # after the cooldown: a new remediation
    ("open", [run(False, context=OTHER, ended=NOW - 600)], [], "open", True, "opened", MINE),
    # another alert's open remediation neither joins nor blocks (it queues in the lane)
    ("open", [run(True, context=OTHER, fingerprint="fp2")], [], "open", True, "opened", MINE),
    # the hourly action cap of the service (3 here): actions older than an hour do not count
    ("open", [], [NOW - 10, NOW - 100, NOW - 3599], "none", True, "ignored: action cap", MINE),
    ("open", [], [NOW - 10, NOW - 100, NOW - 3600], "open", True, "opened", MINE),
    # resolved while open (in its own or an earlier firing's context): close that one
    ("resolved", [run(True)], [], "close", True, "closed", MINE),
    ("resolved", [run(True, context=OTHER)], [], "close", True, "closed", OTHER),
    # resolved with nothing open: nothing to do, still accepted
    ("resolved", [], [], "none", True, "nothing-open", MINE),
    ("resolved", [run(False)], [], "none", True, "nothing-open", MINE),
    ("resolved", [run(True, context=OTHER, fingerprint="fp2")], [], "none", True, "nothing-open", MINE),
])
def test_admission_table(state, known, actions, action, accepted, code, context):
    verdict = admit(problem(state), known, actions=actions, limits=LIMITS, project="sockshop", now=NOW)
    assert (verdict.action, verdict.accepted, verdict.code, verdict.context) == (action, accepted, code, context)
    assert (verdict.event is not None) == (action == "open")
    assert verdict.reason


def test_the_rules_name_their_windows():
    cooling = admit(problem(), [run(False, context=OTHER, ended=NOW - 420)], limits=LIMITS, project="p", now=NOW)
    assert cooling.reason == "this alert's remediation ended less than 10m ago (cooldown); ignored for another 3m"
    other = admit(problem(), [run(False, context=OTHER, fingerprint="fp2", ended=NOW - 30)], limits=LIMITS,
                  project="p", now=NOW)
    assert other.reason.startswith("a remediation of production/carts ended less than 10m ago")
    capped = admit(problem(), [], actions=[NOW] * 3, limits=LIMITS, project="p", now=NOW)
    assert "production/carts ran 3 remediation actions in the last hour (cap 3)" in capped.reason


class Clock:
    """The injectable clock of the flapping simulations: the record a controller would keep."""

    def __init__(self):
        self.now = NOW
        self.known: list[KnownRun] = []
        self.actions: list[float] = []
        self.codes: list[str] = []

    def notice(self, state, starts, limits=LIMITS, actions_per_remediation=2):
        p = problem(state, starts=starts)
        verdict = admit(p, self.known, actions=self.actions, limits=limits, project="p", now=self.now)
        self.codes.append(verdict.code)
        if verdict.action == "open":
            self.known.append(KnownRun(f"{p.context}/production/0", "remediation", True, self.now,
                                       context=p.context, fingerprint=p.fingerprint))
            self.actions += [self.now] * actions_per_remediation
        elif verdict.action == "close":
            self.known = [KnownRun(r.run_id, r.sequence, False, r.triggered_at, context=r.context,
                                   fingerprint=r.fingerprint, finished_at=self.now)
                          if r.context == verdict.context else r for r in self.known]


def starts(i):
    return f"2023-11-14T22:{i // 60:02d}:{i % 60:02d}Z"


def test_a_hundred_fast_fire_resolve_cycles_open_one_remediation():
    clock = Clock()
    for i in range(100):                                  # 100 cycles in 10 s, a new startsAt each
        clock.notice("open", starts(i))
        clock.now += 0.05
        clock.notice("resolved", starts(i))
        clock.now += 0.05
    assert clock.codes[:2] == ["opened", "closed"]
    assert clock.codes.count("opened") == 1 and set(clock.codes[2:]) == {"joined", "nothing-open"}
    assert len({r.context for r in clock.known}) == 1 and len(clock.actions) == 2


def test_slow_flapping_respects_the_cooldown():
    # fires, resolves 2 min later, fires again 1 min after that … for 3 hours
    clock, opened_at = Clock(), []
    for i in range(60):
        clock.notice("open", starts(i))
        if clock.codes[-1] == "opened":
            opened_at.append(clock.now)
        clock.now += 120
        clock.notice("resolved", starts(i))
        clock.now += 60
    gaps = [b - a for a, b in zip(opened_at, opened_at[1:], strict=False)]
    assert opened_at and all(gap >= 120 + LIMITS.cooldown for gap in gaps), gaps
    assert "ignored: cooldown" in clock.codes and "joined" in clock.codes
    # 3 hours of flapping, a remediation at most every 12+ minutes, each of two actions
    assert len(opened_at) <= 3 * 3600 // (120 + LIMITS.cooldown) + 1
    hourly = [sum(1 for at in clock.actions if start <= at < start + 3600) for start in clock.actions]
    assert max(hourly) <= LIMITS.actions_per_hour - 1 + 2     # the cap stops new ones; one may finish its list


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
