"""Pull requests for manual approvals on GitHub, Gitea/Forgejo and GitLab.

The approval branch is the approval; a pull request only makes it easy to review and merge
on the forge. So this module does two things: open one (idempotently — a redelivered
approval finds the PR it opened before) and tell whether it was closed without merging
(a decline). Merges are noticed in Git, not here.

Settings come from `reconciler.yaml` (`spec.forge: {kind, url, repository}`), the token only
from the environment (`RECONCILER_FORGE_TOKEN`). Without `repository`, it is read from the
config repo's URL (`https://host/owner/name.git` → `owner/name`); without `url`, GitHub is
`https://api.github.com` and Gitea/GitLab are the config repo's host.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import httpx

from reconciler.spec.settings import ForgeSettings

TOKEN_ENV = "RECONCILER_FORGE_TOKEN"
TIMEOUT = 10.0
PrState = Literal["open", "closed", "merged"]


class ForgeError(Exception):
    """The forge refused or could not be reached; the message says which and what to check."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    state: PrState

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "url": self.url, "state": self.state}


def repository_from_url(repo_url: str) -> tuple[str | None, str | None]:
    """(`https://host`, `owner/name`) from a Git remote URL (user-info and `.git` dropped)."""
    match = re.match(r"^(?P<scheme>https?)://(?:[^@/]+@)?(?P<host>[^/]+)/(?P<path>.+?)(?:\.git)?/?$", repo_url)
    if match:
        return f"{match['scheme']}://{match['host']}", match["path"]
    match = re.match(r"^(?:ssh://)?(?:[^@/]+@)?(?P<host>[^:/]+)[:/](?P<path>.+?)(?:\.git)?/?$", repo_url)
    if match and "://" not in repo_url.replace("ssh://", ""):
        return f"https://{match['host']}", match["path"]
    return None, None


class ForgeClient:
    """One forge's pull-request API (`kind`: github, gitea or gitlab)."""

    def __init__(self, kind: str, api: str, repository: str, token: str | None, *,
                 timeout: float = TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        if kind not in ("github", "gitea", "gitlab"):
            raise ForgeError(f"forge kind {kind!r} is not supported (github, gitea, gitlab)")
        self.kind = kind
        self.api = api.rstrip("/")
        self.repository = repository.strip("/")
        headers = {"Accept": "application/json", "User-Agent": "reconciler"}
        if token:
            if kind == "github":
                headers["Authorization"] = f"Bearer {token}"
            elif kind == "gitea":
                headers["Authorization"] = f"token {token}"
            else:
                headers["PRIVATE-TOKEN"] = token
        self._client_options: dict[str, Any] = dict(base_url=self.api, headers=headers,
                                                     timeout=httpx.Timeout(timeout), trust_env=False,
                                                     transport=transport)

    # -- construction

    @classmethod
    def from_settings(cls, settings: ForgeSettings, repo_url: str, *,
                      environ: Mapping[str, str] | None = None) -> "ForgeClient | None":
        """The configured forge, or None for `kind: none`. ForgeError when it cannot be set up."""
        if settings.kind == "none":
            return None
        environ = os.environ if environ is None else environ
        host, path = repository_from_url(repo_url)
        repository = settings.repository or path
        if not repository:
            raise ForgeError(f"spec.forge.repository is not set in reconciler.yaml and cannot be read "
                             f"from the repository URL; set it to owner/name")
        api = settings.url
        if not api:
            if settings.kind == "github":
                api = "https://api.github.com"
            elif host:
                api = host
            else:
                raise ForgeError("spec.forge.url is not set in reconciler.yaml; set the forge's address")
        api = api.rstrip("/")
        if settings.kind == "gitea" and not api.endswith("/api/v1"):
            api += "/api/v1"
        elif settings.kind == "gitlab" and not api.endswith("/api/v4"):
            api += "/api/v4"
        return cls(settings.kind, api, repository, environ.get(TOKEN_ENV) or None)

    # -- API

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from `head` into `base`, or return the open one that already exists."""
        existing = self.find_open(head, base)
        if existing is not None:
            return existing
        if self.kind == "gitlab":
            raw = self._call("POST", f"{self._gitlab_project()}/merge_requests",
                             json={"source_branch": head, "target_branch": base, "title": title,
                                   "description": body, "remove_source_branch": True})
        else:
            raw = self._call("POST", f"{self._repo_path()}/pulls",
                             json={"head": head, "base": base, "title": title, "body": body})
        return self._parse(raw)

    def find_open(self, head: str, base: str) -> PullRequest | None:
        if self.kind == "gitlab":
            items = self._call("GET", f"{self._gitlab_project()}/merge_requests",
                               params={"source_branch": head, "target_branch": base, "state": "opened"})
            for item in items if isinstance(items, list) else []:
                if item.get("source_branch") == head and item.get("target_branch") == base:
                    return self._parse(item)
            return None
        params = {"state": "open"}
        if self.kind == "github":
            owner = self.repository.split("/", 1)[0]
            params.update(head=f"{owner}:{head}", base=base)
        items = self._call("GET", f"{self._repo_path()}/pulls", params=params)
        for item in items if isinstance(items, list) else []:
            if _ref(item.get("head")) == head and _ref(item.get("base")) == base:
                return self._parse(item)
        return None

    def pull_request(self, number: int) -> PullRequest:
        if self.kind == "gitlab":
            return self._parse(self._call("GET", f"{self._gitlab_project()}/merge_requests/{number}"))
        return self._parse(self._call("GET", f"{self._repo_path()}/pulls/{number}"))

    # -- internals

    def _repo_path(self) -> str:
        return f"/repos/{self.repository}"

    def _gitlab_project(self) -> str:
        return f"/projects/{urllib.parse.quote(self.repository, safe='')}"

    def _parse(self, raw: Any) -> PullRequest:
        if not isinstance(raw, dict):
            raise ForgeError(f"{self.kind} answered with something that is not a pull request")
        if self.kind == "gitlab":
            number, url = raw.get("iid"), raw.get("web_url")
            state_raw = raw.get("state")
            state: PrState = "merged" if state_raw == "merged" else "open" if state_raw in ("opened", "locked") else "closed"
        else:
            number, url = raw.get("number"), raw.get("html_url")
            merged = bool(raw.get("merged")) or bool(raw.get("merged_at"))
            state = "merged" if merged else "open" if raw.get("state") == "open" else "closed"
        if not isinstance(number, int):
            raise ForgeError(f"{self.kind} answered without a pull request number")
        return PullRequest(number, str(url or ""), state)

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


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        ref = value.get("ref")
        return ref if isinstance(ref, str) else None
    return value if isinstance(value, str) else None
