"""The fusion pass of ``pb.jit``: elementwise equations, the broadcasts that feed them and the
reductions that end them, grouped into kernels that make one pass over memory.

:func:`fuse` takes a simplified :class:`~pullback.compile.ir.Graph` and returns a graph in
which each group is one equation of the ``fused`` primitive. Its ``kernel`` parameter (a
:class:`Kernel`) holds the member equations, in order; its inputs are the group's inputs from
outside, its outputs the members' results that something outside the group reads. A backend
turns a kernel into one loop nest (``pullback.compile.codegen_numba``); evaluated as it is
(``graph(*leaves)`` or the NumPy code generator), a ``fused`` equation runs its members one
by one with NumPy, so a fused graph means the same as the graph it came from.

What joins a group (all floating or boolean, float32/float64/bool, none of them 0-d):

- the ufuncs of :data:`UFUNCS` (arithmetic, comparisons, exp/log/trigonometric functions,
  maximum/minimum...), ``where``, casts (``astype``), and ``broadcast_to`` of an input;
- ``sum``, ``max`` and ``min`` over axes of a value computed in the group, which end it: a
  reduction's result is complete only after the loop, so nothing in the same group reads it.

- after the loop, its *epilogue*: elementwise equations on the reductions' results (and on
  values available before the group), all of one shape, such as ``b - lr * sum(g, axis=0)``
  (a bias's SGD step) or ``1 / sum(exp(z), axis=1)``: a second, small loop in the kernel.

A group runs where its first equation stood: an equation joins it only when each of its
inputs is computed in the group or is available before that point, which keeps the order of
the graph valid (no cycle through an equation outside the group). Matrix products, indexing
and the other primitives stay as they are, between the groups.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> g = pb.make_graph(lambda x, y: pnp.sum(pnp.tanh(x) * y), np.ones(3), np.ones(3))
    >>> print(fuse(g.simplified(), min_ops=2, min_size=1))
    { lambda ; a:f64[3] b:f64[3]. let
        c:f64[] = fused[kernel=k0[3]{tanh multiply sum}] a b
      in (c,) }
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from pullback.compile.values import Atom, Const, Equation, Var, vars_in
from pullback.core.trace import PRIMITIVES, Primitive

if TYPE_CHECKING:
    from pullback.compile.ir import Graph

__all__ = ["Kernel", "fuse", "kernels"]

#: ufuncs a kernel computes one element at a time (both backends spell each of them)
UFUNCS = frozenset(
    """add subtract multiply divide negative power square reciprocal sqrt cbrt exp exp2 expm1
    log log2 log10 log1p sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh
    arctanh arctan2 hypot logaddexp logaddexp2 absolute fabs sign floor ceil trunc rint
    maximum minimum fmax fmin copysign deg2rad rad2deg degrees radians greater greater_equal
    less less_equal equal not_equal logical_and logical_or logical_xor logical_not isnan isinf
    isfinite signbit""".split()
)
#: primitives that end a group: reductions over axes
REDUCTIONS = frozenset({"sum", "max", "min"})
#: the dtypes a kernel computes with
DTYPES = frozenset({np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.bool_)})
_CASTS = frozenset({"astype", "astype_nondiff"})

#: whether equations on a group's reductions' results join it (run after its loop)
EPILOGUE = True
#: by default, a group is kept when it has this many operations (broadcasts not counted)...
MIN_OPS = 2
#: ...and its loop this many elements, or it has :data:`MIN_OPS_SMALL` operations: on small
#: arrays a kernel's call (about 0.4 us, plus 0.3 us an array it fills) costs about as much
#: as two NumPy calls (0.5-0.7 us each), measured with Numba 0.68 and NumPy 2.4
MIN_SIZE = 256
MIN_OPS_SMALL = 2


class Kernel:
    """One group of fused equations: the ``kernel`` parameter of a ``fused`` equation.

    ``eqns`` are the member equations in order, ``inputs`` the atoms they read from outside
    (variables and array constants, each once), ``outputs`` the results read outside the
    group, ``shape`` the shape of the loop (the elementwise results' shape).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(lambda x: pnp.sum(pnp.exp(x), axis=1), np.ones((4, 100)))
        >>> [k] = kernels(fuse(g))
        >>> k, k.shape, [e.prim.name for e in k.reductions]
        (k0[4,100]{exp sum}, (4, 100), ['sum'])
    """

    __slots__ = ("name", "eqns", "inputs", "outputs", "shape", "epilogue")

    def __init__(
        self,
        name: str,
        eqns: list[Equation],
        inputs: list[Atom],
        outputs: list[Var],
        shape: tuple[int, ...],
        epilogue: list[Equation] | None = None,
    ):
        self.name = name
        self.eqns = eqns
        self.inputs = inputs
        self.outputs = outputs
        self.shape = shape
        #: members computed after the loop, on the reductions' results (in ``eqns`` too)
        self.epilogue = epilogue or []

    @property
    def reductions(self) -> list[Equation]:
        """The member reductions (each ends the loop with one of the outputs)."""
        return [e for e in self.eqns if e.prim.name in REDUCTIONS]

    def __repr__(self) -> str:
        dims = ",".join(map(str, self.shape))
        post = {id(e) for e in self.epilogue}
        main = " ".join(e.prim.name for e in self.eqns if id(e) not in post)
        if post:
            dims_e = ",".join(map(str, self.epilogue[0].outvars[0].aval.shape))
            main += f" | [{dims_e}] " + " ".join(e.prim.name for e in self.epilogue)
        return f"{self.name}[{dims}]{{{main}}}"


def _run_kernel(*args: Any, kernel: Kernel) -> tuple[Any, ...]:
    """A ``fused`` equation evaluated unfused: its members one by one, with NumPy."""
    env: dict[Any, Any] = {}
    for a, v in zip(kernel.inputs, args, strict=True):
        env[a if isinstance(a, Var) else id(a)] = v

    def read(a: Any) -> Any:
        if isinstance(a, Var):
            return env[a]
        return env.get(id(a), a.value)

    for e in kernel.eqns:
        out = e.prim.impl(*(read(a) for a in e.inputs), **e.params)
        env[e.outvars[0]] = out
    return tuple(env[v] for v in kernel.outputs)


#: the primitive of a fused group (not registered: it has no derivative rules, it only
#: appears in graphs that are about to be compiled)
fused_p = Primitive("fused", _run_kernel, multiple_results=True)


# ----------------------------------------------------------------------------- membership


def _registered(e: Equation) -> bool:
    return PRIMITIVES.get(e.prim.name) is e.prim


def _atom_dtype_ok(a: Any) -> bool:
    if isinstance(a, Var):
        return not a.aval.weak and a.aval.dtype in DTYPES
    v = a.value
    if isinstance(v, (bool, int, float)) and not isinstance(v, np.generic):
        return isinstance(v, (bool, float)) or abs(v) < 2**53
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype in DTYPES
    return False


def loop_dtypes(e: Equation) -> tuple[np.dtype, ...] | None:
    """The inner-loop dtypes NumPy picks for a ufunc equation (inputs, then the output)."""
    ufunc = e.prim.impl
    dts: list[Any] = []
    for a in e.inputs:
        if isinstance(a, Var):
            dts.append(a.aval.dtype)
        elif isinstance(a.value, (np.ndarray, np.generic)):
            dts.append(a.value.dtype)
        else:
            dts.append(type(a.value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loop = ufunc.resolve_dtypes(tuple(dts) + (None,))
    except (TypeError, ValueError, np.exceptions.DTypePromotionError):
        return None
    return tuple(np.dtype(d) for d in loop)


def _elementwise(e: Equation) -> bool:
    """Whether ``e`` computes its output one element at a time, in a dtype a kernel has."""
    if e.multiple or len(e.outvars) != 1 or not _registered(e):
        return False
    out = e.outvars[0].aval
    if out.weak or out.dtype not in DTYPES or out.ndim == 0 or out.size == 0:
        return False
    if not all(isinstance(a, (Var, Const)) and _atom_dtype_ok(a) for a in e.inputs):
        return False
    for a in e.inputs:  # every input broadcasts to the output's shape
        shape = a.aval.shape if a.aval is not None else ()
        if len(shape) > out.ndim or any(
            s not in (1, n) for s, n in zip(shape[::-1], out.shape[::-1], strict=False)
        ):
            return False
    name = e.prim.name
    if name in UFUNCS and isinstance(e.prim.impl, np.ufunc) and not e.params:
        if e.prim.impl.__name__ != name and name not in ("absolute", "degrees", "radians"):
            return False
        loop = loop_dtypes(e)
        if loop is None or loop[-1] != out.dtype or any(d not in DTYPES for d in loop):
            return False
        if name.startswith("logical_"):
            return all(d == np.bool_ for d in loop[:-1])
        return True
    if name == "where":
        return len(e.inputs) == 3 and not e.params
    if name in _CASTS:
        return len(e.inputs) == 1 and set(e.params) == {"dtype"}
    if name == "broadcast_to":
        return len(e.inputs) == 1 and isinstance(e.inputs[0], Var) and set(e.params) == {"shape"}
    return False


def _reduction(e: Equation) -> bool:
    if e.multiple or len(e.outvars) != 1 or not _registered(e) or e.prim.name not in REDUCTIONS:
        return False
    if set(e.params) != {"axes", "keepdims"} or len(e.inputs) != 1:
        return False
    x = e.inputs[0]
    if not isinstance(x, Var) or x.aval.dtype.kind != "f" or x.aval.dtype not in DTYPES:
        return False
    out = e.outvars[0].aval
    if out.dtype != x.aval.dtype or out.weak:
        return False
    axes = e.params["axes"]
    if not isinstance(axes, tuple) or not all(isinstance(a, int) and 0 <= a < x.aval.ndim
                                              for a in axes):
        return False
    if e.prim.name != "sum" and any(x.aval.shape[a] == 0 for a in axes):
        return False  # max/min of nothing: NumPy's error at run time
    return True


def uniform(value: np.ndarray) -> bool:
    """Whether a constant array holds one value everywhere (a kernel inlines it)."""
    if value.size == 0:
        return False
    first = value.flat[0]
    with np.errstate(invalid="ignore"):
        return bool(np.all(value == first)) or bool(np.all(np.isnan(value))) \
            if value.dtype.kind == "f" else bool(np.all(value == first))


def _counts(e: Equation) -> bool:
    """Whether an equation counts as an operation of its group (broadcasts and casts do not)."""
    return e.prim.name not in ("broadcast_to",) and e.prim.name not in _CASTS


# ----------------------------------------------------------------------------- grouping


class _Group:
    __slots__ = ("start", "shape", "members", "internal", "reduced", "alive", "post",
                 "post_shape", "post_members")

    def __init__(self, start: int, shape: tuple[int, ...]):
        self.start = start
        self.shape = shape
        self.members: list[int] = []
        self.internal: set[Var] = set()  # elementwise results, readable inside the loop
        self.reduced: set[Var] = set()  # reduction results, complete after the loop
        self.alive = True
        self.post: set[Var] = set()  # epilogue results (computed on the reductions' results)
        self.post_shape: tuple[int, ...] | None = None
        self.post_members: set[int] = set()


def _plan(graph: Graph) -> tuple[list[_Group], dict[int, _Group]]:
    """Assign equations to groups (see the module's docstring for the rule)."""
    eqns = graph.eqns
    groups: list[_Group] = []
    group_of_var: dict[Var, _Group] = {}
    member_of: dict[int, _Group] = {}
    produced_at: dict[Var, int] = {}
    last_by_shape: dict[tuple[int, ...], _Group] = {}

    def avail(a: Any) -> int:
        """The position from which ``a`` is available (-1: an input or a constant)."""
        if not isinstance(a, Var):
            return -1
        g = group_of_var.get(a)
        if g is not None:
            return g.start
        return produced_at.get(a, -1)

    def ext_inputs(k: int) -> list[Atom]:
        e = eqns[k]
        return [a for a in list(e.inputs) + vars_in(e.params) if isinstance(a, (Var, Const))]

    def can_join(g: _Group, k: int, internal: set[Var]) -> bool:
        for a in ext_inputs(k):
            if isinstance(a, Var) and a in internal:
                continue
            if avail(a) >= g.start:
                return False
        return True

    def add(g: _Group, k: int) -> None:
        e = eqns[k]
        g.members.append(k)
        member_of[k] = g
        for v in e.outvars:
            group_of_var[v] = g
            (g.reduced if e.prim.name in REDUCTIONS else g.internal).add(v)

    def _epilogue_group(e: Equation, k: int) -> _Group | None:
        """The group whose reductions' results ``e`` reads, when ``e`` can run after its
        loop: every input one of those results, an earlier epilogue result, or available
        before the group starts; the same shape as the epilogue so far."""
        if not EPILOGUE:
            return None
        shape = e.outvars[0].aval.shape
        found: _Group | None = None
        for a in e.inputs:
            g = group_of_var.get(a) if isinstance(a, Var) else None
            if g is not None and (a in g.reduced or a in g.post):
                if found is not None and found is not g:
                    return None
                found = g
        if found is None or not found.alive or found.post_shape not in (None, shape):
            return None
        for a in ext_inputs(k):
            if not isinstance(a, Var):
                continue
            if a in found.post or a in found.reduced:
                continue
            if a in found.internal or a in found.reduced or avail(a) >= found.start:
                return None
        return found

    for k, e in enumerate(eqns):
        for v in e.outvars:
            produced_at[v] = k
        if _reduction(e):
            x = e.inputs[0]
            g = group_of_var.get(x)
            if g is not None and x in g.internal:
                add(g, k)
            continue
        if not _elementwise(e):
            continue
        shape = e.outvars[0].aval.shape
        post = _epilogue_group(e, k)
        if post is not None:
            add(post, k)
            post.internal.discard(e.outvars[0])
            post.post.add(e.outvars[0])
            post.post_shape = shape
            post.post_members.add(k)
            continue
        # groups whose elementwise results this equation reads, same loop shape
        cands: list[_Group] = []
        for a in e.inputs:
            g = group_of_var.get(a) if isinstance(a, Var) else None
            if g is not None and g.shape == shape and a in g.internal and g not in cands:
                cands.append(g)
        chosen = None
        if len(cands) > 1 and not any(g.post_members for g in cands):
            # all of them together, if what they read from outside is there before the first
            first = min(cands, key=lambda g: g.start)
            internal = set().union(*(g.internal for g in cands))
            if all(can_join(first, m, internal) for g in cands for m in g.members) and \
                    can_join(first, k, internal):
                for g in cands:
                    if g is not first:
                        for m in g.members:
                            add(first, m)
                        g.alive = False
                first.members.sort()
                chosen = first
        if chosen is None:
            for g in sorted(cands, key=lambda g: -len(g.members)):
                if can_join(g, k, g.internal):
                    chosen = g
                    break
        if chosen is None and not cands:
            # an equation of new inputs: beside the last group of its shape, if it can be
            g = last_by_shape.get(shape)
            if g is not None and g.alive and can_join(g, k, g.internal):
                chosen = g
        if chosen is None:
            chosen = _Group(k, shape)
            groups.append(chosen)
        add(chosen, k)
        last_by_shape[shape] = chosen
    return [g for g in groups if g.alive], member_of


def fuse(graph: Graph, min_ops: int | None = None, min_size: int | None = None) -> Graph:
    """The graph with its fusible groups as ``fused`` equations (see the module docstring).

    A group is kept when it has at least ``min_ops`` operations (broadcasts and casts are
    not counted) and its loop at least ``min_size`` elements (by default :data:`MIN_OPS` and
    :data:`MIN_SIZE`), or :data:`MIN_OPS_SMALL` operations whatever its size; the others
    stay as they were.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(lambda x: pnp.exp(pnp.sin(x)) + 1.0, np.ones(300))
        >>> [e.prim.name for e in fuse(g).eqns]
        ['fused']
    """
    min_ops = MIN_OPS if min_ops is None else min_ops
    min_size = MIN_SIZE if min_size is None else min_size
    groups, member_of = _plan(graph)
    eqns = graph.eqns
    used_outside: dict[Var, None] = {}
    for k, e in enumerate(eqns):
        g = member_of.get(k)
        for a in list(e.inputs) + vars_in(e.params):
            if isinstance(a, Var) and (g is None or a not in g.internal) and not (
                    g is not None and k in g.post_members and (a in g.post or a in g.reduced)):
                used_outside[a] = None
    for a in graph.outvars:
        if isinstance(a, Var):
            used_outside[a] = None

    emitted: dict[int, list[Equation]] = {}
    kept: set[int] = set()
    count = 0
    for g in groups:
        members = [eqns[m] for m in g.members]
        n_ops = sum(1 for e in members if _counts(e))
        size = int(np.prod(g.shape, dtype=np.int64))
        if n_ops < min_ops or (size < min_size and n_ops < max(min_ops, MIN_OPS_SMALL)):
            emitted[g.start] = members  # unfused, in order, where the group starts
            kept.update(g.members)
            continue
        inside = {v for e in members for v in e.outvars}
        inputs: list[Atom] = []
        seen: set[int] = set()
        for e in members:
            for a in e.inputs:
                if isinstance(a, Var) and a not in inside and id(a) not in seen:
                    seen.add(id(a))
                    inputs.append(a)
                elif isinstance(a, Const) and isinstance(a.value, np.ndarray) and a.value.ndim \
                        and not uniform(a.value) and id(a.value) not in seen:
                    seen.add(id(a.value))
                    inputs.append(a)
        outputs = [v for e in members for v in e.outvars if v in used_outside]
        kernel = Kernel(f"k{count}", members, inputs, outputs, g.shape,
                        [eqns[m] for m in g.members if m in g.post_members])
        count += 1
        emitted[g.start] = [Equation(fused_p, list(inputs), {"kernel": kernel}, outputs, True)]
        kept.update(g.members)
    new: list[Equation] = []
    for k, e in enumerate(eqns):
        if k in emitted:
            new.extend(emitted[k])
        elif k not in kept:
            new.append(e)
    return graph.replace(new, graph.outvars)


def kernels(graph: Graph) -> list[Kernel]:
    """The kernels of a fused graph, in order.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> g = pb.make_graph(lambda x: pnp.sum(pnp.exp(x) * x), np.ones(300))
        >>> kernels(fuse(g))
        [k0[300]{exp multiply sum}]
    """
    return [e.params["kernel"] for e in graph.eqns if e.prim is fused_p]
