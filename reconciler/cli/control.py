"""`reconciler abort|pause|resume CONTEXT`: control running sequences through the API."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import emit_json, fail, output_option, workdir_option


def _send(action: str, context: str, stage: str | None, workdir: Path, api: str | None, output: str) -> None:
    import httpx

    from reconciler.controller.apitoken import read_token
    from reconciler.runtime.service import read_serve_file
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
        fail(f"cannot reach the controller at {base}: {exc}")
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if output == "json":
        emit_json(body)
    if response.status_code >= 400:
        fail(f"{action} refused: {body.get('message') or response.text}", 1)
    if output != "json":
        click.echo(f"{action}: accepted for context {context}" + (f" in stage {stage}" if stage else ""))


def _make(action: str, doc: str) -> click.Command:
    @click.command(action, help=doc)
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
