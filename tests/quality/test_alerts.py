"""`reconciler alerts`: SLO pass criteria become Prometheus rules that fire on violation."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.gitstore.seed import seed_bare_repo
from reconciler.quality.alerts import violation
from tests.support.controller import EXAMPLE


@pytest.mark.parametrize("sets,expected", [
    ([["<600"]], "(q) >= 600"),
    ([["<=0.02"]], "(q) > 0.02"),
    ([[">=10", "<=100"]], "((q) < 10) or ((q) > 100)"),           # AND in a set: any broken one
    ([["<600"], ["<=900"]], "((q) >= 600) and ((q) > 900)"),      # OR of sets: all broken
    ([["=0"]], "(q) != 0"),
])
def test_violation_negates_the_pass_criteria(sets, expected):
    expr, left_out = violation("q", sets)
    assert expr == expected and left_out == []


def test_relative_criteria_are_left_out_and_reported():
    expr, left_out = violation("q", [["<=+10%", "<500"]])
    assert expr == "(q) >= 500"
    assert left_out == ["'<=+10%' (relative to earlier evaluations)"]
    assert violation("q", [["<=+10%"]])[0] is None          # nothing absolute: no alert at all


def test_cli_writes_rules_promtool_accepts(tmp_path):
    repo = tmp_path / "config.git"
    seed_bare_repo(repo, EXAMPLE)
    out = tmp_path / "rules.yml"
    result = CliRunner().invoke(main, ["alerts", str(repo), "--window", "30s", "--for", "10s", "--file", str(out)])
    assert result.exit_code == 0, result.output
    rules = yaml.safe_load(out.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {"response_time_p95", "error_rate"}   # throughput is informational
    rt = next(r for r in rules if r["alert"] == "response_time_p95")
    assert rt["labels"]["stage"] == "production" and rt["labels"]["service"] == "helloservice"
    assert '[30s]' in rt["expr"] and rt["expr"].endswith(">= 600")
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_cli_rejects_unknown_stages(tmp_path):
    repo = tmp_path / "config.git"
    seed_bare_repo(repo, EXAMPLE)
    result = CliRunner().invoke(main, ["alerts", str(repo), "--stage", "moon"])
    assert result.exit_code == 2 and "unknown stage" in result.output


def test_cli_names_the_project_like_serve_the_repository_name_unless_settings_set_one(tmp_path):
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    settings = layout / "main" / "reconciler.yaml"
    settings.write_text(settings.read_text().replace("metadata:\n  name: hello                 # $PROJECT in SLI queries\n", ""))
    repo = tmp_path / "sockshop.git"
    seed_bare_repo(repo, layout)
    out = tmp_path / "rules.yml"
    assert CliRunner().invoke(main, ["alerts", str(repo), "--file", str(out)]).exit_code == 0
    group = yaml.safe_load(out.read_text())["groups"][0]
    assert group["name"] == "reconciler-sockshop-production-helloservice"
    assert 'job="helloservice-sockshop-production"' in group["rules"][0]["expr"]

    named = tmp_path / "other.git"
    seed_bare_repo(named, EXAMPLE)                       # reconciler.yaml says `name: hello`
    assert CliRunner().invoke(main, ["alerts", str(named), "--file", str(out)]).exit_code == 0
    assert yaml.safe_load(out.read_text())["groups"][0]["name"] == "reconciler-hello-production-helloservice"
