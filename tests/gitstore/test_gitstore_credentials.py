"""Credentials: a good token works, a bad one gives up after two tries, secrets never leak."""
from __future__ import annotations

import pygit2
import pytest
from pygit2.enums import CredentialType

from reconciler.gitstore import AuthenticationError, GitCredentials, Mirror, Writer, redact, redact_url
from reconciler.gitstore.credentials import TransportCallbacks
from tests.support.remotes import git_out

TOKEN = "ghp_s3cr3t-token-value"


@pytest.fixture
def guarded(remotes):
    """An HTTP remote that demands Basic auth `bot:TOKEN`."""
    origin = remotes.origin("file", {"main": {"a": "1"}})
    server, url = remotes.http_with_auth(origin.path, "bot", TOKEN)
    return origin, server, url


def test_a_valid_token_reads_and_writes(guarded, workdir):
    origin, server, url = guarded
    mirror = Mirror(url, workdir, GitCredentials(token=TOKEN, username="bot"))
    assert mirror.ls_remote() == {"main": git_out("rev-parse", "main", cwd=origin.path)}
    mirror.fetch()
    result = Writer(mirror).write("main", lambda tip: {"b": b"2"}, "with a token")
    assert git_out("rev-parse", "main", cwd=origin.path) == result.oid


def test_a_wrong_token_gives_up_after_two_attempts(guarded, workdir):
    origin, server, url = guarded
    mirror = Mirror(url, workdir, GitCredentials(token="wrong", username="bot"))
    with pytest.raises(AuthenticationError) as info:
        mirror.ls_remote()
    assert "2 times" in str(info.value) and "RECONCILER_GIT_TOKEN" in str(info.value)
    # one anonymous probe plus two attempts with the credential, then we stop asking
    assert server.auth_failures == 3
    with pytest.raises(AuthenticationError):
        mirror.fetch()
    with pytest.raises(AuthenticationError):
        Writer(mirror).write("main", lambda tip: {"b": b"2"}, "x")
    assert server.auth_failures <= 3 * 3


def test_no_credentials_fail_at_once_and_say_what_to_set(guarded, workdir):
    origin, server, url = guarded
    with pytest.raises(AuthenticationError, match="RECONCILER_GIT_TOKEN"):
        Mirror(url, workdir).ls_remote()
    assert server.auth_failures == 1


def test_secrets_never_appear_in_errors(guarded, workdir):
    origin, server, url = guarded
    url_with_token = url.replace("http://", f"http://bot:{TOKEN}x@")
    mirror = Mirror(url_with_token, workdir, GitCredentials(token=TOKEN + "x", username="bot"))
    with pytest.raises(AuthenticationError) as info:
        mirror.ls_remote()
    assert TOKEN not in str(info.value)
    assert TOKEN not in mirror.display_url and "***@" in mirror.display_url
    assert TOKEN not in repr(GitCredentials(token=TOKEN, ssh_passphrase="pp"))
    assert "pp" not in repr(GitCredentials(ssh_passphrase="pp-secret"))


def test_from_env_reads_the_documented_variables(tmp_path):
    key = tmp_path / "id_ed25519"
    creds = GitCredentials.from_env({
        "RECONCILER_GIT_TOKEN": "t", "RECONCILER_GIT_SSH_KEY": str(key), "RECONCILER_GIT_SSH_PASSPHRASE": "p"})
    assert (creds.token, creds.username, creds.ssh_key, creds.ssh_passphrase) == ("t", "x-access-token", key, "p")
    assert GitCredentials.from_env({"RECONCILER_GIT_USERNAME": "me"}).username == "me"
    assert GitCredentials.from_env({}).token is None


def test_ssh_key_callback_offers_the_key_then_gives_up(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key")
    (tmp_path / "id_ed25519.pub").write_text("ssh-ed25519 AAAA test")
    callbacks = TransportCallbacks(GitCredentials(ssh_key=key, ssh_passphrase="pp"))
    url = "ssh://git@forge.example/org/repo.git"
    assert isinstance(callbacks.credentials(url, None, CredentialType.USERNAME), pygit2.Username)
    for _ in range(2):
        cred = callbacks.credentials(url, "git", CredentialType.SSH_KEY)
        assert isinstance(cred, pygit2.Keypair)
        assert cred.credential_tuple == ("git", str(tmp_path / "id_ed25519.pub"), str(key), "pp")
    with pytest.raises(AuthenticationError, match="2 times"):
        callbacks.credentials(url, "git", CredentialType.SSH_KEY)
    with pytest.raises(AuthenticationError, match="RECONCILER_GIT_SSH_KEY"):
        TransportCallbacks(GitCredentials()).credentials(url, "git", CredentialType.SSH_KEY)


def test_connect_timeouts_are_set(workdir, remotes):
    origin = remotes.origin("file", {"main": {"a": "1"}})
    Mirror(origin.url, workdir, connect_timeout=3, io_timeout=7)
    assert (pygit2.settings.server_connect_timeout, pygit2.settings.server_timeout) == (3000, 7000)
    Mirror(origin.url, workdir)
    assert pygit2.settings.server_connect_timeout == 10000


def test_redaction():
    assert redact_url("https://x-access-token:abc@github.com/o/r.git") == "https://***@github.com/o/r.git"
    assert redact_url("ssh://git@host/r.git") == "ssh://***@host/r.git"
    assert redact_url("/srv/git/repo.git") == "/srv/git/repo.git"
    assert redact("failed for token abc123 at https://u:abc123@h/x", ("abc123",)) == "failed for token *** at https://***@h/x"
