"""Functions without a derivative: traced arguments pass through as constants.

Their outputs are integers, booleans or piecewise-constant values, so the derivative is zero
almost everywhere: every transformation treats the result as a constant. Comparisons and
``sign`` are primitives of ``elementwise``; these are the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy._registry import binary, implements, method, nondiff_function, unary

__all__ = [
    "all",
    "allclose",
    "any",
    "argmax",
    "argmin",
    "argsort",
    "argwhere",
    "around",
    "array_equal",
    "ceil",
    "count_nonzero",
    "empty_like",
    "fix",
    "flatnonzero",
    "floor",
    "floor_divide",
    "full_like",
    "heaviside",
    "isclose",
    "iscomplexobj",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isrealobj",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "nanargmax",
    "nanargmin",
    "ndim",
    "nonzero",
    "ones_like",
    "result_type",
    "rint",
    "round",
    "shape",
    "signbit",
    "size",
    "trunc",
    "zeros_like",
]

# fmt: off
floor    = unary("floor",    np.floor,    None)
ceil     = unary("ceil",     np.ceil,     None)
rint     = unary("rint",     np.rint,     None)
trunc    = unary("trunc",    np.trunc,    None)
isfinite = unary("isfinite", np.isfinite, None)
isnan    = unary("isnan",    np.isnan,    None)
isinf    = unary("isinf",    np.isinf,    None)
signbit  = unary("signbit",  np.signbit,  None)
logical_not = unary("logical_not", np.logical_not, None)

floor_divide = binary("floor_divide", np.floor_divide, None, None)
heaviside    = binary("heaviside",    np.heaviside,    None, None)
logical_and  = binary("logical_and",  np.logical_and,  None, None)
logical_or   = binary("logical_or",   np.logical_or,   None, None)
logical_xor  = binary("logical_xor",  np.logical_xor,  None, None)

fix        = nondiff_function("fix",        np.fix)
isposinf   = nondiff_function("isposinf",   np.isposinf)
isneginf   = nondiff_function("isneginf",   np.isneginf)
round      = nondiff_function("round",      np.round)
around     = nondiff_function("around",     np.around)
argmax     = nondiff_function("argmax",     np.argmax)
argmin     = nondiff_function("argmin",     np.argmin)
nanargmax  = nondiff_function("nanargmax",  np.nanargmax)
nanargmin  = nondiff_function("nanargmin",  np.nanargmin)
argsort    = nondiff_function("argsort",    np.argsort)
argwhere   = nondiff_function("argwhere",   np.argwhere)
nonzero    = nondiff_function("nonzero",    np.nonzero)
flatnonzero = nondiff_function("flatnonzero", np.flatnonzero)
zeros_like = nondiff_function("zeros_like", np.zeros_like)
ones_like  = nondiff_function("ones_like",  np.ones_like)
full_like  = nondiff_function("full_like",  np.full_like)
empty_like = nondiff_function("empty_like", np.empty_like)
allclose   = nondiff_function("allclose",   np.allclose)
isclose    = nondiff_function("isclose",    np.isclose)
array_equal = nondiff_function("array_equal", np.array_equal)
any        = nondiff_function("any",        np.any)
all        = nondiff_function("all",        np.all)
count_nonzero = nondiff_function("count_nonzero", np.count_nonzero)

method("argmax",  lambda s, axis=None, keepdims=False: argmax(s, axis=axis, keepdims=keepdims))
method("argmin",  lambda s, axis=None, keepdims=False: argmin(s, axis=axis, keepdims=keepdims))
method("argsort", lambda s, axis=-1, kind=None, order=None: argsort(s, axis, kind, order))
method("round",   lambda s, decimals=0: round(s, decimals))
method("nonzero", lambda s: nonzero(s))
method("any",     lambda s, axis=None, keepdims=False: any(s, axis=axis, keepdims=keepdims))
method("all",     lambda s, axis=None, keepdims=False: all(s, axis=axis, keepdims=keepdims))
method("__floordiv__",  lambda s, o: floor_divide(s, o))
method("__rfloordiv__", lambda s, o: floor_divide(o, s))
# fmt: on


# ----------------------------------------------------------------------------- metadata
# Functions of shapes and dtypes only: read from the traced value itself (no primitive), so
# that under vmap they describe one batch entry and under jit they need no value.


def _meta(value: Any) -> Any:
    """A stand-in with ``value``'s shape and dtype (no data) for NumPy's metadata functions."""
    if isinstance(value, Tracer):
        return np.broadcast_to(np.zeros((), dtype_of(value)), shape_of(value))
    return value


@implements(np.shape)
def shape(a: Any) -> tuple[int, ...]:
    """``numpy.shape``, also of a traced value.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.shape(np.ones((2, 3)))
        (2, 3)
    """
    return np.shape(_meta(a))


@implements(np.ndim)
def ndim(a: Any) -> int:
    """``numpy.ndim``, also of a traced value.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ndim(np.ones((2, 3)))
        2
    """
    return np.ndim(_meta(a))


@implements(np.size)
def size(a: Any, axis: int | None = None) -> int:
    """``numpy.size``, also of a traced value.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.size(np.ones((2, 3)), axis=1)
        3
    """
    return np.size(_meta(a), axis)


@implements(np.iscomplexobj)
def iscomplexobj(x: Any) -> bool:
    """``numpy.iscomplexobj``, also of a traced value.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.iscomplexobj(np.ones(2))
        False
    """
    return np.iscomplexobj(_meta(x))


@implements(np.isrealobj)
def isrealobj(x: Any) -> bool:
    """``numpy.isrealobj``, also of a traced value.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.isrealobj(np.ones(2))
        True
    """
    return np.isrealobj(_meta(x))


@implements(np.result_type)
def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """``numpy.result_type``, also of traced values.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.result_type(np.ones(2, np.float32), 1.0)
        dtype('float32')
    """
    return np.result_type(*(dtype_of(a) if isinstance(a, Tracer) else a
                            for a in arrays_and_dtypes))
