"""Defensive reads of YAML data of unknown shape, and Keptn's name rules."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from reconciler.spec.findings import DataPath

# Keptn entity names (stages, services, projects): they become branch names, Kubernetes
# namespaces and Helm release names.
ENTITY_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
ENTITY_NAME_MAX = 43
ENTITY_RULE = "a lowercase letter first, then lowercase letters, digits and '-', not ending in '-'"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def entries(data: Any, key: str, path: DataPath) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    """(path, mapping) for each mapping in the list `data[key]`."""
    for i, item in enumerate(as_list(as_dict(data).get(key))):
        if isinstance(item, dict):
            yield path + (key, i), item


def suggest_entity_name(name: str) -> str:
    """A valid entity name close to `name` (for "write X instead" hints)."""
    s = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    s = re.sub(r"^[^a-z]+", "", s)
    return s[:ENTITY_NAME_MAX].rstrip("-") or "stage"
