"""An SLI value as a provider reports it: a number, or a failure with its reason.

Keptn's `get-sli.finished` carries `{metric, value, success, message}`; a failed retrieval is
`success: false` with the provider's message. Keeping the reason with the value is what lets
the evidence say *why* an objective failed (no sample, NaN, a query error).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SliValue:
    metric: str
    value: float = 0.0
    success: bool = True
    message: str = ""
    query: str | None = None       # the query that produced it, for the evidence

    @classmethod
    def ok(cls, metric: str, value: float, query: str | None = None) -> SliValue:
        return cls(metric, float(value), True, "", query)

    @classmethod
    def failed(cls, metric: str, message: str, query: str | None = None) -> SliValue:
        return cls(metric, 0.0, False, message, query)

    @property
    def usable(self) -> bool:
        """A value scoring may compare. Missing data is never a pass: NaN and ±Inf count
        as failed even if a provider marked them successful."""
        return self.success and math.isfinite(self.value)

    @property
    def reason(self) -> str:
        """Why the value cannot be used ('' when it can)."""
        if not self.success:
            return self.message or "the SLI provider reported a failure"
        if not math.isfinite(self.value):
            return f"the SLI value is {self.value!r}, not a number that can be compared"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """Keptn's shape: `{metric, value, success, message?}` (plus `query` when known)."""
        out: dict[str, Any] = {"metric": self.metric, "value": self.value, "success": self.success}
        if self.message:
            out["message"] = self.message
        if self.query is not None:
            out["query"] = self.query
        return out


class ValuesError(ValueError):
    """An SLI value in a file or event that is neither a number nor `{"error": ...}`."""


def value_from_json(metric: str, raw: Any) -> SliValue:
    """`12.5` → a value; `{"error": "msg"}` → a failure; Keptn's `{value, success, message}` too."""
    if isinstance(raw, bool) or raw is None:
        raise ValuesError(f"SLI {metric!r}: expected a number or {{\"error\": \"...\"}}, found {raw!r}")
    if isinstance(raw, (int, float)):
        return SliValue.ok(metric, raw)
    if isinstance(raw, Mapping):
        query = raw.get("query") if isinstance(raw.get("query"), str) else None
        if "error" in raw:
            return SliValue.failed(metric, str(raw["error"]), query)
        if "success" in raw or "value" in raw:
            success = raw.get("success", True)
            value = raw.get("value", 0)
            if not isinstance(success, bool) or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValuesError(f"SLI {metric!r}: `success` must be a boolean and `value` a number")
            if success:
                return SliValue.ok(metric, value, query)
            return SliValue.failed(metric, str(raw.get("message") or ""), query)
    raise ValuesError(f"SLI {metric!r}: expected a number or {{\"error\": \"...\"}}, found {raw!r}")


def values_from_json(raw: Any) -> dict[str, SliValue]:
    """A JSON object SLI name → number or `{"error": ...}` (the `--values` file of DESIGN §6)."""
    if not isinstance(raw, Mapping):
        raise ValuesError("expected a JSON object mapping SLI names to numbers or {\"error\": \"...\"}")
    return {str(name): value_from_json(str(name), value) for name, value in raw.items()}
