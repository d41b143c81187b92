"""`run_job`: answer one event with every matching action of a job config, JES-style.

Each matching action runs its tasks in order on a runner (local process or Kubernetes Job)
and stops at the first task that fails; the action then reports `status: errored,
result: fail`, otherwise `succeeded`/`pass`. A task that cannot even be planned (an env
JSONPath that leads nowhere, a refused injection, a missing secret) fails the same way with
the reason as its message. Secret values are redacted by the runner before anything comes
back, so results can go into events and commits as they are.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from reconciler.engine.events import iso_time, parse_type
from reconciler.spec.jobconfig import Action, JobConfig
from reconciler.spec.settings import JobSettings
from reconciler.tasks.jobs.matching import matching_actions
from reconciler.tasks.jobs.plan import PlanError, TaskPlan, plan_task
from reconciler.tasks.jobs.result import JobResult, TaskOutcome

MESSAGE_OUTPUT_CHARS = 1000


class JobRunner(Protocol):
    def run(self, plan: TaskPlan, service_dir: Path) -> TaskOutcome:
        """Run one planned task; never raises for task failures, redacts secrets itself."""


def run_job(config: JobConfig, event: Any, service_dir: Path, runner: JobRunner,
            settings: JobSettings | None = None) -> list[JobResult]:
    """Run every action of `config` that `event` (a CloudEvent or its dict) matches.

    `service_dir` is the service folder exported at the event's commit (the source of
    `files`). An empty list means no action matched: like JES, the event is not answered.
    """
    event = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    settings = settings or JobSettings()
    parsed = parse_type(str(event.get("type", "")))
    keptn_task = parsed.task if parsed is not None and parsed.scope == "task" else None
    return [run_action(index, action, event, service_dir, runner, settings, keptn_task)
            for index, action in matching_actions(config, event)]


def run_action(index: int, action: Action, event: dict[str, Any], service_dir: Path, runner: JobRunner,
               settings: JobSettings, keptn_task: str | None = None) -> JobResult:
    started = iso_time(time.time())
    outcomes: list[TaskOutcome] = []
    for task_index, task in enumerate(action.tasks):
        try:
            plan = plan_task(index, action, task_index, task, event, default_timeout=settings.defaultTimeout,
                             max_output_bytes=settings.maxOutputBytes)
        except PlanError as exc:
            now = iso_time(time.time())
            outcomes.append(TaskOutcome(task.name, False, None, "", str(exc), now, now))
            break
        outcome = runner.run(plan, service_dir)
        outcomes.append(outcome)
        if not outcome.succeeded:
            break
    finished = iso_time(time.time())
    ok = len(outcomes) == len(action.tasks) and all(o.succeeded for o in outcomes)
    if ok:
        message = f"action {action.name!r}: {len(outcomes)} task(s) succeeded"
    else:
        failed = outcomes[-1]
        message = f"action {action.name!r}: task {failed.name!r} failed: {failed.message}"
        if failed.output:
            message += f"\n\nOutput (end):\n{failed.output[-MESSAGE_OUTPUT_CHARS:]}"
    return JobResult(action=action.name, action_index=index, status="succeeded" if ok else "errored",
                     result="pass" if ok else "fail", message=message, started=started, finished=finished,
                     tasks=outcomes, silent=action.silent, keptn_task=keptn_task)
