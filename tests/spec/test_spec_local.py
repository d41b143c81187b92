"""`local.yaml` as a config kind: detection, schema and model agreeing, the `shell-command`
advice being usable as written, and the local target refusing exactly what the validator
calls an error."""
from __future__ import annotations

import json
import re
import textwrap
import typing
from pathlib import Path

import pytest
import yaml

from reconciler.layout import split_service
from reconciler.spec.kinds import detect_kind, kind_of_repo_path
from reconciler.spec.localspec import LocalSpec
from reconciler.spec.schemas import schema
from reconciler.spec.settings import parse_duration
from reconciler.spec.validate import check_document, validate_document
from reconciler.targets.base import DeploymentFailed
from reconciler.targets.localspec import load_local_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example-config-repo"
ANY_LOCAL = {"command": ["python", "app.py"]}


@pytest.mark.parametrize("path,data,kind", [
    ("local.yaml", {}, "local"),
    ("dev/helloservice/local.yaml", ANY_LOCAL, "local"),
    ("LOCAL.YML", ANY_LOCAL, "local"),
    ("svc/run.yaml", {**ANY_LOCAL, "startTimeout": "5s"}, "local"),        # by its keys alone
    ("localization.yaml", {"greeting": "hi"}, None),                       # not by a name prefix
    ("compose.yaml", {**ANY_LOCAL, "image": "x"}, None),                   # `command` among other keys
    ("local.yaml", {"apiVersion": "reconciler/v1", "kind": "Settings"}, "settings"),   # declaration first
])
def test_kind_detection(path, data, kind):
    assert detect_kind(path, data) == kind


def test_repo_path_kind():
    assert kind_of_repo_path(split_service("helloservice/local.yaml")[1]) == "local"
    assert split_service("local.yaml") == (None, "local.yaml")


def test_schema_and_model_agree_on_keys_and_strictness():
    doc = schema("local")
    assert doc["additionalProperties"] is False and LocalSpec.model_config["extra"] == "forbid"
    assert set(doc["properties"]) == set(LocalSpec.model_fields)
    assert doc["required"] == [n for n, f in LocalSpec.model_fields.items() if f.is_required()]
    assert all(prop.get("description") for prop in doc["properties"].values())
    assert typing.get_origin(LocalSpec.model_fields["command"].annotation) is list


def test_defaults_are_schema_valid():
    dumped = LocalSpec(command=["x"]).model_dump()
    assert not check_document(json.dumps(dumped), "local").has_errors


@pytest.mark.parametrize("value,ok", [("30s", True), ("1m30s", True), ("250ms", True), (45, True), (0.5, True),
                                      ("10", False), ("2 minutes", False), ("-1s", False), (-3, False), (True, False)])
def test_start_timeout_agrees_between_schema_and_model(value, ok):
    result = check_document(f"command: [x]\nstartTimeout: {json.dumps(value)}\n", "local")
    assert (not result.has_errors) == ok, result.issues
    try:
        parse_duration(value)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed == ok
    if ok:
        assert result.model.startTimeout == parse_duration(value)


def test_model_normalises_values():
    result = check_document("command: [sleep, 10]\nenv: {N: 2, ON: true, OFF: false, S: x}\nhealthPath: /up\n",
                            "local")
    assert result.issues == ()
    spec = result.model
    assert spec.command == ["sleep", "10"]
    assert spec.env == {"N": "2", "ON": "true", "OFF": "false", "S": "x"}
    assert (spec.healthPath, spec.metricsPath, spec.startTimeout) == ("/up", "/metrics", 30.0)
    assert check_document("command: [x]\nenv:\n", "local").model.env == {}


@pytest.mark.parametrize("command,argv", [
    ("python -m app --port=$(PORT)", ["python", "-m", "app", "--port=$(PORT)"]),
    ("./run 'two words' -v", ["./run", "two words", "-v"]),
    ("sleep 10", ["sleep", "10"]),
    ("python app.py --flag=true -", ["python", "app.py", "--flag=true", "-"]),
])
def test_shell_command_is_the_only_finding_and_its_advice_works(command, argv):
    text = f"command: {json.dumps(command)}\n"
    [finding] = validate_document(text, name="local.yaml")
    assert (finding.code, finding.severity, finding.line) == ("shell-command", "error", 1)
    assert "no shell" in finding.message and "list" in finding.message
    advice = re.search(r"`(command: \[.*\])`", finding.message).group(1)
    fixed = check_document(advice + "\n", "local")
    assert not fixed.has_errors and fixed.model.command == argv


