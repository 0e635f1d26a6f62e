"""Structured control flow (``scan``, ``fori_loop``, ``while_loop``, ``cond``, ``switch``,
``map``) with JAX's signatures and semantics, and checkpointing (``checkpoint``).

Eagerly (no ``pb.jit`` or ``pb.make_graph`` tracing) each construct runs as the Python
program it stands for: ``cond`` picks its branch by the predicate's value, loops are Python
loops, and every transformation sees the operations one by one, so derivatives are those of
the unrolled program, exactly, at any order. Under ``vmap`` a predicate that differs between
batch entries runs every branch and selects entry by entry; a ``while_loop`` whose
predicate is batched runs until every entry is done, each entry keeping its own carry once
its predicate is false.

Under ``pb.jit`` (and inside a checkpointed function) the function is traced once into a
body (``pullback.compile.staging`` registers the tracer with :func:`register_stager`) and
the construct is one primitive holding it (``scan_p``, ``while_p``, ``switch_p``); their
rules make new bodies and bind the same primitives, so derivatives and batched versions are
loops again and the graph does not grow with the number of steps. ``checkpoint`` is such a
primitive too (``checkpoint_p``): its forward pass keeps only its inputs, its backward pass
runs the body again under ``vjp``.

Reverse mode needs the number of steps before the loop runs: ``scan`` and ``fori_loop``
with concrete bounds are fine; ``while_loop`` (and ``fori_loop`` with traced bounds) are
forward-mode only, as in JAX, and say so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from pullback.core import lax
from pullback.core.batching import BatchTracer, vmap
from pullback.core.forward import JVPTrace, JVPTracer
from pullback.core.reverse import VJPTrace, VJPTracer, backward_pass
from pullback.core.rules import deflinear, defnondiff
from pullback.core.trace import (
    Primitive,
    Tracer,
    TracerConversionError,
    dtype_of,
    instantiate,
    new_trace,
    shape_of,
    trace_state,
    zero,
)
from pullback.core.tree import PyTreeDef, tree_flatten, tree_map, tree_unflatten

__all__ = [
    "checkpoint",
    "checkpoint_name",
    "checkpoint_policies",
    "cond",
    "fori_loop",
    "map",
    "register_stager",
    "remat",
    "scan",
    "switch",
    "while_loop",
]


# ----------------------------------------------------------------------------- helpers


class _Kind:
    """What a predicate or index is: a concrete value, batched under vmap, or abstract."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


BATCHED = _Kind("batched")
ABSTRACT = _Kind("abstract")


def concrete_value(x: Any) -> Any:
    """The value of ``x`` under its tracers, :data:`BATCHED` when a ``vmap`` gives it one
    value per batch entry, or :data:`ABSTRACT` when only its shape is known (``pb.jit``).

    Example:
        >>> import pullback as pb
        >>> pb.jvp(lambda x: (concrete_value(x), x)[1], (2.0,), (1.0,))[0]
        2.0
    """
    while isinstance(x, Tracer):
        if isinstance(x, BatchTracer):
            return BATCHED
        if getattr(x._trace, "staged", False):
            return ABSTRACT
        x = x._primal
    return x


def staging() -> bool:
    """Whether a function is being traced into a graph (``pb.jit``, ``pb.make_graph``).

    Example:
        >>> staging()
        False
    """
    return any(getattr(t, "staged", False) for t in trace_state.stack)


def _reverse_traced(x: Any) -> bool:
    """Whether ``x`` is recorded for reverse mode at some level."""
    while isinstance(x, Tracer):
        if isinstance(x, VJPTracer):
            return True
        x = x._primal
    return False


def _avals(leaves: Sequence[Any]) -> list[tuple[tuple[int, ...], np.dtype]]:
    return [(tuple(shape_of(x)), dtype_of(x)) for x in leaves]


def _fmt_aval(aval: tuple) -> str:
    shape, dtype = aval
    return f"{np.dtype(dtype).name}{list(shape)}"


def check_carry(
    who: str, what: str, tree: PyTreeDef, avals: list, new: Any, ref: str = "the initial carry"
) -> list:
    """The leaves of ``new``, which must have ``tree``'s structure and ``avals``' shapes and
    dtypes (a loop's carry keeps its type from step to step)."""
    leaves, new_tree = tree_flatten(new)
    if new_tree != tree:
        raise TypeError(
            f"{who}: {what} has the structure {new_tree!r}, but {ref} has {tree!r}; the "
            "structure must stay the same from step to step"
        )
    for k, (leaf, aval) in enumerate(zip(leaves, avals, strict=True)):
        got = (tuple(shape_of(leaf)), dtype_of(leaf))
        if got[0] != aval[0] or np.dtype(got[1]) != np.dtype(aval[1]):
            raise TypeError(
                f"{who}: {what} leaf {k} is {_fmt_aval(got)}, but in {ref} it is "
                f"{_fmt_aval(aval)}: shapes and dtypes must stay the same from step to step "
                "(start from a value of the right dtype, for example 0.0 rather than 0, or "
                "cast with .astype)"
            )
    return leaves


# ----------------------------------------------------------------------------- selection


def _select_impl(pred: Any, on_true: Any, on_false: Any) -> Any:
    return np.where(pred, on_true, on_false)


def _select_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    pred = args[0]
    zeros = np.zeros(shape_of(g), dtype_of(g))
    return (
        zero,
        select_p.bind(pred, g, zeros) if needs[1] else zero,
        select_p.bind(pred, zeros, g) if needs[2] else zero,
    )


def _select_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    _, t1, t2 = tangents
    if t1 is zero and t2 is zero:
        return zero
    like = np.zeros(shape_of(ans), dtype_of(ans))
    return select_p.bind(args[0], like if t1 is zero else t1, like if t2 is zero else t2)


def _select_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    full = [v if b else lax.broadcast_to(v, (size,) + tuple(shape_of(v)))
            for v, b in zip(vals, batched, strict=True)]
    return select_p.bind(*full)


