"""Shapes, dtypes and indexing: linear primitives whose rules are their transposes.

A handful of linear primitives (``reshape``, ``transpose``, ``broadcast_to``, ``astype``,
``concatenate``, ``split``, ``pad``, ``getitem`` and its transpose ``scatter_add``) carry every
function of this family; the rest (``moveaxis``, ``stack``, ``tile``, ``repeat``, ``flip``,
``roll``, ``sort``, ``take``, ``select``, ``diff``, ``interp``...) are exact composites of them,
so their derivatives, in both modes and to any order, come from those few rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.api import stop_gradient
from pullback.core.batching import batch_by_looping
from pullback.core.lax import (
    broadcast_to_p,
    concatenate_p,
    convert,
    reshape_p,
    split_p,
    transpose_p,
)
from pullback.core.reverse import record1
from pullback.core.rules import defbatch, deflinear, defnondiff
from pullback.core.trace import Primitive, Tracer, dtype_of, shape_of
from pullback.numpy import _backends
from pullback.numpy._nondiff import argsort
from pullback.numpy._registry import (
    _check_kwargs,
    apply1,
    batch_front,
    implements,
    method,
    move_to_front,
    new_primitive,
)
from pullback.numpy._util import (
    as_array,
    normalize_axes,
    normalize_axis,
    promote_dtypes,
    scalar_axis,
)
from pullback.numpy.elementwise import (
    add,
    clip,
    divide,
    equal,
    greater,
    less,
    less_equal,
    multiply,
    remainder,
    subtract,
    where,
    where_p,
)

__all__ = [
    "array_split",
    "astype",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "column_stack",
    "concatenate",
    "diff",
    "dstack",
    "expand_dims",
    "flip",
    "fliplr",
    "flipud",
    "getitem",
    "hstack",
    "interp",
    "moveaxis",
    "pad",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "select",
    "sort",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
    "vstack",
]

_NoValue = np._NoValue


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _along(axis: int, index: Any) -> tuple:
    """An index that applies ``index`` to dimension ``axis`` and leaves the others whole."""
    return (slice(None),) * axis + (index,)


# ----------------------------------------------------------------------------- reshape

@implements(np.reshape)
def reshape(a: Any, shape: int | Sequence[int] | None = None, /, *args: Any, **kwargs: Any) -> Any:
    """Differentiable ``numpy.reshape`` (``order`` ``'C'`` or ``'F'``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.reshape(np.arange(6.0), (2, 3)).shape
        (2, 3)
    """
    if shape is None:
        shape = kwargs.pop("newshape", None) if "newshape" in kwargs else kwargs.pop("shape")
    if not isinstance(a, Tracer):
        if type(a) is np.ndarray and not args and not kwargs:
            return a.reshape(shape)
        return np.reshape(a, shape, *args, **kwargs)
    order = args[0] if args else kwargs.pop("order", "C")
    if kwargs:
        _check_kwargs("reshape", {k: v for k, v in kwargs.items() if k != "copy"})
    if type(shape) is not tuple or -1 in shape:
        shape = np.empty(shape_of(a), dtype=np.bool_).reshape(shape).shape  # resolve -1
    if order == "F":
        return transpose(reshape(transpose(a), shape[::-1]))
    if order not in ("C", "A", "K"):  # a traced value has no memory layout: 'A', 'K' are 'C'
        raise ValueError(f"reshape: order must be one of 'C', 'F', 'A', 'K', got {order!r}")
    if shape == a.shape:
        return a
    return reshape_p.bind(a, shape=shape)


def ravel(a: Any, order: str = "C") -> Any:
    """Differentiable ``numpy.ravel`` (``order`` ``'C'`` or ``'F'``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ravel(np.ones((2, 3))).shape
        (6,)
    """
    if not isinstance(a, Tracer):
        return np.ravel(a, order)
    return reshape(a, (-1,), order=order)


implements(np.ravel)(ravel)


# ----------------------------------------------------------------------------- transpose

@implements(np.transpose)
def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.transpose``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.transpose(np.ones((2, 3))).shape
        (3, 2)
    """
    if not isinstance(a, Tracer):
        return np.transpose(a, axes)
    nd = a.ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    else:
        axes = normalize_axes(axes, nd, "transpose", sort=False)
        if len(axes) != nd:
            raise ValueError(f"transpose: axes {axes} don't match an array of {nd} dimensions")
    if axes == tuple(range(nd)):
        return a
    params = {"axes": axes}
    out = record1(transpose_p, a, params)  # the eager reverse-mode case in one step
    return transpose_p.bind(a, **params) if out is None else out


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Differentiable ``numpy.swapaxes``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.swapaxes(np.ones((2, 3, 4)), 0, 2).shape
        (4, 3, 2)
    """
    if not isinstance(a, Tracer):
        return np.swapaxes(a, axis1, axis2)
    axes = list(range(a.ndim))
    i, j = normalize_axis(axis1, a.ndim, "swapaxes"), normalize_axis(axis2, a.ndim, "swapaxes")
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


implements(np.swapaxes)(swapaxes)


@implements(np.moveaxis)
def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.moveaxis``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.moveaxis(np.ones((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    if not isinstance(a, Tracer):
        return np.moveaxis(a, source, destination)
    src = normalize_axes(source, a.ndim, "moveaxis", sort=False)
    dst = normalize_axes(destination, a.ndim, "moveaxis", sort=False)
    if len(src) != len(dst):
        raise ValueError("moveaxis: `source` and `destination` must have the same number of axes")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(a, order)


# ----------------------------------------------------------------------------- broadcasting


@implements(np.broadcast_to)
def broadcast_to(array: Any, shape: int | Sequence[int], subok: bool = False) -> Any:
    """Differentiable ``numpy.broadcast_to``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.broadcast_to(np.array([1.0, 2.0]), (3, 2)).shape
        (3, 2)
    """
    if not isinstance(array, Tracer):
        if not subok and type(array) is not np.ndarray and _backends.foreign(array):
            return np.broadcast_to(array, shape)  # Dask's takes no subok
        return np.broadcast_to(array, shape, subok=subok)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if shape == array.shape:
        return array
    if len(shape) < array.ndim:
        raise ValueError(
            f"broadcast_to: cannot broadcast an array of shape {array.shape} to the shorter "
            f"shape {shape}"
        )
    return broadcast_to_p.bind(array, shape=shape)


@implements(np.broadcast_arrays)
def broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    """Differentiable ``numpy.broadcast_arrays``: the arguments broadcast to one shape.

    Example:
        >>> import pullback.numpy as pnp
        >>> [a.shape for a in pnp.broadcast_arrays(np.ones(3), np.ones((2, 1)))]
        [(2, 3), (2, 3)]
    """
    if not _traced(*args):
        return tuple(np.broadcast_arrays(*args, subok=subok))
    shape = np.broadcast_shapes(*(shape_of(a) for a in args))
    return tuple(broadcast_to(a, shape) for a in args)


# ----------------------------------------------------------------------------- dtypes

def astype(x: Any, dtype: Any) -> Any:
    """``x`` converted to ``dtype``; floating conversions are differentiable.

    Converting to an integer or boolean dtype drops the derivative (the result is a constant).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.astype(np.array([1.5]), np.float32).dtype
        dtype('float32')
    """
    dtype = np.dtype(dtype)
    if not isinstance(x, Tracer):
        if type(x) is not np.ndarray and backends.library(x) != "numpy":
            return x.astype(dtype)  # a Dask or CuPy array stays in its library
        return np.asarray(x).astype(dtype)
    return convert(x, dtype)


# ----------------------------------------------------------------------------- dims


def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.expand_dims``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.expand_dims(np.ones(3), 0).shape
        (1, 3)
    """
    shape = tuple(shape_of(a))
    if type(axis) is int and -len(shape) - 1 <= axis <= len(shape):
        new = list(shape)
        new.insert(axis % (len(shape) + 1), 1)
        new_shape = tuple(new)
    else:
        new_shape = np.expand_dims(np.empty(shape, np.bool_), axis).shape
    if not isinstance(a, Tracer) and type(a) is not np.ndarray:
        return np.expand_dims(a, axis)
    return reshape(a, new_shape)


def squeeze(a: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.squeeze``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.squeeze(np.ones((1, 3, 1))).shape
        (3,)
    """
    if not isinstance(a, Tracer):
        return np.squeeze(a, axis)
    return reshape(a, np.squeeze(np.empty(a.shape, np.bool_), axis).shape)


implements(np.expand_dims)(expand_dims)
implements(np.squeeze)(squeeze)


def _atleast(arys: tuple, ndim: int) -> Any:
    """NumPy's layouts: () -> (1, ...); (n,) -> (1, n) or (1, n, 1); (m, n) -> (m, n, 1)."""
    out = []
    for a in arys:
        s = shape_of(a)
        if len(s) < ndim:
            if len(s) == 0:
                new = (1,) * ndim
            elif len(s) == 1:
                new = (1,) + s + (1,) * (ndim - 2)
            else:
                new = s + (1,)
            a = reshape(a, new) if isinstance(a, Tracer) else np.reshape(a, new)
        elif not isinstance(a, Tracer):
            a = np.asanyarray(a)
        out.append(a)
    return out[0] if len(out) == 1 else tuple(out)


@implements(np.atleast_1d)
def atleast_1d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_1d``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.atleast_1d(np.float64(2.0)).shape
        (1,)
    """
    return _atleast(arys, 1)


@implements(np.atleast_2d)
def atleast_2d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_2d``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.atleast_2d(np.ones(3)).shape
        (1, 3)
    """
    return _atleast(arys, 2)


@implements(np.atleast_3d)
def atleast_3d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_3d``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.atleast_3d(np.ones(3)).shape
        (1, 3, 1)
    """
    return _atleast(arys, 3)


# ----------------------------------------------------------------------------- concatenate

@implements(np.concatenate)
def concatenate(arrays: Sequence[Any], axis: int | None = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.concatenate``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.concatenate([np.ones(2), np.zeros(3)]).shape
        (5,)
    """
    arrays = list(arrays)
    if not _traced(*arrays):
        return np.concatenate(arrays, axis=axis, **kwargs)
    _check_kwargs("concatenate", {k: v for k, v in kwargs.items() if k != "casting"})
    # lists, tuples and Python numbers are array-likes, as in NumPy
    arrays = [a if isinstance(a, Tracer) else as_array(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    arrays = list(promote_dtypes(*arrays))
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, ndim, "concatenate")
    for i, a in enumerate(arrays):
        s = a.shape
        if len(s) != ndim or s[:axis] + s[axis + 1:] != arrays[0].shape[:axis] + \
                arrays[0].shape[axis + 1:]:
            raise ValueError(
                f"concatenate: array {i} has shape {s}, which does not match the shape "
                f"{arrays[0].shape} of array 0 except along axis {axis}"
            )
    if len(arrays) == 1:
        return arrays[0]
    like = next((a for a in arrays if not backends.numpy_based(a)), None)
    if like is not None:  # constants (lists, numbers, a rule's zeros) into like's library
        arrays = [backends.constant(a, like) if type(a) is np.ndarray else a for a in arrays]
    return concatenate_p.bind(*arrays, axis=axis)


@implements(np.stack)
def stack(arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.stack``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.stack([np.ones(2), np.zeros(2)]).shape
        (2, 2)
    """
    arrays = list(arrays)
    if not _traced(*arrays):
        return np.stack(arrays, axis=axis, **kwargs)
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {shapes}")
    axis = normalize_axis(axis, len(shapes.pop()) + 1, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis, **kwargs)


@implements(np.hstack)
def hstack(tup: Sequence[Any], **kwargs: Any) -> Any:
    """Differentiable ``numpy.hstack``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.hstack([np.ones((2, 1)), np.zeros((2, 3))]).shape
        (2, 4)
    """
    if not _traced(*tup):
        return np.hstack(tup, **kwargs)
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if arrs and arrs[0].ndim == 1 else 1, **kwargs)


@implements(np.vstack)
def vstack(tup: Sequence[Any], **kwargs: Any) -> Any:
    """Differentiable ``numpy.vstack``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.vstack([np.ones(3), np.zeros(3)]).shape
        (2, 3)
    """
    if not _traced(*tup):
        return np.vstack(tup, **kwargs)
    return concatenate([atleast_2d(a) for a in tup], axis=0, **kwargs)


@implements(np.dstack)
def dstack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.dstack``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.dstack([np.ones((2, 3)), np.zeros((2, 3))]).shape
        (2, 3, 2)
    """
    if not _traced(*tup):
        return np.dstack(tup)
    return concatenate([atleast_3d(a) for a in tup], axis=2)


@implements(np.column_stack)
def column_stack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.column_stack``: 1-d arrays become columns.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.column_stack([np.ones(3), np.zeros((3, 2))]).shape
        (3, 3)
    """
    if not _traced(*tup):
        return np.column_stack(tup)
    cols = [reshape(a, (-1, 1)) if len(shape_of(a)) < 2 else a for a in tup]
    return concatenate(cols, axis=1)


# ----------------------------------------------------------------------------- split

def _split(ary: Any, indices_or_sections: Any, axis: int, who: str, even: bool) -> list:
    axis = normalize_axis(axis, len(shape_of(ary)), who)
    n = shape_of(ary)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"{who}: number of sections must be larger than 0, got {k}")
        if even and n % k:
            raise ValueError(
                f"{who}: array split does not result in an equal division ({n} along axis "
                f"{axis} into {k} sections); use array_split for unequal pieces"
            )
        q, r = divmod(n, k)
        sizes = (q + 1,) * r + (q,) * (k - r)
        bounds = [(s - z, s) for s, z in zip(np.cumsum(sizes).tolist(), sizes, strict=True)]
    else:
        cuts = [0] + [int(i) for i in indices_or_sections] + [n]
        bounds = [slice(a, b).indices(n)[:2] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        bounds = [(a, max(a, b)) for a, b in bounds]
    tiles = bounds[0][0] == 0 and bounds[-1][1] == n and all(
        b0[1] == b1[0] for b0, b1 in zip(bounds[:-1], bounds[1:], strict=True))
    if not tiles:  # overlapping or gapped pieces, as NumPy allows: plain slices
        return [getitem(ary, _along(axis, slice(a, b))) for a, b in bounds]
    if len(bounds) == 1:  # one piece: the whole array (split_p needs two or more)
        return [ary]
    return list(split_p.bind(ary, sizes=tuple(b - a for a, b in bounds), axis=axis))


@implements(np.split)
def split(ary: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Differentiable ``numpy.split``: equal sections, or pieces between given indices.

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.split(np.ones(6), 3)]
        [(2,), (2,), (2,)]
    """
    if not isinstance(ary, Tracer):
        return np.split(ary, indices_or_sections, axis)
    return _split(ary, indices_or_sections, axis, "split", True)


@implements(np.array_split)
def array_split(ary: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Differentiable ``numpy.array_split``: like ``split``, sections may be unequal.

    Example:
        >>> import pullback.numpy as pnp
        >>> [p.shape for p in pnp.array_split(np.ones(5), 2)]
        [(3,), (2,)]
    """
    if not isinstance(ary, Tracer):
        return np.array_split(ary, indices_or_sections, axis)
    return _split(ary, indices_or_sections, axis, "array_split", False)


# ----------------------------------------------------------------------------- tile, repeat


@implements(np.tile)
def tile(A: Any, reps: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.tile`` (a broadcast between two reshapes).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.tile(np.ones((2, 3)), (2, 1, 2)).shape
        (2, 2, 6)
    """
    if not isinstance(A, Tracer):
        return np.tile(A, reps)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    nd = max(len(reps), A.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - A.ndim) + A.shape
    inter = reshape(A, tuple(d for n in shape for d in (1, n)))
    inter = broadcast_to(inter, tuple(d for r, n in zip(reps, shape, strict=True) for d in (r, n)))
    return reshape(inter, tuple(r * n for r, n in zip(reps, shape, strict=True)))


@implements(np.repeat)
def repeat(a: Any, repeats: int | Sequence[int], axis: int | None = None) -> Any:
    """Differentiable ``numpy.repeat``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.repeat(np.array([1.0, 2.0]), 2)
        array([1., 1., 2., 2.])
    """
    if not isinstance(a, Tracer):
        return np.repeat(a, repeats, axis)
    if axis is None or scalar_axis(axis, a.ndim):  # NumPy: a 0-d array as shape (1,)
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim, "repeat")
    reps = np.asarray(stop_gradient(repeats))
    n = a.shape[axis]
    if reps.size == 1:
        r = int(reps.reshape(()))
        if r < 0:
            raise ValueError(f"repeat: repeats may not contain negative values, got {r}")
        inter = expand_dims(a, axis + 1)
        inter = broadcast_to(inter, a.shape[:axis + 1] + (r,) + a.shape[axis + 1:])
        return reshape(inter, a.shape[:axis] + (n * r,) + a.shape[axis + 1:])
    index = np.repeat(np.arange(n), reps)  # NumPy's own checks of the counts
    return getitem(a, _along(axis, index))


# ----------------------------------------------------------------------------- flip, roll


@implements(np.flip)
def flip(m: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.flip``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.flip(np.array([1.0, 2.0, 3.0]))
        array([3., 2., 1.])
    """
    if not isinstance(m, Tracer):
        return np.flip(m, axis)
    axes = normalize_axes(axis, m.ndim, "flip", sort=False)
    if not axes:
        return m
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None)
                            for i in range(m.ndim)))


@implements(np.fliplr)
def fliplr(m: Any) -> Any:
    """Differentiable ``numpy.fliplr`` (reverse axis 1).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.fliplr(np.array([[1.0, 2.0]]))
        array([[2., 1.]])
    """
    if not isinstance(m, Tracer):
        return np.fliplr(m)
    if m.ndim < 2:
        raise ValueError(f"fliplr: the input must be at least 2-d, got shape {m.shape}")
    return flip(m, 1)


@implements(np.flipud)
def flipud(m: Any) -> Any:
    """Differentiable ``numpy.flipud`` (reverse axis 0).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.flipud(np.array([1.0, 2.0]))
        array([2., 1.])
    """
    if not isinstance(m, Tracer):
        return np.flipud(m)
    if m.ndim < 1:
        raise ValueError("flipud: the input must be at least 1-d, got a 0-d array")
    return flip(m, 0)


@implements(np.roll)
def roll(a: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.roll`` (a concatenation of two slices per rolled axis).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.roll(np.array([1.0, 2.0, 3.0]), 1)
        array([3., 1., 2.])
    """
    if not isinstance(a, Tracer):
        return np.roll(a, shift, axis)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts: dict[int, int] = {}
    for s, ax in np.broadcast(np.asarray(shift), np.asarray(axis)):
        ax = normalize_axis(int(ax), a.ndim, "roll")
        shifts[ax] = shifts.get(ax, 0) + int(s)
    for ax, s in shifts.items():
        n = a.shape[ax]
        s = s % n if n else 0
        if s:
            a = concatenate([getitem(a, _along(ax, slice(n - s, None))),
                             getitem(a, _along(ax, slice(0, n - s)))], axis=ax)
    return a


# ----------------------------------------------------------------------------- pad

def _pad_zeros_impl(x: Any, widths: tuple) -> np.ndarray:
    return np.pad(x, widths, mode="constant")


pad_p = new_primitive("pad", _pad_zeros_impl)
deflinear(pad_p, lambda g, x, widths: getitem(
    g, tuple(slice(b, b + n) for (b, _), n in zip(widths, shape_of(x), strict=True))))
defbatch(pad_p, lambda vals, batched, params, size: pad_p.bind(
    vals[0], widths=((0, 0),) + tuple(params["widths"])))

_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


@implements(np.pad)
def _pad_fill(cv: Tracer, shape: tuple, widths: tuple, dtype: Any) -> Any:
    """The borders of a constant pad filled from a traced ``constant_values`` of per-axis
    pairs (anything that broadcasts to ``(ndim, 2)``), zeros inside. Which pair fills each
    border cell (at a corner, the later axis) is decided by NumPy itself: the pad of a
    ``-1`` array with the pairs' positions ``0 .. 2 * ndim - 1`` as its fill values."""
    nd = len(shape)
    try:
        fits = nd > 0 and np.broadcast_shapes(cv.shape, (nd, 2)) == (nd, 2)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"pullback.numpy.pad: constant_values of shape {cv.shape} does not broadcast to "
            f"(ndim, 2) = ({nd}, 2), one (before, after) pair per axis; pass a scalar, a pair, "
            "or one pair per axis"
        )
    codes = np.arange(2 * nd).reshape(nd, 2)
    owner = np.pad(np.full(shape, -1, np.int64), widths, constant_values=codes)
    pairs = reshape(broadcast_to(astype(cv, dtype), (nd, 2)), (2 * nd,))
    fill = getitem(pairs, np.maximum(owner, 0))
    border = owner >= 0
    return fill if border.all() else multiply(fill, backends.constant(border.astype(dtype), cv))


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Differentiable ``numpy.pad`` for modes ``constant``, ``edge``, ``reflect``,
    ``symmetric`` and ``wrap``: in ``array``, and in ``constant_values`` (a scalar, a pair
    or one pair per axis).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.pad(np.array([1.0, 2.0]), (1, 2), mode="edge")
        array([1., 1., 2., 2., 2.])
    """
    if not _traced(array, kwargs.get("constant_values")):
        return np.pad(array, pad_width, mode=mode, **kwargs)
    nd = len(shape_of(array))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must not contain negative values, got {pad_width!r}")
    widths = tuple((int(b), int(e)) for b, e in widths.tolist())
    if mode == "constant":
        unknown = set(kwargs) - {"constant_values"}
        if unknown:
            raise TypeError(f"pad: unsupported keyword argument(s) {sorted(unknown)} for "
                            "mode 'constant'")

        cv = kwargs.get("constant_values", 0)
        padded = any(b or e for b, e in widths)
        if not isinstance(array, Tracer):
            array = np.asarray(array)
            out = np.pad(array, widths)
        else:
            out = pad_p.bind(array, widths=widths) if padded else array
        zeros = np.zeros(shape_of(array), dtype_of(array))
        if isinstance(cv, Tracer):  # a traced fill value: differentiable too
            if type(out) is np.ndarray:  # a constant array: into cv's library
                out = backends.constant(out, cv)
            if not cv.ndim:
                border = backends.constant(np.pad(zeros, widths, constant_values=1), cv)
                return add(out, multiply(border, astype(cv, dtype_of(array))))
            return add(out, _pad_fill(cv, zeros.shape, widths, dtype_of(array)))
        if np.any(np.asarray(cv) != 0):
            out = add(out, backends.constant(np.pad(zeros, widths, constant_values=cv), out))
        return out
    if mode not in _INDEX_MODES:
        raise NotImplementedError(
            f"pullback.numpy.pad: mode {mode!r} has no derivative rule yet; use one of "
            f"'constant', {', '.join(repr(m) for m in _INDEX_MODES)}"
        )
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError(
            "pullback.numpy.pad: reflect_type='odd' is not supported on traced values; "
            "use the default 'even'"
        )
    unknown = set(kwargs) - {"reflect_type"}
    if unknown:
        raise TypeError(f"pad: unsupported keyword argument(s) {sorted(unknown)} for mode "
                        f"{mode!r}")
    out = array
    for ax, (b, e) in enumerate(widths):
        if b or e:
            # which source element each output position copies, by NumPy's own rules
            index = np.pad(np.arange(array.shape[ax]), (b, e), mode=mode)
            out = getitem(out, _along(ax, index))
    return out


# ----------------------------------------------------------------------------- indexing


def _is_advanced(i: Any) -> bool:
    return isinstance(i, (np.ndarray, list))


def _has_advanced(idx: tuple) -> bool:
    for i in idx:
        if isinstance(i, (np.ndarray, list)):  # _is_advanced, inline
            return True
    return False


def _scatter_add_impl(g: Any, shape: tuple, dtype: Any, idx: tuple) -> np.ndarray:
    if type(g) is not np.ndarray and _backends.foreign(g):
        return _backends.scatter_add(g, shape, dtype, idx, "getitem")
    out = np.zeros(shape, dtype)
    if _has_advanced(idx):
        np.add.at(out, idx, g)
    else:
        out[idx] = g
    return out


def _getitem_impl(x: Any, idx: tuple) -> Any:
    if type(x) is np.ndarray or not _backends.foreign(x):
        return x[idx]
    return _backends.getitem(x, idx)


getitem_p = new_primitive("getitem", _getitem_impl)
scatter_add_p = new_primitive("scatter_add", _scatter_add_impl)
deflinear(getitem_p, lambda g, x, idx: _apply1(scatter_add_p, g, {
    "shape": shape_of(x), "dtype": dtype_of(x), "idx": idx}))
deflinear(scatter_add_p, lambda g, u, shape, dtype, idx: _apply1(getitem_p, g, {"idx": idx}))


def _apply1(prim: Primitive, g: Any, params: dict) -> Any:
    """``prim.bind(g, **params)``; in one step for a traced ``g`` (:func:`apply1`)."""
    if isinstance(g, Tracer):
        return apply1(prim, g, params)
    return prim.bind(g, **params)


# vmap of indexing. NumPy puts the axes of the advanced entries (integer arrays and masks, with
# the integers among them) where the first of them stands when they are next to each other,
# and in front when they are apart; the batch axis has to be found again after indexing.


def _index_entry(i: Any, batched: bool = False) -> tuple[str, int, int]:
    """``(kind, axes of x it consumes, axes it adds to the advanced broadcast shape)``."""
    if i is None:
        return "new", 0, 0
    if i is Ellipsis:
        return "ellipsis", 0, 0
    if isinstance(i, slice):
        return "slice", 1, 0
    if isinstance(i, (bool, np.bool_)):
        return "array", 0, 1
    if isinstance(i, (int, np.integer)):
        return "int", 1, 0
    ndim = len(shape_of(i)) - batched
    if dtype_of(i) == np.bool_:
        return "array", ndim, 1  # a mask: one axis, as long as its count of True
    return ("array", 1, ndim) if ndim else ("int", 1, 0)  # a 0-d integer array is an integer


def _index_layout(entries: list, ndim: int) -> tuple[bool, bool, int, int]:
    """For an index described by :func:`_index_entry` into ``ndim`` axes: whether it has
    advanced entries, whether they stand next to each other, the rank of their broadcast
    shape, and how many axes of the result come before theirs when they stand together."""
    arrays = any(kind == "array" for kind, _, _ in entries)
    fancy = [n for n, (kind, _, _) in enumerate(entries)
             if kind == "array" or (arrays and kind == "int")]
    together = fancy == list(range(fancy[0], fancy[-1] + 1)) if fancy else True
    rank = max((d for _, _, d in entries), default=0)
    spread = ndim - sum(c for _, c, _ in entries)  # the axes an Ellipsis stands for
    first = fancy[0] if fancy else len(entries)
    before = sum(1 if kind in ("slice", "new") else spread if kind == "ellipsis" else 0
                 for kind, _, _ in entries[:first])
    return arrays, together, rank, before


def _static_layout(idx: tuple, ndim: int) -> tuple[bool, int]:
    """For a constant index with ``slice(None)`` put in front for the batch axis: whether
    NumPy moves the batch axis (behind the advanced axes), and the rank of those."""
    for i in idx:
        if type(i) is not slice and type(i) is not int:
            break
    else:  # basic indexing by slices and integers (x[0::2]): nothing moves
        return False, 0
    arrays, together, rank, _ = _index_layout([_index_entry(i) for i in idx], ndim)
    return arrays and not together, rank


def _getitem_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    idx = params["idx"]
    out = getitem_p.bind(vals[0], idx=(slice(None),) + tuple(idx))
    moved, rank = _static_layout(idx, len(shape_of(vals[0])) - 1)
    return move_to_front(out, rank) if moved else out


def _to_index_layout(g: Any, idx: tuple, ndim: int) -> Any:
    """A batched value laid out like ``x[idx]`` per entry, laid out like ``x[(:,) + idx]``
    (the batch axis behind the advanced axes, where NumPy moves them to the front)."""
    moved, rank = _static_layout(idx, ndim)
    if not moved:
        return g
    nd = len(shape_of(g))
    return lax.transpose(g, tuple(range(1, rank + 1)) + (0,) + tuple(range(rank + 1, nd)))


def _scatter_add_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    shape, idx = tuple(params["shape"]), tuple(params["idx"])
    g = _to_index_layout(vals[0], idx, len(shape))
    return scatter_add_p.bind(g, shape=(size,) + shape, dtype=params["dtype"],
                              idx=(slice(None),) + idx)


defbatch(getitem_p, _getitem_batch)
defbatch(scatter_add_p, _scatter_add_batch)


def _normalize_index(idx: Any, who: str = "getitem") -> tuple:
    """``idx`` as a tuple of ints, slices, ``None``, ``Ellipsis`` and constant arrays."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tracer):
            if not np.issubdtype(i.dtype, np.integer) and i.dtype != np.bool_:
                raise IndexError(
                    f"{who}: a traced value of dtype {i.dtype} cannot be used as an index; "
                    "indices must be integers, slices or boolean masks (use .astype(int))"
                )
            i = stop_gradient(i)  # a constant, or still a value under vmap
        if isinstance(i, list):
            i = np.asarray(i)
            if i.size == 0:  # NumPy reads an empty list as an empty integer index
                i = i.astype(np.intp)
        out.append(i)
    return tuple(out)


_WHOLE = slice(None)


def getitem(x: Any, idx: Any) -> Any:
    """``x[idx]``, differentiable: basic indexing (ints, slices with any step, ``None``,
    ``Ellipsis``) and advanced indexing (integer arrays, repeated entries allowed, and boolean
    masks), as in NumPy. The transpose of a gather is a scatter-add, so repeated indices
    accumulate their cotangents.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.getitem(np.arange(5.0), slice(1, 3))
        array([1., 2.])
    """
    if not isinstance(x, Tracer):
        if not (isinstance(idx, Tracer) or isinstance(idx, tuple) and _traced(*idx)):
            return x[idx]
        idx = _normalize_index(idx)
        if not _traced(*idx):
            return x[idx]
    if type(idx) is slice and idx != _WHOLE:  # x[a:b:c], the common case: nothing to check
        return apply1(getitem_p, x, {"idx": (idx,)})
    idx = _normalize_index(idx)
    if any(isinstance(i, Tracer) for i in idx):  # indices that are values (under vmap)
        dyn = tuple(i for i in idx if isinstance(i, Tracer))
        slots = iter(range(len(dyn)))
        template = tuple(_Slot(next(slots)) if isinstance(i, Tracer) else i for i in idx)
        return getitem_dyn_p.bind(x, *dyn, template=template)
    if len(idx) <= x.ndim and all(isinstance(i, slice) and i == slice(None) for i in idx):
        return x
    return apply1(getitem_p, x, {"idx": idx})


# ----------------------------------------------------------------------------- index operands
#
# Gathers whose integer indices are operands rather than static parameters: the indices may
# then be computed from the data (argsort, searchsorted) under every transformation, vmap
# included, where they are values rather than constants. Linear in the first operand; the
# index operands carry no derivative.


class _Slot:
    """A placeholder in an index template for the ``k``-th index operand."""

    __slots__ = ("k",)

    def __init__(self, k: int):
        self.k = k

    def __repr__(self) -> str:
        return f"<index operand {self.k}>"


def _fill(template: tuple, dyn: tuple) -> tuple:
    return tuple(dyn[i.k] if isinstance(i, _Slot) else i for i in template)


def _scatter_dyn_impl(g: Any, *dyn: Any, shape: tuple, dtype: Any, template: tuple) -> Any:
    if type(g) is not np.ndarray and _backends.foreign(g, *dyn):
        return _backends.scatter_add(g, shape, dtype, _fill(template, dyn), "getitem")
    out = np.zeros(shape, dtype)
    np.add.at(out, _fill(template, dyn), g)
    return out


getitem_dyn_p = new_primitive("getitem_dyn",
                              lambda x, *dyn, template: _getitem_impl(x, _fill(template, dyn)))
scatter_dyn_p = new_primitive("scatter_dyn", _scatter_dyn_impl)
deflinear(getitem_dyn_p, lambda g, x, *dyn, template: scatter_dyn_p.bind(
    g, *dyn, shape=shape_of(x), dtype=dtype_of(x), template=template))
deflinear(scatter_dyn_p, lambda g, u, *dyn, shape, dtype, template: getitem_dyn_p.bind(
    g, *dyn, template=template))


def _dyn_batched_index(template: tuple, dyn: list, batched: list, size: int, ndim: int,
                       shared: bool) -> tuple[tuple, list, tuple]:
    """The template and operands that index a batched array in one go when index operands
    differ between entries: a leading ``arange(size)`` (``zeros`` for an array ``shared`` by
    every entry, given a leading axis of 1) joins the advanced entries, each operand's batch
    axis lined up with it. Also the leading part of the permutation that brings NumPy's
    result (advanced axes first) into the layout of one entry's result (empty when they
    agree)."""
    entries = [_index_entry(dyn[i.k], batched[i.k]) if isinstance(i, _Slot) else _index_entry(i)
               for i in template]
    arrays, together, rank, before = _index_layout(entries, ndim)
    lined = []
    for d, b in zip(dyn, batched, strict=True):
        s = tuple(shape_of(d))
        lined.append(lax.reshape(d, (size,) + (1,) * (rank - len(s) + 1) + s[1:]) if b else d)
    lead = (np.zeros if shared else np.arange)(size, dtype=np.intp)
    new_template = (lead.reshape((size,) + (1,) * rank),) + tuple(template)
    head: tuple = ()
    if arrays and together and before:  # one entry's result keeps `before` axes in front
        head = (0,) + tuple(range(1 + rank, 1 + rank + before)) + tuple(range(1, 1 + rank))
    return new_template, lined, head


def _full_perm(head: tuple, ndim: int) -> tuple:
    return head + tuple(range(len(head), ndim))


def _has_batched_mask(dyn: list, batched: list) -> bool:
    return any(b and dtype_of(d) == np.bool_ for d, b in zip(dyn, batched, strict=True))


_MASK_LOOP = ("a boolean mask that differs between entries selects a different number of "
              "elements in each: such entries are indexed one by one")
_getitem_dyn_loop = batch_by_looping(getitem_dyn_p, _MASK_LOOP)
_scatter_dyn_loop = batch_by_looping(scatter_dyn_p, _MASK_LOOP)


def _getitem_dyn_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    x, dyn, template = vals[0], list(vals[1:]), params["template"]
    if _has_batched_mask(dyn, batched[1:]):  # a mask per entry: its count of True differs
        return _getitem_dyn_loop(vals, batched, params, size)
    ndim = len(shape_of(x)) - batched[0]
    if not any(batched[1:]):  # one index for every entry: as for constant indices
        out = getitem_dyn_p.bind(x, *dyn, template=(slice(None),) + tuple(template))
        moved, rank = _static_layout(_fill(template, dyn), ndim)
        return move_to_front(out, rank) if moved else out
    new_template, lined, head = _dyn_batched_index(template, dyn, list(batched[1:]), size,
                                                   ndim, shared=not batched[0])
    if not batched[0]:
        x = lax.reshape(x, (1,) + tuple(shape_of(x)))
    out = getitem_dyn_p.bind(x, *lined, template=new_template)
    return lax.transpose(out, _full_perm(head, len(shape_of(out))))


def _scatter_dyn_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    g, dyn, template = vals[0], list(vals[1:]), params["template"]
    shape, dtype = tuple(params["shape"]), params["dtype"]
    if _has_batched_mask(dyn, batched[1:]):
        return _scatter_dyn_loop(vals, batched, params, size)
    g = batch_front(g, batched[0], size)
    if not any(batched[1:]):  # one index for every entry: as for constant indices
        g = _to_index_layout(g, _fill(template, dyn), len(shape))
        return scatter_dyn_p.bind(g, *dyn, shape=(size,) + shape, dtype=dtype,
                                  template=(slice(None),) + tuple(template))
    new_template, lined, head = _dyn_batched_index(template, dyn, list(batched[1:]), size,
                                                   len(shape), shared=False)
    full = _full_perm(head, len(shape_of(g)))
    g = lax.transpose(g, tuple(int(i) for i in np.argsort(full)))
    return scatter_dyn_p.bind(g, *lined, shape=(size,) + shape, dtype=dtype,
                              template=new_template)


defbatch(getitem_dyn_p, _getitem_dyn_batch)
defbatch(scatter_dyn_p, _scatter_dyn_batch)
# vectorised, but for masks that differ between entries (declared, as batch_by_looping does)
_getitem_dyn_batch.loop_reason = _MASK_LOOP  # type: ignore[attr-defined]
_scatter_dyn_batch.loop_reason = _MASK_LOOP  # type: ignore[attr-defined]


def _take_add_impl(g: Any, indices: Any, shape: tuple, dtype: Any, axis: int,
                   mode: str) -> np.ndarray:
    if type(indices) is not np.ndarray and _backends.foreign(indices):  # lazy indices
        where = _backends.lazy_positions(indices, shape[axis], mode)
        return _backends.take_add(g, where, shape, dtype, axis)
    where = np.take(np.arange(shape[axis]), indices, mode=mode)  # wrapped, clipped, checked
    if type(g) is not np.ndarray and _backends.foreign(g):
        return _backends.scatter_add(g, shape, dtype, _along(axis, where), "take")
    out = np.zeros(shape, dtype)
    np.add.at(out, _along(axis, where), g)
    return out


def _take_impl(x: Any, indices: Any, axis: int, mode: str) -> Any:
    if type(x) is np.ndarray and type(indices) is np.ndarray or not _backends.foreign(x, indices):
        return np.take(x, indices, axis, mode=mode)
    return _backends.take(x, indices, axis, mode)


take_p = new_primitive("take", _take_impl)
take_add_p = new_primitive("take_add", _take_add_impl)
deflinear(take_p, lambda g, x, indices, axis, mode: take_add_p.bind(
    g, indices, shape=shape_of(x), dtype=dtype_of(x), axis=axis, mode=mode))
deflinear(take_add_p, lambda g, u, indices, shape, dtype, axis, mode: take_p.bind(
    g, indices, axis=axis, mode=mode))


def _along_index(indices: np.ndarray, shape: tuple, axis: int) -> tuple:
    """The advanced index of ``take_along_axis``: ``indices`` on ``axis``, ranges elsewhere."""
    nd = len(shape)
    return tuple(
        indices if d == axis else np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
        for d, n in enumerate(shape)
    )


def _take_along_add_impl(g: Any, indices: Any, shape: tuple, dtype: Any, axis: int) -> Any:
    if type(g) is not np.ndarray and _backends.foreign(g, indices):
        return _backends.take_along_add(g, indices, shape, dtype, axis)
    out = np.zeros(shape, dtype)
    np.add.at(out, _along_index(indices, shape, axis), g)
    return out


def _take_along_impl(x: Any, indices: Any, axis: int) -> Any:
    if type(x) is np.ndarray and type(indices) is np.ndarray or not _backends.foreign(x, indices):
        return np.take_along_axis(x, indices, axis=axis)
    return _backends.take_along(x, indices, axis)


take_along_p = new_primitive("take_along_axis", _take_along_impl)
take_along_add_p = new_primitive("take_along_axis_add", _take_along_add_impl)
deflinear(take_along_p, lambda g, x, indices, axis: take_along_add_p.bind(
    g, indices, shape=shape_of(x), dtype=dtype_of(x), axis=axis))
deflinear(take_along_add_p, lambda g, u, indices, shape, dtype, axis: take_along_p.bind(
    g, indices, axis=axis))


def _lead(v: Any, batched: bool) -> Any:
    """``v`` with the batch axis in front, of length 1 (to broadcast) when it has none."""
    return v if batched else lax.reshape(v, (1,) + tuple(shape_of(v)))


def _per_entry_indices(indices: Any, n: int, mode: str, before: int, after: int) -> Any:
    """Batched ``take`` indices (batch axis first) as ``take_along_axis`` indices of rank
    ``1 + before + 1 + after``: wrapped or clipped by ``mode`` (as ``take`` does, by a take
    from ``arange(n)``), flattened after the batch axis, between axes of length 1."""
    indices = take_p.bind(np.arange(n), indices, axis=0, mode=mode)
    s = tuple(shape_of(indices))
    flat = int(np.prod(s[1:], dtype=np.int64))
    return lax.reshape(indices, (s[0],) + (1,) * before + (flat,) + (1,) * after)


def _take_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    (x, indices), (bx, bi), axis = vals, batched, params["axis"]
    if not bi:  # one set of indices: the axis moves past the batch axis
        return take_p.bind(x, indices, axis=axis + 1, mode=params["mode"])
    if not bx:  # one array: NumPy puts the indices' axes (the batch axis first) at `axis`
        return move_to_front(take_p.bind(x, indices, **params), axis)
    # both differ between entries: a take along the axis, entry by entry
    xs, rest = tuple(shape_of(x)), tuple(shape_of(indices)[1:])
    ind = _per_entry_indices(indices, xs[axis + 1], params["mode"], axis, len(xs) - axis - 2)
    out = take_along_p.bind(x, ind, axis=axis + 1)
    return lax.reshape(out, xs[: axis + 1] + rest + xs[axis + 2:])


def _take_add_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    (g, indices), (bg, bi) = vals, batched
    shape, axis, dtype = tuple(params["shape"]), params["axis"], params["dtype"]
    if not bi:
        return take_add_p.bind(g, indices, shape=(size,) + shape, dtype=dtype, axis=axis + 1,
                               mode=params["mode"])
    g = batch_front(g, bg, size)
    gs = tuple(shape_of(g))
    rest = len(shape_of(indices)) - 1
    flat = int(np.prod(gs[1 + axis: 1 + axis + rest], dtype=np.int64))
    g = lax.reshape(g, gs[: 1 + axis] + (flat,) + gs[1 + axis + rest:])
    ind = _per_entry_indices(indices, shape[axis], params["mode"], axis, len(shape) - axis - 1)
    return take_along_add_p.bind(g, ind, shape=(size,) + shape, dtype=dtype, axis=axis + 1)


def _take_along_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    (x, indices), (bx, bi) = vals, batched
    return take_along_p.bind(_lead(x, bx), _lead(indices, bi), axis=params["axis"] + 1)


def _take_along_add_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    (g, indices), (bg, bi) = vals, batched
    return take_along_add_p.bind(batch_front(g, bg, size), _lead(indices, bi),
                                 shape=(size,) + tuple(params["shape"]), dtype=params["dtype"],
                                 axis=params["axis"] + 1)


defbatch(take_p, _take_batch)
defbatch(take_add_p, _take_add_batch)
defbatch(take_along_p, _take_along_batch)
defbatch(take_along_add_p, _take_along_add_batch)


def _index_operand(indices: Any, who: str) -> Any:
    """Integer indices as an operand: a constant array, or a value (under vmap)."""
    ind = stop_gradient(indices)
    if not isinstance(ind, Tracer):
        ind = as_array(ind)
        if ind.dtype.kind not in "iu":
            if ind.size:
                raise IndexError(f"{who}: indices must be integers, got dtype {ind.dtype}")
            ind = ind.astype(np.intp)
    elif dtype_of(ind).kind not in "iu":
        raise IndexError(f"{who}: indices must be integers, got dtype {dtype_of(ind)}")
    return ind


@implements(np.take)
def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Any:
    """Differentiable ``numpy.take`` (in ``a``; ``mode`` ``'raise'``, ``'wrap'`` or ``'clip'``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.take(np.array([[1.0, 2.0], [3.0, 4.0]]), [1, 1], axis=1)
        array([[2., 2.],
               [4., 4.]])
    """
    ind = _index_operand(indices, "take")
    if not _traced(a, ind):
        if out is None and _backends.foreign(a, ind):  # Dask: never through NumPy's take
            if axis is None:
                a, axis = a.reshape(-1), 0
            return _take_impl(a, ind, normalize_axis(axis, len(shape_of(a)), "take"), mode)
        return np.take(a, ind, axis=axis, out=out, mode=mode)
    _check_kwargs("take", {"out": out})
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if axis is None or scalar_axis(axis, len(shape_of(a))):  # NumPy: 0-d as shape (1,)
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, len(shape_of(a)), "take")
    return take_p.bind(a, ind, axis=axis, mode=mode)


@implements(np.take_along_axis)
def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Any:
    """Differentiable ``numpy.take_along_axis`` (in ``arr``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.take_along_axis(np.array([[3.0, 1.0]]), np.array([[1, 0]]), axis=1)
        array([[1., 3.]])
    """
    ind = _index_operand(indices, "take_along_axis")
    if not _traced(arr, ind):
        if axis is not None and _backends.foreign(arr, ind):  # Dask has no take_along_axis
            return _take_along_impl(arr, ind, normalize_axis(axis, len(shape_of(arr)),
                                                             "take_along_axis"))
        return np.take_along_axis(arr, ind, axis=axis)
    if axis is None:
        arr, axis = ravel(arr), 0
        if len(shape_of(ind)) != 1:
            raise ValueError("take_along_axis: with axis=None, indices must be 1-d")
    nd = len(shape_of(arr))
    axis = normalize_axis(axis, nd, "take_along_axis")
    if len(shape_of(ind)) != nd:
        raise ValueError(
            f"take_along_axis: indices has {len(shape_of(ind))} dimensions and arr {nd}; "
            "they must match (add axes of length 1 to indices)"
        )
    return take_along_p.bind(arr, ind, axis=axis)


# ----------------------------------------------------------------------------- sort, select


@implements(np.sort)
def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
         stable: bool | None = None) -> Any:
    """Differentiable ``numpy.sort``: the sorted values, gathered by a stable ``argsort``
    (tied values each receive their own cotangent).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.sort(np.array([3.0, 1.0, 2.0]))
        array([1., 2., 3.])
    """
    if not isinstance(a, Tracer):
        return np.sort(a, axis=axis, kind=kind, order=order, stable=stable)
    if order is not None:
        raise NotImplementedError("pullback.numpy.sort: order= (structured arrays) is not "
                                  "supported on traced values")
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim, "sort")
    return take_along_p.bind(a, argsort(a, axis=axis, kind="stable"), axis=axis)


@implements(np.select)
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """Differentiable ``numpy.select`` (in the choices and ``default``): where several
    conditions hold, the first wins.

    Example:
        >>> import pullback.numpy as pnp
        >>> x = np.array([-1.0, 0.5, 2.0])
        >>> pnp.select([x < 0, x > 1], [-x, x * 10], default=x)
        array([ 1. ,  0.5, 20. ])
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if not _traced(*condlist, *choicelist, default):
        return np.select(condlist, choicelist, default)
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: list of cases ({len(condlist)}) must be same length as list of "
            f"conditions ({len(choicelist)})"
        )
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")

    conds = [c if isinstance(c, Tracer) else as_array(c) for c in condlist]
    for i, c in enumerate(conds):
        if dtype_of(c) != np.bool_:
            raise TypeError(f"select: invalid entry {i} in condlist: should be a boolean "
                            f"array, got dtype {dtype_of(c)}")
    choices = list(promote_dtypes(*choicelist, default))
    shape = np.broadcast_shapes(*(shape_of(c) for c in conds + choices))

    # a constant default is broadcast by where (not made an array of the data's shape)
    result = broadcast_to(choices[-1], shape) if _traced(choices[-1]) else choices[-1]
    for cond, choice in zip(conds[::-1], choices[-2::-1], strict=True):
        if _traced(choice, result):
            result = where(cond, choice, result)
        else:  # constant choices, a condition that is a value (under vmap)
            cond = astype(cond, np.bool_)
            if type(backends.base_value(cond)) is not np.ndarray:  # choices in its library
                choice, result = (backends.constant(c, cond) if type(c) is np.ndarray else c
                                  for c in (choice, result))
            result = where_p.bind(cond, choice, result)
    result = broadcast_to(result, shape)
    if isinstance(result, Tracer) or _backends.foreign(result):
        return result
    return np.array(result)


# ----------------------------------------------------------------------------- diff, interp


@implements(np.diff)
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NoValue,
         append: Any = _NoValue) -> Any:
    """Differentiable ``numpy.diff`` (in ``a``, ``prepend`` and ``append``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.diff(np.array([1.0, 4.0, 9.0]))
        array([3., 5.])
    """
    if not _traced(a, prepend, append):
        return np.diff(a, n, axis, prepend, append)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n!r}")
    if n == 0:
        return a
    nd = len(shape_of(a))
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis(axis, nd, "diff")
    parts = []
    for extra in (prepend, a, append):
        if extra is _NoValue:
            continue
        if extra is not a and len(shape_of(extra)) == 0:
            shape = list(shape_of(a))
            shape[axis] = 1
            extra = broadcast_to(extra, tuple(shape))
        parts.append(extra)
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)

    for _ in range(n):
        m = shape_of(a)[axis]
        a = subtract(getitem(a, _along(axis, slice(1, None))),
                     getitem(a, _along(axis, slice(None, max(m - 1, 0)))))
    return a


def _interp_locate_impl(x: Any, xp: Any) -> tuple[np.ndarray, np.ndarray]:
    # the segment j of each query (xp[j] <= x < xp[j + 1], clipped to the end segments) and
    # the last sample point at or left of it (clipped to the ends)
    if type(x) is np.ndarray and type(xp) is np.ndarray or not _backends.foreign(x, xp):
        k = np.searchsorted(xp, x, side="right") - 1
    else:
        k = _backends.searchsorted(xp, x, side="right") - 1
    return np.clip(k, 0, xp.shape[0] - 2), np.clip(k, 0, xp.shape[0] - 1)


interp_locate_p = new_primitive("interp_locate", _interp_locate_impl, multiple_results=True)
defnondiff(interp_locate_p)


def _interp_locate_batch(vals: list, batched: list, params: dict, size: int) -> tuple:
    (x, xp), (bx, bxp) = vals, batched
    if not bxp:  # searchsorted maps over the queries
        return interp_locate_p.bind(x, xp)
    # sample points per entry: count them at or left of each query (searchsorted's 'right')
    x = batch_front(x, bx, size)
    xs, n = tuple(shape_of(x)[1:]), shape_of(xp)[1]
    grid = lax.reshape(xp, (size,) + (1,) * len(xs) + (n,))
    at_or_left = lax.convert(less_equal(grid, lax.reshape(x, (size,) + xs + (1,))), np.intp)
    k = subtract(lax.reduce_sum(at_or_left, (len(xs) + 1,)), 1)
    return clip(k, 0, n - 2), clip(k, 0, n - 1)


defbatch(interp_locate_p, _interp_locate_batch)


@implements(np.interp)
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: float | None = None) -> Any:
    """Differentiable ``numpy.interp``: piecewise-linear interpolation, differentiable in the
    query points ``x``, the values ``fp``, the sample points ``xp`` and ``left``/``right``.

    At a sample point the derivative in ``x`` is the slope of the segment to its right.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.interp(np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 3.0]))
        array([1. , 2.5])
    """
    if not _traced(x, xp, fp, left, right):
        return np.interp(x, xp, fp, left, right, period)

    if len(shape_of(xp)) != 1 or len(shape_of(fp)) != 1:
        raise ValueError("interp: xp and fp must be 1-d sequences")
    if shape_of(xp) != shape_of(fp):
        raise ValueError(f"interp: fp and xp are not of the same length ({shape_of(fp)[0]} "
                         f"and {shape_of(xp)[0]})")
    if shape_of(xp)[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    f64 = np.float64
    x, xp, fp = (astype(v, f64) if isinstance(v, Tracer) else np.asarray(v, f64)
                 for v in (x, xp, fp))

    def gather(v: Any, i: Any) -> Any:
        return take(v, i, axis=0)

    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be a non-zero value")
        period = abs(float(period))
        left = right = None
        x, xp = remainder(x, period), remainder(xp, period)
        order = argsort(xp, kind="stable")
        xp, fp = gather(xp, order), gather(fp, order)
        xp = concatenate([subtract(getitem(xp, slice(-1, None)), period), xp,
                          add(getitem(xp, slice(0, 1)), period)])
        fp = concatenate([getitem(fp, slice(-1, None)), fp, getitem(fp, slice(0, 1))])
    if shape_of(xp)[0] == 1:
        y = broadcast_to(getitem(fp, 0), shape_of(x))
    else:
        # NumPy's formula: slope * (x - xp[j]) + fp[j], and fp[j] exactly at a sample point
        j, j_exact = interp_locate_p.bind(x, xp)
        x0, x1 = gather(xp, j), gather(xp, add(j, 1))
        f0, f1 = gather(fp, j), gather(fp, add(j, 1))
        slope = divide(subtract(f1, f0), subtract(x1, x0))
        y = add(multiply(slope, subtract(x, x0)), f0)
        y = where(equal(x, gather(xp, j_exact)), gather(fp, j_exact), y)
    lo = getitem(fp, 0) if left is None else left
    hi = getitem(fp, -1) if right is None else right
    y = where(less(x, getitem(xp, 0)), lo, y)
    return where(greater(x, getitem(xp, -1)), hi, y)


# ----------------------------------------------------------------------------- methods


method("repeat", lambda s, repeats, axis=None: repeat(s, repeats, axis))
method("take", lambda s, indices, axis=None, mode="raise": take(s, indices, axis, mode=mode))
