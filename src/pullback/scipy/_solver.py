"""What the primitives that call a SciPy solver with a user function share
(``scipy.integrate.odeint``'s and ``scipy.optimize``'s): their rules, and small helpers.
Under ``vmap`` every argument gets the batch axis and one call of the primitive solves the
entries in turn (``batched=True`` in its parameters); the derivative rules of such a batched
call are the unbatched ones, vmapped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import lax
from pullback.core.batching import vmap
from pullback.core.control import stage
from pullback.core.rules import defbatch, defjvp_joint, defvjp_joint
from pullback.core.trace import (
    Primitive,
    Tracer,
    TracerConversionError,
    dtype_of,
    instantiate,
    outside_traces,
    shape_of,
    trace_state,
    zero,
)
from pullback.core.tree import tree_flatten, tree_map, tree_unflatten
from pullback.numpy._registry import batch_front

__all__: list[str] = []


def plain_value(v: Any) -> np.ndarray:
    """The plain value a (possibly nested) traced value stands for."""
    while isinstance(v, Tracer):
        v = v.primal
    return np.asarray(v)


def _example(v: Any) -> np.ndarray:
    """A plain NumPy example of a value the solver passes: its value where it has one in
    NumPy, zeros of its shape otherwise (under ``jit`` there is no value; a Dask array is
    not computed for a probe); floats as float64, as SciPy's solvers evaluate the user's
    function (``pullback.scipy`` widens float32 arguments too)."""
    base = v
    while isinstance(base, Tracer) and hasattr(base, "primal"):
        base = base.primal
    if isinstance(base, (np.ndarray, np.generic, int, float, complex, bool)):
        a = np.asarray(base)
    else:
        a = np.zeros(shape_of(v), dtype_of(v))
    return a.astype(np.float64) if a.dtype.kind == "f" and a.dtype.itemsize < 8 else a


def hoist_closure(who: str, fn: Callable[..., Any], first: Sequence[Any], args: tuple,
                  advice: str) -> tuple[Callable[..., Any], tuple]:
    """``fn`` and ``args``, or, when ``fn`` closes over values traced by an enclosing
    transformation (``lambda t, y: -k * y`` under ``grad`` with respect to ``k``), a function
    that takes those values as one more argument, and ``args`` with them appended.

    ``fn`` is called as ``fn(*first, *args)`` (``first``: examples of the solver's own
    arguments, the state and the time, or the unknowns). It is run once on the plain values;
    if its result is traced, it is traced once with shapes and dtypes only
    (:func:`pullback.core.control.stage`), which finds the values it closes over: they become
    inputs of the primitive like any argument, so every transformation differentiates and
    batches through them. A function whose Python needs values (``if t > 1``) cannot be
    traced so: the error says to pass the values as arguments (``advice``).

    Example:
        >>> import pullback as pb
        >>> def outer(k):
        ...     fn, args = hoist_closure("demo", lambda y: -k * y, [1.0], (), "")
        ...     return fn(2.0, *args)
        >>> float(pb.grad(outer)(3.0))  # d(-k * 2)/dk
        -2.0
    """
    if not trace_state.stack:  # no transformation: nothing traced to close over
        return fn, args
    plain_first = [_example(v) for v in first]
    plain_args = tree_map(_example, args)
    with outside_traces():
        try:
            out = fn(*plain_first, *plain_args)
        except Exception:  # noqa: BLE001 - the solver's own call reports the user's error
            return fn, args
    leaves, out_tree = tree_flatten(out)
    if not any(isinstance(v, Tracer) for v in leaves):
        return fn, args
    arg_leaves, arg_tree = tree_flatten(plain_args)
    k = len(plain_first)

    def flat_fn(*ins: Any) -> list:
        return tree_flatten(fn(*ins[:k], *tree_unflatten(arg_tree, list(ins[k:]))))[0]

    avals = [(np.shape(a), np.result_type(a)) for a in plain_first + arg_leaves]
    try:
        body, captured = stage(who, flat_fn, avals, "closure")
    except TracerConversionError as err:
        raise TracerConversionError(
            f"{who}: the function closes over a traced value (a parameter captured by a "
            f"lambda or a nested function), and tracing it to find that value failed: "
            f"{err}. Pass every quantity to differentiate as an extra argument instead: "
            f"{advice}") from None

    def hoisted(*ins: Any) -> Any:
        caps, own = ins[-1], ins[k:-1]
        outs = body(*caps, *ins[:k], *tree_flatten(own)[0])
        return tree_unflatten(out_tree, list(outs))

    return hoisted, (*args, list(captured))


def flat(x: Any) -> Any:
    return pnp.reshape(x, (-1,))


def differentiable(args: Sequence[Any]) -> list[int]:
    """The positions of the floating (differentiable) arguments."""
    return [i for i, a in enumerate(args) if dtype_of(a).kind in "fc"]


def with_values(args: Sequence[Any], idx: list[int], values: Sequence[Any]) -> list[Any]:
    """``args`` with the entries at ``idx`` replaced by ``values``."""
    out = list(args)
    for i, v in zip(idx, values, strict=True):
        out[i] = v
    return out


def declare_rules(prim: Primitive, vjp_rule: Callable[..., tuple], jvp_rule: Callable[..., Any],
                  fixed: int = 0) -> None:
    """Declare ``prim``'s joint reverse and forward rules and its batching rule from its
    unbatched rules ``vjp_rule(g, out, args, params, needs)`` and
    ``jvp_rule(tangents, out, args, params)``; the first ``fixed`` arguments are never
    differentiated (an optimiser's starting point)."""

    def batched_vjp(g: Any, out: Any, args: tuple, params: dict, needs: tuple) -> tuple:
        if not params.get("batched"):
            return vjp_rule(g, out, args, params, needs)
        one_params = {**params, "batched": False}
        wanted = [i for i, need in enumerate(needs) if need and i >= fixed]

        def one(g1: Any, out1: Any, *a1: Any) -> tuple:
            cts = vjp_rule(g1, out1, a1, one_params, needs)
            return tuple(instantiate(cts[i], a1[i]) for i in wanted)

        cts = vmap(one)(g, out, *args)
        result: list[Any] = [zero] * len(args)
        for i, c in zip(wanted, cts, strict=True):
            result[i] = c
        return tuple(result)

    def batched_jvp(tangents: tuple, out: Any, args: tuple, params: dict) -> Any:
        if not params.get("batched"):
            return jvp_rule(tangents, out, args, params)
        one_params = {**params, "batched": False}
        moving = [i for i, t in enumerate(tangents) if t is not zero and i >= fixed]
        if not moving:
            return zero
        n = len(args)

        def one(out1: Any, *rest: Any) -> Any:
            a1, t1 = rest[:n], rest[n:]
            full: list[Any] = [zero] * n
            for i, t in zip(moving, t1, strict=True):
                full[i] = t
            return instantiate(jvp_rule(tuple(full), out1, a1, one_params), out1)

        return vmap(one)(out, *args, *(tangents[i] for i in moving))

    def batch(vals: list, batched: list, params: dict, size: int) -> Any:
        if not params.get("batched"):
            full = [batch_front(v, b, size) for v, b in zip(vals, batched, strict=True)]
            return prim.bind(*full, **{**params, "batched": True})
        # already batched (nested vmap): merge the new axis with the old one
        inner = shape_of(vals[0])[1 if batched[0] else 0]
        merged = []
        for v, b in zip(vals, batched, strict=True):
            v = v if b else lax.broadcast_to(v, (size,) + tuple(shape_of(v)))
            merged.append(lax.reshape(v, (size * inner,) + tuple(shape_of(v)[2:])))
        out = prim.bind(*merged, **params)
        return lax.reshape(out, (size, inner) + tuple(shape_of(out)[1:]))

    defvjp_joint(prim, batched_vjp)
    defjvp_joint(prim, batched_jvp)
    defbatch(prim, batch)
