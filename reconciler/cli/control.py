"""`reconciler abort|pause|resume CONTEXT`: control running sequences through the API."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import workdir_option
from reconciler.cli.output import EXIT_ERRORED, EXIT_FAILED, EXIT_USAGE, emit, fail, output_option

ACTIVE_STATES = ("triggered", "started", "waitingForApproval", "waiting", "paused")


def _context(given: str, workdir: Path) -> tuple[str, list[dict[str, Any]] | None]:
    """The full context id and its runs (None when there is no index to ask)."""
    from reconciler.cli.contexts import looks_like_uuid, resolve_or_fail
    from reconciler.controller.index import Index
    from reconciler.runtime.service import INDEX_FILE
    path = workdir / INDEX_FILE
    if not path.exists():
        if not looks_like_uuid(given):
            fail(f"a short context id needs the controller's index: no {path} (pass --workdir, or the full id)")
        return given, None
    index = Index(path, readonly=True)
    try:
        full = resolve_or_fail(index, given)
        return full, index.runs(context=full, limit=1000)
    finally:
        index.close()


def _send(action: str, given: str, stage: str | None, workdir: Path, api: str | None, output: str) -> None:
    import httpx

    from reconciler.controller.apitoken import read_token
    from reconciler.runtime.service import read_serve_file
    context, runs = _context(given, workdir)
    if runs is not None:
        mine = [r for r in runs if not stage or r["stage"] == stage]
        if not mine:
            fail(f"context {context} has no sequence" + (f" in stage {stage}" if stage else ""), EXIT_USAGE)
        if not any(r["state"] in ACTIVE_STATES for r in mine):
            last = max(mine, key=lambda r: (r.get("finished_at") or r.get("triggered_at") or 0))
            fail(f"{action}: context {context} already finished ({last['stage']}/{last['service']} "
                 f"{last['sequence']}: {last['state']}, result {last.get('result') or '-'}); nothing to {action}",
                 EXIT_FAILED)
    info = read_serve_file(workdir) or {}
    base = api or info.get("api")
    if not base:
        fail(f"no running controller found in {workdir} (serve.json); pass --api URL")
    token = read_token(workdir)
    if not token:
        fail("no API token: set RECONCILER_API_TOKEN or use the --workdir of the controller")
    try:
        response = httpx.post(f"{base.rstrip('/')}/api/v1/sequences/{context}/control",
                              json={"state": action, **({"stage": stage} if stage else {})},
                              headers={"x-token": token}, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the controller at {base}: {exc}", EXIT_ERRORED)
    try:
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    except ValueError:
        body = {}
    if output != "text":
        emit(body, output)
    if response.status_code >= 400:
        fail(f"{action} refused: {body.get('message') or response.text}", EXIT_FAILED)
    if output == "text":
        click.echo(f"{action}: accepted for context {context}" + (f" in stage {stage}" if stage else ""))


def _make(action: str, doc: str) -> click.Command:
    @click.command(action, help=doc + "\n\nCONTEXT is the id or any unique prefix of at least 6 characters.")
    @click.argument("context")
    @click.option("--stage", help="Only the runs of this stage.")
    @workdir_option
    @click.option("--api", help="Controller API URL (default: from WORKDIR/serve.json).")
    @output_option
    def cmd(context: str, stage: str | None, workdir: Path, api: str | None, output: str) -> None:
        _send(action, context, stage, workdir, api, output)
    return cmd


abort_command = _make("abort", "Abort a context's sequences: queued ones are dropped, running ones end "
                      "with result fail / status aborted, and no follow-up sequences start.")
pause_command = _make("pause", "Pause a context: running tasks finish, the next task and queued "
                      "sequences of the context wait until `resume`.")
resume_command = _make("resume", "Resume a paused context: what was held is dispatched.")
