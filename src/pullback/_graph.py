"""The graph IR: a traced function as a list of equations over variables.

``make_graph(f, *args)`` runs ``f`` on abstract values (shape and dtype, no numbers) under a
:class:`GraphTrace`. ``bind`` hands every primitive applied to a :class:`GraphTracer` to
:meth:`GraphTrace.process`, which records one :class:`Equation` and returns new abstract
tracers. When ``f`` is a transformation (``pb.value_and_grad(loss)``), the eager VJP and JVP
traces run inside this one: their primals are graph tracers, so every operation of the
forward and of the backward pass lands in the graph.

Output shapes and dtypes come from running the primitive's NumPy implementation on probes
of the right shapes and dtypes (ones, zeros, identity matrices): for a primitive whose shape
could depend on values (non-differentiable ones, masks and indices, custom primitives) all
three run, and when they disagree on a shape, the shape depends on values (a boolean mask,
``nonzero``) and tracing stops with a :class:`ConcretizationError`, as it does for
``if x > 0`` or ``float(x)``.

The module also holds the printing (like a jaxpr), the Graphviz rendering and the
simplification passes used by ``pb.jit`` (``pullback.jit``).
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pullback._core import Primitive, Trace, Tracer, TracerConversionError, new_trace
from pullback._tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = [
    "ConcretizationError",
    "Const",
    "Equation",
    "Graph",
    "GraphTrace",
    "GraphTracer",
    "ShapedArray",
    "Var",
    "make_graph",
    "simplify",
]


class ConcretizationError(TracerConversionError):
    """A value known only by its shape and dtype was needed as a number while tracing.

    Raised by ``pb.jit`` and ``pb.make_graph`` for Python control flow on traced values
    (``if x > 0``), conversions (``float(x)``) and shapes that depend on values (boolean
    masks, ``nonzero``). A subclass of ``pb.TracerConversionError`` (a ``TypeError``).
    """


_ADVICE = (
    "jit and make_graph trace with shapes and dtypes only, so Python control flow, "
    "conversions and output shapes cannot depend on array values. Select values with "
    "pnp.where(cond, a, b) instead of `if`, keep values as arrays instead of calling "
    "float()/int()/bool(), or mark the argument static (pb.jit(f, static_argnums=...)) so "
    "that each value compiles its own version"
)


def _concretization_error(what: str, aval: Any) -> ConcretizationError:
    return ConcretizationError(
        f"{what} needs the value of a traced array ({aval}), which is not known while "
        f"tracing: {_ADVICE}"
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
        self.dtype = np.dtype(dtype)
        self.weak = weak

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

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
        raise _concretization_error("bool() (an `if`, `while`, `and` or `or`)", self)

    def __float__(self) -> float:
        raise _concretization_error("float()", self)

    def __int__(self) -> int:
        raise _concretization_error("int()", self)

    def __index__(self) -> int:
        raise _concretization_error("using it as an integer (an index, a size, range())", self)

    def __complex__(self) -> complex:
        raise _concretization_error("complex()", self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _concretization_error("numpy.asarray()", self)


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


def map_vars(obj: Any, fn: Callable[[Any], Any], kind: type = Var) -> Any:
    """Apply ``fn`` to every ``kind`` object inside nested tuples, lists, dicts and slices."""
    if isinstance(obj, kind):
        return fn(obj)
    if isinstance(obj, tuple):
        return tuple(map_vars(o, fn, kind) for o in obj)
    if isinstance(obj, list):
        return [map_vars(o, fn, kind) for o in obj]
    if isinstance(obj, dict):
        return {k: map_vars(v, fn, kind) for k, v in obj.items()}
    if isinstance(obj, slice):
        return slice(*(map_vars(o, fn, kind) for o in (obj.start, obj.stop, obj.step)))
    return obj


def vars_in(obj: Any) -> list[Var]:
    """The variables inside nested params, in order."""
    found: list[Var] = []
    map_vars(obj, found.append)
    return found


# ----------------------------------------------------------------------------- the graph


class Graph:
    """A traced function: equations over variables, from input to output variables.

    ``str(graph)`` prints it like a jaxpr; :meth:`to_dot` and :meth:`render` draw it;
    calling it evaluates it with NumPy on the traced leaves of the arguments.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> print(pb.make_graph(lambda x: pnp.sum(pnp.sin(x)), np.zeros(3)))
        { lambda ; a:f64[3]. let
            b:f64[3] = sin a
            c:f64[] = sum[axes=(0,) keepdims=False] b
          in (c,) }
    """

    def __init__(
        self,
        invars: list[Var],
        eqns: list[Equation],
        outvars: list[Atom],
        in_tree: PyTreeDef | None = None,
        out_tree: PyTreeDef | None = None,
        name: str = "f",
    ):
        self.invars = invars
        self.eqns = eqns
        self.outvars = outvars
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.name = name

    def replace(self, eqns: list[Equation], outvars: list[Atom]) -> Graph:
        """The same graph with other equations and outputs."""
        return Graph(self.invars, eqns, outvars, self.in_tree, self.out_tree, self.name)

    def __len__(self) -> int:
        return len(self.eqns)

    def names(self) -> dict[Var, str]:
        """The printed name of every variable: inputs, array constants, then equation outputs."""
        names: dict[Var, str] = {}

        def add(v: Var) -> None:
            if v not in names:
                names[v] = _letters(len(names))

        for v in self.invars:
            add(v)
        for c in self.constvars():
            add(c)
        for e in self.eqns:
            for v in e.outvars:
                add(v)
        return names

    def constvars(self) -> list[Any]:
        """Array constants (not Python scalars), each once, in order of first use."""
        seen: dict[int, Any] = {}
        for e in self.eqns:
            for a in e.inputs:
                if isinstance(a, Const) and _is_array_const(a.value):
                    seen.setdefault(id(a.value), a)
        for a in self.outvars:
            if isinstance(a, Const) and _is_array_const(a.value):
                seen.setdefault(id(a.value), a)
        return list(seen.values())

    # ------------------------------------------------------------------------- printing

    def pretty(self) -> str:
        """The graph as text, one equation a line (also ``str(graph)``).

        Example:
            >>> import pullback as pb
            >>> print(pb.make_graph(lambda x: x * 2.0, np.ones(2)).pretty())
            { lambda ; a:f64[2]. let
                b:f64[2] = multiply a 2.0
              in (b,) }
        """
        names = self.names()
        consts = {id(c.value): names[c] for c in self.constvars()}

        def atom(a: Any) -> str:
            if isinstance(a, Var):
                return names[a]
            if isinstance(a, Const):
                if id(a.value) in consts and _is_array_const(a.value):
                    return consts[id(a.value)]
                return _fmt_scalar(a.value)
            return repr(a)

        def typed(v: Var) -> str:
            return f"{names[v]}:{v.aval}"

        head_consts = " ".join(f"{names[c]}:{c.aval}" for c in self.constvars())
        head_in = " ".join(typed(v) for v in self.invars)
        lines = [f"{{ lambda {head_consts + ' ' if head_consts else ''}; {head_in}. let"]
        for e in self.eqns:
            params = ""
            if e.params:
                params = "[" + " ".join(
                    f"{k}={_fmt_param(v, atom)}" for k, v in e.params.items()
                ) + "]"
            args = " ".join(atom(a) for a in e.inputs)
            outs = " ".join(typed(v) for v in e.outvars)
            lines.append(f"    {outs} = {e.prim.name}{params}{' ' + args if args else ''}")
        outs = ", ".join(atom(a) for a in self.outvars)
        lines.append(f"  in ({outs}{',' if len(self.outvars) == 1 else ''}) }}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.pretty()

    def __repr__(self) -> str:
        return (
            f"<Graph {self.name}: {len(self.invars)} inputs, {len(self.eqns)} equations, "
            f"{len(self.outvars)} outputs>"
        )

    # ------------------------------------------------------------------------- drawing

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language: inputs, one box per equation, outputs.

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> dot = pb.make_graph(pnp.sin, np.zeros(2)).to_dot()
            >>> dot.splitlines()[0]
            'digraph sin {'
        """
        names = self.names()
        producer: dict[Var, str] = {}
        lines = [
            f"digraph {_dot_id(self.name)} {{",
            "  rankdir=TB;",
            '  node [fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
        ]
        for k, v in enumerate(self.invars):
            node = f"in{k}"
            producer[v] = node
            lines.append(
                f'  {node} [shape=ellipse, style=filled, fillcolor="#dbe9f6", '
                f'label="{names[v]}: {v.aval}"];'
            )
        for k, c in enumerate(self.constvars()):
            node = f"k{k}"
            lines.append(
                f'  {node} [shape=note, style=filled, fillcolor="#eeeeee", '
                f'label="{names[c]}: {c.aval}"];'
            )
            producer[c] = node  # type: ignore[index]
        const_nodes = {id(c.value): producer[c] for c in self.constvars()}  # type: ignore[index]

        def source(a: Any) -> str | None:
            if isinstance(a, Var):
                return producer.get(a)
            if isinstance(a, Const) and id(a.value) in const_nodes:
                return const_nodes[id(a.value)]
            return None

        for k, e in enumerate(self.eqns):
            node = f"e{k}"
            scalars = [_fmt_scalar(a.value) for a in e.inputs if source(a) is None]
            label = e.prim.name + (f" ({', '.join(scalars)})" if scalars else "")
            outs = ", ".join(names[v] for v in e.outvars)
            fill = "#fde9c8" if e.prim.nondiff else "#ffffff"
            lines.append(
                f'  {node} [shape=box, style="rounded,filled", fillcolor="{fill}", '
                f'label="{_dot_escape(label)}\\n{outs}"];'
            )
            for a in list(e.inputs) + vars_in(e.params):
                src = source(a)
                if src is not None:
                    lines.append(f'  {src} -> {node} [label="{a.aval}"];')
            for v in e.outvars:
                producer[v] = node
        for k, a in enumerate(self.outvars):
            node = f"out{k}"
            label = names[a] if isinstance(a, Var) else _fmt_scalar(a.value)
            lines.append(
                f'  {node} [shape=ellipse, style=filled, fillcolor="#d9f2d9", '
                f'label="output {k}: {_dot_escape(label)}"];'
            )
            src = source(a)
            if src is not None:
                lines.append(f'  {src} -> {node} [label="{a.aval}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, path: str | Path, format: str | None = None) -> Path:
        """Write the picture to ``path`` (PNG, SVG, PDF... by its suffix; ``.dot``: the text).

        Needs Graphviz's ``dot`` program on the PATH for anything but ``.dot``.

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> g = pb.make_graph(pnp.sin, np.zeros(2))
            >>> g.render("sin.svg")  # doctest: +SKIP
            PosixPath('sin.svg')
        """
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "png").lower()
        if fmt in ("dot", "gv"):
            path.write_text(self.to_dot())
            return path
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError(
                f"Graph.render: Graphviz's 'dot' program was not found on the PATH, so "
                f"{path.name!r} cannot be drawn as {fmt}: install Graphviz (for example "
                "`apt install graphviz`, `brew install graphviz` or `conda install graphviz`), "
                "or write the text with graph.render('graph.dot') / graph.to_dot() and draw "
                "it elsewhere"
            )
        result = subprocess.run(
            [exe, f"-T{fmt}", "-o", str(path)],
            input=self.to_dot().encode(),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"Graph.render: 'dot -T{fmt}' failed with exit status {result.returncode}: "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        return path

    # ------------------------------------------------------------------------- evaluation

    def __call__(self, *leaves: Any) -> list[Any]:
        """Evaluate the equations with NumPy on the traced input leaves; the output leaves.

        Example:
            >>> import pullback as pb, pullback.numpy as pnp
            >>> pb.make_graph(lambda x: x * 2.0, np.zeros(2))(np.array([1.0, 2.0]))
            [array([2., 4.])]
        """
        if len(leaves) != len(self.invars):
            raise TypeError(
                f"Graph {self.name}: expected {len(self.invars)} input leaves, got {len(leaves)}"
            )
        env: dict[Var, Any] = dict(zip(self.invars, leaves))

        def read(a: Any) -> Any:
            return env[a] if isinstance(a, Var) else a.value

        for e in self.eqns:
            params = map_vars(e.params, lambda v: env[v])
            out = e.prim.impl(*(read(a) for a in e.inputs), **params)
            if e.multiple:
                env.update(zip(e.outvars, out))
            else:
                env[e.outvars[0]] = out
        return [read(a) for a in self.outvars]

    def unflatten_outputs(self, leaves: Sequence[Any]) -> Any:
        """The output leaves in the function's output structure.

        Example:
            >>> import pullback as pb
            >>> g = pb.make_graph(lambda x: {"y": x * 2.0}, np.ones(1))
            >>> g.unflatten_outputs(g(np.array([3.0])))
            {'y': array([6.])}
        """
        return tree_unflatten(self.out_tree, list(leaves))

    def simplified(self) -> Graph:
        """A simplified copy: see :func:`simplify`.

        Example:
            >>> import pullback as pb
            >>> len(pb.make_graph(lambda x: x * 1.0 + 0.0, np.ones(2)).simplified())
            0
        """
        return simplify(self)


def _letters(n: int) -> str:
    """a, b, ..., z, ba, bb, ...: variable names as jaxprs print them."""
    s = ""
    while True:
        s = chr(ord("a") + n % 26) + s
        n //= 26
        if n == 0:
            return s


def _is_array_const(v: Any) -> bool:
    """Arrays of one dimension or more print as named constants; scalars print inline."""
    return isinstance(v, np.ndarray) and v.ndim > 0


def _fmt_scalar(v: Any) -> str:
    if isinstance(v, np.ndarray) and v.ndim == 0 or isinstance(v, np.generic):
        return f"{v.item()!r}:{short_dtype(v.dtype)}[]"
    return repr(v)


def _fmt_param(v: Any, atom: Callable[[Any], str]) -> str:
    if isinstance(v, Var):
        return atom(v)
    if isinstance(v, tuple):
        inner = ", ".join(_fmt_param(x, atom) for x in v)
        return f"({inner}{',' if len(v) == 1 else ''})"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_param(x, atom) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt_param(x, atom)}" for k, x in v.items()) + "}"
    if isinstance(v, slice):
        parts = ["" if p is None else _fmt_param(p, atom) for p in (v.start, v.stop, v.step)]
        return ":".join(parts if parts[2] else parts[:2])
    if v is Ellipsis:
        return "..."
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return np.array2string(v, separator=",").replace("\n", "")
        return f"<{short_dtype(v.dtype)}[{','.join(map(str, v.shape))}]>"
    return repr(v)


