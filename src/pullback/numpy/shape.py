"""Shapes, dtypes and indexing: linear primitives whose rules are their transposes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback._core import Tracer, dtype_of, is_differentiable_dtype, shape_of, zero
from pullback._rules import defjvp_joint, deflinear, defnondiff, defvjp_joint
from pullback.numpy._registry import implements, new_primitive

__all__ = [
    "astype",
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "getitem",
    "ravel",
    "reshape",
    "squeeze",
    "stack",
    "swapaxes",
    "transpose",
]


def _normalize_axis(axis: int, ndim: int, who: str) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"{who}: axis {axis} is out of bounds for {ndim} dimensions")
    return axis % ndim


# ----------------------------------------------------------------------------- reshape

reshape_p = new_primitive("reshape", lambda x, shape: np.reshape(x, shape))
deflinear(reshape_p, lambda g, x, shape: reshape(g, shape_of(x)))


@implements(np.reshape)
def reshape(a: Any, shape: int | Sequence[int] | None = None, /, *args: Any, **kwargs: Any) -> Any:
    """Differentiable ``numpy.reshape``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.reshape(np.arange(6.0), (2, 3)).shape
        (2, 3)
    """
    if shape is None:
        shape = kwargs.pop("newshape", None) if "newshape" in kwargs else kwargs.pop("shape")
    if not isinstance(a, Tracer):
        return np.reshape(a, shape, *args, **kwargs)
    if args or kwargs.get("order", "C") != "C":
        raise NotImplementedError("pullback.numpy.reshape supports order='C' only")
    shape = np.empty(shape_of(a), dtype=np.bool_).reshape(shape).shape  # resolve -1
    if shape == a.shape:
        return a
    return reshape_p.bind(a, shape=shape)


def ravel(a: Any, order: str = "C") -> Any:
    """Differentiable ``numpy.ravel``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ravel(np.ones((2, 3))).shape
        (6,)
    """
    if not isinstance(a, Tracer):
        return np.ravel(a, order)
    return reshape(a, (-1,))


implements(np.ravel)(ravel)


# ----------------------------------------------------------------------------- transpose

transpose_p = new_primitive("transpose", lambda x, axes: np.transpose(x, axes))
deflinear(transpose_p, lambda g, x, axes: transpose(g, tuple(np.argsort(axes))))


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
    axes = tuple(range(nd))[::-1] if axes is None else tuple(
        _normalize_axis(ax, nd, "transpose") for ax in axes
    )
    if axes == tuple(range(nd)):
        return a
    return transpose_p.bind(a, axes=axes)


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
    i, j = _normalize_axis(axis1, a.ndim, "swapaxes"), _normalize_axis(axis2, a.ndim, "swapaxes")
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


implements(np.swapaxes)(swapaxes)


# ----------------------------------------------------------------------------- broadcasting


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting ``shape`` to ``g``'s shape created."""
    from pullback.numpy.reductions import sum as sum_

    gshape = shape_of(g)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = sum_(g, axis=axes)
    return reshape(g, shape)


broadcast_to_p = new_primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
deflinear(broadcast_to_p, lambda g, x, shape: _unbroadcast(g, shape_of(x)))


@implements(np.broadcast_to)
def broadcast_to(array: Any, shape: int | Sequence[int], subok: bool = False) -> Any:
    """Differentiable ``numpy.broadcast_to``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.broadcast_to(np.array([1.0, 2.0]), (3, 2)).shape
        (3, 2)
    """
    if not isinstance(array, Tracer):
        return np.broadcast_to(array, shape, subok=subok)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if shape == array.shape:
        return array
    np.broadcast_shapes(array.shape, shape)  # NumPy's error for impossible shapes
    return broadcast_to_p.bind(array, shape=shape)


# ----------------------------------------------------------------------------- dtypes

astype_p = new_primitive("astype", lambda x, dtype: x.astype(dtype) if hasattr(x, "astype") else
                         np.asarray(x, dtype=dtype))
