"""Reverse mode: the VJP trace records one node per operation; the backward pass walks them.

The trace records its nodes in creation order, which is a topological order; each node knows
its place in that list (``slot``). The backward pass walks them in reverse (iteratively: a
million-node graph is fine), accumulates cotangents into a list indexed by slot and drops
each node's cotangent as soon as it has been used.

The eager common case, a primitive applied to values of one VJP trace whose primals are plain
NumPy values (no outer transformation), no ``debug_nans`` hook, is recorded by
:func:`record1`/:func:`record2`/:func:`record`: the NumPy layer's wrappers call them in place
of ``bind`` (which would find the trace, then call :meth:`VJPTrace.process`), and they
fall back (return None) in every other case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import trace as _trace_mod
from pullback.core.forward import JVPTracer, jvp_apply1, jvp_apply2
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

__all__ = [
    "BROADCASTING", "EAGER_VJP", "Node", "VJPTrace", "VJPTracer", "backward_pass", "defvjp_lean",
    "record", "record1", "record2", "record_pair",
]


class Node:
    """One recorded operation: the primitive, its parents and what its rule needs."""

    __slots__ = (
        "prim", "parents", "args", "ans", "params", "residual", "n_out", "slot", "__weakref__",
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
        slot: int = -1,
    ):
        self.prim = prim  # None marks an input (a leaf)
        self.parents = parents  # per argument: (node, output index) or None
        self.args = args
        self.ans = ans
        self.params = params
        self.residual = residual
        self.n_out = n_out
        self.slot = slot  # the place in its trace's ``nodes`` (the backward pass's index)


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


_new = object.__new__


def _push(trace: Any, prim: Primitive, parents: tuple, args: tuple, ans: Any,
          params: dict) -> VJPTracer:
    """Append the node of ``prim``'s result ``ans`` (one output, no residual) to ``trace`` and
    return its tracer: ``Node(...)`` and ``VJPTracer(...)`` with their ``__init__`` written out
    (a third of the cost of calling the classes, on the eager fast paths below)."""
    nodes = trace.nodes
    node = _new(Node)
    node.prim = prim
    node.parents = parents
    node.args = args
    node.ans = ans
    node.params = params
    node.residual = None
    node.n_out = 1
    node.slot = len(nodes)
    nodes.append(node)
    out = _new(VJPTracer)
    out._trace = trace
    out._primal = ans
    out.node = node
    out.index = 0
    return out


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
        nodes = self.nodes
        node = _new(Node)  # Node(None, (), (), value, None, None, 1, len(nodes)), inline
        node.prim = None
        node.parents = node.args = ()
        node.ans = value
        node.params = node.residual = None
        node.n_out = 1
        node.slot = len(nodes)
        nodes.append(node)
        out = _new(VJPTracer)  # VJPTracer(self, value, node), inline
        out._trace = self
        out._primal = value
        out.node = node
        out.index = 0
        return out

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
        nodes = self.nodes
        if prim.multiple_results:
            node = Node(prim, parents, vals, ans, params, residual, len(ans), len(nodes))
            nodes.append(node)
            return tuple(VJPTracer(self, a, node, i) for i, a in enumerate(ans))
        node = Node(prim, parents, vals, ans, params, residual, 1, len(nodes))
        nodes.append(node)
        return VJPTracer(self, ans, node)


#: the parameters of the nodes of binary elementwise primitives (none): one dict for all of
#: them, never written (rules and passes only read ``params``)
_NO_PARAMS: dict = {}
#: the primal types the eager fast path takes (plain NumPy values: no outer level's tracer)
_PLAIN = (np.ndarray, np.generic)
#: Python numbers, which the wrappers leave to NumPy's weak promotion
_WEAK = (float, int)


def _direct(prim: Primitive) -> bool:
    """Whether applying ``prim`` on the tape is its implementation and one node, as
    :meth:`VJPTrace.process` does it for an ordinary primitive (``bind`` adds only the
    marking of views, which the callers do as ``bind`` does)."""
    return not (prim.nondiff or prim.custom_rules or prim.multiple_results)


def record1(prim: Primitive, x: Any, params: dict) -> Any:
    """``prim(x, **params)`` on the tape in one step (what ``bind`` then
    :meth:`VJPTrace.process` do), when ``x`` is a tracer of an active VJP trace whose primal
    is a plain NumPy value and no ``debug_nans`` hook is set; None otherwise (then the caller
    takes the general path, ``bind``).

    Example:
        >>> from pullback.core.trace import new_trace, PRIMITIVES
        >>> with new_trace(VJPTrace) as trace:
        ...     y = record1(PRIMITIVES["negative"], trace.leaf(np.ones(2)), {})
        >>> y.primal, y.node.slot
        (array([-1., -1.]), 1)
    """
    if type(x) is not VJPTracer:
        return None
    xv = x._primal
    trace = x._trace
    if (not trace.active or _trace_mod.debug_hook is not None or prim.nondiff
            or prim.custom_rules or prim.multiple_results):
        return None
    if type(xv) is np.ndarray or isinstance(xv, _PLAIN):
        ans = prim.impl(xv, **params)
    elif type(xv) is JVPTracer:  # traced by an outer forward level: applied there in one step
        ans = jvp_apply1(prim, xv, params)
        if ans is None:
            return None
    else:
        return None
    out = _push(trace, prim, ((x.node, x.index),), (xv,), ans, params)
    if prim.view is not None:  # as bind does: a view of x (slicing, transpose) is marked
        prim.view(out, (x,), params)
    return out


def record2(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` on the tape in one step, for a binary elementwise primitive whose
    wrapper would bind it without promotion: each operand a tracer of one active VJP trace
    (with a plain NumPy primal) or a plain NumPy array, of one shape and dtype; or one of them
    a Python number (weak); or, for the primitives of :data:`BROADCASTING`, two operands of one
    floating dtype whose shapes NumPy broadcasts. None in every other case (then the caller
    takes the general path).

    Example:
        >>> from pullback.core.lax import mul_p
        >>> from pullback.core.trace import new_trace
        >>> with new_trace(VJPTrace) as trace:
        ...     y = record2(mul_p, trace.leaf(np.ones(2)), 3.0)
        >>> y.primal
        array([3., 3.])
    """
    if type(x) is VJPTracer:
        trace = x._trace
        xv = x._primal
        px: Any = (x.node, x.index)
        if type(y) is VJPTracer:
            if y._trace is not trace:
                return None
            yv = y._primal
            py: Any = (y.node, y.index)
        else:
            yv, py = y, None
            if type(y) in _WEAK:  # a Python number: NumPy promotes it weakly
                if not isinstance(xv, _PLAIN):
                    return _over_jvp2(prim, trace, xv, yv, px, py)
            elif type(y) is not np.ndarray:
                return None
        if yv is not y or type(y) is np.ndarray:  # two arrays: one shape and dtype
            if type(xv) is not np.ndarray and not isinstance(xv, _PLAIN):
                return _over_jvp2(prim, trace, xv, yv, px, py)
            if type(yv) is not np.ndarray and not isinstance(yv, _PLAIN):
                return _over_jvp2(prim, trace, xv, yv, px, py)
            xd = xv.dtype
            yd = yv.dtype
            if xd is not yd and xd != yd:
                return None
            if xv.shape != yv.shape:
                return _broadcasting(prim, trace, xv, yv, px, py)
    elif type(y) is VJPTracer:
        trace = y._trace
        yv = y._primal
        py = (y.node, y.index)
        xv, px = x, None
        if not isinstance(yv, _PLAIN):
            if type(x) is np.ndarray or type(x) in _WEAK:
                return _over_jvp2(prim, trace, xv, yv, px, py)
            return None
        if type(x) is np.ndarray:
            xd = x.dtype
            yd = yv.dtype
            if xd is not yd and xd != yd:
                return None
            if x.shape != yv.shape:
                return _broadcasting(prim, trace, xv, yv, px, py)
        elif type(x) not in _WEAK:
            return None
    else:
        return None
    if (not trace.active or _trace_mod.debug_hook is not None or prim.nondiff
            or prim.custom_rules or prim.multiple_results or prim.view is not None):
        return None
    return _push(trace, prim, (px, py), (xv, yv), prim.impl(xv, yv), _NO_PARAMS)


