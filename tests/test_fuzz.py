"""Differential fuzzing in CI: the programs of a fixed range of seeds of ``tools/fuzz.py``.

Each seed is a random program of 3 to 12 spec-table rows composed through smooth maps into
each row's domain (see the tool's docstring); it is checked against NumPy (values, shapes,
dtypes), against derivatives computed from function evaluations only (``jvp``, ``vjp``,
``hvp``: Richardson-extrapolated differences, complex step where valid) and ``jit``/``vmap``
against eager. A failing seed prints the program as a runnable snippet; ``make fuzz
N=1 START=<seed>`` (``python tools/fuzz.py -n 1 --start <seed>``) shrinks it.

Seeds whose programs hit a bug that is known and not fixed yet are expected failures
(``KNOWN``, strict): they fail as expected only if every failure is one the listed bugs
explain (:data:`fuzz.KNOWN_BUGS`), and they pass as an error when the bug is gone, so that
the entry is removed. Row picks are stable (rendezvous hashing), so adding a spec row changes
few seeds' programs; ``python tools/fuzz.py --ci-table -n 150`` prints the table afresh
(NaN bugs are named by hand: their failures all look alike). Each known bug also has its
minimal reproducer below (``REPRODUCERS``), expected to fail until it is fixed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from specs import spec

ROOT = Path(__file__).resolve().parent.parent


def _load_fuzz():
    """``tools/fuzz.py`` as the module ``fuzz`` (tools/ stays off sys.path: its coverage.py
    would shadow the coverage package that numba imports)."""
    if "fuzz" in sys.modules:
        return sys.modules["fuzz"]
    found = importlib.util.spec_from_file_location("fuzz", ROOT / "tools" / "fuzz.py")
    module = importlib.util.module_from_spec(found)
    sys.modules["fuzz"] = module
    found.loader.exec_module(module)
    return module


fuzz = _load_fuzz()

SEEDS = range(150)

#: seeds whose programs fail only through known bugs (regenerate: see the module's text)
KNOWN: dict[int, tuple[str, ...]] = {
}


class KnownBug(Exception):
    """All of a seed's failures are explained by the known bugs listed for it."""


def _reason(names: tuple[str, ...]) -> str:
    return "; ".join(f"{n}: {fuzz.KNOWN_BUGS[n].what}" for n in names)


def _seeds():
    for seed in SEEDS:
        if seed in KNOWN:
            mark = pytest.mark.xfail(raises=KnownBug, strict=True, reason=_reason(KNOWN[seed]))
            yield pytest.param(seed, marks=mark)
        else:
            yield seed


@pytest.mark.parametrize("seed", list(_seeds()))
def test_fuzz_seed(seed: int) -> None:
    built, outcome = fuzz.run_seed(seed)
    names = KNOWN.get(seed, ())
    unexplained = fuzz.known_bugs(outcome.failures, names)
    if unexplained:
        listing = "\n".join(str(f) for f in unexplained)
        pytest.fail(
            f"fuzz seed {seed}: {built.prog.describe()}\n{listing}\n\n"
            f"{fuzz.reproducer(built, unexplained[0])}\n"
            f"shrink it: python tools/fuzz.py -n 1 --start {seed}",
            pytrace=False,
        )
    if outcome.failures:
        raise KnownBug(f"seed {seed}: " + "; ".join(str(f) for f in outcome.failures))


# ----------------------------------------------------------------------------- known bugs

#: the minimal reproducer of each known bug: a program in the fuzzer's form, its constants
#: ``K``, its inputs, the check that fails and (optionally) the spec-table rows ``R`` it uses
REPRODUCERS: dict[str, tuple] = {
    "numpy-scalar": ("def program(m, R, K, x0, x1):\n    return m.real(x0 + 1j * m.sum(x1))\n",
                     [], [np.array([0.5, 1.0], np.float32), np.array([0.25, 2.0])], "jvp"),
    "scipy-float64": ("def program(m, R, K, x0):\n    return R[0](x0)\n", [],
                      [np.array([[3.0, 0.5, 0.0], [0.25, 2.0, 0.1], [0.0, 0.3, 2.5]], np.float32)],
                      "vjp", ["scipy.linalg.det"]),
}


@pytest.mark.parametrize("name", sorted(fuzz.KNOWN_BUGS))
def test_known_bug_still_fails(name: str) -> None:
    """Each known bug, minimal: expected to fail until it is fixed (then remove it from
    ``fuzz.KNOWN_BUGS``, ``REPRODUCERS`` and ``KNOWN``)."""
    if name not in REPRODUCERS:
        pytest.skip(f"{name}: found only through a row in progress; no standalone reproducer")
    source, K, xs, check, *rows = REPRODUCERS[name]
    out = fuzz.check_program(fuzz.compile_program(source), fuzz.Rows(rows[0] if rows else []),
                             K, xs, seed=0, only={"value", check})
    if not out.failures:
        pytest.fail(f"known bug {name!r} no longer reproduces: fixed? remove it from "
                    "fuzz.KNOWN_BUGS, REPRODUCERS and the KNOWN seeds", pytrace=False)
    assert not fuzz.known_bugs(out.failures, (name,)), out.failures


