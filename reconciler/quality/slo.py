"""`slo.yaml` decoded the way Keptn's lighthouse decodes it, leniencies and rejections included.

Keptn reads the file with Go's yaml.v3 into typed structs, and that decoder decides much of
what a quality gate means: unknown keys are ignored, a scalar where a string is expected is
read as its text (a criterion `10` becomes "10"), a fractional `weight` is truncated, `key_sli`
accepts YAML 1.1 spellings (`yes`, `on`, even quoted) but not a quoted "true", and a wrong
shape (a mapping where a list belongs, a quoted weight) rejects the whole file. The scoring
engine must see exactly the values Keptn saw, so this module re-implements that decoding
instead of validating against a schema (that is `reconciler validate`'s job).

Raw YAML text is walked as a node tree so plain and quoted scalars stay distinguishable and
errors can name a line; an already-decoded mapping (JSON, a test vector) goes through the
same field rules.
"""
from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.spec import yamltext

DEFAULT_AGGREGATE = "avg"
_AGGREGATE_DEFAULT_N = 3


class SloError(ValueError):
    """An SLO Keptn would refuse to decode (`invalid_slo`); names the field and, for text, the line."""

    def __init__(self, message: str, path: tuple[Any, ...] = (), line: int | None = None):
        self.detail = message
        self.path = path
        self.line = line
        where = _format_path(path)
        if line is not None:
            where = f"line {line}" + (f" ({where})" if where else "")
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True, slots=True)
class Comparison:
    """How previous evaluations are picked and aggregated (Keptn §4/§5)."""

    compare_with: str = "single_result"
    include_result_with_score: str = "all"
    number_of_comparison_results: int = 1
    aggregate_function: str = DEFAULT_AGGREGATE

    @property
    def limit(self) -> int:
        """How many previous evaluations to compare with; 0 or less means no limit.

        Only the exact spelling `single_result` means one result; any other value, a
        missing key included, falls through to the several-results rule (quirk kept).
        """
        if self.compare_with == "single_result":
            return 1
        if self.compare_with == "several_results":
            n = self.number_of_comparison_results
            return _AGGREGATE_DEFAULT_N if n == 0 else n
        return _AGGREGATE_DEFAULT_N

    @property
    def include(self) -> str:
        """`pass`, `pass_or_warn` or `all` (Keptn compares case-insensitively; unknown → all)."""
        value = self.include_result_with_score.lower()
        return value if value in ("pass", "pass_or_warn") else "all"


@dataclass(frozen=True, slots=True)
class Objective:
    sli: str
    display_name: str = ""
    pass_sets: tuple[tuple[str, ...], ...] = ()      # OR over sets, AND inside one set
    warning_sets: tuple[tuple[str, ...], ...] = ()
    weight: int = 1
    key_sli: bool = False

    @property
    def informational(self) -> bool:
        """No pass criteria: reported, never scored (Keptn's 'info' objectives)."""
        return not self.pass_sets

    @property
    def label(self) -> str:
        return self.display_name or self.sli


@dataclass(frozen=True, slots=True)
class TotalScore:
    """Thresholds as written; they are checked at scoring time, after the criteria,
    because that is the order in which Keptn reports problems."""

    pass_: str = ""
    warning: str = ""


@dataclass(frozen=True, slots=True)
class Slo:
    objectives: tuple[Objective, ...] = ()
    total_score: TotalScore | None = None
    comparison: Comparison = Comparison()
    filter: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    spec_version: str = ""
    text: str | None = None          # the raw file, kept for the evidence document


def decode_slo(source: str | bytes | Mapping[str, Any] | Slo | None) -> Slo | None:
    """Decode raw `slo.yaml` text, an already-decoded mapping, or None.

    Returns None when there is no SLO (None or empty text: Keptn then skips the
    evaluation); raises SloError when Keptn would reject the file.
    """
    if source is None or isinstance(source, Slo):
        return source
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SloError(f"not UTF-8 text: {exc}") from None
    if isinstance(source, str):
        if source == "":
            return None
        return _decode_text(source)
    return _decode_value(source, text=None)


