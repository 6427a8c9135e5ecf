"""The package import graph of asnflow, computed from the modules' import statements.

Nodes are asnflow's subpackages and top-level modules (``asnflow.engine``,
``asnflow.config``); an edge means some module of one imports something of
the other, at module level or inside a function. The layering the code
relies on is asserted here: the rule language, the constraint model and the
hook registry never import the engine or the calibration workflow, and no
package takes part in an import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import asnflow

PACKAGE = Path(asnflow.__file__).parent

# The low layers: they may import each other downwards, never the engine or the workflow.
LANGUAGE = "asnflow.assoc_rules"
CONSTRAINTS = "asnflow.constraints"
HOOKS = "asnflow.hooks"
RUNTIME = ("asnflow.engine", "asnflow.workflow")

# Package import cycles allowed: none. A cycle fails the test.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _node(module: str) -> str | None:
    """The graph node of a module name: asnflow.X for asnflow.X.anything (None outside asnflow)."""
    parts = module.split(".")
    if parts[0] != "asnflow" or len(parts) < 2:
        return None
    candidate = PACKAGE / parts[1]
    if candidate.is_dir() or candidate.with_suffix(".py").is_file():
        return f"asnflow.{parts[1]}"
    return None  # a name imported from asnflow/__init__.py, e.g. __version__


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every asnflow module name an import statement of the module refers to."""
    names: set[str] = set()
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Import):
            names.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            if statement.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (statement.level - 1)]
                origin = ".".join(base + ([statement.module] if statement.module else []))
            else:
                origin = statement.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in statement.names)
    return names


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    found = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        source = _node(module) if module != "asnflow" else None
        if source is None:
            continue
        found.add_node(source)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported(tree, module, path.name == "__init__.py"):
            target = _node(name)
            if target is not None and target != source:
                found.add_edge(source, target)
                found.edges[source, target].setdefault("modules", set()).add(module)
    return found


def test_the_graph_sees_the_known_layers(graph):
    # A guard against a walk that finds nothing (and so asserts nothing below).
    assert {LANGUAGE, CONSTRAINTS, HOOKS, *RUNTIME} <= set(graph)
    assert graph.has_edge("asnflow.engine", CONSTRAINTS)
    assert graph.has_edge(LANGUAGE, HOOKS)


def test_the_language_layers_do_not_import_the_engine_or_the_workflow(graph):
    for layer in (LANGUAGE, CONSTRAINTS, HOOKS):
        reached = nx.descendants(graph, layer)
        for runtime in RUNTIME:
            assert runtime not in reached, (
                f"{layer} reaches {runtime}: "
                + " -> ".join(nx.shortest_path(graph, layer, runtime))
            )


def test_the_constraint_model_and_the_hooks_stay_below_the_language(graph):
    assert LANGUAGE not in nx.descendants(graph, CONSTRAINTS)
    assert LANGUAGE not in nx.descendants(graph, HOOKS)
    assert HOOKS not in nx.descendants(graph, CONSTRAINTS)


def test_no_import_cycle_between_packages_except_the_known_ones(graph):
    cycles = [frozenset(cycle) for cycle in nx.simple_cycles(graph)]
    unexpected = [sorted(cycle) for cycle in cycles if cycle not in KNOWN_CYCLES]
    assert unexpected == []
    for layer in (LANGUAGE, CONSTRAINTS, HOOKS, "asnflow.naming"):
        assert not any(layer in cycle for cycle in cycles), layer


# The flow of DESIGN.md as layers: a package imports only from layers below its own.
LAYERS = (
    ("records",),  # dataclasses without generated code: a tool every layer may use
    ("errors", "routes", "safe_yaml", "progress", "workers", "constraints"),
    ("fsread", "pathnames", "naming", "dask_clients"),
    ("fsutil", "hooks", "pool"),
    ("file_cache",),
    ("config",),
    ("assoc_rules", "asnfile", "calib"),
    ("engine", "companion"),
    ("diagnose", "workflow"),
    ("report",),
    ("demo",),
    ("api", "cli"),
    ("__main__",),
)


def test_every_import_goes_down_the_layers_of_the_flow(graph):
    rank = {f"asnflow.{name}": level for level, names in enumerate(LAYERS) for name in names}
    assert set(graph) <= set(rank), f"packages not placed in a layer: {sorted(set(graph) - set(rank))}"
    upward = [
        (source, target, sorted(graph.edges[source, target]["modules"]))
        for source, target in graph.edges
        if rank[target] >= rank[source]
    ]
    assert upward == []
