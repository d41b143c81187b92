"""CLI commands that change the config repo with plain Git (trigger, approve, decline).

They need the repository URL: `--repo URL`, or the one the controller of `--workdir` serves
(from `<workdir>/serve.json`). A throw-away mirror does the work, so the commands run on
any machine with access to the repo, with or without a controller nearby.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import fail

if TYPE_CHECKING:
    from reconciler.gitstore.mirror import Mirror
    from reconciler.gitstore.writer import Writer

repo_option = click.option("--repo", metavar="URL", help="The config repository (default: the one the "
                           "controller of --workdir serves).")


def resolve_repo(repo: str | None, workdir: Path | None) -> str:
    if repo:
        return repo
    if workdir is not None:
        from reconciler.runtime.service import read_serve_file
        info = read_serve_file(workdir)
        if info and info.get("repo"):
            return str(info["repo"])
    fail("give --repo URL (or --workdir of a running `reconciler serve`)")


@contextlib.contextmanager
def remote(url: str) -> Iterator[tuple[Mirror, Writer]]:
    """(mirror, writer) on a temporary bare mirror of `url`, fetched."""
    from reconciler.gitstore import GitCredentials, GitStoreError, Mirror, Writer
    with tempfile.TemporaryDirectory(prefix="reconciler-cli-") as tmp:
        try:
            mirror = Mirror(url, Path(tmp), GitCredentials.from_env())
            mirror.fetch()
        except GitStoreError as exc:
            fail(f"cannot fetch {url}: {exc}")
        yield mirror, Writer(mirror)
