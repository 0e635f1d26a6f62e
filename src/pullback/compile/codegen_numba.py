"""The Numba backend of ``pb.jit``: fused kernels as explicit loops, compiled by Numba.

The graph is fused first (:func:`pullback.compile.fusion.fuse`); each kernel becomes one
function of explicit loops over the loop shape, reading each input where it broadcasts and
keeping the intermediate values of an element in registers; reductions accumulate as the
loop runs, in the result's dtype and in the loop's order (NumPy's own order along a leading
axis; along the last axis NumPy sums pairwise, so the last bits may differ). Everything else
(matrix products on BLAS, indexing, linear algebra) stays the NumPy code of
:mod:`pullback.compile.codegen_numpy`, which calls the kernels. The kernels of one graph
are written to one Python file named by the hash of its source, in the cache directory
(``$PULLBACK_CACHE_DIR``, else ``$XDG_CACHE_HOME/pullback`` or ``~/.cache/pullback``), and
compiled with ``cache=True``: Numba keeps the machine code beside it, so the next process
that compiles the same kernels loads them instead.

Where the body calls functions (sin, exp...), each element is a chain of calls that wait
for each other; the innermost loop then computes :data:`LANES` consecutive elements a pass,
statement by statement, so that the processor overlaps their chains (the same operations in
the same order for each element, so the same results; a sum still adds the elements in
order). Float64 functions are spelled with ``math`` (the same libm functions as Numba's
``np.*`` on scalars, which Numba types several times slower: compiling a long chain).

A kernel fills arrays that the calling code makes and passes in (an array returned by a
Numba function costs about 0.5 µs to box, ``np.empty`` about 0.2 µs), and returns only its
reductions. A kernel output that only goes into ``scatter_add`` (the gradient of a slice),
then maybe ``add_at`` with another output of the same kernel, is added straight into views
of one buffer of zeros: ``buf = zeros; k(..., buf[0::2], buf[1::2])``, no temporaries.

Layouts (:func:`_layouts`): a product ``x @ W.T`` of matrices is computed as
``(W @ x.T).T`` (BLAS is faster on it), its result column-major, and the kernels that read
mostly column-major arrays loop down the columns and write column-major arrays, so that the
next products read them as the row-major transposes BLAS likes.

With ``threads > 1`` the outermost loop is a ``prange`` (``parallel=True``) where no
reduction crosses it, and Numba runs on that many threads.

Numba is optional (the ``fast`` extra): :func:`available` says whether it can be imported.
``executor="python"`` runs the same kernel source with CPython instead (slow, for tests).

Example (a body that calls a function: four elements a pass, interleaved, then the rest):
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> from pullback.compile.fusion import fuse
    >>> g = fuse(pb.make_graph(lambda x: pnp.sum(pnp.exp(x) * x), np.ones(5)), min_size=1)
    >>> print(kernel_source(g.eqns[0].params["kernel"]))  # doctest: +NORMALIZE_WHITESPACE
    def k0(in0):
        acc0 = 0.0
        for j in range(0, 4, 4):
            i0_0 = j + 0
            i0_1 = j + 1
            i0_2 = j + 2
            i0_3 = j + 3
            v0_0 = in0[i0_0]
            v0_1 = in0[i0_1]
            v0_2 = in0[i0_2]
            v0_3 = in0[i0_3]
            v1_0 = math.exp(v0_0)
            v1_1 = math.exp(v0_1)
            v1_2 = math.exp(v0_2)
            v1_3 = math.exp(v0_3)
            v2_0 = (v1_0 * v0_0)
            v2_1 = (v1_1 * v0_1)
            v2_2 = (v1_2 * v0_2)
            v2_3 = (v1_3 * v0_3)
            acc0 += v2_0
            acc0 += v2_1
            acc0 += v2_2
            acc0 += v2_3
        for i0 in range(4, 5):
            v0 = in0[i0]
            v1 = math.exp(v0)
            v2 = (v1 * v0)
            acc0 += v2
        r0 = acc0
        return (r0,)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pullback.compile.codegen_numpy import _basic_index, _Emitter, add_at_p, compile_graph, rewrite
from pullback.compile.fusion import REDUCTIONS, Kernel, fuse, fused_p, loop_dtypes, uniform
from pullback.compile.ir import Graph
from pullback.compile.values import Const, Equation, Var, vars_in

__all__ = ["available", "compile_graph_numba", "kernel_source"]

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_BOOL = np.dtype(np.bool_)

# fmt: off
_OPS: dict[str, str] = {
    "add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
    "divide": "({0} / {1})", "negative": "(-{0})", "power": "({0} ** {1})",
    "square": "({0} * {0})", "reciprocal": "({one} / {0})",
    "absolute": "abs({0})", "fabs": "abs({0})",
    "maximum": "({0} if ({0} >= {1} or {0} != {0}) else {1})",
    "minimum": "({0} if ({0} <= {1} or {0} != {0}) else {1})",
    "greater": "({0} > {1})", "greater_equal": "({0} >= {1})", "less": "({0} < {1})",
    "less_equal": "({0} <= {1})", "equal": "({0} == {1})", "not_equal": "({0} != {1})",
    "logical_and": "({0} and {1})", "logical_or": "({0} or {1})",
    "logical_xor": "({0} != {1})", "logical_not": "(not {0})",
}
# fmt: on
#: float64 functions spelled with ``math`` (the same libm functions as Numba's ``np.*`` on a
#: scalar, typed far faster: the compilation of a long chain takes a fraction of the time)
_MATH: dict[str, str] = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp",
    "expm1": "expm1", "log1p": "log1p",
}
#: how many elements of the innermost loop one pass of it computes, interleaved statement by
#: statement, when its body calls functions (sin, exp...): each element's chain of calls is
#: serial, and the processor overlaps the independent chains of neighbouring elements
LANES = 4

_NUMBA: Any = None
#: what runs the kernels: "numba", or "python" (the same source run by CPython, for tests)
EXECUTOR = "numba"


def available() -> bool:
    """Whether Numba can be imported (``pip install 'pullback[fast]'``).

    Example:
        >>> isinstance(available(), bool)
        True
    """
    return importlib.util.find_spec("numba") is not None


def _numba() -> Any:
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = importlib.import_module("numba")
    return _NUMBA


def cache_dir() -> Path:
    """Where kernel sources and Numba's compiled code are kept."""
    root = os.environ.get("PULLBACK_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "pullback"
    path = base / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.touch()
    except OSError:
        path = Path(tempfile.gettempdir()) / "pullback-kernels"
        path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------- kernel source


def _literal(value: Any, dtype: np.dtype) -> str:
    """A constant in the kernel, in ``dtype``."""
    if dtype == _BOOL:
        return repr(bool(value))
    v = float(np.asarray(value, dtype=dtype).item()) if dtype.kind == "f" else value
    if v != v:
        text = "np.nan"
    elif v in (float("inf"), float("-inf")):
        text = "np.inf" if v > 0 else "(-np.inf)"
    else:
        text = repr(float(v))
    return text if dtype == _F64 else f"np.{dtype.name}({text})"


def _cast(expr: str, src: np.dtype, dst: np.dtype) -> str:
    if src == dst:
        return expr
    if dst == _BOOL:
        return f"({expr} != 0)"
    if src == _BOOL:
        return f"np.{dst.name}(1.0 if {expr} else 0.0)"
    return f"np.{dst.name}({expr})"


def _by_column(kernel: Kernel, parallel: bool, column_major: bool) -> bool:
    """Whether a kernel loops column by column with its sums in registers: a column-major
    matrix kernel whose reductions all run along its columns (see ``_KernelWriter.columns``)."""
    return column_major and len(kernel.shape) == 2 and not parallel and bool(
        kernel.reductions) and all(tuple(r.params["axes"]) == (0,) for r in kernel.reductions)


class _KernelWriter:
    def __init__(self, kernel: Kernel, parallel: bool, sinks: frozenset[int] = frozenset(),
                 column_major: bool = False):
        self.k = kernel
        self.sinks = sinks  # outputs added into a buffer (a view passed in) instead of set
        self.parallel = parallel
        self.shape = kernel.shape
        self.d = len(kernel.shape)
        # the loops' axes, outermost first: the last axis innermost (row-major arrays), or
        # the first (column-major arrays, see _layouts)
        self.order = list(range(self.d))[::-1] if column_major else list(range(self.d))
        # a column-major matrix kernel whose reductions all run along its columns (the inner
        # loop): each column's sums in registers (see columns())
        self.by_column = _by_column(kernel, parallel, column_major)
        self.stores: list[str] = []  # after a column's loop: its registers into the buffers
        self.inits: list[str] = []  # before it: the registers' initial values
        self.names: dict[Any, str] = {}  # Var (or id of a Const) -> scalar name in the loop
        self.dtypes: dict[Any, np.dtype] = {}
        self.args: dict[Any, str] = {}  # input atom key -> argument name
        self.pre: list[str] = []  # before the loops
        self.body: list[str] = []  # inside the innermost loop
        self.post: list[str] = []  # after the loops
        self.count = 0
        self.calls = False  # whether the body calls functions (then its elements interleave)
        for n, a in enumerate(kernel.inputs):
            self.args[self._key(a)] = f"in{n}"

    @staticmethod
    def _key(a: Any) -> Any:
        return a if isinstance(a, Var) else id(a.value)

    def fresh(self) -> str:
        self.count += 1
        return f"v{self.count - 1}"

    def index(self, shape: tuple[int, ...]) -> str:
        """The subscript of an input of ``shape`` broadcast to the loop shape."""
        r = len(shape)
        parts = []
        for j, s in enumerate(shape):
            axis = self.d - r + j
            parts.append("0" if s == 1 else f"i{axis}")
        return ", ".join(parts)

    def operand(self, a: Any) -> tuple[str, np.dtype]:
        """A name (or literal) for input atom ``a`` and its dtype."""
        if isinstance(a, Var):
            if a in self.names:
                return self.names[a], self.dtypes[a]
            arg = self.args[a]
            name = self.fresh()
            if a.aval.ndim == 0:  # passed as a Python scalar: restored to its dtype
                self.pre.append(f"{name} = {_cast(arg, _F64, a.aval.dtype)}"
                                if a.aval.dtype != _BOOL else f"{name} = {arg}")
            else:
                self.body.append(f"{name} = {arg}[{self.index(a.aval.shape)}]")
            self.names[a], self.dtypes[a] = name, a.aval.dtype
            return name, a.aval.dtype
        value = a.value
        if isinstance(value, np.ndarray) and value.ndim and uniform(value):
            return _literal(value.flat[0], value.dtype), value.dtype  # one value: inlined
        if isinstance(value, np.ndarray) and value.ndim:
            arg = self.args[id(value)]
            name = self.fresh()
            self.body.append(f"{name} = {arg}[{self.index(value.shape)}]")
            return name, value.dtype
        if isinstance(value, (np.ndarray, np.generic)):
            return _literal(value, value.dtype), value.dtype
        if isinstance(value, bool):
            return repr(value), _BOOL
        return _literal(value, _F64), _F64  # weak: cast to the loop's dtype below

    def typed_operand(self, a: Any, dtype: np.dtype) -> str:
        """Input ``a`` as a value of ``dtype`` (Python numbers written in it directly)."""
        if isinstance(a, Const) and not isinstance(a.value, (np.ndarray, np.generic)):
            return _literal(a.value, dtype)
        expr, src = self.operand(a)
        return _cast(expr, src, dtype)

    def equation(self, e: Equation) -> None:
        out = e.outvars[0]
        dt = out.aval.dtype
        name = e.prim.name
        if name in REDUCTIONS:
            self.reduction(e)
            return
        if name == "where":
            cond = self.typed_operand(e.inputs[0], _BOOL)
            a = self.typed_operand(e.inputs[1], dt)
            b = self.typed_operand(e.inputs[2], dt)
            expr = f"({a} if {cond} else {b})"
        elif name in ("astype", "astype_nondiff"):
            x, src = self.operand(e.inputs[0])
            expr = _cast(x, src, dt)
        elif name == "broadcast_to":
            expr, _ = self.operand(e.inputs[0])
        else:
            loop = loop_dtypes(e)
            assert loop is not None  # checked by the fusion pass
            ops = [self.typed_operand(a, t) for a, t in zip(e.inputs, loop[:-1], strict=True)]
            template = _OPS.get(name)
            if template is None and name in _MATH and loop[0] == _F64:
                expr = f"math.{_MATH[name]}({', '.join(ops)})"
                self.calls = True
            elif template is None:
                expr = f"np.{name}({', '.join(ops)})"
                self.calls = True
            else:
                one = _literal(1.0, loop[0])
                expr = template.format(*ops, one=one)
            if dt == _F32:
                expr = f"np.float32({expr})"
        v = self.fresh()
        self.body.append(f"{v} = {expr}")
        self.names[out], self.dtypes[out] = v, dt

    def reduction(self, e: Equation) -> None:
        x, _ = self.operand(e.inputs[0])
        out = e.outvars[0]
        axes = tuple(e.params["axes"])
        kind = e.prim.name
        dt = out.aval.dtype
        k = len(self.post)
        acc_dt = dt  # NumPy's accumulator: the same sums as NumPy's along a leading axis
        init = {"sum": "0.0", "max": "-np.inf", "min": "np.inf"}[kind]
        if acc_dt != _F64:
            init = f"np.{acc_dt.name}({init})"
        better = ">" if kind == "max" else "<"
        result = f"r{k}"
        kept = [a for a in range(self.d) if a not in axes]
        if not kept:  # one accumulator
            acc = f"acc{k}"
            self.pre.append(f"{acc} = {init}")
            if kind == "sum":
                self.body.append(f"{acc} += {x}")
            else:
                self.body.append(f"if {x} {better} {acc} or {x} != {x}:\n    {acc} = {x}")
            value = acc if dt == acc_dt else f"np.{dt.name}({acc})"
            if out.aval.ndim:
                self.post.append(f"{result} = np.full({out.aval.shape!r}, {value}, np.{dt.name})")
            else:
                self.post.append(f"{result} = {value}")
        else:
            buf = f"red{k}"
            shape = tuple(self.shape[a] for a in kept)
            fill = "np.zeros" if kind == "sum" else "np.full"
            fill_args = f"({', '.join(map(str, shape))},)"
            if kind == "sum":
                self.pre.append(f"{buf} = np.zeros({fill_args}, np.{acc_dt.name})")
            else:
                self.pre.append(f"{buf} = {fill}({fill_args}, {init}, np.{acc_dt.name})")
            idx = ", ".join(f"i{a}" for a in kept)
            if self.by_column:  # a register for the column (see columns())
                reg = f"q{k}"
                self.inits.append(f"{reg} = {init}")
                self.stores.append(f"{buf}[{idx}] = {reg}")
                if kind == "sum":
                    self.body.append(f"{reg} += {x}")
                else:
                    self.body.append(f"if {x} {better} {reg} or {x} != {x}:\n    {reg} = {x}")
            elif kind == "sum":
                self.body.append(f"{buf}[{idx}] += {x}")
            else:
                t = self.fresh()
                # one statement: interleaved lanes must not read the element before another
                # lane's write to it
                self.body.append(f"{t} = {buf}[{idx}]\nif {x} {better} {t} or {x} != {x}:\n"
                                 f"    {buf}[{idx}] = {x}")
            value = buf if dt == acc_dt else f"{buf}.astype(np.{dt.name})"
            if tuple(out.aval.shape) != shape:
                value = f"{value}.reshape({out.aval.shape!r})"
            self.post.append(f"{result} = {value}")
        self.names[out] = result

    def interleaved(self, lanes: int) -> list[str]:
        """The body for ``lanes`` consecutive elements ``j, j + 1, ...`` of the innermost axis,
        statement by statement (each element's names suffixed with its lane). A statement of
        several lines (reading an element of a buffer, then writing it) is one unit: lanes
        that share the element update it one after the other."""
        last = f"i{self.order[-1]}"
        local = {last} | {stmt.split(" = ", 1)[0] for stmt in self.body
                          if re.match(r"v\d+ = ", stmt)}
        pattern = re.compile(r"\b(v\d+|i\d+)\b")
        out = [f"{last}_{lane} = j + {lane}" for lane in range(lanes)]
        for stmt in self.body:
            for lane in range(lanes):
                text = pattern.sub(
                    lambda m, lane=lane: f"{m[1]}_{lane}" if m[1] in local else m[1], stmt)
                out += text.split("\n")
        return out

    def columns(self) -> list[str]:
        """The loops of a column-major matrix kernel whose reductions run along its columns:
        column by column, each column's sums in registers (``q0``...), stored after its loop.
        The kernel is compiled with ``fastmath={"reassoc"}`` so that LLVM may vectorize
        those sums along the column (partial sums, as NumPy's pairwise sums along a
        contiguous axis: the last bits of a sum, or of a chain of additions in the body, may
        differ from NumPy's; NaNs and infinities keep their meaning)."""
        rows, cols = self.shape
        lines = [f"    for i1 in range({cols}):"]
        lines += ["        " + s for s in self.inits]
        lines.append(f"        for i0 in range({rows}):")
        lines += ["            " + t for s in self.body for t in s.split("\n")]
        lines += ["        " + s for s in self.stores]
        return lines

    def epilogue(self, outputs: list[tuple[int, Var]]) -> list[str]:
        """The loops after the main one: the epilogue's equations on the reductions' results
        (read as arrays, or as scalars for whole-array reductions), writing ``outputs``."""
        k = self.k
        shape = k.epilogue[0].outvars[0].aval.shape
        reduced = {e.outvars[0]: self.names[e.outvars[0]] for e in k.reductions}
        self.shape, self.d = shape, len(shape)
        self.names, self.dtypes, self.body = {}, {}, []
        for v, r in reduced.items():
            if v.aval.ndim == 0:
                self.names[v], self.dtypes[v] = r, v.aval.dtype
            else:
                self.args[v] = r
        before = len(self.pre)
        for e in k.epilogue:
            self.equation(e)
        for n, v in outputs:
            op = "+=" if n in self.sinks else "="
            self.body.append(f"out{n}[{self.index(v.aval.shape)}] {op} {self.names[v]}")
        lines = ["    " + s for s in self.pre[before:]]
        indent = "    "
        for a, n in enumerate(shape):
            lines.append(f"{indent}for i{a} in range({n}):")
            indent += "    "
        lines += [indent + s for stmt in self.body for s in stmt.split("\n")]
        return lines

    def source(self) -> str:
        k = self.k
        post = {id(e) for e in k.epilogue}
        post_vars = {e.outvars[0] for e in k.epilogue}
        for e in k.eqns:
            if id(e) not in post:
                self.equation(e)
        outs: list[str] = []
        params = [f"in{n}" for n in range(len(k.inputs))]
        post_outputs: list[tuple[int, Var]] = []
        for n, v in enumerate(k.outputs):
            if v in post_vars:
                params.append(f"out{n}")
                post_outputs.append((n, v))
                continue
            if v in self.names and self.names[v].startswith("r"):
                outs.append(self.names[v])
                continue
            o = f"out{n}"  # passed in: an array made by the caller, or a view of a buffer
            params.append(o)
            op = "+=" if n in self.sinks else "="
            self.body.append(f"{o}[{self.index(v.aval.shape)}] {op} {self.names[v]}")
        lines = [f"def {k.name}({', '.join(params)}):"]
        lines += ["    " + s for s in self.pre]
        # prange over the first axis when no reduction crosses it (a race otherwise)
        # ... and when at most one output is added into a buffer (two may add into the same
        # element from different iterations of the outer loop)
        outer, last = self.order[0], self.order[-1]
        par = self.parallel and len(self.sinks) <= 1 and not any(
            outer in e.params["axes"]
            and (len(e.params["axes"]) < self.d or e.prim.name != "sum")
            for e in k.reductions
        )
        if self.by_column:
            lines += self.columns()
        indent = "    "
        for a in ([] if self.by_column else self.order[:-1]):
            rng = "prange" if a == outer and par else "range"
            lines.append(f"{indent}for i{a} in {rng}({self.shape[a]}):")
            indent += "    "
        n = self.shape[last]
        # in parallel, a sum of everything is a reduction of the prange, which Numba refuses
        # when two inner loops (the interleaved one and the rest) add into it
        whole = any(len(e.params["axes"]) == self.d for e in k.reductions)
        lanes = LANES if self.calls and n >= LANES and not (
            par and (self.d == 1 or whole)) else 1
        full = n - n % lanes if lanes > 1 else 0  # elements done by the interleaved loop
        if self.by_column:
            pass
        elif full:
            lines.append(f"{indent}for j in range(0, {full}, {lanes}):")
            lines += [indent + "    " + s for s in self.interleaved(lanes)]
        if full < n and not self.by_column:
            rng = "prange" if self.d == 1 and par else "range"
            span = f"{full}, {n}" if full else f"{n}"
            lines.append(f"{indent}for i{last} in {rng}({span}):")
            lines += [indent + "    " + s for stmt in self.body for s in stmt.split("\n")]
        lines += ["    " + s for s in self.post]
        if k.epilogue:
            lines += self.epilogue(post_outputs)
        lines.append(f"    return ({', '.join(outs)},)" if outs else "    return None")
        return "\n".join(lines)


def kernel_source(kernel: Kernel, parallel: bool = False,
                  sinks: frozenset[int] = frozenset(), column_major: bool = False) -> str:
    """The Python source of one kernel: explicit loops, one scalar per intermediate value.

    The arrays it fills are arguments after the inputs (made by the caller, or views of a
    buffer of zeros that the outputs in ``sinks`` are added into); it returns its reductions.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> from pullback.compile.fusion import fuse, kernels
        >>> g = pb.make_graph(lambda x: pnp.sin(x) * 2.0, np.ones(3))
        >>> print(kernel_source(kernels(fuse(g, min_size=1))[0]))
        def k0(in0, out0):
            for i0 in range(3):
                v0 = in0[i0]
                v1 = math.sin(v0)
                v2 = (v1 * 2.0)
                out0[i0] = v2
            return None
    """
    return _KernelWriter(kernel, parallel, sinks, column_major).source()


# ----------------------------------------------------------------------------- compilation

_HEADER = """\
# Kernels generated by pullback.jit (backend="numba"); a file per graph, named by its hash.
import math

import numpy as np
from numba import njit, prange

"""
_DECORATOR = '@njit(cache=True, error_model="numpy", nogil=True{parallel})\n'
_REASSOC = '@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})\n'
_modules: dict[str, Any] = {}


def _load_module(source: str) -> Any:
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    mod = _modules.get(digest)
    if mod is not None:
        return mod
    name = f"pullback_kernels_{digest}"
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _modules[digest] = mod
    return mod


class _PythonKernels:
    """The kernels' source run by CPython (``executor="python"``): the same loops, slowly."""

    def __init__(self, source: str):
        # math.* in the kernels as NumPy's functions (CPython's math raises on domain errors)
        shim = types.SimpleNamespace(**{m: getattr(np, f) for f, m in _MATH.items()})
        ns: dict[str, Any] = {"np": np, "math": shim, "prange": range}
        exec(compile(source, "<pullback kernels>", "exec"), ns)  # noqa: S102 - our own source
        self.ns = ns

    def __getattr__(self, name: str) -> Any:
        return self.ns[name]


def _view_shape(shape: tuple[int, ...], idx: tuple) -> tuple[int, ...]:
    """The shape of ``buffer[idx]`` for a buffer of ``shape`` (nothing allocated)."""
    return tuple(np.broadcast_to(np.empty((), np.int8), shape)[idx].shape)


def _sinks(graph: Graph) -> tuple[dict[int, dict[int, tuple[Var, tuple]]], dict[int, Var]]:
    """Kernel outputs that only go into a buffer of zeros at a basic index.

    ``scatter_add(t, idx)`` of a kernel's output ``t`` (read nowhere else), then maybe
    ``add_at(that, r, idx2)`` of another output ``r`` of the same kernel, and so on: the
    caller makes the buffer of zeros and passes the kernel views of it, which the kernel adds
    its results into (no array for ``t`` or ``r``, no second pass).

    Returns ``{id(fused equation): {output position: (buffer variable, idx)}}`` and
    ``{id(absorbed equation): the variable it aliases}``.
    """
    uses: dict[Var, int] = {}
    for e in graph.eqns:
        for a in list(e.inputs) + vars_in(e.params):
            if isinstance(a, Var):
                uses[a] = uses.get(a, 0) + 1
    for a in graph.outvars:
        if isinstance(a, Var):
            uses[a] = uses.get(a, 0) + 2
    made_by: dict[Var, tuple[Equation, int]] = {}
    for e in graph.eqns:
        if e.prim is fused_p:
            k: Kernel = e.params["kernel"]
            reduced = {r.outvars[0] for r in k.reductions}
            for n, v in enumerate(k.outputs):
                if v not in reduced:
                    made_by[v] = (e, n)
    readers: dict[Var, Equation] = {}
    for e in graph.eqns:
        for a in e.inputs:
            if isinstance(a, Var) and uses.get(a) == 1:
                readers[a] = e

    def fits(t: Any, shape: tuple, dtype: Any, idx: Any) -> bool:
        return isinstance(t, Var) and uses.get(t) == 1 and t in made_by and \
            _basic_index(idx) and t.aval.dtype == np.dtype(dtype) and \
            tuple(t.aval.shape) == _view_shape(shape, idx)

    sinks: dict[int, dict[int, tuple[Var, tuple]]] = {}
    absorbed: dict[int, Var] = {}
    for e in graph.eqns:
        if e.prim.name != "scatter_add" or set(e.params) != {"shape", "dtype", "idx"}:
            continue
        t = e.inputs[0]
        shape, idx = tuple(e.params["shape"]), e.params["idx"]
        if len(e.inputs) != 1 or not fits(t, shape, e.params["dtype"], idx):
            continue
        f, n = made_by[t]
        buf = e.outvars[0]
        chain = {n: idx}
        absorbed_here = {id(e): buf}
        last = buf
        while True:  # add_at(last, r, idx2) with r another output of the same kernel
            a = readers.get(last)
            if a is None or a.prim is not add_at_p or a.inputs[0] is not last:
                break
            r, idx2 = a.inputs[1], a.params["idx"]
            if not fits(r, shape, buf.aval.dtype, idx2) or made_by[r][0] is not f \
                    or made_by[r][1] in chain:
                break
            chain[made_by[r][1]] = idx2
            absorbed_here[id(a)] = last
            last = a.outvars[0]
        entry = sinks.setdefault(id(f), {})
        if any(m in entry for m in chain):
            continue
        for m, ix in chain.items():
            entry[m] = (buf, ix)
        absorbed.update(absorbed_here)
    return sinks, absorbed


#: the fewest rows and columns of a matrix product that :func:`_layouts` computes transposed
FLIP_MIN = 32
_BLAS = frozenset({_F32, _F64})


def _column_outputs(e: Equation, outputs: set[Var]) -> list[Var]:
    """The outputs of fused equation ``e`` that a column-major kernel writes column-major:
    those of the loop's shape that are not reductions, epilogue results or graph outputs
    (returned arrays keep NumPy's row-major order)."""
    k: Kernel = e.params["kernel"]
    skip = {r.outvars[0] for r in k.reductions} | {q.outvars[0] for q in k.epilogue}
    return [v for v in k.outputs
            if v not in skip and v not in outputs and tuple(v.aval.shape) == tuple(k.shape)]


def _layouts(graph: Graph, sinks: dict[int, dict[int, tuple[Var, tuple]]]
             ) -> tuple[set[int], set[int]]:
    """Which matrix products to compute transposed, which kernels to loop column-major.

    The layouts are those of the traced graph: inputs row-major, a transpose of a matrix
    the other layout (a call with other layouts runs the same code, as fast as NumPy would).
    OpenBLAS's float32 product is slower on ``a @ b`` when ``b`` is a transposed matrix
    (``x @ W.T``, a layer of a network) and the result has fewer rows than columns than on
    the same numbers as ``(b.T @ a.T).T`` (7-8% on the layers of an MLP 784-256-256 at
    batch 128, up to 30% at batch 32; float64 shows no such difference): such a product (at
    least :data:`FLIP_MIN` rows and columns, not returned: results keep NumPy's row-major
    order) is computed transposed, its result column-major; so is a float32 or float64
    product whose readers are all kernels that read more bytes of column-major arrays than
    of row-major ones (a gradient meeting the ReLU masks of the forward pass). A 2-d kernel
    that reads more column-major bytes than row-major ones loops with its first axis
    innermost and writes its outputs column-major (the next layer's product reads them as
    the row-major transposes BLAS likes): strided reads cost a kernel several times its
    time. Its reductions along the rows add in the same order
    either way; sums down the columns go into registers, vectorized (``_by_column``); a
    kernel that reduces over both axes, or adds into a buffer, keeps the row-major loops.

    Returns the ids of the ``matmul`` equations to transpose and of the ``fused`` equations
    to loop column-major.
    """
    lay: dict[Var, str] = {v: "C" for v in graph.invars if v.aval.ndim == 2}
    outputs = {a for a in graph.outvars if isinstance(a, Var)}

    def layout(a: Any) -> str | None:
        if isinstance(a, Var):
            return lay.get(a)
        v = a.value if isinstance(a, Const) else None
        if isinstance(v, np.ndarray) and v.ndim == 2:
            return "C" if v.flags.c_contiguous else "F" if v.flags.f_contiguous else None
        return None

    readers: dict[Var, list[Equation]] = {}
    for e in graph.eqns:
        for a in dict.fromkeys(x for x in list(e.inputs) + vars_in(e.params)
                               if isinstance(x, Var)):
            readers.setdefault(a, []).append(e)
    for a in outputs:
        readers.setdefault(a, []).append(None)  # type: ignore[arg-type]
    flips: set[int] = set()
    columns: set[int] = set()
    for e in graph.eqns:
        name = e.prim.name
        if name == "transpose" and len(e.inputs) == 1 and e.outvars[0].aval.ndim == 2 \
                and tuple(e.params.get("axes", ())) == (1, 0):
            src = layout(e.inputs[0])
            if src is not None:
                lay[e.outvars[0]] = "F" if src == "C" else "C"
        elif name == "matmul" and not e.params and len(e.inputs) == 2 and not e.multiple:
            a, b = e.inputs
            out = e.outvars[0].aval
            if not (isinstance(a, (Var, Const)) and isinstance(b, (Var, Const))
                    and a.aval is not None and b.aval is not None
                    and a.aval.ndim == 2 and b.aval.ndim == 2):
                continue
            blas = out.dtype in _BLAS and a.aval.dtype == b.aval.dtype == out.dtype \
                and min(out.shape) >= FLIP_MIN and e.outvars[0] not in outputs
            faster = out.dtype == _F32 and out.shape[0] < out.shape[1] and layout(b) == "F"
            if blas and (faster or _wanted(e.outvars[0], readers, layout) == "F"):
                flips.add(id(e))
                lay[e.outvars[0]] = "F"
            else:
                lay[e.outvars[0]] = "C"
        elif e.prim is fused_p:
            k: Kernel = e.params["kernel"]
            if len(k.shape) != 2:
                continue
            weight = {"C": 0, "F": 0}
            for a in k.inputs:
                where = layout(a)
                if where is not None and a.aval is not None \
                        and tuple(a.aval.shape) == tuple(k.shape):
                    weight[where] += a.aval.size * a.aval.dtype.itemsize
            column = weight["F"] > weight["C"] and id(e) not in sinks and not any(
                len(r.params["axes"]) > 1 for r in k.reductions)
            if column:
                columns.add(id(e))
            for v in _column_outputs(e, outputs):
                lay[v] = "F" if column else "C"
    return flips, columns


def _wanted(v: Var, readers: dict[Var, list[Equation]], layout: Callable[[Any], str | None]
            ) -> str | None:
    """The layout the readers of ``v`` want, when all of them are 2-d kernels of its shape:
    that of the most bytes among their other inputs of that shape whose layout is known."""
    weight = {"C": 0, "F": 0}
    for r in readers.get(v, [None]):
        if r is None or r.prim is not fused_p or tuple(r.params["kernel"].shape) != \
                tuple(v.aval.shape):
            return None
        for a in r.params["kernel"].inputs:
            where = layout(a) if a is not v else None
            if where is not None and a.aval is not None and a.aval.shape == v.aval.shape:
                weight[where] += a.aval.size * a.aval.dtype.itemsize
    return "F" if weight["F"] > weight["C"] else "C" if weight["C"] else None


class _NumbaEmitter(_Emitter):
    """The NumPy emitter, with ``fused`` equations as calls of compiled kernels; the arrays a
    kernel fills are made here and passed in (cheaper than arrays returned by Numba)."""

    def __init__(self, graph: Graph, kernels: Any,
                 sinks: dict[int, dict[int, tuple[Var, tuple]]], absorbed: dict[int, Var],
                 flips: set[int] | None = None, columns: set[int] | None = None):
        super().__init__(graph)
        self.kernels = kernels
        self.sinks = sinks
        self.absorbed = absorbed
        self.flips = flips or set()  # matrix products computed transposed (see _layouts)
        self.columns = columns or set()  # kernels that loop column-major
        self.outputs = {a for a in graph.outvars if isinstance(a, Var)}

    def statement(self, e: Equation, outs: str) -> list[str]:
        if id(e) in self.absorbed:  # done by the kernel that fills the buffer
            same = self.names[self.absorbed[id(e)]]
            return [] if outs == same else [f"{outs} = {same}"]
        if id(e) in self.flips:  # a @ b as (b.T @ a.T).T: a column-major result
            a, b = (self.value(x) for x in e.inputs)
            return [f"{outs} = ({b}.T @ {a}.T).T"]
        if e.prim is not fused_p:
            return super().statement(e, outs)
        k: Kernel = e.params["kernel"]
        column = set(_column_outputs(e, self.outputs)) if id(e) in self.columns else set()
        fn = f"_kernel_{k.name}"
        self.namespace[fn] = getattr(self.kernels, k.name)
        args = []
        for a in k.inputs:
            s = self.value(a)
            if isinstance(a, Var) and a.aval.ndim == 0:
                s = f"bool({s})" if a.aval.dtype == _BOOL else f"float({s})"
            args.append(s)
        lines = []
        sinks = self.sinks.get(id(e), {})
        made: set[Var] = set()
        reduced = {r.outvars[0] for r in k.reductions}
        results = []
        for n, v in enumerate(k.outputs):
            name = self.names[v]
            if v in reduced:
                results.append(name)
                continue
            if n in sinks:
                buf, idx = sinks[n]
                if buf not in made:
                    made.add(buf)
                    dt = self.const(buf.aval.dtype, f"dt_{buf.aval.dtype.name}_")
                    lines.append(f"{self.names[buf]} = _np.zeros({buf.aval.shape!r}, {dt})")
                lines.append(f"{name} = {self.names[buf]}[{self.index(idx)}]")
            else:
                dt = self.const(v.aval.dtype, f"dt_{v.aval.dtype.name}_")
                order = ', order="F"' if v in column else ""
                lines.append(f"{name} = _np.empty({v.aval.shape!r}, {dt}{order})")
            args.append(name)
        call = f"{fn}({', '.join(args)})"
        if results:
            lines.append(f"{', '.join(results)}, = {call}")
        else:
            lines.append(call)
        for v in k.outputs:
            if v in reduced and v.aval.ndim == 0:  # a Python float from Numba: NumPy's type
                name = self.names[v]
                lines.append(f"{name} = {self.const(v.aval.dtype.type, 't')}({name})")
        return lines


def compile_graph_numba(
    graph: Graph,
    name: str = "compiled",
    threads: int = 1,
    executor: str | None = None,
    min_ops: int | None = None,
    min_size: int | None = None,
) -> tuple[Callable[..., Any], str, bool, Graph]:
    """Fuse ``graph``, compile its kernels and the code around them.

    Returns ``(function, source, structured, fused_graph)``; ``source`` is the Python
    function followed by the kernels' source. ``executor="python"`` runs the kernels with
    CPython (no Numba needed, for tests); by default :data:`EXECUTOR`.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(lambda x: pnp.sum(pnp.exp(x) * x), np.zeros(100))
        >>> fn, _, _, _ = compile_graph_numba(g, executor="python")
        >>> float(fn(np.zeros(100)))
        0.0
    """
    executor = EXECUTOR if executor is None else executor
    fused = fuse(rewrite(graph), min_ops, min_size)
    fused_eqns = [e for e in fused.eqns if e.prim is fused_p]
    ks = [e.params["kernel"] for e in fused_eqns]
    sinks, absorbed = _sinks(fused)
    flips, columns = _layouts(fused, sinks)
    parallel = threads > 1
    deco = _DECORATOR.format(parallel=", parallel=True" if parallel else "")
    ksrc = "\n\n".join(
        (_REASSOC if _by_column(e.params["kernel"], parallel, id(e) in columns) else deco)
        + kernel_source(e.params["kernel"], parallel, frozenset(sinks.get(id(e), {})),
                        id(e) in columns)
        for e in fused_eqns
    )
    module_source = _HEADER + ksrc + "\n"
    if not ks:
        kernels: Any = None
    elif executor == "python":
        kernels = _PythonKernels(module_source.replace("from numba import njit, prange\n", "")
                                 .replace("import math\n", "")
                                 .replace(deco, "").replace(_REASSOC, ""))
    elif executor == "numba":
        _numba()
        kernels = _load_module(module_source)
    else:
        raise ValueError(f"compile_graph_numba: executor must be 'numba' or 'python', "
                         f"got {executor!r}")
    em = _NumbaEmitter(fused, kernels, sinks, absorbed, flips, columns)
    fn, source, structured = compile_graph(fused, name, emitter=em)
    if threads > 1:
        numba = _numba()
        inner = fn
        n = min(threads, numba.config.NUMBA_NUM_THREADS)

        def fn(*args: Any, _inner: Any = inner, _set: Any = numba.set_num_threads) -> Any:
            _set(n)
            return _inner(*args)

        fn.__code__ = fn.__code__  # keeps co_filename of this module
        fn.__wrapped__ = inner  # type: ignore[attr-defined]
    if ks:
        source = source + "\n\n" + ksrc + "\n"
    return fn, source, structured, fused
