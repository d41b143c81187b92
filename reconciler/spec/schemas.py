"""The JSON schemas in `schemas/` (shipped as `reconciler/_schemas`), one reused validator
per kind, and their errors translated into findings a person can act on.

Building a Draft202012Validator is the expensive part (≈40× a validation), so each
schema is compiled once per process.
"""
from __future__ import annotations

import difflib
import functools
import json
from importlib import resources
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler.spec.findings import Issue, error, warning
from reconciler.spec.kinds import Kind

# Kinds whose readers ignore unknown keys (Keptn's lenient Go decoding): an unknown key
# there is a lint warning. The other schemas say `additionalProperties: false` themselves.
LENIENT_KINDS: frozenset[str] = frozenset({"shipyard", "slo", "sli", "remediation"})

_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "empty",
}


@functools.cache
def schema(kind: Kind) -> dict[str, Any]:
    """The parsed JSON schema for `kind` (schemas/<kind>.json)."""
    text = resources.files("reconciler").joinpath("_schemas", f"{_file(kind)}.json").read_text("utf-8")
    return json.loads(text)


def _file(kind: str) -> str:
    return "reconciler" if kind == "settings" else kind


@functools.cache
def validator(kind: Kind) -> Draft202012Validator:
    return Draft202012Validator(schema(kind))


def dotted(path) -> str:
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


def schema_issues(kind: Kind, data: Any) -> list[Issue]:
    """Errors of the compatibility schema, one per problem, in document order."""
    issues: list[Issue] = []
    seen: set[tuple] = set()
    for err in validator(kind).iter_errors(data):
        for issue in _translate(kind, err):
            key = (issue.code, issue.path, issue.message)
            if key not in seen:
                seen.add(key)
                issues.append(issue)
    return issues


def _subschema(kind: Kind, node: Any) -> dict:
    """Follow local `$ref`s (our schemas only use `#/$defs/...`)."""
    root = schema(kind)
    for _ in range(8):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
            node = root["$defs"][node["$ref"][len("#/$defs/"):]]
        else:
            break
    return node if isinstance(node, dict) else {}


def _example(sub: dict) -> str:
    ex = sub.get("examples")
    if isinstance(ex, list) and ex:
        return json.dumps(ex[0]) if not isinstance(ex[0], str) else ex[0]
    return ""


def _translate(kind: Kind, err: ValidationError) -> Iterator[Issue]:
    path = tuple(err.absolute_path)
    where = dotted(path)
    keyword = err.validator
    inst = err.instance
    if keyword == "required":
        props = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
        for name in err.validator_value:
            if isinstance(inst, dict) and name not in inst:
                ex = _example(_subschema(kind, props.get(name, {})))
                hint = f" (for example `{name}: {ex}`)" if ex else ""
                owner = "the document" if not path else f"`{where}`"
                yield error("missing-key", f"{owner} has no `{name}`; add it{hint}", path, key=True)
        return
    if keyword == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted if t != "null")
        if not path:
            msg = (f"the file is {describe(inst)}; a {kind} file must be a mapping (`key: value` lines)"
                   if inst is not None else f"the file is empty; a {kind} file must be a mapping")
        else:
            msg = f"`{where}` must be {words}, not {describe(inst)}"
        yield error("wrong-type", msg, path)
        return
    if keyword in ("enum", "const"):
        allowed = err.validator_value if keyword == "enum" else [err.validator_value]
        choices = ", ".join(f"`{a}`" for a in allowed)
        many = "one of " if len(allowed) > 1 else ""
        yield error("bad-value", f"`{where}` must be {many}{choices}, not {describe(inst)}", path)
        return
    if keyword == "additionalProperties" and isinstance(inst, dict):
        known = sorted(err.schema.get("properties", {}))
        for extra in inst:
            if extra not in err.schema.get("properties", {}):
                yield error("unknown-key", _unknown_key_message(kind, path, str(extra), known, strict=True),
                            path + (extra,), key=True)
        return
    if keyword == "minItems":
        yield error("empty-list", f"`{where}` must have at least {err.validator_value} "
                    f"entr{'y' if err.validator_value == 1 else 'ies'}", path)
        return
    if keyword == "pattern":
        sub = err.schema if isinstance(err.schema, dict) else {}
        hint = sub.get("description") or f"expected the pattern {err.validator_value}"
        yield error("bad-value", f"`{where}` is {describe(inst)}: {hint}", path)
        return
    if keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        yield error("bad-value", f"`{where}` must be {bound} {err.validator_value}, not {inst!r}", path)
        return
    yield error("bad-value", f"`{where}`: {err.message}", path)


def _unknown_key_message(kind: str, path: tuple, key: str, known: list[str], *, strict: bool) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else (
        f"known keys here: {', '.join(known)}" if known else "nothing else is allowed here")
    where = f" in `{dotted(path)}`" if path else ""
    if strict:
        reader = "the job-executor-service parses job/config.yaml strictly" if kind == "jobconfig" else \
            "reconciler.yaml is parsed strictly"
        return f"unknown key `{key}`{where}: {reader}; {hint}"
    return f"unknown key `{key}`{where} is ignored by Keptn; {hint}"


def unknown_keys(kind: Kind, data: Any) -> list[tuple[tuple, str, list[str]]]:
    """(path of the mapping, unknown key, known keys) for every key the schema does not
    name, in mappings whose schema lists `properties` without closing them."""
    out: list[tuple[tuple, str, list[str]]] = []
    _walk(kind, schema(kind), data, (), out)
    return out


def _walk(kind: Kind, node: Any, data: Any, path: tuple, out: list) -> None:
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


def unknown_key_issue(kind: Kind, path: tuple, key: str, known: list[str]) -> Issue:
    return warning("unknown-key", _unknown_key_message(kind, path, key, known, strict=False),
                   path + (key,), key=True)
