"""job/config.yaml lint. The strict schema already rejects unknown keys and the pre-v2
syntax; what is left are event names the job-executor-service never receives."""
from __future__ import annotations

from typing import Any

from reconciler.spec.findings import Issue, warning
from reconciler.spec.lint.access import entries


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    out: list[Issue] = []
    for apath, action in entries(data, "actions", ()):
        for epath, event in entries(action, "events", apath):
            name = event.get("name")
            if isinstance(name, str) and not name.startswith("sh.keptn."):
                out.append(warning("unknown-value", f"event {name!r} is not a Keptn event type; write e.g. "
                                   f"\"sh.keptn.event.{name}.triggered\"", epath + ("name",)))
    return out