def _dot_id(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"g_{cleaned}"


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


# ----------------------------------------------------------------------------- tracing


class GraphTracer(Tracer):
    """A traced value of a :class:`GraphTrace`: its primal is a :class:`ShapedArray`."""

    __slots__ = ("_var",)

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
        raise _concretization_error("bool() (an `if`, `while`, `and` or `or`)", self._var.aval)

    def __float__(self) -> float:
        raise _concretization_error("float()", self._var.aval)

    def __int__(self) -> int:
        raise _concretization_error("int()", self._var.aval)

    def __index__(self) -> int:
        raise _concretization_error(
            "using it as an integer (an index, a size, range())", self._var.aval
        )

    def __complex__(self) -> complex:
        raise _concretization_error("complex()", self._var.aval)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _concretization_error(
            "numpy.asarray() (NumPy code run on a traced value: a NumPy function without a "
            "pullback rule, a constant array indexed by a traced index, or a pullback.numpy "
            "function that computes from concrete values)",
            self._var.aval,
        )

    def item(self) -> Any:
        raise _concretization_error(".item()", self._var.aval)

    def tolist(self) -> Any:
        raise _concretization_error(".tolist()", self._var.aval)

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
    import pullback.numpy as pnp

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


def _freeze(obj: Any) -> Hashable:
    """A hashable key for params and constants (arrays by content when small)."""
    if isinstance(obj, Var):
        return ("var", id(obj))
    if isinstance(obj, GraphTracer):
        return ("aval", obj._var.aval)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(_freeze(o) for o in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((k, _freeze(v)) for k, v in obj.items()))
    if isinstance(obj, slice):
        return ("slice", _freeze(obj.start), _freeze(obj.stop), _freeze(obj.step))
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


class GraphTrace(Trace):
    """The graph-building trace: records one equation per primitive applied to its tracers."""

    __slots__ = ("eqns", "_avals")

    def __init__(self, level: int):
        super().__init__(level)
        self.eqns: list[Equation] = []
        self._avals: dict[Hashable, Any] = {}

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

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
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

    def _abstract_eval(self, prim: Primitive, args: tuple, params: dict) -> tuple[str, Any]:
        key = None
        try:
            key = (id(prim), _freeze(args), _freeze(params))
            hit = self._avals.get(key)
        except TypeError:
            hit = None
        if hit is not None:
            return hit
        outs, errors = [], []
        # every probe looks for shapes that depend on values; a differentiable
        # pullback.numpy primitive of floating inputs has none, so one success is enough
        wanted = len(_PROBES) if _shape_may_depend_on_values(prim, args, params) else 1
        for probe in _PROBES:
            if len(outs) >= wanted:
                break
            vals = [_probe_value(a._var.aval, probe) if isinstance(a, GraphTracer) else a
                    for a in args]
            ps = map_vars(params, lambda t, p=probe: _probe_value(t._var.aval, p), GraphTracer)
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


def _shape_may_depend_on_values(prim: Primitive, args: tuple, params: dict) -> bool:
    """Whether the output shape of ``prim`` could depend on input values: non-differentiable
    and multiple-result primitives, integer or boolean traced inputs (indices, masks), and
    primitives from outside pullback.numpy (custom ones) may; the others are elementwise,
    reductions, products, shapes and linear algebra, whose shapes follow from shapes."""
    from pullback.numpy._registry import PRIMITIVES

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


def _classify(prim: Primitive, outs: list, args: tuple) -> tuple[str, Any]:
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
                f"values of its traced arguments: {_ADVICE}"
            )
        return "const", first
    for out in outs[1:]:
        other = list(out) if multiple else [out]
        if len(other) != len(parts) or any(
            np.shape(o) != a.shape for o, a in zip(other, avals)
        ):
            shapes = ", ".join(str(a) for a in args_avals(args))
            raise ConcretizationError(
                f"{prim.name} (arguments {shapes}) has an output shape that depends on the "
                "values of its traced arguments (a boolean mask, nonzero), and jit and "
                "make_graph know only shapes and dtypes while tracing: keep the shape fixed "
                "with pnp.where(mask, x, 0), or select outside the jitted function (or mark "
                "the argument static with static_argnums)"
            )
    return ("multiple" if multiple else "single"), avals


