"""The shipyard state machine: `step(world, input, now) -> (world, commands)` (Keptn f.1–f.7).

Pure: no clock, no randomness, no I/O. Event ids are derived from run ids, so replaying the
same inputs after a crash produces the same events and the same idempotency keys. The world
is changed in place (it is owned by one caller) and returned for convenience.

Our deliberate differences from Keptn 1.x (DESIGN §3, docs/sequencing.md):
* a `.finished` without any `.started` completes the task;
* a started task times out too (task `timeout`, else `taskStarted`; approvals only when set);
* an aborted sequence reports `result: fail, status: aborted`;
* a selector value `failed` is read as `fail`;
* a remediation that runs out of actions emits an escalation;
* a cross-stage follow-up first lands the context's change on its stage branch (promotion).
"""
from __future__ import annotations

import heapq
import re
from typing import Any

from reconciler import layout
from reconciler.engine import changeset
from reconciler.engine.answers import judge
from reconciler.engine.commands import (
    Command,
    ControlsChanged,
    DispatchTask,
    EmitEvent,
    Escalate,
    Promote,
    Rejected,
    ResolveCommit,
    RunsChanged,
)
from reconciler.engine.events import (
    SOURCE,
    TASK_WAITING,
    CloudEvent,
    derived_id,
    iso_time,
    parse_type,
    sequence_type,
    task_type,
)
from reconciler.engine.inputs import (
    CommitResolved,
    ConfigChanged,
    Control,
    EventReceived,
    Input,
    PromotionFailed,
    PromotionFinished,
    TaskWaiting,
    Tick,
)
from reconciler.engine.payload import ABORTED as STATUS_ABORTED
from reconciler.engine.payload import (
    ERRORED,
    FAIL,
    aggregate,
    deep_merge,
    json_copy,
    merge_answer,
    stops_sequence,
    task_data,
)
from reconciler.engine.selectors import followups
from reconciler.engine.state import (
    ABORTED,
    AWAIT_COMMIT,
    AWAIT_PROMOTION,
    DONE,
    FINISHED,
    PAUSED,
    PENDING,
    PROMOTE_AT_START,
    PROMOTE_BY_APPROVAL,
    SCHEDULED,
    STARTED,
    TASK_STARTED,
    TASK_TRIGGERED,
    TIMED_OUT,
    TRIGGERED,
    WAITING,
    WAITING_FOR_APPROVAL,
    Answer,
    Promotion,
    SequenceRun,
    TaskRun,
)
from reconciler.engine.timeouts import APPROVAL, expired
from reconciler.engine.world import ALL_STAGES, World
from reconciler.spec.shipyard import Sequence

GET_ACTION = layout.TASK_GET_ACTION
DEPLOYMENT = layout.TASK_DEPLOYMENT
ESCALATION = "escalation"

# Keptn entity names: they become branch names and path segments of the journal.
NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
CONTEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _Step:
    """The output and bookkeeping of one step."""

    __slots__ = ("world", "now", "_time", "commands", "touched", "dirty")

    def __init__(self, world: World, now: float):
        self.world = world
        self.now = now
        self._time: str | None = None
        self.commands: list[Command] = []
        self.touched: dict[tuple[str, str, str], None] = {}   # ordered set of lane files
        self.dirty: dict[tuple[str, str], None] = {}          # lanes to re-check

    @property
    def time(self) -> str:
        if self._time is None:
            self._time = iso_time(self.now)
        return self._time

    def touch(self, run: SequenceRun) -> None:
        self.touched[(run.stage, run.service, run.context)] = None

    def reject(self, code: str, reason: str, event_id: str | None = None) -> None:
        self.commands.append(Rejected(code, reason, event_id))


