"""The sequencer, rule by rule (Keptn f.1–f.7 and our fixes), with a simulated controller."""
import pytest
from engine_harness import BASE_TIME, Sim, answer, ctx, scripted, shipyard, trigger

from reconciler.engine.commands import (
    ControlsChanged,
    DispatchTask,
    EmitEvent,
    Promote,
    Rejected,
    ResolveCommit,
    RunsChanged,
)
from reconciler.engine.events import CloudEvent
from reconciler.engine.inputs import CommitResolved, ConfigChanged, Control, EventReceived, PromotionFinished, Tick
from reconciler.engine.sequencer import step
from reconciler.engine.world import World
from reconciler.spec.settings import TimeoutSettings

DELIVERY = [
    {"name": "dev", "sequences": [
        {"name": "delivery", "tasks": [
            {"name": "deployment", "properties": {"deploymentstrategy": "direct"}},
            {"name": "test", "properties": {"teststrategy": "functional"}},
            {"name": "evaluation"},
            {"name": "release"}]},
        {"name": "empty", "tasks": []},
    ]},
    {"name": "staging", "sequences": [
        {"name": "delivery", "triggeredOn": [{"event": "dev.delivery.finished"}],
         "tasks": [{"name": "deployment"}, {"name": "evaluation"}, {"name": "release"}]},
        {"name": "rollback", "triggeredOn": [{"event": "staging.delivery.finished",
                                              "selector": {"match": {"result": "fail"}}}],
         "tasks": [{"name": "rollback"}]},
    ]},
    {"name": "production", "sequences": [
        {"name": "delivery", "triggeredOn": [{"event": "staging.delivery.finished"}],
         "tasks": [{"name": "approval", "properties": {"pass": "automatic", "warning": "manual"}},
                   {"name": "deployment"}, {"name": "release"}]},
        {"name": "remediation",
         "triggeredOn": [{"event": "production.remediation.finished",
                          "selector": {"match": {"evaluation.result": "fail"}}}],
         "tasks": [{"name": "get-action"}, {"name": "action"},
                   {"name": "evaluation", "triggeredAfter": "10m", "properties": {"timeframe": "10m"}}]},
    ]},
]


def manual(sim_or_world=None, **kw):
    """A Sim that does not answer dispatches by itself (the test plays the executor)."""
    return Sim.of(DELIVERY, auto=False, **kw)


def last_dispatch(sim, task=None):
    cmds = [c for c in sim.commands if isinstance(c, DispatchTask) and (task is None or c.task == task)]
    return cmds[-1]


def finish(sim, d, result="pass", status="succeeded", *, started=True, source="executor", **kw):
    out = []
    if started:
        out += sim.feed(answer(d, "started", source=source))
    out += sim.feed(answer(d, "finished", result=result, status=status, source=source, **kw))
    return out


# -- data flow ----------------------------------------------------------------------------------

def test_task_triggered_data_merges_trigger_earlier_results_and_properties():
    sim = manual()
    sim.feed(trigger("dev", data={"labels": {"team": "a"}, "message": "from the trigger",
                                  "configurationChange": {"commit": "c0", "values": {"image": "carts:1"}}}))
    d0 = last_dispatch(sim)
    assert d0.task == "deployment" and d0.event.gitcommitid == "c0"
    assert d0.event.data == {"project": "sockshop", "stage": "dev", "service": "carts", "labels": {"team": "a"},
                             "configurationChange": {"commit": "c0", "values": {"image": "carts:1"}},
                             "deployment": {"deploymentstrategy": "direct"}}
    finish(sim, d0, "warning", data={"deployment": {"deploymentURIsLocal": ["http://x"]}, "message": "slow",
                                     "configurationChange": {"values": {"tag": "1"}}})
    d1 = last_dispatch(sim)
    finish(sim, d1, data={"test": {"start": "t0", "end": "t1"}})
    d2 = last_dispatch(sim)
    assert d2.task == "evaluation"
    assert d2.event.data == {
        "project": "sockshop", "stage": "dev", "service": "carts", "labels": {"team": "a"},
        "configurationChange": {"commit": "c0", "values": {"image": "carts:1", "tag": "1"}},
        # only .finished data flows on; a task's properties are in its own .triggered only
        "deployment": {"deploymentURIsLocal": ["http://x"]},
        "test": {"start": "t0", "end": "t1"},
        "result": "pass", "status": "succeeded",       # of the last completed task, not the warning
    }
    assert d1.event.data["test"] == {"teststrategy": "functional"} and d1.event.data["result"] == "warning"
    assert all(d.event.gitcommitid == "c0" for d in sim.dispatches())
    assert all(d.event.shkeptncontext == d0.context for d in sim.dispatches())


def test_an_executor_changing_its_event_data_cannot_change_the_run():
    sim = manual()
    sim.feed(trigger("dev", data={"configurationChange": {"commit": "c0", "values": {"image": "v1"}}}))
    d = last_dispatch(sim)
    d.event.data["configurationChange"]["values"]["image"] = "evil"
    d.event.data["stage"] = "production"
    run = sim.world.runs_of(d.context)[0]
    assert run.data["configurationChange"]["values"]["image"] == "v1"
    assert run.cloud_events()[-1].data["configurationChange"]["values"]["image"] == "v1"
    finish(sim, d)
    assert last_dispatch(sim).event.data["configurationChange"]["values"]["image"] == "v1"


