"""Keptn's uniform (integration) rules as pure functions: registration ids, subscription
filters, which `.triggered` events are still open, and Keptn's paging.

An unmodified Keptn integration (go-sdk, the distributor) registers with a name, metadata and
subscriptions, pings for its subscriptions, and polls open `.triggered` events of each
subscribed type. These functions decide what it sees; `server.keptn_api` puts them on HTTP
and `controller.integrations` stores the registrations. Behaviour follows Keptn 1.4.5's
shipyard-controller (`uniformintegrationhandler.go`, `common/pagination.go`) and go-utils'
`eventmatcher`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_PAGE_SIZE = 50          # Keptn's swagger: pageSize 1..50, default 20
DEFAULT_PAGE_SIZE = 20


class RegistrationError(ValueError):
    """A registration or subscription Keptn would answer with 400 (the message says why)."""


def integration_id(name: str, namespace: str, hostname: str) -> str:
    """Keptn's id of an integration: sha1 of `name-namespace-hostname` (IntegrationID.Hash),
    so the same integration restarted on the same node gets the same id."""
    return hashlib.sha1(f"{name}-{namespace}-{hostname}".encode()).hexdigest()  # noqa: S324 - an id, not a secret


def _strings(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistrationError(f"{where} must be a list of strings")
    return list(value)


def normalise_subscription(raw: Any, *, one_project: bool = False) -> dict[str, Any]:
    """A subscription as stored: `{id, event, filter: {projects, stages, services}}`.

    Keptn's rules: the event is required; a service filter needs a stage filter; the
    webhook-service must name exactly one project."""
    if not isinstance(raw, dict):
        raise RegistrationError("a subscription must be an object")
    event = raw.get("event")
    if not isinstance(event, str) or not event:
        raise RegistrationError("the event must be specified when setting up a subscription")
    flt = raw.get("filter") or {}
    if not isinstance(flt, dict):
        raise RegistrationError("a subscription's filter must be an object")
    projects = _strings(flt.get("projects"), "filter.projects")
    stages = _strings(flt.get("stages"), "filter.stages")
    services = _strings(flt.get("services"), "filter.services")
    if services is not None and stages is None:
        raise RegistrationError("at least one stage must be specified when setting up a subscription filter "
                                "for a service")
    if one_project and (projects is None or len(projects) > 1):
        raise RegistrationError("webhook should refer to exactly one project")
    return {"id": str(raw.get("id") or ""), "event": event,
            "filter": {"projects": projects, "stages": stages, "services": services}}


def normalise_integration(raw: Any) -> dict[str, Any]:
    """The body of `POST …/uniform/registration` checked and reduced to Keptn's
    `models.Integration` fields (unknown keys are dropped, as Go's JSON binding does)."""
    if not isinstance(raw, dict):
        raise RegistrationError("the body must be an Integration object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RegistrationError("incomplete integration ID. At least 'name','namespace' and 'nodename' "
                                "must be set")
    meta = raw.get("metadata") or {}
    if not isinstance(meta, dict):
        raise RegistrationError("metadata must be an object")
    kube = meta.get("kubernetesmetadata") or {}
    if not isinstance(kube, dict):
        raise RegistrationError("metadata.kubernetesmetadata must be an object")
    metadata = {
        "hostname": str(meta.get("hostname") or ""),
        "integrationversion": str(meta.get("integrationversion") or ""),
        "distributorversion": str(meta.get("distributorversion") or ""),
        "location": str(meta.get("location") or ""),
        "kubernetesmetadata": {"namespace": str(kube.get("namespace") or ""),
                               "podname": str(kube.get("podname") or ""),
                               "deploymentname": str(kube.get("deploymentname") or "")},
    }
    subs = raw.get("subscriptions") or []
    if not isinstance(subs, list):
        raise RegistrationError("subscriptions must be a list")
    return {"name": name, "metadata": metadata,
            "subscriptions": [normalise_subscription(s) for s in subs]}


def event_scope(event: Mapping[str, Any]) -> tuple[str, str, str]:
    data = event.get("data") or {}
    return str(data.get("project") or ""), str(data.get("stage") or ""), str(data.get("service") or "")


def filter_matches(flt: Mapping[str, Any] | None, project: str | None, stage: str | None,
                   service: str | None) -> bool:
    """go-utils' eventmatcher: an empty (or missing) list matches everything, else the event's
    project, stage and service must each be in its list (None: any value)."""
    flt = flt or {}
    for key, value in (("projects", project), ("stages", stage), ("services", service)):
        allowed = flt.get(key)
        if allowed and value is not None and value not in allowed:
            return False
    return True


def open_triggered(events: Iterable[Mapping[str, Any]], event_type: str) -> list[Mapping[str, Any]]:
    """`.triggered` events of `event_type` with no `.finished` answering them yet, oldest first.

    `events` are those of the active sequence runs (an ended run has no open task). A task
    that was started but not finished stays open, as in Keptn (go-sdk remembers which ids it
    handled)."""
    events = list(events)
    finished = {e.get("triggeredid") for e in events if str(e.get("type", "")).endswith(".finished")}
    out = [e for e in events if e.get("type") == event_type and e.get("id") not in finished]
    out.sort(key=lambda e: (str(e.get("time") or ""), str(e.get("id"))))
    return out


def page_size(raw: str | None) -> int:
    """`pageSize` as Keptn binds it (1..50, default 20); raises ValueError when not a number."""
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE
    size = int(raw)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def paginate(items: Sequence[Any], size: int, next_page_key: str | None) -> tuple[list[Any], str]:
    """Keptn's `common.Paginate`: the page starting at `next_page_key` (an offset; anything
    unparsable counts as 0) and the key of the next page, "0" on the last one."""
    try:
        start = max(0, int(next_page_key)) if next_page_key else 0
    except ValueError:
        start = 0
    new_key = start + size
    return list(items[start:start + size]), str(new_key if new_key < len(items) else 0)
