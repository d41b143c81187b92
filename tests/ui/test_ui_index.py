"""The index's lane summary behind the web board: newest run and newest valid evaluation per
lane, kept right by every apply (new runs, rewritten lane files, invalidations, deletions)."""
from __future__ import annotations

import json

from reconciler.controller.index import Index


def lane(stage: str, service: str, context: str, state: str, at: float, result: str | None = None) -> bytes:
    run = {"id": f"{context}/{stage}/0", "context": context, "stage": stage, "service": service, "index": 0,
           "sequence": "delivery", "state": state, "triggeredAt": at, "current": 0,
           "tasks": [{"index": 0, "name": "deployment", "state": "started"}], "events": []}
    if result:
        run["result"] = result
        run["message"] = f"{context} ended {result}"
    return json.dumps({"runs": [run]}).encode()


def evaluation(context: str, result: str, score: float, invalidated: bool = False) -> bytes:
    return json.dumps({"context": context, "result": result, "score": score, "invalidated": invalidated}).encode()


def by_lane(index: Index) -> dict:
    return {(x["stage"], x["service"]): x for x in index.lanes()}


def test_the_newest_run_and_the_newest_valid_evaluation_per_lane(tmp_path):
    index = Index(tmp_path / "index.sqlite")
    ev1, ev2 = "evaluations/dev/shop/20260101T000000Z-c1.json", "evaluations/dev/shop/20260102T000000Z-c2.json"
    index.apply("t1", {"sequences/dev/shop/c1.json": lane("dev", "shop", "c1", "finished", 1.0, "pass"),
                       ev1: evaluation("c1", "pass", 100.0),
                       "sequences/dev/cart/c9.json": lane("dev", "cart", "c9", "started", 5.0)})
    lanes = by_lane(index)
    assert lanes[("dev", "shop")]["last"]["context"] == "c1" and lanes[("dev", "shop")]["evaluation"]["path"] == ev1
    assert lanes[("dev", "cart")]["active"][0]["task"] == "deployment" and lanes[("dev", "cart")]["evaluation"] is None

    # a newer context in the lane, then its lane file rewritten at a transition
    index.apply("t2", {"sequences/dev/shop/c2.json": lane("dev", "shop", "c2", "started", 2.0),
                       ev2: evaluation("c2", "fail", 40.0)})
    index.apply("t3", {"sequences/dev/shop/c2.json": lane("dev", "shop", "c2", "finished", 2.0, "fail")})
    shop = by_lane(index)[("dev", "shop")]
    assert shop["last"] == {"sequence": "delivery", "state": "finished", "result": "fail", "message": "c2 ended fail",
                            "context": "c2"}
    assert shop["evaluation"]["path"] == ev2 and shop["active"] == []

    # invalidating the newest evaluation shows the one before it; deleting a lane's files empties it
    index.apply("t4", {ev2: evaluation("c2", "fail", 40.0, invalidated=True)})
    assert by_lane(index)[("dev", "shop")]["evaluation"]["path"] == ev1
    index.apply("t5", {"sequences/dev/cart/c9.json": None})
    assert ("dev", "cart") not in by_lane(index)


def test_a_rebuilt_index_summarises_like_the_incremental_one(tmp_path):
    files = {f"sequences/{st}/svc{i}/c{st}{i}.json": lane(st, f"svc{i}", f"c{st}{i}", "finished", float(i), "pass")
             for st in ("dev", "prod") for i in range(20)}
    incremental = Index(tmp_path / "a.sqlite")
    for path, content in files.items():
        incremental.apply("t", {path: content})
    rebuilt = Index(tmp_path / "b.sqlite")
    rebuilt.apply("t", files)
    key = lambda x: (x["stage"], x["service"])  # noqa: E731
    assert sorted(incremental.lanes(), key=key) == sorted(rebuilt.lanes(), key=key) and len(rebuilt.lanes()) == 40


def test_a_rebuild_from_the_results_branch_summarises_every_lane(tmp_path):
    """`sync` on an empty index takes the streaming rebuild (no per-file summaries, indexes
    built at the end); the summary must equal the one kept by incremental applies."""
    from reconciler.controller.journal import Batch, Journal
    from reconciler.gitstore import Mirror, Writer
    from tests.support.remotes import git
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    mirror = Mirror(str(origin), tmp_path / "work")
    mirror.fetch()
    journal = Journal(mirror, Writer(mirror))
    incremental = Index(tmp_path / "a.sqlite")
    for n in range(3):
        batch = Batch()
        for i in range(5):
            batch.put(f"sequences/dev/svc{i}/c{n}{i}.json",
                      lane("dev", f"svc{i}", f"c{n}{i}", "finished", float(n * 10 + i), "pass"))
            batch.put(f"evaluations/dev/svc{i}/2026010{n + 1}T000000Z-c{n}{i}.json",
                      evaluation(f"c{n}{i}", "pass", 90.0 + n))
        batch.note(f"round {n}")
        written = journal.commit(batch)
        incremental.apply(written.oid, batch.files)
    rebuilt = Index(tmp_path / "b.sqlite")
    assert rebuilt.sync(journal) == 30
    key = lambda x: (x["stage"], x["service"])  # noqa: E731
    assert sorted(rebuilt.lanes(), key=key) == sorted(incremental.lanes(), key=key)
    assert {x["last"]["context"] for x in rebuilt.lanes()} == {f"c2{i}" for i in range(5)}
