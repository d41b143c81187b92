"""SLI file (`sli.yaml`): indicator name → provider query, and the placeholders in it.

Queries are opaque to Keptn; the Prometheus provider replaces placeholders by plain
string substitution before sending them. `placeholders()` finds `$NAME` tokens so the
validator can point at ones nothing fills in (a typo there reaches Prometheus as-is).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Filled in by every provider (keptn-spec b.1); `$LABEL.<key>` comes from event labels and
# `$<filterKey>`/`$<FILTERKEY>` from the SLO's filter.
BUILTIN_PLACEHOLDERS = frozenset({"PROJECT", "STAGE", "SERVICE", "DEPLOYMENT", "DURATION_SECONDS"})

_TOKEN = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_-]+)?")


class SliFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    spec_version: str = "1.0"
    indicators: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SliFile:
        """From a schema-valid mapping; an empty query stays empty (the SLI then fails)."""
        return cls(
            spec_version=str(data.get("spec_version") or "1.0"),
            indicators={str(k): "" if v is None else str(v) for k, v in (data.get("indicators") or {}).items()},
        )


def placeholders(query: str) -> list[str]:
    """Placeholder tokens in `query`, as written: `PROJECT`, `LABEL.team`, `customer`."""
    out = []
    for name, suffix in _TOKEN.findall(query):
        out.append(f"{name}{suffix}" if name == "LABEL" and suffix else name)
    return out


def unknown_placeholders(query: str, filter_keys: Iterable[str] = ()) -> list[str]:
    """Tokens in `query` that neither the provider nor the SLO filter fills in."""
    allowed = set(BUILTIN_PLACEHOLDERS)
    for key in filter_keys:
        allowed.add(key)
        allowed.add(key.upper())
    out = []
    for token in placeholders(query):
        if token in allowed or token.startswith("LABEL."):
            continue
        if token not in out:
            out.append(token)
    return out
