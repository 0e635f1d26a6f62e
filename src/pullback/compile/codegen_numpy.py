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
    ShapedArray,
    Var,
    vars_in,
)
from pullback.core.control import checkpoint_p, scan_p, switch_p, while_p
from pullback.core.trace import Primitive
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

#: the least size of a ``where`` between float arrays written as a bitwise select
SELECT_SIZE = 1024

_INT_OF = {4: np.dtype(np.int32), 8: np.dtype(np.int64)}


def _select(c: np.ndarray, a: Any, b: Any, dtype: np.dtype) -> np.ndarray:
    """``np.where(c, a, b)`` for a boolean array ``c`` of the result's shape and float
    ``a``, ``b`` of ``dtype`` (or numbers exact in it): the bit patterns of ``a`` where ``c``,
    of ``b`` elsewhere (NaN payloads and signed zeros included), as ``b ^ ((a ^ b) & -c)``
    on integers of the same width. NumPy's ``where`` branches on each element, slow on an
    unpredictable mask (a ReLU's: 3.5 ns an element against 0.3 ns for each of the five
    passes here, on 32,768 float32).

    Example:
        >>> _select(np.array([True, False]), np.array([1.0, -0.0]), -0.0, np.dtype(np.float64))
        array([ 1., -0.])
    """
    it = _INT_OF[dtype.itemsize]
    m = c.view(np.int8).astype(it)
    np.negative(m, out=m)  # all ones where c
    a_bits = np.asarray(a, dtype).view(it)
    b_bits = np.asarray(b, dtype).view(it)
    if not b_bits.ndim and not b_bits:  # b is +0.0: a & m
        return np.bitwise_and(a_bits, m, out=m).view(dtype)
    np.bitwise_and(np.bitwise_xor(a_bits, b_bits), m, out=m)
    return np.bitwise_xor(m, b_bits, out=m).view(dtype)


_BASE_NAMESPACE = {
    "_select": _select,
    "_np": np,
    "_slice": slice,
    "_where": np.where,
    "_add_reduce": np.add.reduce,
    "_broadcast_to": np.broadcast_to,
}


# ----------------------------------------------------------------------------- rewrites


def _add_at_impl(buf: np.ndarray, g: Any, idx: tuple) -> np.ndarray:
    buf[idx] += g  # buf: a fresh array nothing else reads (see rewrite)
    return buf


def _add_into_impl(buf: np.ndarray, x: Any) -> np.ndarray:
    return np.add(buf, x, out=buf)


#: ``add(scatter_add(a, idx1), scatter_add(b, idx2))`` as one buffer: ``buf[idx2] += b``
add_at_p = Primitive("add_at", _add_at_impl)
#: ``add(scatter_add(a, idx), x)``: ``x`` added into the scattered buffer
add_into_p = Primitive("add_into", _add_into_impl)


def _uses(graph: Graph) -> dict[Var, int]:
    count: dict[Var, int] = {}
    for e in graph.eqns:
        for a in list(e.inputs) + vars_in(e.params):
            if isinstance(a, Var):
                count[a] = count.get(a, 0) + 1
    for a in graph.outvars:
        if isinstance(a, Var):
            count[a] = count.get(a, 0) + 2  # an output is never rewritten in place
    return count


def _basic_index(idx: Any) -> bool:
    """Slices, integers, None and Ellipsis only: no repeated positions, no traced entries."""
    return isinstance(idx, tuple) and all(
        i is None or i is Ellipsis or (isinstance(i, int) and not isinstance(i, bool))
        or (isinstance(i, slice) and all(b is None or type(b) is int
                                         for b in (i.start, i.stop, i.step)))
        for i in idx
    )


