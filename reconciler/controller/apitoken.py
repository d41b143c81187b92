"""The API token of a work dir: created by the first `serve`, read by CLI commands.

The token comes from `RECONCILER_API_TOKEN`, else from `<workdir>/api-token`, which the first
`reconciler serve` creates (0600) so that CLI commands on the same machine can use it without
anyone copying a secret around. How requests present it is the server's part
(`reconciler.server.auth`)."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

TOKEN_FILE = "api-token"


def load_or_create_token(workdir: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The token `serve` accepts; creates `<workdir>/api-token` when there is none."""
    token = environ.get("RECONCILER_API_TOKEN", "").strip()
    if token:
        return token
    path = workdir / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def read_token(workdir: Path, environ: Mapping[str, str] = os.environ) -> str | None:
    """The token a CLI command should send (None when there is none yet)."""
    token = environ.get("RECONCILER_API_TOKEN", "").strip()
    if token:
        return token
    path = workdir / TOKEN_FILE
    return path.read_text().strip() if path.exists() else None
