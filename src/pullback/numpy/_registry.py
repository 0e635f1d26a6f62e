"""The registry of pullback.numpy: primitives, the dispatch tables, and the wrapper helpers.

Adding a function is one line in a family file: a helper below creates the primitive,
declares its rule, builds the public wrapper (a fast path to NumPy when nothing is traced,
explicit dtype promotion and ``broadcast_to`` otherwise) and registers it for NumPy's
``__array_ufunc__``/``__array_function__`` dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.batching import batch_apply1, batch_apply2, batch_by_looping, elementwise
from pullback.core.forward import jvp_apply1, jvp_apply2
from pullback.core.reverse import record1, record2
from pullback.core.rules import defbatch, defelementwise, defnondiff
from pullback.core.trace import (
    PRIMITIVES,
    Primitive,
    Tracer,
    bind,
    dtype_of,
    new_primitive,
    shape_of,
)
from pullback.numpy._util import result_dtype

__all__ = [
    "FUNCTIONS",
    "PRIMITIVES",
    "SCIPY_UFUNCS",
    "UFUNCS",
    "batch_along",
    "batch_by_looping",
    "batch_elementwise",
    "batch_front",
    "batch_stacked",
    "binary",
    "implements",
    "move_to_front",
    "method",
    "new_primitive",
    "nondiff_function",
    "promote",
    "unary",
    "wrap_binary",
    "wrap_unary",
]

#: numpy ufunc -> differentiable wrapper, for Tracer.__array_ufunc__
UFUNCS: dict[Any, Callable[..., Any]] = {}
#: name of a ``scipy.special`` ufunc -> differentiable wrapper, for Tracer.__array_ufunc__ on
#: SciPy's ufuncs (``pullback.scipy.special`` fills it; SciPy itself is never imported here)
SCIPY_UFUNCS: dict[str, Callable[..., Any]] = {}
#: numpy function -> differentiable wrapper, for Tracer.__array_function__
FUNCTIONS: dict[Any, Callable[..., Any]] = {}
#: attribute name -> method or property installed on traced values (x.sum(), x.T, ...)
METHODS: dict[str, Any] = {}


def method(name: str, impl: Any) -> None:
    """Give traced values the method (or property) ``name``, like NumPy arrays have it."""
    if name in METHODS:
        raise ValueError(f"traced values already have a method {name!r}")
    METHODS[name] = impl


def implements(*numpy_funcs: Any) -> Callable[[Callable], Callable]:
    """Register the decorated wrapper as the differentiable version of ``numpy_funcs``."""

    def register(wrapper: Callable) -> Callable:
        for f in numpy_funcs:
            if isinstance(f, np.ufunc):
                UFUNCS[f] = wrapper
            else:
                FUNCTIONS[f] = wrapper
        return wrapper

    return register


_SAMPLES = (
    (np.array([0.25, 0.5]),),
    (np.array([1.5, 2.0]),),
    (np.array([0.25, 0.5]), np.array([1.5, 2.0])),
)


def _example(name: str, numpy_func: Any) -> str | None:
    """A doctest line calling ``numpy_func`` on small samples, with NumPy's own output."""
    if name.startswith("empty"):  # uninitialised memory: no reproducible output
        return None
    for args in _SAMPLES:
        try:
            with np.errstate(all="ignore"):
                out = numpy_func(*args)
        except (TypeError, ValueError):
            continue
        if isinstance(out, np.ndarray) and out.dtype.kind == "f" and not np.isfinite(out).all():
            continue
        shown = ", ".join(f"np.{a!r}" for a in args)
        return f">>> pnp.{name}({shown})\n{out!r}"
    return None


def _doc(name: str, numpy_func: Any, example: str | None, nondiff: bool) -> str:
    if nondiff:
        text = (
            f"``numpy.{name}``, without derivative: traced arguments pass through as "
            "constants (their values are used, their derivatives dropped)."
        )
    else:
        text = (
            f"Differentiable ``numpy.{name}``, with NumPy's signature and semantics, in "
            "reverse and forward mode and at any order."
        )
    example = example or _example(name, numpy_func)
    if example:
        lines = [">>> import numpy as np", ">>> import pullback.numpy as pnp"]
        lines += example.splitlines()
        text += "\n\nExample:\n" + "".join(f"    {line}\n" for line in lines)
    return text


