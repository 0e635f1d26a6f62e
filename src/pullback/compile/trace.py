"""Tracing a function into the graph IR: abstract values in, one equation per primitive.

See :mod:`pullback.compile.ir` for the graph itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import numpy as np

import pullback.numpy as pnp
from pullback.compile.ir import Graph
from pullback.compile.values import (
    CONCRETIZATION_ADVICE,
    Atom,
    ConcretizationError,
    Const,
    Equation,
    ShapedArray,
    Var,
    concretization_error,
    freeze,
    map_vars,
)
from pullback.core import backends, lax
from pullback.core.trace import (
    PRIMITIVES,
    Primitive,
    Trace,
    Tracer,
    TracerConversionError,
    dtype_of,
    new_trace,
    plain_store_error,
    shape_of,
)
from pullback.core.tree import tree_flatten, tree_unflatten
from pullback.core.typing import PyTree

# ----------------------------------------------------------------------------- tracing


class GraphTracer(Tracer):
    """A traced value of a :class:`GraphTrace`: its primal is a :class:`ShapedArray`."""

    __slots__ = ("_var",)
    holds_value = False

    def __init__(self, trace: GraphTrace, var: Var):
        self._trace = trace
        self._primal = var.aval
        self._var = var

    @property
    def shape(self) -> tuple[int, ...]:
        return self._var.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self._var.aval.dtype

    def __bool__(self) -> bool:
        raise concretization_error("bool() (an `if`, `while`, `and` or `or`)", self._var.aval)

    def _stored(self) -> TracerConversionError | None:
        """The error for ``out[i] = self`` into a plain NumPy array, when the caller of the
        conversion is executing that (see :func:`pullback.core.trace.plain_store_error`)."""
        return plain_store_error(
            f"a traced value (shape {self.shape}, dtype {self.dtype})", 3)

    def __float__(self) -> float:
        raise self._stored() or concretization_error("float()", self._var.aval)

    def __int__(self) -> int:
        raise self._stored() or concretization_error("int()", self._var.aval)

    def __index__(self) -> int:
        raise concretization_error(
            "using it as an integer (an index, a size, range())", self._var.aval
        )

    def __complex__(self) -> complex:
        raise self._stored() or concretization_error("complex()", self._var.aval)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._stored() or concretization_error(
            "numpy.asarray() (NumPy code run on a traced value: a NumPy function without a "
            "pullback rule, a constant array indexed by a traced index, or a pullback.numpy "
            "function that computes from concrete values)",
            self._var.aval,
        )

    def item(self) -> Any:
        raise concretization_error(".item()", self._var.aval)

    def tolist(self) -> Any:
        raise concretization_error(".tolist()", self._var.aval)

    def __repr__(self) -> str:
        return f"GraphTracer({self._var.aval})"

    # Masks are NumPy arrays in eager mode (non-differentiable results are plain), so code
    # writes ~mask and mask & other on them; under this trace they are tracers.
    def __invert__(self) -> Any:
        return _logical("logical_not", self)

    def __and__(self, other: Any) -> Any:
        return _logical("logical_and", self, other)

    def __rand__(self, other: Any) -> Any:
        return _logical("logical_and", other, self)

    def __xor__(self, other: Any) -> Any:
        return _logical("logical_xor", self, other)

    def __rxor__(self, other: Any) -> Any:
        return _logical("logical_xor", other, self)


def _logical(name: str, *args: Any) -> Any:
    """``~``, ``&``, ``^`` on boolean traced values, as NumPy's logical functions."""

    dtypes = [np.result_type(a.dtype if isinstance(a, Tracer) else a) for a in args]
    if not all(dt == np.bool_ for dt in dtypes):
        raise TypeError(
            f"bitwise operators on traced values are supported for booleans only (as "
            f"numpy.{name}); got dtypes {[str(dt) for dt in dtypes]}"
        )
    return getattr(pnp, name)(*args)


# Probes, in order: floats and complex 1, then 0, then identity matrices (on the last two
# axes; ones below two dimensions), so that log, division and linear algebra each find one
# that works; integers 0, 1, 0 (valid indices); booleans True, False, True.
_PROBES = ("ones", "zeros", "eye")


