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
from pullback.core.rules import defbatch, defjvp_joint, defvjp_joint
from pullback.core.trace import Primitive, Tracer, dtype_of, instantiate, shape_of, zero
from pullback.numpy._registry import batch_front

__all__: list[str] = []


def plain_value(v: Any) -> np.ndarray:
    """The plain value a (possibly nested) traced value stands for."""
    while isinstance(v, Tracer):
        v = v.primal
    return np.asarray(v)


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
