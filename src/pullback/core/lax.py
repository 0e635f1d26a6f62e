"""The primitive layer: strict primitives under the NumPy-style wrappers.

``pullback.numpy`` offers NumPy's forgiving signatures (broadcasting, ``-1`` in shapes,
negative axes, dtype promotion). The primitives here take none of that: shapes are full
tuples, axes are non-negative and already normalised, operands of ``mul`` have one shape and
one dtype. The core builds on them (Jacobian blocks, ``vmap``'s stacking and moving of axes,
the transposes of custom rules), the wrappers of ``pullback.numpy`` call them, and their
rules are written with them, so this module depends on nothing above the core.

Each primitive declares, in one place, its NumPy implementation, its derivative rules (one
declaration gives both modes) and its batching rule for ``vmap``.

Example:
    >>> import numpy as np
    >>> from pullback.core import lax
    >>> lax.reduce_sum(lax.broadcast_to(np.ones(2), (3, 2)), (0,)).tolist()
    [3.0, 3.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core import trace as _trace_mod
from pullback.core.reverse import VJPTracer, defvjp_lean, record1
from pullback.core.rules import defelementwise, defjvp_joint, deflinear, defnondiff, defvjp_joint
from pullback.core.trace import (
    Primitive,
    Tracer,
    dtype_of,
    is_differentiable_dtype,
    new_primitive,
    shape_of,
    zero,
)

__all__ = [
    "broadcast_to",
    "concatenate",
    "convert",
    "copy",
    "mul",
    "real",
    "reduce_sum",
    "reshape",
    "split",
    "stack",
    "stop_gradient",
    "sum_transpose",
    "transpose",
    "unbroadcast",
]


def _batch_unary(prim: Primitive) -> Any:
    """The batching rule of a primitive applied entry by entry (the batch axis rides along)."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        return prim.bind(*vals, **params)

    return rule


def _front(v: Any, batched: bool, size: int) -> Any:
    """``v`` with the batch axis in front: broadcast along it when ``v`` has none."""
    return v if batched else broadcast_to(v, (size,) + tuple(shape_of(v)))


# ----------------------------------------------------------------------------- reshape


def _reshape_impl(x: Any, shape: tuple) -> Any:
    if type(x) is np.ndarray or isinstance(x, np.generic):  # a NumPy scalar: np.reshape's
        return x.reshape(shape)                             # result, without its layers
    if backends.is_dask(x):
        try:
            return x.reshape(shape)
        except NotImplementedError:  # Dask only merges or splits axes: through 1-d, both
            return x.reshape(-1).reshape(shape)
    return np.reshape(x, shape)


reshape_p = new_primitive("reshape", _reshape_impl)
deflinear(reshape_p, lambda g, x, shape: reshape(g, shape_of(x)))
defvjp_lean(reshape_p, lambda g, ans, args, params, parents: (reshape(g, shape_of(args[0])),))
reshape_p.batch = lambda vals, batched, params, size: reshape_p.bind(
    vals[0], shape=(size,) + tuple(params["shape"])
)


