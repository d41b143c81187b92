"""The built-in executors as the controller sees them (`loop.ExecutorSet`).

A thin adapter over `reconciler.tasks.registry`, so the loop depends on three calls
(which executors answer a task, land a promotion, decide a waiting approval) rather than on
the task modules themselves.
"""
from __future__ import annotations

from typing import Any

from reconciler.engine.commands import Promote
from reconciler.engine.inputs import PromotionFailed, PromotionFinished
from reconciler.tasks.base import Executor, TaskEnv, TaskOutcome, TaskRequest


class BuiltinExecutors:
    def __init__(self) -> None:
        from reconciler.tasks import registry
        self._registry = registry

    def executors_for(self, request: TaskRequest, env: TaskEnv) -> list[Executor]:
        return list(self._registry.executors_for(request, env))

    def promote(self, command: Promote, env: TaskEnv) -> PromotionFinished | PromotionFailed:
        from reconciler.tasks.promotion import promote
        return promote(command, env)

    def decide_approval(self, request: TaskRequest, pending: dict[str, Any], env: TaskEnv) -> TaskOutcome | None:
        from reconciler.tasks.approval import decide
        return decide(pending, request, env)


class NoExecutors:
    """Every task waits for an external executor (tests of the Git side; `serve --no-builtins`)."""

    def executors_for(self, request: TaskRequest, env: TaskEnv) -> list[Executor]:
        return []

    def promote(self, command: Promote, env: TaskEnv) -> PromotionFinished | PromotionFailed:
        return PromotionFailed(command.run_id, (), "promotion needs the built-in executors")

    def decide_approval(self, request: TaskRequest, pending: dict[str, Any], env: TaskEnv) -> TaskOutcome | None:
        return None
