"""The atoms of the graph IR: abstract values (shape and dtype), variables, constants and
equations; and the error raised when tracing needs a value it does not have."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from pullback.core.trace import Primitive, Tracer, TracerConversionError


class ConcretizationError(TracerConversionError):
    """A value known only by its shape and dtype was needed as a number while tracing.

    Raised by ``pb.jit`` and ``pb.make_graph`` for Python control flow on traced values
    (``if x > 0``), conversions (``float(x)``) and shapes that depend on values (boolean
    masks, ``nonzero``). A subclass of ``pb.TracerConversionError`` (a ``TypeError``).
    """


CONCRETIZATION_ADVICE = (
    "jit and make_graph trace with shapes and dtypes only, so Python control flow, "
    "conversions and output shapes cannot depend on array values. Branch with "
    "pb.lax.cond(pred, true_fun, false_fun, *operands) (or pb.lax.switch, or select values "
    "with pnp.where(cond, a, b)) instead of `if`, loop with pb.lax.while_loop(cond_fun, "
    "body_fun, init) (or pb.lax.fori_loop, pb.lax.scan) instead of a `while` on values, "
    "keep values as arrays instead of calling float()/int()/bool(), or mark the argument "
    "static (pb.jit(f, static_argnums=...)) so that each value compiles its own version"
)


def concretization_error(what: str, aval: Any) -> ConcretizationError:
    return ConcretizationError(
        f"{what} needs the value of a traced array ({aval}), which is not known while "
        f"tracing: {CONCRETIZATION_ADVICE}"
    )


# ----------------------------------------------------------------------------- values


def short_dtype(dtype: Any) -> str:
    """``f64``, ``f32``, ``i64``, ``bool``, ``c128``...: the dtype as printed in the IR."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return "bool"
    if dt.kind in "fiuc":
        return f"{dt.kind}{dt.itemsize * 8}"
    return dt.name


class ShapedArray:
    """An abstract value: a shape and a dtype, no numbers.

    ``weak`` is the Python type (``bool``, ``int``, ``float``, ``complex``) of a value that is
    a Python number rather than a NumPy array or scalar (``pnp.allclose(x, y)``): it prints
    as ``bool[]``, ``int[]``... and is probed with Python numbers, as it runs.

    Example:
        >>> ShapedArray((2, 3), np.float32)
        f32[2,3]
    """

    __slots__ = ("shape", "dtype", "weak")

    def __init__(self, shape: tuple[int, ...], dtype: Any, weak: type | None = None):
        self.shape = tuple(int(n) for n in shape)
        self.dtype: np.dtype = np.dtype(dtype)
        self.weak = weak

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __repr__(self) -> str:
        name = self.weak.__name__ if self.weak else short_dtype(self.dtype)
        return f"{name}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ShapedArray)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak is other.weak
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak))

    # an abstract value has no number to convert to
    def __bool__(self) -> bool:
        raise concretization_error("bool() (an `if`, `while`, `and` or `or`)", self)

    def __float__(self) -> float:
        raise concretization_error("float()", self)

    def __int__(self) -> int:
        raise concretization_error("int()", self)

    def __index__(self) -> int:
        raise concretization_error("using it as an integer (an index, a size, range())", self)

    def __complex__(self) -> complex:
        raise concretization_error("complex()", self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise concretization_error("numpy.asarray()", self)


class Var:
    """A variable of the graph: an input or the output of one equation."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval})"


class Const:
    """A constant input of an equation (a Python number or a NumPy array or scalar)."""

    __slots__ = ("value", "aval")

    def __init__(self, value: Any):
        self.value = value
        try:
            self.aval = ShapedArray(np.shape(value), np.result_type(value))
        except (TypeError, ValueError):
            self.aval = None  # not an array: a string, a function...

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


Atom = Var | Const


class Equation:
    """``outvars = prim(*inputs, **params)``; params may hold variables (traced indices)."""

    __slots__ = ("prim", "inputs", "params", "outvars", "multiple")

    def __init__(
        self, prim: Primitive, inputs: list, params: dict, outvars: list[Var], multiple: bool
    ):
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.outvars = outvars
        self.multiple = multiple  # the primitive returns a tuple (one entry per outvar)

    def __repr__(self) -> str:
        return f"Equation({self.prim.name}, {len(self.inputs)} inputs, {len(self.outvars)} out)"


#: the types of parameter values that hold no variable (the common ones, tested first: a
#: graph of a long loop has tens of thousands of equations, each walked by several passes)
_PLAIN_PARAMS = frozenset({int, float, bool, str, type(None)})


def map_vars(obj: Any, fn: Callable[[Any], Any], kind: type = Var) -> Any:
    """Apply ``fn`` to every ``kind`` object inside nested tuples, lists, dicts and slices."""
    if type(obj) is dict:  # an equation's params
        return {k: v if type(v) in _PLAIN_PARAMS else map_vars(v, fn, kind)
                for k, v in obj.items()}
    if isinstance(obj, kind):
        return fn(obj)
    if isinstance(obj, tuple):
        if all(type(o) is int for o in obj):  # a shape, axes
            return obj
        return tuple(map_vars(o, fn, kind) for o in obj)
    if isinstance(obj, list):
        return [map_vars(o, fn, kind) for o in obj]
    if isinstance(obj, dict):
        return {k: map_vars(v, fn, kind) for k, v in obj.items()}
    if isinstance(obj, slice):
        return slice(*(map_vars(o, fn, kind) for o in (obj.start, obj.stop, obj.step)))
    return obj


class gc_paused:  # noqa: N801 - used like a function: ``with gc_paused():``
    """Pause Python's cyclic garbage collector for a block (tracing, simplifying and
    generating the code of a graph): it walks every live object again and again while the
    tens of thousands of objects of a long graph are made, which took a third of the time of
    compiling a loop of 2,000 steps. Nested blocks are fine; the collector runs again after
    the outermost one, which leaves cycles made inside it to its next collection.

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """

    __slots__ = ("was",)

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        if self.was:
            gc.enable()


def vars_in(obj: Any) -> list[Var]:
    """The variables inside nested params, in order."""
    found: list[Var] = []
    map_vars(obj, found.append)
    return found

def freeze(obj: Any) -> Hashable:
    """A hashable key for params and constants (arrays by content when small)."""
    if isinstance(obj, Var):
        return ("var", id(obj))
    if isinstance(obj, Tracer) and isinstance(getattr(obj, "_var", None), Var):
        return ("aval", obj._var.aval)  # a value being traced into the graph
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(freeze(o) for o in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((k, freeze(v)) for k, v in obj.items()))
    if isinstance(obj, slice):
        return ("slice", freeze(obj.start), freeze(obj.stop), freeze(obj.step))
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.kind in "biufc" and arr.size <= 256:
            return ("array", type(obj).__name__, arr.shape, arr.dtype.str, arr.tobytes())
        return ("object", id(obj))
    if isinstance(obj, float):
        return ("float", repr(obj))
    if isinstance(obj, complex):
        return ("complex", repr(obj))
    try:
        hash(obj)
    except TypeError:
        return ("object", id(obj))
    return (type(obj).__name__, obj)