def _over_jvp2(prim: Primitive, trace: Any, xv: Any, yv: Any, px: Any, py: Any) -> Any:
    """:func:`record2` where a value is traced by an outer forward level (``hvp``, ``hessian``:
    a VJP trace inside a JVP trace): one node, its value computed at that level in one step
    (:func:`~pullback.core.forward.jvp_apply2`, what ``bind`` would do there); None when that
    step does not apply (then the caller takes the general path)."""
    if (not trace.active or _trace_mod.debug_hook is not None or prim.nondiff
            or prim.custom_rules or prim.multiple_results or prim.view is not None):
        return None
    ans = jvp_apply2(prim, xv, yv)
    if ans is None:
        return None
    nodes = trace.nodes
    node = Node(prim, (px, py), (xv, yv), ans, {}, None, 1, len(nodes))
    nodes.append(node)
    return VJPTracer(trace, ans, node)


#: the binary primitives whose reverse rules sum a cotangent over the axes that NumPy's
#: broadcasting added (``lax.unbroadcast``): :func:`record2` applies them to operands of
#: different shapes as NumPy broadcasts them, with no ``broadcast_to`` step before (filled
#: by ``pullback.numpy.elementwise``: add, subtract, multiply)
BROADCASTING: set[Primitive] = set()


def _broadcasting(prim: Primitive, trace: Any, xv: Any, yv: Any, px: Any, py: Any) -> Any:
    """:func:`record2` for plain operands of one dtype and different shapes: one node when
    ``prim`` is one of :data:`BROADCASTING`, the dtype floating and the shapes broadcast;
    None otherwise (then the general path broadcasts, or raises its error)."""
    if (prim not in BROADCASTING or xv.dtype.kind not in "fc" or not trace.active
            or _trace_mod.debug_hook is not None):
        return None
    try:
        ans = prim.impl(xv, yv)
    except ValueError:  # shapes that do not broadcast: the general path's error
        return None
    return _push(trace, prim, (px, py), (xv, yv), ans, _NO_PARAMS)


