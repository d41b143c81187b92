"""The quality gate: SLO + SLI values + earlier evaluations → a verdict that explains itself.

This is Keptn 1.2–1.4's lighthouse arithmetic (reference/keptn-evaluation.md §6–§9), with
the deviations listed in docs/compatibility.md. `evaluate` is the one entry point: the
engine's evaluation task, `reconciler evaluate` and the conformance suite all call it, so a
verdict seen in one place is the verdict everywhere.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.quality.history import (
    PreviousEvaluation,
    baseline,
    previous_from_json,
    select,
    values_by_sli,
)
from reconciler.quality.slo import Objective, Slo, SloError, TotalScore, decode_slo
from reconciler.quality.values import SliValue, value_from_json
from reconciler.spec.criteria import CriteriaError, Criterion, go_parse_float, parse_criterion

Result = Literal["pass", "warning", "fail"]
Status = Literal["pass", "warning", "fail", "info"]
ErrorKind = Literal["invalid_slo", "invalid_criteria", "invalid_total_score", "sli_retrieval_failed"]

NO_VALUE = "no value received from SLI provider"


@dataclass(frozen=True, slots=True)
class Target:
    criteria: str              # as written in slo.yaml, spaces kept
    target_value: float
    violated: bool

    def to_keptn(self) -> dict[str, Any]:
        return {"criteria": self.criteria, "targetValue": self.target_value, "violated": self.violated}

    def to_json(self) -> dict[str, Any]:
        return {"criteria": self.criteria, "target_value": self.target_value, "violated": self.violated}


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    objective: Objective
    status: Status
    score: float                       # points: weight, weight/2 or 0
    value: SliValue | None             # None: an informational SLI the provider did not return
    compared_value: float              # the baseline (0 when there is none)
    pass_targets: tuple[Target, ...] = ()
    warning_targets: tuple[Target, ...] = ()
    key_sli: bool = False              # Keptn's keySli: true only when criteria were evaluated

    @property
    def sli(self) -> str:
        return self.objective.sli

    @property
    def error(self) -> str:
        """Why the value could not be used ('' when it could or when there is none)."""
        return self.value.reason if self.value is not None else ""

    def indicator_result(self) -> dict[str, Any]:
        """Keptn's `indicatorResults[]` entry, plus the objective's `sli`."""
        value = None
        if self.value is not None:
            value = {"metric": self.value.metric, "value": self.value.value,
                     "comparedValue": self.compared_value, "success": self.value.success}
            if self.value.message:
                value["message"] = self.value.message
        return {
            "sli": self.sli,
            "displayName": self.objective.display_name,
            "status": self.status,
            "score": self.score,
            "keySli": self.key_sli,
            "value": value,
            "passTargets": [t.to_keptn() for t in self.pass_targets],
            "warningTargets": [t.to_keptn() for t in self.warning_targets],
        }

    def to_json(self) -> dict[str, Any]:
        """The objective entry of `reconciler evaluate --output json` (DESIGN §6)."""
        out: dict[str, Any] = {
            "sli": self.sli,
            "status": self.status,
            "score": self.score,
            "value": self.value.value if self.value is not None and self.value.success else None,
            "pass_targets": [t.to_json() for t in self.pass_targets],
            "warning_targets": [t.to_json() for t in self.warning_targets],
            "display_name": self.objective.display_name,
            "weight": self.objective.weight,
            "key_sli": self.objective.key_sli,
            "compared_value": self.compared_value,
        }
        if self.error:
            out["error"] = self.error
        if self.value is not None and self.value.query is not None:
            out["query"] = self.value.query
        return out


@dataclass(frozen=True, slots=True)
class Evaluation:
    result: Result                     # Keptn's data.evaluation.result
    score: float
    event_result: Result               # Keptn's data.result: what sequences and exit codes follow
    event_status: Literal["succeeded", "errored"]
    message: str
    error: str | None = None
    error_kind: ErrorKind | None = None
    compared_count: int | None = None  # set whenever the SLO was usable and nothing was rejected
    compared: tuple[str, ...] = ()     # ids of the compared evaluations
    objectives: tuple[ObjectiveResult, ...] = ()
    pass_threshold: float | None = None
    warning_threshold: float | None = None
    slo: Slo | None = None
    slo_text: str | None = None        # the file as given, kept even when it was rejected
    sli_values: Mapping[str, SliValue] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """pass or warning: the gate lets the change through."""
        return self.event_result in ("pass", "warning")

    @property
    def indicator_results(self) -> list[dict[str, Any]] | None:
        return [o.indicator_result() for o in self.objectives] if self.objectives else None

    def to_json(self) -> dict[str, Any]:
        """`{result, score, compared_count, objectives, error?, error_kind?}` (DESIGN §6) plus
        the event-level result/status and the message."""
        out: dict[str, Any] = {
            "result": self.result,
            "score": self.score,
            "compared_count": self.compared_count,
            "objectives": [o.to_json() for o in self.objectives],
            "event_result": self.event_result,
            "event_status": self.event_status,
            "message": self.message,
            "pass_threshold": self.pass_threshold,
            "warning_threshold": self.warning_threshold,
        }
        if self.error is not None:
            out["error"] = self.error
            out["error_kind"] = self.error_kind
        return out


def evaluate(
    slo: str | bytes | Mapping[str, Any] | Slo | None,
    sli_results: Mapping[str, SliValue | float | Mapping[str, Any]],
    history: Iterable[PreviousEvaluation | Mapping[str, Any]] = (),
    *,
    sli_event_result: str = "pass",
    sli_event_status: str = "succeeded",
    sli_event_message: str = "",
    project: str = "",
) -> Evaluation:
    """Score one evaluation.

    `slo`: raw `slo.yaml` text, a decoded mapping, a decoded `Slo`, or None (no SLO file).
    `sli_results`: SLI name → value (a `SliValue`, a number, or `{"error": msg}`).
    `history`: earlier evaluations, newest first (unfiltered; selection happens here).
    `sli_event_*`: result/status/message of the SLI retrieval (Keptn's get-sli.finished).
    Raises ValuesError/HistoryError only for malformed inputs; everything Keptn rejects is
    returned as an Evaluation with `error`/`error_kind`.
    """
    if slo is None or (isinstance(slo, (str, bytes)) and len(slo) == 0):
        return not_evaluated(
            f"no evaluation performed by lighthouse because no SLO file configured for project {project}")
    values = {name: _usable_or_failed(v if isinstance(v, SliValue) else value_from_json(name, v))
              for name, v in sli_results.items()}
    text = _text_of(slo)
    if sli_event_status in ("errored", "aborted"):
        # Keptn leaves evaluation.result at "pass" here; a gate whose provider failed must not
        # pass (DESIGN §3, docs/compatibility.md), so the verdict is fail.
        detail = sli_event_message or f"the SLI retrieval was {sli_event_status}"
        return _rejected(f"lighthouse failed because SLI failed with message {detail}",
                         "sli_retrieval_failed", "errored", slo_text=text, sli_values=values)
    try:
        decoded = decode_slo(slo)
    except SloError as exc:
        return _rejected(f"invalid SLO: {exc}", "invalid_slo", "errored", slo_text=text, sli_values=values)
    assert decoded is not None
    try:
        parsed = [_parse_objective(o) for o in decoded.objectives]
    except _ObjectiveCriteriaError as exc:
        return _rejected(str(exc), "invalid_criteria", "succeeded", slo=decoded, slo_text=text,
                         sli_values=values)

    previous = [p if isinstance(p, PreviousEvaluation) else previous_from_json(p, i)
                for i, p in enumerate(history)]
    selected = select(previous, decoded.comparison)
    earlier = values_by_sli(selected)
    aggregate = decoded.comparison.aggregate_function

    results: list[ObjectiveResult] = []
    maximum = 0
    achieved = 0.0
    key_failure: ObjectiveResult | None = None
    for objective, (pass_sets, warning_sets) in zip(decoded.objectives, parsed, strict=True):
        if pass_sets:
            maximum += objective.weight
        base = baseline(earlier, objective.sli, aggregate)
        scored = _score_objective(objective, pass_sets, warning_sets, values.get(objective.sli), base)
        results.append(scored)
        achieved += scored.score
        if scored.status == "fail" and objective.key_sli and key_failure is None:
            key_failure = scored

    thresholds = _thresholds(decoded.total_score)
    if isinstance(thresholds, str):
        return _rejected(thresholds, "invalid_total_score", "errored", slo=decoded, slo_text=text,
                         sli_values=values)
    pass_at, warn_at = thresholds
    verdict = functools.partial(Evaluation, compared_count=len(selected), compared=tuple(p.id for p in selected),
                                pass_threshold=pass_at, warning_threshold=warn_at, slo=decoded, slo_text=text,
                                sli_values=values)

    if not decoded.objectives:
        # Keptn computes 0 against the pass threshold here, so a `0%` threshold "passes";
        # an SLO without objectives checks nothing and fails (docs/compatibility.md).
        return verdict("fail", 0.0, "fail", "succeeded", "lighthouse failed because no SLO objective was provided")

    if maximum == 0:                     # only informational objectives
        score = 100.0
    else:
        score = 100 * (achieved / maximum)
    objective_slis = {o.sli for o in decoded.objectives}
    unused = [name for name in values if name not in objective_slis]
    result, message = _verdict(score, pass_at, warn_at, key_failure)
    missing = [f"{o.sli} ({o.error})" for o in results if o.status == "fail" and o.error and o is not key_failure]
    if missing and result != "pass":
        message += f". SLIs without usable data (missing data never passes): {'; '.join(missing)}"
    if unused:
        message += f". SLIs without an objective (not scored): {', '.join(unused)}"
    event_result: Result = "fail" if sli_event_result == "fail" else result
    return verdict(result, score, event_result, "succeeded", message, objectives=tuple(results))


def _usable_or_failed(value: SliValue) -> SliValue:
    """NaN/±Inf marked successful become failures with the reason (missing data never passes)."""
    if value.success and not value.usable:
        return SliValue.failed(value.metric, value.reason, value.query)
    return value


def not_evaluated(message: str) -> Evaluation:
    """Keptn's "nothing to evaluate" pass (no SLO file, or no SLI provider configured)."""
    return Evaluation("pass", 0.0, "pass", "succeeded", message)


def _rejected(error: str, kind: ErrorKind, status: Literal["succeeded", "errored"], *,
              slo: Slo | None = None, slo_text: str | None = None,
              sli_values: Mapping[str, SliValue] | None = None) -> Evaluation:
    return Evaluation("fail", 0.0, "fail", status, error, error=error, error_kind=kind,
                      slo=slo, slo_text=slo_text, sli_values=sli_values or {})


def _text_of(slo: str | bytes | Mapping[str, Any] | Slo) -> str | None:
    if isinstance(slo, Slo):
        return slo.text
    if isinstance(slo, bytes):
        return slo.decode("utf-8", errors="replace")
    return slo if isinstance(slo, str) else None


class _ObjectiveCriteriaError(ValueError):
    pass


_parse = functools.lru_cache(maxsize=4096)(parse_criterion)

CriteriaSets = tuple[tuple[Criterion, ...], ...]


def _parse_objective(objective: Objective) -> tuple[CriteriaSets, CriteriaSets]:
    """Every criterion of the objective, pass and warning alike. Keptn only notices a bad
    criterion when it gets to evaluate it; a gate whose rules do not parse is rejected up
    front (docs/compatibility.md). An informational objective (no pass criteria) is never
    evaluated, in Keptn or here, so its warning criteria cannot be wrong: the ones that do
    not parse are left out of what it shows."""
    if not objective.pass_sets:
        shown = []
        for criteria in objective.warning_sets:
            try:
                shown.append(tuple(_parse(c) for c in criteria))
            except CriteriaError:
                continue
        return (), tuple(shown)
    try:
        return (tuple(tuple(_parse(c) for c in s) for s in objective.pass_sets),
                tuple(tuple(_parse(c) for c in s) for s in objective.warning_sets))
    except CriteriaError as exc:
        raise _ObjectiveCriteriaError(f"error with {objective.label}: {exc}") from None


def _score_objective(objective: Objective, pass_sets: CriteriaSets, warning_sets: CriteriaSets,
                     value: SliValue | None, base: float | None) -> ObjectiveResult:
    if not pass_sets:                       # informational: shown, never scored
        return ObjectiveResult(objective, "info", 0.0, value, 0.0,
                               warning_targets=_unevaluated(warning_sets, base))
    if value is None or not value.success:
        # Missing data is never a pass: the objective fails with the reason kept.
        shown = value if value is not None else SliValue.failed(objective.sli, NO_VALUE)
        return ObjectiveResult(objective, "fail", 0.0, shown, 0.0,
                               pass_targets=_unevaluated(pass_sets, base),
                               warning_targets=_unevaluated(warning_sets, base))

    measured = value.value
    passed, pass_targets = _check(pass_sets, measured, base)
    warned, warning_targets = _check(warning_sets, measured, base)
    status: Status
    if passed:
        status, points = "pass", float(objective.weight)
    elif warned:
        status, points = "warning", objective.weight / 2
    else:
        status, points = "fail", 0.0
    return ObjectiveResult(objective, status, points, value, base if base is not None else 0.0,
                           pass_targets, warning_targets, key_sli=objective.key_sli)


def _check(sets: CriteriaSets, measured: float, base: float | None) -> tuple[bool, tuple[Target, ...]]:
    """OR over sets, AND inside a set; every criterion is reported, none short-circuits."""
    targets: list[Target] = []
    any_set = False
    for criteria in sets:
        all_met = True
        for c in criteria:
            met = c.met(measured, base)
            targets.append(Target(c.text, c.target(base), not met))
            all_met = all_met and met
        any_set = any_set or all_met
    return any_set, tuple(targets)


def _unevaluated(sets: CriteriaSets, base: float | None) -> tuple[Target, ...]:
    """Targets of an objective that was not evaluated: all violated; relative criteria
    show the unadjusted baseline, as Keptn reports them."""
    b = base if base is not None else 0.0
    return tuple(Target(c.text, b if c.relative else c.value, True) for s in sets for c in s)


def _thresholds(total: TotalScore | None) -> tuple[float, float | None] | str:
    """(pass, warning) in percent, or Keptn's rejection message."""
    if total is None or total.pass_ == "":
        return "no target score defined"
    pass_at = _percentage(total.pass_)
    if pass_at is None:
        return "could not parse pass target percentage"
    warn_at = None
    if total.warning != "":
        warn_at = _percentage(total.warning)
        if warn_at is None:
            return "could not parse warning target percentage"
    return pass_at, warn_at


def _percentage(text: str) -> float | None:
    """A number with at most one trailing `%`; NaN/Inf are refused (Go would take them,
    but no score can be compared with them)."""
    try:
        value = go_parse_float(text[:-1] if text.endswith("%") else text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _verdict(score: float, pass_at: float, warn_at: float | None,
             key_failure: ObjectiveResult | None) -> tuple[Result, str]:
    s = go_float(score)
    if key_failure is None and score >= pass_at:
        return "pass", f"Evaluation passed: the calculated score of {s} meets the target value of {go_float(pass_at)}"
    if key_failure is not None:
        o = key_failure
        detail = o.error or f"failed evaluation with score {o.score:f}"
        return "fail", f"Evaluation failed due to key_sli objective '{o.objective.display_name}': {detail}"
    if warn_at is not None:
        if score >= warn_at:
            return "warning", (f"Evaluation returned a warning: the calculated score of {s} "
                               f"is close to the warning target value of {go_float(warn_at)}")
        return "fail", (f"Evaluation failed since the calculated score of {s} "
                        f"is below the warning value of {go_float(warn_at)}")
    return "fail", (f"Evaluation failed since the calculated score of {s} "
                    f"is below the target value of {go_float(pass_at)}")


def go_float(x: float) -> str:
    """Go's shortest `%v` form of a float (75.3, 74, 66.66666666666666), as Keptn prints scores."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    return repr(x)