def args_avals(args: tuple) -> list[Any]:
    """How each argument prints in an error: its abstract value, or its type."""
    out = []
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
        return len(a) == len(b) and all(_same_object(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- arguments


def is_traced_leaf(x: Any) -> bool:
    """Array leaves are traced (abstract); everything else (Python numbers too) is static."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biufc"
    return isinstance(x, np.generic) and x.dtype.kind in "biufc"


def static_key(who: str, what: str, x: Any) -> Hashable:
    """A cache key for a static value: by type and value (floats by repr: -0.0, nan)."""
    if isinstance(x, (float, complex)):
        return (type(x), repr(x))
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
    args: tuple, kwargs: dict, static_argnums: Sequence[int], static_argnames: Sequence[str]
) -> tuple[tuple, dict, tuple, dict]:
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
    f: Callable,
    args: tuple,
    kwargs: dict,
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


def make_graph(f: Callable, *args: Any, static_argnums: int | Sequence[int] = (),
               **kwargs: Any) -> Graph:
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
            f:f64[2] = multiply b a
            g:f64[2] = add e f
          in (g,) }

        Here ``a`` is the input and ``b`` a constant (the cotangent of the sum, ones); the
        forward pass computes ``d``, which the gradient does not use.
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    return trace(f, args, kwargs, nums)


# ----------------------------------------------------------------------------- simplification


def _is_const_value(a: Any, value: float) -> bool:
    if not isinstance(a, Const) or a.aval is None or a.aval.dtype.kind not in "biufc":
        return False
    try:
        return bool(np.all(np.asarray(a.value) == value))
    except (TypeError, ValueError):
        return False


def _identity_input(e: Equation, producer: dict[Var, Equation]) -> Atom | None:
    """The input that equation ``e`` returns unchanged, if any (x * 1, x + 0, ...)."""
    name = e.prim.name
    out = e.outvars[0].aval if len(e.outvars) == 1 else None
    if out is None:
        return None
    ins = e.inputs

    def same(a: Any) -> bool:
        return isinstance(a, (Var, Const)) and a.aval == out

    if name == "multiply" and len(ins) == 2:
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_const_value(b, 1) and same(a):
                return a
    elif name == "add" and len(ins) == 2:
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_const_value(b, 0) and same(a):
                return a
    elif name in ("subtract",) and len(ins) == 2:
        if _is_const_value(ins[1], 0) and same(ins[0]):
            return ins[0]
    elif name in ("divide", "power") and len(ins) == 2:
        if _is_const_value(ins[1], 1) and same(ins[0]):
            return ins[0]
        if (
            name == "power"
            and _is_const_value(ins[1], 0)
            and same(ins[0])
            and out.dtype.kind in "fc"
            and not out.weak
        ):
            # x ** 0 is exactly 1 for every x, NaN and infinities included (IEEE pow)
            return Const(np.broadcast_to(np.ones((), out.dtype), out.shape))
    elif name in ("reshape", "broadcast_to", "astype", "stop_gradient") and len(ins) == 1:
        if same(ins[0]):
            return ins[0]
    elif name == "transpose" and len(ins) == 1:
        axes = e.params.get("axes")
        if axes is not None and tuple(axes) == tuple(range(len(axes))) and same(ins[0]):
            return ins[0]
    elif name == "negative" and len(ins) == 1 and isinstance(ins[0], Var):
        inner = producer.get(ins[0])
        if inner is not None and inner.prim.name == "negative":
            a = inner.inputs[0]
            if same(a):
                return a
    return None


def _fuse_chain(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """reshape(reshape(x)), broadcast_to(broadcast_to(x)), transpose(transpose(x)): one each."""
    name = e.prim.name
    if name in ("reshape", "broadcast_to") and len(e.inputs) == 1 and isinstance(e.inputs[0], Var):
        inner = producer.get(e.inputs[0])
        if inner is not None and inner.prim is e.prim and set(inner.params) == {"shape"}:
            return Equation(e.prim, [inner.inputs[0]], e.params, e.outvars, e.multiple)
    if name == "transpose" and len(e.inputs) == 1 and isinstance(e.inputs[0], Var):
        inner = producer.get(e.inputs[0])
        outer_axes, inner_axes = e.params.get("axes"), inner and inner.params.get("axes")
        if inner is not None and inner.prim is e.prim and outer_axes and inner_axes:
            # transpose(transpose(x, p), q) = transpose(x, p[q])
            axes = tuple(inner_axes[i] for i in outer_axes)
            return Equation(e.prim, [inner.inputs[0]], {"axes": axes}, e.outvars, e.multiple)
    return e


def _elide_broadcasts(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """A ufunc broadcasts by itself: feed it the unbroadcast input when the shape is kept."""
    if not isinstance(e.prim.impl, np.ufunc) or e.params or e.multiple or len(e.inputs) < 2:
        return e
    out_shape = e.outvars[0].aval.shape
    inputs = list(e.inputs)
    changed = False
    for k, a in enumerate(inputs):
        inner = producer.get(a) if isinstance(a, Var) else None
        if inner is None or inner.prim.name != "broadcast_to" or len(inner.inputs) != 1:
            continue
        src = inner.inputs[0]
        if src.aval is None:
            continue
        trial = inputs[:k] + [src] + inputs[k + 1:]
        shapes = [np.shape(t.value) if isinstance(t, Const) else t.aval.shape for t in trial]
        try:
            if np.broadcast_shapes(*shapes) == out_shape:
                inputs = trial
                changed = True
        except ValueError:
            continue
    return Equation(e.prim, inputs, e.params, e.outvars, e.multiple) if changed else e


def _operand_dtype(a: Any) -> Any:
    """How an input enters NumPy's type resolution: a dtype, or a Python type (weak)."""
    if isinstance(a, Var):
        return a.aval.weak or a.aval.dtype
    v = a.value
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype
    return type(v) if isinstance(v, (bool, int, float, complex)) else None


def _loop(ufunc: np.ufunc, inputs: list) -> tuple | None:
    """The dtypes of the inner loop NumPy picks for these inputs, or None if unknown."""
    dts = [_operand_dtype(a) for a in inputs]
    if any(d is None for d in dts):
        return None
    try:
        return ufunc.resolve_dtypes(tuple(dts) + (None,) * ufunc.nout)
    except (TypeError, ValueError, np.exceptions.DTypePromotionError):
        return None


def _elide_casts(e: Equation, producer: dict[Var, Equation]) -> Equation:
    """A ufunc casts its inputs to its loop's dtypes: feed it the uncast input (a boolean
    mask instead of the mask as floats) when it picks the same loop, so the cast is the same."""
    if not isinstance(e.prim.impl, np.ufunc) or e.params or e.multiple:
        return e
    inputs = list(e.inputs)
    loop = None
    changed = False
    for k, a in enumerate(inputs):
        inner = producer.get(a) if isinstance(a, Var) else None
        if inner is None or inner.prim.name not in ("astype", "astype_nondiff"):
            continue
        src = inner.inputs[0] if len(inner.inputs) == 1 else None
        if not isinstance(src, Var) or src.aval.weak or src.aval.shape != a.aval.shape:
            continue
        if not np.can_cast(src.aval.dtype, a.aval.dtype, "safe"):
            continue
        loop = loop or _loop(e.prim.impl, inputs)
        trial = inputs[:k] + [src] + inputs[k + 1:]
        if loop is not None and _loop(e.prim.impl, trial) == loop:
            inputs = trial
            changed = True
    return Equation(e.prim, inputs, e.params, e.outvars, e.multiple) if changed else e


def _fold(e: Equation) -> list[Const] | None:
    """Evaluate an equation whose inputs are all constants."""
    if not all(isinstance(a, Const) for a in e.inputs) or vars_in(e.params):
        return None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = e.prim.impl(*(a.value for a in e.inputs), **e.params)
    except Exception:  # noqa: BLE001 - leave it to run time, where the error is raised
        return None
    return [Const(o) for o in out] if e.multiple else [Const(out)]


def _sweep(graph: Graph) -> Graph:
    """One forward pass of substitution, constant folding, identities, fusion and CSE."""
    subst: dict[Var, Atom] = {}
    producer: dict[Var, Equation] = {}
    seen: dict[Hashable, Equation] = {}
    kept: list[Equation] = []

    def resolve(a: Any) -> Any:
        while isinstance(a, Var) and a in subst:
            a = subst[a]
        return a

    for e in graph.eqns:
        e = Equation(
            e.prim,
            [resolve(a) for a in e.inputs],
            map_vars(e.params, resolve),
            e.outvars,
            e.multiple,
        )
        folded = _fold(e)
        if folded is not None:
            subst.update(zip(e.outvars, folded))
            continue
        e = _fuse_chain(e, producer)
        same = _identity_input(e, producer)
        if same is not None:
            subst[e.outvars[0]] = same
            continue
        e = _elide_casts(_elide_broadcasts(e, producer), producer)
        try:
            key = (id(e.prim), tuple(_freeze(_atom_key(a)) for a in e.inputs), _freeze(e.params))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in seen:
            subst.update(zip(e.outvars, seen[key].outvars))
            continue
        if key is not None:
            seen[key] = e
        for v in e.outvars:
            producer[v] = e
        kept.append(e)
    return graph.replace(kept, [resolve(a) for a in graph.outvars])


def _atom_key(a: Any) -> Any:
    if isinstance(a, Var):
        return a
    value = a.value
    if isinstance(value, (np.ndarray, np.generic)):
        return value
    return (type(value).__name__, value)


def _dce(graph: Graph) -> Graph:
    """Drop the equations whose outputs nothing uses."""
    live = {a for a in graph.outvars if isinstance(a, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if any(v in live for v in e.outvars):
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
            live.update(vars_in(e.params))
    kept.reverse()
    return graph.replace(kept, graph.outvars)


def simplify(graph: Graph, max_rounds: int = 8) -> Graph:
    """Simplify a graph without changing its results beyond rounding.

    Passes, repeated until nothing changes: constant folding, algebraic identities
    (``x * 1``, ``x + 0``, ``x - 0``, ``x / 1``, ``x ** 1``, ``-(-x)``, reshape, broadcast_to,
    astype or transpose to the same shape and dtype), chains of reshapes or broadcasts as
    one, broadcasts and exact casts elided before ufuncs (which broadcast and cast by
    themselves, picking the same inner loop), common subexpressions, and dead code.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(pb.grad(lambda x: pnp.sum(x * x)), np.ones(2))
        >>> print(simplify(g))
        { lambda ; a:f64[2]. let
            b:f64[2] = add a a
          in (b,) }
    """
    for _ in range(max_rounds):
        before = _fingerprint(graph)
        graph = _dce(_sweep(graph))
        if _fingerprint(graph) == before:
            break
    return graph


def _fingerprint(graph: Graph) -> tuple:
    """What a pass can change: each equation's primitive and inputs, and the outputs."""
    return (
        tuple((id(e.prim), tuple(map(id, e.inputs)), id(e.outvars[0])) for e in graph.eqns),
        tuple(map(id, graph.outvars)),
    )