def test_a_finished_event_may_move_the_commit_later_tasks_read():
    sim = manual()
    sim.feed(trigger("dev"))
    finish(sim, last_dispatch(sim), gitcommitid="scaled-1")
    assert last_dispatch(sim).event.gitcommitid == "scaled-1"
    assert sim.world.runs_of(last_dispatch(sim).context)[0].gitcommitid == "scaled-1"


def test_sequence_finished_carries_last_task_result_status_and_message():
    sim = Sim.of(DELIVERY, executor=scripted({"release": "warning"}))
    ev = trigger("dev", sequence="delivery")
    sim.feed(ev)
    sim.drain()
    finished = [e for e in sim.emitted("dev.delivery.finished")]
    assert len(finished) == 1
    assert finished[0].triggeredid == ev.id
    assert (finished[0].data["result"], finished[0].data["status"]) == ("warning", "succeeded")
    run = sim.runs(ev.shkeptncontext)[0]
    assert (run.state, run.result, run.status) == ("finished", "warning", "succeeded")


# -- completion and aggregation -----------------------------------------------------------------

@pytest.mark.parametrize("script,completes,result", [
    ([("A", "started"), ("A", "finished", "pass")], True, "pass"),
    ([("A", "finished", "pass")], True, "pass"),                       # our fix: no .started needed
    ([("A", "started"), ("B", "started"), ("A", "finished", "pass")], False, None),
    ([("A", "started"), ("B", "started"), ("A", "finished", "pass"), ("B", "finished", "warning")], True, "warning"),
    ([("A", "started"), ("B", "finished", "pass")], False, None),      # A started and has not finished
    ([("A", "started"), ("B", "finished", "fail"), ("A", "finished", "pass")], True, "fail"),
])
def test_task_completes_when_every_started_source_finished(script, completes, result):
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    for entry in script:
        source, kind = entry[0], entry[1]
        res = entry[2] if len(entry) > 2 else "pass"
        sim.feed(answer(d, kind, result=res, source=source))
    task = sim.world.runs_of(d.context)[0].tasks[0]
    assert (task.state == "done") is completes
    assert task.result == result


@pytest.mark.parametrize("result,status,continues", [
    ("pass", "succeeded", True), ("warning", "succeeded", True), ("fail", "succeeded", False),
    ("pass", "errored", False), ("pass", "unknown", False),
])
def test_fail_or_errored_stops_the_sequence_warning_continues(result, status, continues):
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    finish(sim, d, result, status)
    run = sim.world.runs_of(d.context)[0]
    if continues:
        assert run.state == "started" and last_dispatch(sim).task == "test"
    else:
        assert run.state == "finished" and len(sim.dispatches()) == 1
        assert run.result == "fail" and run.status == ("unknown" if status == "unknown" else status)


# -- triggering ----------------------------------------------------------------------------------

def test_unknown_stage_finishes_errored_and_is_recorded():
    # Keptn 1.4.5 answers a trigger for a stage it does not know with <stage>.<sequence>.finished
    # errored/fail; so do we, and the run is kept like any other (its lane file is the record).
    sim = manual()
    ev = trigger("qa")
    cmds = sim.feed(ev)
    (run,) = sim.runs()
    assert (run.stage, run.state, run.result, run.status) == ("qa", "finished", "fail", "errored")
    assert "stage 'qa' is not in shipyard.yaml" in run.message
    (finished,) = sim.emitted("qa.delivery.finished")
    assert finished.triggeredid == ev.id and finished.data["status"] == "errored"
    assert any(isinstance(c, RunsChanged) for c in cmds)
    assert sim.dispatches() == []
    assert sim.feed(ev) == []                     # the same event again: nothing


def test_a_stage_name_that_is_not_a_keptn_name_finishes_without_a_run():
    sim = manual()
    cmds = sim.feed(trigger("QA_1"))
    (emit,) = [c for c in cmds if isinstance(c, EmitEvent)]
    assert (emit.event.data["result"], emit.event.data["status"]) == ("fail", "errored")
    assert emit.run_id == "" and sim.world.runs == {}


@pytest.mark.parametrize("sequence,message", [
    ("nope", "sequence 'nope' is not defined in stage 'dev'"),
    ("empty", "sequence 'empty' in stage 'dev' does not contain any tasks"),
])
def test_unknown_or_empty_sequence_finishes_errored(sequence, message):
    sim = manual()
    ev = trigger("dev", sequence=sequence)
    sim.feed(ev)
    (run,) = sim.runs()
    assert (run.state, run.result, run.status) == ("finished", "fail", "errored")
    assert message in run.message
    assert sim.emitted(f"dev.{sequence}.finished")[0].triggeredid == ev.id
    assert sim.dispatches() == []


def test_no_valid_shipyard_fails_closed():
    sim = Sim(World(None, None, "p"), auto=False)
    cmds = sim.feed(trigger("dev"))
    (emit,) = [c for c in cmds if isinstance(c, EmitEvent)]
    assert emit.event.data["status"] == "errored" and "no valid shipyard.yaml" in emit.event.data["message"]


def test_implicit_evaluation_sequence():
    sim = Sim.of([{"name": "hardening"}])         # a stage without sequences (quality gates only)
    ev = trigger("hardening", sequence="evaluation", data={"evaluation": {"timeframe": "5m"}})
    sim.feed(ev)
    sim.drain()
    assert [d.task for d in sim.dispatches()] == ["evaluation"]
    assert sim.dispatches()[0].event.data["evaluation"] == {"timeframe": "5m"}
    assert sim.chain() == [("hardening", "evaluation", "pass")]


