"""Reverse mode: the VJP trace records one node per operation; the backward pass walks them.

The trace records its nodes in creation order, which is a topological order. The backward
pass walks them in reverse (iteratively: a million-node graph is fine), accumulates
cotangents into parents and drops each node's cotangent as soon as it has been used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pullback.core.rules import add_tangents
from pullback.core.trace import (
    Primitive,
    RuleError,
    Trace,
    Tracer,
    bind,
    dtype_of,
    instantiate,
    shape_of,
    zero,
)

__all__ = ["Node", "VJPTrace", "VJPTracer", "backward_pass"]


class Node:
    """One recorded operation: the primitive, its parents and what its rule needs."""

    __slots__ = (
        "prim", "parents", "args", "ans", "params", "residual", "n_out", "__weakref__",
    )

    def __init__(
        self,
        prim: Primitive | None,
        parents: tuple,
        args: tuple,
        ans: Any,
        params: dict,
        residual: Any,
        n_out: int,
    ):
        self.prim = prim  # None marks an input (a leaf)
        self.parents = parents  # per argument: (node, output index) or None
        self.args = args
        self.ans = ans
        self.params = params
        self.residual = residual
        self.n_out = n_out


class VJPTracer(Tracer):
    __slots__ = ("node", "index")

    def __init__(self, trace: Trace, primal: Any, node: Node, index: int = 0):
        self._trace = trace
        self._primal = primal
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        try:
            return self._primal.ndim  # type: ignore[no-any-return]
        except AttributeError:
            return len(shape_of(self._primal))


class VJPTrace(Trace):
    """Records one :class:`Node` per operation on its tracers, in creation order."""

    __slots__ = ("nodes",)

    def __init__(self, level: int):
        self.level = level  # Trace.__init__, inline
        self.active = True
        self.nodes: list[Node] = []

    def lift(self, value: Any) -> VJPTracer:
        """A constant as a tracer with no derivative (its cotangent is dropped)."""
        return self.leaf(value)

    def leaf(self, value: Any) -> VJPTracer:
        """A new input of this trace."""
        node = Node(None, (), (), value, None, None, 1)
        self.nodes.append(node)
        return VJPTracer(self, value, node)

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        if len(args) == 2:  # the common case, without the lists
            x, y = args
            if type(x) is VJPTracer and x._trace is self:
                x_val = x._primal
                px: tuple | None = (x.node, x.index)
            else:
                x_val, px = x, None
            if type(y) is VJPTracer and y._trace is self:
                y_val = y._primal
                py: tuple | None = (y.node, y.index)
            else:
                y_val, py = y, None
            vals: Any = (x_val, y_val)
            parents: Any = (px, py)
            # whether an argument is traced at an outer level too
            outer = isinstance(x_val, Tracer) or isinstance(y_val, Tracer)
        else:
            vals = []
            parents = []
            outer = False
            for a in args:
                if type(a) is VJPTracer and a._trace is self:
                    a_val = a._primal
                    parents.append((a.node, a.index))
                else:
                    a_val = a
                    parents.append(None)
                vals.append(a_val)
                if isinstance(a_val, Tracer):
                    outer = True
            vals = tuple(vals)
            parents = tuple(parents)
        if prim.nondiff:
            return bind(prim, *vals, **params) if outer else prim.impl(*vals, **params)
        if prim.custom_rules:
            ans, residual = prim.forward_for_vjp(vals, params)
        elif outer:
            ans, residual = bind(prim, *vals, **params), None
        else:
            ans, residual = prim.impl(*vals, **params), None
        if prim.multiple_results:
            node = Node(prim, parents, vals, ans, params, residual, len(ans))
            self.nodes.append(node)
            return tuple(VJPTracer(self, a, node, i) for i, a in enumerate(ans))
        node = Node(prim, parents, vals, ans, params, residual, 1)
        self.nodes.append(node)
        return VJPTracer(self, ans, node)


def _check_cotangent(node: Node, i: int, ct: Any) -> None:
    arg = node.args[i]
    if shape_of(ct) != shape_of(arg):
        raise RuleError(
            f"the pullback of '{node.prim.name}' returned a cotangent of shape {shape_of(ct)} "
            f"for argument {i}, whose shape is {shape_of(arg)}: a cotangent must have its "
            "primal's shape (sum over broadcast axes)"
        )
    if dtype_of(ct) != dtype_of(arg):
        raise RuleError(
            f"the pullback of '{node.prim.name}' returned a cotangent of dtype {dtype_of(ct)} "
            f"for argument {i}, whose dtype is {dtype_of(arg)}: cast it with .astype"
        )


#: set by ``pb.debug_nans()`` (``pullback.core.debug``): checks every cotangent
cotangent_hook: Callable[[Node, int, Any], None] | None = None


def backward_pass(seeds: list[tuple[Node, int, Any]], nodes: list[Node]) -> dict[Node, Any]:
    """Propagate the cotangents ``(node, output index, g)`` to the inputs.

    ``nodes`` are the trace's nodes in creation order, a topological order (a node's parents
    are created before it): walked in reverse, each node is visited after every node that
    uses it has passed it its cotangent, and its cotangent is dropped as soon as its rule has
    used it. Returns the cotangents accumulated at the input nodes (``prim is None``).

    Example:
        >>> from pullback.core.trace import new_trace
        >>> with new_trace(VJPTrace) as trace:
        ...     x = trace.leaf(3.0)
        ...     y = x * x
        >>> backward_pass([(y.node, 0, 1.0)], trace.nodes)[x.node]
        6.0
    """
    cts: dict[Node, Any] = {}
    for node, index, g in seeds:
        _accumulate(cts, node, index, g)
    leaves = {}
    pop = cts.pop
    for node in reversed(nodes):
        if not cts:
            break
        g = pop(node, None)
        if g is None:
            continue
        prim = node.prim
        if prim is None:
            leaves[node] = g
            continue
        if node.n_out != 1:
            g = tuple(instantiate(s, a) for s, a in zip(g, node.ans, strict=True))
        parents = node.parents  # truthy where an argument needs a cotangent
        args = node.args
        vjp = prim.vjp
        if vjp is None or prim.custom_rules:
            results = prim.backward(g, node.ans, args, node.params, node.residual, parents)
        else:
            results = vjp(g, node.ans, args, node.params, parents)
        if len(results) != len(parents):
            raise RuleError(
                f"the pullback of '{prim.name}' returned {len(results)} cotangents for "
                f"{len(parents)} arguments: return one per argument (None for none)"
            )
        i = -1
        for p, ct in zip(parents, results, strict=True):
            i += 1
            if p is None or ct is zero or ct is None:
                continue
            arg = args[i]
            try:  # shape_of and dtype_of, for values that have both attributes
                ok = ct.shape == arg.shape and ct.dtype == arg.dtype
            except AttributeError:
                ok = False
            if not ok:
                _check_cotangent(node, i, ct)  # raises unless shape_of/dtype_of agree
            if cotangent_hook is not None:
                cotangent_hook(node, i, ct)
            parent, index = p
            if parent.n_out == 1:
                prev = cts.get(parent)
                # add_tangents(prev, ct), inline (ct is not zero)
                cts[parent] = ct if prev is None or prev is zero else prev + ct
            else:
                _accumulate(cts, parent, index, ct)
    return leaves


def _accumulate(cts: dict, node: Node, index: int, g: Any) -> None:
    if node.n_out == 1:
        prev = cts.get(node)
        cts[node] = g if prev is None else add_tangents(prev, g)
        return
    slots = cts.get(node)
    if slots is None:
        slots = cts[node] = [zero] * node.n_out
    slots[index] = add_tangents(slots[index], g)
