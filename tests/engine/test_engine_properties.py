"""Properties of the engine's core rules (docs/sequencing.md), checked on generated cases.

Each property is an invariant the rules promise, not a restatement of the code: lanes (FIFO
per stage and service; an approval that waits does not hold the lane; one context never
blocks itself), `triggeredOn` selectors, how task data merges, and timeouts. The sequencer
properties drive the pure `step` through the simulated controller of engine_harness.py.

List merging is deliberately left out: generated data holds objects and scalars only.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine_harness import BASE_TIME, Sim, answer, ctx, scripted, shipyard, trigger
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler.engine.commands import DispatchTask
from reconciler.engine.inputs import Tick
from reconciler.engine.lanes import Lane, position, startable
from reconciler.engine.payload import deep_merge, task_data
from reconciler.engine.selectors import FAIL, PASS, WARNING, followups, normalize_result, selector_matches
from reconciler.engine.state import TASK_STARTED, TASK_TRIGGERED
from reconciler.engine.timeouts import next_deadline
from reconciler.spec.settings import TimeoutSettings

PROPERTY = settings(max_examples=150, deadline=None, database=None)
SLOW_PROPERTY = settings(max_examples=80, deadline=None, database=None)   # many sequencer steps each

QUEUED = ("triggered", "waiting")


def holds(run) -> bool:
    """The lane rule as docs/sequencing.md states it, independent of lanes.py: a sequence holds
    its lane while it runs, also when paused after starting; never while it waits for an
    approval, is queued, was paused while queued, or has ended."""
    return run.state == "started" or (run.state == "paused" and run.paused_from == "started")


# ============================================================================ lanes (pure)

@dataclass(eq=False)
class R:
    name: str
    context: str
    state: str
    paused_from: str | None
    queue: tuple[int, int, int]


_RUN_STATES = [("triggered", None), ("waiting", None), ("started", None), ("waitingForApproval", None),
               ("paused", "triggered"), ("paused", "waiting"), ("paused", "started"),
               ("paused", "waitingForApproval"), ("finished", None), ("aborted", None), ("timedOut", None)]


@st.composite
def lane_runs(draw, contexts: tuple[str, ...] = ("A", "B", "C")) -> list[R]:
    """Runs of one lane in queue order, in states the sequencer can reach: whatever holds the
    lane (started, or paused after starting) belongs to one context."""
    holder = draw(st.sampled_from(contexts))
    runs = []
    for i in range(draw(st.integers(0, 8))):
        context = draw(st.sampled_from(contexts))
        state, paused_from = draw(st.sampled_from(_RUN_STATES))
        run = R(f"r{i}", context, state, paused_from, (i, 0, i))
        if holds(run):
            run.context = holder
        runs.append(run)
    return runs


def _queued(runs: list[R]) -> list[R]:
    return [r for r in runs if r.state in QUEUED]


@PROPERTY
@given(lane_runs())
def test_lanes_one_context_at_a_time(runs):
    """After starting what may start, the lane is held by at most one context."""
    contexts = {r.context for r in runs if holds(r)} | {r.context for r in startable(runs)}
    assert len(contexts) <= 1, contexts


@PROPERTY
@given(lane_runs())
def test_lanes_are_first_come_first_served(runs):
    """What starts is always a prefix of the queue: no run overtakes one queued ahead of it."""
    ready = startable(runs)
    assert ready == _queued(runs)[:len(ready)]


@PROPERTY
@given(lane_runs())
def test_lanes_a_free_lane_starts_the_head_of_its_queue(runs):
    queued = _queued(runs)
    if queued and not any(holds(r) for r in runs):
        assert startable(runs)[:1] == queued[:1]


@PROPERTY
@given(lane_runs())
def test_lanes_approvals_paused_queued_and_ended_runs_neither_block_nor_start(runs):
    """Only running (or paused-while-running) and queued runs count: a sequence waiting for a
    manual approval, one paused while queued and one that ended change nothing."""
    relevant = [r for r in runs if r.state in QUEUED or holds(r)]
    assert startable(runs) == startable(relevant)


@PROPERTY
@given(lane_runs(contexts=("A",)))
def test_lanes_one_context_never_blocks_itself(runs):
    assert startable(runs) == _queued(runs)


@PROPERTY
@given(lane_runs())
def test_lanes_queue_positions_count_queued_runs_in_order(runs):
    places = [position(runs, r) for r in runs]
    assert [p for p in places if p is not None] == list(range(1, len(_queued(runs)) + 1))
    assert all((p is None) == (r.state not in QUEUED) for r, p in zip(runs, places, strict=True))


@PROPERTY
@given(st.permutations(list(range(8))), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=8,
                                                max_size=8))
def test_lanes_keep_queue_order_whatever_the_insertion_order(order, places):
    runs = [R(f"r{i}", "A", "triggered", None, (seq, gen, i)) for i, (seq, gen) in enumerate(places)]
    lane = Lane(("dev", "carts"))
    for i in order:
        lane.add(runs[i])
    assert [r.queue for r in lane] == sorted(r.queue for r in runs)


# ============================================================================ lanes (sequencer)

APPROVAL_THEN_DEPLOY = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [
    {"name": "approval", "properties": {"pass": "manual", "warning": "manual"}}, {"name": "deployment"}]}]}]

_LANE_ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("trigger"), st.integers(0, 2)),             # a new sequence of context 0..2
    st.tuples(st.just("approval-waits"), st.integers(0, 5)),      # the approval task starts: a human decides
    st.tuples(st.just("approve"), st.integers(0, 5)),
    st.tuples(st.just("deployed"), st.integers(0, 5)),
), max_size=25)


def _dispatch(sim: Sim, run, task_index: int) -> DispatchTask:
    key = f"{run.id}/{task_index}/triggered"
    return next(d for d in sim.dispatches() if d.key == key)


def _current(sim: Sim, name: str, state: str) -> list:
    return [r for r in sim.runs() if not r.terminal and r.current < len(r.tasks)
            and r.tasks[r.current].name == name and r.tasks[r.current].state == state]


def _check_lane(runs: list) -> None:
    """The lane rules, on the sequencer's own runs (creation order = trigger order here)."""
    holders = {r.context for r in runs if holds(r)}
    assert len(holders) <= 1, f"two contexts run in one lane: {holders}"
    for i, run in enumerate(runs):
        if run.state in QUEUED:
            others_ahead = any(o.context != run.context and o.state in QUEUED for o in runs[:i])
            assert holders - {run.context} or others_ahead, (
                f"{run.id} ({run.state}) waits although no other context holds the lane or is queued "
                f"ahead: {[(r.id, r.state) for r in runs]}")
        if run.started_at is not None:
            assert all(o.started_at is not None for o in runs[:i]), f"{run.id} overtook an earlier trigger"


