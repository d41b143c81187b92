"""What a forge is to reconciler: pull requests for manual approvals (GitHub, Gitea, GitLab, …).

The approval branch is the approval; a pull request only makes it easy to review and merge
on the forge. So a forge does two things: open one (idempotently — a redelivered approval
finds the PR it opened before) and tell whether it was closed without merging (a decline).
Merges are noticed in Git, not here.

`Forge` is the interface the approval task uses; `HttpForge` holds what every forge's REST
API shares (one httpx client per call, the token, errors that say what to check). One module
per forge (`github`, `gitea`, `gitlab`) subclasses it with its paths, auth header and JSON
shape; `registry` finds it by `spec.forge.kind`. Besides pull requests a forge sets commit
statuses (the gate's verdict where developers look) and keeps one comment per marker on a pull
request up to date (the SLI table of an approval).

Settings come from `reconciler.yaml` (`spec.forge: {kind, url, repository}`), the token only
from the environment (`RECONCILER_FORGE_TOKEN`). Without `repository`, it is read from the
config repo's URL (`https://host/owner/name.git` → `owner/name`); without `url`, each forge
says its default (`default_api`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import httpx

TOKEN_ENV = "RECONCILER_FORGE_TOKEN"
TIMEOUT = 10.0
PrState = Literal["open", "closed", "merged"]
StatusState = Literal["pending", "success", "failure", "error"]
STATUS_DESCRIPTION_MAX = 140          # GitHub refuses longer descriptions; the others show them cut


class ForgeError(Exception):
    """The forge refused or could not be reached; the message says which and what to check."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    state: PrState

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "url": self.url, "state": self.state}


class Forge(Protocol):
    """A forge's pull-request API for one repository."""

    kind: str
    api: str
    repository: str

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from `head` into `base`, or return the open one that already exists."""
        ...

    def find_open(self, head: str, base: str) -> PullRequest | None: ...

    def pull_request(self, number: int) -> PullRequest: ...

    def set_status(self, commit: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        """Set the commit status named `context` on `commit` (a later call replaces it)."""
        ...

    def upsert_comment(self, number: int, marker: str, body: str) -> None:
        """Comment on pull request `number`; the comment holding `marker` is edited in place
        instead of adding another one."""
        ...


def repository_from_url(repo_url: str) -> tuple[str | None, str | None]:
    """(`https://host`, `owner/name`) from a Git remote URL (user-info and `.git` dropped)."""
    match = re.match(r"^(?P<scheme>https?)://(?:[^@/]+@)?(?P<host>[^/]+)/(?P<path>.+?)(?:\.git)?/?$", repo_url)
    if match:
        return f"{match['scheme']}://{match['host']}", match["path"]
    match = re.match(r"^(?:ssh://)?(?:[^@/]+@)?(?P<host>[^:/]+)[:/](?P<path>.+?)(?:\.git)?/?$", repo_url)
    if match and "://" not in repo_url.replace("ssh://", ""):
        return f"https://{match['host']}", match["path"]
    return None, None


class HttpForge:
    """The REST plumbing every forge shares; subclasses say the rest (see the module docstring)."""

    kind: ClassVar[str]
    api_suffix: ClassVar[str] = ""          # appended to a configured or derived API base when missing

    def __init__(self, api: str, repository: str, token: str | None, *,
                 timeout: float = TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        self.api = api.rstrip("/")
        self.repository = repository.strip("/")
        headers = {"Accept": "application/json", "User-Agent": "reconciler"}
        if token:
            headers.update(self.auth_headers(token))
        self._client_options: dict[str, Any] = dict(base_url=self.api, headers=headers,
                                                     timeout=httpx.Timeout(timeout), trust_env=False,
                                                     transport=transport)

    # -- what each forge says

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        raise NotImplementedError

    @classmethod
    def default_api(cls, host: str | None) -> str | None:
        """The API base when `spec.forge.url` is not set: by default the config repo's host."""
        return host

    # -- construction

    @classmethod
    def create(cls, url: str | None, repository: str | None, repo_url: str, environ: Mapping[str, str]) -> HttpForge:
        """From `spec.forge` (url, repository) and the config repo's URL; ForgeError when
        something needed is missing."""
        host, path = repository_from_url(repo_url)
        repository = repository or path
        if not repository:
            raise ForgeError("spec.forge.repository is not set in reconciler.yaml and cannot be read "
                             "from the repository URL; set it to owner/name")
        api = url or cls.default_api(host)
        if not api:
            raise ForgeError("spec.forge.url is not set in reconciler.yaml; set the forge's address")
        api = api.rstrip("/")
        if cls.api_suffix and not api.endswith(cls.api_suffix):
            api += cls.api_suffix
        return cls(api, repository, environ.get(TOKEN_ENV) or None)

    # -- HTTP

    def _call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None) -> Any:
        where = f"{method} {self.api}{path}"
        try:
            with httpx.Client(**self._client_options) as client:
                response = client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{self.kind} at {self.api} could not be reached: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise ForgeError(f"{self.kind} refused {where} (HTTP {response.status_code}); check {TOKEN_ENV} "
                             f"and that its account may open pull requests in {self.repository}")
        if response.status_code >= 400:
            detail = response.text.strip().replace("\n", " ")[:300]
            raise ForgeError(f"{where} failed: HTTP {response.status_code} {detail}")
        try:
            return response.json()
        except ValueError:
            raise ForgeError(f"{where} answered with something that is not JSON") from None

    def _pull(self, number: Any, url: Any, state: PrState) -> PullRequest:
        if not isinstance(number, int):
            raise ForgeError(f"{self.kind} answered without a pull request number")
        return PullRequest(number, str(url or ""), state)

    def _comment_with(self, comments: Any, marker: str) -> Any | None:
        """The id of the first comment whose body holds `marker`, or None."""
        for comment in comments if isinstance(comments, list) else []:
            if isinstance(comment, dict) and marker in str(comment.get("body") or ""):
                return comment.get("id")
        return None

    def _object(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ForgeError(f"{self.kind} answered with something that is not a pull request")
        return raw
