"""Writes into traced arrays with NumPy's meaning: ``x[idx] = v``, ``x[idx] += v``, ``x += y``.

A write is a functional update (``x.at[idx].set(v)``) whose result the same Python object
then holds (:meth:`~pullback.core.trace.Tracer._become`): every name bound to the object sees
the new value, as in NumPy, values computed from it earlier keep theirs, and the derivative
of what was overwritten is dropped, since the new value does not depend on it. The caller's
own arrays are never written: a traced input is a new object wrapping them.

Views follow NumPy: the result of basic slicing, ``reshape`` or ``transpose`` of a traced
array remembers its base, so

- a write through the view (``v = x[1:]; v[0] = 5``) is written into the base, and
- after any write into an array, its live views are computed again from it,

exactly what NumPy's shared memory does. Views NumPy makes read-only (``broadcast_to``)
refuse writes as NumPy does; writes through the rarer views (``real``/``imag`` of a complex
array, the pieces of ``split``) raise an error that says to write into the base or copy.

Buffers: inside a transformation ``pnp.zeros/ones/empty/full(...)``, ``np.zeros_like(x)`` and
friends, ``x.copy()``, ``np.copy(x)`` and ``np.array(x)`` give traced arrays that accept traced
writes (outside one they are plain NumPy arrays, at no cost).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from pullback.core.trace import PRIMITIVES, Tracer, dtype_of, shape_of, trace_state
from pullback.numpy import _backends, products, shape
from pullback.numpy import elementwise as ew
from pullback.numpy.indexing import at

__all__ = ["assign", "inplace", "lift_buffer", "plain_array", "setitem"]

#: the primitives whose NumPy result is a view of their first argument, and how a write
#: through such a view reaches the base (None: it cannot, with the reason)
_WRITE_BACK = {
    "getitem": "index",
    "reshape": "reshape",
    "transpose": "transpose",
    "broadcast_to": "NumPy makes broadcast views read-only (assignment destination is "
                    "read-only)",
    "real": "a write through x.real of a complex traced array is not supported",
    "imag": "a write through x.imag of a complex traced array is not supported",
    "split": "a write into a piece of split() of a traced array is not supported",
}


def plain_array(x: Any) -> np.ndarray | None:
    """The NumPy array a traced value stands for, or None (no value under jit, or another
    library's array)."""
    while isinstance(x, Tracer):
        if not x.holds_value:
            return None
        x = x._primal
    return x if type(x) is np.ndarray else None


def _basic(idx: tuple) -> bool:
    """Whether NumPy's indexing by ``idx`` makes a view (no index arrays, lists or masks)."""
    for i in idx:
        if isinstance(i, (np.ndarray, list, Tracer)) or i is True or i is False:
            return False
    return True


def _install() -> None:
    for name in _WRITE_BACK:
        prim = PRIMITIVES.get(name)
        if prim is None:
            continue

        def mark(out: Any, args: tuple, params: dict, prim: Any = prim) -> None:
            base = args[0]
            if not isinstance(base, Tracer):
                return
            if prim.name == "getitem" and not _basic(params["idx"]):
                return  # advanced indexing copies
            outs = out if isinstance(out, tuple) else (out,)
            if prim.name == "reshape":
                # NumPy's reshape copies when the base's layout does not allow a view (a
                # transposed or strided base): the values' own arrays say which it did
                # (under jit, where there are none, a reshape stays a view)
                b, o = plain_array(base), plain_array(outs[0])
                if b is not None and o is not None and not np.may_share_memory(b, o):
                    return
            views = getattr(base, "_views", None)
            if views is None:
                views = base._views = []
            elif len(views) > 64:
                views[:] = [r for r in views if r() is not None]
            for k, o in enumerate(outs):
                if (
                    isinstance(o, Tracer)
                    and o._trace is base._trace
                    and o is not base
                    and o.shape  # NumPy's y[0] of a 1-d y is a scalar, a copy: not a view
                ):
                    o._view = (base, prim, params, k)
                    views.append(weakref.ref(o))

        prim.view = mark



def _refresh(x: Tracer) -> None:
    """Compute the live views of ``x`` again from its new value (NumPy's shared memory)."""
    views = getattr(x, "_views", None)
    if not views:
        return
    live = []
    for ref in views:
        v = ref()
        if v is None:
            continue
        live.append(ref)
        _, prim, params, k = v._view
        out = x._trace.process(prim, (x,), params)
        out = out[k] if prim.multiple_results else out
        if not isinstance(out, Tracer) or out._trace is not x._trace:
            out = x._trace.lift(out)
        v._become(out)
        _refresh(v)
    views[:] = live


def _conform(x: Tracer, new: Any, who: str, casting: str) -> Any:
    """``new`` with ``x``'s shape and dtype (NumPy's rules for writing into ``x``)."""
    if shape_of(new) != shape_of(x):
        raise ValueError(
            f"{who}: a value of shape {shape_of(new)} cannot be written into an array of "
            f"shape {shape_of(x)} in place (NumPy: non-broadcastable output operand)"
        )
    if dtype_of(new) != dtype_of(x):
        if not np.can_cast(dtype_of(new), dtype_of(x), casting):
            raise TypeError(
                f"{who}: cannot write a {dtype_of(new)} result into a {dtype_of(x)} array "
                f"in place (NumPy's casting rule '{casting}'); write `x = x op v` for a new "
                "array of the wider dtype"
            )
        new = shape.astype(new, dtype_of(x))
    return new


def assign(x: Tracer, new: Any) -> None:
    """Make ``x`` hold ``new`` (already of its shape and dtype), through its base if it is a
    view, and compute its views again."""
    view = getattr(x, "_view", None)
    if view is not None:
        base, prim, params, k = view
        how = _WRITE_BACK[prim.name]
        if how == "index":
            new_base = at(base)[params["idx"]].set(new)
        elif how == "reshape":
            new_base = shape.reshape(new, shape_of(base))
        elif how == "transpose":
            new_base = shape.transpose(new, tuple(int(i) for i in np.argsort(params["axes"])))
        else:
            raise ValueError(
                f"cannot write into this traced array: it is a view of another array and {how}; "
                "write into the array it was taken from, or make a copy first (y = y.copy())"
            )
        assign(base, new_base)
        return
    if not isinstance(new, Tracer) or new._trace is not x._trace:
        if isinstance(new, Tracer) and new._trace.level < x._trace.level:
            new = x._trace.lift(new)  # a value of an outer level: a constant to this one
        elif not isinstance(new, Tracer):
            new = x._trace.lift(new)
    x._become(new)
    _refresh(x)


def setitem(x: Tracer, idx: Any, value: Any) -> None:
    """``x[idx] = value`` on a traced array, as NumPy means it."""
    if not _is_array(x):
        raise TypeError(
            "a traced NumPy scalar does not support item assignment (as in NumPy); make it "
            "an array first (pnp.asarray(x)[None]) or write `x = v`"
        )
    if _is_mask_of(idx, x) and not shape_of(value):
        # x[mask] = scalar keeps x's shape: a select, which also compiles under jit
        new = ew.where(idx, value, x)
    else:
        new = at(x)[idx].set(value)
    assign(x, _conform(x, new, "x[idx] = v", "unsafe"))


def _is_mask_of(idx: Any, x: Tracer) -> bool:
    return (
        isinstance(idx, (Tracer, np.ndarray))
        and dtype_of(idx) == np.bool_
        and shape_of(idx) == shape_of(x)
    )


def _is_array(x: Any) -> bool:
    """Whether ``x`` stands for a NumPy array (updated in place) rather than a NumPy scalar
    (immutable: ``s += v`` rebinds ``s``). Under ``vmap`` and ``jit`` a value is known by
    its shape only: 0-d values act as scalars there (as NumPy's 0-d results mostly are)."""
    while isinstance(x, Tracer):
        if not x.holds_value:
            return len(x.shape) > 0
        x = x._primal
    return isinstance(x, np.ndarray) or _backends.foreign(x) is not None  # Dask: an array


_BINARY = {
    "+": ew.add, "-": ew.subtract, "*": ew.multiply, "/": ew.divide, "**": ew.power,
    "@": products.matmul, "//": ew.floor_divide, "%": ew.remainder,
}


def inplace(op: str) -> Any:
    """``x op= v``: a traced array is updated in place as NumPy does (every name bound to it
    sees the change); a traced NumPy scalar is rebound, as NumPy's immutable scalars are."""
    binary = _BINARY[op]

    def method(self: Tracer, other: Any) -> Any:
        new = binary(self, other)
        if not _is_array(self):
            return new
        assign(self, _conform(self, new, f"x {op}= v", "same_kind"))
        return self

    method.__name__ = f"__i{binary.__name__}__"
    return method


def lift_buffer(value: np.ndarray) -> Any:
    """``value`` as a buffer that accepts traced writes: a traced constant of the innermost
    active transformation, or ``value`` itself when nothing is being traced."""
    stack = trace_state.stack
    if not stack:
        return value
    try:
        return stack[-1].lift(value)
    except TypeError:  # a trace that holds no constants (the checker's recording trace)
        return value


_install()
