"""The NumPy layer's one way to normalise axes and to promote dtypes.

Every wrapper that takes an ``axis`` or combines arguments of several dtypes calls these, so
that errors read the same everywhere (they name the function) and promotion follows one
rule: NumPy's, with Python numbers weak (a ``float32`` array times ``2.0`` stays ``float32``).
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.forward import JVPTracer
from pullback.core.reverse import VJPTracer
from pullback.core.trace import Tracer

__all__ = ["as_array", "is_marked_weak", "mark_weak", "normalize_axes", "normalize_axis",
           "promote_dtypes", "python_number_operator", "python_number_part", "result_dtype",
           "scalar_axis", "weak_type"]

_WEAK = (bool, int, float, complex)


def normalize_axis(axis: Any, ndim: int, who: str, argument: str | None = None) -> int:
    """``axis`` as a non-negative integer below ``ndim`` (negative axes count from the end).

    Raises ``TypeError`` for a non-integer and ``numpy.exceptions.AxisError`` for an axis out
    of range, both naming ``who`` (and the ``argument``, when given).
    """
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{who}: {argument or 'axis'} must be an integer, got "
                        f"{type(axis).__name__}")
    if not -ndim <= axis < ndim:
        where = "" if argument is None else f" (argument '{argument}')"
        raise np.exceptions.AxisError(
            f"{who}: axis {axis} is out of bounds for an array of {ndim} dimensions{where}"
        )
    return int(axis) % ndim


def scalar_axis(axis: Any, ndim: int) -> bool:
    """Whether ``axis`` is the integer ``0`` or ``-1`` given for a 0-d array (``ndim == 0``).

    NumPy accepts it where it treats a 0-d array as one of shape ``(1,)``: its ufunc
    reductions (``sum``, ``prod``, ``max``, ``min``, ``ptp``, ``all``, ``any`` and the ``nan``
    ones built on them; the result is the array itself), ``cumsum``/``cumprod`` (shape
    ``(1,)``), ``argmax``/``argmin``, ``argsort``, ``take``, ``repeat``, ``compress`` and
    SciPy's ``logsumexp``/``softmax``; but not ``mean``, ``var``, ``std``, ``median``,
    ``flip``, ``sort`` nor an axis tuple ``(0,)`` (AxisError there). The functions that accept
    it check with this predicate; :func:`normalize_axes` refuses it unless told.
    """
    return (ndim == 0 and isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
            and int(axis) in (0, -1))


def normalize_axes(
    axis: int | Sequence[int] | None, ndim: int, who: str, sort: bool = True,
    argument: str | None = None, zero_d: bool = False,
) -> tuple[int, ...]:
    """``axis`` (an int, a sequence of ints, or ``None`` for all axes) as a tuple of
    non-negative axes, sorted unless ``sort=False``; a repeated axis raises ``ValueError``.

    ``zero_d=True``: an integer axis ``0`` or ``-1`` on a 0-d array means no axis (``()``), as
    NumPy's ufunc reductions take it (see :func:`scalar_axis`)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and ndim:  # one axis in range: the common case, without the loop
        a = axis + ndim if axis < 0 else axis
        if 0 <= a < ndim:
            return (a,)
    if zero_d and scalar_axis(axis, ndim):
        return ()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(normalize_axis(a, ndim, who, argument) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if sort else out


#: traced values marked as standing for a Python number (see :func:`mark_weak`), by id
_MARKED: dict[int, tuple[weakref.ref, type]] = {}


def mark_weak(x: Tracer, kind: type) -> Tracer:
    """Mark the 0-d traced value ``x`` as standing for a Python number of type ``kind``
    (NumPy returns one there), so that it promotes weakly (see :func:`weak_type`): for
    functions whose batching rule makes an array of the numbers under ``vmap``."""
    key = id(x)
    _MARKED[key] = (weakref.ref(x, lambda _ref, key=key: _MARKED.pop(key, None)), kind)
    return x


def is_marked_weak(x: Tracer) -> bool:
    """Whether :func:`mark_weak` marked ``x`` (a quick test for the eager operators)."""
    marked = _MARKED.get(id(x))
    return marked is not None and marked[0]() is x


def weak_type(x: Tracer) -> type | None:
    """The Python type (``int``, ``float``...) of a traced value that stands for a Python
    number, else None: under ``jit`` a function that returns a Python number on traced
    arguments (``linalg.matrix_rank`` of a vector) gives a value of abstract shape ``()`` that
    keeps that type, and it promotes as NumPy promotes the number: weakly."""
    if x.ndim:
        return None
    marked = _MARKED.get(id(x))
    if marked is not None and marked[0]() is x:
        return marked[1]
    while isinstance(x, Tracer):
        x = x.primal
    weak = getattr(x, "weak", None)
    return weak if weak in _WEAK else None


def python_number_operator(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """The operator ``name`` (``"__mul__"``, ``"__rsub__"``, ``"__neg__"``...) of traced values
    implemented by ``impl``, its result marked weak (:func:`mark_weak`) where Python computes
    it: every operand a Python number or a traced value standing for one (``2.0 * rank``
    with ``rank = pnp.linalg.matrix_rank(v)`` is a Python float in NumPy)."""
    reflected = name.startswith("__r")
    pyop = getattr(operator, "__" + name[3:] if reflected else name)

    def op(self: Any, *other: Any) -> Any:
        out = impl(self, *other)
        if type(self) is VJPTracer or type(self) is JVPTracer:
            # the eager case of the tests below, without the calls
            p = self._primal
            if type(p) is np.ndarray and p.ndim:
                return out
            if isinstance(p, (np.ndarray, np.generic)) and id(self) not in _MARKED:
                return out  # a NumPy value, not marked: weak_type(self) is None
        if not isinstance(out, Tracer) or not isinstance(self, Tracer) or self.ndim:
            return out  # (an array is never weak: weak_type's first test, without the call)
        mine = weak_type(self)
        if mine is None:
            return out
        if not other:
            return mark_weak(out, type(pyop(mine(1))))
        (o,) = other
        theirs = type(o) if type(o) in _WEAK else weak_type(o) if isinstance(o, Tracer) else None
        if theirs is None:
            return out
        a, b = (theirs(1), mine(1)) if reflected else (mine(1), theirs(1))
        return mark_weak(out, type(pyop(a, b)))

    op.__name__ = name
    return op


def python_number_part(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """The property ``real`` or ``imag`` (``name``) of traced values implemented by ``impl``,
    its result marked weak where it stands for a Python number (``(rank + 1j).real`` is a
    Python float in NumPy)."""

    def part(self: Any) -> Any:
        out = impl(self)
        mine = weak_type(self) if isinstance(self, Tracer) else None
        if mine is None or not isinstance(out, Tracer):
            return out
        return mark_weak(out, type(getattr(mine(1), name)))

    part.__name__ = name
    return part


def _dtype_or_value(x: Any) -> Any:
    """What ``numpy.result_type`` should see of ``x``: its dtype, or ``x`` itself for a Python
    number or a dtype (numbers stay weak), or the dtype of ``numpy.asarray(x)``."""
    if isinstance(x, Tracer):
        weak = weak_type(x)
        return x.dtype if weak is None else weak(0)
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype
    if type(x) in _WEAK or isinstance(x, (np.dtype, type)):
        return x
    if _is_duck_array(x):
        return x.dtype  # a Dask or CuPy array: never converted to NumPy to read its dtype
    return np.asarray(x).dtype


def _is_duck_array(x: Any) -> bool:
    """An array of another library that takes part in NumPy's dispatch (Dask, CuPy)."""
    return hasattr(x, "__array_function__") and isinstance(getattr(x, "dtype", None), np.dtype)


def result_dtype(*args: Any) -> np.dtype:
    """The dtype NumPy gives an operation on ``args``: arrays, traced values, dtypes or Python
    numbers (weak: ``float32`` with ``2.0`` stays ``float32``)."""
    dtypes = set()
    for a in args:
        if isinstance(a, Tracer) and weak_type(a) is not None:
            break  # a Python number under jit: weak, NumPy decides below
        if isinstance(a, (Tracer, np.ndarray, np.generic)):
            dtypes.add(a.dtype)
        elif type(a) not in (int, float):
            break  # another kind of value: NumPy decides below
    else:  # the common case, one floating dtype among weak numbers: no call into NumPy
        if len(dtypes) == 1:
            (dtype,) = dtypes
            if dtype.kind in "fc":
                return dtype
    return np.result_type(*(_dtype_or_value(a) for a in args))


def promote_dtypes(*args: Any) -> tuple:
    """``args`` in their :func:`result_dtype`: traced ones converted differentiably, the others
    as NumPy arrays (so every cotangent comes back in its primal's dtype)."""
    dtype = result_dtype(*args)
    return tuple(_as_dtype(a, dtype) for a in args)


def as_array(a: Any, dtype: Any = None) -> Any:
    """``numpy.asarray(a, dtype)``, but an array of another library (Dask, CuPy) stays in its
    library (cast with its own ``astype``): never computed or copied to NumPy."""
    if type(a) is np.ndarray or isinstance(a, (np.ndarray, np.generic, Tracer)) \
            or not _is_duck_array(a):
        return np.asarray(a, dtype)
    return a if dtype is None or a.dtype == dtype else a.astype(dtype)


def _as_dtype(a: Any, dtype: np.dtype) -> Any:
    if isinstance(a, Tracer):
        return lax.convert(a, dtype)
    if _is_duck_array(a) and not isinstance(a, np.ndarray):  # stays in its own library
        return a if a.dtype == dtype else a.astype(dtype)
    return np.asarray(a, dtype)
