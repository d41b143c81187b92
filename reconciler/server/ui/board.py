"""The environment board (start page): stages as columns, services as rows.

A cell says what runs there (the version in the stage's values at the branch tip, and the
commit that put it there), how the last quality gate went, what sequence is in progress and
at which task, how many wait behind it, and a pending approval as buttons. The cell's class
colours it; the same state is always written in the cell as words.

Built for 1,000 services × 3 stages: one pass over the index's lane summary, short markup
(an image named after its service shows only its tag), no per-cell links except actions.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.server.ui.html import action, badge, e, path_part, result_badge, short, state_class


@dataclass
class Cell:
    version: str = ""
    commit: str | None = None
    gate: dict[str, Any] | None = None          # newest valid evaluation {result, score, path, context}
    active: list[dict[str, Any]] = field(default_factory=list)    # running, paused, waiting for approval
    queued: list[dict[str, Any]] = field(default_factory=list)    # state "waiting": FIFO behind the active one
    last: dict[str, Any] | None = None          # newest run (for a failed one's message)


def board_model(stages: list[str], lanes: Iterable[Mapping[str, Any]], versions: Mapping[str, Mapping[str, Any]],
                service_filter: str = "") -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    """(stages, services, cells) from the index's lane summary and the stage versions (pure)."""
    cells: dict[tuple[str, str], Cell] = {}
    stage_list = list(stages)
    for stage, running in versions.items():
        for service, r in running.items():
            cells[(stage, service)] = Cell(version=_shown(service, r.version), commit=r.commit)
    for lane in lanes:
        key = (lane["stage"], lane["service"])
        cell = cells.setdefault(key, Cell())
        cell.gate = lane.get("evaluation")
        cell.last = lane.get("last")
        for run in lane.get("active") or ():
            (cell.queued if run["state"] == "waiting" else cell.active).append(run)
        if lane["stage"] not in stage_list:
            stage_list.append(lane["stage"])
    needle = service_filter.strip().lower()
    services = sorted({s for _, s in cells if needle in s.lower()})
    return stage_list, services, cells


def _shown(service: str, version: str) -> str:
    prefix = service + ":"
    return version[len(prefix):] if version.startswith(prefix) else version


def _cell_class(cell: Cell) -> str:
    if any(r["state"] == "waitingForApproval" for r in cell.active):
        return "wait"
    if cell.active:
        return "run"
    if cell.last and cell.last.get("state") in ("aborted", "timedOut"):
        return "fail"
    if cell.last and cell.last.get("result") == "fail":
        return "fail"
    if cell.gate and cell.gate.get("result"):
        return {"pass": "pass", "warning": "warning", "fail": "fail"}.get(cell.gate["result"], "")
    return ""


def render_cell(stage: str, service: str, cell: Cell, csrf: str | None) -> str:
    parts = []
    if cell.version:
        parts.append(f"<b>{e(cell.version)}</b>")
    else:
        parts.append('<span class=muted>no version</span>')
    if cell.commit:
        parts.append(f" <code>{short(cell.commit, 7)}</code>")
    if cell.gate:
        g = cell.gate
        parts.append(f"<br>gate {result_badge(g.get('result'), g.get('score'))}")
    for run in cell.active:
        ctx = e(run["context"])
        if run["state"] == "waitingForApproval":
            parts.append(f'<br><a href="/approvals#{ctx}">{badge("approval pending", "wait")}</a>')
            if csrf:
                fields = {"context": run["context"], "stage": stage, "service": service}
                parts.append(" " + action("/ui/actions/approve", "Approve", csrf, fields)
                             + action("/ui/actions/decline", "Decline", csrf, fields, confirm=True))
        else:
            word = "paused" if run["state"] == "paused" else "running"
            task = f": {e(run.get('task'))}" if run.get("task") else ""
            parts.append(f'<br><a href="/sequences/{ctx}">{badge(word, state_class(run["state"]))} '
                         f'{e(run["sequence"])}{task}</a>')
    if cell.queued:
        names = ", ".join(sorted({str(r["sequence"]) for r in cell.queued}))
        parts.append(f"<br>{badge(f'queued {len(cell.queued)}', 'wait')} {e(names)}")
    last = cell.last
    if last and not cell.active and (last.get("result") == "fail" or last.get("state") in ("aborted", "timedOut")):
        message = str(last.get("message") or "")[:140]
        word = str(last.get("state")) if last.get("state") != "finished" else "failed"
        parts.append(f'<br><a href="/sequences/{e(last["context"])}">{badge(word, "fail")} '
                     f'{e(last.get("sequence"))}</a> <span class=small>{e(message)}</span>')
    cls = _cell_class(cell)
    return f"<td{f' class={cls}' if cls else ''}>{''.join(parts)}</td>"


def render_board(stages: list[str], services: list[str], cells: Mapping[tuple[str, str], Cell],
                 csrf: str | None) -> str:
    if not services:
        return '<h1>Environment</h1><p class="muted">no services on any stage branch yet</p>'
    head = "".join(f'<th><a href="/sequences?stage={path_part(s)}">{e(s)}</a></th>' for s in stages)
    rows = []
    empty = Cell()
    for service in services:
        row = "".join(render_cell(stage, service, cells.get((stage, service), empty), csrf) for stage in stages)
        rows.append(f'<tr><th><a href="/sequences?service={path_part(service)}">{e(service)}</a></th>{row}</tr>\n')
    legend = ('<p class="small muted">Each cell: the version in the stage\'s values (an image named after its '
              'service shows only its tag) and the commit that set it; the last quality gate and its score; '
              'a sequence in progress with its current task; queued sequences; a pending approval.</p>')
    return (f"<h1>Environment</h1>{legend}<table id=board><tr><th>service</th>{head}</tr>\n"
            + "".join(rows) + "</table>")
