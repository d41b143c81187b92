"""A real `reconciler serve` process: /readyz follows an origin outage (after --origin-grace) and
SIGTERM ends the process within 10 s even while it retries an unreachable origin (issue 12)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.support.controller import ROOT, seeded_origin
from tests.support.waiting import wait_until


def serve(repo: str, workdir, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "RECONCILER_API_TOKEN": "test-token"}
    with open(workdir.parent / f"{workdir.name}.log", "ab") as log:    # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "reconciler.cli", "serve", "--repo", repo, "--workdir",
                                 str(workdir), "--listen", "127.0.0.1:0", *extra],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)


def api(workdir) -> str | None:
    try:
        return json.loads((workdir / "serve.json").read_text())["api"]
    except (OSError, ValueError, KeyError):
        return None


def readyz(url: str) -> int | None:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def sigterm_takes(proc: subprocess.Popen) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return float("inf")
    return time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_stops_serve_quickly_while_it_retries_an_unreachable_origin(tmp_path):
    workdir = tmp_path / "work"
    proc = serve(f"http://127.0.0.1:{closed_port()}/config.git", workdir)
    try:
        url = wait_until(lambda: api(workdir), timeout=30, what="serve.json")
        assert readyz(url) == 503
        time.sleep(3)                                   # a few retries with backoff
    finally:
        took = sigterm_takes(proc)
    assert took < 10, f"SIGTERM took {took:.1f}s"
    assert proc.returncode == 0


def test_readyz_fails_after_the_origin_grace_and_recovers_when_the_origin_is_back(tmp_path):
    origin = seeded_origin(tmp_path / "config.git")
    workdir = tmp_path / "work"
    proc = serve(origin.as_uri(), workdir, "--poll-interval", "0.2", "--origin-grace", "1")
    try:
        url = wait_until(lambda: api(workdir), timeout=30, what="serve.json")
        wait_until(lambda: readyz(url) == 200, timeout=30, what="ready")
        moved = origin.with_name("moved.git")
        origin.rename(moved)                            # the origin is gone
        wait_until(lambda: readyz(url) == 503, timeout=30, what="not ready during the outage")
        reason = httpx.get(url + "/readyz").json()["reason"]
        assert "unreachable" in reason
        assert httpx.get(url + "/healthz").status_code == 200      # alive: a restart would not help
        moved.rename(origin)
        wait_until(lambda: readyz(url) == 200, timeout=30, what="ready again")
    finally:
        took = sigterm_takes(proc)
    assert took < 10, f"SIGTERM took {took:.1f}s"


SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: test}]
    - name: staging
    - name: production
"""

LONG_JOB = """apiVersion: v2
actions:
  - name: long test
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - name: sleeps
        image: python:3.11-slim
        cmd: [python, -c, "import time; time.sleep(300)"]
        maxPollDuration: 600
"""


def test_sigterm_stops_serve_quickly_during_a_long_job_and_leaves_no_job_behind(tmp_path, human_factory):
    from tests.support.controller import processes_under
    origin = seeded_origin(tmp_path / "config.git")
    human_factory(origin.as_uri(), "main").change("shipyard.yaml", SHIPYARD, "a test-only delivery")
    workdir = tmp_path / "work"
    proc = serve(origin.as_uri(), workdir, "--poll-interval", "0.2")
    try:
        url = wait_until(lambda: api(workdir), timeout=30, what="serve.json")
        wait_until(lambda: readyz(url) == 200, timeout=30, what="ready")
        dev = human_factory(origin.as_uri(), "dev")
        dev.write("helloservice/job/config.yaml", LONG_JOB)
        dev.write("helloservice/values.yaml", "image: helloservice:9.0.0\n")
        dev.commit("a job that runs for minutes")
        dev.push()
        wait_until(lambda: [p for p in processes_under(workdir) if "time.sleep(300)" in p], timeout=60,
                   what="the job to run")
    finally:
        took = sigterm_takes(proc)
    assert took < 10, f"SIGTERM took {took:.1f}s"
    wait_until(lambda: not processes_under(workdir), timeout=10, what="the job to be gone")
