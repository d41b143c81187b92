"""The config in force: validated on every push, invalid config never replaces valid config.

The controller feeds changed files of the default branch and the stage branches into the
incremental `ProjectValidator` (only changed services are re-checked). What is in force:

* shipyard and settings: the last valid ones. A broken `shipyard.yaml` is reported and the
  previous one keeps running the project.
* per (stage, service): the last commit at which that service's files (and its stage-level
  files) had no errors. Executors read quality-gate files at that commit while the current
  ones are broken (`config_ref`), and a push whose service config has errors starts nothing.

`status_document()` is what goes to `config/status.json` on the results branch (and from
there to `reconciler status`); `restore()` reads it back so a restarted controller still
knows the last valid commits.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pygit2

from reconciler import contract
from reconciler.engine.config_gate import blocking_errors, place_of
from reconciler.forked import map_forked
from reconciler.gitstore import Mirror, objects
from reconciler.spec.findings import Finding
from reconciler.spec.project import ProjectReport, ProjectValidator
from reconciler.spec.settings import Settings
from reconciler.spec.shipyard import Shipyard
from reconciler.spec.validate import check_document

STATUS_KIND = "ConfigStatus"


class _Blob:
    """A validator source: the blob id for caching, the bytes only on a cache miss."""

    __slots__ = ("id", "_repo")

    def __init__(self, repo: pygit2.Repository, oid: str):
        self.id = oid
        self._repo = repo

    @property
    def data(self) -> bytes:
        return objects.blob_data(self._repo, self.id)


@dataclass(frozen=True)
class ConfigUpdate:
    """What a config reload changed, for the controller to act on."""

    shipyard_changed: bool
    settings_changed: bool
    findings_changed: bool


def _where(finding: Finding) -> tuple[str, str, str | None] | None:
    """(branch, path, service) of a `branch:path` finding name."""
    place = place_of(finding)
    return None if place is None else (place.branch, place.path, place.service)


class ConfigState:
    def __init__(self, mirror: Mirror):
        self.mirror = mirror
        # the project's name: reconciler.yaml's metadata.name, else the config repo's name
        self.repo_project = contract.project_name_from_repo(getattr(mirror, "url", None))
        self.validator = ProjectValidator(project_name=self.repo_project)
        self._whole_branch_fed = False
        self.tracked: dict[str, str] = {}           # branch -> commit fed to the validator
        self.report: ProjectReport | None = None
        self.shipyard: Shipyard | None = None        # last valid
        self.settings: Settings = Settings().with_default_project(self.repo_project)  # last valid
        self.project_commit: str | None = None       # default-branch commit of the valid shipyard
        self.default_branch: str | None = None
        self.last_valid: dict[tuple[str, str], str] = {}
        self.findings: list[Finding] = []
        self.rejected: list[dict[str, Any]] = []     # triggers refused because of invalid config
        self.ignored_branches: list[str] = []        # neither default branch, stage, nor ours

    # -- loading --------------------------------------------------------------------------

    def wanted_branches(self, tips: dict[str, str]) -> list[str]:
        default = next((b for b in contract.DEFAULT_BRANCHES if b in tips), None)
        names = [default] if default else []
        stages = self.shipyard.stage_names if self.shipyard else []
        if self.report and self.report.shipyard:
            stages = list(dict.fromkeys(stages + self.report.shipyard.stage_names))
        return names + [s for s in stages if s in tips and s not in names]

    def load(self, tips: dict[str, str]) -> ConfigUpdate:
        """Bring the validator to `tips` (the default branch first: it names the stages)."""
        before = (self.shipyard, self.settings, [f.to_dict() for f in self.findings], self.ignored_branches)
        for _ in range(2):       # a changed shipyard can name new stage branches
            for branch in self.wanted_branches(tips):
                self._feed(branch, tips[branch])
            for branch in list(self.tracked):
                if branch not in tips:
                    self.validator.remove_branch(branch)
                    del self.tracked[branch]
            self._evaluate()
            if all(b in self.tracked for b in self.wanted_branches(tips)):
                break
        self.ignored_branches = self._ignored(tips)
        return ConfigUpdate(self.shipyard is not before[0] and self.shipyard != before[0],
                            self.settings != before[1],
                            [f.to_dict() for f in self.findings] != before[2] or self.ignored_branches != before[3])

    def _ignored(self, tips: dict[str, str]) -> list[str]:
        """Branches that are not the default branch, not a stage and not reconciler's own:
        nothing on them is read (a leftover `quality-gate` branch, a feature branch)."""
        if self.shipyard is None:
            return []
        known = set(self.shipyard.stage_names) | set(contract.DEFAULT_BRANCHES)
        return sorted(b for b in tips if b not in known and b != contract.RESULTS_BRANCH
                      and not b.startswith(contract.APPROVAL_PREFIX))

    def _feed(self, branch: str, tip: str) -> None:
        old = self.tracked.get(branch)
        if old == tip:
            return
        repo = self.mirror.repo
        if old is None:
            self._whole_branch_fed = True
            files = self.mirror.list_tree(tip)
            changes: dict[str, Any] = {p: _Blob(repo, oid) for p, oid in files.items()}
        else:
            changes = {}
            for path in self.mirror.changed_paths(old, tip):
                oid = self.mirror.blob_id(tip, path)
                changes[path] = _Blob(repo, oid) if oid else None
        self.validator.update(branch, changes)
        self.tracked[branch] = tip

    def _evaluate(self) -> None:
        if self._whole_branch_fed:       # a start or a new branch: check its documents in one go
            self.validator.warm(map_forked)      # threads run here: one core, gc kept off the cache
            self._whole_branch_fed = False
        report = self.validator.report()
        self.report = report
        self.findings = report.findings
        self.default_branch = report.default_branch or self.default_branch
        project_errors = [f for f in report.findings if f.is_error and self._is_project(f)]
        if not project_errors and report.shipyard is not None:
            self.shipyard = report.shipyard
            self.settings = (report.settings or Settings()).with_default_project(self.repo_project)
            if report.default_branch:
                self.project_commit = self.tracked.get(report.default_branch)
        for (stage, service), _config in report.services.items():
            if not self.service_errors(stage, service) and stage in self.tracked:
                self.last_valid[(stage, service)] = self.tracked[stage]

    def _is_project(self, finding: Finding) -> bool:
        where = _where(finding)
        return where is None or where[0] == self.default_branch

    # -- queries --------------------------------------------------------------------------

    def errors_for(self, stage: str, service: str | None) -> list[Finding]:
        """Errors that block a trigger of (stage, service): its files and its stage's files."""
        return blocking_errors(self.findings, stage, service)

    def service_errors(self, stage: str, service: str) -> list[Finding]:
        return self.errors_for(stage, service)

    def project_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error and self._is_project(f)]

    def config_ref(self, stage: str, service: str, commit: str | None) -> str | None:
        if self.service_errors(stage, service):
            return self.last_valid.get((stage, service), commit)
        return commit

    def services(self, stage: str) -> Iterable[str]:
        if not self.report:
            return []
        return sorted(s for (st, s) in self.report.services if st == stage)

    # -- persistence ----------------------------------------------------------------------

    def note_rejected(self, stage: str, service: str, commit: str, errors: list[Finding]) -> dict[str, Any]:
        entry = {"stage": stage, "service": service, "commit": commit,
                 "errors": [f.to_dict() for f in errors[:20]]}
        self.rejected = ([entry] + [r for r in self.rejected if r.get("commit") != commit])[:50]
        return entry

    def status_document(self) -> dict[str, Any]:
        invalid = {f"{st}/{sv}": {"lastValid": self.last_valid.get((st, sv))}
                   for (st, sv) in sorted({k for k in self._invalid_services()})}
        return {
            "apiVersion": "reconciler/v1", "kind": STATUS_KIND,
            "valid": not any(f.is_error for f in self.findings),
            "defaultBranch": self.default_branch,
            "project": self.settings.project,
            "projectSource": self.settings.project_source,
            "ignoredBranches": [{"branch": b, "reason": "not a stage of the shipyard"} for b in self.ignored_branches],
            "projectCommit": self.project_commit,
            "findings": [f.to_dict() for f in self.findings],
            "invalidServices": invalid,
            "rejectedTriggers": self.rejected,
        }

    def _invalid_services(self) -> Iterable[tuple[str, str]]:
        for f in self.findings:
            where = _where(f)
            if f.is_error and where and where[2] and where[0] != self.default_branch:
                yield (where[0], where[2])

    def restore(self, doc: Any) -> None:
        """Last valid commits from a previous controller's `config/status.json`."""
        if not isinstance(doc, dict) or doc.get("kind") != STATUS_KIND:
            return
        for key, entry in (doc.get("invalidServices") or {}).items():
            if "/" in key and isinstance(entry, dict) and entry.get("lastValid"):
                stage, service = key.split("/", 1)
                self.last_valid.setdefault((stage, service), entry["lastValid"])
        self.rejected = list(doc.get("rejectedTriggers") or [])[:50]
        commit = doc.get("projectCommit")
        if commit and self.shipyard is None:
            self._load_project_at(str(commit), doc.get("defaultBranch"))

    def _load_project_at(self, commit: str, default_branch: str | None) -> None:
        """The shipyard/settings that were valid at `commit` (when today's are broken)."""
        try:
            raw = self.mirror.read(commit, contract.SHIPYARD_FILE)
        except Exception:  # noqa: BLE001 - a vanished commit just means "no fallback"
            return
        if raw is None:
            return
        result = check_document(raw, "shipyard", contract.SHIPYARD_FILE)
        if result.has_errors or result.model is None:
            return
        self.shipyard = result.model
        settings_raw = self.mirror.read(commit, contract.SETTINGS_FILE)
        if settings_raw is not None:
            settings = check_document(settings_raw, "settings", contract.SETTINGS_FILE)
            if not settings.has_errors and settings.model is not None:
                self.settings = settings.model
        self.project_commit = commit
        self.default_branch = self.default_branch or default_branch
