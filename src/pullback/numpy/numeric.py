"""Sequences, polynomials, signals and statistics: NumPy's numerical routines, differentiable.

Each function here is a composite of differentiable operations (no new primitive), written
to follow NumPy's own arithmetic step by step, so that values agree with NumPy to the last
bits and derivatives of any order, in both modes, come from the operations' rules:
``linspace``/``logspace``/``geomspace`` in their endpoints, ``polyval`` and the polynomial
arithmetic, ``trapezoid``, ``gradient``, ``convolve``/``correlate``, ``cov``/``corrcoef``,
``vander``, ``meshgrid``, ``angle``, ``unwrap``...

Constructors (``eye``, ``identity``, ``tri``, ``arange``) are NumPy's, and inside a
transformation they give buffers that accept traced writes, like ``pnp.zeros``.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda t: pnp.trapezoid(pnp.linspace(0.0, t, 5) ** 2, dx=t / 4))(1.0)
    np.float64(1.03125)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy import _backends, creation
from pullback.numpy._arraylike import has_tracer, to_array
from pullback.numpy._constant import concrete, constant_call, constant_function
from pullback.numpy._mutation import lift_buffer
from pullback.numpy._nondiff import floor
from pullback.numpy._registry import binary, implements
from pullback.numpy._util import normalize_axes, normalize_axis, result_dtype
from pullback.numpy.elementwise import (
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    clip,
    conjugate,
    imag,
    log10,
    power,
    real,
    sign,
    sqrt,
)
from pullback.numpy.elementwise import where as where
from pullback.numpy.indexing import at
from pullback.numpy.linalg import eigvals, lstsq, vecdot_core
from pullback.numpy.products import diag, dot, matmul
from pullback.numpy.reductions import average, mean, sum
from pullback.numpy.reductions import max as _max
from pullback.numpy.reductions import min as _min
from pullback.numpy.shape import (
    astype,
    atleast_1d,
    atleast_2d,
    broadcast_arrays,
    broadcast_to,
    concatenate,
    diff,
    expand_dims,
    getitem,
    moveaxis,
    ravel,
    reshape,
    stack,
    take,
)
from pullback.numpy.shape import sort as _sort
from pullback.numpy.shape import take_along_axis as _take_along_axis
from pullback.numpy.shape import transpose as _transpose

__all__ = [
    "acos",
    "acosh",
    "angle",
    "arange",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bincount",
    "convolve",
    "corrcoef",
    "correlate",
    "cov",
    "ediff1d",
    "eye",
    "geomspace",
    "gradient",
    "histogram",
    "histogram_bin_edges",
    "identity",
    "linspace",
    "logspace",
    "matvec",
    "meshgrid",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "nextafter",
    "poly",
    "polyadd",
    "polyder",
    "polydiv",
    "polyfit",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "pow",
    "real_if_close",
    "roots",
    "tri",
    "trapezoid",
    "unwrap",
    "vander",
    "vecdot",
    "vecmat",
]

# NumPy 2's names for the inverse trigonometric functions and power (the same ufuncs)
acos, acosh, asin, asinh = arccos, arccosh, arcsin, arcsinh
atan, atan2, atanh, pow = arctan, arctan2, arctanh, power  # noqa: A001


def _traced(*xs: Any) -> bool:
    return any(has_tracer(x) for x in xs)


def _array(x: Any) -> Any:
    x = to_array(x)
    return x if isinstance(x, Tracer) else np.asarray(x)


def _float(x: Any) -> Any:
    """``x`` in a floating (or complex) dtype, as NumPy's ``ensure_inexact``."""
    return x if dtype_of(x).kind in "fc" else astype(x, np.float64)


# ----------------------------------------------------------------------------- constructors


