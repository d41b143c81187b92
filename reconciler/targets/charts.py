"""A Keptn service's Helm chart as manifests for the kubernetes target.

Keptn stored a service's chart as `<service>/helm/<chart>/` (a packaged `helm/<chart>.tgz` was
unpacked on upload; both are read here). The chart is rendered by the real Helm engine
(reconciler.helm) with the stage's `<service>/values.yaml` merged over the chart's own
values — the stage branch holds the chart and its values, as Keptn's configuration service
did — and the objects become manifests that `manifests.prepare` labels and server-side apply
applies; the chart's templates, not the target, put the image and replica count in place.
A rendering error names the chart file and line.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import layout
from reconciler.targets.base import DeploymentFailed
from reconciler.targets.manifests import Manifest


def find_chart(service_dir: Path, service: str) -> Path | None:
    """`helm/<service>/` (or `.tgz`), else the only chart of the folder; None without one."""
    folder = service_dir / layout.HELM_FOLDER
    if not folder.is_dir():
        return None
    charts = sorted(p.parent for p in folder.glob("*/Chart.yaml")) + sorted(folder.glob("*.tgz"))
    named = [c for c in charts if c.name in (service, f"{service}.tgz")]
    if named:
        return named[0]
    if len(charts) == 1:
        return charts[0]
    if charts:
        names = ", ".join(c.name for c in charts)
        raise DeploymentFailed("manifest-invalid", f"{service}/helm/ has several charts ({names}) and none is named "
                                                   f"{service!r}: name the one to deploy {service!r}")
    return None


def chart_manifests(service_dir: Path, service: str, values: Mapping[str, Any], *, namespace: str,
                    chart: Path) -> list[Manifest]:
    """The rendered objects of `chart` as manifests (DeploymentFailed naming the chart file)."""
    from reconciler.helm import ChartError, render_with_sources  # the Helm engine loads only when used
    try:
        rendered = render_with_sources(chart, dict(values), release=service, namespace=namespace)
    except ChartError as exc:
        raise DeploymentFailed("manifest-invalid", f"{_shown(service_dir, service, str(exc))}") from None
    out = []
    for number, (source, obj) in enumerate(rendered, 1):
        if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
            raise DeploymentFailed("manifest-invalid", f"{_shown(service_dir, service, source)}: a rendered object "
                                                       f"has no metadata.name")
        out.append(Manifest(_shown(service_dir, service, source), number, None, obj))
    if not out:
        raise DeploymentFailed("manifest-invalid", f"{service}/helm/{chart.name} renders no objects")
    return out


def _shown(service_dir: Path, service: str, text: str) -> str:
    """Paths inside the exported folder as `<service>/…` (what people find in the repository)."""
    return text.replace(str(service_dir), service)
