"""Approvals waiting for a person: asking, off the loop, whether they were decided.

An approval executor answers `Pending` (the task started; a merge, a branch deletion or a
forge review decides it later). The controller keeps those requests here and, on a tips change
or every `interval` seconds, asks the executors whether each was decided, in the worker pool,
because asking may mean an HTTP call to a forge and the loop must never wait on one. The
answer comes back through the inbox as `Decided`.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.controller.effects import ExecutorSet
from reconciler.controller.inbox import Decided, Done, Inbox
from reconciler.engine.approvals import waiting_approvals
from reconciler.engine.world import World
from reconciler.tasks.base import TaskEnv, TaskRequest

log = logging.getLogger("reconciler.controller")


class Approvals:
    def __init__(self, *, executors: ExecutorSet, env: TaskEnv, pool: ThreadPoolExecutor, inbox: Inbox,
                 interval: float):
        self.executors = executors
        self.env = env
        self.pool = pool
        self.inbox = inbox
        self.interval = interval
        self.last_check = 0.0
        self._pending: dict[str, tuple[TaskRequest, dict[str, Any]]] = {}   # run id → request, `.started` data
        self._deciding: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def wait(self, req: TaskRequest, data: dict[str, Any]) -> None:
        """`req` answered Pending with `data`: ask about it from now on."""
        self._pending[req.run_id] = (req, data)

    def forget(self, run_id: str) -> None:
        self._pending.pop(run_id, None)

    def holds(self, context: str) -> bool:
        return any(req.context == context for req, _ in self._pending.values())

    def restore(self, world: World) -> None:
        """After a restart: the runs the record shows waiting for approval."""
        for waiting in waiting_approvals(world):
            req = TaskRequest(event=waiting.trigger, key=waiting.key, run_id=waiting.run_id,
                              context=waiting.context, stage=waiting.stage, service=waiting.service,
                              task=waiting.task, redelivery=True)
            self._pending[waiting.run_id] = (req, waiting.started)

    def due(self, now: float) -> bool:
        return bool(self._pending) and now - self.last_check >= self.interval

    def check(self, world: World, now: float) -> None:
        """Ask about every waiting approval not being asked about already."""
        self.last_check = now
        for run_id, (req, data) in list(self._pending.items()):
            run = world.runs.get(run_id)
            if run is None or run.terminal:
                self._pending.pop(run_id, None)
                continue
            if run_id in self._deciding:
                continue
            self._deciding.add(run_id)
            self.pool.submit(self._decide, req, dict(data))

    def decided(self, item: Decided) -> Done | None:
        """The answer to one question: the task's `.finished` when it was decided."""
        self._deciding.discard(item.request.run_id)
        if item.outcome is not None and item.request.run_id in self._pending:
            self._pending.pop(item.request.run_id, None)
            return Done(item.request, "approval", item.outcome)
        return None

    def _decide(self, req: TaskRequest, data: dict[str, Any]) -> None:
        try:
            outcome = self.executors.decide_approval(req, data, self.env)
        except Exception as exc:  # noqa: BLE001
            log.warning("checking approval of %s failed: %s", req.run_id, exc)
            outcome = None
        self.inbox.put(Decided(req, outcome))
