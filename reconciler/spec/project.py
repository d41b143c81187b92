"""Validate a whole config repository: every document, plus the checks that need several
files at once (a stage without a branch, an SLO objective without a query, …).

The controller re-validates on every push, usually for one changed service, so the
validator is incremental: documents are cached by content (blob id when the caller has
one, a hash otherwise), and per-service results are reused until that service's files
or the project/stage files they depend on change. `ProjectValidator.update()` takes the
changed paths of one branch; `report()` then re-checks only what those paths affect.

Input is plain data: branch → {path → source}, where a source is `bytes`/`str` or any
object with `.data` (bytes, read only on a cache miss) and optionally `.id` — a pygit2
Blob fits as it is.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler import layout
from reconciler.contract import (
    APPROVAL_PREFIX,
    DEFAULT_BRANCHES,
    DEFAULT_PROJECT,
    RESULTS_BRANCH,
    SETTINGS_FILE,
    SHIPYARD_FILE,
)
from reconciler.layout import LOCAL_FILE, split_service
from reconciler.spec.findings import DataPath, Finding, Issue, error, place, sort_key, warning
from reconciler.spec.kinds import Kind, kind_of_repo_path
from reconciler.spec.lint.access import ENTITY_NAME, ENTITY_RULE
from reconciler.spec.localspec import LocalSpec
from reconciler.spec.remediation import Remediation
from reconciler.spec.settings import Settings
from reconciler.spec.shipyard import Shipyard
from reconciler.spec.sli import unknown_placeholders
from reconciler.spec.slo import ServiceLevelObjectives
from reconciler.spec.validate import DocumentResult, check_document

Source = Any
NameFn = Callable[[str, str], str]
Fingerprint = tuple[Hashable, ...]   # what a cached result was computed from, compared with ==
Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]    # map(fn, items), in order

_PROJECT_FILES: dict[str, Kind] = layout.root_files("project")
_STAGE_FILES: dict[str, Kind] = layout.root_files("stage")
_NOT_READ_AT_ROOT = layout.service_only_files()


def repo_name(branch: str, path: str) -> str:
    """`branch:path`, how findings inside a repository are named."""
    return f"{branch}:{path}"


def content_key(source: Source) -> Any:
    """A cache key for a source: its blob id when it has one, else a hash of its bytes."""
    blob_id = getattr(source, "id", None)
    if blob_id is not None:
        return str(blob_id)
    return hashlib.blake2b(content(source), digest_size=16).digest()


def content(source: Source) -> bytes:
    data = source if isinstance(source, (bytes, bytearray, str)) else source.data
    return data.encode() if isinstance(data, str) else bytes(data)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The validated config of one service in one stage (None where the file is missing
    or has errors). `indicators` is the merged SLI map: project, then stage, then service."""

    stage: str
    service: str
    slo: ServiceLevelObjectives | None
    indicators: Mapping[str, str]
    remediation: Remediation | None
    jobconfig: Any
    local: LocalSpec | None = None          # <service>/local.yaml, for the local target


@dataclass(frozen=True)
class ProjectReport:
    findings: list[Finding]
    default_branch: str | None
    shipyard: Shipyard | None
    settings: Settings | None
    services: dict[tuple[str, str], ServiceConfig]
    project: str = DEFAULT_PROJECT            # reconciler.yaml metadata.name, else the repository's name
    ignored_branches: tuple[str, ...] = ()    # neither the default branch, a stage, nor ours

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


# --- the mutable index of the tree -------------------------------------------------------

@dataclass
class _Service:
    files: dict[str, Source] = field(default_factory=dict)      # config files (they have a kind)
    other: set[str] = field(default_factory=set)                # deployable files: only their presence counts
    version: int = 0
    memo: tuple[Fingerprint, list[Finding], ServiceConfig] | None = None   # (inputs, findings, config)


