"""local.yaml lint: what the strict schema cannot say well or at all.

* `command` written as one string: the target runs an argument list without a shell, so
  say that and show the list (an error; the schema's "must be a list" would not explain why).
* `env` entries the target overwrites for every replica (`PORT`, `RECONCILER_*`, …).
* `$(NAME)` references in `command` that nothing sets: the target passes them on as written,
  like the kubelet does, which is rarely what was meant.
"""
from __future__ import annotations

import re
import shlex
from typing import Any

from reconciler.spec.findings import Issue, error, warning
from reconciler.spec.lint.access import as_dict
from reconciler.spec.localspec import TARGET_VARIABLES, provided_variable

# Kubernetes expansion: `$$` is an escaped `$`, `$(NAME)` a reference (the same scan as
# reconciler.kube.expansion.tokens, which the pure core must not import).
_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")
_SHELL_SYNTAX = re.compile(r"[|&;<>`]|\$\{|\$[A-Za-z_]|\$\(\(|[*?]")


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    out: list[Issue] = []
    command = data.get("command")
    if isinstance(command, str):
        out.append(error("shell-command", _shell_message(command), ("command",)))
    env = as_dict(data.get("env"))
    for key in env:
        if isinstance(key, str) and key in TARGET_VARIABLES:
            out.append(warning("env-overridden", f"`env.{key}` is set by the local target for every replica "
                               "and overrides this value; remove it (or use another name)", ("env", key), key=True))
    if isinstance(command, list):
        for i, arg in enumerate(command):
            if not isinstance(arg, str):
                continue
            for m in _REFERENCE.finditer(arg):
                name = m.group(1)
                if name is not None and not provided_variable(name, env):
                    out.append(warning("unknown-variable", f"`$({name})` in command[{i}] is not set by the local "
                                       "target, `env` or the passed-on environment, so it reaches the program as "
                                       "written; known: PORT, RECONCILER_PROJECT/STAGE/SERVICE/REPLICA/COMMIT, "
                                       "VALUES_JSON, VALUE_<KEY> and the keys of `env` (write `$$` for a literal $)",
                                       ("command", i)))
    return out


def _shell_message(command: str) -> str:
    head = "`command` is a string, but the local target runs a list of arguments without a shell"
    if _SHELL_SYNTAX.search(command):
        return (f"{head}, so pipes, redirections, globs and $VARIABLES would not work; use a list, no shell: "
                "put the pipeline in a script in the service folder and run e.g. `command: [sh, run.sh]`")
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    shown = ", ".join(_flow(a) for a in argv) if argv else "program, arg"
    return f"{head}; use a list, no shell: `command: [{shown}]`"


def _flow(arg: str) -> str:
    """An argument as it can stand in a YAML flow list."""
    plain = arg != "-" and re.fullmatch(r"[A-Za-z0-9_./=+-][A-Za-z0-9_./=+:-]*", arg) and not re.fullmatch(
        r"(?i)true|false|yes|no|on|off|null|~|[-+]?[0-9.]+(e[-+]?[0-9]+)?", arg)
    return arg if plain else '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