def _check_kwargs(name: str, kwargs: dict) -> None:
    bad = {k: v for k, v in kwargs.items() if v is not None}
    if bad:
        raise TypeError(
            f"pullback.numpy.{name}: keyword argument(s) {sorted(bad)} are not supported on "
            "traced values (no out=, where= or dtype= inside a transformation); "
            "compute the plain result and combine it with pullback.numpy operations"
        )


_WEAK = (float, int)


def _broadcast_shapes(shapes: list) -> tuple:
    """``np.broadcast_shapes``, in plain Python (NumPy's costs a microsecond a call)."""
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) > len(out):
            out[:0] = [1] * (len(s) - len(out))
        off = len(out) - len(s)
        for i, n in enumerate(s):
            m = out[off + i]
            if m != n and n != 1:
                if m != 1:
                    return np.broadcast_shapes(*shapes)  # raises NumPy's error
                out[off + i] = n
    return tuple(out)


def promote(*args: Any) -> tuple:
    """Give the traced arguments one dtype (NumPy's promotion) and one broadcast shape.

    Untraced arguments are left to NumPy; rules then see traced arguments of equal shape.
    """
    if len(args) == 2:  # fast paths: equal shapes and dtypes, or a Python scalar
        x, y = args
        tx, ty = isinstance(x, Tracer), isinstance(y, Tracer)
        if tx and ty or (tx and type(y) is np.ndarray) or (ty and type(x) is np.ndarray):
            if x.dtype == y.dtype:
                if x.shape == y.shape:
                    return args
                if x.dtype.kind in "fc":  # one floating dtype (a weak value of that dtype
                    # promotes to it too): only the shapes to broadcast
                    shape = _broadcast_shapes([x.shape, y.shape])
                    if tx and x.shape != shape:
                        x = lax.broadcast_to(x, shape)
                    if ty and y.shape != shape:
                        y = lax.broadcast_to(y, shape)
                    return x, y
        elif (tx and type(y) in _WEAK) or (ty and type(x) in _WEAK):
            return args
    dtype = result_dtype(*args)
    shape = _broadcast_shapes([shape_of(a) for a in args])
    out = []
    for a in args:
        if isinstance(a, Tracer):
            if a.dtype != dtype and dtype.kind in "fc":
                a = lax.convert(a, dtype)
            if a.shape != shape:
                a = lax.broadcast_to(a, shape)
        out.append(a)
    return tuple(out)


# ----------------------------------------------------------------------------- batching rules
# Shared by the families: each primitive declares its rule where it is defined, with one of
# these or a rule of its own (``pullback.core.rules.defbatch``). A rule receives the raw values
# (batch axis in front where ``batched[i]``) and returns the batched result.


def apply1(prim: Primitive, x: Any, params: dict) -> Any:
    """``prim.bind(x, **params)`` for a traced ``x``, in one step where one applies: the
    eager tape's (:func:`~pullback.core.reverse.record1`), the outermost forward level's
    (:func:`~pullback.core.forward.jvp_apply1`); else ``bind``.

    Example:
        >>> import pullback as pb
        >>> from pullback.core.lax import reshape_p
        >>> pb.grad(lambda x: apply1(reshape_p, x, {"shape": (2,)}).sum())(np.ones((1, 2)))
        array([[1., 1.]])
    """
    out = record1(prim, x, params)
    if out is None:
        out = jvp_apply1(prim, x, params)
        if out is None:
            return prim.bind(x, **params)
    return out


def batch_front(v: Any, batched: bool, size: int) -> Any:
    """``v`` with the batch axis in front: broadcast along it when ``v`` has none."""
    return v if batched else lax.broadcast_to(v, (size,) + tuple(shape_of(v)))


def move_to_front(x: Any, axis: int) -> Any:
    """``x`` with its axis ``axis`` moved to the front (where vmap keeps the batch axis)."""
    ndim = len(shape_of(x))
    return lax.transpose(x, (axis,) + tuple(i for i in range(ndim) if i != axis))


