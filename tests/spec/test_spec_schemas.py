"""The JSON schemas: valid 2020-12, usable from editors, in sync with the models and the
docs; and the finding codes the code can emit are the documented ones."""
from __future__ import annotations

import ast
import json
import re
import types
import typing
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from reconciler.spec.codes import CODES
from reconciler.spec.kinds import KINDS
from reconciler.spec.schemas import schema
from reconciler.spec.settings import Settings, parse_duration
from reconciler.spec.validate import check_document

ROOT = Path(__file__).resolve().parents[2]
OWN_SCHEMAS = ["shipyard", "slo", "sli", "remediation", "jobconfig", "reconciler", "local"]


@pytest.mark.parametrize("name", OWN_SCHEMAS)
def test_schema_is_valid_and_self_describing(name):
    doc = json.loads((ROOT / "schemas" / f"{name}.json").read_text())
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].startswith("urn:reconciler:schema:") and doc["title"] and doc["description"]


def test_every_kind_has_a_packaged_schema():
    for kind in KINDS:
        assert schema(kind)["$id"].endswith(kind if kind != "settings" else "reconciler")


def _fields(model: type[BaseModel]) -> dict[str, typing.Any]:
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _check_model(model: type[BaseModel], defs: dict, seen: set[str]) -> None:
    name = model.__name__
    if name in seen:
        return
    seen.add(name)
    node = defs[name]
    assert node.get("additionalProperties") is False, f"{name}: the settings are strict"
    assert set(node["properties"]) == set(_fields(model)), f"{name}: schema and model disagree on keys"
    for key, annotation in _fields(model).items():
        prop = node["properties"][key]
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        args = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
        target = prop.get("additionalProperties") if prop.get("type") == "object" and "additionalProperties" in prop \
            else prop.get("items") if prop.get("type") == "array" else prop
        for arg in args:
            inner = typing.get_args(arg)
            if typing.get_origin(arg) is typing.Literal:
                allowed = prop.get("enum") or [prop.get("const")]
                assert sorted(allowed) == sorted(inner), f"{name}.{key}"
            elif isinstance(arg, type) and issubclass(arg, BaseModel):
                assert prop.get("$ref") == f"#/$defs/{arg.__name__}", f"{name}.{key}"
                _check_model(arg, defs, seen)
            elif inner and isinstance(inner[-1], type) and issubclass(inner[-1], BaseModel):
                assert target.get("$ref") == f"#/$defs/{inner[-1].__name__}", f"{name}.{key}"
                _check_model(inner[-1], defs, seen)


def test_settings_schema_matches_the_settings_model():
    defs = schema("settings")["$defs"]
    seen: set[str] = set()
    _check_model(Settings, defs, seen)
    assert seen == set(defs) - {"duration"}, "every $defs entry is a model"


@pytest.mark.parametrize("value,ok", [("30s", True), ("1h30m", True), ("250ms", True), (45, True),
                                      ("10", False), ("5 minutes", False), ("-1s", False), (-3, False)])
def test_settings_durations_agree_between_schema_and_model(value, ok):
    doc = f"apiVersion: reconciler/v1\nkind: Settings\nspec:\n  timeouts:\n    taskStarted: {json.dumps(value)}\n"
    result = check_document(doc, "settings")
    assert (not result.has_errors) == ok, result.issues
    try:
        parse_duration(value)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed == ok


def test_settings_defaults_are_schema_valid():
    dumped = Settings().model_dump(by_alias=True)
    assert list(Draft202012Validator(schema("settings")).iter_errors(dumped)) == []


def test_every_code_is_documented_and_every_documented_code_exists():
    text = (ROOT / "docs" / "validation.md").read_text()
    documented = set(re.findall(r"^### `([a-z-]+)`", text, re.M))
    assert documented == set(CODES)


def _emitted_codes() -> set[str]:
    """String codes passed to error()/warning()/Issue()/Finding() anywhere in the package."""
    codes = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if "spec" not in path.parts and path.name != "validate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if func in ("error", "warning") and strings:
                codes.add(strings[0])
            elif func == "Issue" and len(strings) >= 2:
                codes.add(strings[1])
            elif func == "Finding" and len(node.args) >= 6:
                code = node.args[4]
                if isinstance(code, ast.Constant):
                    codes.add(code.value)
    return codes


def test_emitted_codes_are_registered():
    emitted = _emitted_codes()
    assert emitted, "the scan found no codes"
    assert emitted <= set(CODES), emitted - set(CODES)
    assert emitted == set(CODES), set(CODES) - emitted


def test_shape_cache_only_for_schemas_without_string_constraints():
    from reconciler.spec.schemas import shape_of
    assert shape_of("slo", {"objectives": [{"sli": "a"}]}) == shape_of("slo", {"objectives": [{"sli": "b"}]})
    assert shape_of("slo", {"objectives": [{"sli": "a"}]}) != shape_of("slo", {"objectives": [{"sli": 1}]})
    assert shape_of("slo", {"weight": True}) != shape_of("slo", {"weight": 1})
    assert shape_of("jobconfig", {"apiVersion": "v2"}) is None       # const/enum look at strings
    assert shape_of("settings", {"apiVersion": "reconciler/v1"}) is None


def test_same_shape_different_types_is_validated_again():
    ok = check_document("indicators: {a: up}\n", "sli")
    bad = check_document("indicators: {a: [up]}\n", "sli")
    assert not ok.issues and [i.code for i in bad.issues] == ["wrong-type"]


def test_verdict_key_keeps_strings_where_the_schema_reads_them():
    from reconciler.spec.schemas import shape_of, verdict_key
    doc = {"command": ["python", "a.py"], "env": {"A": "1"}}
    assert verdict_key("local", doc) == verdict_key("local", json.loads(json.dumps(doc)))
    assert verdict_key("local", doc) != verdict_key("local", {"command": ["python", "b.py"], "env": {"A": "1"}})
    assert verdict_key("local", {"command": ["x"], "startTimeout": 1}) != \
        verdict_key("local", {"command": ["x"], "startTimeout": True})
    assert verdict_key("local", {1: "x"}) is None                      # a non-string key: never remembered
    slo = {"objectives": [{"sli": "a"}]}
    assert verdict_key("slo", slo) == shape_of("slo", slo)               # string-blind schemas keep the shape


def test_a_repeated_document_meets_the_schema_once(monkeypatch):
    import reconciler.spec.schemas as schemas_module
    schemas_module.reset_shape_caches()
    calls: list[str] = []
    real = schemas_module.validator

    def counting(kind):
        calls.append(kind)
        return real(kind)
    monkeypatch.setattr(schemas_module, "validator", counting)
    text = "command: [python, app.py]\nstartTimeout: 5s\n"
    first = check_document("# service a\n" + text, "local")
    again = check_document("# service b, same content\n" + text, "local")
    assert calls == ["local"] and first.issues == again.issues == () and again.model == first.model
    bad = check_document(text.replace("5s", "soon"), "local")
    assert [i.code for i in bad.issues] == ["bad-value"] and calls == ["local", "local"]
    assert [i.code for i in check_document(text.replace("5s", "soon"), "local").issues] == ["bad-value"]
    assert calls == ["local"] * 3                                        # invalid verdicts are not remembered
