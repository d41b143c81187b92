"""Issue 12, item 5: without ../shared, `make test` says at once what is missing and where;
outside CI the tests that need it skip with that reason, in CI (CI=true) they fail."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDS_SHARED = ["tests/quality/test_conformance.py", "tests/spec/test_spec_corpus.py",
                "tests/tasks/test_jobconfig_model.py", "tests/engine/test_engine_corpus.py"]


def env_without_shared(tmp_path: Path, ci: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env["RECONCILER_SHARED_DIR"] = str(tmp_path / "no-shared")
    if ci:
        env["CI"] = "true"
    return env


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_says_what_is_missing_and_where(tmp_path):
    where = tmp_path / "no-shared"
    quiet = subprocess.run(["make", "-s", "shared-check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env=env_without_shared(tmp_path, ci=False))
    assert quiet.returncode == 0
    assert f"{where}/corpus/keptn/MANIFEST.tsv" in quiet.stderr and "will be skipped" in quiet.stderr
    ci = subprocess.run(["make", "-s", "shared-check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                        env=env_without_shared(tmp_path, ci=True))
    assert ci.returncode != 0
    assert f"{where}/conformance/evaluation" in ci.stderr and "CI=true requires it" in ci.stderr
    present = subprocess.run(["make", "-s", "shared-check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "RECONCILER_SHARED_DIR"})
    assert (present.returncode, present.stderr) == (0, "")            # ../shared is here: silent


def run_tests(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist",
                           *NEEDS_SHARED], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env_without_shared(tmp_path, ci))


def test_tests_needing_shared_skip_with_the_reason_outside_ci_and_fail_in_ci(tmp_path):
    local = run_tests(tmp_path, ci=False)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-2000:]
    assert " error" not in local.stdout.splitlines()[-1]
    assert "the shared test material is missing" in local.stdout and str(tmp_path / "no-shared") in local.stdout
    assert "skipped" in local.stdout.splitlines()[-1]
    in_ci = run_tests(tmp_path, ci=True)
    assert in_ci.returncode == 1, in_ci.stdout[-3000:]
    assert "CI=true requires it" in in_ci.stdout
    assert " error" in in_ci.stdout.splitlines()[-1] and "skipped" not in in_ci.stdout.splitlines()[-1]