@pytest.mark.parametrize("data,code", [
    ({"service": "Carts"}, "invalid-service"),
    ({"service": "../x"}, "invalid-service"),
    ({"service": None}, "invalid-service"),
    ({"stage": "staging"}, "stage-mismatch"),
])
def test_invalid_triggers_are_rejected_with_a_reason(data, code):
    sim = manual()
    cmds = sim.feed(trigger("dev", data=data))
    assert [c.code for c in cmds if isinstance(c, Rejected)] == [code]
    assert sim.world.runs == {}


def test_context_must_be_a_uuid():
    sim = manual()
    cmds = sim.feed(trigger("dev", context="../../etc"))
    assert [c.code for c in cmds] == ["invalid-context"]


def test_other_event_types_are_rejected():
    sim = manual()
    for type_ in ("sh.keptn.event.dev.delivery.finished", "sh.keptn.event.deployment.triggered",
                  "sh.keptn.events.problem", "com.example"):
        cmds = sim.feed(CloudEvent(type=type_, data={}, shkeptncontext=ctx(1), id=type_, time="t"))
        assert [type(c) for c in cmds] == [Rejected]


# -- follow-ups -------------------------------------------------------------------------------

def test_pass_follows_the_stage_chain_and_promotes_into_each_stage():
    sim = Sim.of(DELIVERY)
    ev = trigger("dev", change="c-dev")
    sim.feed(ev)
    sim.drain()
    assert sim.chain(ev.shkeptncontext) == [("dev", "delivery", "pass"), ("staging", "delivery", "pass"),
                                            ("production", "delivery", "pass")]
    promotes = sim.of_type(Promote)
    assert [(p.source_stage, p.target_stage, p.commit) for p in promotes] == [("dev", "staging", "c-dev")]
    # staging promotes before its first task; production promotes through its approval
    staging = sim.dispatches(stage="staging")
    assert all(d.event.gitcommitid == "promoted-staging" for d in staging)
    (approval,) = sim.dispatches("approval")
    assert approval.event.data["approval"]["promotion"]["commit"] == "c-dev"
    assert approval.event.data["approval"]["promotion"]["sourceStage"] == "staging"
    assert approval.event.data["approval"]["pass"] == "automatic"
    assert approval.event.data["result"] == "pass"            # the previous stage's result
    assert approval.event.gitcommitid == "tip-production"     # resolved before the promotion
    later = sim.dispatches(stage="production")[1:]
    assert [d.event.gitcommitid for d in later] == ["landed-by-approval-production"] * 2


def test_follow_up_data_is_the_finished_runs_merged_data_with_stage_rewritten():
    sim = Sim.of(DELIVERY, executor=scripted(finished_data=lambda d: {d.task: {"done": d.stage}}))
    sim.feed(trigger("dev", data={"labels": {"k": "v"}}))
    sim.drain()
    (staging_trigger,) = sim.emitted("staging.delivery.triggered")
    data = staging_trigger.data
    assert data["stage"] == "staging" and data["labels"] == {"k": "v"}
    assert data["release"] == {"done": "dev"} and data["result"] == "pass"
    assert staging_trigger.gitcommitid is None       # the controller resolves the target's commit


def test_warning_follows_the_default_selector_fail_triggers_rollback():
    sim = Sim.of(DELIVERY, executor=scripted({("staging", "evaluation"): "fail"}))
    ev = trigger("dev", context=ctx("fail"))
    sim.feed(ev)
    sim.drain()
    assert sim.chain(ev.shkeptncontext) == [("dev", "delivery", "pass"), ("staging", "delivery", "fail"),
                                            ("staging", "rollback", "pass")]
    rollback = sim.runs(ev.shkeptncontext)[-1]
    assert rollback.promotion is None                 # same stage: nothing to promote
    assert sim.dispatches("rollback")[0].event.gitcommitid == "tip-staging"


def test_parallel_stages_each_get_a_run():
    sy = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": "deployment"}]}]},
          {"name": "eu", "sequences": [{"name": "delivery", "triggeredOn": [{"event": "dev.delivery.finished"}],
                                        "tasks": [{"name": "deployment"}]}]},
          {"name": "us", "sequences": [{"name": "delivery", "triggeredOn": [{"event": "dev.delivery.finished"}],
                                        "tasks": [{"name": "deployment"}]}]}]
    sim = Sim.of(sy, auto=False)
    sim.feed(trigger("dev"))
    finish(sim, last_dispatch(sim))
    promotes = [c for c in sim.commands if isinstance(c, Promote)]
    assert [p.target_stage for p in promotes] == ["eu", "us"]      # both start at once
    assert {r.state for r in sim.runs() if r.stage != "dev"} == {"started"}


def test_follow_ups_use_the_current_shipyard_running_runs_keep_their_snapshot():
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    new = [dict(DELIVERY[0]), {"name": "staging", "sequences": [
        {"name": "smoke", "triggeredOn": [{"event": "dev.delivery.finished"}], "tasks": [{"name": "test"}]}]}]
    new[0] = {"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": "deployment"}]}]}
    sim.feed(ConfigChanged(shipyard=shipyard(new)))
    for task in ("deployment", "test", "evaluation", "release"):      # still the old four tasks
        d = last_dispatch(sim)
        assert d.task == task
        finish(sim, d)
    assert [(r.stage, r.sequence) for r in sim.runs()] == [("dev", "delivery"), ("staging", "smoke")]