deflinear(astype_p, lambda g, x, dtype: astype(g, dtype_of(x)))
astype_nondiff_p = new_primitive("astype_nondiff", astype_p.impl)  # to integer or bool
defnondiff(astype_nondiff_p)


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
        return np.asarray(x).astype(dtype)
    if dtype_of(x) == dtype:
        return x
    if not is_differentiable_dtype(dtype):
        return astype_nondiff_p.bind(x, dtype=dtype)
    return astype_p.bind(x, dtype=dtype)


# ----------------------------------------------------------------------------- dims


def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    """Differentiable ``numpy.expand_dims``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.expand_dims(np.ones(3), 0).shape
        (1, 3)
    """
    if not isinstance(a, Tracer):
        return np.expand_dims(a, axis)
    return reshape(a, np.expand_dims(np.empty(a.shape, np.bool_), axis).shape)


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


# ----------------------------------------------------------------------------- concatenate

concatenate_p = new_primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis))


def _concatenate_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    axis = params["axis"]
    out, start = [], 0
    for x, need in zip(args, needs):
        n = shape_of(x)[axis]
        if need:
            idx = (slice(None),) * axis + (slice(start, start + n),)
            out.append(getitem(g, idx))
        else:
            out.append(zero)
        start += n
    return tuple(out)


def _concatenate_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    if all(t is zero for t in tangents):
        return zero
    ts = [np.zeros(shape_of(x), dtype_of(x)) if t is zero else t for t, x in zip(tangents, args)]
    return concatenate_p.bind(*ts, **params)


defvjp_joint(concatenate_p, _concatenate_vjp)
defjvp_joint(concatenate_p, _concatenate_jvp)


@implements(np.concatenate)
def concatenate(arrays: Sequence[Any], axis: int | None = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.concatenate``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.concatenate([np.ones(2), np.zeros(3)]).shape
        (5,)
    """
    arrays = list(arrays)
    if not any(isinstance(a, Tracer) for a in arrays):
        return np.concatenate(arrays, axis=axis, **kwargs)
    from pullback.numpy._registry import _check_kwargs

    _check_kwargs("concatenate", kwargs)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    dtype = np.result_type(*(dtype_of(a) for a in arrays))
    arrays = [astype(a, dtype) if isinstance(a, Tracer) else a for a in arrays]
    axis = _normalize_axis(axis, len(shape_of(arrays[0])), "concatenate")
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
    if not any(isinstance(a, Tracer) for a in arrays):
        return np.stack(arrays, axis=axis, **kwargs)
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {shapes}")
    axis = _normalize_axis(axis, len(shapes.pop()) + 1, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis, **kwargs)


# ----------------------------------------------------------------------------- indexing


def _has_advanced(idx: tuple) -> bool:
    return any(isinstance(i, (np.ndarray, list)) for i in idx)


def _scatter_add_impl(g: Any, shape: tuple, dtype: Any, idx: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype)
    if _has_advanced(idx):
        np.add.at(out, idx, g)
    else:
        out[idx] = g
    return out


getitem_p = new_primitive("getitem", lambda x, idx: x[idx])
scatter_add_p = new_primitive("scatter_add", _scatter_add_impl)
deflinear(getitem_p, lambda g, x, idx: scatter_add_p.bind(g, shape=shape_of(x),
                                                          dtype=dtype_of(x), idx=idx))
deflinear(scatter_add_p, lambda g, u, shape, dtype, idx: getitem_p.bind(g, idx=idx))


def _normalize_index(idx: Any) -> tuple:
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tracer):
            if not np.issubdtype(i.dtype, np.integer) and i.dtype != np.bool_:
                raise IndexError(
                    "getitem: a traced floating-point value cannot be used as an index; "
                    "indices must be integers, slices or boolean masks"
                )
            from pullback._api import stop_gradient

            i = stop_gradient(i)
        if isinstance(i, list):
            i = np.asarray(i)
        out.append(i)
    return tuple(out)


def getitem(x: Any, idx: Any) -> Any:
    """``x[idx]``, differentiable: basic and advanced indexing.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.getitem(np.arange(5.0), slice(1, 3))
        array([1., 2.])
    """
    if not isinstance(x, Tracer):
        return x[idx]
    return getitem_p.bind(x, idx=_normalize_index(idx))
