"""The methods of NumPy's binary ufuncs, differentiable: ``outer``, ``reduce``,
``accumulate`` and ``reduceat``, on ``pullback.numpy``'s ufuncs (``pnp.multiply.outer(x, y)``)
and on traced values through NumPy's own (``np.maximum.reduce(x)``).

Each is written with the ufunc itself and ``pullback.numpy``'s shape operations, so it is
differentiable in both modes to any order, under ``vmap`` and ``jit``:

- ``outer(a, b)`` is the ufunc of ``a`` with ``b.ndim`` new trailing axes and ``b``;
- ``reduce`` and ``accumulate`` of ``add``, ``multiply``, ``maximum`` and ``minimum`` are
  ``sum``, ``prod``, ``max``, ``min``, ``cumsum`` and ``cumprod`` (which NumPy's functions
  are too: the same values, and the same derivative conventions, such as ties of ``max``
  sharing the cotangent); for the other ufuncs they apply the ufunc along the axis one
  entry after another, as NumPy does: ``reduce`` from the ufunc's identity when it has one
  (``np.hypot.reduce([-2.0])`` is ``2.0``), else from the first entry
  (``np.subtract.reduce([a, b, c])`` is ``(a - b) - c``), ``accumulate`` from the first
  entry;
- ``reduceat`` reduces each slice ``indices[i]:indices[i + 1]`` (an entry alone where the
  next index is not larger), the indices being plain integers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from pullback.core.trace import dtype_of
from pullback.numpy import reductions, shape
from pullback.numpy._registry import UFUNCS

__all__ = ["accumulate", "install", "outer", "reduce", "reduceat"]

_NOVALUE = np._NoValue  # NumPy's marker for "initial not given"

#: the reductions NumPy's own functions are (np.sum is add.reduce...), and the accumulations
_REDUCE = {np.add: reductions.sum, np.multiply: reductions.prod,
           np.maximum: reductions.max, np.minimum: reductions.min}
_ACCUMULATE = {np.add: reductions.cumsum, np.multiply: reductions.cumprod}


def _wrapper(ufunc: np.ufunc, name: str) -> Callable[..., Any]:
    fn = UFUNCS.get(ufunc)
    if fn is None or ufunc.nin != 2 or ufunc.nout != 1:
        raise NotImplementedError(
            f"numpy.{ufunc.__name__}.{name} on traced values: pullback differentiates the "
            "methods of NumPy's binary ufuncs of one output only")
    return fn


def _plain_only(ufunc: np.ufunc, name: str, **options: Any) -> None:
    """Refuse the options pullback's version does not take (an ``out=``, a ``where=``)."""
    given = sorted(k for k, v in options.items() if v is not None and v is not True)
    if given:
        raise NotImplementedError(
            f"numpy.{ufunc.__name__}.{name} on traced values: the option(s) {given} are not "
            f"supported; compute the result and combine it afterwards (pnp.where for a mask)")


def outer(ufunc: np.ufunc, a: Any, b: Any, **kwargs: Any) -> Any:
    """``ufunc.outer(a, b)``: ``ufunc(a[i..., None...], b[j...])``, of shape
    ``a.shape + b.shape``.

    Example:
        >>> outer(np.multiply, np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]))
        array([[ 3.,  4.,  5.],
               [ 6.,  8., 10.]])
    """
    fn = _wrapper(ufunc, "outer")
    a_shape = tuple(np.shape(a))
    ndim_b = len(np.shape(b))
    return fn(shape.reshape(a, a_shape + (1,) * ndim_b), b, **kwargs)


def _axis_of(ufunc: np.ufunc, name: str, axis: Any, ndim: int) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return axis if axis is None else int(axis)
    axes = tuple(int(a) for a in axis)
    if len(axes) == 1:
        return axes[0]
    if ufunc in _REDUCE:
        return axes
    raise ValueError(
        f"numpy.{ufunc.__name__}.{name}: reduction operation '{ufunc.__name__}' is not "
        "reorderable, so at most one axis may be specified")


def _fold(fn: Callable[..., Any], ufunc: np.ufunc, name: str, a: Any, axis: int,
          initial: Any) -> tuple[Any, list[Any]]:
    """The entries of ``a`` along ``axis`` combined one after another from the first (from
    ``initial`` when given): the final value and the running ones."""
    n = shape.moveaxis(a, axis, 0)
    length = int(np.shape(n)[0])
    given = initial is not _NOVALUE and initial is not None
    if given:
        acc, rest = initial, range(length)
    elif length:
        acc, rest = n[0], range(1, length)
    elif ufunc.identity is None:
        raise ValueError(f"numpy.{ufunc.__name__}.{name}: zero-size array to reduction "
                         f"operation {ufunc.__name__} which has no identity")
    else:
        acc, rest = ufunc.identity, range(0)
    running = [] if given or not length else [acc]
    for i in rest:
        acc = fn(acc, n[i])
        running.append(acc)
    if not length:  # the start alone, shaped like one entry
        entry = tuple(np.shape(n))[1:]
        acc = shape.broadcast_to(shape.astype(acc, np.result_type(dtype_of(a), acc)), entry)
    return acc, running


