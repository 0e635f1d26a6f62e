"""Reverse mode: the VJP trace records one node per operation; the backward pass walks them.

The backward pass visits nodes in reverse topological order (iteratively: a million-node
graph is fine), accumulates cotangents into parents and drops each node's cotangent as
soon as it has been used.
"""

from __future__ import annotations

from typing import Any

from numpy import ndarray

from pullback._core import (
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
from pullback._rules import add_tangents

__all__ = ["Node", "VJPTrace", "VJPTracer", "backward_pass"]


class Node:
    """One recorded operation: the primitive, its parents and what its rule needs."""

    __slots__ = (
        "prim", "parents", "args", "ans", "params", "residual", "n_out", "needs", "__weakref__"
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
        self.needs = tuple(p is not None for p in parents)


class VJPTracer(Tracer):
    __slots__ = ("node", "index")

    def __init__(self, trace: Trace, primal: Any, node: Node, index: int = 0):
        self._trace = trace
        self._primal = primal
        self.node = node
        self.index = index


class VJPTrace(Trace):
    __slots__ = ()

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        vals = []
        parents = []
        for a in args:
            if type(a) is VJPTracer and a._trace is self:
                vals.append(a._primal)
                parents.append((a.node, a.index))
            else:
                vals.append(a)
                parents.append(None)
        if prim.nondiff:
            return prim.bind(*vals, **params)
        vals = tuple(vals)
        if prim.custom_rules:
            ans, residual = prim.forward_for_vjp(vals, params)
        else:
            ans, residual = bind(prim, *vals, **params), None
        if prim.multiple_results:
            node = Node(prim, tuple(parents), vals, ans, params, residual, len(ans))
            return tuple(VJPTracer(self, a, node, i) for i, a in enumerate(ans))
        return VJPTracer(self, ans, Node(prim, tuple(parents), vals, ans, params, residual, 1))


def _toposort(roots: list[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that uses it."""
    uses: dict[Node, int] = {}
    stack = list(roots)
    seen = set(map(id, roots))
    while stack:
        node = stack.pop()
        for p in node.parents:
            if p is None:
                continue
            parent = p[0]
            uses[parent] = uses.get(parent, 0) + 1
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    ready = [n for n in dict.fromkeys(roots) if uses.get(n, 0) == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for p in node.parents:
            if p is None:
                continue
            parent = p[0]
            uses[parent] -= 1
            if uses[parent] == 0:
                ready.append(parent)
    return order


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


def backward_pass(seeds: list[tuple[Node, int, Any]]) -> dict[Node, Any]:
    """Propagate the cotangents ``(node, output index, g)`` to the inputs.

    Returns the cotangents accumulated at the input nodes (``prim is None``). A node's
    cotangent is dropped as soon as its rule has used it.
    """
    cts: dict[Node, Any] = {}
    for node, index, g in seeds:
        _accumulate(cts, node, index, g)
    leaves = {}
    for node in _toposort([s[0] for s in seeds]):
        g = cts.pop(node, None)
        if g is None:
            continue
        prim = node.prim
        if prim is None:
            leaves[node] = g
            continue
        if node.n_out != 1:
            g = tuple(instantiate(s, a) for s, a in zip(g, node.ans))
        results = prim.backward(g, node.ans, node.args, node.params, node.residual, node.needs)
        if len(results) != len(node.parents):
            raise RuleError(
                f"the pullback of '{prim.name}' returned {len(results)} cotangents for "
                f"{len(node.parents)} arguments: return one per argument (None for none)"
            )
        for i, (p, ct, arg) in enumerate(zip(node.parents, results, node.args)):
            if p is None or ct is zero or ct is None:
                continue
            if type(ct) is not ndarray or type(arg) is not ndarray or (
                ct.shape != arg.shape or ct.dtype != arg.dtype
            ):
                _check_cotangent(node, i, ct)
            parent, index = p
            if parent.n_out == 1:
                prev = cts.get(parent)
                cts[parent] = ct if prev is None else prev + ct
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
