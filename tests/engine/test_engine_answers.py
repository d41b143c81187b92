"""Task answers (engine.answers): how a `.started`/`.finished` is judged, and built-in answers."""
import pytest

from reconciler.engine.answers import finished_data, judge, task_event
from reconciler.engine.events import CloudEvent, derived_id
from reconciler.engine.state import (
    ABORTED,
    DONE,
    FINISHED,
    STARTED,
    TASK_STARTED,
    TASK_TRIGGERED,
    TIMED_OUT,
    Answer,
    SequenceRun,
    TaskRun,
)

CTX = "0b3a5f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
OTHER = "11111111-2222-4333-8444-555555555555"
TRIGGERED_ID = "t-1"


def task(state=TASK_TRIGGERED, *, started=(), finished=()):
    t = TaskRun(index=0, name="deployment", state=state, triggered_id=TRIGGERED_ID)
    t.started = {s: Answer(f"s-{s}", 1.0) for s in started}
    t.finished = {s: Answer(f"f-{s}", 2.0, "pass", "succeeded") for s in finished}
    return t


def run_with(t, state=STARTED):
    trigger = CloudEvent(type="sh.keptn.dev.delivery.triggered", data={}, shkeptncontext=CTX, id="seq",
                         time="2023-11-14T22:13:20.000Z")
    return SequenceRun(context=CTX, stage="dev", service="carts", index=0, sequence="delivery",
                       definition=None, trigger=trigger, queue=(0, 0, 0), triggered_at=0.0, state=state, tasks=[t])


def answer(kind="finished", *, triggeredid=TRIGGERED_ID, context=CTX, source="job-executor"):
    return CloudEvent(type=f"sh.keptn.event.deployment.{kind}", data={}, shkeptncontext=context, id="a-1",
                      source=source, time="2023-11-14T22:13:20.000Z", triggeredid=triggeredid)


def target(t=None, state=STARTED):
    t = t or task()
    return (run_with(t, state), t)


@pytest.mark.parametrize("kind,event,name,where,code", [
    ("finished", answer(triggeredid=None), "deployment", target(), "missing-triggeredid"),
    ("started", answer("started", triggeredid=None), "deployment", target(), "missing-triggeredid"),
    ("finished", answer(triggeredid="nope"), "deployment", None, "unknown-triggeredid"),
    ("finished", answer(context=OTHER), "deployment", target(), "context-mismatch"),
    ("finished", answer(), "test", target(), "task-mismatch"),
    ("finished", answer(), "deployment", target(state=FINISHED), "sequence-ended"),
    ("started", answer("started"), "deployment", target(state=ABORTED), "sequence-ended"),
    ("finished", answer(), "deployment", target(state=TIMED_OUT), "sequence-ended"),
    ("finished", answer(), "deployment", target(task(DONE)), "task-finished"),
    ("finished", answer(), "deployment", target(task(TASK_STARTED, started=["job-executor"],
                                                      finished=["job-executor"])), "duplicate-source"),
    ("started", answer("started"), "deployment", target(task(TASK_STARTED, started=["job-executor"])),
     "duplicate-source"),
    ("started", answer("started"), "deployment", target(task(TASK_STARTED, finished=["job-executor"])),
     "duplicate-source"),
    # what applies
    ("started", answer("started"), "deployment", target(), None),
    ("finished", answer(), "deployment", target(), None),                       # a .finished without .started
    ("finished", answer(), "deployment", target(task(TASK_STARTED, started=["job-executor"])), None),
    ("started", answer("started"), "deployment", target(task(TASK_STARTED, started=["other"])), None),
])
def test_judging_answers(kind, event, name, where, code):
    verdict = judge(event, name, kind, where)
    assert (verdict.code if verdict else None) == code
    if verdict is not None:
        assert verdict.event_id == event.id and verdict.reason


def test_the_first_failing_rule_names_the_problem():
    # a late answer from another context for a finished task: the context is what is wrong
    verdict = judge(answer(context=OTHER), "deployment", "finished", target(task(DONE), state=FINISHED))
    assert verdict is not None and verdict.code == "context-mismatch"


@pytest.mark.parametrize("result,status,message,data,expected", [
    ("pass", "succeeded", "", {}, {"result": "pass", "status": "succeeded", "message": ""}),
    ("fail", "errored", "boom", {"deployment": {"url": "u"}},
     {"result": "fail", "status": "errored", "message": "boom", "deployment": {"url": "u"}}),
    # the payload cannot override the outcome, but it may say more in `message`
    ("fail", "succeeded", "m", {"result": "pass", "status": "errored", "message": "detail"},
     {"result": "fail", "status": "succeeded", "message": "detail"}),
])
def test_finished_data(result, status, message, data, expected):
    assert finished_data(result, status, message, data) == expected


def test_a_built_in_answer_is_derived_from_the_dispatch_and_carries_the_lane():
    trigger = CloudEvent(type="sh.keptn.event.deployment.triggered",
                         data={"project": "sockshop", "stage": "dev", "service": "carts", "labels": {"a": "b"}},
                         shkeptncontext=CTX, id="trig", time="x", gitcommitid="c0")
    first = task_event(trigger, key="k/0/triggered", stage="dev", service="carts", task="deployment",
                       kind="finished", executor="deployment", extra={"result": "pass"}, gitcommitid=None,
                       now=1_700_000_000.0)
    again = task_event(trigger, key="k/0/triggered", stage="dev", service="carts", task="deployment",
                       kind="finished", executor="deployment", extra={"result": "pass"}, gitcommitid=None,
                       now=1_700_000_999.0)
    assert first.id == again.id == derived_id("k/0/triggered", "reconciler/deployment", "finished")
    assert first.type == "sh.keptn.event.deployment.finished" and first.triggeredid == "trig"
    assert first.source == "reconciler/deployment" and first.time == "2023-11-14T22:13:20.000Z"
    assert first.data == {"project": "sockshop", "stage": "dev", "service": "carts", "labels": {"a": "b"},
                          "result": "pass"}
    assert first.gitcommitid == "c0"            # the commit it read, unless it made a new one
    newer = task_event(trigger, key="k", stage="dev", service="carts", task="deployment", kind="finished",
                       executor="deployment", extra={}, gitcommitid="c1", now=0.0)
    assert newer.gitcommitid == "c1"
