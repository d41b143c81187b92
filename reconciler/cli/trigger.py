"""`reconciler trigger delivery`: the commit a developer's CI would push."""
from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import emit_json, fail, output_option
from reconciler.cli.remote import remote, repo_option, resolve_repo


@click.group("trigger")
def command() -> None:
    """Start work by committing to a stage branch (Git is the interface)."""


@command.command("delivery")
@click.option("--stage", required=True, help="The stage branch to commit to (usually the first stage).")
@click.option("--service", required=True, help="The service folder whose values.yaml changes.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", required=True,
              help="Values to set in <service>/values.yaml (repeatable; dotted keys for nested values), "
                   "e.g. --set image=helloservice:2.0.0")
@click.option("--sequence", default="delivery", show_default=True,
              help="Sequence to start (another name adds the Reconciler-Sequence trailer).")
@click.option("--message", "-m", help="Commit message (default: describes the change).")
@click.option("--author", default="reconciler trigger <trigger@reconciler.invalid>", show_default=True,
              help="Author of the commit (must not be the reconciler's own identity, or nothing starts).")
@repo_option
@click.option("--workdir", "-w", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Work dir of a running controller, to find the repo.")
@output_option
def delivery(stage: str, service: str, sets: tuple[str, ...], sequence: str, message: str | None, author: str,
             repo: str | None, workdir: Path | None, output: str) -> None:
    """Commit a change of <service>/values.yaml to the STAGE branch; the controller sees the
    push and starts the stage's delivery sequence (Keptn: `keptn trigger delivery`).

    Comments and formatting of values.yaml are kept. Prints the commit and the context the
    sequence will run under (follow it with `reconciler status`)."""
    from reconciler import contract
    from reconciler.engine.events import context_uuid
    from reconciler.gitstore import GitStoreError
    from reconciler.gitstore.values import commit_values
    from reconciler.spec.valuesfile import ValuesEditError, parse_assignment

    try:
        assignments = dict(parse_assignment(s) for s in sets)
    except ValuesEditError as exc:
        fail(str(exc))
    name, _, email = author.partition("<")
    email = email.rstrip(">").strip()
    if not email or email == contract.BOT_EMAIL:
        fail("--author must be 'Name <email>' and not the reconciler's own identity")
    url = resolve_repo(repo, workdir)
    path = f"{service}/values.yaml"
    with remote(url) as (mirror, writer):
        if mirror.tip(stage) is None:
            fail(f"the repository has no branch {stage!r}; stages are branches (see `reconciler validate`)")
        if not mirror.list_tree(stage, f"{service}/"):
            fail(f"branch {stage} has no folder {service}/")

        summary = ", ".join(f"{k}={v}" for k, v in assignments.items())
        try:
            result = commit_values(writer, stage, service, assignments, sequence=sequence, message=message,
                                   author=(name.strip() or "reconciler trigger", email))
        except ValuesEditError as exc:
            fail(f"{stage}:{path}: {exc}")
        except GitStoreError as exc:
            fail(f"cannot push to {stage}: {exc}")
    if not result.created:
        fail(f"{path} on {stage} already has {summary}; nothing to commit (nothing will start)", 1)
    assert result.oid is not None   # created: the new tip
    context = context_uuid(f"{stage}:{service}:{result.oid}")
    if output == "json":
        emit_json({"stage": stage, "service": service, "commit": result.oid, "sequence": sequence,
                   "keptnContext": context})
    else:
        click.echo(f"pushed {result.oid[:12]} to {stage}: {service} {summary}")
        click.echo(f"{sequence} of {stage}/{service} will run as context {context}")
