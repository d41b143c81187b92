"""The `evaluation` task: Keptn's lighthouse + SLI provider in one step.

Reads `<service>/slo.yaml` and the layered `sli.yaml` files at the config commit, asks
the configured SLI provider (`quality.providers`) for the window the event names, scores the
result against earlier evaluations of the same stage and service, and answers with Keptn's
`evaluation.finished` payload. The evidence document goes into the journal (`evaluations/<stage>/<service>/…json` on
`reconciler/results`), which is also where later evaluations find their history.

Order of checks follows the lighthouse: a missing window fails first, then a missing SLO
passes ("no evaluation performed"), then a project without SLI provider passes, and a
provider that cannot be reached fails closed.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

from reconciler import layout
from reconciler.contract import evaluation_path
from reconciler.quality import evidence
from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers import registry
from reconciler.quality.providers.base import SliProvider
from reconciler.quality.scoring import Evaluation
from reconciler.quality.sli import SliContext, SliFileError, merge_indicators, parse_sli
from reconciler.quality.slo import SloError, decode_slo
from reconciler.spec.settings import parse_duration
from reconciler.tasks import getsli
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, TaskFailed, config_commit, mapping, read_text, text

NO_TIMEFRAME = "evaluation.triggered event does not contain evaluation timeframe"
DEFAULT_DEPLOYMENT = "direct"
MIN_HISTORY = 20


class WindowError(ValueError):
    """The event does not say which timeframe to evaluate (or says it badly)."""


def parse_time(value: str, field: str) -> float:
    """UNIX seconds of an RFC 3339 / ISO 8601 time; a time without zone is UTC (Keptn)."""
    try:
        moment = _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise WindowError(f"{field} {value!r} is not a time like 2024-05-01T10:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def evaluation_window(data: Mapping[str, Any], now: float) -> tuple[float, float]:
    """(start, end) from `evaluation.start/end`, else `evaluation.timeframe` (ending now, or
    starting at `evaluation.start`), else `test.start/end` — the lighthouse's order."""
    ev = mapping(data.get("evaluation"))
    start, end, timeframe = text(ev.get("start")), text(ev.get("end")), text(ev.get("timeframe"))
    if (start and end) or timeframe:
        if start and end and timeframe:
            raise WindowError("evaluation has start, end and timeframe; give start and end, or a timeframe "
                              "(optionally with start)")
        if start and end:
            window = parse_time(start, "evaluation.start"), parse_time(end, "evaluation.end")
        else:
            try:
                seconds = parse_duration(timeframe)
            except ValueError as exc:
                raise WindowError(f"evaluation.timeframe: {exc}") from None
            if end and not start:
                raise WindowError("evaluation has end and timeframe; give start and timeframe, or start and end")
            if start:
                begin = parse_time(start, "evaluation.start")
                window = begin, begin + seconds
            else:
                window = now - seconds, now
    else:
        test = mapping(data.get("test"))
        t_start, t_end = text(test.get("start")), text(test.get("end"))
        if not (t_start and t_end):
            raise WindowError(NO_TIMEFRAME)
        window = parse_time(t_start, "test.start"), parse_time(t_end, "test.end")
    if not window[1] > window[0]:
        raise WindowError(f"the evaluation window must end after it starts "
                          f"({evidence.iso(window[0])} .. {evidence.iso(window[1])})")
    return window


def deployment_name(data: Mapping[str, Any]) -> str:
    """`$DEPLOYMENT`: the first of `deployment.deploymentNames`, else `direct`."""
    names = mapping(data.get("deployment")).get("deploymentNames")
    if isinstance(names, list) and names and isinstance(names[0], str) and names[0]:
        return names[0]
    return DEFAULT_DEPLOYMENT


def string_labels(data: Mapping[str, Any]) -> dict[str, str]:
    labels = mapping(data.get("labels"))
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in labels.items()}


def read_indicators(env: TaskEnv, stage: str, service: str, ref: str, provider: str) -> dict[str, str]:
    """Project (default branch) → stage (stage branch root) → service layers of `provider`'s
    SLI files (`layout.sli_paths`), merged: later wins key by key, as `reconciler validate`."""
    layers: list[dict[str, str]] = []
    default = env.default_branch
    project_ref = env.mirror.tip(default) if default else None
    for level, path in layout.sli_paths(provider, service):
        rev, branch = (project_ref, default) if level == "project" else (ref, stage)
        if rev is None:
            continue
        content = read_text(env.mirror, rev, path)
        if content is None:
            continue
        try:
            layers.append(parse_sli(content, f"{branch}:{path}"))
        except SliFileError as exc:
            raise TaskFailed(TaskOutcome.errored(
                f"{exc}; fix the file (reconciler validate shows all problems)")) from None
    return merge_indicators(*layers)


