"""`reconciler approve|decline CONTEXT`: decide a manual approval with plain Git."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import emit_json, fail, output_option
from reconciler.cli.remote import remote, repo_option, resolve_repo


def _options(func):
    func = click.argument("context")(func)
    func = click.option("--stage", help="When the context waits in several stages.")(func)
    func = click.option("--service", help="When the context waits for several services.")(func)
    func = repo_option(func)
    func = click.option("--workdir", "-w", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Work dir of a running controller, to find the repo.")(func)
    return output_option(func)


def _decide(kind: str, context: str, stage: str | None, service: str | None, repo: str | None,
            workdir: Path | None, output: str) -> None:
    from reconciler.gitstore import GitStoreError, MergeConflict
    from reconciler.tasks.approval import ApprovalError, approve, decline
    url = resolve_repo(repo, workdir)
    with remote(url) as (mirror, writer):
        try:
            decision = (approve if kind == "approve" else decline)(mirror, writer, context, stage=stage,
                                                                   service=service)
        except ApprovalError as exc:
            fail(str(exc), 1)
        except MergeConflict as exc:
            fail(f"the approval branch conflicts with the stage branch: {exc}; resolve it in a pull request", 1)
        except GitStoreError as exc:
            fail(f"cannot update {url}: {exc}", 1)
    if output == "json":
        emit_json({"decision": decision.decision, "branch": decision.branch, "stage": decision.stage,
                   "service": decision.service, "keptnContext": decision.context, "commit": decision.commit})
    elif decision.decision == "approved":
        how = "fast-forward" if decision.fast_forward else "merge commit"
        click.echo(f"approved {decision.stage}/{decision.service} ({decision.context}): {decision.branch} "
                   f"merged into {decision.stage} ({how} {str(decision.commit)[:12]}) and deleted")
    else:
        click.echo(f"declined {decision.stage}/{decision.service} ({decision.context}): {decision.branch} deleted")


@click.command("approve")
@_options
def approve_command(context, stage, service, repo, workdir, output) -> None:
    """Approve: merge `approve/<stage>/<service>/<short CONTEXT>` into the stage branch and
    delete it — exactly what merging its pull request does. The waiting sequence continues."""
    _decide("approve", context, stage, service, repo, workdir, output)


@click.command("decline")
@_options
def decline_command(context, stage, service, repo, workdir, output) -> None:
    """Decline: delete the approval branch (like closing its pull request). The waiting
    sequence finishes with result fail, which may start a rollback sequence."""
    _decide("decline", context, stage, service, repo, workdir, output)
