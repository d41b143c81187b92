"""Who answers a task, and what would answer one that nothing here answers (no silent waits).

The registry decides at dispatch which executors answer (tasks.registry); when none does,
the task would wait for its `.triggered` timeout with nothing to show for it. These pure
rules say *why* and *what would answer it*, in words the controller puts on the task
(status, events, the page, the results branch) and `validate` prints as a warning before
anything runs. They mirror the built-ins' `applies` rules.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.engine.events import task_type

if TYPE_CHECKING:
    from reconciler.tasks.base import TaskEnv, TaskRequest

# Built-ins that answer every task of their name (tasks.registry.builtin_executors).
ALWAYS_ANSWERED = frozenset({"evaluation", "approval", "get-action", "rollback", "release"})
SCALING_ACTIONS = frozenset({"scaling", "scale"})
EXTERNAL = "external"


def builtin_answers(task: str, *, target: str | None, action: str | None = None) -> bool:
    """Whether a built-in executor answers `task` on a stage whose target is `target`."""
    if task in ALWAYS_ANSWERED:
        return True
    if task == "deployment":
        return target != EXTERNAL
    if task == "action":
        return action is None or action.lower() in SCALING_ACTIONS
    return False


def would_answer(task: str, stage: str, service: str, *, action: str | None = None) -> list[str]:
    """What would answer `task` of `service` in `stage`, most specific first."""
    event = task_type(task, "triggered")
    job = f"an action for {event} in {service}/job/config.yaml on {stage} (or the stage's or project's job/config.yaml)"
    if task == "action" and action:
        job = (f"an action for {event} with jsonpath {{property: $.data.action.action, match: {action}}} in "
               f"{service}/job/config.yaml on {stage}")
    out = [job, f"an integration polling GET /api/v1/events/triggered/{event} and answering on POST /api/v1/event"]
    if task == "deployment":
        out.append(f"the built-in deployment, with `target: local|kubernetes|none` for {stage} in reconciler.yaml")
    return out


def waiting_message(task: str, stage: str, service: str, *, target: str | None = None,
                    action: str | None = None) -> str:
    """`waiting for an executor: <why>; <what would answer it>`."""
    if task == "deployment" and target == EXTERNAL:
        why = f"deployment in {stage} is handed to an integration (target: external)"
    elif task == "action" and action:
        why = f"no executor for action {action!r} (the built-in action answers only scaling)"
    else:
        why = f"no built-in executor for task {task!r} and no job config action matches it"
    return f"waiting for an executor: {why}; it would be answered by " + ", or ".join(
        would_answer(task, stage, service, action=action if task == "action" else None))


def waiting_for_executor(request: TaskRequest, env: TaskEnv) -> str:
    """waiting_message for a dispatched task nothing answered (the stage's target from the
    settings in force, the action name from the event)."""
    action = request.data.get("action")
    name = action.get("action") if isinstance(action, dict) and isinstance(action.get("action"), str) else None
    return waiting_message(request.task, request.stage, request.service,
                           target=env.settings.stage(request.stage).target, action=name)


def job_answers(config: Any, task: str) -> bool:
    """Whether a job config (spec.jobconfig.JobConfig; a broken one counts: it answers errored)
    has a non-silent action for `sh.keptn.event.<task>.triggered` (jsonpath filters aside)."""
    from reconciler.tasks.jobs.matching import type_matches
    if config is None:
        return False
    if not hasattr(config, "actions"):
        return True
    event = task_type(task, "triggered")
    return any(not action.silent and any(type_matches(e.name, event) for e in action.events)
               for action in config.actions)


def unanswered_tasks(shipyard: Any, settings: Any, services: Mapping[str, Iterable[str]],
                     job_config: Callable[[str, str], Any]) -> list[tuple[tuple, str, list[str]]]:
    """Shipyard tasks that nothing would answer for any service of their stage:
    (path of the task's name in the shipyard, task, services). `job_config(stage, service)` is
    the config the job executor would use (service, else stage, else project level)."""
    out = []
    for i, stage in enumerate(shipyard.stages):
        names = sorted(services.get(stage.name, ()))
        if not names:
            continue
        target = settings.stage(stage.name).target if settings is not None else None
        for j, sequence in enumerate(stage.sequences):
            for k, task in enumerate(sequence.tasks):
                if builtin_answers(task.name, target=target) or (task.name == "deployment" and target == EXTERNAL):
                    continue          # a built-in answers, or the settings say an integration deploys
                waiting = [s for s in names if not job_answers(job_config(stage.name, s), task.name)]
                if len(waiting) == len(names):
                    out.append((("spec", "stages", i, "sequences", j, "tasks", k, "name"), task.name, waiting))
    return out
