"""Secrets from files: `RECONCILER_<NAME>_FILE=/path` sets `RECONCILER_<NAME>` from that file.

This is the Kubernetes habit of mounting a Secret as files instead of putting it in the
environment. The values land in this process's own environment mapping only: jobs and
replicas get an explicit, small environment (never the controller's), so nothing inherits them.
A trailing newline is dropped, as `kubectl create secret --from-file` leaves one.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

SUFFIX = "_FILE"


class SecretFileError(ValueError):
    pass


def load_secret_files(environ: MutableMapping[str, str]) -> list[str]:
    """Resolve every `RECONCILER_*_FILE` into `environ`; the names set. A value already given
    directly wins over the file (and both given is an error, so nobody is surprised)."""
    loaded = []
    for key in sorted(k for k in environ if k.startswith("RECONCILER_") and k.endswith(SUFFIX)):
        name = key[: -len(SUFFIX)]
        if environ.get(name):
            raise SecretFileError(f"both {name} and {key} are set: give one")
        path = Path(environ[key])
        try:
            environ[name] = path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise SecretFileError(f"{key}={path}: cannot read the secret file ({exc.strerror or exc})") from None
        loaded.append(name)
    return loaded
