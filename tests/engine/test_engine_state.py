"""Runs survive a JSON round trip mid-flight: a restarted controller continues identically."""
import json

import pytest
from engine_harness import BASE_TIME, Sim, answer, ctx, scripted, trigger
from test_engine_sequencer import DELIVERY

from reconciler.engine.commands import DispatchTask, Promote, ResolveCommit
from reconciler.engine.inputs import Control, EventReceived
from reconciler.engine.sequencer import resume_commands, step
from reconciler.engine.state import StateFormatError
from reconciler.engine.world import World


def busy_sim() -> Sim:
    """Several contexts at once: queueing, a failing gate with rollback, promotions, a manual
    approval, the remediation loop with triggeredAfter, and pause/resume."""
    def results(d):
        if d.stage == "staging" and d.task == "evaluation":
            return "fail" if d.context == ctx("c2") else "pass"
        if d.stage == "production" and d.task == "evaluation":
            return "fail"
        return "pass"
    sim = Sim.of(DELIVERY, executor=scripted(results, actions=2))
    for name, stage, service, seq in (("c1", "dev", "carts", "delivery"), ("c2", "dev", "carts", "delivery"),
                                      ("c3", "dev", "orders", "delivery"),
                                      ("r1", "production", "carts", "remediation")):
        sim.pending.append(EventReceived(trigger(stage, seq, service=service, context=ctx(name),
                                                 change=None if seq == "remediation" else f"change-{name}")))
    sim.pending.append(Control(ctx("c3"), "pause"))
    sim.drain()
    sim.pending.append(Control(ctx("c3"), "resume"))
    sim.drain()
    return sim


def reload(world: World) -> World:
    docs = [json.loads(world.document_json(*key)) for key in world.lane_files()]
    controls = json.loads(json.dumps(world.controls_document()))
    return World.load(docs, shipyard=world.shipyard, timeouts=world.timeouts, project=world.project,
                      controls=controls)


def texts(world: World) -> list[str]:
    return [world.document_json(*key) for key in world.lane_files()]


def test_the_busy_scenario_finishes_everything():
    sim = busy_sim()
    assert all(r.terminal for r in sim.runs())
    chains = {c: [(r.stage, r.sequence, r.result) for r in sim.runs(ctx(c))] for c in ("c1", "c2", "c3", "r1")}
    assert chains["c1"] == [("dev", "delivery", "pass"), ("staging", "delivery", "pass"),
                            ("production", "delivery", "pass")]
    assert chains["c2"] == [("dev", "delivery", "pass"), ("staging", "delivery", "fail"),
                            ("staging", "rollback", "pass")]
    assert chains["r1"] == [("production", "remediation", "fail")] * 3
    assert len(sim.escalations()) == 1


def test_round_trip_at_every_point_resumes_identically():
    """Cut the recorded inputs after every single input, reload the world from JSON, and
    continue: the commands and the final documents are exactly those of the uncut run."""
    recorded = busy_sim().inputs
    assert len(recorded) > 50
    shipyard = busy_sim().world.shipyard
    states_seen = set()
    for cut in range(1, len(recorded)):
        original = World(shipyard, None, "sockshop")
        for inp, now in recorded[:cut]:
            step(original, inp, now)
        states_seen |= {r.state for r in original.runs.values()}
        restored = reload(original)
        assert texts(restored) == texts(original)
        for inp, now in recorded[cut:]:
            _, expected = step(original, inp, now)
            _, got = step(restored, inp, now)
            assert got == expected, f"cut after input {cut}"
        assert texts(restored) == texts(original)
    # the cuts covered every kind of mid-flight state
    assert states_seen >= {"triggered", "started", "waitingForApproval", "paused", "finished"}


def test_documents_are_plain_json_and_stable():
    sim = busy_sim()
    docs = list(sim.world.documents())
    assert {(d["stage"], d["service"], d["context"]) for d in docs} >= {("dev", "carts", ctx("c1"))}
    for doc in docs:
        assert doc["kind"] == "SequenceLane" and doc["version"] == 1
        text = json.dumps(doc, sort_keys=True)
        assert json.loads(text) == doc
    c2_staging = sim.world.document("staging", "carts", ctx("c2"))
    assert [r["sequence"] for r in c2_staging["runs"]] == ["delivery", "rollback"]
    run = c2_staging["runs"][0]
    assert run["definition"]["tasks"][0]["name"] == "deployment"       # the snapshot
    assert run["trigger"]["type"] == "sh.keptn.event.staging.delivery.triggered"
    assert run["events"][-1]["type"] == "sh.keptn.event.staging.delivery.finished"


