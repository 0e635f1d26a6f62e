"""Functional index updates: ``pnp.at(x)[idx].set(v)``, and ``x.at[idx].set(v)`` on traced
values (JAX's spelling), with ``.set``, ``.add``, ``.multiply``, ``.min``, ``.max`` and
``.get``.

A traced value cannot be assigned to in place (``x[i] = v`` raises): the update returns a new
array instead, differentiable in both ``x`` and ``v``. ``idx`` is any NumPy index: integers,
slices (any step), ``None``, ``Ellipsis``, integer arrays and boolean masks. ``v`` broadcasts
to the shape of ``x[idx]`` and is cast to ``x``'s dtype, as in NumPy's assignment.

Repeated indices (an integer array naming one element several times):

- ``add`` accumulates every occurrence, like ``numpy.add.at``;
- ``multiply`` multiplies by every occurrence, in order, like ``numpy.multiply.at``;
- ``min`` and ``max`` take the minimum (maximum) of the entry and every occurrence, like
  ``numpy.minimum.at`` and ``numpy.maximum.at``; the derivative goes to the winner, shared
  equally at a tie (``pnp.minimum``'s convention);
- ``set`` keeps the **last** occurrence, in the C order of ``x[idx]`` (what NumPy's
  ``x[idx] = v`` does in practice, here guaranteed); the earlier occurrences are overwritten
  and receive a zero derivative.

Out-of-bounds indices raise ``IndexError`` as in NumPy, and negative ones count from the end;
there is no ``mode=`` argument (JAX's ``mode='clip'``, ``'drop'`` or ``'fill'`` clip or drop
out-of-bounds indices instead): clip the index yourself (``pnp.clip(i, 0, n - 1)``), or
filter it. Under ``pb.jit`` a traced boolean mask cannot index an update (the number of
elements it selects is not known while tracing): write ``pnp.where(mask, v, x)``.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pnp.at(np.zeros(3))[np.array([0, 0, 2])].add(1.0)
    array([2., 0., 1.])
    >>> pb.grad(lambda v: pnp.sum(pnp.at(np.zeros(3))[1].set(v) ** 2))(3.0)
    np.float64(6.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.rules import defbatch, defjvp_joint, defvjp_joint
from pullback.core.trace import Tracer, dtype_of, shape_of, zero
from pullback.numpy import _backends
from pullback.numpy._registry import batch_front, method, new_primitive
from pullback.numpy.elementwise import maximum, minimum, multiply, where
from pullback.numpy.shape import (
    _has_advanced,
    _normalize_index,
    _to_index_layout,
    astype,
    broadcast_to,
    getitem,
    getitem_p,
    reshape,
    scatter_add_p,
)

__all__ = ["at"]


# ----------------------------------------------------------------------------- primitives


def _set_impl(x: Any, v: Any, idx: tuple) -> np.ndarray:
    if _backends.foreign(x, v):
        return _backends.set_at(x, v, idx)
    out = np.array(x, copy=True)
    out[idx] = v
    return out


def _add_impl(x: Any, v: Any, idx: tuple) -> np.ndarray:
    if _backends.foreign(x, v):
        return x + _backends.scatter_add(v, shape_of(x), dtype_of(x), idx, "at[...].add")
    out = np.array(x, copy=True)
    if _has_advanced(idx):
        np.add.at(out, idx, v)
    else:
        out[idx] += v
    return out


#: ``x`` with ``x[idx]`` replaced by ``v``; ``idx`` names each element at most once (the
#: wrapper keeps the last of repeated ones), so the update is linear in ``(x, v)`` jointly
at_set_p = new_primitive("at_set", _set_impl)
#: ``x`` with ``v`` added at ``idx``, repeated indices accumulating (``numpy.add.at``)
at_add_p = new_primitive("at_add", _add_impl)


def _zeros(x: Any, like: Any = None) -> np.ndarray:
    """Zeros of ``x``'s shape and dtype, in the library of ``like`` (default: ``x``'s)."""
    return backends.zeros(shape_of(x), dtype_of(x), like=x if like is None else like)


def _set_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    x, v = args
    idx = params["idx"]
    gx = at_set_p.bind(g, backends.zeros(shape_of(v), dtype_of(g), like=g), idx=idx) \
        if needs[0] else zero
    gv = getitem_p.bind(g, idx=idx) if needs[1] else zero
    return gx, gv


def _set_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    tx, tv = tangents
    if tx is zero and tv is zero:
        return zero
    x, v = args
    like = tv if tx is zero else tx  # the missing one in the other's library
    return at_set_p.bind(_zeros(x, like) if tx is zero else tx,
                         _zeros(v, like) if tv is zero else tv, **params)


def _add_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    return (g if needs[0] else zero), (getitem_p.bind(g, idx=params["idx"]) if needs[1] else zero)


def _add_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    tx, tv = tangents
    if tv is zero:
        return tx
    x = args[0]
    if tx is zero:
        return scatter_add_p.bind(tv, shape=shape_of(x), dtype=dtype_of(x), idx=params["idx"])
    return at_add_p.bind(tx, tv, **params)


defvjp_joint(at_set_p, _set_vjp)
defjvp_joint(at_set_p, _set_jvp)
defvjp_joint(at_add_p, _add_vjp)
defjvp_joint(at_add_p, _add_jvp)


def _update_batch(prim: Any) -> Any:
    """vmap of an update at a constant index: both operands get the batch axis (the values
    laid out as ``x[(:,) + idx]`` is), and the index a leading ``slice(None)``."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        (x, v), (bx, bv), idx = vals, batched, tuple(params["idx"])
        x = batch_front(x, bx, size)
        v = _to_index_layout(batch_front(v, bv, size), idx, len(shape_of(x)) - 1)
        return prim.bind(x, v, idx=(slice(None),) + idx)

    return rule


