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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.trace import PRIMITIVES, Primitive, Trace, Tracer, new_trace, shape_of
from pullback.core.tree import tree_flatten, tree_unflatten
from pullback.core.typing import PyTree

__all__ = ["BatchTrace", "BatchTracer", "batch_by_loop", "batch_by_looping", "vmap"]

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
        for a, ax in zip(args, axes, strict=True):
            if ax is not None:
                for leaf in tree_flatten(a)[0]:
                    shape = np.shape(leaf)
                    if not -len(shape) <= ax < len(shape):
                        raise ValueError(
                            f"vmap: in_axes {ax} is out of range for an argument of shape {shape}"
                        )
                    sizes.add(shape[ax])
        if len(sizes) != 1:
            raise ValueError(
                "vmap: the mapped axes must all have the same size, got "
                f"{sorted(sizes) if sizes else 'no mapped argument'}"
            )
        size = sizes.pop()
        with new_trace(BatchTrace) as trace:
            trace.size = size
            new_args = []
            for a, ax in zip(args, axes, strict=True):
                if ax is None:
                    new_args.append(a)
                    continue
                leaves, tree = tree_flatten(a)
                new_args.append(
                    tree_unflatten(
                        tree, [BatchTracer(trace, _move_to_front(x, ax)) for x in leaves]
                    )
                )
            out = f(*new_args)
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
        return tree_unflatten(tree, results)

    return batched_f
