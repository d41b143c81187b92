"""`reconciler events`: the CloudEvent log, filterable."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import open_index, table, workdir_option
from reconciler.cli.output import emit, output_option


@click.command("events")
@workdir_option
@click.option("--context", help="Only this keptn context (the id or a unique prefix of at least 6 characters).")
@click.option("--stage")
@click.option("--service")
@click.option("--type", "type_prefix", help="Event type prefix, e.g. sh.keptn.event.evaluation.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@output_option
def command(workdir: Path, context: str | None, stage: str | None, service: str | None,
            type_prefix: str | None, limit: int, output: str) -> None:
    """List recorded CloudEvents, newest first (Keptn type names).

    Sorted by the order number the controller gives each event as it records it (the `order`
    attribute), so an answer and the reaction it caused appear in that order even when they
    share a millisecond."""
    from reconciler.cli.contexts import resolve_or_fail
    index = open_index(workdir)
    if context:
        context = resolve_or_fail(index, context)
    events = index.events(context=context, stage=stage, service=service, type_prefix=type_prefix, limit=limit)
    emit(events, output, lambda: events_text(events))


def events_text(events: list[dict]) -> str:
    rows = [(e.get("time", ""), e.get("type", "").removeprefix("sh.keptn.event."),
             (e.get("data") or {}).get("stage", ""), (e.get("data") or {}).get("service", ""),
             (e.get("data") or {}).get("result", ""), str(e.get("shkeptncontext", ""))[:8], e.get("source", ""))
            for e in events]
    return table(("time", "type", "stage", "service", "result", "context", "source"), rows) if rows else "no events"
