"""SLO criteria strings (`<=+10%`, `<600`, `>=-80%`), parsed exactly as Keptn 1.x does.

The validator's lint and the scoring engine share this parser so that a criterion the
linter accepts is one the quality gate can evaluate, and the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Operator = Literal["<=", "<", "=", ">=", ">"]
_OPERATORS: tuple[Operator, ...] = ("<=", "<", "=", ">=", ">")  # Keptn's prefix order


class CriteriaError(ValueError):
    """A criterion Keptn would reject; the message is Keptn's wording."""


@dataclass(frozen=True, slots=True)
class Criterion:
    text: str                 # the original string, spaces kept (reported back as-is)
    operator: Operator
    value: float
    relative: bool            # `+`, `-` or `%` make it relative to the baseline
    percent: bool
    decrease: bool

    def target(self, baseline: float | None) -> float:
        """Target value; relative criteria without a baseline report 0 (Keptn)."""
        if not self.relative:
            return self.value
        if baseline is None:
            return 0.0
        if self.percent:
            factor = 100 - self.value if self.decrease else 100 + self.value
            return (baseline * factor) / 100   # this order reproduces Keptn's doubles
        return baseline - self.value if self.decrease else baseline + self.value

    def met(self, measured: float, baseline: float | None) -> bool:
        """Relative criteria are satisfied when there is no baseline (Keptn §5)."""
        if self.relative and baseline is None:
            return True
        t = self.target(baseline)
        op = self.operator
        if op == "<":
            return measured < t
        if op == "<=":
            return measured <= t
        if op == "=":
            return measured == t
        if op == ">=":
            return measured >= t
        return measured > t


def parse_criterion(text: str) -> Criterion:
    """Parse one criterion; raises CriteriaError for anything Keptn would reject."""
    if not isinstance(text, str):
        raise CriteriaError("invalid criteria string")
    s = text.replace(" ", "")          # only ASCII spaces; tabs stay and then fail
    if not s or s[0] not in "<=>|":
        raise CriteriaError("invalid criteria string")
    operator = next((op for op in _OPERATORS if s.startswith(op)), None)
    if operator is None:                # a leading `|` (artefact of Keptn's pattern)
        raise CriteriaError("could not parse criteria target value")
    rest = s[len(operator):]
    percent = rest.endswith("%")
    if percent:
        rest = rest[:-1]
    decrease = rest.startswith("-")
    relative = percent
    if decrease or rest.startswith("+"):
        rest, relative = rest[1:], True
    try:
        value = go_parse_float(rest)
    except ValueError:
        raise CriteriaError("could not parse criteria target value") from None
    return Criterion(text, operator, value, relative, percent, decrease)


def go_parse_float(s: str) -> float:
    """Go's strconv.ParseFloat for the inputs Keptn feeds it (criteria values and the
    `total_score` thresholds): decimal with optional sign, dot and exponent,
    `inf`/`infinity`/`nan`, and hex floats (which Go only accepts with a `p` exponent).
    Raises ValueError for anything Go would reject; Python's own float() accepts more
    (`1_0`, surrounding whitespace), which is why it is not called directly."""
    bare = s.lower().lstrip("+-")
    if bare.startswith("0x"):
        if "p" not in bare:
            raise ValueError(f"invalid syntax: {s!r}")
        return float.fromhex(s)
    if bare in ("inf", "infinity", "nan"):
        return float(s)
    if not s or any(c not in "0123456789.eE+-" for c in s):
        raise ValueError(f"invalid syntax: {s!r}")
    return float(s)

