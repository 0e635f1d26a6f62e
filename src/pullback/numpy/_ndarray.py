"""The rest of NumPy's ``ndarray`` methods and attributes, on traced values.

``_tracer`` installs the operators and the common methods (``sum``, ``reshape``, ``T``...);
the families add theirs (``max``, ``cumsum``, ``diagonal``...). These are the remaining ones:
methods that write in place as NumPy's do (``sort``, ``partition``, ``fill``, ``put``,
through the mutation machinery), the integer methods and operators (``argpartition``,
``searchsorted``, ``&``, ``|``, ``^``, ``~``, shifts), ``flat``, ``view()``, ``nbytes``,
``itemsize``, ``device``, ``__array_namespace__``, and the memory-level ones, which raise an
error that says why a traced value has none (``tobytes``, ``tofile``, ``strides``...).

Example:
    >>> import numpy as np, pullback as pb
    >>> def f(x):
    ...     y = x * 1.0
    ...     y.sort()  # in place, as NumPy's
    ...     return y[-1] * 2.0 + y.flat[0]
    >>> pb.grad(f)(np.array([3.0, 1.0, 2.0]))
    array([2., 1., 0.])
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy import _namespace
from pullback.numpy._mutation import _conform, _is_array, assign, setitem
from pullback.numpy._registry import method
from pullback.numpy.manipulation import choose, compress, partition, put
from pullback.numpy.shape import astype, broadcast_to, getitem, ravel, reshape, sort

__all__: list[str] = []


# ----------------------------------------------------------------------------- in place


def _sort(self: Tracer, axis: int = -1, kind: Any = None, order: Any = None, *,
          stable: Any = None) -> None:
    assign(self, sort(self, axis=axis, kind=kind, order=order, stable=stable))


def _partition(self: Tracer, kth: Any, axis: int = -1, kind: str = "introselect",
               order: Any = None) -> None:
    assign(self, partition(self, kth, axis, kind, order))


def _fill(self: Tracer, value: Any) -> None:
    if shape_of(value):
        raise ValueError("fill: the value must be a scalar (as in NumPy)")
    if isinstance(value, Tracer):
        new = broadcast_to(astype(value, dtype_of(self)), shape_of(self))
    else:
        new = np.broadcast_to(np.asarray(value, dtype_of(self)), shape_of(self))
    assign(self, new)


def _put(self: Tracer, indices: Any, values: Any, mode: str = "raise") -> None:
    put(self, indices, values, mode)


def _inplace(binary: Callable[..., Any], op: str) -> Callable[..., Any]:
    """``x op= v`` for the integer operators: in place for arrays, a new value for scalars."""

    def update(self: Tracer, other: Any) -> Any:
        new = binary(self, other)
        if not _is_array(self):
            return new
        assign(self, _conform(self, new, f"x {op}= v", "same_kind"))
        return self

    return update


# ----------------------------------------------------------------------------- flat


class _Flat:
    """``x.flat``: iterate over, read and write the elements in C order (writes reach
    ``x``)."""

    __slots__ = ("_x",)

    def __init__(self, x: Tracer):
        self._x = x

    def __iter__(self) -> Any:
        flat = ravel(self._x)
        return (getitem(flat, i) for i in range(shape_of(flat)[0]))

    def __len__(self) -> int:
        return int(np.prod(shape_of(self._x), dtype=np.int64))

    def __getitem__(self, index: Any) -> Any:
        return getitem(ravel(self._x), index)

    def __setitem__(self, index: Any, value: Any) -> None:
        setitem(reshape(self._x, (-1,)), index, value)  # a view: the write reaches x

    def copy(self) -> Any:
        """The flattened values, as a new array.

        Example:
            >>> import numpy as np, pullback as pb
            >>> pb.grad(lambda x: (x.flat.copy() * 2.0).sum())(np.ones((1, 2)))
            array([[2., 2.]])
        """
        return lax.copy(ravel(self._x))

    @property
    def base(self) -> Tracer:
        return self._x


# ----------------------------------------------------------------------------- refusals


def _no_memory(name: str, why: str) -> Callable[..., Any]:
    def refuse(self: Tracer, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{name} of a traced value: {why}")

    refuse.__name__ = name
    return refuse


def _no_memory_attribute(name: str, why: str) -> property:
    def refuse(self: Tracer) -> Any:
        raise AttributeError(f"{name} of a traced value: {why}")

    return property(refuse)


_MEMORY = ("a traced value has no memory of its own (it stands for the value being traced); "
           "call it on the result, after the transformation")


def _view(self: Tracer, dtype: Any = None, type: Any = None) -> Any:  # noqa: A002
    if dtype is None and type is None:
        return getitem(self, Ellipsis)  # a view: writes through it reach self
    raise TypeError(
        "x.view(dtype) of a traced value reinterprets its bytes, which has no derivative; use "
        "x.astype(dtype) to convert the values")


def _resize(self: Tracer, *new_shape: Any, refcheck: bool = True) -> None:
    raise TypeError(
        "x.resize(...) of a traced value would change its size in place; use "
        "np.resize(x, shape) (repeats the values) or x.reshape(shape) for a new array")


def _to_device(self: Tracer, device: Any, /, *, stream: Any = None) -> Tracer:
    if device != "cpu":
        raise ValueError(f"unsupported device {device!r}: traced values live on the CPU")
    return self


def _array_namespace(self: Tracer, *, api_version: Any = None) -> Any:
    return sys.modules["pullback.numpy"]


def _contains(self: Tracer, value: Any) -> bool:
    return bool(np.any(_plain(self) == _plain(value)))


def _plain(x: Any) -> Any:
    while isinstance(x, Tracer):
        x = x.primal
    return x


def _index(self: Tracer) -> int:
    raise self._conversion_error("operator.index()")


# ----------------------------------------------------------------------------- the table

_ns = _namespace
_METHODS: dict[str, Any] = {
    "sort": _sort,
    "partition": _partition,
    "fill": _fill,
    "put": _put,
    "compress": lambda s, condition, axis=None, out=None: compress(condition, s, axis, out),
    "choose": lambda s, choices, out=None, mode="raise": choose(s, choices, out, mode),
    "argpartition": lambda s, kth, axis=-1, kind="introselect", order=None:
        _ns.lookup("", "argpartition")(s, kth, axis, kind, order),
    "searchsorted": lambda s, v, side="left", sorter=None:
        _ns.lookup("", "searchsorted")(s, v, side, sorter),
    "flat": property(_Flat, doc="The elements in C order: iterate, index, write."),
    "nbytes": property(lambda s: int(np.prod(shape_of(s), dtype=np.int64))
                       * dtype_of(s).itemsize),
    "itemsize": property(lambda s: dtype_of(s).itemsize),
    "base": property(lambda s: getattr(s, "_view", None) and s._view[0]),
    "device": property(lambda s: "cpu"),
    "to_device": _to_device,
    "view": _view,
    "resize": _resize,
    "__array_namespace__": _array_namespace,
    "__contains__": _contains,
    "__copy__": lambda s: lax.copy(s),
    "__deepcopy__": lambda s, memo=None: lax.copy(s),
    "__index__": _index,
    "__and__": lambda s, o: _ns.bitwise_and(s, o),
    "__rand__": lambda s, o: _ns.bitwise_and(o, s),
    "__or__": lambda s, o: _ns.bitwise_or(s, o),
    "__ror__": lambda s, o: _ns.bitwise_or(o, s),
    "__xor__": lambda s, o: _ns.bitwise_xor(s, o),
    "__rxor__": lambda s, o: _ns.bitwise_xor(o, s),
    "__invert__": lambda s: _ns.invert(s),
    "__lshift__": lambda s, o: _ns.left_shift(s, o),
    "__rlshift__": lambda s, o: _ns.left_shift(o, s),
    "__rshift__": lambda s, o: _ns.right_shift(s, o),
    "__rrshift__": lambda s, o: _ns.right_shift(o, s),
    "__iand__": _inplace(_ns.bitwise_and, "&"),
    "__ior__": _inplace(_ns.bitwise_or, "|"),
    "__ixor__": _inplace(_ns.bitwise_xor, "^"),
    "__ilshift__": _inplace(_ns.left_shift, "<<"),
    "__irshift__": _inplace(_ns.right_shift, ">>"),
}
for _name in ("tobytes", "tofile", "dump", "dumps", "byteswap", "getfield", "setfield",
              "setflags", "__dlpack__", "__dlpack_device__"):
    _METHODS[_name] = _no_memory(f"x.{_name}()", _MEMORY)
for _name in ("strides", "data", "ctypes", "flags"):
    _METHODS[_name] = _no_memory_attribute(f"x.{_name}", _MEMORY)

for _name, _impl in _METHODS.items():
    method(_name, _impl)
