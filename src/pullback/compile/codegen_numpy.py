"""The NumPy backend of ``pb.jit``: one Python function with one NumPy call per equation."""

from __future__ import annotations

import itertools
import keyword
import linecache
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.compile.ir import Graph
from pullback.compile.values import (
    Const,
    Equation,
    Var,
    vars_in,
)
from pullback.core.tree import PyTreeDef

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

    def statement(self, e: Equation, outs: str) -> list[str]:
        """The lines that compute ``e`` into ``outs`` (a backend may emit more than one)."""
        return [f"{outs} = {self.call(e)}"]

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
            pairs = zip(tree.aux, children, strict=True)
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in pairs) + "}"
        return None


_FIELD = re.compile(r"\{(\w+)(!i)?\}")


def _arity(template: str) -> int:
    return len({m.group(1) for m in _FIELD.finditer(template) if m.group(1).isdigit()})


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else name


def generate_source(
    graph: Graph, name: str = "compiled", emitter: _Emitter | None = None
) -> tuple[str, dict, bool]:
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
    em = emitter if emitter is not None else _Emitter(graph)
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
        lines.extend("    " + line for line in em.statement(e, outs))
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


def compile_graph(
    graph: Graph, name: str = "compiled", emitter: _Emitter | None = None
) -> tuple[Callable, str, bool]:
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
    source, namespace, structured = generate_source(graph, fname, emitter)
    filename = f"<pullback.jit {name} #{next(_counter)}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    return namespace[fname], source, structured
