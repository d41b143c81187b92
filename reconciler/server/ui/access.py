"""Who may see and who may act, for the web UI (pure: request facts in, decision out).

* Operator: knows the API token. Viewer: knows the read-only token
  (`RECONCILER_UI_READ_TOKEN`), or — only when configured with `RECONCILER_UI_OPEN_ON_LOOPBACK=1`
  *and* the server listens on a loopback address — any local client.
* The token is proven once, by the login form or `?token=` (which is removed from the URL by
  a redirect), and kept as an HttpOnly, SameSite=Strict cookie holding the role, a random nonce
  and an HMAC of both keyed by the token: the token itself never sits in the browser, and
  changing it logs everyone out.
* Every POST carries a CSRF value derived from the session cookie (HMAC keyed by the API token);
  a cross-site form cannot know it. API clients keep using `x-token` headers and need no CSRF.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

COOKIE = "reconciler_session"
Role = Literal["operator", "viewer"]


@dataclass(frozen=True)
class AccessSettings:
    api_token: str
    read_token: str | None = None
    open_on_loopback: bool = False
    listen_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, api_token: str, environ: Mapping[str, str], listen_host: str) -> AccessSettings:
        return cls(api_token=api_token, read_token=environ.get("RECONCILER_UI_READ_TOKEN") or None,
                   open_on_loopback=environ.get("RECONCILER_UI_OPEN_ON_LOOPBACK", "").lower() in ("1", "true", "yes"),
                   listen_host=listen_host)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mac(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def session_value(settings: AccessSettings, role: Role, nonce: str | None = None) -> str:
    """`<role>.<nonce>.<HMAC(token, role + nonce)>`: a fresh nonce per login, so each session
    has its own CSRF value; nothing in it reveals the token."""
    key = settings.api_token if role == "operator" else (settings.read_token or settings.api_token)
    nonce = nonce or secrets.token_urlsafe(12)
    return f"{role}.{nonce}.{_mac(key, f'ui-session:{role}:{nonce}')}"


def role_of_token(settings: AccessSettings, token: str | None) -> Role | None:
    if not token:
        return None
    if hmac.compare_digest(token.encode(), settings.api_token.encode()):
        return "operator"
    if settings.read_token and hmac.compare_digest(token.encode(), settings.read_token.encode()):
        return "viewer"
    return None


def role_of_cookie(settings: AccessSettings, cookie: str | None) -> Role | None:
    parts = (cookie or "").split(".")
    if len(parts) != 3 or parts[0] not in ("operator", "viewer") or not parts[1]:
        return None
    role: Role = parts[0]  # type: ignore[assignment]
    expected = session_value(settings, role, parts[1])
    return role if hmac.compare_digest(cookie.encode(), expected.encode()) else None  # type: ignore[union-attr]


def role_of_request(settings: AccessSettings, cookie: str | None, remote: str | None) -> Role | None:
    role = role_of_cookie(settings, cookie)
    if role is None and settings.open_on_loopback and is_loopback(settings.listen_host) and is_loopback(remote):
        return "viewer"
    return role


def csrf_token(settings: AccessSettings, cookie: str) -> str:
    return _mac(settings.api_token, "csrf:" + cookie)


def csrf_ok(settings: AccessSettings, cookie: str | None, given: str | None) -> bool:
    if not cookie or not given:
        return False
    return hmac.compare_digest(csrf_token(settings, cookie).encode(), given.encode())
