"""Functions without a derivative: traced arguments pass through as constants.

Their outputs are integers, booleans or piecewise-constant values, so the derivative is zero
almost everywhere: every transformation treats the result as a constant. Comparisons and
``sign`` are primitives of ``elementwise``; these are the rest.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.trace import PRIMITIVES, Primitive, Tracer, dtype_of, shape_of, trace_state
from pullback.numpy import _backends
from pullback.numpy._registry import (
    batch_by_looping,
    batch_elementwise,
    batch_front,
    binary,
    implements,
    method,
    nondiff_function,
    unary,
)
from pullback.numpy._util import normalize_axes, python_number_operator, scalar_axis

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

def _argsort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
             stable: bool | None = None) -> Any:
    if type(a) is not np.ndarray and _backends.foreign(a):  # Dask has no argsort
        return _backends.argsort(a, axis, kind=kind, stable=stable)
    return np.argsort(a, axis=axis, kind=kind, order=order, stable=stable)


def _array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    if not _backends.foreign(a1, a2):
        return np.array_equal(a1, a2, equal_nan=equal_nan)
    # Dask has no array_equal: a lazy 0-d boolean (as Dask's allclose gives), not a bool
    if shape_of(a1) != shape_of(a2):
        return False
    same = np.equal(a1, a2)
    if equal_nan and np.result_type(dtype_of(a1), dtype_of(a2)).kind in "fc":
        same = same | (np.isnan(a1) & np.isnan(a2))
    return same.all()


def _known_shapes(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func``, refused on lazy arrays inside a transformation: its result would have an
    unknown shape (Dask's nan), which no derivative can be shaped for (outside one, the
    library's own result)."""

    def impl(*args: Any, **kwargs: Any) -> Any:
        if trace_state.stack:
            lib = _backends.foreign(*args)
            if lib == "dask":  # lazy: the shape is unknown (eager libraries, CuPy, know it)
                raise backends.refuse(f"pullback.numpy.{name}", lib, "arrays of unknown shape",
                                      f"{name} of a {lib} array")
        return func(*args, **kwargs)

    return impl


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

# fmt: on


# ----------------------------------------------------------------------------- vmap rules
# The functions below are primitives called with NumPy's own arguments (positional or by
# keyword); their rules read the arguments by name from NumPy's signature.


@functools.cache
def _signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


def _arguments(func: Callable[..., Any], vals: list, batched: list, params: dict,
               operands: int) -> tuple[list, dict]:
    """The call's first ``operands`` arguments, which may carry the batch axis, and the
    others by name (options: an axis, a dtype, a tolerance), which may not."""
    signature = _signature(func)
    names = list(signature.parameters)
    # `batched` covers the arguments passed by position, often fewer than the parameters
    for name, b in zip(names[operands:], batched[operands:], strict=False):
        if b:
            raise NotImplementedError(
                f"vmap: pullback.numpy.{func.__name__}: argument '{name}' differs between "
                "batch entries; pass it as a constant"
            )
    args = dict(signature.bind(*vals, **params).arguments)
    return [args.pop(name, None) for name in names[:operands]], args


def _batch_reduction(func: Callable[..., Any], default_axis: Any,
                     flatten: bool) -> Callable[[Primitive], Callable[..., Any]]:
    """Reductions along ``axis`` (``any``, ``argmax``, ``argsort``...): the axes move one place
    right. ``axis=None`` means every axis of an entry: all of them for ``any``/``all``/
    ``count_nonzero`` (``flatten=False``), the flattened entry for ``argmax`` and ``argsort``
    (``flatten=True``)."""

    def make(prim: Primitive) -> Callable[..., Any]:
        def rule(vals: list, batched: list, params: dict, size: int) -> Any:
            (x,), args = _arguments(func, vals, batched, params, 1)
            shape = tuple(shape_of(x)[1:])
            axis = args.pop("axis", default_axis)
            if scalar_axis(axis, len(shape)):  # NumPy: axis 0 or -1 of a 0-d entry, as None
                axis = None
            who = f"pullback.numpy.{func.__name__}"
            if axis is not None:
                axes = normalize_axes(axis, len(shape), who, sort=False)
                shifted = tuple(a + 1 for a in axes)
                return prim.bind(x, axis=shifted[0] if isinstance(axis, (int, np.integer))
                                 else shifted, **args)
            if not flatten:
                return prim.bind(x, axis=tuple(range(1, len(shape) + 1)), **args)
            keepdims = bool(args.pop("keepdims", False))
            flat = lax.reshape(x, (size, int(np.prod(shape, dtype=np.int64))))
            out = prim.bind(flat, axis=1, **args)
            return lax.reshape(out, (size,) + (1,) * len(shape)) if keepdims else out

        return rule

    return make


def _batch_like(func: Callable[..., Any]) -> Callable[[Primitive], Callable[..., Any]]:
    """``zeros_like`` and friends: an array shaped like each entry (or like ``shape=``)."""

    def make(prim: Primitive) -> Callable[..., Any]:
        def rule(vals: list, batched: list, params: dict, size: int) -> Any:
            operands, args = _arguments(func, vals, batched, params,
                                        2 if func is np.full_like else 1)
            x = batch_front(operands[0], batched[0], size)
            shape = tuple(shape_of(x)[1:])
            if args.get("shape") is not None:
                shape = args["shape"]
                shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
                args["shape"] = (size,) + shape
            if len(operands) > 1:
                fill = operands[1]
                if len(batched) > 1 and batched[1]:  # a value per entry: line up batch axes
                    rest = tuple(shape_of(fill)[1:])
                    fill = lax.reshape(fill, (size,) + (1,) * (len(shape) - len(rest)) + rest)
                return prim.bind(x, fill, **args)
            return prim.bind(x, **args)

        return rule

    return make


