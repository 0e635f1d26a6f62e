"""Rearranging, selecting and writing: NumPy's array manipulation beyond the shape family.

Most of these functions only move values around (``insert``, ``delete``, ``append``,
``resize``, ``rot90``, ``diagflat``, ``unique``, ``partition``...). Each is computed the same
way: NumPy's own function is applied to *labels* (an integer array numbering the elements
of the inputs), which tells where each output element comes from, and the traced values
are gathered accordingly with ``take``. So the result is NumPy's exactly (the same function
decides the layout), and the derivative is the gather's: each output element's cotangent
goes back to the element it was taken from. Where the layout depends on the values
(``unique``, ``partition``, ``trim_zeros``), the labels are computed from the values by a
constant primitive (``constant_call``), so the choice is made once, on the values, and the
derivative flows through the chosen elements.

The functions that write (``copyto``, ``put``, ``putmask``, ``place``, ``fill_diagonal``,
``put_along_axis``) write into traced buffers as ``x[idx] = v`` does (see
``pullback.numpy._mutation``); a plain NumPy array cannot receive traced values.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda x: pnp.sum(pnp.insert(x, 1, x[0] * 10.0) ** 2))(np.array([1.0, 2.0]))
    array([202.,   4.])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy import _backends
from pullback.numpy._arraylike import has_tracer, to_array
from pullback.numpy._constant import concrete, constant_call
from pullback.numpy._mutation import assign, plain_array
from pullback.numpy._nondiff import flatnonzero
from pullback.numpy._registry import implements
from pullback.numpy._util import normalize_axis, result_dtype
from pullback.numpy.elementwise import where as _where
from pullback.numpy.indexing import at
from pullback.numpy.reductions import cumprod, cumsum
from pullback.numpy.shape import (
    astype,
    broadcast_arrays,
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    moveaxis,
    ravel,
    reshape,
    sort,
    split,
    swapaxes,
    take,
    take_along_axis,
    transpose,
    vstack,
)

__all__ = [
    "append",
    "apply_along_axis",
    "apply_over_axes",
    "asanyarray",
    "asarray_chkfinite",
    "ascontiguousarray",
    "asfortranarray",
    "block",
    "c_",
    "choose",
    "compress",
    "concat",
    "copyto",
    "cumulative_prod",
    "cumulative_sum",
    "delete",
    "diagflat",
    "dsplit",
    "extract",
    "fill_diagonal",
    "hsplit",
    "insert",
    "intersect1d",
    "matrix_transpose",
    "partition",
    "permute_dims",
    "piecewise",
    "place",
    "put",
    "put_along_axis",
    "putmask",
    "r_",
    "require",
    "resize",
    "rollaxis",
    "rot90",
    "row_stack",
    "setdiff1d",
    "setxor1d",
    "sort_complex",
    "trim_zeros",
    "union1d",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unstack",
    "vectorize",
    "vsplit",
]

concat = concatenate  # NumPy 2's name (the same function)
permute_dims = transpose  # NumPy 2's name (the same function)


def _traced(*xs: Any) -> bool:
    return any(has_tracer(x) for x in xs)


def _array(x: Any) -> Any:
    """``x`` as an array: traced values (or lists of them) stay traced."""
    x = to_array(x)
    return x if isinstance(x, Tracer) else np.asarray(x)


def _constant(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` on the values of traced arguments, as a constant."""
    return constant_call(func, *args, **kwargs)