def _probe_value(aval: ShapedArray, probe: str) -> Any:
    if aval.weak is not None:
        return aval.weak(np.asarray(_probe_value(ShapedArray((), aval.dtype), probe)).item())
    kind = aval.dtype.kind
    if kind in "fc":
        if probe == "eye" and aval.ndim >= 2:
            eye = np.eye(aval.shape[-2], aval.shape[-1], dtype=aval.dtype)
            return np.broadcast_to(eye, aval.shape).copy()
        return np.full(aval.shape, 0 if probe == "zeros" else 1, aval.dtype)
    if kind in "iu":
        return np.full(aval.shape, 1 if probe == "zeros" else 0, aval.dtype)
    if kind == "b":
        return np.full(aval.shape, probe != "zeros", aval.dtype)
    return np.zeros(aval.shape, aval.dtype)




class GraphTrace(Trace):
    """The graph-building trace: records one equation per primitive applied to its tracers."""

    __slots__ = ("eqns", "_avals")

    #: values of this trace are known by shape and dtype only (``pb.lax`` stages its loops)
    staged = True

    def __init__(self, level: int):
        super().__init__(level)
        self.eqns: list[Equation] = []
        self._avals: dict[Hashable, tuple[str, Any]] = {}

    def lift(self, value: Any) -> GraphTracer:
        """A constant as a value of the graph: a copy of it, made when the code runs."""
        tracer: GraphTracer = self.process(lax.copy_p, (value,), {})
        return tracer

    def new_input(self, aval: ShapedArray) -> GraphTracer:
        return GraphTracer(self, Var(aval))

    def _atom(self, prim: Primitive, x: Any) -> Any:
        if isinstance(x, GraphTracer):
            if x._trace is not self:
                raise RuntimeError(
                    f"{prim.name}: a value traced by another make_graph/jit escaped into this "
                    "one (stored in a global or a closure); pass it as an argument instead"
                )
            return x._var
        if isinstance(x, Tracer):
            raise TypeError(
                f"{prim.name}: the function traced by make_graph closes over a value traced "
                "by an enclosing transformation; pass that value as an argument, or call "
                "make_graph outside the transformation"
            )
        return x

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        inputs = [self._atom(prim, a) for a in args]
        inputs = [a if isinstance(a, Var) else Const(a) for a in inputs]
        rec_params = map_vars(params, lambda t: self._atom(prim, t), kind=Tracer)
        kind, result = self._abstract_eval(prim, args, params)
        if kind == "const":
            return result  # a shape, a dtype...: a Python object that does not depend on values
        outvars = [Var(aval) for aval in result]
        multiple = kind == "multiple"
        self.eqns.append(Equation(prim, inputs, rec_params, outvars, multiple))
        tracers = [GraphTracer(self, v) for v in outvars]
        return tuple(tracers) if multiple else tracers[0]

    def _abstract_eval(
        self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]
    ) -> tuple[str, Any]:
        rule = getattr(prim, "abstract_eval", None)
        if rule is not None:  # a primitive that knows its output shapes (pb.lax's loops)
            avals = rule([(shape_of(a), dtype_of(a)) for a in args], **params)
            return "multiple", [ShapedArray(shape, dtype) for shape, dtype in avals]
        key = None
        try:
            key = (id(prim), freeze(args), freeze(params))
            hit = self._avals.get(key)
        except TypeError:
            hit = None
        if hit is not None:
            return hit
        outs: list[Any] = []
        errors: list[Exception] = []
        # every probe looks for shapes that depend on values; a differentiable
        # pullback.numpy primitive of floating inputs has none, so one success is enough
        wanted = len(_PROBES) if _shape_may_depend_on_values(prim, args, params) else 1
        for probe in _PROBES:
            if len(outs) >= wanted:
                break
            vals = [_probe_value(a._var.aval, probe) if isinstance(a, GraphTracer) else a
                    for a in args]

            def probe_param(t: GraphTracer, p: str = probe) -> Any:
                return _probe_value(t._var.aval, p)

            ps = map_vars(params, probe_param, GraphTracer)
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outs.append(prim.impl(*vals, **ps))
            except Exception as err:  # noqa: BLE001 - a probe may fail on its values
                errors.append(err)
        if not outs:
            raise errors[0]
        result = _classify(prim, outs, args)
        if key is not None:
            self._avals[key] = result
        return result


