"""The coverage page is current, and every registered primitive has a spec row.

``tools/coverage.py`` traces every spec row (its function, reverse-mode pullback and
forward-mode derivative) and walks the recorded nodes to find the primitives it exercises;
non-differentiable primitives are named by the rows' ``covers``.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    name = "pullback_coverage_tool"  # not "coverage": that is coverage.py's name
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _load_tool()


@pytest.fixture(scope="module")
def coverage(tool):
    return tool.collect()


def test_every_spec_row_can_be_traced(coverage) -> None:
    assert not coverage.errors, "spec rows that could not be traced:\n" + "\n".join(
        f"  {rid}: {msg}" for rid, msg in sorted(coverage.errors.items())
    )


def test_every_registered_primitive_has_a_spec_row(coverage) -> None:
    missing = coverage.missing_primitives
    assert not missing, (
        f"{len(missing)} registered primitive(s) have no spec row: {', '.join(missing)}.\n"
        "Add a row to tests/specs/<family>.py that calls the function using it; a "
        "non-differentiable primitive is never recorded, so name it in the row's covers=(...)"
    )


def test_coverage_page_is_current(tool, coverage) -> None:
    page = ROOT / "docs" / "coverage.md"
    expected = tool.render(coverage)
    current = page.read_text() if page.exists() else ""
    if current != expected:
        diff = "".join(list(difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True),
            "docs/coverage.md", "regenerated", n=0))[:40])
        pytest.fail(f"docs/coverage.md is stale: run `make coverage`\n{diff}")


def test_walk_finds_rule_primitives_and_covers(tool) -> None:
    """The graph walk sees the primitives of the backward pass (getitem's transpose is
    scatter_add) and adds ``covers`` for constants; a row that skips a function misses it."""
    import numpy as np

    import pullback.numpy as pnp
    from specs import spec

    row = spec("getitem", lambda x: x[1:], lambda x: x[1:], [((3,),)])
    assert {"getitem", "scatter_add"} <= tool.exercised(row)
    row = spec("floor", lambda x: x * pnp.floor(x), lambda x: x * np.floor(x), [((3,),)],
               covers=("floor",))
    found = tool.exercised(row)
    assert "floor" in found and "multiply" in found and "sin" not in found



def test_every_numpy_name_is_in_the_table(coverage) -> None:
    """Every public callable of numpy, numpy.linalg and numpy.fft is differentiable (with spec
    rows in both modes to second order), a pass-through, or refused with a reason."""
    names = {n.name for n in coverage.namespace}
    assert {"sin", "linalg.eig", "fft.rfftn", "searchsorted", "float64"} <= names
    missing = coverage.missing_names
    assert not missing, (
        f"{len(missing)} NumPy name(s) in no table of pullback.numpy._namespace, or defined "
        f"without a spec row: {', '.join(missing)}. Define a differentiable function with spec "
        "rows, or add the name to CONSTANT, PASS_THROUGH or REFUSED (with the reason)"
    )
    weak = [n.name for n in coverage.namespace
            if n.kind == "differentiable" and n.note != "both modes, order 2"]
    assert not weak, f"differentiable but not checked in both modes to second order: {weak}"
    assert all(n.note for n in coverage.namespace if n.kind != "differentiable")


def test_the_table_catches_a_missing_name(tool) -> None:
    from pullback.numpy import _namespace

    assert _namespace.classify("not_a_numpy_function", None) == ("missing", "")
    kind, note = _namespace.classify("i0", None)
    assert kind == "refused" and "I1" in note
