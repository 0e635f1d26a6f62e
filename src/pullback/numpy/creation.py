"""Arrays to fill: NumPy's constructors, as buffers that accept traced writes.

Outside a transformation these are NumPy's own functions and return plain arrays. Inside
one (``pb.grad``, ``pb.jvp``, ``pb.vmap``, ``pb.jit``...) they return a traced constant of
the innermost transformation, so that the loop people write works as in NumPy:

    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> def f(x):
    ...     out = pnp.zeros(3)
    ...     for i in range(3):
    ...         out[i] = x[i] ** 2
    ...     return out.sum()
    >>> pb.grad(f)(np.array([1.0, 2.0, 3.0]))
    array([2., 4., 6.])

``np.zeros_like(x)`` (and ``ones_like``, ``empty_like``, ``full_like``) of a traced ``x``,
``x.copy()``, ``np.copy(x)`` and ``np.array(x)`` give such buffers too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.trace import Tracer, trace_state
from pullback.numpy import _nondiff
from pullback.numpy._mutation import lift_buffer
from pullback.numpy._registry import implements

__all__ = [
    "copy", "empty", "empty_like", "full", "full_like", "ones", "ones_like", "zeros",
    "zeros_like",
]


def zeros(shape: Any, dtype: Any = float, order: str = "C", **kwargs: Any) -> Any:
    """``numpy.zeros``; inside a transformation, a buffer that accepts traced writes.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.zeros(2)
        array([0., 0.])
    """
    return lift_buffer(np.zeros(shape, dtype, order, **kwargs))


def ones(shape: Any, dtype: Any = None, order: str = "C", **kwargs: Any) -> Any:
    """``numpy.ones``; inside a transformation, a buffer that accepts traced writes.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ones(2)
        array([1., 1.])
    """
    return lift_buffer(np.ones(shape, dtype, order, **kwargs))


def empty(shape: Any, dtype: Any = float, order: str = "C", **kwargs: Any) -> Any:
    """``numpy.empty`` (zeros inside a transformation, so derivatives never read garbage);
    inside a transformation, a buffer that accepts traced writes.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.empty((2, 3)).shape
        (2, 3)
    """
    if trace_state.stack:
        return lift_buffer(np.zeros(shape, dtype, order, **kwargs))
    return np.empty(shape, dtype, order, **kwargs)


def full(shape: Any, fill_value: Any, dtype: Any = None, order: str = "C",
         **kwargs: Any) -> Any:
    """``numpy.full``; inside a transformation, a buffer that accepts traced writes. A traced
    ``fill_value`` gives a traced array (differentiable in it).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.full(2, 7.0)
        array([7., 7.])
    """
    if isinstance(fill_value, Tracer):
        value = fill_value if dtype is None else fill_value.astype(dtype)
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        extra = value.ndim - len(shape)
        if extra > 0 and all(d == 1 for d in value.shape[:extra]):
            # NumPy's copyto drops leading axes of length 1 of the value
            value = lax.reshape(value, value.shape[extra:])
        return lax.copy(lax.broadcast_to(value, shape))
    return lift_buffer(np.full(shape, fill_value, dtype, order, **kwargs))


def _like(name: str, numpy_func: Any, plain: Any) -> Any:
    def like(a: Any, *args: Any, **kwargs: Any) -> Any:
        make = plain
        if numpy_func is np.empty_like and isinstance(a, Tracer):
            make = _nondiff.zeros_like  # derivatives never read uninitialised memory
        out = make(a, *args, **kwargs)
        if isinstance(a, Tracer) and not (isinstance(out, Tracer) and out._trace is a._trace):
            try:
                return a._trace.lift(out)  # a constant of a's level (it may be traced outside)
            except TypeError:
                return out
        return out

    like.__name__ = like.__qualname__ = name
    like.__doc__ = (
        f"``numpy.{name}``; for a traced argument, a buffer of its transformation that "
        "accepts traced writes (its value is a constant).\n\n"
        "Example:\n"
        "    >>> import pullback.numpy as pnp\n"
        f"    >>> pnp.{name}(np.ones(2){', 3.0' if name == 'full_like' else ''}).shape\n"
        "    (2,)\n"
    )
    like.__module__ = "pullback.numpy"
    return implements(numpy_func)(like)


zeros_like = _like("zeros_like", np.zeros_like, _nondiff.zeros_like)
ones_like = _like("ones_like", np.ones_like, _nondiff.ones_like)
empty_like = _like("empty_like", np.empty_like, _nondiff.empty_like)
full_like = _like("full_like", np.full_like, _nondiff.full_like)


@implements(np.copy)
def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """``numpy.copy``; a traced ``a`` gives a new traced array that writes do not share.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.copy(np.array([1.0, 2.0]))
        array([1., 2.])
    """
    if isinstance(a, Tracer):
        return lax.copy(a)
    return np.copy(a, order=order, subok=subok)
