"""Is this push webhook really from our forge? Verification over the raw body, pure.

A webhook only ever makes the controller fetch; it is never trusted for content. Even so an
unauthenticated endpoint would let anyone make us hammer the Git host, so every request
must prove it knows the shared secret:

| forge   | header                                        | value                          |
|---------|-----------------------------------------------|--------------------------------|
| GitHub  | `X-Hub-Signature-256`                         | `sha256=<hex HMAC-SHA256(body)>` |
| Gitea   | `X-Gitea-Signature` (Forgejo: `X-Forgejo-Signature`) | bare hex HMAC-SHA256(body) |
| GitLab  | `X-Gitlab-Token`                              | the secret itself              |
| generic | `X-Reconciler-Signature`                      | `sha256=<hex HMAC-SHA256(body)>` |

All comparisons are constant-time (`hmac.compare_digest`), and the HMAC is computed over
the bytes exactly as received; re-serialised JSON would not match. Failures raise
`WebhookRefused` carrying the HTTP status the handler should answer (401, 413, 400), with
a reason safe to log (no secret, no signature).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Forge = Literal["github", "gitea", "gitlab", "generic"]
FORGES: tuple[Forge, ...] = ("github", "gitea", "gitlab", "generic")

DEFAULT_MAX_BODY = 5 * 1024 * 1024   # GitHub caps deliveries at 25 MB; pushes are KBs

GITHUB_SIGNATURE = "X-Hub-Signature-256"
GITEA_SIGNATURE = "X-Gitea-Signature"
FORGEJO_SIGNATURE = "X-Forgejo-Signature"
GITLAB_TOKEN = "X-Gitlab-Token"
GENERIC_SIGNATURE = "X-Reconciler-Signature"


@dataclass(frozen=True, slots=True)
class WebhookRefused(Exception):
    """The request must be refused with `status`; `reason` is safe to log."""

    status: int
    reason: str

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        # Fail closed: an empty secret would make every HMAC computable by anyone.
        raise ValueError("webhook secret is empty; set one before enabling the webhook")
    return raw


def check_size(content_length: int | str | None, limit: int = DEFAULT_MAX_BODY) -> None:
    """Refuse (413) a declared body larger than `limit` before reading it.

    A missing length is allowed here (chunked uploads); the handler must then stop reading
    at `limit` bytes and call `check_body` on what it read.
    """
    if content_length is None or content_length == "":
        return
    try:
        length = int(content_length)
    except (TypeError, ValueError):
        raise WebhookRefused(400, "Content-Length is not a number") from None
    if length < 0:
        raise WebhookRefused(400, "Content-Length is negative")
    if length > limit:
        raise WebhookRefused(413, f"body of {length} bytes exceeds the {limit}-byte limit")


def check_body(body: bytes, limit: int = DEFAULT_MAX_BODY) -> None:
    """Refuse (413) a body that turned out larger than `limit`."""
    if len(body) > limit:
        raise WebhookRefused(413, f"body exceeds the {limit}-byte limit")


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of `body`: what a sender puts in the signature header."""
    return hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()


def _hex_matches(expected_hex: str, given: str) -> bool:
    # compare_digest on ASCII bytes; a non-ASCII header value is simply wrong.
    try:
        given_bytes = given.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected_hex.encode("ascii"), given_bytes)


def detect_forge(headers: Mapping[str, str]) -> Forge | None:
    """Which forge's scheme the request uses, judged by its signature header."""
    h = _lower(headers)
    if GITEA_SIGNATURE.lower() in h or FORGEJO_SIGNATURE.lower() in h:
        return "gitea"      # Gitea also sends GitHub headers; its own signature decides
    if GITHUB_SIGNATURE.lower() in h:
        return "github"
    if GITLAB_TOKEN.lower() in h:
        return "gitlab"
    if GENERIC_SIGNATURE.lower() in h:
        return "generic"
    return None


def verify(forge: Forge, headers: Mapping[str, str], body: bytes, secret: str | bytes,
           limit: int = DEFAULT_MAX_BODY) -> None:
    """Raise WebhookRefused unless `body` carries a valid `forge` signature for `secret`.

    Size is checked first (413), then the signature (401 when missing or wrong).
    ValueError when `secret` is empty (a configuration error, not a request error).
    """
    raw_secret = _secret_bytes(secret)
    check_body(body, limit)
    h = _lower(headers)
    if forge == "github" or forge == "generic":
        name = GITHUB_SIGNATURE if forge == "github" else GENERIC_SIGNATURE
        value = h.get(name.lower())
        if not value:
            raise WebhookRefused(401, f"unsigned request: header {name} is missing")
        scheme, _, digest = value.partition("=")
        if scheme.strip().lower() != "sha256" or not digest:
            raise WebhookRefused(401, f"header {name} must be 'sha256=<hex>'")
        if not _hex_matches(hmac_sha256_hex(raw_secret, body), digest):
            raise WebhookRefused(401, f"signature in {name} does not match the body")
        return
    if forge == "gitea":
        value = h.get(GITEA_SIGNATURE.lower()) or h.get(FORGEJO_SIGNATURE.lower())
        if not value:
            raise WebhookRefused(401, f"unsigned request: header {GITEA_SIGNATURE} is missing")
        if not _hex_matches(hmac_sha256_hex(raw_secret, body), value):
            raise WebhookRefused(401, "signature in X-Gitea-Signature does not match the body")
        return
    if forge == "gitlab":
        value = h.get(GITLAB_TOKEN.lower())
        if not value:
            raise WebhookRefused(401, f"unauthenticated request: header {GITLAB_TOKEN} is missing")
        if not hmac.compare_digest(raw_secret, value.encode("utf-8", "surrogateescape")):
            raise WebhookRefused(401, f"{GITLAB_TOKEN} does not match the configured secret")
        return
    raise ValueError(f"unknown forge {forge!r}; expected one of {', '.join(FORGES)}")


def is_push_event(forge: Forge, headers: Mapping[str, str]) -> bool:
    """Whether the (verified) request announces a push; pings and other events are not.

    The generic receiver has no event header: every verified request counts as a push.
    """
    h = _lower(headers)
    if forge == "gitlab":
        return h.get("x-gitlab-event", "").strip().lower() in ("push hook", "system hook")
    if forge == "gitea":
        event = h.get("x-gitea-event") or h.get("x-forgejo-event") or h.get("x-github-event") or ""
        return event.strip().lower() == "push"
    if forge == "github":
        return h.get("x-github-event", "").strip().lower() == "push"
    return True


def pushed_branches(forge: Forge, payload: bytes | Mapping[str, Any]) -> tuple[str, ...]:
    """Branch names a push payload mentions: a *hint* for logs and metrics only.

    The controller fetches and compares tips itself whatever this returns; a payload is
    never trusted for what changed. Tags and unparsable payloads give `()`.
    """
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return ()
    if not isinstance(payload, Mapping):
        return ()
    refs: list[Any] = []
    if forge == "generic":
        for key in ("refs", "branches"):
            value = payload.get(key)
            if isinstance(value, list):
                refs.extend(value if key == "refs" else [f"refs/heads/{b}" for b in value if isinstance(b, str)])
    refs.append(payload.get("ref"))
    out: list[str] = []
    for ref in refs:
        if isinstance(ref, str) and ref.startswith("refs/heads/") and len(ref) > len("refs/heads/"):
            name = ref[len("refs/heads/"):]
            if name not in out:
                out.append(name)
    return tuple(out)
