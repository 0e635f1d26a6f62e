"""``pb.jit``: trace once per input signature, simplify, generate straight-line NumPy, cache.

A call looks up its signature (the pytree structure of the arguments, each array's shape and
dtype, the values of static arguments). On a miss it traces the function into a graph
(``pullback.compile.ir``), simplifies it, and generates the source of one Python function with
one NumPy call per equation, compiled with ``compile``/``exec`` and kept in the cache. The
source stays inspectable: ``jitted.source(*args)``, and tracebacks show its lines.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> def loss(w, x):
    ...     return pnp.sum(pnp.tanh(x @ w) ** 2)
    >>> step = pb.jit(pb.value_and_grad(loss))
    >>> value, g = step(np.ones(3), np.eye(3))
    >>> g.shape, step.trace_count
    ((3,), 1)
"""

from __future__ import annotations

import functools
import linecache
import warnings
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

import numpy as np

from pullback.compile.codegen_numba import available as numba_available
from pullback.compile.codegen_numba import compile_graph_numba
from pullback.compile.codegen_numpy import _ndarray, compile_graph, generate_source
from pullback.compile.ir import Graph
from pullback.compile.passes import simplify
from pullback.compile.trace import is_traced_leaf, split_arguments, static_key, trace
from pullback.compile.values import ConcretizationError, Const, Equation, gc_paused
from pullback.core import backends
from pullback.core.trace import trace_state
from pullback.core.tree import tree_flatten

__all__ = ["ConcretizationError", "Jitted", "generate_source", "jit"]

#: how many compiled versions of one function before a warning about retracing
RETRACE_WARNING = 32

_P = ParamSpec("_P")
_R = TypeVar("_R")

# ----------------------------------------------------------------------------- jit


BACKENDS = ("auto", "numpy", "numba")


class _Compiled:
    """One cache entry: the simplified graph, its source and the compiled function."""

    __slots__ = ("graph", "source", "fn", "structured", "raw_size", "fused", "__weakref__")

    def __init__(self, graph: Graph, raw_size: int, name: str, backend: str, threads: int,
                 library: str = "numpy"):
        self.graph = graph
        self.raw_size = raw_size
        self.fused: Graph | None = None
        if library != "numpy":  # Dask, CuPy: the graph, one primitive at a time (see _evaluate)
            uniform = _uniform(graph)
            run = scalar_constants(graph, uniform)
            self.fn: Callable[..., Any] = functools.partial(_evaluate, run, library, uniform)
            self.structured = False
            self.source = (
                f"# {library} arrays: no NumPy code is generated; each equation of this graph "
                "runs its primitive's implementation, which calls the library's functions "
                f"through NumPy's dispatch protocols\n{run}"
            )
            return
        if backend == "numba":
            self.fn, self.source, self.structured, self.fused = compile_graph_numba(
                graph, name, threads
            )
        else:
            self.fn, self.source, self.structured = compile_graph(graph, name)
        # the source is kept in linecache for tracebacks while this entry lives
        weakref.finalize(self, linecache.cache.pop, self.filename, None)

    @property
    def filename(self) -> str:
        fn = self.fn.func if isinstance(self.fn, functools.partial) else self.fn
        return str(getattr(fn, "__wrapped__", fn).__code__.co_filename)

    def run(self, leaves: list[Any]) -> Any:
        out = self.fn(*leaves)
        if self.structured:
            return out
        return self.graph.unflatten_outputs(out)


def _uniform(graph: Graph) -> dict[int, Any]:
    """The graph's NumPy constants of two or more equal elements (a cotangent broadcast, the
    fold of ``broadcast_to``), by id: their one value."""
    found = {}
    for c in graph.constvars():
        v = c.value
        if type(v) is np.ndarray and v.size >= 2 and v.dtype.kind in "biufc":
            flat = v.reshape(-1)
            if np.all(flat == flat[0]):
                found[id(v)] = flat[0]
    return found


