"""`reconciler status` and `reconciler events` read the controller's index."""
from __future__ import annotations

import json

from click.testing import CliRunner

from reconciler.cli import main
from tests.support.waiting import wait_until


def test_status_and_events_show_branches_config_errors_and_sequences(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05)
    dev = human_factory(origin.url, "dev")
    commit = dev.change("helloservice/values.yaml", "image: helloservice:4.0.0\nreplicaCount: 1\n", "bump")
    human_factory(origin.url, "main").change("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\n"
                                             "spec:\n  stages:\n    dev: {target: moon}\n", "bad target")
    wait_until(lambda: service.index.runs(), what="a run")
    wait_until(lambda: not (service.index.document("config/status.json") or {}).get("valid", True),
               what="the config error")
    runner = CliRunner()
    result = runner.invoke(main, ["status", "--workdir", str(service.workdir), "--output", "json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["branches"]["dev"] == commit
    assert [r["sequence"] for r in view["active"]] == ["delivery"]
    bad = [f for f in view["config"]["findings"] if f["severity"] == "error"]
    assert bad and bad[0]["file"] == "main:reconciler.yaml" and bad[0]["line"] == 5

    text = runner.invoke(main, ["status", "--workdir", str(service.workdir)])
    assert text.exit_code == 0
    assert "main:reconciler.yaml:5" in text.output and "delivery" in text.output
    assert "the last valid config stays in force" in text.output

    events = runner.invoke(main, ["events", "--workdir", str(service.workdir), "--output", "json",
                                  "--type", "sh.keptn.event.dev."])
    assert events.exit_code == 0
    assert [e["type"] for e in json.loads(events.output)] == ["sh.keptn.event.dev.delivery.triggered"]


def test_status_without_an_index_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["status", "--workdir", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "reconciler serve" in result.output


def test_the_project_is_named_after_the_config_repo_and_other_branches_are_listed_as_ignored(
        tmp_path, service_factory, human_factory):
    import shutil

    from tests.support.controller import EXAMPLE, seeded_origin
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    settings = layout / "main" / "reconciler.yaml"
    settings.write_text(settings.read_text().replace("metadata:\n  name: hello                 # $PROJECT in SLI queries\n",
                                                     ""))
    assert "metadata" not in settings.read_text()
    origin = seeded_origin(tmp_path / "sockshop.git", layout)
    service = service_factory(str(origin), poll=0.05)
    human = human_factory(str(origin), "dev")
    human.change("helloservice/values.yaml", "image: helloservice:4.0.0\nreplicaCount: 1\n", "bump")
    # a leftover branch that is not a stage
    from tests.support.remotes import git
    git("push", "-q", "origin", "HEAD:refs/heads/quality-gate", cwd=human.path)

    trigger = wait_until(lambda: service.index.events(type_prefix="sh.keptn.event.dev.delivery.triggered"),
                         what="the delivery")[0]
    assert trigger["data"]["project"] == "sockshop"
    wait_until(lambda: (service.index.document("config/status.json") or {}).get("ignoredBranches"),
               what="the ignored branch in the status")
    runner = CliRunner()
    view = json.loads(runner.invoke(main, ["status", "--workdir", str(service.workdir), "--output", "json"]).output)
    assert (view["project"], view["projectSource"]) == ("sockshop", "the repository's name")
    assert view["ignoredBranches"] == [{"branch": "quality-gate", "reason": "not a stage of the shipyard"}]
    text = runner.invoke(main, ["status", "--workdir", str(service.workdir)]).output
    assert "project: sockshop (from the repository's name)" in text
    assert "ignored branch: quality-gate (not a stage of the shipyard; nothing on it is read)" in text
    assert "quality-gate@" not in text
    import httpx
    with httpx.Client(base_url=service.url, follow_redirects=True, timeout=10) as browser:
        board = browser.get("/?token=test-token").text               # the web UI: log in once, then the board
        assert "<header><b>sockshop</b>" in board
        status = browser.get("/status").text
    assert "Project <b class=project>sockshop</b> (from the repository&#x27;s name)" in status
    assert "<code>quality-gate</code>" in status
