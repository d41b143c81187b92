"""Gitea and Forgejo: GitHub's pull-request API under `/api/v1`, their own token header."""
from __future__ import annotations

from reconciler.tasks.forges.github import GitHub

KIND = "gitea"


class Gitea(GitHub):
    kind = KIND
    api_suffix = "/api/v1"

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    @classmethod
    def default_api(cls, host: str | None) -> str | None:
        return host                                     # the config repo's host

    def _open_filter(self, head: str, base: str) -> dict[str, str]:
        return {"state": "open"}                        # Gitea ignores GitHub's head/base filters


FORGE = Gitea
