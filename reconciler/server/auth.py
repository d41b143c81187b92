"""API tokens: where they come from and how requests prove them.

The API token comes from `RECONCILER_API_TOKEN`, else from `<workdir>/api-token`, which the
first `reconciler serve` creates (0600) so that CLI commands on the same machine can use it
without anyone copying a secret around. Requests send it as `x-token` (Keptn's header) or
`Authorization: Bearer <token>`. The Alertmanager receiver accepts its own token
(`RECONCILER_ALERTMANAGER_TOKEN`, for Alertmanager's `http_config.authorization`) or the
API token.
"""
from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

TOKEN_FILE = "api-token"


def load_or_create_token(workdir: Path, environ: Mapping[str, str] = os.environ) -> str:
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


def presented_token(headers: Mapping[str, str]) -> str | None:
    token = headers.get("x-token")
    if token:
        return token.strip()
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def token_ok(headers: Mapping[str, str], *accepted: str | None) -> bool:
    given = presented_token(headers)
    if not given:
        return False
    return any(t and hmac.compare_digest(given.encode(), t.encode()) for t in accepted)
