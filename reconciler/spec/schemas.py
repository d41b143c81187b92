"""The JSON schemas in `schemas/` (shipped as `reconciler/_schemas`), one reused validator
per kind, and their errors translated into findings a person can act on.

Building a Draft202012Validator is the expensive part (≈40× a validation), so each
schema is compiled once per process.
"""
from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Hashable, Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler.spec.findings import DataPath, Issue, error, warning
from reconciler.spec.kinds import Kind

# Kinds whose readers ignore unknown keys (Keptn's lenient Go decoding): an unknown key
# there is a lint warning. The other schemas say `additionalProperties: false` themselves.
LENIENT_KINDS: frozenset[str] = frozenset({"shipyard", "slo", "sli", "remediation"})

_FILE_WORDS = {"local": "local.yaml", "settings": "reconciler.yaml", "jobconfig": "job/config.yaml"}
_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "empty",
}


@functools.cache
def schema(kind: Kind) -> dict[str, Any]:
    """The parsed JSON schema for `kind` (schemas/<kind>.json)."""
    text = resources.files("reconciler").joinpath("_schemas", f"{_file(kind)}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _file(kind: str) -> str:
    return "reconciler" if kind == "settings" else kind


@functools.cache
def validator(kind: Kind) -> Draft202012Validator:
    return Draft202012Validator(schema(kind))


def dotted(path: Iterable[str | int]) -> str:
    """`spec.stages[1].sequences[0]` for a data path; keys with dots are quoted."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif "." in str(step) or " " in str(step):
            out += f'["{step}"]'
        else:
            out += ("." if out else "") + str(step)
    return out or "the document"


def describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 60 else "a string"
    return f"a {type(value).__name__}"


# --- shapes: schema results reused across documents that differ only in their strings ----
#
# jsonschema costs about as much as parsing the YAML. Config repositories hold hundreds of
# SLO/SLI files that are copies of each other with other strings in them, and for a schema
# without string-value constraints (enum, const, pattern, lengths, format) the verdict only
# depends on the document's shape: its keys, list lengths, value types and numbers.
_STRING_CONSTRAINTS = frozenset({"enum", "const", "pattern", "minLength", "maxLength", "format"})
_SHAPE_CACHE_MAX = 4096
UnknownKey = tuple[DataPath, str, list[str]]   # (path of the mapping, unknown key, known keys)
_valid_shapes: dict[str, set[Hashable]] = {}
_key_shapes: dict[str, dict[Hashable, list[UnknownKey]]] = {}


class _NoShape(Exception):
    pass


@functools.cache
def _shape_safe(kind: Kind) -> bool:
    def constrained(node: Any) -> bool:
        if isinstance(node, dict):
            return bool(_STRING_CONSTRAINTS & node.keys()) or any(constrained(v) for v in node.values())
        if isinstance(node, list):
            return any(constrained(v) for v in node)
        return False
    return not constrained(schema(kind))


def shape_of(kind: Kind, data: Any) -> Any:
    """A hashable stand-in for `data` with every string blanked, or None when the kind's
    schema looks at string values (or the data holds types YAML rarely produces)."""
    if not _shape_safe(kind):
        return None
    try:
        return _shape(data)
    except (_NoShape, RecursionError):
        return None


def _shape(data: Any, strings: bool = False) -> Any:
    """A hashable key for `data`: keys, types and numbers, and string values only when
    `strings` (a schema that never looks at string values gives the same verdict without)."""
    if isinstance(data, str):
        return data if strings else "s"
    if isinstance(data, dict):
        return ("d",) + tuple((k if isinstance(k, str) else _no_shape(), _shape(v, strings))
                              for k, v in data.items())
    if isinstance(data, list):
        return ("l",) + tuple(_shape(v, strings) for v in data)
    if data is None:
        return None
    if isinstance(data, bool):
        return ("b", data)
    if isinstance(data, (int, float)) and data == data:
        return ("n", data)
    return _no_shape()


def _no_shape() -> Any:
    raise _NoShape


def verdict_key(kind: Kind, data: Any) -> Any:
    """What schema verdicts are remembered under: the shape where the schema ignores string
    values, else the whole data, strings included (kinds like local.yaml and job/config.yaml
    are often copied unchanged across services and stages). None: do not remember."""
    if _shape_safe(kind):
        return shape_of(kind, data)
    try:
        return ("=", _shape(data, strings=True))
    except (_NoShape, RecursionError):
        return None


def reset_shape_caches() -> None:
    """Forget every remembered shape (benchmarks measuring a cold start call this)."""
    _valid_shapes.clear()
    _key_shapes.clear()


def _remember(store: Any, key: Any, value: Any = None) -> None:
    if len(store) >= _SHAPE_CACHE_MAX:
        store.clear()
    if isinstance(store, set):
        store.add(key)
    else:
        store[key] = value


def schema_issues(kind: Kind, data: Any, shape: Any = None) -> list[Issue]:
    """Errors of the compatibility schema, one per problem. `shape` (from verdict_key or
    shape_of) lets a document skip validation when another one with that key was valid."""
    valid = _valid_shapes.setdefault(kind, set())
    if shape is not None and shape in valid:
        return []
    issues: list[Issue] = []
    seen: set[tuple[str, DataPath, str]] = set()
    for err in validator(kind).iter_errors(data):
        for issue in _translate(kind, err):
            key = (issue.code, issue.path, issue.message)
            if key not in seen:
                seen.add(key)
                issues.append(issue)
    if shape is not None and not issues:
        _remember(valid, shape)
    return issues


def _subschema(kind: Kind, node: Any) -> dict[str, Any]:
    """Follow local `$ref`s (our schemas only use `#/$defs/...`)."""
    root = schema(kind)
    for _ in range(8):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
            node = root["$defs"][node["$ref"][len("#/$defs/"):]]
        else:
            break
    return node if isinstance(node, dict) else {}


def _example(sub: dict[str, Any]) -> str:
    ex = sub.get("examples")
    if isinstance(ex, list) and ex:
        return json.dumps(ex[0]) if not isinstance(ex[0], str) else ex[0]
    return ""


def _translate(kind: Kind, err: ValidationError) -> Iterator[Issue]:
    path = tuple(err.absolute_path)
    where = dotted(path)
    keyword = err.validator
    inst = err.instance
    # jsonschema types these `Any | Unset` / `Mapping | bool | Unset`: set for every error
    # iter_errors yields, and the schema of a keyword's error is a mapping in our schemas.
    value: Any = err.validator_value
    sch: Mapping[str, Any] = err.schema if isinstance(err.schema, Mapping) else {}
    if keyword == "required":
        props = sch.get("properties", {})
        for name in value:
            if isinstance(inst, dict) and name not in inst:
                ex = _example(_subschema(kind, props.get(name, {})))
                hint = f" (for example `{name}: {ex}`)" if ex else ""
                owner = "the document" if not path else f"`{where}`"
                yield error("missing-key", f"{owner} has no `{name}`; add it{hint}", path, key=True)
        return
    if keyword == "type":
        wanted = value if isinstance(value, list) else [value]
        words = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in wanted if t != "null")
        if not path:
            what = _FILE_WORDS.get(kind, kind)
            msg = (f"the file is {describe(inst)}; a {what} file must be a mapping (`key: value` lines)"
                   if inst is not None else f"the file is empty; a {what} file must be a mapping")
        else:
            msg = f"`{where}` must be {words}, not {describe(inst)}"
        yield error("wrong-type", msg, path)
        return
    if keyword in ("enum", "const"):
        allowed = value if keyword == "enum" else [value]
        choices = ", ".join(f"`{a}`" for a in allowed)
        many = "one of " if len(allowed) > 1 else ""
        yield error("bad-value", f"`{where}` must be {many}{choices}, not {describe(inst)}", path)
        return
    if keyword == "additionalProperties" and isinstance(inst, dict):
        known = sorted(sch.get("properties", {}))
        for extra in inst:
            if extra not in sch.get("properties", {}):
                yield error("unknown-key", _unknown_key_message(kind, path, str(extra), known, strict=True),
                            path + (extra,), key=True)
        return
    if keyword == "minItems":
        yield error("empty-list", f"`{where}` must have at least {value} "
                    f"entr{'y' if value == 1 else 'ies'}", path)
        return
    if keyword == "pattern":
        sub = sch
        hint = sub.get("description") or f"expected the pattern {value}"
        if "propertyNames" in err.schema_path and isinstance(inst, str):   # the culprit is a key
            yield error("bad-value", f"key {inst!r} in `{where}` is not allowed: {hint}", path + (inst,), key=True)
            return
        yield error("bad-value", f"`{where}` is {describe(inst)}: {hint}", path)
        return
    if keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        yield error("bad-value", f"`{where}` must be {bound} {value}, not {inst!r}", path)
        return
    yield error("bad-value", f"`{where}`: {err.message}", path)


def _unknown_key_message(kind: str, path: DataPath, key: str, known: list[str], *, strict: bool) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else (
        f"known keys here: {', '.join(known)}" if known else "nothing else is allowed here")
    where = f" in `{dotted(path)}`" if path else ""
    if strict:
        reader = "the job-executor-service parses job/config.yaml strictly" if kind == "jobconfig" else \
            f"{_FILE_WORDS.get(kind, kind)} is parsed strictly"
        return f"unknown key `{key}`{where}: {reader}; {hint}"
    return f"unknown key `{key}`{where} is ignored by Keptn; {hint}"


def unknown_keys(kind: Kind, data: Any, shape: Any = None) -> list[UnknownKey]:
    """(path of the mapping, unknown key, known keys) for every key the schema does not
    name, in mappings whose schema lists `properties` without closing them. The answer
    depends on keys only, so it is reused for documents of the same shape."""
    store = _key_shapes.setdefault(kind, {})
    if shape is not None and shape in store:
        return store[shape]
    out: list[UnknownKey] = []
    _walk(kind, schema(kind), data, (), out)
    if shape is not None:
        _remember(store, shape, out)
    return out


def _walk(kind: Kind, node: Any, data: Any, path: DataPath, out: list[UnknownKey]) -> None:
    node = _subschema(kind, node)
    if isinstance(data, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            if node.get("additionalProperties", True) is True:
                for key in data:
                    if key not in props:
                        out.append((path, str(key), sorted(props)))
            for key, sub in props.items():
                if key in data:
                    _walk(kind, sub, data[key], path + (key,), out)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not isinstance(props, dict):
            for key, value in data.items():
                _walk(kind, extra, value, path + (key,), out)
    elif isinstance(data, list):
        items = node.get("items")
        if isinstance(items, dict):
            for i, value in enumerate(data):
                _walk(kind, items, value, path + (i,), out)


def unknown_key_issue(kind: Kind, path: DataPath, key: str, known: list[str]) -> Issue:
    return warning("unknown-key", _unknown_key_message(kind, path, key, known, strict=False),
                   path + (key,), key=True)