def step(world: World, inp: Input, now: float) -> tuple[World, list[Command]]:
    """Apply one input at time `now` (UNIX seconds); return the world and what to do.

    Commands come in the order they must be carried out; a `RunsChanged` listing every lane
    file this step changed comes last. An input that was already applied returns no commands.
    """
    s = _Step(world, now)
    if isinstance(inp, EventReceived):
        _on_event(s, inp.event)
    elif isinstance(inp, Tick):
        _on_tick(s)
    elif isinstance(inp, Control):
        _on_control(s, inp)
    elif isinstance(inp, CommitResolved):
        _on_commit_resolved(s, inp)
    elif isinstance(inp, PromotionFinished):
        _on_promotion_finished(s, inp)
    elif isinstance(inp, PromotionFailed):
        _on_promotion_failed(s, inp)
    elif isinstance(inp, ConfigChanged):
        _on_config(s, inp)
    elif isinstance(inp, TaskWaiting):
        _on_task_waiting(s, inp)
    else:
        raise TypeError(f"not a sequencer input: {type(inp).__name__}")
    _settle(s)
    if s.touched:
        s.commands.append(RunsChanged(tuple(s.touched)))
    return world, s.commands


def resume_commands(world: World) -> list[Command]:
    """What a restarted controller must (re)do for the runs it loaded.

    Outstanding dispatches are repeated with `redelivery=True` (executors deduplicate by key),
    and pending commit/promotion requests are asked again. Events already emitted are the
    controller's outbox, not repeated here.
    """
    out: list[Command] = []
    for run in sorted(world.active_runs(), key=lambda r: r.queue):
        if run.awaiting == AWAIT_COMMIT:
            out.append(_resolve_command(run))
        elif run.awaiting == AWAIT_PROMOTION and run.promotion is not None:
            out.append(_promote_command(run))
        if run.current < len(run.tasks):
            task = run.tasks[run.current]
            if task.state in (TASK_TRIGGERED, TASK_STARTED):
                event = next((e for e in run.cloud_events() if e.id == task.triggered_id), None)
                if event is not None:
                    out.append(_dispatch_command(run, task, event, redelivery=True))
    return out


# -- events ---------------------------------------------------------------------------------

def _on_event(s: _Step, event: CloudEvent) -> None:
    parsed = parse_type(event.type)
    if parsed is None:
        return s.reject("invalid-type", f"event type {event.type!r} is not a Keptn event type "
                        f"(sh.keptn.event.<stage>.<sequence>.triggered or "
                        f"sh.keptn.event.<task>.started|finished)", event.id)
    if parsed.scope == "sequence" and parsed.kind == "triggered":
        return _on_sequence_triggered(s, event, parsed.stage or "", parsed.sequence or "")
    if parsed.scope == "task" and parsed.kind in ("started", "finished"):
        return _on_task_answer(s, event, parsed.task or "", parsed.kind)
    s.reject("unsupported-type", f"the sequencer does not take {event.type!r} events", event.id)


def _on_sequence_triggered(s: _Step, event: CloudEvent, stage: str, sequence: str) -> None:
    w = s.world
    if event.id in w.sequence_triggers or event.id in w.applied:
        return
    data = event.data
    service = data.get("service")
    if not isinstance(service, str) or not NAME.match(service):
        return s.reject("invalid-service", f"data.service is {service!r}; a service name is lowercase "
                        f"letters, digits and '-', starting with a letter", event.id)
    if data.get("stage") not in (None, stage):
        return s.reject("stage-mismatch", f"data.stage is {data.get('stage')!r} but the event type "
                        f"names stage {stage!r}", event.id)
    if not CONTEXT.match(event.shkeptncontext):
        return s.reject("invalid-context", f"shkeptncontext {event.shkeptncontext!r} is not a UUID",
                        event.id)
    shipyard = w.shipyard
    if shipyard is None or not NAME.match(stage):
        # Not a lane we can keep a file for: answer with the finished event only.
        reason = ("there is no valid shipyard.yaml on the default branch; fix it and trigger again"
                   if shipyard is None else
                   f"stage name {stage!r} is not a valid Keptn name (lowercase letters, digits and '-')")
        w.applied.add(event.id)
        _emit_unstored_finished(s, event, stage, sequence, service, reason)
        return
    definition = shipyard.sequence(stage, sequence)
    problem = None
    if shipyard.stage(stage) is None:
        # Keptn finishes it errored, and so do we, with a record like any other run's.
        problem = f"stage {stage!r} is not in shipyard.yaml (stages: {', '.join(shipyard.stage_names) or 'none'})"
    elif definition is None:
        problem = f"sequence {sequence!r} is not defined in stage {stage!r} of shipyard.yaml"
    elif not definition.tasks:
        problem = f"sequence {sequence!r} in stage {stage!r} does not contain any tasks"
    run = _create_run(s, event, stage, sequence, service, definition,
                      promotion=_values_promotion(run_data=data, stage=stage) if problem is None else None)
    if problem is not None:
        _end(s, run, FINISHED, FAIL, ERRORED, problem)
    elif run.promotion is not None:
        change = dict(run.data.get("configurationChange") or {})
        change["files"] = changeset.from_values(change.get("values") or {}).to_data()
        run.data["configurationChange"] = change


