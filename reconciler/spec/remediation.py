"""Remediation file (`remediation.yaml`, spec.keptn.sh/0.1.4) and the problem lookup.

The remediation loop asks "which action is number N for this problem?"; Keptn answers by
matching problemType against the problem's rootCause, then its title, then `default`.
`'*'` was the catch-all before Keptn 0.7 and is accepted as an alias (lint warns).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_VERSION = "spec.keptn.sh/0.1.4"
DEFAULT_PROBLEM = "default"
LEGACY_DEFAULT_PROBLEM = "*"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Action(_Model):
    action: str
    name: str = ""
    description: str = ""
    value: Any = None          # passed to the executor unchanged (string or mapping)
    # scaling only: bounds on the replica count it may set (else spec.remediation.limits);
    # Keptn ignores unknown keys, so a file with them still works there
    minReplicas: int | None = Field(default=None, ge=0)
    maxReplicas: int | None = Field(default=None, ge=1)

    _text = field_validator("name", "description", mode="before")(lambda v: "" if v is None else v)


class ProblemRemediation(_Model):
    problemType: str
    actionsOnOpen: list[Action] = Field(default_factory=list)

    _null = field_validator("actionsOnOpen", mode="before")(lambda v: [] if v is None else v)


class Remediation(_Model):
    apiVersion: str = API_VERSION
    name: str = ""
    remediations: list[ProblemRemediation] = Field(default_factory=list)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Remediation:
        meta = data.get("metadata")
        return cls(
            apiVersion=str(data.get("apiVersion") or ""),
            name=str(meta.get("name") or "") if isinstance(meta, dict) else "",
            remediations=(data.get("spec") or {}).get("remediations") or [],
        )

    def actions_for(self, *, root_cause: str | None = None, problem_title: str | None = None) -> list[Action]:
        """The action list for a problem: rootCause, then problemTitle, then `default`
        (or its old spelling `*`); the first matching entry wins. Empty when none matches."""
        for wanted in (root_cause, problem_title, DEFAULT_PROBLEM, LEGACY_DEFAULT_PROBLEM):
            if not wanted:
                continue
            for entry in self.remediations:
                if entry.problemType == wanted:
                    return list(entry.actionsOnOpen)
        return []

    def action(self, index: int, *, root_cause: str | None = None, problem_title: str | None = None) -> Action | None:
        """Action number `index` (0-based) for the problem; None when they have run out."""
        actions = self.actions_for(root_cause=root_cause, problem_title=problem_title)
        return actions[index] if 0 <= index < len(actions) else None
