"""`reconciler approve|decline CONTEXT`: decide a manual approval with plain Git."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.output import EXIT_FAILED, emit, fail, output_option
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
    if workdir is not None and len(context) < 36:
        context = _full_context(workdir, context)
    url = resolve_repo(repo, workdir)
    with remote(url) as (mirror, writer):
        if len(context) < 8:
            context = _short_from_branches(mirror, context)
        try:
            decision = (approve if kind == "approve" else decline)(mirror, writer, context, stage=stage,
                                                                   service=service)
        except ApprovalError as exc:
            fail(str(exc), EXIT_FAILED)
        except MergeConflict as exc:
            fail(f"the approval branch conflicts with the stage branch: {exc}; resolve it in a pull request",
                 EXIT_FAILED)
        except GitStoreError as exc:
            fail(f"cannot update {url}: {exc}", EXIT_FAILED)
    if output != "text":
        emit({"decision": decision.decision, "branch": decision.branch, "stage": decision.stage,
                   "service": decision.service, "keptnContext": decision.context, "commit": decision.commit},
             output)
    elif decision.decision == "approved":
        how = "fast-forward" if decision.fast_forward else "merge commit"
        click.echo(f"approved {decision.stage}/{decision.service} ({decision.context}): {decision.branch} "
                   f"merged into {decision.stage} ({how} {str(decision.commit)[:12]}) and deleted")
    else:
        click.echo(f"declined {decision.stage}/{decision.service} ({decision.context}): {decision.branch} deleted")


def _full_context(workdir: Path, given: str) -> str:
    """A short id through the controller's index, when there is one (else the approval
    branches, named by the short id, decide)."""
    from reconciler.cli.contexts import resolve_or_fail
    from reconciler.controller.index import Index
    from reconciler.runtime.service import INDEX_FILE
    if not (workdir / INDEX_FILE).exists():
        return given
    index = Index(workdir / INDEX_FILE, readonly=True)
    try:
        return resolve_or_fail(index, given)
    finally:
        index.close()


def _short_from_branches(mirror, given: str) -> str:
    """Without an index: a 6- or 7-character prefix of the 8 the approval branches carry."""
    from reconciler.cli.contexts import MIN_PREFIX
    from reconciler.contract import APPROVAL_PREFIX
    if len(given) < MIN_PREFIX:
        fail(f"context {given!r} is too short: give at least {MIN_PREFIX} characters of the id")
    shorts = sorted({name.rsplit("/", 1)[-1] for name in mirror.tips()
                     if name.startswith(APPROVAL_PREFIX) and name.rsplit("/", 1)[-1].startswith(given)})
    if len(shorts) > 1:
        fail(f"context prefix {given!r} is ambiguous; approvals wait for {', '.join(shorts)}; give more characters")
    return shorts[0] if shorts else given


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