def _values_promotion(*, run_data: dict[str, Any], stage: str) -> Promotion | None:
    """Keptn's `keptn trigger delivery --image …` sends the values in the event and no commit:
    set them on the stage first (as state, a commit with trailers, like a promotion from the
    stage into itself), so the tasks read them and later stages promote them (DESIGN §2)."""
    change = run_data.get("configurationChange")
    if not isinstance(change, dict) or change.get("commit") or change.get("files"):
        return None
    values = change.get("values")
    if not isinstance(values, dict) or not values:
        return None
    return Promotion(mode=PROMOTE_AT_START, source_stage=stage, commit="")


def _emit_unstored_finished(s: _Step, trigger: CloudEvent, stage: str, sequence: str, service: str,
                            problem: str) -> None:
    finished = _sequence_finished_event(
        context=trigger.shkeptncontext, stage=stage, sequence=sequence,
        data=deep_merge(trigger.data, {"stage": stage, "service": service}), result=FAIL,
        status=ERRORED, message=problem, triggered_id=trigger.id,
        event_id=derived_id(trigger.id, "finished"), time=s.time, gitcommitid=trigger.gitcommitid)
    # No run exists, so the key names the sequence where the run index would be.
    s.commands.append(EmitEvent(f"{trigger.shkeptncontext}/{stage}/-/-/{sequence}.finished", "", finished))


def _on_task_answer(s: _Step, event: CloudEvent, task_name: str, kind: str) -> None:
    w = s.world
    if event.id in w.applied:
        return
    found = w.task_triggers.get(event.triggeredid) if event.triggeredid else None
    target = (found[0], found[0].tasks[found[1]]) if found is not None else None
    rejected = judge(event, task_name, kind, target)
    if rejected is not None:
        s.commands.append(rejected)
        return
    assert target is not None
    run, task = target
    source = event.source
    w.applied.add(event.id)
    run.record(event, s.world.event_order(s.now))
    s.touch(run)
    task.waiting = None
    if kind == "started":
        task.started[source] = Answer(event.id, s.now)
        if task.state == TASK_TRIGGERED:
            task.state = TASK_STARTED
        if task.name == APPROVAL:
            if run.state == STARTED:
                run.state = WAITING_FOR_APPROVAL
                s.dirty[run.lane] = None
            elif run.state == PAUSED and run.paused_from == STARTED:
                run.paused_from = WAITING_FOR_APPROVAL
                s.dirty[run.lane] = None
        w.schedule(run)
        return
    data = event.data
    task.finished[source] = Answer(event.id, s.now, _str_or_none(data.get("result")),
                                   _str_or_none(data.get("status")), _str_or_none(data.get("message")))
    task.data = merge_answer(task.data, data)
    if event.gitcommitid:
        task.gitcommitid = event.gitcommitid
    if all(src in task.finished for src in task.started):
        _complete_task(s, run, task)
    else:
        w.schedule(run)