def rewrite(graph: Graph) -> Graph:
    """Fewer passes over memory, same results: used by both backends before generating code.

    - ``transpose(matmul(x, y))`` of matrices is ``matmul(y.T, x.T)``, and a transpose of a
      transpose cancels: the product writes its result in the order it is read (a transposed
      result would be read across its rows by what comes next);
    - ``add(scatter_add(a, idx1), scatter_add(b, idx2))`` (gradients of slices) fills one
      buffer of zeros instead of two, and ``add(scatter_add(a, idx), x)`` adds ``x`` into
      the scattered buffer (and a later scatter-add into that buffer, in place): no second
      array of zeros, no third array for the sum.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(lambda x, y: (x.T @ y).T, np.ones((3, 2)), np.ones((3, 4)))
        >>> print(rewrite(g.simplified()))
        { lambda ; a:f64[3,2] b:f64[3,4]. let
            c:f64[4,3] = transpose[axes=(1, 0)] b
            d:f64[4,2] = matmul c a
          in (d,) }
    """
    uses = _uses(graph)
    producer: dict[Var, Equation] = {v: e for e in graph.eqns for v in e.outvars}
    drop: set[int] = set()
    new: list[Equation] = []
    accumulated: set[Var] = set()  # results of add_at/add_into: fresh buffers

    def single(a: Any, name: str) -> Equation | None:
        """The equation of ``name`` that makes ``a``, when ``a`` is used once."""
        e = producer.get(a) if isinstance(a, Var) else None
        if e is None or e.prim.name != name or uses.get(a, 0) != 1 or e.multiple:
            return None
        return e

    def untransposed(a: Any, tp: Primitive, out: list[Equation]) -> Any:
        """``a.T`` for a matrix: the source of a transpose, or a new transpose."""
        e = producer.get(a) if isinstance(a, Var) else None
        if e is not None and e.prim.name == "transpose" and tuple(e.params.get("axes", ())) \
                == (1, 0) and isinstance(e.inputs[0], (Var, Const)):
            return e.inputs[0]
        shape = a.aval.shape
        v = Var(ShapedArray(shape[::-1], a.aval.dtype))
        out.append(Equation(tp, [a], {"axes": (1, 0)}, [v], False))
        return v

    for e in graph.eqns:
        name = e.prim.name
        if name == "transpose" and tuple(e.params.get("axes", ())) == (1, 0):
            m = single(e.inputs[0], "matmul")
            if m is not None and not m.params and len(m.inputs) == 2 and all(
                isinstance(a, (Var, Const)) and a.aval is not None and a.aval.ndim == 2
                for a in m.inputs
            ):
                x, y = m.inputs
                pre: list[Equation] = []
                yt = untransposed(y, e.prim, pre)
                xt = untransposed(x, e.prim, pre)
                if len(pre) < 2:  # at least one transpose saved
                    drop.add(id(m))
                    new.extend(pre)
                    new.append(Equation(m.prim, [yt, xt], {}, e.outvars, False))
                    continue
        if name == "add" and len(e.inputs) == 2 and not e.params:
            out = e.outvars[0].aval
            done = False
            for a, b in (e.inputs, e.inputs[::-1]):
                sa = single(a, "scatter_add")
                if sa is None or a.aval != out or not _basic_index(sa.params.get("idx")):
                    continue
                sb = single(b, "scatter_add")
                g = sb.inputs[0] if sb is not None else None
                if sb is not None and b.aval == out and _basic_index(sb.params.get("idx")) \
                        and isinstance(g, (Var, Const)) and g.aval is not None \
                        and np.can_cast(g.aval.dtype, out.dtype, "same_kind"):
                    drop.add(id(sb))
                    new.append(Equation(add_at_p, [a, sb.inputs[0]], {"idx": sb.params["idx"]},
                                        e.outvars, False))
                    accumulated.add(e.outvars[0])
                    done = True
                    break
                ga = sa.inputs[0]
                if b in accumulated and uses.get(b, 0) == 1 and isinstance(ga, (Var, Const)) \
                        and ga.aval is not None \
                        and np.can_cast(ga.aval.dtype, out.dtype, "same_kind"):
                    # b is a buffer made by an earlier rewrite, read only here: scatter into it
                    drop.add(id(sa))
                    new.append(Equation(add_at_p, [b, ga], {"idx": sa.params["idx"]},
                                        e.outvars, False))
                    accumulated.add(e.outvars[0])
                    done = True
                    break
                if isinstance(b, Var) and b.aval == out:
                    new.append(Equation(add_into_p, [a, b], {}, e.outvars, False))
                    accumulated.add(e.outvars[0])
                    done = True
                    break
            if done:
                continue
        new.append(e)
    if not drop:
        return graph.replace(new, graph.outvars)
    kept = [e for e in new if id(e) not in drop]
    # a scatter_add moved into add_at reads its input later: keep the order valid by
    # dropping the dead transposes left behind and nothing else (inputs come first anyway)
    live = {a for a in graph.outvars if isinstance(a, Var)}
    out_eqns: list[Equation] = []
    for e in reversed(kept):
        if any(v in live for v in e.outvars) or e.prim.name not in ("transpose",):
            out_eqns.append(e)
            live.update(a for a in list(e.inputs) + vars_in(e.params) if isinstance(a, Var))
    out_eqns.reverse()
    return graph.replace(out_eqns, graph.outvars)