def reshape(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` with the full shape ``shape`` (no ``-1``; the same number of elements).

    Example:
        >>> from pullback.core import lax
        >>> lax.reshape(np.arange(6.0), (2, 3)).shape
        (2, 3)
    """
    shape = tuple(shape)
    if shape_of(x) == shape:
        return x
    if type(x) is np.ndarray and _trace_mod.debug_hook is None:
        return x.reshape(shape)  # what bind does for a plain array
    out = record1(reshape_p, x, {"shape": shape})  # the eager reverse-mode case
    return reshape_p.bind(x, shape=shape) if out is None else out


# ----------------------------------------------------------------------------- transpose

def _transpose_impl(x: Any, axes: tuple) -> Any:
    if type(x) is np.ndarray:
        return x.transpose(axes)  # np.transpose's result, without its Python layers
    return np.transpose(x, axes)


transpose_p = new_primitive("transpose", _transpose_impl)
def _inverse(axes: tuple) -> tuple[int, ...]:
    """The inverse permutation of ``axes`` (``np.argsort(axes)``, in plain Python)."""
    if len(axes) == 2:
        return axes  # (0, 1) and (1, 0) are their own inverses
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


deflinear(transpose_p, lambda g, x, axes: transpose(g, _inverse(axes)))
defvjp_lean(transpose_p, lambda g, ans, args, params, parents: (
    transpose(g, _inverse(params["axes"])),))
transpose_p.batch = lambda vals, batched, params, size: transpose_p.bind(
    vals[0], axes=(0,) + tuple(a + 1 for a in params["axes"])
)


def transpose(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with its axes permuted: ``axes`` is a full permutation of ``range(x.ndim)``.

    Example:
        >>> from pullback.core import lax
        >>> lax.transpose(np.ones((2, 3, 4)), (2, 0, 1)).shape
        (4, 2, 3)
    """
    axes = tuple(axes)
    if axes == tuple(range(len(axes))):
        return x
    if type(x) is np.ndarray and _trace_mod.debug_hook is None:
        return x.transpose(axes)  # what bind does for a plain array
    return transpose_p.bind(x, axes=axes)


# ----------------------------------------------------------------------------- broadcasting


def _broadcast_to_impl(x: Any, shape: tuple) -> Any:
    if type(x) is np.ndarray and len(shape) and math.prod(shape) <= 4096:
        out = np.empty(shape, x.dtype)  # for small arrays a copy is 10x faster than a view
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting ``shape`` to ``g``'s shape created.

    Example:
        >>> from pullback.core import lax
        >>> lax.unbroadcast(np.ones((3, 2)), (1, 2)).tolist()
        [[3.0, 3.0]]
    """
    if type(g) is np.ndarray and g.dtype.kind in "fc" and _trace_mod.debug_hook is None:
        # a plain cotangent (eager, first order): the sum below, in one NumPy call where the
        # shapes are the common ones (a bias: leading axes; a kept-dims reduction: axes of
        # length 1)
        gshape = g.shape
        lead = len(gshape) - len(shape)
        if lead == 0:
            axes = tuple([i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1])
            return np.add.reduce(g, axis=axes, keepdims=True) if axes else g
        if lead > 0 and shape and gshape[lead:] == shape:
            return np.add.reduce(g, axis=tuple(range(lead)))
    gshape = shape_of(g)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        if type(g) is np.ndarray and _trace_mod.debug_hook is None:
            g = _sum_impl(g, axes, False)  # what reduce_sum does for a plain array
        else:
            g = reduce_sum(g, axes)
    return reshape(g, shape)


def _broadcast_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    (v,) = vals
    s = shape_of(v)[1:]
    target = tuple(params["shape"])
    if len(s) < len(target):
        v = reshape(v, (size,) + (1,) * (len(target) - len(s)) + tuple(s))
    return broadcast_to_p.bind(v, shape=(size,) + target)


broadcast_to_p = new_primitive("broadcast_to", _broadcast_to_impl)
deflinear(broadcast_to_p, lambda g, x, shape: unbroadcast(g, shape_of(x)))
defvjp_lean(broadcast_to_p, lambda g, ans, args, params, parents: (
    unbroadcast(g, shape_of(args[0])),))
broadcast_to_p.batch = _broadcast_batch


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` broadcast to ``shape`` by NumPy's rule (leading axes added, size-1 axes repeated).

    Example:
        >>> from pullback.core import lax
        >>> lax.broadcast_to(np.array([1.0, 2.0]), (3, 2)).shape
        (3, 2)
    """
    shape = tuple(shape)
    if shape_of(x) == shape:
        return x
    out = record1(broadcast_to_p, x, {"shape": shape})  # the eager reverse-mode case
    return broadcast_to_p.bind(x, shape=shape) if out is None else out


# ----------------------------------------------------------------------------- sum


def _sum_impl(x: Any, axes: tuple, keepdims: bool) -> Any:
    if type(x) is np.ndarray and x.dtype.kind in "fc":
        return np.add.reduce(x, axis=axes, keepdims=keepdims)  # np.sum's result, 3x faster
    return np.sum(x, axis=axes, keepdims=keepdims)


#: NumPy's own values (arrays and scalars)
_NUMPY = (np.ndarray, np.generic)


def _holds_numpy(x: Any) -> bool:
    """Whether ``x`` is a traced value standing for a NumPy array (not a batch of them, an
    abstract value under jit, nor another library's array)."""
    while isinstance(x, Tracer):
        if not x.holds_value:
            return False
        x = x._primal
    return type(x) is np.ndarray


def sum_transpose(g: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """The transpose of summing ``x`` over ``axes``: ``g`` broadcast back to ``x``'s shape.

    Example:
        >>> from pullback.core import lax
        >>> lax.sum_transpose(np.array([1.0, 2.0]), np.ones((2, 3)), (1,), False).shape
        (2, 3)
    """
    shape = shape_of(x)
    if (isinstance(g, _NUMPY) and _trace_mod.debug_hook is None
            and (type(x) is np.ndarray or _holds_numpy(x))):
        # a plain cotangent for a NumPy array, or for a traced value standing for one
        # (eager, first order; or the seed of grad under jvp/hessian): what reshape and
        # broadcast_to below do
        if not g.shape and shape and math.prod(shape) <= 4096:
            out = np.empty(shape, g.dtype)  # a 0-d g (the sum of every entry): one fill
            out.fill(g)
            return out
        if not keepdims:
            to = tuple([1 if i in axes else n for i, n in enumerate(shape)])
            if g.shape != to:
                g = g.reshape(to)
        return g if g.shape == shape else _broadcast_to_impl(g, shape)
    if not keepdims:
        g = reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    if (type(x) is not np.ndarray and not isinstance(g, Tracer)
            and backends.is_dask(backends.base_value(x))):
        # in x's library and chunks (x traced too: the seed of grad under jvp or vmap):
        # np.broadcast_to of a NumPy g would put an array of x's size into the graph, and
        # one chunk along the new axes
        return backends.zeros(shape, dtype_of(g), like=x) + g
    return broadcast_to(g, shape)


sum_p = new_primitive("sum", _sum_impl)
deflinear(sum_p, sum_transpose)
defvjp_lean(sum_p, lambda g, ans, args, params, parents: (
    sum_transpose(g, args[0], params["axes"], params["keepdims"]),))
sum_p.batch = lambda vals, batched, params, size: sum_p.bind(
    vals[0], axes=tuple(a + 1 for a in params["axes"]), keepdims=params["keepdims"]
)


def reduce_sum(x: Any, axes: tuple[int, ...], keepdims: bool = False) -> Any:
    """The sum of ``x`` over the non-negative ``axes``.

    Example:
        >>> from pullback.core import lax
        >>> lax.reduce_sum(np.ones((2, 3)), (1,)).tolist()
        [3.0, 3.0]
    """
    return sum_p.bind(x, axes=tuple(axes), keepdims=bool(keepdims))


# ----------------------------------------------------------------------------- concatenate, split

concatenate_p = new_primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis))


def _split_impl(x: Any, sizes: tuple[int, ...], axis: int) -> tuple:
    if type(x) is np.ndarray or backends.library(x) == "numpy":
        return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    ends = np.cumsum(sizes).tolist()  # other libraries (Dask has no split): slices
    lead = (slice(None),) * axis
    return tuple(x[lead + (slice(e - n, e),)] for n, e in zip(sizes, ends, strict=True))


split_p = new_primitive("split", _split_impl, multiple_results=True)


def _concatenate_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    sizes = tuple(shape_of(x)[params["axis"]] for x in args)
    parts = split(g, sizes, params["axis"])
    return tuple(p if need else zero for p, need in zip(parts, needs, strict=True))


def _concatenate_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    if all(t is zero for t in tangents):
        return zero
    like = next(t for t in tangents if t is not zero)  # zeros in the tangents' library
    ts = [
        backends.zeros(shape_of(x), dtype_of(x), like=like) if t is zero else t
        for t, x in zip(tangents, args, strict=True)
    ]
    return concatenate_p.bind(*ts, **params)


def _split_transpose(gs: Sequence[Any], x: Any, sizes: tuple, axis: int) -> Any:
    shape = list(shape_of(x))
    parts = []
    like = next((g for g in gs if g is not zero and g is not None), x)
    for g, n in zip(gs, sizes, strict=True):
        if g is zero or g is None:
            shape[axis] = n
            g = backends.zeros(tuple(shape), dtype_of(x), like=like)
        parts.append(g)
    return concatenate(parts, axis)


defvjp_joint(concatenate_p, _concatenate_vjp)
defjvp_joint(concatenate_p, _concatenate_jvp)
deflinear(split_p, _split_transpose)
concatenate_p.batch = lambda vals, batched, params, size: concatenate_p.bind(
    *(_front(v, b, size) for v, b in zip(vals, batched, strict=True)), axis=params["axis"] + 1
)
split_p.batch = lambda vals, batched, params, size: split_p.bind(
    vals[0], sizes=params["sizes"], axis=params["axis"] + 1
)


def concatenate(xs: Sequence[Any], axis: int) -> Any:
    """``xs`` (of one dtype and rank, equal shapes but along ``axis``) joined along ``axis``.

    Example:
        >>> from pullback.core import lax
        >>> lax.concatenate([np.ones((2, 1)), np.zeros((2, 2))], 1).shape
        (2, 3)
    """
    xs = list(xs)
    return xs[0] if len(xs) == 1 else concatenate_p.bind(*xs, axis=axis)


def split(x: Any, sizes: Sequence[int], axis: int) -> tuple:
    """``x`` cut along ``axis`` into consecutive pieces of ``sizes`` (which sum to its length).

    Example:
        >>> from pullback.core import lax
        >>> [p.shape for p in lax.split(np.ones((5, 2)), (2, 3), 0)]
        [(2, 2), (3, 2)]
    """
    sizes = tuple(int(n) for n in sizes)
    return (x,) if len(sizes) == 1 else tuple(split_p.bind(x, sizes=sizes, axis=axis))


def stack(xs: Sequence[Any]) -> Any:
    """``xs`` (of one shape and dtype) stacked along a new leading axis.

    Example:
        >>> from pullback.core import lax
        >>> lax.stack([np.ones(2), np.zeros(2)]).shape
        (2, 2)
    """
    return concatenate([reshape(x, (1,) + tuple(shape_of(x))) for x in xs], 0)


# ----------------------------------------------------------------------------- dtypes


def _convert_impl(x: Any, dtype: Any) -> Any:
    return x.astype(dtype) if hasattr(x, "astype") else np.asarray(x, dtype=dtype)


def _convert_transpose(g: Any, x: Any, dtype: Any) -> Any:
    if dtype_of(g).kind == "c" and dtype_of(x).kind != "c":
        g = real(g)  # real -> complex: the cotangent is the real part (JAX's convention)
    return convert(g, dtype_of(x))


convert_p = new_primitive("astype", _convert_impl)
deflinear(convert_p, _convert_transpose)
convert_p.batch = _batch_unary(convert_p)
convert_nondiff_p = new_primitive("astype_nondiff", _convert_impl)  # to integer or bool
defnondiff(convert_nondiff_p)
convert_nondiff_p.batch = _batch_unary(convert_nondiff_p)


def convert(x: Any, dtype: Any) -> Any:
    """``x`` converted to ``dtype``; to an integer or boolean dtype the result is a constant.

    Example:
        >>> from pullback.core import lax
        >>> lax.convert(np.array([1.5]), np.float32).dtype
        dtype('float32')
    """
    dtype = np.dtype(dtype)
    if dtype_of(x) == dtype:
        return x
    if not is_differentiable_dtype(dtype):
        return convert_nondiff_p.bind(x, dtype=dtype)
    return convert_p.bind(x, dtype=dtype)


# Complex values: a cotangent g pairs with a tangent t through Re(sum(g * t)), so
#   real: t -> Re t has the transpose g -> g + 0j.
real_p = new_primitive("real", np.real)
deflinear(real_p, lambda g, x: convert(g, dtype_of(x)))
real_p.batch = _batch_unary(real_p)


def real(x: Any) -> Any:
    """The real part of ``x`` (``x`` itself when it is real).

    Example:
        >>> from pullback.core import lax
        >>> lax.real(np.array([1.5 + 2.0j])).tolist()
        [1.5]
    """
    return real_p.bind(x) if dtype_of(x).kind == "c" else x


# ----------------------------------------------------------------------------- mul


def _mul_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    x, y = vals
    if batched[0] and batched[1] and shape_of(x) == shape_of(y):
        return mul_p.bind(x, y)  # nothing to align or broadcast
    if batched[0] != batched[1] and not isinstance(x, Tracer) and not isinstance(y, Tracer):
        b, u = (x, y) if batched[0] else (y, x)
        if len(shape_of(u)) < len(shape_of(b)):  # NumPy broadcasts; no rank to align
            return mul_p.bind(x, y)
    # a constant operand may have a smaller (broadcastable) shape: align the ranks after the
    # batch axis, then broadcast both operands to the common shape
    rank = max(len(shape_of(v)) - b for v, b in zip(vals, batched, strict=True))
    aligned = []
    for v, b in zip(vals, batched, strict=True):
        s = tuple(shape_of(v))
        if b and len(s) - 1 < rank:
            v = reshape(v, (size,) + (1,) * (rank - len(s) + 1) + s[1:])
        aligned.append(v)
    full = np.broadcast_shapes(*(tuple(shape_of(v)) for v in aligned))
    # traced operands get the full shape; constants (Python numbers stay weakly typed) are
    # left to NumPy's broadcasting
    return mul_p.bind(*(broadcast_to(v, full) if isinstance(v, Tracer) else v for v in aligned))


mul_p = new_primitive("multiply", np.multiply)
defelementwise(mul_p, lambda ans, x, y: y, lambda ans, x, y: x)


def _mul_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    """``tx * y + ty * x``: the forward rule ``defelementwise`` makes of the partial
    derivatives above (the same expressions, in the same order), in one call."""
    tx, ty = tangents
    x, y = args
    if ty is zero:
        return zero if tx is zero else tx * y
    if tx is zero:
        return ty * x
    if tx is ty and x is y:
        # x * x: tx * x + tx * x as one product doubled (exactly the same value)
        return (tx * x) * 2.0
    return tx * y + ty * x


mul_p.jvp = _mul_jvp
mul_p.batch = _mul_batch
# elementwise (pullback.core.batching.elementwise, which imports this module): on plain
# values of one shape and dtype, or a Python number, or an unbatched operand of one entry's
# shape, the rule calls the implementation on them, as the batching fast path then does
_mul_batch.elementwise = True  # type: ignore[attr-defined]


def mul(x: Any, y: Any) -> Any:
    """The elementwise product of ``x`` and ``y``, of one shape and one dtype.

    Example:
        >>> from pullback.core import lax
        >>> lax.mul(np.array([2.0, 3.0]), np.array([4.0, 5.0])).tolist()
        [8.0, 15.0]
    """
    return mul_p.bind(x, y)


# ----------------------------------------------------------------------------- copy


def _copy_impl(x: Any) -> Any:
    if isinstance(x, np.ndarray) or backends.library(x) != "numpy":
        return x.copy()  # a Dask or CuPy array stays in its library
    return np.array(x)


copy_p = new_primitive("copy", _copy_impl)
deflinear(copy_p, lambda g, x: g)
copy_p.batch = _batch_unary(copy_p)


def copy(x: Any) -> Any:
    """A new array with ``x``'s value (a new traced value: writing into it leaves ``x`` alone).

    Example:
        >>> from pullback.core import lax
        >>> a = np.ones(2)
        >>> b = lax.copy(a); b[0] = 5.0; a.tolist()
        [1.0, 1.0]
    """
    return copy_p.bind(x)


# ----------------------------------------------------------------------------- stop_gradient

# not registered by name: it has no derivative to check (the audit and spec table skip it)
stop_gradient_p = Primitive("stop_gradient", lambda x: x)
defnondiff(stop_gradient_p)
stop_gradient_p.batch = _batch_unary(stop_gradient_p)


def stop_gradient(x: Any) -> Any:
    """``x``, as a constant to every transformation (one array; ``pb.stop_gradient`` maps it
    over a pytree).

    Example:
        >>> from pullback.core import lax
        >>> lax.stop_gradient(np.array([1.0])).tolist()
        [1.0]
    """
    if type(x) is VJPTracer:  # the eager case: what bind and VJPTrace.process do
        v = x._primal
        if isinstance(v, (np.ndarray, np.generic)) and x._trace.active \
                and _trace_mod.debug_hook is None:
            return v
    return stop_gradient_p.bind(x)