def _complete_task(s: _Step, run: SequenceRun, task: TaskRun) -> None:
    w = s.world
    result, status = aggregate((a.result, a.status) for a in task.finished.values())
    messages = [a.message for a in task.finished.values() if a.message]
    message = "; ".join(dict.fromkeys(messages)) or None
    if task.promotes and run.promotion is not None and not stops_sequence(result, status):
        if task.gitcommitid:
            run.promotion.landed = task.gitcommitid
        else:
            result, status = FAIL, ERRORED
            message = (f"the approval passed but did not report the commit that landed the change on "
                       f"stage {run.stage} (gitcommitid of its .finished event); the change was not promoted")
    task.result, task.status, task.message = result, status, message
    task.state = DONE
    task.completed_at = s.now
    if task.gitcommitid:
        run.gitcommitid = task.gitcommitid
    run.data = merge_answer(run.data, task.data)
    run.last_task = task.index
    if stops_sequence(result, status) or task.index == len(run.tasks) - 1:
        _finish(s, run)
        return
    run.current = task.index + 1
    if run.state == WAITING_FOR_APPROVAL:
        run.state = WAITING
        s.dirty[run.lane] = None
    elif run.state == PAUSED and run.paused_from == WAITING_FOR_APPROVAL:
        run.paused_from = WAITING
    _advance(s, run)
    w.schedule(run)


# -- runs -----------------------------------------------------------------------------------

def _create_run(s: _Step, trigger: CloudEvent, stage: str, sequence: str, service: str,
                definition: Sequence | None, parent: SequenceRun | None = None,
                promotion: Promotion | None = None) -> SequenceRun:
    w = s.world
    context = trigger.shkeptncontext
    project = w.project or str(trigger.data.get("project") or "")
    same_lane = parent is not None and parent.lane == (stage, service)
    run = SequenceRun(
        context=context, stage=stage, service=service, index=w.new_run_index(context, stage),
        sequence=sequence, definition=definition, trigger=trigger,
        queue=w.new_queue_place(parent if same_lane else None), triggered_at=s.now,
        gitcommitid=trigger.gitcommitid,
        data=deep_merge(trigger.data, {"project": project, "stage": stage, "service": service}),
        tasks=[TaskRun(index=i, name=t.name) for i, t in enumerate(definition.tasks)] if definition else [],
        parent=parent.id if parent is not None else None, promotion=promotion,
        trigger_order=w.event_order(s.now),
    )
    if promotion is not None and promotion.mode == PROMOTE_BY_APPROVAL:
        approval = next(t for t in run.tasks if t.name == APPROVAL)
        approval.promotes = True
    if w.is_paused(context, stage):
        run.paused_from, run.state = TRIGGERED, PAUSED
    w.add(run)
    s.touch(run)
    s.dirty[run.lane] = None
    return run


def _advance(s: _Step, run: SequenceRun) -> None:
    """Move a started run forward as far as it can go without an answer from outside."""
    if run.state != STARTED or run.awaiting is not None or run.current >= len(run.tasks):
        return
    task = run.tasks[run.current]
    if task.state == PENDING:
        promotion = run.promotion
        if promotion is not None and promotion.mode == PROMOTE_AT_START and promotion.landed is None:
            run.awaiting = AWAIT_PROMOTION
            s.touch(run)
            s.commands.append(_promote_command(run))
            return
        if run.gitcommitid is None:
            run.awaiting = AWAIT_COMMIT
            s.touch(run)
            s.commands.append(_resolve_command(run))
            return
        delay = run.definition.tasks[task.index].triggeredAfter if run.definition else None
        if delay:
            task.state = SCHEDULED
            task.scheduled_at = s.now + delay
            s.touch(run)
            s.world.schedule(run)
            return
        _dispatch(s, run, task)
    elif task.state == SCHEDULED and task.scheduled_at is not None and task.scheduled_at <= s.now:
        _dispatch(s, run, task)


def _dispatch(s: _Step, run: SequenceRun, task: TaskRun) -> None:
    w = s.world
    definition = run.definition.tasks[task.index] if run.definition else None
    last = run.tasks[run.last_task] if run.last_task is not None else None
    extra = None
    if task.promotes and run.promotion is not None:
        extra = {task.name: {"promotion": _promotion_data(run)}}
    data = task_data(run.data, project=str(run.data.get("project", "")), stage=run.stage,
                     service=run.service, result=last.result if last else None,
                     status=last.status if last else None, task_name=task.name,
                     properties=definition.properties if definition else {}, extra=extra)
    event = CloudEvent(type=task_type(task.name, "triggered"), data=data, shkeptncontext=run.context,
                       id=derived_id(run.id, str(task.index), "triggered"), source=SOURCE,
                       time=s.time, gitcommitid=run.gitcommitid)
    task.state = TASK_TRIGGERED
    task.triggered_id = event.id
    task.triggered_at = s.now
    w.task_triggers[event.id] = (run, task.index)
    run.record(event, s.world.event_order(s.now))
    s.touch(run)
    s.commands.append(_dispatch_command(run, task, event))
    w.schedule(run)


