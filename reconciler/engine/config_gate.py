"""The invalid-config gate: a service whose config has errors starts nothing.

Findings name their place as `<branch>:<path>`. An error blocks the triggers of
(stage, service) when it is on that stage's branch and either in the service's folder or
stage-wide (a file at the top of the branch). Errors on other branches, in other services'
folders, or without a place do not block it (project-level errors keep the last valid
shipyard in force instead; see `controller.config_state`).

Pure: findings and triggers in; out, each trigger with the errors that refuse it (for
`config/status.json` and the commit message), empty when it may start.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.engine.triggers import Trigger
from reconciler.spec.findings import Finding


@dataclass(frozen=True, slots=True)
class Place:
    """Where a finding is: the branch, the path on it, and the service folder (None at the top)."""

    branch: str
    path: str
    service: str | None


def place_of(finding: Finding) -> Place | None:
    """The place a `branch:path` finding names; None for findings without a branch."""
    if ":" not in finding.file:
        return None
    branch, path = finding.file.split(":", 1)
    parts = path.split("/")
    return Place(branch, path, parts[0] if len(parts) > 1 else None)


def blocking_errors(findings: Iterable[Finding], stage: str, service: str | None) -> list[Finding]:
    """The errors that block a trigger of (stage, service): its files and its stage's files."""
    out = []
    for finding in findings:
        if not finding.is_error:
            continue
        where = place_of(finding)
        if where is None or where.branch != stage:
            continue
        if where.service is None or where.service == service:
            out.append(finding)
    return out


@dataclass(frozen=True, slots=True)
class Gated:
    """One trigger and the errors that refuse it (none: it may start)."""

    trigger: Trigger
    errors: tuple[Finding, ...]

    @property
    def starts(self) -> bool:
        return not self.errors


def gate(triggers: Sequence[Trigger], findings: Sequence[Finding]) -> list[Gated]:
    """Every trigger, in order, with the errors of its (stage, service) that refuse it."""
    return [Gated(t, tuple(blocking_errors(findings, t.stage, t.service))) for t in triggers]
