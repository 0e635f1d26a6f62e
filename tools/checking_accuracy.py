"""Measure pullback.check: the accuracy of its numerical derivatives on reference functions,
and which checks catch a set of planted errors.

First table: for each reference function with a closed-form derivative, every method of
``pullback.check.numerical_jvp`` is run with its default steps; each cell is the relative
error against the closed form, then the method's own error estimate (relative) in brackets.
Second table: planted errors in rules, and the verdict of each kind of check. Both are the
tables of ``docs/checking.md``. Run from the repository root:

    .venv/bin/python tools/checking_accuracy.py
"""

from __future__ import annotations

import numpy as np

import pullback as pb
import pullback.numpy as pnp
from pullback.check import numerical_jvp, report

METHODS = ("forward", "central", "richardson", "complex", "auto")

# name, f, x, closed-form derivative (all elementwise, evaluated at x in float64)
REFERENCES = [
    ("exp(x)", pnp.exp, np.array([1.3]), lambda x: np.exp(x)),
    ("sin(x)", pnp.sin, np.array([0.7]), lambda x: np.cos(x)),
    ("log(x), x = 1e-3", pnp.log, np.array([1e-3]), lambda x: 1.0 / x),
    ("log(x), x = 1e8", pnp.log, np.array([1e8]), lambda x: 1.0 / x),
    ("tanh(x), x = 10", pnp.tanh, np.array([10.0]), lambda x: 1.0 / np.cosh(x) ** 2),
    ("exp(x), x = 700", pnp.exp, np.array([700.0]), lambda x: np.exp(x)),
    ("1 / (1 + 25 x^2)", lambda x: 1.0 / (1.0 + 25.0 * x * x), np.array([0.3]),
     lambda x: -50.0 * x / (1.0 + 25.0 * x * x) ** 2),
    ("x^4.5", lambda x: x ** 4.5, np.array([2.0]), lambda x: 4.5 * x ** 3.5),
    ("abs(x) x (not analytic)", lambda x: pnp.abs(x) * x, np.array([0.5]),
     lambda x: 2.0 * np.abs(x)),
    ("sin(x), x float32", pnp.sin, np.array([0.7], np.float32), lambda x: np.cos(x)),
    ("Huber at its switch point (f'' jumps)",
     lambda x: pnp.where(pnp.abs(x) < 1.0, 0.5 * x * x, pnp.abs(x) - 0.5), np.array([1.0]),
     lambda x: np.ones_like(x)),
    ("abs(z)^2, z = 1 + 2i (complex input)", lambda z: pnp.abs(z) ** 2,
     np.array([1.0 + 2.0j]), lambda z: 2.0 * np.real(z)),
]


def measure() -> list[tuple[str, dict[str, tuple[float, float]]]]:
    """For each reference: method -> (relative error, relative error estimate)."""
    rows = []
    for name, f, x, df in REFERENCES:
        exact = df(x.astype(np.result_type(x, np.float64)))[0]
        cells = {}
        for method in METHODS:
            try:
                t, e = numerical_jvp(f, (x,), (np.ones_like(x),), method=method,
                                     return_error=True)
            except ValueError:  # the complex step on a non-analytic function or complex input
                cells[method] = (np.nan, np.nan)
                continue
            rel = abs(float(t[0]) - exact) / abs(exact)
            cells[method] = (rel, float(e[0]) / abs(exact))
        rows.append((name, cells))
    return rows


def _fmt(rel: float) -> str:
    if np.isnan(rel):
        return "n/a"
    return "0" if rel == 0 else f"{rel:.1e}"


def _planted() -> list[tuple[str, object, tuple, int]]:
    """(description, function, args, order) with one planted error each."""
    rng = np.random.default_rng(0)
    x = np.array([0.3, -1.1, 0.8, 1.7])
    A = rng.standard_normal((3, 3))

    @pb.custom_vjp
    def sin_eps(x):
        return pnp.sin(x)

    sin_eps.defvjp(lambda x: (pnp.sin(x), x), lambda x, g: (g * pnp.cos(x) * (1 + 1e-6),))

    @pb.custom_jvp
    def flipped(x):
        return pnp.exp(x) * x

    @flipped.defjvp
    def _flipped_jvp(primals, tangents):
        (p,), (t,) = primals, tangents
        return flipped(p), -(pnp.exp(p) * (1.0 + p)) * t

    @pb.primitive
    def lin(v):
        return A @ v, lambda u: (A @ u,)  # should be A.T @ u

    @pb.custom_vjp
    def add_bias(v, b):
        return v + b

    add_bias.defvjp(lambda v, b: (v + b, None), lambda _, g: (g, g[0]))  # no sum over rows

    @pb.primitive
    def colsum(m):
        return m.sum(axis=0), lambda u: (np.broadcast_to(u[:, None], m.shape),)  # wrong axis

    @pb.custom_jvp
    def sin_sg(x):
        return pnp.sin(x)

    @sin_sg.defjvp
    def _sin_sg_jvp(primals, tangents):
        (p,), (t,) = primals, tangents
        return pnp.sin(p), pnp.cos(pb.stop_gradient(p)) * t

    @pb.custom_vjp
    def rev_only_wrong(x):
        return pnp.sin(x)

    rev_only_wrong.defvjp(lambda x: (pnp.sin(x), x), lambda x, g: (-g * pnp.cos(x),))
    rev_only_wrong.defjvp(lambda p, t: (pnp.sin(p[0]), pnp.cos(p[0]) * t[0]))

    m = rng.standard_normal((4, 3))
    return [
        ("factor 1 + 1e-6 (custom_vjp)", lambda x: pnp.sum(sin_eps(x) * x), (x,), 1),
        ("flipped sign (custom_jvp)", lambda x: pnp.sum(flipped(x)), (x,), 1),
        ("transposed matrix (primitive)", lambda v: pnp.sum(pnp.tanh(lin(v))), (x[:3],), 1),
        ("missing broadcast sum (custom_vjp)",
         lambda v, b: pnp.sum(pnp.sin(add_bias(v, b))), (m, x[:3]), 1),
        ("wrong axis (primitive)", lambda s: pnp.sum(colsum(s) ** 2), (A,), 1),
        ("second derivative lost (custom_jvp)", lambda x: pnp.sum(sin_sg(x)), (x,), 2),
        ("reverse rule wrong, forward right", lambda x: pnp.sum(rev_only_wrong(x) * x), (x,), 1),
    ]


def detection() -> list[tuple[str, dict[str, str], str]]:
    """For each planted error: kind of check -> worst verdict, and the rule named."""
    rows = []
    for name, f, args, order in _planted():
        rep = report(f, args, order=order, taylor=True)
        rank = ("ok", "kink", "uncertain", "fail", "error")
        cells = {}
        for kind in ("fwd", "rev", "dot", "taylor"):
            found = [r.verdict for r in rep.rows if r.mode == kind]
            cells[kind] = max(found, key=rank.index) if found else "-"
        loc = rep.localisation
        rows.append((f"{name}, order {order}", cells, loc.primitive if loc else ""))
    return rows


def main() -> None:
    rows = measure()
    print("| function | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(
            f"{_fmt(cells[m][0])} ({_fmt(cells[m][1])})" for m in METHODS) + " |")
    print()
    print("| planted error | fwd | rev | dot | taylor | first wrong rule named |")
    print("|---|---|---|---|---|---|")
    for name, cells, prim in detection():
        print(f"| {name} | " + " | ".join(cells[k] for k in ("fwd", "rev", "dot", "taylor"))
              + f" | {prim or '-'} |")


if __name__ == "__main__":
    main()
