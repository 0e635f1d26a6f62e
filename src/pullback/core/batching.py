"""Batching: ``vmap`` maps a function over a leading axis as one vectorised pass.

A batch trace carries values with an extra leading axis (the batch axis). Each primitive
applied to batched values is handled by its batching rule ``prim.batch(vals, batched, params,
size)``, which receives the raw values (batch axis first where ``batched[i]``) and returns the
batched result. Every registered primitive declares its rule where it is defined; one that
NumPy cannot vectorise (its output shape depends on the values) declares a per-entry loop on
purpose with :func:`batch_by_looping`. A registered primitive without a rule is an error;
user primitives (``pb.primitive``, ``custom_vjp``, ``custom_jvp``, or a ``pullback.extend``
primitive not registered by name) without one are applied once per batch entry.

Jacobians use it to push all basis vectors through one forward or backward pass.

The common case, an elementwise primitive (one whose batching rule is marked
:func:`elementwise`) applied to values of one batch trace that are plain NumPy arrays, is
applied by :func:`batch_apply1`/:func:`batch_apply2` in one step: the NumPy layer's wrappers
call them where ``bind`` would find the trace and call :meth:`BatchTrace.process`, whose rule
would call the implementation on the same values; they fall back (return None) in every
other case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from pullback.core import lax
from pullback.core import trace as _trace_mod
from pullback.core.trace import PRIMITIVES, Primitive, Trace, Tracer, new_trace, shape_of
from pullback.core.tree import PyTreeDef, tree_flatten, tree_unflatten
from pullback.core.typing import PyTree

__all__ = [
    "BatchTrace", "BatchTracer", "batch_apply1", "batch_apply2", "batch_by_loop",
    "batch_by_looping", "elementwise", "vmap",
]

#: a batching rule: ``rule(vals, batched, params, size)`` returns the batched result
BatchRule = Callable[[list[Any], list[bool], dict[str, Any], int], Any]


class BatchTracer(Tracer):
    """A value with a batch axis in front; ``shape`` is the shape of one entry."""

    __slots__ = ()
    holds_value = False

    def __init__(self, trace: Trace, value: Any):
        self._trace = trace
        self._primal = value

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self._primal)[1:]

    @property
    def ndim(self) -> int:
        try:
            return self._primal.ndim - 1  # type: ignore[no-any-return]
        except AttributeError:
            return len(shape_of(self._primal)) - 1

    def __bool__(self) -> bool:
        raise TypeError(
            "vmap: the truth value of a batched value is ambiguous (it differs between batch "
            "entries); use pullback.numpy.where instead of Python control flow"
        )


class BatchTrace(Trace):
    __slots__ = ("size",)
    size: int  # the number of batch entries, set by vmap

    def lift(self, value: Any) -> BatchTracer:
        """A constant as a batched value: the same for every entry (a copy per entry)."""
        value = np.asarray(value)
        return BatchTracer(self, np.broadcast_to(value, (self.size,) + value.shape).copy())

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        vals: list[Any] = []
        batched: list[bool] = []
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(a._primal)
                batched.append(True)
            else:
                vals.append(a)
                batched.append(False)
        rule = prim.batch
        if rule is None:
            _check_user_primitive(prim)
            out = batch_by_loop(prim, vals, batched, params, self.size)
        else:
            out = rule(vals, batched, params, self.size)
        if prim.multiple_results:
            return tuple(BatchTracer(self, o) for o in out)
        return BatchTracer(self, out)


def elementwise(rule: BatchRule) -> BatchRule:
    """Mark the batching rule ``rule`` as elementwise: on plain NumPy values whose batched
    operands have one shape and dtype, the unbatched ones the shape and dtype of one entry
    (NumPy broadcasts them along the batch axis) or Python numbers, it calls the primitive's
    implementation on them, as :func:`batch_apply1`/:func:`batch_apply2` then do directly.

    Example:
        >>> from pullback.core.trace import Primitive
        >>> double = Primitive("double", lambda x: 2 * x)
        >>> rule = elementwise(lambda vals, batched, params, size: double.bind(*vals))
        >>> rule.elementwise
        True
    """
    rule.elementwise = True  # type: ignore[attr-defined]
    return rule


#: the values the fast path takes (plain NumPy arrays: no outer level's tracer)
_PLAIN = (np.ndarray, np.generic)
#: Python numbers, which the wrappers leave to NumPy's weak promotion
_WEAK = (float, int)


def _direct(prim: Primitive) -> bool:
    """Whether :meth:`BatchTrace.process` would apply ``prim`` as its implementation on the
    values (an elementwise rule, one result, no view of its argument, no derivative-free
    wrapper path)."""
    return (getattr(prim.batch, "elementwise", False) and not prim.multiple_results
            and prim.view is None and not prim.nondiff)


def batch_apply1(prim: Primitive, x: Any, params: dict) -> Any:
    """``prim(x, **params)`` in one step (what ``bind`` then :meth:`BatchTrace.process` do),
    for a primitive with an :func:`elementwise` rule and ``x`` a value of an active batch
    trace held as a plain NumPy array, no ``debug_nans`` hook set; None otherwise (then the
    caller takes the general path, ``bind``).

    Example:
        >>> from pullback.core.trace import new_trace, PRIMITIVES
        >>> with new_trace(BatchTrace) as trace:
        ...     trace.size = 2
        ...     y = batch_apply1(PRIMITIVES["negative"], BatchTracer(trace, np.ones((2, 3))), {})
        >>> y.primal.shape
        (2, 3)
    """
    if type(x) is not BatchTracer:
        return None
    xv = x._primal
    trace = x._trace
    if (type(xv) is not np.ndarray or not trace.active or _trace_mod.debug_hook is not None
            or not _direct(prim)):
        return None
    return BatchTracer(trace, prim.impl(xv, **params))


def batch_apply2(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` in one step, for a binary primitive with an :func:`elementwise` rule
    whose wrapper would bind it without promotion: both operands values of one active batch
    trace held as plain NumPy arrays of one shape and dtype; or one of them such a value and
    the other a NumPy array of one entry's shape and that dtype, or a Python number (weak).
    None in every other case (then the caller takes the general path).

    Example:
        >>> from pullback.core.lax import mul_p
        >>> from pullback.core.trace import new_trace
        >>> with new_trace(BatchTrace) as trace:
        ...     trace.size = 2
        ...     y = batch_apply2(mul_p, BatchTracer(trace, np.ones((2, 3))), np.arange(3.0))
        >>> y.primal
        array([[0., 1., 2.],
               [0., 1., 2.]])
    """
    if type(x) is BatchTracer:
        trace = x._trace
        xv = yv = x._primal
        if type(xv) is not np.ndarray:
            return None
        if type(y) is BatchTracer:
            yv = y._primal
            if (y._trace is not trace or type(yv) is not np.ndarray or xv.shape != yv.shape
                    or xv.dtype != yv.dtype):
                return None
        elif type(y) is np.ndarray:  # NumPy broadcasts it along the batch axis
            if xv.shape[1:] != y.shape or xv.dtype != y.dtype:
                return None
            yv = y
        elif type(y) in _WEAK:
            yv = y
        else:
            return None
    elif type(y) is BatchTracer:
        trace = y._trace
        yv = y._primal
        if type(yv) is not np.ndarray:
            return None
        if type(x) is np.ndarray:
            if yv.shape[1:] != x.shape or yv.dtype != x.dtype:
                return None
        elif type(x) not in _WEAK:
            return None
        xv = x
    else:
        return None
    if not trace.active or _trace_mod.debug_hook is not None or not _direct(prim):
        return None
    return BatchTracer(trace, prim.impl(xv, yv))