def _finish(s: _Step, run: SequenceRun) -> None:
    """Normal completion (also a failed one): `.finished`, follow-ups, maybe an escalation."""
    w = s.world
    last = run.tasks[run.last_task] if run.last_task is not None else None
    if last is not None and last.result is not None and last.status is not None:
        _end(s, run, FINISHED, last.result, last.status, last.message)
    else:   # no task completed (or a lane file without its outcome)
        _end(s, run, FINISHED, FAIL, ERRORED, last.message if last else None)
    if w.shipyard is not None:
        for stage, sequence in followups(w.shipyard, run.stage, run.sequence, run.result or FAIL,
                                         run.last_task_name):
            _follow_up(s, run, stage.name, sequence)
    if last is not None:
        _maybe_escalate(s, run, last)


def _follow_up(s: _Step, parent: SequenceRun, stage: str, sequence: Sequence) -> None:
    data = deep_merge(parent.data, {"stage": stage, "result": parent.result, "status": parent.status})
    data.pop("message", None)
    trigger = CloudEvent(type=sequence_type(stage, sequence.name, "triggered"), data=data,
                         shkeptncontext=parent.context,
                         id=derived_id(parent.id, "followup", stage, sequence.name),
                         source=SOURCE, time=s.time)
    if trigger.id in s.world.sequence_triggers:
        return
    if not NAME.match(stage):
        s.commands.append(EmitEvent(f"{parent.context}/{stage}/-/-/{sequence.name}.triggered", "", trigger))
        _emit_unstored_finished(s, trigger, stage, sequence.name, parent.service,
                                f"stage name {stage!r} is not a valid Keptn name (lowercase letters, "
                                f"digits and '-'); rename it in shipyard.yaml")
        return
    child = _create_run(s, trigger, stage, sequence.name, parent.service, sequence, parent=parent,
                        promotion=_plan_promotion(parent, stage, sequence, data) if sequence.tasks else None)
    parent.followups.append(child.id)
    s.commands.append(EmitEvent(f"{child.id}/-/triggered", child.id, trigger))
    if not sequence.tasks:
        _end(s, child, FINISHED, FAIL, ERRORED,
             f"sequence {sequence.name!r} in stage {stage!r} does not contain any tasks")


def _plan_promotion(parent: SequenceRun, stage: str, sequence: Sequence,
                    data: dict[str, Any]) -> Promotion | None:
    """A follow-up into another stage carries the context's change onto that stage branch.

    The promotion belongs to an approval that comes before the first deployment (or to an
    approval when there is no deployment); otherwise it happens before the first task.
    """
    if stage == parent.stage:
        return None
    change = data.get("configurationChange")
    if not isinstance(change, dict):
        return None
    commit = change.get("commit")
    if not isinstance(commit, str) or not commit:
        return None
    base = change.get("base")
    names = [t.name for t in sequence.tasks]
    approval = names.index(APPROVAL) if APPROVAL in names else None
    deployment = names.index(DEPLOYMENT) if DEPLOYMENT in names else None
    by_approval = approval is not None and (deployment is None or approval < deployment)
    return Promotion(mode=PROMOTE_BY_APPROVAL if by_approval else PROMOTE_AT_START,
                     source_stage=parent.stage, commit=commit,
                     base=base if isinstance(base, str) and base else None)