def _buffer_constructor(name: str, numpy_func: Callable[..., Any]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        if _traced(*args, *kwargs.values()):
            raise TypeError(
                f"pullback.numpy.{name}: a traced value cannot set the size or the values of "
                f"a new array here (it would need a derivative NumPy's {name} does not have); "
                "make the array from constants, then combine it with traced values "
                "(x * pnp.eye(n), pnp.linspace(a, b, n)...)"
            )
        return lift_buffer(numpy_func(*args, **kwargs))

    make.__name__ = make.__qualname__ = name
    make.__module__ = __name__
    make.__wrapped__ = numpy_func  # type: ignore[attr-defined]
    make.__pullback_kind__ = "constructor"  # type: ignore[attr-defined]
    shown = {"eye": ("2", "array([[1., 0.],\n           [0., 1.]])"),
             "identity": ("2", "array([[1., 0.],\n           [0., 1.]])"),
             "tri": ("2", "array([[1., 0.],\n           [1., 1.]])"),
             "arange": ("3.0", "array([0., 1., 2.])")}[name]
    make.__doc__ = (
        f"``numpy.{name}``; inside a transformation, a buffer that accepts traced writes.\n\n"
        "Example:\n"
        "    >>> import pullback.numpy as pnp\n"
        f"    >>> pnp.{name}({shown[0]})\n"
        f"    {shown[1]}\n"
    )
    return make


eye = _buffer_constructor("eye", np.eye)
identity = _buffer_constructor("identity", np.identity)
tri = _buffer_constructor("tri", np.tri)
arange = _buffer_constructor("arange", np.arange)

# ``np.zeros(n, like=x)`` of a traced x dispatches here: a buffer, as pnp.zeros(n) gives
for _numpy_func, _ours in ((np.zeros, creation.zeros), (np.ones, creation.ones),
                           (np.empty, creation.empty), (np.full, creation.full),
                           (np.eye, eye), (np.identity, identity), (np.tri, tri),
                           (np.arange, arange)):
    implements(_numpy_func)(_ours)


# ----------------------------------------------------------------------------- sequences


@implements(np.linspace)
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.linspace`` (in ``start`` and ``stop``); with constant
    endpoints, inside a transformation, a buffer that accepts traced writes.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.linspace(0.0, 1.0, 3)
        array([0. , 0.5, 1. ])
    """
    if not _traced(start, stop):
        return lift_buffer(np.linspace(start, stop, num, endpoint, retstep, dtype, axis,
                                       **kwargs)) if not retstep else \
            np.linspace(start, stop, num, endpoint, retstep, dtype, axis, **kwargs)
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    start, stop = _array(start), _array(stop)
    dt = result_dtype(start, stop, 1.0)
    start, stop = astype(start, dt), astype(stop, dt)
    div = (num - 1) if endpoint else num
    delta = stop - start
    nd = len(shape_of(delta))
    y = backends.constant(np.arange(0, num, dtype=dt).reshape((-1,) + (1,) * nd), delta)
    if div > 0:
        step = delta / div
        y = y * step
    else:
        step = np.nan
        y = y * delta
    y = y + start
    if endpoint and num > 1:
        y = concatenate([getitem(y, slice(None, -1)),
                         expand_dims(broadcast_to(stop, shape_of(y)[1:]), 0)], axis=0)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        if np.issubdtype(dtype, np.integer):
            y = floor(y)
        y = astype(y, dtype)
    return (y, step) if retstep else y


@implements(np.logspace)
def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Any:
    """Differentiable ``numpy.logspace`` (in ``start``, ``stop`` and ``base``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.logspace(0.0, 2.0, 3)
        array([  1.,  10., 100.])
    """
    if not _traced(start, stop, base):
        return np.logspace(start, stop, num, endpoint, base, dtype, axis)
    ndmax = max(np.ndim(start), np.ndim(stop), np.ndim(base))
    start, stop, base = _array(start), _array(stop), _array(base)
    start, stop, base = broadcast_arrays(start, stop, base)
    start = reshape(start, shape_of(start) + (1,) * (ndmax - len(shape_of(start)))) \
        if isinstance(start, Tracer) else start
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    base = expand_dims(base, axis=axis)
    if type(base) is np.ndarray:  # a constant base in y's library
        base = backends.constant(base, y)
    if dtype is None:
        return power(base, y)
    return astype(power(base, y), dtype)


@implements(np.geomspace)
def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Any:
    """Differentiable ``numpy.geomspace`` (in ``start`` and ``stop``, real values).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.geomspace(1.0, 100.0, 3)
        array([  1.,  10., 100.])
    """
    if not _traced(start, stop):
        return np.geomspace(start, stop, num, endpoint, dtype, axis)
    start, stop = _array(start) * 1.0, _array(stop) * 1.0
    if dtype_of(start).kind == "c" or dtype_of(stop).kind == "c":
        raise NotImplementedError("pullback.numpy.geomspace: complex endpoints are not "
                                  "supported on traced values")
    _checks_values("geomspace", "whether an endpoint is zero", start, stop)
    zero = constant_call(_has_zero, start, stop)
    if not isinstance(zero, Tracer) and zero:  # known here (not under jit or vmap)
        raise ValueError("Geometric sequence cannot include zero")
    start, stop = broadcast_arrays(start, stop)
    # NumPy's: result_type(start, stop, float(num), zeros((), dtype)), float64 for dtype=None
    dt = np.result_type(dtype_of(start), dtype_of(stop), float(num),
                        np.zeros((), dtype).dtype)
    out_sign = sign(start)
    start = start / out_sign
    stop = stop / out_sign
    result = logspace(log10(start), log10(stop), num=num, endpoint=endpoint, base=10.0,
                      dtype=dt)
    parts = [expand_dims(start, 0)] if num > 0 else []
    inner = getitem(result, slice(1, -1 if num > 1 and endpoint else None)) if num > 0 \
        else result
    parts.append(inner)
    if num > 1 and endpoint:
        parts.append(expand_dims(stop, 0))
    result = concatenate([astype(p, dt) for p in parts], axis=0) if num > 0 else result
    result = out_sign * result
    if axis != 0:
        result = moveaxis(result, 0, axis)
    return result if dtype is None else astype(result, dtype)


@implements(np.meshgrid)
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple:
    """Differentiable ``numpy.meshgrid``.

    Example:
        >>> import pullback.numpy as pnp
        >>> [g.shape for g in pnp.meshgrid(np.ones(2), np.ones(3))]
        [(3, 2), (3, 2)]
    """
    if not _traced(*xi):
        return np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    ndim = len(xi)
    s0 = (1,) * ndim
    output = []
    for i, x in enumerate(xi):
        x = _array(x)
        shape = list(s0)
        shape[i] = -1
        if indexing == "xy" and ndim > 1 and i < 2:
            shape[i], shape[1 - i] = 1, -1
        if isinstance(x, Tracer):
            shape[shape.index(-1)] = math.prod(shape_of(x))
            output.append(reshape(x, tuple(shape)))
        else:
            output.append(np.asanyarray(x).reshape(shape))
    if not sparse:
        output = list(broadcast_arrays(*output))
    return tuple(output)


@implements(np.vander)
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:
    """Differentiable ``numpy.vander``: the columns are powers of ``x``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.vander(np.array([2.0, 3.0]), 3)
        array([[4., 2., 1.],
               [9., 3., 1.]])
    """
    if not _traced(x):
        return np.vander(x, N, increasing)
    x = _array(x)
    if len(shape_of(x)) != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = shape_of(x)[0] if N is None else int(N)
    dtype = np.promote_types(dtype_of(x), int)  # NumPy's: float32 becomes float64
    if dtype_of(x) != dtype:
        x = astype(x, dtype)
    cols = []
    if n > 0:
        like = _other_library(x)
        cols.append(np.ones(shape_of(x), dtype) if like is None else
                    backends.zeros(shape_of(x), dtype, like=like) + 1)
    for _ in range(1, n):
        cols.append(x if len(cols) == 1 else cols[-1] * x)
    if not cols:
        return np.empty((shape_of(x)[0], 0), dtype)
    out = stack([broadcast_to(c, shape_of(x)) for c in cols], axis=1)
    return out if increasing else getitem(out, (slice(None), slice(None, None, -1)))


# ----------------------------------------------------------------------------- calculus


@implements(np.trapezoid)
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """Differentiable ``numpy.trapezoid`` (in ``y``, ``x`` and ``dx``): the trapezoidal rule.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.trapezoid(np.array([1.0, 2.0, 3.0]))
        np.float64(4.0)
    """
    if not _traced(y, x, dx):
        return np.trapezoid(y, x, dx, axis)
    y = _array(y)
    nd = len(shape_of(y))
    if x is None:
        d = dx
    else:
        x = _array(x)
        if len(shape_of(x)) == 1:
            d = diff(x)
            shape = [1] * nd
            shape[axis] = shape_of(d)[0]
            d = reshape(d, tuple(shape)) if isinstance(d, Tracer) else np.reshape(d, shape)
        else:
            d = diff(x, axis=axis)
    at = normalize_axis(axis, nd, "trapezoid")
    lo = getitem(y, (slice(None),) * at + (slice(1, None),))
    hi = getitem(y, (slice(None),) * at + (slice(None, -1),))
    # NumPy sums the product over ``axis`` as given: with an x of more dimensions than y,
    # a negative axis counts from the product's end
    return sum(d * (lo + hi) / 2.0, axis=axis)


def _spacing(dx: Any, n: int) -> tuple[Any, bool]:
    """One axis's spacing for :func:`gradient`: a scalar, or the differences of 1-d
    coordinates (``uniform`` when NumPy would reduce them to a scalar)."""
    if np.ndim(dx) == 0:
        return dx, True  # as given (a Python number stays weak, as in NumPy)
    d = _array(dx)
    if len(shape_of(d)) != 1:
        raise ValueError("distances must be either scalars or 1d")
    if shape_of(d)[0] != n:
        raise ValueError("when 1d, distances must match the length of the corresponding "
                         "dimension")
    if dtype_of(d).kind in "iub":
        d = astype(d, np.float64)
    diffx = diff(d)
    if not isinstance(diffx, Tracer) and (diffx == diffx[0]).all():
        return diffx[0], True
    return diffx, False  # traced coordinates: the general formula (its derivative is right)


@implements(np.gradient)
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """Differentiable ``numpy.gradient`` (in ``f`` and the spacings or coordinates).

    With traced coordinates the general (non-uniform) formula is used even when they are
    evenly spaced: the same values, and the derivative with respect to each coordinate.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.gradient(np.array([1.0, 4.0, 9.0]))
        array([3., 4., 5.])
    """
    if not _traced(f, *varargs):
        return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    f = _array(f)
    N = len(shape_of(f))
    axes = normalize_axes(axis, N, "gradient", sort=False)
    n = len(varargs)
    if n == 0:
        dx: list = [1.0] * len(axes)
    elif n == 1 and np.ndim(varargs[0]) == 0:
        dx = list(varargs) * len(axes)
    elif n == len(axes):
        dx = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    if dtype_of(f).kind not in "fc":
        f = astype(f, np.float64)
    outvals = []
    for ax, spacing in zip(axes, dx, strict=True):
        if shape_of(f)[ax] < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, at least "
                "(edge_order + 1) elements are required.")
        ax_dx, uniform = _spacing(spacing, shape_of(f)[ax])

        def part(s: Any, ax: int = ax) -> Any:
            return getitem(f, (slice(None),) * ax + (s,))

        def along(v: Any, ax: int = ax) -> Any:
            """Spacing values of one axis, shaped to broadcast along it."""
            shape = [1] * N
            shape[ax] = -1
            if isinstance(v, Tracer):
                shape[ax] = shape_of(v)[0]
                return reshape(v, tuple(shape))
            return np.reshape(v, shape)

        if uniform:
            interior = (part(slice(2, None)) - part(slice(None, -2))) / (2.0 * ax_dx)
        else:
            dx1, dx2 = getitem(ax_dx, slice(0, -1)), getitem(ax_dx, slice(1, None))
            a = along(-(dx2) / (dx1 * (dx1 + dx2)))
            b = along((dx2 - dx1) / (dx1 * dx2))
            c = along(dx1 / (dx2 * (dx1 + dx2)))
            interior = a * part(slice(None, -2)) + b * part(slice(1, -1)) + \
                c * part(slice(2, None))
        if edge_order == 1:
            dx_0 = ax_dx if uniform else getitem(ax_dx, 0)
            dx_n = ax_dx if uniform else getitem(ax_dx, -1)
            first = (part(slice(1, 2)) - part(slice(0, 1))) / dx_0
            last = (part(slice(-1, None)) - part(slice(-2, -1))) / dx_n
        else:
            if uniform:
                a, b, c = -1.5 / ax_dx, 2.0 / ax_dx, -0.5 / ax_dx
            else:
                dx1, dx2 = getitem(ax_dx, 0), getitem(ax_dx, 1)
                a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
                b = (dx1 + dx2) / (dx1 * dx2)
                c = -dx1 / (dx2 * (dx1 + dx2))
            first = a * part(slice(0, 1)) + b * part(slice(1, 2)) + c * part(slice(2, 3))
            if uniform:
                a, b, c = 0.5 / ax_dx, -2.0 / ax_dx, 1.5 / ax_dx
            else:
                dx1, dx2 = getitem(ax_dx, -2), getitem(ax_dx, -1)
                a = (dx2) / (dx1 * (dx1 + dx2))
                b = -(dx2 + dx1) / (dx1 * dx2)
                c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
            last = a * part(slice(-3, -2)) + b * part(slice(-2, -1)) + c * part(slice(-1, None))
        # NumPy writes every piece into an array of f's dtype
        pieces = [broadcast_to(astype(p, dtype_of(f)), shape_of(p)) for p in (first, interior,
                                                                              last)]
        outvals.append(concatenate(pieces, axis=ax))
    return outvals[0] if len(axes) == 1 else tuple(outvals)


@implements(np.ediff1d)
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """Differentiable ``numpy.ediff1d``: differences of the flattened array, with optional
    values before and after.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ediff1d(np.array([1.0, 4.0, 9.0]), to_begin=0.0)
        array([0., 3., 5.])
    """
    if not _traced(ary, to_end, to_begin):
        return np.ediff1d(ary, to_end, to_begin)
    ary = ravel(_array(ary))
    dtype = dtype_of(ary)
    parts = []
    for extra in (to_begin,):
        if extra is not None:
            parts.append(astype(ravel(_array(extra)), dtype))
    parts.append(diff(ary))
    if to_end is not None:
        parts.append(astype(ravel(_array(to_end)), dtype))
    return concatenate(parts) if len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------- signals


def _correlate(a: Any, v: Any, mode: str, who: str) -> Any:
    """``c[k] = sum_n a[n + k] * v[n]`` for NumPy's offsets ``k`` of ``mode`` (``v`` as given:
    the caller conjugates or reverses it)."""
    a, v = atleast_1d(_array(a)), atleast_1d(_array(v))
    if len(shape_of(a)) != 1 or len(shape_of(v)) != 1:
        raise ValueError(f"{who}: object too deep for desired array (1-d inputs only)")
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError(f"{who}: inputs cannot be empty")
    full = np.arange(-(m - 1), n)  # the offsets k of mode 'full'
    if mode == "full":
        ks = full
    elif mode == "same":  # a window of the full result, where NumPy centres it
        start = (m - 1) // 2 if n >= m else n // 2
        ks = full[start:start + max(n, m)]
    elif mode == "valid":
        start = m - 1 if n >= m else n - 1
        ks = full[start:start + abs(n - m) + 1]
    else:
        raise ValueError(f"{who}: mode must be one of 'valid', 'same', or 'full', got {mode!r}")
    # index[k, j] = k + j into a padded with m - 1 zeros on both sides
    dtype = result_dtype(a, v)
    pad = np.zeros(m - 1, dtype)
    padded = concatenate([pad, astype(a, dtype), pad]) if m > 1 else astype(a, dtype)
    index = (ks[:, None] + np.arange(m)[None, :]) + (m - 1)
    gathered, v = take(padded, index), astype(v, dtype)
    like = _other_library(gathered, v)
    if like is not None:  # a NumPy operand (poly's first factor) into the other's library
        gathered, v = (backends.constant(t, like) if type(t) is np.ndarray else t
                       for t in (gathered, v))
    return matmul(gathered, v)


@implements(np.correlate)
def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """Differentiable ``numpy.correlate`` (in both arguments): ``c[k] = sum_n a[n + k] *
    conj(v[n])``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), "full")
        array([1., 2., 3., 0.])
    """
    if not _traced(a, v):
        return np.correlate(a, v, mode)
    v = _array(v)
    if dtype_of(v).kind == "c":
        v = conjugate(v)
    return _correlate(a, v, mode, "correlate")


@implements(np.convolve)
def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """Differentiable ``numpy.convolve`` (in both arguments).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.convolve(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
        array([1., 3., 2.])
    """
    if not _traced(a, v):
        return np.convolve(a, v, mode)
    a, v = atleast_1d(_array(a)), atleast_1d(_array(v))
    if shape_of(v)[0] > shape_of(a)[0]:
        a, v = v, a
    if shape_of(a)[0] == 0:
        raise ValueError("a cannot be empty")
    if shape_of(v)[0] == 0:
        raise ValueError("v cannot be empty")
    return _correlate(a, getitem(v, slice(None, None, -1)), mode, "convolve")


@implements(np.angle)
def angle(z: Any, deg: bool = False) -> Any:
    """Differentiable ``numpy.angle``: the argument of complex values (for real values a
    constant, 0 or pi).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.angle(np.array([1j, -1.0]))
        array([1.57079633, 3.14159265])
    """
    if not _traced(z):
        return np.angle(z, deg)
    z = _array(z)
    if dtype_of(z).kind == "c":
        zimag, zreal = imag(z), real(z)
    else:
        zimag, zreal = np.zeros(shape_of(z), dtype_of(_float(z))), _float(z)
    a = arctan2(zimag, zreal)
    return a * (180.0 / np.pi) if deg else a


def _unwrap_correction(p: np.ndarray, discont: Any, axis: int, period: float) -> np.ndarray:
    """The cumulative corrections ``numpy.unwrap`` adds to ``p[1:]`` along ``axis``: NumPy's
    own arithmetic, piecewise constant in ``p``."""
    if type(p) is not np.ndarray and backends.library(p) != "numpy":
        return _unwrap_correction_in_library(p, discont, axis, period)
    p = np.asarray(p)
    nd = p.ndim
    dd = np.diff(p, axis=axis)
    if discont is None:
        discont = period / 2
    slice1 = [slice(None)] * nd
    slice1[axis] = slice(1, None)
    dtype = np.result_type(dd, period)
    if np.issubdtype(dtype, np.integer):
        interval_high, rem = divmod(period, 2)
        boundary_ambiguous = rem == 0
    else:
        interval_high = period / 2
        boundary_ambiguous = True
    interval_low = -interval_high
    ddmod = np.mod(dd - interval_low, period) + interval_low
    if boundary_ambiguous:
        np.copyto(ddmod, interval_high, where=(ddmod == interval_low) & (dd > 0))
    ph_correct = ddmod - dd
    np.copyto(ph_correct, 0, where=abs(dd) < discont)
    return ph_correct.cumsum(axis)


def _unwrap_correction_in_library(p: Any, discont: Any, axis: int, period: float) -> Any:
    """:func:`_unwrap_correction` for another library's array (Dask lazily): the same
    arithmetic with ``where`` for NumPy's in-place ``copyto``."""
    dd = np.diff(p, axis=axis)
    if discont is None:
        discont = period / 2
    if np.issubdtype(np.result_type(dd.dtype, period), np.integer):
        interval_high, rem = divmod(period, 2)
        boundary_ambiguous = rem == 0
    else:
        interval_high, boundary_ambiguous = period / 2, True
    interval_low = -interval_high
    ddmod = np.mod(dd - interval_low, period) + interval_low
    if boundary_ambiguous:
        ddmod = np.where((ddmod == interval_low) & (dd > 0), interval_high, ddmod)
    ph_correct = np.where(abs(dd) < discont, 0, ddmod - dd)
    return ph_correct.cumsum(axis)


@implements(np.unwrap)
def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: float = 2 * np.pi) -> Any:
    """Differentiable ``numpy.unwrap``: the corrections (multiples of ``period``) are
    piecewise constant, so the derivative is the identity.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.unwrap(np.array([0.0, 4.0, 8.0]))
        array([ 0.        , -2.28318531, -4.56637061])
    """
    if not _traced(p):
        return np.unwrap(p, discont, axis, period=period)
    p = _float(_array(p))
    axis = normalize_axis(axis, len(shape_of(p)), "unwrap")
    if shape_of(p)[axis] < 2:
        return p
    corr = constant_call(_unwrap_correction, p, discont, axis, period)
    head = getitem(p, (slice(None),) * axis + (slice(0, 1),))
    tail = getitem(p, (slice(None),) * axis + (slice(1, None),)) + corr
    return concatenate([astype(head, dtype_of(tail)), tail], axis=axis)