def scalar_constants(graph: Graph, uniform: dict[int, Any] | None = None) -> Graph:
    """``graph`` with each array constant of one repeated value that a ufunc reads beside
    operands which already have the result's shape replaced by that value as a NumPy scalar
    of its dtype: the same operation on the same numbers (NumPy promotes a NumPy scalar as
    an array of its dtype), without an array of the data's size. Used where a constant is
    costly to make: on Dask each such constant was an array of its own, in one chunk,
    rechunked to meet the data.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(pb.grad(lambda x: pnp.mean(x * x)), np.ones(4))
        >>> print(scalar_constants(g.simplified()))
        { lambda ; a:f64[4]. let
            b:f64[4] = multiply 0.25:f64[] a
            c:f64[4] = add b b
          in (c,) }
    """
    if uniform is None:
        uniform = _uniform(graph)
    eqns = []
    for e in graph.eqns:
        impl = e.prim.impl
        if not (isinstance(impl, np.ufunc) and impl.nout == 1 and not e.params
                and not e.multiple and len(e.inputs) == impl.nin
                and all(a.aval is not None for a in e.inputs)):
            eqns.append(e)
            continue
        inputs = list(e.inputs)
        for k, a in enumerate(e.inputs):
            one = uniform.get(id(a.value)) if isinstance(a, Const) else None
            if one is None:
                continue
            others = [b.aval.shape for j, b in enumerate(inputs) if j != k]
            if others and np.broadcast_shapes(*others) == tuple(e.outvars[0].aval.shape):
                inputs[k] = Const(one)
        eqns.append(e if inputs == list(e.inputs) else
                    Equation(e.prim, inputs, e.params, e.outvars, e.multiple))
    return graph.replace(eqns, graph.outvars)


def _evaluate(graph: Graph, library: str, uniform: dict[int, Any], *leaves: Any) -> list[Any]:
    """The output leaves of ``graph`` on arrays of ``library`` (not NumPy): each equation runs
    its primitive's implementation, whose NumPy calls the library takes (Dask builds its
    graph, nothing is computed). Constants of one repeated value (``uniform``) are made in
    the library (a Dask graph holds no NumPy array of the data's size); an eager library
    (CuPy) refuses NumPy operands, so the graph's other NumPy constants are moved into it
    (``np.asarray(c, like=x)``)."""
    ours = [x for x in leaves if backends.library(x) == library]
    like = ours[0] if ours else None
    eager = library != "dask"

    def constant(c: Any) -> Any:
        v = c.value
        if type(v) is not np.ndarray:
            return v
        one = uniform.get(id(v))
        if one is not None:  # like an argument of its shape when there is one (its chunks)
            same = next((x for x in ours if tuple(x.shape) == v.shape), like)
            return backends.zeros(v.shape, v.dtype, like=same) + one
        return backends.asarray_like(v, like) if eager else v

    return graph.evaluate(leaves, constant)


#: the most array elements a jitted function's closure is compared over on each call
WATCH_LIMIT = 1_000_000


def _closure_values(fun: object, depth: int = 3) -> list[tuple[Callable[..., Any], str]]:
    """Getters of the values ``fun`` reads from its closure cells and globals (and, to
    ``depth`` levels, those of the Python functions it refers to, or wraps)."""
    seen: set[int] = set()
    found: list[tuple[Callable[..., Any], str]] = []

    def visit(f: Any, level: int) -> None:
        while hasattr(f, "__wrapped__") and id(f) not in seen:  # grad(f), functools.wraps
            seen.add(id(f))
            f = f.__wrapped__
        if isinstance(f, functools.partial):
            visit(f.func, level)
            return
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen or level > depth:
            return
        seen.add(id(f))
        cells = dict(zip(code.co_freevars, f.__closure__ or (), strict=True))
        for name, cell in cells.items():
            found.append((lambda cell=cell: cell.cell_contents, name))
        g = getattr(f, "__globals__", {})
        names = set(code.co_names)
        for const in code.co_consts:  # names read by nested functions and comprehensions
            if hasattr(const, "co_names"):
                names.update(const.co_names)
        for name in names:
            if name in g:
                found.append((lambda g=g, name=name: g.get(name), name))
        for getter, _ in list(found):
            try:
                value = getter()
            except ValueError:  # an empty cell
                continue
            if callable(value) and hasattr(value, "__code__") or hasattr(value, "__wrapped__"):
                visit(value, level + 1)

    visit(fun, 0)
    return found


