"""The job executor with the local runner: real processes, real arguments, real kills."""
from __future__ import annotations

import json
import logging
import os
import textwrap
from pathlib import Path

import pytest

from reconciler.engine.events import CloudEvent
from reconciler.spec.jobconfig import load_jobconfig
from reconciler.spec.settings import JobSettings
from reconciler.targets.processes import alive
from reconciler.tasks.jobs import LocalJobRunner, run_job
from tests.support.waiting import poll

DUMP = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(),
                  "env": {k: v for k, v in os.environ.items() if k not in ("PATH", "LANG", "LC_ALL", "LC_CTYPE")}}))
"""
SPAWN = """\
import subprocess, sys, time
child = subprocess.Popen(["sleep", "60"])
open(sys.argv[1], "w").write(str(child.pid))
print("started", child.pid, flush=True)
time.sleep(60)          # outlives maxPollDuration: the runner must stop it and its child
"""
NOISY = """\
import sys
for i in range(int(sys.argv[1])):
    print(f"line {i:06d} " + "x" * 50)
print("the end")
"""
SECRET = "s3cr3t-Value-42"
INJECTIONS = ["; touch {pwned}", "$(touch {pwned})", "`touch {pwned}`", "x && touch {pwned}", "| touch {pwned}"]


@pytest.fixture
def service_dir(tmp_path) -> Path:
    folder = tmp_path / "carts"
    (folder / "job").mkdir(parents=True)
    (folder / "job" / "dump.py").write_text(DUMP)
    (folder / "job" / "spawn.py").write_text(SPAWN)
    (folder / "job" / "noisy.py").write_text(NOISY)
    (folder / "data" / "sub").mkdir(parents=True)
    (folder / "data" / "a.txt").write_text("alpha\n")
    (folder / "data" / "sub" / "b.txt").write_text("beta\n")
    return folder


def event(**data) -> dict:
    base = {"project": "shop", "stage": "dev", "service": "carts", "labels": {"build-id": "17"},
            "test": {"teststrategy": "functional"}}
    base.update(data)
    return CloudEvent(type="sh.keptn.event.test.triggered", data=base, shkeptncontext="ctx-1", id="ev-1",
                      time="2026-01-01T00:00:00.000Z").to_dict()


def config(tasks: str, events: str = "sh.keptn.event.test.triggered"):
    return load_jobconfig(f"apiVersion: v2\nactions:\n  - name: tests\n    events:\n      - name: {events}\n"
                          f"    tasks:\n{textwrap.indent(textwrap.dedent(tasks), '      ')}")


@pytest.fixture
def runner(tmp_path):
    environ = {**os.environ, "RECONCILER_SECRET_API_CREDS_TOKEN": SECRET, "RECONCILER_SECRET_API_CREDS_USER": "bot",
               "RECONCILER_FORGE_TOKEN": "forge-token-not-for-tasks"}
    return LocalJobRunner(tmp_path / "jobs", environ=environ, kill_grace=1)


def dumped(result) -> dict:
    return json.loads(result.tasks[-1].output)


def test_runs_the_command_with_expanded_arguments_and_reports_a_test_window(runner, service_dir):
    cfg = config("""\
        - name: dump
          files: [job/dump.py]
          cmd: [python, /keptn/job/dump.py]
          args: ["--host", "$(HOST)", "$(KEPTN_PROJECT)-$(KEPTN_STAGE)", "$(UNDEFINED)", "$$(HOST)"]
          env:
            - {name: HOST, value: "$.data.deployment.deploymentURIsLocal[0]", valueFrom: event}
        """)
    [result] = run_job(cfg, event(deployment={"deploymentURIsLocal": ["http://carts:80"]}), service_dir, runner)
    assert result.status == "succeeded" and result.result == "pass"
    out = dumped(result)
    assert out["argv"] == ["--host", "http://carts:80", "shop-dev", "$(UNDEFINED)", "$(HOST)"]
    assert out["env"]["LABELS_BUILD_ID"] == "17" and out["env"]["KEPTN_CONTEXT"] == "ctx-1"
    assert out["env"]["KEPTN_SERVICE"] == "carts"
    assert "RECONCILER_FORGE_TOKEN" not in out["env"]           # the reconciler's environment stays out
    data = result.event_data()
    assert data["test"]["start"] <= data["test"]["end"]
    assert data["jobExecutor"]["tasks"][0]["exit_code"] == 0


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_attempts_in_event_data_stay_one_literal_argument(runner, service_dir, tmp_path, template):
    pwned = tmp_path / "pwned"
    payload = template.format(pwned=pwned)
    cfg = config("""\
        - name: dump
          files: [job/dump.py]
          cmd: [python, /keptn/job/dump.py]
          args: ["$(PAYLOAD)", "--name=$(LABELS_BUILD_ID)"]
          env:
            - {name: PAYLOAD, value: "$.data.payload", valueFrom: event}
        """)
    ev = event(payload=payload, labels={"build-id": payload})
    [result] = run_job(cfg, ev, service_dir, runner)
    assert result.status == "succeeded"
    assert dumped(result)["argv"] == [payload, f"--name={payload}"]
    assert dumped(result)["env"]["PAYLOAD"] == payload
    assert not pwned.exists()


@pytest.mark.parametrize("template", INJECTIONS)
def test_event_data_with_shell_syntax_is_refused_inside_a_shell_script(runner, service_dir, tmp_path, template):
    pwned = tmp_path / "pwned"
    cfg = config("""\
        - name: greet
          cmd: [sh, -c, "echo hello $(NAME)"]
          env:
            - {name: NAME, value: "$.data.name", valueFrom: event}
        """)
    [result] = run_job(cfg, event(name=template.format(pwned=pwned)), service_dir, runner)
    assert result.status == "errored" and "refused: $(NAME) comes from the event" in result.message
    assert not pwned.exists()


def test_a_quoted_environment_variable_is_the_safe_way_into_a_script(runner, service_dir, tmp_path):
    pwned = tmp_path / "pwned"
    payload = f"$(touch {pwned}); `touch {pwned}`"
    cfg = config("""\
        - name: greet
          cmd: [sh, -c, 'printf "%s" "$NAME"']
          env:
            - {name: NAME, value: "$.data.name", valueFrom: event}
        """)
    [result] = run_job(cfg, event(name=payload), service_dir, runner)
    assert result.status == "succeeded" and result.tasks[0].output == payload
    assert not pwned.exists()


def test_secrets_come_from_the_environment_and_never_leave_redaction(runner, service_dir, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = config("""\
        - name: use secret
          files: [job/dump.py]
          cmd: [python, /keptn/job/dump.py]
          args: ["--token=$(TOKEN)", "$(USER)"]
          env:
            - {name: api-creds, valueFrom: secret}
        - name: fail loudly
          cmd: [sh, -c, 'echo "token is $TOKEN" >&2; exit 3']
          env:
            - {name: api-creds, valueFrom: secret}
        """)
    [result] = run_job(cfg, event(), service_dir, runner)
    everything = json.dumps(result.event_data()) + caplog.text
    assert SECRET not in everything
    first = json.loads(result.tasks[0].output)
    assert first["argv"] == ["--token=***", "***"]       # every value of the secret is redacted
    assert first["env"]["TOKEN"] == "***" and first["env"]["USER"] == "***"
    assert result.status == "errored" and "token is ***" in result.message
    assert result.tasks[1].exit_code == 3


def test_a_missing_secret_fails_the_task_with_a_hint(runner, service_dir):
    cfg = config("""\
        - name: t
          cmd: [true]
          env:
            - {name: db-creds, valueFrom: secret}
        """)
    [result] = run_job(cfg, event(), service_dir, runner)
    assert result.status == "errored" and "RECONCILER_SECRET_DB_CREDS_<KEY>" in result.message


def test_timeout_kills_the_whole_process_group(runner, service_dir, tmp_path):
    pid_file = tmp_path / "child.pid"
    cfg = config(f"""\
        - name: hang
          files: [job/spawn.py]
          cmd: [python, /keptn/job/spawn.py, "{pid_file}"]
          maxPollDuration: 1
        - name: never runs
          cmd: [sh, -c, "touch {tmp_path}/second"]
        """)
    [result] = run_job(cfg, event(), service_dir, runner)
    assert result.status == "errored" and result.tasks[0].timed_out
    assert "timed out after 1s" in result.message and "started" in result.tasks[0].output
    child = int(pid_file.read_text())
    poll(lambda: not alive(child), timeout=5)
    assert not alive(child)
    assert len(result.tasks) == 1 and not (tmp_path / "second").exists()


def test_output_is_bounded_and_keeps_the_end(runner, service_dir):
    cfg = config("""\
        - name: noisy
          files: [job/noisy.py]
          cmd: [python, /keptn/job/noisy.py, "20000"]
        """)
    [result] = run_job(cfg, event(), service_dir, runner, JobSettings(maxOutputBytes=2048))
    output = result.tasks[0].output
    assert result.tasks[0].truncated and output.startswith("[... output truncated")
    assert output.endswith("the end\n") and len(output.encode()) < 2048 + 100


def test_files_and_folders_are_copied_and_missing_ones_fail(runner, service_dir):
    cfg = config("""\
        - name: read
          files: [data/a.txt, /data/sub]
          workingDir: /keptn/data
          cmd: [sh, -c, "cat a.txt /keptn/data/sub/b.txt; pwd"]
        """)
    [result] = run_job(cfg, event(), service_dir, runner)
    lines = result.tasks[0].output.splitlines()
    assert result.status == "succeeded" and lines[:2] == ["alpha", "beta"] and lines[2].endswith("/keptn/data")

    for files, message in (("[nope.txt]", "'nope.txt' does not exist"), ("[../outside]", "leaves the service folder")):
        bad = config(f"- name: t\n  files: {files}\n  cmd: [true]\n")
        [result] = run_job(bad, event(), service_dir, runner)
        assert result.status == "errored" and message in result.message


def test_symlinks_out_of_the_service_folder_are_refused(runner, service_dir, tmp_path):
    (tmp_path / "private.txt").write_text("private")
    (service_dir / "data" / "link.txt").symlink_to(tmp_path / "private.txt")
    [result] = run_job(config("- name: t\n  files: [data]\n  cmd: [true]\n"), event(), service_dir, runner)
    assert result.status == "errored" and "points outside the service folder" in result.message


def test_no_match_means_no_answer_and_silent_actions_say_so(runner, service_dir):
    assert run_job(config("- name: t\n  cmd: [true]\n", events="sh.keptn.event.deployment.triggered"),
                   event(), service_dir, runner) == []
    cfg = load_jobconfig("apiVersion: v2\nactions:\n  - name: a\n    silent: true\n    events:\n"
                         "      - name: sh.keptn.event.test.triggered\n    tasks:\n      - {name: t, cmd: ['true']}\n")
    [result] = run_job(cfg, event(), service_dir, runner)
    assert result.silent and result.result == "pass"


def test_unknown_commands_and_empty_cmd_fail_clearly(runner, service_dir):
    [result] = run_job(config("- name: t\n  cmd: [definitely-not-a-program-xyz]\n"), event(), service_dir, runner)
    assert result.status == "errored" and "cannot start 'definitely-not-a-program-xyz'" in result.message
    [result] = run_job(config("- name: t\n  image: alpine\n"), event(), service_dir, runner)
    assert result.status == "errored" and "cmd is empty" in result.message


def test_work_directories_are_removed(runner, service_dir, tmp_path):
    run_job(config("- name: t\n  files: [data]\n  cmd: [true]\n"), event(), service_dir, runner)
    assert list((tmp_path / "jobs").iterdir()) == []