def record_pair(prim: Primitive, x: Any, y: Any, params: dict) -> Any:
    """:func:`record` of two arguments, without its lists: ``prim(x, y, **params)`` on the
    tape in one step when each of ``x``, ``y`` is a tracer of one active VJP trace with a plain
    NumPy primal or a value that is not traced; None otherwise.

    Example:
        >>> from pullback.core.trace import new_trace, PRIMITIVES
        >>> with new_trace(VJPTrace) as trace:
        ...     y = record_pair(PRIMITIVES["matmul"], trace.leaf(np.ones((2, 2))), np.ones(2), {})
        >>> y.primal
        array([2., 2.])
    """
    if type(x) is VJPTracer:
        trace = x._trace
        xv = x._primal
        if not isinstance(xv, _PLAIN):
            return None
        px: Any = (x.node, x.index)
        if type(y) is VJPTracer:
            if y._trace is not trace:
                return None
            yv = y._primal
            if not isinstance(yv, _PLAIN):
                return None
            py: Any = (y.node, y.index)
        elif isinstance(y, Tracer):
            return None
        else:
            yv, py = y, None
    elif type(y) is VJPTracer:
        if isinstance(x, Tracer):
            return None
        trace = y._trace
        yv = y._primal
        if not isinstance(yv, _PLAIN):
            return None
        py = (y.node, y.index)
        xv, px = x, None
    else:
        return None
    if (not trace.active or _trace_mod.debug_hook is not None or prim.nondiff
            or prim.custom_rules or prim.multiple_results):  # (not _direct(prim), inline)
        return None
    out = _push(trace, prim, (px, py), (xv, yv), prim.impl(xv, yv, **params), params)
    if prim.view is not None:  # as bind does
        prim.view(out, (x, y), params)
    return out


def record(prim: Primitive, args: tuple, params: dict) -> Any:
    """``prim(*args, **params)`` on the tape in one step, when every traced argument is a
    tracer of one active VJP trace with a plain NumPy primal, the others plain values, and no
    ``debug_nans`` hook is set; None otherwise (then the caller takes the general path).

    Example:
        >>> from pullback.core.trace import new_trace, PRIMITIVES
        >>> with new_trace(VJPTrace) as trace:
        ...     y = record(PRIMITIVES["matmul"], (trace.leaf(np.ones((2, 2))), np.ones(2)), {})
        >>> y.primal
        array([2., 2.])
    """
    trace = None
    vals = []
    parents = []
    for a in args:
        if type(a) is VJPTracer:
            if trace is None:
                trace = a._trace
            elif a._trace is not trace:
                return None
            v = a._primal
            if not isinstance(v, _PLAIN):
                return None
            vals.append(v)
            parents.append((a.node, a.index))
        elif isinstance(a, Tracer):
            return None
        else:
            vals.append(a)
            parents.append(None)
    if (trace is None or not trace.active or _trace_mod.debug_hook is not None
            or not _direct(prim)):
        return None
    out = _push(trace, prim, tuple(parents), tuple(vals), prim.impl(*vals, **params), params)
    if prim.view is not None:  # as bind does
        prim.view(out, args, params)
    return out


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


