"""Credentials and transport callbacks for talking to the config repo's remote.

Three libgit2 traps are handled here, so no caller can forget them:

* A wrong static credential makes libgit2 ask again and again (pygit2 #665/#683/#953): the
  callback counts attempts and raises `AuthenticationError` after `max_attempts`.
* A push that a server hook declines raises nothing unless `push_update_reference` is
  overridden: we record every rejected ref so the caller can raise.
* Connect and I/O timeouts default to "whatever the OS does" (minutes): `configure_timeouts`
  sets them process-wide.

Secrets come only from the environment (or the caller) and never appear in messages:
`redact()` removes them and URL user-info from anything we log or raise.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import CredentialType

from reconciler.gitstore.errors import AuthenticationError

ENV_TOKEN = "RECONCILER_GIT_TOKEN"
ENV_USERNAME = "RECONCILER_GIT_USERNAME"
ENV_SSH_KEY = "RECONCILER_GIT_SSH_KEY"
ENV_SSH_PASSPHRASE = "RECONCILER_GIT_SSH_PASSPHRASE"
DEFAULT_TOKEN_USERNAME = "x-access-token"   # what GitHub expects with an app/PAT token
DEFAULT_SSH_USERNAME = "git"

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_IO_TIMEOUT = 60.0

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """The URL without user-info (`https://tok@host/x` → `https://***@host/x`)."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}***@", url)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with URL user-info and each of `secrets` replaced by `***`."""
    out = redact_url(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def configure_timeouts(connect: float = DEFAULT_CONNECT_TIMEOUT, io: float = DEFAULT_IO_TIMEOUT) -> None:
    """Set libgit2's process-wide connect and read timeouts (seconds; 0 is the OS default)."""
    pygit2.settings.server_connect_timeout = int(connect * 1000)
    pygit2.settings.server_timeout = int(io * 1000)


@dataclass(frozen=True)
class GitCredentials:
    """How we prove who we are to the remote: an HTTPS token and/or an SSH key.

    Build it with `from_env()` in the shell; tests pass values directly. `repr()` never shows
    the token or passphrase.
    """

    token: str | None = field(default=None, repr=False)
    username: str = DEFAULT_TOKEN_USERNAME
    ssh_key: Path | None = None
    ssh_passphrase: str | None = field(default=None, repr=False)
    max_attempts: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitCredentials:
        """Read `RECONCILER_GIT_TOKEN`, `RECONCILER_GIT_USERNAME`, `RECONCILER_GIT_SSH_KEY`
        and `RECONCILER_GIT_SSH_PASSPHRASE` (all optional)."""
        env = os.environ if env is None else env
        key = env.get(ENV_SSH_KEY) or None
        return cls(
            token=env.get(ENV_TOKEN) or None,
            username=env.get(ENV_USERNAME) or DEFAULT_TOKEN_USERNAME,
            ssh_key=Path(key).expanduser() if key else None,
            ssh_passphrase=env.get(ENV_SSH_PASSPHRASE) or None,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be printed (for `redact`)."""
        return tuple(s for s in (self.token, self.ssh_passphrase) if s)

    def callbacks(self) -> TransportCallbacks:
        """Fresh callbacks for one network operation (attempts are counted per operation)."""
        return TransportCallbacks(self)


_ZERO = pygit2.Oid(hex="0" * 40)


class StaleRef(Exception):
    """Raised inside push negotiation to stop a push whose base moved (see `rejected`)."""


class TransportCallbacks(pygit2.RemoteCallbacks):
    """libgit2 callbacks for one ls-remote, fetch or push.

    `rejected` collects `(ref, server message)` for every ref the server refused to update.
    """

    def __init__(self, creds: GitCredentials) -> None:
        super().__init__()
        self.creds = creds
        self.attempts = 0
        self.rejected: list[tuple[str, str]] = []
        self.updated: list[str] = []
        # ref -> the value the remote must still have for the push to go ahead (None: absent)
        self.expected: dict[str, pygit2.Oid | None] = {}

    def credentials(self, url: str, username_from_url: str | None, allowed_types: CredentialType):
        if allowed_types & CredentialType.USERNAME and not allowed_types & ~CredentialType.USERNAME:
            # SSH asks for the user name first when the URL has none.
            return pygit2.Username(username_from_url or DEFAULT_SSH_USERNAME)
        self.attempts += 1
        where = redact_url(url)
        if self.attempts > self.creds.max_attempts:
            raise AuthenticationError(
                f"{where} refused our credentials {self.creds.max_attempts} times; "
                f"check {ENV_TOKEN} / {ENV_USERNAME} or {ENV_SSH_KEY} / {ENV_SSH_PASSPHRASE}")
        if allowed_types & CredentialType.SSH_KEY and self.creds.ssh_key is not None:
            key = self.creds.ssh_key
            pub = key.with_name(key.name + ".pub")
            return pygit2.Keypair(username_from_url or DEFAULT_SSH_USERNAME,
                                  str(pub) if pub.exists() else None, str(key),
                                  self.creds.ssh_passphrase or "")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT and self.creds.token:
            return pygit2.UserPass(self.creds.username, self.creds.token)
        wanted = []
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            wanted.append(f"an HTTPS token in {ENV_TOKEN}")
        if allowed_types & CredentialType.SSH_KEY:
            wanted.append(f"an SSH key path in {ENV_SSH_KEY}")
        raise AuthenticationError(
            f"{where} asks for credentials and none are configured; set "
            + (" or ".join(wanted) or f"{ENV_TOKEN} or {ENV_SSH_KEY}"))

    def push_negotiation(self, updates: list) -> None:
        """Abort before sending anything if a ref is no longer where we built on (CAS)."""
        for update in updates:
            if update.dst_refname in self.expected:
                current = None if update.src == _ZERO else update.src
                expected = self.expected[update.dst_refname]
                if current != expected:
                    self.rejected.append((update.dst_refname, (
                        f"the branch is at {str(current)[:12] if current else 'nothing'}, "
                        f"not {str(expected)[:12] if expected else 'nothing'} (fetch first)")))
                    raise StaleRef(update.dst_refname)

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected.append((refname, message))
        else:
            self.updated.append(refname)