def test_remediation_self_loop_then_escalation_when_actions_run_out():
    sim = Sim.of(DELIVERY, executor=scripted({"evaluation": "fail"}, actions=2))
    problem = {"problemTitle": "Response time degradation", "rootCause": "latency"}
    ev = trigger("production", sequence="remediation", data={"problem": problem}, change=None)
    sim.feed(ev)
    sim.drain()
    assert sim.chain(ev.shkeptncontext) == [("production", "remediation", "fail")] * 3
    indexes = [d.event.data.get("get-action", {}).get("actionIndex", 0) for d in sim.dispatches("get-action")]
    assert indexes == [0, 1, 2]                      # the next action each round
    assert all(d.event.data["problem"] == problem for d in sim.dispatches())
    (esc,) = sim.escalations()
    assert esc.event.type == "sh.keptn.event.escalation.triggered"
    assert esc.event.data["problem"] == problem
    assert [a["name"] for a in esc.event.data["escalation"]["actionsTried"]] == ["action-0", "action-1"]
    assert esc.key == f"{ev.shkeptncontext}/production/2/-/escalate"
    # the delayed evaluation waited 10 minutes each round
    evals = [c for c in sim.dispatches("evaluation")]
    actions = [c for c in sim.dispatches("action")]
    runs = sim.runs(ev.shkeptncontext)
    assert all(r.tasks[2].triggered_at - r.tasks[1].completed_at == 600 for r in runs[:2])
    assert len(evals) == len(actions) == 2


def test_no_escalation_when_get_action_fails_without_running_out():
    sim = manual()
    sim.feed(trigger("production", sequence="remediation", change=None))
    finish(sim, last_dispatch(sim), "fail", "errored", data={"get-action": {"actionIndex": 0}})
    assert sim.escalations() == []
    assert sim.runs()[0].result == "fail"


# -- promotion --------------------------------------------------------------------------------

def test_promotion_failure_ends_the_run_errored_naming_the_paths_without_follow_ups():
    sim = Sim.of(DELIVERY, conflict_stages={"staging"})
    ev = trigger("dev")
    sim.feed(ev)
    sim.drain()
    staging = sim.runs(ev.shkeptncontext)[1]
    assert (staging.state, staging.result, staging.status) == ("finished", "fail", "errored")
    assert "carts/values.yaml" in staging.message and "staging" in staging.message
    assert sim.dispatches(stage="staging") == []
    assert [r.sequence for r in sim.runs(ev.shkeptncontext)] == ["delivery", "delivery"]   # no rollback


def test_promotion_answers_are_idempotent():
    sim = manual()
    sim.feed(trigger("dev"))
    for _task in ("deployment", "test", "evaluation", "release"):
        finish(sim, last_dispatch(sim))
    (promote,) = [c for c in sim.commands if isinstance(c, Promote)]
    assert promote.key.endswith("/staging/0/-/promote")
    first = sim.feed(PromotionFinished(promote.run_id, "p1"))
    assert [type(c) for c in first] == [DispatchTask, RunsChanged]
    assert sim.feed(PromotionFinished(promote.run_id, "p1")) == []
    assert [c.code for c in sim.feed(PromotionFinished(promote.run_id, "other"))] == ["not-awaiting"]
    assert [c.code for c in sim.feed(CommitResolved("nope/x/0", "c"))] == ["unknown-run"]


def test_approval_that_passes_without_the_landed_commit_fails_closed():
    sim = Sim.of(DELIVERY, executor=lambda d, s: [answer(d, "finished")])   # never reports gitcommitid
    ev = trigger("dev")
    sim.feed(ev)
    sim.drain()
    prod = sim.runs(ev.shkeptncontext)[-1]
    assert prod.stage == "production" and (prod.result, prod.status) == ("fail", "errored")
    assert "did not report the commit" in prod.message
    assert sim.dispatches("deployment", stage="production") == []


def test_api_trigger_without_commit_resolves_the_stage_tip():
    sim = manual()
    sim.feed(trigger("staging", gitcommitid=None))
    (resolve,) = [c for c in sim.commands if isinstance(c, ResolveCommit)]
    assert sim.dispatches() == []
    sim.feed(CommitResolved(resolve.run_id, "abc"))
    assert last_dispatch(sim).event.gitcommitid == "abc"


# -- approval and lanes -----------------------------------------------------------------------

def test_started_approval_frees_the_lane_and_its_finish_takes_it_back_fifo():
    sy = [{"name": "prod", "sequences": [{"name": "delivery", "tasks": [
        {"name": "approval", "properties": {"pass": "manual"}}, {"name": "deployment"}]}]}]
    sim = Sim.of(sy, auto=False)
    a, b = ctx("a"), ctx("b")
    sim.feed(trigger("prod", context=a))
    approval = last_dispatch(sim)
    sim.feed(answer(approval, "started"))
    run_a = sim.world.runs_of(a)[0]
    assert run_a.state == "waitingForApproval"
    sim.feed(trigger("prod", context=b))              # the lane is free: b starts
    run_b = sim.world.runs_of(b)[0]
    assert run_b.state == "started"
    b_approval = last_dispatch(sim)
    sim.feed(answer(b_approval, "finished"))          # b passes its approval: it holds the lane
    sim.feed(answer(approval, "finished"))            # a is approved while b holds the lane
    assert run_a.state == "waiting" and sim.world.queue_position(run_a) == 1
    assert [d.context for d in sim.dispatches("deployment")] == [b]
    finish(sim, last_dispatch(sim))                   # b's deployment finishes: a takes the lane
    assert run_b.state == "finished" and run_a.state == "started"
    assert [d.context for d in sim.dispatches("deployment")] == [b, a]