def reduce(ufunc: np.ufunc, a: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
           keepdims: bool = False, initial: Any = _NOVALUE, where: Any = True) -> Any:
    """``ufunc.reduce(a, axis)``: ``sum``, ``prod``, ``max`` or ``min`` for ``add``,
    ``multiply``, ``maximum``, ``minimum``; the ufunc applied along the axis from the first
    entry for the others.

    Example:
        >>> reduce(np.subtract, np.array([10.0, 1.0, 2.0]))  # (10 - 1) - 2
        np.float64(7.0)
    """
    fn = _wrapper(ufunc, "reduce")
    _plain_only(ufunc, "reduce", out=out, where=where)
    if dtype is not None:
        a = shape.astype(a, dtype)
    ndim = len(np.shape(a))
    ax = _axis_of(ufunc, "reduce", axis, ndim)
    mapped = _REDUCE.get(ufunc)
    if mapped is not None:
        extra = {} if initial is _NOVALUE else {"initial": initial}
        return mapped(a, axis=ax, keepdims=keepdims, **extra)
    if ax is None or ndim == 0:  # NumPy reduces a 0-d array as one entry
        if ndim == 0 and ax not in (None, 0, -1, ()):
            raise np.exceptions.AxisError(axis, ndim)
        value = reduce(ufunc, shape.reshape(a, (-1,)), 0, initial=initial)
        return shape.reshape(value, (1,) * ndim) if keepdims else value
    ax = cast(int, ax)  # a tuple of axes only for the reductions mapped above
    ax = ax + ndim if ax < 0 else ax
    if not 0 <= ax < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    if (initial is _NOVALUE or initial is None) and ufunc.identity is not None:
        initial = ufunc.identity  # NumPy starts from it: hypot.reduce([-2.0]) is 2.0
    value, _ = _fold(fn, ufunc, "reduce", a, ax, initial)
    return shape.expand_dims(value, ax) if keepdims else value


def accumulate(ufunc: np.ufunc, a: Any, axis: int = 0, dtype: Any = None,
               out: Any = None) -> Any:
    """``ufunc.accumulate(a, axis)``: the running results of :func:`reduce` (``cumsum``,
    ``cumprod`` for ``add``, ``multiply``).

    Example:
        >>> accumulate(np.maximum, np.array([1.0, 3.0, 2.0, 5.0]))
        array([1., 3., 3., 5.])
    """
    fn = _wrapper(ufunc, "accumulate")
    _plain_only(ufunc, "accumulate", out=out)
    if dtype is not None:
        a = shape.astype(a, dtype)
    ndim = len(np.shape(a))
    if ndim == 0:
        raise TypeError(f"numpy.{ufunc.__name__}.accumulate: cannot accumulate on a scalar")
    ax = int(axis) + ndim if int(axis) < 0 else int(axis)
    if not 0 <= ax < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    mapped = _ACCUMULATE.get(ufunc)
    if mapped is not None:
        return mapped(a, axis=ax)
    if np.shape(a)[ax] == 0:
        return a
    _, running = _fold(fn, ufunc, "accumulate", a, ax, _NOVALUE)
    return shape.stack(running, axis=ax)


def reduceat(ufunc: np.ufunc, a: Any, indices: Sequence[int], axis: int = 0,
             dtype: Any = None, out: Any = None) -> Any:
    """``ufunc.reduceat(a, indices, axis)``: :func:`reduce` over each slice
    ``indices[i]:indices[i + 1]`` (the last to the end), the entry ``indices[i]`` alone where
    the next index is not larger.

    Example:
        >>> reduceat(np.add, np.arange(6.0), [0, 2, 5])
        array([1., 9., 5.])
    """
    fn = _wrapper(ufunc, "reduceat")
    _plain_only(ufunc, "reduceat", out=out)
    if dtype is not None:
        a = shape.astype(a, dtype)
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"numpy.{ufunc.__name__}.reduceat: 'indices' must be a 1-d sequence "
                        f"of integers, got {idx.dtype} of shape {idx.shape}")
    ndim = len(np.shape(a))
    ax = int(axis) + ndim if int(axis) < 0 else int(axis)
    if not 0 <= ax < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    n = int(np.shape(a)[ax])
    if np.any(idx < 0) or np.any(idx >= n):
        raise IndexError(f"numpy.{ufunc.__name__}.reduceat: an index is out of bounds for "
                         f"an axis of length {n}: {idx.tolist()}")
    moved = shape.moveaxis(a, ax, 0)
    parts = []
    for k, i in enumerate(idx.tolist()):
        stop = idx[k + 1] if k + 1 < len(idx) else n
        parts.append(_fold(fn, ufunc, "reduceat", moved[i:stop], 0, _NOVALUE)[0]
                     if stop > i + 1 else moved[i])
    return shape.moveaxis(shape.stack(parts, axis=0), 0, ax)


def install(module: Any) -> None:
    """Give each of ``module``'s binary ufuncs (``pullback.numpy``'s) its methods
    (``pnp.add.outer``...).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.add.outer(np.array([1.0, 2.0]), np.array([10.0, 20.0]))
        array([[11., 21.],
               [12., 22.]])
    """
    for ufunc in UFUNCS:
        fn = getattr(module, ufunc.__name__, None)
        if ufunc.nin != 2 or ufunc.nout != 1 or fn is None or fn is ufunc:
            continue
        for name, impl in (("outer", outer), ("reduce", reduce), ("accumulate", accumulate),
                           ("reduceat", reduceat)):
            if not hasattr(fn, name):
                setattr(fn, name, _bound(impl, ufunc, name))


def _bound(impl: Callable[..., Any], ufunc: np.ufunc, name: str) -> Callable[..., Any]:
    def method(*args: Any, **kwargs: Any) -> Any:
        return impl(ufunc, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{ufunc.__name__}.{name}"
    method.__doc__ = f"Differentiable ``numpy.{ufunc.__name__}.{name}`` (see {impl.__module__})."
    return method
