"""Everything the sequencer knows, indexed for the questions it asks on every input.

The world is owned by one caller (the controller thread). `sequencer.step` changes it in
place and returns it with the commands; it is rebuilt from the lane documents the controller
persisted (`World.load`), which is the whole of its durable state besides the pause registry.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from reconciler.engine.lanes import Lane
from reconciler.engine.state import (
    PAUSED,
    SequenceRun,
    StateFormatError,
    lane_document,
    lane_document_json,
    runs_from_document,
)
from reconciler.engine.timeouts import next_deadline
from reconciler.spec.settings import TimeoutSettings
from reconciler.spec.shipyard import Shipyard

ALL_STAGES = "*"
CONTROLS_KIND = "SequenceControls"


class World:
    def __init__(self, shipyard: Shipyard | None = None, timeouts: TimeoutSettings | None = None,
                 project: str = ""):
        self.shipyard = shipyard
        self.timeouts = timeouts or TimeoutSettings()
        self.project = project
        self.runs: dict[str, SequenceRun] = {}                      # run id → run
        self.lanes: dict[tuple[str, str], Lane[SequenceRun]] = {}                 # active runs per lane
        self.contexts: dict[str, list[SequenceRun]] = {}             # creation order
        self.task_triggers: dict[str, tuple[SequenceRun, int]] = {}  # task .triggered id → (run, task)
        self.sequence_triggers: dict[str, SequenceRun] = {}          # sequence .triggered id → run
        self.applied: set[str] = set()                               # task answers already applied
        self.paused: dict[str, frozenset[str]] = {}                  # context → stages or {"*"}
        self.deadlines: list[tuple[float, str]] = []                 # heap, lazily invalidated
        self.next_seq = 0
        self.next_creation = 0
        self.last_event_order = 0                                    # see `event_order`
        self.run_counts: dict[tuple[str, str], int] = {}             # (context, stage) → runs
        self.active = 0                                              # runs in lanes

    # -- queries --------------------------------------------------------------------------

    def lane(self, stage: str, service: str) -> list[SequenceRun]:
        """Active runs of a lane in queue order (the holder first, then the queue)."""
        lane = self.lanes.get((stage, service))
        return list(lane) if lane is not None else []

    def queue_position(self, run: SequenceRun) -> int | None:
        """1-based place among the queued runs of its lane (None when not queued)."""
        lane = self.lanes.get(run.lane)
        return lane.position(run) if lane is not None else None

    def runs_of(self, context: str) -> list[SequenceRun]:
        return list(self.contexts.get(context, ()))

    def active_runs(self) -> Iterator[SequenceRun]:
        for lane in self.lanes.values():
            yield from lane

    def is_paused(self, context: str, stage: str) -> bool:
        stages = self.paused.get(context)
        return stages is not None and (ALL_STAGES in stages or stage in stages)

    # -- changes (used by the sequencer) ---------------------------------------------------

    def event_order(self, now: float) -> int:
        """The order number of the next recorded event: milliseconds × 10,000 plus a counter,
        never less than the last one. A reaction and its cause usually share a millisecond;
        this number still puts the cause first (`reconciler events` sorts by it)."""
        self.last_event_order = max(self.last_event_order + 1, int(now * 1000) * 10_000)
        return self.last_event_order

    def add(self, run: SequenceRun) -> None:
        self.runs[run.id] = run
        self.contexts.setdefault(run.context, []).append(run)
        self.sequence_triggers[run.trigger.id] = run
        key = (run.context, run.stage)
        self.run_counts[key] = max(self.run_counts.get(key, 0), run.index + 1)
        self.next_seq = max(self.next_seq, run.queue[0] + 1)
        self.next_creation = max(self.next_creation, run.queue[2] + 1)
        self.last_event_order = max(self.last_event_order, run.last_order())
        for task in run.tasks:
            if task.triggered_id:
                self.task_triggers[task.triggered_id] = (run, task.index)
            for answer in (*task.started.values(), *task.finished.values()):
                self.applied.add(answer.id)
        if not run.terminal:
            lane = self.lanes.get(run.lane)
            if lane is None:
                lane = self.lanes[run.lane] = Lane(run.lane)
            lane.add(run)
            self.active += 1
            self.schedule(run)

    def retire(self, run: SequenceRun) -> None:
        """Take a run that just became terminal out of its lane."""
        lane = self.lanes.get(run.lane)
        if lane is not None and lane.remove(run):
            self.active -= 1
            if not len(lane):
                del self.lanes[run.lane]

    def schedule(self, run: SequenceRun) -> None:
        """(Re)register the run's next deadline; stale heap entries are skipped when popped."""
        due = next_deadline(run, self.timeouts)
        if due is not None:
            heapq.heappush(self.deadlines, (due, run.id))
            if len(self.deadlines) > 64 and len(self.deadlines) > 4 * max(1, self.active):
                self.rebuild_deadlines()

    def rebuild_deadlines(self) -> None:
        self.deadlines = []
        for run in self.active_runs():
            due = next_deadline(run, self.timeouts)
            if due is not None:
                self.deadlines.append((due, run.id))
        heapq.heapify(self.deadlines)

    def new_run_index(self, context: str, stage: str) -> int:
        key = (context, stage)
        n = self.run_counts.get(key, 0)
        self.run_counts[key] = n + 1
        return n

    def new_queue_place(self, parent: SequenceRun | None = None) -> tuple[int, int, int]:
        creation = self.next_creation
        self.next_creation += 1
        if parent is not None:
            return (parent.queue[0], parent.queue[1] + 1, creation)
        seq = self.next_seq
        self.next_seq += 1
        return (seq, 0, creation)

    def forget(self, context: str) -> bool:
        """Drop a context whose runs are all over (its lane files stay in Git), to bound memory.

        Late events for it are then rejected as unknown. Before feeding a new trigger for a
        forgotten context, `admit` its lane documents again, or its next lane file would be
        written without the older runs. Returns False (and keeps it) while a run is active."""
        runs = self.contexts.get(context, [])
        if any(not r.terminal for r in runs):
            return False
        for run in runs:
            self.runs.pop(run.id, None)
            self.sequence_triggers.pop(run.trigger.id, None)
            for task in run.tasks:
                if task.triggered_id:
                    self.task_triggers.pop(task.triggered_id, None)
                for answer in (*task.started.values(), *task.finished.values()):
                    self.applied.discard(answer.id)
        self.contexts.pop(context, None)
        self.paused.pop(context, None)
        return True

    # -- persistence -------------------------------------------------------------------------

    def lane_runs(self, stage: str, service: str, context: str) -> list[SequenceRun]:
        """Every run (active or not) of one context in one lane: one lane document."""
        return [r for r in self.contexts.get(context, ()) if r.stage == stage and r.service == service]

    def document(self, stage: str, service: str, context: str) -> dict[str, Any]:
        return lane_document(stage, service, context, self.lane_runs(stage, service, context))

    def document_json(self, stage: str, service: str, context: str) -> str:
        """The lane file's text (compact JSON), without decoding the recorded events."""
        return lane_document_json(stage, service, context, self.lane_runs(stage, service, context))

    def lane_files(self) -> Iterator[tuple[str, str, str]]:
        """(stage, service, context) of every lane document the world holds."""
        seen: set[tuple[str, str, str]] = set()
        for context, runs in self.contexts.items():
            for run in runs:
                key = (run.stage, run.service, context)
                if key not in seen:
                    seen.add(key)
                    yield key

    def documents(self) -> Iterator[dict[str, Any]]:
        for key in self.lane_files():
            yield self.document(*key)

    def controls_document(self) -> dict[str, Any]:
        return {"apiVersion": "reconciler/v1", "kind": CONTROLS_KIND, "version": 1,
                "paused": {c: sorted(s) for c, s in sorted(self.paused.items()) if s}}

    def admit(self, documents: Iterable[Any]) -> list[SequenceRun]:
        """Add the runs of these lane documents that the world does not hold (a forgotten
        context coming back). Returns the runs added."""
        added = []
        for run in sorted(_runs_of(documents), key=lambda r: r.queue[2]):
            if run.id not in self.runs:
                self.add(run)
                added.append(run)
        return added

    @classmethod
    def load(cls, documents: Iterable[Any], *, shipyard: Shipyard | None = None,
             timeouts: TimeoutSettings | None = None, project: str = "",
             controls: Any = None) -> World:
        """Rebuild from lane documents (and the controls document); StateFormatError otherwise."""
        world = cls(shipyard, timeouts, project)
        for run in sorted(_runs_of(documents), key=lambda r: r.queue[2]):   # creation order
            if run.id in world.runs:
                raise StateFormatError(f"run {run.id} appears in two lane documents")
            world.add(run)
        if controls is not None:
            if not isinstance(controls, dict) or controls.get("kind") != CONTROLS_KIND:
                raise StateFormatError(f"controls document: not a {CONTROLS_KIND} document (field 'kind')")
            for context, stages in (controls.get("paused") or {}).items():
                if stages:
                    world.paused[context] = frozenset(stages)
        return world

    def __repr__(self) -> str:
        paused = sum(1 for r in self.active_runs() if r.state == PAUSED)
        return f"<World runs={len(self.runs)} active={self.active} paused={paused}>"


def _runs_of(documents: Iterable[Any]) -> list[SequenceRun]:
    runs: list[SequenceRun] = []
    for i, doc in enumerate(documents):
        source = (f"lane document {doc.get('stage')}/{doc.get('service')}/{doc.get('context')}"
                  if isinstance(doc, dict) else f"lane document #{i}")
        runs.extend(runs_from_document(doc, source=source))
    return runs
