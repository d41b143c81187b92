"""Effects: what the controller does to the world once a batch is recorded.

The sequencer's commands that reach outside (dispatch a task, promote a change, send a
webhook, escalate) are queued here while a batch is built and carried out only after the
batch is committed to `reconciler/results`, so the record is never behind what the world saw.
They are idempotent by their step keys, which makes a crash between the commit and the effects
harmless: the restart re-dispatches.

Executors and promotions run in the bounded worker pool and answer through the inbox; webhooks
go to the notifier (which has its own delivery thread).

For group commit (`loop`) the effects also say whether anything waits on the record
(`urgent`: a dispatch or a promotion; webhooks may wait a little) and how many executions and
promotions are running in the pool (`in_flight`: their answers are about to arrive, so a commit
may wait for them and take them along).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from reconciler.controller.inbox import Answer, Done, Inbox, Started
from reconciler.engine.commands import DispatchTask, Promote
from reconciler.engine.events import CloudEvent
from reconciler.engine.inputs import PromotionFailed, PromotionFinished, TaskWaiting
from reconciler.logs import log_context
from reconciler.tasks.answerers import waiting_for_executor
from reconciler.tasks.base import Executor, TaskEnv, TaskOutcome, TaskRequest

log = logging.getLogger("reconciler.controller")


class ExecutorSet(Protocol):
    """Which built-in executors answer a task, plus the two controller-driven task steps."""

    def executors_for(self, request: TaskRequest, env: TaskEnv) -> list[Executor]: ...

    def promote(self, command: Promote, env: TaskEnv) -> PromotionFinished | PromotionFailed: ...

    def decide_approval(self, request: TaskRequest, pending: dict[str, Any], env: TaskEnv) -> TaskOutcome | None: ...


class Notifier(Protocol):
    def send(self, event: CloudEvent) -> None: ...

    def escalate(self, event: CloudEvent) -> None: ...

    def close(self) -> None: ...


def request_for(command: DispatchTask) -> TaskRequest:
    return TaskRequest(event=command.event, key=command.key, run_id=command.run_id, context=command.context,
                       stage=command.stage, service=command.service, task=command.task,
                       redelivery=command.redelivery)


class Effects:
    """The effects of the batch being built, and carrying them out after it is recorded."""

    def __init__(self, *, executors: ExecutorSet, env: TaskEnv, pool: ThreadPoolExecutor, inbox: Inbox,
                 notifier: Notifier | None):
        self.executors = executors
        self.env = env
        self.pool = pool
        self.inbox = inbox
        self.notifier = notifier
        self._queued: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._in_flight = 0

    # -- queueing (controller thread, while the batch is built) --------------------------------

    def dispatch(self, command: DispatchTask) -> None:
        self._queued.append(("dispatch", command))

    def promote(self, command: Promote) -> None:
        self._queued.append(("promote", command))

    def notify(self, event: CloudEvent) -> None:
        if self.notifier is not None:
            self._queued.append(("notify", event))

    def escalate(self, event: CloudEvent) -> None:
        if self.notifier is not None:
            self._queued.append(("escalate", event))

    @property
    def pending(self) -> bool:
        return bool(self._queued)

    @property
    def urgent(self) -> bool:
        """Something that moves a sequence on waits for the record (a dispatch or a promotion)."""
        return any(kind in ("dispatch", "promote") for kind, _ in self._queued)

    @property
    def in_flight(self) -> int:
        """Executions and promotions running in the pool whose answers have not arrived yet."""
        return self._in_flight

    def _running(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def clear(self) -> None:
        """Forget the queued effects (their batch failed and is redone from its inputs)."""
        self._queued.clear()

    # -- carrying out (controller thread, after the commit) --------------------------------------

    def run(self) -> None:
        effects, self._queued = self._queued, []
        for kind, payload in effects:
            try:
                if kind == "dispatch":
                    self._dispatch(payload)
                elif kind == "promote":
                    self._submit(self._promote, payload)
                elif kind == "notify" and self.notifier is not None:
                    self.notifier.send(payload)
                elif kind == "escalate" and self.notifier is not None:
                    self.notifier.escalate(payload)
            except Exception:  # noqa: BLE001
                log.exception("effect %s failed", kind)

    def _dispatch(self, command: DispatchTask) -> None:
        req = request_for(command)
        try:
            executors = self.executors.executors_for(req, self.env)
        except Exception as exc:  # noqa: BLE001 - a broken registry must still answer the task
            log.exception("choosing executors for %s failed", command.key)
            self.inbox.put(Done(req, "controller", TaskOutcome.errored(f"choosing an executor failed: {exc}")))
            return
        if not executors:
            # no silent waits: the task says so, and what would answer it (tasks.answerers)
            message = waiting_for_executor(req, self.env)
            log.info("%s/%s: %s", req.stage, req.service, message)
            self.inbox.put(Answer(TaskWaiting(command.run_id, command.task_index, command.event.id, message)))
            return
        for executor in executors:
            if getattr(executor, "started_on_dispatch", True):
                self.inbox.put(Started(req, executor.name))
            self._submit(self._execute, req, executor)

    def _submit(self, fn: Any, *args: Any) -> None:
        self._running(+1)
        try:
            self.pool.submit(fn, *args)
        except BaseException:
            self._running(-1)
            raise

    # -- in the worker pool ---------------------------------------------------------------------

    def _execute(self, req: TaskRequest, executor: Executor) -> None:
        started = time.perf_counter()
        try:
            with log_context(context=req.context, stage=req.stage, service=req.service, task=req.task):
                outcome = executor.run(req, self.env)
        except Exception as exc:  # noqa: BLE001 - executors must answer, never crash the loop
            log.exception("executor %s failed on %s", executor.name, req.key)
            outcome = TaskOutcome.errored(f"{executor.name} failed: {type(exc).__name__}: {exc}")
        # before the answer is queued: the loop never holds a commit for an answer it already has
        self._running(-1)
        self.inbox.put(Done(req, executor.name, outcome, time.perf_counter() - started))

    def _promote(self, command: Promote) -> None:
        answer: PromotionFinished | PromotionFailed
        try:
            answer = self.executors.promote(command, self.env)
        except Exception as exc:  # noqa: BLE001
            log.exception("promotion %s failed", command.key)
            answer = PromotionFailed(command.run_id, (), f"promotion failed: {type(exc).__name__}: {exc}")
        self._running(-1)
        self.inbox.put(Answer(answer))