def _close_to_real(a: np.ndarray, tol: float) -> bool:
    if type(a) is not np.ndarray and backends.library(a) == "numpy":
        a = np.asarray(a)  # an eager library's array is read where it lies
    if tol > 1:
        tol = np.finfo(a.dtype.type).eps * tol
    return np.zeros((), np.bool_) + bool(np.all(np.absolute(a.imag) < tol))


@implements(np.real_if_close)
def real_if_close(a: Any, tol: float = 100) -> Any:
    """Differentiable ``numpy.real_if_close``: the real part when every imaginary part is
    within ``tol`` machine epsilons of zero.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.real_if_close(np.array([1.0 + 1e-20j]))
        array([1.])
    """
    if not _traced(a):
        return np.real_if_close(a, tol)
    a = _array(a)
    if dtype_of(a).kind != "c":
        return a
    _checks_values("real_if_close", "the result's dtype", a)
    close = concrete(constant_call(_close_to_real, a, tol), "pullback.numpy.real_if_close",
                     "the result's dtype")
    return real(a) if close else a


# ----------------------------------------------------------------------------- polynomials


def _other_library(*xs: Any) -> Any:
    """The first of ``xs`` (arrays or traced values) of another library than NumPy, or None."""
    for x in xs:
        if type(x) is not np.ndarray and backends.library(backends.base_value(x)) != "numpy":
            return x
    return None