def _maybe_escalate(s: _Step, run: SequenceRun, last: TaskRun) -> None:
    """Remediation ran out of actions: get-action failed with `get-action.exhausted: true`."""
    if run.state != FINISHED or last.name != GET_ACTION or run.result != FAIL:
        return
    info = last.data.get(GET_ACTION)
    if not isinstance(info, dict) or info.get("exhausted") is not True:
        return
    tried = []
    for r in s.world.lane_runs(run.stage, run.service, run.context):
        for t in r.tasks:
            if t.name == GET_ACTION and t.state == DONE and t.result != FAIL and isinstance(t.data.get("action"), dict):
                tried.append(t.data["action"])
    data = {
        "project": run.data.get("project", ""), "stage": run.stage, "service": run.service,
        "problem": run.data.get("problem"),
        "escalation": {"reason": run.message or "remediation ran out of actions",
                       "sequence": run.sequence, "actionsTried": tried},
    }
    labels = run.data.get("labels")
    if isinstance(labels, dict):
        data["labels"] = labels
    event = CloudEvent(type=task_type(ESCALATION, "triggered"), data=data, shkeptncontext=run.context,
                       id=derived_id(run.id, "escalate"), source=SOURCE, time=s.time,
                       gitcommitid=run.gitcommitid)
    run.record(event, s.world.event_order(s.now))
    s.commands.append(Escalate(f"{run.id}/-/escalate", run.id, event))


def _end(s: _Step, run: SequenceRun, state: str, result: str, status: str, message: str | None) -> None:
    """Make a run terminal, emit its `.finished`, free its lane (no follow-ups here)."""
    w = s.world
    run.state, run.result, run.status, run.message = state, result, status, message
    run.paused_from = None
    run.awaiting = None
    run.finished_at = s.now
    event = _sequence_finished_event(
        context=run.context, stage=run.stage, sequence=run.sequence, data=run.data, result=result,
        status=status, message=message, triggered_id=run.trigger.id,
        event_id=derived_id(run.id, "finished"), time=s.time, gitcommitid=run.gitcommitid)
    run.record(event, s.world.event_order(s.now))
    w.retire(run)
    s.touch(run)
    s.dirty[run.lane] = None
    s.commands.append(EmitEvent(f"{run.id}/-/finished", run.id, event))


def _sequence_finished_event(*, context: str, stage: str, sequence: str, data: dict[str, Any],
                             result: str, status: str, message: str | None, triggered_id: str,
                             event_id: str, time: str, gitcommitid: str | None) -> CloudEvent:
    payload = deep_merge(data, {"stage": stage, "result": result, "status": status})
    if message:
        payload["message"] = message
    else:
        payload.pop("message", None)
    return CloudEvent(type=sequence_type(stage, sequence, "finished"), data=payload,
                      shkeptncontext=context, id=event_id, source=SOURCE, time=time,
                      triggeredid=triggered_id, gitcommitid=gitcommitid)


# -- time -----------------------------------------------------------------------------------

def _on_tick(s: _Step) -> None:
    """Handle every run whose deadline has come, each once, in deadline order."""
    w = s.world
    heap = w.deadlines
    due_runs: dict[str, SequenceRun] = {}
    while heap and heap[0][0] <= s.now:
        _, run_id = heapq.heappop(heap)
        run = w.runs.get(run_id)
        if run is not None and not run.terminal:
            due_runs[run_id] = run
    for run in due_runs.values():
        if run.terminal:
            continue
        message = expired(run, s.now, w.timeouts)
        if message is not None:
            _end(s, run, TIMED_OUT, FAIL, ERRORED, message)
            continue
        _advance(s, run)
        w.schedule(run)


# -- control --------------------------------------------------------------------------------

