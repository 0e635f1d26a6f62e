"""Reductions over axes: ``sum`` (linear), ``max``/``min`` (primitives), ``cumsum`` (linear)
and the reductions composed from them.

``axis`` may be an int, a tuple of ints, negative, or ``None`` (all axes); ``keepdims`` keeps
the reduced axes with length 1. Conventions:

- ``max``/``min``/``amax``/``amin``/``ptp``: where several entries attain the extremum (ties),
  the cotangent is shared equally among them (``1/k`` each for ``k`` tied entries), as
  ``maximum`` gives 1/2 to each argument at a tie; the derivatives still sum to 1.
- ``prod`` and ``cumprod`` are built from products of pairs (a balanced tree, a prefix scan),
  so their derivatives are exact when one or more entries are zero, at every order.
- ``logsumexp`` is numerically stable (the maximum is factored out, ``log1p`` keeps small
  sums exact).
- ``var``/``std``/``nanvar``/``nanstd`` of complex values are real: the mean of
  ``|a - mean|**2`` (NumPy's definition), differentiable in the real and imaginary parts.
- ``std``/``nanstd`` where the spread is 0 (all entries of the slice equal, a size-1 axis)
  have derivative 0, as ``linalg.norm`` at 0: the subgradient of least norm, and the exact
  derivative where the standard deviation is identically 0 (a size-1 axis); all higher
  derivatives there are 0 too (JAX gives NaN).
- ``var``/``std`` with ``ddof >= n`` divide by 0 as NumPy does (``inf``, or ``nan`` where the
  sum of squares is 0, with NumPy's warning); their derivatives are those of that formula.
- ``median``, ``quantile`` and ``percentile`` pass the cotangent to the entries at the
  selected sorted positions (linear interpolation between two of them); among tied entries
  it goes to the one a stable sort puts at that position.
- NaN-ignoring reductions give NaN entries no derivative; ``nanmax``/``nanmin`` of an all-NaN
  slice is NaN (with NumPy's warning) and passes no derivative.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.lax import stop_gradient, sum_p, sum_transpose
from pullback.core.reverse import VJPTracer, record1
from pullback.core.rules import defbatch, defjvp, deflinear, defvjp
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy._nondiff import all as all_
from pullback.numpy._nondiff import any as any_
from pullback.numpy._nondiff import isfinite, isnan, logical_and, logical_not
from pullback.numpy._registry import (
    _check_kwargs,
    apply1,
    batch_along,
    implements,
    method,
    new_primitive,
    promote,
)
from pullback.numpy._util import as_array, normalize_axes, normalize_axis, scalar_axis
from pullback.numpy.elementwise import (
    conjugate,
    equal,
    exp,
    expm1,
    greater,
    log,
    log1p,
    not_equal,
    real,
    sqrt,
    where,
)
from pullback.numpy.elementwise import sign as sign_
from pullback.numpy.shape import (
    astype,
    broadcast_to,
    concatenate,
    getitem,
    ravel,
    reshape,
    sort,
    transpose,
)

__all__ = [
    "amax", "amin", "average", "cumprod", "cumsum", "logsumexp", "max", "mean", "median", "min",
    "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum",
    "nanvar", "percentile", "prod", "ptp", "quantile", "std", "sum", "var",
]

Axis = int | Sequence[int] | None
_NOVALUE = getattr(np, "_NoValue", None)


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Reshape a reduction's output (or its cotangent) so it broadcasts against the input."""
    if keepdims:
        return g
    return reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod([int(shape[i]) for i in axes])


def _given(**kwargs: Any) -> dict:
    """The keyword arguments that were actually passed (NumPy's ``_NoValue`` dropped)."""
    return {k: v for k, v in kwargs.items() if v is not _NOVALUE}


def _keep(keepdims: Any) -> bool:
    return False if keepdims is _NOVALUE or keepdims is None else bool(keepdims)


def _plain(x: Any) -> Any:
    """The plain NumPy value under every level of tracing."""
    while isinstance(x, Tracer):
        x = x.primal
    return x


# ----------------------------------------------------------------------------- sum, mean


@implements(np.sum)
def sum(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        **kwargs: Any) -> Any:
    """Differentiable ``numpy.sum``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.sum(np.ones((2, 3)), axis=0)
        array([2., 2., 2.])
    """
    if type(a) is VJPTracer and dtype is None and out is None and not kwargs:
        # the eager reverse-mode case of a NumPy array (not 0-d) summed over all its axes or
        # one: the steps below, in one
        p = a._primal
        if type(p) is np.ndarray and p.ndim:
            nd = p.ndim
            axes = (tuple(range(nd)) if axis is None
                    else (axis % nd,) if type(axis) is int and -nd <= axis < nd else ())
            if axes:
                res = record1(sum_p, a, {"axes": axes, "keepdims": bool(keepdims)})
                if res is not None:
                    return res
    if not isinstance(a, Tracer):
        return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)
    if dtype is not None or out is not None or kwargs:
        _check_kwargs("sum", {"dtype": dtype, "out": out, **kwargs})
    axes = normalize_axes(axis, a.ndim, "sum", zero_d=True)
    if not axes and not keepdims:
        return a
    params = {"axes": axes, "keepdims": bool(keepdims)}
    return apply1(sum_p, a, params)  # in one step where one applies


