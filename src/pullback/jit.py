"""``pb.jit``: trace once per input signature, simplify, generate straight-line NumPy, cache.

A call looks up its signature (the pytree structure of the arguments, each array's shape and
dtype, the values of static arguments). On a miss it traces the function into a graph
(``pullback._graph``), simplifies it, and generates the source of one Python function with
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
import itertools
import keyword
import linecache
import math
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from pullback._core import _stack
from pullback._graph import (
    ConcretizationError,
    Const,
    Equation,
    Graph,
    Var,
    is_traced_leaf,
    simplify,
    split_arguments,
    static_key,
    trace,
    vars_in,
)
from pullback._tree import PyTreeDef, tree_flatten

__all__ = ["ConcretizationError", "Jitted", "generate_source", "jit"]

#: how many compiled versions of one function before a warning about retracing
RETRACE_WARNING = 32

#: size from which a dead intermediate array is deleted early in the generated code
_DEL_SIZE = 4096

# Direct NumPy expressions for the commonest primitives, used when the primitive has exactly
# these params; every other equation calls the primitive's implementation.
# fmt: off
_TEMPLATES: dict[str, tuple[frozenset, str]] = {
    "add":          (frozenset(), "{0} + {1}"),
    "subtract":     (frozenset(), "{0} - {1}"),
    "multiply":     (frozenset(), "{0} * {1}"),
    "divide":       (frozenset(), "{0} / {1}"),
    "negative":     (frozenset(), "-{0}"),
    "matmul":       (frozenset(), "{0} @ {1}"),
    "where":        (frozenset(), "_where({0}, {1}, {2})"),
    "sum":          (frozenset({"axes", "keepdims"}),
                     "_add_reduce({0}, axis={axes}, keepdims={keepdims})"),
    "reshape":      (frozenset({"shape"}), "{0}.reshape({shape})"),
    "transpose":    (frozenset({"axes"}), "{0}.transpose({axes})"),
    "broadcast_to": (frozenset({"shape"}), "_broadcast_to({0}, {shape})"),
    "astype":       (frozenset({"dtype"}), "{0}.astype({dtype})"),
    "getitem":      (frozenset({"idx"}), "{0}[{idx!i}]"),
}
# fmt: on

_BASE_NAMESPACE = {
    "_np": np,
    "_slice": slice,
    "_where": np.where,
    "_add_reduce": np.add.reduce,
    "_broadcast_to": np.broadcast_to,
}


# ----------------------------------------------------------------------------- code generation


class _Emitter:
    """Names for variables, constants and functions of one generated function."""

    def __init__(self, graph: Graph):
        self.names = {v: _py_name(n) for v, n in graph.names().items() if isinstance(v, Var)}
        self.namespace: dict[str, Any] = dict(_BASE_NAMESPACE)
        self._consts: dict[int, str] = {}
        self._funcs: dict[int, str] = {}

    def const(self, value: Any, hint: str = "k") -> str:
        name = self._consts.get(id(value))
        if name is None:
            name = f"_{hint}{len(self._consts)}"
            self._consts[id(value)] = name
            self.namespace[name] = value
        return name

    def func(self, prim: Any) -> str:
        name = self._funcs.get(id(prim))
        if name is None:
            base = "_" + "".join(ch if ch.isalnum() else "_" for ch in prim.name)
            name = base
            for k in itertools.count(2):
                if name not in self.namespace:
                    break
                name = f"{base}{k}"
            self._funcs[id(prim)] = name
            self.namespace[name] = prim.impl
        return name

    def value(self, v: Any) -> str:
        """Python source for a value: variables by name, literals inline, others by const."""
        if isinstance(v, Var):
            return self.names[v]
        if isinstance(v, Const):
            return self.value(v.value)
        if isinstance(v, (np.generic, np.ndarray)):
            return self.const(v)  # before float: np.float64 is a float
        if v is None or v is Ellipsis or isinstance(v, (bool, str)):
            return "..." if v is Ellipsis else repr(v)
        if isinstance(v, int):
            return repr(v)
        if isinstance(v, float) and math.isfinite(v):
            return repr(v)
        if isinstance(v, complex) and math.isfinite(v.real) and math.isfinite(v.imag):
            return repr(v)
        if isinstance(v, tuple) and type(v) is tuple:
            inner = ", ".join(self.value(x) for x in v)
            return f"({inner}{',' if len(v) == 1 else ''})"
        if isinstance(v, list) and type(v) is list:
            return "[" + ", ".join(self.value(x) for x in v) + "]"
        if isinstance(v, dict) and type(v) is dict and all(isinstance(k, str) for k in v):
            return "{" + ", ".join(f"{k!r}: {self.value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, slice):
            return f"_slice({self.value(v.start)}, {self.value(v.stop)}, {self.value(v.step)})"
        if isinstance(v, np.dtype):
            return self.const(v, f"dt_{v.name}_")
        return self.const(v)

    def index(self, idx: Any) -> str:
        """An index tuple as subscript source: ``1:, ::-1``."""
        if not isinstance(idx, tuple):
            return self.value(idx)
        if not idx:
            return "()"
        parts = []
        for i in idx:
            if isinstance(i, slice):
                bounds = ["" if b is None else self.value(b) for b in (i.start, i.stop, i.step)]
                parts.append(":".join(bounds if bounds[2] else bounds[:2]))
            else:
                parts.append(self.value(i))
        return ", ".join(parts) + ("," if len(parts) == 1 else "")

    def call(self, e: Equation) -> str:
        template = _TEMPLATES.get(e.prim.name)
        if (
            template is not None
            and set(e.params) == template[0]
            and not e.multiple
            and _arity(template[1]) == len(e.inputs)
            and not any(isinstance(a, Var) and a.aval.weak for a in e.inputs)
        ):

            def fill(m: re.Match) -> str:
                key, as_index = m.group(1), m.group(2)
                if key.isdigit():
                    return self.value(e.inputs[int(key)])
                v = e.params[key]
                return self.index(v) if as_index else self.value(v)

            return _FIELD.sub(fill, template[1])
        args = [self.value(a) for a in e.inputs]
        args += [f"{k}={self.value(v)}" for k, v in e.params.items()]
        return f"{self.func(e.prim)}({', '.join(args)})"

    def output_tree(self, tree: PyTreeDef, leaves: Any) -> str | None:
        """Source that builds the output pytree, or None for containers it cannot spell."""
        if tree.kind is None:
            return next(leaves)
        if tree.kind is type(None):
            return "None"
        children = []
        for c in tree.children:
            s = self.output_tree(c, leaves)
            if s is None:
                return None
            children.append(s)
        if tree.kind is tuple:
            return f"({', '.join(children)}{',' if len(children) == 1 else ''})"
        if tree.kind is list:
            return f"[{', '.join(children)}]"
        if tree.kind is dict and all(isinstance(k, (str, int)) for k in tree.aux):
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(tree.aux, children)) + "}"
        return None


_FIELD = re.compile(r"\{(\w+)(!i)?\}")


def _arity(template: str) -> int:
    return len({m.group(1) for m in _FIELD.finditer(template) if m.group(1).isdigit()})


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else name


def generate_source(graph: Graph, name: str = "compiled") -> tuple[str, dict, bool]:
    """The Python source of ``graph`` as one function over its input leaves.

    Returns ``(source, namespace, structured)``; ``structured`` is true when the function
    returns the output pytree itself, false when it returns the flat output leaves.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> src, _, _ = generate_source(pb.make_graph(lambda x: pnp.sin(x) * 2.0, np.ones(2)))
        >>> print(src)
        def compiled(a):
            b = _sin(a)
            c = b * 2.0
            return c
    """
    em = _Emitter(graph)
    last_use: dict[Var, int] = {}
    for k, e in enumerate(graph.eqns):
        for a in list(e.inputs) + vars_in(e.params):
            if isinstance(a, Var):
                last_use[a] = k
    outputs = {a for a in graph.outvars if isinstance(a, Var)}
    params = ", ".join(em.names[v] for v in graph.invars)
    lines = [f"def {name}({params}):"]
    for k, e in enumerate(graph.eqns):
        outs = ", ".join(em.names[v] for v in e.outvars)
        if e.multiple and len(e.outvars) == 1:
            outs += ","
        lines.append(f"    {outs} = {em.call(e)}")
        dead = [
            a for a in dict.fromkeys(list(e.inputs) + vars_in(e.params))
            if isinstance(a, Var) and last_use.get(a) == k and a not in outputs
            and a.aval.size >= _DEL_SIZE and a not in graph.invars
        ]
        if dead:
            lines.append(f"    del {', '.join(em.names[v] for v in dead)}")

    def out_atom(a: Any) -> str:
        if isinstance(a, Const) and isinstance(a.value, np.ndarray):
            return f"{em.value(a)}.copy()"  # callers may write into what they get
        return em.value(a)

    out_leaves = [out_atom(a) for a in graph.outvars]
    structured = None
    if graph.out_tree is not None:
        structured = em.output_tree(graph.out_tree, iter(out_leaves))
    if structured is not None:
        lines.append(f"    return {structured}")
    else:
        lines.append(f"    return ({', '.join(out_leaves)}{',' if len(out_leaves) == 1 else ''})")
    return "\n".join(lines) + "\n", em.namespace, structured is not None


_counter = itertools.count()
_ndarray = np.ndarray


def compile_graph(graph: Graph, name: str = "compiled") -> tuple[Callable, str, bool]:
    """Generate, compile and return ``(function, source, structured)`` for ``graph``.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> fn, _, _ = compile_graph(pb.make_graph(lambda x: pnp.exp(x) - 1.0, np.zeros(2)))
        >>> fn(np.zeros(2))
        array([0., 0.])
    """
    fname = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "compiled"
    if fname[0].isdigit() or keyword.iskeyword(fname):
        fname = "f_" + fname
    source, namespace, structured = generate_source(graph, fname)
    filename = f"<pullback.jit {name} #{next(_counter)}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    return namespace[fname], source, structured


# ----------------------------------------------------------------------------- jit


class _Compiled:
    """One cache entry: the simplified graph, its source and the compiled function."""

    __slots__ = ("graph", "source", "fn", "structured", "raw_size")

    def __init__(self, graph: Graph, raw_size: int, name: str):
        self.graph = graph
        self.raw_size = raw_size
        self.fn, self.source, self.structured = compile_graph(graph, name)

    def run(self, leaves: list) -> Any:
        out = self.fn(*leaves)
        if self.structured:
            return out
        return self.graph.unflatten_outputs(out)


class Jitted:
    """A compiled function: made by :func:`jit`.

    Calling it runs the code compiled for the arguments' signature (tracing and compiling on
    the first call with a new signature). ``trace_count`` counts the traces;
    :meth:`source` and :meth:`graph` show what runs for given arguments.
    """

    def __init__(
        self, fun: Callable, static_argnums: Sequence[int], static_argnames: Sequence[str]
    ):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._static_argnums = tuple(static_argnums)
        self._static_argnames = tuple(static_argnames)
        self._has_static = bool(self._static_argnums or self._static_argnames)
        self._cache: dict[Hashable, _Compiled] = {}
        self._fast: dict[tuple, Callable] = {}
        self._warned = False
        #: how many times the function has been traced (one per new signature)
        self.trace_count = 0

    @property
    def _name(self) -> str:
        return getattr(self._fun, "__name__", type(self._fun).__name__)

    def __repr__(self) -> str:
        return f"<jit of {self._name}: {len(self._cache)} compiled version(s)>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fast and not kwargs and not _stack.stack:
            # the common call: arrays only, a signature seen before
            fn = self._fast.get(
                tuple([(a.shape, a.dtype) if type(a) is _ndarray else None for a in args])
            )
            if fn is not None:
                return fn(*args)
        if _stack.stack:
            # inside another transformation (or make_graph) jit is transparent
            return self._fun(*args, **kwargs)
        entry, leaves = self._lookup(args, kwargs)
        return entry.run(leaves)

    def _lookup(self, args: tuple, kwargs: dict) -> tuple[_Compiled, list]:
        who = f"jit of {self._name}"
        dyn_args, dyn_kwargs, st_args, st_kwargs = split_arguments(
            args, kwargs, self._static_argnums, self._static_argnames
        )
        leaves, treedef = tree_flatten((dyn_args, dyn_kwargs))
        sig: list[Hashable] = []
        traced = []
        for k, x in enumerate(leaves):
            if is_traced_leaf(x):
                sig.append((x.shape, x.dtype))
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
            entry = self._compile(args, kwargs)
            self._cache[key] = entry
            if not kwargs and not self._has_static and all(
                type(a) is np.ndarray and is_traced_leaf(a) for a in args
            ):
                fast = entry.fn if entry.structured else (lambda *a, e=entry: e.run(list(a)))
                self._fast[tuple((a.shape, a.dtype) for a in args)] = fast
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

    def _compile(self, args: tuple, kwargs: dict) -> _Compiled:
        self.trace_count += 1
        try:
            raw = trace(self._fun, args, kwargs, self._static_argnums, self._static_argnames)
        except ConcretizationError as err:
            raise ConcretizationError(f"jit of {self._name}: {err}").with_traceback(
                err.__traceback__
            ) from None
        return _Compiled(simplify(raw), len(raw.eqns), self._name)

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated Python source for these arguments (compiling it if needed).

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> print(pb.jit(lambda x: pnp.exp(-x))(np.ones(2)) is not None)
            True
            >>> print(pb.jit(lambda x: pnp.exp(-x)).source(np.ones(2)))
            def _lambda_(a):
                b = -a
                c = _exp(b)
                return c
        """
        return self._lookup(args, kwargs)[0].source

    def graph(self, *args: Any, **kwargs: Any) -> Graph:
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
        """Forget every compiled version (the next call traces again)."""
        self._cache.clear()
        self._fast.clear()


def jit(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
) -> Any:
    """Compile ``fun`` to straight-line NumPy, once per input signature.

    The signature is the pytree structure of the arguments, the shape and dtype of each
    array (and NumPy scalar), and the value of everything else: Python numbers, strings and
    the arguments named in ``static_argnums``/``static_argnames`` are fixed into the
    compiled code (a new value compiles a new version). ``pb.jit(pb.value_and_grad(loss))``
    compiles the forward and the backward pass together. Inside another transformation the
    function runs as it is (eagerly).

    Python control flow that depends on array values (``if x > 0``, ``float(x)``, a
    boolean mask) raises :class:`ConcretizationError` saying what to do.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> f = pb.jit(pb.grad(lambda x: pnp.sum(pnp.sin(x))))
        >>> f(np.zeros(2))
        array([1., 1.])
        >>> power = pb.jit(lambda x, n: x ** n, static_argnums=1)
        >>> power(np.array([2.0]), 3)
        array([8.])
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if fun is None:
        return functools.partial(jit, static_argnums=nums, static_argnames=names)
    if not callable(fun):
        raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
    return Jitted(fun, nums, names)
