"""Intake: what each inbox item means to the sequencer, and the answer its sender gets.

API events and controls are fed as they are (the sender learns whether the sequencer took
them); alerts go through `engine.remediation.admit`; built-in executors' results become their
tasks' `.started`/`.finished` (`engine.answers`); an approval decision is the approval task's
`.finished`. Runs in the controller thread, inside a batch: answers to senders are given once
the batch is recorded (`Controller.answer_later`).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from reconciler.controller import remediations
from reconciler.controller.api import Admission
from reconciler.controller.inbox import Answer, Decided, Done, Item, Problems, Started, Submit
from reconciler.engine import answers, remediation
from reconciler.engine.events import CloudEvent
from reconciler.engine.inputs import Control, EventReceived
from reconciler.tasks.base import Detached, Pending, TaskRequest

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

log = logging.getLogger("reconciler.controller")


def handle(ctl: Controller, item: Item, now: float) -> None:
    if isinstance(item, Submit):
        submitted(ctl, item, now)
    elif isinstance(item, Problems):
        problems(ctl, item, now)
    elif isinstance(item, Started):
        ctl.feed(EventReceived(task_event(item.request, "started", item.executor, item.data, None, now)), now)
    elif isinstance(item, Done):
        executor_done(ctl, item, now)
    elif isinstance(item, Answer):
        ctl.feed(item.input, now)
    elif isinstance(item, Decided):
        done = ctl.approvals.decided(item)
        if done is not None:
            executor_done(ctl, done, now)


def submitted(ctl: Controller, item: Submit, now: float) -> None:
    """An API event or control: fed as it is; the answer is the sequencer's first rejection."""
    inp = item.input
    context = None
    if isinstance(inp, EventReceived):
        context = inp.event.shkeptncontext
    elif isinstance(inp, Control):
        context = inp.context
    if context:
        ctl.ensure_context(context)
    rejected = ctl.feed(inp, now)
    if item.future is not None:
        if rejected:
            first = rejected[0]
            ctl.answer_later(item.future, Admission(False, first.code, first.reason, context))
        else:
            ctl.answer_later(item.future, Admission(True, "accepted", "", context))


def problems(ctl: Controller, item: Problems, now: float) -> None:
    """Alerts → `engine.remediation.admit` → open, close, join or ignore; one answer per alert."""
    out: list[Admission] = []
    limits = remediations.limits(ctl)
    for problem in item.problems:
        ctl.ensure_context(problem.context)
        verdict = remediation.admit(problem, remediations.known_runs(ctl, problem),
                                    actions=remediations.action_times(ctl, problem.stage, problem.service),
                                    limits=limits, project=ctl.config.settings.project, now=now)
        if verdict.action == "close":
            ctl.feed(Control(verdict.context, "abort"), now)
            ctl.batch.note(f"{problem.stage}/{problem.service}: problem resolved, remediation closed",
                           context=verdict.context)
        elif verdict.action == "open" and verdict.event is not None:
            rejected = ctl.feed(EventReceived(verdict.event), now)
            if rejected:
                out.append(Admission(False, rejected[0].code, rejected[0].reason, problem.context))
                continue
            ctl.batch.note(f"{problem.stage}/{problem.service}: problem opened: "
                           f"{problem.details.get('problemTitle')}", context=problem.context,
                           event=verdict.event.type)
        out.append(Admission(verdict.accepted, verdict.code, verdict.reason, verdict.context))
    ctl.answer_later(item.future, out)


def executor_done(ctl: Controller, item: Done, now: float) -> None:
    """A built-in executor's result: `Pending` is the task's `.started` (an approval now waits
    for a person), an outcome its `.finished` plus the files it records, `Detached` nothing
    (the called system answers through the API)."""
    req, outcome = item.request, item.outcome
    ctl.metrics.executor_seconds.labels(req.task).observe(item.seconds)
    if isinstance(outcome, Detached):     # someone outside sends the .finished (a webhook, sendFinished: false)
        log.info("%s/%s: %s: %s", req.stage, req.service, item.executor, outcome.message)
        return
    if isinstance(outcome, Pending):
        data = dict(outcome.data)
        ctl.approvals.wait(req, data)
        ctl.feed(EventReceived(task_event(req, "started", item.executor, data, None, now)), now)
        return
    for path, content in outcome.journal.items():
        ctl.batch.put(path, content)
    extra = answers.finished_data(outcome.result, outcome.status, outcome.message, outcome.data)
    ctl.approvals.forget(req.run_id)
    ctl.feed(EventReceived(task_event(req, "finished", item.executor, extra, outcome.gitcommitid, now)), now)


def task_event(req: TaskRequest, kind: str, executor: str, extra: dict[str, Any],
               gitcommitid: str | None, now: float) -> CloudEvent:
    return answers.task_event(req.event, key=req.key, stage=req.stage, service=req.service, task=req.task,
                              kind=kind, executor=executor, extra=extra, gitcommitid=gitcommitid, now=now)