def _checks_values(who: str, what: str, *xs: Any) -> None:
    """Refuse ``who``'s check of the values (``what``) when an operand is a Dask array:
    pullback never computes one behind the user's back (the capability table's entry)."""
    for x in xs:
        if type(x) is not np.ndarray and backends.is_dask(backends.base_value(x)):
            raise backends.refuse(f"pullback.numpy.{who}", "dask", "checks of the values",
                                  what)


def _poly_coefficients(p: Any) -> Any:
    p = _array(p)
    if len(shape_of(p)) == 0:
        p = reshape(p, (1,)) if isinstance(p, Tracer) else p.reshape(1)
    return p


@implements(np.polyval)
def polyval(p: Any, x: Any) -> Any:
    """Differentiable ``numpy.polyval`` (in the coefficients and ``x``): Horner's scheme.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polyval([1.0, 0.0, -1.0], np.array([2.0, 3.0]))
        array([3., 8.])
    """
    if not _traced(p, x):
        return np.polyval(p, x)
    p, x = _array(p), _array(x)
    y = backends.zeros(shape_of(x), dtype_of(x), like=_other_library(p, x))
    for i in range(shape_of(p)[0] if shape_of(p) else 1):
        pv = getitem(p, i) if shape_of(p) else p
        y = y * x + pv
    return y


def _pad_front(a: Any, n: int) -> Any:
    return concatenate([np.zeros(n, dtype_of(a)), a]) if n > 0 else a


