"""The `local` target: each service of a stage as supervised processes on 127.0.0.1.

The embedded default, so the whole Keptn story runs on one machine without a cluster.

* deploy: the service folder is copied into the target's work dir (the caller's export may
  vanish), `replicaCount` replicas start on fresh ports, and only when all answer
  `healthPath` with 2xx within `startTimeout` do they replace the running ones (which are then
  stopped). If they do not, they are stopped and the old replicas keep serving.
* scale: starts (and health-waits) or stops replicas of the running release.
* supervision: a thread restarts crashed replicas on the same port with capped exponential
  backoff; the backoff resets once a replica has stayed up for a minute.
* Prometheus: every change rewrites `<file_sd_dir>/<stage>-<service>.json` (see filesd).
* restarts of the reconciler: `<work_dir>/state.json` names the target's owner id before it
  spawns anything, and every replica carries `<owner>/<stage>/<service>/...` in its
  environment (and lists itself there once spawned). A new LocalTarget stops every process
  whose environment carries a previous owner's marker (so even one spawned an instant before
  a kill -9 is found), and reports those services in `recovered`; the controller then deploys
  them again from their stage branches. Nothing is adopted, nothing runs twice.

Replicas get a small environment, not the reconciler's (which holds tokens and secrets):
PATH, HOME, LANG, LC_*, TZ, TMPDIR, PYTHONPATH, VIRTUAL_ENV, then `env` from local.yaml, then
PORT, RECONCILER_PROJECT/STAGE/SERVICE/REPLICA/COMMIT, VALUES_JSON and VALUE_<KEY> for every
top-level scalar of values.yaml.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.kube.expansion import expand
from reconciler.sandbox.launch import give_to, host_exec_denied, run_as, run_dir
from reconciler.targets import filesd, processes
from reconciler.targets.base import (
    BLUE_GREEN,
    DeploymentFailed,
    DeployRequest,
    DeployResult,
    RecoveredService,
    ReplicaStatus,
    ServiceStatus,
    TargetBase,
    TargetContext,
    replica_count,
)
from reconciler.targets.localspec import LocalSpec, load_local_spec
from reconciler.targets.proxy import TcpProxy

log = logging.getLogger("reconciler.targets.local")

MARKER_KEY = "RECONCILER_LOCAL_MARKER"
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
STATE_FILE = "state.json"
STABLE_AFTER = 60.0        # seconds up after which a replica's restart backoff resets


@dataclass
class _Release:
    project: str
    stage: str
    service: str
    commit: str
    spec: LocalSpec
    values: dict[str, Any]
    directory: Path
    generation: int


@dataclass
class _Replica:
    index: int
    port: int
    argv: list[str]
    env: dict[str, str]
    marker: str
    log_path: Path
    cwd: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    backoff_level: int = 0
    next_restart: float | None = None
    started_at: float = 0.0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class _Group:
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: _Release | None = None
    replicas: list[_Replica] = field(default_factory=list)
    # blue/green: the new version beside the released one, and the load balancer in front
    candidate: _Release | None = None
    candidate_replicas: list[_Replica] = field(default_factory=list)
    proxy: TcpProxy | None = None

    @property
    def all_replicas(self) -> list[_Replica]:
        return self.replicas + self.candidate_replicas


def value_env(values: Mapping[str, Any]) -> dict[str, str]:
    """VALUES_JSON plus VALUE_<KEY> for each top-level scalar (pure)."""
    env = {"VALUES_JSON": json.dumps(values, sort_keys=True, default=str)}
    for key, value in values.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        name = "VALUE_" + re.sub(r"[^A-Z0-9_]", "_", str(key).upper())
        env[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


class LocalTarget(TargetBase):
    def __init__(self, work_dir: Path, *, file_sd_dir: Path | None = None, python: str = sys.executable,
                 poll_interval: float = 0.05, supervise_interval: float = 0.2, restart_backoff: float = 0.5,
                 max_restart_backoff: float = 30.0, stop_timeout: float = 5.0,
                 environ: Mapping[str, str] = os.environ):
        self.work_dir = Path(work_dir)
        self.file_sd_dir = Path(file_sd_dir) if file_sd_dir else self.work_dir / "file_sd"
        self.python = python
        self.poll_interval = poll_interval
        self.supervise_interval = supervise_interval
        self.restart_backoff = restart_backoff
        self.max_restart_backoff = max_restart_backoff
        self.stop_timeout = stop_timeout
        self._base_env = {k: environ[k] for k in PASSTHROUGH_ENV if k in environ}
        self._environ = environ
        self._user = run_as(environ)              # SandboxError for an unknown user: a setup error
        self._host_exec_denied = host_exec_denied(environ)
        self._id = uuid.uuid4().hex[:12]
        self._lock = threading.RLock()          # guards _groups, _generation, _ports, state file
        self._groups: dict[tuple[str, str], _Group] = {}
        self._generation = 0
        self._ports: set[int] = set()
        self._closed = False
        self._starting: dict[tuple[str, str], tuple[_Release, list[_Replica]]] = {}
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.file_sd_dir.mkdir(parents=True, exist_ok=True)
        self.recovered: list[RecoveredService] = self._recover()
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="local-target-supervisor", daemon=True)
        self._supervisor.start()

    # ---- the DeploymentTarget protocol -----------------------------------------------------

    def deploy(self, request: DeployRequest) -> DeployResult:
        self._check_open()
        if self._host_exec_denied:
            raise DeploymentFailed("not-deployed", "running repository code on the controller's host is denied "
                                   "(RECONCILER_HOST_EXEC=deny): deploy this stage with target: kubernetes")
        spec = load_local_spec(request.service_dir, display=f"{request.service}/local.yaml")
        count = replica_count(request.values)
        group = self._group(request.stage, request.service)
        with group.lock:
            self._check_open()      # close() may have run while we waited: start nothing after it
            with self._lock:
                self._generation += 1
                generation = self._generation
            releases = run_dir(self._user, self._environ) or self.work_dir / "releases"
            directory = (releases / request.stage / request.service
                         / f"{generation}-{request.commit[:12] or 'nocommit'}")
            if directory.exists():
                shutil.rmtree(directory)
            shutil.copytree(request.service_dir, directory, symlinks=True)
            give_to(self._user, directory)
            release = _Release(request.project, request.stage, request.service, request.commit, spec,
                               dict(request.values), directory, generation)
            new = self._start_healthy(release, range(count), count)
            self._drop_candidate(group)
            if request.strategy == BLUE_GREEN and group.release is not None:
                return self._beside(group, release, new)
            with self._lock:
                old_release, old = group.release, group.replicas
                group.release, group.replicas = release, new
                if request.strategy == BLUE_GREEN and group.proxy is None:
                    group.proxy = TcpProxy(f"{request.stage}-{request.service}")
                if group.proxy is not None:
                    group.proxy.set_backends([r.address for r in new])
                self._save_state()
                self._write_file_sd(group)
            self._stop_replicas(old)
            if old_release is not None and old_release.directory != directory:
                shutil.rmtree(old_release.directory, ignore_errors=True)
        ports = ", ".join(str(r.port) for r in new) or "none"
        uris = [f"http://{r.address}" for r in new]
        if group.proxy is not None:
            return DeployResult(deployment_uris_local=uris, deployment_uris_public=[f"http://{group.proxy.address}"],
                                deployment_names=[request.service],
                                message=(f"{request.service} at {request.commit[:8] or '(no commit)'} runs {count} "
                                         f"replica(s) on the local target (ports {ports}) behind "
                                         f"{group.proxy.address}"),
                                commit=request.commit, replicas=count)
        return DeployResult(
            # the replicas' addresses are all there is on this machine: local and public alike
            # (job configs written for Keptn read `deploymentURIsPublic[0]`)
            deployment_uris_local=uris, deployment_uris_public=list(uris),
            deployment_names=[request.service],
            message=(f"{request.service} at {request.commit[:8] or '(no commit)'} runs {count} replica(s) "
                     f"on the local target (ports {ports})"),
            commit=request.commit, replicas=count)

    def release(self, stage: str, service: str) -> str | None:
        """Blue/green: switch the load balancer to the new version and stop the old one.
        Returns what happened, None when nothing runs beside the released version."""
        self._check_open()
        with self._lock:
            group = self._groups.get((stage, service))
        if group is None or group.candidate is None:
            return None
        with group.lock:
            candidate, new = group.candidate, group.candidate_replicas
            if candidate is None:
                return None
            with self._lock:
                old_release, old = group.release, group.replicas
                group.release, group.replicas = candidate, new
                group.candidate, group.candidate_replicas = None, []
                if group.proxy is not None:
                    group.proxy.set_backends([r.address for r in new])
                self._save_state()
                self._write_file_sd(group)
            self._stop_replicas(old)
            if old_release is not None and old_release.directory != candidate.directory:
                shutil.rmtree(old_release.directory, ignore_errors=True)
        where = group.proxy.address if group.proxy is not None else "the service"
        return (f"switched {where} to {service} at {candidate.commit[:8]}; stopped the replicas of "
                f"{old_release.commit[:8] if old_release else 'the old version'}")

    def discard(self, stage: str, service: str) -> bool:
        """Blue/green: stop the new version that runs beside the released one (rollback);
        the released one keeps serving. False when there is none."""
        with self._lock:
            group = self._groups.get((stage, service))
        if group is None or group.candidate is None:
            return False
        with group.lock:
            return self._drop_candidate(group)

    def scale(self, stage: str, service: str, replicas: int) -> ServiceStatus:
        self._check_open()
        if replicas < 0:
            raise DeploymentFailed("manifest-invalid", f"cannot scale {service} in {stage} to {replicas} replicas")
        group = self._existing(stage, service)
        with group.lock:
            release = group.release
            if release is None:
                raise DeploymentFailed("not-deployed", f"{service} is not deployed in stage {stage}")
            current = len(group.replicas)
            if replicas > current:
                start = max((r.index for r in group.replicas), default=-1) + 1
                new = self._start_healthy(release, range(start, start + replicas - current), replicas)
                with self._lock:
                    group.replicas = group.replicas + new
                    self._save_state()
                    self._write_file_sd(group)
            elif replicas < current:
                with self._lock:
                    removed = group.replicas[replicas:]
                    group.replicas = group.replicas[:replicas]
                    self._save_state()
                    self._write_file_sd(group)
                self._stop_replicas(removed)
        return self.status(stage, service)

    def undeploy(self, stage: str, service: str) -> None:
        with self._lock:
            group = self._groups.get((stage, service))
        if group is None:
            return
        with group.lock:
            self._drop_candidate(group)
            with self._lock:
                removed, release = group.replicas, group.release
                group.replicas, group.release = [], None
                self._groups.pop((stage, service), None)
                self._save_state()
                filesd.remove_file_sd(self.file_sd_dir, stage, service)
            if group.proxy is not None:
                group.proxy.close()
                group.proxy = None
            self._stop_replicas(removed)
            if release is not None:
                shutil.rmtree(release.directory, ignore_errors=True)

    def status(self, stage: str, service: str) -> ServiceStatus:
        with self._lock:
            group = self._groups.get((stage, service))
            release = group.release if group else None
            replicas = list(group.replicas) if group else []
        if release is None:
            return ServiceStatus(stage, service, deployed=False, message="not deployed")
        out = []
        for r in replicas:
            pid = r.proc.pid if r.proc is not None and r.proc.poll() is None else None
            ok = pid is not None and processes.check_health(r.port, release.spec.healthPath, timeout=0.5)[0]
            out.append(ReplicaStatus(name=f"{service}-{r.index}", ready=ok, address=r.address,
                                     pid=pid, restarts=r.restarts))
        ready = sum(1 for r in out if r.ready)
        image = release.values.get("image")
        return ServiceStatus(stage, service, deployed=True, commit=release.commit,
                             image=str(image) if image is not None else None, desired=len(out), ready=ready,
                             replicas=out, message=f"{ready}/{len(out)} replicas ready")

    def close(self) -> None:
        """Stop supervising and stop every process (SIGTERM, bounded wait, SIGKILL)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._supervisor.join(timeout=10)
        with self._lock:
            groups = list(self._groups.items())
            self._groups.clear()
        for (stage, service), group in groups:
            with group.lock:
                self._drop_candidate(group)
                if group.proxy is not None:
                    group.proxy.close()
                    group.proxy = None
                self._stop_replicas(group.replicas)
                group.replicas = []
                if group.release is not None:
                    shutil.rmtree(group.release.directory, ignore_errors=True)
                group.release = None
            filesd.remove_file_sd(self.file_sd_dir, stage, service)
        with self._lock:
            self._save_state()

    def __enter__(self) -> LocalTarget:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- introspection (tests, status page) ------------------------------------------------

    def pids(self, stage: str | None = None, service: str | None = None) -> list[int]:
        with self._lock:
            return [r.proc.pid for (st, sv), g in self._groups.items() for r in g.all_replicas
                    if r.proc is not None and (stage in (None, st)) and (service in (None, sv))]

    # ---- internals -------------------------------------------------------------------------

    def _beside(self, group: _Group, release: _Release, new: list[_Replica]) -> DeployResult:
        """Keep the released version serving behind the load balancer, `new` beside it."""
        with self._lock:
            group.candidate, group.candidate_replicas = release, new
            if group.proxy is None:
                group.proxy = TcpProxy(f"{release.stage}-{release.service}")
                group.proxy.set_backends([r.address for r in group.replicas])
            self._write_file_sd(group)
        old = group.release
        ports = ", ".join(str(r.port) for r in new) or "none"
        return DeployResult(
            deployment_uris_local=[f"http://{r.address}" for r in new],
            deployment_uris_public=[f"http://{group.proxy.address}"],
            deployment_names=[release.service],
            message=(f"{release.service} at {release.commit[:8] or '(no commit)'} runs {len(new)} replica(s) beside "
                     f"{old.commit[:8] if old else '-'} (blue/green, ports {ports}); {group.proxy.address} still "
                     f"serves the released version until the release task switches it"),
            commit=release.commit, replicas=len(new))

    def _drop_candidate(self, group: _Group) -> bool:
        """Stop the new version beside the released one (caller holds group.lock)."""
        with self._lock:
            candidate, replicas = group.candidate, group.candidate_replicas
            group.candidate, group.candidate_replicas = None, []
            if candidate is not None:
                self._write_file_sd(group)
        if candidate is None:
            return False
        self._stop_replicas(replicas)
        if group.release is None or candidate.directory != group.release.directory:
            shutil.rmtree(candidate.directory, ignore_errors=True)
        return True

    def _check_open(self) -> None:
        if self._closed:
            raise DeploymentFailed("api-error", "the local target is closed")

    def _group(self, stage: str, service: str) -> _Group:
        with self._lock:
            return self._groups.setdefault((stage, service), _Group())

    def _existing(self, stage: str, service: str) -> _Group:
        with self._lock:
            group = self._groups.get((stage, service))
        if group is None:
            raise DeploymentFailed("not-deployed", f"{service} is not deployed in stage {stage}")
        return group

    def _environment(self, release: _Release, index: int, port: int, marker: str, desired: int) -> dict[str, str]:
        values = {**release.values, "replicaCount": desired} if "replicaCount" in release.values else release.values
        env = dict(self._base_env)
        env.update(release.spec.env)
        env.update(value_env(values))
        env.update({
            "PORT": str(port),
            "RECONCILER_PROJECT": release.project,
            "RECONCILER_STAGE": release.stage,
            "RECONCILER_SERVICE": release.service,
            "RECONCILER_REPLICA": str(index),
            "RECONCILER_COMMIT": release.commit,
            MARKER_KEY: marker,
        })
        return env

    def _argv(self, spec: LocalSpec, env: Mapping[str, str]) -> list[str]:
        argv = [expand(a, env) for a in spec.command]
        if argv[0] in ("python", "python3"):
            argv[0] = self.python
        return argv

    def _port(self) -> int:
        with self._lock:
            for _ in range(20):
                port = processes.free_port()
                if port not in self._ports:
                    self._ports.add(port)
                    return port
            raise DeploymentFailed("api-error", "could not find a free port on 127.0.0.1")

    def _new_replica(self, release: _Release, index: int, desired: int) -> _Replica:
        port = self._port()
        marker = f"{self._id}/{release.stage}/{release.service}/{release.generation}/{index}"
        env = self._environment(release, index, port, marker, desired)
        log_path = (self.work_dir / "logs" / release.stage / release.service
                    / f"{release.service}-{release.generation}-{index}.log")
        replica = _Replica(index, port, self._argv(release.spec, env), env, marker, log_path, release.directory)
        try:
            replica.proc = processes.spawn(replica.argv, env=env, cwd=release.directory, log_path=log_path,
                                            user=self._user)
        except OSError as exc:
            self._release_port(port)
            raise DeploymentFailed("manifest-invalid",
                                   f"{release.service}/local.yaml: cannot start {replica.argv[0]!r}: {exc}") from None
        replica.started_at = time.monotonic()
        return replica

    def _start_healthy(self, release: _Release, indices, desired: int) -> list[_Replica]:
        """Start replicas and wait until all are healthy; on failure stop them and raise.

        Each replica is in the state file from the moment it is spawned (as `starting`), so a
        controller killed during the health wait leaves nothing its successor cannot stop."""
        started: list[_Replica] = []
        key = (release.stage, release.service)
        try:
            for index in indices:
                started.append(self._new_replica(release, index, desired))
                with self._lock:
                    self._starting[key] = (release, list(started))
                    self._save_state()
            self._wait_healthy(release, started)
            return started
        except BaseException:
            self._stop_replicas(started)
            raise
        finally:
            with self._lock:
                self._starting.pop(key, None)

    def _wait_healthy(self, release: _Release, replicas: list[_Replica]) -> None:
        timeout = release.spec.startTimeout
        deadline = time.monotonic() + timeout
        pending = {r.index: r for r in replicas}
        last: dict[int, str] = {}
        while pending:
            for index, r in list(pending.items()):
                code = r.proc.poll() if r.proc else -1
                if code is not None:
                    raise DeploymentFailed(
                        "not-healthy",
                        f"{release.service} replica {index} (port {r.port}) exited with code {code} before "
                        f"becoming healthy; the previous version keeps running. Log {r.log_path}:\n"
                        f"{processes.tail(r.log_path)}")
                ok, what = processes.check_health(r.port, release.spec.healthPath,
                                                  timeout=max(0.05, min(1.0, deadline - time.monotonic())))
                if ok:
                    del pending[index]
                else:
                    last[index] = what
            if not pending:
                return
            if time.monotonic() >= deadline:
                details = "; ".join(f"replica {i} port {r.port}: {last.get(i, 'no answer')}"
                                    for i, r in pending.items())
                first = next(iter(pending.values()))
                raise DeploymentFailed(
                    "not-healthy",
                    f"{release.service} did not become healthy within {timeout:g}s "
                    f"(GET {release.spec.healthPath}: {details}); the previous version keeps running. "
                    f"Log {first.log_path}:\n{processes.tail(first.log_path)}")
            time.sleep(self.poll_interval)

    def _release_port(self, port: int) -> None:
        with self._lock:
            self._ports.discard(port)

    def _stop_replicas(self, replicas: list[_Replica]) -> None:
        processes.stop_all([r.proc for r in replicas if r.proc is not None], self.stop_timeout)
        for r in replicas:
            self._release_port(r.port)

    def _write_file_sd(self, group: _Group) -> None:
        release = group.release
        if release is None:
            return
        groups = filesd.file_sd_groups(release.project, release.stage, release.service,
                                       [r.address for r in group.all_replicas], release.spec.metricsPath)
        filesd.write_file_sd(self.file_sd_dir, release.stage, release.service, groups)

    def _save_state(self) -> None:
        entries = []
        running = [((stage, service), g.release, g.replicas, False)
                   for (stage, service), g in sorted(self._groups.items()) if g.release is not None]
        starting = [(key, release, replicas, True) for key, (release, replicas) in sorted(self._starting.items())]
        for (stage, service), release, replicas, is_starting in running + starting:
            for r in replicas:
                entries.append({"project": release.project, "stage": stage, "service": service,
                                "commit": release.commit, "index": r.index, "port": r.port,
                                "pid": r.proc.pid if r.proc else None, "argv": r.argv, "marker": r.marker,
                                "replicas": len(replicas), **({"starting": True} if is_starting else {})})
        filesd.write_json_atomic(self.work_dir / STATE_FILE,
                                 {"version": 1, "owners": [self._id], "replicas": entries})

    def _recover(self) -> list[RecoveredService]:
        """Stop every process a previous run of the target left behind.

        The state file names its owners (random ids, one per LocalTarget) and every replica
        carries `<owner>/<stage>/<service>/...` in its environment, so /proc finds them all,
        including one spawned in the instant before a kill -9 that the file never listed.
        We join the owners before stopping anything: if we are killed here, our successor
        still looks for theirs (and ours)."""
        path = self.work_dir / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            state = {}
        except ValueError:
            log.warning("ignoring unreadable %s", path)
            state = {}
        entries = [e for e in (state.get("replicas") or []) if isinstance(e, dict)]
        owners = {str(o) for o in state.get("owners") or [] if isinstance(o, str)}
        owners |= {e["marker"].split("/", 1)[0] for e in entries if isinstance(e.get("marker"), str)}
        owners.discard("")
        filesd.write_json_atomic(path, {"version": 1, "owners": sorted(owners) + [self._id], "replicas": entries})
        services: dict[tuple[str, str], RecoveredService] = {}
        for entry in entries:
            key = (str(entry.get("stage")), str(entry.get("service")))
            services[key] = RecoveredService(str(entry.get("project")), key[0], key[1],
                                             str(entry.get("commit") or ""), int(entry.get("replicas") or 0))
        for pid, marker in sorted(processes.marked(MARKER_KEY, [o + "/" for o in sorted(owners)]).items()):
            parts = marker.split("/")
            stage, service = (parts[1], parts[2]) if len(parts) >= 3 else ("?", "?")
            log.info("stopping stale replica pid %s of %s/%s", pid, stage, service)
            processes.stop_pid(pid, self.stop_timeout)
            if len(parts) >= 3 and (stage, service) not in services:
                services[(stage, service)] = RecoveredService("", stage, service, "", 0)
        for stage, service in services:
            filesd.remove_file_sd(self.file_sd_dir, stage, service)
        shutil.rmtree(self.work_dir / "releases", ignore_errors=True)
        filesd.write_json_atomic(path, {"version": 1, "owners": [self._id], "replicas": []})
        return list(services.values())

    def _supervise(self) -> None:
        while not self._stop.wait(self.supervise_interval):
            with self._lock:
                changed = False
                now = time.monotonic()
                for (stage, service), group in self._groups.items():
                    for r in group.all_replicas:
                        changed |= self._supervise_one(stage, service, group, r, now)
                if changed:
                    self._save_state()
                    for group in self._groups.values():
                        self._write_file_sd(group)

    def _supervise_one(self, stage: str, service: str, group: _Group, r: _Replica, now: float) -> bool:
        running = r.proc is not None and r.proc.poll() is None
        if running:
            if r.backoff_level and now - r.started_at > STABLE_AFTER:
                r.backoff_level = 0
            return False
        if r.next_restart is None:
            delay = min(self.restart_backoff * (2 ** r.backoff_level), self.max_restart_backoff)
            r.next_restart = now + delay
            code = r.proc.returncode if r.proc else None
            log.warning("%s/%s replica %s exited with code %s; restarting in %.1fs",
                        stage, service, r.index, code, delay)
            return False
        if now < r.next_restart:
            return False
        r.next_restart = None
        r.backoff_level += 1
        try:
            r.proc = processes.spawn(r.argv, env=r.env, cwd=r.cwd, log_path=r.log_path, user=self._user)
        except OSError as exc:
            log.warning("%s/%s replica %s could not be restarted: %s", stage, service, r.index, exc)
            r.proc = None
            return False
        r.restarts += 1
        r.started_at = now
        return True


def create(context: TargetContext) -> LocalTarget:
    """`target: local` (the default): processes on this machine, state under targets/local."""
    return LocalTarget(context.state_dir("local"), file_sd_dir=context.file_sd_dir)
