"""Render a chart (a directory or a packaged `.tgz`) into Kubernetes objects.

The templates run in Helm's own engine (Go templates, Sprig, `include`, `tpl`, `required`,
`lookup` answering empty as in `helm template`), so a chart behaves exactly as `helm template`
would render it. Helm's errors name the template as `<chart>/templates/x.yaml:LINE`; we turn
that into the file on disk (or `archive.tgz!/<member>`) and the line, so a user sees where
to look, and we report YAML the templates produced that does not parse the same way.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.spec import yamltext

try:
    import helm_python
except ImportError as exc:  # pragma: no cover - the package is a declared dependency
    raise ImportError("the Helm engine needs the `helm-python-sdk` package (pip install helm-python-sdk)") from exc

_LOCATION = re.compile(r"(?P<file>[\w.@+-]+(?:/[\w.@+-]+)*\.(?:ya?ml|tpl|txt|json)):(?P<line>\d+)(?::\d+)?")

# The order `helm install` creates objects in: what others refer to comes first.
INSTALL_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)
_PLACE = r"[\w.@+-]+(?:/[\w.@+-]+)*\.(?:ya?ml|tpl|txt|json):\d+(?::\d+)?"
_LEADING_LOCATION = re.compile(rf"^(?:(?:parse|execution) error at \({_PLACE}\):|{_PLACE})\s*")
_CANNOT_LOAD = re.compile(r"cannot load ([\w./-]+\.ya?ml)")
_YAML_LINE = re.compile(r"yaml: line (\d+)")
_RANK = {kind: i for i, kind in enumerate(INSTALL_ORDER)}


@dataclass
class ChartError(Exception):
    """A chart that cannot be loaded or rendered; `file` and `line` say where (line may be None)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def render(chart: str | os.PathLike[str], values: Mapping[str, Any] | None = None, *,
           release: str, namespace: str, include_crds: bool = False) -> list[dict[str, Any]]:
    """The chart's objects for these values, in Helm's install order.

    `values` are merged over the chart's `values.yaml` by Helm itself (as `--values` would be)
    and checked against its `values.schema.json` when it has one. With `include_crds`, the
    CustomResourceDefinitions of the chart's `crds/` folder come first (as `helm install`
    creates them before anything else); they are never templated."""
    return [obj for _, obj in render_with_sources(chart, values, release=release, namespace=namespace,
                                                  include_crds=include_crds)]


def render_with_sources(chart: str | os.PathLike[str], values: Mapping[str, Any] | None = None, *,
                        release: str, namespace: str,
                        include_crds: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """Like `render`, each object with the chart file (as `render` errors name it) it came from."""
    path = Path(chart)
    if not path.exists():
        raise ChartError(str(path), None, "no such chart (a chart directory or a packaged .tgz)")
    try:
        loaded = helm_python.Chart.load(str(path))
    except helm_python.HelmError as exc:
        raise _located(path, exc, default=_chart_file(path)) from None
    with loaded:
        try:
            templates = loaded.render(dict(values or {}), name=release, namespace=namespace)
        except helm_python.HelmError as exc:
            raise _located(path, exc, default=str(path)) from None
        crds = [(str(c.get("filename") or c.get("name") or ""), str(c.get("data") or ""))
                for c in (loaded.crds if include_crds else [])]
    first: list[tuple[str, dict[str, Any]]] = []
    for helm_path, text in sorted(crds):
        source = _source(path, helm_path)
        first.extend((source, obj) for obj in _documents(source, text))
    objects: list[tuple[int, str, int, str, dict[str, Any]]] = []
    for template, text in templates.items():
        if template.endswith("NOTES.txt") or not text.strip():
            continue
        source = _source(path, template)
        for number, obj in enumerate(_documents(source, text)):
            objects.append((_RANK.get(obj["kind"], len(INSTALL_ORDER)), template, number, source, obj))
    objects.sort(key=lambda item: item[:3])
    return first + [(source, obj) for _, _, _, source, obj in objects]


def _documents(source: str, text: str) -> list[dict[str, Any]]:
    try:
        documents = yamltext.load_all(text)      # the project's limits: size, alias bombs, depth
    except yamltext.YamlError as exc:
        where = f"line {exc.line} of the rendered text: " if exc.line else ""
        raise ChartError(source, None, f"the rendered output is not valid YAML ({where}{exc.message})") from None
    objects = []
    for number, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            raise ChartError(source, None, f"rendered document {number} is not a Kubernetes object "
                                           "(it needs apiVersion and kind)")
        objects.append(doc)
    return objects


def _chart_file(chart: Path) -> str:
    return str(chart / "Chart.yaml") if chart.is_dir() else str(chart)


def _source(chart: Path, helm_path: str) -> str:
    """Helm names files `<chart name>/templates/x.yaml` (subcharts: `<chart>/charts/<sub>/…`)."""
    if chart.is_dir():
        _, _, inside = helm_path.partition("/")
        return str(chart / inside) if inside else str(chart)
    return f"{chart}!/{helm_path}"


def _located(chart: Path, exc: Exception, *, default: str) -> ChartError:
    """Point at the innermost `file:line` Helm names (in a nested `include`, the helper's line)."""
    detail = getattr(exc, "detail", None) or str(exc)
    message = " ".join(part.strip() for part in detail.splitlines() if part.strip())
    found = list(_LOCATION.finditer(detail))
    if "values don't meet the specifications of the schema" in detail and chart.is_dir():
        return ChartError(str(chart / "values.schema.json"), None, message)
    if "values don't meet the specifications of the schema" in detail:
        return ChartError(f"{chart}!/values.schema.json", None, message)
    unloadable = _CANNOT_LOAD.search(detail)
    if unloadable and chart.is_dir():     # a chart's own Chart.yaml / values.yaml does not parse
        line = _YAML_LINE.search(detail)
        return ChartError(str(chart / unloadable.group(1)), int(line.group(1)) if line else None, message)
    if not found:
        return ChartError(default, None, message)
    message = _LEADING_LOCATION.sub("", message, count=1) or message
    last = found[-1]
    return ChartError(_source(chart, last.group("file")), int(last.group("line")), message)
