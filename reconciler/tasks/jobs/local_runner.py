"""Run a job task as a local process: the embedded default runner.

* An argument list, never a shell: `subprocess` gets `cmd + args` after `$(VAR)` expansion
  (see plan: event data is one literal argument; in code positions it is checked).
* A fresh working directory per task; `files` are copied from the exported service folder
  into `<dir>/keptn/<path>` and the process starts there. `/keptn/...` in `cmd`, `args` and
  `workingDir` (where JES mounts the files) points at that directory. `image` is ignored:
  the command runs on this machine. A first element `python`/`python3` is the reconciler's
  interpreter.
* `valueFrom: secret` named N reads the reconciler's environment variables
  `RECONCILER_SECRET_<N upper, - as _>_<KEY>`; each becomes `<KEY>` in the task. Nothing
  else of the reconciler's environment is passed on (PATH, LANG, LC_*, TZ, PYTHONPATH,
  VIRTUAL_ENV only; HOME and TMPDIR point into the task directory).
* The command runs under the job supervisor (`reconciler.sandbox`): a subreaper that kills
  every process the task started when it ends, even one that left the process group with
  `setsid()`, and that runs it as `RECONCILER_RUN_AS` when set (the controller's secrets are
  then out of reach). `RECONCILER_HOST_EXEC=deny` refuses to run anything here.
* `maxPollDuration` (else the settings' default) bounds the run: then every process of the task
  gets SIGTERM, a grace period, SIGKILL. Output (stdout and stderr together) is kept bounded
  and redacted before it leaves this module: the task's own secrets and every secret value
  configured for the controller.
* A `workingDir` under `/keptn` must stay inside the task's folder (`/keptn/../..` is refused).
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from reconciler.engine.events import iso_time
from reconciler.sandbox.launch import (
    RunAs,
    SandboxError,
    Supervised,
    give_to,
    host_exec_denied,
    run_as,
    run_dir,
    supervised,
)
from reconciler.tasks.jobs.files import FilesError, copy_files
from reconciler.tasks.jobs.output import TailBuffer, bounded_text
from reconciler.tasks.jobs.plan import PlanError, TaskPlan, environment, render_local, rewrite_keptn_paths
from reconciler.tasks.jobs.redact import Redactor, configured_secrets
from reconciler.tasks.jobs.result import TaskOutcome

log = logging.getLogger("reconciler.tasks.jobs")

PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
SECRET_PREFIX = "RECONCILER_SECRET_"
SUPERVISOR_SLACK = 10.0     # seconds the backstop waits beyond the supervisor's own deadline


def secret_env_prefix(name: str) -> str:
    return f"{SECRET_PREFIX}{name.upper().replace('-', '_')}_"


def secret_from_environ(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The keys of secret `name` from RECONCILER_SECRET_<NAME>_<KEY> variables."""
    prefix = secret_env_prefix(name)
    found = {k[len(prefix):]: v for k, v in environ.items() if k.startswith(prefix) and len(k) > len(prefix)}
    if not found:
        raise PlanError(f"secret {name!r} not found: give the reconciler environment variables "
                        f"{prefix}<KEY> (each becomes <KEY> in the task)")
    return found


