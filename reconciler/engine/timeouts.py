"""When a run next needs a tick: a due `triggeredAfter` dispatch or a task timeout (Keptn f.7).

* A dispatched task with no `.started`/`.finished` times out after `taskTriggered` (Keptn).
* Our fix: a started task without `.finished` times out after the task's `timeout`, else
  `taskStarted`. An approval that waits for a human has no such timeout unless its task
  sets `timeout` (people take weekends off).
* A task held back by `triggeredAfter` is due at its scheduled time; the triggered timeout
  counts from the moment it is actually sent.
"""
from __future__ import annotations

from reconciler import layout
from reconciler.engine.state import SCHEDULED, STARTED, TASK_STARTED, TASK_TRIGGERED, SequenceRun, TaskRun
from reconciler.spec.settings import TimeoutSettings

APPROVAL = layout.TASK_APPROVAL


def started_timeout(run: SequenceRun, task: TaskRun, timeouts: TimeoutSettings) -> float | None:
    """Seconds a started task may run; None = no control-plane limit."""
    explicit = None
    if run.definition is not None and task.index < len(run.definition.tasks):
        explicit = run.definition.tasks[task.index].timeout
    if explicit is not None:
        return explicit
    if task.name == APPROVAL:
        return None
    return timeouts.taskStarted


def next_deadline(run: SequenceRun, timeouts: TimeoutSettings) -> float | None:
    """The next time this run needs a tick, or None."""
    if run.terminal or run.current >= len(run.tasks):
        return None
    task = run.tasks[run.current]
    if task.state == SCHEDULED:
        # A paused run does not send anything; resume re-checks the schedule.
        return task.scheduled_at if run.state == STARTED else None
    if task.state == TASK_TRIGGERED and task.triggered_at is not None:
        return task.triggered_at + timeouts.taskTriggered
    if task.state == TASK_STARTED:
        limit = started_timeout(run, task, timeouts)
        first = task.first_started_at
        if limit is None or first is None:
            return None
        return first + limit
    return None


def expired(run: SequenceRun, now: float, timeouts: TimeoutSettings) -> str | None:
    """The timeout message when the run's current task has timed out at `now`, else None."""
    if run.terminal or run.current >= len(run.tasks):
        return None
    task = run.tasks[run.current]
    if (task.state == TASK_TRIGGERED and task.triggered_at is not None
            and now >= task.triggered_at + timeouts.taskTriggered):
        return (f"sequence timed out while waiting for task {task.name} to receive a "
                f"correlating .started or .finished event")
    if task.state == TASK_STARTED:
        limit = started_timeout(run, task, timeouts)
        first = task.first_started_at
        if limit is not None and first is not None and now >= first + limit:
            return (f"task {task.name} was started but did not finish within "
                    f"{_human(limit)} (set the task's 'timeout' property to allow longer)")
    return None


def _human(seconds: float) -> str:
    s = int(seconds)
    if s % 3600 == 0 and s:
        return f"{s // 3600}h"
    if s % 60 == 0 and s:
        return f"{s // 60}m"
    return f"{seconds:g}s"
