"""Remediation admission: which alert opens a remediation, which one joins, closes or is ignored.

Keptn opens one remediation per problem; a problem's context is derived from the alert's
fingerprint and start time (`engine.problems`). Alertmanager sends a new `startsAt` on every
re-fire, so the context alone does not bound anything: 100 fire/resolve cycles of one alert
would be 100 remediations. The rules, as a pure function over data (first match wins):

* resolved: closes (aborts) the open remediation of its fingerprint, whatever its context,
  else `nothing-open`;
* firing, its own context still running: `duplicate` (the same notification again);
* firing, a remediation of the same fingerprint open, or ended less than `refireWindow` ago:
  `joined` — nothing new starts, the answer names that remediation's context;
* firing, a remediation of the same fingerprint, or any of the same stage/service, ended less
  than `cooldown` ago: `ignored: cooldown`;
* firing, the service already ran `actionsPerHour` remediation actions in the last hour:
  `ignored: action cap`;
* otherwise `opened`: `<stage>.remediation.triggered` with the problem as `data.problem`, an id
  derived from the context and the alert's start, so the notification replayed after a crash
  is the same event.

Times are the caller's (`now`, the runs' start and end, the actions' start): a test moves a
clock, not the wall.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.engine.events import CloudEvent, derived_id, iso_time, sequence_type
from reconciler.engine.problems import Problem

SEQUENCE = "remediation"
SOURCE = "reconciler/alertmanager"

OPENED = "opened"
CLOSED = "closed"
JOINED = "joined"
NOTHING_OPEN = "nothing-open"
DUPLICATE = "duplicate"
IGNORED_COOLDOWN = "ignored: cooldown"
IGNORED_ACTION_CAP = "ignored: action cap"


@dataclass(frozen=True, slots=True)
class Limits:
    """`spec.remediation.limits` of reconciler.yaml, in seconds and counts."""

    refire_window: float = 300.0
    cooldown: float = 600.0
    actions_per_hour: int = 10


@dataclass(frozen=True, slots=True)
class KnownRun:
    """A sequence run already in the record: in the problem's context, or a remediation of the
    problem's stage and service (`fingerprint`: the alert that opened it, "" when unknown)."""

    run_id: str
    sequence: str
    active: bool                 # not finished, aborted or timed out
    triggered_at: float
    context: str = ""
    fingerprint: str = ""
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one alert. `action`: `open` (feed `event`), `close` (abort `context`)
    or `none`; `accepted`, `code` and `reason` are the webhook's answer for this alert, and
    `context` the remediation it concerns (the joined or closed one, not always its own)."""

    action: Literal["open", "close", "none"]
    accepted: bool
    code: str
    reason: str
    context: str
    event: CloudEvent | None = None


@dataclass(frozen=True, slots=True)
class _Remediation:
    context: str
    fingerprint: str
    active: bool
    ended_at: float | None       # the last run's end, when none is active


def _remediations(known: Sequence[KnownRun]) -> list[_Remediation]:
    """The known remediation runs grouped by context (one remediation, its rounds)."""
    groups: dict[str, list[KnownRun]] = {}
    for run in known:
        if run.sequence == SEQUENCE and run.context:
            groups.setdefault(run.context, []).append(run)
    out = []
    for context, runs in groups.items():
        active = any(r.active for r in runs)
        ends = [r.finished_at if r.finished_at is not None else r.triggered_at for r in runs]
        fingerprint = next((r.fingerprint for r in runs if r.fingerprint), "")
        out.append(_Remediation(context, fingerprint, active, None if active else max(ends)))
    return out


def admit(problem: Problem, known: Sequence[KnownRun], *, project: str, now: float,
          actions: Sequence[float] = (), limits: Limits = Limits()) -> Verdict:
    """The verdict for `problem` at time `now`, given the runs `known` (its context's and the
    remediations of its stage/service) and the start times of the service's remediation
    `actions` (for the hourly cap)."""
    mine = problem.context
    remediations = _remediations(known)
    same = [r for r in remediations if r.fingerprint == problem.fingerprint or r.context == mine]
    open_same = next((r for r in same if r.active), None)
    if problem.state == "resolved":
        if open_same is not None:
            return Verdict("close", True, CLOSED, "the open remediation was closed", open_same.context)
        return Verdict("none", True, NOTHING_OPEN, "no open remediation for this alert", mine)
    if any(run.active for run in known if run.context == mine):
        return Verdict("none", False, DUPLICATE, "a remediation for this alert is already running", mine)
    if open_same is not None:
        return Verdict("none", True, JOINED, "the alert fired again; it joined the open remediation",
                       open_same.context)
    ended = sorted((r for r in remediations if r.ended_at is not None), key=lambda r: r.ended_at or 0.0)
    recent = [r for r in ended if r in same and now - (r.ended_at or 0.0) < limits.refire_window]
    if recent:
        return Verdict("none", True, JOINED, f"the alert fired again within the re-fire window "
                       f"({_seconds(limits.refire_window)}) of its remediation, which has ended; nothing new "
                       "starts", recent[-1].context)
    cooling = [r for r in ended if now - (r.ended_at or 0.0) < limits.cooldown]
    if cooling:
        last = cooling[-1]
        whose = "this alert's remediation" if last in same else f"a remediation of {problem.stage}/{problem.service}"
        left = limits.cooldown - (now - (last.ended_at or 0.0))
        return Verdict("none", True, IGNORED_COOLDOWN,
                       f"{whose} ended less than {_seconds(limits.cooldown)} ago (cooldown); "
                       f"ignored for another {_seconds(left)}", last.context)
    recent_actions = sum(1 for at in actions if 0.0 <= now - at < 3600.0)
    if recent_actions >= limits.actions_per_hour:
        return Verdict("none", True, IGNORED_ACTION_CAP,
                       f"{problem.stage}/{problem.service} ran {recent_actions} remediation actions in the last "
                       f"hour (cap {limits.actions_per_hour}); no new remediation", mine)
    return Verdict("open", True, OPENED, "remediation triggered", mine,
                   remediation_triggered(problem, project=project, now=now))


def _seconds(value: float) -> str:
    value = max(0.0, value)
    return f"{value:g}s" if value < 120 else f"{value / 60:.0f}m"


def remediation_triggered(problem: Problem, *, project: str, now: float) -> CloudEvent:
    """`sh.keptn.event.<stage>.remediation.triggered` for a firing alert.

    `data.labels` carries the alert's labels without `stage`/`service` (they are routing,
    already in the data), as prometheus-service does for action placeholders.
    """
    data: dict[str, Any] = {"project": project, "stage": problem.stage, "service": problem.service,
                            "problem": dict(problem.details)}
    labels = problem.details.get("labels")
    if isinstance(labels, dict):
        data["labels"] = {k: v for k, v in labels.items() if k not in ("stage", "service")}
    return CloudEvent(type=sequence_type(problem.stage, SEQUENCE, "triggered"), data=data,
                      shkeptncontext=problem.context, source=SOURCE,
                      id=derived_id(problem.context, "problem", str(problem.details.get("startsAt"))),
                      time=iso_time(now))


@dataclass(frozen=True, slots=True)
class Scaled:
    """A scaling action's new replica count within bounds; `note` says when it was clamped."""

    replicas: int
    note: str = ""


