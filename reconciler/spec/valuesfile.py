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


# -- setting and removing key paths (promotion applies a delivery's change as state) ----------

class StructureClash(ValuesEditError):
    """The file holds something else than a mapping where the change sets a key below it
    (a list, or a value): applying the change would have to guess. `key` is the path that
    is in the way (empty: the document itself)."""

    def __init__(self, key: tuple[str, ...], found: str) -> None:
        self.key = key
        self.found = found
        where = ".".join(key) if key else "the document"
        super().__init__(f"{where} holds a {found} where the change sets keys below it")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "mapping" if isinstance(node, yaml.MappingNode) else "value"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def render_value(value: Any) -> str:
    """A value as one line of YAML (flow style for lists and mappings)."""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return render_scalar(value)


def _block(path: tuple[str, ...], value: Any, indent: int) -> str:
    """`path` = `value` as block lines at `indent` (each ending in a newline)."""
    lines = []
    for depth, step in enumerate(path[:-1]):
        lines.append(f"{' ' * (indent + 2 * depth)}{render_scalar(step)}:")
    lines.append(f"{' ' * (indent + 2 * (len(path) - 1))}{render_scalar(path[-1])}: {render_value(value)}")
    return "\n".join(lines) + "\n"


def _line_end(text: str, index: int) -> int:
    """The index just after the line that holds `index - 1` (its newline included)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _node_end(node: yaml.Node) -> int:
    """Where a value's text ends. A block collection's own end mark can lie on the next line
    (after an indentless `- item` list it is the next key's column), so it is the end of its
    last item instead."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1])
    return node.end_mark.index


def _compose(text: str) -> yaml.Node | None:
    return yaml.compose(text, Loader=yamltext.Loader) if text.strip() else None


def _lookup(node: yaml.MappingNode, step: str) -> tuple[yaml.Node, yaml.Node] | None:
    return next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)


def set_path(text: str, path: tuple[str, ...], value: Any) -> str:
    """`text` with the key `path` set to `value`, creating the mappings on the way.

    Comments and the layout of everything else stay (a flow mapping on the way, `{a: 1}`, is
    written again in flow style). Raises StructureClash when a list or a value is where a
    mapping must be."""
    if not path:
        raise ValuesEditError("an empty key path cannot be set")
    root = _compose(text)
    if root is None or _is_null(root):
        return _block(path, value, 0) if not text.strip() else text.rstrip("\n") + "\n" + _block(path, value, 0)
    if not isinstance(root, yaml.MappingNode):
        raise StructureClash((), _kind(root))
    node: yaml.MappingNode = root
    node_key: yaml.Node | None = None
    for depth, step in enumerate(path):
        if node.flow_style:
            return _flow_edit(text, node_key, node, path[depth:], value)
        found = _lookup(node, step)
        if found is None:
            return _insert(text, node, path[depth:], value, path[:depth])
        key_node, child = found
        if depth == len(path) - 1:
            return _replace(text, key_node, child, render_value(value))
        if _is_null(child):
            nested: Any = value
            for part in reversed(path[depth + 1:]):
                nested = {part: nested}
            return _replace(text, key_node, child, render_value(nested))
        if not isinstance(child, yaml.MappingNode):
            raise StructureClash(path[:depth + 1], _kind(child))
        node, node_key = child, key_node
    raise AssertionError("unreachable")


_REMOVE = object()


def _flow_edit(text: str, key_node: yaml.Node | None, node: yaml.MappingNode, rest: tuple[str, ...],
               value: Any) -> str:
    """Set (or remove, `_REMOVE`) `rest` inside a flow mapping (`{a: 1}`): the mapping is
    written again in flow style (a flow mapping holds no comments to keep)."""
    data = yaml.load(text[node.start_mark.index:node.end_mark.index], Loader=yamltext.Loader) or {}
    target = data
    for depth, step in enumerate(rest[:-1]):
        child = target.get(step)
        if child is None and value is not _REMOVE:
            child = target[step] = {}
        if not isinstance(child, dict):
            if value is _REMOVE:
                return text
            raise StructureClash(rest[:depth + 1], "list" if isinstance(child, list) else "value")
        target = child
    if value is _REMOVE:
        if rest[-1] not in target:
            return text
        del target[rest[-1]]
    else:
        target[rest[-1]] = value
    rendered = render_value(data)
    if key_node is None:
        return text[:node.start_mark.index] + rendered + text[node.end_mark.index:]
    return _replace(text, key_node, node, rendered)


def _insert(text: str, node: yaml.MappingNode, rest: tuple[str, ...], value: Any,
            where: tuple[str, ...]) -> str:
    indent = node.value[0][0].start_mark.column
    at = _line_end(text, _node_end(node.value[-1][1]))
    prefix = text[:at] if at == 0 or text[at - 1] == "\n" else text[:at] + "\n"
    return prefix + _block(rest, value, indent) + text[at:]


def _replace(text: str, key_node: yaml.Node, node: yaml.Node, rendered: str) -> str:
    start, end = node.start_mark.index, _node_end(node)
    multiline = isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style
    multiline = multiline or (isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"))
    if multiline or start == end:
        # from just after `key:` to the end of the value, keeping the line break after it
        colon = text.index(":", key_node.end_mark.index)
        stop = end - 1 if end > 0 and text[end - 1] == "\n" else end
        return text[:colon + 1] + " " + rendered + text[stop:]
    return text[:start] + rendered + text[end:]


def remove_path(text: str, path: tuple[str, ...]) -> str:
    """`text` without the key `path` (its line and any block below it); unchanged when the
    key is not there."""
    root = _compose(text)
    node = root
    node_key: yaml.Node | None = None
    for depth, step in enumerate(path):
        if not isinstance(node, yaml.MappingNode):
            return text
        if node.flow_style:
            return _flow_edit(text, node_key, node, path[depth:], _REMOVE)
        found = _lookup(node, step)
        if found is None:
            return text
        key_node, child = found
        if depth < len(path) - 1:
            node, node_key = child, key_node
            continue
        if len(node.value) == 1 and depth > 0:
            # the only key of a nested mapping: the mapping becomes empty, not null
            assert root is not None      # we walked through it
            parent_key = _parent_key(root, path[:depth])
            return _replace(text, parent_key, node, "{}")
        line_start = text.rfind("\n", 0, key_node.start_mark.index) + 1
        if text[line_start:key_node.start_mark.index].strip():
            line_start = key_node.start_mark.index     # `- key: …` inside a list item: keep the dash
        return text[:line_start] + text[_line_end(text, _node_end(child)):]
    return text


def _parent_key(root: yaml.Node, path: tuple[str, ...]) -> yaml.Node:
    node = root
    key_node: yaml.Node | None = None
    for step in path:
        assert isinstance(node, yaml.MappingNode)
        found = _lookup(node, step)
        assert found is not None
        key_node, node = found
    assert key_node is not None
    return key_node
