"""The package's layout: imports between its parts point one way, and none hides in a function.

Parts, bottom to top: the core (``pullback.core``, with ``tree``, ``custom`` and ``extend``
as its public faces), the NumPy layer, SciPy, then the checker, the compiler and the
training layer (``nn``, ``optim``, ``io``); ``demo``, ``cli`` and the package's
``__init__`` may use everything. A part may import only the parts listed for it below.
"""

import ast
from pathlib import Path

import pytest

import pullback

SRC = Path(pullback.__file__).parent

# part -> the parts it may import (itself always allowed)
ALLOWED = {
    "core": set(),
    "custom": {"core"},
    "tree": {"core"},
    "extend": {"core"},
    "numpy": {"core"},
    "scipy": {"core", "numpy"},
    "check": {"core", "numpy", "tree"},
    "compile": {"core", "numpy", "tree"},
    "nn": {"core", "numpy", "tree"},
    "optim": {"core", "numpy", "tree"},
    "io": {"core", "tree"},
    "lax": {"core", "compile"},
    "demo": {"*"},
    "cli": {"*"},
    "__init__": {"*"},
}
#: modules that import others lazily on purpose (the command line starts fast)
LAZY_OK = {"cli.py"}


def _part(module: str) -> str:
    """The part of a ``pullback...`` module name (``pullback.core.api`` -> ``core``)."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    names = list(rel.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def _imports(tree: ast.AST) -> list[tuple[str, int, bool]]:
    """(module imported, line, whether inside a function) for every pullback import."""
    out = []

    def visit(node: ast.AST, in_function: bool, in_type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            checking = in_type_checking or (
                isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING"
            )
            if not checking:
                if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    out.append((child.module, child.lineno, in_function))
                elif isinstance(child, ast.Import):
                    out.extend((a.name, child.lineno, in_function) for a in child.names)
            visit(child, nested, checking)

    visit(tree, False, False)
    return [(m, line, f) for m, line, f in out if m == "pullback" or m.startswith("pullback.")]


FILES = sorted(SRC.rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(SRC))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_imports_point_down_the_layers(path):
    here = _part(_module_name(path))
    allowed = ALLOWED[here]
    bad = []
    for module, line, _ in _imports(ast.parse(path.read_text())):
        there = _part(module)
        if module == "pullback" and "*" not in allowed:
            bad.append(f"line {line}: imports the package root")
        elif there != here and "*" not in allowed and there not in allowed:
            bad.append(f"line {line}: {here} imports {module}")
    assert not bad, f"{_id(path)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_no_import_hides_in_a_function(path):
    if _id(path) in LAZY_OK:
        return
    lazy = [f"line {line}: {m}" for m, line, inner in _imports(ast.parse(path.read_text()))
            if inner]
    assert not lazy, f"{_id(path)} imports inside functions (a circle dodged?): {lazy}"


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_nothing_outside_the_core_imports_its_private_names(path):
    if _part(_module_name(path)) == "core":
        return
    private = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pullback.core"):
            private += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not private, f"{_id(path)} imports private names of the core: {private}"


def test_every_module_belongs_to_a_known_part():
    unknown = {_part(_module_name(p)) for p in FILES} - set(ALLOWED)
    assert not unknown, f"modules in parts with no import rule: {sorted(unknown)}"


def test_the_rule_catches_a_circle(tmp_path):
    # the checker itself: a core module that imports the NumPy layer is reported
    bad = ast.parse("def f():\n    import pullback.numpy as pnp\n")
    found = _imports(bad)
    assert found == [("pullback.numpy", 2, True)]
    assert "numpy" not in ALLOWED["core"]