@SLOW_PROPERTY
@given(_LANE_ACTIONS)
@example([("trigger", 0), ("trigger", 1), ("approval-waits", 0), ("trigger", 2), ("approve", 0)])  # approval frees
@example([("trigger", 0), ("trigger", 1), ("trigger", 0), ("approval-waits", 0), ("deployed", 0)])  # FIFO, same ctx
def test_sequencer_lanes_fifo_approvals_do_not_block_and_contexts_do_not_block_themselves(actions):
    sim = Sim.of(APPROVAL_THEN_DEPLOY, auto=False)
    for n, (action, pick) in enumerate(actions):
        if action == "trigger":
            sim.feed(trigger("dev", context=ctx(pick), id=f"trigger-{n}", change=None))
        else:
            name, state, kinds = {"approval-waits": ("approval", TASK_TRIGGERED, ("started",)),
                                  "approve": ("approval", TASK_STARTED, ("finished",)),
                                  "deployed": ("deployment", TASK_TRIGGERED, ("started", "finished"))}[action]
            candidates = _current(sim, name, state)
            if not candidates:
                continue
            run = candidates[pick % len(candidates)]
            d = _dispatch(sim, run, run.current)
            for kind in kinds:
                sim.feed(answer(d, kind))
        _check_lane(sim.runs())
    assert not sim.rejected()


# ============================================================================ selectors

RESULTS = st.sampled_from([PASS, WARNING, FAIL])
SELECTOR_VALUES = st.sampled_from([PASS, WARNING, FAIL, "failed", "passed", "error", ""])
TASKS = st.sampled_from(["evaluation", "deployment", "test", "approval"])
OTHER_KEYS = st.sampled_from(["status", "stage", "evaluation.score", "results", "result.value", "foo"])


@PROPERTY
@given(RESULTS, st.one_of(st.none(), TASKS), st.sampled_from([None, {}]))
def test_selector_without_a_match_fires_on_pass_and_warning_only(result, last_task, match):
    assert selector_matches(match, result, last_task) is (result in (PASS, WARNING))


