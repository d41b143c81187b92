"""Approvals found again after a restart (engine.approvals), from a world the sequencer built."""
from engine_harness import Sim, answer, ctx, trigger

from reconciler.engine.approvals import waiting_approvals
from reconciler.engine.world import World


def last_dispatch(sim):
    return sim.dispatches()[-1]

SHIPYARD = [{"name": "prod", "sequences": [{"name": "delivery", "tasks": [
    {"name": "deployment"}, {"name": "approval", "properties": {"pass": "manual", "warning": "manual"}},
    {"name": "release"}]}]}]


def test_a_run_waiting_for_approval_is_found_with_its_trigger_and_started_data():
    sim = Sim.of(SHIPYARD, auto=False)
    c = ctx(1)
    sim.feed(trigger("prod", context=c))
    d = last_dispatch(sim)
    sim.feed(answer(d, "finished"))
    approval = last_dispatch(sim)
    assert approval.task == "approval"
    assert waiting_approvals(sim.world) == []                  # triggered, not yet waiting
    sim.feed(answer(approval, "started", data={"approval": {"branch": "approve/prod/carts/x"}}))
    (waiting,) = waiting_approvals(sim.world)
    assert (waiting.run_id, waiting.context, waiting.stage, waiting.service, waiting.task) == (
        approval.run_id, c, "prod", "carts", "approval")
    assert waiting.trigger.id == approval.event.id
    assert waiting.started["approval"] == {"branch": "approve/prod/carts/x"}
    assert waiting.key == f"{approval.run_id}/1/dispatch"
    # the same answer from a world loaded from the documents (what a restart sees)
    restarted = World.load(list(sim.world.documents()), shipyard=sim.world.shipyard)
    assert waiting_approvals(restarted) == [waiting]
    sim.feed(answer(approval, "finished", id="decided"))
    assert waiting_approvals(sim.world) == []
