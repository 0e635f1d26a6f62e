"""``pb.debug_nans()``: stop at the first primitive whose value, tangent or cotangent is NaN/inf.

Off by default, and then free: ``bind`` and the backward pass test one module global that
is ``None``. When on, every primitive's result is checked as it is computed (its forward
value and, in forward mode, its tangent), and every cotangent a pullback returns; the first
one that holds a NaN or an infinity raises :class:`FloatingPointError` naming the primitive,
the mode, the shapes, and the line of user code that applied the primitive (recorded when
the operation ran, so a cotangent found in the backward pass still points at it).

``PULLBACK_DEBUG_NANS=1`` in the environment turns it on for the whole process.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

import numpy as np

from pullback.core import reverse, trace
from pullback.core.forward import JVPTracer
from pullback.core.reverse import VJPTracer
from pullback.core.trace import Primitive, Tracer, shape_of

__all__ = ["call_site", "debug_nans"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NUMPY = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
#: where each recorded operation was applied, while debug_nans is on
_SITES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def call_site(skip: int = 1) -> tuple[str, str]:
    """``("file:line", function name)`` of the innermost frame outside pullback and NumPy.

    Example:
        >>> call_site()[0].startswith("<doctest")
        True
    """
    frame: Any = sys._getframe(skip)
    while frame is not None:
        name = frame.f_code.co_filename
        path = name if name.startswith("<") else os.path.abspath(name)
        if not (
            path.startswith(_PACKAGE)
            or path.startswith(_NUMPY)
            or name.startswith("<__array_function__")
        ):
            return f"{name}:{frame.f_lineno}", frame.f_code.co_name
        frame = frame.f_back
    return "<unknown>", "<unknown>"


def _plain(x: Any) -> Any:
    while isinstance(x, Tracer):
        x = x._primal
    return x


def _bad(x: Any) -> str | None:
    """"nan" or "inf" when the plain value of ``x`` holds one, else None."""
    v = _plain(x)
    if isinstance(v, (float, complex)) or (
        isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind in "fc"
    ):
        with np.errstate(invalid="ignore"):
            if np.isnan(v).any():
                return "nan"
            if np.isinf(v).any():
                return "inf"
    return None


def _shapes(args: tuple) -> str:
    return ", ".join(str(shape_of(a)) for a in args) or "none"


def _raise(prim: Primitive, mode: str, what: str, value: Any, args: tuple, site: str) -> None:
    raise FloatingPointError(
        f"debug_nans: primitive '{prim.name}' gave {what} in its {mode} (shape "
        f"{shape_of(value)}; arguments of shapes {_shapes(args)}), applied at {site}. "
        "Look at the inputs of that operation (its domain: log of 0, sqrt of a negative, "
        "0/0...), or at a where() whose branch not taken is NaN (compute that branch on safe "
        "inputs)"
    )


def _check_result(prim: Primitive, args: tuple, out: Any) -> Any:
    outs = out if isinstance(out, tuple) else (out,)
    site = None
    for o in outs:
        if type(o) is VJPTracer:
            site = site or "{} (in {})".format(*call_site(3))
            _SITES[o.node] = site
        what = _bad(o)
        if what is not None:
            _raise(prim, "forward value", what, o, args, site or "{} (in {})".format(
                *call_site(3)))
        if type(o) is JVPTracer:
            what = _bad(o.tangent)
            if what is not None:
                _raise(prim, "tangent (forward mode)", what, o.tangent, args,
                       site or "{} (in {})".format(*call_site(3)))
    return out


def _check_cotangent(node: Any, i: int, ct: Any) -> None:
    what = _bad(ct)
    if what is not None:
        site = _SITES.get(node, "an operation recorded before debug_nans was turned on")
        raise FloatingPointError(
            f"debug_nans: the pullback of '{node.prim.name}' gave {what} in the cotangent of "
            f"its argument {i} (shape {shape_of(ct)}), for the operation applied at {site}. "
            "A NaN cotangent often comes from an infinite derivative (sqrt or log at 0, "
            "abs**p with p < 1 at 0) multiplied by zero: keep such points out of the domain"
        )


class debug_nans:  # noqa: N801 - used like a function: ``with pb.debug_nans():``
    """Raise at the first primitive whose value, tangent or cotangent is NaN or infinite.

    A context manager (``with pb.debug_nans():``) that can also be switched off inside
    (``debug_nans(False)``); ``PULLBACK_DEBUG_NANS=1`` turns it on for the process.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> with pb.debug_nans():
        ...     pb.grad(lambda x: pnp.sum(pnp.sqrt(x)))(np.array([1.0, 0.0]))
        Traceback (most recent call last):
        ...
        FloatingPointError: debug_nans: the pullback of 'sqrt' gave inf in the cotangent ...
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._saved: list[Any] = []

    def __enter__(self) -> debug_nans:
        self._saved.append((trace.debug_hook, reverse.cotangent_hook))
        _set(self.enabled)
        return self

    def __exit__(self, *exc: Any) -> None:
        trace.debug_hook, reverse.cotangent_hook = self._saved.pop()


def _set(on: bool) -> None:
    trace.debug_hook = _check_result if on else None
    reverse.cotangent_hook = _check_cotangent if on else None


if os.environ.get("PULLBACK_DEBUG_NANS", "").strip().lower() in ("1", "true", "yes", "on"):
    _set(True)
