"""Validate one config document: YAML → kind → compatibility schema → lint → model.

`check_document` depends only on the bytes (and the kind), so its result can be cached
by blob id and reused under any file name; `validate_document` adds the name. Nothing
here raises on bad input: every problem, including a bug in a check, becomes a finding.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from reconciler.spec import lint as _lint
from reconciler.spec.findings import DataPath, Finding, Issue, error, place, warning
from reconciler.spec.jobconfig import JobConfig
from reconciler.spec.kinds import Kind, detect_kind
from reconciler.spec.lint import remediation as remediation_lint
from reconciler.spec.lint import shipyard as shipyard_lint
from reconciler.spec.localspec import LocalSpec
from reconciler.spec.remediation import Remediation
from reconciler.spec.schemas import LENIENT_KINDS, dotted, schema_issues, unknown_key_issue, unknown_keys, verdict_key
from reconciler.spec.settings import Settings
from reconciler.spec.shipyard import Shipyard
from reconciler.spec.sli import SliFile
from reconciler.spec.slo import ServiceLevelObjectives
from reconciler.spec.yamltext import Positions, YamlError, load_document

_KIND_WORDS = {
    "shipyard": "shipyard", "slo": "SLO", "sli": "SLI", "remediation": "remediation",
    "jobconfig": "job-executor config", "settings": "reconciler settings", "local": "local.yaml",
}


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """What validating one document found; issues already carry line and column."""

    kind: Kind | None
    issues: tuple[Issue, ...]
    model: Any = None           # the pydantic model, when the document has no errors

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    def findings(self, name: str) -> list[Finding]:
        return place(self.issues, name, None)


def check_document(text: str | bytes, kind: Kind | None = None, path: str | None = None) -> DocumentResult:
    """Validate one document. `kind` None means detect it (apiVersion/kind, then the name
    `path`, then the shape); an undetectable kind is a warning, not an error."""
    try:
        return _check(text, kind, path)
    except Exception as exc:  # a bug in a check must not hide the file's other problems silently
        return DocumentResult(kind, (error("internal-error", f"the validator failed on this file "
                                           f"({type(exc).__name__}: {exc}); please report it", ()),))


def validate_document(text: str | bytes, *, name: str, kind: Kind | None = None,
                      path: str | None = None) -> list[Finding]:
    """Findings for one document, reported under `name` (`branch:path` or a file path)."""
    return check_document(text, kind, path if path is not None else name).findings(name)


def _check(text: str | bytes, kind: Kind | None, path: str | None) -> DocumentResult:
    try:
        doc = load_document(text)
    except YamlError as exc:
        return DocumentResult(kind, (Issue("error", "yaml-syntax", f"not valid YAML: {exc.message}", (),
                                           False, exc.line, exc.column),))
    issues: list[Issue] = []
    for key, line, column in doc.duplicate_keys:
        issues.append(Issue("warning", "duplicate-key", f"key {key!r} appears twice in this mapping; the later "
                            "value silently wins. Remove one", (), False, line, column))
    if doc.more_documents:
        issues.append(warning("multiple-documents", "this file holds more than one YAML document (`---`); Keptn "
                              "reads only the first, so the others are ignored"))
    data = doc.data
    kind = kind or detect_kind(path, data)
    if kind == "jobconfig":     # the job-executor-service parses strictly: a duplicate is fatal there
        issues = [replace(i, severity="error", message=i.message.replace(
            "the later value silently wins", "the job-executor-service rejects the file"))
            if i.code == "duplicate-key" else i for i in issues]
    if kind is None:
        issues.append(warning("unknown-kind", "cannot tell what kind of config file this is; name it shipyard.yaml, "
                              "slo.yaml, sli.yaml, remediation.yaml, job/config.yaml, reconciler.yaml or local.yaml, "
                              "or give it an apiVersion/kind"))
        return _done(kind, issues, None, text)
    if data is None or data == "":
        word = _KIND_WORDS[kind]
        article = "an" if word[0] in "aeiouAEIOSR" else "a"
        issues.append(error("empty-file", f"the file is empty; {article} {word} file must have content"))
        return _done(kind, issues, None, text)
    if kind == "shipyard" and shipyard_lint.is_legacy(data):
        issues.append(shipyard_lint.legacy_issue(data))
        return _done(kind, issues, None, text)
    if kind == "remediation" and remediation_lint.is_legacy(data):
        issues.append(remediation_lint.legacy_issue(data))
        return _done(kind, issues, None, text)
    shape = verdict_key(kind, data)
    issues += schema_issues(kind, data, shape)
    if kind in LENIENT_KINDS:
        special = getattr(_lint, kind).__dict__.get("unknown_key") if hasattr(_lint, kind) else None
        for parent, key, known in unknown_keys(kind, data, shape):
            issue = special(parent, key, known) if special else None
            issues.append(issue or unknown_key_issue(kind, parent, key, known))
    lint_issues = _lint.LINTERS[kind](data)
    explained = {i.path for i in lint_issues if i.severity == "error"}
    if explained:   # a lint error says why a value has the wrong type; the bare schema error would repeat it
        issues = [i for i in issues if not (i.code == "wrong-type" and i.path in explained)]
    issues += lint_issues
    model = None
    if not any(i.severity == "error" for i in issues):
        model, model_issues = build_model(kind, data)
        issues += model_issues
    return _done(kind, issues, model, text)


def _done(kind: Kind | None, issues: list[Issue], model: Any, text: str | bytes) -> DocumentResult:
    """Resolve positions (only for documents with something to say) and order them."""
    if any(i.line is None for i in issues):
        positions = Positions(text)
        placed = []
        for i in issues:
            if i.line is None:
                line, column = positions.of(i.path, key=i.key)
                i = replace(i, line=line or 1, column=column or 1)   # an empty document: its start
            placed.append(i)
        issues = placed
    issues.sort(key=lambda i: (i.line or 0, i.column or 0, i.severity != "error", i.code))
    return DocumentResult(kind, tuple(issues), model)


# --- models --------------------------------------------------------------------------

_MODEL_PREFIX: dict[str, DataPath] = {"shipyard": ("spec",), "remediation": ("spec",)}


def build_model(kind: Kind, data: dict[str, Any]) -> tuple[Any, list[Issue]]:
    """The pydantic model for schema-valid data; model errors become findings."""
    try:
        if kind == "shipyard":
            return Shipyard.from_data(data), []
        if kind == "slo":
            return ServiceLevelObjectives.from_data(data), []
        if kind == "sli":
            return SliFile.from_data(data), []
        if kind == "remediation":
            return Remediation.from_data(data), []
        if kind == "settings":
            return Settings.from_data(data), []
        if kind == "jobconfig":
            return JobConfig.from_data(data), []
        if kind == "local":
            return LocalSpec.from_data(data), []
    except ValidationError as exc:
        prefix = _MODEL_PREFIX.get(kind, ())
        issues: list[Issue] = []
        for err in exc.errors():
            loc = prefix + tuple(err.get("loc", ()))
            issues.append(error("invalid-value", f"`{dotted(loc)}`: {err.get('msg', 'invalid value')}", loc))
        return None, issues
    return None, []
