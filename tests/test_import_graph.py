"""No two modules of the package import each other, directly or through others, at module level or inside a
function (imports only for type checking aside): each module has one place in the layering."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def imports(source: str, module: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports anywhere in ``source`` (not under TYPE_CHECKING);
    `from package import name` counts as importing the submodule when ``name`` is one."""
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    # a package's __init__ runs when any of its modules is imported: not an edge of its own
    return {name for name in found & known if not module.startswith(name + ".")}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module → modules it imports), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[name] = "done"
        path.pop()
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_the_check_finds_a_cycle_through_a_function_level_import() -> None:
    known = {"egraffbench.models.base", "egraffbench.models.calculator"}
    base = "def f():\n    from egraffbench.models.calculator import ForceFieldCalculator\n"
    calculator = "from egraffbench.models.base import ForceField\n"
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from egraffbench.models.base import X\n"
    graph = {
        "egraffbench.models.base": imports(base, "egraffbench.models.base", known),
        "egraffbench.models.calculator": imports(calculator, "egraffbench.models.calculator", known),
    }
    assert cycle(graph) == [
        "egraffbench.models.base",
        "egraffbench.models.calculator",
        "egraffbench.models.base",
    ]
    graph["egraffbench.models.calculator"] = imports(typed, "egraffbench.models.calculator", known)
    assert cycle(graph) is None


def test_the_package_has_no_import_cycle() -> None:
    paths = {}
    for path in sorted((SOURCE / "egraffbench").rglob("*.py")):
        relative = path.relative_to(SOURCE).with_suffix("")
        parts = relative.parent.parts if relative.name == "__init__" else relative.parts
        paths[".".join(parts)] = path
    known = set(paths)
    graph = {name: imports(path.read_text(encoding="utf-8"), name, known) for name, path in paths.items()}
    assert cycle(graph) is None