@dataclass
class _Branch:
    root: dict[str, Source] = field(default_factory=dict)
    services: dict[str, _Service] = field(default_factory=dict)
    version: int = 0            # ticks of the validator's clock: never reused, unlike id()
    root_version: int = 0

    def put(self, path: str, source: Source | None, tick: int) -> None:
        self.version = tick
        service, rel = split_service(path)
        if service is None:
            self.root_version = tick
            if source is None:
                self.root.pop(path, None)
            else:
                self.root[path] = source
            return
        svc = self.services.get(service)
        if svc is None:
            if source is None:
                return
            svc = self.services[service] = _Service()
        if kind_of_repo_path(rel) is None:
            if source is None:
                svc.other.discard(rel)
            else:
                svc.other.add(rel)
        else:
            svc.version = tick
            if source is None:
                svc.files.pop(rel, None)
            else:
                svc.files[rel] = source
        if not svc.files and not svc.other:
            del self.services[service]


@dataclass(frozen=True)
class _Project:
    fingerprint: Fingerprint
    findings: list[Finding]
    shipyard: Shipyard | None
    settings: Settings | None
    indicators: dict[str, tuple[str, str]]   # sli → (query, "branch:path" that defines it)
    jobconfig: Any
    settings_unusable: bool = False          # reconciler.yaml exists but has errors: targets unknown


@dataclass(frozen=True)
class _Stage:
    fingerprint: Fingerprint
    findings: list[Finding]
    indicators: dict[str, tuple[str, str]]
    has_evaluation: bool
    has_remediation: bool
    known: bool          # the stage comes from a valid shipyard (cross-checks apply)
    has_deployment: bool = False
    target: str | None = None        # the stage's deployment target; None when reconciler.yaml is broken
    target_said: bool = False        # reconciler.yaml names the target (rather than the default)