defbatch(at_set_p, _update_batch(at_set_p))
defbatch(at_add_p, _update_batch(at_add_p))


# ----------------------------------------------------------------------------- the updates


def _prepare(x: Any, idx: Any, v: Any, who: str) -> tuple[Any, tuple, Any, np.ndarray | None]:
    """``x`` as an array, the normalized index, ``v`` cast and broadcast to ``x[idx]``'s shape,
    and (for advanced indices) the flat position in ``x`` of each element of ``x[idx]``."""
    if not isinstance(x, Tracer) and (type(x) is np.ndarray or not _backends.foreign(x)):
        x = np.asarray(x)
    idx = _normalize_index(idx, who)
    traced = [i for i in idx if isinstance(i, Tracer)]
    if traced:
        raise NotImplementedError(_traced_index_message(who, traced))
    shape = shape_of(x)
    try:
        if _has_advanced(idx):
            pos = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)[idx]
            sub = pos.shape
        else:
            pos, sub = None, np.empty(shape, np.bool_)[idx].shape
    except IndexError as e:
        raise IndexError(f"{who}: {e} (index {idx!r} into an array of shape {shape})") from None
    dtype = dtype_of(x)
    if isinstance(v, Tracer):
        v = astype(v, dtype)
    elif _backends.foreign(v):
        v = v.astype(dtype)
    else:
        v = np.asarray(v).astype(dtype, copy=False)
    vs = shape_of(v)
    if len(vs) > len(sub):  # NumPy's assignment drops leading axes of length 1
        extra = len(vs) - len(sub)
        if any(n != 1 for n in vs[:extra]):
            raise ValueError(f"{who}: values of shape {vs} cannot be broadcast to the indexed "
                             f"shape {sub}")
        v = reshape(v, vs[extra:])
    try:
        v = broadcast_to(v, sub)
    except ValueError:
        raise ValueError(f"{who}: values of shape {vs} cannot be broadcast to the indexed "
                         f"shape {sub}") from None
    return x, idx, v, pos


def _traced_index_message(who: str, traced: list[Tracer]) -> str:
    """Why an update at a traced index cannot be done, and what to write instead."""
    kinds = set()
    for i in traced:
        while isinstance(i, Tracer):
            kinds.add(type(i).__name__)
            i = i._primal
    under = "pb.jit" if "GraphTracer" in kinds else "vmap"
    if any(dtype_of(i) == np.bool_ for i in traced):
        op = {"at[...].set": "v", "at[...].add": "x + v", "at[...].multiply": "x * v",
              "at[...].min": "pnp.minimum(x, v)", "at[...].max": "pnp.maximum(x, v)"}
        return (
            f"{who}: the boolean mask is a traced value under {under}"
            + (", whose values are not known while it traces, so neither is the number of "
               "elements the mask selects: x[mask] has no known shape there"
               if under == "pb.jit" else
               ", and differs between its entries, so the number of elements it selects "
               "(the shape of x[mask]) does too")
            + f". Write pnp.where(mask, {op.get(who, 'v')}, x) instead: it keeps x's shape "
            "(v then broadcasts against x: a scalar or an array of x's shape, not one of "
            "x[mask]'s)"
        )
    if under == "pb.jit":
        return (
            f"{who}: the index is a traced value under pb.jit, whose values are not known "
            "while it traces; index with constants (an index computed from an argument can "
            "be made one with pb.jit(f, static_argnums=...)), or select with a mask: "
            "pnp.where(pnp.arange(n) == i, v, x)"
        )
    return (
        f"{who}: indices that differ between vmap entries are not supported; index with "
        "constants, or update each entry in a loop"
    )


