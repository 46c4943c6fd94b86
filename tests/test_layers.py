"""The package's layers import only downward, and no module imports itself back.

Every module of ``src/tideflow`` is parsed with :mod:`ast`; every ``import`` counts, also
one inside a function (a lazy import runs as surely as one at the top, only later). Only
imports under ``if TYPE_CHECKING:`` are left out: they never run. The layer order is the
one of docs/architecture.md; :data:`LAYERS` maps each module to its layer.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tideflow"

#: From the bottom up: the layer of each module, by the longest prefix of its name that is
#: listed (``tideflow._flow`` covers ``tideflow._flow._spec``). A module may import one of
#: its own layer or of a layer below, never one above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "tideflow._exceptions",
            "tideflow._version",
            "tideflow._config",
            "tideflow._states",
            "tideflow._closing",
        ),
    ),
    (
        "definition",
        (
            "tideflow._flow",
            "tideflow._cards",
            "tideflow._cards._components",
            "tideflow._cards._markdown",
            "tideflow._cards._vega",
            "tideflow._cards._collector",
            "tideflow._cards._context",
        ),
    ),
    ("messages", ("tideflow._messages",)),
    (
        "stores",
        (
            "tideflow._stores",
            "tideflow._datastore",
            "tideflow._metadata",
            "tideflow._logs",
            "tideflow._cards._store",
        ),
    ),
    (
        "task execution",
        (
            "tideflow._worker",
            "tideflow._worker._task",
            "tideflow._worker._host",
            "tideflow._cards._render",
            "tideflow._cards._task",
        ),
    ),
    (
        "executors",
        (
            "tideflow._worker._executor",
            "tideflow._worker._blank",
            "tideflow._worker._spawn",
            "tideflow._worker._fork",
            "tideflow._worker._fork_task",
            "tideflow._worker._dask",
            "tideflow._worker._dask_cluster",
            "tideflow._worker._dask_remote",
            "tideflow._worker._dask_warm",
        ),
    ),
    ("scheduler and recorder", ("tideflow._runtime",)),
    ("supervisor", ("tideflow._supervisor", "tideflow._ui._terminal")),
    # The client reads only the stores; the runner facades hand out client objects
    # (``ExecutingRun.run`` is a ``Run``), so the client comes first.
    ("client", ("tideflow._client", "tideflow._cards._access")),
    ("runner facades", ("tideflow._runner", "tideflow._sweep")),
    ("CLI", ("tideflow._cli", "tideflow._ui")),
    (
        "public faces",
        (
            "tideflow",
            "tideflow.__main__",
            "tideflow.cards",
            "tideflow.client",
            "tideflow.exception",
        ),
    ),
)

_ORDER = {name: index for index, (name, _) in enumerate(LAYERS)}


def module_names(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package in ``src``, by dotted name."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = ("tideflow", *path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> str:
    """The layer of ``module``: that of the longest listed prefix of its name."""
    best, best_length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            # The public faces are single modules: ``tideflow`` covers no other module.
            below = layer != "public faces" and module.startswith(prefix + ".")
            matches = module == prefix or below
            if matches and len(prefix) > best_length:
                best, best_length = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}.")
    return best


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(n.lineno for n in ast.walk(child) if hasattr(n, "lineno"))
    return lines


def imports_of(module: str, path: Path, known: set[str]) -> set[tuple[str, int]]:
    """The package modules that ``module`` imports, with the line of each import."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            # A module importing its own package's __init__ reaches its parent, not a layer.
            if target and target != module and not module.startswith(target + "."):
                found.add((target, node.lineno))
    return found


def import_graph(src: Path = SRC) -> dict[str, set[tuple[str, int]]]:
    """Every module and the package modules it imports (lazy imports included)."""
    modules = module_names(src)
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def upward_imports(src: Path = SRC) -> list[str]:
    """One line per import that goes up a layer: file, line, both modules and layers."""
    graph = import_graph(src)
    paths = module_names(src)
    upward = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target, line in sorted(targets):
            there = layer_of(target)
            if _ORDER[there] > _ORDER[here]:
                where = paths[module].relative_to(src.parent)
                upward.append(
                    f"{where}:{line}: {module} ({here}) imports {target} ({there}), "
                    "a layer above it"
                )
    return upward


def import_cycles(src: Path = SRC) -> list[str]:
    """One description per import cycle, with the imports that make it."""
    graph = {module: {t for t, _ in targets} for module, targets in import_graph(src).items()}
    described = []
    for component in _cycles(graph):
        members = set(component)
        edges = [
            f"    {module} -> {target}"
            for module in component
            for target in sorted(graph[module] & members)
        ]
        described.append(f"a cycle of {len(component)} modules:\n" + "\n".join(edges))
    return described


def test_every_module_has_a_layer() -> None:
    for module in module_names():
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = upward_imports()
    assert not upward, "Imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    cycles = import_cycles()
    assert not cycles, "Import cycles (lazy imports included):\n" + "\n".join(cycles)


def test_a_lazy_upward_import_is_named(tmp_path: Path) -> None:
    """The checks see an import inside a function, and say which import is at fault."""
    package = tmp_path / "tideflow"
    for folder in (package / "_flow", package / "_cli"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "_flow" / "_spec.py").write_text(
        "def main():\n    from .._cli import _main\n\n    return _main.run()\n"
    )
    (package / "_cli" / "_main.py").write_text(
        "import typing\n\nif typing.TYPE_CHECKING:\n    from .. import client\n"
        "from .._flow._spec import main\n"
    )
    (package / "client.py").write_text("")
    fault = "tideflow/_flow/_spec.py:2: tideflow._flow._spec (definition) imports"
    assert upward_imports(package) == [
        f"{fault} tideflow._cli (CLI), a layer above it",
        f"{fault} tideflow._cli._main (CLI), a layer above it",
    ]
    cycle = (
        "a cycle of 2 modules:\n"
        "    tideflow._cli._main -> tideflow._flow._spec\n"
        "    tideflow._flow._spec -> tideflow._cli._main"
    )
    assert import_cycles(package) == [cycle]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("tideflow._flow._spec", "definition"),
        ("tideflow._worker._spawn", "executors"),
        ("tideflow._worker._task", "task execution"),
        ("tideflow._ui._app", "CLI"),
        ("tideflow", "public faces"),
    ],
)
def test_layer_of_takes_the_longest_prefix(module: str, layer: str) -> None:
    assert layer_of(module) == layer
