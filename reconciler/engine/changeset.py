"""The change of a delivery as data, and applying it to a stage as state (DESIGN §2).

A delivery starts with a commit on a stage branch. What it changed in `<service>/` is
computed once, from that commit's diff, per deployable file:

* a YAML deployable that is a mapping (`values.yaml`, `helm/<chart>/values.yaml`, `Chart.yaml`,
  a single-document manifest) → the leaf keys whose value changed (key path → new value) and
  the keys it removed; a list counts as one value;
* any other deployable (templates, multi-document YAML, scripts, a packaged chart) → its new
  content, or its deletion.

The change travels in every event of the context (`data.configurationChange.files`, and
Keptn's `data.configurationChange.values`: the changed keys of the service's main values
file, nested, e.g. `{"image": "carts:2.0.1"}`). Promotion applies it to the next stage as
state: it sets exactly those keys and writes exactly those files, so whatever the stage holds
for keys the change did not touch (`replicaCount: 3`) stays, and versions never conflict by
order (2.0.0 failed and was rolled back; 2.0.1 still lands). Only a structural clash — the
stage holds a list or a value where the change sets a key below it — stops the promotion,
naming the file and the key path.

Pure: the adapter hands in file contents (and git blob ids for large or binary files).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler import layout
from reconciler.spec import yamltext
from reconciler.spec.valuesfile import StructureClash, ValuesEditError, remove_path, set_path

# Text up to this size travels inline in the events; bigger or binary files travel as the id
# of the Git blob that holds them (it is in the config repository, reachable from the commit).
# Every event of the context carries the change and a lane file keeps every event, so this
# stays small: a typical chart template fits, a vendored chart does not need to.
INLINE_LIMIT = 8 * 1024
YAML_SUFFIXES = (".yaml", ".yml")
MAIN_VALUES = layout.VALUES_FILE


class ChangeError(ValueError):
    """The change cannot be applied; `file` and `key` (a dotted path, may be empty) say where."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file, self.key = file, key
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class FileDiff:
    """One file of `<service>/` before and after the triggering change (None: absent)."""

    path: str                      # relative to the service folder
    old: bytes | None
    new: bytes | None
    new_blob: str | None = None    # the Git blob id of `new`, for files that travel by reference


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: tuple[str, ...]
    value: Any = None
    removed: bool = False

    def to_data(self) -> dict[str, Any]:
        if self.removed:
            return {"key": list(self.key), "removed": True}
        return {"key": list(self.key), "value": self.value}


@dataclass(frozen=True, slots=True)
class FileChange:
    """What happened to one file: `keys` (YAML by key) and/or `content`/`blob`, or `deleted`.

    A YAML file the change created carries its keys and its text: written as is where the
    stage does not have the file yet, key by key where it does."""

    path: str
    keys: tuple[KeyChange, ...] | None = None
    content: str | None = None
    blob: str | None = None
    size: int | None = None
    deleted: bool = False

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.deleted:
            out["deleted"] = True
        if self.keys is not None:
            out["keys"] = [k.to_data() for k in self.keys]
        if self.content is not None:
            out["content"] = self.content
        if self.blob is not None:
            out["blob"] = self.blob
            out["size"] = self.size
        return out

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> FileChange:
        path = raw.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError("a file change needs a path")
        keys = None
        if raw.get("keys") is not None:
            keys = tuple(KeyChange(tuple(str(p) for p in k["key"]), k.get("value"), bool(k.get("removed")))
                         for k in raw["keys"])
        return cls(path=path, keys=keys, content=raw.get("content"), blob=raw.get("blob"),
                   size=raw.get("size"), deleted=bool(raw.get("deleted")))


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every deployable file a delivery changed in its service folder."""

    files: tuple[FileChange, ...] = field(default_factory=tuple)

    def to_data(self) -> list[dict[str, Any]]:
        return [f.to_data() for f in self.files]

    @classmethod
    def from_data(cls, raw: Any) -> ChangeSet:
        if not isinstance(raw, list):
            raise ValueError("configurationChange.files must be a list")
        return cls(tuple(FileChange.from_data(item) for item in raw))

    def values(self, service: str) -> dict[str, Any]:
        """Keptn's `configurationChange.values`: the main values file's set keys, nested."""
        main = main_values_file([f.path for f in self.files], service)
        out: dict[str, Any] = {}
        for f in self.files:
            if f.path != main or not f.keys:
                continue
            for k in f.keys:
                if k.removed:
                    continue
                node = out
                for part in k.key[:-1]:
                    child = node.get(part)
                    node = node.setdefault(part, {}) if not isinstance(child, dict) else child
                node[k.key[-1]] = k.value
        return out

    def describe(self) -> str:
        parts = []
        for f in self.files:
            if f.deleted:
                parts.append(f"{f.path} deleted")
            elif f.keys is not None and f.content is None:
                parts.append(f"{f.path}: " + ", ".join(".".join(k.key) + ("" if not k.removed else " removed")
                                                       for k in f.keys))
            else:
                parts.append(f"{f.path} written")
        return "; ".join(parts) or "no deployable file changed"


def from_values(values: Mapping[str, Any]) -> ChangeSet:
    """The change that sets Keptn's `configurationChange.values` (nested keys) in the main
    values file; `MAIN_VALUES` stands for whichever file that is on the stage."""
    keys = tuple(KeyChange(path, value) for path, value in leaves(values).items())
    return ChangeSet((FileChange(MAIN_VALUES, keys=keys),)) if keys else ChangeSet()


def main_values_file(paths: Iterable[str], service: str) -> str | None:
    """The service's main values file among `paths`: `values.yaml`, else the chart named like
    the service (`helm/<service>/values.yaml`), else the only `helm/<chart>/values.yaml`."""
    paths = set(paths)
    if MAIN_VALUES in paths:
        return MAIN_VALUES
    named = f"helm/{service}/values.yaml"
    if named in paths:
        return named
    charts = sorted(p for p in paths if p.startswith("helm/") and p.count("/") == 2 and p.endswith("/values.yaml"))
    return charts[0] if len(charts) == 1 else None


def _is_template(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 3 and parts[0] == "helm" and "templates" in parts[2:-1]


def _mapping(data: bytes | None) -> dict[str, Any] | None:
    """The YAML mapping in `data` (absent file: {}), None when it is not one mapping."""
    if data is None:
        return {}
    try:
        text = data.decode("utf-8")
        loaded = yamltext.load(text) if text.strip() else {}
    except (UnicodeDecodeError, yamltext.YamlError):
        return None
    if not isinstance(loaded, dict):
        return None
    try:
        json.dumps(loaded)
    except (TypeError, ValueError):
        return None
    return loaded


def leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaf values by key path; a list or an empty mapping counts as one value."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        path = prefix + (str(key),)
        if isinstance(value, dict) and value:
            out.update(leaves(value, path))
        else:
            out[path] = value
    return out


def _present(data: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = data
    for part in path:
        if not isinstance(node, dict):
            return False
        match = next((k for k in node if str(k) == part), _ABSENT)
        if match is _ABSENT:
            return False
        node = node[match]
    return True


_ABSENT = object()


def key_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[KeyChange, ...]:
    """Removals (the shortest key path the new document no longer has) first, then the leaf
    keys whose value is new or different, in the new document's order."""
    before, after = leaves(old), leaves(new)
    removed: dict[tuple[str, ...], None] = {}
    for path in before:
        if path in after:
            continue
        cut = next((path[:i] for i in range(1, len(path) + 1) if not _present(new, path[:i])), None)
        if cut is not None:
            removed[cut] = None
    changes = [KeyChange(path, removed=True) for path in removed]
    replaced: dict[tuple[str, ...], None] = {}
    for path, value in after.items():
        # a key that was a value or a list and is a mapping now is set as a whole
        whole = next((path[:i] for i in range(1, len(path)) if path[:i] in before), None)
        if whole is not None:
            if whole not in replaced:
                replaced[whole] = None
                changes.append(KeyChange(whole, _get(new, whole)))
            continue
        if path not in before or before[path] != value or type(before[path]) is not type(value):
            changes.append(KeyChange(path, value))
    return tuple(changes)


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        node = next(v for k, v in node.items() if str(k) == part)
    return node


