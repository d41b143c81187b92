"""GitLab: merge requests under `/api/v4/projects/<url-encoded path>`."""
from __future__ import annotations

import urllib.parse
from typing import Any

from reconciler.tasks.forges.base import HttpForge, PrState, PullRequest

KIND = "gitlab"


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

    def _project(self) -> str:
        return f"/projects/{urllib.parse.quote(self.repository, safe='')}"

    def _parse(self, raw: Any) -> PullRequest:
        mr = self._object(raw)
        found = mr.get("state")
        state: PrState = "merged" if found == "merged" else "open" if found in ("opened", "locked") else "closed"
        return self._pull(mr.get("iid"), mr.get("web_url"), state)


FORGE = GitLab
