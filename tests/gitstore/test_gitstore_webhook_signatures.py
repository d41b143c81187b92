"""Push webhooks: good signatures pass; forged, unsigned and oversized requests are refused."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from reconciler.server.signatures import (
    DEFAULT_MAX_BODY,
    WebhookRefused,
    check_body,
    check_size,
    detect_forge,
    is_push_event,
    pushed_branches,
    verify,
)

SECRET = "hook-secret"
BODY = json.dumps({"ref": "refs/heads/dev", "after": "a" * 40, "commits": [{"id": "a" * 40}]}).encode()


def sig(body: bytes = BODY, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


SIGNED = {
    "github": {"X-Hub-Signature-256": f"sha256={sig()}", "X-GitHub-Event": "push"},
    "gitea": {"X-Gitea-Signature": sig(), "X-Gitea-Event": "push", "X-GitHub-Event": "push"},
    "gitlab": {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook"},
    "generic": {"X-Reconciler-Signature": f"sha256={sig()}"},
}
FORGED = {
    "github": {"X-Hub-Signature-256": f"sha256={sig(secret='guess')}"},
    "gitea": {"X-Gitea-Signature": sig(secret="guess")},
    "gitlab": {"X-Gitlab-Token": "guess"},
    "generic": {"X-Reconciler-Signature": f"sha256={sig(secret='guess')}"},
}


@pytest.mark.parametrize("forge", SIGNED)
def test_a_correctly_signed_push_is_accepted(forge):
    verify(forge, SIGNED[forge], BODY, SECRET)
    assert detect_forge(SIGNED[forge]) == forge
    assert is_push_event(forge, SIGNED[forge])
    assert pushed_branches(forge, BODY) == ("dev",)


@pytest.mark.parametrize("forge", SIGNED)
def test_header_names_are_case_insensitive(forge):
    verify(forge, {k.lower(): v for k, v in SIGNED[forge].items()}, BODY, SECRET)


@pytest.mark.parametrize("forge", FORGED)
def test_a_forged_signature_is_refused(forge):
    with pytest.raises(WebhookRefused) as info:
        verify(forge, FORGED[forge], BODY, SECRET)
    assert info.value.status == 401 and SECRET not in info.value.reason


@pytest.mark.parametrize("forge", SIGNED)
def test_an_unsigned_request_is_refused(forge):
    with pytest.raises(WebhookRefused) as info:
        verify(forge, {"Content-Type": "application/json"}, BODY, SECRET)
    assert info.value.status == 401


@pytest.mark.parametrize("forge", ["github", "gitea", "generic"])
def test_a_tampered_body_is_refused(forge):
    tampered = BODY.replace(b"dev", b"production")
    with pytest.raises(WebhookRefused):
        verify(forge, SIGNED[forge], tampered, SECRET)


def test_signatures_are_over_raw_bytes_not_reserialised_json():
    spaced = b'{ "ref" : "refs/heads/dev" }'
    verify("github", {"X-Hub-Signature-256": f"sha256={sig(spaced)}"}, spaced, SECRET)
    with pytest.raises(WebhookRefused):
        verify("github", {"X-Hub-Signature-256": f"sha256={sig(spaced)}"},
               json.dumps(json.loads(spaced)).encode(), SECRET)


@pytest.mark.parametrize("header", ["sha1=abc", "sha256=", "abc", "sha256=zz\u00e9"])
def test_malformed_signature_headers_are_refused(header):
    with pytest.raises(WebhookRefused) as info:
        verify("github", {"X-Hub-Signature-256": header}, BODY, SECRET)
    assert info.value.status == 401


def test_a_signature_for_another_forge_does_not_count():
    with pytest.raises(WebhookRefused):
        verify("github", SIGNED["gitea"], BODY, SECRET)      # bare hex is not GitHub's format
    with pytest.raises(WebhookRefused):
        verify("gitlab", SIGNED["github"], BODY, SECRET)


def test_oversized_bodies_are_refused():
    with pytest.raises(WebhookRefused) as info:
        check_size(DEFAULT_MAX_BODY + 1)
    assert info.value.status == 413
    check_size(str(DEFAULT_MAX_BODY))
    check_size(None)
    with pytest.raises(WebhookRefused) as info:
        check_size("lots")
    assert info.value.status == 400
    with pytest.raises(WebhookRefused):
        check_size(-1)
    big = b"x" * 101
    with pytest.raises(WebhookRefused) as info:
        check_body(big, limit=100)
    assert info.value.status == 413
    # a correctly signed but oversized body is refused before the signature is trusted
    with pytest.raises(WebhookRefused) as info:
        verify("github", {"X-Hub-Signature-256": f"sha256={sig(big)}"}, big, SECRET, limit=100)
    assert info.value.status == 413


def test_an_empty_secret_is_a_configuration_error():
    with pytest.raises(ValueError, match="empty"):
        verify("github", {"X-Hub-Signature-256": "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()}, BODY, "")
    with pytest.raises(ValueError, match="unknown forge"):
        verify("bitbucket", {}, BODY, SECRET)  # type: ignore[arg-type]


def test_forgejo_header_and_non_push_events():
    verify("gitea", {"X-Forgejo-Signature": sig()}, BODY, SECRET)
    assert detect_forge({"X-Forgejo-Signature": "x"}) == "gitea"
    assert detect_forge({"Content-Type": "application/json"}) is None
    assert not is_push_event("github", {"X-GitHub-Event": "ping"})
    assert not is_push_event("gitlab", {"X-Gitlab-Event": "Merge Request Hook"})
    assert is_push_event("gitea", {"X-Forgejo-Event": "push"})
    assert is_push_event("generic", {})


def test_pushed_branches_is_a_hint_from_each_payload_shape():
    assert pushed_branches("gitlab", {"object_kind": "push", "ref": "refs/heads/staging"}) == ("staging",)
    assert pushed_branches("github", {"ref": "refs/tags/v1"}) == ()
    assert pushed_branches("github", b"not json") == ()
    assert pushed_branches("github", b"[1, 2]") == ()
    assert pushed_branches("generic", {"branches": ["dev", "production"], "ref": "refs/heads/dev"}) == ("dev", "production")
    assert pushed_branches("generic", {"refs": ["refs/heads/a/b", "refs/tags/x", 5]}) == ("a/b",)