def _entry(v: Any, b: int) -> Any:
    return v[b]


def _stack(outs: list[Any]) -> Any:
    shapes = {tuple(shape_of(o)) for o in outs}
    if len(shapes) != 1:
        raise ValueError(f"results of shapes {sorted(shapes)}")
    return lax.stack(outs)


def _check_user_primitive(prim: Primitive) -> None:
    """A primitive without a batching rule: a user's one is looped over, pullback's own is a bug."""
    if prim.custom_rules or PRIMITIVES.get(prim.name) is not prim:
        return  # pb.primitive, custom_vjp/jvp, an unregistered pullback.extend primitive
    raise NotImplementedError(
        f"vmap: primitive '{prim.name}' has no batching rule; declare one next to its "
        "definition with pullback.extend.defbatch(prim, rule) (or, where the primitive cannot "
        "be vectorised, pullback.core.batching.batch_by_looping(prim, why))"
    )


def batch_by_loop(
    prim: Primitive, vals: list[Any], batched: list[bool], params: dict[str, Any], size: int
) -> Any:
    """Apply ``prim`` to each batch entry and stack the results.

    Example:
        >>> import numpy as np
        >>> from pullback.core.trace import Primitive
        >>> first = Primitive("first", lambda x: x[:1])
        >>> batch_by_loop(first, [np.arange(6.0).reshape(2, 3)], [True], {}, 2)
        array([[0.],
               [3.]])
    """
    outs = []
    for b in range(size):
        args = [_entry(v, b) if isb else v for v, isb in zip(vals, batched, strict=True)]
        outs.append(prim.bind(*args, **params))
    if prim.multiple_results:
        return tuple(_stack([o[k] for o in outs]) for k in range(len(outs[0])))
    try:
        return _stack(outs)
    except ValueError as err:
        raise ValueError(
            f"vmap: '{prim.name}' gives results of different shapes for different batch "
            f"entries ({err}); such a function cannot be vectorised"
        ) from err


