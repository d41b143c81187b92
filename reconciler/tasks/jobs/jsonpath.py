"""The JSONPath subset job configs use (`$.data.deployment.deploymentURIsLocal[0]`).

Supported: `$` (the whole event), `.name` (letters, digits, `_`, `-`), `['name']` / `["name"]`
(any key, with `\\'` and `\\"` escapes), `[n]` and `[-n]` (from the end), and the wildcards
`.*` / `[*]`, which turn the result into a list (later steps apply to each element; elements
where they fail are left out). Not supported, and rejected with a clear error instead of
being guessed: recursive descent `..`, filters `[?(...)]`, slices `[a:b]`, unions `[a,b]`.

A missing key or an index out of range is an error, as in the PaesslerAG/jsonpath library
JES uses: for an action's `jsonpath` filter that means "no match", for `valueFrom: event` the
task fails.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_\-]+")
_INDEX = re.compile(r"-?\d+")


class JsonPathError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Key:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    value: int


@dataclass(frozen=True, slots=True)
class Wildcard:
    pass


Step = Key | Index | Wildcard


def parse(path: str) -> list[Step]:
    """Steps of a path; JsonPathError names the position of anything unsupported."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise JsonPathError(f"JSONPath {path!r} must start with '$'")
    steps: list[Step] = []
    i, n = 1, len(path)
    while i < n:
        ch = path[i]
        if path.startswith("..", i):
            raise JsonPathError(f"JSONPath {path!r}: recursive descent '..' is not supported")
        if ch == ".":
            if i + 1 < n and path[i + 1] == "*":
                steps.append(Wildcard())
                i += 2
                continue
            m = _NAME.match(path, i + 1)
            if not m:
                raise JsonPathError(f"JSONPath {path!r}: expected a name after '.' at position {i + 1}")
            steps.append(Key(m.group()))
            i = m.end()
        elif ch == "[":
            close, step = _bracket(path, i)
            steps.append(step)
            i = close + 1
        else:
            raise JsonPathError(f"JSONPath {path!r}: unexpected {ch!r} at position {i}")
    return steps


def _bracket(path: str, start: int) -> tuple[int, Step]:
    i = start + 1
    if i < len(path) and path[i] in "'\"":
        quote, buf, i = path[i], [], i + 1
        while i < len(path):
            if path[i] == "\\" and i + 1 < len(path):
                buf.append(path[i + 1])
                i += 2
                continue
            if path[i] == quote:
                if i + 1 < len(path) and path[i + 1] == "]":
                    return i + 1, Key("".join(buf))
                break
            buf.append(path[i])
            i += 1
        raise JsonPathError(f"JSONPath {path!r}: unterminated quoted key at position {start}")
    close = path.find("]", start)
    if close == -1:
        raise JsonPathError(f"JSONPath {path!r}: missing ']' for '[' at position {start}")
    inner = path[start + 1:close].strip()
    if inner == "*":
        return close, Wildcard()
    if _INDEX.fullmatch(inner):
        return close, Index(int(inner))
    raise JsonPathError(f"JSONPath {path!r}: '[{inner}]' is not supported (only [n], [*] and ['key'])")


def _step(value: Any, step: Step) -> Any:
    if isinstance(step, Key):
        if isinstance(value, dict) and step.name in value:
            return value[step.name]
        raise JsonPathError(f"unknown key {step.name}")
    if isinstance(step, Index):
        if isinstance(value, list) and -len(value) <= step.value < len(value):
            return value[step.value]
        raise JsonPathError(f"index {step.value} out of range")
    raise AssertionError(step)


def evaluate(path: str, document: Any) -> Any:
    """The value at `path`; JsonPathError when the path is invalid or leads nowhere."""
    steps = parse(path)
    value: Any = document
    for pos, step in enumerate(steps):
        if isinstance(step, Wildcard):
            if isinstance(value, dict):
                items = [value[k] for k in sorted(value, key=str)]
            elif isinstance(value, list):
                items = list(value)
            else:
                raise JsonPathError(f"JSONPath {path!r}: '*' applied to a scalar")
            return _each(items, steps[pos + 1:])
        try:
            value = _step(value, step)
        except JsonPathError as exc:
            raise JsonPathError(f"JSONPath {path!r}: {exc}") from None
    return value


def _each(items: list[Any], rest: list[Step]) -> list[Any]:
    """Apply `rest` to every item; nested wildcards flatten, failing items are left out."""
    out: list[Any] = []
    for item in items:
        try:
            value = item
            for pos, step in enumerate(rest):
                if isinstance(step, Wildcard):
                    if isinstance(value, dict):
                        inner = [value[k] for k in sorted(value, key=str)]
                    elif isinstance(value, list):
                        inner = list(value)
                    else:
                        raise JsonPathError("'*' applied to a scalar")
                    out.extend(_each(inner, rest[pos + 1:]))
                    break
                value = _step(value, step)
            else:
                out.append(value)
        except JsonPathError:
            continue
    return out
