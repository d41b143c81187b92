"""`--watch`: redraw a command's output when it changes, until Ctrl-C.

The interval is bounded (0.5 s to 60 s); each round re-reads the index, so it works while
`serve` writes. Text redraws the screen on a terminal and prints a separator otherwise; JSON
and YAML print one document per change (YAML with `---`), so a script can read the stream."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click

MIN_INTERVAL, MAX_INTERVAL = 0.5, 60.0


def watch_options(func):
    func = click.option("--interval", type=click.FloatRange(MIN_INTERVAL, MAX_INTERVAL), default=2.0,
                        show_default=True, metavar="SECONDS", help="With --watch: how often to look.")(func)
    func = click.option("--rounds", type=click.IntRange(0), default=0, hidden=True,
                        help="With --watch: stop after this many looks (0: until Ctrl-C; for tests).")(func)
    return click.option("--watch", "-W", is_flag=True,
                        help="Keep looking and redraw when something changes (Ctrl-C stops).")(func)


def watch_frames(frame: Callable[[], str], fmt: str, interval: float, rounds: int = 0,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Print `frame()` whenever it differs from the last one printed; Ctrl-C ends quietly."""
    last: str | None = None
    done = 0
    try:
        while rounds == 0 or done < rounds:
            current = frame()
            if current != last:
                if fmt == "yaml":
                    click.echo("---")
                elif fmt == "text":
                    _clear(first=last is None)
                click.echo(current)
                last = current
            done += 1
            if rounds == 0 or done < rounds:
                sleep(interval)
    except KeyboardInterrupt:
        click.echo("", err=True)


def _clear(first: bool) -> None:
    if sys.stdout.isatty():
        click.clear()
        click.echo(time.strftime("updated %H:%M:%S UTC — Ctrl-C stops", time.gmtime()))
    elif not first:
        click.echo("")
