"""``array`` and ``asarray``: traced values pass through; nested lists of them are stacked."""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.trace import Tracer
from pullback.numpy import _backends
from pullback.numpy._util import as_array
from pullback.numpy.shape import astype, stack

__all__ = ["array", "asarray"]


def _has_tracer(obj: Any) -> bool:
    if isinstance(obj, Tracer):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_tracer(o) for o in obj)
    return False


def _build(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        parts = [_build(o) for o in obj]
        if any(isinstance(p, Tracer) for p in parts):
            return stack(parts)
        return np.array(parts)
    return obj


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """``numpy.asarray``; a traced value (or a list of them) stays traced.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.asarray([1.0, 2.0])
        array([1., 2.])
    """
    if not _has_tracer(a):
        if not kwargs and _backends.foreign(a):  # a Dask or CuPy array stays one
            return as_array(a, dtype)
        return np.asarray(a, dtype=dtype, **kwargs)
    out = _build(a)
    return out if dtype is None else astype(out, dtype)


def array(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """``numpy.array``; a traced value (or a list of them) stays traced.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.array([[1.0, 2.0]]).shape
        (1, 2)
    """
    if not _has_tracer(a):
        if not kwargs and _backends.foreign(a):  # a Dask or CuPy array: copied in its library
            return a.copy() if dtype is None else a.astype(dtype)
        return np.array(a, dtype=dtype, **kwargs)
    if isinstance(a, Tracer) and kwargs.get("copy", True) is not False:
        a = lax.copy(a)  # np.array copies: writes into the result must not reach `a`
    return asarray(a, dtype=dtype)
