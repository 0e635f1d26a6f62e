"""NumPy functions whose results carry no derivative, called on traced arguments.

``searchsorted``, ``digitize``, ``isin``, ``bincount`` of indices, ``histogram`` counts...
return integers, booleans or piecewise-constant values: their derivative is zero wherever it
exists. :func:`constant_function` makes such a NumPy function accept traced arguments
anywhere in its arguments (nested in lists, by keyword): they are taken out as the operands
of one primitive, ``constant_call``, whose result every transformation treats as a constant,
and NumPy's own function is called on their values with the rest of the call unchanged. So
the function keeps NumPy's exact semantics, also under ``jit`` (the call is recorded) and
``vmap`` (one call per batch entry: the function is arbitrary).

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> def f(x):
    ...     bins = pnp.digitize(x, [0.0, 1.0])  # which interval each entry falls in
    ...     return pnp.sum(x * bins)
    >>> pb.grad(f)(np.array([-0.5, 0.5, 1.5]))
    array([0., 1., 2.])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core.batching import batch_by_looping
from pullback.core.rules import defbatch, defnondiff
from pullback.core.trace import Tracer, TracerConversionError
from pullback.numpy._registry import new_primitive

__all__ = ["concrete", "constant_call", "constant_function", "constant_p", "constant_tuple_p"]


class _Slot:
    """Where the ``k``-th traced operand goes back into a call's arguments."""

    __slots__ = ("k",)

    def __init__(self, k: int):
        self.k = k

    def __repr__(self) -> str:
        return f"<operand {self.k}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Slot) and other.k == self.k

    def __hash__(self) -> int:
        return hash(("slot", self.k))


def _split(obj: Any, ops: list) -> Any:
    """``obj`` with each traced value replaced by a :class:`_Slot` (appended to ``ops``)."""
    if isinstance(obj, Tracer):
        ops.append(obj)
        return _Slot(len(ops) - 1)
    if type(obj) in (list, tuple):
        parts = [_split(o, ops) for o in obj]
        return parts if type(obj) is list else tuple(parts)
    if type(obj) is dict:
        return {k: _split(v, ops) for k, v in obj.items()}
    return obj


def _fill(obj: Any, vals: tuple) -> Any:
    """The inverse of :func:`_split`: the slots replaced by the operands' values."""
    if type(obj) is _Slot:
        return vals[obj.k]
    if type(obj) in (list, tuple):
        parts = [_fill(o, vals) for o in obj]
        return parts if type(obj) is list else tuple(parts)
    if type(obj) is dict:
        return {k: _fill(v, vals) for k, v in obj.items()}
    return obj


def _call(vals: tuple, func: Callable[..., Any], args: tuple, kwargs: tuple) -> Any:
    return func(*_fill(args, vals), **_fill(dict(kwargs), vals))


#: ``func(*args, **kwargs)`` with traced operands: one result, a constant
constant_p = new_primitive(
    "constant_call", lambda *vals, func, args, kwargs: _call(vals, func, args, kwargs)
)
#: the same for functions with several results (``histogram``'s counts and edges)
constant_tuple_p = new_primitive(
    "constant_call_tuple",
    lambda *vals, func, args, kwargs: tuple(_call(vals, func, args, kwargs)),
    multiple_results=True,
)
for _prim in (constant_p, constant_tuple_p):
    defnondiff(_prim)
    defbatch(_prim, batch_by_looping(
        _prim, "it calls an arbitrary NumPy function, which takes one entry at a time"))


_SAMPLES = (
    (np.array([0.25, 0.5]),),
    (np.array([1, 2, 2]),),
    (np.array([[1.0, 2.0], [3.0, 4.0]]),),
    (np.array([0.25, 0.5]), np.array([0.5, 1.0])),
    (np.array([1, 6]), np.array([4, 4])),
)


def example_call(name: str, func: Callable[..., Any]) -> list[str]:
    """Doctest lines calling ``func`` on a small sample, with NumPy's own output (none when
    no sample fits)."""
    for args in _SAMPLES:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = func(*args)
                text = repr(out)
        except Exception:  # noqa: BLE001 - any sample that does not fit is skipped
            continue
        if "\n" in text or len(text) > 70 or "at 0x" in text:
            continue
        shown = ", ".join(f"np.{a!r}" for a in args)
        return [f">>> pnp.{name}({shown})", text]
    return []


def constant_function(name: str, func: Callable[..., Any],
                      multiple: bool = False) -> Callable[..., Any]:
    """``func`` (a NumPy function whose result has no derivative), accepting traced values
    anywhere in its arguments as constants. ``multiple``: it returns a tuple of arrays.

    Example:
        >>> import numpy as np
        >>> searchsorted = constant_function("searchsorted", np.searchsorted)
        >>> searchsorted([1.0, 2.0, 3.0], 2.5)
        np.int64(2)
    """
    prim = constant_tuple_p if multiple else constant_p

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ops: list = []
        targs = _split(args, ops)
        tkwargs = _split(kwargs, ops)
        if not ops:
            return func(*args, **kwargs)
        return prim.bind(*ops, func=func, args=targs, kwargs=tuple(tkwargs.items()))

    module, _, short = name.rpartition(".")
    wrapper.__name__ = wrapper.__qualname__ = short
    wrapper.__module__ = "pullback.numpy" + ("." + module if module else "")
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    doc = (
        f"``numpy.{name}``, without derivative: traced arguments (also inside lists) are used "
        "as constants, their derivatives dropped (the result is integer, boolean or piecewise "
        "constant)."
    )
    example = example_call(name, func)
    if example:
        lines = [">>> import numpy as np", ">>> import pullback.numpy as pnp", *example]
        doc += "\n\nExample:\n" + "".join(f"    {line}\n" for line in lines)
    wrapper.__doc__ = doc
    wrapper.__pullback_kind__ = "constant"  # type: ignore[attr-defined]
    return wrapper


def constant_call(func: Callable[..., Any], *args: Any, multiple: bool = False,
                  **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` computed on the values of the traced arguments, as a
    constant (``multiple``: a tuple of results).

    Example:
        >>> import numpy as np
        >>> constant_call(np.argsort, np.array([3.0, 1.0]))
        array([1, 0])
    """
    ops: list = []
    targs = _split(args, ops)
    tkwargs = _split(kwargs, ops)
    if not ops:
        out = func(*args, **kwargs)
        return tuple(out) if multiple else out
    prim = constant_tuple_p if multiple else constant_p
    return prim.bind(*ops, func=func, args=targs, kwargs=tuple(tkwargs.items()))


def concrete(value: Any, who: str, what: str) -> Any:
    """``value`` (a :func:`constant_call` result) when its numbers are known here; under a
    transformation that knows only shapes (``jit``) or that batches (``vmap``), the error it
    raises for needing a value, saying that ``what`` depends on the values.

    Every constant result that decides a shape, a dtype or a Python branch goes through this,
    so that no transformation builds on a guess.

    Example:
        >>> concrete(np.array([1, 2]), "pullback.numpy.unique", "the number of values")
        array([1, 2])
    """
    if not isinstance(value, Tracer):
        return value
    message = (
        f"{who}: {what} depends on the values of the arguments, which this transformation "
        "does not have (jit traces with shapes and dtypes; vmap computes every entry at once)"
    )
    try:
        np.asarray(value)
    except TracerConversionError as err:  # jit's own error type, with the reason
        raise type(err)(message) from None
    except TypeError:
        raise TypeError(message) from None
    raise TypeError(message)  # pragma: no cover - a traced value converted to NumPy