def _on_control(s: _Step, c: Control) -> None:
    w = s.world
    if c.action not in ("abort", "pause", "resume"):
        return s.reject("invalid-control", f"state must be abort, pause or resume, not {c.action!r}")
    if not CONTEXT.match(c.context):
        return s.reject("invalid-context", f"context {c.context!r} is not a UUID")
    runs = [r for r in w.contexts.get(c.context, ()) if not r.terminal and (c.stage is None or r.stage == c.stage)]
    if c.action == "abort":
        if c.context not in w.contexts:
            return s.reject("unknown-context", f"there is no sequence with context {c.context}")
        for run in runs:
            _end(s, run, ABORTED, FAIL, STATUS_ABORTED,
                 f"sequence aborted{' in stage ' + c.stage if c.stage else ''} by a user")
        return
    before = w.paused.get(c.context, frozenset())
    if c.action == "pause":
        after = frozenset({ALL_STAGES}) if c.stage is None or ALL_STAGES in before else before | {c.stage}
    elif c.stage is None:
        after = frozenset()
    elif ALL_STAGES in before:
        stages = set(w.shipyard.stage_names if w.shipyard else ()) | {r.stage for r in w.contexts.get(c.context, ())}
        after = frozenset(stages - {c.stage})
    else:
        after = before - {c.stage}
    if after != before:
        if after:
            w.paused[c.context] = after
        else:
            w.paused.pop(c.context, None)
        s.commands.append(ControlsChanged(c.context, tuple(sorted(after))))
    for run in runs:
        paused_now = w.is_paused(run.context, run.stage)
        if c.action == "pause" and paused_now and run.state != PAUSED:
            run.paused_from, run.state = run.state, PAUSED
            s.touch(run)
            s.dirty[run.lane] = None
        elif c.action == "resume" and not paused_now and run.state == PAUSED:
            run.state, run.paused_from = run.paused_from or TRIGGERED, None
            s.touch(run)
            s.dirty[run.lane] = None
            _advance(s, run)
            w.schedule(run)


# -- answers from the controller ------------------------------------------------------------

def _awaited(s: _Step, run_id: str, what: str) -> SequenceRun | None:
    run = s.world.runs.get(run_id)
    if run is None:
        s.reject("unknown-run", f"there is no run {run_id!r}")
        return None
    if run.terminal:
        s.reject("sequence-ended", f"run {run_id} is {run.state}; the {what} answer is ignored")
        return None
    return run


def _on_commit_resolved(s: _Step, inp: CommitResolved) -> None:
    run = _awaited(s, inp.run_id, "commit")
    if run is None:
        return
    if run.awaiting != AWAIT_COMMIT:
        if run.gitcommitid != inp.commit:
            s.reject("not-awaiting", f"run {run.id} is not waiting for a commit")
        return
    if not inp.commit:
        return s.reject("invalid-commit", f"run {run.id}: the resolved commit is empty")
    run.gitcommitid = inp.commit
    run.awaiting = None
    s.touch(run)
    _advance(s, run)


def _on_promotion_finished(s: _Step, inp: PromotionFinished) -> None:
    run = _awaited(s, inp.run_id, "promotion")
    if run is None:
        return
    promotion = run.promotion
    if run.awaiting != AWAIT_PROMOTION or promotion is None:
        if promotion is None or promotion.landed != inp.commit:
            s.reject("not-awaiting", f"run {run.id} is not waiting for a promotion")
        return
    if not inp.commit:
        return s.reject("invalid-commit", f"run {run.id}: the promotion commit is empty")
    promotion.landed = inp.commit
    run.gitcommitid = inp.commit
    if not promotion.commit:
        # the values of an API trigger are now this commit: later stages promote from it
        change = dict(run.data.get("configurationChange") or {})
        change["commit"] = inp.commit
        run.data["configurationChange"] = change
    run.awaiting = None
    s.touch(run)
    _advance(s, run)


def _on_promotion_failed(s: _Step, inp: PromotionFailed) -> None:
    run = s.world.runs.get(inp.run_id)
    if run is not None and run.terminal and run.promotion is not None and run.promotion.failed:
        return   # already applied
    run = _awaited(s, inp.run_id, "promotion")
    if run is None:
        return
    promotion = run.promotion
    if run.awaiting != AWAIT_PROMOTION or promotion is None:
        return s.reject("not-awaiting", f"run {run.id} is not waiting for a promotion")
    promotion.failed = True
    what = (f"could not promote change {promotion.commit[:12]} of {run.service} from stage "
            f"{promotion.source_stage} to {run.stage}" if promotion.commit else
            f"could not set the trigger's configurationChange.values of {run.service} on {run.stage}")
    if inp.message:
        message = f"{what}: {inp.message}"
    else:
        paths = ", ".join(inp.paths) if inp.paths else "none reported"
        message = (f"{what}: conflicting paths: {paths}. Resolve them on branch {run.stage} and trigger the "
                   f"sequence again")
    # Nothing ran in this stage, so no follow-up (a rollback would revert nothing).
    _end(s, run, FINISHED, FAIL, ERRORED, message)