def test_declined_approval_finishes_fail_and_triggers_rollback():
    sy = [{"name": "prod", "sequences": [
        {"name": "delivery", "tasks": [{"name": "approval"}, {"name": "deployment"}]},
        {"name": "rollback", "triggeredOn": [{"event": "prod.delivery.finished", "selector": {"match": {"result": "fail"}}}],
         "tasks": [{"name": "rollback"}]}]}]
    sim = Sim.of(sy, auto=False)
    sim.feed(trigger("prod"))
    d = last_dispatch(sim)
    sim.feed(answer(d, "started"))
    sim.feed(answer(d, "finished", result="fail"))
    assert [(r.sequence, r.state) for r in sim.runs()] == [("delivery", "finished"), ("rollback", "started")]


def test_two_pushes_for_one_service_queue_fifo_and_two_services_run_in_parallel():
    sim = manual()
    c1, c2, c3 = ctx(1), ctx(2), ctx(3)
    sim.feed(trigger("dev", context=c1))
    sim.feed(trigger("dev", context=c2))
    sim.feed(trigger("dev", context=c3, service="orders"))
    states = {r.context: r.state for r in sim.runs()}
    assert states == {c1: "started", c2: "triggered", c3: "started"}
    assert [d.context for d in sim.dispatches()] == [c1, c3]
    assert sim.world.queue_position(sim.world.runs_of(c2)[0]) == 1
    for _ in range(4):
        finish(sim, [d for d in sim.dispatches() if d.context == c1][-1])
    assert sim.world.runs_of(c2)[0].state == "started"
    assert sim.dispatches()[-1].context == c2


def test_a_follow_up_in_the_same_lane_goes_before_other_contexts_queued_meanwhile():
    sim = manual()
    c1, c2 = ctx(1), ctx(2)
    sim.feed(trigger("staging", context=c1))
    sim.feed(trigger("staging", context=c2))          # queued behind c1's delivery
    d = last_dispatch(sim)
    finish(sim, d)                                    # deployment
    finish(sim, last_dispatch(sim), "fail")           # evaluation fails → rollback of c1
    rollback = sim.world.runs_of(c1)[1]
    assert rollback.sequence == "rollback" and rollback.state == "started"
    assert sim.world.runs_of(c2)[0].state == "triggered"
    (resolve,) = [c for c in sim.commands if isinstance(c, ResolveCommit)]
    sim.feed(CommitResolved(resolve.run_id, "tip"))
    assert last_dispatch(sim).task == "rollback" and last_dispatch(sim).context == c1


def test_runs_of_one_context_do_not_block_each_other():
    sim = manual()
    c1 = ctx(1)
    sim.feed(trigger("dev", context=c1))
    sim.feed(trigger("dev", sequence="evaluation", context=c1, id="second"))
    assert [r.state for r in sim.world.runs_of(c1)] == ["started", "started"]


def test_triggered_after_keeps_the_lane_during_the_delay():
    sy = [{"name": "prod", "sequences": [{"name": "check", "tasks": [
        {"name": "wait-a-bit", "triggeredAfter": "2m"}, {"name": "test"}]}]}]
    sim = Sim.of(sy, auto=False)
    sim.feed(trigger("prod", sequence="check", context=ctx(1)), at=BASE_TIME)
    sim.feed(trigger("prod", sequence="check", context=ctx(2)))
    assert sim.dispatches() == []
    assert [r.state for r in sim.runs()] == ["started", "triggered"]
    sim.feed(Tick(), at=BASE_TIME + 119)
    assert sim.dispatches() == []
    sim.feed(Tick(), at=BASE_TIME + 120)
    (d,) = sim.dispatches()
    assert d.task == "wait-a-bit" and d.context == ctx(1)
    run = sim.world.runs_of(ctx(1))[0]
    assert run.tasks[0].scheduled_at == BASE_TIME + 120


# -- timeouts -----------------------------------------------------------------------------------

def test_a_task_nobody_picks_up_times_out_after_task_triggered():
    sim = Sim.of(DELIVERY, timeouts=TimeoutSettings(taskTriggered="5m"), auto=False)
    sim.feed(trigger("dev"), at=BASE_TIME)
    assert sim.feed(Tick(), at=BASE_TIME + 299) == []
    sim.feed(Tick(), at=BASE_TIME + 300)
    (run,) = sim.runs()
    assert (run.state, run.result, run.status) == ("timedOut", "fail", "errored")
    assert "waiting for task deployment to receive a correlating .started or .finished event" in run.message
    finished = sim.emitted("dev.delivery.finished")[0]
    assert finished.data["status"] == "errored"
    assert len(sim.runs()) == 1                       # no follow-ups after a timeout


