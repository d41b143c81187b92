"""Property: whatever bytes a config file holds, `reconciler validate` answers with findings
and exit 0 or 1, never a traceback; and no check crashes on odd but well-formed YAML."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.spec.codes import CODES
from reconciler.spec.kinds import KINDS
from reconciler.spec.validate import check_document

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted(p for p in (ROOT / "example-config-repo").rglob("*.yaml")) + [
    ROOT / "tests/spec/data/jobconfig.yaml"]
NAMES = ["shipyard.yaml", "slo.yaml", "sli.yaml", "remediation.yaml", "job/config.yaml", "reconciler.yaml",
         "local.yaml", "other.yaml"]
LINE = re.compile(r"^.+?(:\d+(:\d+)?)?: (error|warning) [a-z-]+ .+$")
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_YAML_CHARS = st.sampled_from(list(":-[]{}\"'&*!|>#%@`,?\t\n ~=<") + ["\x00", "\ufeff", "é", "\u2028", "0", "a"])


@st.composite
def mangled(draw) -> bytes:
    """A real config file, truncated and with YAML-significant characters spliced in."""
    text = draw(st.sampled_from(SEEDS)).read_text()
    cut = draw(st.integers(0, len(text)))
    text = text[:cut]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + "".join(draw(st.lists(_YAML_CHARS, min_size=1, max_size=4))) + text[at:]
    return text.encode("utf-8", "surrogatepass")


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True),
                     st.text(max_size=12), st.sampled_from(["pass", "fail", "failed", "<=+10%", "scaling", "10m",
                                                            "spec.keptn.sh/0.2.3", "v2", "dev.delivery.finished",
                                                            "python -m app", "$(PORT)", "/healthz"]))
_KEYS = st.sampled_from(["apiVersion", "kind", "spec", "stages", "name", "sequences", "tasks", "triggeredOn",
                         "event", "selector", "match", "result", "properties", "objectives", "sli", "pass",
                         "warning", "criteria", "total_score", "indicators", "remediations", "problemType",
                         "actionsOnOpen", "action", "value", "actions", "events", "image", "cmd", "metadata",
                         "webhooks", "stages", "sli", "filter", "comparison", "weight", "key_sli", "command", "env",
                         "healthPath", "metricsPath", "startTimeout", "PORT"]) | st.text(max_size=5)
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
                     max_leaves=25)


def _check_cli(tmp: Path, name: str, payload: bytes) -> None:
    target = tmp / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    for output in ("text", "json"):
        result = CliRunner().invoke(main, ["validate", str(target), "--output", output])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
        if output == "json":
            findings = json.loads(result.stdout)
            assert all(f["code"] in CODES and f["severity"] in ("error", "warning") for f in findings)
            assert result.exit_code == (1 if any(f["severity"] == "error" for f in findings) else 0)
        else:
            assert all(LINE.match(line) for line in result.stdout.splitlines()), result.stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("property")


@SETTINGS
@given(name=st.sampled_from(NAMES), payload=mangled())
def test_mangled_real_files_never_crash_the_cli(workdir, name, payload):
    _check_cli(workdir, name, payload)


@SETTINGS
@given(name=st.sampled_from(NAMES), payload=st.binary(max_size=200))
def test_random_bytes_never_crash_the_cli(workdir, name, payload):
    _check_cli(workdir, name, payload)


@settings(max_examples=300, deadline=None, database=None)
@given(kind=st.sampled_from(KINDS), data=_DATA)
def test_odd_shapes_are_findings_not_internal_errors(kind, data):
    text = yaml.safe_dump(data, allow_unicode=True)
    result = check_document(text, kind, None)
    codes = [i.code for i in result.issues]
    assert "internal-error" not in codes, result.issues
    assert all(code in CODES for code in codes)
    assert all(i.line is not None and i.line >= 1 for i in result.issues)
    if not result.has_errors:
        assert result.model is not None


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))


_TEMPLATES = [(p, yaml.safe_load(p.read_text())) for p in SEEDS if p.name != "values.yaml"]


@st.composite
def perturbed(draw):
    """A real, valid document with a few of its values replaced by random data."""
    path, data = draw(st.sampled_from(_TEMPLATES))
    data = json.loads(json.dumps(data))
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(list(_paths(data))))
        if not target:
            continue
        parent = data
        for step in target[:-1]:
            parent = parent[step]
        parent[target[-1]] = draw(_DATA)
    return path, data


@settings(max_examples=300, deadline=None, database=None)
@given(case=perturbed())
def test_perturbed_valid_documents_never_crash_a_check(case):
    path, data = case
    result = check_document(yaml.safe_dump(data, allow_unicode=True), None, str(path))
    assert "internal-error" not in [i.code for i in result.issues], result.issues
    if not result.has_errors:
        assert result.model is not None


@settings(max_examples=150, deadline=None, database=None)
@given(cases=st.lists(perturbed(), min_size=2, max_size=4))
def test_shape_cache_never_changes_a_verdict(cases):
    """Schema results are reused between documents of one shape; the findings must be exactly
    those of a validation from scratch."""
    from reconciler.spec.schemas import reset_shape_caches
    texts = [(str(path), yaml.safe_dump(data, allow_unicode=True)) for path, data in cases]
    warm = [check_document(text, None, path).issues for path, text in texts]
    fresh = []
    for path, text in texts:
        reset_shape_caches()
        fresh.append(check_document(text, None, path).issues)
    assert warm == fresh
