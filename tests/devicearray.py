"""A test array type with CuPy's rules, on the CPU: an array that lives on a "device".

``DeviceArray`` wraps a NumPy array and implements NumPy's dispatch protocols
(``__array_ufunc__``, ``__array_function__``) as CuPy does:

- no conversion to NumPy: ``np.asarray(x)``, ``np.array(x)`` and ``x.__array__()`` raise
  ``TypeError`` (CuPy: "Implicit conversion to a NumPy array is not allowed"); Python scalars
  of a 0-d array (``float(x)``, ``x.item()``) are allowed, as CuPy allows them (a transfer);
- no mixing with NumPy arrays: a NumPy array (0-d included) among the operands of a ufunc,
  a NumPy function or a method raises ``TypeError``; NumPy scalars and Python numbers are
  fine. NumPy data goes onto the device explicitly, with a ``like=`` creation function
  (``np.asarray(data, like=x)``, NEP 35) or :func:`to_device`. NumPy integer and boolean
  arrays are accepted as indices (``x[np_idx]``), as CuPy accepts them;
- no mixing of devices: two arrays on different devices in one call raise ``TypeError``;
- only NumPy's own ufuncs: a ufunc made by ``np.frompyfunc`` or SciPy's ufuncs raise
  ``TypeError`` (CuPy has its own, in ``cupyx.scipy.special``), and so does ``ufunc.at``
  (``np.add.at``);
- results of functions and methods are device arrays on the operands' device, reductions
  included (CuPy's reductions give 0-d arrays, not NumPy scalars).

It is a stand-in, so that a rule that converts to NumPy is caught without a GPU; it does not
pretend to know which of NumPy's functions CuPy lacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["DeviceArray", "to_device", "to_host"]


class DeviceArray(NDArrayOperatorsMixin):
    """An array on ``device`` (an int), holding the NumPy array ``data`` (never a view of the
    caller's array unless ``copy=False``)."""

    __slots__ = ("_data", "device")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, data: np.ndarray, device: int = 1) -> None:
        if type(data) is not np.ndarray:
            raise TypeError(f"DeviceArray: expected a NumPy array, got {type(data).__name__}")
        self._data = data
        self.device = device

    # ------------------------------------------------------------------ no conversion
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed (DeviceArray, CuPy's rule): "
            "use to_host(x)"
        )

    def __repr__(self) -> str:
        return f"DeviceArray({self._data!r}, device={self.device})"

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def strides(self) -> tuple[int, ...]:
        return self._data.strides

    @property
    def flags(self) -> Any:
        return self._data.flags

    @property
    def T(self) -> DeviceArray:
        return DeviceArray(self._data.T, self.device)

    @property
    def mT(self) -> DeviceArray:
        return DeviceArray(self._data.mT, self.device)

    @property
    def real(self) -> DeviceArray:
        return DeviceArray(self._data.real, self.device)

    @property
    def imag(self) -> DeviceArray:
        return DeviceArray(self._data.imag, self.device)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):  # noqa: ANN204
        for i in range(len(self._data)):
            yield self[i]

    # scalars of 0-d arrays: allowed (CuPy copies one number back)
    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __complex__(self) -> complex:
        return complex(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __index__(self) -> int:
        return self._data.__index__()

    def __getattr__(self, name: str) -> Any:
        # methods of the array (x.sum, x.astype, x.reshape, x.item, ...): the operands are
        # checked as a function's are, the results come back on the device
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"DeviceArray has no attribute {name!r}")
        method = getattr(self._data, name)
        if not callable(method):
            return _wrap(method, self.device)

        def call(*args: Any, **kwargs: Any) -> Any:
            args, kwargs = _unwrap((args, kwargs), self.device, f"DeviceArray.{name}")
            return _wrap(method(*args, **kwargs), self.device)

        return call

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, idx: Any) -> Any:
        return _wrap(self._data[_index(idx, self.device)], self.device)

    def __setitem__(self, idx: Any, value: Any) -> None:
        (value,) = _unwrap((value,), self.device, "DeviceArray.__setitem__")
        self._data[_index(idx, self.device)] = value

    # ------------------------------------------------------------------ protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        who = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if getattr(np, ufunc.__name__, None) is not ufunc:
            raise TypeError(f"{who}: not one of NumPy's ufuncs; DeviceArray (as CuPy) has no "
                            "implementation of it")
        if method == "at":
            raise TypeError(f"{who}: DeviceArray (as CuPy) has no ufunc.at")
        if any(not isinstance(a, (DeviceArray, np.ndarray, np.generic, int, float, complex,
                                  bool)) for a in inputs):
            return NotImplemented  # a traced value, or another library: theirs to answer
        device = _device((inputs, kwargs), who)
        device = self.device if device is None else device
        out = kwargs.get("out")
        inputs, kwargs = _unwrap((inputs, kwargs), device, who)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result, device)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (DeviceArray, np.ndarray)) for t in types):
            return NotImplemented
        who = f"{func.__module__}.{func.__name__}"
        device = _device((args, kwargs), who)
        # a creation function called with like=self (NumPy leaves like= out of kwargs): NumPy
        # data onto the device, explicitly: allowed
        creation = device is None
        device = self.device if device is None else device
        args, kwargs = _unwrap((args, kwargs), device, who, allow_numpy=creation)
        return _wrap(func(*args, **kwargs), device)