class ProjectValidator:
    """Incremental validation of one config repository (see the module docstring).

    Not thread-safe: one owner feeds it (`set_tree`/`update`/`remove_branch`) and asks for
    the `report()`; in the reconciler that is the controller thread.
    """

    def __init__(self, name: NameFn = repo_name, *, reserved_prefixes: Iterable[str] = (),
                 project_name: str | None = None):
        self._name = name
        self._project_name = project_name or DEFAULT_PROJECT
        self._branches: dict[str, _Branch] = {}
        self._docs: dict[tuple[Any, str], DocumentResult] = {}
        self._project: _Project | None = None
        self._project_key: tuple[str, int] | None = None
        self._stages: dict[str, tuple[Fingerprint, _Stage]] = {}
        self._reserved = tuple(reserved_prefixes) + (RESULTS_BRANCH, APPROVAL_PREFIX)
        self._clock = 0

    # -- input ------------------------------------------------------------------------

    def set_tree(self, tree: Mapping[str, Mapping[str, Source]]) -> ProjectValidator:
        """Replace every branch (caches stay: unchanged blobs are not parsed again)."""
        self._branches = {}
        for branch, files in tree.items():
            self.update(branch, files)
        return self

    def update(self, branch: str, changes: Mapping[str, Source | None]) -> ProjectValidator:
        """Apply changed files of one branch; a None source deletes the path."""
        b = self._branches.setdefault(branch, _Branch())
        for path, source in changes.items():
            self._clock += 1
            b.put(path, source, self._clock)
        return self

    def remove_branch(self, branch: str) -> ProjectValidator:
        self._branches.pop(branch, None)
        return self

    def warm(self, mapper: Mapper | None = None) -> int:
        """Check the service documents not cached yet in one go, so the next `report()`
        finds them cached; returns how many were checked. `mapper(fn, items)` is how:
        `reconciler.forked.map_forked` spreads them over the cores for a cold start on a big
        repository (the core stays free of processes); the default is a plain loop."""
        todo: dict[tuple[Any, Kind], tuple[bytes, str]] = {}
        for name, b in self._branches.items():
            if name.startswith(self._reserved):
                continue
            for svc in b.services.values():
                for rel, src in svc.files.items():
                    kind = kind_of_repo_path(rel)
                    if kind is None:
                        continue
                    key = (content_key(src), kind)
                    if key in self._docs or key in todo:
                        continue
                    try:
                        todo[key] = (content(src), rel)
                    except Exception:  # noqa: BLE001 - unreadable: report() says so
                        continue
        keys = list(todo)
        jobs = [(todo[key][0], key[1], todo[key][1]) for key in keys]
        results = (mapper or _serial)(_check_job, jobs)
        for key, result in zip(keys, results, strict=True):
            self._docs[key] = result
        return len(jobs)

    # -- output -----------------------------------------------------------------------

    def report(self) -> ProjectReport:
        default = next((b for b in DEFAULT_BRANCHES if b in self._branches), None)
        findings: list[Finding] = []
        services: dict[tuple[str, str], ServiceConfig] = {}
        if default is None:
            findings.append(Finding(self._name(DEFAULT_BRANCHES[0], SHIPYARD_FILE), None, None, "error",
                                    "no-default-branch",
                                    "the repository has neither a `main` nor a `master` branch; the default "
                                    "branch holds shipyard.yaml"))
            return ProjectReport(findings, None, None, None, services, self._project_name)
        project = self._project_state(default)
        findings += project.findings
        stage_names = self._stage_names(default, project)
        for stage in stage_names:
            if stage not in self._branches:
                if project.shipyard is not None:
                    findings.append(self._stage_without_branch(default, project.shipyard, stage))
                continue
            branch = self._branches[stage]
            state = self._stage_state(stage, branch, project)
            findings += state.findings
            for service in sorted(branch.services):
                svc = branch.services[service]
                inputs = (project.fingerprint, state.fingerprint, svc.version)
                if svc.memo is None or svc.memo[0] != inputs:
                    found, config = self._check_service(stage, service, svc, project, state)
                    svc.memo = (inputs, found, config)
                findings += svc.memo[1]
                services[(stage, service)] = svc.memo[2]
        self._prune()
        settings = project.settings.with_default_project(self._project_name) if project.settings else None
        ignored = tuple(sorted(b for b in self._branches if b != default and b not in stage_names
                               and not b.startswith(self._reserved))) if project.shipyard is not None else ()
        return ProjectReport(findings, default, project.shipyard, settings, services,
                             settings.project if settings else self._project_name, ignored)

    # -- documents ----------------------------------------------------------------------

    def _doc(self, source: Source, kind: Kind, path: str) -> DocumentResult:
        key = (content_key(source), kind)
        result = self._docs.get(key)
        if result is None:
            try:
                text = content(source)
            except Exception as exc:  # a lazy source that cannot be read
                return DocumentResult(kind, (error("unreadable-file", f"could not read the file: {exc}"),))
            result = self._docs[key] = check_document(text, kind, path)
        return result

    def _prune(self) -> None:
        """Forget documents no branch holds any more, once the cache has grown."""
        live = sum(len(b.root) + sum(len(s.files) for s in b.services.values()) for b in self._branches.values())
        if len(self._docs) <= 2 * live + 1024:
            return
        keep = set()
        for b in self._branches.values():
            for src in b.root.values():
                keep.add(content_key(src))
            for svc in b.services.values():
                for src in svc.files.values():
                    keep.add(content_key(src))
        self._docs = {k: v for k, v in self._docs.items() if k[0] in keep}

    # -- the default branch ---------------------------------------------------------------

    def _root_documents(self, name: str, branch: _Branch, files: Mapping[str, Kind]
                        ) -> tuple[list[Finding], dict[str, Any], list[Hashable]]:
        """Findings, models and a fingerprint of the known files at a branch's root."""
        findings: list[Finding] = []
        models: dict[str, Any] = {}
        fp: list[Hashable] = [name]
        for path, kind in files.items():
            src = branch.root.get(path)
            if src is None:
                continue
            doc = self._doc(src, kind, path)
            fp.append((path, content_key(src)))
            findings += doc.findings(self._name(name, path))
            models[path] = doc.model
        return findings, models, fp

    def _project_state(self, default: str) -> _Project:
        branch = self._branches[default]
        key = (default, branch.version)
        if self._project is not None and self._project_key == key:
            return self._project
        findings, models, fp = self._root_documents(default, branch, _PROJECT_FILES)
        if SHIPYARD_FILE not in branch.root:
            findings.append(Finding(self._name(default, SHIPYARD_FILE), None, None, "error", "missing-shipyard",
                                    f"the default branch `{default}` has no shipyard.yaml; add one (stages, "
                                    "sequences, tasks) — it is the only shipyard that counts"))
        for path in _NOT_READ_AT_ROOT:
            if path in branch.root:
                findings.append(self._ignored(default, path, f"{path} on the default branch is not read; put it "
                                              "in `<service>/` on each stage branch"))
        for service in sorted(branch.services):
            for rel in sorted(branch.services[service].files):
                findings.append(self._ignored(default, f"{service}/{rel}", "service files on the default branch "
                                              f"are not read; put {service}/{rel} on the stage branches"))
        shipyard = models.get(SHIPYARD_FILE)
        settings = models.get(SETTINGS_FILE)
        if shipyard is not None and settings is not None:
            findings += self._settings_stages(default, branch, shipyard, settings)
        indicators = self._indicators({}, default, models, "", sli_provider(settings))
        state = _Project(tuple(fp), findings, shipyard, settings, indicators, models.get(layout.JOB_CONFIG_FILE),
                         SETTINGS_FILE in branch.root and settings is None)
        self._project, self._project_key = state, key
        return state

    def _settings_stages(self, default: str, branch: _Branch, shipyard: Shipyard, settings: Settings) -> list[Finding]:
        unknown = [s for s in settings.spec.stages if s not in shipyard.stage_names]
        if not unknown:
            return []
        issues = [warning("unknown-stage", f"reconciler.yaml configures stage {s!r}, which the shipyard does not "
                          f"have (stages: {', '.join(shipyard.stage_names)}); the entry has no effect",
                          ("spec", "stages", s), key=True) for s in unknown]
        return place(issues, self._name(default, SETTINGS_FILE), content(branch.root[SETTINGS_FILE]))

    def _ignored(self, branch: str, path: str, message: str) -> Finding:
        return Finding(self._name(branch, path), None, None, "warning", "ignored-file", message)

    def _stage_names(self, default: str, project: _Project) -> list[str]:
        if project.shipyard is not None:
            return project.shipyard.stage_names
        # Without a usable shipyard every other branch may be a stage: still check its files.
        return sorted(b for b in self._branches if b != default and not b.startswith(self._reserved))

    def _stage_without_branch(self, default: str, shipyard: Shipyard, stage: str) -> Finding:
        index = shipyard.stage_names.index(stage)
        issue = warning("stage-without-branch", f"stage {stage!r} has no branch `{stage}`, so nothing can be "
                        f"delivered there; create it (e.g. `git branch {stage} {default}`, then add the service "
                        "folders)", ("spec", "stages", index, "name"))
        src = self._branches[default].root[SHIPYARD_FILE]
        return place([issue], self._name(default, SHIPYARD_FILE), content(src))[0]

    # -- stage branches -------------------------------------------------------------------

    def _stage_state(self, stage: str, branch: _Branch, project: _Project) -> _Stage:
        key = (project.fingerprint, branch.root_version)
        cached = self._stages.get(stage)
        if cached is not None and cached[0] == key:
            return cached[1]
        findings, models, fp = self._root_documents(stage, branch, _STAGE_FILES)
        for path in _NOT_READ_AT_ROOT:
            if path in branch.root:
                findings.append(self._ignored(stage, path, f"{path} at the root of stage branch `{stage}` is not "
                                              f"read; move it to `<service>/{path}`"))
        indicators = self._indicators(dict(project.indicators), stage, models, "", sli_provider(project.settings))
        defined = project.shipyard.stage(stage) if project.shipyard else None
        seqs = defined.sequences if defined else []
        tasks = {t.name for seq in seqs for t in seq.tasks}
        settings = project.settings or (None if project.settings_unusable else Settings())
        state = _Stage((project.fingerprint, tuple(fp)), findings, indicators, layout.TASK_EVALUATION in tasks,
                       layout.TASK_GET_ACTION in tasks, project.shipyard is not None, layout.TASK_DEPLOYMENT in tasks,
                       settings.stage(stage).target if settings is not None else None,
                       settings is not None and stage in settings.spec.stages)
        self._stages[stage] = (key, state)
        return state

    def _indicators(self, base: dict[str, tuple[str, str]], branch: str, models: Mapping[str, Any], prefix: str,
                    provider: str) -> dict[str, tuple[str, str]]:
        for path in layout.sli_files(provider):
            model = models.get(path)
            if model is not None:
                where = self._name(branch, prefix + path)
                for name, query in model.indicators.items():
                    base[name] = (query, where)
        return base

    # -- services -------------------------------------------------------------------------

    def _check_service(self, stage: str, service: str, svc: _Service, project: _Project,
                       state: _Stage) -> tuple[list[Finding], ServiceConfig]:
        findings: list[Finding] = []
        models: dict[str, Any] = {}
        for rel in sorted(svc.files):
            kind = kind_of_repo_path(rel)
            if kind is None:    # not a config file (files holds only those)
                continue
            doc = self._doc(svc.files[rel], kind, rel)
            findings += doc.findings(self._name(stage, f"{service}/{rel}"))
            models[rel] = doc.model
        indicators = self._indicators(dict(state.indicators), stage, models, f"{service}/",
                                      sli_provider(project.settings))
        slo: ServiceLevelObjectives | None = models.get(layout.SLO_FILE)
        folder = self._name(stage, f"{service}/")
        if not ENTITY_NAME.match(service):
            findings.append(Finding(folder, None, None, "warning", "invalid-service-name",
                                    f"service folder {service!r} is not a valid Keptn entity name ({ENTITY_RULE}); "
                                    "it is used in namespaces, job labels and event data"))
        if state.known:
            findings += self._service_cross_checks(stage, service, svc, project, state, slo, indicators, folder)
        config = ServiceConfig(stage, service, slo, {k: v[0] for k, v in indicators.items()},
                               models.get(layout.REMEDIATION_FILE), models.get(layout.JOB_CONFIG_FILE),
                               models.get(LOCAL_FILE))
        findings.sort(key=lambda f: (f.file, *sort_key(f)))
        return findings, config

    def _service_cross_checks(self, stage: str, service: str, svc: _Service, project: _Project, state: _Stage,
                              slo: ServiceLevelObjectives | None, indicators: Mapping[str, tuple[str, str]],
                              folder: str) -> list[Finding]:
        out: list[Finding] = []
        generic, own = layout.sli_files(sli_provider(project.settings))
        if generic in svc.files and own in svc.files:
            out.append(Finding(self._name(stage, f"{service}/{generic}"), None, None, "warning", "sli-ambiguous",
                               f"{service} has both {generic} and {own}; {own} wins key by key. Keep one of them"))
        if layout.SLO_FILE not in svc.files and state.has_evaluation:
            out.append(Finding(folder, None, None, "warning", "missing-slo",
                               f"{service} has no slo.yaml on branch `{stage}`, so its evaluations there pass "
                               f"without checking anything (Keptn's rule); add {service}/slo.yaml"))
        if layout.REMEDIATION_FILE in svc.files and not state.has_remediation:
            out.append(Finding(self._name(stage, f"{service}/remediation.yaml"), None, None, "warning",
                               "remediation-unused", f"stage {stage!r} has no sequence with a get-action task, so "
                               "this remediation.yaml is never used; add a remediation sequence to the shipyard"))
        elif layout.REMEDIATION_FILE not in svc.files and state.has_remediation and layout.SLO_FILE in svc.files:
            out.append(Finding(folder, None, None, "warning", "missing-remediation",
                               f"stage {stage!r} runs remediation, but {service} has no remediation.yaml, so a "
                               f"problem for it ends at get-action with an error; add {service}/remediation.yaml"))
        if (state.target == "local" and state.has_deployment and LOCAL_FILE not in svc.files
                and any(layout.is_deployable(rel) for rel in svc.other)):
            why = (f"`spec.stages.{stage}.target: local` in reconciler.yaml" if state.target_said
                   else "local is the default target")
            out.append(Finding(folder, None, None, "warning", "missing-local-yaml",
                               f"stage {stage!r} deploys to the local target ({why}), but {service} has no "
                               f"local.yaml, so its deployment there fails; add {service}/local.yaml (`command: "
                               f"[...]`, see docs/targets.md) or set another target for {stage!r} in reconciler.yaml"))
        sli = (project.settings or Settings()).sli_for(stage, service)
        if slo is not None and sli.provider != "none":
            if sli.files_of != sli_provider(project.settings):      # an override: that provider's files
                indicators = self._indicators(dict(state.indicators), stage, self._service_models(svc),
                                              f"{service}/", sli.files_of)
            out += self._slo_queries(stage, service, svc, slo, indicators, sli.files_of,
                                     prometheus=sli.provider == "prometheus")
        return out

    def _other_provider_file(self, svc: _Service, sli: str, provider: str) -> tuple[str, str] | None:
        """(file, provider) of a service SLI file written for another provider that defines `sli`
        (`dynatrace/sli.yaml` while Prometheus is configured), or None."""
        for rel in sorted(svc.files):
            other = layout.sli_provider_of(rel)
            if other is None or other == provider:
                continue
            model = self._doc(svc.files[rel], "sli", rel).model
            if model is not None and sli in model.indicators:
                return rel, other
        return None

    def _service_models(self, svc: _Service) -> dict[str, Any]:
        return {rel: self._doc(svc.files[rel], "sli", rel).model for rel in svc.files
                if rel.endswith(layout.SLI_FILE)}

    def _slo_queries(self, stage: str, service: str, svc: _Service, slo: ServiceLevelObjectives,
                     indicators: Mapping[str, tuple[str, str]], provider: str,
                     prometheus: bool = True) -> list[Finding]:
        slo_issues: list[Issue] = []
        sli_issues: dict[str, list[Issue]] = {}
        filter_keys = list(slo.filter)
        own_prefix = self._name(stage, f"{service}/")
        for i, objective in enumerate(slo.objectives):
            entry = indicators.get(objective.sli)
            path = ("objectives", i, "sli")
            if entry is None:
                elsewhere = self._other_provider_file(svc, objective.sli, provider)
                if elsewhere is not None:
                    rel, other = elsewhere
                    message = (f"SLI {objective.sli!r} has no query for the {provider} provider, so this "
                               f"objective always fails; {service}/{rel} defines it for {other}, a provider "
                               f"reconciler.yaml does not select (spec.sli.provider: {provider}). To let the "
                               f"{other} integration answer, set `spec.sli.provider: get-sli` and `get-sli: "
                               f"{{sliProvider: {other}}}` (or an `overrides` entry for stage {stage!r} / "
                               f"service {service!r})")
                else:
                    message = (f"SLI {objective.sli!r} has no query in any sli.yaml (project, stage `{stage}` "
                               f"or {service}), so this objective always fails; add it under `indicators:` in "
                               f"{service}/{layout.sli_files(provider)[1]}")
                slo_issues.append(warning("sli-undefined", message, path))
                continue
            query, where = entry
            if not prometheus:      # other providers have their own placeholders
                continue
            unknown = unknown_placeholders(query, filter_keys)
            if not unknown:
                continue
            tokens = ", ".join(f"${t}" for t in unknown)
            message = (f"the query for {objective.sli!r} uses {tokens}, which nothing fills in (known: $PROJECT, "
                       "$STAGE, $SERVICE, $DEPLOYMENT, $DURATION_SECONDS, $LABEL.<key> and the SLO filter keys); "
                       "it reaches Prometheus as written")
            if where.startswith(own_prefix):
                rel = where[len(own_prefix):]
                sli_issues.setdefault(rel, []).append(warning("unknown-placeholder", message,
                                                              ("indicators", objective.sli), key=True))
            else:
                slo_issues.append(warning("unknown-placeholder", f"{message} (defined in {where})", path))
        out: list[Finding] = []
        if slo_issues:
            out += place(slo_issues, self._name(stage, f"{service}/slo.yaml"), content(svc.files[layout.SLO_FILE]))
        for rel, issues in sli_issues.items():
            unique: list[Issue] = []
            seen: set[DataPath] = set()
            for issue in issues:            # the first issue per path
                if issue.path not in seen:
                    seen.add(issue.path)
                    unique.append(issue)
            out += place(unique, self._name(stage, f"{service}/{rel}"), content(svc.files[rel]))
        return out


def _serial(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


def _check_job(job: tuple[bytes, Kind, str]) -> DocumentResult:
    return check_document(*job)


def sli_provider(settings: Settings | None) -> str:
    """The SLI provider whose `<provider>/sli.yaml` files are merged."""
    return (settings or Settings()).sli_files_of


def validate_project(tree: Mapping[str, Mapping[str, Source]], name: NameFn = repo_name) -> ProjectReport:
    """One-shot validation of branch → {path → source} (see ProjectValidator)."""
    return ProjectValidator(name).set_tree(tree).report()