#: primitive -> a leaner form of its reverse rule, ``rule(g, ans, args, params, parents)``
#: (``Primitive.vjp``'s signature; ``zero`` or None where no cotangent is needed): the same
#: expressions as the rule it stands for, without the layers of the rule kinds (the joint
#: rule calling a per-argument rule calling a partial derivative), so it holds at any order
#: and on any values. The backward pass calls it in place of ``prim.vjp`` when no
#: ``debug_nans`` hook is set and ``prim.vjp`` is still the rule it stands for (a rule
#: replaced later, by ``defvjp`` or by ``pullback.check``'s localisation, is used as it is), and
#: checks its cotangents as it checks every rule's. Filled by :func:`defvjp_lean`.
EAGER_VJP: dict[Primitive, tuple[Any, Callable[..., Any]]] = {}


def defvjp_lean(prim: Primitive, rule: Callable[..., Any]) -> None:
    """Give ``prim`` the lean form ``rule`` of its present reverse rule (see
    :data:`EAGER_VJP`); call it after the rule is declared.

    Example:
        >>> from pullback.core.trace import Primitive
        >>> from pullback.core.rules import defvjp
        >>> double = Primitive("double", lambda x: 2 * x)
        >>> defvjp(double, lambda g, ans, x: 2 * g)
        >>> defvjp_lean(double, lambda g, ans, args, params, parents: (2 * g,))
        >>> EAGER_VJP[double][0] is double.vjp
        True
        >>> del EAGER_VJP[double]
    """
    EAGER_VJP[prim] = (prim.vjp, rule)

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
    # cotangents by node slot (None: none yet); a node of several outputs holds a list
    cts: list[Any] = [None] * len(nodes)
    live = 0  # how many entries of cts are set: the walk stops when none is left
    start = -1
    for node, index, g in seeds:
        slot = node.slot
        if cts[slot] is None:
            live += 1
            if node.n_out == 1:  # (the first seed of a node: _accumulate stores it)
                cts[slot] = g
            else:
                _accumulate(cts, node, index, g)
        else:
            _accumulate(cts, node, index, g)
        if slot > start:
            start = slot
    leaves = {}
    hook = cotangent_hook
    eager_rules = EAGER_VJP if hook is None and _trace_mod.debug_hook is None else {}
    for k in range(start, -1, -1):
        g = cts[k]
        if g is None:
            continue
        cts[k] = None
        live -= 1
        node = nodes[k]
        prim = node.prim
        if prim is None:
            leaves[node] = g
            if not live:
                break
            continue
        if node.n_out != 1:
            g = tuple(instantiate(s, a) for s, a in zip(g, node.ans, strict=True))
        parents = node.parents  # truthy where an argument needs a cotangent
        args = node.args
        lean = eager_rules.get(prim)
        vjp = prim.vjp
        if lean is not None and lean[0] is vjp:
            results = lean[1](g, node.ans, args, node.params, parents)
        elif vjp is None or prim.custom_rules:
            results = prim.backward(g, node.ans, args, node.params, node.residual, parents)
        else:
            results = vjp(g, node.ans, args, node.params, parents)
        n_args = len(parents)
        if len(results) != n_args:
            raise RuleError(
                f"the pullback of '{prim.name}' returned {len(results)} cotangents for "
                f"{n_args} arguments: return one per argument (None for none)"
            )
        for i in range(n_args):
            p = parents[i]
            if p is None:
                continue
            ct = results[i]
            if ct is None or ct is zero:
                continue
            arg = args[i]
            # a JVP level's value has its primal's shape and dtype (read without the properties)
            c = ct._primal if type(ct) is JVPTracer else ct
            a = arg._primal if type(arg) is JVPTracer else arg
            try:  # shape_of and dtype_of, for values that have both attributes
                ok = c.shape == a.shape and c.dtype == a.dtype
            except AttributeError:
                ok = False
            if not ok:  # raises unless shape_of/dtype_of agree
                _check_cotangent(node, i, ct)
            if hook is not None:
                hook(node, i, ct)
            parent = p[0]
            if parent.n_out == 1:
                slot = parent.slot
                prev = cts[slot]
                # add_tangents(prev, ct), inline (ct is not zero)
                if prev is None:
                    cts[slot] = ct
                    live += 1
                else:
                    cts[slot] = ct if prev is zero else prev + ct
            else:
                if cts[parent.slot] is None:
                    live += 1
                _accumulate(cts, parent, p[1], ct)
        if not live:
            break
    return leaves


def _accumulate(cts: list, node: Node, index: int, g: Any) -> None:
    slot = node.slot
    if node.n_out == 1:
        prev = cts[slot]
        cts[slot] = g if prev is None else add_tangents(prev, g)
        return
    slots = cts[slot]
    if slots is None:
        slots = cts[slot] = [zero] * node.n_out
    slots[index] = add_tangents(slots[index], g)