def _flat_take(v: Any, keep: np.ndarray) -> Any:
    return getitem(reshape(v, (-1,)), keep)


def _foreign_mask(x: Any, idx: Any) -> Any:
    """The index when it is one boolean array of another library than NumPy's (a device or
    Dask mask) of ``x``'s shape, else None."""
    m = idx[0] if type(idx) is tuple and len(idx) == 1 else idx
    if type(m) is np.ndarray or isinstance(m, Tracer) or not _backends.foreign(m):
        return None
    if getattr(m, "dtype", None) != np.bool_ or tuple(m.shape) != shape_of(x):
        return None
    return m


def _set(x: Any, idx: Any, v: Any) -> Any:
    mask = _foreign_mask(x, idx)
    if mask is not None and len(shape_of(v)) == 0:
        # x[mask] = scalar with another library's mask: a selection of fixed shape (x[mask]
        # has a length known only from the values, unknown to a lazy library)
        v = astype(v, dtype_of(x)) if isinstance(v, Tracer) else np.asarray(v, dtype_of(x))
        return where(mask, v, x)
    x, idx, v, pos = _prepare(x, idx, v, "at[...].set")
    if pos is not None:
        flat = pos.reshape(-1)
        # the last occurrence of each position wins: first occurrences in the reversed order
        _, first_rev = np.unique(flat[::-1], return_index=True)
        if first_rev.size < flat.size:
            keep = np.sort(flat.size - 1 - first_rev)
            idx = np.unravel_index(flat[keep], shape_of(x))
            v = _flat_take(v, keep)
    if not (isinstance(x, Tracer) or isinstance(v, Tracer)):
        return _set_impl(x, v, idx)
    return at_set_p.bind(x, v, idx=idx)


def _add(x: Any, idx: Any, v: Any) -> Any:
    x, idx, v, _ = _prepare(x, idx, v, "at[...].add")
    if not (isinstance(x, Tracer) or isinstance(v, Tracer)):
        return _add_impl(x, v, idx)
    return at_add_p.bind(x, v, idx=idx)


def _multiply(x: Any, idx: Any, v: Any) -> Any:
    x, idx, v, pos = _prepare(x, idx, v, "at[...].multiply")
    if not (isinstance(x, Tracer) or isinstance(v, Tracer) or _backends.foreign(x, v)):
        out = np.array(x, copy=True)
        np.multiply.at(out, idx, v)
        return out

    # x times a factor that is v at idx and 1 elsewhere, one layer at a time
    ones = backends.zeros(shape_of(x), dtype_of(x), like=x) + 1
    for layer_idx, layer_v in _layers(x, idx, v, pos):
        x = multiply(x, at_set_p.bind(ones, layer_v, idx=layer_idx))
    return x


def _layers(x: Any, idx: tuple, v: Any, pos: np.ndarray | None) -> list[tuple[Any, Any]]:
    """``(idx, v)`` split into layers that each name a position once (the k-th occurrences
    of every position form layer k), to be applied in order, as ``numpy.ufunc.at`` does."""
    layers = [(idx, v)]
    if pos is not None:
        flat = pos.reshape(-1)
        order = np.argsort(flat, kind="stable")
        sorted_flat = flat[order]
        run_start = np.r_[0, np.flatnonzero(sorted_flat[1:] != sorted_flat[:-1]) + 1]
        rank = np.empty(flat.size, np.int64)
        rank[order] = np.arange(flat.size) - np.repeat(run_start, np.diff(np.r_[run_start,
                                                                                flat.size]))
        if flat.size and rank.max() > 0:
            layers = []
            for r in range(int(rank.max()) + 1):
                keep = np.flatnonzero(rank == r)
                layers.append((np.unravel_index(flat[keep], shape_of(x)), _flat_take(v, keep)))
    return layers


