"""reconciler.yaml lint: references inside the settings that point nowhere."""
from __future__ import annotations

from typing import Any

from reconciler.spec.findings import Issue, error, warning
from reconciler.spec.lint.access import ENTITY_NAME, ENTITY_RULE, as_dict, entries


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    out: list[Issue] = []
    name = as_dict(data.get("metadata")).get("name")
    if isinstance(name, str) and not ENTITY_NAME.match(name):
        out.append(warning("invalid-project-name", f"project name {name!r} is not a valid Keptn entity name "
                           f"({ENTITY_RULE}); it is used in namespaces and SLI queries", ("metadata", "name")))
    spec = as_dict(data.get("spec"))
    names: set[str] = set()
    for path, hook in entries(spec, "webhooks", ("spec",)):
        hname = hook.get("name")
        if isinstance(hname, str):
            if hname in names:
                out.append(warning("duplicate-webhook", f"webhook {hname!r} is defined twice", path + ("name",)))
            names.add(hname)
    escalation = as_dict(spec.get("remediation")).get("escalationWebhook")
    if isinstance(escalation, str) and escalation not in names:
        known = ", ".join(sorted(names)) or "none defined"
        out.append(error("unknown-webhook", f"escalationWebhook {escalation!r} names no entry of spec.webhooks "
                         f"({known}); escalations would go nowhere", ("spec", "remediation", "escalationWebhook")))
    forge = as_dict(spec.get("forge"))
    if forge.get("kind") not in (None, "none") and not forge.get("repository"):
        out.append(warning("forge-incomplete", f"forge kind {forge.get('kind')!r} needs `repository: owner/name` "
                           "to open pull requests", ("spec", "forge"), key=True))
    return out