# ----------------------------------------------------------------------------- control flow
#
# pb.lax's loops and branches become Python loops and branches in the generated code, each
# calling its body's own generated function: the source does not grow with the steps.


def _unpack(names: list[str]) -> str:
    return ", ".join(names) + "," if names else "_"


def _scan_lines(em: _Emitter, e: Equation) -> list[str]:
    p = e.params
    nc, nk, n = p["n_consts"], p["n_carry"], p["length"]
    consts = [em.value(a) for a in e.inputs[:nc]]
    init = [em.value(a) for a in e.inputs[nc:nc + nk]]
    xs = [em.value(a) for a in e.inputs[nc + nk:]]
    carry = [em.names[v] for v in e.outvars[:nk]]
    ys = [em.names[v] for v in e.outvars[nk:]]
    fn, i = em.body(p["body"]), em.temp("i")
    temps = [em.temp("y") for _ in ys]
    lines = [f"{', '.join(carry)} = {', '.join(init)}"] if carry else []
    for y, v in zip(ys, e.outvars[nk:], strict=True):
        if v in em.listed:  # references to each step's result, no copy
            lines.append(f"{y} = [None] * {n}")
            continue
        shape = em.value(tuple(v.aval.shape))
        lines.append(f"{y} = _np.empty({shape}, {em.value(v.aval.dtype)})")
    order = f"range({n - 1}, -1, -1)" if p["reverse"] else f"range({n})"
    args = ", ".join(consts + carry + [f"{x}[{i}]" for x in xs])
    lines.append(f"for {i} in {order}:")
    lines.append(f"    {_unpack(carry + temps)} = {fn}({args})")
    lines += [f"    {y}[{i}] = {t}" for y, t in zip(ys, temps, strict=True)]
    if ys and n:
        lines.append(f"del {', '.join(temps)}")
    return lines


def _listed_stacks(graph: Graph) -> set[Var]:
    """The stacked outputs of scans that only other scans read, step by step (the carries a
    forward pass keeps for its backward pass): a list of each step's array serves them
    without copying every step into one array."""
    readers: dict[Var, list[tuple[Equation, int]]] = {}
    for e in graph.eqns:
        for pos, a in enumerate(e.inputs):
            if isinstance(a, Var):
                readers.setdefault(a, []).append((e, pos))
        for a in vars_in(e.params):
            readers.setdefault(a, []).append((e, -1))
    outputs = {a for a in graph.outvars if isinstance(a, Var)}
    listed = set()
    for e in graph.eqns:
        if e.prim is not scan_p:
            continue
        for v in e.outvars[e.params["n_carry"]:]:
            if v in outputs:
                continue
            if all(r.prim is scan_p and pos >= r.params["n_consts"] + r.params["n_carry"]
                   for r, pos in readers.get(v, [])):
                listed.add(v)
    return listed


