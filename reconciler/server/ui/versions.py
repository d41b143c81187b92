"""What runs in each stage: the version in each service's deployables at the stage branch tip.

The version is the `image` of `<service>/values.yaml` (a string, or Helm's `{repository, tag}`),
else the `version` of `<service>/helm/Chart.yaml` or `<service>/Chart.yaml`. Its commit is the
newest commit on the stage branch that changed `<service>/`. Both are cached per stage tip and
recomputed only for the services a new tip changed, so a board render reads no Git at all
unless a stage branch moved.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

HISTORY_LIMIT = 500       # commits walked to find which one last changed a service


@dataclass(frozen=True, slots=True)
class Running:
    """The version of one service on one stage branch."""

    version: str            # "helloservice:1.1.0", "chart 2.3.0" or "" when none is declared
    kind: str               # "image" | "chart" | "none"
    commit: str | None      # newest commit that changed <service>/ (None: beyond HISTORY_LIMIT)
    tree: str               # the service folder's tree id (what the cache compares)


def _load(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError:
        return None


def version_of(values: bytes | None, chart: bytes | None) -> tuple[str, str]:
    """(version, kind) from a values file and a Chart.yaml (pure)."""
    doc = _load(values)
    if isinstance(doc, Mapping):
        image = doc.get("image")
        if isinstance(image, str) and image.strip():
            return image.strip(), "image"
        if isinstance(image, Mapping):
            repo, tag = image.get("repository"), image.get("tag")
            if repo or tag:
                return (f"{repo}:{tag}" if repo and tag else str(repo or tag)), "image"
    doc = _load(chart)
    if isinstance(doc, Mapping) and doc.get("version") is not None:
        return f"chart {doc['version']}", "chart"
    return "", "none"


class StageVersions:
    """Per stage branch, `{service: Running}` at its tip (thread-safe, cached per tip)."""

    def __init__(self, mirror: Any):
        self.mirror = mirror
        self._cache: dict[str, tuple[str, dict[str, Running]]] = {}
        self._lock = threading.Lock()

    def stage(self, stage: str) -> dict[str, Running]:
        tip = self.mirror.tip(stage)
        if tip is None:
            return {}
        with self._lock:
            cached = self._cache.get(stage)
            if cached and cached[0] == tip:
                return cached[1]
            result = self._compute(tip, cached[1] if cached else {})
            self._cache[stage] = (tip, result)
            return result

    def _compute(self, tip: str, previous: dict[str, Running]) -> dict[str, Running]:
        repo = self.mirror.repo
        commit = repo[tip]
        folders = {e.name: str(e.id) for e in commit.tree if e.type_str == "tree" and not e.name.startswith(".")}
        out: dict[str, Running] = {}
        todo: dict[str, str] = {}
        for name, tree in folders.items():
            old = previous.get(name)
            if old is not None and old.tree == tree:
                out[name] = old
            else:
                todo[name] = tree
        if not todo:
            return out
        commits = _last_changes(repo, commit, set(todo))
        for name, tree in todo.items():
            folder = repo[tree]
            chart = _blob(repo, folder, ("helm", "Chart.yaml")) or _blob(repo, folder, ("Chart.yaml",))
            version, kind = version_of(_blob(repo, folder, ("values.yaml",)), chart)
            out[name] = Running(version, kind, commits.get(name), tree)
        return out


def _blob(repo: Any, tree: Any, parts: tuple[str, ...]) -> bytes | None:
    node = tree
    for part in parts:
        try:
            entry = node[part]
        except KeyError:
            return None
        node = repo[entry.id]
    return node.data if node.type_str == "blob" else None


def _folders(tree: Any) -> dict[str, Any]:
    return {e.name: e.id for e in tree}


def _last_changes(repo: Any, tip: Any, wanted: set[str]) -> dict[str, str]:
    """Newest commit (first-parent walk from `tip`) whose `<service>/` differs from its parent's.
    Each commit's top-level entries are read once (a name lookup per service would be O(n²))."""
    found: dict[str, str] = {}
    commit = tip
    mine = _folders(commit.tree)
    for _ in range(HISTORY_LIMIT):
        if not wanted:
            break
        parent = commit.parents[0] if commit.parents else None
        theirs = _folders(parent.tree) if parent is not None else {}
        for name in [n for n in wanted if mine.get(n) != theirs.get(n)]:
            found[name] = str(commit.id)
            wanted.discard(name)
        if parent is None:
            break
        commit, mine = parent, theirs
    return found
