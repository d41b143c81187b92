"""Which executors answer a task, in the order they are asked.

For `sh.keptn.event.<task>.triggered`: first the job executor, when the resolved
`job/config.yaml` has a (non-silent) action for that event; then the webhook executor, when a
`webhook/webhook.yaml` has a webhook for that event type; then the built-in for the task
name, when it applies (deployment only where the stage has a target, the action executor
only for `scaling`/`scale`). Several may answer one task — Keptn combines their results.
An empty list means no built-in answers: the task waits for an external executor (the
controller's business, with the usual `.triggered` timeout).
"""
from __future__ import annotations

from collections.abc import Iterable

from reconciler.tasks.action import ScalingExecutor
from reconciler.tasks.approval import ApprovalExecutor
from reconciler.tasks.base import Executor, TaskEnv, TaskRequest
from reconciler.tasks.deployment import DeploymentExecutor
from reconciler.tasks.evaluation import EvaluationExecutor
from reconciler.tasks.getaction import GetActionExecutor
from reconciler.tasks.job import JobExecutor
from reconciler.tasks.release import ReleaseExecutor
from reconciler.tasks.rollback import RollbackExecutor
from reconciler.tasks.webhook import WebhookExecutor


def builtin_executors() -> list[Executor]:
    """One of each built-in, in a fixed order (they are stateless and thread-safe)."""
    return [EvaluationExecutor(), ApprovalExecutor(), DeploymentExecutor(), GetActionExecutor(),
            ScalingExecutor(), RollbackExecutor(), ReleaseExecutor()]


class Registry:
    """The executors of one controller. `extra` are added after the built-ins (tests, plugins)."""

    def __init__(self, extra: Iterable[Executor] = (), *, jobs: bool = True) -> None:
        self.job = JobExecutor() if jobs else None
        self.webhook = WebhookExecutor()
        self.builtins: list[Executor] = builtin_executors() + list(extra)

    def executors_for(self, request: TaskRequest, env: TaskEnv) -> list[Executor]:
        """The executors that answer this task, job executor first."""
        out: list[Executor] = []
        if self.job is not None and self.job.applies(request, env):
            out.append(self.job)
        try:
            if self.webhook.applies(request, env):
                out.append(self.webhook.for_request(request, env))
        except Exception:   # noqa: BLE001 - as for the built-ins below
            env.log.exception("the webhook executor could not tell whether it answers %s", request.task)
        for executor in self.builtins:
            try:
                applies = executor.applies(request, env)
            except Exception:   # noqa: BLE001 - an executor that cannot tell does not answer
                env.log.exception("executor %s could not tell whether it answers %s", executor.name, request.task)
                applies = False
            if applies:
                out.append(executor)
        return out

    def by_name(self, name: str) -> Executor | None:
        """The executor with this `name` (the controller re-finds a Pending task's executor)."""
        if self.job is not None and name == self.job.name:
            return self.job
        if name == self.webhook.name:
            return self.webhook
        return next((e for e in self.builtins if e.name == name), None)


def executors_for(request: TaskRequest, env: TaskEnv) -> list[Executor]:
    """`Registry().executors_for` with the default set."""
    return _DEFAULT.executors_for(request, env)


_DEFAULT = Registry()