@implements(np.mean)
def mean(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         **kwargs: Any) -> Any:
    """Differentiable ``numpy.mean``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.mean(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1)
        array([1.5, 3.5])
    """
    if not isinstance(a, Tracer):
        return np.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)
    _check_kwargs("mean", {"dtype": dtype, "out": out, **kwargs})
    axes = normalize_axes(axis, a.ndim, "mean")
    count = _count(a.shape, axes)
    total = sum(a, axis=axes, keepdims=keepdims)
    return total / count if count else total * np.nan


# ----------------------------------------------------------------------------- max, min


def _hits(ans: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any, Any]:
    """Where the entries attain the extremum of their slice, and how many do (``k``, kept
    dims). Constants (built from comparisons), so the rules below are linear in ``g``, ``t``."""
    hit = equal(x, expand_reduced(ans, shape_of(x), axes, keepdims))
    return hit, sum(astype(hit, dtype_of(x)), axis=axes, keepdims=True)


def _extremum_vjp(g: Any, ans: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    # g / k on each of the k entries that attain the extremum, exactly 0 elsewhere (a
    # selection: an infinite cotangent does not become NaN on the other entries)
    hit, k = _hits(ans, x, axes, keepdims)
    return where(hit, sum_transpose(g, x, axes, keepdims) / k, 0.0)


def _extremum_jvp(t: Any, ans: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    hit, k = _hits(ans, x, axes, keepdims)
    return sum(where(hit, t / k, 0.0), axis=axes, keepdims=keepdims)


def _extremum_primitive(name: str, func: Any) -> Any:
    ufunc = np.maximum if func is np.max else np.minimum

    def impl(x: Any, axes: tuple, keepdims: bool) -> Any:
        if type(x) is np.ndarray:  # func's result, without its Python layers
            return ufunc.reduce(x, axis=axes, keepdims=keepdims)
        return func(x, axis=axes, keepdims=keepdims)

    prim = new_primitive(name, impl)
    defbatch(prim, batch_along(prim, "axes"))
    defvjp(prim, _extremum_vjp)
    defjvp(prim, _extremum_jvp)
    return prim


max_p = _extremum_primitive("max", np.max)
min_p = _extremum_primitive("min", np.min)


def _extremum(prim: Any, who: str, a: Any, axis: Axis, out: Any, keepdims: Any, initial: Any,
              where_: Any) -> Any:
    if (type(a) is VJPTracer and out is None and initial is _NOVALUE and where_ is _NOVALUE
            and type(a._primal) is np.ndarray and a._primal.size):
        # the eager reverse-mode case (a non-empty NumPy array: none of the empty cases
        # below) in one step
        kept = _keep(keepdims)
        axes = normalize_axes(axis, a._primal.ndim, who, zero_d=True)
        if axes or kept:
            res = record1(prim, a, {"axes": axes, "keepdims": kept})
            if res is not None:
                return res
    func = np.max if prim is max_p else np.min
    if not isinstance(a, Tracer):
        if type(a) is not np.ndarray and backends.library(a) != "numpy" and out is None \
                and initial is _NOVALUE and where_ is _NOVALUE and 0 in tuple(a.shape):
            kept = _keep(keepdims)
            if 0 in _reduced_shape(tuple(a.shape), normalize_axes(axis, len(a.shape), who,
                                                                  zero_d=True), kept):
                # an empty result (see below): a sum of the same empty shape
                return np.sum(a, axis=axis, keepdims=kept).astype(a.dtype)
        return func(a, axis=axis, out=out,
                    **_given(keepdims=keepdims, initial=initial, where=where_))
    extra = _given(initial=initial, where=where_)
    _check_kwargs(who, {"out": out, **extra})
    keepdims = _keep(keepdims)
    axes = normalize_axes(axis, a.ndim, who, zero_d=True)
    if not axes and not keepdims:
        return a
    if _count(a.shape, axes) == 0 and 0 not in _reduced_shape(a.shape, axes, keepdims):
        raise ValueError(
            f"pullback.numpy.{who}: zero-size array to reduction along axis {axis!r} (shape "
            f"{a.shape}), which has no identity: reduce a non-empty axis, or pad the array"
        )
    if 0 in _reduced_shape(a.shape, axes, keepdims) \
            and type(backends.base_value(a)) is not np.ndarray:
        # an empty result: Dask's max/min of a zero-size array fails when computed, a sum
        # (of the same empty shape and no values) does not
        out_ = sum(a, axis=axes, keepdims=keepdims)
        return out_ if dtype_of(out_) == dtype_of(a) else lax.convert(out_, dtype_of(a))
    params = {"axes": axes, "keepdims": keepdims}
    out = record1(prim, a, params)  # the eager reverse-mode case in one step
    return prim.bind(a, **params) if out is None else out


@implements(np.max)
def max(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
        initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.max``; tied maxima share the cotangent equally.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> pb.grad(pnp.max)(np.array([1.0, 3.0, 3.0]))
        array([0. , 0.5, 0.5])
    """
    return _extremum(max_p, "max", a, axis, out, keepdims, initial, where)


@implements(np.min)
def min(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
        initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.min``; tied minima share the cotangent equally.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.min(np.array([[1.0, 3.0], [0.0, 2.0]]), axis=-1)
        array([1., 0.])
    """
    return _extremum(min_p, "min", a, axis, out, keepdims, initial, where)


@implements(np.amax)
def amax(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
         initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.amax`` (the same as :func:`max`).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.amax(np.array([1.0, 3.0]))
        np.float64(3.0)
    """
    return _extremum(max_p, "amax", a, axis, out, keepdims, initial, where)


@implements(np.amin)
def amin(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
         initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.amin`` (the same as :func:`min`).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.amin(np.array([1.0, 3.0]))
        np.float64(1.0)
    """
    return _extremum(min_p, "amin", a, axis, out, keepdims, initial, where)


@implements(np.ptp)
def ptp(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.ptp``: ``max - min`` (ties share the cotangent equally).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ptp(np.array([[1.0, 4.0], [2.0, 2.5]]), axis=1)
        array([3. , 0.5])
    """
    if not isinstance(a, Tracer):
        return np.ptp(a, axis=axis, out=out, **_given(keepdims=keepdims))
    _check_kwargs("ptp", {"out": out})
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)


# ----------------------------------------------------------------------------- prod


def _to_front(a: Any, axes: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """``a`` with the reduced axes moved to the front and merged into one axis."""
    rest = tuple(i for i in range(a.ndim) if i not in axes)
    moved = transpose(a, axes + rest)
    rest_shape = tuple(a.shape[i] for i in rest)
    return reshape(moved, (_count(a.shape, axes),) + rest_shape), rest_shape


def _product_tree(x: Any) -> Any:
    """The product over axis 0 of ``x`` by multiplying pairs, level by level.

    Made of multiplications only, so every derivative is exact with zeros among the entries
    (no division by the product)."""
    n = x.shape[0]
    while n > 1:
        half = n // 2
        paired = getitem(x, slice(0, 2 * half, 2)) * getitem(x, slice(1, 2 * half, 2))
        if n % 2:
            paired = concatenate([paired, getitem(x, slice(n - 1, n))], axis=0)
        x, n = paired, half + n % 2
    return x


@implements(np.prod)
def prod(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
         keepdims: Any = _NOVALUE, initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.prod``, exact when entries are zero (to every order).

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> pb.grad(pnp.prod)(np.array([2.0, 0.0, 3.0]))
        array([0., 6., 0.])
    """
    if not isinstance(a, Tracer):
        return np.prod(a, axis=axis, dtype=dtype, out=out,
                       **_given(keepdims=keepdims, initial=initial, where=where))
    _check_kwargs("prod", {"dtype": dtype, "out": out,
                           **_given(initial=initial, where=where)})
    keepdims = _keep(keepdims)
    axes = normalize_axes(axis, a.ndim, "prod", zero_d=True)
    if not axes and not keepdims:
        return a
    out_shape = _reduced_shape(a.shape, axes, keepdims)
    flat, _ = _to_front(a, axes)
    if flat.shape[0] == 0:
        if type(backends.base_value(a)) is not np.ndarray:  # in a's library
            return backends.zeros(out_shape, a.dtype, like=a) + 1
        return np.ones(out_shape, a.dtype)  # the empty product: a constant
    return reshape(_product_tree(flat), out_shape)


# ----------------------------------------------------------------------------- cumulative


def _scan_axis(a: Any, axis: int | None, who: str) -> tuple[Any, int]:
    if axis is None or scalar_axis(axis, len(shape_of(a))):  # NumPy: 0-d as shape (1,)
        return ravel(a), 0
    return a, normalize_axis(axis, len(shape_of(a)), who)


def _along(axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,)


def _reverse(x: Any, axis: int) -> Any:
    return getitem(x, _along(axis, slice(None, None, -1)))


cumsum_p = new_primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis))
deflinear(cumsum_p, lambda g, x, axis: _reverse(cumsum_p.bind(_reverse(g, axis), axis=axis), axis))
defbatch(cumsum_p, batch_along(cumsum_p, "axis"))


@implements(np.cumsum)
def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.cumsum`` (its transpose is the reversed cumulative sum).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.cumsum(np.array([1.0, 2.0, 3.0]))
        array([1., 3., 6.])
    """
    if not isinstance(a, Tracer):
        return np.cumsum(a, axis=axis, dtype=dtype, out=out)
    _check_kwargs("cumsum", {"dtype": dtype, "out": out})
    a, axis = _scan_axis(a, axis, "cumsum")
    return cumsum_p.bind(a, axis=axis)


@implements(np.cumprod)
def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.cumprod``, exact when entries are zero (to every order).

    A prefix scan by doubling: after step ``k`` each entry holds the product of the ``2**k``
    entries ending at it; only multiplications, no division.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.cumprod(np.array([1.0, 2.0, 3.0]))
        array([1., 2., 6.])
    """
    if not isinstance(a, Tracer):
        return np.cumprod(a, axis=axis, dtype=dtype, out=out)
    _check_kwargs("cumprod", {"dtype": dtype, "out": out})
    y, axis = _scan_axis(a, axis, "cumprod")
    n = y.shape[axis]
    step = 1
    while step < n:
        head = getitem(y, _along(axis, slice(0, step)))
        tail = (getitem(y, _along(axis, slice(step, n)))
                * getitem(y, _along(axis, slice(0, n - step))))
        y = concatenate([head, tail], axis=axis)
        step *= 2
    return y


# ----------------------------------------------------------------------------- var, std


@implements(np.var)
def var(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: Any = _NOVALUE, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
        correction: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.var``: ``sum(|a - mean|**2) / (n - ddof)``, real for complex
    ``a``; with ``ddof >= n`` it divides by 0 as NumPy does (``inf`` or ``nan``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.var(np.array([1.0, 2.0, 3.0, 4.0]), ddof=1)
        np.float64(1.6666666666666667)
    """
    if not isinstance(a, Tracer):
        return np.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof,
                      **_given(keepdims=keepdims, where=where, mean=mean, correction=correction))
    _check_kwargs("var", {"dtype": dtype, "out": out, **_given(where=where, mean=mean)})
    if correction is not _NOVALUE:
        if ddof != 0:
            raise ValueError("var: ddof and correction can't be provided simultaneously")
        ddof = correction
    keepdims = _keep(keepdims)
    axes = normalize_axes(axis, a.ndim, "var")
    centred = a - _mean_keep(a, axes)
    total = sum(_abs2(centred), axis=axes, keepdims=keepdims)
    # NumPy divides by max(n - ddof, 0): inf or nan (with its warning) for ddof >= n
    # a NumPy scalar, not a 0-d array: CuPy refuses NumPy arrays among its operands
    return total / np.dtype(_real_dtype(a)).type(builtins.max(_count(a.shape, axes) - ddof, 0))


def _real_dtype(a: Any) -> np.dtype:
    """The real dtype of ``a``'s precision: ``a``'s own, float64 for complex128."""
    dtype = dtype_of(a)
    return np.empty(0, dtype).real.dtype if dtype.kind == "c" else dtype


def _abs2(x: Any) -> Any:
    """``|x|**2``, real, differentiable everywhere (``x * x`` for real ``x``)."""
    return real(x * conjugate(x)) if dtype_of(x).kind == "c" else x * x


def _root(v: Any) -> Any:
    """``sqrt(v)`` for ``v >= 0``, with every derivative 0 (not infinite) where ``v == 0``."""
    at_zero = equal(v, 0)
    return where(at_zero, 0.0, sqrt(where(at_zero, 1.0, v)))


def _mean_keep(a: Any, axes: tuple[int, ...]) -> Any:
    count = _count(a.shape, axes)
    return sum(a, axis=axes, keepdims=True) / count if count else sum(a, axis=axes,
                                                                     keepdims=True) * np.nan


@implements(np.std)
def std(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: Any = _NOVALUE, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
        correction: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.std``: ``sqrt(var)``, real for complex ``a``.

    Where the spread is 0 (all entries of a slice equal, or a size-1 axis) the derivative is
    0, as ``linalg.norm``'s at 0, and so are the higher ones.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.std(np.array([1.0, 3.0]))
        np.float64(1.0)
    """
    if not isinstance(a, Tracer):
        return np.std(a, axis=axis, dtype=dtype, out=out, ddof=ddof,
                      **_given(keepdims=keepdims, where=where, mean=mean, correction=correction))
    return _root(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                     correction=correction))


# ----------------------------------------------------------------------------- average


@implements(np.average)
def average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = _NOVALUE) -> Any:
    """Differentiable ``numpy.average``, in ``a`` and in ``weights``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.average(np.array([1.0, 2.0, 4.0]), weights=np.array([1.0, 1.0, 2.0]))
        np.float64(2.75)
    """
    if not (isinstance(a, Tracer) or isinstance(weights, Tracer)):
        return np.average(a, axis=axis, weights=weights, returned=returned,
                          **_given(keepdims=keepdims))
    keepdims = _keep(keepdims)
    ndim = len(shape_of(a))
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        size = int(np.prod(shape_of(avg), dtype=np.int64))
        scale = np.full(shape_of(avg), a.size / builtins.max(size, 1), dtype_of(avg))
        return (avg, scale) if returned else avg
    wshape = shape_of(weights)
    if wshape != shape_of(a):
        if axis is None:
            raise TypeError("average: axis must be specified when shapes of a and weights differ")
        order = normalize_axes(axis, ndim, "average", sort=False)
        if wshape != tuple(shape_of(a)[ax] for ax in order):
            raise ValueError(
                f"average: weights of shape {wshape} are not consistent with a of shape "
                f"{shape_of(a)} along axis {axis}: give weights shaped like a, or like a's "
                "shape along those axes"
            )
        weights = transpose(weights, tuple(np.argsort(order)))
        weights = reshape(weights, tuple(s if ax in order else 1
                                         for ax, s in enumerate(shape_of(a))))
    axes = normalize_axes(axis, ndim, "average")
    scale = sum(weights, axis=axes, keepdims=keepdims)
    known = _plain(scale)  # checked where the value is known (not while compiling)
    if isinstance(known, (np.ndarray, np.generic)) and np.any(known == 0.0):
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    a, weights = promote(a, weights)
    avg = sum(a * weights, axis=axes, keepdims=keepdims) / scale
    if not returned:
        return avg
    if shape_of(scale) != shape_of(avg):
        scale = broadcast_to(scale, shape_of(avg))
    return avg, scale


# ----------------------------------------------------------------------------- NaN-ignoring


@implements(np.nansum)
def nansum(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
           keepdims: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.nansum``: NaNs count as zero (and get no derivative).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nansum(np.array([1.0, np.nan, 2.0]))
        np.float64(3.0)
    """
    if not isinstance(a, Tracer):
        return np.nansum(a, axis=axis, dtype=dtype, out=out, **_given(keepdims=keepdims),
                         **kwargs)
    _check_kwargs("nansum", {"dtype": dtype, "out": out, **kwargs})
    return sum(where(isnan(a), 0.0, a), axis=axis, keepdims=_keep(keepdims))


@implements(np.nanmean)
def nanmean(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanmean``: the mean of the entries that are not NaN.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanmean(np.array([1.0, np.nan, 2.0]))
        np.float64(1.5)
    """
    if not isinstance(a, Tracer):
        return np.nanmean(a, axis=axis, dtype=dtype, out=out, **_given(keepdims=keepdims),
                          **kwargs)
    _check_kwargs("nanmean", {"dtype": dtype, "out": out, **kwargs})
    keepdims = _keep(keepdims)
    missing = isnan(a)
    count = _count_present(missing, a, axis, keepdims)
    return sum(where(missing, 0.0, a), axis=axis, keepdims=keepdims) / count


def _count_present(missing: Any, a: Any, axis: Axis, keepdims: bool) -> Any:
    """The number of entries that are not NaN, in ``a``'s real dtype (a constant)."""
    return sum(astype(logical_not(missing), _real_dtype(a)), axis=axis, keepdims=keepdims)


@implements(np.nanprod)
def nanprod(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanprod``: NaNs count as one (and get no derivative).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanprod(np.array([2.0, np.nan, 3.0]))
        np.float64(6.0)
    """
    if not isinstance(a, Tracer):
        return np.nanprod(a, axis=axis, dtype=dtype, out=out, **_given(keepdims=keepdims),
                          **kwargs)
    _check_kwargs("nanprod", {"dtype": dtype, "out": out, **kwargs})
    return prod(where(isnan(a), 1.0, a), axis=axis, keepdims=keepdims)


def _nan_extremum(func: Any, fill: float, a: Any, axis: Axis, keepdims: Any) -> Any:
    missing = isnan(a)
    result = func(where(missing, fill, a), axis=axis, keepdims=keepdims)
    return where(all_(missing, axis=axis, keepdims=_keep(keepdims)), np.nan, result)


@implements(np.nanmax)
def nanmax(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
           **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanmax``: the maximum of the entries that are not NaN.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanmax(np.array([1.0, np.nan, 2.0]))
        np.float64(2.0)
    """
    if not isinstance(a, Tracer):
        return np.nanmax(a, axis=axis, out=out, **_given(keepdims=keepdims), **kwargs)
    _check_kwargs("nanmax", {"out": out, **kwargs})
    return _nan_extremum(max, -np.inf, a, axis, keepdims)


@implements(np.nanmin)
def nanmin(a: Any, axis: Axis = None, out: Any = None, keepdims: Any = _NOVALUE,
           **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanmin``: the minimum of the entries that are not NaN.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanmin(np.array([1.0, np.nan, 2.0]))
        np.float64(1.0)
    """
    if not isinstance(a, Tracer):
        return np.nanmin(a, axis=axis, out=out, **_given(keepdims=keepdims), **kwargs)
    _check_kwargs("nanmin", {"out": out, **kwargs})
    return _nan_extremum(min, np.inf, a, axis, keepdims)


@implements(np.nancumsum)
def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.nancumsum``: NaNs count as zero (and get no derivative).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nancumsum(np.array([1.0, np.nan, 2.0]))
        array([1., 1., 3.])
    """
    if not isinstance(a, Tracer):
        return np.nancumsum(a, axis=axis, dtype=dtype, out=out)
    _check_kwargs("nancumsum", {"dtype": dtype, "out": out})
    return cumsum(where(isnan(a), 0.0, a), axis=axis)


@implements(np.nancumprod)
def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.nancumprod``: NaNs count as one (and get no derivative).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nancumprod(np.array([2.0, np.nan, 3.0]))
        array([2., 2., 6.])
    """
    if not isinstance(a, Tracer):
        return np.nancumprod(a, axis=axis, dtype=dtype, out=out)
    _check_kwargs("nancumprod", {"dtype": dtype, "out": out})
    return cumprod(where(isnan(a), 1.0, a), axis=axis)


@implements(np.nanvar)
def nanvar(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanvar``: the variance of the entries that are not NaN.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanvar(np.array([1.0, np.nan, 3.0]))
        np.float64(1.0)
    """
    if not isinstance(a, Tracer):
        return np.nanvar(a, axis=axis, dtype=dtype, out=out, ddof=ddof,
                         **_given(keepdims=keepdims), **kwargs)
    _check_kwargs("nanvar", {"dtype": dtype, "out": out, **kwargs})
    missing = isnan(a)
    count = _count_present(missing, a, axis, True)
    filled = where(missing, 0.0, a)
    centred = where(missing, 0.0, a - sum(filled, axis=axis, keepdims=True) / count)
    total = sum(_abs2(centred), axis=axis, keepdims=_keep(keepdims))
    dof = _count_present(missing, a, axis, _keep(keepdims)) - ddof
    # NumPy's nanvar is NaN where ddof >= the count (var divides by 0 there instead)
    return total / where(greater(dof, 0), dof, np.nan)


@implements(np.nanstd)
def nanstd(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanstd``: ``sqrt(nanvar)`` (derivative 0 where the spread is
    0, as :func:`std`).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanstd(np.array([1.0, np.nan, 3.0]))
        np.float64(1.0)
    """
    if not isinstance(a, Tracer):
        return np.nanstd(a, axis=axis, dtype=dtype, out=out, ddof=ddof,
                         **_given(keepdims=keepdims), **kwargs)
    return _root(nanvar(a, axis, dtype, out, ddof, keepdims, **kwargs))


# ----------------------------------------------------------------------------- order statistics


def _sorted_slices(a: Any, axis: Axis, who: str) -> tuple[Any, tuple[int, ...]]:
    """``a`` with the reduced axes moved last and merged, sorted along that last axis."""

    axes = normalize_axes(axis, a.ndim, who)
    rest = tuple(i for i in range(a.ndim) if i not in axes)
    moved = transpose(a, rest + axes)
    n = _count(a.shape, axes)
    merged = reshape(moved, tuple(a.shape[i] for i in rest) + (n,))
    if n == 0:
        raise ValueError(f"{who}: cannot reduce an empty slice on a traced value")
    return sort(merged, axis=-1), axes


def _interpolate(x: Any, q: np.ndarray, a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """NumPy's 'linear' quantiles of the sorted slices ``x`` (last axis), q's axes first."""
    n = x.shape[-1]
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    t = (pos - lo).astype(dtype_of(a))
    below, above = getitem(x, (Ellipsis, lo)), getitem(x, (Ellipsis, hi))
    step = above - below
    # as NumPy's _lerp: from the nearer end, so that t = 0 and t = 1 are exact
    upper = t >= 0.5
    if type(backends.base_value(x)) is not np.ndarray:  # constants in x's library
        t, upper = backends.constant(t, x), backends.constant(upper, x)
    result = where(upper, above - step * (1.0 - t), below + step * t)
    rest_nd = result.ndim - q.ndim
    if q.ndim:  # the quantile axes first, as NumPy puts them
        result = transpose(result, tuple(range(rest_nd, result.ndim)) + tuple(range(rest_nd)))
    out_shape = q.shape + _reduced_shape(shape_of(a), axes, keepdims)
    return reshape(result, out_shape)


def _nan_slices(result: Any, a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """NaN where a slice holds a NaN, as NumPy's median and quantile give."""

    return where(any_(isnan(a), axis=axes, keepdims=keepdims), np.nan, result)


def _as_quantile_dtype(a: Any, q: Any, who: str) -> Any:
    """``a`` in NumPy's result dtype for the quantiles ``q``: a Python number ``q`` keeps
    ``a``'s dtype (float32 stays float32), an array of quantiles (float64) widens it.
    Complex ``a`` raises ``TypeError``, as in NumPy (complex values have no order)."""
    if dtype_of(a).kind == "c":
        raise TypeError(
            f"pullback.numpy.{who}: argument 'a' is complex (dtype {dtype_of(a)}); as in "
            "NumPy, a must be an array of real numbers"
        )
    weak = type(q) in (int, float)
    dtype = np.result_type(dtype_of(a), q if weak else np.asarray(q).dtype)
    return a if dtype == dtype_of(a) or dtype.kind not in "fc" else astype(a, dtype)


@implements(np.quantile)
def quantile(a: Any, q: Any, axis: Axis = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, **kwargs: Any) -> Any:
    """Differentiable ``numpy.quantile`` (``method='linear'``), in ``a``; ``q`` is a constant.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> x = np.array([4.0, 1.0, 3.0, 2.0])
        >>> pnp.quantile(x, 0.5), pb.grad(lambda v: pnp.quantile(v, 0.5))(x)
        (np.float64(2.5), array([0. , 0. , 0.5, 0.5]))
    """
    if not isinstance(a, Tracer):
        return np.quantile(a, q, axis=axis, out=out, overwrite_input=overwrite_input,
                           method=method, keepdims=keepdims, **kwargs)
    _check_kwargs("quantile", {"out": out, **kwargs})
    if isinstance(q, Tracer):
        raise NotImplementedError(
            "pullback.numpy.quantile: argument 1 (q) is traced; the derivative in q is not "
            "supported: pass it as a constant (pb.stop_gradient(q))"
        )
    if method != "linear":
        raise NotImplementedError(
            f"pullback.numpy.quantile: method={method!r} is not supported on traced values; "
            "use method='linear' (the default)"
        )
    a = _as_quantile_dtype(a, q, "quantile")
    q = np.asarray(q, dtype=np.float64)
    if np.any((q < 0) | (q > 1)):
        raise ValueError("pullback.numpy.quantile: quantiles must be in the range [0, 1]")
    x, axes = _sorted_slices(a, axis, "quantile")
    result = _interpolate(x, q, a, axes, bool(keepdims))
    return _nan_slices(result, a, axes, bool(keepdims))


@implements(np.percentile)
def percentile(a: Any, q: Any, axis: Axis = None, out: Any = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
               **kwargs: Any) -> Any:
    """Differentiable ``numpy.percentile``: :func:`quantile` of ``q / 100``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.percentile(np.array([1.0, 2.0, 3.0, 4.0]), [25, 100])
        array([1.75, 4.  ])
    """
    if not isinstance(a, Tracer):
        return np.percentile(a, q, axis=axis, out=out, overwrite_input=overwrite_input,
                             method=method, keepdims=keepdims, **kwargs)
    if isinstance(q, Tracer):
        raise NotImplementedError(
            "pullback.numpy.percentile: argument 1 (q) is traced; the derivative in q is not "
            "supported: pass it as a constant (pb.stop_gradient(q))"
        )
    a = _as_quantile_dtype(a, q, "percentile")
    # a Python number stays one (NumPy's result dtype is then a's)
    q = q / 100.0 if type(q) in (int, float) else np.true_divide(np.asarray(q, np.float64), 100.0)
    if np.any((q < 0) | (q > 1)):
        raise ValueError("pullback.numpy.percentile: percentiles must be in the range [0, 100]")
    return quantile(a, q, axis=axis, out=out, method=method, keepdims=keepdims, **kwargs)


@implements(np.median)
def median(a: Any, axis: Axis = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """Differentiable ``numpy.median``: the middle entry, or the mean of the middle two.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> pb.grad(pnp.median)(np.array([5.0, 1.0, 3.0]))
        array([0., 0., 1.])
    """
    if not isinstance(a, Tracer):
        return np.median(a, axis=axis, out=out, overwrite_input=overwrite_input,
                         keepdims=keepdims)
    _check_kwargs("median", {"out": out})
    axes = normalize_axes(axis, a.ndim, "median")
    if _count(a.shape, axes) == 0:  # empty slices: NumPy's median is NaN there (a constant)
        return np.full(_reduced_shape(a.shape, axes, bool(keepdims)), np.nan, a.dtype)
    x, axes = _sorted_slices(a, axis, "median")
    n = x.shape[-1]
    middle = getitem(x, (Ellipsis, slice((n - 1) // 2, n // 2 + 1)))
    result = mean(middle, axis=-1)  # one entry, or the mean of two, as NumPy computes it
    result = reshape(result, _reduced_shape(a.shape, axes, bool(keepdims)))
    return _nan_slices(result, a, axes, bool(keepdims))


# ----------------------------------------------------------------------------- logsumexp


def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """``log(sum(b * exp(a), axis))``, numerically stable; differentiable in ``a`` and ``b``.

    SciPy's ``scipy.special.logsumexp`` (also ``pullback.scipy.special.logsumexp``). The
    largest entry of each slice is factored out and, without ``b``, the rest is summed with
    ``log1p``, so neither large inputs (1e3) nor sums close to 1 lose accuracy. With
    ``return_sign=True`` returns ``(log|s|, sign(s))``.

    Entries at ``-inf`` get derivative exactly 0 (at every order) when their slice has a
    finite entry. A slice of ``-inf`` only has value ``-inf`` and NaN derivatives, as in JAX
    (moving any entry off ``-inf`` changes the value without bound); so do slices with
    ``+inf`` or NaN entries. Complex ``a`` gives the principal logarithm, as SciPy's.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.logsumexp(np.array([1000.0, 1000.0]))
        np.float64(1000.6931471805599)
    """

    if b is not None:
        shape = np.broadcast_shapes(shape_of(a), shape_of(b))
        if isinstance(a, Tracer) or isinstance(b, Tracer):
            a, b = promote(a, b)
        a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    elif not isinstance(a, Tracer):
        a = as_array(a)
        if a.dtype.kind not in "fc":
            a = a.astype(np.float64)
    shape = shape_of(a)
    if shape == ():  # SciPy's logsumexp takes a 0-d array as shape (1,) (atleast_1d)
        shape = (1,)
        a = reshape(a, shape)
        b = None if b is None else reshape(b, shape)
    axes = normalize_axes(axis, len(shape), "logsumexp")
    out_shape = _reduced_shape(shape, axes, keepdims)
    if _count(shape, axes) == 0:  # the empty sum: log(0)
        out = np.full(out_shape, -np.inf, dtype_of(a))
        return (out, np.zeros_like(out)) if return_sign else _scalar(out)
    # the largest entry (a constant) where it is finite, 0 elsewhere
    candidates = stop_gradient(a) if b is None else where(not_equal(b, 0), stop_gradient(a),
                                                           -np.inf)
    top = max(candidates, axis=axes, keepdims=True)
    finite = isfinite(top)
    top = where(finite, top, 0.0)
    if b is not None:
        total = sum(b * exp(a - top), axis=axes, keepdims=True)
        sign = None
        if return_sign:
            sign = sign_(total)
            total = total * sign
        out = top + log(total)
    else:
        # With k entries equal to the maximum (k = 1 but for ties), sum(exp(a - p)) = k + u,
        # where u = sum(expm1(a - p)) over those and sum(exp(a - p)) over the rest: for a
        # pivot p that equals the maximum in value, u is the small remainder, summed without
        # rounding 1 + u. p is the maximum plus a zero that carries the tied entries'
        # derivatives, so the expression is exact in value and in derivatives of any order.
        hit = astype(logical_and(equal(candidates, top), finite), dtype_of(a))
        k = sum(hit, axis=axes, keepdims=True)
        k = where(finite, k, 1.0)  # an infinite or NaN slice: log(sum(exp(a))) below
        at_top = equal(hit, 1.0)
        pivot = top + sum(where(at_top, a - top, 0.0), axis=axes, keepdims=True) / k
        shifted = a - pivot
        u = sum(where(at_top, expm1(shifted), exp(shifted)), axis=axes, keepdims=True)
        u = u - astype(logical_not(finite), dtype_of(a))  # k + u = sum(exp(a)) there
        out = pivot + log(k) + log1p(u / k)
        sign = None
    out = reshape(out, out_shape)
    if return_sign:
        sign = np.ones(out_shape, dtype_of(out)) if sign is None else reshape(sign, out_shape)
        return out, sign
    return _scalar(out)


def _scalar(out: Any) -> Any:
    """A NumPy scalar for a 0-d plain array, as NumPy's reductions return."""
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return out[()]
    return out


# ----------------------------------------------------------------------------- softmax
# Not NumPy functions (so not in __all__): the one implementation behind
# pullback.scipy.special.softmax/log_softmax and pullback.nn.softmax/log_softmax.


def log_softmax(x: Any, axis: Axis = None) -> Any:
    """``x - logsumexp(x, axis)``, computed stably (SciPy's ``log_softmax``; ``axis=None``:
    over the whole array).

    The (constant) maximum is subtracted first, so that ``x - logsumexp(x)`` does not cancel
    and logits of 1e3 neither overflow nor lose the differences between them.

    Example:
        >>> from pullback.numpy.reductions import log_softmax
        >>> log_softmax(np.array([1000.0, 1000.0]))
        array([-0.69314718, -0.69314718])
    """
    if not isinstance(x, Tracer):
        x = as_array(x)
        if x.dtype.kind not in "fc":
            x = x.astype(np.float64)
    if shape_of(x) == ():  # SciPy: axis None, (), 0 or -1 (not (0,)); computed as shape (1,)
        normalize_axes(axis, 0, "log_softmax", zero_d=True)
        return reshape(log_softmax(reshape(x, (1,)), 0 if scalar_axis(axis, 0) else axis), ())
    if 0 in shape_of(x):
        return x - logsumexp(x, axis=axis, keepdims=True)
    top = max(stop_gradient(x), axis=axis, keepdims=True)
    shifted = x - where(isfinite(top), top, 0.0)
    return shifted - logsumexp(shifted, axis=axis, keepdims=True)


def softmax(x: Any, axis: Axis = None) -> Any:
    """``exp(x) / sum(exp(x), axis)``, computed stably as ``exp(log_softmax(x, axis))``.

    Example:
        >>> from pullback.numpy.reductions import softmax
        >>> softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
    """
    return exp(log_softmax(x, axis))


# ----------------------------------------------------------------------------- methods

# fmt: off
method("max",     lambda s, axis=None, out=None, keepdims=False: max(s, axis, out, keepdims))
method("min",     lambda s, axis=None, out=None, keepdims=False: min(s, axis, out, keepdims))
method("prod",    lambda s, axis=None, dtype=None, out=None, keepdims=False:
                  prod(s, axis, dtype, out, keepdims))
method("var",     lambda s, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
                  var(s, axis, dtype, out, ddof, keepdims))
method("std",     lambda s, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
                  std(s, axis, dtype, out, ddof, keepdims))
method("cumsum",  lambda s, axis=None, dtype=None, out=None: cumsum(s, axis, dtype, out))
method("cumprod", lambda s, axis=None, dtype=None, out=None: cumprod(s, axis, dtype, out))
# fmt: on
