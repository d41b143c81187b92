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
