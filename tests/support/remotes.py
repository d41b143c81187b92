"""Real Git remotes for tests: `file://`, `git daemon` and smart HTTP (`git http-backend`).

Why three kinds: libgit2 treats them differently. Over `file://` it runs no server hooks,
`git://` and HTTP do; HTTP also exercises credentials. A test that only passes against
`file://` proves little about a forge.

Everything binds 127.0.0.1 with a port picked at runtime and is stopped by the `remotes`
fixture (tests/conftest.py). `Human` plays a person with the git CLI (clone, edit, commit,
push), so the code under test sees exactly what a developer's push looks like.
"""
from __future__ import annotations

import base64
import contextlib
import gzip
import os
import signal
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.httpserver import LocalHTTPServer, QuietHandler
from tests.support.waiting import poll

ZERO = "0" * 40
REMOTE_KINDS = ("file", "daemon", "http")

# Runs a test once per transport (it overrides the `remote_kind` fixture, which is "file"
# otherwise). Only where the transport matters: fetch, push, watching and polling,
# credentials, server hooks; everything else runs over file://, the cheapest real remote.
every_transport = pytest.mark.parametrize("remote_kind", REMOTE_KINDS)

HUMAN_NAME = "Ada Human"
HUMAN_EMAIL = "ada@example.com"


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment that ignores the machine's git config and pins the author."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": HUMAN_NAME,
        "GIT_AUTHOR_EMAIL": HUMAN_EMAIL,
        "GIT_COMMITTER_NAME": HUMAN_NAME,
        "GIT_COMMITTER_EMAIL": HUMAN_EMAIL,
    })
    if extra:
        env.update(extra)
    return env


def git(*args: str, cwd: Path | str | None = None, input: bytes | None = None,
        check: bool = True, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the git CLI (bounded by a timeout) and return the completed process."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env=git_env(env), timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout.decode(errors='replace')}{proc.stderr.decode(errors='replace')}")
    return proc


def git_out(*args: str, cwd: Path | str | None = None) -> str:
    return git(*args, cwd=cwd).stdout.decode().strip()


# --------------------------------------------------------------------------- origin repos

def _data_block(data: bytes) -> bytes:
    return b"data %d\n" % len(data) + data + b"\n"


def make_origin(path: Path, branches: Mapping[str, Mapping[str, str | bytes]],
                default: str = "main", message: str = "seed") -> Path:
    """Create a bare repo with one commit per branch, built by one `git fast-import`.

    The default branch is committed first; every other branch is a child of it, as stage
    branches forked from `main` are. `branches` maps branch → {path: content}.
    """
    git("init", "-q", "--bare", "-b", default, str(path))
    stream = bytearray()
    order = [default] + [b for b in branches if b != default] if default in branches else list(branches)
    default_mark = None
    for mark, branch in enumerate(order, start=1):
        files = branches[branch]
        stream += b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), mark)
        stream += b"author %s <%s> 1700000000 +0000\n" % (HUMAN_NAME.encode(), HUMAN_EMAIL.encode())
        stream += b"committer %s <%s> 1700000000 +0000\n" % (HUMAN_NAME.encode(), HUMAN_EMAIL.encode())
        stream += _data_block(f"{message} {branch}".encode())
        if default_mark is not None:
            stream += b"from :%d\n" % default_mark
        for p, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            stream += b"M 100644 inline %s\n" % p.encode() + _data_block(data)
        stream += b"\n"
        if branch == default:
            default_mark = mark
    git("fast-import", "--quiet", cwd=path, input=bytes(stream))
    return path


def install_hook(bare: Path, name: str, script: str) -> Path:
    hook = bare / "hooks" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(script)
    hook.chmod(0o755)
    return hook


# Rejects any update that is not a fast-forward and records it in `rejected-updates`
# (hooks run in the bare repo): proof that nobody even tried to force-push.
REJECT_NON_FAST_FORWARD = f"""#!/bin/sh
while read old new ref; do
  if [ "$old" != "{ZERO}" ] && [ "$new" != "{ZERO}" ]; then
    if ! git merge-base --is-ancestor "$old" "$new"; then
      echo "$old $new $ref" >> rejected-updates
      echo "rejected non-fast-forward update of $ref" >&2
      exit 1
    fi
  fi
done
exit 0
"""


