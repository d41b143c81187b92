"""What the sequencer asks the controller to do, as plain data.

Every command that causes an effect has a stable `key`,
`<context>/<stage>/<run index>/<task index or ->/<kind>`: carrying out a command twice
with the same key (after a crash, or on resume) must have the effect once. The key is what
goes into the `Reconciler-Step` trailer of a write-back commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.engine.events import CloudEvent


@dataclass(frozen=True, slots=True)
class DispatchTask:
    """Send a task's `.triggered` event to its executor (built-in or external).

    `redelivery` is set when `resume_commands` repeats a dispatch after a restart.
    """

    key: str
    run_id: str
    context: str
    stage: str
    service: str
    task_index: int
    task: str
    event: CloudEvent
    redelivery: bool = False


@dataclass(frozen=True, slots=True)
class EmitEvent:
    """Record an event the engine created (sequence `.triggered` of a follow-up, sequence
    `.finished`) in the event log and send it to subscribed webhooks."""

    key: str
    run_id: str
    event: CloudEvent


@dataclass(frozen=True, slots=True)
class ResolveCommit:
    """Answer with CommitResolved: the current tip of the run's stage branch."""

    key: str
    run_id: str
    context: str
    stage: str
    service: str


@dataclass(frozen=True, slots=True)
class Promote:
    """Land the context's change on `target_stage` as state: the change set `files`
    (`data.configurationChange.files`, engine.changeset; None: computed from `base..commit`,
    base None = the commit's first parent) set on the target branch tip and committed with
    trailers. Answer with PromotionFinished (the new commit, or the tip when the change is
    already there) or PromotionFailed (a structural clash, naming file and key)."""

    key: str
    run_id: str
    context: str
    service: str
    source_stage: str
    target_stage: str
    commit: str
    base: str | None
    files: Any = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """Remediation ran out of actions: record `sh.keptn.event.escalation.triggered` (commit,
    event log, the escalation webhook)."""

    key: str
    run_id: str
    event: CloudEvent


@dataclass(frozen=True, slots=True)
class RunsChanged:
    """Persist exactly these lane files (`sequences/<stage>/<service>/<context>.json`)."""

    lanes: tuple[tuple[str, str, str], ...]    # (stage, service, context)


@dataclass(frozen=True, slots=True)
class ControlsChanged:
    """The pause registry of one context changed; persist it with the lane files.

    `paused`: `("*",)` = every stage, a tuple of stage names, or `()` = not paused.
    """

    context: str
    paused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    """The input was not applied. `code` is stable for the API; `reason` is for a person."""

    code: str
    reason: str
    event_id: str | None = None


Command = DispatchTask | EmitEvent | ResolveCommit | Promote | Escalate | RunsChanged | ControlsChanged | Rejected