@pytest.mark.parametrize("task_props,task_name,limit", [
    ({}, "deployment", 1800),                          # taskStarted default (our fix)
    ({"timeout": "1h"}, "deployment", 3600),           # the task's own limit
    ({"timeout": "2m"}, "approval", 120),
    ({}, "approval", None),                            # a human approval waits without a limit
])
def test_started_tasks_time_out_too(task_props, task_name, limit):
    sy = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": task_name, **task_props}]}]}]
    sim = Sim.of(sy, auto=False)
    sim.feed(trigger("dev"), at=BASE_TIME)
    sim.feed(answer(last_dispatch(sim), "started"), at=BASE_TIME + 10)
    (run,) = sim.runs()
    sim.feed(Tick(), at=BASE_TIME + 10 + 100_000 if limit is None else BASE_TIME + 10 + limit - 1)
    assert not run.terminal
    if limit is not None:
        sim.feed(Tick(), at=BASE_TIME + 10 + limit)
        assert run.state == "timedOut" and "did not finish within" in run.message
        late = sim.feed(answer(last_dispatch(sim), "finished"))
        assert [c.code for c in late] == ["sequence-ended"]


def test_triggered_timeout_counts_from_the_scheduled_send():
    sy = [{"name": "prod", "sequences": [{"name": "check", "tasks": [{"name": "test", "triggeredAfter": "20m"}]}]}]
    sim = Sim.of(sy, auto=False)
    sim.feed(trigger("prod", sequence="check"), at=BASE_TIME)
    sim.feed(Tick(), at=BASE_TIME + 1200)
    sim.feed(Tick(), at=BASE_TIME + 1200 + 599)
    assert sim.runs()[0].state == "started"
    sim.feed(Tick(), at=BASE_TIME + 1200 + 600)
    assert sim.runs()[0].state == "timedOut"


def test_changed_timeouts_apply_to_running_tasks():
    sim = Sim.of(DELIVERY, auto=False)
    sim.feed(trigger("dev"), at=BASE_TIME)
    sim.feed(ConfigChanged(timeouts=TimeoutSettings(taskTriggered="1m")), at=BASE_TIME + 1)
    sim.feed(Tick(), at=BASE_TIME + 60)
    assert sim.runs()[0].state == "timedOut"


# -- abort, pause, resume ---------------------------------------------------------------------

def test_abort_ends_running_and_queued_runs_fail_aborted_and_ignores_late_events():
    sim = manual()
    c1, c2 = ctx(1), ctx(2)
    sim.feed(trigger("dev", context=c1))
    sim.feed(trigger("dev", context=c2))
    d = last_dispatch(sim)
    sim.feed(answer(d, "started"))
    cmds = sim.feed(Control(c1, "abort"))
    run = sim.world.runs_of(c1)[0]
    assert (run.state, run.result, run.status) == ("aborted", "fail", "aborted")
    (finished,) = [c.event for c in cmds if isinstance(c, EmitEvent)]
    assert (finished.data["result"], finished.data["status"]) == ("fail", "aborted")
    assert sim.world.runs_of(c2)[0].state == "started"      # the lane moved on
    late = sim.feed(answer(d, "finished"))
    assert [c.code for c in late] == ["sequence-ended"]
    assert len(sim.runs()) == 2                              # no follow-ups
    sim.feed(Control(c2, "abort"))                           # c2 had not started a task yet
    assert sim.world.runs_of(c2)[0].state == "aborted"
    assert sim.feed(Control(c2, "abort")) == []              # nothing left to abort
    assert [c.code for c in sim.feed(Control(ctx(99), "abort"))] == ["unknown-context"]


def test_abort_one_stage_only():
    sy = [{"name": "a", "sequences": [{"name": "delivery", "tasks": [{"name": "x"}]}]},
          {"name": "b", "sequences": [{"name": "delivery", "tasks": [{"name": "x"}]}]}]
    sim = Sim.of(sy, auto=False)
    c = ctx(1)
    sim.feed(trigger("a", context=c))
    sim.feed(trigger("b", context=c))
    sim.feed(Control(c, "abort", stage="b"))
    assert [(r.stage, r.state) for r in sim.world.runs_of(c)] == [("a", "started"), ("b", "aborted")]


def test_pause_holds_the_next_dispatch_and_resume_sends_it():
    sim = manual()
    c1, c2 = ctx(1), ctx(2)
    sim.feed(trigger("dev", context=c1))
    d = last_dispatch(sim)
    cmds = sim.feed(Control(c1, "pause"))
    assert ControlsChanged(c1, ("*",)) in cmds
    run = sim.world.runs_of(c1)[0]
    assert run.state == "paused"
    finish(sim, d)                                   # the running task still finishes
    assert run.tasks[0].state == "done" and len(sim.dispatches()) == 1
    sim.feed(trigger("dev", context=c2))             # a paused run keeps its lane
    assert sim.world.runs_of(c2)[0].state == "triggered"
    sim.feed(trigger("staging", context=c1))         # triggered later in a paused context: paused
    assert sim.world.runs_of(c1)[1].state == "paused"
    cmds = sim.feed(Control(c1, "resume"))
    assert ControlsChanged(c1, ()) in cmds
    assert run.state == "started"
    assert [d.task for d in sim.dispatches(stage="dev")] == ["deployment", "test"]
    assert sim.world.runs_of(c1)[1].state == "started"
    assert [d.task for d in sim.dispatches(stage="staging")] == ["deployment"]


