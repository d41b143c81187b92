"""Sequence runs and task runs as plain data, with a stable, versioned JSON form.

The controller writes every run of one context in one lane to
`sequences/<stage>/<service>/<context>.json` at each transition, and a restarted
controller rebuilds the engine from those files alone, so everything the sequencer needs
to continue lives here: the definition snapshot (shipyard edits leave running work alone),
the trigger event, the commit the run reads, each task's answers, and every CloudEvent.

Times are UNIX seconds as given to the sequencer (it has no clock of its own).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from reconciler import layout
from reconciler.engine.events import CloudEvent
from reconciler.spec.shipyard import Sequence

FORMAT_VERSION = 1
LANE_KIND = "SequenceLane"

# Run states (Keptn f.8), plus `waiting`: an approval finished while another context held
# the lane, so the run queues (at its original place) to take the lane back.
TRIGGERED = "triggered"
STARTED = "started"
WAITING_FOR_APPROVAL = "waitingForApproval"
WAITING = "waiting"
PAUSED = "paused"
FINISHED = "finished"
ABORTED = "aborted"
TIMED_OUT = "timedOut"
RUN_STATES = (TRIGGERED, STARTED, WAITING_FOR_APPROVAL, WAITING, PAUSED, FINISHED, ABORTED, TIMED_OUT)
TERMINAL = frozenset({FINISHED, ABORTED, TIMED_OUT})

# Task states: not reached yet, delayed by triggeredAfter, `.triggered` sent, at least one
# `.started` seen, completed.
PENDING = "pending"
SCHEDULED = "scheduled"
TASK_TRIGGERED = "triggered"
TASK_STARTED = "started"
DONE = "done"
TASK_STATES = (PENDING, SCHEDULED, TASK_TRIGGERED, TASK_STARTED, DONE)

# What a started run waits for from the controller before its next dispatch.
AWAIT_COMMIT = "commit"          # the stage tip it should read (ResolveCommit)
AWAIT_PROMOTION = "promotion"    # the commit that landed the context's change (Promote)

# Where the context's change is promoted: before the first task, or by the approval task.
PROMOTE_AT_START = "start"
PROMOTE_BY_APPROVAL = layout.TASK_APPROVAL


class StateFormatError(ValueError):
    """A lane document the engine cannot resume from; the message names the field."""


@dataclass(slots=True)
class Answer:
    """One executor's `.started` or `.finished` for a task (keyed by CloudEvent `source`)."""

    id: str
    at: float
    result: str | None = None
    status: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "at": self.at}
        for key in ("result", "status", "message"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Answer:
        return cls(id=raw["id"], at=float(raw["at"]), result=raw.get("result"),
                   status=raw.get("status"), message=raw.get("message"))


@dataclass(slots=True)
class TaskRun:
    index: int
    name: str
    state: str = PENDING
    triggered_id: str | None = None
    triggered_at: float | None = None
    scheduled_at: float | None = None          # triggeredAfter: when `.triggered` is due
    started: dict[str, Answer] = field(default_factory=dict)    # by source
    finished: dict[str, Answer] = field(default_factory=dict)   # by source
    data: dict[str, Any] = field(default_factory=dict)          # merged `.finished` data
    gitcommitid: str | None = None              # newest commit a `.finished` reported
    result: str | None = None
    status: str | None = None
    message: str | None = None
    completed_at: float | None = None
    promotes: bool = False                      # this approval carries the promotion
    waiting: str | None = None                  # nothing answers it here: what would (until answered)

    @property
    def first_started_at(self) -> float | None:
        return min((a.at for a in self.started.values()), default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "name": self.name, "state": self.state}
        for key, attr in (("triggeredId", "triggered_id"), ("triggeredAt", "triggered_at"),
                          ("scheduledAt", "scheduled_at"), ("gitcommitid", "gitcommitid"),
                          ("result", "result"), ("status", "status"), ("message", "message"),
                          ("completedAt", "completed_at"), ("waiting", "waiting")):
            value = getattr(self, attr)
            if value is not None:
                out[key] = value
        if self.started:
            out["started"] = {s: a.to_dict() for s, a in self.started.items()}
        if self.finished:
            out["finished"] = {s: a.to_dict() for s, a in self.finished.items()}
        if self.data:
            out["data"] = self.data
        if self.promotes:
            out["promotes"] = True
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskRun:
        state = raw.get("state", PENDING)
        if state not in TASK_STATES:
            raise StateFormatError(f"task {raw.get('name')!r}: unknown state {state!r}")
        return cls(
            index=int(raw["index"]), name=str(raw["name"]), state=state,
            triggered_id=raw.get("triggeredId"), triggered_at=_opt_float(raw.get("triggeredAt")),
            scheduled_at=_opt_float(raw.get("scheduledAt")),
            started={s: Answer.from_dict(a) for s, a in (raw.get("started") or {}).items()},
            finished={s: Answer.from_dict(a) for s, a in (raw.get("finished") or {}).items()},
            data=dict(raw.get("data") or {}), gitcommitid=raw.get("gitcommitid"),
            result=raw.get("result"), status=raw.get("status"), message=raw.get("message"),
            completed_at=_opt_float(raw.get("completedAt")), promotes=bool(raw.get("promotes")),
            waiting=raw.get("waiting"),
        )


@dataclass(slots=True)
class Promotion:
    """The context's change to land on this run's stage branch (a cross-stage follow-up).

    `commit` is the change (`data.configurationChange.commit`), `base` the commit it is
    diffed against (`data.configurationChange.base`; None = the change's first parent).
    """

    mode: str                      # PROMOTE_AT_START | PROMOTE_BY_APPROVAL
    source_stage: str
    commit: str
    base: str | None = None
    landed: str | None = None      # the commit on this stage that carries it, once known
    failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "sourceStage": self.source_stage, "commit": self.commit}
        if self.base is not None:
            out["base"] = self.base
        if self.landed is not None:
            out["landed"] = self.landed
        if self.failed:
            out["failed"] = True
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Promotion:
        mode = raw.get("mode")
        if mode not in (PROMOTE_AT_START, PROMOTE_BY_APPROVAL):
            raise StateFormatError(f"promotion: unknown mode {mode!r}")
        return cls(mode=mode, source_stage=str(raw["sourceStage"]), commit=str(raw["commit"]),
                   base=raw.get("base"), landed=raw.get("landed"), failed=bool(raw.get("failed")))