#: ``select(pred, on_true, on_false)``: three arrays of one shape (``pred`` boolean)
select_p = Primitive("select", _select_impl)
select_p.vjp = _select_vjp
select_p.jvp = _select_jvp
select_p.batch = _select_batch


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` is true, else ``on_false``: ``pred`` a boolean scalar (or
    an array of the operands' shape); the operands of one shape and dtype.

    Example:
        >>> select(np.array([True, False]), np.ones(2), np.zeros(2))
        array([1., 0.])
    """
    shape = tuple(shape_of(on_true))
    if tuple(shape_of(pred)) != shape:
        pred = lax.broadcast_to(pred, shape)
    return select_p.bind(pred, on_true, on_false)


def _equals_impl(index: Any, k: int) -> Any:
    return np.asarray(index) == k


#: ``index == k`` for a branch number ``k`` (no derivative)
equals_p = Primitive("branch_equals", _equals_impl)
defnondiff(equals_p)
equals_p.batch = lambda vals, batched, params, size: equals_p.bind(vals[0], **params)


def _clamp_impl(index: Any, n: int) -> Any:
    return np.clip(np.asarray(index), 0, n - 1).astype(np.int64)


#: a branch index clamped into ``[0, n)`` as ``int64`` (no derivative)
clamp_p = Primitive("clamp_index", _clamp_impl)
defnondiff(clamp_p)
clamp_p.batch = lambda vals, batched, params, size: clamp_p.bind(vals[0], **params)


def _any_true(pred: Any) -> bool:
    """Whether some batch entry of a batched predicate is true."""
    while isinstance(pred, Tracer):
        pred = pred._primal
    return bool(np.any(pred))


# ----------------------------------------------------------------------------- cond / switch


def _check_scalar_operand(who: str, what: str, x: Any, kinds: str) -> None:
    shape, dtype = tuple(shape_of(x)), np.dtype(dtype_of(x))
    if shape != () or dtype.kind not in kinds:
        want = "a boolean or integer" if "b" in kinds else "an integer"
        raise TypeError(
            f"{who}: {what} must be {want} scalar, got {_fmt_aval((shape, dtype))}"
        )


def _select_trees(who: str, index: Any, outs: list) -> Any:
    """Entry by entry, the output of the branch that ``index`` names."""
    leaves0, tree0 = tree_flatten(outs[0])
    all_leaves = [leaves0]
    for k, out in enumerate(outs[1:], 1):
        leaves, tree = tree_flatten(out)
        if tree != tree0:
            raise TypeError(
                f"{who}: branch {k} returns the structure {tree!r} but branch 0 returns "
                f"{tree0!r}; every branch must return the same structure"
            )
        for j, (a, b) in enumerate(zip(leaves0, leaves, strict=True)):
            sa, sb = (tuple(shape_of(a)), dtype_of(a)), (tuple(shape_of(b)), dtype_of(b))
            if sa[0] != sb[0] or np.dtype(sa[1]) != np.dtype(sb[1]):
                raise TypeError(
                    f"{who}: output leaf {j} is {_fmt_aval(sb)} in branch {k} but "
                    f"{_fmt_aval(sa)} in branch 0; every branch must return the same shapes "
                    "and dtypes"
                )
        all_leaves.append(leaves)
    result = list(all_leaves[-1])
    for k in range(len(outs) - 2, -1, -1):
        mask = equals_p.bind(index, k=k)
        result = [select(mask, a, r) for a, r in zip(all_leaves[k], result, strict=True)]
    return tree_unflatten(tree0, result)


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped into ``[0, len(branches))``.

    Eagerly only the chosen branch runs. Under ``vmap`` with an index that differs between
    batch entries, every branch runs and each entry takes its own branch's result; under
    ``pb.jit`` the index is traced and the choice is made when the compiled code runs.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> branches = [pnp.sin, pnp.cos, lambda x: -x]
        >>> float(switch(1, branches, 0.0)), float(switch(7, branches, 2.0))
        (1.0, -2.0)
        >>> pb.grad(lambda x: switch(0, branches, x))(0.0)
        np.float64(1.0)
    """
    who = "switch"
    branches = list(branches)
    if not branches:
        raise ValueError(f"{who}: needs at least one branch")
    for k, b in enumerate(branches):
        if not callable(b):
            raise TypeError(f"{who}: branch {k} is a {type(b).__name__}, not a function")
    _check_scalar_operand(who, "the index", index, "iu")
    return _switch(who, index, branches, operands)


def _switch(who: str, index: Any, branches: list, operands: tuple) -> Any:
    n = len(branches)
    value = concrete_value(index)
    if value is BATCHED:
        clamped = clamp_p.bind(index, n=n)
        return _select_trees(who, clamped, [b(*operands) for b in branches])
    if value is ABSTRACT:
        return _staged_switch(who, index, branches, operands)
    k = min(max(int(np.asarray(value)), 0), n - 1)
    return branches[k](*operands)


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``.

    ``pred`` is a boolean (or integer) scalar. Eagerly only the chosen branch runs, so its
    derivatives are those of that branch; under ``vmap`` with a batched predicate both run
    and each entry takes its own; under ``pb.jit`` the predicate is traced.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> def relu(x):
        ...     return cond(x > 0, lambda x: x, pnp.zeros_like, x)
        >>> float(relu(3.0)), float(pb.grad(relu)(3.0)), float(pb.grad(relu)(-1.0))
        (3.0, 1.0, 0.0)
        >>> pb.vmap(relu)(np.array([-2.0, 2.0]))
        array([0., 2.])
    """
    who = "cond"
    for name, fun in (("true_fun", true_fun), ("false_fun", false_fun)):
        if not callable(fun):
            raise TypeError(f"{who}: {name} is a {type(fun).__name__}, not a function")
    _check_scalar_operand(who, "the predicate", pred, "biu")
    return _switch(who, pred, [false_fun, true_fun], operands)


# ----------------------------------------------------------------------------- loops


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; while cond_fun(val): val = body_fun(val); return val``.

    The carry keeps its structure, shapes and dtypes. Forward mode (``jvp``, ``jacfwd``)
    works through it; reverse mode does not, as the number of steps is known only when the
    loop has run (as in JAX): use ``fori_loop`` with fixed bounds or ``scan``.

    Example:
        >>> import pullback as pb
        >>> while_loop(lambda x: x < 100.0, lambda x: 2.0 * x, 3.0)
        192.0
        >>> pb.jvp(lambda x: while_loop(lambda v: v < 100.0, lambda v: v * v, x), (3.0,), (1.0,))
        (np.float64(6561.0), np.float64(17496.0))
    """
    who = "while_loop"
    for name, fun in (("cond_fun", cond_fun), ("body_fun", body_fun)):
        if not callable(fun):
            raise TypeError(f"{who}: {name} is a {type(fun).__name__}, not a function")
    return _while_loop(who, cond_fun, body_fun, init_val)


def _while_loop(who: str, cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    if staging():
        return _staged_while(who, cond_fun, body_fun, init_val)
    init_leaves, tree = tree_flatten(init_val)
    avals = _avals(init_leaves)
    _refuse_reverse(who, init_leaves)
    val = init_val
    while True:
        pred = cond_fun(val)
        _check_scalar_operand(who, "cond_fun's result", pred, "biu")
        p = concrete_value(pred)
        if p is ABSTRACT:
            bool(pred)  # raises the tracer's own error, naming the fix
        if p is BATCHED:
            if not _any_true(pred):
                return val
            new = body_fun(val)
            new_leaves = check_carry(who, "body_fun's result", tree, avals, new)
            _refuse_reverse(who, new_leaves)
            old_leaves = tree_flatten(val)[0]
            val = tree_unflatten(
                tree, [select(pred, a, b) for a, b in zip(new_leaves, old_leaves, strict=True)]
            )
            continue
        if not bool(np.asarray(p)):
            return val
        val = body_fun(val)
        _refuse_reverse(who, check_carry(who, "body_fun's result", tree, avals, val))


def _refuse_reverse(who: str, leaves: list) -> None:
    if any(_reverse_traced(x) for x in leaves):
        raise TypeError(
            f"{who}: reverse-mode differentiation (grad, vjp, jacrev) of a loop whose number "
            "of steps is known only when it runs is not supported, as in JAX: use "
            "pb.lax.fori_loop with bounds that are plain integers, or pb.lax.scan with a "
            "fixed length, or forward mode (pb.jvp, pb.jacfwd)"
        )


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val)``.

    With bounds known before the loop runs (Python or NumPy integers) it is a ``scan`` and
    differentiates in both modes; with traced bounds it is a ``while_loop`` (forward mode
    only). Eagerly ``i`` is a Python ``int``; under ``pb.jit`` an ``int64`` scalar.

    Example:
        >>> import pullback as pb
        >>> fori_loop(0, 4, lambda i, x: x + i, 0.0)
        6.0
        >>> float(pb.grad(lambda x: fori_loop(0, 3, lambda i, v: v * x, 1.0))(2.0))
        12.0
    """
    who = "fori_loop"
    if not callable(body_fun):
        raise TypeError(f"{who}: body_fun is a {type(body_fun).__name__}, not a function")
    _check_scalar_operand(who, "lower", lower, "iu")
    _check_scalar_operand(who, "upper", upper, "iu")
    lo, hi = concrete_value(lower), concrete_value(upper)
    if lo is BATCHED or lo is ABSTRACT or hi is BATCHED or hi is ABSTRACT:
        def body(carry: tuple) -> tuple:
            i, val = carry
            return i + 1, body_fun(i, val)

        return _while_loop(
            "fori_loop with traced bounds", lambda carry: carry[0] < upper, body,
            (lower, init_val),
        )[1]
    if staging():  # one loop in the graph, i traced
        def step(carry: tuple, _: Any) -> tuple:
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        n = max(int(hi) - int(lo), 0)
        (_, out), _ = _staged_scan(who, step, (np.int64(lo), init_val), [],
                                   tree_flatten(None)[1], n, False)
        return out
    init_leaves, tree = tree_flatten(init_val)
    avals = _avals(init_leaves)
    val = init_val
    for i in range(int(lo), int(hi)):
        val = body_fun(i, val)
        check_carry(who, "body_fun's result", tree, avals, val)
    return val


def _length(who: str, xs_leaves: list, length: int | None) -> int:
    sizes = set()
    for x in xs_leaves:
        shape = tuple(shape_of(x))
        if not shape:
            raise TypeError(
                f"{who}: every leaf of xs needs a leading axis to scan over, got a scalar"
            )
        sizes.add(shape[0])
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise TypeError(f"{who}: length must be a non-negative int, got {length!r}")
        sizes.add(int(length))
    if not sizes:
        raise ValueError(f"{who}: give xs with a leading axis, or length when xs is None")
    if len(sizes) != 1:
        raise ValueError(
            f"{who}: the leading axes of xs (and length, if given) must agree, got "
            f"{sorted(sizes)}"
        )
    return sizes.pop()


def _split_pair(who: str, out: Any) -> tuple[Any, Any]:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{who}: f must return a pair (carry, y), got {type(out).__name__}"
        )
    return out[0], out[1]


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    *,
    checkpoint: Any = None,
) -> tuple[Any, Any]:
    """Loop ``f(carry, x) -> (carry, y)`` over the leading axis of ``xs``; return the final
    carry and the ``y``'s stacked.

    Semantics of JAX's ``lax.scan``: ``xs`` and the ``y``'s may be pytrees; ``xs=None`` with
    ``length`` runs ``length`` steps with ``x = None``; ``reverse=True`` runs from the last
    entry to the first (``ys[i]`` still belongs to ``xs[i]``). The carry keeps its
    structure, shapes and dtypes. ``unroll`` is accepted for JAX's signature.

    Memory in reverse mode. Eagerly, by default, the loop is the Python loop it stands for
    and reverse mode keeps every intermediate of every step (the fastest backward pass).
    ``checkpoint`` trades time for memory; ``f`` is then traced once with shapes and dtypes
    only (as under ``pb.jit``), and for ``n`` steps:

    - ``"steps"`` (or ``True``): keep the ``n`` carries, run each step again in the backward
      pass (what ``pb.jit`` does by default); each step's body runs twice;
    - ``"sqrt"``: about ``sqrt(n)`` segments of ``sqrt(n)`` steps; keeps about
      ``2 sqrt(n)`` carries, runs each step 3 times;
    - ``"log"``: the nesting that keeps the fewest carries, O(log n) of them (as binomial
      checkpointing does), each step run once per level plus once;
    - an ``int`` budget: the most carries to keep; the schedule with the fewest runs that
      fits, ``d`` levels of ``ceil(n ** (1/d))`` segments (keeping about
      ``d * n ** (1/d)`` carries, each step run ``d + 1`` times).

    Under ``pb.jit`` the loop is one loop in the generated code whatever ``n``.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> def cumsum(xs):
        ...     return scan(lambda c, x: (c + x, c + x), 0.0, xs)
        >>> cumsum(np.array([1.0, 2.0, 3.0]))
        (np.float64(6.0), array([1., 3., 6.]))
        >>> pb.grad(lambda xs: cumsum(xs)[1].sum())(np.array([1.0, 2.0, 3.0]))
        array([3., 2., 1.])
    """
    who = "scan"
    if not callable(f):
        raise TypeError(f"{who}: f is a {type(f).__name__}, not a function")
    xs_leaves, xs_tree = tree_flatten(xs)
    n = _length(who, xs_leaves, length)
    if checkpoint is not None and checkpoint is not False:
        levels = checkpoint_levels(n, checkpoint)
        return _checkpointed_scan(who, f, init, xs_leaves, xs_tree, n, reverse, levels)
    if staging():  # one loop in the graph, whatever the number of steps
        return _staged_scan(who, f, init, xs_leaves, xs_tree, n, reverse)
    init_leaves, tree = tree_flatten(init)
    avals = _avals(init_leaves)
    carry = init
    steps: list[tuple[int, Any]] = []
    for i in range(n - 1, -1, -1) if reverse else range(n):
        x = tree_unflatten(xs_tree, [leaf[i] for leaf in xs_leaves])
        carry, y = _split_pair(who, f(carry, x))
        check_carry(who, "the carry returned by f", tree, avals, carry)
        steps.append((i, y))
    if reverse:
        steps.reverse()
    return carry, _stack_outputs(who, [y for _, y in steps], f, init, xs_leaves, xs_tree)


def _levels_plan(n: int, levels: int) -> tuple[int, float]:
    """(carries kept, runs of each step) for ``levels`` nested levels over ``n`` steps: the
    first carries of the segments at each level, and one carry's cotangent per level."""
    kept, m = 0, n
    for d in range(levels, 1, -1):
        seg = math.ceil(m ** ((d - 1) / d))  # steps per segment at this level
        kept += m // seg + (1 if m % seg else 0) + 1
        m = seg
    return kept + m, levels + 1


def checkpoint_levels(n: int, checkpoint: Any) -> int:
    """The number of nested levels of ``scan(..., checkpoint=checkpoint)`` over ``n`` steps.

    Example:
        >>> checkpoint_levels(1000, "steps"), checkpoint_levels(1000, "sqrt")
        (1, 2)
        >>> checkpoint_levels(1000, "log"), checkpoint_levels(1000, 40)
        (5, 3)
    """
    deepest = max(1, math.ceil(math.log2(max(n, 2))))
    if checkpoint is True or checkpoint == "steps":
        return 1
    if checkpoint == "sqrt":
        return 2 if n > 3 else 1
    if checkpoint == "log":  # the fewest carries kept (fewer levels on a tie)
        return min(range(1, deepest + 1), key=lambda d: (_levels_plan(n, d)[0], d))
    if isinstance(checkpoint, (int, np.integer)) and not isinstance(checkpoint, bool):
        budget = int(checkpoint)
        for d in range(1, deepest + 1):
            if _levels_plan(n, d)[0] <= budget:
                return d
        fewest = min(_levels_plan(n, d)[0] for d in range(1, deepest + 1))
        raise ValueError(
            f"scan: a checkpoint budget of {budget} carries is too small for {n} steps: the "
            f"leanest schedule keeps {fewest} (checkpoint='log'); give a budget of at "
            f"least {fewest}"
        )
    raise ValueError(
        f"scan: checkpoint must be None, True, 'steps', 'sqrt', 'log' or an int budget of "
        f"carries to keep, got {checkpoint!r}"
    )


def _checkpointed_scan(who: str, f: Callable, init: Any, xs_leaves: list, xs_tree: PyTreeDef,
                       n: int, reverse: bool, levels: int) -> tuple[Any, Any]:
    """Nested scans over segments (see :func:`_nested_scan`), ``f`` traced once."""
    if reverse:  # run the reversed sequence forward, put the outputs back in order
        xs_leaves = [_flip(x) for x in xs_leaves]
    body, captured, init_leaves, tree, y_tree = _stage_scan_body(who, f, init, xs_leaves,
                                                                  xs_tree)
    carry, ys = _nested_scan(who, body, captured, init_leaves, xs_leaves, n, levels, {})
    if reverse:
        ys = [_flip(y) for y in ys]
    return tree_unflatten(tree, carry), tree_unflatten(y_tree, ys)


def _nested_scan(who: str, body: Any, consts: list, carry: list, xs: list, n: int,
                 levels: int, cache: dict) -> tuple[list, list]:
    """``n`` steps of ``body`` in ``levels`` nested scans: the outer one over segments of
    ``ceil(n ** ((levels - 1) / levels))`` steps, each a nested scan of ``levels - 1``
    levels (a last, shorter segment after them). A staged scan keeps only its carries in
    reverse mode and runs each step again under vjp, so the outer scan keeps the first
    carry of each segment, and each segment, run again in the backward pass, keeps its
    own. The segment bodies take the constants as inputs and close over nothing, so one
    body serves every segment of a size (``cache``)."""
    nc, nk = len(consts), len(carry)
    if levels <= 1 or n <= 2:
        outs = scan_p.bind(*consts, *carry, *xs, body=body, n_consts=nc, n_carry=nk,
                           length=n, reverse=False)
        return list(outs[:nk]), list(outs[nk:])
    m = math.ceil(n ** ((levels - 1) / levels))  # steps per segment
    q, r = divmod(n, m)
    heads, tails = [], []
    for x in xs:
        shape = tuple(shape_of(x))
        head, tail = lax.split(x, (q * m, r), 0) if r else (x, None)
        heads.append(lax.reshape(head, (q, m) + shape[1:]))
        tails.append(tail)
    key = (m, levels - 1)
    seg = cache.get(key)
    if seg is None:
        def segment(*ins: Any) -> list:
            c, ys = _nested_scan(who, body, list(ins[:nc]), list(ins[nc:nc + nk]),
                                 list(ins[nc + nk:]), m, levels - 1, cache)
            return c + ys

        x_avals = [((m,) + tuple(s), d) for s, d in body.in_avals[nc + nk:]]
        seg, captured = stage(who, segment, list(body.in_avals[:nc + nk]) + x_avals,
                              f"segment{m}")
        assert not captured, "a segment body closes over nothing"
        cache[key] = seg
    outs = scan_p.bind(*consts, *carry, *heads, body=seg, n_consts=nc, n_carry=nk, length=q,
                       reverse=False)
    carry = list(outs[:nk])
    ys = [lax.reshape(y, (q * m,) + tuple(shape_of(y))[2:]) for y in outs[nk:]]
    if r:
        carry, ys_r = _nested_scan(who, body, consts, carry, tails, r, levels - 1, cache)
        ys = [lax.concatenate([a, b], 0) for a, b in zip(ys, ys_r, strict=True)]
    return carry, ys


def _flip(x: Any) -> Any:
    return flip_p.bind(x)


#: ``x[::-1]``: reverses the leading axis; its own transpose
flip_p = Primitive("flip0", lambda x: np.flip(x, 0))
deflinear(flip_p, lambda g, x: flip_p.bind(g))
flip_p.batch = lambda vals, batched, params, size: _swap01(flip_p.bind(_swap01(vals[0])))


def _stack_outputs(who: str, ys: list, f: Callable, init: Any, xs_leaves: list,
                   xs_tree: PyTreeDef) -> Any:
    if not ys:
        return _empty_outputs(who, f, init, xs_leaves, xs_tree)
    leaves0, tree0 = tree_flatten(ys[0])
    columns: list[list] = [[leaf] for leaf in leaves0]
    avals0 = _avals(leaves0)
    for k, y in enumerate(ys[1:], 1):
        leaves = check_carry(who, f"the y of step {k}", tree0, avals0, y, "the y of step 0")
        for col, leaf in zip(columns, leaves, strict=True):
            col.append(leaf)
    return tree_unflatten(tree0, [lax.stack(col) for col in columns])


def _empty_outputs(who: str, f: Callable, init: Any, xs_leaves: list,
                   xs_tree: PyTreeDef) -> Any:
    """The stacked ``y``'s of a scan of no steps: empty arrays shaped like one ``y``, which
    ``f`` gives once on zeros shaped like one entry of ``xs`` (its result is dropped)."""
    x = tree_unflatten(
        xs_tree, [np.zeros(tuple(shape_of(leaf))[1:], dtype_of(leaf)) for leaf in xs_leaves]
    )
    _, y = _split_pair(who, f(init, x))
    leaves, tree = tree_flatten(y)
    return tree_unflatten(
        tree, [np.zeros((0,) + tuple(shape_of(v)), dtype_of(v)) for v in leaves]
    )


def map(f: Callable, xs: Any) -> Any:  # noqa: A001 - JAX's name
    """``f`` applied to each entry of ``xs`` along its leading axis, results stacked:
    ``scan`` without a carry.

    Example:
        >>> import pullback.numpy as pnp
        >>> map(lambda x: pnp.sum(x ** 2), np.arange(6.0).reshape(3, 2))
        array([ 1., 13., 41.])
    """
    return scan(lambda carry, x: ((), f(x)), (), xs)[1]


# ----------------------------------------------------------------------------- staging


#: ``stager(flat_fun, in_avals, name) -> (body, captured)``: set by pullback.compile.staging
_stager: Callable[..., tuple[Any, list]] | None = None


def register_stager(stager: Callable[..., tuple[Any, list]]) -> None:
    """Install the function that traces a sub-program into a body (``pullback.compile``
    does, when imported): ``stager(flat_fun, in_avals, name) -> (body, captured)``.

    A body is called with the captured values then the inputs and binds its primitives
    (so transformations see them); ``body.run(*arrays)`` evaluates it with NumPy;
    ``body.in_avals``/``body.out_avals`` are ``(shape, dtype)`` pairs; ``body.derived`` is a
    cache of bodies made from it; ``body.saving(policy)`` adds the outputs of the
    equations that ``policy(prim, params)`` keeps; ``body.evaluate(inputs, saved, reuse)``
    evaluates with those kept outputs.

    Example:
        >>> import pullback  # registers pullback.compile's stager
        >>> _stager is not None
        True
    """
    global _stager
    _stager = stager


def stage(who: str, flat_fun: Callable[..., list], in_avals: Sequence[tuple],
          name: str = "body") -> tuple[Any, list]:
    """Trace ``flat_fun`` (flat inputs to a flat list of outputs) with abstract inputs:
    ``(body, captured)``, the captured values being those of enclosing transformations
    it closes over (pass them first when calling the body)."""
    if _stager is None:
        raise RuntimeError(
            f"{who} traces its function into a graph, which needs pullback.compile: "
            "`import pullback` (the package) rather than pullback.core alone"
        )
    try:
        return _stager(flat_fun, list(in_avals), name)
    except TracerConversionError as err:
        raise type(err)(
            f"{who} traces its function once with shapes and dtypes only (to run it again, "
            f"differentiate it and compile it), and that needs a value: {err}"
        ).with_traceback(err.__traceback__) from None


def _is_float(dtype: Any) -> bool:
    return np.dtype(dtype).kind in "fc"


def jvp_flat(fn: Callable[..., list], primals: Sequence[Any],
             tangents: Sequence[Any]) -> tuple[list, list]:
    """``fn``'s outputs and their tangents (``zero`` where none) for the given input
    tangents (``zero`` where none): one forward-mode pass, any dtypes.

    Example:
        >>> outs, tangents = jvp_flat(lambda x, n: [x * x, n], [3.0, 2], [1.0, zero])
        >>> [float(outs[0]), outs[1]], [float(tangents[0]), tangents[1]]
        ([9.0, 2], [6.0, zero])
    """
    with new_trace(JVPTrace) as trace:
        ins = [p if t is zero else JVPTracer(trace, p, t)
               for p, t in zip(primals, tangents, strict=True)]
        outs = fn(*ins)
    values, touts = [], []
    for o in outs:
        if isinstance(o, JVPTracer) and o._trace is trace:
            values.append(o._primal)
            touts.append(o.tangent)
        else:
            values.append(o)
            touts.append(zero)
    return values, touts


def vjp_flat(fn: Callable[..., list], primals: Sequence[Any],
             wrt: Sequence[bool]) -> tuple[list, Callable[[Sequence[Any]], list]]:
    """``fn``'s outputs and a pullback from output cotangents (``zero`` where none) to the
    cotangents of the inputs marked in ``wrt`` (``zero`` for the others).

    Example:
        >>> outs, pull = vjp_flat(lambda x, y: [x * y], [3.0, 2.0], [True, False])
        >>> [float(o) for o in outs], pull([1.0])
        ([6.0], [2.0, zero])
    """
    with new_trace(VJPTrace) as trace:
        ins = [trace.leaf(p) if w else p for p, w in zip(primals, wrt, strict=True)]
        leaves = [x.node if w else None for x, w in zip(ins, wrt, strict=True)]
        outs = fn(*ins)
    nodes = trace.nodes
    values: list[Any] = []
    out_nodes: list[tuple[Any, int] | None] = []
    for o in outs:
        if isinstance(o, VJPTracer) and o._trace is trace:
            values.append(o._primal)
            out_nodes.append((o.node, o.index))
        else:
            values.append(o)
            out_nodes.append(None)
    del ins, outs

    def pull(cts: Sequence[Any]) -> list:
        seeds = [(n[0], n[1], g) for n, g in zip(out_nodes, cts, strict=True)
                 if n is not None and g is not zero and g is not None]
        at = backward_pass(seeds, nodes) if seeds else {}
        return [zero if node is None else at.get(node, zero) for node in leaves]

    return values, pull


def _derived(body: Any, key: Any, make: Callable[[], Any]) -> Any:
    hit = body.derived.get(key)
    if hit is None:
        hit = body.derived[key] = make()
    return hit


def jvp_body(who: str, body: Any, nonzero: tuple[int, ...]) -> tuple[Any, list[int]]:
    """The body computing ``body``'s outputs then the tangents of its floating outputs,
    from its inputs then the tangents of the inputs numbered in ``nonzero``; and the
    positions of the floating outputs."""

    def make() -> tuple[Any, list[int]]:
        n_in = len(body.in_avals)
        floats = [k for k, (_, dt) in enumerate(body.out_avals) if dt is not None
                  and _is_float(dt)]

        def fn(*ins: Any) -> list:
            tangents = [zero] * n_in
            for i, t in zip(nonzero, ins[n_in:], strict=True):
                tangents[i] = t
            outs, touts = jvp_flat(body, ins[:n_in], tangents)
            return outs + [instantiate(touts[k], outs[k]) for k in floats]

        avals = list(body.in_avals) + [body.in_avals[i] for i in nonzero]
        jbody, captured = stage(who, fn, avals, f"jvp_{body.name}")
        assert not captured, "a derived body closes over nothing"
        return jbody, floats

    made: tuple[Any, list[int]] = _derived(body, ("jvp", nonzero), make)
    return made


def batch_body(who: str, body: Any, batched: tuple[bool, ...], size: int) -> Any:
    """The body mapping ``body`` over a leading batch axis of the inputs marked in
    ``batched``; every output gets the batch axis."""

    def make() -> Any:
        def fn(*ins: Any) -> list:
            mapped = vmap(lambda *a: list(body(*a)),
                          in_axes=tuple(0 if b else None for b in batched))
            return list(mapped(*ins))

        avals = [((size,) + tuple(shape), dt) if b else (shape, dt)
                 for (shape, dt), b in zip(body.in_avals, batched, strict=True)]
        bbody, captured = stage(who, fn, avals, f"vmap_{body.name}")
        assert not captured, "a derived body closes over nothing"
        return bbody

    return _derived(body, ("batch", batched, size), make)


# ----------------------------------------------------------------------------- checkpoint

_DOTS = frozenset({"matmul", "dot", "einsum"})


def nothing_saveable(prim: Primitive, params: dict) -> bool:
    """Checkpoint policy: keep nothing, recompute everything in the backward pass.

    Example:
        >>> nothing_saveable(name_p, {"name": "h"})
        False
    """
    return False


def everything_saveable(prim: Primitive, params: dict) -> bool:
    """Checkpoint policy: keep every intermediate (no recomputation).

    Example:
        >>> everything_saveable(name_p, {"name": "h"})
        True
    """
    return True


def dots_saveable(prim: Primitive, params: dict) -> bool:
    """Checkpoint policy: keep the results of matrix products (``matmul``, ``dot``,
    ``einsum`` and what is built on them), recompute the rest.

    Example:
        >>> dots_saveable(name_p, {"name": "h"})
        False
    """
    return prim.name in _DOTS


def save_only_these_names(*names: str) -> Callable[[Primitive, dict], bool]:
    """Checkpoint policy: keep the values marked with :func:`checkpoint_name` under one
    of ``names``, recompute the rest.

    Example:
        >>> save_only_these_names("h")(name_p, {"name": "h"})
        True
    """
    wanted = frozenset(names)

    def policy(prim: Primitive, params: dict) -> bool:
        return prim is name_p and params.get("name") in wanted

    policy.__qualname__ = f"save_only_these_names{tuple(sorted(wanted))}"
    return policy


def save_any_names_but_these(*names: str) -> Callable[[Primitive, dict], bool]:
    """Checkpoint policy: keep every value marked with :func:`checkpoint_name` except
    those under one of ``names``.

    Example:
        >>> save_any_names_but_these("h")(name_p, {"name": "h"})
        False
    """
    unwanted = frozenset(names)

    def policy(prim: Primitive, params: dict) -> bool:
        return prim is name_p and params.get("name") not in unwanted

    policy.__qualname__ = f"save_any_names_but_these{tuple(sorted(unwanted))}"
    return policy


#: the policies of :func:`checkpoint`, under JAX's names
checkpoint_policies = SimpleNamespace(
    nothing_saveable=nothing_saveable,
    everything_saveable=everything_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    save_only_these_names=save_only_these_names,
    save_any_names_but_these=save_any_names_but_these,
)

_POLICY_NAMES = {"nothing": None, "dots": dots_saveable, "everything": everything_saveable}


def _resolve_policy(policy: Any) -> Callable[[Primitive, dict], bool] | None:
    if policy is None or policy is nothing_saveable:
        return None
    if isinstance(policy, str):
        if policy not in _POLICY_NAMES:
            raise ValueError(
                f"checkpoint: policy {policy!r} is not one of {sorted(_POLICY_NAMES)}; or pass "
                "a function policy(prim, params) -> bool, such as "
                "pb.checkpoint_policies.save_only_these_names('h')"
            )
        return _POLICY_NAMES[policy]
    if not callable(policy):
        raise TypeError(
            f"checkpoint: policy must be None, 'nothing', 'dots', 'everything' or a function "
            f"policy(prim, params) -> bool, got {type(policy).__name__}"
        )
    resolved: Callable[[Primitive, dict], bool] = policy
    return resolved


name_p = Primitive("checkpoint_name", lambda x, name: x)
deflinear(name_p, lambda g, x, name: g)
name_p.batch = lambda vals, batched, params, size: name_p.bind(vals[0], **params)


def checkpoint_name(x: Any, name: str) -> Any:
    """``x`` itself, marked ``name`` for the policies of :func:`checkpoint`
    (:func:`save_only_these_names`); pytrees too.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> def f(x):
        ...     h = checkpoint_name(pnp.sin(x), "h")
        ...     return pnp.sum(pnp.cos(h))
        >>> policy = pb.checkpoint_policies.save_only_these_names("h")
        >>> g = pb.grad(pb.checkpoint(f, policy=policy))(np.ones(2))
        >>> bool(np.allclose(g, pb.grad(f)(np.ones(2))))
        True
    """
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: name must be a str, got {type(name).__name__}")
    return tree_map(lambda leaf: name_p.bind(leaf, name=name), x)


class _ReusePrimitive(Primitive):
    """An equation replayed with its kept output: the value is the kept one, the rules are
    those of the original primitive (``inner``)."""

    __slots__ = ()

    def forward_for_vjp(self, args: tuple, params: dict) -> tuple[Any, Any]:
        saved = params["saved"]
        return (saved if self.multiple_results else saved[0]), None

    def backward(self, g: Any, ans: Any, args: tuple, params: dict, residual: Any,
                 needs: tuple) -> tuple:
        inner: Primitive = params["inner"]
        return inner.backward(g, ans, args, params["inner_params"], None, needs)

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        inner: Primitive = params["inner"]
        inner_params = params["inner_params"]
        if inner.jvp is None:
            return inner.jvp_apply(primals, tangents, inner_params)
        saved = params["saved"]
        ans = saved if self.multiple_results else saved[0]
        return ans, inner.jvp(tangents, ans, primals, inner_params)


def _reuse_impl(*args: Any, inner: Primitive, inner_params: dict, saved: tuple) -> Any:
    return saved[0]


reuse_p = _ReusePrimitive("reuse", _reuse_impl)
reuse_multiple_p = _ReusePrimitive(
    "reuse", lambda *a, inner, inner_params, saved: tuple(saved), multiple_results=True
)


def _reuse(prim: Primitive, ins: list, params: dict, saved: list) -> Any:
    p = reuse_multiple_p if prim.multiple_results else reuse_p
    return p.bind(*ins, inner=prim, inner_params=params, saved=tuple(saved))


def _cotangents(g: Any, n_out: int) -> list:
    """The output cotangents of a multiple-results node as a list (the backward pass hands
    a node with one output its cotangent alone)."""
    return [g] if n_out == 1 else list(g)


class _CheckpointPrimitive(Primitive):
    """``checkpoint``: a body run without keeping its intermediates; its backward pass runs
    it again under ``vjp`` (keeping the outputs of the equations its policy names)."""

    __slots__ = ()

    def abstract_eval(self, avals: list, body: Any, policy: Any) -> list:
        return list(body.out_avals)

    def forward_for_vjp(self, args: tuple, params: dict) -> tuple[Any, Any]:
        body, policy = params["body"], params["policy"]
        if policy is not None:
            full_body, slots = body.saving(policy)
            if slots:
                full = self.bind(*args, body=full_body, policy=policy)
                return tuple(full[: len(body.out_avals)]), (full, full_body, slots)
        return self.bind(*args, **params), None

    def backward(self, g: Any, ans: Any, args: tuple, params: dict, residual: Any,
                 needs: tuple) -> tuple:
        body = params["body"]
        n_out = len(body.out_avals)
        if residual is None:
            fn = body
        else:
            full, full_body, slots = residual
            saved = {k: [full[p] for p in pos] for k, pos in slots.items()}

            def fn(*ins: Any) -> list:
                outs: list = full_body.evaluate(ins, saved, _reuse)
                return outs[:n_out]

        wrt = [bool(need) and _is_float(dtype_of(a)) for a, need in zip(args, needs, strict=True)]
        _, pull = vjp_flat(fn, args, wrt)
        return tuple(pull(_cotangents(g, n_out)))

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        body, policy = params["body"], params["policy"]
        nonzero = tuple(i for i, t in enumerate(tangents) if t is not zero)
        if not nonzero:
            return self.bind(*primals, **params), zero
        jbody, floats = jvp_body("checkpoint", body, nonzero)
        res = self.bind(*primals, *[tangents[i] for i in nonzero], body=jbody, policy=policy)
        n = len(body.out_avals)
        touts = [zero] * n
        for k, pos in enumerate(floats):
            touts[pos] = res[n + k]
        return tuple(res[:n]), tuple(touts)


def _checkpoint_impl(*inputs: Any, body: Any, policy: Any) -> tuple:
    return tuple(body.run(*inputs))


def _checkpoint_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    body = batch_body("checkpoint", params["body"], tuple(batched), size)
    return checkpoint_p.bind(*vals, body=body, policy=params["policy"])


checkpoint_p = _CheckpointPrimitive("checkpoint", _checkpoint_impl, multiple_results=True)
checkpoint_p.batch = _checkpoint_batch


def _is_dynamic(x: Any) -> bool:
    """Arrays and traced values are inputs of a staged function; Python values are fixed."""
    return isinstance(x, (Tracer, np.ndarray, np.generic))


def _check_output_leaf(who: str, k: int, leaf: Any) -> None:
    if not isinstance(leaf, (Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        raise TypeError(
            f"{who}: output leaf {k} is a {type(leaf).__name__}; the function must return "
            "arrays (or a pytree of arrays)"
        )


def stage_pytree(who: str, fun: Callable[..., Any], args: tuple, name: str,
                 static: frozenset[int] = frozenset()) -> tuple[Any, list, list, PyTreeDef]:
    """Stage ``fun(*args)``: ``(body, captured, inputs, out_tree)``, the body taking the
    captured values then ``inputs`` (the array leaves of the arguments not in ``static``)
    and returning the output leaves."""
    leaves, tree = tree_flatten(tuple(None if i in static else a for i, a in enumerate(args)))
    dyn = [k for k, x in enumerate(leaves) if _is_dynamic(x)]
    out_trees: list[PyTreeDef] = []

    def flat_fun(*vals: Any) -> list:
        full = list(leaves)
        for k, v in zip(dyn, vals, strict=True):
            full[k] = v
        rebuilt = list(tree_unflatten(tree, full))
        for i in static:
            rebuilt[i] = args[i]
        out_leaves, out_tree = tree_flatten(fun(*rebuilt))
        for k, leaf in enumerate(out_leaves):
            _check_output_leaf(who, k, leaf)
        out_trees.append(out_tree)
        return out_leaves

    inputs = [leaves[k] for k in dyn]
    body, captured = stage(who, flat_fun, [(tuple(shape_of(x)), dtype_of(x)) for x in inputs],
                           name)
    return body, captured, inputs, out_trees[0]


def checkpoint(
    fun: Callable,
    policy: Any = None,
    *,
    prevent_cse: bool = True,
    static_argnums: int | Sequence[int] = (),
) -> Callable:
    """``fun``, whose backward pass recomputes its intermediates instead of storing them.

    Reverse mode through ``checkpoint(fun)`` keeps only ``fun``'s inputs; the backward pass
    runs ``fun`` again under ``vjp``. ``policy`` says what to keep anyway: ``None`` or
    ``"nothing"`` (recompute everything), ``"dots"`` (keep the results of matrix
    products), ``"everything"``, or a function ``policy(prim, params) -> bool`` such as
    ``pb.checkpoint_policies.save_only_these_names("h")`` for values marked with
    :func:`checkpoint_name`. Derivatives are the same as without it, in both modes, at any
    order, under ``vmap`` and ``pb.jit``; checkpoints nest.

    ``fun`` is traced once per call with shapes and dtypes only (as under ``pb.jit``), so
    Python control flow on its values needs ``pb.lax.cond``/``while_loop``; arguments in
    ``static_argnums`` and Python numbers are fixed values. ``prevent_cse`` is accepted for
    JAX's signature (the recomputation is never merged with the forward pass here).

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> block = pb.checkpoint(lambda x, w: pnp.tanh(pnp.tanh(x * w) * w))
        >>> def loss(w, x):
        ...     for _ in range(3):
        ...         x = block(x, w)
        ...     return pnp.sum(x)
        >>> g = pb.grad(loss)(0.5, np.ones(3))
        >>> plain = pb.grad(lambda w, x: pnp.sum(pnp.tanh(pnp.tanh(pnp.tanh(pnp.tanh(
        ...     pnp.tanh(pnp.tanh(x * w) * w) * w) * w) * w) * w)))(0.5, np.ones(3))
        >>> bool(np.isclose(g, plain))
        True
    """
    if not callable(fun):
        raise TypeError(f"checkpoint: expected a function, got {type(fun).__name__}")
    policy_fn = _resolve_policy(policy)
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    who = f"checkpoint of {getattr(fun, '__name__', type(fun).__name__)}"

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not trace_state.stack:
            return fun(*args, **kwargs)  # nothing is recorded: nothing to save
        n, keys = len(args), tuple(kwargs)

        def positional(*all_args: Any) -> Any:
            return fun(*all_args[:n], **dict(zip(keys, all_args[n:], strict=True)))

        static = frozenset(i % n for i in nums if -n <= i < n)
        body, captured, inputs, out_tree = stage_pytree(
            who, positional, args + tuple(kwargs.values()), "checkpoint", static
        )
        outs = checkpoint_p.bind(*captured, *inputs, body=body, policy=policy_fn)
        return tree_unflatten(out_tree, list(outs))

    return wrapped


remat = checkpoint


# ----------------------------------------------------------------------------- staged loops
#
# Under pb.jit (and inside a checkpointed function) the loops and branches are primitives
# holding their body, traced once: the graph's size does not grow with the number of steps.
# Their rules make new bodies (jvp_body, batch_body and the ones below) and bind the same
# primitives again, so every transformation, at every order, stays one loop.


def _split(seq: Sequence[Any], *sizes: int) -> list[list]:
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start:start + n]))
        start += n
    out.append(list(seq[start:]))
    return out


def _zeros(aval: tuple) -> np.ndarray:
    """Zeros of ``aval``: a read-only broadcast of one zero (no memory of its size)."""
    shape, dtype = aval
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


def _float_positions(avals: Sequence[tuple]) -> list[int]:
    return [k for k, (_, dt) in enumerate(avals) if dt is not None and _is_float(dt)]


def _scan_impl(*inputs: Any, body: Any, n_consts: int, n_carry: int, length: int,
               reverse: bool) -> tuple:
    consts, carry, xs = _split(inputs, n_consts, n_carry)
    ys = [np.empty((length,) + tuple(shape), dtype) for shape, dtype in body.out_avals[n_carry:]]
    run = body.run
    for i in range(length - 1, -1, -1) if reverse else range(length):
        out = run(*consts, *carry, *[x[i] for x in xs])
        carry = out[:n_carry]
        for y, o in zip(ys, out[n_carry:], strict=True):
            y[i] = o
    return tuple(carry) + tuple(ys)


class _ScanPrimitive(Primitive):
    """``scan``: ``length`` steps of ``body(consts, carry, x) -> (carry, y)``."""

    __slots__ = ()

    def abstract_eval(self, avals: list, body: Any, n_consts: int, n_carry: int, length: int,
                      reverse: bool) -> list:
        outs = list(body.out_avals)
        return outs[:n_carry] + [((length,) + tuple(s), d) for s, d in outs[n_carry:]]

    # forward mode ------------------------------------------------------------------------

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        body, nc, nk = params["body"], params["n_consts"], params["n_carry"]
        if all(t is zero for t in tangents):
            return self.bind(*primals, **params), zero
        consts, carry, xs = _split(primals, nc, nk)
        tc, tk, tx = _split(tangents, nc, nk)
        nz_c = tuple(i for i, t in enumerate(tc) if t is not zero)
        nz_x = tuple(i for i, t in enumerate(tx) if t is not zero)
        fk = _float_positions(body.in_avals[nc:nc + nk])
        fy = _float_positions(body.out_avals[nk:])
        jbody = _derived(body, ("scan_jvp", nc, nk, nz_c, nz_x),
                         lambda: _scan_jvp_body(body, nc, nk, nz_c, nz_x, fk, fy))
        t_init = [instantiate(tk[k], carry[k]) for k in fk]
        res = self.bind(
            *consts, *[tc[i] for i in nz_c], *carry, *t_init, *xs, *[tx[i] for i in nz_x],
            body=jbody, n_consts=nc + len(nz_c), n_carry=nk + len(fk),
            length=params["length"], reverse=params["reverse"],
        )
        out_carry, t_carry, ys, t_ys = _split(res, nk, len(fk), len(body.out_avals) - nk)
        t_out: list[Any] = [zero] * len(res[: nk]) + [zero] * len(ys)
        for k, t in zip(fk, t_carry, strict=True):
            t_out[k] = t
        for j, t in zip(fy, t_ys, strict=True):
            t_out[nk + j] = t
        return tuple(out_carry + ys), tuple(t_out)

    # reverse mode ------------------------------------------------------------------------

    def forward_for_vjp(self, args: tuple, params: dict) -> tuple[Any, Any]:
        body, nc, nk = params["body"], params["n_consts"], params["n_carry"]
        fbody = _derived(body, ("scan_save", nc, nk), lambda: _scan_saving_body(body, nc, nk))
        res = self.bind(*args, **{**params, "body": fbody})
        n_out = len(body.out_avals)
        return tuple(res[:n_out]), tuple(res[n_out:])

    def backward(self, g: Any, ans: Any, args: tuple, params: dict, residual: Any,
                 needs: tuple) -> tuple:
        body, nc, nk = params["body"], params["n_consts"], params["n_carry"]
        length = params["length"]
        consts, carry, xs = _split(args, nc, nk)
        n_out = len(body.out_avals)
        gs = _cotangents(g, n_out)
        fc = _float_positions(body.in_avals[:nc])
        fk = _float_positions(body.in_avals[nc:nc + nk])
        fx = _float_positions(body.in_avals[nc + nk:])
        fy = _float_positions(body.out_avals[nk:])
        bbody = _derived(body, ("scan_bwd", nc, nk), lambda: _scan_bwd_body(body, nc, nk))
        ct_init = [instantiate(gs[k], carry[k]) for k in fk]
        acc = [_zeros(body.in_avals[i]) for i in fc]
        ct_ys = [instantiate(gs[nk + j], ans[nk + j]) for j in fy]
        res = self.bind(
            *consts, *ct_init, *acc, *residual, *xs, *ct_ys,
            body=bbody, n_consts=nc, n_carry=len(fk) + len(fc), length=length,
            reverse=not params["reverse"],
        )
        ct_carry, ct_consts, ct_xs = _split(res, len(fk), len(fc))
        cts: list[Any] = [zero] * len(args)
        for i, c in zip(fc, ct_consts, strict=True):
            cts[i] = c
        for k, c in zip(fk, ct_carry, strict=True):
            cts[nc + k] = c
        for j, c in zip(fx, ct_xs, strict=True):
            cts[nc + nk + j] = c
        return tuple(cts)


def _scan_jvp_body(body: Any, nc: int, nk: int, nz_c: tuple, nz_x: tuple, fk: list,
                   fy: list) -> Any:
    """(consts, tconsts, carry, tcarry, x, tx) -> (carry, tcarry, y, ty)."""
    n_x = len(body.in_avals) - nc - nk

    def fn(*ins: Any) -> list:
        consts, tc, carry, tk, x, tx = _split(ins, nc, len(nz_c), nk, len(fk), n_x)
        tangents: list[Any] = [zero] * len(body.in_avals)
        for i, t in zip(nz_c, tc, strict=True):
            tangents[i] = t
        for k, t in zip(fk, tk, strict=True):
            tangents[nc + k] = t
        for j, t in zip(nz_x, tx, strict=True):
            tangents[nc + nk + j] = t
        outs, touts = jvp_flat(body, consts + carry + x, tangents)
        return (outs[:nk] + [instantiate(touts[k], outs[k]) for k in fk] + outs[nk:]
                + [instantiate(touts[nk + j], outs[nk + j]) for j in fy])

    a = list(body.in_avals)
    avals = (a[:nc] + [a[i] for i in nz_c] + a[nc:nc + nk] + [a[nc + k] for k in fk]
             + a[nc + nk:] + [a[nc + nk + j] for j in nz_x])
    jbody, captured = stage("scan", fn, avals, f"jvp_{body.name}")
    assert not captured, "a derived body closes over nothing"
    return jbody


def _scan_saving_body(body: Any, nc: int, nk: int) -> Any:
    """The body that also outputs the carry it received (stacked: the carries to go back
    through)."""

    def fn(*ins: Any) -> list:
        return list(body(*ins)) + list(ins[nc:nc + nk])

    sbody, captured = stage("scan", fn, body.in_avals, f"save_{body.name}")
    assert not captured, "a derived body closes over nothing"
    return sbody


def _scan_bwd_body(body: Any, nc: int, nk: int) -> Any:
    """One step back: (consts; ct_carry, ct_consts; carry_i, x_i, ct_y_i) -> (ct_carry_before,
    ct_consts + this step's; ct_x_i). The step's forward pass runs again under vjp."""
    a = list(body.in_avals)
    n_x = len(a) - nc - nk
    fc = _float_positions(a[:nc])
    fk = _float_positions(a[nc:nc + nk])
    fx = _float_positions(a[nc + nk:])
    fy = _float_positions(body.out_avals[nk:])
    wrt = [k in fc for k in range(nc)] + [k in fk for k in range(nk)] + [
        k in fx for k in range(n_x)]

    def fn(*ins: Any) -> list:
        consts, ct_k, acc, carry, x, ct_y = _split(ins, nc, len(fk), len(fc), nk, n_x)
        outs, pull = vjp_flat(body, consts + carry + x, wrt)
        cts_out: list[Any] = [zero] * len(outs)
        for k, c in zip(fk, ct_k, strict=True):
            cts_out[k] = c
        for j, c in zip(fy, ct_y, strict=True):
            cts_out[nk + j] = c
        cts = pull(cts_out)
        ins_all = consts + carry + x
        new_ct_k = [instantiate(cts[nc + k], carry[k]) for k in fk]
        new_acc = [s if cts[i] is zero else s + cts[i] for s, i in zip(acc, fc, strict=True)]
        ct_x = [instantiate(cts[nc + nk + j], ins_all[nc + nk + j]) for j in fx]
        return new_ct_k + new_acc + ct_x

    avals = (a[:nc] + [a[nc + k] for k in fk] + [a[i] for i in fc] + a[nc:nc + nk]
             + a[nc + nk:] + [body.out_avals[nk + j] for j in fy])
    bbody, captured = stage("scan", fn, avals, f"bwd_{body.name}")
    assert not captured, "a derived body closes over nothing"
    return bbody


def _scan_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    body, nc, nk = params["body"], params["n_consts"], params["n_carry"]
    consts, carry, xs = _split(vals, nc, nk)
    bc, _, bx = _split(batched, nc, nk)
    carry = [v if b else lax.broadcast_to(v, (size,) + tuple(shape_of(v)))
             for v, b in zip(carry, batched[nc:nc + nk], strict=True)]
    xs = [_swap01(x) if b else x for x, b in zip(xs, bx, strict=True)]
    flags = tuple(bc) + (True,) * nk + tuple(bx)
    bbody = batch_body("scan", body, flags, size)
    res = scan_p.bind(*consts, *carry, *xs, **{**params, "body": bbody})
    return tuple(res[:nk]) + tuple(_swap01(y) for y in res[nk:])


def _swap01(x: Any) -> Any:
    """Exchange the two leading axes (the batch axis and the scanned axis)."""
    ndim = len(shape_of(x))
    return lax.transpose(x, (1, 0) + tuple(range(2, ndim)))


scan_p = _ScanPrimitive("scan", _scan_impl, multiple_results=True)
scan_p.batch = _scan_batch


def _stage_scan_body(who: str, f: Callable, init: Any, xs_leaves: list,
                     xs_tree: PyTreeDef) -> tuple[Any, list, list, PyTreeDef, PyTreeDef]:
    """``f`` traced once: ``(body, captured, init_leaves, carry_tree, y_tree)``."""
    init_leaves, tree = tree_flatten(init)
    avals = _avals(init_leaves)
    nk = len(init_leaves)
    y_trees: list[PyTreeDef] = []

    def flat_fun(*ins: Any) -> list:
        carry = tree_unflatten(tree, list(ins[:nk]))
        x = tree_unflatten(xs_tree, list(ins[nk:]))
        new, y = _split_pair(who, f(carry, x))
        new_leaves = check_carry(who, "the carry returned by f", tree, avals, new)
        y_leaves, y_tree = tree_flatten(y)
        for k, leaf in enumerate(y_leaves):
            _check_output_leaf(who, k, leaf)
        y_trees.append(y_tree)
        return new_leaves + y_leaves

    x_avals = [(tuple(shape_of(x))[1:], dtype_of(x)) for x in xs_leaves]
    body, captured = stage(who, flat_fun, avals + x_avals, "scan_body")
    return body, captured, init_leaves, tree, y_trees[0]


def _staged_scan(who: str, f: Callable, init: Any, xs_leaves: list, xs_tree: PyTreeDef,
                 n: int, reverse: bool) -> tuple[Any, Any]:
    body, captured, init_leaves, tree, y_tree = _stage_scan_body(who, f, init, xs_leaves,
                                                                  xs_tree)
    nk = len(init_leaves)
    outs = scan_p.bind(*captured, *init_leaves, *xs_leaves, body=body, n_consts=len(captured),
                       n_carry=nk, length=n, reverse=bool(reverse))
    return tree_unflatten(tree, list(outs[:nk])), tree_unflatten(y_tree, list(outs[nk:]))


# ----------------------------------------------------------------------------- staged while


def _any_impl(x: Any, axes: tuple | None) -> Any:
    return np.any(x, axis=axes)


#: whether any entry is true, over ``axes`` (None: all); no derivative
any_p = Primitive("any", _any_impl)
defnondiff(any_p)
any_p.batch = lambda vals, batched, params, size: any_p.bind(
    vals[0], axes=tuple(a + 1 for a in (params["axes"] if params["axes"] is not None
                                        else range(len(shape_of(vals[0])) - 1))))


def _while_impl(*inputs: Any, cond_body: Any, body: Any, n_cconsts: int,
                n_bconsts: int) -> tuple:
    cc, bc, carry = _split(inputs, n_cconsts, n_bconsts)
    test, run = cond_body.run, body.run
    while test(*cc, *carry)[0]:
        carry = run(*bc, *carry)
    return tuple(carry)


class _WhilePrimitive(Primitive):
    """``while_loop``: ``body(bconsts, carry)`` while ``cond_body(cconsts, carry)``."""

    __slots__ = ()

    def abstract_eval(self, avals: list, cond_body: Any, body: Any, n_cconsts: int,
                      n_bconsts: int) -> list:
        return list(body.out_avals)

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        body, cond_body = params["body"], params["cond_body"]
        ncc, nbc = params["n_cconsts"], params["n_bconsts"]
        cc, bc, carry = _split(primals, ncc, nbc)
        _, tbc, tk = _split(tangents, ncc, nbc)
        if all(t is zero for t in tbc + tk):
            return self.bind(*primals, **params), zero
        nz_b = tuple(i for i, t in enumerate(tbc) if t is not zero)
        fk = _float_positions(body.out_avals)
        nk = len(carry)
        jbody = _derived(body, ("while_jvp", nbc, nz_b),
                         lambda: _scan_jvp_body(body, nbc, nk, nz_b, (), fk, []))
        jcond = _derived(cond_body, ("while_cond_jvp", ncc, len(fk)),
                         lambda: _extended_cond(cond_body, ncc, nk, [body.out_avals[k]
                                                                     for k in fk]))
        t_init = [instantiate(tk[k], carry[k]) for k in fk]
        res = self.bind(*cc, *bc, *[tbc[i] for i in nz_b], *carry, *t_init, cond_body=jcond,
                        body=jbody, n_cconsts=ncc, n_bconsts=nbc + len(nz_b))
        t_out: list[Any] = [zero] * nk
        for k, t in zip(fk, res[nk:], strict=True):
            t_out[k] = t
        return tuple(res[:nk]), tuple(t_out)

    def backward(self, g: Any, ans: Any, args: tuple, params: dict, residual: Any,
                 needs: tuple) -> tuple:
        if any(needs[params["n_cconsts"]:]):
            raise TypeError(
                "while_loop: reverse-mode differentiation (grad, vjp, jacrev) of a loop whose "
                "number of steps is known only when it runs is not supported, as in JAX: use "
                "pb.lax.fori_loop with bounds that are plain integers, or pb.lax.scan with a "
                "fixed length, or forward mode (pb.jvp, pb.jacfwd)"
            )
        return (zero,) * len(args)  # only the predicate's constants: no derivative flows


def _extended_cond(cond_body: Any, ncc: int, nk: int, extra: list) -> Any:
    """``cond_body`` taking (and ignoring) extra carries after its own."""

    def fn(*ins: Any) -> list:
        return list(cond_body(*ins[:ncc + nk]))

    avals = list(cond_body.in_avals) + list(extra)
    body, captured = stage("while_loop", fn, avals, f"jvp_{cond_body.name}")
    assert not captured, "a derived body closes over nothing"
    return body


def _while_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    body, cond_body = params["body"], params["cond_body"]
    ncc, nbc = params["n_cconsts"], params["n_bconsts"]
    cc, bc, carry = _split(vals, ncc, nbc)
    bcc, bbc, _ = _split(batched, ncc, nbc)
    nk = len(carry)
    carry = [v if b else lax.broadcast_to(v, (size,) + tuple(shape_of(v)))
             for v, b in zip(carry, batched[ncc + nbc:], strict=True)]
    key = ("while_batch", tuple(batched[:ncc + nbc]), size)

    def make() -> tuple[Any, Any]:
        cflags = tuple(bcc) + (True,) * nk
        bflags = tuple(bbc) + (True,) * nk
        bcond = batch_body("while_loop", cond_body, cflags, size)

        def any_fn(*ins: Any) -> list:
            return [any_p.bind(bcond(*ins)[0], axes=None)]

        new_cond, _ = stage("while_loop", any_fn, bcond.in_avals, f"any_{cond_body.name}")
        bbody = batch_body("while_loop", body, bflags, size)

        def step_fn(*ins: Any) -> list:
            c_consts, b_consts, c = _split(ins, ncc, nbc)
            pred = bcond(*c_consts, *c)[0]
            new = bbody(*b_consts, *c)
            out = []
            for a, b in zip(new, c, strict=True):
                shape = tuple(shape_of(a))
                p = lax.broadcast_to(lax.reshape(pred, (size,) + (1,) * (len(shape) - 1)),
                                     shape)
                out.append(select_p.bind(p, a, b))
            return out

        avals = list(bcond.in_avals[:ncc]) + list(bbody.in_avals)
        new_body, _ = stage("while_loop", step_fn, avals, f"vmap_{body.name}")
        return new_cond, new_body

    new_cond, new_body = _derived(body, (key, id(cond_body)), make)
    return while_p.bind(*cc, *cc, *bc, *carry, cond_body=new_cond, body=new_body,
                        n_cconsts=ncc, n_bconsts=ncc + nbc)


while_p = _WhilePrimitive("while", _while_impl, multiple_results=True)
while_p.batch = _while_batch


def _staged_while(who: str, cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    init_leaves, tree = tree_flatten(init_val)
    avals = _avals(init_leaves)

    def cond_flat(*ins: Any) -> list:
        pred = cond_fun(tree_unflatten(tree, list(ins)))
        _check_scalar_operand(who, "cond_fun's result", pred, "biu")
        return [pred]

    def body_flat(*ins: Any) -> list:
        new = body_fun(tree_unflatten(tree, list(ins)))
        return check_carry(who, "body_fun's result", tree, avals, new)

    cond_body, cc = stage(who, cond_flat, avals, "cond_fun")
    body, bc = stage(who, body_flat, avals, "body_fun")
    outs = while_p.bind(*cc, *bc, *init_leaves, cond_body=cond_body, body=body,
                        n_cconsts=len(cc), n_bconsts=len(bc))
    return tree_unflatten(tree, list(outs))


# ----------------------------------------------------------------------------- staged switch


def _switch_impl(index: Any, *operands: Any, branches: tuple) -> tuple:
    k = min(max(int(index), 0), len(branches) - 1)
    return tuple(branches[k].run(*operands))


class _SwitchPrimitive(Primitive):
    """``switch``: ``branches[index](*operands)``, every branch with the same signature."""

    __slots__ = ()

    def abstract_eval(self, avals: list, branches: tuple) -> list:
        return list(branches[0].out_avals)

    def jvp_apply(self, primals: tuple, tangents: tuple, params: dict) -> tuple[Any, Any]:
        branches = params["branches"]
        nz = tuple(i for i, t in enumerate(tangents[1:]) if t is not zero)
        if not nz:
            return self.bind(*primals, **params), zero
        made = [jvp_body("cond", b, nz) for b in branches]
        floats = made[0][1]
        res = self.bind(*primals, *[tangents[1 + i] for i in nz],
                        branches=tuple(m[0] for m in made))
        n = len(branches[0].out_avals)
        t_out: list[Any] = [zero] * n
        for k, t in zip(floats, res[n:], strict=True):
            t_out[k] = t
        return tuple(res[:n]), tuple(t_out)

    def forward_for_vjp(self, args: tuple, params: dict) -> tuple[Any, Any]:
        return self.bind(*args, **params), None

    def backward(self, g: Any, ans: Any, args: tuple, params: dict, residual: Any,
                 needs: tuple) -> tuple:
        branches = params["branches"]
        n = len(branches[0].out_avals)
        gs = _cotangents(g, n)
        fo = _float_positions(branches[0].out_avals)
        fi = _float_positions(branches[0].in_avals)
        bwd = tuple(_derived(b, "switch_bwd", functools.partial(_switch_bwd_body, b))
                    for b in branches)
        res = self.bind(args[0], *args[1:], *[instantiate(gs[k], ans[k]) for k in fo],
                        branches=bwd)
        cts: list[Any] = [zero] * len(args)
        for i, c in zip(fi, res, strict=True):
            cts[1 + i] = c
        return tuple(cts)


def _switch_bwd_body(branch: Any) -> Any:
    """(operands, output cotangents) -> cotangents of the floating operands."""
    a = list(branch.in_avals)
    fi = _float_positions(a)
    fo = _float_positions(branch.out_avals)
    wrt = [k in fi for k in range(len(a))]

    def fn(*ins: Any) -> list:
        ops, cts_o = ins[:len(a)], ins[len(a):]
        outs, pull = vjp_flat(branch, list(ops), wrt)
        cts_out: list[Any] = [zero] * len(outs)
        for k, c in zip(fo, cts_o, strict=True):
            cts_out[k] = c
        cts = pull(cts_out)
        return [instantiate(cts[i], ops[i]) for i in fi]

    avals = a + [branch.out_avals[k] for k in fo]
    body, captured = stage("cond", fn, avals, f"bwd_{branch.name}")
    assert not captured, "a derived body closes over nothing"
    return body


def _switch_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    branches = params["branches"]
    flags = tuple(batched[1:])
    if not batched[0]:
        if not any(flags):
            return switch_p.bind(*vals, **params)
        new = tuple(batch_body("cond", b, flags, size) for b in branches)
        return switch_p.bind(*vals, branches=new)
    # a batched index: every branch runs, each entry takes its own branch's result
    ops = vals[1:]
    index = vals[0]
    outs = []
    for b in branches:
        if any(flags):
            outs.append(list(batch_body("cond", b, flags, size)(*ops)))
        else:
            outs.append([lax.broadcast_to(o, (size,) + tuple(shape_of(o))) for o in b(*ops)])
    result = outs[-1]
    for k in range(len(branches) - 2, -1, -1):
        mask = equals_p.bind(index, k=k)
        chosen = []
        for a, r in zip(outs[k], result, strict=True):
            shape = tuple(shape_of(a))
            p = lax.broadcast_to(lax.reshape(mask, (size,) + (1,) * (len(shape) - 1)), shape)
            chosen.append(select_p.bind(p, a, r))
        result = chosen
    return tuple(result)


switch_p = _SwitchPrimitive("switch", _switch_impl, multiple_results=True)
switch_p.batch = _switch_batch


def _staged_switch(who: str, index: Any, branches: list, operands: tuple) -> Any:
    leaves, tree = tree_flatten(operands)
    dyn = [k for k, x in enumerate(leaves) if _is_dynamic(x)]
    inputs = [leaves[k] for k in dyn]
    avals = _avals(inputs)
    staged: list[tuple[Any, int, int]] = []
    captured_all: list[Any] = []
    out_trees: list[PyTreeDef] = []
    for k, branch in enumerate(branches):
        def flat_fun(*vals: Any, branch: Callable = branch, k: int = k) -> list:
            full = list(leaves)
            for j, v in zip(dyn, vals, strict=True):
                full[j] = v
            out_leaves, out_tree = tree_flatten(branch(*tree_unflatten(tree, full)))
            for j, leaf in enumerate(out_leaves):
                _check_output_leaf(f"{who} (branch {k})", j, leaf)
            out_trees.append(out_tree)
            return out_leaves

        body, captured = stage(who, flat_fun, avals, f"branch{k}")
        staged.append((body, len(captured_all), len(captured)))
        captured_all.extend(captured)
    tree0, avals0 = out_trees[0], staged[0][0].out_avals
    for k, ((body, _, _), out_tree) in enumerate(zip(staged, out_trees, strict=True)):
        if out_tree != tree0:
            raise TypeError(
                f"{who}: branch {k} returns the structure {out_tree!r} but branch 0 returns "
                f"{tree0!r}; every branch must return the same structure"
            )
        for j, (a, b) in enumerate(zip(avals0, body.out_avals, strict=True)):
            if tuple(a[0]) != tuple(b[0]) or np.dtype(a[1]) != np.dtype(b[1]):
                raise TypeError(
                    f"{who}: output leaf {j} is {_fmt_aval(b)} in branch {k} but "
                    f"{_fmt_aval(a)} in branch 0; every branch must return the same shapes "
                    "and dtypes"
                )
    # one signature for all: every branch takes all captured values, then the operands
    n_all = len(captured_all)
    all_avals = _avals(captured_all) + avals
    unified = []
    for body, start, count in staged:
        def fn(*ins: Any, body: Any = body, start: int = start, count: int = count) -> list:
            return list(body(*ins[start:start + count], *ins[n_all:]))

        ubody, extra = stage(who, fn, all_avals, body.name)
        assert not extra, "a derived body closes over nothing"
        unified.append(ubody)
    clamped = clamp_p.bind(index, n=len(branches))
    outs = switch_p.bind(clamped, *captured_all, *inputs, branches=tuple(unified))
    return tree_unflatten(tree0, list(outs))