def test_shell_syntax_gets_a_script_not_a_list():
    [finding] = validate_document("command: cat x | grep y > out\n", name="local.yaml")
    assert finding.code == "shell-command" and "script" in finding.message


def test_known_variables_are_not_reported():
    text = textwrap.dedent("""\
        command: [python, "$(PORT)", "$(RECONCILER_STAGE)", "$(VALUE_IMAGE)", "$(VALUES_JSON)", "$(HOME)",
                  "$(LC_ALL)", "$(MINE)", "$$(ESCAPED)", "$(", "$PLAIN"]
        env: {MINE: x}
        """)
    assert validate_document(text, name="local.yaml") == []
    found = validate_document(text.replace("env: {MINE: x}", "env: {}"), name="local.yaml")
    assert [(f.code, f.line) for f in found] == [("unknown-variable", 2)]
    assert "$(MINE)" in found[0].message


def example_config_files() -> list[Path]:
    return sorted(p for p in EXAMPLE.rglob("*.yaml") if p.name != "values.yaml")


@pytest.mark.parametrize("path", example_config_files(), ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_every_example_config_file_is_clean_on_its_own(path):
    result = check_document(path.read_bytes(), None, str(path))
    rel = split_service(path.relative_to(EXAMPLE).as_posix().split("/", 1)[1])[1]
    assert result.kind == (kind_of_repo_path(rel) or {"shipyard.yaml": "shipyard",
                                                      "reconciler.yaml": "settings"}[rel])
    assert result.issues == () and result.model is not None


def test_example_has_local_yaml_in_every_stage():
    stages = [p.name for p in EXAMPLE.iterdir() if p.is_dir() and p.name != "main"]
    assert stages and all((EXAMPLE / s / "helloservice" / "local.yaml").is_file() for s in stages)


# --- the target's loader and the validator agree ---------------------------------------------

DOCUMENTS = [
    "command: [python, app.py]\n",
    "command: [python, app.py, '$(NOPE)']\nenv: {PORT: 1}\n",        # warnings only: deployable
    "env: {}\ncommand: python -m app\n",
    "command: [python]\nstartTimeout: soon\n",
    "command: [python]\nhealthPath: healthz\n",
    "command: [python]\nextra: 1\n",
    "command: []\n",
    "- python\n",
    "",
    "command: [python\n",
    "command: [python]\nenv:\n  BAD=NAME: x\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_target_refuses_exactly_the_invalid_files(tmp_path, text):
    folder = tmp_path / "hello"
    folder.mkdir()
    (folder / "local.yaml").write_text(text)
    result = check_document(text, "local")
    if not result.has_errors:
        assert load_local_spec(folder) == result.model
        return
    with pytest.raises(DeploymentFailed) as err:
        load_local_spec(folder, display="hello/local.yaml")
    assert err.value.kind == "manifest-invalid"
    for issue in (i for i in result.issues if i.severity == "error"):
        assert f"hello/local.yaml:{issue.line}: " in str(err.value) and issue.message in str(err.value)


def test_the_loader_names_the_field(tmp_path):
    folder = tmp_path / "hello"
    folder.mkdir()
    (folder / "local.yaml").write_text("command: [python]\nenv:\n  A: [1]\n")
    with pytest.raises(DeploymentFailed) as err:
        load_local_spec(folder)
    assert "hello/local.yaml:3: field 'env.A'" in str(err.value)


def test_example_local_yaml_loads_through_the_target(tmp_path):
    spec = load_local_spec(EXAMPLE / "dev" / "helloservice")
    assert spec.command[:2] == ["python", "-m"] and spec.startTimeout == 20.0
    assert yaml.safe_load((EXAMPLE / "dev/helloservice/local.yaml").read_text())["command"] == spec.command