def _while_lines(em: _Emitter, e: Equation) -> list[str]:
    p = e.params
    ncc, nbc = p["n_cconsts"], p["n_bconsts"]
    cc = [em.value(a) for a in e.inputs[:ncc]]
    bc = [em.value(a) for a in e.inputs[ncc:ncc + nbc]]
    init = [em.value(a) for a in e.inputs[ncc + nbc:]]
    carry = [em.names[v] for v in e.outvars]
    test, step = em.body(p["cond_body"]), em.body(p["body"])
    return ([f"{', '.join(carry)} = {', '.join(init)}"] if carry else []) + [
        f"while {test}({', '.join(cc + carry)})[0]:",
        f"    {_unpack(carry)} = {step}({', '.join(bc + carry)})",
    ]


def _switch_lines(em: _Emitter, e: Equation) -> list[str]:
    branches = e.params["branches"]
    index = em.value(e.inputs[0])
    args = ", ".join(em.value(a) for a in e.inputs[1:])
    outs = _unpack([em.names[v] for v in e.outvars])
    lines = []
    for k, b in enumerate(branches):
        if k == len(branches) - 1:
            lines.append("else:" if k else "if True:")
        else:
            lines.append(f"{'if' if k == 0 else 'elif'} {index} == {k}:")
        lines.append(f"    {outs} = {em.body(b)}({args})")
    return lines


def _checkpoint_lines(em: _Emitter, e: Equation) -> list[str]:
    outs = _unpack([em.names[v] for v in e.outvars])
    args = ", ".join(em.value(a) for a in e.inputs)
    return [f"{outs} = {em.body(e.params['body'])}({args})"]


_CONTROL: dict[str, tuple[Primitive, Callable[[_Emitter, Equation], list[str]]]] = {
    "scan": (scan_p, _scan_lines),
    "while": (while_p, _while_lines),
    "switch": (switch_p, _switch_lines),
    "checkpoint": (checkpoint_p, _checkpoint_lines),
}


# ----------------------------------------------------------------------------- code generation


class _Emitter:
    """Names for variables, constants and functions of one generated function."""

    def __init__(self, graph: Graph):
        self.names = {v: _py_name(n) for v, n in graph.names().items() if isinstance(v, Var)}
        self.namespace: dict[str, Any] = dict(_BASE_NAMESPACE)
        self._consts: dict[int, str] = {}
        self._funcs: dict[int, str] = {}
        #: stacked loop outputs kept as Python lists (see _listed_stacks)
        self.listed = _listed_stacks(graph)

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
        if e.prim.name == "where" and _bitwise_select(e):
            c, a, b = (self.value(x) for x in e.inputs)
            dt = e.outvars[0].aval.dtype
            return f"_select({c}, {a}, {b}, {self.const(dt, f'dt_{dt.name}_')})"
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
        control = _CONTROL.get(e.prim.name)
        if control is not None and e.prim is control[0]:
            return control[1](self, e)
        return [f"{outs} = {self.call(e)}"]

    def temp(self, hint: str) -> str:
        """A fresh local name (graph variables are plain letters, never underscored)."""
        self._temps = getattr(self, "_temps", 0) + 1
        return f"_{hint}{self._temps}"

    def body(self, body: Any) -> str:
        """The name of a sub-program's compiled function (a loop's or a branch's body)."""
        return self.const(body.compiled(), "body")

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


