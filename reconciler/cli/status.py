"""`reconciler status`: branches, config health, sequences and evaluations at a glance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import open_index, table, when, workdir_option
from reconciler.cli.output import emit, output_option, render
from reconciler.cli.watch import watch_frames, watch_options

FAILED_RESULTS = ("fail", "error", "errored")


@click.command("status")
@workdir_option
@output_option
@watch_options
def command(workdir: Path, output: str, watch: bool, interval: float, rounds: int) -> None:
    """Show what the controller of WORKDIR knows: branch tips, config errors (file and line),
    active and recent sequences (queued ones included) with why each failure failed, recent
    evaluations.

    Reads the controller's index and mirror, so it works while `serve` runs and after it stopped."""
    index = open_index(workdir)
    if watch:
        watch_frames(lambda: frame(index, workdir, output), output, interval, rounds)
        return
    view = status_data(index, workdir)
    emit(view, output, lambda: status_text(view))


def frame(index: Any, workdir: Path, output: str) -> str:
    view = status_data(index, workdir)
    return status_text(view) if output == "text" else render(view, output)


def status_data(index: Any, workdir: Path) -> dict[str, Any]:
    """The API's status view, with the branch tips of the work dir's mirror (current, the
    controller's own commits included) instead of the last tips that triggered something."""
    from reconciler.cli.workdir import branch_tips
    from reconciler.controller.integrations import Integrations
    from reconciler.controller.status import status_view

    view = status_view(index, Integrations.open_readonly(workdir))
    tips = branch_tips(workdir)
    if tips is not None:
        view["branches"] = tips
    return view


def status_text(view: dict[str, Any]) -> str:
    lines: list[str] = []
    out = lines.append
    config = view["config"]
    if view.get("project"):
        out(f"project: {view['project']} (from {view.get('projectSource') or 'the repository'})")
    out(f"results commit: {(view['resultsCommit'] or '-')[:12]}")
    lines += controller_lines(view.get("controller") or {})
    ignored = {i["branch"] for i in view.get("ignoredBranches", [])}
    out("branches: " + (", ".join(f"{b}@{o[:8]}" for b, o in sorted(view["branches"].items())
                                  if b not in ignored) or "-"))
    for item in view.get("ignoredBranches", []):
        out(f"  ignored branch: {item['branch']} ({item['reason']}; nothing on it is read)")
    errors = [f for f in config["findings"] if f.get("severity") == "error"]
    if config["valid"]:
        out(f"config: valid ({len(config['findings'])} warnings)")
    else:
        out(f"config: {len(errors)} errors — the last valid config stays in force")
    for f in config["findings"]:
        where = f"{f['file']}:{f.get('line') or ''}:{f.get('column') or ''}".rstrip(":")
        out(f"  {where}: {f['severity']} {f['code']} {f['message']}")
    for r in config.get("rejectedTriggers", [])[:10]:
        out(f"  not started: {r['stage']}/{r['service']} at {r['commit'][:12]} (invalid config)")

    def rows(runs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["stage"], r["service"], r["sequence"], r["state"], r.get("task") or "",
                 r.get("result") or "", when(r.get("triggered_at")), r["context"][:8]) for r in runs]
    headers = ("stage", "service", "sequence", "state", "task", "result", "triggered (UTC)", "context")
    out("\nactive sequences:")
    out(table(headers, rows(view["active"])) if view["active"] else "  none")
    for r in view["active"]:
        if r.get("message"):
            out(f"  {r['stage']}/{r['service']} {r['sequence']} {r['context'][:8]}: {r['message']}")
    out("\nrecent sequences:")
    out(table(headers, rows(view["recent"])) if view["recent"] else "  none")
    failures = failure_lines(view["active"] + view["recent"])
    if failures:
        out("\nwhy:")
        lines += failures
    if view["evaluations"]:
        out("\nrecent evaluations:")
        out(table(("stage", "service", "result", "score", "file"),
                  [(e["stage"], e["service"], e["result"], "" if e["score"] is None else f"{e['score']:.1f}",
                    e["path"]) for e in view["evaluations"]]))
    out("\nintegrations:")
    if view.get("integrations"):
        out(table(("name", "id", "last seen (UTC)", "subscriptions"),
                  [(i["name"], i["id"][:12], (i.get("lastseen") or "").replace("T", " ")[:19],
                    ", ".join(s["event"] + _filter(s) for s in i["subscriptions"]) or "-")
                   for i in view["integrations"]]))
    else:
        out("  none registered")
    return "\n".join(lines)


def _filter(subscription: dict[str, Any]) -> str:
    parts = [",".join(subscription.get(k) or []) for k in ("projects", "stages", "services")]
    return "" if not any(parts) else " [" + "/".join(p or "*" for p in parts) + "]"


def failure_lines(runs: list[dict[str, Any]]) -> list[str]:
    """One line per failed, errored or waiting run with a message: `context stage/service: message`."""
    seen: set[str] = set()
    lines = []
    for r in runs:
        failed = r.get("result") in FAILED_RESULTS or r.get("status") in ("errored", "aborted")
        waiting = r.get("state") in ("waiting", "waitingForApproval")
        if not r.get("message") or not (failed or waiting) or r["id"] in seen:
            continue
        seen.add(r["id"])
        message = " ".join(str(r["message"]).split())
        if len(message) > 300:
            message = message[:297] + "..."
        lines.append(f"  {r['context'][:8]} {r['stage']}/{r['service']} {r['sequence']}: {message}")
    return lines


def controller_lines(health: dict[str, Any]) -> list[str]:
    """What stops or degrades the controller: faults (it is not ready), an outage, notices."""
    origin = health.get("origin") or {}
    lines = [f"  NOT READY: {m}" for m in (health.get("faults") or {}).values()]
    if origin.get("reachable") is False:
        lines.append(f"  origin unreachable for {origin.get('downForSeconds')}s: {origin.get('error')}")
    lines += [f"  notice: {m}" for m in (health.get("notices") or {}).values()]
    if not lines:
        return []
    as_of = when(health["updated"]) if isinstance(health.get("updated"), (int, float)) else "?"
    return [f"controller (as of {as_of} UTC):", *lines]