class _Watch:
    """The NumPy arrays a jitted function closes over, as they were when it was traced.

    Their values are compiled in (as in JAX, closed-over arrays are constants), so a later
    write into one (``W[:] = 7``) or a new binding of its name would leave the compiled code
    stale: each call compares them with a copy and traces again when they differ."""

    __slots__ = ("getters", "seen")

    def __init__(self, fun: Callable[..., Any]):
        self.getters = _closure_values(fun)
        self.seen: list[tuple[Callable[..., Any], Any, np.ndarray]] = []

    def snapshot(self) -> None:
        self.seen = []
        total = 0
        for getter, _ in self.getters:
            try:
                value = getter()
            except ValueError:
                continue
            if type(value) is np.ndarray and value.flags.writeable:
                total += value.size
                if total > WATCH_LIMIT:
                    break
                self.seen.append((getter, value, value.copy()))

    def changed(self) -> bool:
        for getter, value, copy in self.seen:
            try:
                now = getter()
            except ValueError:
                return True
            if now is not value or not np.array_equal(now, copy, equal_nan=True):
                return True
        return False


class Jitted(Generic[_P, _R]):
    """A compiled function: made by :func:`jit`.

    Calling it runs the code compiled for the arguments' signature (tracing and compiling on
    the first call with a new signature). ``trace_count`` counts the traces;
    :meth:`source` and :meth:`graph` show what runs for given arguments.
    """

    def __init__(
        self,
        fun: Callable[_P, _R],
        static_argnums: Sequence[int],
        static_argnames: Sequence[str],
        backend: str = "numpy",
        threads: int = 1,
    ):
        functools.update_wrapper(self, fun)
        self._fun = fun
        #: the code generator: "numba" (fused kernels) or "numpy"
        self.backend = _resolve_backend(backend)
        self.threads = threads
        self._static_argnums = tuple(static_argnums)
        self._static_argnames = tuple(static_argnames)
        self._has_static = bool(self._static_argnums or self._static_argnames)
        self._cache: dict[Hashable, _Compiled] = {}
        self._fast: dict[tuple[Any, ...], Callable[..., _R]] = {}
        self._fast_tree: dict[tuple[Any, ...], Callable[..., _R]] = {}
        self._warned = False
        self._watch = _Watch(fun)
        #: how many times the function has been traced (one per new signature)
        self.trace_count = 0

    @property
    def _name(self) -> str:
        return getattr(self._fun, "__name__", type(self._fun).__name__)

    def __repr__(self) -> str:
        return f"<jit of {self._name}: {len(self._cache)} compiled version(s)>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        call: Callable[..., _R] = self
        return self if obj is None else functools.partial(call, obj)

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if self._watch.seen and self._watch.changed():
            self.clear_cache()  # a closed-over array was written to: trace again
        if self._fast and not kwargs and not trace_state.stack:
            # the common call: arrays only, a signature seen before
            fn = self._fast.get(
                tuple([(a.shape, a.dtype) if type(a) is _ndarray else None for a in args])
            )
            if fn is not None:
                return fn(*args)
        if self._fast_tree and not kwargs and not trace_state.stack:
            # lists and tuples of arrays (parameters): a signature seen before
            quick = _quick_signature(args)
            if quick is not None:
                fn = self._fast_tree.get(quick[0])
                if fn is not None:
                    return fn(*quick[1])
        if trace_state.stack:
            # inside another transformation (or make_graph) jit is transparent
            return self._fun(*args, **kwargs)
        entry, leaves = self._lookup(args, kwargs)
        return cast(_R, entry.run(leaves))

    def _lookup(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[_Compiled, list[Any]]:
        who = f"jit of {self._name}"
        dyn_args, dyn_kwargs, st_args, st_kwargs = split_arguments(
            args, kwargs, self._static_argnums, self._static_argnames
        )
        leaves, treedef = tree_flatten((dyn_args, dyn_kwargs))
        sig: list[Hashable] = []
        traced = []
        library = "numpy"
        for k, x in enumerate(leaves):
            if is_traced_leaf(x):
                if isinstance(x, (np.ndarray, np.generic)):
                    sig.append((x.shape, x.dtype))
                else:  # an array of another library: compiled for it (the type in the key)
                    library = backends.library(x)
                    sig.append((type(x), tuple(x.shape), x.dtype))
                # an ndarray subclass (np.matrix) runs as a plain array, as the primitives see it
                traced.append(x if type(x) is _ndarray or not isinstance(x, _ndarray)
                              else np.asarray(x))
            else:
                sig.append(static_key(who, f"leaf {k} of the arguments ({type(x).__name__})", x))
        key = (
            treedef,
            tuple(sig),
            tuple((i, static_key(who, f"static argument {i}", v)) for i, v in st_args),
            tuple(sorted((k, static_key(who, f"static argument {k!r}", v))
                         for k, v in st_kwargs.items())),
        )
        entry = self._cache.get(key)
        if entry is None:
            entry = self._compile(args, kwargs, library)
            self._cache[key] = entry
            if not kwargs and not self._has_static and all(
                type(a) is np.ndarray and is_traced_leaf(a) for a in args
            ):
                fast = entry.fn if entry.structured else (lambda *a, e=entry: e.run(list(a)))
                self._fast[tuple((a.shape, a.dtype) for a in args)] = fast
            elif not kwargs and not self._has_static:
                quick = _quick_signature(args)
                if quick is not None and all(is_traced_leaf(x) for x in quick[1]):
                    fast = entry.fn if entry.structured else (
                        lambda *a, e=entry: e.run(list(a)))
                    self._fast_tree[quick[0]] = fast
            if len(self._cache) >= RETRACE_WARNING and not self._warned:
                self._warned = True
                warnings.warn(
                    f"{who} has compiled {len(self._cache)} versions: a static argument (a "
                    "Python number, or one in static_argnums) keeps changing; pass numbers "
                    "that change as NumPy values (np.float64(x), np.asarray(n)) so that they "
                    "are traced instead",
                    stacklevel=3,
                )
        return entry, traced

    def _compile(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                 library: str = "numpy") -> _Compiled:
        self.trace_count += 1
        self._watch.snapshot()
        with gc_paused():
            try:
                raw = trace(self._fun, args, kwargs, self._static_argnums,
                            self._static_argnames)
            except ConcretizationError as err:
                raise ConcretizationError(f"jit of {self._name}: {err}").with_traceback(
                    err.__traceback__
                ) from None
            return _Compiled(simplify(raw), len(raw.eqns), self._name, self.backend,
                             self.threads, library)

    def source(self, *args: _P.args, **kwargs: _P.kwargs) -> str:
        """The generated Python source for these arguments (compiling it if needed).

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> print(pb.jit(lambda x: pnp.exp(-x))(np.ones(2)) is not None)
            True
            >>> print(pb.jit(lambda x: pnp.exp(-x)).source(np.ones(2)))
            def _lambda_(a):
                b = -a
                c = _exp(b, out=b)
                return c
        """
        return self._lookup(args, kwargs)[0].source

    def graph(self, *args: _P.args, **kwargs: _P.kwargs) -> Graph:
        """The simplified graph compiled for these arguments.

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> len(pb.jit(lambda x: x * 1.0 + 0.0).graph(np.ones(2)))
            0
        """
        return self._lookup(args, kwargs)[0].graph

    @property
    def cache_size(self) -> int:
        """How many compiled versions are cached."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget every compiled version (the next call traces again), and their sources.

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> f = pb.jit(pnp.sin)
            >>> _ = f(np.ones(2)); f.clear_cache(); f.cache_size
            0
        """
        for entry in self._cache.values():
            linecache.cache.pop(entry.filename, None)
        self._cache.clear()
        self._fast.clear()
        self._fast_tree.clear()


def _quick_signature(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[Any]] | None:
    """The signature and leaves of arguments made of arrays in lists and tuples (the order
    of ``tree_flatten``), or None for anything else; cheaper than flattening the pytree."""
    sig: list[Any] = []
    leaves: list[Any] = []
    stack = list(reversed(args))
    while stack:
        x = stack.pop()
        t = type(x)
        if t is _ndarray:
            sig.append((x.shape, x.dtype))
            leaves.append(x)
        elif t is list or t is tuple:
            sig.append((t, len(x)))
            stack.extend(reversed(x))
        else:
            return None
    return tuple(sig), leaves


@overload
def jit(
    fun: Callable[_P, _R],
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    backend: str = "numpy",
    threads: int = 1,
) -> Jitted[_P, _R]: ...
@overload
def jit(
    fun: None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    backend: str = "numpy",
    threads: int = 1,
) -> Callable[[Callable[_P, _R]], Jitted[_P, _R]]: ...
def jit(
    fun: Callable[_P, _R] | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    backend: str = "numpy",
    threads: int = 1,
) -> Jitted[_P, _R] | Callable[[Callable[_P, _R]], Jitted[_P, _R]]:
    """Compile ``fun`` to straight-line NumPy, once per input signature.

    The signature is the pytree structure of the arguments, the shape and dtype of each
    array (and NumPy scalar), and the value of everything else: Python numbers, strings and
    the arguments named in ``static_argnums``/``static_argnames`` are fixed into the
    compiled code (a new value compiles a new version). ``pb.jit(pb.value_and_grad(loss))``
    compiles the forward and the backward pass together. Inside another transformation the
    function runs as it is (eagerly).

    Python control flow that depends on array values (``if x > 0``, ``float(x)``, a
    boolean mask) raises :class:`ConcretizationError` saying what to do.

    ``backend``: ``"numba"`` fuses chains of elementwise operations, their broadcasts and
    the reductions that end them into loops compiled by Numba (the ``fast`` extra; the
    machine code is cached on disk), with matrix products left to BLAS; ``"numpy"``
    generates one NumPy call per operation (the default: its results are NumPy's to the
    last bit, where fused loops may differ in the last bits of a sum or of a libm function);
    ``"auto"`` is ``"numba"`` when Numba is installed, else ``"numpy"``. ``threads``: threads
    for the fused loops (Numba backend; 1 by default).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> f = pb.jit(pb.grad(lambda x: pnp.sum(pnp.sin(x))))
        >>> f(np.zeros(2))
        array([1., 1.])
        >>> power = pb.jit(lambda x, n: x ** n, static_argnums=1)
        >>> power(np.array([2.0]), 3)
        array([8.])
    """
    _resolve_backend(backend)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"jit: threads must be a positive integer, got {threads!r}")
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if fun is None:
        return cast(
            "Callable[[Callable[_P, _R]], Jitted[_P, _R]]",
            functools.partial(jit, static_argnums=nums, static_argnames=names,
                              backend=backend, threads=threads),
        )
    if not callable(fun):
        raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
    return Jitted(fun, nums, names, backend, threads)


def _resolve_backend(backend: str) -> str:
    """``"auto"``: Numba when it is installed, else NumPy; ``"numba"`` without it: an error."""
    if backend not in BACKENDS:
        raise ValueError(
            f"jit: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}"
        )
    if backend == "auto":
        return "numba" if numba_available() else "numpy"
    if backend == "numba" and not numba_available():
        raise ImportError(
            "jit: backend='numba' needs Numba, which is not installed: pip install "
            "'pullback[fast]' (or numba), or use backend='numpy'"
        )
    return backend
