"""Lane files: readable line by line, and exactly what the engine resumes from."""
from __future__ import annotations

import json

from reconciler.controller.journal import lane_text
from reconciler.engine import sequencer
from reconciler.engine.commands import ResolveCommit
from reconciler.engine.events import CloudEvent, sequence_type
from reconciler.engine.inputs import CommitResolved, EventReceived
from reconciler.engine.state import lane_document, runs_from_document
from reconciler.engine.world import World
from reconciler.spec.shipyard import Shipyard

SHIPYARD = Shipyard.from_data({"apiVersion": "spec.keptn.sh/0.2.3", "metadata": {"name": "p"}, "spec": {"stages": [
    {"name": "dev", "sequences": [{"name": "delivery", "tasks": [{"name": "deployment"}, {"name": "test"}]}]}]}})


def busy_world() -> World:
    world = World(SHIPYARD, project="p")
    event = CloudEvent(type=sequence_type("dev", "delivery", "triggered"),
                       data={"project": "p", "stage": "dev", "service": "svc", "note": "ünïcode"},
                       shkeptncontext="c0ffee00-0000-4000-8000-000000000001", id="trigger-1",
                       time="2023-11-14T22:13:20.000Z")
    world, commands = sequencer.step(world, EventReceived(event), 1_700_000_000.0)
    resolve = next(c for c in commands if isinstance(c, ResolveCommit))
    world, _ = sequencer.step(world, CommitResolved(resolve.run_id, "a" * 40), 1_700_000_001.0)
    return world


def test_lane_text_round_trips_to_the_same_document():
    world = busy_world()
    runs = world.lane_runs("dev", "svc", "c0ffee00-0000-4000-8000-000000000001")
    assert runs and runs[0].events                      # a dispatched task: events recorded
    text = lane_text("dev", "svc", runs[0].context, runs)
    doc = json.loads(text)
    assert doc == lane_document("dev", "svc", runs[0].context, runs)
    again = runs_from_document(doc, source="lane")
    assert [r.to_dict() for r in again] == [r.to_dict() for r in runs]


def test_each_event_is_one_line_and_the_run_state_is_spread_over_lines():
    world = busy_world()
    runs = world.lane_runs("dev", "svc", "c0ffee00-0000-4000-8000-000000000001")
    lines = lane_text("dev", "svc", runs[0].context, runs).decode().splitlines()
    event_lines = [line for line in lines if line.strip().startswith("{") and '"specversion"' in line]
    assert len(event_lines) == len(runs[0].events)
    assert any(line.strip().startswith('"state":') for line in lines)
