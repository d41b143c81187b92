"""A simulated controller for the pure sequencer: it answers every command the way the real
controller and executors would, from a script, with a simulated clock. No I/O."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.commands import (
    Command,
    DispatchTask,
    EmitEvent,
    Escalate,
    Promote,
    Rejected,
    ResolveCommit,
    RunsChanged,
)
from reconciler.engine.events import CloudEvent, context_uuid
from reconciler.engine.inputs import CommitResolved, EventReceived, Input, PromotionFailed, PromotionFinished, Tick
from reconciler.engine.sequencer import step
from reconciler.engine.state import SequenceRun
from reconciler.engine.world import World
from reconciler.spec import yamltext
from reconciler.spec.settings import TimeoutSettings
from reconciler.spec.shipyard import Shipyard
from tests.support.shared import shared_path

BASE_TIME = 1_700_000_000.0
SHARED = shared_path()           # ../shared, or RECONCILER_SHARED_DIR


def shipyard(text_or_stages: str | list[dict[str, Any]]) -> Shipyard:
    """A Shipyard from YAML text or from a list of stage mappings."""
    if isinstance(text_or_stages, str):
        return Shipyard.from_data(yamltext.load(text_or_stages))
    return Shipyard.from_data({"apiVersion": "spec.keptn.sh/0.2.3", "kind": "Shipyard",
                               "metadata": {"name": "test"}, "spec": {"stages": text_or_stages}})


def ctx(n: int | str) -> str:
    return context_uuid(f"test:{n}")


def trigger(stage: str, sequence: str = "delivery", *, service: str = "carts", context: str | None = None,
            data: dict[str, Any] | None = None, gitcommitid: str | None = "c0", id: str | None = None,
            change: str | None = "change-1") -> CloudEvent:
    payload: dict[str, Any] = {"project": "sockshop", "stage": stage, "service": service}
    if change:
        payload["configurationChange"] = {"commit": change}
    payload.update(data or {})
    context = context or ctx(f"{stage}:{sequence}:{service}")
    return CloudEvent(type=f"sh.keptn.event.{stage}.{sequence}.triggered", data=payload,
                      shkeptncontext=context, id=id or f"trigger:{context}:{stage}:{sequence}",
                      time="2023-11-14T22:13:20.000Z", gitcommitid=gitcommitid)


def answer(d: DispatchTask, kind: str, *, result: str | None = "pass", status: str | None = "succeeded",
           data: dict[str, Any] | None = None, source: str = "executor", gitcommitid: str | None = None,
           id: str | None = None, context: str | None = None, task: str | None = None) -> CloudEvent:
    payload: dict[str, Any] = {"project": "sockshop", "stage": d.stage, "service": d.service}
    if kind == "finished":
        if result is not None:
            payload["result"] = result
        if status is not None:
            payload["status"] = status
    payload.update(data or {})
    return CloudEvent(type=f"sh.keptn.event.{task or d.task}.{kind}", data=payload,
                      shkeptncontext=context or d.context, id=id or f"{d.key}/{kind}/{source}",
                      source=source, time="2023-11-14T22:13:20.000Z", triggeredid=d.event.id,
                      gitcommitid=gitcommitid)


Executor = Callable[[DispatchTask, "Sim"], list[CloudEvent]]


def scripted(results: dict[Any, Any] | Callable[[DispatchTask], Any] | None = None, *, actions: int = 2,
             silent: Iterable[Any] = (), started: bool = True, sources: tuple[str, ...] = ("executor",),
             finished_data: Callable[[DispatchTask], dict[str, Any]] | None = None) -> Executor:
    """An executor that answers every dispatch at once.

    `results` maps `(stage, task)` or `task` to a result or `(result, status)` (default pass).
    `get-action` hands out `actions` actions, then fails with `get-action.exhausted: true`.
    An approval that carries a promotion reports the landed commit as gitcommitid.
    Tasks named in `silent` get no answer (an executor that never picked them up).
    """
    silent = set(silent)

    def execute(d: DispatchTask, sim: Sim) -> list[CloudEvent]:
        if d.task in silent or (d.stage, d.task) in silent:
            return []
        if callable(results):
            spec = results(d)
        else:
            table = results or {}
            spec = table.get((d.stage, d.task), table.get(d.task, "pass"))
        result, status = (spec, "succeeded") if isinstance(spec, str) else spec
        data: dict[str, Any] = dict(finished_data(d)) if finished_data else {}
        git = None
        if d.task == "get-action":
            index = (d.event.data.get("get-action") or {}).get("actionIndex", 0)
            if index < actions:
                data.update({"action": {"name": f"action-{index}", "action": "scaling", "value": "1"},
                             "get-action": {"actionIndex": index + 1}})
                result, status = "pass", "succeeded"
            else:
                data.update({"get-action": {"actionIndex": index, "exhausted": True}})
                result, status = "fail", "succeeded"
        if d.task == "approval" and (d.event.data.get("approval") or {}).get("promotion") and result != "fail":
            git = f"landed-by-approval-{d.stage}"
        out = []
        for source in sources:
            if started:
                out.append(answer(d, "started", source=source))
            out.append(answer(d, "finished", result=result, status=status, data=data, source=source,
                              gitcommitid=git))
        return out

    return execute


@dataclass
class Sim:
    """Feeds inputs to `step`, carries out the commands like the controller would."""

    world: World
    executor: Executor = field(default_factory=scripted)
    now: float = BASE_TIME
    auto: bool = True
    conflict_stages: set[str] = field(default_factory=set)
    commands: list[Command] = field(default_factory=list)
    pending: deque = field(default_factory=deque)
    inputs: list[tuple[Input, float]] = field(default_factory=list)   # everything fed, with its time
    steps: int = 0

    @classmethod
    def of(cls, sy: Shipyard | str | list, *, timeouts: TimeoutSettings | None = None, **kw: Any) -> Sim:
        if not isinstance(sy, Shipyard):
            sy = shipyard(sy)
        return cls(World(sy, timeouts, "sockshop"), **kw)

    def feed(self, inp: Input | CloudEvent, *, at: float | None = None) -> list[Command]:
        if isinstance(inp, CloudEvent):
            inp = EventReceived(inp)
        if at is not None:
            self.now = at
        self.steps += 1
        self.inputs.append((inp, self.now))
        _, cmds = step(self.world, inp, self.now)
        self.commands.extend(cmds)
        if self.auto:
            self.react(cmds)
        return cmds

    def react(self, cmds: list[Command]) -> None:
        for c in cmds:
            if isinstance(c, DispatchTask):
                self.pending.extend(EventReceived(e) for e in self.executor(c, self))
            elif isinstance(c, ResolveCommit):
                self.pending.append(CommitResolved(c.run_id, f"tip-{c.stage}"))
            elif isinstance(c, Promote):
                if c.target_stage in self.conflict_stages:
                    self.pending.append(PromotionFailed(c.run_id, (f"{c.service}/values.yaml",)))
                else:
                    self.pending.append(PromotionFinished(c.run_id, f"promoted-{c.target_stage}"))

    def drain(self, max_steps: int = 5000, *, ticks: bool = True) -> None:
        """Process pending inputs; when idle, jump the clock to the next deadline and tick."""
        start = self.steps
        while True:
            assert self.steps - start < max_steps, "the simulation did not settle (unbounded loop?)"
            if self.pending:
                self.feed(self.pending.popleft())
            elif ticks and self.world.deadlines:
                self.now = max(self.now, self.world.deadlines[0][0])
                self.feed(Tick())
            else:
                return

    # -- queries -------------------------------------------------------------------------

    def of_type(self, kind: type) -> list[Any]:
        return [c for c in self.commands if isinstance(c, kind)]

    def dispatches(self, task: str | None = None, stage: str | None = None) -> list[DispatchTask]:
        return [d for d in self.of_type(DispatchTask)
                if (task is None or d.task == task) and (stage is None or d.stage == stage)]

    def emitted(self, suffix: str = "") -> list[CloudEvent]:
        return [c.event for c in self.of_type(EmitEvent) if c.event.type.endswith(suffix)]

    def rejected(self) -> list[Rejected]:
        return self.of_type(Rejected)

    def escalations(self) -> list[Escalate]:
        return self.of_type(Escalate)

    def runs(self, context: str | None = None) -> list[SequenceRun]:
        runs = list(self.world.runs.values()) if context is None else self.world.runs_of(context)
        return sorted(runs, key=lambda r: r.queue[2])

    def chain(self, context: str | None = None) -> list[tuple[str, str, str]]:
        """(stage, sequence, result) of every run, in creation order."""
        return [(r.stage, r.sequence, r.result or r.state) for r in self.runs(context)]

    def changed_lanes(self) -> set[tuple[str, str, str]]:
        return {lane for c in self.of_type(RunsChanged) for lane in c.lanes}
