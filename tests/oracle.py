"""An independent oracle for derivative tests: Richardson-extrapolated central differences.

It uses nothing of pullback: plain NumPy evaluations of the function at shifted inputs.
Central differences with steps h, h/2, h/4 combined by Richardson extrapolation have an
error O(h^6); with h = 1e-2 * max(1, |x|) the truncation error is far below 1e-9 for the
smooth functions of the spec table, and rounding stays near 1e-12 / h.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _central(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: np.ndarray, h: float):
    return (np.asarray(f(x + h * d)) - np.asarray(f(x - h * d))) / (2 * h)


def directional(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: np.ndarray, h: float | None = None
) -> np.ndarray:
    """The derivative of ``f`` at ``x`` along ``d``, by extrapolated central differences."""
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    if h is None:
        h = 1e-2 * max(1.0, float(np.max(np.abs(x), initial=0.0)))
    d1, d2, d3 = (_central(f, x, d, h / k) for k in (1, 2, 4))
    r1 = (4 * d2 - d1) / 3
    r2 = (4 * d3 - d2) / 3
    return (16 * r2 - r1) / 15


def jvp(f: Callable, args: Sequence[np.ndarray], tangents: Sequence[np.ndarray | None]):
    """Directional derivative of ``f(*args)`` along ``tangents`` (None: argument held fixed)."""
    idx = [i for i, t in enumerate(tangents) if t is not None]
    sizes = [np.size(args[i]) for i in idx]
    flat_x = np.concatenate([np.ravel(args[i]) for i in idx]) if idx else np.zeros(0)
    flat_t = np.concatenate([np.ravel(tangents[i]) for i in idx]) if idx else np.zeros(0)

    def g(v: np.ndarray) -> np.ndarray:
        new = list(args)
        start = 0
        for i, n in zip(idx, sizes, strict=True):
            new[i] = v[start : start + n].reshape(np.shape(args[i]))
            start += n
        return f(*new)

    return directional(g, flat_x, flat_t)


def jacobian(f: Callable, args: Sequence[np.ndarray], i: int) -> np.ndarray:
    """The Jacobian of ``f(*args)`` with respect to argument ``i``, shaped out.shape + x.shape."""
    x = np.asarray(args[i], dtype=np.float64)
    out_shape = np.shape(f(*args))
    cols = []
    for e in range(x.size):
        d = np.zeros(x.size)
        d[e] = 1.0
        tangents = [None] * len(args)
        tangents[i] = d.reshape(x.shape)
        cols.append(np.asarray(jvp(f, args, tangents), dtype=np.float64).reshape(-1))
    jac = np.stack(cols, axis=-1) if cols else np.zeros((int(np.prod(out_shape)), 0))
    return jac.reshape(out_shape + x.shape)
