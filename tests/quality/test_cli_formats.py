"""Issue 12, CLI: `-o` names a format (text, json, yaml) on every command that prints data and
never a file; `evaluate` tells a failed gate (1) from an errored one (3); `alerts` writes files
with `--file` and reports an unwritable path as an error, not a traceback; one error line."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli.output import ERROR_PREFIX, render
from reconciler.gitstore.seed import seed_bare_repo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example-config-repo"
SLO = """\
objectives:
  - sli: error_rate
    pass: [{criteria: ["<=0.01"]}]
total_score: {pass: "90%"}
"""
SLI = 'indicators:\n  error_rate: sum(rate(http_errors_total{service="$SERVICE"}[$DURATION_SECONDS]))\n'


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


@pytest.fixture
def slo(tmp_path: Path) -> Path:
    (tmp_path / "slo.yaml").write_text(SLO)
    (tmp_path / "sli.yaml").write_text(SLI)
    return tmp_path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]          # closed again when the block ends: nothing listens there


def test_evaluate_takes_short_o_and_yaml(slo):
    (slo / "v.json").write_text('{"error_rate": 0.5}')
    as_json = invoke("evaluate", "--slo", str(slo / "slo.yaml"), "--values", str(slo / "v.json"), "-o", "json")
    as_yaml = invoke("evaluate", "--slo", str(slo / "slo.yaml"), "--values", str(slo / "v.json"), "-o", "yaml")
    assert as_json.exit_code == as_yaml.exit_code == 1                 # a failed gate
    assert json.loads(as_json.stdout) == yaml.safe_load(as_yaml.stdout)
    assert json.loads(as_json.stdout)["result"] == "fail"


def test_evaluate_with_prometheus_unreachable_exits_3_not_1(slo):
    result = invoke("evaluate", "--slo", str(slo / "slo.yaml"), "--prometheus", f"http://127.0.0.1:{closed_port()}",
                    "--sli", str(slo / "sli.yaml"), "--timeframe", "5m", "--timeout", "2s", "-o", "json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["error_kind"] == "sli_retrieval_failed"


def test_evaluate_usage_errors_use_the_one_error_line(slo):
    result = invoke("evaluate", "--slo", str(slo / "slo.yaml"))
    assert result.exit_code == 2 and result.stderr.startswith(ERROR_PREFIX)


def test_validate_takes_short_o_and_yaml(tmp_path):
    repo = tmp_path / "config.git"
    seed_bare_repo(repo, EXAMPLE)
    (tmp_path / "bad.yaml").write_text("apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nspec: {stages: 3}\n")
    for target, code in ((repo, 0), (tmp_path / "bad.yaml", 1)):
        as_json = invoke("validate", str(target), "-o", "json")
        as_yaml = invoke("validate", str(target), "-o", "yaml")
        assert as_json.exit_code == as_yaml.exit_code == code
        assert json.loads(as_json.stdout) == (yaml.safe_load(as_yaml.stdout) or [])
    missing = invoke("validate", str(tmp_path / "nothing"))
    assert missing.exit_code == 2 and missing.stderr.startswith(ERROR_PREFIX)


def test_alerts_o_is_a_format_never_a_file(tmp_path, monkeypatch):
    repo = tmp_path / "config.git"
    seed_bare_repo(repo, EXAMPLE)
    monkeypatch.chdir(tmp_path)
    as_json = invoke("alerts", str(repo), "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    assert not (tmp_path / "json").exists()
    assert json.loads(as_json.stdout) == yaml.safe_load(invoke("alerts", str(repo), "-o", "yaml").stdout)
    old_style = invoke("alerts", str(repo), "-o", "rules.yml")
    assert old_style.exit_code == 2 and "--file" in old_style.stderr and old_style.stderr.startswith(ERROR_PREFIX)
    assert not (tmp_path / "rules.yml").exists()


def test_alerts_to_an_unwritable_path_is_an_error_not_a_traceback(tmp_path):
    repo = tmp_path / "config.git"
    seed_bare_repo(repo, EXAMPLE)
    result = invoke("alerts", str(repo), "--file", "/nonexistent/rules.yml")
    assert result.exit_code == 2
    assert result.stderr.startswith(ERROR_PREFIX) and "cannot write /nonexistent/rules.yml" in result.stderr


def test_render_yaml_and_json_carry_the_same_data():
    data = {"b": [1, 2.5, None, True], "a": {"nested": "ü"}, "when": Path("/x")}
    assert yaml.safe_load(render(data, "yaml")) == json.loads(render(data, "json"))
    assert list(yaml.safe_load(render(data, "yaml"))) == ["b", "a", "when"]       # keys keep their order


def test_every_data_command_takes_o_yaml():
    """The option is the same object everywhere: text, json and yaml."""
    import importlib

    from reconciler.cli import COMMANDS
    def commands():
        for name, ref in COMMANDS.items():
            module, attr = ref.split(":")
            cmd = getattr(importlib.import_module(f"reconciler.cli.{module}"), attr)
            yield from ((f"{name} {sub}", c) for sub, c in cmd.commands.items()) if hasattr(cmd, "commands") \
                else [(name, cmd)]
    seen = {}
    for name, cmd in commands():
        options = {o.name: o for o in cmd.params}
        if "output" in options and name != "alerts":
            seen[name] = options["output"]
    assert {"status", "events", "validate", "evaluate", "get sequences", "get sequence", "get evaluations",
            "get evaluation", "trigger delivery", "approve", "decline", "abort", "pause", "resume"} <= set(seen)
    for name, option in seen.items():
        assert list(option.type.choices) == ["text", "json", "yaml"], name
        assert "-o" in option.opts, name


def test_shell_completion_as_documented():
    """docs/cli.md: `_RECONCILER_COMPLETE=bash_source reconciler`; commands and -o choices complete."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "_RECONCILER_COMPLETE": "bash_complete", "COMP_WORDS": "reconciler get s", "COMP_CWORD": "2"}
    code = "from reconciler.cli import main; main(prog_name='reconciler')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert out.split() == ["plain,sequence", "plain,sequences"]
    env.update(COMP_WORDS="reconciler status -o ", COMP_CWORD="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert out.split() == ["plain,text", "plain,json", "plain,yaml"]
    source = subprocess.run([sys.executable, "-c", code], env={**os.environ, "_RECONCILER_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60).stdout
    assert "_RECONCILER_COMPLETE=bash_complete" in source
