"""Alertmanager webhook payloads → problems (Keptn's `remediation.triggered` input).

Follows keptn-contrib/prometheus-service: the problem title is the alert's `summary`
annotation, stage/service/project come from alert labels, and the context is derived from
the alert fingerprint so that repeated notifications of one alert map to one remediation.
We also set `rootCause` to the alert name, so a remediation.yaml `problemType` can name
either the alert (`response_time_p95`) or its summary — get-action tries rootCause first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.engine.events import context_uuid


@dataclass(frozen=True, slots=True)
class Problem:
    state: Literal["open", "resolved"]
    fingerprint: str
    stage: str
    service: str
    project: str | None
    context: str
    details: dict[str, Any] = field(default_factory=dict)   # the `problem` payload (Keptn keys)


@dataclass(frozen=True, slots=True)
class Rejected:
    fingerprint: str
    reason: str


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def problems_from_alertmanager(payload: Any) -> tuple[list[Problem], list[Rejected]]:
    """Every alert in a (version 4) Alertmanager payload, opened or resolved.

    Alerts without `stage` and `service` labels cannot be routed to a lane and are
    rejected with a reason (the webhook answers with them instead of dropping silently).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ValueError("not an Alertmanager webhook payload: expected an object with an 'alerts' list")
    problems: list[Problem] = []
    rejected: list[Rejected] = []
    for alert in payload["alerts"]:
        if not isinstance(alert, dict):
            rejected.append(Rejected("", "alert entry is not an object"))
            continue
        labels = _object(alert.get("labels"))
        annotations = _object(alert.get("annotations"))
        fingerprint = str(alert.get("fingerprint") or "")
        stage, service = labels.get("stage"), labels.get("service")
        if not fingerprint:
            rejected.append(Rejected("", "alert has no fingerprint"))
            continue
        if not stage or not service:
            rejected.append(Rejected(fingerprint, "alert needs the labels 'stage' and 'service' to pick a lane"))
            continue
        state: Literal["open", "resolved"] = "resolved" if alert.get("status") == "resolved" else "open"
        alertname = str(labels.get("alertname") or "")
        title = str(annotations.get("summary") or alertname or "problem")
        details = {
            "State": "RESOLVED" if state == "resolved" else "OPEN",
            "ProblemID": fingerprint,
            "PID": fingerprint,
            "problemTitle": title,
            "rootCause": alertname,
            "ProblemTitle": title,
            "ProblemDetails": str(annotations.get("description") or annotations.get("descriptions") or ""),
            "ProblemURL": str(alert.get("generatorURL") or ""),
            "ImpactedEntity": str(labels.get("pod_name") or labels.get("instance") or service),
            "labels": {str(k): str(v) for k, v in labels.items()},
            "startsAt": str(alert.get("startsAt") or ""),
        }
        problems.append(Problem(
            state=state, fingerprint=fingerprint, stage=str(stage), service=str(service),
            project=str(labels["project"]) if labels.get("project") else None,
            context=context_uuid(f"alert:{fingerprint}:{alert.get('startsAt') or ''}"),
            details=details,
        ))
    return problems, rejected
