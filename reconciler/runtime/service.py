"""`reconciler serve`: the controller, its trigger sources and the HTTP server, wired.

`Service` is usable in-process (tests, the demo) and from the CLI. It writes
`<workdir>/serve.json` (repo, API URL, pid) so that CLI commands on the same machine find
the running controller and its token without extra flags.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.controller.apitoken import load_or_create_token
from reconciler.controller.config_state import ConfigState
from reconciler.controller.health import DEFAULT_ORIGIN_GRACE, DEFAULT_STUCK_AFTER, Health
from reconciler.controller.index import Index
from reconciler.controller.integrations import FILE as INTEGRATIONS_FILE
from reconciler.controller.integrations import Integrations
from reconciler.controller.journal import Journal
from reconciler.controller.loop import Controller, ExecutorSet, Notifier
from reconciler.controller.maintenance import MirrorMaintenance
from reconciler.controller.metrics import Metrics
from reconciler.controller.resources import Resources
from reconciler.controller.sidetasks import SideTasks
from reconciler.controller.taskenv import ControllerTaskEnv, Targets
from reconciler.controller.workdir_lock import WorkdirLock
from reconciler.gitstore import GitCredentials, LocalWatch, Mirror, Poller, Writer
from reconciler.server.app import make_app
from reconciler.server.keptn_api import KeptnBackend

log = logging.getLogger("reconciler.serve")

SERVE_FILE = "serve.json"
INDEX_FILE = "index.sqlite"


@dataclass
class ServeOptions:
    repo: str
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval: float = 30.0
    watch: bool = True                 # inotify on a local bare repo, when the URL is local
    workers: int = 8
    group_window: float = 0.05         # group commit: seconds a transition may wait to share a results commit
    lease: tuple[str, str] | None = None   # (namespace, name): run only while holding this Lease (HA)
    identity: str | None = None
    # mirror maintenance: count loose objects after this many recorded batches (or hourly), pack
    # them in the worker pool when there are this many
    mirror_check_every: int = 50
    mirror_loose_limit: int = 1000
    # probes: /readyz fails once the origin has been unreachable this long; /healthz fails when
    # one pass of the controller loop has been busy this long (Kubernetes then restarts it)
    origin_grace: float = DEFAULT_ORIGIN_GRACE
    stuck_after: float = DEFAULT_STUCK_AFTER
    # SIGTERM: everything (jobs and deployments in flight included) stops within this many
    # seconds; what did not finish is redone after the restart (effects are idempotent)
    stop_timeout: float = 8.0


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`:PORT` means 127.0.0.1); raises ValueError with a readable message."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen must be HOST:PORT, e.g. 127.0.0.1:8080 (got {text!r})")
    return (host or "127.0.0.1").strip("[]"), int(port)


def default_executors() -> ExecutorSet:
    from reconciler.controller.executors import BuiltinExecutors
    return BuiltinExecutors()


def default_notifier(settings_fn: Callable[[], Any], environ: dict[str, str],
                     metrics: Metrics | None = None, repo_url: str = "") -> Notifier:
    from reconciler.controller.chat import ChatNotifier, Notifiers
    from reconciler.controller.forgereport import ForgeReporter
    from reconciler.controller.notify import WebhookNotifier
    return Notifiers(WebhookNotifier(settings_fn, environ=environ),
                     ChatNotifier(settings_fn, environ=environ, metrics=metrics),
                     ForgeReporter(settings_fn, repo_url, environ=environ))


class Service:
    def __init__(self, options: ServeOptions, *, executors: ExecutorSet | None = None,
                 targets: Targets | None = None, environ: dict[str, str] | None = None,
                 notifier: Notifier | None = None):
        self.options = options
        env = dict(os.environ if environ is None else environ)
        workdir = options.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.workdir_lock = WorkdirLock(workdir).acquire()
        try:
            self.mirror = Mirror(options.repo, workdir, GitCredentials.from_env(env))
        except Exception:
            self.workdir_lock.release()
            raise
        self.mirror.clear_locks()           # we hold the work dir: any lock left is a dead predecessor's
        self.writer = Writer(self.mirror)
        # with a Lease the Lease decides who writes; without one a second controller on the
        # same origin is detected through the record and the later one stops writing
        self.journal = Journal(self.mirror, self.writer, exclusive=options.lease is None)
        self.index = Index(workdir / INDEX_FILE)
        self.health = Health(origin_grace=options.origin_grace, stuck_after=options.stuck_after,
                             on_change=self.index.publish_health)
        self.index.publish_health(self.health.snapshot())       # not the last run's faults
        self.reader = Index(workdir / INDEX_FILE, readonly=True)
        self.config = ConfigState(self.mirror)
        self.metrics = Metrics()
        self.targets = targets or Targets(workdir, lambda: self.config.settings, environ=env)
        self.env = ControllerTaskEnv(workdir, self.mirror, self.writer, self.journal, self.config, self.targets,
                                     environ=env)
        self.controller = Controller(
            mirror=self.mirror, journal=self.journal, index=self.index, config=self.config,
            executors=executors or default_executors(), env=self.env,
            notifier=(notifier if notifier is not None
                      else default_notifier(lambda: self.config.settings, env, self.metrics, options.repo)),
            workers=options.workers, metrics=self.metrics, group_window=options.group_window,
            maintenance=MirrorMaintenance(self.mirror, check_every=options.mirror_check_every,
                                          loose_limit=options.mirror_loose_limit),
            health=self.health)
        self.sidetasks = SideTasks()
        self.env.sidetasks = self.sidetasks     # the get-sli provider asks integrations through it
        self.integrations = Integrations(workdir / INTEGRATIONS_FILE)
        self.resources = Resources(
            self.mirror, self.writer, project=lambda: self.config.settings.project,
            stages=lambda: list(self.config.shipyard.stage_names) if self.config.shipyard else [],
            on_write=self.controller.notify_tips_changed)
        self.api_token = load_or_create_token(workdir, env)
        self.webhook_secret = env.get("RECONCILER_WEBHOOK_SECRET") or None
        self.alertmanager_token = env.get("RECONCILER_ALERTMANAGER_TOKEN") or None
        self._sources: list[Any] = []
        self._env = env
        self.elector: Any = None
        self.lost_leadership = threading.Event()
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, ready_timeout: float = 60.0) -> Service:
        """Start the HTTP server, then (now, or once this replica holds the Lease) the
        controller and its trigger sources."""
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve_http, args=(started,), name="http", daemon=True)
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the HTTP server did not start")
        if self.port is None:
            raise RuntimeError(f"cannot listen on {self.options.host}:{self.options.port}")
        self._write_serve_file()
        if self.options.lease is None:
            self._lead()
            self.controller.wait_ready(ready_timeout)
        else:
            self._campaign()
        return self

    def _lead(self) -> None:
        self.controller.start()
        self._start_sources()
        threading.Thread(target=self._restore_local_services, name="restore", daemon=True).start()

    def _restore_local_services(self) -> None:
        """A controller that died left its `local` replicas running in their own sessions.
        Take them over: creating the local target stops the ones its state file proves are
        ours, and each service they ran is deployed again from its stage branch as it is now
        (Git is the truth), so a restart neither leaks processes nor takes services down."""
        from reconciler.targets.local import STATE_FILE
        if not (self.targets.workdir / "targets" / "local" / STATE_FILE).exists():
            return
        if not self.controller.wait_ready(120):
            return
        target = self.targets.local()
        for item in target.recovered:
            if self._stopped or self.config.settings.stage(item.stage).target != "local":
                continue
            tip = self.mirror.tip(item.stage)
            if tip is None:
                continue
            try:
                from reconciler.tasks.deployment import deploy_commit
                deploy_commit(self.env, target, project=self.config.settings.project, stage=item.stage,
                              service=item.service, commit=tip)
                log.info("restored %s/%s at %s after a restart", item.stage, item.service, tip[:12])
            except Exception as exc:  # noqa: BLE001 - one service that cannot start must not stop the rest
                log.warning("could not restore %s/%s after a restart: %s", item.stage, item.service, exc)

    def _campaign(self) -> None:
        """HA: a standby answers health checks but processes nothing until it holds the Lease;
        a leader that loses it stops and sets `lost_leadership` (the CLI then exits, and the
        orchestrator restarts it as a standby — state comes back from Git)."""
        import socket as _socket

        from reconciler.kube.client import Kube, KubeAccess
        from reconciler.kube.leader import LeaderElector
        namespace, name = self.options.lease  # type: ignore[misc]
        identity = self.options.identity or f"{_socket.gethostname()}-{os.getpid()}"
        self.controller.standby(f"standby: waiting for the lease {namespace}/{name}")
        kube = Kube.connect(KubeAccess.from_env(self._env))
        self.elector = LeaderElector(kube, namespace, name, identity, on_started_leading=self._lead,
                                     on_stopped_leading=self._lost).start()

    def _lost(self) -> None:
        log.error("lost the lease %s; stopping", self.options.lease)
        self.lost_leadership.set()

    def _start_sources(self) -> None:
        notify = self.controller.notify_tips_changed
        if self.options.watch:
            watch = LocalWatch.for_url(self.options.repo, lambda: notify("watch"))
            if watch is not None:
                self._sources.append(watch.start())
        if self.options.poll_interval > 0:
            # a failing poll makes the controller fetch, so an outage shows in /readyz
            self._sources.append(Poller.for_mirror(self.mirror, lambda: notify("poll"), self.options.poll_interval,
                                                   on_error=lambda exc: notify("poll-error")).start())

    def _serve_http(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        from reconciler.controller.operator import Operator
        from reconciler.server.ui.access import AccessSettings
        operator = Operator(self.mirror, self.writer, self.index, self.controller.notify_tips_changed)
        app = make_app(self.controller, self.reader, api_token=self.api_token,
                       webhook_secret=self.webhook_secret, alertmanager_token=self.alertmanager_token,
                       metrics_registry=self.metrics.registry, mirror=self.mirror, config=lambda: self.config,
                       operator=operator,
                       ui_access=AccessSettings.from_env(self.api_token, self._env, self.options.host),
                       keptn=KeptnBackend(self.integrations, self.resources, lambda: self.config.settings.project,
                                          self.sidetasks))
        runner = web.AppRunner(app, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.options.host, self.options.port, reuse_address=True)
            loop.run_until_complete(site.start())
            addresses = runner.addresses            # (host, port, …) of each listening socket: learns port 0
            self.port = addresses[0][1] if addresses else self.options.port
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self.options.host, self.options.port, exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def _write_serve_file(self) -> None:
        info = {"repo": self.mirror.display_url, "api": self.url, "pid": os.getpid()}
        (self.workdir / SERVE_FILE).write_text(json.dumps(info, indent=1) + "\n")

    def stop(self) -> None:
        """Stop everything this service started (safe to call more than once)."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + self.options.stop_timeout
        left = lambda share=1.0: max(0.1, (deadline - time.monotonic()) * share)   # noqa: E731
        if self.elector is not None:
            self.elector.stop(release=True, timeout=left(0.25))
        for source in self._sources:
            try:
                source.stop(timeout=left(0.25))
            except Exception:  # noqa: BLE001
                log.exception("stopping a trigger source failed")
        self._sources.clear()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(left(0.25))
        # work in flight (a job, a deployment, a fetch) is not waited for past the deadline:
        # the record says what was dispatched, and the restart redoes it
        self.controller.stop(timeout=left(0.5), wait_for_work=False)
        self.targets.close()
        try:
            (self.workdir / SERVE_FILE).unlink()
        except FileNotFoundError:
            pass
        self.reader.close()
        self.index.close()
        self.integrations.close()
        self.workdir_lock.release()


def read_serve_file(workdir: Path) -> dict[str, Any] | None:
    path = workdir / SERVE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