def batch_stacked(prim: Primitive) -> Callable[..., Any]:
    """The vmap rule of a primitive that NumPy already maps over leading axes (the linear
    algebra of stacks of matrices): every operand gets the batch axis, then one call."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        return prim.bind(*(batch_front(v, b, size) for v, b in zip(vals, batched, strict=True)),
                         **params)

    return rule


def batch_along(prim: Primitive, param: str) -> Callable[..., Any]:
    """The vmap rule of a primitive of one operand that works along the (non-negative) axis or
    axes ``params[param]``: they move one place right, past the batch axis."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        axes = params[param]
        shifted = axes + 1 if isinstance(axes, int) else tuple(a + 1 for a in axes)
        return prim.bind(*vals, **{**params, param: shifted})

    return rule


def _same_batched(vals: list, batched: list) -> bool:
    """Whether every operand is batched with one shape and dtype, or a Python number: then
    aligning ranks, broadcasting and promotion (which leaves Python numbers weak) change
    nothing."""
    first = None
    for v, b in zip(vals, batched, strict=True):
        if b:
            if first is None:
                first = v
            elif v.shape != first.shape or v.dtype != first.dtype:
                return False
        elif type(v) not in _WEAK:
            return False
    return True


def _plain_aligned(vals: list, batched: list) -> bool:
    """Whether no operand is traced (so promotion and broadcasting leave them to NumPy), the
    batched ones have one rank and the others less than that: no rank to align."""
    rank = -1
    low = 0
    for v, b in zip(vals, batched, strict=True):
        if isinstance(v, Tracer):
            return False
        n = len(shape_of(v))
        if b:
            if rank == -1:
                rank = n
            elif n != rank:
                return False
        elif n > low:
            low = n
    return low < rank


def batch_elementwise(prim: Primitive, dtypes: bool = True) -> Callable[..., Any]:
    """The vmap rule of an elementwise primitive: align ranks after the batch axis, then
    broadcast as the wrappers do (and promote to one dtype, unless ``dtypes=False``: for an
    integer operand such as ``ldexp``'s exponent)."""

    def rule(vals: list, batched: list, params: dict, size: int) -> Any:
        if len(vals) == 1:  # batched, as the trace handles only its own values
            return prim.bind(*vals, **params)
        if _same_batched(vals, batched) or _plain_aligned(vals, batched):
            return prim.bind(*vals, **params)  # nothing to align, broadcast or promote
        rank = max(len(shape_of(v)) - b for v, b in zip(vals, batched, strict=True))
        aligned = []
        for v, b in zip(vals, batched, strict=True):
            if b:
                s = shape_of(v)
                if len(s) - 1 < rank:
                    v = lax.reshape(v, (s[0],) + (1,) * (rank - len(s) + 1) + s[1:])
            aligned.append(v)
        if prim.nondiff or len(aligned) == 1:
            return prim.bind(*aligned, **params)
        if dtypes:
            return prim.bind(*promote(*aligned), **params)
        shape = _broadcast_shapes([shape_of(v) for v in aligned])
        return prim.bind(*(lax.broadcast_to(v, shape) if isinstance(v, Tracer) else v
                           for v in aligned), **params)

    return elementwise(rule)


def unary(
    name: str,
    ufunc: Any,
    derivative: Callable[..., Any] | None,
    example: str | None = None,
) -> Callable[..., Any]:
    """An elementwise function of one argument: ``derivative(ans, x)``, or ``None`` when the
    function is not differentiable (its outputs are constants)."""
    prim = new_primitive(name, ufunc)
    if derivative is None:
        defnondiff(prim)
    else:
        defelementwise(prim, derivative)
    return wrap_unary(name, ufunc, prim, example)


