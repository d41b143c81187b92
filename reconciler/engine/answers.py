"""Task answers: how a `.started`/`.finished` is judged, and the answers built-in executors give.

An answer comes from the HTTP API (an external executor) or from a built-in executor through
the controller. `judge` decides whether it applies to the task it names, in the order a
person debugging an integration needs: the missing or unknown `triggeredid` first, then a
context or task that does not match, then a sequence that already ended, a task that already
finished, and a source that already answered. Its codes are stable (the API maps them to
HTTP statuses).

`task_event` builds the answer of a built-in executor: the id is derived from the dispatch
key, the executor and the kind, so a redelivered dispatch after a crash answers with the same
event (and the sequencer ignores it as already applied).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.commands import Rejected
from reconciler.engine.events import CloudEvent, derived_id, iso_time, task_type
from reconciler.engine.state import DONE, SequenceRun, TaskRun

SOURCE_PREFIX = "reconciler/"

MISSING_TRIGGEREDID = "missing-triggeredid"
UNKNOWN_TRIGGEREDID = "unknown-triggeredid"
CONTEXT_MISMATCH = "context-mismatch"
TASK_MISMATCH = "task-mismatch"
SEQUENCE_ENDED = "sequence-ended"
TASK_FINISHED = "task-finished"
DUPLICATE_SOURCE = "duplicate-source"


def judge(event: CloudEvent, task_name: str, kind: str,
          target: tuple[SequenceRun, TaskRun] | None) -> Rejected | None:
    """None when `event` (a `<task_name>.<kind>`) applies to `target`, the run and task its
    `triggeredid` names (None when no task was triggered with that id); else why not."""
    tid = event.triggeredid
    if not tid:
        return Rejected(MISSING_TRIGGEREDID, f"a task .{kind} event needs 'triggeredid' (the id of "
                        f"the {task_name}.triggered event it answers)", event.id)
    if target is None:
        return Rejected(UNKNOWN_TRIGGEREDID, f"no task was triggered with id {tid!r}", event.id)
    run, task = target
    if event.shkeptncontext != run.context:
        return Rejected(CONTEXT_MISMATCH, f"triggeredid {tid!r} belongs to context {run.context}, "
                        f"not {event.shkeptncontext}", event.id)
    if task_name != task.name:
        return Rejected(TASK_MISMATCH, f"triggeredid {tid!r} belongs to task {task.name!r}, but the "
                        f"event type names task {task_name!r}", event.id)
    if run.terminal:
        return Rejected(SEQUENCE_ENDED, f"sequence {run.sequence} of {run.service} in stage "
                        f"{run.stage} is {run.state}; late events are ignored", event.id)
    if task.state == DONE:
        return Rejected(TASK_FINISHED, f"task {task.name} (#{task.index}) of sequence {run.sequence} "
                        f"has already finished", event.id)
    source = event.source
    if source in task.finished or (kind == "started" and source in task.started):
        return Rejected(DUPLICATE_SOURCE, f"source {source!r} already sent .{kind} for task "
                        f"{task.name} of sequence {run.sequence}", event.id)
    return None


def finished_data(result: str, status: str, message: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The data of a built-in executor's `.finished`: its payload, with `result` and `status`
    always the outcome's (a payload key of the same name cannot override them)."""
    out: dict[str, Any] = {"result": result, "status": status, "message": message}
    out.update(data)
    out["result"], out["status"] = result, status
    return out


def task_event(trigger: CloudEvent, *, key: str, stage: str, service: str, task: str, kind: str,
               executor: str, extra: Mapping[str, Any], gitcommitid: str | None, now: float) -> CloudEvent:
    """The `<task>.<kind>` answer of built-in `executor` to the dispatch `key` of `trigger`.

    Data: project/stage/service and the trigger's labels, then `extra`; `gitcommitid` is the
    executor's new commit, else the commit the task read.
    """
    source = SOURCE_PREFIX + executor
    data: dict[str, Any] = {"project": str(trigger.data.get("project") or ""), "stage": stage, "service": service}
    labels = trigger.data.get("labels")
    if isinstance(labels, dict) and labels:
        data["labels"] = labels
    data.update(extra)
    return CloudEvent(type=task_type(task, kind), data=data, shkeptncontext=trigger.shkeptncontext,
                      id=derived_id(key, source, kind), source=source, time=iso_time(now),
                      triggeredid=trigger.id, gitcommitid=gitcommitid or trigger.gitcommitid)

