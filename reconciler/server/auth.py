"""API tokens: how requests prove them (where the token comes from: `controller.apitoken`).

Requests send it as `x-token` (Keptn's header) or `Authorization: Bearer <token>`. The
Alertmanager receiver accepts its own token (`RECONCILER_ALERTMANAGER_TOKEN`, for
Alertmanager's `http_config.authorization`) or the API token.
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping


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
