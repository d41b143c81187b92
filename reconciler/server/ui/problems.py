"""Remediation and problems: each remediation sequence with the alert that opened it, its
actions and re-evaluations (their messages say what changed, e.g. replicaCount 1 → 2), and
escalations recorded when the actions ran out."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.server.ui.html import badge, e, link, path_part, state_class, table, when
from reconciler.server.ui.sequences import task_message

RAN_OUT = "remediation ran out of actions"


def problem_of(trigger: Mapping[str, Any] | None) -> dict[str, Any]:
    data = (trigger or {}).get("data") or {}
    raw = data.get("problem")
    problem: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    labels = problem.get("labels") or data.get("labels") or {}
    return {"title": problem.get("problemTitle") or data.get("problemTitle") or problem.get("ProblemTitle") or "",
            "fingerprint": problem.get("fingerprint") or problem.get("ProblemID") or data.get("fingerprint") or "",
            "labels": labels if isinstance(labels, Mapping) else {}, "state": problem.get("State") or ""}


def render_problems(remediations: Sequence[Mapping[str, Any]], escalations: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in remediations:
        p = problem_of(r.get("trigger"))
        labels = ", ".join(f"{k}={v}" for k, v in sorted(p["labels"].items()))
        state = r.get("state")
        open_ = state not in ("finished", "aborted", "timedOut")
        steps = "<br>".join(f"{e(t.get('name'))}: {e(t.get('result') or t.get('state'))} "
                            f"<span class=small>{e(task_message(t))}</span>" for t in r.get("tasks") or [])
        rows.append(f"<tr><td>{badge('open' if open_ else 'closed', 'run' if open_ else 'muted')}</td>"
                    f"<td>{e(r.get('stage'))} · {e(r.get('service'))}</td><td>{e(p['title'])}<br>"
                    f"<span class=small>{e(labels)}</span></td><td><code>{e(str(p['fingerprint'])[:16])}</code></td>"
                    f"<td class={state_class(state, r.get('result')) or 'x'}>{e(state)} {e(r.get('result') or '')}</td>"
                    f"<td class=small>{steps}</td><td>{when(r.get('triggeredAt'))}</td>"
                    f"<td>{link('/sequences/' + path_part(r.get('context') or ''), str(r.get('context'))[:8])}"
                    f"</td></tr>")
    out = ["<h1>Problems and remediation</h1>",
           table(("state", "stage · service", "alert", "fingerprint", "sequence", "actions and re-evaluations",
                  "opened (UTC)", "context"), rows, "no remediation has run")]
    esc = []
    for doc in escalations:
        raw = doc.get("event")
        event: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        data = event.get("data") or {}
        context = str(event.get("shkeptncontext") or "")
        esc.append(f"<tr><td>{e(data.get('stage'))} · {e(data.get('service'))}</td><td>{e(event.get('time'))}</td>"
                   f"<td class=msg>{e(data.get('message') or data.get('reason') or RAN_OUT)}</td>"
                   f"<td>{link('/sequences/' + path_part(context), context[:8])}</td></tr>")
    out.append("<h2>Escalations</h2>" + table(("stage · service", "when", "why", "context"), esc, "none"))
    return "".join(out)
