"""`reconciler status`: branches, config health, sequences and evaluations at a glance."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import emit_json, open_index, output_option, table, when, workdir_option


@click.command("status")
@workdir_option
@output_option
def command(workdir: Path, output: str) -> None:
    """Show what the controller of WORKDIR knows: last seen commits, config errors (file and
    line), active and recent sequences (queued ones included), recent evaluations.

    Reads the controller's index, so it works while `serve` runs and after it stopped."""
    from reconciler.controller.status import status_view

    view = status_view(open_index(workdir))
    if output == "json":
        emit_json(view)
        return
    config = view["config"]
    click.echo(f"results commit: {(view['resultsCommit'] or '-')[:12]}")
    click.echo("branches: " + (", ".join(f"{b}@{o[:8]}" for b, o in sorted(view["branches"].items())) or "-"))
    errors = [f for f in config["findings"] if f.get("severity") == "error"]
    if config["valid"]:
        click.echo(f"config: valid ({len(config['findings'])} warnings)")
    else:
        click.echo(f"config: {len(errors)} errors — the last valid config stays in force")
    for f in config["findings"]:
        where = f"{f['file']}:{f.get('line') or ''}:{f.get('column') or ''}".rstrip(":")
        click.echo(f"  {where}: {f['severity']} {f['code']} {f['message']}")
    for r in config.get("rejectedTriggers", [])[:10]:
        click.echo(f"  not started: {r['stage']}/{r['service']} at {r['commit'][:12]} (invalid config)")
    def rows(runs):
        return [(r["stage"], r["service"], r["sequence"], r["state"], r.get("task") or "",
                 r.get("result") or "", when(r.get("triggered_at")), r["context"][:8]) for r in runs]
    headers = ("stage", "service", "sequence", "state", "task", "result", "triggered (UTC)", "context")
    click.echo("\nactive sequences:")
    click.echo(table(headers, rows(view["active"])) if view["active"] else "  none")
    click.echo("\nrecent sequences:")
    click.echo(table(headers, rows(view["recent"])) if view["recent"] else "  none")
    if view["evaluations"]:
        click.echo("\nrecent evaluations:")
        click.echo(table(("stage", "service", "result", "score", "file"),
                         [(e["stage"], e["service"], e["result"], "" if e["score"] is None else f"{e['score']:.1f}",
                           e["path"]) for e in view["evaluations"]]))
