"""Repository code on the controller's host: contained in time, kept away from the controller's secrets.

These run real processes: the job supervisor, a "controller" process holding secrets, jobs and
replicas that try to read them as the unprivileged user `nobody`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reconciler.sandbox import hardening
from reconciler.sandbox.launch import SandboxError, Supervised, run_as, supervised
from reconciler.sandbox.secret_files import SecretFileError, load_secret_files
from reconciler.targets.processes import alive
from tests.support.waiting import poll, wait_until

ROOT = Path(__file__).resolve().parents[2]
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root (CI runs as root)")
SECRET = "tok-9f2c4e7a-secret"

SETSID_CHILD = """\
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:          # a grandchild in a session of its own, parent gone: an orphan
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(60)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def run_dir():
    """A run folder the job user can traverse (pytest's tmp_path is private to root)."""
    import shutil
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="reconciler-run-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    return poll(lambda: not alive(pid), seconds)[0]


def _run_supervised(argv: list[str], timeout: float, tmp_path: Path) -> tuple[Supervised, float]:
    r, w = os.pipe()
    started = time.monotonic()
    proc = subprocess.Popen(supervised(argv, timeout=timeout, grace=0.5, status_fd=w), pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    os.close(w)
    with os.fdopen(r) as status:
        text = status.read()
    proc.wait(timeout=timeout + 10)
    return Supervised.parse(text), time.monotonic() - started


@pytest.mark.parametrize("job_seconds,timeout", [(60, 1.0), (0.1, 30.0)], ids=["timed-out", "finished"])
def test_a_child_that_left_the_session_dies_with_its_job(tmp_path, job_seconds, timeout):
    script = tmp_path / "setsid_child.py"
    script.write_text(SETSID_CHILD)
    pid_file = tmp_path / "orphan.pid"
    outcome, _ = _run_supervised([sys.executable, str(script), str(pid_file), str(job_seconds)], timeout, tmp_path)
    orphan = int(pid_file.read_text())
    assert _wait_gone(orphan), "the setsid() grandchild outlived its job"
    assert outcome.timed_out is (job_seconds > timeout)
    assert outcome.leftover >= 1          # the orphan was found and killed by the supervisor
    if not outcome.timed_out:
        assert outcome.exit_code == 0


def test_a_command_that_cannot_start_is_reported_not_run(tmp_path):
    outcome, _ = _run_supervised(["definitely-not-a-program-xyz"], 5, tmp_path)
    assert outcome.exit_code is None and "cannot start 'definitely-not-a-program-xyz'" in (outcome.error or "")


def test_the_job_dies_when_the_controller_is_killed(tmp_path):
    """kill -9 of the controller: the supervisor gets SIGTERM from the kernel and cleans up."""
    script = tmp_path / "setsid_child.py"
    script.write_text(SETSID_CHILD)
    pid_file = tmp_path / "orphan.pid"
    controller = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, subprocess, sys, time
        from reconciler.sandbox.launch import supervised
        r, w = os.pipe()
        subprocess.Popen(supervised([sys.executable, {str(script)!r}, {str(pid_file)!r}, "60"], timeout=60,
                                    grace=0.5, status_fd=w), pass_fds=(w,))
        time.sleep(60)
        """)], cwd=ROOT)
    try:
        wait_until(pid_file.exists, timeout=10, what="the job's grandchild to write its pid")
        orphan = int(pid_file.read_text())
    finally:
        controller.kill()
        controller.wait()
    assert _wait_gone(orphan), "a job outlived the controller that started it"


def test_the_controller_is_not_dumpable():
    code = "from reconciler.sandbox import hardening as h; h.make_non_dumpable(); print(h.is_dumpable())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
    assert hardening.is_dumpable()        # this process was not touched


def test_run_as_names_a_real_unprivileged_user():
    assert run_as({}) is None and run_as({"RECONCILER_RUN_AS": "self"}) is None
    nobody = run_as({"RECONCILER_RUN_AS": "nobody"})
    assert nobody is not None and nobody.uid == 65534
    with pytest.raises(SandboxError, match="no such user"):
        run_as({"RECONCILER_RUN_AS": "no-such-user-xyz"})
    with pytest.raises(SandboxError, match="is root"):
        run_as({"RECONCILER_RUN_AS": "root"})


def test_secrets_come_from_files_and_a_double_source_is_refused(tmp_path):
    (tmp_path / "token").write_text(SECRET + "\n")
    env = {"RECONCILER_API_TOKEN_FILE": str(tmp_path / "token"), "OTHER_FILE": "/nope"}
    assert load_secret_files(env) == ["RECONCILER_API_TOKEN"] and env["RECONCILER_API_TOKEN"] == SECRET
    with pytest.raises(SecretFileError, match="both RECONCILER_API_TOKEN and RECONCILER_API_TOKEN_FILE"):
        load_secret_files(env)
    with pytest.raises(SecretFileError, match="cannot read the secret file"):
        load_secret_files({"RECONCILER_FORGE_TOKEN_FILE": str(tmp_path / "missing")})


# A job and a replica that go looking for the controller's secrets. They print only counts and
# yes/no answers: redaction would hide a found value, so the value itself proves nothing.
SNOOP = """\
import glob, os, sys
found = 0
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        found += open(path, "rb").read().count(b"RECONCILER_SECRET_")
    except OSError:
        pass
mem = 0
for path in glob.glob("/proc/[0-9]*/mem"):
    try:
        with open(path, "rb") as f:
            f.read(1)
        mem += 1
    except OSError:
        pass
try:
    open(sys.argv[1]).read()
    token = "readable"
except OSError:
    token = "unreadable"
print(f"uid={os.getuid()} found={found} mem={mem} token={token}")
"""

CONTROLLER = """\
import json, os, sys
from pathlib import Path
from reconciler.sandbox import hardening
from reconciler.tasks.jobs import LocalJobRunner, run_job
from reconciler.spec.jobconfig import load_jobconfig
hardening.make_non_dumpable()
work = Path(sys.argv[1])
token = work / "api-token"
token.write_text(os.environ["RECONCILER_SECRET_DB_PASSWORD"])
token.chmod(0o600)
cfg = load_jobconfig('''apiVersion: v2
actions:
  - name: snoop
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - {name: snoop, files: [snoop.py], cmd: [/usr/bin/python3, /keptn/snoop.py, "%s"]}
''' % token)
event = {"type": "sh.keptn.event.test.triggered", "shkeptncontext": "c", "id": "1",
         "data": {"project": "p", "stage": "dev", "service": "svc"}}
[result] = run_job(cfg, event, Path(sys.argv[2]), LocalJobRunner(work / "jobs"))
print(json.dumps({"status": result.status, "output": result.tasks[-1].output, "message": result.message}))
"""


@NEEDS_ROOT
def test_a_job_run_as_another_user_finds_none_of_the_controllers_secrets(tmp_path, run_dir):
    service = tmp_path / "svc"
    service.mkdir()
    (service / "snoop.py").write_text(SNOOP)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "RECONCILER_SECRET_DB_PASSWORD": SECRET, "RECONCILER_RUN_AS": "nobody",
           "RECONCILER_RUN_DIR": str(run_dir)}
    out = subprocess.run([sys.executable, "-c", CONTROLLER, str(work), str(service)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "succeeded", result
    assert "uid=65534 found=0 mem=0 token=unreadable" in result["output"]
    assert SECRET not in out.stdout + out.stderr


@NEEDS_ROOT
def test_a_replica_run_as_another_user_finds_none_of_the_controllers_secrets(tmp_path, run_dir):
    from reconciler.targets.base import DeployRequest
    from reconciler.targets.local import LocalTarget

    service = tmp_path / "svc"
    service.mkdir()
    (service / "snoop.py").write_text(SNOOP)
    (service / "serve.py").write_text(textwrap.dedent("""\
        import os, subprocess, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        report = subprocess.run([sys.executable, "snoop.py", sys.argv[1]], capture_output=True, text=True).stdout
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(report.encode())
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """))
    token = tmp_path / "api-token"
    token.write_text(SECRET)
    token.chmod(0o600)
    (service / "local.yaml").write_text(f"command: [/usr/bin/python3, serve.py, '{token}']\nhealthPath: /\n"
                                        "startTimeout: 10s\n")
    environ = {**os.environ, "RECONCILER_SECRET_DB_PASSWORD": SECRET, "RECONCILER_RUN_AS": "nobody",
               "RECONCILER_RUN_DIR": str(run_dir)}
    target = LocalTarget(tmp_path / "target", environ=environ)
    try:
        result = target.deploy(DeployRequest("p", "dev", "svc", "a" * 40, service, {"replicaCount": 1}))
        import urllib.request
        with urllib.request.urlopen(result.deployment_uris_local[0] + "/", timeout=5) as answer:
            report = answer.read().decode()
    finally:
        target.close()
    assert "uid=65534" in report and "token=unreadable" in report and "mem=0" in report
