"""What the distributions of ``pullback.scipy.stats`` share: SciPy's conventions for ``loc``
and ``scale``, supports, invalid parameters, and the logarithms of ``cdf`` and ``sf``.

Every function here is written with ``pullback.numpy`` operations, so that the
distributions' functions are differentiable (to any order) in every argument that is a
float, and they evaluate plain arrays with NumPy when nothing is traced. Values outside the
support are SciPy's (``logpdf = -inf``, ``cdf = 0`` or ``1``) with derivative 0; invalid
parameters (``scale <= 0``, a shape parameter out of range) give NaN, as in SciPy.

The functions are evaluated at a safe point outside the support and the result replaced
there (the "double where"), so that the derivative of an unused branch never turns a zero
cotangent into NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core.lax import stop_gradient
from pullback.core.trace import Tracer

__all__: list[str] = []

Std = Callable[..., Any]


def is_number(v: Any) -> bool:
    return type(v) in (int, float)


def valid(*conditions: Any) -> Any:
    """The conjunction of the parameter checks (``True`` when there are none)."""
    out: Any = True
    for c in conditions:
        if c is True:
            continue
        out = c if out is True else pnp.logical_and(out, c)
    return out


def positive(v: Any) -> Any:
    """``v > 0``; ``True`` for a positive Python number (no array made)."""
    if is_number(v):
        return True if v > 0 else False
    return pnp.greater(v, 0)


def guard(out: Any, ok: Any) -> Any:
    """``out`` where the parameters are valid, NaN elsewhere (SciPy's ``badvalue``)."""
    if ok is True:
        return out
    if ok is False:
        return pnp.full_like(out, np.nan) if isinstance(out, Tracer) else out * np.nan
    return pnp.where(ok, out, np.nan)


def standardize(x: Any, loc: Any, scale: Any) -> Any:
    """``(x - loc) / scale`` (skipping the default ``loc=0``, ``scale=1``)."""
    y = x if is_number(loc) and loc == 0 else pnp.subtract(x, loc)
    if not (is_number(scale) and scale == 1):
        y = pnp.divide(y, scale)
    if not isinstance(y, Tracer):
        y = np.asarray(y)
        if y.dtype.kind not in "fc":
            y = y.astype(np.float64)
    return y


def log_scale(scale: Any) -> Any:
    return 0.0 if is_number(scale) and scale == 1 else pnp.log(scale)


def _inside(y: Any, lower: float, upper: float) -> Any:
    """Where ``y`` is in the closed support ``[lower, upper]`` (``None``: everywhere)."""
    cond: Any = None
    if lower > -np.inf:
        cond = pnp.greater_equal(y, lower)
    if upper < np.inf:
        top = pnp.less_equal(y, upper)
        cond = top if cond is None else pnp.logical_and(cond, top)
    return cond


def _safe(y: Any, inside: Any, lower: float, upper: float) -> Any:
    """``y`` inside the support, a point strictly inside it elsewhere."""
    if inside is None:
        return y
    if lower > -np.inf and upper < np.inf:
        point = 0.5 * (lower + upper)
    elif lower > -np.inf:
        point = lower + 1.0
    else:
        point = upper - 1.0
    return pnp.where(inside, y, point)


def _fill(inside: Any, value: Any, outside: float) -> Any:
    return value if inside is None else pnp.where(inside, value, outside)


def _fill_sides(y: Any, value: Any, lower: float, upper: float, below: float,
                above: float) -> Any:
    if upper < np.inf:
        value = pnp.where(pnp.greater(y, upper), above, value)
    if lower > -np.inf:
        value = pnp.where(pnp.less(y, lower), below, value)
    return value


def _finish(out: Any) -> Any:
    """A plain 0-d result as a NumPy scalar, as SciPy returns it."""
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return out[()]
    return out


# ----------------------------------------------------------------------------- continuous


class Continuous:
    """A continuous distribution in SciPy's standard form: the functions of the standardised
    variable ``y = (x - loc) / scale`` and of the shape parameters, the support of ``y``, and
    its median (where ``logcdf``/``logsf`` switch from ``log(cdf)`` to ``log1p(-sf)``)."""

    def __init__(self, logpdf: Std, cdf: Std, sf: Std, lower: float = -np.inf,
                 upper: float = np.inf, median: Callable[..., Any] | float = 0.0,
                 logcdf: Std | None = None, logsf: Std | None = None,
                 check: Callable[..., Any] | None = None):
        self.std_logpdf, self.std_cdf, self.std_sf = logpdf, cdf, sf
        self.lower, self.upper, self.median = lower, upper, median
        self.std_logcdf, self.std_logsf = logcdf, logsf
        self.check = check

    def _prepare(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> tuple:
        y = standardize(x, loc, scale)
        ok = valid(positive(scale), *(() if self.check is None else (self.check(*shapes),)))
        inside = _inside(y, self.lower, self.upper)
        return y, _safe(y, inside, self.lower, self.upper), inside, ok

    def logpdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        out = _fill(inside, self.std_logpdf(ys, *shapes), -np.inf)
        return _finish(guard(pnp.subtract(out, log_scale(scale)), ok))

    def pdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        return _finish(pnp.exp(self.logpdf(x, shapes, loc, scale)))

    def cdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        out = _fill_sides(y, self.std_cdf(ys, *shapes), self.lower, self.upper, 0.0, 1.0)
        return _finish(guard(out, ok))

    def sf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        out = _fill_sides(y, self.std_sf(ys, *shapes), self.lower, self.upper, 1.0, 0.0)
        return _finish(guard(out, ok))

    def _median(self, shapes: tuple) -> Any:
        m = self.median
        return m(*shapes) if callable(m) else m

    def logcdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        if self.std_logcdf is not None:
            inner = self.std_logcdf(ys, *shapes)
        else:  # SciPy's: log(cdf) below the median, log1p(-sf) above it
            inner = pnp.where(pnp.less(ys, stop_gradient(self._median(shapes))),
                              pnp.log(self.std_cdf(ys, *shapes)),
                              pnp.log1p(-self.std_sf(ys, *shapes)))
        out = _fill_sides(y, inner, self.lower, self.upper, -np.inf, 0.0)
        return _finish(guard(out, ok))

    def logsf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        if self.std_logsf is not None:
            inner = self.std_logsf(ys, *shapes)
        else:  # SciPy's: log(sf) above the median, log1p(-cdf) below it
            inner = pnp.where(pnp.greater(ys, stop_gradient(self._median(shapes))),
                              pnp.log(self.std_sf(ys, *shapes)),
                              pnp.log1p(-self.std_cdf(ys, *shapes)))
        out = _fill_sides(y, inner, self.lower, self.upper, 0.0, -np.inf)
        return _finish(guard(out, ok))


# ----------------------------------------------------------------------------- discrete


class Discrete:
    """A discrete distribution on the integers ``lower..upper(*shapes)`` in SciPy's form:
    ``logpmf``, ``cdf`` and ``sf`` of ``k - loc`` and the shape parameters. ``k`` and ``loc``
    are never differentiated (the probabilities are piecewise constant in them)."""

    def __init__(self, logpmf: Std, cdf: Std, sf: Std, upper: Callable[..., Any] | None = None,
                 check: Callable[..., Any] | None = None, logcdf: Std | None = None):
        self.std_logpmf, self.std_cdf, self.std_sf = logpmf, cdf, sf
        self.upper, self.check, self.std_logcdf = upper, check, logcdf

    def _k(self, k: Any, loc: Any) -> Any:
        k = stop_gradient(k) if isinstance(k, Tracer) else np.asarray(k)
        if not (is_number(loc) and loc == 0):
            k = pnp.subtract(k, stop_gradient(loc) if isinstance(loc, Tracer) else loc)
        return k

    def _ok(self, shapes: tuple) -> Any:
        return True if self.check is None else self.check(*shapes)

    def logpmf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        k = self._k(k, loc)
        inside = pnp.logical_and(pnp.equal(k, pnp.floor(k)), pnp.greater_equal(k, 0))
        if self.upper is not None:
            inside = pnp.logical_and(inside, pnp.less_equal(k, self.upper(*shapes)))
        ks = pnp.where(inside, k, 0.0)
        out = pnp.where(inside, self.std_logpmf(ks, *shapes), -np.inf)
        return _finish(guard(out, self._ok(shapes)))

    def pmf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return _finish(pnp.exp(self.logpmf(k, shapes, loc)))

    def _sides(self, k: Any, shapes: tuple, loc: Any) -> tuple:
        k = pnp.floor(self._k(k, loc))
        below = pnp.less(k, 0)
        above = None if self.upper is None else pnp.greater_equal(k, self.upper(*shapes))
        inside = pnp.logical_not(below) if above is None else pnp.logical_not(
            pnp.logical_or(below, above))
        return pnp.where(inside, k, 0.0), below, above

    def cdf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        ks, below, above = self._sides(k, shapes, loc)
        out = self.std_cdf(ks, *shapes)
        if above is not None:
            out = pnp.where(above, 1.0, out)
        out = pnp.where(below, 0.0, out)
        return _finish(guard(out, self._ok(shapes)))

    def sf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        ks, below, above = self._sides(k, shapes, loc)
        out = self.std_sf(ks, *shapes)
        if above is not None:
            out = pnp.where(above, 0.0, out)
        out = pnp.where(below, 1.0, out)
        return _finish(guard(out, self._ok(shapes)))

    def logcdf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        if self.std_logcdf is None:
            return _finish(pnp.log(self.cdf(k, shapes, loc)))
        ks, below, above = self._sides(k, shapes, loc)
        out = self.std_logcdf(ks, *shapes)
        if above is not None:
            out = pnp.where(above, 0.0, out)
        out = pnp.where(below, -np.inf, out)
        return _finish(guard(out, self._ok(shapes)))

    def logsf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return _finish(pnp.log(self.sf(k, shapes, loc)))
