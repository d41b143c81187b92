"""The executors against the real sequencer: a delivery through dev, then a manual approval
that carries the promotion into staging, decided by a merge. What the controller does in
between (turn outcomes into `.started`/`.finished`, carry out Promote and ResolveCommit) is
done here in a few lines, the same way, so the contract between the two sides is exercised
with real Git and the pure engine."""
from __future__ import annotations

from typing import Any

from reconciler.engine.commands import DispatchTask, Promote, ResolveCommit
from reconciler.engine.events import CloudEvent, derived_id, sequence_type, task_type
from reconciler.engine.inputs import CommitResolved, EventReceived
from reconciler.engine.sequencer import step
from reconciler.engine.state import WAITING_FOR_APPROVAL
from reconciler.engine.world import World
from reconciler.spec import yamltext
from reconciler.spec.shipyard import Shipyard
from reconciler.tasks.approval import decide
from reconciler.tasks.base import Pending, TaskRequest
from reconciler.tasks.common import safe_run
from reconciler.tasks.promotion import promote
from reconciler.tasks.registry import executors_for
from tests.support.remotes import git
from tests.support.taskenv import CONTEXT, stage_branches, values_yaml

SHIPYARD = """\
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: shop}
spec:
  stages:
    - name: dev
      sequences: [{name: delivery, tasks: [{name: deployment}, {name: release}]}]
    - name: staging
      sequences:
        - name: delivery
          triggeredOn: [{event: dev.delivery.finished}]
          tasks: [{name: approval, properties: {pass: manual}}, {name: deployment}]
"""
NOW = 1_700_000_000.0


class Controller:
    """Just enough of the controller: dispatch to executors, answer engine commands."""

    def __init__(self, env) -> None:
        self.env = env
        self.world = World(Shipyard.from_data(yamltext.load(SHIPYARD)), project="shop")
        self.pending: dict[str, tuple[TaskRequest, dict[str, Any]]] = {}
        self.finished: list[CloudEvent] = []

    def feed(self, inp) -> None:
        work = [inp]
        while work:
            self.world, commands = step(self.world, work.pop(0), NOW)
            for command in commands:
                if isinstance(command, DispatchTask):
                    work += self.dispatch(command)
                elif isinstance(command, ResolveCommit):
                    work.append(CommitResolved(command.run_id, self.env.mirror.tip(command.stage)))
                elif isinstance(command, Promote):
                    work.append(promote(command, self.env))
                elif hasattr(command, "event") and command.event.type.endswith(".finished"):
                    self.finished.append(command.event)

    def dispatch(self, d: DispatchTask) -> list[EventReceived]:
        request = TaskRequest(event=d.event, key=d.key, run_id=d.run_id, context=d.context, stage=d.stage,
                              service=d.service, task=d.task)
        out = []
        for executor in executors_for(request, self.env):
            outcome = safe_run(executor, request, self.env)
            if isinstance(outcome, Pending):
                self.pending[d.run_id] = (request, dict(outcome.data))
                out.append(self.answer(request, executor.name, "started", dict(outcome.data), None))
            else:
                data = {"result": outcome.result, "status": outcome.status, "message": outcome.message,
                        **outcome.data}
                out.append(self.answer(request, executor.name, "finished", data, outcome.gitcommitid))
        return out

    def answer(self, request: TaskRequest, source: str, kind: str, extra: dict[str, Any],
               gitcommitid: str | None) -> EventReceived:
        data = {"project": request.project, "stage": request.stage, "service": request.service, **extra}
        return EventReceived(CloudEvent(type=task_type(request.task, kind), data=data, shkeptncontext=request.context,
                                        id=derived_id(request.key, source, kind), source=f"reconciler/{source}",
                                        time="2026-01-01T00:00:00.000Z",
                                        triggeredid=request.event.id, gitcommitid=gitcommitid or request.commit))

    def tips_changed(self) -> None:
        self.env.refresh()
        for run_id, (request, data) in list(self.pending.items()):
            outcome = decide(data, request, self.env)
            if outcome is not None:
                del self.pending[run_id]
                self.feed(self.answer(request, "approval", "finished",
                                      {"result": outcome.result, "status": outcome.status,
                                       "message": outcome.message, **outcome.data}, outcome.gitcommitid))


def test_delivery_then_manual_approval_carries_the_promotion(make_env, human_factory):
    env, origin = make_env(stage_branches())
    human = human_factory(origin.url, "dev")
    base = human.head()
    commit = human.change("carts/values.yaml", values_yaml("carts:2.0", 1, "dev only"))
    env.refresh()
    controller = Controller(env)
    trigger = CloudEvent(type=sequence_type("dev", "delivery", "triggered"),
                         data={"project": "shop", "stage": "dev", "service": "carts",
                               "configurationChange": {"commit": commit, "base": base}},
                         shkeptncontext=CONTEXT, id="trigger-1", time="2026-01-01T00:00:00.000Z",
                         gitcommitid=commit)

    controller.feed(EventReceived(trigger))

    assert env.target_impl.calls == [("deploy", "dev", "carts", commit)]
    [dev_finished] = [e for e in controller.finished if e.type == "sh.keptn.event.dev.delivery.finished"]
    assert dev_finished.data["result"] == "pass"
    staging_run = next(r for r in controller.world.runs.values() if r.stage == "staging")
    assert staging_run.state == WAITING_FOR_APPROVAL                 # the lane is free meanwhile
    [(request, pending)] = controller.pending.values()
    branch = pending["approval"]["branch"]

    controller.tips_changed()                                        # nothing decided yet
    assert staging_run.state == WAITING_FOR_APPROVAL

    reviewer = human_factory(origin.url, "staging")
    git("fetch", "-q", "origin", cwd=reviewer.path)
    git("merge", "-q", "--ff-only", f"origin/{branch}", cwd=reviewer.path)
    reviewer.push("staging")
    controller.tips_changed()

    approved = pending["approval"]["commit"]
    assert env.target_impl.calls[-1] == ("deploy", "staging", "carts", approved)
    deployed = env.target_impl.deployed[("staging", "carts")]
    assert deployed.values["image"] == "carts:2.0" and deployed.values["replicaCount"] == 2   # promoted, stage value kept
    [staging_finished] = [e for e in controller.finished if e.type == "sh.keptn.event.staging.delivery.finished"]
    assert staging_finished.data["result"] == "pass"
    assert staging_run.promotion is not None and staging_run.promotion.landed == approved
