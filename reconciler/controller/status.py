"""The status view: what `reconciler status`, `/api/v1/status` and the status page show.

Read from the index alone, so the CLI can show it while `serve` runs or after it stopped,
without loading the HTTP server."""
from __future__ import annotations

from typing import Any

from reconciler.controller.index import Index

ACTIVE_STATES = ("triggered", "started", "waitingForApproval", "waiting", "paused")


def integrations_view(integrations: Any) -> list[dict[str, Any]]:
    """Registered Keptn integrations with their last heartbeat (Bridge's integrations view)."""
    if integrations is None:
        return []
    return [{"id": i["id"], "name": i["name"], "lastseen": i["metadata"].get("lastseen"),
             "hostname": i["metadata"].get("hostname"),
             "version": i["metadata"].get("integrationversion") or i["metadata"].get("distributorversion"),
             "subscriptions": [dict(s["filter"], event=s["event"], id=s["id"]) for s in i.get("subscriptions") or []]}
            for i in integrations.registrations()]


def status_view(index: Index, integrations: Any = None) -> dict[str, Any]:
    """Last seen branch tips, config findings, active and recent runs, evaluations, escalations,
    and the registered Keptn integrations (`controller.integrations.Integrations`) when given."""
    config = index.document("config/status.json") or {}
    tips = (index.document("state/tips.json") or {}).get("tips", {})
    active = index.runs(states=ACTIVE_STATES, limit=1000)
    recent = index.runs(limit=20)
    return {
        "resultsCommit": index.results_tip,
        "branches": tips,
        "project": config.get("project"),
        "projectSource": config.get("projectSource"),
        "ignoredBranches": config.get("ignoredBranches", []),
        "config": {"valid": config.get("valid", True), "defaultBranch": config.get("defaultBranch"),
                   "findings": config.get("findings", []), "rejectedTriggers": config.get("rejectedTriggers", [])},
        "active": active,
        "recent": recent,
        "evaluations": index.evaluations(limit=10),
        "escalations": list(index.documents("escalations/").values()),
        "integrations": integrations_view(integrations),
        "controller": index.controller_health() or {},
    }