def _bitwise_select(e: Equation) -> bool:
    """Whether ``where(c, a, b)`` can run as :func:`_select`: a boolean ``c`` of the result's
    shape (at least :data:`SELECT_SIZE` elements), a float32 or float64 result, and ``a``,
    ``b`` of the result's dtype or Python numbers that the dtype holds exactly."""
    if e.params or e.multiple or len(e.inputs) != 3:
        return False
    out = e.outvars[0].aval
    c, a, b = e.inputs
    if out.weak or out.dtype not in (np.dtype(np.float32), np.dtype(np.float64)) \
            or out.size < SELECT_SIZE or not isinstance(c, Var) or c.aval.weak \
            or c.aval.dtype != np.bool_ or tuple(c.aval.shape) != tuple(out.shape):
        return False
    for x in (a, b):
        if isinstance(x, Var):
            if x.aval.weak or x.aval.dtype != out.dtype:
                return False
        elif isinstance(x, Const):
            v = x.value
            if isinstance(v, (np.ndarray, np.generic)):
                if v.dtype != out.dtype:
                    return False
            elif type(v) not in (int, float) or not math.isfinite(v) \
                    or float(out.dtype.type(v)) != v:
                return False
        else:
            return False
    return True


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
            c = _multiply(b, 2.0, out=b)
            return c
    """
    if emitter is None:
        graph = rewrite(graph)
    em = emitter if emitter is not None else _Emitter(graph)
    last_use: dict[Var, int] = {}
    for k, e in enumerate(graph.eqns):
        for a in list(e.inputs) + vars_in(e.params):
            if isinstance(a, Var):
                last_use[a] = k
    outputs = {a for a in graph.outvars if isinstance(a, Var)}
    owned = _owned(graph)
    params = ", ".join(em.names[v] for v in graph.invars)
    lines = [f"def {name}({params}):"]
    for k, e in enumerate(graph.eqns):
        outs = ", ".join(em.names[v] for v in e.outvars)
        if e.multiple and len(e.outvars) == 1:
            outs += ","
        buf = _reusable(e, k, owned, last_use, outputs)
        if buf is not None:  # the result written over an input nothing reads any more
            args = ", ".join(em.value(a) for a in e.inputs)
            lines.append(f"    {outs} = {em.func(e.prim)}({args}, out={em.names[buf]})")
        else:
            lines.extend("    " + line for line in em.statement(e, outs))
        dead = [
            a for a in dict.fromkeys(list(e.inputs) + vars_in(e.params))
            if isinstance(a, Var) and last_use.get(a) == k and a not in outputs
            and a.aval.size >= _DEL_SIZE and a not in graph.invars
        ]
        dead += [  # outputs nothing reads (a loop's final carry when only its stack is used)
            v for v in e.outvars
            if v not in last_use and v not in outputs and v.aval.size >= _DEL_SIZE
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


def _plain_ufunc(e: Equation) -> bool:
    impl = e.prim.impl
    return (
        isinstance(impl, np.ufunc) and impl.nout == 1 and impl.signature is None
        and not e.params and not e.multiple and len(e.inputs) == impl.nin
    )


#: primitives whose result is a new array that nothing else holds
_FRESH = frozenset({"scatter_add", "add_at", "add_into"})


def _owned(graph: Graph) -> set[Var]:
    """Variables whose array only the generated code holds: made fresh by a ufunc (or a
    scatter), at least 1-d, read only by ufuncs (no view of them is ever taken)."""
    fresh = {v for e in graph.eqns for v in e.outvars
             if (_plain_ufunc(e) or e.prim.name in _FRESH or e.prim.name == "fused")}
    fresh = {v for v in fresh if v.aval.ndim >= 1 and not v.aval.weak}
    for e in graph.eqns:
        if not _plain_ufunc(e):
            for a in list(e.inputs) + vars_in(e.params):
                if isinstance(a, Var) and e.prim.name != "fused":
                    fresh.discard(a)  # a view could be taken, or it is kept
    return fresh


def _reusable(
    e: Equation, k: int, owned: set[Var], last_use: dict[Var, int], outputs: set[Var]
) -> Var | None:
    """An input of ufunc equation ``e`` whose buffer can take its result (``out=``)."""
    if not _plain_ufunc(e):
        return None
    out = e.outvars[0].aval
    if out.ndim == 0 or out.weak or any(isinstance(a, Var) and a.aval.weak for a in e.inputs):
        return None
    for a in e.inputs:
        if isinstance(a, Var) and a in owned and last_use.get(a) == k and a not in outputs \
                and a.aval == out:
            return a
    return None


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
