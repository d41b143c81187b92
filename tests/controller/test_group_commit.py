"""Issue 14 item 2: group commit. A busy lane writes one results commit per task (not one per
transition), every dispatch is on the remote's results branch before its executor runs, and what
a group commit still holds when the controller stops is recorded."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from reconciler import contract
from reconciler.controller import journal as J
from reconciler.engine.events import CloudEvent, sequence_type
from reconciler.gitstore.seed import seed_bare_repo
from reconciler.runtime.service import ServeOptions, Service
from reconciler.tasks.base import TaskOutcome
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: group}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: deployment}, {name: test}, {name: release}]
"""
TASKS = 3


def make_origin(base: Path) -> Path:
    layout = base / "layout"
    (layout / "main").mkdir(parents=True)
    (layout / "main" / "shipyard.yaml").write_text(SHIPYARD)
    (layout / "main" / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Settings\nmetadata: {name: group}\nspec:\n  stages: {dev: {target: none}}\n")
    (layout / "dev" / "svc").mkdir(parents=True)
    (layout / "dev" / "svc" / "values.yaml").write_text("image: svc:1.0.0\n")
    origin = base / "config.git"
    seed_bare_repo(origin, layout)
    return origin


def trigger(n: int) -> CloudEvent:
    return CloudEvent(type=sequence_type("dev", "delivery", "triggered"),
                      data={"project": "group", "stage": "dev", "service": "svc"},
                      shkeptncontext=f"00000000-0000-4000-8000-{n:012d}", id=f"trigger-{n}",
                      time="2026-01-01T00:00:00.000Z")


def recorded_events(origin: Path, context: str) -> list[dict]:
    """The events of `context`'s lane file on the remote's results branch ([] before it exists)."""
    try:
        text = git_out("show", f"{contract.RESULTS_BRANCH}:{J.lane_path('dev', 'svc', context)}", cwd=origin)
    except Exception:  # noqa: BLE001 - not recorded yet
        return []
    events = [e for run in json.loads(text)["runs"] for e in run["events"]]
    return [json.loads(e) if isinstance(e, str) else e for e in events]


class CheckingExecutor:
    """Answers `pass` at once, after checking that its dispatch is already on the remote's
    results branch (the record before the effect). The first run waits for `gate`."""

    name = "checking"

    def __init__(self, origin: Path, gate: threading.Event):
        self.origin = origin
        self.gate = gate
        self.runs = 0
        self.unrecorded: list[str] = []
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def applies(self, request, env) -> bool:
        return True

    def run(self, request, env) -> TaskOutcome:
        if request.event.id not in {e["id"] for e in recorded_events(self.origin, request.context)}:
            self.unrecorded.append(request.key)
        with self._lock:
            self.runs += 1
        self.entered.set()
        self.gate.wait(30)
        return TaskOutcome(result="pass")


class Executors:
    def __init__(self, executor: CheckingExecutor):
        self.executor = executor

    def executors_for(self, request, env):
        return [self.executor]

    def promote(self, command, env):
        raise AssertionError("no promotions here")

    def decide_approval(self, request, pending, env):
        return None


def start(origin: Path, work: Path, executor: CheckingExecutor, window: float) -> Service:
    options = ServeOptions(repo=str(origin), workdir=work, port=0, poll_interval=0, watch=False, workers=2,
                           group_window=window)
    return Service(options, executors=Executors(executor), environ={"RECONCILER_API_TOKEN": "t"}).start()


def finished(service: Service) -> int:
    return service.reader.db.execute("SELECT COUNT(*) FROM runs WHERE state = 'finished'").fetchone()[0]


def test_a_busy_lane_writes_one_results_commit_per_task_and_records_each_dispatch_first(tmp_path):
    sequences = 8
    origin = make_origin(tmp_path)
    gate = threading.Event()
    executor = CheckingExecutor(origin, gate)
    # a window far longer than the test: every commit is one the rules ask for, none a timeout
    service = start(origin, tmp_path / "work", executor, window=60.0)
    try:
        before = service.metrics.batches._value.get()   # noqa: SLF001
        futures = [service.controller.submit_event(trigger(n)) for n in range(sequences)]
        assert executor.entered.wait(30)        # the first task runs; the other triggers queue in the lane
        gate.set()
        assert all(f.result(30).accepted for f in futures)
        wait_until(lambda: executor.runs >= TASKS * sequences, timeout=60)

        def all_recorded() -> bool:
            # an API answer needs the record: it makes the controller commit what it holds
            service.controller.submit_control("no-such-context", "pause").result(30)
            return finished(service) >= sequences
        wait_until(all_recorded, timeout=60)
        commits = service.metrics.batches._value.get() - before   # noqa: SLF001
    finally:
        service.stop()
    assert executor.unrecorded == []
    # one commit per task dispatch (its .started, .finished and the next dispatch share it), plus
    # the last sequence's .finished; without group commit this lane writes ~2 per task
    assert commits <= TASKS * sequences + 1, commits


def test_a_stop_records_what_a_group_commit_holds(tmp_path):
    origin = make_origin(tmp_path)
    gate = threading.Event()
    executor = CheckingExecutor(origin, gate)
    service = start(origin, tmp_path / "work", executor, window=60.0)
    stopping = threading.Thread(target=service.stop)
    try:
        assert service.controller.submit_event(trigger(1)).result(30).accepted
        assert executor.entered.wait(30)
        # the task's .started is held: its executor runs, and nothing waits for the record
        wait_until(lambda: service.controller._held_since is not None and service.controller._inbox.qsize() == 0,
                   timeout=30)
        assert "sh.keptn.event.deployment.started" not in types(origin, trigger(1).shkeptncontext)
        stopping.start()
        wait_until(lambda: not service.controller._thread.is_alive(), timeout=30)
    finally:
        gate.set()
        if stopping.ident:
            stopping.join(60)
        else:
            service.stop()
    assert "sh.keptn.event.deployment.started" in types(origin, trigger(1).shkeptncontext)


def types(origin: Path, context: str) -> list[str]:
    return [e["type"] for e in recorded_events(origin, context)]
