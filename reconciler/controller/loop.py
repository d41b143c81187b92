"""The controller: one thread that owns sequence state and carries out what the engine asks.

Everything that happens reaches it as an input on its inbox (tips may have changed, an API
event, a control request, an alert, an executor's answer). Each loop iteration:

1. drains the inbox (and fetches once if any source said the tips may have changed),
2. feeds every input to the pure sequencer (`engine.sequencer.step`), collecting commands,
3. commits everything the batch changed to `reconciler/results` in **one** commit (lane
   files, evidence, tips, config status), updates the SQLite index,
4. and only then carries out effects (dispatch to executors, promotions, webhooks), so the
   record is never behind what the world saw. Effects are idempotent by their step keys,
   which is what makes a crash between 3 and 4 harmless: the restart re-dispatches.

Executors run in a bounded thread pool and answer through the inbox.
"""
from __future__ import annotations

import collections
import json
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from reconciler import contract
from reconciler.controller import journal as J
from reconciler.controller.api import Admission
from reconciler.controller.config_state import ConfigState
from reconciler.controller.index import Index
from reconciler.controller.metrics import Metrics
from reconciler.controller.observe import observe
from reconciler.engine import sequencer
from reconciler.engine.commands import (ControlsChanged, DispatchTask, EmitEvent, Escalate, Promote, Rejected,
                                        ResolveCommit, RunsChanged)
from reconciler.engine.events import CloudEvent, derived_id, iso_time, parse_type, sequence_type, task_type
from reconciler.engine.inputs import (CommitResolved, ConfigChanged, Control, EventReceived, Input,
                                      PromotionFailed, PromotionFinished, Tick)
from reconciler.engine.problems import Problem
from reconciler.engine.state import TERMINAL, WAITING_FOR_APPROVAL, StateFormatError
from reconciler.engine.triggers import BranchUpdate, CommitFacts, classify
from reconciler.engine.world import World
from reconciler.gitstore import GitStoreError, Mirror
from reconciler.logs import log_context
from reconciler.tasks.base import Executor, Pending, TaskEnv, TaskOutcome, TaskRequest

log = logging.getLogger("reconciler.controller")

SOURCE_PREFIX = "reconciler/"


class ExecutorSet(Protocol):
    """Which built-in executors answer a task, plus the two controller-driven task steps."""

    def executors_for(self, request: TaskRequest, env: TaskEnv) -> list[Executor]: ...

    def promote(self, command: Promote, env: TaskEnv) -> PromotionFinished | PromotionFailed: ...

    def decide_approval(self, request: TaskRequest, pending: dict[str, Any], env: TaskEnv) -> TaskOutcome | None: ...


class Notifier(Protocol):
    def send(self, event: CloudEvent) -> None: ...

    def escalate(self, event: CloudEvent) -> None: ...

    def close(self) -> None: ...


# -- inbox items ------------------------------------------------------------------------------

@dataclass
class _Submit:
    input: Input
    future: Future | None = None


@dataclass
class _Problems:
    problems: list[Problem]
    future: Future


@dataclass
class _Started:
    request: TaskRequest
    executor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Done:
    request: TaskRequest
    executor: str
    outcome: TaskOutcome | Pending
    seconds: float = 0.0


@dataclass
class _Answer:
    input: Input


@dataclass
class _Decided:
    request: TaskRequest
    outcome: TaskOutcome | None


_WAKE = object()
_STOP = object()


