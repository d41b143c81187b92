"""What `engine.remediation.admit` needs to know about an alert's past, from the record.

The world holds the contexts still in memory (active ones, and finished ones until their batch
is recorded); the index holds every recorded one, including contexts the world forgot. A
context leaves the world only after its batch is recorded and indexed, so the two together
see every remediation and every action; run and event ids make the union exact.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler import layout
from reconciler.engine import remediation
from reconciler.engine.problems import Problem
from reconciler.engine.state import TERMINAL, SequenceRun

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

HISTORY = 500        # newest remediation runs / action events of a lane looked at


def known_runs(ctl: Controller, problem: Problem) -> list[remediation.KnownRun]:
    """The runs in the problem's context and the remediations of its stage/service."""
    stage, service = problem.stage, problem.service
    out: dict[str, remediation.KnownRun] = {}
    for run in ctl.world.runs_of(problem.context):
        out[run.id] = _from_world(run)
    for run in list(ctl.world.runs.values()):
        if run.sequence == remediation.SEQUENCE and run.lane == (stage, service):
            out[run.id] = _from_world(run)
    fingerprints: dict[str, str] = {}          # context → the alert that opened it (any round says)
    for event in ctl.index.events(stage=stage, service=service, limit=HISTORY,
                                  type_prefix=f"sh.keptn.event.{stage}.{remediation.SEQUENCE}.triggered"):
        context, fingerprint = event.get("shkeptncontext"), _fingerprint(event.get("data"))
        if context and fingerprint:
            fingerprints.setdefault(context, fingerprint)
    for row in ctl.index.runs(stage=stage, service=service, sequence=remediation.SEQUENCE, limit=HISTORY):
        if row["id"] in out:
            continue
        out[row["id"]] = remediation.KnownRun(
            run_id=row["id"], sequence=row["sequence"], active=row["state"] not in TERMINAL,
            triggered_at=float(row["triggered_at"] or 0.0), context=row["context"],
            fingerprint=fingerprints.get(row["context"], ""),
            finished_at=float(row["finished_at"]) if row["finished_at"] is not None else None)
    return list(out.values())


def action_times(ctl: Controller, stage: str, service: str) -> list[float]:
    """When each remediation action (`action` task) of the service was triggered."""
    times: dict[str, float] = {}
    for event in ctl.index.events(stage=stage, service=service, limit=HISTORY,
                                  type_prefix=f"sh.keptn.event.{layout.TASK_ACTION}.triggered"):
        at = _epoch(event.get("time"))
        if at is not None and event.get("id"):
            times[event["id"]] = at
    for run in list(ctl.world.runs.values()):
        if run.lane != (stage, service):
            continue
        for task in run.tasks:
            if task.name == layout.TASK_ACTION and task.triggered_id and task.triggered_at is not None:
                times[task.triggered_id] = task.triggered_at
    return list(times.values())


def limits(ctl: Controller) -> remediation.Limits:
    configured = ctl.config.settings.spec.remediation.limits
    return remediation.Limits(refire_window=configured.refireWindow, cooldown=configured.cooldown,
                              actions_per_hour=configured.actionsPerHour)


def _from_world(run: SequenceRun) -> remediation.KnownRun:
    return remediation.KnownRun(run_id=run.id, sequence=run.sequence, active=not run.terminal,
                                triggered_at=run.triggered_at, context=run.context,
                                fingerprint=_fingerprint(run.trigger.data), finished_at=run.finished_at)


def _fingerprint(data: Any) -> str:
    problem = data.get("problem") if isinstance(data, dict) else None
    return str(problem.get("ProblemID") or "") if isinstance(problem, dict) else ""


def _epoch(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