@dataclass(slots=True)
class SequenceRun:
    """One execution of one sequence for one (context, stage, service)."""

    context: str
    stage: str
    service: str
    index: int                     # per (context, stage): 0 for the first run, then 1, 2 …
    sequence: str
    definition: Sequence | None    # snapshot; None when the sequence did not exist
    trigger: CloudEvent
    queue: tuple[int, int, int]    # FIFO place in the lane (see lanes.py)
    triggered_at: float
    state: str = TRIGGERED
    paused_from: str | None = None
    gitcommitid: str | None = None
    data: dict[str, Any] = field(default_factory=dict)   # trigger data + merged task data
    tasks: list[TaskRun] = field(default_factory=list)
    current: int = 0               # index of the task in progress or next
    last_task: int | None = None   # index of the last task that completed
    awaiting: str | None = None
    promotion: Promotion | None = None
    parent: str | None = None      # run id whose `.finished` triggered this one
    followups: list[str] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    result: str | None = None
    status: str | None = None
    message: str | None = None
    # Every CloudEvent after the trigger, in order, as compact JSON text: an append-only log
    # the engine never reads back except to persist it, so it is kept serialised (a third of
    # the memory of decoded events, and the same whether the run was built live or loaded).
    events: list[str] = field(default_factory=list)
    trigger_order: int | None = None   # `World.event_order` of the trigger (None in old records)

    @property
    def id(self) -> str:
        """`<context>/<stage>/<run index>`: the prefix of every idempotency key of this run."""
        return f"{self.context}/{self.stage}/{self.index}"

    @property
    def lane(self) -> tuple[str, str]:
        return (self.stage, self.service)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def last_task_name(self) -> str | None:
        return self.tasks[self.last_task].name if self.last_task is not None else None

    def record(self, event: CloudEvent, order: int | None = None) -> None:
        """Append `event` to the run's log; `order` (`World.event_order`) is kept with it as
        the `order` attribute, which the event log sorts by."""
        raw = event.to_dict()
        if order is not None:
            raw["order"] = order
        self.events.append(_compact(raw))

    def last_order(self) -> int:
        """The highest order number recorded in this run (0 when none). `record` puts it last
        in the compact JSON, so it is read from the tail without decoding the event."""
        best = self.trigger_order or 0
        for text in reversed(self.events):
            found = _ORDER_TAIL.search(text)
            if found:
                return max(best, int(found.group(1)))
        return best

    def cloud_events(self) -> list[CloudEvent]:
        """The recorded events, decoded (for the API and for resuming)."""
        return [CloudEvent.from_dict(json.loads(text)) for text in self.events]

    def to_json(self) -> str:
        """`json.dumps(self.to_dict())` without decoding the recorded events again."""
        head = self.to_dict(events=False)
        return _compact(head)[:-1] + ',"events":[' + ",".join(self.events) + "]}"

    def to_dict(self, *, events: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "context": self.context, "stage": self.stage, "service": self.service,
            "index": self.index, "sequence": self.sequence,
            "definition": self.definition.model_dump(mode="json") if self.definition is not None else None,
            "trigger": self._trigger_dict(), "queue": list(self.queue),
            "triggeredAt": self.triggered_at, "state": self.state, "current": self.current,
            "data": self.data, "tasks": [t.to_dict() for t in self.tasks],
            "followups": list(self.followups),
        }
        for key, attr in (("pausedFrom", "paused_from"), ("gitcommitid", "gitcommitid"),
                          ("lastTask", "last_task"), ("awaiting", "awaiting"), ("parent", "parent"),
                          ("startedAt", "started_at"), ("finishedAt", "finished_at"),
                          ("result", "result"), ("status", "status"), ("message", "message")):
            value = getattr(self, attr)
            if value is not None:
                out[key] = value
        if self.promotion is not None:
            out["promotion"] = self.promotion.to_dict()
        if events:
            out["events"] = [json.loads(text) for text in self.events]
        return out

    def _trigger_dict(self) -> dict[str, Any]:
        raw = self.trigger.to_dict()
        if self.trigger_order is not None:
            raw["order"] = self.trigger_order
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SequenceRun:
        where = f"run {raw.get('id', '?')}"
        try:
            state = raw["state"]
            if state not in RUN_STATES:
                raise StateFormatError(f"{where}: unknown state {state!r}")
            definition = raw.get("definition")
            queue = raw["queue"]
            if not (isinstance(queue, list) and len(queue) == 3):
                raise StateFormatError(f"{where}: 'queue' must be a list of three integers")
            run = cls(
                context=str(raw["context"]), stage=str(raw["stage"]), service=str(raw["service"]),
                index=int(raw["index"]), sequence=str(raw["sequence"]),
                definition=_definition(definition) if definition is not None else None,
                trigger=CloudEvent.from_dict(raw["trigger"]),
                queue=(int(queue[0]), int(queue[1]), int(queue[2])),
                triggered_at=float(raw["triggeredAt"]), state=state, paused_from=raw.get("pausedFrom"),
                gitcommitid=raw.get("gitcommitid"), data=dict(raw.get("data") or {}),
                tasks=[TaskRun.from_dict(t) for t in raw.get("tasks") or []],
                current=int(raw.get("current", 0)), last_task=raw.get("lastTask"),
                awaiting=raw.get("awaiting"),
                promotion=Promotion.from_dict(raw["promotion"]) if raw.get("promotion") else None,
                parent=raw.get("parent"), followups=list(raw.get("followups") or []),
                started_at=_opt_float(raw.get("startedAt")), finished_at=_opt_float(raw.get("finishedAt")),
                result=raw.get("result"), status=raw.get("status"), message=raw.get("message"),
                events=[_compact(_event_dict(e)) for e in raw.get("events") or []],
                trigger_order=_opt_int(raw["trigger"].get("order")),
            )
        except StateFormatError:
            raise
        except KeyError as exc:
            raise StateFormatError(f"{where}: field {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError) as exc:
            raise StateFormatError(f"{where}: {exc}") from None
        if raw.get("id") not in (None, run.id):
            raise StateFormatError(f"{where}: 'id' does not match context/stage/index ({run.id})")
        return run


def lane_document(stage: str, service: str, context: str, runs: list[SequenceRun]) -> dict[str, Any]:
    """The JSON document of `sequences/<stage>/<service>/<context>.json`."""
    return {
        "apiVersion": "reconciler/v1", "kind": LANE_KIND, "version": FORMAT_VERSION,
        "stage": stage, "service": service, "context": context,
        "runs": [r.to_dict() for r in runs],
    }


def lane_document_json(stage: str, service: str, context: str, runs: list[SequenceRun]) -> str:
    """`lane_document` as compact JSON text, cheaply (what the controller writes)."""
    head = _compact({"apiVersion": "reconciler/v1", "kind": LANE_KIND, "version": FORMAT_VERSION,
                     "stage": stage, "service": service, "context": context})
    return head[:-1] + ',"runs":[' + ",".join(r.to_json() for r in runs) + "]}"


def runs_from_document(doc: Any, *, source: str = "lane document") -> list[SequenceRun]:
    """Runs of one lane document; StateFormatError names the file and field when it is unusable."""
    if not isinstance(doc, dict) or doc.get("kind") != LANE_KIND:
        raise StateFormatError(f"{source}: not a {LANE_KIND} document (field 'kind')")
    if doc.get("version") != FORMAT_VERSION:
        raise StateFormatError(
            f"{source}: field 'version' is {doc.get('version')!r}; this reconciler reads version "
            f"{FORMAT_VERSION} (upgrade the reconciler that reads it)")
    runs_raw = doc.get("runs")
    if not isinstance(runs_raw, list):
        raise StateFormatError(f"{source}: field 'runs' must be a list")
    runs = []
    for raw in runs_raw:
        try:
            run = SequenceRun.from_dict(raw)
        except StateFormatError as exc:
            raise StateFormatError(f"{source}: {exc}") from None
        if (run.stage, run.service, run.context) != (doc.get("stage"), doc.get("service"), doc.get("context")):
            raise StateFormatError(f"{source}: run {run.id} does not belong to this lane document")
        runs.append(run)
    return runs


_DEFINITIONS: dict[str, Sequence] = {}


def _definition(raw: Any) -> Sequence:
    """Sequence snapshots are shared between the runs that carry the same one (a restart of a
    world with thousands of runs would otherwise hold thousands of equal copies)."""
    key = repr(raw)        # same definition, same dump order: repr is 5× cheaper than JSON
    found = _DEFINITIONS.get(key)
    if found is None:
        if len(_DEFINITIONS) >= 1024:
            _DEFINITIONS.clear()
        found = _DEFINITIONS[key] = Sequence.model_validate(raw)
    return found


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _event_dict(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or not isinstance(raw.get("id"), str):
        raise StateFormatError("an entry of 'events' is not a CloudEvent with 'type' and 'id'")
    return raw


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


_ORDER_TAIL = re.compile(r',"order":(\d+)\}$')


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
