"""Starting, checking and stopping service processes (Linux: uses /proc).

Each process starts in its own session, so it leads a process group and stopping it
(SIGTERM, a bounded wait, then SIGKILL) reaches anything it spawned. After a restart a
process is only touched when `/proc/<pid>/environ` carries a marker we put there: a random
owner id no one else has, so a recycled PID of someone else's process is safe.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.sandbox.launch import RunAs

PROC = Path("/proc")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path,
          user: RunAs | None = None) -> subprocess.Popen:
    """Start `argv` (no shell) with exactly `env`, output appended to `log_path`; as `user`
    (an unprivileged account, no supplementary groups) when given."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", buffering=0) as log:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start {list(argv)!r}\n".encode())
        return subprocess.Popen(list(argv), env=dict(env), cwd=str(cwd), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, user=user.uid if user else None,
                                group=user.gid if user else None, extra_groups=[] if user else None)


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    return state not in ("Z", "X")


def cmdline(pid: int) -> list[str] | None:
    """The argument list of `pid`, from /proc (None if it is gone)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0")[:-1]] if raw else None


def marked(marker_key: str, prefixes: Sequence[str]) -> dict[int, str]:
    """Live processes whose environment has `marker_key` starting with one of `prefixes`
    (pid -> the marker). Finds what a killed owner spawned but never got to record, and
    the children they started: the environment is inherited, a PID is not."""
    wanted = [f"{marker_key}={prefix}".encode() for prefix in prefixes]
    found: dict[int, str] = {}
    if not wanted:
        return found
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in raw.split(b"\0"):
            if any(item.startswith(w) for w in wanted):
                if alive(int(entry.name)):
                    found[int(entry.name)] = item.split(b"=", 1)[1].decode("utf-8", "replace")
                break
    return found


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members


def _kill_group_leftovers(pgid: int, timeout: float = 2.0) -> None:
    """SIGKILL what is left of the group and wait (bounded) until it is really gone: a
    grandchild killed with its group dies asynchronously, and "stopped" must mean stopped."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> int | None:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
    _kill_group_leftovers(proc.pid)      # children that outlived their parent
    return proc.returncode


def stop_all(procs: list[subprocess.Popen], timeout: float = 5.0) -> None:
    """stop() for many processes at once: signal all groups first, then wait (one timeout)."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        stop(proc, timeout)           # SIGKILL for stragglers, reap, clean up leftover children


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """Stop a process that is not our child (found in a state file); True if it is gone."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive(pid):
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    _kill_group_leftovers(pid)
    return not alive(pid)


def check_health(port: int, path: str, timeout: float = 1.0) -> tuple[bool, str]:
    """GET http://127.0.0.1:<port><path>; healthy on any 2xx. Returns (ok, what happened)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read(4096)
        return 200 <= resp.status < 300, f"HTTP {resp.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def tail(path: Path, max_bytes: int = 2000) -> str:
    """The end of a log file, for error messages."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
