"""Prometheus alerting rules from SLO files: the file that gates delivery also raises the problem.

Keptn's prometheus-service generated alerts from `slo.yaml` when monitoring was configured;
this is the same idea, as a pure function. For each scored objective, the alert fires when
the SLI's query violates the pass criteria: within one criteria set every criterion must
hold (so any broken one is a violation), and the sets are alternatives (so the alert needs
every set broken). Relative criteria (`+10%`, `-5`) compare with earlier evaluations, which a
PromQL rule cannot see: they are left out, and an objective with nothing absolute to check
is skipped with a note. `$DURATION_SECONDS` becomes the alert window.

Alert labels carry `stage`, `service` and `project`, which is what the Alertmanager
receiver needs to route the problem to a remediation lane; the alert name is the SLI name,
which get-action matches as the problem's root cause.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.quality.sli import SliContext, render
from reconciler.spec.criteria import CriteriaError, Criterion, parse_criterion

if TYPE_CHECKING:
    from reconciler.spec.project import ProjectReport

NEGATE = {"<": ">=", "<=": ">", "=": "!=", ">=": "<", ">": "<="}


@dataclass
class RuleSet:
    rules: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def violation(query: str, sets: list[list[str]]) -> tuple[str | None, list[str]]:
    """PromQL that is non-empty while the pass criteria are violated, plus what was left out."""
    left_out: list[str] = []
    set_exprs = []
    for criteria in sets:
        parts = []
        for text in criteria:
            try:
                c: Criterion = parse_criterion(text)
            except CriteriaError:
                left_out.append(f"{text!r} (not a valid criterion)")
                continue
            if c.relative:
                left_out.append(f"{text!r} (relative to earlier evaluations)")
                continue
            parts.append(f"({query}) {NEGATE[c.operator]} {_number(c.value)}")
        if parts:
            set_exprs.append(parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts))
        elif criteria:
            return None, left_out          # a set with no absolute criterion can always pass
    if not set_exprs:
        return None, left_out
    expr = set_exprs[0] if len(set_exprs) == 1 else " and ".join(f"({e})" for e in set_exprs)
    return expr, left_out


def rules_for(slo: Any, indicators: Mapping[str, str], *, project: str, stage: str, service: str,
              window_seconds: int, for_: str) -> RuleSet:
    """Alerting rules for one service in one stage; `slo` is `spec.slo.ServiceLevelObjectives`."""
    out = RuleSet()
    ctx = SliContext(start=0, end=float(window_seconds), project=project, stage=stage, service=service,
                     deployment="primary", filters=dict(getattr(slo, "filter", {}) or {}))
    for objective in slo.objectives:
        sets = [list(g.criteria) for g in objective.pass_]
        if not sets:
            continue                          # informational: nothing to alert on
        query = indicators.get(objective.sli)
        if not query:
            out.notes.append(f"{stage}/{service}: {objective.sli} has no query in sli.yaml; no alert")
            continue
        expr, left_out = violation(render(query, ctx), sets)
        for item in left_out:
            out.notes.append(f"{stage}/{service}: {objective.sli}: left out {item}")
        if expr is None:
            out.notes.append(f"{stage}/{service}: {objective.sli} has no absolute pass criterion; no alert")
            continue
        criteria = " or ".join(" and ".join(s) for s in sets)
        out.rules.append({
            "alert": objective.sli,
            "expr": expr,
            "for": for_,
            "labels": {"project": project, "stage": stage, "service": service, "severity": "critical",
                       "source": "reconciler-slo"},
            "annotations": {
                "summary": f"{objective.displayName or objective.sli} of {service} in {stage} violates its SLO",
                "description": f"pass criteria: {criteria} (window {window_seconds}s)",
            },
        })
    return out


class AlertRulesError(ValueError):
    """The project cannot give rules for what was asked (no valid shipyard, unknown stage)."""


def rules_file(report: ProjectReport, stages: Sequence[str], window_seconds: int,
               for_: str) -> tuple[str, int, list[str]]:
    """The rules file for a validated project: (YAML text, number of rules, notes). Without
    `stages`, the stages that have a `remediation` sequence."""
    if report.shipyard is None:
        raise AlertRulesError("the repository has no valid shipyard.yaml on its default branch; "
                              "run `reconciler validate` first")
    wanted = list(stages) or [s.name for s in report.shipyard.stages
                              if any(q.name == "remediation" for q in s.sequences)]
    unknown = [s for s in wanted if s not in report.shipyard.stage_names]
    if unknown:
        raise AlertRulesError(f"unknown stage(s): {', '.join(unknown)}; "
                              f"the shipyard has {', '.join(report.shipyard.stage_names)}")
    project = report.project        # reconciler.yaml's metadata.name, else the repository's name
    groups: list[dict[str, Any]] = []
    notes: list[str] = []
    for (stage, service), config in sorted(report.services.items()):
        if stage not in wanted or config.slo is None:
            continue
        rules = rules_for(config.slo, config.indicators, project=project, stage=stage, service=service,
                          window_seconds=window_seconds, for_=for_)
        notes += rules.notes
        if rules.rules:
            groups.append({"name": f"reconciler-{project}-{stage}-{service}", "rules": rules.rules})
    text = "# Generated by `reconciler alerts` from the SLO files; regenerate instead of editing.\n"
    text += yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)
    return text, sum(len(g["rules"]) for g in groups), notes
