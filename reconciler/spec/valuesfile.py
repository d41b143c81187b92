"""Edit `values.yaml` the way a person would: change the value, keep everything else.

`reconciler trigger delivery --set image=…` and the built-in scaling action write to the
same file people edit by hand, so a rewrite through load/dump (which drops comments and
reorders keys) would turn every automated commit into a noisy diff. Instead the value's
text span is located in the YAML node tree and replaced in place; a missing top-level key
is appended. Values are YAML scalars (`3` is a number, `"3"` a string, `true` a boolean).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from reconciler.spec import yamltext


class ValuesEditError(ValueError):
    """The edit cannot be made faithfully; the message says which key and why."""


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` / `a.b=value` → (dotted key, YAML scalar value)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ValuesEditError(f"expected KEY=VALUE (e.g. image=helloservice:2.0.0), got {text!r}")
    try:
        value = yamltext.load(raw) if raw.strip() else ""
    except yamltext.YamlError:
        value = raw
    if isinstance(value, (dict, list)):
        raise ValuesEditError(f"{key}: only scalar values can be set, got {raw!r}")
    return key, value



def render_scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-3].strip() if text.endswith("...") else text


def set_values(text: str | None, assignments: Mapping[str, Any]) -> str:
    """`text` with each dotted key set; raises ValuesEditError naming the key otherwise."""
    out = text or ""
    for key, value in assignments.items():
        out = _set_one(out, key.split("."), value, key)
    return out


def _set_one(text: str, path: list[str], value: Any, key: str) -> str:
    try:
        yamltext.check_size(text)
        root = yaml.compose(text, Loader=yamltext.Loader) if text.strip() else None
    except yamltext.YamlError as exc:
        raise ValuesEditError(f"values.yaml cannot be edited: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ValuesEditError(f"values.yaml is not valid YAML: {problem}{where}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValuesEditError(f"values.yaml is not valid YAML: {first}") from None
    if root is None:
        return _append(text, path, value, key)
    if not isinstance(root, yaml.MappingNode):
        raise ValuesEditError("values.yaml is not a mapping of keys to values")
    node: yaml.Node = root
    for depth, step in enumerate(path):
        if not isinstance(node, yaml.MappingNode):
            raise ValuesEditError(f"{key}: {'.'.join(path[:depth])} is not a mapping")
        found = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)
        if found is None:
            if depth == 0:
                return _append(text, path, value, key)
            raise ValuesEditError(f"{key}: {'.'.join(path[:depth + 1])} is not in values.yaml; add it by hand first")
        node = found
    if not isinstance(node, yaml.ScalarNode):
        raise ValuesEditError(f"{key} holds a {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}, "
                              f"not a single value")
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        raise ValuesEditError(f"{key} is a block scalar; edit it by hand")
    return text[:start] + render_scalar(value) + text[end:]


def _append(text: str, path: list[str], value: Any, key: str) -> str:
    if len(path) != 1:
        raise ValuesEditError(f"{key}: {path[0]} is not in values.yaml; add it by hand first")
    sep = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{sep}{path[0]}: {render_scalar(value)}\n"


_MISSING = object()


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Scalar and list leaves of nested mappings, by key path (lists count as one value)."""
    out: dict[tuple[str, ...], Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = prefix + (str(key),)
            if isinstance(value, dict) and value:
                out.update(_leaves(value, path))
            else:
                out[path] = value
    return out


def merge_values(base: str | bytes | None, ours: str | bytes | None, theirs: str | bytes | None) -> str | None:
    """Three-way merge of a YAML mapping by key instead of by line, keeping `ours`' text.

    Promotion applies "what the change did" (base → theirs) to another stage's file (ours).
    Stage-specific lines often sit right next to the promoted one (`image:` above a
    stage's `replicaCount:`), which a line merge calls a conflict although the keys differ.
    Here every key the change touched is set in ours — if ours still has the base value for
    it — with the comment-preserving editor; everything else in ours stays as it is.
    Returns None when that is not possible faithfully: not mappings, a key both sides
    changed differently, a removed key, a changed list or block, a new nested key.
    """
    docs = []
    for text in (base, ours, theirs):
        raw = text.decode("utf-8") if isinstance(text, bytes) else (text or "")
        try:
            data = yamltext.load(raw) if raw.strip() else {}
        except (yamltext.YamlError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        docs.append((raw, _leaves(data)))
    (_, b), (ours_text, o), (_, t) = docs
    assignments: dict[str, Any] = {}
    for path in set(b) | set(t):
        before, after = b.get(path, _MISSING), t.get(path, _MISSING)
        if before == after:
            continue
        mine = o.get(path, _MISSING)
        if mine == after:
            continue
        if mine != before or after is _MISSING or isinstance(after, (list, dict)):
            return None
        assignments[".".join(path)] = after
    try:
        return set_values(ours_text, assignments)
    except ValuesEditError:
        return None