def test_the_text_fast_path_writes_the_same_document():
    sim = busy_sim()
    for key in sim.world.lane_files():
        assert json.loads(sim.world.document_json(*key)) == sim.world.document(*key)


def test_recorded_events_decode_back_to_cloud_events():
    sim = busy_sim()
    run = sim.world.runs_of(ctx("c1"))[0]
    events = run.cloud_events()
    assert [e.type.rsplit(".", 2)[-2:] for e in events][:2] == [["deployment", "triggered"], ["deployment", "started"]]
    assert events[-1].type == "sh.keptn.event.dev.delivery.finished"
    assert events[0].id == run.tasks[0].triggered_id


def test_resume_commands_repeat_what_was_in_flight():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))                      # deployment dispatched
    sim.feed(trigger("staging", context=ctx(2), gitcommitid=None))  # waits for its commit
    d = [c for c in sim.commands if isinstance(c, DispatchTask)][0]
    sim.feed(answer(d, "started"))
    world = reload(sim.world)
    cmds = resume_commands(world)
    assert [type(c) for c in cmds] == [DispatchTask, ResolveCommit]
    assert cmds[0].redelivery and cmds[0].key == d.key and cmds[0].event == d.event
    assert cmds[1].key == f"{ctx(2)}/staging/0/-/commit"


def test_resume_commands_repeat_a_pending_promotion():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))
    for _ in range(4):
        d = [c for c in sim.commands if isinstance(c, DispatchTask)][-1]
        sim.feed(answer(d, "finished"))
    (promote,) = [c for c in sim.commands if isinstance(c, Promote)]
    assert resume_commands(reload(sim.world)) == [promote]


def test_a_restored_world_keeps_rejecting_applied_answers_and_knows_the_lanes():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))
    sim.feed(trigger("dev", context=ctx(2)))
    d = [c for c in sim.commands if isinstance(c, DispatchTask)][0]
    started = answer(d, "started")
    sim.feed(started)
    world = reload(sim.world)
    assert step(world, EventReceived(started), BASE_TIME)[1] == []
    assert [r.state for r in world.lane("dev", "carts")] == ["started", "triggered"]
    assert world.queue_position(world.runs_of(ctx(2))[0]) == 1


def test_pause_registry_round_trips():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(Control(ctx(1), "pause", stage="staging"))
    world = reload(sim.world)
    assert world.paused == {ctx(1): frozenset({"staging"})}
    step(world, EventReceived(trigger("staging", context=ctx(1))), BASE_TIME)
    assert world.runs_of(ctx(1))[0].state == "paused"


def test_forget_and_admit_a_finished_context():
    sim = busy_sim()
    world = sim.world
    docs = [world.document("dev", "carts", ctx("c1"))]
    assert world.forget(ctx("c1"))
    assert world.runs_of(ctx("c1")) == []
    assert [r.id for r in world.admit(docs)] == [f"{ctx('c1')}/dev/0"]
    assert world.admit(docs) == []


def test_forget_keeps_active_contexts():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))
    assert not sim.world.forget(ctx(1)) and sim.world.runs_of(ctx(1))


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(version=2), "field 'version' is 2"),
    (lambda d: d.update(kind="Other"), "not a SequenceLane document"),
    (lambda d: d.update(runs={}), "field 'runs' must be a list"),
    (lambda d: d["runs"][0].pop("trigger"), "field 'trigger' is missing"),
    (lambda d: d["runs"][0].update(state="sleeping"), "unknown state 'sleeping'"),
    (lambda d: d["runs"][0].update(queue=[1]), "'queue' must be a list of three integers"),
    (lambda d: d["runs"][0].update(index=7), "'id' does not match"),
    (lambda d: d.update(service="orders"), "does not belong to this lane document"),
    (lambda d: d["runs"][0]["tasks"][0].update(state="odd"), "unknown state 'odd'"),
    (lambda d: d["runs"][0]["events"].append({"id": 1}), "not a CloudEvent"),
])
def test_unusable_documents_are_refused_naming_the_field(mutate, message):
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))
    doc = json.loads(json.dumps(sim.world.document("dev", "carts", ctx(1))))
    mutate(doc)
    with pytest.raises(StateFormatError, match=message):
        World.load([doc])


def test_the_same_run_twice_is_refused():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev", context=ctx(1)))
    doc = sim.world.document("dev", "carts", ctx(1))
    with pytest.raises(StateFormatError, match="appears in two lane documents"):
        World.load([doc, doc])