def to_device(x: Any, device: int = 1) -> DeviceArray:
    """A copy of ``x`` (a NumPy array or scalar) on ``device``."""
    return DeviceArray(np.array(x), device)


def to_host(x: Any) -> Any:
    """The NumPy array of a device array (recursively through tuples and lists)."""
    if isinstance(x, DeviceArray):
        return x._data
    if isinstance(x, (tuple, list)):
        return type(x)(to_host(v) for v in x)
    return x


# ---------------------------------------------------------------------- helpers


def _device(tree: Any, who: str) -> int | None:
    found: set[int] = set()

    def visit(v: Any) -> None:
        if isinstance(v, DeviceArray):
            found.add(v.device)
        elif isinstance(v, (tuple, list)):
            for u in v:
                visit(u)
        elif isinstance(v, dict):
            for u in v.values():
                visit(u)

    visit(tree)
    if len(found) > 1:
        raise TypeError(f"{who}: arrays on devices {sorted(found)} in one call "
                        "(DeviceArray, CuPy's rule: copy them to one device first)")
    return found.pop() if found else None


def _unwrap(tree: Any, device: int, who: str, allow_numpy: bool = False) -> Any:
    if isinstance(tree, DeviceArray):
        if tree.device != device:
            raise TypeError(f"{who}: arrays on devices {device} and {tree.device} in one call")
        return tree._data
    if isinstance(tree, np.ndarray) and not allow_numpy:
        raise TypeError(
            f"{who}: a NumPy array (shape {tree.shape}, dtype {tree.dtype}) mixed with device "
            "arrays (DeviceArray, CuPy's rule: Unsupported type numpy.ndarray)"
        )
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_unwrap(v, device, who, allow_numpy) for v in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(_unwrap(v, device, who, allow_numpy) for v in tree)
    if isinstance(tree, dict):
        return {k: _unwrap(v, device, who, allow_numpy) for k, v in tree.items()}
    return tree


def _wrap(result: Any, device: int) -> Any:
    if isinstance(result, np.ndarray):
        return DeviceArray(result, device)
    if isinstance(result, np.generic):
        return DeviceArray(np.asarray(result), device)
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        return type(result)(*(_wrap(v, device) for v in result))
    if isinstance(result, (tuple, list)):
        return type(result)(_wrap(v, device) for v in result)
    return result


def _index(idx: Any, device: int) -> Any:
    """An index with device arrays unwrapped; NumPy index arrays are accepted (CuPy copies
    them to the device)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    out = tuple(_unwrap(i, device, "DeviceArray.__getitem__", allow_numpy=True) for i in items)
    return out if isinstance(idx, tuple) else out[0]
