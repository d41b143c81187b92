"""Remediation admission: which alert opens a remediation, which one joins or closes one.

Keptn opens one remediation per problem; a problem's context is derived from the alert's
fingerprint and start time (`engine.problems`), so repeated notifications of one firing alert
land in one context. The rules, as a pure function over data:

* a firing alert whose context has a run that has not ended is a duplicate (one open
  remediation per fingerprint): refused with `duplicate`, nothing starts;
* a firing alert otherwise opens a remediation: `<stage>.remediation.triggered` with the
  problem as `data.problem`, an id derived from the context and the alert's start, so the
  same notification replayed after a crash is the same event;
* a resolved alert closes (aborts) the open remediation of its context, or reports
  `nothing-open`.

`admit` sees the remediations already in the record and the time, so later rules (re-fire
windows, cooldowns, action caps) are further clauses here over the same data.
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
NOTHING_OPEN = "nothing-open"
DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class KnownRun:
    """A sequence run already in the record in the problem's context."""

    run_id: str
    sequence: str
    active: bool                 # not finished, aborted or timed out
    triggered_at: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one alert. `action`: `open` (feed `event`), `close` (abort the context)
    or `none`; `accepted`, `code` and `reason` are the webhook's answer for this alert."""

    action: Literal["open", "close", "none"]
    accepted: bool
    code: str
    reason: str
    context: str
    event: CloudEvent | None = None


def admit(problem: Problem, known: Sequence[KnownRun], *, project: str, now: float) -> Verdict:
    """The verdict for `problem` given the runs `known` in its context at time `now`."""
    active = any(run.active for run in known)
    if problem.state == "resolved":
        if active:
            return Verdict("close", True, CLOSED, "the open remediation was closed", problem.context)
        return Verdict("none", True, NOTHING_OPEN, "no open remediation for this alert", problem.context)
    if active:
        return Verdict("none", False, DUPLICATE, "a remediation for this alert is already running",
                       problem.context)
    return Verdict("open", True, OPENED, "remediation triggered", problem.context,
                   remediation_triggered(problem, project=project, now=now))


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
