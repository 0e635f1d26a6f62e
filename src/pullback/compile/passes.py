"""Simplification passes over the graph IR, used by ``pb.jit``: identities, fused chains,
elided broadcasts and casts, constant folding, dead-code elimination."""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from pullback.compile.values import (
    Atom,
    Const,
    Equation,
    Var,
    freeze,
    map_vars,
    vars_in,
)

if TYPE_CHECKING:
    from pullback.compile.ir import Graph



# ----------------------------------------------------------------------------- simplification


def _is_const_value(a: Any, value: float) -> bool:
    if not isinstance(a, Const) or a.aval is None or a.aval.dtype.kind not in "biufc":
        return False
    if type(a.value) in (int, float, bool):  # the common case: a Python number
        return a.value == value
    try:
        return bool(np.all(np.asarray(a.value) == value))
    except (TypeError, ValueError):
        return False


def _identity_input(e: Equation, producer: dict[Var, Equation]) -> Atom | None:
    """The input that equation ``e`` returns unchanged, if any (x * 1, x + 0, ...)."""
    name = e.prim.name
    out = e.outvars[0].aval if len(e.outvars) == 1 else None
    if out is None:
        return None
    ins = e.inputs

    def same(a: Any) -> bool:
        return isinstance(a, (Var, Const)) and a.aval == out

    if name == "multiply" and len(ins) == 2:
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_const_value(b, 1) and same(a):
                return a
    elif name == "add" and len(ins) == 2:
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_const_value(b, 0) and same(a):
                return a
    elif name in ("subtract",) and len(ins) == 2:
        if _is_const_value(ins[1], 0) and same(ins[0]):
            return ins[0]
    elif name in ("divide", "power") and len(ins) == 2:
        if _is_const_value(ins[1], 1) and same(ins[0]):
            return ins[0]
        if (
            name == "power"
            and _is_const_value(ins[1], 0)
            and same(ins[0])
            and out.dtype.kind in "fc"
            and not out.weak
        ):
            # x ** 0 is exactly 1 for every x, NaN and infinities included (IEEE pow)
            return Const(np.broadcast_to(np.ones((), out.dtype), out.shape))
    elif name in ("reshape", "broadcast_to", "astype", "stop_gradient",
                  "checkpoint_name") and len(ins) == 1:
        if same(ins[0]):
            return ins[0]
    elif name == "transpose" and len(ins) == 1:
        axes = e.params.get("axes")
        if axes is not None and tuple(axes) == tuple(range(len(axes))) and same(ins[0]):
            return ins[0]
    elif name == "negative" and len(ins) == 1 and isinstance(ins[0], Var):
        inner = producer.get(ins[0])
        if inner is not None and inner.prim.name == "negative":
            a = inner.inputs[0]
            if same(a):
                return a
    return None


