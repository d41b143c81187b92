"""One live quality gate: SLO + `sli.yaml` layers + window → an SLI provider → `evaluate`.

This is the seam the engine's evaluation task and `reconciler evaluate --prometheus` share.
It decides what to ask (only the SLIs the SLO names, rendered for the window), asks whichever
provider it is given (`providers.base.SliProvider`), and turns an unreachable provider into
Keptn's "get-sli errored" input, which `evaluate` fails closed. Pure apart from the provider.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.providers.base import ProviderUnavailable, SliProvider, SliRequest
from reconciler.quality.scoring import Evaluation, evaluate, not_evaluated
from reconciler.quality.sli import SliContext, queries_for
from reconciler.quality.slo import Slo, SloError, decode_slo

NO_PROVIDER = "no evaluation performed by lighthouse because no SLI-provider configured for project {project}"


def evaluate_window(
    slo: str | bytes | Mapping[str, Any] | Slo | None,
    indicators: Mapping[str, str],
    window: SliContext,
    provider: SliProvider | None,
    history: Iterable[PreviousEvaluation | Mapping[str, Any]] = (),
) -> Evaluation:
    """Evaluate the window [`window.start`, `window.end`] with values from `provider`.

    `indicators`: the merged `sli.yaml` indicators (see `sli.merge_indicators`).
    `provider`: None when the project has no SLI provider (`spec.sli.provider: none`), which
    Keptn treats as a pass with a message.
    """
    try:
        decoded = decode_slo(slo)
    except SloError:
        return evaluate(slo, {}, history, project=window.project)   # reports invalid_slo
    if decoded is None:
        return evaluate(None, {}, history, project=window.project)
    if provider is None:
        return not_evaluated(NO_PROVIDER.format(project=window.project))
    context = SliContext(window.start, window.end, window.project, window.stage, window.service,
                         window.deployment, window.labels, {**decoded.filter, **window.filters})
    queries = queries_for((o.sli for o in decoded.objectives), indicators, context)
    try:
        values = dict(provider.get_values(SliRequest(queries, context)))
    except ProviderUnavailable as exc:
        return evaluate(decoded, {}, history, sli_event_status="errored",
                        sli_event_message=str(exc), project=window.project)
    return evaluate(decoded, values, history, project=window.project)