def batch_by_looping(prim: Primitive, why: str) -> BatchRule:
    """The batching rule of a primitive that cannot be vectorised: one call per batch entry,
    declared on purpose (``why`` says why; the rule keeps it as ``rule.loop_reason``).

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defbatch
        >>> positive = Primitive("positive_entries", lambda x: x[x > 0])
        >>> defbatch(positive, batch_by_looping(positive, "the output size depends on values"))
        >>> pb.vmap(positive.bind)(np.array([[1.0, -1.0], [-2.0, 2.0]]))
        array([[1.],
               [2.]])
    """

    def rule(vals: list[Any], batched: list[bool], params: dict[str, Any], size: int) -> Any:
        return batch_by_loop(prim, vals, batched, params, size)

    rule.loop_reason = why  # type: ignore[attr-defined]
    rule.__qualname__ = f"batch_by_looping[{prim.name}]"
    return rule


# ----------------------------------------------------------------------------- vmap


def _move_to_front(x: Any, axis: int) -> Any:
    ndim = len(shape_of(x))
    axis %= ndim
    if axis == 0:
        return x
    return lax.transpose(x, (axis,) + tuple(i for i in range(ndim) if i != axis))


def vmap(
    f: Callable[..., PyTree], in_axes: int | None | Sequence[int | None] = 0, out_axes: int = 0
) -> Callable[..., PyTree]:
    """Vectorise ``f`` over an axis of its arguments: one pass instead of a Python loop.

    ``in_axes`` gives, per positional argument, the mapped axis (``None``: not mapped, the
    same value for every entry); ``out_axes`` the axis of the results that indexes entries.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> pb.vmap(lambda x, y: pnp.sum(x * y))(np.ones((3, 2)), np.arange(6.0).reshape(3, 2))
        array([1., 5., 9.])
        >>> pb.vmap(pb.grad(lambda x: pnp.sum(x ** 3)))(np.array([[1.0], [2.0]]))
        array([[ 3.],
               [12.]])
    """

    @functools.wraps(f)
    def batched_f(*args: PyTree) -> PyTree:
        axes = (in_axes,) * len(args) if in_axes is None or isinstance(in_axes, int) else tuple(
            in_axes
        )
        if len(axes) != len(args):
            raise ValueError(
                f"vmap: in_axes has {len(axes)} entries for {len(args)} positional arguments"
            )
        sizes = set()
        leaves: list[Any]
        tree: PyTreeDef | None
        # per argument: its leaves and structure (None: not mapped)
        flat: list[tuple[list[Any], PyTreeDef | None] | None] = []
        for a, ax in zip(args, axes, strict=True):
            if ax is None:
                flat.append(None)
                continue
            if type(a) is np.ndarray:  # one array, the common case: no pytree walk
                leaves, tree = [a], None
            else:
                leaves, tree = tree_flatten(a)
            for leaf in leaves:
                shape = leaf.shape if type(leaf) is np.ndarray else np.shape(leaf)
                if not -len(shape) <= ax < len(shape):
                    raise ValueError(
                        f"vmap: in_axes {ax} is out of range for an argument of shape {shape}"
                    )
                sizes.add(shape[ax])
            flat.append((leaves, tree))
        if len(sizes) != 1:
            raise ValueError(
                "vmap: the mapped axes must all have the same size, got "
                f"{sorted(sizes) if sizes else 'no mapped argument'}"
            )
        size = sizes.pop()
        with new_trace(BatchTrace) as trace:
            trace.size = size
            new_args = []
            for a, ax, fl in zip(args, axes, flat, strict=True):
                if fl is None:
                    new_args.append(a)
                    continue
                leaves, tree = fl
                tracers = [BatchTracer(trace, _move_to_front(x, cast(int, ax))) for x in leaves]
                new_args.append(tracers[0] if tree is None else tree_unflatten(tree, tracers))
            out = f(*new_args)
        if type(out) is BatchTracer:
            leaves, tree = [out], None
        else:
            leaves, tree = tree_flatten(out)
        results = []
        for leaf in leaves:
            if type(leaf) is BatchTracer and leaf._trace is trace:
                value = leaf._primal
            else:  # not batched: the same for every entry
                value = lax.broadcast_to(leaf, (size,) + tuple(np.shape(leaf)))
            if out_axes != 0:
                ndim = len(shape_of(value))
                order = list(range(1, ndim))
                order.insert(out_axes % ndim, 0)
                value = lax.transpose(value, tuple(order))
            results.append(value)
        if tree is None:
            return results[0]
        return tree_unflatten(tree, results)

    return batched_f
