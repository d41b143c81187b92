"""Small helpers shared by the CLI commands: output format, the work dir, tables."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.output import EXIT_USAGE, emit, fail, output_option, render  # noqa: F401 (re-exported)

workdir_option = click.option("--workdir", "-w", type=click.Path(file_okay=False, path_type=Path),
                              default=Path("reconciler-work"), show_default=True,
                              help="The controller's work directory (mirror, index, token).")


def emit_json(data: Any) -> None:
    click.echo(render(data, "json"))


def when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=False)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip()]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
    return "\n".join(out)


def open_index(workdir: Path):
    """The controller's SQLite index, read-only; exits 2 with a hint when there is none."""
    from reconciler.controller.index import Index
    from reconciler.runtime.service import INDEX_FILE
    path = workdir / INDEX_FILE
    if not path.exists():
        fail(f"no index at {path}; run `reconciler serve --workdir {workdir} --repo URL` first "
             f"(or pass the right --workdir)")
    return Index(path, readonly=True)
