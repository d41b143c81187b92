"""The import contract of docs/ARCHITECTURE.md ("Layers"), checked over the import graph.

Every module of `reconciler/` belongs to one *unit* (a package, or a module listed on its own),
every unit to one layer. An import may point to the same layer or a lower one, never up; the
units form no cycle (also within a layer); the pure core reaches no I/O library; and a few
direct imports that the layer order alone would allow are forbidden, each with its reason.

The graph is read with `ast` from the source files, so it sees every import: module level,
inside functions (the CLI's lazy imports) and under `TYPE_CHECKING`. Reading it ourselves
(rather than using import-linter) lets two modules of `quality` sit in a higher layer than the
rest of their package, and lets a test feed the same checker a synthetic graph.

Run `python -m tests.support.import_contract [ROOT]` (what `make lint` does): it prints each
broken rule and exits 1.
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Layer:
    name: str
    units: tuple[str, ...]


# Highest first. A module belongs to the unit that is its longest listed prefix; the package
# itself (`reconciler`, its `__init__`: the version) holds only itself, so a new subpackage is in
# no layer until it is listed.
LAYERS: tuple[Layer, ...] = (
    Layer("entry points", ("reconciler.cli", "reconciler.demo", "reconciler.runtime")),
    Layer("server", ("reconciler.server",)),
    Layer("controller", ("reconciler.controller",)),
    Layer("tasks", ("reconciler.tasks",)),
    Layer("domain adapters", ("reconciler.targets", "reconciler.gitstore", "reconciler.kube", "reconciler.sandbox",
                              "reconciler.helm", "reconciler.quality.provider", "reconciler.quality.providers")),
    Layer("pure core", ("reconciler.engine", "reconciler.quality", "reconciler.spec")),
    Layer("leaves", ("reconciler.contract", "reconciler.layout", "reconciler.forked", "reconciler.logs",
                     "reconciler")),
)

# What must stay pure: no Git, HTTP, processes, sockets, threads or databases. A module is pure
# when the most specific of these and the units that contains it is one of these (so the
# Prometheus batch format stays pure inside the provider adapters).
PURE = ("reconciler.engine", "reconciler.quality", "reconciler.spec", "reconciler.contract", "reconciler.layout",
        "reconciler.quality.providers.prometheus.batching")
IO_MODULES = ("pygit2", "httpx", "aiohttp", "kubernetes", "subprocess", "socket", "sqlite3", "threading",
              "watchdog", "requests", "urllib.request")

# (importer unit, imported unit): why the layer order alone is not enough.
FORBIDDEN = {
    ("reconciler.cli", "reconciler.server"):
        "the CLI talks to a running server over HTTP; importing the server would load aiohttp "
        "(what both need lives in the controller layer)",
}


@dataclass(frozen=True)
class Import:
    importer: str   # module
    imported: str   # module (or package) name
    line: int

    def where(self) -> str:
        return f"{self.importer}:{self.line}"


# -- reading the graph ---------------------------------------------------------------------------

def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_imports(root: Path = ROOT, package: str = "reconciler") -> tuple[set[str], list[Import]]:
    """All modules under `root/package` and every import they make (project and external)."""
    files = sorted((root / package).rglob("*.py"))
    modules = {module_name(root, f) for f in files}
    imports: list[Import] = []
    for path in files:
        importer = module_name(root, path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports += [Import(importer, alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(importer, is_package, node.level, node.module)
                for alias in node.names:
                    # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
                    child = f"{base}.{alias.name}"
                    imports.append(Import(importer, child if child in modules else base, node.lineno))
    return modules, imports


def _absolute(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = importer.split(".")
    if not is_package:
        parts.pop()
    parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


# -- the rules -----------------------------------------------------------------------------------

def unit_of(module: str, layers: Iterable[Layer] = LAYERS) -> str | None:
    """The most specific unit that contains `module` (None: in no layer)."""
    best = None
    for layer in layers:
        for unit in layer.units:
            contains = module == unit or ("." in unit and module.startswith(unit + "."))
            if contains and (best is None or len(unit) > len(best)):
                best = unit
    return best


def is_pure(module: str, layers: Iterable[Layer] = LAYERS) -> bool:
    """True when `module` must not do I/O (see PURE)."""
    candidates = [p for p in (*PURE, *(u for layer in layers for u in layer.units))
                  if module == p or ("." in p and module.startswith(p + "."))]
    return bool(candidates) and max(candidates, key=len) in PURE


def layer_index(layers: Iterable[Layer] = LAYERS) -> dict[str, tuple[int, str]]:
    return {unit: (i, layer.name) for i, layer in enumerate(layers) for unit in layer.units}


def check(modules: Iterable[str], imports: Iterable[Import], layers: tuple[Layer, ...] = LAYERS,
          package: str = "reconciler") -> list[str]:
    """Every broken rule, one line each (empty: the contract holds)."""
    rank = layer_index(layers)
    problems = [f"{m} is in no layer: add it to LAYERS (tests/support/import_contract.py) and to docs/ARCHITECTURE.md"
                for m in sorted(modules) if unit_of(m, layers) is None]
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        src = unit_of(imp.importer, layers)
        if src is None:
            continue
        top = imp.imported.split(".")[0]
        if top != package:
            if is_pure(imp.importer, layers) and any(imp.imported == m or imp.imported.startswith(m + ".")
                                                     for m in IO_MODULES):
                problems.append(f"{imp.where()}: the pure core imports {imp.imported}; move that code to an adapter")
            continue
        dst = unit_of(imp.imported, layers)
        if dst is None or dst == src:
            continue
        (src_rank, src_layer), (dst_rank, dst_layer) = rank[src], rank[dst]
        if dst_rank < src_rank:
            problems.append(f"{imp.where()}: {src} ({src_layer}) imports {imp.imported} ({dst_layer}), "
                            f"a higher layer")
        reason = FORBIDDEN.get((src, dst))
        if reason:
            problems.append(f"{imp.where()}: {src} must not import {dst}: {reason}")
        edges.setdefault(src, {}).setdefault(dst, imp)
    problems += [_describe_cycle(cycle, edges) for cycle in cycles({s: set(d) for s, d in edges.items()})]
    return problems


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe_cycle(component: list[str], edges: Mapping[str, Mapping[str, Import]]) -> str:
    members = set(component)
    links = [f"{imp.where()} -> {imp.imported}" for src in component
             for dst, imp in sorted(edges.get(src, {}).items()) if dst in members]
    return f"import cycle between {', '.join(component)}: " + "; ".join(links)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else ROOT
    problems = check(*read_imports(root))
    for problem in problems:
        print(problem)
    if problems:
        print(f"import contract: {len(problems)} broken (docs/ARCHITECTURE.md, \"Layers\")")
        return 1
    print("import contract: kept")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
