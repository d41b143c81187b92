"""`reconciler trigger delivery`: the commit a developer's CI would push."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from reconciler.cli.output import EXIT_FAILED, emit, fail, output_option
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
@click.option("--wait", is_flag=True, help="Follow the context to its end, a line per task, and exit by its "
              "result (0 pass/warning, 1 fail, 3 errored or timed out); needs --workdir of the controller.")
@click.option("--timeout", "wait_timeout", default=3600.0, show_default=True, type=click.FloatRange(1, 86_400),
              metavar="SECONDS", help="With --wait: give up (exit 3) after this long.")
@output_option
def delivery(stage: str, service: str, sets: tuple[str, ...], sequence: str, message: str | None, author: str,
             repo: str | None, workdir: Path | None, wait: bool, wait_timeout: float, output: str) -> None:
    """Commit a change of <service>/values.yaml to the STAGE branch; the controller sees the
    push and starts the stage's delivery sequence (Keptn: `keptn trigger delivery`).

    Comments and formatting of values.yaml are kept. Prints the commit and the context the
    sequence will run under (follow it with `reconciler get sequence CONTEXT`, or `--wait`).

    The shipyard on the default branch must have the stage and the sequence, and values.yaml
    must be valid YAML: nothing is pushed otherwise (exit 2)."""
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
    if wait and workdir is None:
        fail("--wait follows the sequence in the controller's index: give --workdir of `reconciler serve`")
    url = resolve_repo(repo, workdir)
    path = f"{service}/values.yaml"
    with remote(url) as (mirror, writer):
        if mirror.tip(stage) is None:
            fail(f"the repository has no branch {stage!r}; stages are branches (see `reconciler validate`)")
        if not mirror.list_tree(stage, f"{service}/"):
            fail(f"branch {stage} has no folder {service}/")
        check_shipyard(mirror, stage, sequence)
        check_values(mirror, stage, path, assignments)

        summary = ", ".join(f"{k}={v}" for k, v in assignments.items())
        try:
            result = commit_values(writer, stage, service, assignments, sequence=sequence, message=message,
                                   author=(name.strip() or "reconciler trigger", email))
        except ValuesEditError as exc:
            fail(f"{stage}:{path}: {exc}")
        except yaml.YAMLError as exc:
            fail(f"{stage}:{path}: not valid YAML: {_yaml_problem(exc)}")
        except GitStoreError as exc:
            fail(f"cannot push to {stage}: {exc}")
    if not result.created:
        fail(f"{path} on {stage} already has {summary}; nothing to commit (nothing will start)", EXIT_FAILED)
    assert result.oid is not None   # created: the new tip
    context = context_uuid(f"{stage}:{service}:{result.oid}")
    pushed = {"stage": stage, "service": service, "commit": result.oid, "sequence": sequence, "keptnContext": context}
    if output != "text":
        if not wait:
            emit(pushed, output)
    else:
        click.echo(f"pushed {result.oid[:12]} to {stage}: {service} {summary}")
        click.echo(f"{sequence} of {stage}/{service} will run as context {context}")
    if wait:
        from reconciler.cli.follow import follow
        assert workdir is not None
        outcome = follow(workdir, context, timeout=wait_timeout, progress=output == "text")
        if output != "text":
            emit({**pushed, **outcome.to_dict()}, output)
        else:
            why = f" — {outcome.message}" if outcome.message else ""
            click.echo(f"context {context[:8]}: {outcome.result}{why}")
        sys.exit(outcome.exit_code)


def check_shipyard(mirror, stage: str, sequence: str) -> None:
    """The default branch's shipyard has `stage` and its `sequence` (exit 2 before any push)."""
    from pydantic import ValidationError

    from reconciler.contract import SHIPYARD_FILE
    from reconciler.spec.shipyard import Shipyard
    branch = mirror.default_branch() or "main"
    raw = mirror.read(branch, SHIPYARD_FILE)
    if raw is None:
        fail(f"{branch}:{SHIPYARD_FILE} does not exist; nothing can run (see `reconciler validate`)")
    if len(raw) > MAX_SHIPYARD_BYTES:
        fail(f"{branch}:{SHIPYARD_FILE} is larger than {MAX_SHIPYARD_BYTES} bytes")
    try:
        data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
        shipyard = Shipyard.from_data(data if isinstance(data, dict) else {})
    except (yaml.YAMLError, ValidationError, TypeError, ValueError) as exc:
        fail(f"{branch}:{SHIPYARD_FILE} is not a valid shipyard ({str(exc).splitlines()[0]}); "
             f"run `reconciler validate`")
    if stage not in shipyard.stage_names:
        fail(f"{branch}:{SHIPYARD_FILE} has no stage {stage!r} (stages: {', '.join(shipyard.stage_names) or '-'})")
    if shipyard.sequence(stage, sequence) is None:
        found = shipyard.stage(stage)
        have = [q.name for q in found.sequences] if found is not None else []
        fail(f"stage {stage!r} has no sequence {sequence!r} in {branch}:{SHIPYARD_FILE} "
             f"(it has: {', '.join(have) or 'none'}); nothing was pushed")


def check_values(mirror, stage: str, path: str, assignments: dict) -> None:
    """values.yaml parses and takes the assignments (exit 2 naming file and line, before any push)."""
    from reconciler.spec.valuesfile import ValuesEditError, set_values
    raw = mirror.read(stage, path) or b""
    try:
        set_values(raw.decode("utf-8"), assignments)
    except UnicodeDecodeError:
        fail(f"{stage}:{path} is not UTF-8 text")
    except ValuesEditError as exc:
        fail(f"{stage}:{path}: {exc}")
    except yaml.YAMLError as exc:
        fail(f"{stage}:{path}: not valid YAML: {_yaml_problem(exc)}")


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else str(problem)


MAX_SHIPYARD_BYTES = 1_000_000


def commit_values(writer, stage: str, service: str, assignments: dict, *, sequence: str = "delivery",
                  message: str | None = None, author: tuple[str, str] = ("reconciler trigger",
                                                                          "trigger@reconciler.invalid")):
    """Commit `assignments` to `<service>/values.yaml` on `stage` as `author` (a person, so the
    push triggers); returns the writer's WriteResult. Raises ValuesEditError, GitStoreError."""
    from reconciler import contract
    from reconciler.spec.valuesfile import set_values
    path = f"{service}/values.yaml"

    def build(tip):
        return {path: set_values((tip.read(path) or b"").decode(), assignments).encode()}

    summary = ", ".join(f"{k}={v}" for k, v in assignments.items())
    trailers = [] if sequence == "delivery" else [(contract.TRAILER_SEQUENCE, sequence)]
    return writer.write(stage, build, message or f"{service}: set {summary}", trailers, author=author)
