"""One controller per work dir: a second one is refused with a message naming the holder,
and the kernel's lock goes with its process, so a successor after a kill -9 starts."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reconciler.controller.workdir_lock import WorkdirBusy, WorkdirLock
from tests.support.controller import ROOT, start_service


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    first = WorkdirLock(tmp_path).acquire()
    with pytest.raises(WorkdirBusy, match=rf"pid {os.getpid()}\b.*--workdir"):
        WorkdirLock(tmp_path).acquire()
    first.release()
    second = WorkdirLock(tmp_path).acquire()
    assert second.held
    second.release()


def test_the_lock_dies_with_its_process(tmp_path):
    code = ("import sys, os; from reconciler.controller.workdir_lock import WorkdirLock; "
            "WorkdirLock(sys.argv[1]).acquire(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60, cwd=ROOT)
    WorkdirLock(tmp_path).acquire().release()


def test_two_services_cannot_share_a_work_dir(origin, tmp_path):
    service = start_service(origin.url, tmp_path / "work")
    try:
        with pytest.raises(WorkdirBusy, match="another reconciler"):
            start_service(origin.url, tmp_path / "work")
    finally:
        service.stop()
    start_service(origin.url, tmp_path / "work").stop()      # free again once stopped


def test_serve_cli_says_the_work_dir_is_taken(origin, tmp_path):
    service = start_service(origin.url, tmp_path / "work")
    try:
        out = subprocess.run([sys.executable, "-m", "reconciler.cli", "serve", "--repo", origin.url,
                              "--workdir", str(tmp_path / "work"), "--listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        service.stop()
    assert out.returncode != 0
    assert "another reconciler" in out.stderr and "--workdir" in out.stderr
