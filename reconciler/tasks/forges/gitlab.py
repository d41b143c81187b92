"""GitLab: merge requests under `/api/v4/projects/<url-encoded path>`."""
from __future__ import annotations

import urllib.parse
from typing import Any

from reconciler.tasks.forges.base import STATUS_DESCRIPTION_MAX, HttpForge, PrState, PullRequest, StatusState

KIND = "gitlab"
# GitLab's commit status states (pending, running, success, failed, canceled, skipped).
_GITLAB_STATES = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}


class GitLab(HttpForge):
    kind = KIND
    api_suffix = "/api/v4"

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open(head, base)
        if existing is not None:
            return existing
        return self._parse(self._call("POST", f"{self._project()}/merge_requests",
                                      json={"source_branch": head, "target_branch": base, "title": title,
                                            "description": body, "remove_source_branch": True}))

    def find_open(self, head: str, base: str) -> PullRequest | None:
        items = self._call("GET", f"{self._project()}/merge_requests",
                           params={"source_branch": head, "target_branch": base, "state": "opened"})
        for item in items if isinstance(items, list) else []:
            if item.get("source_branch") == head and item.get("target_branch") == base:
                return self._parse(item)
        return None

    def pull_request(self, number: int) -> PullRequest:
        return self._parse(self._call("GET", f"{self._project()}/merge_requests/{number}"))

    def set_status(self, commit: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        body: dict[str, Any] = {"state": _GITLAB_STATES[state], "name": context,
                                "description": description[:STATUS_DESCRIPTION_MAX]}
        if target_url:
            body["target_url"] = target_url
        self._call("POST", f"{self._project()}/statuses/{commit}", json=body)

    def upsert_comment(self, number: int, marker: str, body: str) -> None:
        notes = self._call("GET", f"{self._project()}/merge_requests/{number}/notes", params={"per_page": "100"})
        found = self._comment_with(notes, marker)
        if found is None:
            self._call("POST", f"{self._project()}/merge_requests/{number}/notes", json={"body": body})
        else:
            self._call("PUT", f"{self._project()}/merge_requests/{number}/notes/{found}", json={"body": body})

    def _project(self) -> str:
        return f"/projects/{urllib.parse.quote(self.repository, safe='')}"

    def _parse(self, raw: Any) -> PullRequest:
        mr = self._object(raw)
        found = mr.get("state")
        state: PrState = "merged" if found == "merged" else "open" if found in ("opened", "locked") else "closed"
        return self._pull(mr.get("iid"), mr.get("web_url"), state)


FORGE = GitLab
