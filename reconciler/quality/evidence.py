"""The evaluation evidence document: what the engine commits to `reconciler/results`.

One JSON file per evaluation at `evaluations/<stage>/<service>/<UTC timestamp>-<context>.json`
(DESIGN §2), holding everything needed to re-check the verdict by hand: the SLO text, the
window, the provider, every SLI value with its query, the targets and compared values, each
objective's status and points, the score and the result. Later evaluations read these same
files back as their history (`from_evidence`), so the document is defined once, here and in
`schemas/evaluation.json`, and both directions are tested against the schema.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.contract import evaluation_path
from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.scoring import Evaluation, ObjectiveResult
from reconciler.quality.values import SliValue

API_VERSION = "reconciler/v1"
KIND = "Evaluation"


class EvidenceError(ValueError):
    """A stored evaluation that does not match schemas/evaluation.json; names the file."""


def timestamp(moment: _dt.datetime) -> str:
    """`20261121T224824.123Z`: UTC, sortable, safe in file names (no colons)."""
    utc = moment.astimezone(_dt.UTC)
    return utc.strftime("%Y%m%dT%H%M%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso(moment: _dt.datetime | float) -> str:
    if not isinstance(moment, _dt.datetime):
        moment = _dt.datetime.fromtimestamp(moment, _dt.UTC)
    return moment.astimezone(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def path_for(stage: str, service: str, evaluated_at: _dt.datetime, context: str) -> str:
    return evaluation_path(stage, service, timestamp(evaluated_at), context)


def build(
    evaluation: Evaluation,
    *,
    context: str,
    project: str,
    stage: str,
    service: str,
    evaluated_at: _dt.datetime,
    window: tuple[float, float] | None = None,
    provider: Mapping[str, Any] | None = None,
    slo_path: str | None = None,
    commit: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The evidence document for one evaluation (a plain JSON-ready dict).

    `provider`: where the values came from, e.g. `{"kind": "prometheus", "url": ...}`
    (never credentials). `window`: (start, end) in Unix seconds.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "context": context,
        "project": project,
        "stage": stage,
        "service": service,
        "commit": commit,
        "labels": dict(labels or {}),
        "time": iso(evaluated_at),
        "window": {"start": iso(window[0]), "end": iso(window[1])} if window else None,
        "provider": dict(provider) if provider else None,
        "slo": {"path": slo_path, "text": evaluation.slo_text},
        "result": evaluation.result,
        "score": evaluation.score,
        "event_result": evaluation.event_result,
        "event_status": evaluation.event_status,
        "message": evaluation.message,
        "error": evaluation.error,
        "error_kind": evaluation.error_kind,
        "thresholds": {"pass": evaluation.pass_threshold, "warning": evaluation.warning_threshold},
        "compared_count": evaluation.compared_count,
        "compared": list(evaluation.compared),
        "objectives": [_objective(o) for o in evaluation.objectives],
        "sli_values": [v.to_dict() for v in evaluation.sli_values.values()],
        "invalidated": False,
    }


def _objective(o: ObjectiveResult) -> dict[str, Any]:
    out: dict[str, Any] = o.to_json()
    out["success"] = o.value is not None and o.value.success
    out.setdefault("error", None)
    out.setdefault("query", None)
    return out


def invalidate(document: Mapping[str, Any], *, at: _dt.datetime, reason: str) -> dict[str, Any]:
    """The same document marked invalidated (Keptn's evaluation.invalidated): it stays in
    the journal but is never compared with again."""
    return {**document, "invalidated": True, "invalidated_at": iso(at), "invalidated_reason": reason}


@functools.cache
def _validator() -> Draft202012Validator:
    text = resources.files("reconciler").joinpath("_schemas", "evaluation.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def check(document: Any, where: str = "evaluation") -> None:
    """Raise EvidenceError listing what in `document` breaks schemas/evaluation.json."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'document'}: {e.message}"
                            for e in errors[:5])
        raise EvidenceError(f"{where}: not an evaluation document: {details}")


def from_evidence(document: Any, id: str = "", *, validate: bool = True) -> PreviousEvaluation:
    """Read a stored evaluation back as a previous evaluation for later comparisons.

    Its values are the objectives' values in stored order (Keptn compares with the
    `indicatorResults` of earlier evaluations); the filter reads `event_result`, the result
    sequences saw.
    """
    if validate:
        check(document, id or "evaluation")
    # Failed values are dropped from baselines anyway, so only the usable ones are read.
    values = tuple(SliValue.ok(o["sli"], o["value"], o.get("query"))
                   for o in document.get("objectives") or ()
                   if o.get("success") and isinstance(o.get("value"), (int, float)))
    return PreviousEvaluation(
        result=document["event_result"],
        values=values,
        invalidated=bool(document.get("invalidated", False)),
        id=id or str(document.get("context", "")),
        score=document.get("score"),
    )


def history(documents: Iterable[tuple[str, Any]], *, validate: bool = True) -> list[PreviousEvaluation]:
    """Previous evaluations from (path, document) pairs, newest first.

    File names start with the UTC timestamp, so the newest is the greatest name.
    """
    ordered = sorted(documents, key=lambda item: item[0].rsplit("/", 1)[-1], reverse=True)
    return [from_evidence(doc, path, validate=validate) for path, doc in ordered]
