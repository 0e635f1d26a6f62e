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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from pullback.compile.passes import simplify
from pullback.compile.values import (
    Atom,
    Const,
    Equation,
    Var,
    map_vars,
    short_dtype,
    vars_in,
)
from pullback.core.tree import PyTreeDef, tree_unflatten
from pullback.core.typing import PyTree

__all__ = ["Graph"]

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

    def names(self) -> dict[Atom, str]:
        """The printed name of every variable: inputs, array constants, then equation outputs."""
        names: dict[Atom, str] = {}

        def add(v: Atom) -> None:
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

    def constvars(self) -> list[Const]:
        """Array constants (not Python scalars), each once, in order of first use."""
        seen: dict[int, Const] = {}
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
        producer: dict[Atom, str] = {}
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
            producer[c] = node
        const_nodes = {id(c.value): producer[c] for c in self.constvars()}

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
        return self.evaluate(leaves)

    def evaluate(self, leaves: Sequence[Any],
                 constant: Callable[[Any], Any] | None = None) -> list[Any]:
        """The output leaves for the input ``leaves`` (unchecked): each equation's primitive
        implementation in turn; ``constant(c)`` is the value used for the graph's constant
        ``c`` (its own value by default: ``pb.jit`` moves them into another library's
        arrays).

        Example:
            >>> import pullback as pb
            >>> pb.make_graph(lambda x: x + 1.0, np.zeros(2)).evaluate([np.ones(2)])
            [array([2., 2.])]
        """
        env: dict[Var, Any] = dict(zip(self.invars, leaves, strict=True))

        def read(a: Any) -> Any:
            if isinstance(a, Var):
                return env[a]
            return a.value if constant is None else constant(a)

        dead = self._dead_after()
        for k, e in enumerate(self.eqns):
            params = map_vars(e.params, lambda v: env[v])
            out = e.prim.impl(*(read(a) for a in e.inputs), **params)
            if e.multiple:
                env.update(zip(e.outvars, out, strict=True))
            else:
                env[e.outvars[0]] = out
            for v in dead[k]:  # an eager library (CuPy) frees the memory now
                env.pop(v, None)
        return [read(a) for a in self.outvars]

    def _dead_after(self) -> list[list[Var]]:
        """For each equation, the variables that nothing after it reads (not outputs)."""
        cached = self.__dict__.get("_dead")
        if cached is not None and len(cached) == len(self.eqns):
            return cast(list[list[Var]], cached)
        last: dict[Var, int] = {}
        for k, e in enumerate(self.eqns):
            for a in list(e.inputs) + vars_in(e.params):
                if isinstance(a, Var):
                    last[a] = k
            for v in e.outvars:
                last.setdefault(v, k)
        keep = {a for a in self.outvars if isinstance(a, Var)}
        dead: list[list[Var]] = [[] for _ in self.eqns]
        for v, k in last.items():
            if v not in keep:
                dead[k].append(v)
        self.__dict__["_dead"] = dead
        return dead

    def unflatten_outputs(self, leaves: Sequence[Any]) -> PyTree:
        """The output leaves in the function's output structure.

        Example:
            >>> import pullback as pb
            >>> g = pb.make_graph(lambda x: {"y": x * 2.0}, np.ones(1))
            >>> g.unflatten_outputs(g(np.array([3.0])))
            {'y': array([6.])}
        """
        if self.out_tree is None:
            raise ValueError(
                f"Graph {self.name}: unflatten_outputs needs the output structure, and this "
                "graph was built without one; make it with pb.make_graph"
            )
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
        return str(v.name)
    if isinstance(v, type) and issubclass(v, np.generic):
        return str(np.dtype(v).name)
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
