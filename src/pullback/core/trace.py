"""The core: primitives, ``bind``, the thread-local trace stack, tracers and symbolic zeros.

Every differentiable operation is a :class:`Primitive`. ``bind(prim, *args)`` decides who
handles it: with no traced argument it calls the NumPy implementation; otherwise it hands
the primitive to the innermost trace (the highest level) among the arguments. Each
transformation is one trace level; values of outer levels are constants to inner ones.
"""

from __future__ import annotations

import dis
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import backends

__all__ = [
    "PRIMITIVES",
    "Primitive",
    "RuleError",
    "Trace",
    "Tracer",
    "TracerConversionError",
    "Zero",
    "bind",
    "dtype_of",
    "instantiate",
    "is_differentiable_dtype",
    "new_primitive",
    "plain_store_error",
    "raise_store_error",
    "new_trace",
    "shape_of",
    "zero",
]


class RuleError(ValueError):
    """A derivative rule returned the wrong number, shape or dtype of results."""


class TracerConversionError(TypeError):
    """A traced value was converted to a plain array or number, which would drop its derivative."""


# ----------------------------------------------------------------------------- symbolic zero


class Zero:
    """A tangent or cotangent known to be zero: never allocated, skipped by every rule."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "zero"

    def __bool__(self) -> bool:
        return False


zero = Zero()


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, tracer or Python number.

    Example:
        >>> shape_of(np.ones((2, 3))), shape_of(1.5)
        ((2, 3), ())
    """
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array or tracer; float64/int64/bool/complex128 for Python numbers.

    Example:
        >>> dtype_of(np.ones(2, np.float32)), dtype_of(1.5)
        (dtype('float32'), dtype('float64'))
    """
    try:
        return x.dtype
    except AttributeError:
        return np.result_type(x)


def is_differentiable_dtype(dtype: np.dtype) -> bool:
    """Whether values of ``dtype`` carry derivatives (floating or complex).

    Example:
        >>> is_differentiable_dtype(np.dtype("float32")), is_differentiable_dtype(np.dtype(int))
        (True, False)
    """
    return dtype.kind in "fc"


def instantiate(t: Any, like: Any) -> Any:
    """``t``, or a constant array of zeros shaped like ``like`` when ``t`` is symbolic zero.

    Example:
        >>> instantiate(zero, np.ones(2))
        array([0., 0.])
    """
    if t is zero or t is None:
        return backends.zeros(shape_of(like), dtype_of(like), like=like)
    return t


# ----------------------------------------------------------------------------- primitives


class Primitive:
    """A named operation with a NumPy implementation and derivative rules.

    Rules are attached by the helpers of ``pullback.core.rules``:

    - ``vjp(g, ans, args, params, needs)`` returns one cotangent per argument (``zero`` or
      ``None`` where ``needs[i]`` is falsy or the cotangent is zero);
    - ``jvp(tangents, ans, args, params)`` returns the output tangent (``zero`` if zero).

    Subclasses (the custom derivatives of ``pullback.custom``) override the two hooks
    :meth:`forward_for_vjp`/:meth:`backward` and :meth:`jvp_apply`.
    """

    __slots__ = (
        "name", "impl", "multiple_results", "nondiff", "vjp", "jvp", "batch", "custom_rules",
        "view", "custom_jvp", "__weakref__",
    )
    #: ``prim.bind(*args, **params)``: :func:`bind` as a method (assigned below :func:`bind`)
    bind: Callable[..., Any]

    def __init__(self, name: str, impl: Callable[..., Any], multiple_results: bool = False):
        self.name = name
        self.impl = impl
        self.multiple_results = multiple_results
        self.nondiff = False
        self.vjp: Callable[..., tuple] | None = None
        self.jvp: Callable[..., Any] | None = None
        #: ``batch(vals, batched, params, size)`` for vmap; None: one call per batch entry
        self.batch: Callable[..., Any] | None = None
        #: True when the subclass overrides the hooks below (the traces then call them)
        self.custom_rules = type(self).forward_for_vjp is not Primitive.forward_for_vjp
        #: True when the subclass overrides :meth:`jvp_apply` (else the JVP trace calls the
        #: implementation and ``jvp`` itself, without the method call)
        self.custom_jvp = type(self).jvp_apply is not Primitive.jvp_apply
        #: for an operation whose NumPy result is a view of its first argument (slicing,
        #: reshape, transpose): ``view(out, args, params)`` records that on traced results,
        #: so that writes through the view, or into its base, behave as NumPy's
        self.view: Callable[[Any, tuple, dict], None] | None = None

    def __repr__(self) -> str:
        return f"Primitive({self.name})"

    # hooks used by the traces --------------------------------------------------------------

    def forward_for_vjp(self, args: tuple, params: dict) -> tuple[Any, Any]:
        """The output and the residual the backward pass needs (``None``: args and ans)."""
        return bind(self, *args, **params), None

    def backward(
        self, g: Any, ans: Any, args: tuple, params: dict, residual: Any, needs: tuple
    ) -> tuple:
        """One cotangent per argument, for the output cotangent ``g``."""
        if self.vjp is None:
            raise NotImplementedError(
                f"no reverse-mode rule for primitive '{self.name}': define one with "
                "pullback.extend.defvjp (or wrap the function with pullback.primitive)"
            )
        return self.vjp(g, ans, args, params, needs)

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        """The output and its tangent."""
        if self.jvp is None:
            raise NotImplementedError(
                f"no forward-mode rule for primitive '{self.name}': define one with "
                "pullback.extend.defjvp"
            )
        ans = bind(self, *primals, **params)
        return ans, self.jvp(tangents, ans, primals, params)


#: every registered primitive, by name (the NumPy layer's, SciPy's and the primitive layer's)
PRIMITIVES: dict[str, Primitive] = {}


def new_primitive(name: str, impl: Callable[..., Any], multiple_results: bool = False) -> Primitive:
    """Create the primitive ``name`` (implemented by ``impl``) and register it by name.

    Example:
        >>> from pullback.core.trace import PRIMITIVES, new_primitive
        >>> p = new_primitive("example.double", lambda x: 2 * x)
        >>> p.bind(3.0), PRIMITIVES["example.double"] is p
        (6.0, True)
        >>> del PRIMITIVES["example.double"]
    """
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is already registered")
    prim = Primitive(name, impl, multiple_results)
    PRIMITIVES[name] = prim
    return prim


# ----------------------------------------------------------------------------- traces


class Trace:
    """One transformation level. ``process`` handles a primitive applied to its tracers."""

    __slots__ = ("level", "active", "__weakref__")

    def __init__(self, level: int):
        self.level = level
        self.active = True

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:  # pragma: no cover
        raise NotImplementedError

    def lift(self, value: Any) -> Tracer:
        """``value``, a constant, as a tracer of this level (a buffer that may receive traced
        writes: its derivative is zero until something traced is written into it)."""
        raise TypeError(f"{type(self).__name__} cannot hold a constant as a traced value")


class _TraceStack(threading.local):
    def __init__(self) -> None:
        self.stack: list[Trace] = []
        #: the clear error for a traced value written into a plain NumPy array, and where
        #: (code, instruction): NumPy replaces it by its own ValueError, which
        #: :class:`new_trace` swaps back on its way out (see :func:`plain_store_error`)
        self.store_error: tuple[TracerConversionError, Any, int] | None = None


#: this thread's stack of active traces (``trace_state.stack``, innermost last)
trace_state = _TraceStack()


class new_trace:  # noqa: N801 - used like a function: ``with new_trace(VJPTrace) as t``
    """Push a new trace of class ``cls`` on this thread's stack for the duration of a block.

    The outermost one pauses Python's cyclic garbage collector until it ends: tracing makes
    many small objects that live until the block's end (tape nodes, tracers, graph
    equations), and the collector walked them again and again (a third of the time of a
    10,000-step eager simulation's gradient); what the block leaves in cycles is collected
    afterwards.
    """

    __slots__ = ("cls", "trace", "paused")

    def __init__(self, cls: type[Trace]):
        self.cls = cls

    def __enter__(self) -> Any:
        stack = trace_state.stack
        self.paused = not stack and gc.isenabled()
        if self.paused:
            gc.disable()
        self.trace = trace = self.cls(len(stack))
        stack.append(trace)
        return trace

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.trace.active = False
        trace_state.stack.pop()
        if self.paused:
            gc.enable()
        if trace_state.store_error is not None and exc_type is not None:
            raise_store_error(exc)


def raise_store_error(exc: BaseException) -> None:
    """Raise the clear error recorded by :func:`plain_store_error` in place of ``exc`` when
    ``exc`` is the ValueError NumPy raised at that very instruction (what a transformation
    does as an exception leaves it; :class:`new_trace` does it).

    Example:
        >>> raise_store_error(ValueError("unrelated"))  # nothing recorded: returns
    """
    if trace_state.store_error is None:
        return
    err, code, lasti = trace_state.store_error  # type: ignore[misc]
    trace_state.store_error = None
    if not isinstance(exc, ValueError):
        return
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None and tb.tb_frame.f_code is code and tb.tb_lasti == lasti:
        raise err from exc


class outside_traces:  # noqa: N801 - used like a function: ``with outside_traces():``
    """Evaluate a block as if no transformation were active: a primitive whose
    implementation calls user code on plain values (SciPy's solvers and integrators calling
    the user's function) uses it, so that ``pullback.numpy``'s constructors there give plain
    arrays, not buffers of the enclosing transformation. The traces are restored after."""

    __slots__ = ("saved",)

    def __enter__(self) -> None:
        self.saved = trace_state.stack
        trace_state.stack = []

    def __exit__(self, *exc: Any) -> None:
        trace_state.stack = self.saved


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim``: the innermost trace among the arguments handles it, else NumPy does.

    Example:
        >>> double = Primitive("double", lambda x: 2 * x)
        >>> bind(double, np.array([1.0, 2.0]))
        array([2., 4.])
    """
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    if top is None:
        if debug_hook is None:
            return prim.impl(*args, **params)
        return debug_hook(prim, args, prim.impl(*args, **params))
    if not top.active:
        raise RuntimeError(
            f"{prim.name}: a traced value escaped from the transformation that created it "
            "(stored in a global or returned through a side channel); use pb.stop_gradient "
            "before storing it, or return it from the function"
        )
    out = top.process(prim, args, params)
    if prim.view is not None:
        prim.view(out, args, params)
    return out if debug_hook is None else debug_hook(prim, args, out)


#: set by ``pb.debug_nans()`` (``pullback.core.debug``): checks every primitive's result
debug_hook: Callable[[Primitive, tuple, Any], Any] | None = None

#: set by ``pullback.numpy.random``: when NumPy code without derivative rules converts a
#: traced value (``rng.normal(mu, 1.0)``), what to call instead; None when it cannot tell
conversion_hint: Callable[[], str | None] | None = None

#: set by ``pullback.scipy``: when a SciPy function converts a traced value
#: (``scipy.linalg.solve_triangular(A, x)``), the whole message, naming the function and
#: pullback's replacement, given the description of the value; None when SciPy is not the
#: caller. Called only when the error is raised.
library_hint: Callable[[str], str | None] | None = None

Primitive.bind = bind  # prim.bind(*args, **params), without an extra call


# ----------------------------------------------------------------------------- tracers


def _caller_instruction(depth: int) -> str | None:
    """The name of the bytecode instruction that the frame ``depth`` levels up is executing
    (``STORE_SUBSCR`` for ``out[i] = v``), or None when it cannot be told."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    lasti = frame.f_lasti
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == lasti:
            return ins.opname
    return None


def plain_store_error(found: str, depth: int) -> TracerConversionError | None:
    """The error for ``out[i] = v``, ``out`` a plain NumPy array (``np.zeros(n)``) and ``v``
    ``found`` (a traced value), when the frame ``depth`` levels up is executing such a store;
    else None.

    NumPy converts ``v`` with ``float()`` for one entry, and when that raises it raises its
    own "setting an array element with a sequence" instead (a tracer has ``__getitem__``):
    the error is also recorded here, and the transformation's :class:`new_trace` raises it
    in place of NumPy's as the exception leaves it.

    Example:
        >>> plain_store_error("a traced value", 1) is None  # this line stores nothing
        True
    """
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    if _caller_instruction(depth + 1) != "STORE_SUBSCR":
        return None
    err = TracerConversionError(
        f"writing {found} into a plain NumPy array (`out[i] = ...` where `out` came "
        "from np.zeros, np.empty, np.ones...): a NumPy array cannot hold a derivative. "
        "Make the buffer with pullback.numpy instead: `out = pnp.zeros(n)` (or "
        "`np.zeros_like(x)` of a traced x), or collect the values in a list and combine "
        "them with `np.stack(values)`"
    )
    trace_state.store_error = (err, frame.f_code, frame.f_lasti)
    return err


class Tracer:
    """A value being traced by one transformation level.

    Operators, array methods and NumPy's dispatch protocols are installed by
    ``pullback.numpy`` so that the core stays free of the NumPy layer.
    """

    __slots__ = ("_trace", "_primal", "_view", "_views", "__weakref__")
    __array_priority__ = 1000
    #: whether ``primal`` is the value itself, so that a NumPy scalar can be told from a 0-d
    #: array (not for vmap's batched values, nor jit's abstract ones)
    holds_value = True
    # set by each subclass's constructor: the trace (level) and the value stood for
    _trace: Trace
    _primal: Any

    @property
    def primal(self) -> Any:
        """The value this tracer stands for (a plain array, or a tracer of an outer level)."""
        return self._primal

    @property
    def shape(self) -> tuple[int, ...]:
        try:
            return self._primal.shape
        except AttributeError:
            return np.shape(self._primal)

    @property
    def dtype(self) -> np.dtype:
        try:
            return self._primal.dtype
        except AttributeError:
            return np.result_type(self._primal)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def _become(self, other: Tracer) -> None:
        """Take over ``other``'s value and place in the trace (an update in place, as NumPy's
        ``x[i] = v`` is): every name bound to this object sees the new value, while values
        computed from it earlier keep theirs. Its views and its being a view stay."""
        if type(other) is not type(self) or other._trace is not self._trace:
            raise TypeError(
                "an update in place would make a traced array a value of another "
                f"transformation ({type(other).__name__} of level {other._trace.level}, was "
                f"{type(self).__name__} of level {self._trace.level}): this happens when a "
                "buffer made outside a transformation (vmap, grad...) receives a value "
                "computed inside it. Make the buffer inside, or collect the values in a list "
                "and stack them"
            )
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot not in ("_view", "_views", "__weakref__") and hasattr(other, slot):
                    object.__setattr__(self, slot, getattr(other, slot))

    def __len__(self) -> int:
        if conversion_hint is not None and (hint := conversion_hint()):
            # rng.shuffle(x) asks len(x), then swaps entries through views: refuse it here
            raise TracerConversionError(f"len() of a traced value, in {hint}")
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d traced value")
        return shape[0]

    def __bool__(self) -> bool:
        return bool(self.primal)

    def _conversion_error(self, what: str) -> TracerConversionError:
        if conversion_hint is not None and (hint := conversion_hint()):
            return TracerConversionError(
                f"{what} of a traced value (shape {self.shape}, dtype {self.dtype}), in {hint}"
            )
        found = f"a traced value (shape {self.shape}, dtype {self.dtype})"
        if library_hint is not None and (message := library_hint(found)):
            return TracerConversionError(message)
        if (store := plain_store_error(found, 3)) is not None:
            # `out[i] = v` with `out` a plain NumPy array (np.zeros(n)) and `v` traced
            return store
        if what in (".item()", ".tolist()"):
            return TracerConversionError(
                f"{what} of {found} would make Python numbers, which cannot carry a derivative: "
                "index the array instead (x[i], x[()]), or call pb.stop_gradient(x) first if "
                "the derivative should be dropped"
            )
        if what == "numpy.asarray()":
            return TracerConversionError(
                f"numpy.asarray() of {found} would drop its derivative. If this is "
                "`np.array([...])` or `np.asarray([...])` of traced values, or a NumPy function "
                "given a list of them, build the array with `pnp.array([...])` or "
                "`np.stack([...])` (pullback.numpy's functions accept lists: `pnp.mean([a, b])`); "
                "otherwise keep it an array and use pullback.numpy operations, or call "
                "pb.stop_gradient(x) first if the derivative should be dropped"
            )
        return TracerConversionError(
            f"{what} of {found} would drop its derivative: keep it an array and use "
            "pullback.numpy operations, or call pb.stop_gradient(x) first if the derivative "
            "should be dropped"
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._conversion_error("numpy.asarray()")

    def __float__(self) -> float:
        raise self._conversion_error("float()")

    def __int__(self) -> int:
        raise self._conversion_error("int()")

    def __complex__(self) -> complex:
        raise self._conversion_error("complex()")

    def item(self) -> Any:
        raise self._conversion_error(".item()")

    def tolist(self) -> Any:
        raise self._conversion_error(".tolist()")

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(level={self._trace.level}, {self.primal!r})"