class Controller:
    """See the module docstring. Thread-safe entry points: the `ControllerHandle` methods."""

    def __init__(self, *, mirror: Mirror, journal: J.Journal, index: Index, config: ConfigState,
                 executors: ExecutorSet, env: TaskEnv, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.time, workers: int = 8, metrics: Metrics | None = None,
                 approval_check_interval: float = 5.0):
        self.mirror = mirror
        self.journal = journal
        self.index = index
        self.config = config
        self.executors = executors
        self.env = env
        self.notifier = notifier
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.world = World()
        self.tips: dict[str, str] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._tips_dirty = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="executor")
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._ready_reason = "starting"
        self._last_iteration = 0.0
        self._last_error: str | None = None
        self._approval_interval = approval_check_interval
        self._last_approval_check = 0.0
        # per batch
        self._batch = J.Batch()
        self._dirty_lanes: dict[tuple[str, str, str], None] = {}
        self._controls_dirty = False
        self._effects: list[tuple[str, Any]] = []
        self._admissions: list[tuple[Future, Any]] = []
        self._touched: set[str] = set()
        # approvals waiting for a human: run id -> (request, pending data)
        self._pending: dict[str, tuple[TaskRequest, dict[str, Any]]] = {}
        self._deciding: set[str] = set()

    # == the handle (any thread) ================================================================

    def notify_tips_changed(self, source: str) -> None:
        self._tips_dirty.set()
        self._inbox.put(_WAKE)

    def submit_event(self, event: CloudEvent) -> Future:
        future: Future = Future()
        self._inbox.put(_Submit(EventReceived(event), future))
        return future

    def submit_control(self, context: str, action: str, stage: str | None = None) -> Future:
        future: Future = Future()
        self._inbox.put(_Submit(Control(context, action, stage), future))  # type: ignore[arg-type]
        return future

    def submit_problems(self, problems: list[Problem]) -> Future:
        future: Future = Future()
        self._inbox.put(_Problems(list(problems), future))
        return future

    def health(self) -> dict[str, Any]:
        alive = bool(self._thread and self._thread.is_alive())
        return {"alive": alive, "lastIteration": self._last_iteration, "inbox": self._inbox.qsize(),
                "lastError": self._last_error}

    def ready(self) -> tuple[bool, str]:
        return (self._ready.is_set(), "ready" if self._ready.is_set() else self._ready_reason)

    # == lifecycle ===========================================================================

    def start(self) -> "Controller":
        self._thread = threading.Thread(target=self.run, name="controller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._inbox.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.notifier is not None:
            self.notifier.close()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def run(self) -> None:
        try:
            self._startup()
        except Exception as exc:  # noqa: BLE001 - report and end the thread; /healthz shows it
            self._last_error = f"startup failed: {exc}"
            log.exception("controller startup failed")
            return
        while not self._stopping.is_set():
            try:
                self._iteration()
            except Exception as exc:  # noqa: BLE001 - one bad batch must not end the loop
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.exception("controller iteration failed")
                self._reload_world()
                time.sleep(0.5)

    # == startup =============================================================================

    def _startup(self) -> None:
        tips = self._fetch_until_ok()
        if tips is None:
            return
        self.index.sync(self.journal)
        self.config.load(tips)
        self.config.restore(self.journal.read_json(J.CONFIG_STATUS))
        self.metrics.config_errors.set(sum(1 for f in self.config.findings if f.is_error))
        self._load_world()
        stored = self.journal.read_json(J.TIPS)
        if isinstance(stored, dict) and isinstance(stored.get("tips"), dict):
            self.tips = {str(k): str(v) for k, v in stored["tips"].items()}
            self._tips_dirty.set()              # catch up on what was pushed while we were down
        else:
            self.tips = self._relevant(tips)    # first start: today's tips are the baseline
            self._batch.put(J.TIPS, J.dumps(J.tips_document(self.tips)))
            self._batch.put(J.CONFIG_STATUS, J.dumps(self.config.status_document()))
            self._batch.note("start from the current branch tips (history before them triggers nothing)")
        now = self.clock()
        self._apply_commands(sequencer.resume_commands(self.world), now)
        self._restore_pending_approvals()
        self._flush()
        self._run_effects()
        self._ready.set()
        log.info("controller ready: %d active runs, %d branches", sum(1 for _ in self.world.active_runs()),
                 len(self.tips))

    def _fetch_until_ok(self) -> dict[str, str] | None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                started = time.perf_counter()
                tips = self.mirror.fetch()
                self.metrics.fetch_seconds.observe(time.perf_counter() - started)
                self.metrics.last_fetch.set_to_current_time()
                return tips
            except GitStoreError as exc:
                self.metrics.fetch_errors.inc()
                self._ready_reason = f"cannot fetch the config repo: {exc}"
                self._last_error = self._ready_reason
                log.warning("%s; retrying in %.1fs", self._ready_reason, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
        return None

    def _load_world(self) -> None:
        """Active lanes from Git (found through the index), plus the pause registry."""
        paths = {r["path"] for r in self.index.runs(states=self._active_states(), limit=1_000_000)}
        docs = [doc for doc in (self.journal.read_json(p) for p in sorted(paths)) if isinstance(doc, dict)]
        settings = self.config.settings
        try:
            self.world = World.load(docs, shipyard=self.config.shipyard, timeouts=settings.spec.timeouts,
                                    project=settings.project, controls=self.journal.read_json(J.CONTROLS))
        except StateFormatError as exc:
            raise RuntimeError(f"cannot resume from reconciler/results: {exc}") from exc
        self.metrics.active_runs.set(sum(1 for _ in self.world.active_runs()))

    @staticmethod
    def _active_states() -> list[str]:
        from reconciler.engine.state import RUN_STATES
        return [s for s in RUN_STATES if s not in TERMINAL]

    def _reload_world(self) -> None:
        """After an unexpected error mid-step the world may be half-changed: rebuild it from
        the record (what the failed batch did not commit is redone from its inputs' sources)."""
        try:
            self._batch = J.Batch()
            self._dirty_lanes.clear()
            self._effects.clear()
            for future, _ in self._admissions:
                if not future.done():
                    future.set_result(Admission(False, "internal-error", "the controller failed on this batch"))
            self._admissions.clear()
            self.index.sync(self.journal)
            self._load_world()
        except Exception:  # noqa: BLE001
            log.exception("reloading state after an error failed")

    # == one iteration ========================================================================

    def _iteration(self) -> None:
        items = self._drain(self._wait_time())
        if self._stopping.is_set():
            return
        now = self.clock()
        if self._tips_dirty.is_set():
            self._tips_dirty.clear()
            self._process_tips(now)
        for item in items:
            self._handle(item, now)
        if self._pending and now - self._last_approval_check >= self._approval_interval:
            self._check_approvals(now)
        self._feed(Tick(), now)
        self._flush()
        self._run_effects()
        self._forget_finished()
        self._last_iteration = now
        self.metrics.inbox_depth.set(self._inbox.qsize())

    def _wait_time(self) -> float:
        deadline = self.world.deadlines[0][0] if self.world.deadlines else None   # may be stale: early is fine
        wait = 1.0 if self._pending else 5.0
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self.clock()))
        if self._batch:                      # a failed commit waits to be retried
            wait = min(wait, 1.0)
        return wait

    def _drain(self, timeout: float) -> list[Any]:
        items: list[Any] = []
        try:
            first = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return items
        pending = [first]
        while True:
            for item in pending:
                if item is _STOP:
                    self._stopping.set()
                elif item is not _WAKE:
                    items.append(item)
            if len(items) >= 500:
                break
            try:
                pending = [self._inbox.get_nowait()]
            except queue.Empty:
                break
        return items

    # == inputs ==============================================================================

    def _handle(self, item: Any, now: float) -> None:
        if isinstance(item, _Submit):
            self._submit(item, now)
        elif isinstance(item, _Problems):
            self._problems(item, now)
        elif isinstance(item, _Started):
            self._feed(EventReceived(self._task_event(item.request, "started", item.executor, item.data, None, now)), now)
        elif isinstance(item, _Done):
            self._executor_done(item, now)
        elif isinstance(item, _Answer):
            self._feed(item.input, now)
        elif isinstance(item, _Decided):
            self._deciding.discard(item.request.run_id)
            if item.outcome is not None and item.request.run_id in self._pending:
                self._pending.pop(item.request.run_id, None)
                self._executor_done(_Done(item.request, "approval", item.outcome), now)

    def _submit(self, item: _Submit, now: float) -> None:
        inp = item.input
        context = None
        if isinstance(inp, EventReceived):
            context = inp.event.shkeptncontext
        elif isinstance(inp, Control):
            context = inp.context
        if context:
            self._ensure_context(context)
        rejected = self._feed(inp, now)
        if item.future is not None:
            if rejected:
                first = rejected[0]
                self._admissions.append((item.future, Admission(False, first.code, first.reason, context)))
            else:
                self._admissions.append((item.future, Admission(True, "accepted", "", context)))

    def _problems(self, item: _Problems, now: float) -> None:
        answers = []
        for problem in item.problems:
            self._ensure_context(problem.context)
            active = [r for r in self.world.runs_of(problem.context) if not r.terminal]
            if problem.state == "resolved":
                if active:
                    self._feed(Control(problem.context, "abort"), now)
                    self._batch.note(f"{problem.stage}/{problem.service}: problem resolved, remediation closed",
                                     context=problem.context)
                    answers.append(Admission(True, "closed", "the open remediation was closed", problem.context))
                else:
                    answers.append(Admission(True, "nothing-open", "no open remediation for this alert",
                                             problem.context))
                continue
            if active:
                answers.append(Admission(False, "duplicate", "a remediation for this alert is already running",
                                         problem.context))
                continue
            data: dict[str, Any] = {"project": self.config.settings.project, "stage": problem.stage,
                                    "service": problem.service, "problem": dict(problem.details)}
            labels = problem.details.get("labels")
            if isinstance(labels, dict):
                data["labels"] = {k: v for k, v in labels.items() if k not in ("stage", "service")}
            event = CloudEvent(type=sequence_type(problem.stage, "remediation", "triggered"), data=data,
                               shkeptncontext=problem.context, source=SOURCE_PREFIX + "alertmanager",
                               id=derived_id(problem.context, "problem", str(problem.details.get("startsAt"))),
                               time=iso_time(now))
            rejected = self._feed(EventReceived(event), now)
            if rejected:
                answers.append(Admission(False, rejected[0].code, rejected[0].reason, problem.context))
            else:
                self._batch.note(f"{problem.stage}/{problem.service}: problem opened: "
                                 f"{problem.details.get('problemTitle')}", context=problem.context,
                                 event=event.type)
                answers.append(Admission(True, "opened", "remediation triggered", problem.context))
        self._admissions.append((item.future, answers))

    def _executor_done(self, item: _Done, now: float) -> None:
        req, outcome = item.request, item.outcome
        self.metrics.executor_seconds.labels(req.task).observe(item.seconds)
        if isinstance(outcome, Pending):
            data = dict(outcome.data)
            self._pending[req.run_id] = (req, data)
            self._feed(EventReceived(self._task_event(req, "started", item.executor, data, None, now)), now)
            return
        for path, content in outcome.journal.items():
            self._batch.put(path, content)
        extra = {"result": outcome.result, "status": outcome.status, "message": outcome.message}
        extra.update(outcome.data)
        extra["result"], extra["status"] = outcome.result, outcome.status
        self._pending.pop(req.run_id, None)
        self._feed(EventReceived(self._task_event(req, "finished", item.executor, extra,
                                                  outcome.gitcommitid, now)), now)

    def _task_event(self, req: TaskRequest, kind: str, executor: str, extra: dict[str, Any],
                    gitcommitid: str | None, now: float) -> CloudEvent:
        source = SOURCE_PREFIX + executor
        data: dict[str, Any] = {"project": req.project, "stage": req.stage, "service": req.service}
        labels = req.data.get("labels")
        if isinstance(labels, dict) and labels:
            data["labels"] = labels
        data.update(extra)
        return CloudEvent(type=task_type(req.task, kind), data=data, shkeptncontext=req.context,
                          id=derived_id(req.key, source, kind), source=source, time=iso_time(now),
                          triggeredid=req.event.id, gitcommitid=gitcommitid or req.commit)

    def _ensure_context(self, context: str) -> None:
        """Bring a forgotten (finished) context back before anything new happens in it."""
        if context in self.world.contexts:
            return
        paths = {r["path"] for r in self.index.runs(context=context, limit=10_000)}
        docs = [doc for doc in (self.journal.read_json(p) for p in sorted(paths)) if isinstance(doc, dict)]
        if docs:
            self.world.admit(docs)

    # == the sequencer ========================================================================

    def _feed(self, first: Input, now: float) -> list[Rejected]:
        """Step the engine with `first` and every input its commands answer at once."""
        work: collections.deque[Input] = collections.deque([first])
        rejected: list[Rejected] = []
        while work:
            inp = work.popleft()
            try:
                self.world, commands = sequencer.step(self.world, inp, now)
            except Exception as exc:  # noqa: BLE001
                log.exception("the sequencer failed on %r", inp)
                self._last_error = f"sequencer failed: {exc}"
                rejected.append(Rejected("internal-error", f"the sequencer failed: {exc}"))
                raise
            if isinstance(inp, EventReceived) and not any(isinstance(c, Rejected) for c in commands):
                self._recorded(inp.event)
            for command in commands:
                follow = self._command(command, now)
                if isinstance(command, Rejected):
                    rejected.append(command)
                if follow is not None:
                    work.append(follow)
        return rejected

    def _apply_commands(self, commands: Iterable[Any], now: float) -> None:
        for command in commands:
            follow = self._command(command, now)
            if follow is not None:
                self._feed(follow, now)

    def _command(self, command: Any, now: float) -> Input | None:
        if isinstance(command, DispatchTask):
            if not command.redelivery:
                self._recorded(command.event)
            self._effects.append(("dispatch", command))
        elif isinstance(command, EmitEvent):
            self._recorded(command.event)
        elif isinstance(command, ResolveCommit):
            tip = self.mirror.tip(command.stage)
            if tip is None:
                try:
                    tip = self.mirror.fetch().get(command.stage)
                except GitStoreError:
                    tip = None
            return CommitResolved(command.run_id, tip or "")
        elif isinstance(command, Promote):
            self._effects.append(("promote", command))
        elif isinstance(command, Escalate):
            self._escalation(command)
        elif isinstance(command, RunsChanged):
            for lane in command.lanes:
                self._dirty_lanes[lane] = None
                self._touched.add(lane[2])
        elif isinstance(command, ControlsChanged):
            self._controls_dirty = True
        return None

    def _recorded(self, event: CloudEvent) -> None:
        """An event entered the record: note it for the commit message, metrics, webhooks."""
        parsed = parse_type(event.type)
        data = event.data
        where = f"{data.get('stage', '?')}/{data.get('service', '?')}"
        if parsed is not None and parsed.scope == "sequence":
            what = f"{parsed.sequence} {parsed.kind}"
            if parsed.kind == "finished":
                what += f" ({data.get('result')}/{data.get('status')})"
                self.metrics.sequences_finished.labels(parsed.stage or "", parsed.sequence or "",
                                                       str(data.get("result")), str(data.get("status"))).inc()
        elif parsed is not None:
            what = f"{parsed.task} {parsed.kind}"
            if parsed.kind == "finished":
                what += f" ({data.get('result')})"
        else:
            what = event.type
        self._batch.note(f"{where}: {what}", context=event.shkeptncontext, event=event.type)
        self.metrics.events.labels(parsed.kind if parsed else "other").inc()
        observe(self.metrics, event)
        if self.notifier is not None:
            self._effects.append(("notify", event))

    def _escalation(self, command: Escalate) -> None:
        event = command.event
        data = event.data
        stage, service = str(data.get("stage") or "?"), str(data.get("service") or "?")
        doc = {"apiVersion": "reconciler/v1", "kind": "Escalation", "event": event.to_dict()}
        self._batch.put(J.escalation_path(stage, service, event.shkeptncontext), J.dumps(doc))
        self._batch.note(f"{stage}/{service}: escalation — remediation ran out of actions",
                         context=event.shkeptncontext, event=event.type)
        self._recorded(event)
        if self.notifier is not None:
            self._effects.append(("escalate", event))

    # == pushes ===============================================================================

    def _relevant(self, tips: dict[str, str]) -> dict[str, str]:
        return {b: o for b, o in tips.items()
                if b != contract.RESULTS_BRANCH and not b.startswith(contract.APPROVAL_PREFIX)}

    def _process_tips(self, now: float) -> None:
        try:
            started = time.perf_counter()
            fetched = self.mirror.fetch()
            self.metrics.fetch_seconds.observe(time.perf_counter() - started)
            self.metrics.last_fetch.set_to_current_time()
        except GitStoreError as exc:
            self.metrics.fetch_errors.inc()
            self._last_error = f"fetch failed: {exc}"
            log.warning("fetch failed: %s", exc)
            self._tips_dirty.set()            # try again on the next iteration
            return
        new = self._relevant(fetched)
        updates = []
        for branch in sorted(set(self.tips) | set(new)):
            old, tip = self.tips.get(branch), new.get(branch)
            if old == tip:
                continue
            commits = self._facts(old, tip) if tip else ()
            updates.append(BranchUpdate(branch, old, tip, commits))
        if not updates:
            self._check_approvals(now)
            return
        update = self.config.load(new)
        status_changed = update.findings_changed or update.shipyard_changed or update.settings_changed
        settings = self.config.settings
        if update.shipyard_changed or update.settings_changed:
            self._feed(ConfigChanged(self.config.shipyard, settings.spec.timeouts, settings.project), now)
            self._batch.note("config: new shipyard/settings in force")
        stages = self.config.shipyard.stage_names if self.config.shipyard else []
        report = classify(updates, stages, self.config.default_branch or "main")
        for notice in report.notices:
            log.info("push %s: %s", notice.commit[:12], notice.message)
        for trigger in report.triggers:
            errors = self.config.errors_for(trigger.stage, trigger.service)
            if errors:
                self.config.note_rejected(trigger.stage, trigger.service, trigger.commit, errors)
                status_changed = True
                self.metrics.rejected_triggers.inc()
                self._batch.note(f"{trigger.stage}/{trigger.service}: {trigger.sequence} NOT started: "
                                 f"invalid config at {trigger.commit[:12]} ({errors[0].human()})")
                log.warning("not starting %s for %s/%s: invalid config: %s", trigger.sequence, trigger.stage,
                            trigger.service, "; ".join(f.human() for f in errors[:3]))
                continue
            self._ensure_context(trigger.context)
            event = trigger.event(settings.project, now)
            rejected = self._feed(EventReceived(event), now)
            if not rejected:
                self.metrics.triggers.labels(trigger.stage).inc()
        if status_changed:
            errors = [f for f in self.config.findings if f.is_error]
            if errors:
                self._batch.note(f"config: {len(errors)} error(s), e.g. {errors[0].human()}; "
                                 f"the last valid config stays in force")
            else:
                self._batch.note(f"config: valid ({len(self.config.findings)} warning(s))")
            self._batch.put(J.CONFIG_STATUS, J.dumps(self.config.status_document()))
            self.metrics.config_errors.set(sum(1 for f in self.config.findings if f.is_error))
        self.tips = new
        if self._batch or report.triggers:
            self._batch.put(J.TIPS, J.dumps(J.tips_document(self.tips)))
        self._check_approvals(now)

    def _facts(self, old: str | None, new: str) -> tuple[CommitFacts, ...]:
        if old is not None and not self._known(old):
            old = None
        if old is None:
            # a new branch: what it adds relative to the branches we know, not its whole history
            return ()
        out = []
        for info in self.mirror.commits(old, new):
            merged: tuple[dict[str, str], ...] = ()
            if len(info.parents) > 1:
                merged = tuple(self.mirror.commit_info(p).trailers.to_dict() for p in info.parents[1:])
            out.append(CommitFacts(oid=info.oid, author_email=info.author.email,
                                   trailers=info.trailers.to_dict(), paths=info.changed_paths,
                                   merged_trailers=merged))
        return tuple(out)

    def _known(self, oid: str) -> bool:
        try:
            self.mirror.commit(oid)
            return True
        except Exception:  # noqa: BLE001
            return False

    # == approvals ============================================================================

    def _restore_pending_approvals(self) -> None:
        for run in self.world.active_runs():
            if run.state != WAITING_FOR_APPROVAL or run.current >= len(run.tasks):
                continue
            task = run.tasks[run.current]
            events = run.cloud_events()
            trigger = next((e for e in events if e.id == task.triggered_id), None)
            if trigger is None:
                continue
            started = next((e for e in events if e.triggeredid == task.triggered_id
                            and e.type.endswith(".started")), None)
            key = f"{run.id}/{task.index}/dispatch"
            req = TaskRequest(event=trigger, key=key, run_id=run.id, context=run.context, stage=run.stage,
                              service=run.service, task=task.name, redelivery=True)
            self._pending[run.id] = (req, dict(started.data) if started else {})

    def _check_approvals(self, now: float) -> None:
        """Ask whether waiting approvals were decided — in the worker pool, because asking may
        mean an HTTP call to a forge, and the loop must never wait on one."""
        self._last_approval_check = now
        for run_id, (req, data) in list(self._pending.items()):
            run = self.world.runs.get(run_id)
            if run is None or run.terminal:
                self._pending.pop(run_id, None)
                continue
            if run_id in self._deciding:
                continue
            self._deciding.add(run_id)
            self._pool.submit(self._decide, req, dict(data))

    def _decide(self, req: TaskRequest, data: dict[str, Any]) -> None:
        try:
            outcome = self.executors.decide_approval(req, data, self.env)
        except Exception as exc:  # noqa: BLE001
            log.warning("checking approval of %s failed: %s", req.run_id, exc)
            outcome = None
        self._inbox.put(_Decided(req, outcome))

    # == commit and effects ====================================================================

    def _flush(self) -> None:
        for lane in self._dirty_lanes:
            stage, service, context = lane
            self._batch.put(J.lane_path(stage, service, context),
                            J.lane_text(stage, service, context, self.world.lane_runs(stage, service, context)))
        self._dirty_lanes.clear()
        if self._controls_dirty:
            self._batch.put(J.CONTROLS, J.dumps(self.world.controls_document()))
            self._controls_dirty = False
        if self._batch:
            started = time.perf_counter()
            try:
                result = self.journal.commit(self._batch)
            except GitStoreError as exc:
                self.metrics.journal_failures.inc()
                self._last_error = f"cannot record to {contract.RESULTS_BRANCH}: {exc}"
                log.error("%s (will retry; effects wait)", self._last_error)
                return
            self.metrics.journal_commit_seconds.observe(time.perf_counter() - started)
            self.metrics.batches.inc()
            self.index.apply(result.oid, self._batch.files)
            self._batch = J.Batch()
        for future, answer in self._admissions:
            if not future.done():
                future.set_result(answer)
        self._admissions.clear()
        self.metrics.active_runs.set(sum(1 for _ in self.world.active_runs()))
        self.metrics.approvals_waiting.set(len(self._pending))

    def _run_effects(self) -> None:
        if self._batch:          # not recorded yet: effects wait for the record
            return
        effects, self._effects = self._effects, []
        for kind, payload in effects:
            try:
                if kind == "dispatch":
                    self._dispatch(payload)
                elif kind == "promote":
                    self._pool.submit(self._promote, payload)
                elif kind == "notify" and self.notifier is not None:
                    self.notifier.send(payload)
                elif kind == "escalate" and self.notifier is not None:
                    self.notifier.escalate(payload)
            except Exception:  # noqa: BLE001
                log.exception("effect %s failed", kind)

    def _dispatch(self, command: DispatchTask) -> None:
        req = TaskRequest(event=command.event, key=command.key, run_id=command.run_id, context=command.context,
                          stage=command.stage, service=command.service, task=command.task,
                          redelivery=command.redelivery)
        try:
            executors = self.executors.executors_for(req, self.env)
        except Exception as exc:  # noqa: BLE001 - a broken registry must still answer the task
            log.exception("choosing executors for %s failed", command.key)
            executors = []
            self._inbox.put(_Done(req, "controller", TaskOutcome.errored(f"choosing an executor failed: {exc}")))
            return
        if not executors:
            log.info("%s/%s: task %s waits for an external executor (%s)", req.stage, req.service, req.task,
                     task_type(req.task, "triggered"))
            return
        for executor in executors:
            if getattr(executor, "started_on_dispatch", True):
                self._inbox.put(_Started(req, executor.name))
            self._pool.submit(self._execute, req, executor)

    def _execute(self, req: TaskRequest, executor: Executor) -> None:
        started = time.perf_counter()
        try:
            with log_context(context=req.context, stage=req.stage, service=req.service, task=req.task):
                outcome = executor.run(req, self.env)
        except Exception as exc:  # noqa: BLE001 - executors must answer, never crash the loop
            log.exception("executor %s failed on %s", executor.name, req.key)
            outcome = TaskOutcome.errored(f"{executor.name} failed: {type(exc).__name__}: {exc}")
        self._inbox.put(_Done(req, executor.name, outcome, time.perf_counter() - started))

    def _promote(self, command: Promote) -> None:
        try:
            answer = self.executors.promote(command, self.env)
        except Exception as exc:  # noqa: BLE001
            log.exception("promotion %s failed", command.key)
            answer = PromotionFailed(command.run_id, (), f"promotion failed: {type(exc).__name__}: {exc}")
        self._inbox.put(_Answer(answer))

    def _forget_finished(self) -> None:
        if self._batch:
            return
        for context in self._touched:
            if context in self.world.contexts and all(r.terminal for r in self.world.runs_of(context)):
                if not any(req.context == context for req, _ in self._pending.values()):
                    self.world.forget(context)
        self._touched.clear()