@PROPERTY
@given(RESULTS, st.one_of(st.none(), TASKS), SELECTOR_VALUES)
def test_selector_result_key_compares_the_result_as_a_string(result, last_task, value):
    assert selector_matches({"result": value}, result, last_task) is (normalize_result(value) == result)


@PROPERTY
@given(RESULTS, st.one_of(st.none(), TASKS), TASKS, SELECTOR_VALUES)
def test_selector_task_result_key_counts_only_for_the_last_task_that_ran(result, last_task, named, value):
    fires = selector_matches({f"{named}.result": value}, result, last_task)
    assert fires is (named == last_task and normalize_result(value) == result)


@PROPERTY
@given(RESULTS, st.one_of(st.none(), TASKS), st.dictionaries(OTHER_KEYS, SELECTOR_VALUES, min_size=1))
def test_selector_other_keys_never_fire_and_never_matter(result, last_task, others):
    assert selector_matches(others, result, last_task) is False
    for key, value in (("result", FAIL), (f"{last_task}.result", WARNING)):
        with_key = {**others, key: value}
        assert selector_matches(with_key, result, last_task) is selector_matches({key: value}, result, last_task)


@PROPERTY
@given(RESULTS, st.one_of(st.none(), TASKS), st.sampled_from(["result", "evaluation.result", "test.result"]))
def test_selector_failed_is_read_as_fail(result, last_task, key):
    assert selector_matches({key: "failed"}, result, last_task) is selector_matches({key: FAIL}, result, last_task)


_TRIGGER_ENTRIES = st.lists(st.one_of(
    st.just({"event": "dev.delivery.finished"}),
    st.builds(lambda v: {"event": "dev.delivery.finished", "selector": {"match": {"result": v}}}, SELECTOR_VALUES),
    st.builds(lambda t, v: {"event": "dev.delivery.finished", "selector": {"match": {f"{t}.result": v}}},
              TASKS, SELECTOR_VALUES),
    st.just({"event": "dev.other.finished"}),
), max_size=4)


@PROPERTY
@given(st.lists(_TRIGGER_ENTRIES, min_size=1, max_size=4), RESULTS, st.one_of(st.none(), TASKS))
def test_followups_start_each_listening_sequence_once_in_shipyard_order(entries, result, last_task):
    stages = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": "deployment"}]}]},
              {"name": "staging", "sequences": [
                  {"name": f"s{i}", "triggeredOn": trig, "tasks": [{"name": "deployment"}]}
                  for i, trig in enumerate(entries)]}]
    started = [(stage.name, seq.name) for stage, seq in
               followups(shipyard(stages), "dev", "delivery", result, last_task)]
    expected = [("staging", f"s{i}") for i, trig in enumerate(entries)
                if any(t["event"] == "dev.delivery.finished"
                       and selector_matches((t.get("selector") or {}).get("match"), result, last_task)
                       for t in trig)]
    assert started == expected