def history(env: TaskEnv, stage: str, service: str, limit: int) -> list[PreviousEvaluation]:
    """Earlier evaluations, newest first, as the comparison reads them.

    The documents are our own journal (written by `evidence.build`), so they are not run
    through the JSON schema again (3.8 ms each; 20 of them cost 4× the whole evaluation).
    What the comparison needs is checked; a document without it is skipped with a warning
    rather than failing the gate."""
    out: list[PreviousEvaluation] = []
    for document in env.previous_evaluations(stage, service, limit):
        try:
            if not isinstance(document, dict) or document.get("event_result") not in ("pass", "warning", "fail"):
                raise ValueError("it has no event_result pass, warning or fail")
            if not isinstance(document.get("objectives", []), list):
                raise ValueError("its objectives are not a list")
            moment = _dt.datetime.fromisoformat(str(document.get("time", "")))
            ident = evaluation_path(stage, service, evidence.timestamp(moment), str(document.get("context", "")))
            out.append(evidence.from_evidence(document, ident, validate=False))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            env.log.warning("skipping a stored evaluation of %s/%s: %s", stage, service, exc)
    return out


def history_limit(slo_text: str | None) -> int:
    """How many stored evaluations to read: the selection filters by result and skips
    invalidated ones before it takes the newest N, so read well beyond N."""
    try:
        decoded = decode_slo(slo_text) if slo_text else None
    except SloError:
        return MIN_HISTORY
    if decoded is None:
        return 0
    return max(MIN_HISTORY, 10 * max(decoded.comparison.limit, 1))


def finished_data(ev: Evaluation, window: tuple[float, float] | None, slo_text: str | None,
                  commit: str) -> dict[str, Any]:
    """Keptn's `evaluation.finished` payload (`data.evaluation`)."""
    return {"evaluation": {
        "timeStart": evidence.iso(window[0]) if window else "",
        "timeEnd": evidence.iso(window[1]) if window else "",
        "result": ev.result,
        "score": ev.score,
        "sloFileContent": base64.b64encode(slo_text.encode()).decode() if slo_text else "",
        "indicatorResults": ev.indicator_results,
        "comparedEvents": list(ev.compared),
        "gitCommit": commit,
    }}


class EvaluationExecutor(BuiltinExecutor):
    name = "evaluation"
    task = layout.TASK_EVALUATION

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        data = request.data
        now = env.now()
        try:
            window = evaluation_window(data, now)
        except WindowError as exc:
            return TaskOutcome(result="fail", status="errored", message=str(exc),
                               data={"evaluation": {"timeStart": "", "timeEnd": "", "result": "fail"}})
        stage, service = request.stage, request.service
        project = request.project or env.settings.project
        ref = config_commit(request, env)
        slo_path = layout.service_path(service, layout.SLO_FILE)
        slo_text = read_text(env.mirror, ref, slo_path)
        provider: SliProvider | None = None
        indicators: dict[str, str] = {}
        previous: list[PreviousEvaluation] = []
        described: dict[str, Any] = {"kind": "none"}
        if slo_text is not None:
            sli = env.settings.sli_for(stage, service)
            try:
                provider = registry.create(sli, env.environ)
            except ValueError as exc:
                return TaskOutcome.errored(f"cannot evaluate {service} in {stage}: {exc}")
            bind = getattr(provider, "bind", None)      # get-sli: reach integrations through the controller
            ask = getsli.asker(request, env) if bind is not None else None
            if bind is not None and ask is not None:
                provider = bind(ask)
            indicators = read_indicators(env, stage, service, ref, sli.files_of)
            previous = history(env, stage, service, history_limit(slo_text))
        labels = string_labels(data)
        context = SliContext(window[0], window[1], project, stage, service, deployment_name(data), labels)
        result = evaluate_window(slo_text, indicators, context, provider, previous)
        if provider is not None:
            described = provider.describe()          # after asking: get-sli records who answered
        evaluated_at = _dt.datetime.fromtimestamp(now, _dt.UTC)
        document = evidence.build(result, context=request.context, project=project, stage=stage,
                                  service=service, evaluated_at=evaluated_at, window=window,
                                  provider=described, slo_path=slo_path if slo_text is not None else None,
                                  commit=ref, labels=labels)
        path = evidence.path_for(stage, service, evaluated_at, request.context)
        body = (json.dumps(document, indent=2, sort_keys=False) + "\n").encode()
        return TaskOutcome(result=result.event_result, status=result.event_status, message=result.message,
                           data=finished_data(result, window, slo_text, ref), journal={path: body})


def missing_sli_provider(shipyard: Any, settings: Any, environ: Mapping[str, str]) -> str | None:
    """Why evaluations in this shipyard cannot look at SLIs, or None when they can (or when
    nothing evaluates). `serve` says it at start instead of every evaluation saying it later."""
    if shipyard is None:
        return None
    stages = [s.name for s in shipyard.stages if any(t.name == "evaluation" for q in s.sequences for t in q.tasks)]
    if not stages:
        return None
    where = f"the shipyard evaluates in {', '.join(stages)}"
    sli = settings.spec.sli
    if sli.provider == registry.NONE:
        return (f"{where} but reconciler.yaml sets `spec.sli.provider: none`: every evaluation passes without "
                f"looking at any SLI")
    try:
        provider = registry.create(sli, environ)
        close = getattr(provider, "close", None)
        if callable(close):
            close()
    except ValueError as exc:
        return f"{where} but no SLI provider is set ({exc}); until then every evaluation with an slo.yaml errors"
    return None