def test_pause_one_stage_and_resume_it():
    sim = manual()
    c = ctx(1)
    sim.feed(Control(c, "pause", stage="staging"))
    sim.feed(trigger("dev", context=c))
    sim.feed(trigger("staging", context=c))
    assert [r.state for r in sim.world.runs_of(c)] == ["started", "paused"]
    sim.feed(Control(c, "pause"))
    sim.feed(Control(c, "resume", stage="staging"))   # everything but staging stays paused
    assert [r.state for r in sim.world.runs_of(c)] == ["paused", "started"]
    assert sim.world.paused[c] == frozenset({"dev", "production"})


def test_a_paused_queued_run_does_not_block_the_runs_behind_it():
    sim = manual()
    c1, c2, c3 = ctx(1), ctx(2), ctx(3)
    sim.feed(trigger("dev", context=c1))
    sim.feed(trigger("dev", context=c2))
    sim.feed(trigger("dev", context=c3))
    sim.feed(Control(c2, "pause"))
    sim.feed(Control(c1, "abort"))
    assert [sim.world.runs_of(c)[0].state for c in (c1, c2, c3)] == ["aborted", "paused", "started"]


def test_pause_while_waiting_for_approval_then_approved():
    sy = [{"name": "prod", "sequences": [{"name": "delivery", "tasks": [{"name": "approval"}, {"name": "deployment"}]}]}]
    sim = Sim.of(sy, auto=False)
    c = ctx(1)
    sim.feed(trigger("prod", context=c))
    d = last_dispatch(sim)
    sim.feed(answer(d, "started"))
    sim.feed(Control(c, "pause"))
    sim.feed(answer(d, "finished"))
    run = sim.world.runs_of(c)[0]
    assert run.state == "paused" and run.paused_from == "waiting" and len(sim.dispatches()) == 1
    sim.feed(Control(c, "resume"))
    assert run.state == "started" and last_dispatch(sim).task == "deployment"


def test_pause_during_a_triggered_after_delay_holds_the_task_until_resume():
    sy = [{"name": "prod", "sequences": [{"name": "check", "tasks": [{"name": "test", "triggeredAfter": "5m"}]}]}]
    sim = Sim.of(sy, auto=False)
    c = ctx(1)
    sim.feed(trigger("prod", sequence="check", context=c), at=BASE_TIME)
    sim.feed(Control(c, "pause"), at=BASE_TIME + 10)
    sim.feed(Tick(), at=BASE_TIME + 600)
    assert sim.dispatches() == []
    sim.feed(Control(c, "resume"), at=BASE_TIME + 700)
    (d,) = sim.dispatches()
    assert d.task == "test" and sim.world.runs_of(c)[0].tasks[0].triggered_at == BASE_TIME + 700


def test_invalid_control_is_rejected():
    sim = manual()
    assert [c.code for c in sim.feed(Control(ctx(1), "stop"))] == ["invalid-control"]
    assert [c.code for c in sim.feed(Control("x/../y", "pause"))] == ["invalid-context"]


# -- answers that do not fit -------------------------------------------------------------------

def test_unknown_late_and_mismatched_answers_are_rejected_with_reasons():
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    cases = [
        (answer(d, "finished", id="x1", context=ctx(5)), "context-mismatch"),
        (answer(d, "finished", id="x2", task="test"), "task-mismatch"),
        (CloudEvent(type="sh.keptn.event.deployment.finished", data={}, shkeptncontext=d.context, id="x3",
                    time="t", triggeredid="nope"), "unknown-triggeredid"),
        (CloudEvent(type="sh.keptn.event.deployment.finished", data={}, shkeptncontext=d.context, id="x4",
                    time="t"), "missing-triggeredid"),
    ]
    for event, code in cases:
        assert [c.code for c in sim.feed(event)] == [code], code
    finish(sim, d)
    assert [c.code for c in sim.feed(answer(d, "finished", id="x5", source="other"))] == ["task-finished"]


def test_a_source_answers_once():
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    sim.feed(answer(d, "started"))
    assert [c.code for c in sim.feed(answer(d, "started", id="again"))] == ["duplicate-source"]


# -- idempotency ------------------------------------------------------------------------------

def test_reapplying_an_applied_input_changes_nothing_and_emits_nothing():
    sim = manual()
    ev = trigger("dev")
    first = sim.feed(ev)
    assert sim.feed(ev) == []
    d = last_dispatch(sim)
    started = answer(d, "started")
    finished = answer(d, "finished")
    sim.feed(started)
    sim.feed(finished)
    snapshot = [doc for doc in sim.world.documents()]
    assert sim.feed(started) == [] and sim.feed(finished) == []
    assert list(sim.world.documents()) == snapshot
    assert first[0].key == f"{ev.shkeptncontext}/dev/0/0/triggered"


def test_same_inputs_give_the_same_commands():
    def run():
        sim = Sim.of(DELIVERY, executor=scripted({("staging", "evaluation"): "fail"}))
        sim.feed(trigger("dev"))
        sim.drain()
        return sim.commands
    assert run() == run()


