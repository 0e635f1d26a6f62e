"""Operators, array methods and NumPy's dispatch protocols for traced values.

Family modules add their own methods with ``_registry.method``; this module adds the
operators and installs everything.

Installed on the core's ``Tracer`` class when ``pullback.numpy`` is imported, so that the core
itself never depends on this layer.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.reverse import VJPTracer, record1, record2
from pullback.core.trace import PRIMITIVES, Tracer
from pullback.numpy import elementwise as ew
from pullback.numpy import products, reductions, shape, ufunc_methods
from pullback.numpy._mutation import assign, inplace, setitem
from pullback.numpy._registry import FUNCTIONS, METHODS, SCIPY_UFUNCS, UFUNCS, method
from pullback.numpy._util import _MARKED, is_marked_weak, python_number_operator
from pullback.numpy.indexing import at


def _into_plain_array(ufunc: Any, out: Any) -> TypeError:
    outs = out if isinstance(out, tuple) else (out,)
    where = "an augmented assignment such as `acc += x` on" if len(outs) == 1 else "out= with"
    name = f"numpy.{ufunc.__name__}"
    if _scipy_special_name(ufunc) is not None:
        name, where = f"scipy.special.{ufunc.__name__}", "out= with"
    return TypeError(
        f"{name}: {where} a plain NumPy array would write a traced value into "
        "it, and a NumPy array cannot hold a derivative. Make a new array instead "
        "(`acc = acc + x`), or collect the values in a list and combine them with pnp.stack / "
        "pnp.concatenate"
    )


def _array_ufunc(self: Tracer, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    if not kwargs and method == "__call__":  # `array * traced`: the wrapper, at once
        prim = _EAGER_UFUNCS.get(ufunc)
        if prim is not None and len(inputs) == 2:
            # the eager reverse-mode case, in one step (the wrapper's first try)
            out = record2(prim, *inputs)
            if out is not None:
                return out
        elif ufunc is np.matmul and len(inputs) == 2 and _plain_or_tape(*inputs):
            return products.matmul(*inputs)  # (no array-like to convert: its wrapper's call)
        wrapper = UFUNCS.get(ufunc)
        if wrapper is not None:
            return wrapper(*inputs)
    out = kwargs.get("out")
    if out is not None and any(not isinstance(o, Tracer) for o in
                               (out if isinstance(out, tuple) else (out,))):
        raise _into_plain_array(ufunc, out)
    if method == "__call__":
        wrapper = UFUNCS.get(ufunc)
        if wrapper is not None:
            return wrapper(*inputs, **kwargs)
    elif method in _UFUNC_METHODS and ufunc in UFUNCS:
        if method == "reduceat" and len(inputs) == 2:
            kwargs.pop("indices", None)  # NumPy passes a keyword `indices` twice
        return _UFUNC_METHODS[method](ufunc, *inputs, **kwargs)
    elif method == "at":
        return _ufunc_at(ufunc, *inputs, **kwargs)
    scipy_name = _scipy_special_name(ufunc)
    if scipy_name is not None:
        return _scipy_ufunc(scipy_name, method, inputs, kwargs)
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    if getattr(np, ufunc.__name__, None) is not ufunc:
        raise NotImplementedError(
            f"no derivative rule for the ufunc {name} (not NumPy's or SciPy's): pullback "
            "cannot differentiate it; define one with pullback.primitive"
        )
    raise NotImplementedError(
        f"no derivative rule for numpy.{name}: pullback cannot differentiate it; use a "
        "pullback.numpy function instead, or define one with pullback.primitive"
    )


#: NumPy's ufunc methods on traced values (np.multiply.outer(x, y), np.maximum.reduce(x))
_UFUNC_METHODS = {"outer": ufunc_methods.outer, "reduce": ufunc_methods.reduce,
                  "accumulate": ufunc_methods.accumulate, "reduceat": ufunc_methods.reduceat}


def _plain_or_tape(x: Any, y: Any) -> bool:
    """Whether each of ``x``, ``y`` is a NumPy array or a tracer of the eager tape."""
    return ((type(x) is np.ndarray or type(x) is VJPTracer)
            and (type(y) is np.ndarray or type(y) is VJPTracer))


def _scipy_special_name(ufunc: Any) -> str | None:
    """``ufunc``'s name when it is one of ``scipy.special``'s ufuncs (public, or private ones
    that its functions call, such as ``_zeta``), else None. SciPy is looked up, never imported:
    whoever called its ufunc has imported it."""
    special = sys.modules.get("scipy.special")
    if special is None:
        return None
    name: str = ufunc.__name__
    if getattr(special, name, None) is ufunc:
        return name
    private = sys.modules.get("scipy.special._ufuncs")
    if private is not None and getattr(private, name, None) is ufunc:
        return name
    return None


def _scipy_ufunc(name: str, method: str, inputs: tuple, kwargs: dict) -> Any:
    """SciPy's ufunc ``name`` called on traced values: pullback.scipy.special's version."""
    where = f"scipy.special.{name}"
    wrapper = SCIPY_UFUNCS.get(name)
    if wrapper is None:
        raise NotImplementedError(
            f"no derivative rule for {where}: pullback.scipy.special has no differentiable "
            "version of it (pullback.scipy.special lists those it has); define one with "
            "pullback.primitive"
        )
    public = f"pullback.scipy.special.{wrapper.__name__}"
    if method != "__call__":
        raise NotImplementedError(
            f"{where}.{method} on traced values is not supported: call {public} on arrays that "
            "broadcast to the shape you need instead"
        )
    bad = sorted(k for k, v in kwargs.items() if v is not None)
    if bad:
        raise TypeError(
            f"{where}: keyword argument(s) {bad} are not supported on traced values (no out=, "
            f"where= or dtype= inside a transformation); call {public} and convert the result"
        )
    return wrapper(*inputs)


#: ``ufunc.at(a, indices, b)`` as the functional update of ``a`` that holds the same result
_AT = {np.add: "add", np.subtract: "add", np.multiply: "multiply", np.minimum: "min",
       np.maximum: "max"}


def _ufunc_at(ufunc: Any, a: Any, indices: Any, b: Any = None) -> None:
    """``np.add.at(a, indices, b)`` (and subtract, multiply, minimum, maximum) on a traced
    buffer: unbuffered, every occurrence of a repeated index applies, as in NumPy."""
    if not isinstance(a, Tracer):
        raise TypeError(
            f"numpy.{ufunc.__name__}.at: writing a traced value into a plain NumPy array: a "
            "NumPy array cannot hold a derivative. Make the array with pullback.numpy "
            "(`a = pnp.zeros(n)`, or `np.zeros_like(x)` of a traced x)"
        )
    update = _AT.get(ufunc)
    if update is None or b is None:
        raise NotImplementedError(
            f"numpy.{ufunc.__name__}.at on traced values: pullback supports np.add.at, "
            "np.subtract.at, np.multiply.at, np.minimum.at and np.maximum.at with values"
        )
    if ufunc is np.subtract:
        b = ew.negative(b) if isinstance(b, Tracer) else np.negative(b)
    assign(a, shape.astype(getattr(at(a)[indices], update)(b), a.dtype))


def _array_function(self: Tracer, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    wrapper = FUNCTIONS.get(func)
    if wrapper is None:
        raise NotImplementedError(
            f"no derivative rule for numpy.{func.__name__}: pullback cannot differentiate it; "
            "define one with pullback.primitive"
        )
    return wrapper(*args, **kwargs)


def _iter(self: Tracer) -> Any:
    if not self.shape:
        raise TypeError("iteration over a 0-d traced value")
    return (shape.getitem(self, i) for i in range(self.shape[0]))


def _reshape(self: Tracer, *shape_: Any, order: str = "C") -> Any:
    if len(shape_) == 1 and not isinstance(shape_[0], int):
        shape_ = shape_[0]
    return shape.reshape(self, shape_, order=order)


def _transpose(self: Tracer, *axes: Any) -> Any:
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return shape.transpose(self, axes or None)


def _rpow(self: Tracer, other: Any) -> Any:
    return ew.power(other, self)


#: the operators call the wrappers themselves where the argument order is the same (one Python
#: call less per operation than a lambda around them)
_METHODS = {
    "__array_ufunc__": _array_ufunc,
    "__array_function__": _array_function,
    "__add__": ew.add,
    "__radd__": lambda s, o: ew.add(o, s),
    "__sub__": ew.subtract,
    "__rsub__": lambda s, o: ew.subtract(o, s),
    "__mul__": ew.multiply,
    "__rmul__": lambda s, o: ew.multiply(o, s),
    "__truediv__": ew.divide,
    "__rtruediv__": lambda s, o: ew.divide(o, s),
    "__pow__": ew.power,
    "__rpow__": _rpow,
    "__matmul__": products.matmul,
    "__rmatmul__": lambda s, o: products.matmul(o, s),
    "__neg__": ew.negative,
    "__pos__": lambda s: s,
    "__abs__": ew.absolute,
    "__lt__": ew.less,
    "__le__": ew.less_equal,
    "__gt__": ew.greater,
    "__ge__": ew.greater_equal,
    "__eq__": ew.equal,
    "__ne__": ew.not_equal,
    "__iadd__": inplace("+"),
    "__isub__": inplace("-"),
    "__imul__": inplace("*"),
    "__itruediv__": inplace("/"),
    "__ipow__": inplace("**"),
    "__imatmul__": inplace("@"),
    "__ifloordiv__": inplace("//"),
    "__imod__": inplace("%"),
    "__getitem__": shape.getitem,
    "__setitem__": setitem,
    "copy": lambda s, order="C": lax.copy(s),
    "__iter__": _iter,
    "T": property(lambda s: shape.transpose(s)),
    "mT": property(lambda s: shape.swapaxes(s, -1, -2)),
    "sum": lambda s, axis=None, keepdims=False: reductions.sum(s, axis=axis, keepdims=keepdims),
    "mean": lambda s, axis=None, keepdims=False: reductions.mean(s, axis=axis,
                                                                 keepdims=keepdims),
    "reshape": _reshape,
    "transpose": _transpose,
    "ravel": lambda s, order="C": shape.ravel(s, order),
    "flatten": lambda s, order="C": lax.copy(shape.ravel(s, order)),  # a copy, as NumPy's
    "squeeze": lambda s, axis=None: shape.squeeze(s, axis),
    "swapaxes": lambda s, a, b: shape.swapaxes(s, a, b),
    "astype": lambda s, dtype: shape.astype(s, dtype),
    "dot": lambda s, o: products.dot(s, o),
}

for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__neg__", "__abs__"):
    _METHODS[_name] = python_number_operator(_name, _METHODS[_name])  # stay weak, as NumPy's

for _name, _impl in _METHODS.items():
    method(_name, _impl)


# ----------------------------------------------------------------------------- the eager case
# The arithmetic operators of the eager reverse mode's tracers (VJPTracer) try the tape's
# one-step recording first (what the wrappers above try first too, after their checks that a
# tracer passes), then fall back to the operators above. The result is marked weak as the
# operators above mark it: only where ``self`` stands for a Python number (a 0-d value marked
# weak), which the fast path leaves to them. A tracer whose value is not a NumPy array or
# float (one of an outer transformation: hvp, hessian) goes to them at once.

#: the values of tape tracers that the one-step path takes (others: the general operators)
_PLAIN = frozenset((np.ndarray, np.float64, np.float32, np.complex128, np.complex64))


def _eager_binary(prim: Any, general: Any, reflected: bool) -> Any:
    if reflected:
        def op(self: Any, other: Any) -> Any:
            p = self._primal
            if type(p) in _PLAIN and (p.ndim or id(self) not in _MARKED
                                      or not is_marked_weak(self)):
                out = record2(prim, other, self)
                if out is not None:
                    return out
            return general(self, other)
    else:
        def op(self: Any, other: Any) -> Any:
            p = self._primal
            if type(p) in _PLAIN and (p.ndim or id(self) not in _MARKED
                                      or not is_marked_weak(self)):
                out = record2(prim, self, other)
                if out is not None:
                    return out
            return general(self, other)
    op.__name__ = general.__name__
    return op


def _eager_negative(self: Any) -> Any:
    p = self._primal
    if type(p) in _PLAIN and (p.ndim or id(self) not in _MARKED or not is_marked_weak(self)):
        out = record1(ew.negative_p, self, {})
        if out is not None:
            return out
    return _METHODS["__neg__"](self)


def _eager_transpose(self: Any) -> Any:
    """``x.T`` of a matrix in one step (``shape.transpose``'s parameters for it)."""
    p = self._primal
    if type(p) is np.ndarray and p.ndim == 2:
        out = record1(shape.transpose_p, self, {"axes": (1, 0)})
        if out is not None:
            return out
    return shape.transpose(self)


#: NumPy's binary ufuncs whose wrappers try ``record2`` first (``array * traced`` reaches
#: ``_array_ufunc``): the primitive, for it to try that at once
_EAGER_UFUNCS = {np.add: PRIMITIVES["add"], np.subtract: PRIMITIVES["subtract"],
                 np.multiply: lax.mul_p, np.divide: PRIMITIVES["divide"]}
_EAGER = {"__neg__": _eager_negative, "T": property(_eager_transpose)}
for _name, _prim in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                     ("truediv", "divide")):
    _p = lax.mul_p if _prim == "multiply" else PRIMITIVES[_prim]
    _EAGER[f"__{_name}__"] = _eager_binary(_p, _METHODS[f"__{_name}__"], False)
    _EAGER[f"__r{_name}__"] = _eager_binary(_p, _METHODS[f"__r{_name}__"], True)


def install() -> None:
    """Give traced values every registered method; ``pullback.numpy`` calls it last."""
    for name, impl in METHODS.items():
        setattr(Tracer, name, impl)
    for name, impl in _EAGER.items():
        setattr(VJPTracer, name, impl)
Tracer.__hash__ = lambda s: id(s)  # comparisons return arrays; identity still hashes
