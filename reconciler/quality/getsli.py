"""SLI values from Keptn integrations: the `get-sli` exchange as Keptn's lighthouse had it.

Lighthouse sent `sh.keptn.event.get-sli.triggered` with `data.get-sli` = {sliProvider, start,
end, indicators, customFilters} and took the `get-sli.finished` of whichever integration
answered for that `sliProvider` (dynatrace-service, datadog-service, prometheus-service, an
in-house one), reading `data.get-sli.indicatorValues` = [{metric, value, success, message}].
These functions build the question and read the answer; the waiting happens in the
controller (`controller.sidetasks`). Pure.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.quality.sli import SliContext
from reconciler.quality.values import SliValue

TASK = "get-sli"
TRIGGERED = "sh.keptn.event.get-sli.triggered"


def iso(epoch: float) -> str:
    import datetime as _dt
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def triggered_data(indicators: Iterable[str], window: SliContext, sli_provider: str) -> dict[str, Any]:
    """`data` of `get-sli.triggered` (go-utils `GetSLITriggeredEventData`): the common event
    data, `deployment`, and `get-sli` with the window as ISO times and the SLO's filters as
    `customFilters` [{key, value}]."""
    data: dict[str, Any] = {"project": window.project, "stage": window.stage, "service": window.service}
    if window.labels:
        data["labels"] = dict(window.labels)
    data["get-sli"] = {"sliProvider": sli_provider, "start": iso(window.start), "end": iso(window.end),
                       "indicators": list(dict.fromkeys(indicators)),
                       "customFilters": [{"key": k, "value": v} for k, v in window.filters.items()]}
    data["deployment"] = window.deployment or ""
    return data


class AnswerError(Exception):
    """The integration answered, but with an error: the gate fails closed with this reason."""


def values_from_finished(data: Mapping[str, Any], indicators: Iterable[str], answered_by: str
                         ) -> dict[str, SliValue]:
    """The values a `get-sli.finished` reports, one per asked indicator. An errored (or
    failed) answer raises AnswerError with its message; an indicator the answer leaves out, or
    reports with `success: false`, fails its objective with the reason (missing data is never
    a pass)."""
    status, result = data.get("status"), data.get("result")
    message = str(data.get("message") or "").strip()
    if status in ("errored", "aborted") or result == "fail":
        raise AnswerError(f"{answered_by} answered get-sli with {result or '-'}/{status or '-'}"
                          + (f": {message}" if message else ""))
    body = data.get(TASK)
    reported = body.get("indicatorValues") if isinstance(body, Mapping) else None
    by_metric: dict[str, Mapping[str, Any]] = {}
    for item in reported or []:
        if isinstance(item, Mapping) and isinstance(item.get("metric"), str):
            by_metric.setdefault(item["metric"], item)
    out: dict[str, SliValue] = {}
    for name in indicators:
        item = by_metric.get(name)
        if item is None:
            out[name] = SliValue.failed(name, f"{answered_by} returned no value for {name!r}")
            continue
        value = item.get("value")
        if item.get("success") is False:
            out[name] = SliValue.failed(name, str(item.get("message") or f"{answered_by} could not retrieve {name!r}"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            out[name] = SliValue.failed(name, f"{answered_by} returned {value!r} for {name!r}, not a number")
        else:
            out[name] = SliValue(name, float(value), True)
    return out
