"""Which queued runs may start (Keptn f.4 with our documented choices), as a pure table."""
from dataclasses import dataclass

import pytest

from reconciler.engine.lanes import Lane, holds_lane, position, startable


@dataclass
class R:
    name: str
    context: str
    state: str
    paused_from: str | None = None
    queue: tuple = (0, 0, 0)


def lane(*specs):
    """specs: "name:context:state[:paused_from]" in queue order."""
    out = []
    for i, spec in enumerate(specs):
        parts = spec.split(":")
        out.append(R(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else None, (i, 0, i)))
    return out


@pytest.mark.parametrize("specs,expected", [
    (["a:A:triggered"], ["a"]),                                          # free lane
    (["a:A:triggered", "b:B:triggered"], ["a"]),                         # FIFO: only the first
    (["a:A:started", "b:B:triggered"], []),                              # held by another context
    (["a:A:started", "b:A:triggered"], ["b"]),                           # same context never blocks
    (["a:A:waitingForApproval", "b:B:triggered"], ["b"]),               # approval frees the lane
    (["a:A:paused:started", "b:B:triggered"], []),                       # a paused run keeps its lane
    (["a:A:paused:waitingForApproval", "b:B:triggered"], ["b"]),
    (["a:A:paused:triggered", "b:B:triggered"], ["b"]),                  # paused while queued: no block
    (["a:A:started", "b:B:triggered", "c:A:triggered"], []),             # FIFO before same-context
    (["a:A:waiting", "b:B:triggered"], ["a"]),                           # approved run goes first
    (["x:C:started", "a:A:waiting", "b:B:triggered"], []),
    (["a:A:triggered", "b:A:triggered", "c:B:triggered"], ["a", "b"]),   # one context starts together
    (["a:A:finished", "b:B:triggered"], ["b"]),
    (["a:A:started", "b:B:waitingForApproval", "c:C:triggered"], []),
])
def test_startable(specs, expected):
    assert [r.name for r in startable(lane(*specs))] == expected


@pytest.mark.parametrize("state,paused_from,holds", [
    ("started", None, True), ("paused", "started", True), ("paused", "triggered", False),
    ("waitingForApproval", None, False), ("triggered", None, False), ("waiting", None, False),
    ("finished", None, False),
])
def test_holds_lane(state, paused_from, holds):
    assert holds_lane(R("a", "A", state, paused_from)) is holds


def test_position_counts_queued_runs_only():
    runs = lane("a:A:started", "b:B:triggered", "c:C:paused:triggered", "d:D:waiting")
    assert [position(runs, r) for r in runs] == [None, 1, None, 2]


def test_lane_keeps_queue_order_whatever_the_insertion_order():
    lane_ = Lane(("dev", "carts"))
    runs = [R(str(i), "A", "triggered", None, q) for i, q in
            enumerate([(5, 0, 1), (2, 0, 2), (5, 1, 3), (1, 0, 4), (5, 0, 0)])]
    for r in runs:
        lane_.add(r)
    assert [r.queue for r in lane_] == [(1, 0, 4), (2, 0, 2), (5, 0, 0), (5, 0, 1), (5, 1, 3)]
    lane_.remove(runs[1])
    assert len(lane_) == 4 and runs[1] not in list(lane_)
