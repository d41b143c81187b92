"""What the controller feeds the sequencer: facts, never requests to do I/O.

Each input is plain, immutable data. Time is not part of an input: `step` takes `now`
(UNIX seconds) separately so that every input kind is timed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import TimeoutSettings
from reconciler.spec.shipyard import Shipyard

ControlAction = Literal["abort", "pause", "resume"]


@dataclass(frozen=True, slots=True)
class EventReceived:
    """A CloudEvent for the sequencer.

    `sh.keptn.event.<stage>.<sequence>.triggered` starts a run (from a commit trigger, the
    API or an alert); `sh.keptn.event.<task>.started|finished` answers a task (matched by
    `triggeredid`; `source` tells executors apart). Anything else is rejected.
    """

    event: CloudEvent


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: fire due `triggeredAfter` dispatches and timeouts."""


@dataclass(frozen=True, slots=True)
class Control:
    """abort / pause / resume every run of a context, or only those of one stage (Keptn f.7)."""

    context: str
    action: ControlAction
    stage: str | None = None


@dataclass(frozen=True, slots=True)
class CommitResolved:
    """Answer to ResolveCommit: the stage branch tip the run reads from now on."""

    run_id: str
    commit: str


@dataclass(frozen=True, slots=True)
class PromotionFinished:
    """Answer to Promote: the commit on the target stage branch that carries the change."""

    run_id: str
    commit: str


@dataclass(frozen=True, slots=True)
class PromotionFailed:
    """Answer to Promote: the change could not be applied (conflicts in these paths)."""

    run_id: str
    paths: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class TaskWaiting:
    """Nothing here answers a dispatched task (no built-in applies, no job config action):
    record it visibly, with `message` saying what would answer it. Timeouts are unchanged."""

    run_id: str
    task_index: int
    triggered_id: str
    message: str
    answered_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """A new valid shipyard and/or timeouts from the default branch (None = unchanged).

    Running runs keep their definition snapshot; follow-ups and new triggers use this.
    """

    shipyard: Shipyard | None = None
    timeouts: TimeoutSettings | None = None
    project: str | None = None


Input = (EventReceived | Tick | Control | CommitResolved | PromotionFinished | PromotionFailed | ConfigChanged
         | TaskWaiting)
