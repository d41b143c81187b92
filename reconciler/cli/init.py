"""`reconciler init DEST [--from DIR]`: a bare config repository to start from.

DIR is laid out one folder per branch (`main/` plus one folder per stage); the default is
the bundled example project (`example-config-repo/`, shipped as `reconciler/_example`).
DEST must not exist or be an empty folder: init never overwrites anything (exit 2).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from reconciler.cli.output import EXIT_USAGE, fail


@click.command("init")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--from", "source", type=click.Path(path_type=Path), default=None,
              help="Folder with one sub-folder per branch (default: the bundled example project).")
def command(dest: Path, source: Path | None) -> None:
    """Create a bare Git repository with one branch per stage from an example layout."""
    from reconciler.gitstore.seed import SeedError, seed_bare_repo

    layout = source if source is not None else Path(str(resources.files("reconciler").joinpath("_example")))
    try:
        commits = seed_bare_repo(dest, layout)
    except SeedError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"cannot create {dest}: {exc.strerror or exc}", EXIT_USAGE)
    branches = ", ".join(f"{name} ({commit[:7]})" for name, commit in commits.items())
    click.echo(f"created bare repository {dest} with branches {branches}")
    click.echo(f"next: reconciler validate {dest}")
