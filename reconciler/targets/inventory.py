"""What the kubernetes target applied for a service, so what a later version no longer has is
pruned (as Flux's kustomize-controller keeps an inventory in its Kustomization's status).

The inventory is a ConfigMap `<service>-reconciler-inventory` in the stage's namespace,
labelled like every object of the service, holding one `apiVersion|kind|namespace|name`
entry per applied object. After a version is applied and rolled out, every entry of the
previous inventory that is not in the new one is deleted, then the new inventory replaces
the old. Entries are exact object references: nothing the reconciler did not apply for this
service is ever deleted, whatever its labels say.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

INVENTORY_SUFFIX = "-reconciler-inventory"
INVENTORY_KEY = "entries"


def name_for(service: str) -> str:
    return f"{service}{INVENTORY_SUFFIX}"


def entry(obj: dict, namespace: str | None) -> str:
    meta = obj.get("metadata") or {}
    return "|".join((str(obj.get("apiVersion", "")), str(obj.get("kind", "")), namespace or "",
                     str(meta.get("name", ""))))


def parse(entry_text: str) -> tuple[str, str, str | None, str]:
    api_version, kind, namespace, name = entry_text.split("|", 3)
    return api_version, kind, namespace or None, name


def document(service: str, namespace: str, entries: Iterable[str], labels: dict[str, str]) -> dict:
    """The inventory ConfigMap (pure)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name_for(service), "namespace": namespace, "labels": dict(labels)},
            "data": {INVENTORY_KEY: json.dumps(sorted(set(entries)), indent=0)}}


def entries_of(config_map: dict | None) -> list[str]:
    if not config_map:
        return []
    try:
        found = json.loads((config_map.get("data") or {}).get(INVENTORY_KEY) or "[]")
    except ValueError:
        return []
    return [e for e in found if isinstance(e, str) and e.count("|") == 3]


def stale(previous: Iterable[str], current: Iterable[str]) -> list[str]:
    """Entries the previous version applied and the current one does not (pure)."""
    keep = set(current)
    return sorted(e for e in set(previous) if e not in keep)
