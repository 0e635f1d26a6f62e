"""vmap rules for the structural primitives (elementwise ones get theirs in ``_registry``).

Each rule receives the raw values (batch axis first where ``batched[i]``) and returns the
batched result, calling the pullback.numpy wrappers so that traced values of outer levels
keep the invariants their own rules rely on (equal shapes after explicit broadcasting).
A primitive with no rule here is applied once per batch entry (see ``pullback.core.batching``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core.batching import batch_by_loop
from pullback.core.trace import PRIMITIVES, Tracer, shape_of
from pullback.numpy._registry import batch_elementwise, promote
from pullback.numpy.products import matmul
from pullback.numpy.shape import broadcast_to, reshape


def _front(size: int, v: Any, batched: bool) -> Any:
    """``v`` with a batch axis in front (broadcast when it has none)."""

    return v if batched else broadcast_to(v, (size,) + tuple(shape_of(v)))


def _is_basic(idx: tuple) -> bool:
    return not any(isinstance(i, (np.ndarray, list)) or i is True or i is False for i in idx)


def _getitem(vals, batched, params, size):
    idx = params["idx"]
    if not _is_basic(idx):
        return None
    return PRIMITIVES["getitem"].bind(vals[0], idx=(slice(None),) + tuple(idx))


def _scatter_add(vals, batched, params, size):
    idx = params["idx"]
    if not _is_basic(idx):
        return None
    return PRIMITIVES["scatter_add"].bind(
        vals[0], shape=(size,) + tuple(params["shape"]), dtype=params["dtype"],
        idx=(slice(None),) + tuple(idx),
    )


def _matmul(vals, batched, params, size):

    (x, y), (bx, by) = vals, batched
    sx, sy = shape_of(x)[bx:], shape_of(y)[by:]
    if len(sx) == 1:
        x = reshape(x, ((size,) if bx else ()) + (1,) + tuple(sx))
    if len(sy) == 1:
        y = reshape(y, ((size,) if by else ()) + tuple(sy) + (1,))
    # pad the batched operand so its batch axis leads the result's batch axes
    rx, ry = len(shape_of(x)) - bx, len(shape_of(y)) - by
    rank = max(rx, ry)
    if bx and rx < rank:
        x = reshape(x, (size,) + (1,) * (rank - rx) + tuple(shape_of(x)[1:]))
    if by and ry < rank:
        y = reshape(y, (size,) + (1,) * (rank - ry) + tuple(shape_of(y)[1:]))
    if not bx:
        x = reshape(x, (1,) * (rank + 1 - len(shape_of(x))) + tuple(shape_of(x)))
    if not by:
        y = reshape(y, (1,) * (rank + 1 - len(shape_of(y))) + tuple(shape_of(y)))
    out = matmul(x, y)
    shape = shape_of(out)
    if len(sx) == 1 and len(sy) == 1:
        return reshape(out, shape[:-2])
    if len(sx) == 1:
        return reshape(out, shape[:-2] + shape[-1:])
    if len(sy) == 1:
        return reshape(out, shape[:-1])
    return out


def _where(vals, batched, params, size):

    rank = max(len(shape_of(v)) - b for v, b in zip(vals, batched))
    aligned = []
    for v, b in zip(vals, batched):
        s = tuple(shape_of(v))
        if b and len(s) - 1 < rank:
            v = reshape(v, (size,) + (1,) * (rank - len(s) + 1) + s[1:])
        elif not b:
            v = reshape(v, (1,) * (rank + 1 - len(s)) + s)
        aligned.append(v)
    full = np.broadcast_shapes(*(tuple(shape_of(v)) for v in aligned))
    c, x, y = aligned

    x, y = promote(x, y)
    x = broadcast_to(x, full) if isinstance(x, Tracer) else x
    y = broadcast_to(y, full) if isinstance(y, Tracer) else y
    return PRIMITIVES["where"].bind(c, x, y)


def _reduction(name):
    """Reductions over ``axes`` (``max``, ``min``): the axes move one place right."""

    def rule(vals, batched, params, size):
        axes = tuple(a + 1 for a in params["axes"])
        return PRIMITIVES[name].bind(vals[0], axes=axes, keepdims=params["keepdims"])

    return rule


def _along_axis(name):
    """Functions along one ``axis`` (``cumsum``): the axis moves one place right."""

    def rule(vals, batched, params, size):
        return PRIMITIVES[name].bind(vals[0], **dict(params, axis=params["axis"] + 1))

    return rule


def _stacked(name):
    """Linear algebra of one matrix argument: NumPy already maps it over leading axes."""

    def rule(vals, batched, params, size):
        return PRIMITIVES[name].bind(vals[0], **params)

    return rule


def _with_fallback(rule):
    """A rule that may return None (e.g. advanced indexing) falls back to the loop."""

    def wrapped(vals, batched, params, size, rule=rule):
        out = rule(vals, batched, params, size)
        if out is None:
            return batch_by_loop(wrapped.prim, vals, batched, params, size)
        return out

    return wrapped


_RULES = {
    "getitem": _getitem,
    "scatter_add": _scatter_add,
    "matmul": _matmul,
    "where": _where,
    "max": _reduction("max"),
    "min": _reduction("min"),
    "cumsum": _along_axis("cumsum"),
}
_RULES.update(
    {
        name: _stacked(name)
        for name in (
            "linalg.inv", "linalg.det", "linalg.slogdet", "linalg.cholesky", "linalg.qr",
            "linalg.eigh", "linalg.svd", "linalg.pinv",
        )
    }
)
_ELEMENTWISE = (
    "negative", "imag", "conjugate",
    "ldexp", "isposinf", "isneginf", "fix", "special.erf", "special.erfc", "special.expit",
    "special.logit", "special.gammaln", "special.digamma", "special.xlogy",
)


def install() -> None:
    """Attach the rules to the registered primitives (called once on import)."""
    prims = PRIMITIVES
    for name, rule in _RULES.items():
        prim = prims.get(name)
        if prim is not None and prim.batch is None:
            wrapped = _with_fallback(rule)
            wrapped.prim = prim
            prim.batch = wrapped
    for name in _ELEMENTWISE:
        prim = prims.get(name)
        if prim is not None and prim.batch is None:
            prim.batch = batch_elementwise(prim)

