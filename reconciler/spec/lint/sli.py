"""SLI lint: indicators that cannot produce a value."""
from __future__ import annotations

from typing import Any

from reconciler.spec.findings import Issue, warning
from reconciler.spec.lint.access import as_dict


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    indicators = as_dict(data.get("indicators"))
    if not indicators:
        return [warning("no-indicators", "this SLI file defines no indicators; add `indicators: {<sli name>: "
                        "<query>}`", ("indicators",) if "indicators" in data else (), key=True)]
    out: list[Issue] = []
    for name, query in indicators.items():
        if query is None or (isinstance(query, str) and not query.strip()):
            out.append(warning("empty-query", f"SLI {name!r} has an empty query, so every objective on it "
                               "fails; write the query or remove the line", ("indicators", name), key=True))
    return out
