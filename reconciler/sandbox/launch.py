"""How a job or replica is started: under the supervisor, as the configured user.

`RECONCILER_RUN_AS` (a user name, `uid` or `uid:gid`) names the unprivileged user jobs and
replicas run as; the install creates it. Unset, they run as the controller's user, and a
controller running as root says at start that they could read its secrets.
`RECONCILER_HOST_EXEC=deny` refuses to run repository code on this host at all: jobs must
use the Kubernetes runner and stages the `kubernetes` target (for untrusted repositories).
"""
from __future__ import annotations

import json
import os
import pwd
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SUPERVISOR = Path(__file__).with_name("supervise.py")
RUN_AS_ENV = "RECONCILER_RUN_AS"
HOST_EXEC_ENV = "RECONCILER_HOST_EXEC"


class SandboxError(ValueError):
    """A setting that cannot be honoured (an unknown user, host execution denied)."""


@dataclass(frozen=True, slots=True)
class RunAs:
    uid: int
    gid: int
    name: str

    @property
    def spec(self) -> str:
        return f"{self.uid}:{self.gid}"


def run_as(environ: Mapping[str, str] = os.environ) -> RunAs | None:
    """The user jobs and replicas run as, from `RECONCILER_RUN_AS`; None = the controller's."""
    raw = environ.get(RUN_AS_ENV, "").strip()
    if not raw or raw == "self":
        return None
    head, _, gid_text = raw.partition(":")
    try:
        entry = pwd.getpwuid(int(head)) if head.isdigit() else pwd.getpwnam(head)
    except KeyError:
        if not head.isdigit():
            raise SandboxError(f"{RUN_AS_ENV}={raw!r}: no such user on this host") from None
        uid = int(head)
        return RunAs(uid, int(gid_text) if gid_text.isdigit() else uid, head)
    gid = int(gid_text) if gid_text.isdigit() else entry.pw_gid
    if entry.pw_uid == 0:
        raise SandboxError(f"{RUN_AS_ENV}={raw!r} is root: name an unprivileged user")
    return RunAs(entry.pw_uid, gid, entry.pw_name)


RUN_DIR_ENV = "RECONCILER_RUN_DIR"
DEFAULT_RUN_DIR = "/tmp/reconciler-run"


def run_dir(user: RunAs | None, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where task and replica folders live when they run as another user: a folder that user can
    traverse but not list (0711, ours), since the controller's work dir is private to it.
    None when they run as the controller's user (then the work dir serves)."""
    if user is None:
        return None
    root = Path(environ.get(RUN_DIR_ENV, "") or DEFAULT_RUN_DIR)
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    info = os.lstat(root)
    if not os.path.isdir(root) or os.path.islink(root) or info.st_uid != os.geteuid():
        raise SandboxError(f"{root} must be a folder owned by the controller's user (set {RUN_DIR_ENV})")
    os.chmod(root, 0o711)
    return root


def host_exec_denied(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(HOST_EXEC_ENV, "").strip().lower() in ("deny", "no", "false", "off")


def give_to(user: RunAs | None, *paths: Path) -> None:
    """Hand a task's own folder to the user it runs as (everything below it, not followed links)."""
    if user is None:
        return
    for root in paths:
        os.chown(root, user.uid, user.gid, follow_symlinks=False)
        for base, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                os.chown(os.path.join(base, name), user.uid, user.gid, follow_symlinks=False)


def supervised(argv: list[str], *, timeout: float, grace: float, status_fd: int,
               user: RunAs | None = None, cwd: Path | None = None) -> list[str]:
    """The command line that runs `argv` under the supervisor (`-E -S`: a fast, clean start)."""
    line = [sys.executable, "-E", "-S", str(SUPERVISOR), "--timeout", f"{timeout:g}", "--grace", f"{grace:g}",
            "--status-fd", str(status_fd)]
    if user is not None:
        line += ["--user", user.spec]
    if cwd is not None:
        line += ["--cwd", str(cwd)]
    return [*line, "--", *argv]


@dataclass(frozen=True, slots=True)
class Supervised:
    """What the supervisor reported about one run."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    leftover: int
    error: str | None

    @classmethod
    def parse(cls, text: str) -> Supervised:
        line = text.strip().splitlines()[-1] if text.strip() else ""
        try:
            raw = json.loads(line)
        except ValueError:
            return cls(None, None, False, 0, "the job supervisor reported nothing (it was killed)")
        return cls(raw.get("exit"), raw.get("signal"), bool(raw.get("timed_out")), int(raw.get("leftover") or 0),
                   raw.get("error"))
