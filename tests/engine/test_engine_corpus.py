"""Every Keptn-valid shipyard of the corpus runs through the sequencer with a simulated executor.

On pass, the chain of stages the shipyard describes is followed (checked against a small
independent reading of its triggeredOn entries, and by hand for well-known files); on fail,
rollback-style sequences fire; every run ends within a bounded number of steps.
"""
import csv

import pytest
from engine_harness import SHARED, Sim, ctx, scripted, trigger

from reconciler.spec import yamltext
from reconciler.spec.shipyard import Shipyard

CORPUS = SHARED / "corpus" / "keptn"


# Every test here reads ../shared: without it they skip saying so (and fail in CI).
pytestmark = pytest.mark.usefixtures("shared_dir")


def _valid_shipyards() -> list[str]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with open(CORPUS / "MANIFEST.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r["local_path"] for r in rows if r["kind"] == "shipyard" and r["expected"] == "valid"]


VALID = _valid_shipyards()


def load(path: str) -> Shipyard:
    return Shipyard.from_data(yamltext.load((CORPUS / path).read_text()))


def first_stage_sequences(sy: Shipyard) -> list[str]:
    names = [s.name for s in sy.stages[0].sequences]
    return names + ([] if "evaluation" in names else ["evaluation"])


def listeners_of(sy: Shipyard, stage: str, sequence: str):
    event = f"{stage}.{sequence}.finished"
    for st in sy.stages:
        for seq in st.sequences:
            for trig in seq.triggeredOn:
                if trig.event == event:
                    yield st.name, seq, (trig.selector.match if trig.selector else {})


def reached_on_pass(sy: Shipyard, start: tuple[str, str]) -> set[tuple[str, str]]:
    """Which (stage, sequence) run when every task passes, read directly off the file:
    a listener fires without a selector, or when its selector asks for pass."""
    seen, todo = {start}, [start]
    while todo:
        stage, name = todo.pop()
        seq = sy.sequence(stage, name)
        if seq is None or not seq.tasks:
            continue
        last = seq.tasks[-1].name
        for st, listener, match in listeners_of(sy, stage, name):
            fires = not match or match.get("result") == "pass" or match.get(f"{last}.result") == "pass"
            if fires and (st, listener.name) not in seen:
                seen.add((st, listener.name))
                todo.append((st, listener.name))
    return seen


def test_the_corpus_is_there():
    assert len(VALID) >= 30


@pytest.mark.parametrize("path", VALID or [pytest.param(None, id="shared-missing")])
def test_first_stage_sequences_follow_the_stage_chain_on_pass(path):
    sy = load(path)
    first = sy.stages[0].name
    for name in first_stage_sequences(sy):
        sim = Sim.of(sy)
        context = ctx(f"{path}:{name}")
        sim.feed(trigger(first, name, context=context, change=f"change-{name}"))
        sim.drain(max_steps=2000)
        runs = sim.runs(context)
        assert runs and all(r.terminal for r in runs), f"{name}: a run did not end"
        assert {(r.stage, r.sequence) for r in runs} == reached_on_pass(sy, (first, name)), name
        assert len(runs) == len({(r.stage, r.sequence) for r in runs})        # each once
        for r in runs:
            assert r.result == "pass" and r.status == "succeeded", (r.stage, r.sequence, r.message)
            parent = sim.world.runs[r.parent] if r.parent else None
            if parent is not None and parent.stage != r.stage:                 # promoted or approved in
                assert r.gitcommitid.startswith(("promoted-", "landed-by-approval-")), r.id
            elif parent is not None:                                           # same stage: the tip
                assert r.gitcommitid == f"tip-{r.stage}" and r.promotion is None, r.id


HAND_CHECKED = [
    ("keptn__examples/onboarding-carts/shipyard.yaml", "delivery",
     [("dev", "delivery"), ("staging", "delivery"), ("production", "delivery")]),
    ("keptn__examples/onboarding-carts/shipyard.yaml", "delivery-direct",
     [("dev", "delivery-direct"), ("staging", "delivery-direct"), ("production", "delivery-direct")]),
    ("keptn-sandbox__keptn-on-k3s/keptn_project_templates/delivery-rollout/shipyard.yaml", "delivery",
     [("staging", "delivery"), ("prod", "delivery"), ("prod", "canaryphase1"), ("prod", "canaryphase2"),
      ("prod", "canaryphase3")]),
    ("my-keptn-tests__sockshop/shipyard.yaml", "delivery",       # two production stages in parallel
     [("dev", "delivery"), ("staging", "delivery"), ("production", "delivery"),
      ("production-hot-standby", "delivery")]),
    ("agardnerIT__fulltour/shipyard.yaml", "delivery", [("qa", "delivery"), ("production", "delivery")]),
    ("christian-kreuzberger-dtx__keptn-podtato-head-upsteram/shipyard.yaml", "delivery",
     [("qa", "delivery")]),                                        # dangling hardening.delivery.finished
    ("keptn__examples/onboarding-carts/shipyard-quality-gates.yaml", "evaluation", [("hardening", "evaluation")]),
]


@pytest.mark.parametrize("path,sequence,chain", HAND_CHECKED)
def test_well_known_chains(path, sequence, chain):
    sy = load(path)
    sim = Sim.of(sy)
    sim.feed(trigger(sy.stages[0].name, sequence, context=ctx(path)))
    sim.drain(max_steps=2000)
    assert [(r.stage, r.sequence) for r in sim.runs()] == chain


def test_approval_first_stage_gets_the_promotion_through_its_approval():
    sim = Sim.of(load("agardnerIT__fulltour/shipyard.yaml"))
    sim.feed(trigger("qa", context=ctx("fulltour")))
    sim.drain()
    (approval,) = sim.dispatches("approval")
    assert approval.event.data["approval"]["promotion"]["sourceStage"] == "qa"
    assert [d.event.gitcommitid for d in sim.dispatches(stage="production")][1:] == \
        ["landed-by-approval-production"] * 3


def _fail_cases():
    """(path, stage, sequence, failing task, listener stage, listener) for every listener whose
    selector fires on fail: `result: fail` fails the last task; `<task>.result: fail` that task."""
    cases = []
    for path in VALID:
        sy = load(path)
        for st in sy.stages:
            for seq in st.sequences:
                if not seq.tasks:
                    continue
                for lst_stage, listener, match in listeners_of(sy, st.name, seq.name):
                    for key, value in match.items():
                        if value not in ("fail", "failed"):
                            continue
                        task = seq.tasks[-1].name if key == "result" else key[:-len(".result")]
                        if key == "result" or any(t.name == task for t in seq.tasks):
                            cases.append((path, st.name, seq.name, task, lst_stage, listener.name))
    return cases


FAIL_CASES = _fail_cases()


def test_there_are_rollback_and_remediation_cases():
    assert {c[5] for c in FAIL_CASES} >= {"rollback", "remediation"}


@pytest.mark.parametrize("path,stage,sequence,task,lst_stage,listener",
                         FAIL_CASES or [pytest.param(*[None] * 6, id="shared-missing")],
                         ids=[f"{c[0].removesuffix('.yaml')}:{c[1]}.{c[2]}->{c[4]}.{c[5]}" for c in FAIL_CASES] or None)
def test_failures_fire_rollback_style_sequences(path, stage, sequence, task, lst_stage, listener):
    sy = load(path)
    holder: dict[str, Sim] = {}

    def results(d):
        run = holder["sim"].world.runs[d.run_id]
        return "fail" if (d.stage, run.sequence, d.task) == (stage, sequence, task) else "pass"

    sim = holder["sim"] = Sim.of(sy, executor=scripted(results, actions=2))
    first = sy.stages[0].name
    start = next(((first, name) for name in first_stage_sequences(sy)
                  if (stage, sequence) in reached_on_pass(sy, (first, name))), (stage, sequence))
    context = ctx(f"{path}:{stage}:{sequence}:{task}")
    sim.feed(trigger(start[0], start[1], context=context, change=None if start[1] == "remediation" else "chg"))
    sim.drain(max_steps=3000)
    runs = sim.runs(context)
    assert all(r.terminal for r in runs)
    failed = [r for r in runs if (r.stage, r.sequence) == (stage, sequence)]
    assert failed and failed[0].result == "fail"
    assert (lst_stage, listener) in {(r.stage, r.sequence) for r in runs}
    if (lst_stage, listener) == (stage, sequence):                        # the remediation self-loop
        assert len(failed) == 3 and len(sim.escalations()) == 1            # two actions, then escalate