class LocalJobRunner:
    def __init__(self, work_dir: Path, *, environ: Mapping[str, str] = os.environ, python: str = sys.executable,
                 kill_grace: float = 2.0, keep_work_dirs: bool = False):
        self.work_dir = Path(work_dir)
        self.environ = environ
        self.python = python
        self.kill_grace = kill_grace
        self.keep_work_dirs = keep_work_dirs
        self._configured = Redactor(configured_secrets(environ))

    def run(self, plan: TaskPlan, service_dir: Path) -> TaskOutcome:
        started = iso_time(time.time())
        redactor = self._configured
        try:
            if host_exec_denied(self.environ):
                raise PlanError("running repository code on the controller's host is denied "
                                "(RECONCILER_HOST_EXEC=deny): set jobs.runner: kubernetes in reconciler.yaml")
            user = run_as(self.environ)
            secrets = {name: secret_from_environ(name, self.environ) for name in plan.secrets}
            redactor = self._configured.merged(Redactor(v for keys in secrets.values() for v in keys.values()))
            values, tainted = environment(plan, secrets)
            if not plan.cmd:
                raise PlanError("cmd is empty: the local runner runs a command, not an image entrypoint; "
                                "set cmd (the image field is ignored locally)")
        except (PlanError, SandboxError) as exc:
            return _refused(plan, redactor.text(str(exc)), started)
        try:
            base = run_dir(user, self.environ) or self.work_dir
        except SandboxError as exc:
            return _refused(plan, str(exc), started)
        base.mkdir(parents=True, exist_ok=True)
        job_dir = Path(tempfile.mkdtemp(prefix=f"job-{plan.action_index}-{plan.task_index}-", dir=base))
        try:
            files_dir = job_dir / "keptn"
            (job_dir / "tmp").mkdir()
            try:
                copy_files(service_dir, plan.files, files_dir)
                argv = render_local(plan.cmd, plan.args, values, tainted, files_dir=str(files_dir))
                cwd = working_dir(plan.working_dir, files_dir)
                give_to(user, job_dir)
            except (PlanError, FilesError, OSError) as exc:
                return _refused(plan, redactor.text(str(exc)), started)
            if argv[0] in ("python", "python3"):
                argv[0] = self.python
            env = {k: self.environ[k] for k in PASSTHROUGH_ENV if k in self.environ}
            env.update(values)
            env.update({"HOME": str(job_dir), "TMPDIR": str(job_dir / "tmp")})
            return self._execute(plan, argv, env, cwd, redactor, started, user)
        finally:
            if not self.keep_work_dirs:
                shutil.rmtree(job_dir, ignore_errors=True)

    def _execute(self, plan: TaskPlan, argv: list[str], env: dict[str, str], cwd: Path, redactor: Redactor,
                 started: str, user: RunAs | None) -> TaskOutcome:
        log.info("job %r task %r: running %s", plan.action, plan.task, redactor.text(repr(argv)))
        status_r, status_w = os.pipe()
        line = supervised(argv, timeout=plan.timeout, grace=self.kill_grace, status_fd=status_w, user=user, cwd=cwd)
        try:
            proc = subprocess.Popen(line, cwd=str(cwd.parent if user else cwd), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True, pass_fds=(status_w,))
        except OSError as exc:
            os.close(status_r)
            return _refused(plan, redactor.text(f"cannot start the job supervisor: {exc.strerror or exc}"), started)
        finally:
            os.close(status_w)
        buffer = TailBuffer(plan.max_output_bytes + redactor.margin)
        reader = threading.Thread(target=_pump, args=(proc.stdout, buffer), daemon=True)
        reader.start()
        report: list[bytes] = []
        status_reader = threading.Thread(target=lambda: report.append(_read_all(status_r)), daemon=True)
        status_reader.start()
        # The supervisor enforces the timeout; this wait is only the backstop if it hangs itself.
        try:
            proc.wait(plan.timeout + self.kill_grace + SUPERVISOR_SLACK)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
        status_reader.join(timeout=self.kill_grace + 1)
        reader.join(timeout=self.kill_grace + 1)
        outcome = Supervised.parse(b"".join(report).decode(errors="replace"))
        if outcome.error and outcome.exit_code is None and outcome.signal is None and not outcome.timed_out:
            return _refused(plan, redactor.text(outcome.error), started)
        output, truncated = bounded_text(buffer.tail(), buffer.total, plan.max_output_bytes, redactor)
        code = outcome.exit_code if outcome.exit_code is not None else (
            -outcome.signal if outcome.signal else proc.returncode)
        if outcome.timed_out:
            message = (f"task {plan.task!r} timed out after {plan.timeout:g}s (maxPollDuration); "
                       f"it and every process it started were stopped")
        else:
            message = f"task {plan.task!r} exited with code {code}"
        if outcome.leftover:
            message += f" ({outcome.leftover} leftover process(es) of the task killed)"
        log.info("job %r: %s", plan.action, redactor.text(message))
        return TaskOutcome(plan.task, succeeded=(code == 0 and not outcome.timed_out), exit_code=code, output=output,
                           message=redactor.text(message), started=started, finished=iso_time(time.time()),
                           timed_out=outcome.timed_out, truncated=truncated)


def working_dir(template: str, files_dir: Path) -> Path:
    """The task's working directory: `/keptn/...` inside its folder, nothing outside it."""
    if not template.startswith("/keptn"):
        return files_dir        # a path inside the Job's image means nothing on this host
    path = Path(os.path.normpath(rewrite_keptn_paths(template, str(files_dir))))
    if path != files_dir and files_dir not in path.parents:
        raise PlanError(f"workingDir {template!r} leaves the task's folder /keptn")
    return path


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _pump(stream, buffer: TailBuffer) -> None:
    try:
        fd = stream.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer.write(chunk)
    except (OSError, ValueError):
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _refused(plan: TaskPlan, message: str, started: str) -> TaskOutcome:
    log.warning("job %r task %r not run: %s", plan.action, plan.task, message)
    return TaskOutcome(plan.task, succeeded=False, exit_code=None, output="", message=message,
                       started=started, finished=iso_time(time.time()))

