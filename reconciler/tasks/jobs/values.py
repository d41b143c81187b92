"""How a value taken from an event becomes an environment variable (JES' generateEnvFromEvent).

`as: yaml` → YAML; `as: json`, or any map → JSON; otherwise Go's `%v` of the decoded JSON
value: strings as they are, numbers as Go prints a float64 (`3`, `0.5`, `1e+06`), booleans
`true`/`false`, null `<nil>`, lists `[a b]`, nested maps `map[k:v]` (keys sorted).
"""
from __future__ import annotations

import json
import math
from typing import Any

import yaml


def go_float(value: float) -> str:
    """Go's `%v` of a float64 (strconv 'g', shortest): the exponent form when the decimal
    exponent is < -4 or >= 6, so 1000000 prints as `1e+06`, as JSON numbers do in Go."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    digits, exp = _shortest(value)
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if value < 0 else ""
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    text = repr(abs(value))
    if "e" in text or "E" in text:
        text = format(abs(value), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    elif text.endswith(".0"):
        text = text[:-2]
    return ("-" if value < 0 else "") + text


def _shortest(value: float) -> tuple[str, int]:
    text = repr(abs(value))
    # repr gives the shortest round-trip digits; normalise them to d.ddd and an exponent
    if "e" in text:
        base, _, e = text.partition("e")
        digits = base.replace(".", "").lstrip("0") or "0"
        exp = int(e) + (len(base.split(".")[0]) - 1)
    else:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        if whole.strip("0"):
            digits = (whole.lstrip("0") + frac).rstrip("0") or "0"
            exp = len(whole.lstrip("0")) - 1
        else:
            stripped = frac.lstrip("0")
            digits = stripped.rstrip("0") or "0"
            exp = -(len(frac) - len(stripped)) - 1
    return digits, exp


def go_value(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value, key=str)) + "]"
    return str(value)


def format_event_value(value: Any, fmt: str) -> str:
    """The env var text for `value` with the task's `as` (case-insensitive, as in JES)."""
    kind = (fmt or "").lower()
    if kind == "yaml":
        text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True, allow_unicode=True)
        return text[:-4] if text.endswith("\n...\n") else text
    if kind == "json" or isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return go_value(value)