def _constant_tuple(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple:
    return constant_call(func, *args, multiple=True, **kwargs)


def _labels(*shapes: tuple, start: int = 0) -> list[np.ndarray]:
    """Integer arrays numbering the elements of arrays of ``shapes``, one range after the
    other (from ``start``)."""
    out = []
    for s in shapes:
        n = math.prod(s)
        out.append(np.arange(start, start + n, dtype=np.intp).reshape(s))
        start += n
    return out


def _gather(sources: Sequence[Any], labels: np.ndarray, dtype: Any, zero: bool = False) -> Any:
    """The elements ``labels`` of the flattened, concatenated ``sources`` (after a zero when
    ``zero``: label 0 then stands for it), in ``dtype``."""
    parts = [ravel(astype(s, dtype) if dtype_of(s) != dtype else s) for s in sources]
    if zero:
        parts.insert(0, np.zeros(1, dtype))
    flat = parts[0] if len(parts) == 1 else concatenate(parts)
    return take(flat, np.asarray(labels, np.intp))


def _rearranged(func: Callable[..., Any], sources: Sequence[Any], dtype: Any,
                zero: bool = False) -> Any:
    """``func`` (a NumPy function that only moves elements) applied to ``sources``, traced:
    NumPy applies it to labels, the values are gathered."""
    labels = _labels(*(shape_of(s) for s in sources), start=1 if zero else 0)
    return _gather(sources, func(*labels), dtype, zero)


# ----------------------------------------------------------------------------- rearranging


@implements(np.insert)
def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.insert`` (in ``arr`` and ``values``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.insert(np.array([1.0, 2.0]), 1, 5.0)
        array([1., 5., 2.])
    """
    if not _traced(arr, values):
        return np.insert(arr, obj, values, axis)
    arr, values = _array(arr), _array(values)
    return _rearranged(lambda la, lv: np.insert(la, obj, lv, axis), [arr, values],
                       dtype_of(arr))


@implements(np.delete)
def delete(arr: Any, obj: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.delete``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.delete(np.array([1.0, 2.0, 3.0]), 1)
        array([1., 3.])
    """
    if not _traced(arr):
        return np.delete(arr, obj, axis)
    arr = _array(arr)
    return _rearranged(lambda la: np.delete(la, obj, axis), [arr], dtype_of(arr))


@implements(np.append)
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.append`` (in ``arr`` and ``values``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.append(np.array([1.0, 2.0]), [[3.0]])
        array([1., 2., 3.])
    """
    if not _traced(arr, values):
        return np.append(arr, values, axis)
    arr, values = _array(arr), _array(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


@implements(np.resize)
def resize(a: Any, new_shape: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.resize``: the elements repeated (cyclically) to fill the shape.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.resize(np.array([1.0, 2.0]), 3)
        array([1., 2., 1.])
    """
    if not _traced(a):
        return np.resize(a, new_shape)
    a = _array(a)
    return _rearranged(lambda la: np.resize(la, new_shape), [a], dtype_of(a), zero=True)


@implements(np.rot90)
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Differentiable ``numpy.rot90``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.rot90(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[2., 4.],
               [1., 3.]])
    """
    if not _traced(m):
        return np.rot90(m, k, axes)
    m = _array(m)
    return _rearranged(lambda lm: np.rot90(lm, k, axes), [m], dtype_of(m))


@implements(np.rollaxis)
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Differentiable ``numpy.rollaxis``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.rollaxis(np.ones((2, 3, 4)), 2).shape
        (4, 2, 3)
    """
    if not _traced(a):
        return np.rollaxis(a, axis, start)
    a = _array(a)
    return _rearranged(lambda la: np.rollaxis(la, axis, start), [a], dtype_of(a))


@implements(np.diagflat)
def diagflat(v: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.diagflat``: the flattened input on diagonal ``k``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.diagflat(np.array([1.0, 2.0]))
        array([[1., 0.],
               [0., 2.]])
    """
    if not _traced(v):
        return np.diagflat(v, k)
    v = _array(v)
    return _rearranged(lambda lv: np.diagflat(lv, k), [v], dtype_of(v), zero=True)


def matrix_transpose(x: Any, /) -> Any:
    """Differentiable ``numpy.matrix_transpose``: the last two axes swapped.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.matrix_transpose(np.ones((2, 3))).shape
        (3, 2)
    """
    if not _traced(x):
        return np.matrix_transpose(x)
    x = _array(x)
    if len(shape_of(x)) < 2:
        raise ValueError(f"matrix_transpose: the input must have at least 2 dimensions, got "
                         f"shape {shape_of(x)}")
    return swapaxes(x, -1, -2)


implements(np.matrix_transpose)(matrix_transpose)


def _split_along(name: str, ary: Any, indices_or_sections: Any, axis: int, need: int) -> list:
    if len(shape_of(ary)) < need:
        raise ValueError(f"{name} only works on arrays of {need} or more dimensions")
    return split(ary, indices_or_sections, axis)


@implements(np.hsplit)
def hsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """Differentiable ``numpy.hsplit``: split along axis 1 (axis 0 for 1-d arrays).

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.hsplit(np.ones((2, 4)), 2)]
        [(2, 2), (2, 2)]
    """
    if not _traced(ary):
        return np.hsplit(ary, indices_or_sections)
    ary = _array(ary)
    if len(shape_of(ary)) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0)


@implements(np.vsplit)
def vsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """Differentiable ``numpy.vsplit``: split along axis 0 (arrays of 2 or more dimensions).

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.vsplit(np.ones((4, 2)), [1])]
        [(1, 2), (3, 2)]
    """
    if not _traced(ary):
        return np.vsplit(ary, indices_or_sections)
    return _split_along("vsplit", _array(ary), indices_or_sections, 0, 2)


@implements(np.dsplit)
def dsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """Differentiable ``numpy.dsplit``: split along axis 2 (arrays of 3 or more dimensions).

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.dsplit(np.ones((1, 1, 4)), 2)]
        [(1, 1, 2), (1, 1, 2)]
    """
    if not _traced(ary):
        return np.dsplit(ary, indices_or_sections)
    return _split_along("dsplit", _array(ary), indices_or_sections, 2, 3)


def unstack(x: Any, /, *, axis: int = 0) -> tuple:
    """Differentiable ``numpy.unstack``: the slices along ``axis``, as a tuple.

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.unstack(np.ones((2, 3)), axis=1)]
        [(2,), (2,), (2,)]
    """
    if not _traced(x):
        return np.unstack(x, axis=axis) if hasattr(np, "unstack") else tuple(
            np.moveaxis(np.asarray(x), axis, 0))
    x = _array(x)
    if len(shape_of(x)) == 0:
        raise ValueError("unstack: input array must be at least 1-d")
    moved = moveaxis(x, axis, 0)
    return tuple(getitem(moved, i) for i in range(shape_of(moved)[0]))


if hasattr(np, "unstack"):
    implements(np.unstack)(unstack)


def row_stack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """Differentiable ``numpy.row_stack`` (NumPy's deprecated name of ``vstack``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.row_stack([np.ones(2), np.zeros(2)]).shape
        (2, 2)
    """
    if not _traced(*tup):
        return np.vstack(tup, dtype=dtype, casting=casting)
    out = vstack([to_array(t) for t in tup])
    return out if dtype is None else astype(out, dtype)


if hasattr(np, "row_stack"):
    implements(np.row_stack)(row_stack)


def _block_depth(arrays: Any, where: str = "arrays") -> int:
    if isinstance(arrays, tuple):
        raise TypeError(f"block: {where} is a tuple; only lists can be used to arrange blocks")
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ValueError(f"block: {where} is an empty list")
    depths = {_block_depth(a, f"{where}[{i}]") for i, a in enumerate(arrays)}
    if len(depths) != 1:
        raise ValueError(f"block: the lists in {where} are not nested to the same depth")
    return depths.pop() + 1


def _block_ndim(arrays: Any) -> int:
    if isinstance(arrays, list):
        return max(_block_ndim(a) for a in arrays)
    return len(shape_of(arrays))


def _block_join(arrays: Any, depth: int, ndim: int) -> Any:
    if not isinstance(arrays, list):
        a = arrays if isinstance(arrays, Tracer) else np.asarray(arrays)
        s = shape_of(a)
        return reshape(a, (1,) * (ndim - len(s)) + s) if isinstance(a, Tracer) else \
            a.reshape((1,) * (ndim - len(s)) + s)
    parts = [_block_join(a, depth - 1, ndim) for a in arrays]
    return concatenate(parts, axis=-depth)


@implements(np.block)
def block(arrays: Any) -> Any:
    """Differentiable ``numpy.block``: an array assembled from nested lists of blocks.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.block([[np.eye(2), np.zeros((2, 1))]]).shape
        (2, 3)
    """
    if not _traced(arrays):
        return np.block(arrays)
    depth = _block_depth(arrays)
    ndim = max(_block_ndim(arrays), depth)
    out = _block_join(arrays, depth, ndim)
    return out


# ----------------------------------------------------------------------------- selecting


@implements(np.compress)
def compress(condition: Any, a: Any, axis: int | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.compress`` (in ``a``): the slices where ``condition`` holds.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.compress([False, True, True], np.array([1.0, 2.0, 3.0]))
        array([2., 3.])
    """
    if not _traced(a):
        return np.compress(condition, a, axis, out)
    a = _array(a)
    if out is not None:
        raise TypeError("pullback.numpy.compress: out= is not supported on traced values")
    index = flatnonzero(condition)
    if axis is None:
        return take(ravel(a), index)
    return take(a, index, axis=axis)


@implements(np.extract)
def extract(condition: Any, arr: Any) -> Any:
    """Differentiable ``numpy.extract`` (in ``arr``): the elements where ``condition`` holds.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.extract(np.array([True, False]), np.array([1.0, 2.0]))
        array([1.])
    """
    if not _traced(arr):
        return np.extract(condition, arr)
    return take(ravel(_array(arr)), flatnonzero(ravel(condition)))


@implements(np.choose)
def choose(a: Any, choices: Sequence[Any], out: Any = None, mode: str = "raise") -> Any:
    """Differentiable ``numpy.choose`` (in the choices): element ``i`` from ``choices[a[i]]``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.choose([1, 0], [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
        array([3., 2.])
    """
    if not _traced(*choices):
        return np.choose(a, choices, out=out, mode=mode)
    if out is not None:
        raise TypeError("pullback.numpy.choose: out= is not supported on traced values")
    n = len(choices)
    index = _constant(_choice_index, a, n, mode)
    parts = [_array(c) for c in choices]
    dtype = result_dtype(*parts)
    parts = list(broadcast_arrays(index, *[astype(p, dtype) if dtype_of(p) != dtype else p
                                           for p in parts]))
    index, parts = parts[0], parts[1:]
    stacked = concatenate([expand_dims(p, 0) for p in parts], axis=0)
    return getitem(take_along_axis(stacked, expand_dims(index, 0), axis=0), 0)


def _choice_index(a: Any, n: int, mode: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        a = a.astype(np.intp)
    if mode == "wrap":
        return a % n
    if mode == "clip":
        return np.clip(a, 0, n - 1)
    if mode != "raise":
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError("invalid entry in choice array")
    return a


@implements(np.piecewise)
def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Any:
    """Differentiable ``numpy.piecewise`` (in ``x`` and the values the functions return).

    Example:
        >>> import pullback.numpy as pnp
        >>> x = np.array([-1.0, 2.0])
        >>> pnp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v ** 2])
        array([1., 4.])
    """
    if not _traced(x):
        return np.piecewise(x, condlist, funclist, *args, **kw)
    x = _array(x)
    n2 = len(funclist)
    # as NumPy: a single condition is promoted to a list of one condition
    if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray, Tracer))
                                 and not _backends.foreign(condlist[0])
                                 and len(shape_of(x)) != 0):
        condlist = [condlist]
    if any(isinstance(c, Tracer) or _backends.foreign(c) for c in condlist):
        # traced conditions, or another library's (a lazy mask selects an unknown number)
        return _piecewise_where(x, list(condlist), funclist, args, kw)
    conds = np.asarray(condlist, dtype=bool)
    n = len(conds)
    if n == n2 - 1:  # the "otherwise" condition
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)], axis=0)
        n += 1
    elif n != n2:
        raise ValueError(
            f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    y = _buffer_like(x)
    for cond, func in zip(conds, funclist, strict=True):
        if not callable(func):
            y[cond] = func
        else:
            vals = getitem(x, cond)
            if math.prod(shape_of(vals)) > 0:
                y[cond] = func(vals, *args, **kw)
    return y


def _piecewise_where(x: Any, conds: list, funclist: Sequence[Any], args: tuple,
                     kw: dict) -> Any:
    """``piecewise`` with conditions that are traced values (under ``jit`` or ``vmap``, where
    ``x[cond]`` has no known shape): each function on all of ``x``, selected with ``where``
    (later conditions win, as NumPy's writes in order do)."""
    if len(conds) == len(funclist) - 1:
        otherwise = conds[0]
        for c in conds[1:]:
            otherwise = _where(otherwise, True, c)
        conds.append(_where(otherwise, False, True))
    elif len(conds) != len(funclist):
        raise ValueError(f"with {len(conds)} condition(s), either {len(conds)} or "
                         f"{len(conds) + 1} functions are expected")
    y = backends.zeros(shape_of(x), dtype_of(x), like=x)
    for cond, func in zip(conds, funclist, strict=True):
        value = func(x, *args, **kw) if callable(func) else func
        y = _where(cond, astype(_array(value), dtype_of(x)) if _traced(value) else
                   np.asarray(value, dtype_of(x)), y)
    return y


def _buffer_like(x: Tracer) -> Tracer:
    """A buffer of zeros shaped like ``x`` that accepts traced writes (at ``x``'s level)."""
    return x._trace.lift(np.zeros(shape_of(x), dtype_of(x)))


@implements(np.apply_along_axis)
def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: Any, *args: Any,
                     **kwargs: Any) -> Any:
    """Differentiable ``numpy.apply_along_axis``: ``func1d`` applied to each 1-d slice, the
    results stacked (in the place of ``axis``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.apply_along_axis(lambda v: v[::-1] * 2, 1, np.array([[1.0, 2.0]]))
        array([[4., 2.]])
    """
    if not _traced(arr, *args, *kwargs.values()):
        return np.apply_along_axis(func1d, axis, arr, *args, **kwargs)
    arr = _array(arr)
    nd = len(shape_of(arr))
    axis = normalize_axis(axis, nd, "apply_along_axis")
    moved = moveaxis(arr, axis, -1)
    outer = shape_of(moved)[:-1]
    if math.prod(outer) == 0:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [func1d(getitem(moved, ind), *args, **kwargs) for ind in np.ndindex(*outer)]
    results = [r if isinstance(r, Tracer) else np.asarray(r) for r in results]
    res_shape = shape_of(results[0])
    stacked = concatenate([reshape(r, (1,) + res_shape) if isinstance(r, Tracer)
                           else np.reshape(r, (1,) + res_shape) for r in results], axis=0)
    buff = reshape(stacked, outer + res_shape)
    dims = list(range(len(outer) + len(res_shape)))
    perm = dims[:axis] + dims[len(outer):] + dims[axis:len(outer)]
    return transpose(buff, tuple(perm))