def _fuse_chain(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """reshape(reshape(x)), broadcast_to(broadcast_to(x)), transpose(transpose(x)): one each."""
    name = e.prim.name
    if name in ("reshape", "broadcast_to") and len(e.inputs) == 1 and isinstance(e.inputs[0], Var):
        inner = producer.get(e.inputs[0])
        if inner is not None and inner.prim is e.prim and set(inner.params) == {"shape"}:
            return Equation(e.prim, [inner.inputs[0]], e.params, e.outvars, e.multiple)
    if name == "transpose" and len(e.inputs) == 1 and isinstance(e.inputs[0], Var):
        inner = producer.get(e.inputs[0])
        outer_axes, inner_axes = e.params.get("axes"), inner and inner.params.get("axes")
        if inner is not None and inner.prim is e.prim and outer_axes and inner_axes:
            # transpose(transpose(x, p), q) = transpose(x, p[q])
            axes = tuple(inner_axes[i] for i in outer_axes)
            return Equation(e.prim, [inner.inputs[0]], {"axes": axes}, e.outvars, e.multiple)
    return e


def _elide_broadcasts(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """A ufunc broadcasts by itself: feed it the unbroadcast input when the shape is kept.

    Not a generalized ufunc (``matmul``): its core dimensions do not broadcast."""
    impl = e.prim.impl
    if not isinstance(impl, np.ufunc) or impl.signature is not None:
        return e
    if e.params or e.multiple or len(e.inputs) < 2:
        return e
    out_shape = e.outvars[0].aval.shape
    inputs = list(e.inputs)
    changed = False
    for k, a in enumerate(inputs):
        inner = producer.get(a) if isinstance(a, Var) else None
        if inner is None or inner.prim.name != "broadcast_to" or len(inner.inputs) != 1:
            continue
        src = inner.inputs[0]
        if src.aval is None:
            continue
        trial = inputs[:k] + [src] + inputs[k + 1:]
        shapes = [np.shape(t.value) if isinstance(t, Const) else t.aval.shape for t in trial]
        try:
            if np.broadcast_shapes(*shapes) == out_shape:
                inputs = trial
                changed = True
        except ValueError:
            continue
    return Equation(e.prim, inputs, e.params, e.outvars, e.multiple) if changed else e


def _operand_dtype(a: Any) -> Any:
    """How an input enters NumPy's type resolution: a dtype, or a Python type (weak)."""
    if isinstance(a, Var):
        return a.aval.weak or a.aval.dtype
    v = a.value
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype
    return type(v) if isinstance(v, (bool, int, float, complex)) else None


def _loop(ufunc: np.ufunc, inputs: list) -> tuple | None:
    """The dtypes of the inner loop NumPy picks for these inputs, or None if unknown."""
    dts = [_operand_dtype(a) for a in inputs]
    if any(d is None for d in dts):
        return None
    try:
        return ufunc.resolve_dtypes(tuple(dts) + (None,) * ufunc.nout)
    except (TypeError, ValueError, np.exceptions.DTypePromotionError):
        return None


def _elide_casts(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """A ufunc casts its inputs to its loop's dtypes: feed it the uncast input (a boolean
    mask instead of the mask as floats) when it picks the same loop, so the cast is the same."""
    if not isinstance(e.prim.impl, np.ufunc) or e.params or e.multiple:
        return e
    inputs = list(e.inputs)
    loop = None
    changed = False
    for k, a in enumerate(inputs):
        inner = producer.get(a) if isinstance(a, Var) else None
        if inner is None or inner.prim.name not in ("astype", "astype_nondiff"):
            continue
        src = inner.inputs[0] if len(inner.inputs) == 1 else None
        if not isinstance(src, Var) or src.aval.weak or src.aval.shape != a.aval.shape:
            continue
        if not np.can_cast(src.aval.dtype, a.aval.dtype, "safe"):
            continue
        loop = loop or _loop(e.prim.impl, inputs)
        trial = inputs[:k] + [src] + inputs[k + 1:]
        if loop is not None and _loop(e.prim.impl, trial) == loop:
            inputs = trial
            changed = True
    return Equation(e.prim, inputs, e.params, e.outvars, e.multiple) if changed else e


def _fold(e: Equation) -> list[Const] | None:
    """Evaluate an equation whose inputs are all constants."""
    if not all(isinstance(a, Const) for a in e.inputs) or vars_in(e.params):
        return None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = e.prim.impl(*(a.value for a in e.inputs), **e.params)
    except Exception:  # noqa: BLE001 - leave it to run time, where the error is raised
        return None
    return [Const(o) for o in out] if e.multiple else [Const(out)]


def _sweep(graph: Graph) -> Graph:
    """One forward pass of substitution, constant folding, identities, fusion and CSE."""
    subst: dict[Var, Atom] = {}
    producer: dict[Var, Equation] = {}
    seen: dict[Hashable, Equation] = {}
    kept: list[Equation] = []

    def resolve(a: Any) -> Any:
        while isinstance(a, Var) and a in subst:
            a = subst[a]
        return a

    for e in graph.eqns:
        e = Equation(
            e.prim,
            [resolve(a) for a in e.inputs],
            map_vars(e.params, resolve),
            e.outvars,
            e.multiple,
        )
        folded = _fold(e)
        if folded is not None:
            subst.update(zip(e.outvars, folded, strict=True))
            continue
        e = _fuse_chain(e, producer)
        same = _identity_input(e, producer)
        if same is not None:
            subst[e.outvars[0]] = same
            continue
        e = _elide_casts(_elide_broadcasts(e, producer), producer)
        try:
            key = (id(e.prim), tuple(freeze(_atom_key(a)) for a in e.inputs), freeze(e.params))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in seen:
            subst.update(zip(e.outvars, seen[key].outvars, strict=True))
            continue
        if key is not None:
            seen[key] = e
        for v in e.outvars:
            producer[v] = e
        kept.append(e)
    return graph.replace(kept, [resolve(a) for a in graph.outvars])


def _atom_key(a: Any) -> Any:
    if isinstance(a, Var):
        return a
    value = a.value
    if isinstance(value, (np.ndarray, np.generic)):
        return value
    return (type(value).__name__, value)


def _dce(graph: Graph) -> Graph:
    """Drop the equations whose outputs nothing uses."""
    live = {a for a in graph.outvars if isinstance(a, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if any(v in live for v in e.outvars):
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
            live.update(vars_in(e.params))
    kept.reverse()
    return graph.replace(kept, graph.outvars)


def simplify(graph: Graph, max_rounds: int = 8) -> Graph:
    """Simplify a graph without changing its results beyond rounding.

    Passes, repeated until nothing changes: constant folding, algebraic identities
    (``x * 1``, ``x + 0``, ``x - 0``, ``x / 1``, ``x ** 1``, ``-(-x)``, reshape, broadcast_to,
    astype or transpose to the same shape and dtype), chains of reshapes or broadcasts as
    one, broadcasts and exact casts elided before ufuncs (which broadcast and cast by
    themselves, picking the same inner loop), common subexpressions, and dead code.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(pb.grad(lambda x: pnp.sum(x * x)), np.ones(2))
        >>> print(simplify(g))
        { lambda ; a:f64[2]. let
            b:f64[2] = add a a
          in (b,) }
    """
    for _ in range(max_rounds):
        before = _fingerprint(graph)
        graph = _dce(_sweep(graph))
        if _fingerprint(graph) == before:
            break
    return graph


def _fingerprint(graph: Graph) -> tuple:
    """What a pass can change: each equation's primitive and inputs, and the outputs."""
    return (
        tuple((id(e.prim), tuple(map(id, e.inputs)), id(e.outvars[0])) for e in graph.eqns),
        tuple(map(id, graph.outvars)),
    )