def wrap_unary(name: str, ufunc: Any, prim: Primitive, example: str | None = None) -> Callable:
    """The public wrapper of the elementwise primitive ``prim`` (whose rules are declared by
    the caller), registered for NumPy's dispatch of ``ufunc``."""
    if prim.batch is None:
        prim.batch = batch_elementwise(prim)

    def wrapper(x: Any, /, **kwargs: Any) -> Any:
        if not isinstance(x, Tracer):
            return ufunc(x, **kwargs)
        if kwargs:
            _check_kwargs(name, kwargs)
        out = record1(prim, x, {})  # the eager reverse-mode case in one step
        if out is None:
            out = jvp_apply1(prim, x, {})  # the outermost forward-mode case in one step
            if out is None:
                out = batch_apply1(prim, x, {})  # vmap of plain values, in one step
        return bind(prim, x) if out is None else out

    return _finish(wrapper, name, ufunc, example, prim.nondiff)


def binary(
    name: str,
    ufunc: Any,
    dx: Callable[..., Any] | None,
    dy: Callable[..., Any] | None,
    example: str | None = None,
) -> Callable[..., Any]:
    """An elementwise function of two arguments with partial derivatives ``d(ans, x, y)``;
    both ``None`` when the function is not differentiable (its outputs are constants)."""
    prim = new_primitive(name, ufunc)
    if dx is None and dy is None:
        defnondiff(prim)
    else:
        defelementwise(prim, dx, dy)
    return wrap_binary(name, ufunc, prim, example)


def wrap_binary(name: str, ufunc: Any, prim: Primitive, example: str | None = None) -> Callable:
    """The public wrapper of the binary elementwise primitive ``prim`` (whose rules are
    declared by the caller): NumPy's dtype promotion and broadcasting, then ``prim``."""
    if prim.batch is None:
        prim.batch = batch_elementwise(prim)

    def wrapper(x: Any, y: Any, /, **kwargs: Any) -> Any:
        tx = isinstance(x, Tracer)
        ty = isinstance(y, Tracer)
        if not (tx or ty):
            return ufunc(x, y, **kwargs)
        if kwargs:
            _check_kwargs(name, kwargs)
        if prim.nondiff:
            return bind(prim, x, y)
        out = record2(prim, x, y)  # the eager reverse-mode case in one step
        if out is not None:
            return out
        out = jvp_apply2(prim, x, y)  # the outermost forward-mode case in one step
        if out is not None:
            return out
        out = batch_apply2(prim, x, y)  # vmap of plain values, in one step
        if out is not None:
            return out
        # promote's fast paths, inline: equal shapes and dtypes, or a Python scalar
        if tx and ty or (tx and type(y) is np.ndarray) or (ty and type(x) is np.ndarray):
            if x.dtype == y.dtype:
                if x.shape == y.shape:
                    return bind(prim, x, y)
        elif (tx and type(y) in _WEAK) or (ty and type(x) in _WEAK):
            return bind(prim, x, y)
        x, y = promote(x, y)
        out = record2(prim, x, y)  # the promoted operands, in one step as above
        return bind(prim, x, y) if out is None else out

    return _finish(wrapper, name, ufunc, example, prim.nondiff)


def nondiff_function(
    name: str, func: Callable[..., Any], batch: Callable[[Primitive], Callable[..., Any]],
    impl: Callable[..., Any] | None = None,
) -> Callable[..., Any]:
    """A NumPy function whose result carries no derivative: traced arguments pass through as
    constants (their values are used, their derivatives dropped). ``batch(prim)`` gives its
    vmap rule (:func:`batch_elementwise` for an elementwise one); ``impl``, when given,
    computes it in place of ``func`` (for arrays of libraries that lack ``func``)."""
    impl = impl or func
    prim = new_primitive(name, impl)
    defnondiff(prim)
    defbatch(prim, batch(prim))

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not any(isinstance(a, Tracer) for a in args):
            return impl(*args, **kwargs)
        return prim.bind(*args, **kwargs)

    return _finish(wrapper, name, func, None, True)


def _finish(
    wrapper: Callable, name: str, numpy_func: Any, example: str | None, nondiff: bool
) -> Callable:
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = _doc(name, numpy_func, example, nondiff)
    wrapper.__module__ = "pullback.numpy"
    implements(numpy_func)(wrapper)
    return wrapper


def zeros_like_value(x: Any) -> np.ndarray:
    """A constant array of zeros with ``x``'s shape and dtype (``x`` may be traced)."""
    return backends.zeros(shape_of(x), dtype_of(x), like=x)
