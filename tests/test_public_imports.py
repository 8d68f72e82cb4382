"""No module imports a leading-underscore (private) name from another package: a package's private names are
its own, and what others need is public."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def _package(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def private_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """`name from other.module` for every private name that ``module`` imports from another package."""
    own = _package(module, is_package)
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.module is None or node.level:
            continue
        if not node.module.startswith("egraffbench"):
            continue
        private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        # the imported name lives in node.module, whose package is node.module itself when it is a package
        imported_package = node.module if (SOURCE / node.module.replace(".", "/")).is_dir() else None
        imported_package = imported_package or node.module.rpartition(".")[0]
        if imported_package != own:
            found += [f"{name} from {node.module}" for name in private]
    return found


def test_the_check_finds_a_private_name_from_another_package() -> None:
    source = (
        "from egraffbench.runner.stages import SystemData, _rollout\n"
        "from egraffbench.report.text import _x\n"  # same package: allowed
    )
    assert private_imports(source, "egraffbench.report.series") == ["_rollout from egraffbench.runner.stages"]
    assert private_imports("from egraffbench.fileio import _f\n", "egraffbench.store.database") == [
        "_f from egraffbench.fileio"
    ]


def test_no_module_imports_a_private_name_from_another_package() -> None:
    offenders = {}
    for path in sorted((SOURCE / "egraffbench").rglob("*.py")):
        relative = path.relative_to(SOURCE).with_suffix("")
        is_package = relative.name == "__init__"
        module = ".".join(relative.parent.parts if is_package else relative.parts)
        found = private_imports(path.read_text(encoding="utf-8"), module, is_package)
        if found:
            offenders[module] = found
    assert offenders == {}
