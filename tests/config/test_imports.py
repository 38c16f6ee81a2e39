"""The config package's import direction: it imports no component or tool, the rule groups never import the
`config.rules` package that assembles them, and no import hides inside a function (where a cycle would hide)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONFIG = sorted((ROOT / "config").rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at the top level) for every import of `path`."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


@pytest.mark.parametrize("path", CONFIG, ids=lambda p: str(p.relative_to(ROOT)))
def test_config_imports_no_higher_layer_and_only_at_the_top(path: Path) -> None:
    for module, at_top in _imports(path):
        assert module.split(".")[0] not in {"components", "tools", "audit"}, module
        assert at_top, f"function-level import of {module}"


@pytest.mark.parametrize("path", sorted((ROOT / "config" / "rules").glob("*.py")), ids=lambda p: p.name)
def test_rule_groups_do_not_import_the_assembler(path: Path) -> None:
    if path.name == "__init__.py":
        return
    assert "config.rules" not in {m for m, _ in _imports(path)}
