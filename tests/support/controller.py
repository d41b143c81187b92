"""Helpers for tests that run a real controller (in-process or as a `reconciler serve` process)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from reconciler.gitstore.seed import seed_bare_repo
from reconciler.runtime.service import ServeOptions, Service
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example-config-repo"


def seeded_origin(path: Path, layout: Path = EXAMPLE) -> Path:
    seed_bare_repo(path, layout)
    return path


def start_service(url: str, workdir: Path, *, executors: Any = None, poll: float = 0.0, watch: bool = True,
                  environ: dict[str, str] | None = None, **kwargs: Any) -> Service:
    options = ServeOptions(repo=url, workdir=workdir, port=0, poll_interval=poll, watch=watch)
    if executors is None:
        from reconciler.controller.executors import NoExecutors
        executors = NoExecutors()
    env = {"RECONCILER_API_TOKEN": "test-token", **(environ or {})}
    return Service(options, executors=executors, environ=env, **kwargs).start()


class ServeProcess:
    """`reconciler serve` as a child process (for kill -9 tests)."""

    def __init__(self, url: str, workdir: Path, *, poll: float = 0.2, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        env = {**os.environ, "RECONCILER_API_TOKEN": "test-token", **(extra_env or {})}
        self.log = open(workdir.parent / f"{workdir.name}-serve.log", "ab")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", "serve", "--repo", url, "--workdir", str(workdir),
             "--listen", "127.0.0.1:0", "--poll-interval", str(poll), "--log-level", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> str:
        def ready() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                info = json.loads((self.workdir / "serve.json").read_text())
                if httpx.get(info["api"] + "/readyz", timeout=1).status_code == 200:
                    return info["api"]
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                return None
            return None
        return wait_until(ready, timeout, 0.05, "reconciler serve to become ready")

    def log_excerpt(self, lines: int = 40) -> str:
        """The last INFO-and-above lines of the log (both runs of a kill -9 test share it),
        for failure messages: CI shows only what the assertion says."""
        try:
            text = Path(self.log.name).read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join([line for line in text if " DEBUG " not in line][-lines:])

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self.log.closed:
            self.log.close()


def processes_under(path: Path) -> list[str]:
    """`pid cmdline` of every live process whose working directory is below `path`."""
    found = []
    root = str(path.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = str((entry / "cwd").resolve())
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X") and (cwd == root or cwd.startswith(root + "/")):
            found.append(f"{entry.name} {cmd.strip()}")
    return found


def layout_without_test_executor(tmp_path: Path, dev_target: str) -> Path:
    """The example project as a bare repo where nothing answers `test` on dev and dev's
    target is `dev_target`."""
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    shutil.rmtree(layout / "dev" / "helloservice" / "job")          # nothing answers `test` on dev
    settings = layout / "main" / "reconciler.yaml"
    text = settings.read_text()
    assert "    dev:\n      target: local" in text
    settings.write_text(text.replace("    dev:\n      target: local", f"    dev:\n      target: {dev_target}"))
    return seeded_origin(tmp_path / "hello.git", layout)
