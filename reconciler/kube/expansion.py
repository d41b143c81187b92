"""Kubernetes' `$(VAR)` expansion of command and args, as a pure function.

The rules (kubelet, `third_party/forked/golang/expansion`): `$(NAME)` becomes the variable's
value when NAME is defined and stays as written when it is not; `$$` is an escaped `$`; a `$`
followed by anything else, or a `$(` without a closing `)`, stays as written. Expansion is a
single pass: a value that itself contains `$(...)` is inserted literally and never expanded
again, which is what keeps event data inert.

`tokens()` splits a string into literal text and references, so callers can render it for a
local process (`expand`) or re-escape it for a kubelet that will expand again
(`escape_for_kubelet`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ref:
    """A `$(name)` reference."""
    name: str


Token = str | Ref


def tokens(text: str) -> list[Token]:
    """Literal strings and Refs, in order; adjacent literals are merged."""
    out: list[Token] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":                       # escaped operator
                buf.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close == -1:                  # incomplete reference: literal
                    buf.append("$(")
                    i += 2
                    continue
                if buf:
                    out.append("".join(buf))
                    buf = []
                out.append(Ref(text[i + 2:close]))
                i = close + 1
                continue
            buf.append("$" + nxt)                # `$x`: not an expression
            i += 2
            continue
        buf.append(ch)
        i += 1
    if buf:
        out.append("".join(buf))
    return out


def expand(text: str, variables: Mapping[str, str] | Callable[[str], str | None]) -> str:
    """Expand `$(NAME)` in one string exactly like the kubelet does."""
    lookup = variables if callable(variables) else variables.get
    parts = []
    for tok in tokens(text):
        if isinstance(tok, Ref):
            value = lookup(tok.name)
            parts.append(f"$({tok.name})" if value is None else value)
        else:
            parts.append(tok)
    return "".join(parts)


def escape(text: str) -> str:
    """Make `text` come out of the kubelet's expansion unchanged (`$` -> `$$`)."""
    return text.replace("$", "$$")


def escape_for_kubelet(text: str, values: Mapping[str, str], keep: frozenset[str] = frozenset()) -> str:
    """Expand with `values` now, leave references to `keep` (e.g. secret keys the pod gets
    through envFrom) for the kubelet, and escape everything else so the kubelet's own pass
    changes nothing more."""
    parts = []
    for tok in tokens(text):
        if isinstance(tok, Ref):
            if tok.name in values:
                parts.append(escape(values[tok.name]))
            elif tok.name in keep:
                parts.append(f"$({tok.name})")
            else:
                parts.append(escape(f"$({tok.name})"))
        else:
            parts.append(escape(tok))
    return "".join(parts)