@functools.lru_cache(maxsize=128)
def _decode_text(text: str) -> Slo:
    """Cached by text: the same slo.yaml is evaluated again and again (every delivery, every
    remediation step) and libyaml, not scoring, is the expensive part (~10 ms for 100
    objectives). Errors are not cached; decoded SLOs are immutable."""
    try:
        root = next(iter(yaml.compose_all(text, Loader=yamltext.Loader)), None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise SloError(f"not valid YAML: {msg}", line=mark.line + 1 if mark else None) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise SloError(f"not valid YAML: {exc}") from None
    if root is None:                 # only comments or whitespace: an empty document
        return Slo(text=text)
    try:
        value = _node_value(root, ())
        return _decode_value(value, text=text)
    except SloError as exc:
        if exc.line is None and exc.path:
            line, _ = yamltext.Positions(text).of(exc.path)
            raise SloError(exc.detail, exc.path, line) from None
        raise


# --- YAML nodes → values, with yaml.v3's resolution of plain scalars -----------------------

@dataclass(frozen=True, slots=True)
class _Plain:
    """An unquoted scalar: its text (what a string field receives) and its YAML 1.2 value
    (what an integer or boolean field receives)."""

    text: str
    value: Any


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {
    **{s: math.inf for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: -math.inf for s in ("-.inf", "-.Inf", "-.INF")},
    **{s: math.nan for s in (".nan", ".NaN", ".NAN")},
}
_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INT64 = 2 ** 63


def _resolve_plain(text: str) -> Any:
    """The value yaml.v3 gives an unquoted scalar (core schema; `yes`/`on` stay strings)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    plain = text.replace("_", "")
    if _INT.fullmatch(plain):
        digits = plain.lstrip("+-")
        sign = -1 if plain.startswith("-") else 1
        base = 8 if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit() else 0
        try:
            number = sign * int(digits, base)
        except ValueError:
            number = None
        if number is not None and -_INT64 <= number < 2 * _INT64:
            return number
    if _FLOAT.fullmatch(plain):
        return float(plain)
    return text


def _node_value(node: yaml.Node, path: tuple[Any, ...]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.style:                                   # quoted or block scalar: a string
            return node.value
        if node.tag not in _IMPLICIT_TAGS:               # explicit tag such as !!str
            return node.value
        return _Plain(node.value, _resolve_plain(node.value))
    if isinstance(node, yaml.SequenceNode):
        return [_node_value(item, path + (i,)) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in out and (key in _FIELDS or path == ("filter",)):
                # yaml.v3 refuses a field set twice (and any repeated key of a map); repeated
                # keys it does not know are ignored like every unknown key.
                raise SloError(f"key {key!r} is set twice", path, key_node.start_mark.line + 1)
            out[key] = _node_value(value_node, path + (key,))
        for merge in merges:                             # `<<: *anchor` fills missing keys
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                merged = _node_value(source, path)
                if isinstance(merged, dict):
                    for key, value in merged.items():
                        out.setdefault(key, value)
        return out
    raise SloError(f"unsupported YAML node {type(node).__name__}", path)


_FIELDS = frozenset({
    "spec_version", "filter", "comparison", "objectives", "total_score", "compare_with",
    "include_result_with_score", "number_of_comparison_results", "aggregate_function", "sli",
    "displayName", "pass", "warning", "weight", "key_sli", "criteria",
})
_IMPLICIT_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


# --- values → model, with the Go field rules ----------------------------------------------

def _decode_value(value: Any, *, text: str | None) -> Slo:
    if _is_null(value):
        # `null`, `~` or a lone `---`: Keptn's lighthouse crashes on these; we refuse them.
        raise SloError("the SLO document is empty (null); write objectives and total_score")
    doc = _mapping(value, ())
    comparison_raw = doc.get("comparison")
    comparison = Comparison() if _is_null(comparison_raw) else _comparison(comparison_raw)
    objectives = tuple(
        _objective(item, ("objectives", i))
        for i, item in enumerate(_sequence(doc.get("objectives"), ("objectives",)))
        if not _is_null(item)                             # null entries are dropped
    )
    total_raw = doc.get("total_score")
    total = None if _is_null(total_raw) else _total_score(total_raw)
    filter_raw = _mapping(doc.get("filter"), ("filter",))
    return Slo(
        objectives=objectives,
        total_score=total,
        comparison=comparison,
        filter=types.MappingProxyType({k: _string(v, ("filter", k)) for k, v in filter_raw.items()}),
        spec_version=_string(doc.get("spec_version"), ("spec_version",)),
        text=text,
    )


def _comparison(raw: Any) -> Comparison:
    path = ("comparison",)
    m = _mapping(raw, path)
    # Inside a present block every missing field is Go's zero value: "" and 0.
    return Comparison(
        compare_with=_string(m.get("compare_with"), path + ("compare_with",)),
        include_result_with_score=_string(m.get("include_result_with_score"),
                                          path + ("include_result_with_score",)) or "all",
        number_of_comparison_results=_integer(m.get("number_of_comparison_results"),
                                              path + ("number_of_comparison_results",)),
        aggregate_function=_string(m.get("aggregate_function"),
                                   path + ("aggregate_function",)) or DEFAULT_AGGREGATE,
    )


def _objective(raw: Any, path: tuple[Any, ...]) -> Objective:
    m = _mapping(raw, path)
    weight = _integer(m.get("weight"), path + ("weight",))
    if weight < 0:
        # Keptn accepts these and computes scores outside 0-100 (a failing objective can lift
        # the total); refused here, see docs/compatibility.md.
        raise SloError(f"weight {weight} is negative; use a positive whole number", path + ("weight",))
    return Objective(
        sli=_string(m.get("sli"), path + ("sli",)),
        display_name=_string(m.get("displayName"), path + ("displayName",)),
        pass_sets=_criteria_sets(m.get("pass"), path + ("pass",)),
        warning_sets=_criteria_sets(m.get("warning"), path + ("warning",)),
        weight=weight if weight != 0 else 1,
        key_sli=_boolean(m.get("key_sli"), path + ("key_sli",)),
    )


def _criteria_sets(raw: Any, path: tuple[Any, ...]) -> tuple[tuple[str, ...], ...]:
    sets = []
    for i, item in enumerate(_sequence(raw, path)):
        if _is_null(item):
            # Keptn's lighthouse dereferences this and crashes; refuse it instead.
            raise SloError("a criteria entry is empty; write `- criteria: [...]`", path + (i,))
        m = _mapping(item, path + (i,))
        criteria = _sequence(m.get("criteria"), path + (i, "criteria"))
        sets.append(tuple(_string(c, path + (i, "criteria", j)) for j, c in enumerate(criteria)))
    return tuple(sets)


def _total_score(raw: Any) -> TotalScore:
    m = _mapping(raw, ("total_score",))
    return TotalScore(
        pass_=_string(m.get("pass"), ("total_score", "pass")),
        warning=_string(m.get("warning"), ("total_score", "warning")),
    )


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, _Plain) and value.value is None)


def _kind(value: Any) -> str:
    if isinstance(value, _Plain):
        value = value.value
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _mapping(value: Any, path: tuple[Any, ...]) -> Mapping[str, Any]:
    if _is_null(value):
        return {}
    if not isinstance(value, Mapping):
        what = "a mapping" if path else "a mapping with objectives and total_score"
        raise SloError(f"expected {what}, found {_kind(value)}", path)
    return value


def _sequence(value: Any, path: tuple[Any, ...]) -> list[Any]:
    if _is_null(value):
        return []
    if not isinstance(value, (list, tuple)):
        raise SloError(f"expected a list, found {_kind(value)}", path)
    return list(value)


def _string(value: Any, path: tuple[Any, ...]) -> str:
    """Go reads any scalar into a string field as its text; null is ""."""
    if _is_null(value):
        return ""
    if isinstance(value, _Plain):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)           # 2.0 stays "2.0", as written in the JSON it came from
    raise SloError(f"expected a text value, found {_kind(value)}", path)


def _integer(value: Any, path: tuple[Any, ...]) -> int:
    """Go decodes integers and truncates floats toward zero; strings and booleans are errors."""
    if _is_null(value):
        return 0
    raw = value.value if isinstance(value, _Plain) else value
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        hint = " (write it without quotes)" if isinstance(raw, str) else ""
        raise SloError(f"expected a number, found {_kind(value)} {_shown(value)}{hint}", path)
    if isinstance(raw, float):
        if not math.isfinite(raw) or not -_INT64 <= raw < _INT64:
            raise SloError(f"number {raw!r} is out of range", path)
        return int(raw)              # truncation toward zero, like Go's int64(x)
    if not -_INT64 <= raw < _INT64:
        raise SloError(f"number {raw!r} is out of range", path)
    return raw


_YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_YAML11_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})


def _boolean(value: Any, path: tuple[Any, ...]) -> bool:
    """yaml.v3 accepts true/false and the YAML 1.1 words (even quoted); "true" in quotes
    is a string and an error, as are numbers."""
    if _is_null(value):
        return False
    raw = value.value if isinstance(value, _Plain) else value
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        if raw in _YAML11_TRUE:
            return True
        if raw in _YAML11_FALSE:
            return False
    raise SloError(f"expected true or false, found {_kind(value)} {_shown(value)}", path)


def _shown(value: Any) -> str:
    return repr(value.text if isinstance(value, _Plain) else value)


def _format_path(path: tuple[Any, ...]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out

