"""Measure the accuracy of pullback.check's numerical derivatives on reference functions.

For each reference function with a closed-form derivative, every method of
``pullback.check.numerical_jvp`` is run with its default steps and the relative error
against the closed form is printed, with the method's own error estimate, as the Markdown
table of ``docs/checking.md``. Run from the repository root:

    .venv/bin/python tools/checking_accuracy.py
"""

from __future__ import annotations

import numpy as np

import pullback.numpy as pnp
from pullback.check import numerical_jvp

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
    ("|x| x (not analytic)", lambda x: pnp.abs(x) * x, np.array([0.5]),
     lambda x: 2.0 * np.abs(x)),
    ("sin(x), x float32", pnp.sin, np.array([0.7], np.float32), lambda x: np.cos(x)),
]


def measure() -> list[tuple[str, dict[str, tuple[float, float]]]]:
    """For each reference: method -> (relative error, relative error estimate)."""
    rows = []
    for name, f, x, df in REFERENCES:
        exact = df(x.astype(np.float64))[0]
        cells = {}
        for method in METHODS:
            try:
                t, e = numerical_jvp(f, (x,), (np.ones_like(x),), method=method,
                                     return_error=True)
            except ValueError:
                cells[method] = (np.nan, np.nan)  # complex step on a non-analytic function
                continue
            rel = abs(float(t[0]) - exact) / abs(exact)
            cells[method] = (rel, float(e[0]) / abs(exact))
        rows.append((name, cells))
    return rows


def _fmt(rel: float) -> str:
    if np.isnan(rel):
        return "n/a"
    return "0" if rel == 0 else f"{rel:.1e}"


def main() -> None:
    rows = measure()
    print("| function | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(
            f"{_fmt(cells[m][0])} ({_fmt(cells[m][1])})" for m in METHODS) + " |")


if __name__ == "__main__":
    main()
