"""`reconciler alerts`: Prometheus alerting rules from the project's SLO files."""
from __future__ import annotations

from pathlib import Path

import click
import yaml

from reconciler.cli.output import fail, render


def _report(path: Path):
    from reconciler.gitstore import snapshot
    from reconciler.spec.project import ProjectValidator, repo_name
    if not snapshot.is_repository(path):
        fail(f"{path} is not a Git repository (give the config repo, bare or a clone)")
    try:
        tree = snapshot.read_branches(snapshot.open_repository(path), lazy=True)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot read the Git repository at {path}: {exc}")
    return ProjectValidator(repo_name, project_name=snapshot.project_name(path)).set_tree(tree).report()


@click.command("alerts")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stage", "stages", multiple=True,
              help="Stages to write rules for (repeatable). Default: stages with a `remediation` sequence.")
@click.option("--window", default="5m", show_default=True, help="Value of $DURATION_SECONDS in the rules.")
@click.option("--for", "for_", default="1m", show_default=True, help="How long a violation lasts before firing.")
@click.option("--file", "-f", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rules file here (default: stdout).")
@click.option("--output", "-o", "fmt", default="yaml", show_default=True, metavar="yaml|json",
              help="Format of the rules: yaml (what Prometheus reads) or json. Never a file: use --file.")
def command(path: Path, stages: tuple[str, ...], window: str, for_: str, out: Path | None, fmt: str) -> None:
    """Write Prometheus alerting rules from the SLO files of the config repo at PATH, so the
    same objectives that gate delivery raise the problem that starts remediation.

    Point Alertmanager at `POST /webhooks/alertmanager` of `reconciler serve`; the rules carry
    the `stage` and `service` labels it routes by.
    """
    from reconciler.spec.settings import parse_duration

    if fmt not in ("yaml", "json"):
        fail(f"-o/--output takes a format (yaml or json), not a file name; "
             f"`-o {fmt}` used to write a file: use --file {fmt}")
    try:
        window_seconds = int(parse_duration(window))
        parse_duration(for_)
    except ValueError as exc:
        fail(str(exc))
    if window_seconds < 1:
        fail("--window must be at least 1s")
    text, count, notes = rules_text(path, stages, window_seconds, for_)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        text = render(yaml.safe_load(text), "json") + "\n"
    if out:
        try:
            out.write_text(text)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        click.echo(f"wrote {count} rules to {out}", err=True)
    else:
        click.echo(text, nl=False)


def rules_text(path: Path, stages: tuple[str, ...] | list[str], window_seconds: int,
               for_: str) -> tuple[str, int, list[str]]:
    """The rules file for the repo at `path`: (YAML text, number of rules, notes)."""
    from reconciler.quality.alerts import AlertRulesError, rules_file
    try:
        return rules_file(_report(path), stages, window_seconds, for_)
    except AlertRulesError as exc:
        fail(str(exc))
