"""CloudEvents 1.0 envelopes with Keptn's type names.

Keptn classifies an event type by counting its dot-separated parts, which is why stage,
sequence and task names may not contain dots. We keep the same grammar so that Keptn
integrations (job executors, notification hooks) understand our events unchanged.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

PREFIX = "sh.keptn.event."
SPEC_VERSION = "1.0"
KEPTN_SPEC_VERSION = "0.2.4"
SOURCE = "reconciler"
# Our own event (not a Keptn type): a dispatched task that nothing here answers, with what
# would answer it; `data.message` says it, `triggeredid` names the task's `.triggered`.
TASK_WAITING = "sh.reconciler.task.waiting"

Kind = Literal["triggered", "started", "finished", "invalidated"]


def sequence_type(stage: str, sequence: str, kind: str) -> str:
    """`sh.keptn.event.<stage>.<sequence>.<kind>`"""
    return f"{PREFIX}{stage}.{sequence}.{kind}"


def task_type(task: str, kind: str) -> str:
    """`sh.keptn.event.<task>.<kind>`"""
    return f"{PREFIX}{task}.{kind}"


@dataclass(frozen=True, slots=True)
class ParsedType:
    scope: Literal["sequence", "task"]
    kind: str
    task: str | None = None
    stage: str | None = None
    sequence: str | None = None


def parse_type(event_type: str) -> ParsedType | None:
    """Classify an event type as Keptn does (by part count); None when it is neither."""
    if not event_type.startswith(PREFIX):
        return None
    parts = event_type[len(PREFIX):].split(".")
    if len(parts) == 3 and all(parts):
        return ParsedType("sequence", parts[2], stage=parts[0], sequence=parts[1])
    if len(parts) == 2 and all(parts):
        return ParsedType("task", parts[1], task=parts[0])
    return None


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A structured-mode CloudEvent with Keptn's extensions (`shkeptncontext`, `triggeredid`, `gitcommitid`).

    `id` and `time` have no defaults: a forgotten argument must fail, not bring randomness and
    the wall clock into the pure core (replays after a crash rely on derived ids).
    """

    type: str
    data: dict[str, Any]
    shkeptncontext: str
    id: str          # required: derived (`derived_id`) in the core, generated at the edge
    time: str        # required: `iso_time(now)` of the clock the caller already has
    source: str = SOURCE
    triggeredid: str | None = None
    gitcommitid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "datacontenttype": "application/json",
            "shkeptncontext": self.shkeptncontext,
            "shkeptnspecversion": KEPTN_SPEC_VERSION,
            "data": self.data,
        }
        if self.triggeredid:
            out["triggeredid"] = self.triggeredid
        if self.gitcommitid:
            out["gitcommitid"] = self.gitcommitid
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CloudEvent:
        """Parse a structured CloudEvent; raises ValueError naming the missing attribute.

        `id` and `time` are required here too: the HTTP API fills them in before parsing (it
        replaces the client's, as Keptn's API does).
        """
        for key in ("type", "shkeptncontext", "id", "time"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ValueError(f"CloudEvent attribute {key!r} is missing or not a string")
        data = raw.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("CloudEvent attribute 'data' must be an object")
        kwargs: dict[str, Any] = {
            "type": raw["type"],
            "data": data,
            "shkeptncontext": raw["shkeptncontext"],
            "triggeredid": raw.get("triggeredid") or None,
            "gitcommitid": raw.get("gitcommitid") or None,
            "id": raw["id"],
            "time": raw["time"],
        }
        if isinstance(raw.get("source"), str) and raw["source"]:
            kwargs["source"] = raw["source"]
        return cls(**kwargs)

    def replace(self, **changes: Any) -> CloudEvent:
        return dataclasses.replace(self, **changes)


_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "reconciler:event")


def derived_id(*parts: str) -> str:
    """A deterministic event id for an event the engine creates (run, task index, kind).

    The pure core has no randomness: the same step replayed after a crash must create the
    same event, so that executors and the event log can deduplicate by id.
    """
    return str(uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join(parts)))


def iso_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds for a UNIX time (the engine takes time as an input)."""
    stamp = _dt.datetime.fromtimestamp(epoch, _dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def context_uuid(seed: str) -> str:
    """Deterministic context for a seed (a trigger commit, an alert fingerprint).

    Keptn turns non-UUID contexts into deterministic UUIDs too; deriving ours from the
    triggering fact makes re-processing the same push after a crash land on the same
    context, which is what makes recording a trigger idempotent.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "reconciler:" + seed))
