"""The plain status page (`/status` in the web UI; the UI's start page is the board): what
`reconciler status` shows: config health, active and recent sequences,
recent evaluations and escalations. Everything is escaped; nothing here is interactive
(changes go through Git or the token-protected API).
"""
from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:1.6em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
.pass{color:#107010}.warning{color:#a06000}.fail,.error{color:#b00020}.muted{color:#777}
code{font-size:12px}
"""


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cls(result: Any) -> str:
    return escape(str(result)) if result in ("pass", "warning", "fail") else ""


def _runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    out = ["<table><tr><th>stage</th><th>service</th><th>sequence</th><th>state</th><th>task</th>"
           "<th>result</th><th>triggered (UTC)</th><th>context</th><th>message</th></tr>"]
    for r in rows:
        out.append(
            f"<tr><td>{escape(str(r['stage']))}</td><td>{escape(str(r['service']))}</td>"
            f"<td>{escape(str(r['sequence']))}</td><td>{escape(str(r['state']))}</td>"
            f"<td>{escape(str(r.get('task') or ''))}</td>"
            f"<td class=\"{_cls(r.get('result'))}\">{escape(str(r.get('result') or ''))}</td>"
            f"<td>{_when(r.get('triggered_at'))}</td><td><code>{escape(str(r['context'])[:8])}</code></td>"
            f"<td>{escape(str(r.get('message') or ''))[:600]}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _integrations(rows: list[dict[str, Any]]) -> str:
    """Registered Keptn integrations and their last heartbeat, like Bridge's integrations view."""
    if not rows:
        return '<h2>Integrations</h2><p class="muted">none registered</p>'
    out = ["<h2>Integrations</h2><table><tr><th>name</th><th>host</th><th>version</th><th>last seen (UTC)</th>"
           "<th>subscriptions</th></tr>"]
    for i in rows:
        subs = ", ".join(str(s.get("event")) for s in i.get("subscriptions") or [])
        out.append(f"<tr><td>{escape(str(i.get('name')))}</td><td>{escape(str(i.get('hostname') or ''))}</td>"
                   f"<td>{escape(str(i.get('version') or ''))}</td>"
                   f"<td>{escape(str(i.get('lastseen') or '').replace('T', ' ')[:19])}</td>"
                   f"<td><code>{escape(subs)}</code></td></tr>")
    out.append("</table>")
    return "".join(out)


def render_page(view: dict[str, Any]) -> str:
    """The page on its own (refreshed every 5 s): the board's predecessor, kept as the
    benchmark's baseline and for `render_body`."""
    project = escape(str(view.get("project") or ""))
    title = f"{project} — reconciler" if project else "reconciler"
    return (f"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>"
            f"<title>{title}</title><style>{_STYLE}</style></head><body><h1>{title}</h1>"
            + render_body(view) + "</body></html>")


def render_body(view: dict[str, Any]) -> str:
    config = view.get("config", {})
    findings = config.get("findings", [])
    parts = []
    project = escape(str(view.get("project") or ""))
    if project:
        source = escape(str(view.get("projectSource") or ""))
        parts.append(f"<p>Project <b class=project>{project}</b> (from {source})</p>")
    ignored = view.get("ignoredBranches") or []
    if ignored:
        parts.append("<p>Ignored branches (not stages of the shipyard; nothing on them is read): "
                     + ", ".join(f"<code>{escape(str(i.get('branch')))}</code>" for i in ignored) + "</p>")
    state = "valid" if config.get("valid", True) else "has errors (the last valid config stays in force)"
    parts.append(f"<p>Config: <b class=\"{'pass' if config.get('valid', True) else 'fail'}\">{state}</b>; "
                 f"results commit <code>{escape(str(view.get('resultsCommit') or '-'))[:12]}</code></p>")
    if findings:
        parts.append("<h2>Config findings</h2>"
                     "<table><tr><th>where</th><th>severity</th><th>code</th><th>message</th></tr>")
        for f in findings[:200]:
            where = f"{f.get('file')}:{f.get('line') or ''}"
            parts.append(f"<tr><td><code>{escape(where)}</code></td><td class=\"{escape(str(f.get('severity')))}\">"
                         f"{escape(str(f.get('severity')))}</td><td>{escape(str(f.get('code')))}</td>"
                         f"<td>{escape(str(f.get('message')))}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Active sequences</h2>" + _runs(view.get("active", [])))
    parts.append("<h2>Recent sequences</h2>" + _runs(view.get("recent", [])))
    evaluations = view.get("evaluations", [])
    parts.append("<h2>Recent evaluations</h2>")
    if evaluations:
        parts.append("<table><tr><th>stage</th><th>service</th><th>result</th><th>score</th><th>file</th></tr>")
        for e in evaluations:
            score = e.get("score")
            parts.append(f"<tr><td>{escape(str(e.get('stage')))}</td><td>{escape(str(e.get('service')))}</td>"
                         f"<td class=\"{_cls(e.get('result'))}\">{escape(str(e.get('result')))}</td>"
                         f"<td>{'' if score is None else f'{score:.1f}'}</td>"
                         f"<td><code>{escape(str(e.get('path')))}</code></td></tr>")
        parts.append("</table>")
    else:
        parts.append('<p class="muted">none</p>')
    parts.append(_integrations(view.get("integrations", [])))
    branches = view.get("branches", {})
    parts.append("<h2>Branches seen</h2><table>" + "".join(
        f"<tr><td>{escape(b)}</td><td><code>{escape(o[:12])}</code></td></tr>" for b, o in sorted(branches.items()))
        + "</table>")
    return "".join(parts)