def rejected_updates(bare: Path) -> list[str]:
    """Updates the REJECT_NON_FAST_FORWARD hook refused (`old new ref` lines): any entry
    means a client tried to force-push."""
    log = bare / "rejected-updates"
    return log.read_text().splitlines() if log.exists() else []


def protect_branch_hook(branch: str) -> str:
    """A pre-receive hook that declines every update of `branch` (a "protected branch")."""
    return f"""#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/{branch}" ]; then
    echo "branch {branch} is protected" >&2
    exit 1
  fi
done
exit 0
"""


def enable_reflog(bare: Path) -> None:
    """Log every ref update of the origin, so a test can check none of them was forced."""
    git("config", "core.logAllRefUpdates", "always", cwd=bare)


def ref_updates(bare: Path, branch: str) -> list[tuple[str, str]]:
    """(old, new) pairs of every logged update of `branch` in the origin, oldest first."""
    log = bare / "logs" / "refs" / "heads" / branch
    if not log.exists():
        return []
    pairs = []
    for line in log.read_text().splitlines():
        old, new = line.split(" ", 2)[:2]
        pairs.append((old, new))
    return pairs


def forced_updates(bare: Path, branch: str) -> list[tuple[str, str]]:
    """Logged updates of `branch` whose new tip does not contain the old one."""
    bad = []
    for old, new in ref_updates(bare, branch):
        if old == ZERO or new == ZERO:
            continue
        if git("merge-base", "--is-ancestor", old, new, cwd=bare, check=False).returncode != 0:
            bad.append((old, new))
    return bad


# --------------------------------------------------------------------------- servers

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    """True once `port` accepts connections; False when `proc` exits or `timeout` passes."""
    def listening() -> str | None:
        if proc.poll() is not None:
            return "exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return "listening"
        return None
    return poll(listening, timeout, 0.01)[1] == "listening"


class GitDaemon:
    """`git daemon` serving every bare repo under `base` with push enabled."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> GitDaemon:
        for _ in range(5):  # a picked port can be taken before the daemon binds it: retry
            port = _free_port()
            proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
                 f"--base-path={self.base}", "--export-all", "--enable=receive-pack",
                 "--informative-errors", str(self.base)],
                env=git_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            if _wait_port(port, proc, 10.0):
                self.proc, self.port = proc, port
                return self
            self._kill(proc)
        raise RuntimeError("git daemon did not start")

    def url(self, repo: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{repo.relative_to(self.base).as_posix()}"

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        # The daemon forks one child per connection into its own process group (ours).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc is not None:
            self._kill(self.proc)
            self.proc = None


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: GitHttpServer

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        if self.server.auth is None:
            return True
        user, token = self.server.auth
        expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.reply(status, body, content_type=None, headers=headers)

    def _cgi(self) -> None:
        body = self._body()
        self.server.requests += 1
        if not self._authorized():
            self.server.auth_failures += 1
            self._send(401, [("WWW-Authenticate", 'Basic realm="git"')], b"unauthorized\n")
            return
        path, _, query = self.path.partition("?")
        env = git_env({
            "GIT_PROJECT_ROOT": str(self.server.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.server.auth[0] if self.server.auth else "anonymous",
            "REMOTE_ADDR": self.client_address[0],
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
        })
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
            env["CONTENT_LENGTH"] = str(len(body))
        proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, timeout=60)
        out = proc.stdout
        sep = out.find(b"\r\n\r\n")
        skip = 4
        if sep < 0 or (out.find(b"\n\n") >= 0 and out.find(b"\n\n") < sep):
            sep, skip = out.find(b"\n\n"), 2
        head, payload = (out[:sep], out[sep + skip:]) if sep >= 0 else (b"", out)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            if not line.strip():
                continue
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                headers.append((key.strip(), value.strip()))
        if proc.returncode != 0 and not head:
            status, payload = 500, proc.stderr
        self._send(status, headers, payload)


class GitHttpServer(LocalHTTPServer):
    """Smart HTTP: the shared test server CGI-wrapping `git http-backend` (fetch and push).

    `auth=(user, token)` requires HTTP Basic auth on every request, the way forges ask for
    a token; `auth_failures` counts the 401 answers so a test can see a client give up.
    Clients that abort a push mid-request (by design, e.g. a stale base) are not errors.
    """

    def __init__(self, base: Path, auth: tuple[str, str] | None = None) -> None:
        super().__init__(_Handler, name="git-http")
        self.base = base
        self.auth = auth
        self.requests = 0
        self.auth_failures = 0

    def start(self) -> GitHttpServer:
        super().start()
        return self

    def url(self, repo: Path, userinfo: str | None = None) -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}/{repo.relative_to(self.base).as_posix()}"


# --------------------------------------------------------------------------- serving origins

@dataclass
class Origin:
    """A bare origin repo on disk and the URL it is served at."""

    kind: str
    path: Path
    url: str
    server: object | None = None

    @property
    def hooks_run(self) -> bool:
        """libgit2's `file://` transport skips server hooks; the other two run them."""
        return self.kind != "file"


