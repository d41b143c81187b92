"""GitHub (and GitHub Enterprise at `spec.forge.url`, e.g. `https://ghe.example/api/v3`)."""
from __future__ import annotations

from typing import Any

from reconciler.tasks.forges.base import STATUS_DESCRIPTION_MAX, HttpForge, PrState, PullRequest, StatusState

KIND = "github"


class GitHub(HttpForge):
    kind = KIND

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @classmethod
    def default_api(cls, host: str | None) -> str | None:
        return "https://api.github.com"

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open(head, base)
        if existing is not None:
            return existing
        return self._parse(self._call("POST", f"{self._repo_path()}/pulls",
                                      json={"head": head, "base": base, "title": title, "body": body}))

    def find_open(self, head: str, base: str) -> PullRequest | None:
        items = self._call("GET", f"{self._repo_path()}/pulls", params=self._open_filter(head, base))
        for item in items if isinstance(items, list) else []:
            if _ref(item.get("head")) == head and _ref(item.get("base")) == base:
                return self._parse(item)
        return None

    def pull_request(self, number: int) -> PullRequest:
        return self._parse(self._call("GET", f"{self._repo_path()}/pulls/{number}"))

    def set_status(self, commit: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        body: dict[str, Any] = {"state": self._status_state(state), "context": context,
                                "description": description[:STATUS_DESCRIPTION_MAX]}
        if target_url:
            body["target_url"] = target_url
        self._call("POST", f"{self._repo_path()}/statuses/{commit}", json=body)

    def upsert_comment(self, number: int, marker: str, body: str) -> None:
        comments = self._call("GET", f"{self._repo_path()}/issues/{number}/comments", params={"per_page": "100"})
        found = self._comment_with(comments, marker)
        if found is None:
            self._call("POST", f"{self._repo_path()}/issues/{number}/comments", json={"body": body})
        else:
            self._call("PATCH", f"{self._repo_path()}/issues/comments/{found}", json={"body": body})

    # -- GitHub's shape (Gitea shares it)

    def _open_filter(self, head: str, base: str) -> dict[str, str]:
        owner = self.repository.split("/", 1)[0]
        return {"state": "open", "head": f"{owner}:{head}", "base": base}

    @staticmethod
    def _status_state(state: StatusState) -> str:
        return state

    def _repo_path(self) -> str:
        return f"/repos/{self.repository}"

    def _parse(self, raw: Any) -> PullRequest:
        pr = self._object(raw)
        merged = bool(pr.get("merged")) or bool(pr.get("merged_at"))
        state: PrState = "merged" if merged else "open" if pr.get("state") == "open" else "closed"
        return self._pull(pr.get("number"), pr.get("html_url"), state)


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        ref = value.get("ref")
        return ref if isinstance(ref, str) else None
    return value if isinstance(value, str) else None


FORGE = GitHub
