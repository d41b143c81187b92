"""`reconciler demo`: Keptn's tutorial on one machine, checked step by step from the Git record.

1. Set up: `DIR/config.git` from `example-config-repo/`; Prometheus (scraping the services the
   `local` target runs, alert rules from the SLO files) and Alertmanager (webhook to the
   reconciler) on free ports; the reconciler itself.
2. Version 1 goes dev → staging → production. Production waits for approval; the demo
   approves it the plain-Git way (merging the approval branch, as a reviewer would).
3. Version 2 has a latency regression: it passes dev's functional gate, fails staging's
   performance gate, is reverted on staging and never reaches production.
4. Load on production raises the response-time alert; the remediation loop scales
   `replicaCount` by a commit and re-evaluates until the objectives hold again.
5. The audit trail (`git log` of every branch) and the evaluation scores are printed.

Every step waits for its evidence on the branches and on `reconciler/results` (bounded), so
the demo exits 0 only when everything happened. Everything it started is stopped at the end
unless `keep` is set.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reconciler import contract
from reconciler.demo import stack

T = TypeVar("T")
SERVICE = "helloservice"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Timings:
    """How long the demo lets things take. `FAST` is for the test suite."""

    functional: str = "10s"          # dev's load test
    performance: str = "12s"         # staging's load test
    remediation_after: str = "20s"   # remediation re-evaluates this long after the action
    remediation_window: str = "15s"  # … over this window
    alert_window: str = "30s"        # $DURATION_SECONDS of the alert rules
    alert_for: str = "10s"
    production_clients: int = 16     # concurrent clients of the production load (≈ 640 ms on one replica)
    step_timeout: float = 150.0


FAST = Timings(functional="9s", performance="9s", remediation_after="10s", remediation_window="8s",
               alert_window="15s", alert_for="3s", step_timeout=120.0)


class DemoFailed(RuntimeError):
    """A step of the story did not happen; the message says which and what was seen."""


class Demo:
    def __init__(self, workdir: Path, *, timings: Timings = Timings(), keep: bool = False,
                 out: Callable[[str], None] = print, example: Path | None = None):
        self.workdir = workdir.resolve()
        self.timings = timings
        self.keep = keep
        self.out = out
        self.example = example or _example_dir()
        self.started = time.monotonic()
        self.processes: list[stack.ManagedProcess] = []
        self.load: subprocess.Popen | None = None
        self.service: Any = None
        self.token = secrets.token_urlsafe(24)
        self.contexts: dict[str, str] = {}

    # == output ================================================================================

    def say(self, text: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {text}")

    def wait(self, check: Callable[[], T], what: str, timeout: float | None = None) -> T:
        deadline = time.monotonic() + (timeout or self.timings.step_timeout)
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.2)
        raise DemoFailed(f"timed out waiting for {what} (last seen: {last!r})")

    # == the story ==============================================================================

    def run(self) -> int:
        try:
            self.setup()
            self.version_one()
            self.version_two()
            self.remediation()
            self.report()
            self.say("demo complete: every step happened")
            if self.keep:
                self.explore()
            return 0
        except DemoFailed as exc:
            self.say(f"FAILED: {exc}")
            self.say(f"logs: {self.workdir}/*.log, {self.workdir}/stack/*.log")
            return 1
        finally:
            if not self.keep:
                self.stop()

    def setup(self) -> None:
        from reconciler.gitstore import snapshot
        from reconciler.gitstore.seed import seed_bare_repo
        from reconciler.quality.alerts import rules_file
        from reconciler.runtime.service import ServeOptions, Service
        from reconciler.spec.project import validate_project
        from reconciler.spec.settings import parse_duration

        if self.workdir.exists() and any(self.workdir.iterdir()):
            raise DemoFailed(f"{self.workdir} is not empty; pass an empty or new --workdir")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_to(self.workdir / "reconciler.log")
        layout = self.workdir / "layout"
        shutil.copytree(self.example, layout)
        self._apply_timings(layout)
        origin = self.workdir / "config.git"
        seed_bare_repo(origin, layout)
        shutil.rmtree(layout)
        self.origin = origin
        self.say(f"config repository {origin} (branches main, dev, staging, production)")

        rules = self.workdir / "stack" / "rules.yml"
        rules.parent.mkdir(parents=True, exist_ok=True)
        project = validate_project(snapshot.read_branches(snapshot.open_repository(origin), lazy=True))
        text, count, _ = rules_file(project, [], int(parse_duration(self.timings.alert_window)), self.timings.alert_for)
        rules.write_text(text)
        work = self.workdir / "reconciler"
        file_sd = work / "prometheus" / "targets"
        file_sd.mkdir(parents=True, exist_ok=True)
        # Alertmanager needs the reconciler's URL, the reconciler needs Prometheus': start
        # Prometheus, then the reconciler, then Alertmanager, then point Prometheus at it.
        prometheus = stack.start_prometheus(self.workdir / "stack" / "prometheus",
                                            stack.prometheus_config(file_sd, rules, None))
        self.processes.append(prometheus)
        self.prometheus = prometheus
        env = {**os.environ, "RECONCILER_PROMETHEUS_URL": prometheus.url, "RECONCILER_API_TOKEN": self.token,
               "RECONCILER_ALERTMANAGER_TOKEN": self.token}
        self.service = Service(ServeOptions(repo=str(origin), workdir=work, port=0, poll_interval=1.0),
                               environ=env).start()
        alertmanager = stack.start_alertmanager(
            self.workdir / "stack" / "alertmanager",
            stack.alertmanager_config(self.service.url + "/webhooks/alertmanager", self.token))
        self.processes.append(alertmanager)
        (prometheus.log.parent / "prometheus.yml").write_text(
            stack.prometheus_config(file_sd, rules, alertmanager.url))
        stack.reload_prometheus(prometheus)
        self.say(f"Prometheus {prometheus.url} ({count} alert rules from the SLO files), "
                 f"Alertmanager {alertmanager.url}, reconciler {self.service.url}")

    def version_one(self) -> None:
        self.say("version 1.0.0: pushing the new image to dev (what a developer's CI does)")
        ctx = self.trigger("helloservice:1.0.0")
        self.contexts["v1"] = ctx
        for stage in ("dev", "staging"):
            run = self.finished(stage, "delivery", ctx)
            self.expect(run["result"] in ("pass", "warning"), f"{stage} delivery of 1.0.0 passed", run)
            self.say(f"{stage}: delivery of 1.0.0 {run['result']}; {self.score(stage, ctx)}")
        self.expect("helloservice:1.0.0" in self.show("staging", "values.yaml"),
                    "staging's values.yaml carries 1.0.0 (promotion commit)")
        waiting = self.wait(lambda: self.runs("production", ctx, state="waitingForApproval"),
                            "production to wait for approval")
        branch = contract.approval_branch("production", SERVICE, ctx)
        self.say(f"production waits for a reviewer: branch {branch} holds the change")
        from reconciler.tasks.approval import approve
        decision = approve(self.service.mirror, self.service.writer, waiting[0]["context"], stage="production")
        self.say(f"approved by merging {decision.branch} into production ({str(decision.commit)[:12]})")
        run = self.finished("production", "delivery", ctx)
        self.expect(run["result"] == "pass", "production delivery of 1.0.0 passed", run)
        self.say(f"production: 1.0.0 is live ({self.replicas()} replica)")

    def version_two(self) -> None:
        self.say("version 2.0.0 (with a latency regression): pushing to dev")
        ctx = self.trigger("helloservice:2.0.0")
        self.contexts["v2"] = ctx
        dev = self.finished("dev", "delivery", ctx)
        self.expect(dev["result"] in ("pass", "warning"), "dev's functional gate passes 2.0.0", dev)
        self.say(f"dev: delivery of 2.0.0 {dev['result']} (functional gate); {self.score('dev', ctx)}")
        staging = self.finished("staging", "delivery", ctx)
        self.expect(staging["result"] == "fail", "staging's performance gate fails 2.0.0", staging)
        self.say(f"staging: delivery of 2.0.0 FAILED the quality gate; {self.score('staging', ctx)}")
        rollback = self.finished("staging", "rollback", ctx)
        self.expect(rollback["result"] == "pass", "the staging rollback succeeded", rollback)
        self.expect("helloservice:1.0.0" in self.show("staging", "values.yaml"),
                    "staging is back on 1.0.0 (revert commit)")
        self.expect(not self.runs("production", ctx), "2.0.0 never reached production")
        self.say("staging: reverted to 1.0.0 by a revert commit; production never saw 2.0.0")

    def remediation(self) -> None:
        targets = self.service.targets.file_sd_dir / f"production-{SERVICE}.json"
        self.say(f"putting production under load ({self.timings.production_clients} clients) …")
        with open(self.workdir / "load.log", "wb") as log:  # the child keeps its own copy of the fd
            self.load = subprocess.Popen(
                [sys.executable, "-m", "reconciler.demo.loadgen", "--targets-file", str(targets), "--concurrency",
                 str(self.timings.production_clients), "--duration", "600s"],
                stdout=subprocess.DEVNULL, stderr=log)
        before = self.replicas()
        run = self.wait(lambda: self.runs("production", sequence="remediation"),
                        "the response-time alert to open a remediation", timeout=self.timings.step_timeout)[0]
        ctx = run["context"]
        self.contexts["remediation"] = ctx
        self.say("Alertmanager reported the problem; remediation started (get-action → action → evaluation)")
        self.wait(lambda: self.replicas() > before, "the scaling commit")
        self.say(f"remediation scaled production {before} → {self.replicas()} replicas by a commit to "
                 f"production:{SERVICE}/values.yaml")
        done = self.wait(lambda: [r for r in self.runs("production", ctx, sequence="remediation")
                                  if r["state"] in ("finished", "aborted", "timedOut")
                                  and r["id"] == max(x["id"] for x in self.runs("production", ctx,
                                                                               sequence="remediation"))
                                  and not [x for x in self.runs("production", ctx, sequence="remediation")
                                           if x["state"] not in ("finished", "aborted", "timedOut")]],
                         "the remediation loop to end", timeout=self.timings.step_timeout * 2)[0]
        evaluation = self.last_evaluation("production")
        self.expect(evaluation is not None and evaluation["result"] in ("pass", "warning"),
                    "the re-evaluation after scaling passed", {"run": done, "evaluation": evaluation})
        assert evaluation is not None   # expect() raised otherwise
        self.say(f"re-evaluation: {evaluation['result']} (score {evaluation['score']:.1f}) with "
                 f"{self.replicas()} replicas; remediation {done['result']}")
        self.load.terminate()
        self.load.wait(10)

    def report(self) -> None:
        self.out("\n=== audit trail (git log of the config repository) ===")
        for branch in ("main", "dev", "staging", "production"):
            self.out(f"\n--- {branch}")
            self.out(self.git("log", "--format=%h %an: %s", branch).rstrip())
        self.out(f"\n--- {contract.RESULTS_BRANCH} (newest 15 of "
                 f"{self.git('rev-list', '--count', contract.RESULTS_BRANCH).strip()})")
        self.out(self.git("log", "--format=%h %s", "-15", contract.RESULTS_BRANCH).rstrip())
        self.out("\n=== evaluations ===")
        for e in sorted(self.service.index.evaluations(limit=100), key=lambda e: e["path"]):
            self.out(f"{e['stage']:<11} {e['result']:<8} score {e['score']:6.1f}   {e['path']}")
        self.out("")

    def explore(self) -> None:
        self.say(f"--keep: everything keeps running. Web UI {self.service.url}/?token={self.token} ; Prometheus "
                 f"{self.prometheus.url} ; repo {self.origin} ; API token {self.token}")
        self.say("press Ctrl-C to stop")
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            def interrupt(*_):
                raise KeyboardInterrupt
            signal.signal(signal.SIGTERM, interrupt)      # `kill` stops it as cleanly as Ctrl-C
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stop()

    def _log_to(self, path: Path) -> None:
        """The reconciler's own log (warnings and errors) goes to a file in the work dir."""
        handler = logging.FileHandler(path)
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("reconciler")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        self._log_handler: logging.FileHandler | None = handler

    def stop(self) -> None:
        handler = getattr(self, "_log_handler", None)
        if handler is not None:
            logging.getLogger("reconciler").removeHandler(handler)
            handler.close()
            self._log_handler = None
        if self.load is not None and self.load.poll() is None:
            self.load.kill()
            self.load.wait(10)
        if self.service is not None:
            self.service.stop()
            self.service = None
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    # == helpers =================================================================================

    def _apply_timings(self, layout: Path) -> None:
        t = self.timings
        for stage, duration in (("dev", t.functional), ("staging", t.performance)):
            job = layout / stage / SERVICE / "job" / "config.yaml"
            if job.exists():
                text = job.read_text()
                for old in ('"8s"', '"10s"', '"12s"'):
                    text = text.replace(f"--duration, {old}", f'--duration, "{duration}"')
                job.write_text(text)
        shipyard = layout / "main" / "shipyard.yaml"
        text = shipyard.read_text().replace('triggeredAfter: "20s"', f'triggeredAfter: "{t.remediation_after}"')
        shipyard.write_text(text.replace('timeframe: "15s"', f'timeframe: "{t.remediation_window}"'))

    def trigger(self, image: str) -> str:
        from reconciler.engine.events import context_uuid
        from reconciler.gitstore.values import commit_values
        result = commit_values(self.service.writer, "dev", SERVICE, {"image": image},
                               author=("Demo Developer", "developer@example.com"))
        self.expect(result.created, f"the push of {image}")
        return context_uuid(f"dev:{SERVICE}:{result.oid}")

    def runs(self, stage: str, context: str | None = None, *, sequence: str | None = None,
             state: str | None = None) -> list[dict]:
        rows = self.service.index.runs(stage=stage, service=SERVICE, context=context, limit=1000)
        return [r for r in rows if (sequence is None or r["sequence"] == sequence)
                and (state is None or r["state"] == state)]

    def finished(self, stage: str, sequence: str, context: str) -> dict:
        return self.wait(lambda: [r for r in self.runs(stage, context, sequence=sequence)
                                  if r["state"] in ("finished", "aborted", "timedOut")],
                         f"{stage}.{sequence} of context {context[:8]} to finish")[0]

    def score(self, stage: str, context: str) -> str:
        for e in self.service.index.evaluations(stage=stage, service=SERVICE, limit=50):
            if e["context"] == context:
                return f"quality gate {e['result']}, score {e['score']:.1f}"
        return "no evaluation recorded"

    def last_evaluation(self, stage: str) -> dict | None:
        found = self.service.index.evaluations(stage=stage, service=SERVICE, limit=1)
        return found[0] if found else None

    def show(self, branch: str, rel: str) -> str:
        return self.git("show", f"{branch}:{SERVICE}/{rel}")

    def replicas(self) -> int:
        from reconciler.spec import yamltext
        values = yamltext.load(self.show("production", "values.yaml")) or {}
        return int(values.get("replicaCount", 1))

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.origin, capture_output=True, text=True, check=True).stdout

    def expect(self, condition: bool, what: str, seen: Any = None) -> None:
        if not condition:
            raise DemoFailed(f"expected: {what}" + (f"; seen: {json.dumps(seen, default=str)[:800]}" if seen else ""))


def _example_dir() -> Path:
    for candidate in (Path(__file__).resolve().parents[1] / "_example", ROOT / "example-config-repo"):
        if (candidate / "main" / contract.SHIPYARD_FILE).exists():
            return candidate
    raise DemoFailed("the example config repo is missing from this installation")
