"""The job supervisor: runs one command and makes sure nothing it started outlives it.

A job's process group is not enough: a child that calls `setsid()` leaves the group and
would survive the job's timeout. This program marks itself a *child subreaper*
(`PR_SET_CHILD_SUBREAPER`), so every orphaned descendant is re-parented to it instead of to
init, and at the end it kills every process whose parent chain leads back to it, in rounds,
until none is left. It also asks the kernel to signal it when its own parent (the controller)
dies (`PR_SET_PDEATHSIG`), so a killed controller leaves no job behind.

It may drop to an unprivileged user before exec (`--user UID:GID`), which keeps the
controller's `/proc/<pid>/environ` and memory out of the job's reach.

Stdlib only, and runnable as a plain script (`python -E -S supervise.py …`): it starts once
per job, so it must start fast. The result goes to `--status-fd` as one JSON line:
`{"exit": int|null, "signal": int|null, "timed_out": bool, "leftover": int, "error": str|null}`.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import select
import signal
import sys
import time
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS = 50          # rounds of "find descendants, kill, reap" before giving up
ROUND_PAUSE = 0.02


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def descendants(root: int) -> list[int]:
    """Every live process whose parent chain reaches `root` (zombies included, so they are reaped)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain anything: split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        parent[int(name)] = int(fields[1])
    found = []
    for pid in parent:
        seen = 0
        cur = pid
        while cur in parent and seen < 4096:
            cur = parent[cur]
            seen += 1
            if cur == root:
                found.append(pid)
                break
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all(sig: int = signal.SIGKILL) -> int:
    """Kill every descendant, in rounds (one may fork while we look); how many were found."""
    me = os.getpid()
    total: set[int] = set()
    for _ in range(KILL_ROUNDS):
        pids = descendants(me)
        if not pids:
            break
        total.update(pids)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(ROUND_PAUSE)
        _reap()
    _reap()
    return len(total)


def _wait(pid: int, pidfd: int, seconds: float) -> int | None:
    """The wait status of `pid` if it exits within `seconds`, else None."""
    deadline = time.monotonic() + max(seconds, 0.0)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        select.select([pidfd], [], [], left)


def _child(argv: list[str], cwd: str | None, uid: int | None, gid: int | None, errw: int) -> None:
    step = "switch user"
    try:
        os.setsid()
        if gid is not None:
            os.setgroups([])
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        if cwd:
            step = f"enter its working directory {cwd}"
            os.chdir(cwd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        step = f"start {argv[0]!r}"
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(errw, f"cannot {step}: {exc.strerror or exc}".encode())
    finally:
        os._exit(127)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="supervise")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--status-fd", type=int, required=True)
    parser.add_argument("--user", default="", help="UID:GID to run the command as")
    parser.add_argument("--cwd", default="")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    opts = parser.parse_args(args)
    argv = opts.argv[1:] if opts.argv[:1] == ["--"] else opts.argv
    status = os.fdopen(opts.status_fd, "w")
    result: dict[str, Any] = {"exit": None, "signal": None, "timed_out": False, "leftover": 0, "error": None}

    def report() -> None:
        status.write(json.dumps(result) + "\n")
        status.flush()

    if not argv:
        result["error"] = "no command"
        report()
        return 2
    uid = gid = None
    if opts.user:
        uid_text, _, gid_text = opts.user.partition(":")
        uid, gid = int(uid_text), int(gid_text or uid_text)
    parent = os.getppid()
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:       # the parent died before PDEATHSIG was armed
        result["error"] = "the controller is gone"
        report()
        return 2

    def terminate(signum: int, _frame: object) -> None:
        result["signal"] = signum
        result["leftover"] = kill_all()
        result["error"] = "the job supervisor was stopped"
        report()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    errr, errw = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(errr)
        _child(argv, opts.cwd or None, uid, gid, errw)
    os.close(errw)
    with os.fdopen(errr, "rb") as errors:
        exec_error = errors.read().decode(errors="replace")   # EOF at exec (CLOEXEC) or exit
    pidfd = os.pidfd_open(pid)
    wait_status = _wait(pid, pidfd, opts.timeout)
    if wait_status is None:
        result["timed_out"] = True
        for target in descendants(os.getpid()):
            try:
                os.kill(target, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        wait_status = _wait(pid, pidfd, opts.grace)
        if wait_status is None:
            result["leftover"] = kill_all()
            _, wait_status = os.waitpid(pid, 0)
    result["leftover"] = int(result["leftover"] or 0) + kill_all()
    os.close(pidfd)
    if exec_error:
        result["error"] = exec_error
    elif os.WIFEXITED(wait_status):
        result["exit"] = os.WEXITSTATUS(wait_status)
    elif os.WIFSIGNALED(wait_status):
        result["signal"] = os.WTERMSIG(wait_status)
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
