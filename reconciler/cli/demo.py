"""`reconciler demo`: the whole Keptn tutorial on this machine, non-interactive."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("demo")
@click.option("--workdir", "-w", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-work"),
              show_default=True, help="An empty or new directory for the repo, Prometheus, Alertmanager and logs.")
@click.option("--keep", is_flag=True, help="Leave everything running afterwards for exploration (Ctrl-C stops).")
@click.option("--fast", is_flag=True, help="Shorter load tests and windows (what the test suite uses).")
def command(workdir: Path, keep: bool, fast: bool) -> None:
    """Run the seed tutorial end to end on embedded defaults: version 1 goes dev → staging →
    production (approved by merging the approval branch), a slow version 2 fails the staging
    gate and is reverted, and load on production raises an alert that the remediation loop
    answers by scaling with a commit. Prints the audit trail; exits 0 only if every step
    happened. Needs the Debian packages prometheus and prometheus-alertmanager."""
    from reconciler.demo.story import FAST, Demo, Timings
    demo = Demo(workdir, timings=FAST if fast else Timings(), keep=keep, out=lambda s: click.echo(s))
    sys.exit(demo.run())
