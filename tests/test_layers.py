"""The pure core must not reach the world: no Git, HTTP, processes, sockets or databases.

This keeps scoring, sequencing, lane queueing and selector matching testable without I/O and
keeps imports pointing one way (docs/ARCHITECTURE.md, "Layers")."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
PURE = ["contract.py", "spec", "engine", "quality"]
ADAPTER_EXCEPTIONS = {"quality/providers/prometheus/client.py"}
FORBIDDEN_MODULES = {"pygit2", "httpx", "aiohttp", "kubernetes", "subprocess", "socket",
                     "sqlite3", "watchdog", "requests", "urllib.request", "threading"}
FORBIDDEN_PACKAGES = {"reconciler.gitstore", "reconciler.controller", "reconciler.server",
                      "reconciler.cli", "reconciler.tasks", "reconciler.targets"}


def _pure_files():
    for entry in PURE:
        path = PACKAGE / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for f in files:
            rel = f.relative_to(PACKAGE).as_posix()
            if rel not in ADAPTER_EXCEPTIONS:
                yield f


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", list(_pure_files()), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_pure_core_does_not_import_adapters(path):
    bad = []
    for name in _imports(path):
        root = name.split(".")[0]
        if root in FORBIDDEN_MODULES or name in FORBIDDEN_MODULES:
            bad.append(name)
        if any(name == p or name.startswith(p + ".") for p in FORBIDDEN_PACKAGES):
            bad.append(name)
    assert not bad, f"{path.name} imports {bad}; move that code to an adapter"
