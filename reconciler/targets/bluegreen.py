"""Blue/green on Kubernetes as manifest transforms (pure): two Deployments and a selector switch.

For `deploymentstrategy: blue_green_service` the service's Deployment is applied as
`<name>-<color>` (blue or green, the one that is not live), its pods labelled
`reconciler.sh/color: <color>`. Every Service that selects those pods keeps (or, on the first
deployment, gets) the live color in its selector, so traffic stays on the released version,
and a `<service>-preview` Service selects the new color, so a test reaches the new version.
The `release` task switches the Services' selector to the new color and deletes the other
Deployments; `rollback` deletes the new one. The color in a Service's selector is the only
state, read back from the cluster.
"""
from __future__ import annotations

import copy
from typing import Any

from reconciler.targets.manifests import Manifest, _service_deployment

LABEL_COLOR = "reconciler.sh/color"
COLORS = ("blue", "green")
PREVIEW_SUFFIX = "-preview"


def next_color(live: str | None) -> str:
    """The color a new version gets: the one that is not live (blue first)."""
    return COLORS[1] if live == COLORS[0] else COLORS[0]


def _pod_labels(dep: dict) -> dict[str, Any]:
    return dict((((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def selects(service: dict, pod_labels: dict[str, Any]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    plain = {k: v for k, v in selector.items() if k != LABEL_COLOR}
    return bool(plain) and all(pod_labels.get(k) == v for k, v in plain.items())


def colored(prepared: list[tuple[Manifest, dict]], service: str, color: str,
            live: str | None) -> list[tuple[Manifest, dict]]:
    """`prepared` (manifests.prepare) for a blue/green deployment of `color` while `live` serves."""
    manifests = [m for m, _ in prepared]
    primary = _service_deployment(manifests, service)
    if primary is None:
        return prepared
    out: list[tuple[Manifest, dict]] = []
    pods: dict[str, Any] = {}
    for m, obj in prepared:
        if m is primary:
            obj = copy.deepcopy(obj)
            obj["metadata"]["name"] = f"{m.name}-{color}"
            obj["metadata"]["labels"][LABEL_COLOR] = color
            spec = obj.setdefault("spec", {})
            spec.setdefault("selector", {}).setdefault("matchLabels", {})[LABEL_COLOR] = color
            template = spec.setdefault("template", {}).setdefault("metadata", {})
            template["labels"] = {**(template.get("labels") or {}), LABEL_COLOR: color}
            pods = template["labels"]
        out.append((m, obj))
    previews: list[tuple[Manifest, dict]] = []
    for i, (m, obj) in enumerate(out):
        if obj.get("kind") != "Service" or not selects(obj, pods):
            continue
        pinned = copy.deepcopy(obj)
        pinned["spec"]["selector"] = {**pinned["spec"]["selector"], LABEL_COLOR: live or color}
        out[i] = (m, pinned)
        if not previews:
            preview = copy.deepcopy(obj)
            preview["metadata"]["name"] = f"{service}{PREVIEW_SUFFIX}"
            preview["spec"]["selector"] = {**preview["spec"]["selector"], LABEL_COLOR: color}
            for field in ("clusterIP", "clusterIPs", "nodePort"):
                preview["spec"].pop(field, None)
            previews.append((m, preview))
    return out + previews


def live_color(services: list[dict], service: str) -> str | None:
    """The color the service's (non-preview) Services select, None when they select none."""
    for svc in services:
        if svc["metadata"]["name"] == f"{service}{PREVIEW_SUFFIX}":
            continue
        color = ((svc.get("spec") or {}).get("selector") or {}).get(LABEL_COLOR)
        if color:
            return str(color)
    return None
