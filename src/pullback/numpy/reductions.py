"""Reductions over axes: ``sum`` (linear) and those composed from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback._core import Tracer, shape_of
from pullback._rules import deflinear
from pullback.numpy._registry import _check_kwargs, implements, new_primitive
from pullback.numpy.shape import broadcast_to, reshape

__all__ = ["mean", "normalize_axes", "sum"]

Axis = int | Sequence[int] | None


def normalize_axes(axis: Axis, ndim: int, who: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (all axes for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"{who}: axis {a} is out of bounds for an array of {ndim} dimensions"
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Reshape a reduction's output (or its cotangent) so it broadcasts against the input."""
    if keepdims:
        return g
    return reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _sum_transpose(g: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    shape = shape_of(x)
    return broadcast_to(expand_reduced(g, shape, axes, keepdims), shape)


sum_p = new_primitive("sum", lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims))
deflinear(sum_p, _sum_transpose)


@implements(np.sum)
def sum(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        **kwargs: Any) -> Any:
    """Differentiable ``numpy.sum``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.sum(np.ones((2, 3)), axis=0)
        array([2., 2., 2.])
    """
    if not isinstance(a, Tracer):
        return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)
    _check_kwargs("sum", {"dtype": dtype, "out": out, **kwargs})
    axes = normalize_axes(axis, a.ndim, "sum")
    if not axes and not keepdims:
        return a
    return sum_p.bind(a, axes=axes, keepdims=bool(keepdims))


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
    count = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    total = sum(a, axis=axes, keepdims=keepdims)
    return total / count if count else total * np.nan

