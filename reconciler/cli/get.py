"""`reconciler get sequences|sequence CTX|evaluations|evaluation ID`: the record in detail.

Lists come from the controller's index; one sequence's tasks and one evaluation's SLIs come
from the files on `reconciler/results` in the work dir's mirror (the index points at them).
Every subcommand takes `-o text|json|yaml` and `--watch`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import open_index, table, when, workdir_option
from reconciler.cli.output import EXIT_USAGE, emit, fail, output_option, render
from reconciler.cli.watch import watch_frames, watch_options

ACTIVE_STATES = ("triggered", "started", "waitingForApproval", "waiting", "paused")


@click.group("get")
def command() -> None:
    """Show sequences and evaluations from the controller's record (like `kubectl get`)."""


def _show(data: Callable[[], Any], text: Callable[[Any], str], output: str, watch: bool, interval: float,
          rounds: int) -> None:
    if watch:
        watch_frames(lambda: _frame(data(), text, output), output, interval, rounds)
    else:
        value = data()
        emit(value, output, lambda: text(value))


def _frame(value: Any, text: Callable[[Any], str], output: str) -> str:
    return text(value) if output == "text" else render(value, output)


# -- sequences ------------------------------------------------------------------------------

@command.command("sequences")
@workdir_option
@click.option("--stage")
@click.option("--service")
@click.option("--state", "states", multiple=True, help="Only runs in this state (repeatable), e.g. started.")
@click.option("--active", is_flag=True, help="Only runs that have not finished.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@output_option
@watch_options
def sequences(workdir: Path, stage: str | None, service: str | None, states: tuple[str, ...], active: bool,
              limit: int, output: str, watch: bool, interval: float, rounds: int) -> None:
    """Sequence runs, newest first: stage, service, sequence, state, current task, result."""
    index = open_index(workdir)
    wanted = list(states) + (list(ACTIVE_STATES) if active else [])

    def data() -> list[dict[str, Any]]:
        return [_run_row(r) for r in index.runs(stage=stage, service=service, states=wanted or None, limit=limit)]
    _show(data, sequences_text, output, watch, interval, rounds)


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    return {"context": r["context"], "stage": r["stage"], "service": r["service"], "sequence": r["sequence"],
            "state": r["state"], "task": r.get("task"), "result": r.get("result"), "status": r.get("status"),
            "message": r.get("message"), "triggeredAt": r.get("triggered_at"), "finishedAt": r.get("finished_at"),
            "commit": r.get("trigger_commit"), "id": r["id"]}


def sequences_text(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no sequences"
    return table(("context", "stage", "service", "sequence", "state", "task", "result", "triggered (UTC)"),
                 [(r["context"][:8], r["stage"], r["service"], r["sequence"], r["state"], r["task"] or "",
                   r["result"] or "", when(r["triggeredAt"])) for r in runs])


@command.command("sequence")
@click.argument("context")
@workdir_option
@output_option
@watch_options
def sequence(context: str, workdir: Path, output: str, watch: bool, interval: float, rounds: int) -> None:
    """One context: each of its sequence runs with every task (state, result, message, times).
    CONTEXT is the id or any unique prefix of at least 6 characters."""
    from reconciler.cli.contexts import resolve_or_fail
    index = open_index(workdir)
    full = resolve_or_fail(index, context)
    if not index.runs(context=full, limit=1):
        fail(f"no sequence with context {full}", EXIT_USAGE)
    _show(lambda: sequence_data(index, workdir, full), sequence_text, output, watch, interval, rounds)


def sequence_data(index: Any, workdir: Path, context: str) -> dict[str, Any]:
    """`{context, sequences: [run + tasks]}`, runs oldest first (the order they ran in)."""
    from reconciler.cli.workdir import read_results_json
    runs = sorted(index.runs(context=context, limit=1000), key=lambda r: (r.get("triggered_at") or 0, r["id"]))
    lanes: dict[str, Any] = {}
    out = []
    for r in runs:
        if r["path"] not in lanes:
            lanes[r["path"]] = read_results_json(workdir, r["path"]) or {}
        stored = next((x for x in lanes[r["path"]].get("runs") or [] if isinstance(x, dict) and x.get("id") == r["id"]),
                      {})
        row = _run_row(r)
        row["tasks"] = [_task(t) for t in stored.get("tasks") or [] if isinstance(t, dict)]
        out.append(row)
    return {"context": context, "sequences": out}


def _task(t: dict[str, Any]) -> dict[str, Any]:
    times = [float(a["at"]) for a in (t.get("started") or {}).values()
             if isinstance(a, dict) and isinstance(a.get("at"), (int, float))]
    started = min(times, default=None)
    return {"index": t.get("index"), "name": t.get("name"), "state": t.get("state"), "result": t.get("result"),
            "status": t.get("status"), "message": t.get("message"), "triggeredAt": t.get("triggeredAt"),
            "startedAt": started, "completedAt": t.get("completedAt"),
            "sources": sorted((t.get("finished") or t.get("started") or {}).keys())}


def sequence_text(data: dict[str, Any]) -> str:
    lines = [f"context {data['context']}"]
    for r in data["sequences"]:
        verdict = r["result"] or r["state"]
        lines.append(f"\n{r['stage']}/{r['service']} {r['sequence']}: {r['state']}"
                     + (f" ({verdict}{', ' + r['status'] if r['status'] and r['status'] != 'succeeded' else ''})"
                        if r["result"] else "")
                     + f", triggered {when(r['triggeredAt'])} UTC")
        if r["message"]:
            lines.append(f"  message: {' '.join(str(r['message']).split())}")
        if r["tasks"]:
            lines.append(table(("#", "task", "state", "result", "status", "started (UTC)", "done (UTC)", "message"),
                               [(t["index"], t["name"], t["state"], t["result"] or "", t["status"] or "",
                                 when(t["startedAt"] or t["triggeredAt"]) if t["startedAt"] or t["triggeredAt"] else "",
                                 when(t["completedAt"]) if t["completedAt"] else "",
                                 " ".join(str(t["message"] or "").split())[:120]) for t in r["tasks"]]))
        else:
            lines.append("  (no tasks recorded yet)")
    return "\n".join(lines)


# -- evaluations ----------------------------------------------------------------------------

@command.command("evaluations")
@workdir_option
@click.option("--stage")
@click.option("--service")
@click.option("--context", help="Only this context (id or unique prefix of at least 6 characters).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@output_option
@watch_options
def evaluations(workdir: Path, stage: str | None, service: str | None, context: str | None, limit: int,
                output: str, watch: bool, interval: float, rounds: int) -> None:
    """Quality gate evaluations, newest first (invalidated ones marked)."""
    from reconciler.cli.contexts import resolve_or_fail
    index = open_index(workdir)
    full = resolve_or_fail(index, context) if context else None

    def data() -> list[dict[str, Any]]:
        return [_evaluation_row(e) for e in index.evaluation_rows(context=full, stage=stage, service=service,
                                                                   limit=limit)]
    _show(data, evaluations_text, output, watch, interval, rounds)


def _evaluation_row(e: dict[str, Any]) -> dict[str, Any]:
    return {"id": e["path"].rsplit("/", 1)[-1].removesuffix(".json"), "path": e["path"], "stage": e["stage"],
            "service": e["service"], "context": e["context"], "time": e["time"], "result": e["result"],
            "score": e["score"], "invalidated": bool(e["invalidated"])}


def evaluations_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no evaluations"
    return table(("id", "stage", "service", "result", "score", "context"),
                 [(e["id"], e["stage"], e["service"],
                   (e["result"] or "") + (" (invalidated)" if e["invalidated"] else ""),
                   "" if e["score"] is None else f"{e['score']:.1f}", (e["context"] or "")[:8]) for e in rows])


@command.command("evaluation")
@click.argument("ident", metavar="ID")
@workdir_option
@output_option
@watch_options
def evaluation(ident: str, workdir: Path, output: str, watch: bool, interval: float, rounds: int) -> None:
    """One evaluation with every SLI: value, targets, status, points, query and error. ID is what
    `get evaluations` shows (the file name), its path, or a context (its newest evaluation)."""
    index = open_index(workdir)
    row = find_evaluation(index, ident)
    _show(lambda: evaluation_data(index, workdir, row), evaluation_text, output, watch, interval, rounds)


def find_evaluation(index: Any, ident: str) -> dict[str, Any]:
    ident = ident.strip().removesuffix(".json")
    rows = index.db.execute("SELECT * FROM evaluations WHERE path = ? OR path LIKE ? ORDER BY path DESC LIMIT 11",
                            (ident + ".json", "%/" + ident.replace("%", "") + "%")).fetchall()
    rows = [dict(r) for r in rows]
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1:
        fail(f"evaluation {ident!r} is ambiguous; it matches:\n"
             + "\n".join(f"  {r['path']}" for r in rows[:10]) + "\ngive more of the id", EXIT_USAGE)
    if len(ident) < 6:
        fail(f"no evaluation {ident!r}; give the id `get evaluations` shows or at least 6 characters of a "
             f"context", EXIT_USAGE)
    contexts = [r[0] for r in index.db.execute(
        "SELECT DISTINCT context FROM evaluations WHERE context LIKE ? LIMIT 11",
        (ident.lower().replace("%", "").replace("_", "") + "%",))]
    if len(contexts) > 1:
        fail(f"context prefix {ident!r} is ambiguous; it matches:\n" + "\n".join(f"  {c}" for c in contexts[:10])
             + "\ngive more characters", EXIT_USAGE)
    if not contexts:
        fail(f"no evaluation {ident!r} (see `reconciler get evaluations`)", EXIT_USAGE)
    return index.evaluation_rows(context=contexts[0], limit=1)[0]


def evaluation_data(index: Any, workdir: Path, row: dict[str, Any]) -> dict[str, Any]:
    from reconciler.cli.workdir import read_results_json
    doc = read_results_json(workdir, row["path"]) or {}
    objectives = [{"sli": o.get("sli"), "value": o.get("value"), "status": o.get("status"), "score": o.get("score"),
                   "weight": o.get("weight"), "keySli": o.get("key_sli"),
                   "passTargets": o.get("pass_targets") or [], "warningTargets": o.get("warning_targets") or [],
                   "comparedValue": o.get("compared_value"), "query": o.get("query"), "error": o.get("error")}
                  for o in doc.get("objectives") or [] if isinstance(o, dict)]
    return {**_evaluation_row(row), "message": doc.get("message"), "error": doc.get("error"),
            "errorKind": doc.get("error_kind"), "window": doc.get("window"), "thresholds": doc.get("thresholds"),
            "comparedCount": doc.get("compared_count"), "objectives": objectives}


def _num(value: Any) -> str:
    from reconciler.quality.scoring import go_float
    return go_float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _targets(targets: list[Any]) -> str:
    parts = []
    for t in targets:
        if isinstance(t, dict):
            mark = "missed" if t.get("violated") else "met"
            parts.append(f"{str(t.get('criteria', '')).strip()} ({_num(t.get('target_value'))}, {mark})")
    return ", ".join(parts) or "-"


def evaluation_text(e: dict[str, Any]) -> str:
    lines = [f"evaluation {e['id']} — {e['stage']}/{e['service']} context {e['context']}"]
    if e["window"]:
        lines.append(f"window: {e['window'].get('start')} .. {e['window'].get('end')}")
    if e["objectives"]:
        lines.append(table(("sli", "value", "pass targets", "warning targets", "status", "points", "error"),
                           [(o["sli"] + (" (key)" if o["keySli"] else ""),
                             "-" if o["value"] is None else _num(o["value"]),
                             _targets(o["passTargets"]), _targets(o["warningTargets"]), o["status"],
                             "-" if o["status"] == "info" else f"{_num(o['score'])}/{o['weight']}", o["error"] or "")
                            for o in e["objectives"]]))
    score = "-" if e["score"] is None else f"{e['score']:.1f}"
    lines.append(f"result: {e['result']} (score {score})" + (" — invalidated" if e["invalidated"] else ""))
    if e["message"]:
        lines.append(f"message: {e['message']}")
    return "\n".join(lines)