def _on_task_waiting(s: _Step, inp: TaskWaiting) -> None:
    """Make a task nobody answers visible: on the task (lane file, status, page) and as an
    event in the context's log. Nothing else changes: the `.triggered` timeout still runs."""
    run = s.world.runs.get(inp.run_id)
    if run is None or run.terminal or not 0 <= inp.task_index < len(run.tasks):
        return
    task = run.tasks[inp.task_index]
    if (task.triggered_id != inp.triggered_id or task.state != TASK_TRIGGERED or task.started
            or task.finished or task.waiting == inp.message):
        return
    task.waiting = inp.message
    data: dict[str, Any] = {"project": run.data.get("project", ""), "stage": run.stage, "service": run.service,
                            "task": task.name, "message": inp.message, "answeredBy": list(inp.answered_by)}
    event = CloudEvent(type=TASK_WAITING, data=data, shkeptncontext=run.context,
                       id=derived_id(run.id, "waiting", str(task.index), inp.triggered_id), source=SOURCE,
                       time=s.time, triggeredid=inp.triggered_id, gitcommitid=run.gitcommitid)
    run.record(event)
    s.touch(run)
    s.commands.append(EmitEvent(f"{run.id}/{task.index}/waiting", run.id, event))


def _on_config(s: _Step, inp: ConfigChanged) -> None:
    w = s.world
    if inp.shipyard is not None:
        w.shipyard = inp.shipyard
    if inp.project is not None:
        w.project = inp.project
    if inp.timeouts is not None and inp.timeouts != w.timeouts:
        w.timeouts = inp.timeouts
        w.rebuild_deadlines()


# -- lanes ----------------------------------------------------------------------------------

def _settle(s: _Step) -> None:
    """Start every queued run its lane now admits (lanes touched by this step only)."""
    w = s.world
    while s.dirty:
        key = next(iter(s.dirty))
        del s.dirty[key]
        lane = w.lanes.get(key)
        if lane is None:
            continue
        for run in lane.startable():
            if run.state == TRIGGERED:
                run.started_at = s.now
            run.state = STARTED
            s.touch(run)
            _advance(s, run)
            w.schedule(run)


# -- command builders -------------------------------------------------------------------------

def _dispatch_command(run: SequenceRun, task: TaskRun, event: CloudEvent, *,
                      redelivery: bool = False) -> DispatchTask:
    # The executor gets its own copy of the data: the stored event shares subtrees with the
    # run's state, which an executor must never be able to change.
    return DispatchTask(key=f"{run.id}/{task.index}/triggered", run_id=run.id, context=run.context,
                        stage=run.stage, service=run.service, task_index=task.index, task=task.name,
                        event=event.replace(data=json_copy(event.data)), redelivery=redelivery)


def _resolve_command(run: SequenceRun) -> ResolveCommit:
    return ResolveCommit(key=f"{run.id}/-/commit", run_id=run.id, context=run.context,
                         stage=run.stage, service=run.service)


def _promote_command(run: SequenceRun) -> Promote:
    p = run.promotion
    assert p is not None
    change = run.data.get("configurationChange")
    files = change.get("files") if isinstance(change, dict) else None
    return Promote(key=f"{run.id}/-/promote", run_id=run.id, context=run.context, service=run.service,
                   source_stage=p.source_stage, target_stage=run.stage, commit=p.commit, base=p.base,
                   files=json_copy(files) if isinstance(files, list) else None)


def _promotion_data(run: SequenceRun) -> dict[str, Any]:
    """What an approval that carries the promotion finds under `data.approval.promotion`."""
    p = run.promotion
    assert p is not None
    out: dict[str, Any] = {"commit": p.commit, "sourceStage": p.source_stage, "stage": run.stage,
                           "service": run.service, "key": f"{run.id}/-/promote"}
    if p.base:
        out["base"] = p.base
    return out


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
