"""SLO lint: files the lighthouse accepts but cannot evaluate, or evaluates to a fixed
result. Criteria are parsed by the same parser the quality gate uses."""
from __future__ import annotations

import re
from typing import Any

from reconciler.spec.criteria import CriteriaError, parse_criterion
from reconciler.spec.findings import Issue, error, warning
from reconciler.spec.lint.access import as_dict, as_list, entries

_SCORE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")
COMPARE_WITH = ("single_result", "several_results")
INCLUDE_RESULTS = ("all", "pass", "pass_or_warn")


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    out: list[Issue] = []
    out += _total_score(data)
    objectives = data.get("objectives")
    if not as_list(objectives):
        out.append(warning("no-objectives", "this SLO has no objectives, so every evaluation ends in fail; add "
                           "objectives or delete the file (no slo.yaml means no quality gate)",
                           ("objectives",) if "objectives" in data else (), key=True))
    seen: dict[str, str | int] = {}
    for path, objective in entries(data, "objectives", ()):
        sli = objective.get("sli")
        if isinstance(sli, str):
            if sli in seen:
                out.append(warning("duplicate-objective", f"SLI {sli!r} already has an objective (objectives"
                                   f"[{seen[sli]}]); both are scored separately", path + ("sli",)))
            else:
                seen[sli] = path[-1]
        informational = not as_list(objective.get("pass"))
        for group in ("pass", "warning"):
            for gpath, entry in entries(objective, group, path):
                for i, criterion in enumerate(as_list(entry.get("criteria"))):
                    if not isinstance(criterion, str):
                        continue
                    try:
                        parse_criterion(criterion)
                    except CriteriaError as exc:
                        if informational:   # never evaluated (Keptn neither): harmless, but a typo
                            out.append(warning("bad-criteria", f"criterion {criterion!r} does not parse ({exc}); "
                                               "this objective has no pass criteria, so it is informational and "
                                               "the criterion is ignored", gpath + ("criteria", i)))
                            continue
                        out.append(error("bad-criteria", f"criterion {criterion!r} does not parse ({exc}); the "
                                         "evaluation fails on it. Write an operator (<, <=, =, >=, >), an optional "
                                         "+/-, a number and an optional %, e.g. \"<=800\" or \"<=+10%\"",
                                         gpath + ("criteria", i)))
    comparison = as_dict(data.get("comparison"))
    for key, allowed in (("compare_with", COMPARE_WITH), ("include_result_with_score", INCLUDE_RESULTS)):
        value = comparison.get(key)
        if isinstance(value, str) and value not in allowed:
            out.append(warning("unknown-value", f"comparison.{key} {value!r} is not one of {', '.join(allowed)}; "
                               "Keptn treats it as the default", ("comparison", key)))
    return out


def _total_score(data: dict[str, Any]) -> list[Issue]:
    total = data.get("total_score")
    if not isinstance(total, dict) or total.get("pass") is None:
        where = ("total_score",) if "total_score" in data else ()
        return [error("missing-total-score", "no `total_score.pass`: Keptn's evaluation errors on every run "
                      "('no target score defined'); add `total_score: {pass: \"90%\", warning: \"75%\"}`",
                      where, key=True)]
    out: list[Issue] = []
    values: dict[str, float] = {}
    for key in ("pass", "warning"):
        value = total.get(key)
        if value is None or isinstance(value, bool):
            continue
        m = _SCORE.match(str(value))
        if not m:
            out.append(error("bad-score", f"total_score.{key} {value!r} is not a percentage; write e.g. \"90%\"",
                             ("total_score", key)))
        else:
            values[key] = float(m.group(1))
    if "pass" in values and "warning" in values and values["warning"] > values["pass"]:
        out.append(warning("score-order", f"total_score.warning ({values['warning']:g}%) is above total_score.pass "
                           f"({values['pass']:g}%), so no evaluation can end in warning", ("total_score", "warning")))
    return out
