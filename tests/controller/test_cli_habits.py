"""Issue 12, CLI: `-o` is a format on every command, `get`, `--watch`, `trigger --wait`, short
context ids everywhere, failure messages in `status` text, current branch tips, distinct exit
codes, one error line, no tracebacks. Against a real controller and real remotes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli.output import ERROR_PREFIX
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

ONE_TASK_SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: external-check}]
    - name: staging
    - name: production
"""
HEADERS = {"x-token": "test-token"}


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"RECONCILER_API_TOKEN": "test-token"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def answer(service, context: str, result: str, message: str) -> None:
    """Finish the open external-check task of `context` through the Keptn API."""
    def open_task():
        events = httpx.get(f"{service.url}/api/v1/events/triggered/sh.keptn.event.external-check.triggered",
                           headers=HEADERS).json()["events"]
        return [e for e in events if e["shkeptncontext"] == context]
    task = wait_until(open_task, what="the triggered task")[0]
    body = {"type": "sh.keptn.event.external-check.finished", "source": "checker", "shkeptncontext": context,
            "triggeredid": task["id"], "data": {"project": "hello", "stage": "dev", "service": "helloservice",
                                                "result": result, "status": "succeeded", "message": message}}
    r = httpx.post(service.url + "/api/v1/event", json=body, headers=HEADERS)
    assert r.status_code == 202, r.text


@pytest.fixture
def failed(origin, service_factory, human_factory):
    """A controller whose dev delivery (one external task) finished with result fail."""
    human_factory(origin.url, "main").change("shipyard.yaml", ONE_TASK_SHIPYARD, "one external task")
    service = service_factory(origin.url, poll=0.05)
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:9.0.0\n", "ship")
    run = wait_until(lambda: service.index.runs(), what="the run")[0]
    answer(service, run["context"], "fail", "checker says: 3 of 5 probes failed")
    wait_until(lambda: service.index.runs()[0]["state"] == "finished", what="the end")
    return service, run["context"]


def test_status_text_says_why_a_sequence_failed(failed):
    service, context = failed
    code, out = cli("status", "-w", str(service.workdir))
    assert code == 0
    assert f"{context[:8]} dev/helloservice delivery: checker says: 3 of 5 probes failed" in out


def test_status_shows_branch_tips_after_the_controllers_own_commits(failed):
    service, _ = failed
    before = service.index.document("state/tips.json")["tips"]["dev"]
    own = service.writer.write("dev", lambda tip: {"NOTES.md": b"written by the controller\n"}, "own commit")
    assert own.created and own.oid != before
    code, out = cli("status", "-w", str(service.workdir), "-o", "json")
    assert code == 0 and json.loads(out)["branches"]["dev"] == own.oid
    code, out = cli("status", "-w", str(service.workdir))
    assert f"dev@{own.oid[:8]}" in out


def test_get_sequences_sequence_and_short_ids(failed):
    service, context = failed
    workdir = str(service.workdir)
    code, out = cli("get", "sequences", "-w", workdir, "-o", "json")
    assert code == 0
    [row] = json.loads(out)
    assert (row["context"], row["state"], row["result"]) == (context, "finished", "fail")
    code, out = cli("get", "sequences", "-w", workdir)
    assert code == 0 and context[:8] in out and "finished" in out

    code, out = cli("get", "sequence", context[:6], "-w", workdir, "-o", "yaml")
    assert code == 0, out
    data = yaml.safe_load(out)
    [seq] = data["sequences"]
    [task] = seq["tasks"]
    assert (task["name"], task["result"], task["message"]) == ("external-check", "fail",
                                                                "checker says: 3 of 5 probes failed")
    assert task["sources"] == ["checker"]
    code, text = cli("get", "sequence", context[:8], "-w", workdir)
    assert code == 0 and "external-check" in text and "3 of 5 probes failed" in text

    code, out = cli("events", "-w", workdir, "--context", context[:8], "-o", "json")
    assert code == 0
    types = {e["type"] for e in json.loads(out)}
    assert "sh.keptn.event.external-check.finished" in types and "sh.keptn.event.dev.delivery.finished" in types
    code, out = cli("events", "-w", workdir, "--context", context[:7], "-o", "yaml")
    assert code == 0 and {e["type"] for e in yaml.safe_load(out)} == types

    code, out = cli("get", "sequence", "ffffffffff", "-w", workdir)
    assert code == 2 and out.startswith(ERROR_PREFIX) and "no context starts with" in out


