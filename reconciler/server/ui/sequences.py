"""Sequences: a filterable list, and per context a timeline across stages.

The timeline reads the lane documents of the context (the results branch's
`sequences/<stage>/<service>/<context>.json`): every task with when it was triggered, started
and finished, how long it took, its result, which executor answered and its message — the
message is the run's own words on why it failed, kept whole.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.server.ui.html import (
    action,
    badge,
    duration,
    e,
    link,
    path_part,
    result_badge,
    short,
    state_class,
    table,
    when,
)

FILTERS = ("project", "stage", "service", "sequence", "state")
STATES = ("triggered", "started", "waiting", "waitingForApproval", "paused", "finished", "aborted", "timedOut")


def filter_form(values: Mapping[str, str], options: Mapping[str, Iterable[str]]) -> str:
    """GET form (no JavaScript needed); live.js keeps it, since it sits outside <main>."""
    fields = []
    for name in FILTERS:
        current = values.get(name, "")
        choices = [""] + sorted({str(o) for o in options.get(name, ()) if o})
        opts = "".join(f'<option value="{e(c)}"{" selected" if c == current else ""}>{e(c or "any")}</option>'
                       for c in choices)
        fields.append(f'<label>{name} <select name="{name}">{opts}</select></label> ')
    return f'<form method=get action="/sequences" id=seqfilter>{"".join(fields)}<button>Filter</button></form>'


def run_row(r: Mapping[str, Any]) -> str:
    cls = state_class(r.get("state"), r.get("result"))
    state = r.get("state")
    outcome = f"{state} / {r.get('result')}" if r.get("result") else state
    return (f"<tr><td>{link('/sequences/' + path_part(r['context']), str(r['context'])[:8])}</td>"
            f"<td>{e(r.get('stage'))}</td><td>{e(r.get('service'))}</td><td>{e(r.get('sequence'))}</td>"
            f"<td class={cls or 'x'}>{e(outcome)}</td><td>{e(r.get('task') or '')}</td>"
            f"<td>{when(r.get('triggered_at'))}</td><td class=msg>{e(str(r.get('message') or '')[:300])}</td></tr>")


def render_list(runs: list[Mapping[str, Any]], project: str, values: Mapping[str, str]) -> str:
    if values.get("project") and project and values["project"] != project:
        runs = []
    shown = [r for r in runs if not values.get("sequence") or r.get("sequence") == values["sequence"]]
    rows = [run_row(r) for r in shown]
    return ("<h1>Sequences</h1>" + table(("context", "stage", "service", "sequence", "state / result", "task",
                                          "triggered (UTC)", "message"), rows, "no sequence matches"))


def _executors(task: Mapping[str, Any]) -> str:
    names = sorted(set(task.get("started") or {}) | set(task.get("finished") or {}))
    return ", ".join(n.rsplit("/", 1)[-1] for n in names)


def task_message(task: Mapping[str, Any]) -> str:
    """The task's message, else the first message an executor's `.finished` carried."""
    if task.get("message"):
        return str(task["message"])
    for answer in (task.get("finished") or {}).values():
        if answer.get("message"):
            return str(answer["message"])
    return ""


def task_rows(run: Mapping[str, Any]) -> list[str]:
    rows = []
    for task in run.get("tasks") or []:
        started = min((a.get("at") for a in (task.get("started") or {}).values() if a.get("at")), default=None)
        finished = task.get("completedAt")
        state = task.get("state")
        shown = task.get("result") or state
        running = "run" if state in ("triggered", "started") else ""
        cls = {"pass": "pass", "warning": "warning", "fail": "fail"}.get(str(task.get("result")), running)
        rows.append(f"<tr><td>{e(task.get('name'))}</td><td class={cls or 'x'}>{e(shown)}</td>"
                    f"<td>{when(task.get('triggeredAt'))}</td><td>{when(started)}</td><td>{when(finished)}</td>"
                    f"<td>{duration(task.get('triggeredAt'), finished)}</td><td>{e(_executors(task))}</td>"
                    f"<td class=msg>{e(task_message(task))}</td></tr>")
    return rows


def render_timeline(context: str, runs: Sequence[Mapping[str, Any]], stage_order: list[str],
                    commits: Sequence[Mapping[str, Any]], evaluations: Sequence[Mapping[str, Any]],
                    csrf: str | None, commit_url: Any = None) -> str:
    """`runs`: the lane documents' run dicts of this context (any stage)."""
    order = {s: i for i, s in enumerate(stage_order)}
    runs = sorted(runs, key=lambda r: (order.get(str(r.get("stage")), 99), r.get("triggeredAt") or 0,
                                       r.get("index", 0)))
    out = [f"<h1>Sequence <code>{e(context)}</code></h1>"]
    if csrf and any(r.get("state") not in ("finished", "aborted", "timedOut") for r in runs):
        buttons = "".join(action("/ui/actions/control", label, csrf, {"context": context, "state": state},
                                 confirm=state == "abort")
                          for state, label in (("pause", "Pause"), ("resume", "Resume"), ("abort", "Abort")))
        out.append(f"<div class=ops>Operator: {buttons}</div>")
    if not runs:
        out.append('<p class="muted">no runs recorded for this context</p>')
    for run in runs:
        state = run.get("state")
        cls = state_class(state, run.get("result"))
        outcome = f"{state}" + (f", result {run.get('result')}" if run.get("result") else "") \
            + (f", status {run.get('status')}" if run.get("status") else "")
        out.append(f"<h2 id=\"{e(run.get('stage'))}-{e(run.get('index'))}\">{e(run.get('stage'))} · "
                   f"{e(run.get('service'))} · {e(run.get('sequence'))} {badge(outcome, cls)}</h2>")
        meta = [f"triggered {when(run.get('triggeredAt'))}"]
        if run.get("finishedAt"):
            meta.append(f"finished {when(run.get('finishedAt'))} after "
                        f"{duration(run.get('triggeredAt'), run.get('finishedAt'))}")
        if run.get("message"):
            meta.append(f"<span class=msg>{e(run['message'])}</span>")
        out.append(f"<p class=small>{' · '.join(meta)}</p>")
        out.append(table(("task", "state / result", "triggered", "started", "finished", "duration", "executor",
                          "message"), task_rows(run), "no tasks"))
    if evaluations:
        rows = [f"<tr><td>{e(ev.get('stage'))}</td><td>{result_badge(ev.get('result'), ev.get('score'))}"
                f"{' ' + badge('invalidated', 'muted') if ev.get('invalidated') else ''}</td>"
                f"<td>{link('/evaluation?path=' + path_part(ev['path']), 'SLI table')}</td></tr>" for ev in evaluations]
        out.append("<h2>Evaluations</h2>" + table(("stage", "result", "detail"), rows))
    rows = []
    for c in commits:
        oid = str(c.get("oid"))
        url = commit_url(oid) if commit_url else None
        shown = f'<a href="{e(url)}"><code>{short(oid, 12)}</code></a>' if url else f"<code>{short(oid, 12)}</code>"
        rows.append(f"<tr><td>{e(c.get('branch'))}</td><td>{shown}</td>"
                    f"<td>{e(str(c.get('message') or '').splitlines()[0] if c.get('message') else '')}</td></tr>")
    out.append("<h2>Commits this context wrote</h2>" + table(("branch", "commit", "subject"), rows,
                                                             "no commits on stage branches"))
    return "".join(out)
