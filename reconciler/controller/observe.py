"""What operators see of each recorded event: metrics and the log line at a sequence's end.

Called by the controller for every event that enters the record (`Controller._recorded`), so
the numbers on `/metrics` and the log agree with the results branch: evaluations by result
and the last score per stage/service, remediation actions, escalations, and one line per
finished sequence with its result and message (JSON with `--log-format json`).
"""
from __future__ import annotations

import logging
from typing import Any

from reconciler.controller.metrics import Metrics
from reconciler.engine.events import CloudEvent, parse_type

log = logging.getLogger("reconciler.sequence")


def observe(metrics: Metrics, event: CloudEvent) -> None:
    parsed = parse_type(event.type)
    if parsed is None:
        return
    data: dict[str, Any] = event.data or {}
    stage, service = str(data.get("stage") or ""), str(data.get("service") or "")
    where = {"context": event.shkeptncontext, "stage": stage or None, "service": service or None}
    if parsed.scope == "sequence":
        if parsed.kind == "finished":
            result, status = str(data.get("result") or ""), str(data.get("status") or "")
            message = str(data.get("message") or "")
            level = logging.INFO if result in ("pass", "warning") and status == "succeeded" else logging.WARNING
            log.log(level, "sequence %s in %s/%s finished: %s/%s%s", parsed.sequence, stage, service, result, status,
                    f": {message}" if message else "",
                    extra={**where, "task": None, "sequence": parsed.sequence, "result": result, "status": status})
        return
    if parsed.task == "evaluation" and parsed.kind == "finished":
        raw = data.get("evaluation")
        evaluation: dict[str, Any] = raw if isinstance(raw, dict) else {}
        result = str(evaluation.get("result") or data.get("result") or "")
        metrics.evaluations.labels(stage, service, result).inc()
        score = evaluation.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            metrics.evaluation_score.labels(stage, service).set(float(score))
    elif parsed.task == "action" and parsed.kind == "finished":
        metrics.remediation_actions.labels(stage, service, str(data.get("result") or "")).inc()
    elif parsed.task == "escalation" and parsed.kind == "triggered":
        metrics.escalations.labels(stage, service).inc()
        log.warning("escalation for %s/%s: remediation ran out of actions", stage, service,
                    extra={**where, "task": "escalation"})
