"""Small helpers shared by the CLI commands: output format, the work dir, tables."""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

output_option = click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Human-readable text or JSON for scripts.")
workdir_option = click.option("--workdir", "-w", type=click.Path(file_okay=False, path_type=Path),
                              default=Path("reconciler-work"), show_default=True,
                              help="The controller's work directory (mirror, index, token).")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


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