class OutOfBounds(ValueError):
    """The replica count already sits at (or beyond) the bound the action pushes against."""


@dataclass(frozen=True, slots=True)
class ReplicaBounds:
    """What scaling may set, and where each bound comes from (named in messages)."""

    low: int
    low_from: str
    high: int
    high_from: str


def scale_within(count: int, increment: int, bounds: ReplicaBounds) -> Scaled:
    """`count + increment` kept within the bounds. An increment that cannot move the count (it
    already sits at the bound it pushes against) is refused, so the remediation goes on to its
    next action or escalates instead of recording a change that did nothing. Clamping only ever
    shortens a step: a count set by hand outside the bounds is moved towards them, never past
    what the action asked."""
    wanted = count + increment
    if increment > 0 and count >= bounds.high:
        raise OutOfBounds(f"it has {count} replicas, at or above the maximum of {bounds.high} "
                          f"({bounds.high_from}); not scaling up by {increment}")
    if increment < 0 and count <= bounds.low:
        raise OutOfBounds(f"it has {count} replicas, at or below the minimum of {bounds.low} "
                          f"({bounds.low_from}); not scaling down by {-increment}")
    if increment > 0 and wanted > bounds.high:
        return Scaled(bounds.high, f"clamped to the maximum of {bounds.high} ({bounds.high_from}), "
                                   f"not {wanted}")
    if increment < 0 and wanted < bounds.low:
        return Scaled(bounds.low, f"clamped to the minimum of {bounds.low} ({bounds.low_from}), not {wanted}")
    return Scaled(wanted)