# ============================================================================ task data

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["", "a", "b", "pass"]))
KEYS = st.sampled_from(["a", "b", "c", "image", "result"])
# JSON objects and scalars only: how lists merge is being changed elsewhere (Keptn's
# "merge, new entries first") and is not a property of this suite.
OBJECTS = st.dictionaries(KEYS, st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3),
                                             max_leaves=8), max_size=4)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Path → value of every scalar and of every empty object."""
    if isinstance(value, dict) and value:
        out: dict[tuple[str, ...], Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, path + (key,)))
        return out
    return {path: value}


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _replaced(over: dict, path: tuple[str, ...]) -> bool:
    """Does `over` replace the value at `path` of what it is merged into?"""
    node: Any = over
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
        if not isinstance(node, dict):
            return True
    return True


@PROPERTY
@given(OBJECTS, OBJECTS)
def test_merge_later_scalars_win_and_untouched_values_stay(base, over):
    before_base, before_over = copy.deepcopy(base), copy.deepcopy(over)
    merged = deep_merge(base, over)
    assert (base, over) == (before_base, before_over), "deep_merge changed its arguments"
    for path, value in _leaves(over).items():
        if value != {}:                                 # an empty object merges into, not over
            assert _at(merged, path) == value, path
    for path, value in _leaves(base).items():
        if not _replaced(over, path):
            assert _at(merged, path) == value, path
    for path in _leaves(merged):
        assert path in _leaves(base) or path in _leaves(over), f"{path} came from nowhere"


@PROPERTY
@given(OBJECTS, OBJECTS)
def test_merging_the_same_data_again_changes_nothing(base, over):
    merged = deep_merge(base, over)
    assert deep_merge(merged, over) == merged


@PROPERTY
@given(OBJECTS, st.sampled_from(["deployment", "test", "evaluation"]), st.dictionaries(KEYS, SCALARS, max_size=3),
       st.one_of(st.none(), st.sampled_from([PASS, FAIL])), st.one_of(st.none(), st.just("succeeded")))
def test_task_data_forces_the_lane_drops_message_and_adds_the_task_properties(run_data, task, properties,
                                                                            result, status):
    run_data = {**run_data, "message": "from before", "stage": "elsewhere"}
    data = task_data(run_data, project="shop", stage="dev", service="carts", result=result, status=status,
                     task_name=task, properties=properties)
    assert (data["project"], data["stage"], data["service"]) == ("shop", "dev", "carts")
    assert "message" not in data
    for key, value in properties.items():
        assert data[task][key] == value
    if result is not None:
        assert data["result"] == result
    elif "result" in run_data:
        assert data["result"] == run_data["result"]       # the trigger's result stays for the first task


_TASK_VALUES = st.lists(st.one_of(st.none(), st.integers(0, 99)), min_size=1, max_size=5)


@PROPERTY
@given(_TASK_VALUES, st.one_of(st.none(), st.integers(100, 199)))
def test_sequencer_each_task_sees_the_newest_earlier_value(values, in_trigger):
    """Task i's `.finished` sets `x` (and `nested.x`) to values[i] unless it is None; every
    later task, and the sequence's `.finished`, sees the newest of them; executors cannot
    move the sequence to another stage, and `message` never flows on."""
    names = [f"t{i}" for i in range(len(values))]
    sy = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": n} for n in names]}]}]

    def finished_data(d: DispatchTask) -> dict[str, Any]:
        v = values[names.index(d.task)]
        data: dict[str, Any] = {"stage": "elsewhere", "message": f"done {d.task}"}
        if v is not None:
            data.update({"x": v, "nested": {"x": v, f"from-{d.task}": True}})
        return data

    sim = Sim.of(sy, executor=scripted(finished_data=finished_data))
    sim.feed(trigger("dev", change=None, data={} if in_trigger is None else {"x": in_trigger}))
    sim.drain()
    seen = in_trigger
    for i, name in enumerate(names):
        (d,) = sim.dispatches(name)
        assert d.event.data.get("x") == seen, (name, d.event.data)
        assert (d.event.data["project"], d.event.data["stage"], d.event.data["service"]) == \
            ("sockshop", "dev", "carts")
        assert "message" not in d.event.data
        if seen is not None and seen < 100:
            assert d.event.data["nested"]["x"] == seen
        assert all(d.event.data.get("nested", {}).get(f"from-{n}") for n in names[:i] if values[names.index(n)]
                   is not None)
        if values[i] is not None:
            seen = values[i]
    (finished,) = sim.emitted("dev.delivery.finished")
    assert finished.data.get("x") == seen and finished.data["stage"] == "dev"


# ============================================================================ timeouts

def _ticks(data, *edges: int) -> list[int]:
    """Tick offsets: random ones, and some right at and just before the given edges."""
    near = [e + d for e in edges for d in (-1, 0)]
    return sorted(data.draw(st.lists(st.integers(0, 8000) | st.sampled_from(near), max_size=12), label="ticks"))


@SLOW_PROPERTY
@given(st.integers(1, 3600), st.sampled_from([None, 60, 1200]), st.data())
def test_an_unanswered_task_times_out_exactly_task_triggered_after_it_was_sent(limit, delay, data):
    props = {"triggeredAfter": f"{delay}s"} if delay else {}
    sy = [{"name": "dev", "sequences": [{"name": "check", "tasks": [{"name": "test", **props}]}]}]
    sim = Sim.of(sy, timeouts=TimeoutSettings(taskTriggered=f"{limit}s"), auto=False)
    sim.feed(trigger("dev", "check", change=None), at=BASE_TIME)
    (run,) = sim.runs()
    for t in _ticks(data, delay or 0, (delay or 0) + limit):
        was_active = not run.terminal
        sent_at = run.tasks[0].triggered_at
        sim.feed(Tick(), at=BASE_TIME + t)
        if delay and run.tasks[0].triggered_at is not None:
            assert run.tasks[0].triggered_at >= BASE_TIME + delay, "sent before its triggeredAfter"
        if not was_active:
            continue
        due = sent_at is not None and BASE_TIME + t >= sent_at + limit
        assert (run.state == "timedOut") is due, (t, sent_at, run.state)
        if t >= (delay or 0):
            assert run.tasks[0].triggered_at is not None, "not sent although due"


@SLOW_PROPERTY
@given(st.sampled_from(["deployment", "approval"]), st.one_of(st.none(), st.integers(1, 7200)),
       st.integers(2, 3600), st.integers(1, 7200), st.data())
def test_a_started_task_times_out_after_its_own_or_the_started_limit_and_never_earlier(
        task, own, triggered_limit, started_limit, data):
    props = {"timeout": f"{own}s"} if own is not None else {}
    sy = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": task, **props}]}]}]
    sim = Sim.of(sy, timeouts=TimeoutSettings(taskTriggered=f"{triggered_limit}s", taskStarted=f"{started_limit}s"),
                 auto=False)
    sim.feed(trigger("dev", change=None), at=BASE_TIME)
    started_at = BASE_TIME + data.draw(st.integers(0, triggered_limit - 1), label="started after")
    (d,) = sim.dispatches()
    sim.feed(answer(d, "started"), at=started_at)
    limit = own if own is not None else (None if task == "approval" else started_limit)
    (run,) = sim.runs()
    for t in _ticks(data, limit or started_limit, triggered_limit):
        now = started_at + t
        was_active = not run.terminal
        sim.feed(Tick(), at=now)
        if was_active:
            # the triggered timeout no longer applies once something said `.started`
            assert (run.state == "timedOut") is (limit is not None and t >= limit), (t, limit, run.state)


_TIMED_TASKS = st.lists(st.fixed_dictionaries({
    "name": st.sampled_from(["deployment", "test", "approval", "evaluation"]),
    "after": st.sampled_from([None, 30, 600]),
    "timeout": st.sampled_from([None, 45, 900]),
}), min_size=1, max_size=3)
_TIMED_ACTIONS = st.lists(st.tuples(st.sampled_from(["started", "finished", "tick", "trigger"]),
                                    st.integers(0, 900), st.integers(0, 3)), max_size=20)


@SLOW_PROPERTY
@given(_TIMED_TASKS, _TIMED_ACTIONS, st.integers(10, 600), st.integers(10, 900))
def test_deadlines_never_lie_in_the_past(tasks, actions, triggered_limit, started_limit):
    """A run's next deadline is never before the moment its current task entered its state,
    and after a tick no active run has a deadline at or before that tick (none is missed)."""
    definition = []
    for t in tasks:
        task: dict[str, Any] = {"name": t["name"]}
        if t["after"]:
            task["triggeredAfter"] = f"{t['after']}s"
        if t["timeout"]:
            task["timeout"] = f"{t['timeout']}s"
        definition.append(task)
    sy = [{"name": "dev", "sequences": [{"name": "delivery", "tasks": definition}]}]
    timeouts = TimeoutSettings(taskTriggered=f"{triggered_limit}s", taskStarted=f"{started_limit}s")
    sim = Sim.of(sy, timeouts=timeouts, auto=False)
    entered: dict[tuple[str, int, str], float] = {}
    now = BASE_TIME
    for n, (action, wait, pick) in enumerate(actions):
        now += wait
        if action == "trigger":
            sim.feed(trigger("dev", context=ctx(pick), id=f"trigger-{n}", change=None), at=now)
        elif action == "tick":
            sim.feed(Tick(), at=now)
        else:
            waiting = [r for r in sim.runs() if not r.terminal and r.current < len(r.tasks)
                       and r.tasks[r.current].state in (TASK_TRIGGERED, TASK_STARTED)]
            if not waiting:
                continue
            run = waiting[pick % len(waiting)]
            sim.feed(answer(_dispatch(sim, run, run.current), action, source=f"executor-{pick % 2}"), at=now)
        for run in sim.runs():
            if run.terminal or run.current >= len(run.tasks):
                continue
            task_run = run.tasks[run.current]
            since = entered.setdefault((run.id, run.current, task_run.state), now)
            deadline = next_deadline(run, timeouts)
            if deadline is not None:
                assert deadline >= since, (run.id, task_run.state, deadline - since)
                if action == "tick":
                    assert deadline > now, f"{run.id}: deadline {deadline - now}s ago survived a tick"
    assert not [r for r in sim.rejected() if r.code not in ("duplicate-source",)]