@dataclass
class Remotes:
    """Serves bare repos under `base` as `file://`, `git://` or `http://`, starting each
    server at most once and stopping all of them in `close()`."""

    base: Path
    _daemon: GitDaemon | None = None
    _http: GitHttpServer | None = None
    _extra: list = field(default_factory=list)

    def origin(self, kind: str, branches: Mapping[str, Mapping[str, str | bytes]],
               name: str = "origin.git", default: str = "main") -> Origin:
        path = make_origin(self.base / name, branches, default=default)
        return self.serve(kind, path)

    def serve(self, kind: str, path: Path) -> Origin:
        if kind == "file":
            return Origin(kind, path, path.as_uri())
        if kind == "daemon":
            if self._daemon is None:
                self._daemon = GitDaemon(self.base).start()
            return Origin(kind, path, self._daemon.url(path), self._daemon)
        if kind == "http":
            if self._http is None:
                self._http = GitHttpServer(self.base).start()
            return Origin(kind, path, self._http.url(path), self._http)
        raise ValueError(f"unknown remote kind {kind!r}")

    def http_with_auth(self, path: Path, user: str, token: str) -> tuple[GitHttpServer, str]:
        """A separate HTTP server for `path` that insists on Basic auth."""
        server = GitHttpServer(self.base, auth=(user, token)).start()
        self._extra.append(server)
        return server, server.url(path)

    def close(self) -> None:
        for server in [self._daemon, self._http, *self._extra]:
            if server is not None:
                server.stop()
        self._daemon = self._http = None
        self._extra.clear()


# --------------------------------------------------------------------------- a human

class Human:
    """A person with a clone: edits files, commits and pushes with the git CLI."""

    def __init__(self, url: str, path: Path, branch: str = "main") -> None:
        self.url = url
        self.path = path
        # protocol v0: git's v2 over git:// stalls ≈40 ms per request on loopback.
        git("-c", "protocol.version=0", "clone", "-q", "-b", branch, url, str(path))
        git("config", "protocol.version", "0", cwd=path)
        self.branch = branch

    def checkout(self, branch: str) -> Human:
        git("fetch", "-q", "origin", cwd=self.path)
        git("checkout", "-q", "-B", branch, f"origin/{branch}", cwd=self.path)
        self.branch = branch
        return self

    def write(self, rel: str, content: str | bytes) -> Human:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        return self

    def delete(self, rel: str) -> Human:
        (self.path / rel).unlink()
        return self

    def commit(self, message: str) -> str:
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        return self.head()

    def head(self) -> str:
        return git_out("rev-parse", "HEAD", cwd=self.path)

    def push(self, branch: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        branch = branch or self.branch
        return git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.path, check=check)

    def pull(self) -> None:
        git("pull", "-q", "--rebase", "origin", self.branch, cwd=self.path)

    def change(self, rel: str, content: str | bytes, message: str | None = None,
               push: bool = True) -> str:
        """Write one file, commit it and (by default) push; returns the commit id."""
        self.write(rel, content)
        oid = self.commit(message or f"change {rel}")
        if push:
            self.push()
        return oid