def _batch_allclose(prim: Primitive) -> Callable[..., Any]:
    """``allclose``: ``isclose`` entry by entry, then ``all`` over each entry's axes."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        close = PRIMITIVES["isclose"].batch(vals, batched, params, size)
        return all(close, axis=tuple(range(1, len(shape_of(close)))))

    return rule


def _batch_array_equal(prim: Primitive) -> Callable[..., Any]:
    """``array_equal``: False for entries of different shapes, else every element equal (NaNs
    equal to NaNs with ``equal_nan=True``)."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        (a, b), args = _arguments(np.array_equal, vals, batched, params, 2)
        sa = tuple(shape_of(a)[1:] if batched[0] else shape_of(a))
        sb = tuple(shape_of(b)[1:] if len(batched) > 1 and batched[1] else shape_of(b))
        if sa != sb:
            return np.zeros(size, np.bool_)
        a, b = batch_front(a, batched[0], size), batch_front(b, len(batched) > 1 and batched[1],
                                                             size)
        same = PRIMITIVES["equal"].bind(a, b)  # the comparison of the elementwise family
        if args.get("equal_nan", False):
            same = logical_or(same, logical_and(isnan(a), isnan(b)))
        return all(same, axis=tuple(range(1, len(sa) + 1)))

    return rule


def _looped(prim: Primitive) -> Callable[..., Any]:
    """``nonzero`` and friends: how many indices each entry has depends on its values, so
    there is no one vectorised call; entries are computed one by one (and their results
    stack when the counts agree)."""
    return batch_by_looping(prim, "its output shape depends on the values of each entry")

# fmt: off
fix        = nondiff_function("fix",        np.fix,        batch_elementwise)
isposinf   = nondiff_function("isposinf",   np.isposinf,   batch_elementwise)
isneginf   = nondiff_function("isneginf",   np.isneginf,   batch_elementwise)
round      = nondiff_function("round",      np.round,      batch_elementwise)
around     = nondiff_function("around",     np.around,     batch_elementwise)
isclose    = nondiff_function("isclose",    np.isclose,    batch_elementwise)
argmax     = nondiff_function("argmax",     np.argmax,     _batch_reduction(np.argmax, None, True))
argmin     = nondiff_function("argmin",     np.argmin,     _batch_reduction(np.argmin, None, True))
nanargmax  = nondiff_function("nanargmax",  np.nanargmax,
                              _batch_reduction(np.nanargmax, None, True))
nanargmin  = nondiff_function("nanargmin",  np.nanargmin,
                              _batch_reduction(np.nanargmin, None, True))
argsort    = nondiff_function("argsort",    np.argsort,    _batch_reduction(np.argsort, -1, True),
                              _argsort)
any        = nondiff_function("any",        np.any,        _batch_reduction(np.any, None, False))
all        = nondiff_function("all",        np.all,        _batch_reduction(np.all, None, False))
count_nonzero = nondiff_function("count_nonzero", np.count_nonzero,
                                 _batch_reduction(np.count_nonzero, None, False))
zeros_like = nondiff_function("zeros_like", np.zeros_like, _batch_like(np.zeros_like))
ones_like  = nondiff_function("ones_like",  np.ones_like,  _batch_like(np.ones_like))
full_like  = nondiff_function("full_like",  np.full_like,  _batch_like(np.full_like))
empty_like = nondiff_function("empty_like", np.empty_like, _batch_like(np.empty_like))
allclose   = nondiff_function("allclose",   np.allclose,   _batch_allclose)
array_equal = nondiff_function("array_equal", np.array_equal, _batch_array_equal,
                               _array_equal)
argwhere   = nondiff_function("argwhere",   np.argwhere,   _looped,
                              _known_shapes("argwhere", np.argwhere))
nonzero    = nondiff_function("nonzero",    np.nonzero,    _looped,
                              _known_shapes("nonzero", np.nonzero))
flatnonzero = nondiff_function("flatnonzero", np.flatnonzero, _looped,
                               _known_shapes("flatnonzero", np.flatnonzero))

method("argmax",  lambda s, axis=None, keepdims=False: argmax(s, axis=axis, keepdims=keepdims))
method("argmin",  lambda s, axis=None, keepdims=False: argmin(s, axis=axis, keepdims=keepdims))
method("argsort", lambda s, axis=-1, kind=None, order=None: argsort(s, axis, kind, order))
method("round",   lambda s, decimals=0: round(s, decimals))
method("nonzero", lambda s: nonzero(s))
method("any",     lambda s, axis=None, keepdims=False: any(s, axis=axis, keepdims=keepdims))
method("all",     lambda s, axis=None, keepdims=False: all(s, axis=axis, keepdims=keepdims))
method("__floordiv__",  python_number_operator("__floordiv__", lambda s, o: floor_divide(s, o)))
method("__rfloordiv__", python_number_operator("__rfloordiv__",
                                               lambda s, o: floor_divide(o, s)))
# fmt: on


# ----------------------------------------------------------------------------- metadata
# Functions of shapes and dtypes only: read from the traced value itself (no primitive), so
# that under vmap they describe one batch entry and under jit they need no value.


def _meta(value: Any) -> Any:
    """A stand-in with ``value``'s shape and dtype (no data) for NumPy's metadata functions."""
    if isinstance(value, Tracer) or _backends.foreign(value):
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
