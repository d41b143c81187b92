"""Refusals of the local job runner are ordinary task errors with a clear message, never a traceback."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from reconciler.spec.jobconfig import load_jobconfig
from reconciler.tasks.jobs import LocalJobRunner, run_job

FORGE_TOKEN = "forge-0b7d1c-token"


def config(tasks: str):
    return load_jobconfig("apiVersion: v2\nactions:\n  - name: t\n    events:\n"
                          "      - name: sh.keptn.event.test.triggered\n"
                          f"    tasks:\n{textwrap.indent(textwrap.dedent(tasks), '      ')}")


EVENT = {"type": "sh.keptn.event.test.triggered", "shkeptncontext": "c", "id": "1",
         "data": {"project": "p", "stage": "dev", "service": "svc"}}


@pytest.fixture
def service(tmp_path) -> Path:
    folder = tmp_path / "svc"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.txt").write_text("alpha\n")
    return folder


def runner(tmp_path, **env) -> LocalJobRunner:
    return LocalJobRunner(tmp_path / "jobs", environ={**os.environ, **env}, kill_grace=1)


def test_a_working_dir_above_the_task_folder_is_refused(tmp_path, service):
    cfg = config("- {name: up, files: [data], workingDir: /keptn/../../../.., cmd: [pwd]}\n")
    [result] = run_job(cfg, EVENT, service, runner(tmp_path))
    assert result.status == "errored" and "leaves the task's folder /keptn" in result.message
    cfg = config("- {name: in, files: [data], workingDir: /keptn/data/../data, cmd: [cat, a.txt]}\n")
    [result] = run_job(cfg, EVENT, service, runner(tmp_path))
    assert result.status == "succeeded" and result.tasks[0].output == "alpha\n"


@pytest.mark.parametrize("make_link", [
    lambda d: (d / "dangling").symlink_to(d / "nowhere"),
    lambda d: ((d / "loop1").symlink_to(d / "loop2"), (d / "loop2").symlink_to(d / "loop1")),
], ids=["dangling", "loop"])
def test_broken_symlinks_in_files_are_task_errors(tmp_path, service, make_link):
    make_link(service / "data")
    [result] = run_job(config("- {name: t, files: [data], cmd: ['true']}\n"), EVENT, service, runner(tmp_path))
    assert result.status == "errored" and "broken or looping symlink" in result.message


def test_host_execution_can_be_denied(tmp_path, service):
    [result] = run_job(config("- {name: t, cmd: ['true']}\n"), EVENT, service,
                       runner(tmp_path, RECONCILER_HOST_EXEC="deny"))
    assert result.status == "errored" and "RECONCILER_HOST_EXEC=deny" in result.message
    assert "jobs.runner: kubernetes" in result.message


def test_every_configured_secret_is_redacted_from_job_output(tmp_path, service):
    """A token the task never asked for still never leaves in clear text (someone committed it)."""
    (service / "data" / "leak.txt").write_text(f"token={FORGE_TOKEN}\n")
    [result] = run_job(config("- {name: t, files: [data], cmd: [cat, /keptn/data/leak.txt]}\n"), EVENT, service,
                       runner(tmp_path, RECONCILER_FORGE_TOKEN=FORGE_TOKEN))
    assert result.status == "succeeded" and result.tasks[0].output == "token=***\n"
