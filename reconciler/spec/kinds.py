"""Which kind of config file a document is.

Order of evidence: the document's own apiVersion/kind, then its file name, then its
shape. In a config repository the path decides instead (`kind_of_repo_path`), because
that is how Keptn finds its files.
"""
from __future__ import annotations

import posixpath
from typing import Any

from reconciler.layout import KINDS, Kind, kind_at

__all__ = ["KINDS", "Kind", "detect_kind", "kind_from_name", "kind_of_repo_path"]


_BY_KIND_FIELD: dict[str, Kind] = {"shipyard": "shipyard", "remediation": "remediation", "settings": "settings"}
_YAML_SUFFIXES = (".yaml", ".yml")
_LOCAL_KEYS = frozenset({"command", "env", "healthPath", "metricsPath", "startTimeout"})


def detect_kind(path: str | None, data: Any) -> Kind | None:
    """The kind of a standalone file, or None when nothing tells."""
    return _by_declaration(data) or _by_name(path) or _by_shape(data)


def _by_declaration(data: Any) -> Kind | None:
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if isinstance(kind, str) and kind.lower() in _BY_KIND_FIELD:
        return _BY_KIND_FIELD[kind.lower()]
    api = data.get("apiVersion")
    if not isinstance(api, str):
        return None
    if api.startswith("reconciler/"):
        return "settings"
    if api == "v2" and "actions" in data:
        return "jobconfig"
    if api.startswith("spec.keptn.sh/0.1"):
        return "remediation"
    if api.startswith("spec.keptn.sh/"):
        return "shipyard"
    return None


def kind_from_name(path: str | None) -> Kind | None:
    """The kind a file name suggests (`slo-quality-gates.yaml` → slo), or None."""
    return _by_name(path)


def _by_name(path: str | None) -> Kind | None:
    if not path:
        return None
    norm = path.replace("\\", "/").lower()
    base = posixpath.basename(norm)
    if norm.endswith("job/config.yaml") or "jobconfig" in base or "job-executor" in base:
        return "jobconfig"
    if not base.endswith(_YAML_SUFFIXES):
        return None
    if base in ("reconciler.yaml", "reconciler.yml"):
        return "settings"
    if base in ("local.yaml", "local.yml"):    # exact: `local*` would catch e.g. localization.yaml
        return "local"
    for prefix in ("shipyard", "slo", "sli", "remediation"):
        if base.startswith(prefix):
            return prefix
    return None


def _by_shape(data: Any) -> Kind | None:
    if not isinstance(data, dict):
        return None
    if "objectives" in data or "total_score" in data:
        return "slo"
    if "indicators" in data:
        return "sli"
    spec = data.get("spec")
    if "stages" in data or (isinstance(spec, dict) and "stages" in spec):
        return "shipyard"
    if "remediations" in data or (isinstance(spec, dict) and "remediations" in spec):
        return "remediation"
    if "actions" in data:
        return "jobconfig"
    if "command" in data and data.keys() <= _LOCAL_KEYS:   # `command` alone is too common a key
        return "local"
    return None


# --- the repository layout (DESIGN §2): reconciler.layout owns it -----------------------


def kind_of_repo_path(relpath: str) -> Kind | None:
    """Kind of a file inside a service folder by its path there (layout.kind_at)."""
    return kind_at(relpath)
