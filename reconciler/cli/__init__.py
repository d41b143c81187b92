"""`reconciler` command line. Commands load lazily: `reconciler validate` must not pay for
importing the Kubernetes client (≈200 ms), and each command lives in its own module."""
from __future__ import annotations

import importlib

import click

from reconciler import __version__

# command name -> "module:attribute" (module relative to reconciler.cli)
COMMANDS: dict[str, str] = {
    "validate": "validate:command",
    "init": "init:command",
    "evaluate": "evaluate:command",
    "serve": "serve:command",
    "status": "status:command",
    "get": "get:command",
    "events": "events:command",
    "alerts": "alerts:command",
    "trigger": "trigger:command",
    "approve": "approval:approve_command",
    "decline": "approval:decline_command",
    "abort": "control:abort_command",
    "pause": "control:pause_command",
    "resume": "control:resume_command",
    "demo": "demo:command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(f"reconciler.cli.{module}"), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """Git-native multi-stage delivery with SLO quality gates (a Keptn v1 successor).

    A push to a stage branch starts a shipyard sequence; every outcome comes back as a commit.
    """