@implements(np.apply_over_axes)
def apply_over_axes(func: Callable[..., Any], a: Any, axes: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.apply_over_axes``: ``func(a, axis)`` repeated over ``axes``,
    keeping the number of dimensions.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.apply_over_axes(pnp.sum, np.ones((2, 3)), [0, 1])
        array([[6.]])
    """
    if not _traced(a):
        return np.apply_over_axes(func, a, axes)
    val = _array(a)
    n = len(shape_of(val))
    for axis in np.atleast_1d(np.asarray(axes)).tolist():
        ax = axis + n if axis < 0 else axis
        res = func(val, ax)
        if len(shape_of(res)) == len(shape_of(val)):
            val = res
        else:
            res = expand_dims(res, ax)
            if len(shape_of(res)) != len(shape_of(val)):
                raise ValueError("function is not returning an array of the correct shape")
            val = res
    return val


def _trim_bounds(filt: np.ndarray, trim: str, axis: Any) -> np.ndarray:
    """The slice bounds ``[start, stop]`` per axis that ``numpy.trim_zeros`` keeps."""
    if type(filt) is not np.ndarray and backends.library(filt) == "numpy":
        filt = np.asarray(filt)  # an eager library's array is read where it lies
    if trim.lower() not in ("fb", "bf", "f", "b"):
        raise ValueError(f"unexpected character(s) in `trim`: {trim!r}")
    nz = np.argwhere(filt)
    axes = range(filt.ndim) if axis is None else np.atleast_1d(axis).tolist()
    out = np.array([[0, n] for n in filt.shape], np.intp)
    if nz.size == 0:
        for ax in axes:
            out[ax] = (0, 0)
        return out
    for ax in axes:
        ax = ax % filt.ndim
        if "f" in trim.lower():
            out[ax, 0] = int(nz[:, ax].min())
        if "b" in trim.lower():
            out[ax, 1] = int(nz[:, ax].max()) + 1
    return out


@implements(np.trim_zeros)
def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """Differentiable ``numpy.trim_zeros``: leading and/or trailing zeros removed.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.trim_zeros(np.array([0.0, 1.0, 2.0, 0.0]))
        array([1., 2.])
    """
    if not _traced(filt):
        return np.trim_zeros(filt, trim) if axis is None else np.trim_zeros(filt, trim, axis)
    _value_shaped("trim_zeros", "the number of values kept", filt)
    filt = _array(filt)
    bounds = concrete(_constant(_trim_bounds, filt, trim, axis), "pullback.numpy.trim_zeros",
                      "the number of values kept")
    return getitem(filt, tuple(slice(int(a), int(b)) for a, b in bounds))


@implements(np.sort_complex)
def sort_complex(a: Any) -> Any:
    """Differentiable ``numpy.sort_complex``: sorted by real part, then imaginary part, as
    complex values.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.sort_complex(np.array([2.0, 1.0]))
        array([1.+0.j, 2.+0.j])
    """
    if not _traced(a):
        return np.sort_complex(a)
    b = sort(_array(a))
    if dtype_of(b).kind != "c":  # NumPy's choice: complex64 only for small integers
        char = dtype_of(b).char
        b = astype(b, np.complex64 if char in "bhBH" else
                   np.clongdouble if char == "g" else np.complex128)
    return b


def _partition_index(a: np.ndarray, kth: Any, axis: int) -> np.ndarray:
    """Indices ``idx`` with ``take_along_axis(a, idx, axis) == np.partition(a, kth, axis)``."""
    if type(a) is not np.ndarray and backends.library(a) != "numpy":
        return _backends.partition_index(a, kth, axis)  # in a's library (Dask: lazily)
    return _backends.partition_index_numpy(np.asarray(a), kth, axis)


@implements(np.partition)
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
              order: Any = None) -> Any:
    """Differentiable ``numpy.partition``: NumPy's exact arrangement, its values gathered.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.partition(np.array([3.0, 1.0, 2.0]), 0)[0]
        np.float64(1.0)
    """
    if not _traced(a):
        return np.partition(a, kth, axis, kind, order)
    a = _array(a)
    if order is not None:
        raise NotImplementedError("pullback.numpy.partition: order= (structured arrays) is "
                                  "not supported on traced values")
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, len(shape_of(a)), "partition")
    return take_along_axis(a, _constant(_partition_index, a, kth, axis), axis=axis)


# ----------------------------------------------------------------------------- conversions


def _as_traced(name: str, numpy_func: Callable[..., Any]) -> Callable[..., Any]:
    def convert(a: Any, *args: Any, **kwargs: Any) -> Any:
        if not _traced(a):
            return numpy_func(a, *args, **kwargs)
        dtype = kwargs.get("dtype", args[0] if args else None)
        out = _array(a)
        value = plain_array(out)
        if value is not None and not np.may_share_memory(numpy_func(value), value):
            # NumPy copies (ascontiguousarray of a transposed array): a new array, which
            # writes into it do not reach ``a`` through (and whose reshapes are views)
            out = lax.copy(out)
        # NumPy's shape (ascontiguousarray of a 0-d array is 1-d)
        shape = numpy_func(np.zeros(shape_of(out), np.bool_)).shape
        if shape != shape_of(out):
            out = reshape(out, shape)
        return out if dtype is None else astype(out, dtype)

    convert.__name__ = convert.__qualname__ = name
    convert.__module__ = __name__
    convert.__doc__ = (
        f"``numpy.{name}``; a traced value (or a list of them) stays traced, as it is (the "
        "memory layout of a traced value is NumPy's business).\n\n"
        "Example:\n"
        "    >>> import pullback.numpy as pnp\n"
        f"    >>> pnp.{name}([1.0, 2.0]).shape\n"
        "    (2,)\n"
    )
    return implements(numpy_func)(convert)


asanyarray = _as_traced("asanyarray", np.asanyarray)
ascontiguousarray = _as_traced("ascontiguousarray", np.ascontiguousarray)
asfortranarray = _as_traced("asfortranarray", np.asfortranarray)
require = _as_traced("require", np.require)


def _check_finite(a: np.ndarray) -> np.ndarray:
    if not np.isfinite(a).all():
        raise ValueError("array must not contain infs or NaNs")
    return np.zeros((), np.bool_)


@implements(np.asarray_chkfinite)
def asarray_chkfinite(a: Any, dtype: Any = None, order: Any = None) -> Any:
    """``numpy.asarray_chkfinite``; a traced value stays traced (and is checked).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.asarray_chkfinite([1.0, 2.0])
        array([1., 2.])
    """
    if not _traced(a):
        return np.asarray_chkfinite(a, dtype, order)
    out = _array(a)
    if type(out) is not np.ndarray and backends.is_dask(backends.base_value(out)):
        raise backends.refuse("pullback.numpy.asarray_chkfinite", "dask",
                              "checks of the values", "whether every value is finite")
    _constant(_check_finite, out)
    return out if dtype is None else astype(out, dtype)


def _cumulative(name: str, scan: Callable[..., Any], numpy_name: str, initial: float
                ) -> Callable[..., Any]:
    def cumulative(x: Any, /, *, axis: int | None = None, dtype: Any = None, out: Any = None,
                   include_initial: bool = False) -> Any:
        if not _traced(x):
            return getattr(np, numpy_name)(x, axis=axis, dtype=dtype, out=out,
                                           include_initial=include_initial)
        x = _array(x)
        if out is not None:
            raise TypeError(f"pullback.numpy.{name}: out= is not supported on traced values")
        nd = len(shape_of(x))
        if axis is None:
            if nd > 1:
                raise ValueError(f"{name}: axis must be specified for arrays of more than "
                                 "one dimension")
            axis = 0
        if nd == 0:
            x, nd = reshape(x, (1,)), 1
        axis = normalize_axis(axis, nd, name)
        res = scan(x, axis=axis)
        if dtype is not None:
            res = astype(res, dtype)
        if include_initial:
            s = list(shape_of(res))
            s[axis] = 1
            res = concatenate([np.full(s, initial, dtype_of(res)), res], axis=axis)
        return res

    cumulative.__name__ = cumulative.__qualname__ = name
    cumulative.__module__ = __name__
    shown = {"cumulative_sum": "array([0., 1., 3., 6.])", "cumulative_prod":
             "array([1., 1., 2., 6.])"}[name]
    cumulative.__doc__ = (
        f"Differentiable ``numpy.{numpy_name}`` (NumPy 2's scan with ``include_initial``).\n\n"
        "Example:\n"
        "    >>> import pullback.numpy as pnp\n"
        f"    >>> pnp.{name}(np.array([1.0, 2.0, 3.0]), include_initial=True)\n"
        f"    {shown}\n"
    )
    if hasattr(np, numpy_name):
        implements(getattr(np, numpy_name))(cumulative)
    return cumulative


cumulative_sum = _cumulative("cumulative_sum", cumsum, "cumulative_sum", 0.0)
cumulative_prod = _cumulative("cumulative_prod", cumprod, "cumulative_prod", 1.0)


# ----------------------------------------------------------------------------- sets


def _value_shaped(who: str, what: str, *xs: Any) -> None:
    """Refuse a result whose shape depends on the values (``what``) when an operand is a
    Dask array: its length is unknown until computed (the capability table's entry)."""
    for x in xs:
        if type(x) is not np.ndarray and backends.is_dask(backends.base_value(x)):
            raise backends.refuse(f"pullback.numpy.{who}", "dask", "arrays of unknown shape",
                                  f"{what} depends on the values")


def _values_at(ar: Any, index: Any, axis: int | None) -> Any:
    ar = _array(ar)
    if axis is None:
        return take(ravel(ar), index)
    return take(ar, index, axis=axis)


@implements(np.unique)
def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, **kwargs: Any) -> Any:
    """Differentiable ``numpy.unique`` (in the unique values; each takes its derivative from
    its first occurrence). Indices, inverse and counts are constants.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.unique(np.array([2.0, 1.0, 2.0]))
        array([1., 2.])
    """
    if not _traced(ar):
        return np.unique(ar, return_index, return_inverse, return_counts, axis, **kwargs)
    _value_shaped("unique", "the number of unique values", ar)
    ar = _array(ar)
    parts = _constant_tuple(_unique_parts, ar, return_inverse, return_counts, axis,
                            tuple(kwargs.items()))
    parts = [concrete(p, "pullback.numpy.unique", "the number of unique values") for p in parts]
    values = _values_at(ar, parts[0], axis)
    extra = []
    if return_index:
        extra.append(parts[0])
    if return_inverse:
        extra.append(parts[1])
    if return_counts:
        extra.append(parts[2])
    return values if not extra else (values, *extra)


def _unique_parts(ar: np.ndarray, inverse: bool, counts: bool, axis: Any,
                  kwargs: tuple) -> tuple:
    _, index, inv, cnt = np.unique(ar, True, True, True, axis, **dict(kwargs))
    return index, inv, cnt


_UniqueAll = type(np.unique_all(np.zeros(1)))
_UniqueCounts = type(np.unique_counts(np.zeros(1)))
_UniqueInverse = type(np.unique_inverse(np.zeros(1)))


def _unique_all_parts(x: np.ndarray) -> tuple:
    r = np.unique_all(x)
    return _first_index(x, r.values), r.inverse_indices, r.counts


def _unique_all_concrete(name: str, x: Any) -> list:
    _value_shaped(name, "the number of unique values", x)
    return [concrete(p, f"pullback.numpy.{name}", "the number of unique values")
            for p in _constant_tuple(_unique_all_parts, x)]


def _first_index(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index (into the flattened ``x``) of the first occurrence of each of ``values``."""
    flat = np.ravel(x)
    u, first = np.unique(flat, return_index=True)
    return first[np.searchsorted(u, values)]


@implements(np.unique_all)
def unique_all(x: Any) -> Any:
    """Differentiable ``numpy.unique_all`` (in ``values``; the rest are constants).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.unique_all(np.array([2.0, 2.0])).counts
        array([2])
    """
    if not _traced(x):
        return np.unique_all(x)
    x = _array(x)
    index, inverse, counts = _unique_all_concrete("unique_all", x)
    return _UniqueAll(take(ravel(x), index), index, inverse, counts)


@implements(np.unique_counts)
def unique_counts(x: Any) -> Any:
    """Differentiable ``numpy.unique_counts`` (in ``values``; ``counts`` are constants).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.unique_counts(np.array([2.0, 2.0, 1.0])).counts
        array([1, 2])
    """
    if not _traced(x):
        return np.unique_counts(x)
    x = _array(x)
    index, _, counts = _unique_all_concrete("unique_counts", x)
    return _UniqueCounts(take(ravel(x), index), counts)


@implements(np.unique_inverse)
def unique_inverse(x: Any) -> Any:
    """Differentiable ``numpy.unique_inverse`` (in ``values``; the inverse is a constant).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.unique_inverse(np.array([2.0, 1.0])).inverse_indices
        array([1, 0])
    """
    if not _traced(x):
        return np.unique_inverse(x)
    x = _array(x)
    index, inverse, _ = _unique_all_concrete("unique_inverse", x)
    return _UniqueInverse(take(ravel(x), index), inverse)


def _unique_values_index(x: np.ndarray) -> np.ndarray:
    return _first_index(x, np.unique_values(x))


@implements(np.unique_values)
def unique_values(x: Any) -> Any:
    """Differentiable ``numpy.unique_values``.

    Example:
        >>> import pullback.numpy as pnp
        >>> np.sort(pnp.unique_values(np.array([2.0, 1.0, 2.0])))
        array([1., 2.])
    """
    if not _traced(x):
        return np.unique_values(x)
    _value_shaped("unique_values", "the number of unique values", x)
    x = _array(x)
    index = concrete(_constant(_unique_values_index, x), "pullback.numpy.unique_values",
                     "the number of unique values")
    return take(ravel(x), index)


@implements(np.union1d)
def union1d(ar1: Any, ar2: Any) -> Any:
    """Differentiable ``numpy.union1d`` (each value from its first occurrence in ``ar1``
    then ``ar2``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.union1d(np.array([1.0, 2.0]), np.array([2.0, 3.0]))
        array([1., 2., 3.])
    """
    if not _traced(ar1, ar2):
        return np.union1d(ar1, ar2)
    _value_shaped("union1d", "the number of values", ar1, ar2)
    return unique(concatenate([ravel(_array(ar1)), ravel(_array(ar2))]))


def _intersect_index(ar1: np.ndarray, ar2: np.ndarray, assume_unique: bool) -> tuple:
    _, i1, i2 = np.intersect1d(ar1, ar2, assume_unique=assume_unique, return_indices=True)
    return i1, i2


@implements(np.intersect1d)
def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False,
                return_indices: bool = False) -> Any:
    """Differentiable ``numpy.intersect1d``: the common values, taken from ``ar1`` (their
    derivatives are ``ar1``'s).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.intersect1d(np.array([1.0, 2.0]), np.array([2.0, 3.0]))
        array([2.])
    """
    if not _traced(ar1, ar2):
        return np.intersect1d(ar1, ar2, assume_unique, return_indices)
    _value_shaped("intersect1d", "the number of common values", ar1, ar2)
    ar1, ar2 = _array(ar1), _array(ar2)
    i1, i2 = (concrete(i, "pullback.numpy.intersect1d", "the number of common values")
              for i in _constant_tuple(_intersect_index, ar1, ar2, assume_unique))
    values = take(ravel(ar1), i1)
    if dtype_of(values) != result_dtype(ar1, ar2):
        values = astype(values, result_dtype(ar1, ar2))
    return (values, i1, i2) if return_indices else values


def _setdiff_index(ar1: np.ndarray, ar2: np.ndarray, assume_unique: bool) -> np.ndarray:
    flat = np.ravel(ar1)
    if assume_unique:
        index = np.arange(flat.size)
    else:
        _, index = np.unique(flat, return_index=True)
    return index[~np.isin(flat[index], ar2)]


@implements(np.setdiff1d)
def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Differentiable ``numpy.setdiff1d`` (in ``ar1``): its values not in ``ar2``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.setdiff1d(np.array([3.0, 1.0, 2.0]), np.array([2.0]))
        array([1., 3.])
    """
    if not _traced(ar1, ar2):
        return np.setdiff1d(ar1, ar2, assume_unique)
    _value_shaped("setdiff1d", "the number of values kept", ar1, ar2)
    ar1 = _array(ar1)
    index = concrete(_constant(_setdiff_index, ar1, _array(ar2), assume_unique),
                     "pullback.numpy.setdiff1d", "the number of values kept")
    return take(ravel(ar1), index)


def _setxor_index(ar1: np.ndarray, ar2: np.ndarray, assume_unique: bool) -> np.ndarray:
    f1, f2 = np.ravel(ar1), np.ravel(ar2)
    if assume_unique:
        i1, i2 = np.arange(f1.size), np.arange(f2.size)
    else:
        i1 = np.unique(f1, return_index=True)[1]
        i2 = np.unique(f2, return_index=True)[1]
    index = np.concatenate([i1, i2 + f1.size])
    aux = np.concatenate([f1, f2])[index]
    order = np.argsort(aux, kind="stable")
    aux, index = aux[order], index[order]
    if aux.size == 0:
        return index
    flag = np.concatenate(([True], aux[1:] != aux[:-1], [True]))
    return index[flag[1:] & flag[:-1]]


@implements(np.setxor1d)
def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Differentiable ``numpy.setxor1d``: the values in exactly one of the inputs.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.setxor1d(np.array([1.0, 2.0]), np.array([2.0, 3.0]))
        array([1., 3.])
    """
    if not _traced(ar1, ar2):
        return np.setxor1d(ar1, ar2, assume_unique)
    _value_shaped("setxor1d", "the number of values kept", ar1, ar2)
    ar1, ar2 = _array(ar1), _array(ar2)
    dtype = result_dtype(ar1, ar2)
    flat = concatenate([ravel(astype(ar1, dtype)), ravel(astype(ar2, dtype))])
    index = concrete(_constant(_setxor_index, ar1, ar2, assume_unique),
                     "pullback.numpy.setxor1d", "the number of values kept")
    return take(flat, index)


# ----------------------------------------------------------------------------- writing


def _writable(name: str, a: Any, value: Any) -> bool:
    """Whether ``a`` is a traced buffer to write into; raises when a plain array would
    receive a traced value."""
    if isinstance(a, Tracer):
        return True
    if _traced(value):
        raise TypeError(
            f"numpy.{name}: writing a traced value into a plain NumPy array: a NumPy array "
            "cannot hold a derivative. Make the array with pullback.numpy instead "
            "(`a = pnp.zeros(n)`, or `np.zeros_like(x)` of a traced x), or build the result "
            "without writing (pnp.where, pnp.concatenate, pnp.stack)"
        )
    return False


def _write_flat(a: Tracer, positions: np.ndarray, values: Any) -> None:
    """``a.flat[positions] = values`` (``values`` already one per position)."""
    flat = ravel(a)
    new = at(flat)[np.asarray(positions, np.intp)].set(values)
    assign(a, reshape(astype(new, dtype_of(a)) if dtype_of(new) != dtype_of(a) else new,
                      shape_of(a)))


def _cycled(values: Any, n: int, dtype: Any) -> Any:
    """``values`` flattened and repeated cyclically to ``n`` elements (NumPy's ``flat``
    assignment), in ``dtype``."""
    values = _array(values)
    size = math.prod(shape_of(values))
    if size == 0:
        raise ValueError("cannot write an empty array of values")
    labels = np.resize(np.arange(size, dtype=np.intp), n)
    return _gather([values], labels, dtype)


@implements(np.copyto)
def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    """``numpy.copyto`` into a traced buffer (``dst[...] = src`` where ``where`` holds).

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros(2); pnp.copyto(a, [1.0, 2.0]); a
        array([1., 2.])
    """
    if not _writable("copyto", dst, src):
        np.copyto(dst, src, casting=casting, where=where)
        return
    src = _array(src)
    extra = len(shape_of(src)) - len(shape_of(dst))
    if extra > 0 and all(d == 1 for d in shape_of(src)[:extra]):
        src = reshape(src, shape_of(src)[extra:])  # NumPy drops leading axes of length 1
    if not np.can_cast(dtype_of(src), dtype_of(dst), casting):
        raise TypeError(f"copyto: cannot cast array data from {dtype_of(src)} to "
                        f"{dtype_of(dst)} according to the rule '{casting}'")
    src = broadcast_to(astype(src, dtype_of(dst)) if dtype_of(src) != dtype_of(dst) else src,
                       shape_of(dst))
    if where is not True:
        src = _where(where, src, dst)
    assign(dst, src)


def _flat_positions(name: str, a: Any, ind: Any, mode: str) -> np.ndarray:
    n = math.prod(shape_of(a))
    ind = np.asarray(ind).ravel()
    if ind.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {ind.dtype}")
    if mode == "wrap":
        return ind % n
    if mode == "clip":
        return np.clip(ind, 0, n - 1)
    if mode != "raise":
        raise ValueError(f"{name}: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if ind.size and (ind.min() < -n or ind.max() >= n):
        raise IndexError(f"{name}: index out of range for an array of size {n}")
    return ind % n if n else ind


@implements(np.put)
def put(a: Any, ind: Any, v: Any, mode: str = "raise") -> None:
    """``numpy.put`` into a traced buffer: ``a.flat[ind] = v`` (``v`` repeated as needed).

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros(3); pnp.put(a, [0, 2], 5.0); a
        array([5., 0., 5.])
    """
    if not _writable("put", a, v):
        np.put(a, ind, v, mode)
        return
    v = _array(v)
    if math.prod(shape_of(v)) == 0:
        return  # NumPy writes nothing (and checks no index) for empty values
    positions = _flat_positions("put", a, ind, mode)
    if positions.size == 0:
        return
    _write_flat(a, positions, _cycled(v, positions.size, dtype_of(a)))


@implements(np.putmask)
def putmask(a: Any, mask: Any, values: Any) -> None:
    """``numpy.putmask`` into a traced buffer: ``a.flat[i] = values.flat[i % len(values)]``
    where ``mask`` holds.

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros(3); pnp.putmask(a, np.array([True, False, True]), [1.0, 2.0]); a
        array([1., 0., 1.])
    """
    if not _writable("putmask", a, values):
        np.putmask(a, mask, values)
        return
    mask = np.asarray(mask, np.bool_)
    n = math.prod(shape_of(a))
    if mask.size != n:
        raise ValueError("putmask: mask and data must be the same size")
    positions = np.flatnonzero(mask)
    values = _array(values)
    if positions.size == 0 or math.prod(shape_of(values)) == 0:
        return  # NumPy writes nothing for empty values
    size = math.prod(shape_of(values))
    labels = np.resize(np.arange(size, dtype=np.intp), n)[positions]
    _write_flat(a, positions, _gather([values], labels, dtype_of(a)))


@implements(np.place)
def place(arr: Any, mask: Any, vals: Any) -> None:
    """``numpy.place`` into a traced buffer: the first values of ``vals`` (repeated as
    needed) where ``mask`` holds, in order.

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros(3); pnp.place(a, np.array([True, False, True]), [1.0, 2.0]); a
        array([1., 0., 2.])
    """
    if not _writable("place", arr, vals):
        np.place(arr, mask, vals)
        return
    positions = np.flatnonzero(np.asarray(mask, np.bool_))
    if positions.size == 0:
        return
    _write_flat(arr, positions, _cycled(vals, positions.size, dtype_of(arr)))


@implements(np.fill_diagonal)
def fill_diagonal(a: Any, val: Any, wrap: bool = False) -> None:
    """``numpy.fill_diagonal`` into a traced buffer.

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros((2, 2)); pnp.fill_diagonal(a, 3.0); a
        array([[3., 0.],
               [0., 3.]])
    """
    if not _writable("fill_diagonal", a, val):
        np.fill_diagonal(a, val, wrap)
        return
    shape = shape_of(a)
    if len(shape) < 2:
        raise ValueError("array must be at least 2-d")
    end = None
    if len(shape) == 2:
        step = shape[1] + 1
        if not wrap:
            end = shape[1] * shape[1]
    else:
        if len(set(shape)) != 1:
            raise ValueError("All dimensions of input must be of equal length")
        step = 1 + int(np.cumprod(shape[:-1]).sum())
    positions = np.arange(math.prod(shape))[:end:step]
    if positions.size:
        _write_flat(a, positions, _cycled(val, positions.size, dtype_of(a)))


@implements(np.put_along_axis)
def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None) -> None:
    """``numpy.put_along_axis`` into a traced buffer.

    Example:
        >>> import pullback.numpy as pnp
        >>> a = np.zeros((1, 3)); pnp.put_along_axis(a, np.array([[2]]), 1.0, axis=1); a
        array([[0., 0., 1.]])
    """
    if not _writable("put_along_axis", arr, values):
        np.put_along_axis(arr, indices, values, axis)
        return
    indices = np.asarray(indices)
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        _write_flat(arr, indices % max(math.prod(shape_of(arr)), 1),
                    broadcast_to(astype(_array(values), dtype_of(arr)), indices.shape))
        return
    shape = shape_of(arr)
    axis = normalize_axis(axis, len(shape), "put_along_axis")
    if indices.ndim != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    index = []
    for d, n in enumerate(shape):
        if d == axis:
            index.append(indices)
        else:
            s = [1] * len(shape)
            s[d] = n
            index.append(np.arange(n).reshape(s))
    arr[tuple(index)] = values


# ----------------------------------------------------------------------------- r_, c_


class _Concatenator:
    """``r_`` and ``c_``: NumPy's index-trick concatenation, with traced entries."""

    def __init__(self, numpy_obj: Any, axis: int, ndmin: int, trans1d: int):
        self._numpy = numpy_obj
        self._axis, self._ndmin, self._trans1d = axis, ndmin, trans1d

    def __getitem__(self, key: Any) -> Any:
        if not _traced(key if isinstance(key, tuple) else (key,)):
            return self._numpy[key]
        key = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self._axis, self._ndmin, self._trans1d
        objs, kinds = [], []
        for k, item in enumerate(key):
            if isinstance(item, slice):
                start = 0 if item.start is None else item.start
                step = 1 if item.step is None else item.step
                if isinstance(step, (complex, np.complexfloating)):
                    new = np.linspace(start, item.stop, num=int(abs(step)))
                else:
                    new = np.arange(start, item.stop, step)
                if ndmin > 1:
                    new = np.array(new, copy=None, ndmin=ndmin)
                    if trans1d != -1:
                        new = new.swapaxes(-1, trans1d)
                objs.append(new)
                kinds.append(new.dtype)
                continue
            if isinstance(item, str):
                if k != 0:
                    raise ValueError("special directives must be the first entry.")
                if item in ("r", "c"):
                    raise NotImplementedError(
                        "pullback.numpy: the 'r' and 'c' directives make np.matrix objects, "
                        "which cannot hold traced values; use arrays")
                parts = item.split(",")
                try:
                    if len(parts) > 1:
                        axis, ndmin = int(parts[0]), int(parts[1])
                        if len(parts) == 3:
                            trans1d = int(parts[2])
                    else:
                        axis = int(item)
                except ValueError as err:
                    raise ValueError(f"unknown special directive {item!r}") from err
                continue
            if type(item) in np.ScalarType:
                objs.append(item)
                kinds.append(item)
                continue
            arr = _array(item)
            item_ndim = len(shape_of(arr))
            arr = _ndmin(arr, ndmin)
            if trans1d != -1 and item_ndim < ndmin:
                k2 = ndmin - item_ndim
                k1 = trans1d + (k2 + 1 if trans1d < 0 else 0)
                axes = list(range(ndmin))
                arr = transpose(arr, tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))
            objs.append(arr)
            kinds.append(dtype_of(arr))
        dtype = np.result_type(*kinds) if kinds else None
        objs = [_ndmin(astype(o, dtype) if isinstance(o, Tracer) else np.array(
            o, dtype=dtype), ndmin) for o in objs]
        return concatenate(objs, axis=axis)

    def __len__(self) -> int:
        return 0


def _ndmin(a: Any, ndmin: int) -> Any:
    s = shape_of(a)
    if len(s) >= ndmin:
        return a
    new = (1,) * (ndmin - len(s)) + tuple(s)
    return reshape(a, new) if isinstance(a, Tracer) else np.reshape(a, new)


#: ``numpy.r_`` with traced entries: ``pnp.r_[a, b, 0.0]`` concatenates along the first axis
r_ = _Concatenator(np.r_, 0, 1, -1)
#: ``numpy.c_`` with traced entries: 1-d entries become columns
c_ = _Concatenator(np.c_, -1, 2, 0)


# ----------------------------------------------------------------------------- vectorize


class vectorize:  # noqa: N801 - NumPy's name
    """``numpy.vectorize``, differentiable: on traced arguments the Python function is applied
    to each element (a traced scalar) and the results are stacked, so its derivative is the
    function's own, element by element.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> f = pnp.vectorize(lambda v: v * v if v > 0 else -v)
        >>> pb.grad(lambda x: pnp.sum(f(x)))(np.array([-1.0, 2.0]))
        array([-1.,  4.])
    """

    def __init__(self, pyfunc: Callable[..., Any], otypes: Any = None, doc: Any = None,
                 excluded: Any = None, cache: bool = False, signature: Any = None):
        self.pyfunc = pyfunc
        self._numpy = np.vectorize(pyfunc, otypes=otypes, doc=doc, excluded=excluded,
                                   cache=cache, signature=signature)
        self.otypes = otypes
        self.excluded = set(excluded or ())
        self.signature = signature
        self.__doc__ = pyfunc.__doc__ if doc is None else doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _traced(*args, *kwargs.values()):
            return self._numpy(*args, **kwargs)
        if self.signature is not None:
            raise NotImplementedError(
                "pullback.numpy.vectorize: signature= is not supported on traced values; "
                "write the function on whole arrays, or use pb.vmap")
        names = [i for i in range(len(args)) if i not in self.excluded]
        keys = [k for k in kwargs if k not in self.excluded]
        arrays = [_array(args[i]) for i in names] + [_array(kwargs[k]) for k in keys]
        arrays = list(broadcast_arrays(*arrays)) if len(arrays) > 1 else arrays
        shape = shape_of(arrays[0]) if arrays else ()
        results = []
        for index in np.ndindex(*shape):
            call_args, call_kwargs = list(args), dict(kwargs)
            for pos, arr in zip(names, arrays[:len(names)], strict=True):
                call_args[pos] = getitem(arr, index) if isinstance(arr, Tracer) else arr[index]
            for key, arr in zip(keys, arrays[len(names):], strict=True):
                call_kwargs[key] = getitem(arr, index) if isinstance(arr, Tracer) else \
                    arr[index]
            results.append(self.pyfunc(*call_args, **call_kwargs))
        if not results:
            return np.zeros(shape, np.float64 if not self.otypes else self.otypes[0])
        if isinstance(results[0], tuple):
            return tuple(self._assemble([r[k] for r in results], shape, k)
                         for k in range(len(results[0])))
        return self._assemble(results, shape, 0)

    def _assemble(self, values: list, shape: tuple, k: int) -> Any:
        parts = [v if isinstance(v, Tracer) else np.asarray(v) for v in values]
        if not any(isinstance(p, Tracer) for p in parts):
            out = np.array(parts).reshape(shape)
        else:
            out = reshape(_stack0(parts), shape)
        if self.otypes:
            out = astype(out, self.otypes[k]) if isinstance(out, Tracer) else \
                out.astype(self.otypes[k])
        return out


def _stack0(parts: list) -> Any:
    dtype = result_dtype(*parts)
    return concatenate([reshape(astype(p, dtype) if isinstance(p, Tracer) else
                                np.asarray(p, dtype), (1,)) for p in parts], axis=0)
