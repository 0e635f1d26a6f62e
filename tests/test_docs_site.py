"""The documentation site's pages: their code runs, every example has a page that includes
its source, and the API reference covers the public modules. (``make test`` also builds the
site with ``mkdocs build --strict``; this file checks what a build cannot.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PUBLIC_MODULES = ["pullback", "pullback.numpy", "pullback.scipy.special", "pullback.check",
                  "pullback.nn", "pullback.optim", "pullback.io", "pullback.tree",
                  "pullback.extend"]


def _run_blocks(page: str) -> dict:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"no Python blocks in docs/{page}"
    namespace: dict = {}
    exec(compile("\n".join(blocks), f"docs/{page}", "exec"), namespace)
    return namespace


def test_index_code_runs(capsys):
    ns = _run_blocks("index.md")
    assert ns["gW1"].shape == (3, 4)
    np.testing.assert_allclose(ns["gW1_again"], ns["gW1"], rtol=1e-12)
    assert "(3, 4)" in capsys.readouterr().out


def test_conventions_code_runs():
    ns = _run_blocks("conventions.md")
    z, pb, pnp = ns["z"], ns["pb"], ns["pnp"]
    np.testing.assert_allclose(pb.grad(lambda z: pnp.abs(z) ** 2)(z), 2 * np.conj(z))
    assert set(ns["metrics"]) == {"max residual"}
    assert len(ns["params"]) == 2


@pytest.mark.parametrize("example", sorted(p.stem for p in (ROOT / "examples").glob("*.py")))
def test_every_example_has_a_page_that_includes_it(example):
    page = DOCS / "examples" / f"{example}.md"
    assert page.is_file(), f"examples/{example}.py has no page docs/examples/{example}.md"
    assert f'--8<-- "examples/{example}.py"' in page.read_text()
    assert f"examples/{example}.md" in (ROOT / "mkdocs.yml").read_text()


def test_api_reference_covers_the_public_modules():
    pages = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    documented = set(re.findall(r"^::: ([\w.]+)", pages, re.M))
    assert {m for m in PUBLIC_MODULES if m != "pullback"} <= documented
    for name in ("grad", "vjp", "jvp", "vmap", "jit", "primitive", "custom_vjp", "custom_jvp",
                 "check_grads", "RuleError", "GradientCheckError"):
        assert f"pullback.{name}" in documented, name