def _content(diff: FileDiff) -> FileChange:
    assert diff.new is not None
    try:
        text = diff.new.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and len(diff.new) <= INLINE_LIMIT and "\0" not in text:
        return FileChange(diff.path, content=text)
    if diff.new_blob is None:
        raise ValueError(f"{diff.path}: a binary or large file needs its blob id")
    return FileChange(diff.path, blob=diff.new_blob, size=len(diff.new))


def compute(diffs: Iterable[FileDiff]) -> ChangeSet:
    """The change set of `<service>/` from its changed files (quality-gate files are left out)."""
    files = []
    for diff in sorted(diffs, key=lambda d: d.path):
        if diff.old == diff.new or not layout.is_deployable(diff.path):
            continue
        if diff.new is None:
            files.append(FileChange(diff.path, deleted=True))
            continue
        if diff.path.endswith(YAML_SUFFIXES) and not _is_template(diff.path):
            old, new = _mapping(diff.old), _mapping(diff.new)
            if old is not None and new is not None:
                keys = key_changes(old, new)
                if diff.old is None:
                    created = _content(diff)
                    files.append(FileChange(diff.path, keys=keys, content=created.content, blob=created.blob,
                                            size=created.size))
                elif keys:
                    files.append(FileChange(diff.path, keys=keys))
                continue
        files.append(_content(diff))
    return ChangeSet(tuple(files))


def apply(change: ChangeSet, read: Callable[[str], bytes | None],
          read_blob: Callable[[str], bytes], where: str = "") -> dict[str, bytes | None]:
    """New content per file (relative path → bytes, None = delete) of the stage that `read`
    shows, with the change applied; files whose content would not change are left out.

    Raises ChangeError naming the file (prefixed by `where`) and the key path."""
    out: dict[str, bytes | None] = {}
    for f in change.files:
        current = read(f.path)
        if f.deleted:
            if current is not None:
                out[f.path] = None
            continue
        if f.keys is not None and (current is not None or (f.content is None and f.blob is None)):
            text = current.decode("utf-8") if current is not None else ""
            updated = _apply_keys(text, f.keys, f"{where}{f.path}")
            data = updated.encode("utf-8")
        elif f.content is not None:
            data = f.content.encode("utf-8")
        elif f.blob is not None:
            data = read_blob(f.blob)
        else:
            raise ChangeError(f"{where}{f.path}", "", f"{where}{f.path}: the change holds neither keys nor content")
        if data != current:
            out[f.path] = data
    return out


def _apply_keys(text: str, keys: Iterable[KeyChange], file: str) -> str:
    for k in keys:
        dotted = ".".join(k.key)
        try:
            text = remove_path(text, k.key) if k.removed else set_path(text, k.key, k.value)
        except StructureClash as exc:
            raise ChangeError(file, ".".join(exc.key),
                              f"{file}: {exc}; the change sets {dotted}. Make {'.'.join(exc.key) or 'it'} "
                              f"a mapping on this stage (or change it the same way) and trigger again") from None
        except ValuesEditError as exc:
            raise ChangeError(file, dotted, f"{file}: cannot set {dotted}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ChangeError(file, dotted, f"{file} is not valid YAML on this stage: "
                                            f"{str(exc).splitlines()[0] if str(exc) else exc}") from None
    return text