def test_an_ambiguous_prefix_lists_the_candidates(tmp_path):
    from reconciler.cli.contexts import ContextError, resolve
    from reconciler.controller.index import Index
    index = Index(tmp_path / "index.sqlite")
    for n, context in enumerate(["abcdef01-0000-4000-8000-000000000001", "abcdef02-0000-4000-8000-000000000002"]):
        index.db.execute("INSERT INTO runs (id, context, stage, service, idx, sequence, state, path, triggered_at) "
                         "VALUES (?,?,?,?,?,?,?,?,?)", (f"r{n}", context, "dev", "svc", 0, "delivery", "finished",
                                                         "lanes/x.json", float(n)))
    index.db.commit()
    with pytest.raises(ContextError) as err:
        resolve(index, "abcdef")
    assert "ambiguous" in str(err.value)
    assert "abcdef01-0000-4000-8000-000000000001" in str(err.value)
    assert "abcdef02-0000-4000-8000-000000000002" in str(err.value)
    assert resolve(index, "abcdef02") == "abcdef02-0000-4000-8000-000000000002"
    with pytest.raises(ContextError, match="at least 6"):
        resolve(index, "abcde")
    index.close()


def test_get_sequences_watch_redraws_only_on_change(failed):
    service, _ = failed
    code, out = cli("get", "sequences", "-w", str(service.workdir), "--watch", "--interval", "0.5",
                    "--rounds", "3", "-o", "yaml")
    assert code == 0
    assert out.count("---") == 1                    # nothing changed: one document, not three
    code, out = cli("status", "-w", str(service.workdir), "--watch", "--interval", "0.5", "--rounds", "2")
    assert code == 0 and out.count("active sequences:") == 1


def test_watch_ends_quietly_on_ctrl_c():
    from reconciler.cli.watch import watch_frames
    frames = iter(["one", "two"])

    def frame() -> str:
        try:
            return next(frames)
        except StopIteration:
            raise KeyboardInterrupt from None
    watch_frames(frame, "json", 0.5, 0, sleep=lambda _s: None)         # returns, no traceback


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconciler.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("result, message, exit_code", [("pass", "", 0), ("fail", "checks failed", 1)])
def test_trigger_wait_follows_the_sequence_and_exits_by_its_result(origin, service_factory, human_factory,
                                                                   result, message, exit_code):
    human_factory(origin.url, "main").change("shipyard.yaml", ONE_TASK_SHIPYARD, "one external task")
    service = service_factory(origin.url, poll=0.05)
    proc = subprocess.Popen([sys.executable, "-m", "reconciler.cli", "trigger", "delivery", "-w",
                             str(service.workdir), "--repo", origin.url, "--stage", "dev", "--service",
                             "helloservice", "--set", "image=helloservice:8.8.8", "--wait", "--timeout", "90"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = wait_until(lambda: service.index.runs(), what="the run", timeout=60)[0]
        answer(service, run["context"], result, message)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == exit_code, out + err
    assert "Traceback" not in err
    assert f"dev/helloservice delivery: external-check done {result}" in out          # the task's line
    assert f"dev/helloservice delivery: finished, result {result}" in out
    assert f"context {run['context'][:8]}: {result}" in out


def test_trigger_checks_the_shipyard_and_values_before_it_pushes(origin):
    before = git_out("rev-parse", "dev", cwd=origin.path)
    code, out = cli("trigger", "delivery", "--repo", origin.url, "--stage", "dev", "--service", "helloservice",
                    "--set", "image=x:1", "--sequence", "nosuchseq")
    assert code == 2 and "no sequence 'nosuchseq'" in out and out.startswith(ERROR_PREFIX)
    assert git_out("rev-parse", "dev", cwd=origin.path) == before


def test_trigger_on_invalid_values_yaml_is_an_error_not_a_traceback(origin, human_factory):
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: [unclosed\nreplicaCount: 1\n", "break")
    before = git_out("rev-parse", "dev", cwd=origin.path)
    code, out = cli("trigger", "delivery", "--repo", origin.url, "--stage", "dev", "--service", "helloservice",
                    "--set", "image=x:1")
    assert code == 2 and "dev:helloservice/values.yaml:" in out and "not valid YAML" in out and "line 2" in out
    assert git_out("rev-parse", "dev", cwd=origin.path) == before
    assert "Traceback" not in out
