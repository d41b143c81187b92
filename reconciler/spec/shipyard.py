"""Shipyard (`spec.keptn.sh/0.2.x`) as typed, immutable data.

Built from a document that already passed the compatibility schema, so these models only
normalise what Keptn tolerates (`properties: null`, stages without sequences, unknown keys
ignored). Running sequences hold a reference to the Sequence they started with, which is
how shipyard edits leave running work alone (Keptn f.1).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconciler import layout
from reconciler.spec.settings import parse_duration

IMPLICIT_EVALUATION = layout.TASK_EVALUATION     # the sequence Keptn adds to every stage


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Selector(_Model):
    match: dict[str, str] = Field(default_factory=dict)

    @field_validator("match", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else {str(k): str(val) for k, val in v.items()} if isinstance(v, dict) else v


class TriggeredOn(_Model):
    event: str                          # short form `<stage>.<sequence>.finished`
    selector: Selector | None = None

    @property
    def stage(self) -> str:
        return self.event.split(".")[0]

    @property
    def sequence(self) -> str:
        parts = self.event.split(".")
        return parts[1] if len(parts) > 1 else ""


class Task(_Model):
    name: str
    triggeredAfter: float | None = None   # seconds; an unparsable value is ignored, as in Keptn
    timeout: float | None = None          # our extension: bound on a started task (seconds)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("properties", mode="before")
    @classmethod
    def _null_properties(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("triggeredAfter", "timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if v is None or v == "":
            return None
        try:
            return parse_duration(v)
        except ValueError:
            return None


class Sequence(_Model):
    name: str
    triggeredOn: list[TriggeredOn] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)

    @field_validator("triggeredOn", "tasks", mode="before")
    @classmethod
    def _null_list(cls, v: Any) -> Any:
        return [] if v is None else v


class Stage(_Model):
    name: str
    sequences: list[Sequence] = Field(default_factory=list)

    @field_validator("sequences", mode="before")
    @classmethod
    def _null_list(cls, v: Any) -> Any:
        return [] if v is None else v

    def sequence(self, name: str) -> Sequence | None:
        """The named sequence; every stage also has the implicit one-task `evaluation`."""
        for seq in self.sequences:
            if seq.name == name:
                return seq
        if name == IMPLICIT_EVALUATION:
            return Sequence(name=IMPLICIT_EVALUATION, tasks=[Task(name=layout.TASK_EVALUATION)])
        return None


class Shipyard(_Model):
    apiVersion: str
    kind: str = "Shipyard"
    name: str = ""
    stages: list[Stage]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Shipyard:
        """From a schema-valid document (`{apiVersion, kind, metadata, spec: {stages}}`)."""
        meta = data.get("metadata") or {}
        return cls(
            apiVersion=str(data.get("apiVersion", "")),
            kind=str(data.get("kind") or "Shipyard"),
            name=str(meta.get("name") or "") if isinstance(meta, dict) else "",
            stages=(data.get("spec") or {}).get("stages") or [],
        )

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def sequence(self, stage: str, name: str) -> Sequence | None:
        st = self.stage(stage)
        return st.sequence(name) if st else None

    def listeners(self, finished_event: str) -> list[tuple[Stage, Sequence, TriggeredOn]]:
        """Every (stage, sequence, trigger) whose triggeredOn names `<stage>.<seq>.finished`."""
        out = []
        for st in self.stages:
            for seq in st.sequences:
                for trig in seq.triggeredOn:
                    if trig.event == finished_event:
                        out.append((st, seq, trig))
        return out
