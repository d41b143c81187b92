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
* `maxPollDuration` (else the settings' default) bounds the run: then the whole process group
  gets SIGTERM, a grace period, SIGKILL. Output (stdout and stderr together) is kept bounded
  and redacted before it leaves this module.
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
from pathlib import Path
from typing import Mapping

from reconciler.engine.events import now_iso
from reconciler.tasks.jobs.files import FilesError, copy_files
from reconciler.tasks.jobs.output import TailBuffer, bounded_text
from reconciler.tasks.jobs.plan import PlanError, TaskPlan, environment, render_local, rewrite_keptn_paths
from reconciler.tasks.jobs.redact import Redactor
from reconciler.tasks.jobs.result import TaskOutcome

log = logging.getLogger("reconciler.tasks.jobs")

PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
SECRET_PREFIX = "RECONCILER_SECRET_"


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

    def run(self, plan: TaskPlan, service_dir: Path) -> TaskOutcome:
        started = now_iso()
        redactor = Redactor()
        try:
            secrets = {name: secret_from_environ(name, self.environ) for name in plan.secrets}
            redactor = Redactor(v for keys in secrets.values() for v in keys.values())
            values, tainted = environment(plan, secrets)
            if not plan.cmd:
                raise PlanError("cmd is empty: the local runner runs a command, not an image entrypoint; "
                                "set cmd (the image field is ignored locally)")
        except PlanError as exc:
            return _refused(plan, redactor.text(str(exc)), started)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        job_dir = Path(tempfile.mkdtemp(prefix=f"job-{plan.action_index}-{plan.task_index}-", dir=self.work_dir))
        try:
            files_dir = job_dir / "keptn"
            (job_dir / "tmp").mkdir()
            try:
                copy_files(service_dir, plan.files, files_dir)
                argv = render_local(plan.cmd, plan.args, values, tainted, files_dir=str(files_dir))
            except (PlanError, FilesError) as exc:
                return _refused(plan, redactor.text(str(exc)), started)
            if argv[0] in ("python", "python3"):
                argv[0] = self.python
            cwd = files_dir
            if plan.working_dir.startswith("/keptn"):
                cwd = Path(rewrite_keptn_paths(plan.working_dir, str(files_dir)))
            env = {k: self.environ[k] for k in PASSTHROUGH_ENV if k in self.environ}
            env.update(values)
            env.update({"HOME": str(job_dir), "TMPDIR": str(job_dir / "tmp")})
            return self._execute(plan, argv, env, cwd, redactor, started)
        finally:
            if not self.keep_work_dirs:
                shutil.rmtree(job_dir, ignore_errors=True)

    def _execute(self, plan: TaskPlan, argv: list[str], env: dict[str, str], cwd: Path, redactor: Redactor,
                 started: str) -> TaskOutcome:
        log.info("job %r task %r: running %s", plan.action, plan.task, redactor.text(repr(argv)))
        try:
            proc = subprocess.Popen(argv, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except OSError as exc:
            return _refused(plan, redactor.text(f"cannot start {argv[0]!r}: {exc.strerror or exc}"), started)
        buffer = TailBuffer(plan.max_output_bytes + redactor.margin)
        reader = threading.Thread(target=_pump, args=(proc.stdout, buffer), daemon=True)
        reader.start()
        # A blocking wait in a thread: Popen.wait(timeout) would poll with sleeps of up to 50 ms.
        exited = threading.Event()
        waiter = threading.Thread(target=lambda: (proc.wait(), exited.set()), daemon=True)
        waiter.start()
        timed_out = not exited.wait(plan.timeout)
        if timed_out:
            _kill_group(proc.pid, signal.SIGTERM)
            if not exited.wait(self.kill_grace):
                _kill_group(proc.pid, signal.SIGKILL)
                exited.wait()
        _kill_group(proc.pid, signal.SIGKILL)       # whatever the task left running in its group
        reader.join(timeout=self.kill_grace + 1)
        output, truncated = bounded_text(buffer.tail(), buffer.total, plan.max_output_bytes, redactor)
        code = proc.returncode
        if timed_out:
            message = (f"task {plan.task!r} timed out after {plan.timeout:g}s (maxPollDuration); "
                       f"its process group was killed")
        else:
            message = f"task {plan.task!r} exited with code {code}"
        log.info("job %r: %s", plan.action, redactor.text(message))
        return TaskOutcome(plan.task, succeeded=(code == 0 and not timed_out), exit_code=code, output=output,
                           message=redactor.text(message), started=started, finished=now_iso(),
                           timed_out=timed_out, truncated=truncated)


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
                       started=started, finished=now_iso())