def _shape_may_depend_on_values(
    prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]
) -> bool:
    """Whether the output shape of ``prim`` could depend on input values: non-differentiable
    and multiple-result primitives, integer or boolean traced inputs (indices, masks), and
    primitives from outside pullback.numpy (custom ones) may; the others are elementwise,
    reductions, products, shapes and linear algebra, whose shapes follow from shapes."""

    if prim.nondiff or prim.multiple_results or PRIMITIVES.get(prim.name) is not prim:
        return True
    traced = [a for a in args if isinstance(a, GraphTracer)]
    map_vars(params, traced.append, GraphTracer)
    return any(t.dtype.kind not in "fc" for t in traced)


def _aval_of(x: Any) -> ShapedArray | None:
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, x.dtype)
    for t in (bool, int, float, complex):  # bool before int: True is an int
        if isinstance(x, t):
            return ShapedArray((), np.result_type(x), weak=t)
    return None


def _classify(prim: Primitive, outs: list[Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    """``("single", [aval])``, ``("multiple", avals)`` or ``("const", value)``."""
    first = outs[0]
    multiple = prim.multiple_results or (
        isinstance(first, (tuple, list))
        and len(first) > 0
        and all(isinstance(o, (np.ndarray, np.generic)) for o in first)
    )
    parts = list(first) if multiple else [first]
    avals = [_aval_of(p) for p in parts]
    if any(a is None for a in avals):
        if prim.multiple_results:
            raise TypeError(
                f"{prim.name}: a multiple-results primitive returned a non-array "
                f"({type(first).__name__}); return a tuple of arrays"
            )
        # a Python object (a shape, a dtype): a constant when both probes agree
        if not all(_same_object(first, o) for o in outs[1:]):
            raise ConcretizationError(
                f"{prim.name} returned a Python {type(first).__name__} that depends on the "
                f"values of its traced arguments: {CONCRETIZATION_ADVICE}"
            )
        return "const", first
    known = cast("list[ShapedArray]", avals)  # none is None
    for out in outs[1:]:
        other = list(out) if multiple else [out]
        if len(other) != len(parts) or any(
            np.shape(o) != a.shape for o, a in zip(other, known, strict=True)
        ):
            shapes = ", ".join(str(a) for a in args_avals(args))
            raise ConcretizationError(
                f"{prim.name} (arguments {shapes}) has an output shape that depends on the "
                "values of its traced arguments (a boolean mask, nonzero), and jit and "
                "make_graph know only shapes and dtypes while tracing: keep the shape fixed "
                "with pnp.where(mask, x, 0), or select outside the jitted function (or mark "
                "the argument static with static_argnums)"
            )
    return ("multiple" if multiple else "single"), known


def args_avals(args: tuple[Any, ...]) -> list[ShapedArray | str]:
    """How each argument prints in an error: its abstract value, or its type."""
    out: list[ShapedArray | str] = []
    for a in args:
        if isinstance(a, GraphTracer):
            out.append(a._var.aval)
        else:
            aval = _aval_of(a)
            out.append(aval if aval is not None else type(a).__name__)
    return out


def _same_object(a: Any, b: Any) -> bool:
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_object(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- arguments


def is_traced_leaf(x: Any) -> bool:
    """Array leaves are traced (abstract), arrays of other libraries (Dask, CuPy) included;
    everything else (Python numbers too) is static."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biufc"
    if isinstance(x, np.generic):
        return x.dtype.kind in "biufc"
    return backends.library(x) not in ("numpy", "pullback") and \
        getattr(getattr(x, "dtype", None), "kind", "") in ("b", "i", "u", "f", "c")


def static_key(who: str, what: str, x: Any) -> Hashable:
    """A cache key for a static value: by type and value (floats by repr: -0.0, nan)."""
    if isinstance(x, (float, complex)):
        return (type(x), repr(x))
    lib = backends.library(x)
    if lib not in ("numpy", "pullback"):  # an array of another library, not numeric
        raise TypeError(
            f"{who}: {what} is a {lib} array of dtype {getattr(x, 'dtype', None)}; jit traces "
            "arrays of booleans, integers, floats and complex numbers only"
        )
    try:
        hash(x)
    except TypeError:
        raise TypeError(
            f"{who}: {what} is static (part of the compilation key) but a "
            f"{type(x).__name__} is not hashable: pass arrays as arrays (they are traced), "
            "and give static arguments hashable values (tuples instead of lists)"
        ) from None
    return (type(x), x)


def split_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], static_argnums: Sequence[int],
    static_argnames: Sequence[str],
) -> tuple[tuple[Any, ...], dict[str, Any], tuple[tuple[int, Any], ...], dict[str, Any]]:
    """Split into (dynamic args with None at static places, dynamic kwargs, static args,
    static kwargs)."""
    n = len(args)
    statics = {i % n for i in static_argnums if -n <= i < n}
    dyn_args = tuple(None if i in statics else a for i, a in enumerate(args))
    st_args = tuple((i, args[i]) for i in sorted(statics))
    dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_argnames}
    st_kwargs = {k: v for k, v in kwargs.items() if k in static_argnames}
    return dyn_args, dyn_kwargs, st_args, st_kwargs


def trace(
    f: Callable[..., PyTree],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    static_argnums: Sequence[int] = (),
    static_argnames: Sequence[str] = (),
) -> Graph:
    """Trace ``f(*args, **kwargs)`` into a :class:`Graph` (array leaves become inputs)."""
    dyn_args, dyn_kwargs, st_args, st_kwargs = split_arguments(
        args, kwargs, static_argnums, static_argnames
    )
    leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
    name = getattr(f, "__name__", type(f).__name__)
    with new_trace(GraphTrace) as tr:
        invars = []
        new_leaves = []
        for x in leaves:
            if is_traced_leaf(x):
                t = tr.new_input(ShapedArray(np.shape(x), x.dtype))
                invars.append(t._var)
                new_leaves.append(t)
            else:
                new_leaves.append(x)
        t_args, t_kwargs = tree_unflatten(in_tree, new_leaves)
        full = list(t_args)
        for i, v in st_args:
            full[i] = v
        out = f(*full, **t_kwargs, **st_kwargs)
        out_leaves, out_tree = tree_flatten(out)
        outvars: list[Atom] = []
        for leaf in out_leaves:
            if isinstance(leaf, GraphTracer) and leaf._trace is tr:
                outvars.append(leaf._var)
            elif isinstance(leaf, Tracer):
                raise TypeError(
                    f"make_graph of {name}: the output holds a value traced by another "
                    "transformation (it escaped from an inner vjp or jvp, for example a "
                    "vjp_fn stored outside); return plain results"
                )
            else:
                outvars.append(Const(leaf))
        eqns = tr.eqns
    return Graph(invars, eqns, outvars, in_tree, out_tree, name)


def make_graph(f: Callable[..., PyTree], *args: PyTree, static_argnums: int | Sequence[int] = (),
               **kwargs: PyTree) -> Graph:
    """Trace ``f(*args, **kwargs)`` into a graph of primitive equations.

    Array arguments (and NumPy scalars) become abstract inputs, known by shape and dtype;
    Python numbers and other objects, and the arguments in ``static_argnums``, are fixed
    values. When ``f`` is a transformation (``pb.value_and_grad(loss)``), the graph holds
    the forward and the backward pass: the chain of pullbacks, one equation per operation.
    Print it, draw it (:meth:`Graph.to_dot`, :meth:`Graph.render`), simplify it
    (:meth:`Graph.simplified`) or evaluate it (call it with the array leaves).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> print(pb.make_graph(pb.grad(lambda x: pnp.sum(x * x)), np.ones(2)))
        { lambda b:f64[2] ; a:f64[2]. let
            c:f64[2] = multiply a a
            d:f64[] = sum[axes=(0,) keepdims=False] c
            e:f64[2] = multiply b a
            f:f64[2] = add e e
          in (f,) }

        Here ``a`` is the input and ``b`` a constant (the cotangent of the sum, ones); the
        forward pass computes ``d``, which the gradient does not use.
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    return trace(f, args, kwargs, nums)