@implements(np.polyadd)
def polyadd(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polyadd``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polyadd([1.0, 2.0], [1.0, 0.0, 0.0])
        array([1., 1., 2.])
    """
    if not _traced(a1, a2):
        return np.polyadd(a1, a2)
    a1, a2 = atleast_1d(_array(a1)), atleast_1d(_array(a2))
    diff_ = shape_of(a2)[0] - shape_of(a1)[0]
    if diff_ == 0:
        return a1 + a2
    if diff_ > 0:
        return _pad_front(a1, diff_) + a2
    return a1 + _pad_front(a2, -diff_)


@implements(np.polysub)
def polysub(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polysub``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polysub([1.0, 2.0], [1.0, 0.0, 0.0])
        array([-1.,  1.,  2.])
    """
    if not _traced(a1, a2):
        return np.polysub(a1, a2)
    a1, a2 = atleast_1d(_array(a1)), atleast_1d(_array(a2))
    diff_ = shape_of(a2)[0] - shape_of(a1)[0]
    if diff_ == 0:
        return a1 - a2
    if diff_ > 0:
        return _pad_front(a1, diff_) - a2
    return a1 - _pad_front(a2, -diff_)


@implements(np.polymul)
def polymul(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polymul``: the coefficients' convolution.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polymul([1.0, 1.0], [1.0, -1.0])
        array([ 1.,  0., -1.])
    """
    if not _traced(a1, a2):
        return np.polymul(a1, a2)
    a1, a2 = atleast_1d(_array(a1)), atleast_1d(_array(a2))
    # NumPy reads an empty coefficient array as the zero polynomial [0]
    a1, a2 = (np.zeros(1, dtype_of(a)) if shape_of(a)[0] == 0 else a for a in (a1, a2))
    return convolve(a1, a2)


@implements(np.polyder)
def polyder(p: Any, m: int = 1) -> Any:
    """Differentiable ``numpy.polyder``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polyder([1.0, 1.0, 1.0])
        array([2., 1.])
    """
    if not _traced(p):
        return np.polyder(p, m)
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    val = atleast_1d(_array(p))
    n = shape_of(val)[0] - 1
    if m == 0:
        return val
    y = getitem(val, slice(None, -1)) * backends.constant(np.arange(n, 0, -1), val)
    return polyder(y, m - 1) if m > 1 else y


@implements(np.polyint)
def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """Differentiable ``numpy.polyint`` (in the coefficients and the constants ``k``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polyint([3.0, 0.0])
        array([1.5, 0. , 0. ])
    """
    if not _traced(p, k):
        return np.polyint(p, m, k)
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    if k is None:
        k = np.zeros(m, float)
    k = atleast_1d(_array(k))
    if shape_of(k)[0] == 1 and m > 1:
        # NumPy's k[0] * ones(m): k[0] of any shape that broadcasts with (m,) (k of shape
        # (1, 1) or (1, m) too), in float64 at least
        k = k[0] * backends.constant(np.ones(m, float), k)
    if shape_of(k)[0] < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = atleast_1d(_array(p))
    if m == 0:
        return p
    y = concatenate([p / backends.constant(np.arange(shape_of(p)[0], 0, -1), p),
                     getitem(k, slice(0, 1))])
    return polyint(y, m - 1, k=getitem(k, slice(1, None))) if m > 1 else y


def _nonzero_leading(r: np.ndarray) -> int:
    """How many leading coefficients ``numpy.polydiv`` drops from the remainder ``r``."""
    if type(r) is not np.ndarray and backends.library(r) == "numpy":
        r = np.asarray(r)  # an eager library's array is read where it lies
    drop = 0
    while bool(np.allclose(r[drop], 0, rtol=1e-14)) and (r.shape[-1] - drop > 1):
        drop += 1
    return np.intp(drop)


@implements(np.polydiv)
def polydiv(u: Any, v: Any) -> tuple:
    """Differentiable ``numpy.polydiv``: quotient and remainder of the long division (the
    remainder's leading zeros are dropped, as NumPy decides from the values).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polydiv([1.0, 0.0, -1.0], [1.0, 1.0])
        (array([ 1., -1.]), array([0.]))
    """
    if not _traced(u, v):
        return np.polydiv(u, v)
    u, v = atleast_1d(_array(u)) + 0.0, atleast_1d(_array(v)) + 0.0
    w = u + getitem(v, 0)
    m, n = shape_of(u)[0] - 1, shape_of(v)[0] - 1
    scale = 1.0 / getitem(v, 0)
    r = astype(u, dtype_of(w))
    qs = []
    for k in range(0, m - n + 1):
        d = scale * getitem(r, k)
        qs.append(d)
        r = at(r)[k:k + n + 1].add(-(d * v))
    q = stack(qs) if qs else np.zeros(max(m - n + 1, 1), dtype_of(w))
    if not qs:
        q = np.zeros(1, dtype_of(w))
    _checks_values("polydiv", "how many leading zeros the remainder drops", r)
    drop = int(concrete(constant_call(_nonzero_leading, r), "pullback.numpy.polydiv",
                        "the length of the remainder"))
    return q / 1, getitem(r, slice(drop, None))


@implements(np.polyfit)
def polyfit(x: Any, y: Any, deg: int, rcond: Any = None, full: bool = False, w: Any = None,
            cov: Any = False) -> Any:
    """Differentiable ``numpy.polyfit`` (in ``x``, ``y`` and ``w``): the least-squares
    coefficients (``full=False``, ``cov=False``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.polyfit(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]), 1).round(6)
        array([2., 1.])
    """
    if not _traced(x, y, w):
        return np.polyfit(x, y, deg, rcond, full, w, cov)
    if full or cov:
        raise NotImplementedError(
            "pullback.numpy.polyfit: full=True and cov= are not supported on traced values; "
            "the coefficients (full=False) are differentiable")
    order = int(deg) + 1
    x, y = _float(_array(x)), _float(_array(y))
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if len(shape_of(x)) != 1:
        raise TypeError("expected 1D vector for x")
    if len(shape_of(y)) < 1 or len(shape_of(y)) > 2:
        raise TypeError("expected 1D or 2D array for y")
    if shape_of(x)[0] != shape_of(y)[0]:
        raise TypeError("expected x and y to have same length")
    if rcond is None:
        rcond = shape_of(x)[0] * np.finfo(dtype_of(x)).eps
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        w = _float(_array(w))
        lhs = lhs * reshape(w, (-1, 1)) if isinstance(w, Tracer) else lhs * w[:, None]
        rhs = rhs * w if len(shape_of(rhs)) == 1 else rhs * reshape(w, (-1, 1))
    scale = sqrt(sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    c = lstsq(lhs, rhs, rcond)[0]
    return (c.T / scale).T


@implements(np.poly)
def poly(seq_of_zeros: Any) -> Any:
    """Differentiable ``numpy.poly``: the coefficients of the polynomial with the given roots
    (or of a square matrix's characteristic polynomial).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.poly([1.0, 2.0])
        array([ 1., -3.,  2.])
    """
    if not _traced(seq_of_zeros):
        return np.poly(seq_of_zeros)
    z = atleast_1d(_array(seq_of_zeros))
    sh = shape_of(z)
    if len(sh) == 2 and sh[0] == sh[1] and sh[0] != 0:
        z = eigvals(z)
    elif len(sh) != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if shape_of(z)[0] == 0:
        return np.array(1.0)
    dt = dtype_of(z)
    a = np.ones((1,), dt)
    for k in range(shape_of(z)[0]):
        a = convolve(a, concatenate([np.ones(1, dt), -reshape(getitem(z, k), (1,))]),
                     mode="full")
    if dtype_of(a).kind == "c":
        pairs = concrete(constant_call(_conjugate_pairs, z), "pullback.numpy.poly",
                         "the result's dtype (real when the roots come in conjugate pairs)")
        if pairs:
            a = real(a)
    return a


def _roots_layout(p: np.ndarray) -> np.ndarray:
    """``[first, last, trailing]``: the nonzero coefficients ``p[first:last]`` and the number
    of zero roots (trailing zero coefficients), as ``numpy.roots`` strips them."""
    if type(p) is not np.ndarray and backends.library(p) == "numpy":
        p = np.asarray(p)  # an eager library's array is read where it lies
    nz = np.flatnonzero(p)
    if nz.size == 0:
        return np.array([0, 0, 0], np.intp)
    first, last = int(nz[0]), int(nz[-1])
    return np.array([first, last + 1, p.shape[0] - last - 1], np.intp)


@implements(np.roots)
def roots(p: Any) -> Any:
    """Differentiable ``numpy.roots``: the eigenvalues of the companion matrix (derivatives
    assume simple roots).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.roots([1.0, -3.0, 2.0])
        array([2., 1.])
    """
    if not _traced(p):
        return np.roots(p)
    p = atleast_1d(_array(p))
    if len(shape_of(p)) != 1:
        raise ValueError("Input must be a rank-1 array.")
    _checks_values("roots", "the number of roots (leading and trailing zeros)", p)
    layout = concrete(constant_call(_roots_layout, p), "pullback.numpy.roots",
                      "the number of roots")
    first, last, trailing = (int(v) for v in layout)
    p = getitem(p, slice(first, last))
    n = shape_of(p)[0]
    if n > 1:
        row = -getitem(p, slice(1, None)) / getitem(p, 0)
        sub = np.diag(np.ones(n - 2, dtype_of(_float(p))), -1)[1:] if n > 2 else \
            np.zeros((0, n - 1), dtype_of(_float(p)))
        A = concatenate([expand_dims(row, 0), sub], axis=0)
        r = eigvals(A)
    else:
        r = np.zeros(0, dtype_of(_float(p)))
    if trailing:
        r = concatenate([r, np.zeros(trailing, dtype_of(r))])
    return r


def _conjugate_pairs(z: np.ndarray) -> np.ndarray:
    """Whether ``numpy.poly`` returns real coefficients: the roots equal their conjugates, as
    a sorted set."""
    roots = np.asarray(z, complex)
    return np.asarray(bool(np.all(np.sort(roots) == np.sort(roots.conjugate()))))


def _has_zero(start: Any, stop: Any) -> np.ndarray:
    if type(start) is np.ndarray and type(stop) is np.ndarray:
        return np.asarray(bool(np.any(start == 0) or np.any(stop == 0)))
    # another library's arrays: one boolean read back (an eager library's synchronisation)
    return np.asarray(bool(np.any(start == 0)) or bool(np.any(stop == 0)))


# ----------------------------------------------------------------------------- statistics


_COV_BY_NDIM = np.lib.NumpyVersion(np.__version__) >= "2.2.0"


@implements(np.cov)
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    """Differentiable ``numpy.cov`` (in the observations and the weights).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        array([[ 1., -1.],
               [-1.,  1.]])
    """
    if not _traced(m, y, fweights, aweights):
        return np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    m = _array(m)
    if len(shape_of(m)) > 2:
        raise ValueError("m has more than 2 dimensions")
    if dtype is None:
        dtype = result_dtype(m, np.float64) if y is None else \
            result_dtype(m, _array(y), np.float64)
    X = astype(atleast_2d(m), dtype)
    # NumPy 2.2 transposes every 2-d m for rowvar=False (one observation of several
    # variables too); earlier versions kept a single row as one variable
    if not rowvar and (len(shape_of(m)) != 1 if _COV_BY_NDIM else shape_of(X)[0] != 1):
        X = X.T
    if shape_of(X)[0] == 0:
        return np.array([]).reshape(0, 0)
    if y is not None:
        yy = astype(atleast_2d(_array(y)), dtype)
        if not rowvar and shape_of(yy)[0] != 1:
            yy = yy.T
        X = concatenate([X, yy], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        fw = _array(fweights)
        if isinstance(fw, np.ndarray) and not np.all(fw == np.around(fw)):
            raise TypeError("fweights must be integer")
        w = astype(fw, np.float64) if isinstance(fw, Tracer) else fw.astype(float)
    if aweights is not None:
        aw = _array(aweights)
        aw = astype(aw, np.float64) if isinstance(aw, Tracer) else aw.astype(float)
        if w is not None and type(w) is np.ndarray:  # fweights in aweights' library
            w = backends.constant(w, aw)
        w = aw if w is None else w * aw
    if w is None:
        avg = mean(X, axis=1)
        w_sum = shape_of(X)[1]
    else:
        avg, w_sum = average(X, axis=1, weights=w, returned=True)
        w_sum = getitem(w_sum, 0) if isinstance(w_sum, Tracer) else w_sum[0]
    if w is None:
        fact = shape_of(X)[1] - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * sum(w * aw) / w_sum
    X = X - expand_dims(avg, 1)
    X_T = X.T if w is None else (X * w).T
    c = dot(X, conjugate(X_T) if dtype_of(X_T).kind == "c" else X_T)
    c = c * (1.0 / fact)
    return reshape(c, np.squeeze(np.empty(shape_of(c), np.bool_)).shape)


@implements(np.corrcoef)
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Differentiable ``numpy.corrcoef``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.corrcoef(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]))[0, 1].round(4)
        np.float64(-0.982)
    """
    if not _traced(x, y):
        return np.corrcoef(x, y, rowvar, dtype=dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if len(shape_of(c)) == 0:
        return c / c
    d = diag(c)
    stddev = sqrt(real(d) if dtype_of(d).kind == "c" else d)
    c = c / expand_dims(stddev, 1)
    c = c / expand_dims(stddev, 0)
    if dtype_of(c).kind == "c":
        return clip(real(c), -1, 1) + 1j * clip(imag(c), -1, 1)
    return clip(c, -1, 1)


# ----------------------------------------------------------------------------- products


def _vecdot(x1: Any, x2: Any, axis: int) -> Any:
    return vecdot_core("vecdot", x1, x2, axis)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecdot``: ``sum(conj(x1) * x2)`` along ``axis``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.vecdot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    if not _traced(x1, x2):
        return np.vecdot(x1, x2, axis=axis, **kwargs)
    if kwargs:
        raise TypeError(f"pullback.numpy.vecdot: keyword argument(s) {sorted(kwargs)} are not "
                        "supported on traced values")
    return _vecdot(x1, x2, axis)


def matvec(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.matvec``: matrix-vector products over stacks.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.matvec(np.eye(2), np.array([1.0, 2.0]))
        array([1., 2.])
    """
    if not _traced(x1, x2):
        return np.matvec(x1, x2, **kwargs)
    x2 = _array(x2)
    return getitem(matmul(_array(x1), expand_dims(x2, -1)), (Ellipsis, 0))


def vecmat(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecmat``: ``conj(v) @ M`` over stacks.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.vecmat(np.array([1.0, 2.0]), np.eye(2))
        array([1., 2.])
    """
    if not _traced(x1, x2):
        return np.vecmat(x1, x2, **kwargs)
    x1 = _array(x1)
    if dtype_of(x1).kind == "c":
        x1 = conjugate(x1)
    return getitem(matmul(expand_dims(x1, -2), _array(x2)), (Ellipsis, 0, slice(None)))


for _name, _fn in (("vecdot", vecdot), ("matvec", matvec), ("vecmat", vecmat)):
    if hasattr(np, _name):
        implements(getattr(np, _name))(_fn)

#: ``numpy.nextafter``: the next float after ``x1`` towards ``x2``, ``x1`` plus a step that is
#: constant almost everywhere (derivative 1 in ``x1``, 0 in ``x2``)
nextafter = binary("nextafter", np.nextafter, lambda ans, x, y: 1.0, lambda ans, x, y: 0.0)


# ----------------------------------------------------------------------------- counting


def _bincount_length(x: np.ndarray, minlength: int) -> np.ndarray:
    x = np.asarray(x)
    return np.asarray(max(int(x.max()) + 1 if x.size else 0, int(minlength)), np.intp)


def _one_hot(index: np.ndarray, n: int, dtype: Any) -> np.ndarray:
    """``(len(index), n)``: 1 where ``index[i] == j`` (a row of zeros for ``-1``)."""
    if type(index) is not np.ndarray and backends.library(index) != "numpy":
        return (index[:, None] == backends.constant(np.arange(n), index)[None, :]).astype(dtype)
    index = np.asarray(index)
    return (index[:, None] == np.arange(n)[None, :]).astype(dtype)


@implements(np.bincount)
def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Any:
    """``numpy.bincount``: differentiable in ``weights`` (each bin sums its weights); the
    counts of indices alone are constants.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.bincount(np.array([0, 2, 2]), weights=np.array([1.0, 2.0, 3.0]))
        array([1., 0., 5.])
    """
    if not _traced(weights):
        return _bincount_constant(x, weights, minlength)
    weights = _float(ravel(_array(weights)))
    dtype = np.complex128 if dtype_of(weights).kind == "c" else np.float64
    if not isinstance(x, Tracer):
        x = np.asarray(x)
        if x.ndim != 1:
            raise ValueError("object too deep for desired array")
        if x.size and x.min() < 0:
            raise ValueError("'list' argument must have no negative elements")
        if x.shape != shape_of(weights):
            raise ValueError("The weights and list don't have the same length.")
        n = int(_bincount_length(x, minlength))
        return at(backends.zeros((n,), dtype, like=_other_library(weights)))[x].add(
            astype(weights, dtype))
    n = int(concrete(constant_call(_bincount_length, x, minlength), "pullback.numpy.bincount",
                     "the number of bins"))
    return matmul(astype(weights, dtype), constant_call(_one_hot, x, n, dtype))


_bincount_constant = constant_function("bincount", np.bincount)


def _edges_from(a: Any, bins: int, rng: Any) -> Any:
    """``numpy.histogram``'s equal-width edges: from ``range`` or the data's min and max (a
    degenerate range widened by 0.5 on each side), differentiable in the data."""
    if rng is not None:
        first, last = rng
        if first > last:
            raise ValueError("max must be larger than min in range parameter.")
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(f"supplied range of [{first}, {last}] is not finite")
        first, last = first * 1.0, last * 1.0
    else:
        flat = ravel(a)
        if shape_of(flat)[0] == 0:
            first, last = 0.0, 1.0
        else:
            _checks_values("histogram", "whether the data's range is finite", a)
            first, last = _min(flat), _max(flat)
            finite = constant_call(_all_finite, first, last)
            if not isinstance(finite, Tracer) and not finite:
                raise ValueError("autodetected range of [{}, {}] is not finite".format(
                    *np.asarray(constant_call(_pair, first, last))))
    if isinstance(first, Tracer) or isinstance(last, Tracer):
        same = constant_call(np.equal, first, last)
        first, last = where(same, first - 0.5, first), where(same, last + 0.5, last)
    elif first == last:
        first, last = first - 0.5, last + 0.5
    dt = result_dtype(a, first, last)
    return linspace(first, last, bins + 1, endpoint=True,
                    dtype=dt if dt.kind == "f" else None)


def _all_finite(first: Any, last: Any) -> np.ndarray:
    return np.asarray(bool(np.isfinite(first) and np.isfinite(last)))


def _pair(first: Any, last: Any) -> np.ndarray:
    return np.array([first, last])


def _bins(who: str, a: Any, bins: Any, rng: Any) -> Any:
    """The bin edges NumPy's ``histogram`` uses (traced where they depend on traced data)."""
    if isinstance(bins, str):
        n = concrete(constant_call(_auto_bins, a, bins, rng), who, "the number of bins")
        return _edges_from(a, int(n), rng)
    if np.ndim(bins) == 0 and not isinstance(bins, Tracer):
        if int(bins) != bins or bins < 1:
            raise ValueError("`bins` must be a positive integer")
        return _edges_from(a, int(bins), rng)
    return _array(bins)


def _auto_bins(a: np.ndarray, bins: str, rng: Any) -> np.ndarray:
    return np.asarray(len(np.histogram_bin_edges(a, bins, rng)) - 1, np.intp)


def _bin_index(a: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each sample's bin (``-1`` outside): right-open bins, the last one closed, as
    ``numpy.histogram`` counts."""
    if _backends.foreign(a, edges):  # another library's arrays (Dask lazily)
        a, n = a.reshape(-1), edges.shape[0]
        index = _backends.searchsorted(edges, a, side="right") - 1
        index = np.where(a == edges[-1], n - 2, index)
        return np.where((a < edges[0]) | (a > edges[-1]), -1, index)
    a, edges = np.ravel(a), np.asarray(edges)
    index = np.searchsorted(edges, a, side="right") - 1
    index[a == edges[-1]] = len(edges) - 2
    index[(a < edges[0]) | (a > edges[-1])] = -1
    return index


def _counts(index: np.ndarray, nbins: int) -> np.ndarray:
    if _backends.foreign(index):  # no selection of unknown length: bin 0 holds the -1s
        return np.bincount(index + 1, minlength=nbins + 1)[1:]
    index = np.asarray(index)
    return np.bincount(index[index >= 0], minlength=nbins)


def _edges_like(edges: Any, a: Any) -> Any:
    """Constant ``edges`` (given bins or range: NumPy's, or a buffer of them) in the library
    of the data ``a`` when that is another library's."""
    base = backends.base_value(edges)
    if type(base) is np.ndarray and _other_library(a) is not None:
        return backends.constant(base, a)
    return edges


@implements(np.histogram_bin_edges)
def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None, weights: Any = None) -> Any:
    """Differentiable ``numpy.histogram_bin_edges``: edges computed from the data (its min
    and max) move with it.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.histogram_bin_edges(np.array([0.0, 1.0]), 2)
        array([0. , 0.5, 1. ])
    """
    if not _traced(a, bins):
        return np.histogram_bin_edges(a, bins, range, weights)
    return _edges_like(_bins("pullback.numpy.histogram_bin_edges", _array(a), bins, range), a)


@implements(np.histogram)
def histogram(a: Any, bins: Any = 10, range: Any = None, density: Any = None,
              weights: Any = None) -> tuple:
    """``numpy.histogram``: the counts are constants (piecewise constant in the data), the
    sums of traced ``weights`` are differentiable, and edges computed from the data's range
    move with it.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.histogram(np.array([0.0, 0.2, 1.0]), 2)
        (array([2, 1]), array([0. , 0.5, 1. ]))
    """
    if not _traced(a, bins, weights):
        return np.histogram(a, bins, range, density, weights)
    a = _array(a)
    edges = _edges_like(_bins("pullback.numpy.histogram", a, bins, range), a)
    index = constant_call(_bin_index, a, edges)
    nbins = shape_of(edges)[0] - 1
    if weights is None:
        counts = constant_call(_counts, index, nbins)
        if not density:
            return counts, edges
        counts = astype(counts, np.float64) if isinstance(counts, Tracer) else \
            counts.astype(np.float64)
    else:
        w = ravel(_array(weights))
        dtype = result_dtype(w, 1.0)
        counts = matmul(astype(w, dtype), constant_call(_one_hot, index, nbins, dtype))
        if not density:
            return counts, edges
    return counts / diff(edges) / sum(counts), edges


# ----------------------------------------------------------------------------- nan quantiles


def _nan_positions(x: np.ndarray, q: np.ndarray) -> tuple:
    """For slices sorted along the last axis (NaNs last): the indices below and above each
    quantile ``q`` of the values that are not NaN, the weight of the one above, and whether
    the slice has no value at all."""
    if type(x) is not np.ndarray:  # another library's array: q in its library
        q = backends.constant(q, x)
    count = np.sum(~np.isnan(x), axis=-1)[..., None]  # (..., 1)
    pos = q.ravel() * np.maximum(count - 1, 0)  # (..., Q)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    t = pos - lo
    return lo, hi, t.astype(x.dtype), np.broadcast_to(count == 0, lo.shape).copy()


def _nanquantile(who: str, a: Any, q: Any, axis: Any, keepdims: bool, method: str,
                 dtype: Any) -> Any:
    if isinstance(q, Tracer):
        raise NotImplementedError(
            f"pullback.numpy.{who}: argument 'q' is traced; the derivative in q is not "
            "supported: pass it as a constant (pb.stop_gradient(q))")
    if method != "linear":
        raise NotImplementedError(
            f"pullback.numpy.{who}: method={method!r} is not supported on traced values; use "
            "method='linear' (the default)")
    a = _float(_array(a))
    if dtype != dtype_of(a):
        a = astype(a, dtype)
    q = np.asarray(q, np.float64)
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"pullback.numpy.{who}: quantiles must be in the range [0, 1]")
    shape = shape_of(a)
    axes = normalize_axes(axis, len(shape), who)
    rest = tuple(i for i in range(len(shape)) if i not in axes)
    n = math.prod(shape[i] for i in axes)
    x = reshape(_transpose(a, rest + axes), tuple(shape[i] for i in rest) + (n,))
    x = _sort(x, axis=-1)
    lo, hi, t, empty = constant_call(_nan_positions, x, q, multiple=True)
    below = _take_along_axis(x, lo, axis=-1)
    above = _take_along_axis(x, hi, axis=-1)
    step = above - below
    result = where(t >= 0.5, above - step * (1.0 - t), below + step * t)
    result = where(empty, np.nan, result)
    # (rest..., Q) -> q's axes first, then the kept axes
    nr = len(rest)
    result = reshape(result, shape_of(result)[:nr] + q.shape)
    result = _transpose(result, tuple(range(nr, nr + q.ndim)) + tuple(range(nr)))
    kept = tuple(1 if i in axes else s for i, s in enumerate(shape)) if keepdims else \
        tuple(s for i, s in enumerate(shape) if i not in axes)
    return reshape(result, q.shape + kept)


def _numpy_dtype(func: Callable[..., Any], a: Any, *args: Any) -> np.dtype:
    """The dtype NumPy's ``func`` gives for ``a``'s dtype (its promotion of ``q`` is
    intricate: a Python number keeps float32, an array widens it): from one element."""
    dtype = dtype_of(a) if dtype_of(a).kind in "fc" else np.dtype(np.float64)
    return np.asarray(func(np.ones(1, dtype), *args)).dtype


@implements(np.nanquantile)
def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanquantile`` (``method='linear'``): the quantiles of the
    values that are not NaN (NaN for a slice with none).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanquantile(np.array([1.0, np.nan, 3.0]), 0.5)
        np.float64(2.0)
    """
    if not _traced(a):
        return np.nanquantile(a, q, axis=axis, out=out, overwrite_input=overwrite_input,
                              method=method, keepdims=keepdims, **kwargs)
    if out is not None or kwargs:
        raise TypeError("pullback.numpy.nanquantile: out= and weights= are not supported on "
                        "traced values")
    return _nanquantile("nanquantile", a, q, axis, keepdims, method,
                        _numpy_dtype(np.nanquantile, a, q))


@implements(np.nanpercentile)
def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                  **kwargs: Any) -> Any:
    """Differentiable ``numpy.nanpercentile`` (``method='linear'``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanpercentile(np.array([1.0, np.nan, 3.0]), 50)
        np.float64(2.0)
    """
    if not _traced(a):
        return np.nanpercentile(a, q, axis=axis, out=out, overwrite_input=overwrite_input,
                                method=method, keepdims=keepdims, **kwargs)
    if out is not None or kwargs:
        raise TypeError("pullback.numpy.nanpercentile: out= and weights= are not supported on "
                        "traced values")
    if isinstance(q, Tracer):
        return _nanquantile("nanpercentile", a, q, axis, keepdims, method, None)
    return _nanquantile("nanpercentile", a, np.true_divide(q, 100), axis, keepdims, method,
                        _numpy_dtype(np.nanpercentile, a, q))


@implements(np.nanmedian)
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: Any = False) -> Any:
    """Differentiable ``numpy.nanmedian``: the median of the values that are not NaN.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nanmedian(np.array([1.0, np.nan, 3.0, 4.0]))
        np.float64(3.0)
    """
    if not _traced(a):
        return np.nanmedian(a, axis=axis, out=out, overwrite_input=overwrite_input,
                            keepdims=keepdims)
    if out is not None:
        raise TypeError("pullback.numpy.nanmedian: out= is not supported on traced values")
    return _nanquantile("nanmedian", a, 0.5, axis, bool(keepdims), "linear",
                        _numpy_dtype(np.nanmedian, a))
