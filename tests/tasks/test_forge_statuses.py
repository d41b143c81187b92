"""Commit statuses and in-place pull request comments, against fake forges that speak each
forge's REST paths, auth headers and payloads (tests/support/forge.py)."""
from __future__ import annotations

import pytest

from reconciler.spec.settings import ForgeSettings
from reconciler.tasks.forges.base import ForgeError
from reconciler.tasks.forges.registry import from_settings
from tests.support.forge import TOKEN, fake_forge

SHA = "0123456789abcdef0123456789abcdef01234567"


def client(forge):
    return from_settings(ForgeSettings(kind=forge.kind, url=forge.api, repository=forge.repository),
                         "file:///srv/config.git", environ={"RECONCILER_FORGE_TOKEN": TOKEN})


@pytest.mark.parametrize("kind", ["github", "gitea", "gitlab"])
def test_a_status_is_set_in_each_forges_words_and_replaced_by_the_next(kind):
    with fake_forge(kind) as forge:
        forge_client = client(forge)
        forge_client.set_status(SHA, "pending", "reconciler/staging/web", "evaluating", "http://ui.example/e/1")
        forge_client.set_status(SHA, "failure", "reconciler/staging/web", "score 33.3 < 90: fail " + "x" * 200)
        shown = forge.status(SHA, "reconciler/staging/web")
        assert shown["state"] == ("failed" if kind == "gitlab" else "failure")
        assert shown["description"].startswith("score 33.3 < 90: fail") and len(shown["description"]) == 140
        assert forge.statuses[0]["target_url"] == "http://ui.example/e/1"
        path = forge.requests[-1]["path"]
        assert path.endswith(f"/statuses/{SHA}")


@pytest.mark.parametrize("kind", ["github", "gitea", "gitlab"])
def test_a_comment_is_added_once_then_edited_in_place(kind):
    with fake_forge(kind) as forge:
        forge_client = client(forge)
        pr = forge_client.open_pull_request("approve/production/web/abc", "production", "approve", "body")
        forge_client.upsert_comment(pr.number, "<!-- reconciler:gate -->", "<!-- reconciler:gate -->\nfirst")
        forge_client.upsert_comment(pr.number, "<!-- reconciler:gate -->", "<!-- reconciler:gate -->\nsecond")
        forge_client.upsert_comment(pr.number, "<!-- other -->", "<!-- other -->\nthird")
        bodies = [c["body"] for c in forge.comments[pr.number]]
        assert bodies == ["<!-- reconciler:gate -->\nsecond", "<!-- other -->\nthird"]
        edits = [r for r in forge.requests if r["method"] in ("PATCH", "PUT")]
        assert len(edits) == 1 and edits[0]["method"] == ("PUT" if kind == "gitlab" else "PATCH")


def test_a_forge_that_is_down_is_a_forge_error():
    with fake_forge("github") as forge:
        forge.down = True
        with pytest.raises(ForgeError, match="HTTP 503"):
            client(forge).set_status(SHA, "success", "reconciler/dev/web", "score 100")
