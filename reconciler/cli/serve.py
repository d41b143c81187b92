"""`reconciler serve`: run the controller for one config repository."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from reconciler.cli.common import fail


@click.command("serve")
@click.option("--repo", required=True, metavar="URL",
              help="The config repository: a local path, file://, git://, http(s):// or ssh URL. "
                   "Credentials come from RECONCILER_GIT_TOKEN / RECONCILER_GIT_SSH_KEY.")
@click.option("--workdir", "-w", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the mirror, the SQLite index, the API token and local deployments live.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Address of the HTTP server (webhooks, API, /metrics, web UI). Port 0 picks one.")
@click.option("--poll-interval", default=30.0, show_default=True, type=click.FloatRange(min=0), metavar="SECONDS",
              help="How often to compare branch tips with the remote (0 disables polling; "
                   "local repositories are also watched with inotify).")
@click.option("--no-watch", is_flag=True, help="Do not watch a local repository with inotify.")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Threads for built-in executors (deployments, evaluations, jobs).")
@click.option("--group-commit-ms", default=50.0, show_default=True, type=click.FloatRange(0, 1000),
              metavar="MS", help="Group commit: how long a transition may wait to share its results commit "
                                 "with the next ones while executors are running (0: commit every iteration).")
@click.option("--lease", metavar="NAMESPACE/NAME", default=None,
              help="High availability: run several replicas; only the one holding this Kubernetes Lease "
                   "works, the others wait (and take over within the lease duration).")
@click.option("--origin-grace", default=60.0, show_default=True, type=click.FloatRange(min=0), metavar="SECONDS",
              help="/readyz fails once the origin has been unreachable this long (and passes again when it "
                   "is back); the controller keeps serving its last state meanwhile.")
@click.option("--stuck-after", default=900.0, show_default=True, type=click.FloatRange(min=1), metavar="SECONDS",
              help="/healthz fails when one pass of the controller loop has been busy this long, so "
                   "Kubernetes restarts a stuck process. Waiting for work is not being stuck.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", default="text", show_default=True, type=click.Choice(["text", "json"]),
              help="json: one object per line with context, stage, service and task (for log collectors). "
                   "HTTP client request lines appear only with --log-level debug.")
def command(repo: str, workdir: Path, listen: str, poll_interval: float, no_watch: bool, workers: int,
            group_commit_ms: float, lease: str | None, origin_grace: float, stuck_after: float, log_level: str,
            log_format: str) -> None:
    """Watch REPO and run its shipyard: pushes to stage branches start sequences, results are
    committed to the branch `reconciler/results`.

    Secrets only from the environment (or files: RECONCILER_<NAME>_FILE=/path): RECONCILER_API_TOKEN
    (else generated into WORKDIR/api-token), RECONCILER_WEBHOOK_SECRET (push webhooks),
    RECONCILER_ALERTMANAGER_TOKEN, RECONCILER_PROMETHEUS_URL/_TOKEN, RECONCILER_FORGE_TOKEN.
    Jobs and local replicas run as RECONCILER_RUN_AS (an unprivileged user); RECONCILER_HOST_EXEC=deny
    refuses to run repository code on this host (docs/security.md).

    SIGTERM stops it within 10 s in every state; work in flight is redone after the restart.
    """
    from reconciler.logs import configure
    from reconciler.runtime.service import ServeOptions, Service, parse_listen
    from reconciler.sandbox import hardening
    from reconciler.sandbox.launch import RUN_AS_ENV, SandboxError, run_as
    from reconciler.sandbox.secret_files import SecretFileError, load_secret_files

    configure(log_level, log_format)
    try:
        load_secret_files(os.environ)
        runner_user = run_as(os.environ)
    except (SecretFileError, SandboxError) as exc:
        fail(str(exc))
    hardening.make_non_dumpable()
    if hardening.running_as_root() and runner_user is None:
        logging.getLogger("reconciler.sandbox").warning(
            "serve runs as root and %s is not set: jobs and local replicas run as root and can read "
            "this controller's secrets; set %s to an unprivileged user (docs/security.md)", RUN_AS_ENV, RUN_AS_ENV)
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        fail(str(exc))
    lease_ref = None
    if lease:
        namespace, _, name = lease.partition("/")
        if not namespace or not name:
            fail(f"--lease must be NAMESPACE/NAME (got {lease!r})")
        lease_ref = (namespace, name)
    options = ServeOptions(repo=repo, workdir=workdir, host=host, port=port, poll_interval=poll_interval,
                           watch=not no_watch, workers=workers, lease=lease_ref, origin_grace=origin_grace,
                           stuck_after=stuck_after, group_window=group_commit_ms / 1000)
    try:
        service = Service(options)
    except Exception as exc:  # noqa: BLE001 - a bad URL or workdir is a usage error, not a traceback
        fail(f"cannot start: {exc}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service.start(ready_timeout=0)          # the wait for ready below heeds SIGTERM
    except Exception as exc:  # noqa: BLE001
        service.stop()
        fail(f"cannot start: {exc}")
    if lease_ref is None:
        ready_by = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < ready_by and not service.controller.wait_ready(0.2):
            pass
    ok, reason = service.controller.ready()
    click.echo(f"reconciler serving {service.mirror.display_url} on {service.url} "
               f"({'ready' if ok else 'not ready: ' + reason}); token in {workdir / 'api-token'}", err=True)
    code = 0
    while not stop.wait(0.5):
        if service.lost_leadership.is_set():
            click.echo("lost the lease; exiting so a restart rejoins as a standby", err=True)
            code = 3
            break
    if code == 0:
        click.echo("stopping…", err=True)
    service.stop()
    _exit(code)


def _exit(code: int) -> None:
    """Exit now: a task still running in a worker thread (left by `stop` at its deadline) must
    not hold the process past Kubernetes' grace period, as the interpreter's exit would."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
