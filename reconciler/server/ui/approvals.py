"""Approvals waiting for a person: the branch (and pull request) to merge, the evaluation
that led there, and approve/decline buttons with the effect of `reconciler approve|decline`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.server.ui.html import action, badge, e, link, path_part, result_badge, table, when


def render_approvals(pending: Sequence[Mapping[str, Any]], csrf: str | None) -> str:
    rows = []
    for p in pending:
        ctx = str(p["context"])
        pr = p.get("pullRequest") or {}
        where = f"<code>{e(p.get('branch'))}</code>"
        if pr.get("url"):
            where += f' · <a href="{e(pr["url"])}">pull request #{e(pr.get("number"))}</a>'
        ev = p.get("evaluation")
        invalid = f" {badge('invalidated', 'fail')}" if ev and ev.get("invalidated") else ""
        led = (f"{result_badge(ev.get('result'), ev.get('score'))}{invalid} {e(ev.get('stage'))} "
               f"{link('/evaluation?path=' + path_part(ev['path']), 'SLI table')}") if ev else "no evaluation"
        buttons = ""
        if csrf:
            fields = {"context": ctx, "stage": p.get("stage"), "service": p.get("service")}
            buttons = (action("/ui/actions/approve", "Approve", csrf, fields)
                       + action("/ui/actions/decline", "Decline", csrf, fields, confirm=True))
        rows.append(f'<tr id="{e(ctx)}"><td>{e(p.get("stage"))}</td><td>{e(p.get("service"))}</td>'
                    f"<td>{link('/sequences/' + path_part(ctx), ctx[:8])}</td>"
                    f"<td>{badge('waiting for approval', 'wait')}"
                    f" since {when(p.get('since'))}</td><td>{where}</td><td>{led}</td><td>{buttons}</td></tr>")
    hint = ('<p class="small muted">Approve merges the approval branch into the stage branch (as merging the pull '
            'request does); decline deletes it. Without the operator token the buttons are hidden: merge or '
            'close the pull request, or run <code>reconciler approve|decline CONTEXT</code>.</p>')
    return "<h1>Approvals</h1>" + hint + table(("stage", "service", "context", "state", "branch / pull request",
                                               "evaluation that led here", "action"), rows, "no approval is pending")
