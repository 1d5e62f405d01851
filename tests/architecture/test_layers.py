"""The import graph keeps the architecture of docs/architecture.md: no import cycles (``TYPE_CHECKING`` imports
included) and no module importing a package that sits above it.

Reads every module's imports with :mod:`ast` (nothing is imported), so a violation names the module and the line.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import alchemiser

PACKAGE_ROOT = Path(alchemiser.__file__).parent

# Top to bottom. A package may import packages of lower rows only (and itself). Packages on one row are
# independent of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("daemon",),
    ("web",),
    ("services",),
    ("trading", "research", "parity"),
    ("backtest",),
    ("execution",),
    ("adapters", "sim"),
    ("store", "notify"),
    ("dsl", "portfolio"),
    ("data", "broker"),
    ("process",),
    ("logging",),
    ("config",),
    ("errors", "clock", "__init__"),
)
RANK = {package: rank for rank, row in enumerate(LAYERS) for package in row}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """``(imported alchemiser module, line)`` for every import in ``module``, wherever it sits in the file."""
    found = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("alchemiser"):
                continue
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else _resolve(base)
                if target and target != module:
                    found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("alchemiser") and (target := _resolve(alias.name)) and target != module:
                    found.append((target, node.lineno))
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in MODULES}
    assert packages - RANK.keys() == set(), "add new packages to LAYERS here and to docs/architecture.md"


def test_no_module_imports_a_package_above_it() -> None:
    upward = []
    for module, targets in GRAPH.items():
        for target, line in targets:
            source, dest = _package(module), _package(target)
            if source != dest and RANK[dest] <= RANK[source]:
                upward.append(f"{MODULES[module].relative_to(PACKAGE_ROOT.parent)}:{line}: {module} -> {target}")
    assert upward == [], "imports that point upward or sideways:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = {module: {target for target, _ in targets} for module, targets in GRAPH.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_checker_sees_what_it_checks() -> None:
    """The graph is not empty and knows real arrows, so the two tests above cannot pass by reading nothing."""
    edges = {(m, t) for m, targets in GRAPH.items() for t, _ in targets}
    assert ("alchemiser.daemon.daemon", "alchemiser.daemon.context") in edges
    assert ("alchemiser.adapters.alpaca.broker", "alchemiser.process.breaker") in edges
    assert len(MODULES) > 100


def test_no_module_is_too_long_to_hold_in_mind() -> None:
    long = {
        str(path.relative_to(PACKAGE_ROOT.parent)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: split them along their seams"


MAX_LINES = 470