# ----------------------------------------------------------------------------- the fuzzer


def test_a_planted_wrong_derivative_is_found_and_shrunk_to_one_operation() -> None:
    """A row whose derivative is 10% off, among correct ones: the checks find it and the
    shrinker reduces the program to that one row."""

    @pb.custom_jvp
    def bad_sin(x):
        return pnp.sin(x)

    @bad_sin.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return pnp.sin(x), 1.1 * pnp.cos(x) * t

    keys = ["exp", "multiply", "sum[axis1]", "tanh", "add"]
    table = {k: r for k, r in fuzz.ROWS.items() if k in keys}
    table["planted"] = spec("planted", bad_sin, np.sin, [((3, 2),), ((),)])
    for seed in range(40):
        built, outcome = fuzz.run_seed(seed, table, only={"value", "jvp"})
        if "planted" in built.keys:
            break
    else:
        pytest.fail("no program used the planted row")
    assert [f.kind for f in outcome.failures] == ["jvp"], outcome.failures
    small = fuzz.build(fuzz.shrink(built.prog, "jvp", table), table)
    assert [op.row for op in small.prog.ops] == ["planted"], small.source
    assert [f.kind for f in fuzz.check(small).failures] == ["jvp", "vjp", "hvp"]


def test_oracles_use_function_values_only() -> None:
    x, y = np.array([0.3, -1.2]), np.array(0.7)
    u, v = [np.array([1.0, 0.5]), np.array(-1.0)], [np.array([0.2, 1.0]), np.array(2.0)]

    def F(x, y):  # sum(sin(x) * y**2): H = [[diag(-sin x y^2), 2y cos x], [2y cos x, 2 sum sin x]]
        return np.sum(np.sin(x) * y**2)

    want = (np.sum(u[0] * -np.sin(x) * y**2 * v[0]) + np.sum(u[0] * 2 * y * np.cos(x)) * v[1]
            + u[1] * np.sum(2 * y * np.cos(x) * v[0]) + u[1] * 2 * np.sum(np.sin(x)) * v[1])
    got, err = fuzz.mixed_second(F, [x, y], u, v)
    assert abs(got - want) <= 1e-9 * abs(want) and err < 1e-9 * abs(want)
    t, _, why = fuzz.jvp_oracle(np.exp, [x], [v[0]], 1.0)
    np.testing.assert_allclose(t, np.exp(x) * v[0], rtol=1e-13)
    assert why == ""
    assert fuzz.jvp_oracle(np.abs, [np.array([0.0, 1.0])], [np.ones(2)], 1.0)[2] == "kink"
    ones = [np.ones(2)]
    assert fuzz.kinked(np.abs, [np.zeros(2)], ones) and not fuzz.kinked(np.sin, [x], ones)
    assert fuzz.kinked(np.floor, [np.zeros(2)], ones)  # a jump


def test_programs_stay_the_same_when_a_row_is_added_elsewhere() -> None:
    """Row picks use rendezvous hashing: another row in the table changes few programs."""
    table = dict(fuzz.ROWS)
    table["added-row"] = spec("added-row", pnp.sin, np.sin, [((3,),)])
    same = sum(fuzz.generate(s).source == fuzz.generate(s, table).source for s in range(10))
    assert same >= 8


def test_a_reproducer_is_a_runnable_snippet(tmp_path: Path) -> None:
    seed = next(s for s in SEEDS if s not in KNOWN)
    built = fuzz.generate(seed)
    path = tmp_path / "repro.py"
    path.write_text(fuzz.reproducer(built, fuzz.Failure("jvp", "an example")))
    run = subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_complex_programs_draw_from_complex_rows_only() -> None:
    """No row of the table is marked complex yet; with rows that are, complex programs (real
    inputs made complex by the adapters, a real output) run through every check."""
    table = {
        "cexp": spec("cexp", pnp.exp, np.exp, [((3,),)], "complex"),
        "csin": spec("csin", pnp.sin, np.sin, [((3,),), ((2, 2),)], "complex"),
        "cmul": spec("cmul", pnp.multiply, np.multiply, [((3,), (3,))], "complex", "complex"),
    }
    for seed in range(4):
        built, outcome = fuzz.run_seed(seed, table)
        assert built.prog.complex and set(built.keys) <= set(table)
        assert not outcome.failures, outcome.failures