def _extremum(x: Any, idx: Any, v: Any, which: Any, ufunc: np.ufunc) -> Any:
    """``x`` with ``x[idx]`` replaced by ``which(x[idx], v)`` (``minimum`` or ``maximum``),
    repeated indices applied in turn, as ``numpy.minimum.at`` / ``numpy.maximum.at``."""
    x, idx, v, pos = _prepare(x, idx, v, f"at[...].{ufunc.__name__[:3]}")
    if not (isinstance(x, Tracer) or isinstance(v, Tracer)):
        out = np.array(x, copy=True)
        ufunc.at(out, idx, v)
        return out
    for layer_idx, layer_v in _layers(x, idx, v, pos):
        x = at_set_p.bind(x, which(getitem_p.bind(x, idx=layer_idx), layer_v), idx=layer_idx)
    return x


class _AtRef:
    """``at(x)[idx]``: the update methods for one index."""

    __slots__ = ("_x", "_idx")

    def __init__(self, x: Any, idx: Any):
        self._x = x
        self._idx = idx

    def get(self) -> Any:
        """``x[idx]``.

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.arange(3.0))[1:].get()
            array([1., 2.])
        """
        return getitem(self._x, self._idx)

    def set(self, values: Any) -> Any:
        """A copy of ``x`` with ``x[idx] = values`` (the last of repeated indices wins).

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.zeros(3))[np.array([1, 1])].set(np.array([5.0, 7.0]))
            array([0., 7., 0.])
        """
        return _set(self._x, self._idx, values)

    def add(self, values: Any) -> Any:
        """A copy of ``x`` with ``values`` added at ``idx`` (repeated indices accumulate).

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.zeros(2))[np.array([1, 1])].add(1.0)
            array([0., 2.])
        """
        return _add(self._x, self._idx, values)

    def multiply(self, values: Any) -> Any:
        """A copy of ``x`` with ``x[idx]`` multiplied by ``values`` (repeated indices multiply
        once per occurrence).

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.ones(2))[np.array([0, 0])].multiply(3.0)
            array([9., 1.])
        """
        return _multiply(self._x, self._idx, values)

    def min(self, values: Any) -> Any:
        """A copy of ``x`` with ``x[idx] = minimum(x[idx], values)`` (repeated indices take
        the minimum of every occurrence, as ``numpy.minimum.at``). The derivative follows
        ``pnp.minimum``: to the smaller of the two, shared equally at a tie.

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.array([1.0, 5.0]))[np.array([1, 1])].min(np.array([3.0, 4.0]))
            array([1., 3.])
        """
        return _extremum(self._x, self._idx, values, minimum, np.minimum)

    def max(self, values: Any) -> Any:
        """A copy of ``x`` with ``x[idx] = maximum(x[idx], values)`` (repeated indices take
        the maximum of every occurrence, as ``numpy.maximum.at``). The derivative follows
        ``pnp.maximum``: to the larger of the two, shared equally at a tie.

        Example:
            >>> import numpy as np, pullback.numpy as pnp
            >>> pnp.at(np.array([1.0, 5.0]))[0].max(2.0)
            array([2., 5.])
        """
        return _extremum(self._x, self._idx, values, maximum, np.maximum)

    def __repr__(self) -> str:
        return f"at(...)[{self._idx!r}]"


class _AtIndexer:
    """``at(x)``: index it to choose what to update."""

    __slots__ = ("_x",)

    def __init__(self, x: Any):
        self._x = x

    def __getitem__(self, idx: Any) -> _AtRef:
        return _AtRef(self._x, idx)

    def __repr__(self) -> str:
        return f"at({self._x!r})"


def at(x: Any) -> _AtIndexer:
    """Functional index updates of ``x``: ``at(x)[idx].set(v)``, ``.add(v)``,
    ``.multiply(v)``, ``.min(v)``, ``.max(v)``, ``.get()``, each returning a new array (``x``
    is left unchanged), differentiable in ``x`` and ``v``.

    On traced values the same is spelled ``x.at[idx].set(v)``, as in JAX. Repeated indices:
    ``set`` keeps the last occurrence, ``add``, ``multiply``, ``min`` and ``max`` apply every
    occurrence in turn (as ``numpy.add.at`` and friends). Out-of-bounds indices raise
    ``IndexError`` (NumPy's behaviour; JAX's ``mode=`` is not offered). See the module
    documentation.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> x = np.zeros(3)
        >>> pnp.at(x)[0].set(1.0), x
        (array([1., 0., 0.]), array([0., 0., 0.]))
    """
    return _AtIndexer(x)


def _at_property(self: Tracer) -> Any:
    return at(self)


method("at", property(_at_property, doc="Functional updates: ``x.at[idx].set(v)``."))
