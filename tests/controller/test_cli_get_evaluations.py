"""`reconciler get evaluations|evaluation ID`: the list from the index, one evaluation's SLIs
from its evidence file on `reconciler/results` in the work dir's mirror (a real bare Git
repository and a real index, laid out as `serve` leaves them)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pygit2
import yaml
from click.testing import CliRunner

from reconciler import contract
from reconciler.cli import main
from reconciler.controller.index import Index
from reconciler.gitstore.mirror import MIRROR_DIRNAME
from reconciler.quality import evidence
from reconciler.quality.scoring import evaluate
from reconciler.runtime.service import INDEX_FILE

SLO = """\
objectives:
  - sli: response_time
    pass: [{criteria: ["<600"]}]
  - sli: error_rate
    pass: [{criteria: ["<=0.01"]}]
total_score: {pass: "90%"}
"""
CONTEXTS = ["5eed0001-0000-4000-8000-000000000001", "5eed0002-0000-4000-8000-000000000002"]


def results_workdir(tmp_path: Path) -> tuple[Path, list[str]]:
    """A work dir whose mirror's results branch holds two evaluations, and its index."""
    workdir = tmp_path / "work"
    repo = pygit2.init_repository(str(workdir / MIRROR_DIRNAME), bare=True)
    files: dict[str, bytes] = {}
    for n, (context, values) in enumerate(zip(CONTEXTS, ({"response_time": 450, "error_rate": 0.0},
                                                          {"response_time": 900, "error_rate": 0.0}), strict=True)):
        at = dt.datetime(2026, 1, 1, 10, n, tzinfo=dt.UTC)
        doc = evidence.build(evaluate(SLO, values), context=context, project="hello", stage="staging",
                             service="helloservice", evaluated_at=at, window=(at.timestamp() - 60, at.timestamp()))
        files[evidence.path_for("staging", "helloservice", at, context)] = json.dumps(doc).encode()
    builder = pygit2.IndexEntry
    index = pygit2.Index()
    for path, data in files.items():
        index.add(builder(path, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    who = pygit2.Signature("reconciler", contract.BOT_EMAIL)
    tip = repo.create_commit(f"refs/heads/{contract.RESULTS_BRANCH}", who, who, "evaluations",
                             index.write_tree(repo), [])
    db = Index(workdir / INDEX_FILE)
    db.apply(str(tip), files)
    db.close()
    return workdir, sorted(files)


def cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def test_get_evaluations_lists_newest_first(tmp_path):
    workdir, paths = results_workdir(tmp_path)
    result = cli("get", "evaluations", "-w", str(workdir), "-o", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["path"] for r in rows] == sorted(paths, reverse=True)
    assert [(r["result"], r["context"]) for r in rows] == [("fail", CONTEXTS[1]), ("pass", CONTEXTS[0])]
    text = cli("get", "evaluations", "-w", str(workdir)).output
    assert rows[0]["id"] in text and "fail" in text


def test_get_evaluation_shows_every_sli(tmp_path):
    workdir, paths = results_workdir(tmp_path)
    newest = Path(sorted(paths)[-1]).stem
    result = cli("get", "evaluation", newest, "-w", str(workdir), "-o", "yaml")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.output)
    assert data["result"] == "fail"
    assert [(o["sli"], o["value"], o["status"]) for o in data["objectives"]] == [
        ("response_time", 900, "fail"), ("error_rate", 0.0, "pass")]
    assert data["objectives"][0]["passTargets"][0]["violated"] is True
    text = cli("get", "evaluation", newest, "-w", str(workdir)).output
    assert "response_time" in text and "<600 (600, missed)" in text and "result: fail" in text
    # by context prefix: that context's newest evaluation
    by_context = json.loads(cli("get", "evaluation", CONTEXTS[0][:8], "-w", str(workdir), "-o", "json").output)
    assert (by_context["context"], by_context["result"]) == (CONTEXTS[0], "pass")
    # ambiguous and unknown ids are usage errors that say so
    ambiguous = cli("get", "evaluation", "2026", "-w", str(workdir))
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.output
    unknown = cli("get", "evaluation", "zzzzzzzz", "-w", str(workdir))
    assert unknown.exit_code == 2 and "no evaluation 'zzzzzzzz'" in unknown.output


def test_watch_redraws_when_the_data_changes(capsys):
    from reconciler.cli.watch import watch_frames
    frames = iter(["a", "a", "b", "b"])
    watch_frames(lambda: next(frames), "yaml", 0.5, rounds=4, sleep=lambda _s: None)
    assert capsys.readouterr().out == "---\na\n---\nb\n"