def test_every_effect_has_a_key_of_the_documented_shape():
    sim = Sim.of(DELIVERY, executor=scripted({"evaluation": "fail"}, actions=1))
    sim.feed(trigger("dev", context=ctx("k")))
    sim.feed(trigger("production", sequence="remediation", context=ctx("r"), change=None))
    sim.drain()
    keys = [c.key for c in sim.commands if hasattr(c, "key")]
    assert len(keys) == len(set(keys))
    for key in keys:
        context, stage, run, task, kind = key.split("/")
        assert context in (ctx("k"), ctx("r")) and stage in ("dev", "staging", "production")
        assert run.isdigit() and (task.isdigit() or task == "-")
        assert kind in ("triggered", "finished", "promote", "commit", "escalate")


def test_runs_changed_lists_exactly_the_lane_files_touched():
    sim = manual()
    c1 = ctx(1)
    cmds = sim.feed(trigger("dev", context=c1))
    assert cmds[-1] == RunsChanged((("dev", "carts", c1),))
    cmds = sim.feed(trigger("dev", context=ctx(2), service="orders"))
    assert cmds[-1] == RunsChanged((("dev", "orders", ctx(2)),))
    assert sim.feed(Tick()) == []


def test_step_rejects_unknown_input_types():
    with pytest.raises(TypeError):
        step(World(), object(), BASE_TIME)


def test_event_received_wraps_cloud_events():
    sim = manual()
    cmds = sim.feed(EventReceived(trigger("dev")))
    assert isinstance(cmds[0], DispatchTask)


def test_lists_from_a_later_tasks_finished_come_first_in_the_next_tasks_data():
    sim = manual()
    sim.feed(trigger("dev"))
    finish(sim, last_dispatch(sim), data={"deployment": {"deploymentURIsLocal": ["http://a"]}, "n": 1})
    finish(sim, last_dispatch(sim), data={"deployment": {"deploymentURIsLocal": ["http://b"]}, "n": 2})
    d = last_dispatch(sim)
    assert d.task == "evaluation"
    assert d.event.data["deployment"]["deploymentURIsLocal"] == ["http://b", "http://a"]
    assert d.event.data["n"] == 2


def test_every_recorded_event_has_an_order_that_puts_causes_before_reactions():
    # All of this happens in the same simulated millisecond: only the order number can tell
    # that the deployment finished before the test was triggered.
    sim = manual()
    sim.feed(trigger("dev"))
    d = last_dispatch(sim)
    finish(sim, d)
    (run,) = sim.runs()
    import json as _json
    orders = [run.trigger_order] + [_json.loads(e)["order"] for e in run.events]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    types = [_json.loads(e)["type"] for e in run.events]
    assert types.index("sh.keptn.event.deployment.finished") < types.index("sh.keptn.event.test.triggered")
    restored = World(sim.world.shipyard, None, "sockshop")
    from reconciler.engine.state import SequenceRun
    restored.add(SequenceRun.from_dict(run.to_dict()))
    assert restored.event_order(0) > max(orders)          # a restarted controller continues after them


# -- no silent waits ------------------------------------------------------------------------------

def test_a_task_nothing_answers_is_recorded_as_waiting_until_an_answer_arrives():
    from reconciler.engine.events import TASK_WAITING
    from reconciler.engine.inputs import TaskWaiting
    sim = manual()
    sim.feed(trigger("dev"))
    finish(sim, last_dispatch(sim))
    d = last_dispatch(sim, "test")
    run = sim.world.runs[d.run_id]
    message = "waiting for an executor: no built-in executor for task 'test'; it would be answered by x"

    cmds = sim.feed(TaskWaiting(d.run_id, d.task_index, d.event.id, message))
    task = run.tasks[d.task_index]
    assert task.waiting == message and task.to_dict()["waiting"] == message
    [emitted] = [c for c in cmds if isinstance(c, EmitEvent)]
    assert emitted.event.type == TASK_WAITING and emitted.event.triggeredid == d.event.id
    assert emitted.event.data["message"] == message and emitted.event.data["task"] == "test"
    assert any(isinstance(c, RunsChanged) for c in cmds)                  # the lane file is rewritten
    assert [c for c in sim.feed(TaskWaiting(d.run_id, d.task_index, d.event.id, message))
            if isinstance(c, EmitEvent)] == []                              # said once
    assert run.state == "started"                                          # nothing else changes

    sim.feed(answer(d, "started", source="integration"))
    assert task.waiting is None
    stale = sim.feed(TaskWaiting(d.run_id, d.task_index, d.event.id, message))
    assert task.waiting is None and not [c for c in stale if isinstance(c, EmitEvent)]


def test_an_api_trigger_with_values_sets_them_on_the_stage_first_and_later_stages_promote_them():
    sim = manual()
    sim.feed(trigger("dev", change=None, data={"configurationChange": {"values": {"image": "carts:2.0.1"}}}))
    [promote] = [c for c in sim.commands if isinstance(c, Promote)]
    assert (promote.commit, promote.source_stage, promote.target_stage) == ("", "dev", "dev")
    assert promote.files == [{"path": "values.yaml", "keys": [{"key": ["image"], "value": "carts:2.0.1"}]}]
    assert not [c for c in sim.commands if isinstance(c, DispatchTask)]       # nothing runs before the values land

    sim.feed(PromotionFinished(promote.run_id, "c-values"))
    d = last_dispatch(sim)
    assert d.task == "deployment" and d.event.gitcommitid == "c-values"
    assert d.event.data["configurationChange"] == {
        "values": {"image": "carts:2.0.1"}, "commit": "c-values",
        "files": [{"path": "values.yaml", "keys": [{"key": ["image"], "value": "carts:2.0.1"}]}]}
