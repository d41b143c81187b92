"""How every CLI command prints data and ends: one `-o/--output text|json|yaml` option, one
renderer, one error line, one set of exit codes (docs/cli.md).

`-o` always names a format, never a file: commands that write files take `--file`.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

FORMATS = ("text", "json", "yaml")

EXIT_OK = 0         # done; the gate passed / the sequence passed
EXIT_FAILED = 1     # a failed gate, a failed sequence, a refused action
EXIT_USAGE = 2      # bad arguments or invalid input (files, config, ids)
EXIT_ERRORED = 3    # could not find out: a provider unreachable, a sequence that errored

ERROR_PREFIX = "reconciler: error: "

output_option = click.option(
    "--output", "-o", type=click.Choice(FORMATS), default="text", show_default=True,
    help="text for people; json or yaml for scripts (the same fields).")


def render(data: Any, fmt: str) -> str:
    """`data` as JSON (indented) or YAML (block style, keys in their order)."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if fmt == "yaml":
        import yaml
        return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, width=1000).rstrip("\n")
    raise ValueError(f"not a data format: {fmt}")


def emit(data: Any, fmt: str, text: Callable[[], str | None] | None = None) -> None:
    """Print `data` in `fmt`; for text, print what `text()` returns (JSON when there is none)."""
    if fmt == "text":
        if text is None:
            click.echo(render(data, "json"))
        else:
            out = text()
            if out is not None:
                click.echo(out)
        return
    click.echo(render(data, fmt))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """The one error line every command prints (stderr), then exit with `code`."""
    click.echo(f"{ERROR_PREFIX}{message}", err=True)
    sys.exit(code)


def _plain(data: Any) -> Any:
    """What yaml.safe_dump accepts: containers of str/int/float/bool/None (others as str)."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if data is None or isinstance(data, (str, int, float, bool)):
        return data
    return str(data)
