"""Remediation lint: files the remediation-service rejects, and actions that fail."""
from __future__ import annotations

import re
from typing import Any

from reconciler.spec.findings import DataPath, Issue, error, warning
from reconciler.spec.lint.access import as_dict, as_list, entries
from reconciler.spec.remediation import API_VERSION, LEGACY_DEFAULT_PROBLEM

_INTEGER = re.compile(r"^[+-]?\d+$")


def is_legacy(data: Any) -> bool:
    """Keptn 0.5/0.6 remediation: no apiVersion, `remediations: [{name, actions}]` at the top."""
    return isinstance(data, dict) and "apiVersion" not in data and isinstance(data.get("remediations"), list)


def legacy_issue(data: dict[str, Any]) -> Issue:
    return error(
        "legacy-remediation",
        "this is a pre-0.1.4 remediation file (Keptn 0.5/0.6: top-level `remediations` with `name`/`actions`), "
        f"which the remediation-service rejects. Write `apiVersion: {API_VERSION}`, `kind: Remediation`, "
        "`spec.remediations: [{problemType: <name>, actionsOnOpen: [{name, action, description, value}]}]` "
        "(see docs/validation.md#legacy-remediation)",
        ("remediations",), key=True)


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    out: list[Issue] = []
    api = data.get("apiVersion")
    if isinstance(api, str) and api != API_VERSION:
        out.append(error("remediation-version", f"apiVersion {api!r} is rejected by Keptn's remediation-service, "
                         f"which needs exactly {API_VERSION} (there is no 0.2.x remediation format)",
                         ("apiVersion",)))
    kind = data.get("kind")
    if isinstance(kind, str) and kind != "Remediation":
        out.append(warning("unexpected-kind", f"`kind` is {kind!r}; a remediation file says `kind: Remediation`",
                           ("kind",)))
    spec = as_dict(data.get("spec"))
    seen: set[str] = set()
    for path, remediation in entries(spec, "remediations", ("spec",)):
        problem = remediation.get("problemType")
        if isinstance(problem, str):
            if problem == LEGACY_DEFAULT_PROBLEM:
                out.append(warning("remediation-wildcard", "problemType '*' is the Keptn 0.6 catch-all; it is "
                                   "read as `default`. Write `problemType: default`", path + ("problemType",)))
            if problem in seen:
                out.append(warning("duplicate-problem-type", f"problemType {problem!r} appears twice; only the "
                                   "first entry's actions are used", path + ("problemType",)))
            seen.add(problem)
        if not as_list(remediation.get("actionsOnOpen")):
            out.append(warning("no-actions", f"problemType {problem!r} has no actionsOnOpen, so the remediation "
                               "ends at once with result fail", path, key=True))
        for apath, action in entries(remediation, "actionsOnOpen", path):
            if action.get("action") == "scaling":
                out += _scaling(apath, action)
    if "remediations" in spec and not as_list(spec.get("remediations")):
        out.append(warning("no-actions", "this remediation file has no remediations", ("spec", "remediations"),
                           key=True))
    return out


def _scaling(path: DataPath, action: dict[str, Any]) -> list[Issue]:
    value = action.get("value")
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [error("scaling-value", f"scaling value {value} is a YAML number; Keptn's helm-service fails the "
                      f"action ('could not parse action.value to string value'). Quote it: value: \"{value}\"",
                      path + ("value",))]
    where = path + ("value",) if "value" in action else path
    shown = "missing" if "value" not in action else repr(value)
    return [error("scaling-value", f"scaling value is {shown}; it must be a string integer such as \"1\" (replicas "
                  "to add) or \"-1\"", where, key="value" not in action)]
