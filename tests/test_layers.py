"""The import contract (docs/ARCHITECTURE.md, "Layers"): imports point downwards only, no cycles
between packages, and the pure core never reaches the world (no Git, HTTP, processes, sockets,
threads or databases), which keeps scoring, sequencing, lanes and selectors testable without I/O.

The contract itself is `tests/support/import_contract.py` (`make lint` runs it too); these
tests run it over the tree, show that it fails on what it forbids, and keep the docs' table
equal to it."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.import_contract import (
    IO_MODULES,
    LAYERS,
    PURE,
    ROOT,
    Import,
    check,
    cycles,
    is_pure,
    read_imports,
    unit_of,
)

ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def test_the_tree_keeps_the_contract():
    modules, imports = read_imports()
    assert len(modules) > 100 and len(imports) > 500   # it did read the package
    assert check(modules, imports) == []


# -- it fails the build on what it forbids -----------------------------------------------------

def _copy_of_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "reconciler", tmp_path / "reconciler",
                    ignore=shutil.ignore_patterns("__pycache__", "_example", "_schemas"))
    return tmp_path


def _run_contract(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.support.import_contract", str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_planted_upward_import_fails_the_check(tmp_path):
    root = _copy_of_package(tmp_path)
    assert _run_contract(root).returncode == 0
    sequencer = root / "reconciler" / "engine" / "sequencer.py"
    sequencer.write_text(sequencer.read_text() + textwrap.dedent("""

        def _planted():
            from reconciler.controller.loop import Controller  # the pure core reaching up
            return Controller
        """))
    result = _run_contract(root)
    assert result.returncode == 1
    assert ("reconciler.engine.sequencer:" in result.stdout
            and "reconciler.engine (pure core) imports reconciler.controller.loop (controller), a higher layer"
            in result.stdout), result.stdout


def test_a_planted_cycle_and_io_in_the_core_fail_the_check(tmp_path):
    root = _copy_of_package(tmp_path)
    criteria = root / "reconciler" / "spec" / "criteria.py"
    criteria.write_text(criteria.read_text() + "\nfrom reconciler.engine import lanes  # noqa\nimport socket  # noqa\n")
    result = _run_contract(root)
    assert result.returncode == 1
    assert "import cycle between reconciler.engine, reconciler.spec" in result.stdout
    assert "reconciler.spec.criteria:" in result.stdout and "the pure core imports socket" in result.stdout


# -- the rules, on synthetic graphs --------------------------------------------------------------

def _imports(*edges: tuple[str, str]) -> list[Import]:
    return [Import(a, b, i + 1) for i, (a, b) in enumerate(edges)]


def _modules(imports: list[Import]) -> set[str]:
    return {i.importer for i in imports} | {i.imported for i in imports if i.imported.startswith("reconciler")}


@pytest.mark.parametrize("importer, imported", [
    ("reconciler.engine.sequencer", "reconciler.tasks.base"),
    ("reconciler.spec.project", "reconciler.gitstore.mirror"),
    ("reconciler.contract", "reconciler.spec.kinds"),
    ("reconciler.tasks.job", "reconciler.controller.loop"),
    ("reconciler.controller.loop", "reconciler.server.app"),
    ("reconciler.server.app", "reconciler.cli.status"),
    ("reconciler.quality.scoring", "reconciler.quality.provider"),   # the adapters of quality sit higher
])
def test_upward_imports_are_reported(importer, imported):
    imports = _imports((importer, imported))
    problems = check(_modules(imports), imports)
    assert len(problems) == 1 and "a higher layer" in problems[0] and problems[0].startswith(f"{importer}:1")


@pytest.mark.parametrize("importer, imported", [
    ("reconciler.cli.validate", "reconciler.spec.project"),
    ("reconciler.server.app", "reconciler.controller.api"),
    ("reconciler.runtime.service", "reconciler.server.app"),       # the serve wiring is an entry point
    ("reconciler.tasks.evaluation", "reconciler.quality.provider"),
    ("reconciler.quality.provider", "reconciler.quality.scoring"),
    ("reconciler.targets.local", "reconciler.kube.expansion"),
    ("reconciler.engine.state", "reconciler.spec.shipyard"),
    ("reconciler.spec.project", "reconciler.contract"),
    ("reconciler.engine.sequencer", "reconciler.engine.state"),
])
def test_downward_and_sideways_imports_pass(importer, imported):
    imports = _imports((importer, imported))
    assert check(_modules(imports), imports) == []


def test_a_cycle_within_one_layer_is_reported_with_its_imports():
    imports = _imports(("reconciler.quality.sli", "reconciler.spec.yamltext"),
                       ("reconciler.spec.lint.slo", "reconciler.quality.scoring"))
    assert check(_modules(imports), imports) == [
        "import cycle between reconciler.quality, reconciler.spec: "
        "reconciler.quality.sli:1 -> reconciler.spec.yamltext; "
        "reconciler.spec.lint.slo:2 -> reconciler.quality.scoring"]


def test_cycles_finds_each_strongly_connected_group():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d", "a"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("imported", ["pygit2", "httpx", "aiohttp.web", "kubernetes.client", "subprocess",
                                      "socket", "sqlite3", "threading", "urllib.request"])
def test_the_pure_core_reaches_no_io(imported):
    imports = _imports(("reconciler.engine.lanes", imported))
    problems = check({"reconciler.engine.lanes"}, imports)
    assert problems == [f"reconciler.engine.lanes:1: the pure core imports {imported}; move that code to an adapter"]


def test_adapters_may_do_io_and_the_core_may_use_harmless_modules():
    imports = _imports(("reconciler.quality.providers.prometheus.client", "httpx"),
                       ("reconciler.gitstore.mirror", "pygit2"),
                       ("reconciler.engine.lanes", "urllib.parse"), ("reconciler.spec.yamltext", "yaml"))
    assert check(_modules(imports), imports) == []


def test_the_prometheus_batch_format_stays_pure_inside_the_adapters():
    imports = _imports(("reconciler.quality.providers.prometheus.batching", "httpx"))
    [problem] = check(_modules(imports), imports)
    assert "the pure core imports httpx" in problem
    assert is_pure("reconciler.quality.scoring") and is_pure("reconciler.layout")
    assert not is_pure("reconciler.quality.providers.prometheus.client") and not is_pure("reconciler.quality.provider")


def test_the_cli_does_not_import_the_server():
    imports = _imports(("reconciler.cli.status", "reconciler.server.app"))
    [problem] = check(_modules(imports), imports)
    assert problem.startswith("reconciler.cli.status:1: reconciler.cli must not import reconciler.server: ")


def test_a_module_in_no_layer_is_reported():
    problems = check({"reconciler.plugins.thing"}, [])
    assert problems == ["reconciler.plugins.thing is in no layer: add it to LAYERS "
                        "(tests/support/import_contract.py) and to docs/ARCHITECTURE.md"]


def test_a_module_belongs_to_its_most_specific_unit():
    assert unit_of("reconciler.quality.provider") == "reconciler.quality.provider"
    assert unit_of("reconciler.quality.providers.prometheus.client") == "reconciler.quality.providers"
    assert unit_of("reconciler.quality.scoring") == "reconciler.quality"
    assert unit_of("reconciler.runtime.service") == "reconciler.runtime"
    assert unit_of("reconciler.controller.loop") == "reconciler.controller"
    assert unit_of("reconciler") == "reconciler"
    assert unit_of("reconcilers.x") is None


def test_reading_resolves_relative_lazy_and_submodule_imports(tmp_path):
    pkg = tmp_path / "reconciler"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "contract.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("from . import lanes\n")
    (pkg / "engine" / "lanes.py").write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING
        from .. import contract
        from ..engine.state import Run
        if TYPE_CHECKING:
            from reconciler.server import app
        def later():
            import httpx
        """))
    (pkg / "engine" / "state.py").write_text("Run = 1\n")
    modules, imports = read_imports(tmp_path)
    assert modules == {"reconciler", "reconciler.contract", "reconciler.engine", "reconciler.engine.lanes",
                       "reconciler.engine.state"}
    assert {(i.importer, i.imported) for i in imports} == {
        ("reconciler.engine", "reconciler.engine.lanes"),
        ("reconciler.engine.lanes", "typing"),
        ("reconciler.engine.lanes", "reconciler.contract"),
        ("reconciler.engine.lanes", "reconciler.engine.state"),
        ("reconciler.engine.lanes", "reconciler.server"),   # not a module of this tree: the package
        ("reconciler.engine.lanes", "httpx"),
    }


# -- the docs say what is enforced ---------------------------------------------------------------

def _layers_section() -> str:
    text = ARCHITECTURE.read_text()
    return text[text.index("## Layers\n"):text.index("\n## ", text.index("## Layers\n") + 1)]


def test_the_layers_table_in_the_docs_is_the_contract():
    rows = [line for line in _layers_section().splitlines() if line.startswith("| ")][1:]   # less the header
    documented = [(cells[0], tuple(re.findall(r"`(reconciler[\w.]*)`", cells[1])))
                  for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)]
    assert documented == [(layer.name, layer.units) for layer in LAYERS]


def test_the_docs_list_the_io_modules_the_core_may_not_import():
    rule = re.search(r"^4\. (.*?)^5\. ", _layers_section(), re.S | re.M)
    assert rule is not None
    named = set(re.findall(r"`([\w.]+)`", rule.group(1)))
    assert {n for n in named if not n.startswith("reconciler.")} - {"contract", "layout"} == set(IO_MODULES)
    assert {n for n in named if n.startswith("reconciler.")} == {p for p in PURE if p.count(".") > 1}
