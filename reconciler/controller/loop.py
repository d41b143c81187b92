"""The controller: one thread that owns sequence state and carries out what the engine asks.

Everything that happens reaches it as an input on its inbox (tips may have changed, an API
event, a control request, an alert, an executor's answer). Each loop iteration:

1. drains the inbox (`inbox`) and fetches once if any source said the tips may have changed
   (`pushes`),
2. feeds every input to the pure sequencer (`engine.sequencer.step`), collecting commands,
3. commits everything changed since the last commit to `reconciler/results` in **one**
   commit (lane files, evidence, tips, config status), updates the SQLite index,
4. and only then carries out effects (`effects`: dispatch to executors, promotions,
   webhooks), so the record is never behind what the world saw. Effects are idempotent by
   their step keys, which is what makes a crash between 3 and 4 harmless: the restart
   re-dispatches.

Group commit: step 3 may wait (`group_window`, default 50 ms) so that several iterations'
transitions share one commit. It waits only while no effect needs the record, or while
executions the controller started are still running (their `.started`/`.finished` and the next
task's dispatch then join the same commit); once a dispatch, a promotion or an API answer waits
and nothing is running, it commits at once. Nothing an effect depends on is ever left out of the
commit before it, so crash safety is unchanged; what may wait is only the record of transitions
whose effects have not run yet (a crash loses them like any uncommitted batch, and the restart
re-dispatches from the record).

What each inbox item means (API submissions, alerts, executors' answers, approval decisions)
is `intake`. Executors run in a bounded thread pool and answer through the inbox; approvals
waiting for a person are asked about from the pool too (`approvals`); the mirror is packed on a
schedule (`maintenance`). The Keptn rules themselves are pure engine modules:
`engine.remediation` (alerts), `engine.answers` (task answers), `engine.config_gate` (invalid
config starts nothing).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from reconciler import contract
from reconciler.controller import intake
from reconciler.controller import journal as J
from reconciler.controller.api import Admission
from reconciler.controller.approvals import Approvals
from reconciler.controller.config_state import ConfigState
from reconciler.controller.effects import Effects, ExecutorSet, Notifier
from reconciler.controller.health import Health
from reconciler.controller.inbox import Inbox, Item, Problems, Submit
from reconciler.controller.index import Index
from reconciler.controller.maintenance import MirrorMaintenance
from reconciler.controller.metrics import Metrics
from reconciler.controller.observe import observe
from reconciler.controller.pushes import config_branches, process_tips
from reconciler.engine import sequencer
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
from reconciler.engine.events import CloudEvent, parse_type
from reconciler.engine.inputs import CommitResolved, Control, EventReceived, Input, Tick
from reconciler.engine.problems import Problem
from reconciler.engine.state import RUN_STATES, TERMINAL, StateFormatError
from reconciler.engine.world import World
from reconciler.gitstore import GitStoreError, Mirror
from reconciler.gitstore.errors import CorruptOrigin, RemoteError
from reconciler.tasks.base import TaskEnv
from reconciler.tasks.evaluation import missing_sli_provider

__all__ = ["Controller", "ExecutorSet", "Notifier"]

log = logging.getLogger("reconciler.controller")


class Controller:
    """See the module docstring. Thread-safe entry points: the `ControllerHandle` methods."""

    def __init__(self, *, mirror: Mirror, journal: J.Journal, index: Index, config: ConfigState,
                 executors: ExecutorSet, env: TaskEnv, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.time, workers: int = 8, metrics: Metrics | None = None,
                 approval_check_interval: float = 5.0, maintenance: MirrorMaintenance | None = None,
                 health: Health | None = None, group_window: float = 0.05):
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
        self.tips_dirty = threading.Event()
        self.last_error: str | None = None
        self.health_state = health or Health()
        self.halted: str | None = None       # why this controller must not write (another one does)
        self._inbox = Inbox()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="executor")
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._ready_reason = "starting"
        self._standby = False
        self._last_iteration = 0.0
        self.effects = Effects(executors=executors, env=env, pool=self._pool, inbox=self._inbox, notifier=notifier)
        self.approvals = Approvals(executors=executors, env=env, pool=self._pool, inbox=self._inbox,
                                   interval=approval_check_interval)
        self.maintenance = maintenance if maintenance is not None else MirrorMaintenance(mirror)
        # per batch
        self.batch = J.Batch()
        self._dirty_lanes: dict[tuple[str, str, str], None] = {}
        self._controls_dirty = False
        self._admissions: list[tuple[Future[Any], Any]] = []
        self._touched: set[str] = set()
        # group commit: how long a change may wait for company, and since when one waits
        self.group_window = max(0.0, group_window)
        self._held_since: float | None = None

    # == the handle (any thread) ================================================================

    def notify_tips_changed(self, source: str) -> None:
        self.tips_dirty.set()
        self._inbox.wake()

    def submit_event(self, event: CloudEvent) -> Future[Any]:
        future: Future[Any] = Future()
        self._inbox.put(Submit(EventReceived(event), future))
        return future

    def submit_control(self, context: str, action: str, stage: str | None = None) -> Future[Any]:
        future: Future[Any] = Future()
        self._inbox.put(Submit(Control(context, action, stage), future))  # type: ignore[arg-type]
        return future

    def submit_problems(self, problems: list[Problem]) -> Future[Any]:
        future: Future[Any] = Future()
        self._inbox.put(Problems(list(problems), future))
        return future

    def health(self) -> dict[str, Any]:
        """`/healthz`: the loop thread runs and no pass of it is stuck (`controller.health`)."""
        standby = self._thread is None and self._standby     # not started on purpose: alive
        alive = standby or bool(self._thread and self._thread.is_alive())
        stuck = self.health_state.stuck_for()
        reason = ("the controller loop ended: " + (self.last_error or "stopped")) if not alive else (
            f"the controller loop has not advanced for {stuck:.0f}s (limit {self.health_state.stuck_after:g}s)"
            if stuck is not None else "ok")
        return {"alive": alive and stuck is None, "reason": reason, "lastIteration": self._last_iteration,
                "inbox": self._inbox.qsize(), "lastError": self.last_error, **self.health_state.snapshot()}

    def ready(self) -> tuple[bool, str]:
        """`/readyz`: started, no fault, the origin not unreachable for long; notices (a corrupt
        object in the origin) are named without failing it."""
        reasons = self.health_state.not_ready_reasons()
        if not self._ready.is_set() and not self.halted:
            reasons.insert(0, self._ready_reason)
        if reasons:
            return False, "; ".join(reasons)
        notices = list(self.health_state.snapshot()["notices"].values())
        return True, "; ".join(["ready", *notices])

    def standby(self, reason: str) -> None:
        """Not started on purpose (an HA standby): say why in `ready()`; `/healthz` passes, so
        Kubernetes does not restart a standby for waiting."""
        self._ready_reason = reason
        self._standby = True

    # == lifecycle ===========================================================================

    def start(self) -> Controller:
        self._thread = threading.Thread(target=self.run, name="controller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0, *, wait_for_work: bool = True) -> int:
        """Stop the loop and the executor pool, waiting at most `timeout` in all; with
        `wait_for_work` False, tasks still running then are left (a process about to exit: the
        record says what was dispatched and the restart redoes it). Returns how many were left."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._inbox.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=wait_for_work, cancel_futures=True)
        left = 0
        for worker in list(getattr(self._pool, "_threads", ())):
            worker.join(max(0.0, deadline - time.monotonic()))
            left += worker.is_alive()
        if left:
            log.warning("stopping with %d task(s) still running; they are redone after the restart", left)
        if self.notifier is not None:
            self.notifier.close()
        return left

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def run(self) -> None:
        try:
            self._startup()
        except Exception as exc:  # noqa: BLE001 - report and end the thread; /healthz shows it
            self.last_error = f"startup failed: {exc}"
            log.exception("controller startup failed")
            return
        while not self._stopping.is_set():
            try:
                worked = self._iteration()
                if worked:
                    self.health_state.clear("loop")
            except Exception as exc:  # noqa: BLE001 - one bad batch must not end the loop
                self.last_error = f"{type(exc).__name__}: {exc}"
                # logged (with its traceback) once per kind of failure, not once per retry
                self.health_state.fault("loop", f"the controller loop fails: {self.last_error}",
                                  signature=_signature(exc), exc_info=exc)
                self._reload_world()
                self._stopping.wait(0.5)
            finally:
                self.health_state.idle()
        self._record_held()

    def _record_held(self) -> None:
        """On stop, commit what a group commit still holds (its effects are not run: the next
        start re-dispatches from the record, as after a crash)."""
        if not self._unrecorded() or not self._ready.is_set():
            return
        try:
            self._flush()
        except Exception:  # noqa: BLE001 - stopping anyway; the record is whole without it
            log.exception("recording the held batch on stop failed")

    # == startup =============================================================================

    def _startup(self) -> None:
        self.health_state.busy()
        tips = self._fetch_until_ok()
        if tips is None or not self.guard_record():
            return
        self.index.sync(self.journal)
        self.config.load(tips)
        self.config.restore(self.journal.read_json(J.CONFIG_STATUS))
        self.warn_sli_provider()
        self.metrics.config_errors.set(sum(1 for f in self.config.findings if f.is_error))
        self._load_world()
        stored = self.journal.read_json(J.TIPS)
        if isinstance(stored, dict) and isinstance(stored.get("tips"), dict):
            self.tips = {str(k): str(v) for k, v in stored["tips"].items()}
            self.tips_dirty.set()              # catch up on what was pushed while we were down
        else:
            self.tips = config_branches(tips)    # first start: today's tips are the baseline
            self.batch.put(J.TIPS, J.dumps(J.tips_document(self.tips)))
            self.batch.put(J.CONFIG_STATUS, J.dumps(self.config.status_document()))
            self.batch.note("start from the current branch tips (history before them triggers nothing)")
        now = self.clock()
        self._apply_commands(sequencer.resume_commands(self.world), now)
        self.approvals.restore(self.world)
        self._flush()
        self._run_effects()
        self._ready.set()
        self.maintenance.tick(self._pool, now_due=True)
        log.info("controller ready: %d active runs, %d branches", sum(1 for _ in self.world.active_runs()),
                 len(self.tips))

    def warn_sli_provider(self) -> None:
        """Say at start (and when the config changes) that evaluations cannot read SLIs."""
        no_provider = missing_sli_provider(self.config.shipyard, self.config.settings, self.env.environ)
        if no_provider:
            log.warning("config: %s", no_provider)
            self.batch.note(f"config: WARNING {no_provider}")

    def _fetch_until_ok(self) -> dict[str, str] | None:
        delay = 0.5
        while not self._stopping.is_set():
            tips = self.fetch()
            if tips is not None:
                return tips
            self._ready_reason = f"cannot fetch the config repo: {self.last_error}"
            self.health_state.idle()
            self._stopping.wait(delay)
            self.health_state.busy()
            delay = min(delay * 2, 30.0)
        return None

    def fetch(self) -> dict[str, str] | None:
        """Fetch every branch; None when the origin cannot be fetched (the health says why,
        once). A corrupt object in the origin is a notice, not an outage: the mirror keeps its
        last good state and the controller keeps serving it."""
        try:
            started = time.perf_counter()
            tips = self.mirror.fetch()
        except CorruptOrigin as exc:
            self.metrics.fetch_errors.inc()
            self.last_error = f"fetch failed: {exc}"
            self.health_state.origin_ok()
            self.health_state.notice("origin-object", f"the origin holds a corrupt object; serving the last good "
                                                f"state until it is repaired: {exc}")
            return None
        except GitStoreError as exc:
            self.metrics.fetch_errors.inc()
            self.last_error = f"fetch failed: {exc}"
            self.health_state.origin_failed(str(exc))
            return None
        self.metrics.fetch_seconds.observe(time.perf_counter() - started)
        self.metrics.last_fetch.set_to_current_time()
        self.health_state.origin_ok()
        self.health_state.clear("origin-object")
        return tips

    def guard_record(self) -> bool:
        """Right after a fetch, before anything reads the record: put back a deleted or rewound
        `reconciler/results` (so the index never sees it empty), and stop writing when another
        controller writes it. False when this controller must not go on."""
        if self.halted:
            return False
        try:
            restored = self.journal.guard()
        except J.ForeignController as exc:
            self.halt(str(exc))
            return False
        except GitStoreError as exc:
            self.health_state.fault("record", f"cannot restore {contract.RESULTS_BRANCH}: {exc}")
            return True
        if restored:
            self.health_state.notice("record-restored", f"{contract.RESULTS_BRANCH} was {restored}; the record was "
                                                  f"restored from the mirror with a new commit")
            self.batch.note(f"restored the record ({restored})", event=J.RESTORED_EVENT)
            self.index.sync(self.journal)
        return True

    def halt(self, reason: str) -> None:
        """Another controller writes this record and started first: write nothing more (no
        retries), answer every request with the reason, and say so in `/readyz` and `status`."""
        self.halted = reason
        self.batch = J.Batch()
        self._dirty_lanes.clear()
        self.effects.clear()
        self.health_state.fault("foreign-controller", reason)
        self._refuse_admissions()

    def _load_world(self) -> None:
        """Active lanes from Git (found through the index), plus the pause registry."""
        active = [s for s in RUN_STATES if s not in TERMINAL]
        paths = {r["path"] for r in self.index.runs(states=active, limit=1_000_000)}
        docs = [doc for doc in (self.journal.read_json(p) for p in sorted(paths)) if isinstance(doc, dict)]
        settings = self.config.settings
        try:
            self.world = World.load(docs, shipyard=self.config.shipyard, timeouts=settings.spec.timeouts,
                                    project=settings.project, controls=self.journal.read_json(J.CONTROLS))
        except StateFormatError as exc:
            raise RuntimeError(f"cannot resume from reconciler/results: {exc}") from exc
        self.metrics.active_runs.set(sum(1 for _ in self.world.active_runs()))

    def _reload_world(self) -> None:
        """After an unexpected error mid-step the world may be half-changed: rebuild it from
        the record (what the failed batch did not commit is redone from its inputs' sources)."""
        try:
            self.batch = J.Batch()
            self._held_since = None
            self._dirty_lanes.clear()
            self.effects.clear()
            for future, _ in self._admissions:
                if not future.done():
                    future.set_result(Admission(False, "internal-error", "the controller failed on this batch"))
            self._admissions.clear()
            self.index.sync(self.journal)
            self._load_world()
            self.health_state.clear("reload")
        except Exception as exc:  # noqa: BLE001
            self.health_state.fault("reload", f"reloading state after an error failed: {type(exc).__name__}: {exc}",
                              signature=_signature(exc), exc_info=exc)

    # == one iteration ========================================================================

    def _iteration(self) -> bool:
        """One pass; True when it had work (inputs, a fetch or a batch) and did it."""
        self.health_state.idle()
        items, stop = self._inbox.drain(self._wait_time())
        self.health_state.busy()
        if stop:
            self._stopping.set()
        if self._stopping.is_set():
            return False
        if self.halted:
            self._refuse(items)
            return False
        now = self.clock()
        worked = bool(items) or bool(self.batch)
        if self.tips_dirty.is_set():
            self.tips_dirty.clear()
            worked = process_tips(self, now) or worked
            if self.halted:
                self._refuse(items)
                return False
        for item in items:
            self._handle(item, now)
        if self.approvals.due(now):
            self.check_approvals(now)
        self.feed(Tick(), now)
        if self._commit_due():
            self._flush()
            self._run_effects()
            self._forget_finished()
        self.maintenance.tick(self._pool)        # due by time: a quiet controller is packed too
        self._last_iteration = now
        self.metrics.inbox_depth.set(self._inbox.qsize())
        return worked and not self.batch

    def _refuse(self, items: list[Item]) -> None:
        """A halted controller answers every request with why it does not work."""
        answer = Admission(False, "foreign-controller", self.halted or "this controller does not write")
        for item in items:
            future = getattr(item, "future", None)
            if future is not None and not future.done():
                count = len(item.problems) if isinstance(item, Problems) else None
                future.set_result(answer if count is None else [answer] * count)
        self._refuse_admissions()

    def _refuse_admissions(self) -> None:
        for future, _ in self._admissions:
            if not future.done():
                future.set_result(Admission(False, "foreign-controller", self.halted or ""))
        self._admissions.clear()

    def _wait_time(self) -> float:
        deadline = self.world.deadlines[0][0] if self.world.deadlines else None   # may be stale: early is fine
        wait = 1.0 if self.approvals else 5.0
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self.clock()))
        if self.batch:                      # a failed commit waits to be retried
            wait = min(wait, 1.0)
        if self._held_since is not None:    # a held group commit is due when its window ends
            wait = min(wait, max(0.0, self._held_since + self.group_window - time.monotonic()))
        return wait

    def _unrecorded(self) -> bool:
        return bool(self.batch or self._dirty_lanes or self._controls_dirty or self._admissions
                    or self.effects.pending)

    def _commit_due(self) -> bool:
        """Group commit: whether to commit now or let this iteration's changes wait for the next
        ones (see the module docstring). Waiting never runs an effect early: effects run only
        after the commit that records them."""
        if not self._unrecorded():
            self._held_since = None
            return False
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        due = (self.group_window <= 0 or self._stopping.is_set()
               or now - self._held_since >= self.group_window
               or ((self.effects.urgent or bool(self._admissions)) and not self.effects.in_flight))
        if due:
            self._held_since = None
        return due

    def check_approvals(self, now: float) -> None:
        self.approvals.check(self.world, now)

    # == inputs ==============================================================================

    def _handle(self, item: Item, now: float) -> None:
        intake.handle(self, item, now)

    def answer_later(self, future: Future[Any], answer: Any) -> None:
        """Answer an API request once its batch is recorded (or failed)."""
        self._admissions.append((future, answer))

    def ensure_context(self, context: str) -> None:
        """Bring a forgotten (finished) context back before anything new happens in it."""
        if context in self.world.contexts:
            return
        paths = {r["path"] for r in self.index.runs(context=context, limit=10_000)}
        docs = [doc for doc in (self.journal.read_json(p) for p in sorted(paths)) if isinstance(doc, dict)]
        if docs:
            self.world.admit(docs)

    # == the sequencer ========================================================================

    def feed(self, first: Input, now: float) -> list[Rejected]:
        """Step the engine with `first` and every input its commands answer at once."""
        work: collections.deque[Input] = collections.deque([first])
        rejected: list[Rejected] = []
        while work:
            inp = work.popleft()
            try:
                self.world, commands = sequencer.step(self.world, inp, now)
            except Exception as exc:  # noqa: BLE001
                log.exception("the sequencer failed on %r", inp)
                self.last_error = f"sequencer failed: {exc}"
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

    def _apply_commands(self, commands: Iterable[Command], now: float) -> None:
        for command in commands:
            follow = self._command(command, now)
            if follow is not None:
                self.feed(follow, now)

    def _command(self, command: Command, now: float) -> Input | None:
        if isinstance(command, DispatchTask):
            if not command.redelivery:
                self._recorded(command.event)
            self.effects.dispatch(command)
        elif isinstance(command, EmitEvent):
            self._recorded(command.event)
        elif isinstance(command, ResolveCommit):
            tip = self.mirror.tip(command.stage)
            if tip is None:
                fetched = self.fetch()
                tip = fetched.get(command.stage) if fetched is not None and self.guard_record() else None
            return CommitResolved(command.run_id, tip or "")
        elif isinstance(command, Promote):
            self.effects.promote(command)
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
        self.batch.note(f"{where}: {what}", context=event.shkeptncontext, event=event.type)
        self.metrics.events.labels(parsed.kind if parsed else "other").inc()
        observe(self.metrics, event)
        self.effects.notify(event)

    def _escalation(self, command: Escalate) -> None:
        event = command.event
        data = event.data
        stage, service = str(data.get("stage") or "?"), str(data.get("service") or "?")
        doc = {"apiVersion": "reconciler/v1", "kind": "Escalation", "event": event.to_dict()}
        self.batch.put(J.escalation_path(stage, service, event.shkeptncontext), J.dumps(doc))
        self.batch.note(f"{stage}/{service}: escalation — remediation ran out of actions",
                        context=event.shkeptncontext, event=event.type)
        self._recorded(event)
        self.effects.escalate(event)

    # == record, then effects ==================================================================

    def _flush(self) -> None:
        """Commit the batch (lane files, controls, everything noted) as one commit, then answer
        the API requests it contained."""
        for lane in self._dirty_lanes:
            stage, service, context = lane
            self.batch.put(J.lane_path(stage, service, context),
                           J.lane_text(stage, service, context, self.world.lane_runs(stage, service, context)))
        self._dirty_lanes.clear()
        if self._controls_dirty:
            self.batch.put(J.CONTROLS, J.dumps(self.world.controls_document()))
            self._controls_dirty = False
        if self.batch:
            started = time.perf_counter()
            try:
                result = self.journal.commit(self.batch)
            except J.ForeignController as exc:
                self.halt(str(exc))
                return
            except GitStoreError as exc:
                self.metrics.journal_failures.inc()
                self.last_error = f"cannot record to {contract.RESULTS_BRANCH}: {exc}"
                if isinstance(exc, RemoteError) and not isinstance(exc, CorruptOrigin):
                    self.health_state.origin_failed(str(exc))        # an outage: ready again when it ends
                else:
                    self.health_state.fault("record", f"{self.last_error} (will retry; effects wait)",
                                      signature=_signature(exc))
                return
            self.health_state.clear("record")
            self.metrics.journal_commit_seconds.observe(time.perf_counter() - started)
            self.metrics.batches.inc()
            self.index.apply(result.oid, self.batch.files)
            self.batch = J.Batch()
            self.maintenance.wrote()
            self.maintenance.tick(self._pool)    # a check, if due, runs in the pool
        for future, answer in self._admissions:
            if not future.done():
                future.set_result(answer)
        self._admissions.clear()
        self.metrics.active_runs.set(sum(1 for _ in self.world.active_runs()))
        self.metrics.approvals_waiting.set(len(self.approvals))

    def _run_effects(self) -> None:
        if self.batch:          # not recorded yet: effects wait for the record
            return
        self.effects.run()

    def _forget_finished(self) -> None:
        if self.batch:
            return
        for context in self._touched:
            if (context in self.world.contexts and all(r.terminal for r in self.world.runs_of(context))
                    and not self.approvals.holds(context)):
                self.world.forget(context)
        self._touched.clear()


def _signature(exc: BaseException) -> str:
    """What makes two failures "the same" for logging: the kind and errno, not the message
    (a full disk names a different temporary file each time)."""
    errno = getattr(exc, "errno", None) or getattr(getattr(exc, "__cause__", None), "errno", None)
    return f"{type(exc).__name__}:{errno}" if errno else f"{type(exc).__name__}:{exc}"
