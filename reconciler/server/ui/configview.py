"""Config and integrations: findings with file:line, the config in force, branches the
controller ignores, and connected integrations with their heartbeats."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.server.ui.html import badge, e, short, table

BROKEN = "has errors — the last valid config stays in force"


def render_config(view: Mapping[str, Any]) -> str:
    config = view.get("config") or {}
    valid = config.get("valid", True)
    out = ["<h1>Config</h1>",
           f"<p>Config {badge('valid', 'pass') if valid else badge(BROKEN, 'fail')}"
           f" · default branch <code>{e(config.get('defaultBranch'))}</code> · project commit "
           f"<code>{short(config.get('projectCommit'), 12)}</code> · results commit "
           f"<code>{short(view.get('resultsCommit'), 12)}</code></p>"]
    rows = [f"<tr><td><code>{e(f.get('file'))}:{e(f.get('line') or '')}</code></td>"
            f"<td class={'fail' if f.get('severity') == 'error' else 'warning'}>{e(f.get('severity'))}</td>"
            f"<td>{e(f.get('code'))}</td><td class=msg>{e(f.get('message'))}</td></tr>"
            for f in (config.get("findings") or [])[:500]]
    out.append("<h2>Findings</h2>" + table(("where", "severity", "code", "message"), rows, "no findings"))
    stages = view.get("stages") or []
    srows = [f"<tr><td>{e(s.get('name'))}</td><td>{e(s.get('target'))}</td>"
             f"<td>{e(', '.join(s.get('sequences') or []))}</td>"
             f"<td><code>{short(s.get('tip'), 12)}</code></td></tr>" for s in stages]
    out.append("<h2>Stages in force</h2>" + table(("stage", "target", "sequences", "branch tip"), srows, "unknown"))
    rejected = [f"<tr><td>{e(r.get('branch') or r.get('stage'))}</td><td><code>{short(r.get('commit'), 12)}</code></td>"
                f"<td class=msg>{e(r.get('reason') or r.get('message'))}</td></tr>"
                for r in config.get("rejectedTriggers") or [] if isinstance(r, Mapping)]
    out.append("<h2>Rejected triggers</h2>" + table(("branch", "commit", "why"), rejected, "none"))
    ignored = [f"<tr><td>{e(b)}</td><td><code>{short(o, 12)}</code></td></tr>"
               for b, o in sorted((view.get("ignoredBranches") or {}).items())]
    out.append("<h2>Ignored branches</h2><p class='small muted'>Branches that are no stage, not the default "
               "branch and no approval branch: pushes to them start nothing.</p>"
               + table(("branch", "tip"), ignored, "none"))
    out.append(render_integrations(view.get("integrations") or []))
    return "".join(out)


def render_integrations(items: Sequence[Mapping[str, Any]]) -> str:
    """Registered Keptn integrations (the `integrations` of the status view: name, hostname,
    version, lastseen, subscriptions) with their last heartbeat."""
    rows = []
    for i in items:
        subs = ", ".join(str(s.get("event") if isinstance(s, Mapping) else s) for s in i.get("subscriptions") or [])
        seen = str(i.get("lastseen") or i.get("lastSeen") or "").replace("T", " ")[:19]
        rows.append(f"<tr><td>{e(i.get('name'))}</td><td>{e(i.get('hostname') or '')}</td>"
                    f"<td>{e(i.get('version') or '')}</td><td>{e(seen) or badge('never', 'warning')}</td>"
                    f"<td><code>{e(subs)}</code></td></tr>")
    return "<h2>Integrations</h2>" + table(("name", "host", "version", "last heartbeat (UTC)", "subscriptions"),
                                           rows, "no integration registered")
