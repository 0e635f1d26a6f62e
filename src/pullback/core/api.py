"""The transformations: vjp, jvp, grad, value_and_grad, jacrev, jacfwd, hessian, hvp, linearize."""

from __future__ import annotations

import functools
import gc
import inspect
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

import numpy as np

from pullback.core import backends, lax
from pullback.core.batching import vmap
from pullback.core.forward import JVPTrace, JVPTracer
from pullback.core.reverse import VJPTrace, VJPTracer, backward_pass
from pullback.core.trace import (
    Tracer,
    dtype_of,
    instantiate,
    new_trace,
    raise_store_error,
    shape_of,
    trace_state,
    zero,
)
from pullback.core.tree import PyTreeDef, tree_flatten, tree_map, tree_structure, tree_unflatten
from pullback.core.typing import PyTree

__all__ = [
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "linearize",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]

#: which positional arguments to differentiate: one position, or several (counted from 0)
Argnums = int | Sequence[int]
#: a function's cotangent map: the output's cotangent to one cotangent per primal
VJPFn = Callable[[PyTree], tuple[PyTree, ...]]
_P = ParamSpec("_P")
_T = TypeVar("_T")
_LEAF = tree_structure(0.0)
#: NumPy's own values (arrays and scalars): their shapes are always known
_NUMPY = (np.ndarray, np.generic)


# ----------------------------------------------------------------------------- helpers


def fun_name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", type(f).__name__)


def arg_label(f: Callable[..., Any], i: int) -> str:
    """'argument 1 ('W1')': position counted from 0 as in argnums, and the name if known."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    if i < len(params) and params[i].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return f"argument {i} ('{params[i].name}')"
    return f"argument {i}"


def _leaf_path(treedef: PyTreeDef, k: int) -> str:
    """Where leaf ``k`` sits in a pytree of structure ``treedef``: ``['W1']``, ``[0].b``...;
    empty for a pytree that is one leaf."""
    path = ""
    node = treedef
    while node.kind is not None:
        j = 0
        while k >= node.children[j].num_leaves:
            k -= node.children[j].num_leaves
            j += 1
        child = node.children[j]
        if node.kind is dict:
            path += f"[{cast('tuple[Any, ...]', node.aux)[j]!r}]"
        elif hasattr(node.kind, "_fields"):  # a namedtuple
            path += f".{node.kind._fields[j]}"
        else:
            path += f"[{j}]"
        node = child
    return path


def _at_leaf(what: str, treedef: PyTreeDef | None, k: int) -> str:
    """``what`` (``"argument 0 ('params')"``) narrowed to leaf ``k``: ``"params['W1']
    (argument 0)"``; ``what`` itself for a pytree that is one leaf."""
    path = "" if treedef is None else _leaf_path(treedef, k)
    if not path:
        return what
    named = re.search(r"argument (\d+) \('(\w+)'\)$", what)
    if named:
        return f"{what[:named.start()]}{named[2]}{path} (argument {named[1]})"
    return f"{what} at {path}"


def _check_differentiable(
    who: str, label: Callable[..., str], leaves: list[Any], tree: PyTreeDef | None = None
) -> None:
    for k, x in enumerate(leaves):
        dt = x.dtype if type(x) is np.ndarray else dtype_of(x)
        if dt.kind not in "fc":
            raise TypeError(
                f"{who}: {_at_leaf(label(), tree, k)} has dtype {dt}, but derivatives are "
                "taken only with respect "
                "to floating-point inputs: pass it as floats (for example x.astype(float) or "
                "3.0 instead of 3), or leave it out of argnums"
            )


def _index(who: str, argnums: object, a: object) -> int:
    """``a`` as an argument position: an int or a NumPy integer, never a bool or a float."""
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        raise TypeError(
            f"{who}: argnums must be an int or a tuple of ints (positions counted from 0), "
            f"got {argnums!r} ({type(a).__name__}{' entry' if a is not argnums else ''}); "
            "for example argnums=0 or argnums=(0, 2)"
        )
    return int(a)


def _normalize_argnums(who: str, argnums: Argnums, nargs: int) -> tuple[int, ...]:
    if type(argnums) is int and 0 <= argnums < nargs:
        return (argnums,)
    nums: tuple[int, ...]
    if isinstance(argnums, (str, bytes)) or not isinstance(argnums, (tuple, list)):
        nums = (_index(who, argnums, argnums),)
    else:
        nums = tuple(_index(who, argnums, a) for a in argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{who}: argnums {argnums!r} does not fit a call with {nargs} positional "
                f"argument{'s' if nargs != 1 else ''}"
            )
    nums = tuple(a % nargs for a in nums)
    if len(set(nums)) != len(nums):
        repeated = sorted({a for a in nums if nums.count(a) > 1})
        raise ValueError(
            f"{who}: argnums {argnums!r} names argument(s) {repeated} more than once; "
            "list each argument once"
        )
    return nums


def _partial_args(
    f: Callable[..., PyTree], args: Sequence[Any], kwargs: dict[str, Any], nums: tuple[int, ...]
) -> Callable[..., PyTree]:
    def f_partial(*dyn: PyTree) -> PyTree:
        full = list(args)
        for i, d in zip(nums, dyn, strict=True):
            full[i] = d
        return f(*full, **kwargs)

    f_partial.__name__ = fun_name(f)  # errors name the user's function
    return f_partial


def _split_aux(who: str, out: PyTree, has_aux: bool) -> tuple[PyTree, PyTree]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{who} with has_aux=True requires the function to return a pair (output, aux), "
            f"got {type(out).__name__}"
        )
    return out[0], out[1]


def _strip(trace: object, tree: PyTree) -> PyTree:
    """Replace this trace's tracers in ``tree`` by their primal values."""

    def strip(leaf: Any) -> Any:
        if getattr(leaf, "_trace", None) is trace:
            return leaf.primal
        return leaf

    return tree_map(strip, tree)


def _check_like(
    who: str, what: str | Callable[..., str], expected: list[Any], treedef_e: PyTreeDef,
    got: PyTree,
) -> list[Any]:
    """The leaves of ``got``, checked against ``expected`` in structure, shape and dtype.

    ``what`` names ``got`` in errors; it may be a function, called only on error.
    """
    leaves, treedef = tree_flatten(got)
    if treedef != treedef_e:
        raise TypeError(
            f"{who}: the {_name(what)} has pytree structure {treedef!r}, expected {treedef_e!r}"
        )
    for k, (e, g) in enumerate(zip(expected, leaves, strict=True)):
        se, sg = shape_of(e), shape_of(g)
        if sg != se:
            raise ValueError(
                f"{who}: {_at_leaf(_name(what), treedef, k)} has shape {sg}, expected {se}"
            )
        de, dg = dtype_of(e), dtype_of(g)
        if dg != de and de.kind in "fc":
            raise ValueError(
                f"{who}: {_at_leaf(_name(what), treedef, k)} has dtype {dg}, expected {de}: "
                "cast it with .astype"
            )
    return leaves


def _known_shape(who: str, x: Any) -> None:
    """Refuse a lazy array whose shape is unknown (Dask's nan after ``x[mask]``)."""
    if type(x) is not np.ndarray and backends.library(x) != "numpy":
        shape = shape_of(x)
        if any(n != n for n in shape):
            raise backends.refuse(who, backends.library(x), "arrays of unknown shape",
                                  f"shape {shape}")


#: the pytree structure of a list of ``n`` leaves, by ``n`` (``_vjp`` takes a list of arrays
#: without flattening it, and gives the gradients as a list without unflattening)
_LIST_TREES: dict[int, PyTreeDef] = {}


def _list_tree(n: int) -> PyTreeDef:
    tree = _LIST_TREES.get(n)
    if tree is None:
        tree = _LIST_TREES[n] = tree_structure([0.0] * n)
    return tree


def _float_arrays(values: Sequence[Any]) -> bool:
    """Whether every entry of ``values`` is a NumPy array of a floating or complex dtype."""
    for x in values:
        if type(x) is not np.ndarray or x.dtype.kind not in "fc":
            return False
    return True


def _float_inputs(values: Sequence[Any]) -> bool:
    """Whether every entry of ``values`` is a NumPy array of a floating or complex dtype, or a
    list of such arrays, or such an array traced by a JVP level (``hvp``, ``hessian``: the
    gradient taken inside forward mode)."""
    for x in values:
        if type(x) is list:
            if not _float_arrays(x):
                return False
        elif type(x) is JVPTracer:
            p = x._primal
            if type(p) is not np.ndarray or p.dtype.kind not in "fc":
                return False
        elif type(x) is not np.ndarray or x.dtype.kind not in "fc":
            return False
    return True


def _float_scalar(x: Any) -> bool:
    """Whether ``x`` is a NumPy float64 or float32 scalar, or one traced by a JVP level."""
    if type(x) is JVPTracer:
        x = x._primal
    return type(x) is np.float64 or type(x) is np.float32


def _snapshot(x: Any) -> Any:
    """A private copy of a writeable NumPy array (other leaves are kept as they are)."""
    if type(x) is np.ndarray and x.flags.writeable:
        return x.copy()
    return x


def _numpy_scalar(t: object, like: object) -> Any:
    """A Python number as a NumPy scalar of ``like``'s dtype (derivatives are NumPy values)."""
    if type(t) in (float, int, complex):
        return dtype_of(like).type(t)
    return t


def _name(what: str | Callable[..., str]) -> str:
    return what() if callable(what) else what


# ----------------------------------------------------------------------------- vjp / jvp


@overload
def vjp(
    f: Callable[..., PyTree], *primals: PyTree, has_aux: Literal[False] = False
) -> tuple[PyTree, VJPFn]: ...
@overload
def vjp(
    f: Callable[..., PyTree], *primals: PyTree, has_aux: Literal[True]
) -> tuple[PyTree, VJPFn, PyTree]: ...
@overload
def vjp(
    f: Callable[..., PyTree], *primals: PyTree, has_aux: bool
) -> tuple[PyTree, VJPFn] | tuple[PyTree, VJPFn, PyTree]: ...
def vjp(
    f: Callable[..., PyTree], *primals: PyTree, has_aux: bool = False
) -> tuple[PyTree, VJPFn] | tuple[PyTree, VJPFn, PyTree]:
    """Evaluate ``f(*primals)`` and return ``(out, vjp_fn)``, or ``(out, vjp_fn, aux)``.

    ``vjp_fn(ct)`` takes a cotangent shaped like ``out`` and returns a tuple with one
    cotangent per primal: the notebook's ``(value, vjp)`` convention.

    Example:
        >>> import pullback.numpy as pnp
        >>> out, vjp_fn = vjp(lambda x: pnp.sin(x) * 2.0, np.array([0.0, 1.0]))
        >>> vjp_fn(np.array([1.0, 1.0]))[0].round(4)
        array([2.    , 1.0806])
    """
    # vjp_fn outlives this call: it answers for the point it was built at even if the
    # caller writes into the arrays afterwards (x[:] = 0)
    primals = tuple(tree_map(_snapshot, p) for p in primals)
    out, vjp_fn, _, aux = _vjp(
        f"vjp of {fun_name(f)}", f, primals, has_aux, lambda i: arg_label(f, i)
    )
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _vjp(
    who: str, f: Callable[..., PyTree], primals: tuple[PyTree, ...], has_aux: bool,
    label: Callable[[int], str],
    fixed: tuple[tuple[Any, ...], dict[str, Any], tuple[int, ...]] | None = None,
) -> tuple[PyTree, VJPFn, Callable[[list[Any]], tuple[PyTree, ...]], PyTree]:
    """``vjp`` with the error prefix ``who`` and ``label(i)`` naming primal ``i`` in errors.

    Returns ``(out, vjp_fn, pull, aux)``: ``pull`` is ``vjp_fn`` without the checks of the
    cotangent (it takes the flat list of output cotangents), for callers that made the
    cotangent themselves; ``aux`` is None without ``has_aux``. ``fixed``, when given, is
    ``(args, kwargs, nums)``: ``f`` is called as ``f(*args, **kwargs)`` with the traced
    primals in the positions ``nums`` (what :func:`_partial_args` does, without the
    function made on every call)."""
    in_leaves: list[list[Any]] = []
    in_trees: list[PyTreeDef] = []
    for i, p in enumerate(primals):
        if type(p) is np.ndarray:  # the common case: one array, a leaf
            if p.dtype.kind not in "fc":
                _check_differentiable(who, lambda i=i: label(i), [p], _LEAF)  # raises
            in_leaves.append([p])
            in_trees.append(_LEAF)
            continue
        if type(p) is list and _float_arrays(p):  # a list of arrays (an MLP's parameters)
            in_leaves.append(list(p))
            in_trees.append(_list_tree(len(p)))
            continue
        leaves, tree = tree_flatten(p)
        for x in leaves:
            if (x.dtype if type(x) is np.ndarray else dtype_of(x)).kind not in "fc":
                _check_differentiable(who, lambda i=i: label(i), leaves, tree)  # raises
            if type(x) is not np.ndarray:
                _known_shape(who, x)
        in_leaves.append(leaves)
        in_trees.append(tree)
    with new_trace(VJPTrace) as trace:
        leaf = trace.leaf
        in_nodes = []  # taken before f can rebind the tracers
        args = []
        for tree, ls in zip(in_trees, in_leaves, strict=True):
            if tree is _LEAF:
                ts = [leaf(ls[0])]
                in_nodes.append([ts[0].node])
                args.append(ts[0])
                continue
            ts = [leaf(x) for x in ls]
            in_nodes.append([t.node for t in ts])
            args.append(ts if tree is _LIST_TREES.get(len(ts)) else tree_unflatten(tree, ts))
        ts = []
        if fixed is None:
            result = f(*args)
        else:
            full = list(fixed[0])
            for i, a in zip(fixed[2], args, strict=True):
                full[i] = a
            result = f(*full, **fixed[1])
            del full
    del args, ts
    return _vjp_finish(who, trace, result, has_aux, in_trees, in_leaves, in_nodes)


def _leaf_grads(at_leaves: dict, leaves: Sequence[Any], nodes: Sequence[Any],
                given: set[int]) -> list[Any]:
    """The gradients of the input ``leaves`` (whose tape nodes are ``nodes``) from the backward
    pass's ``at_leaves``: zeros where no cotangent arrived, one array object per result (a
    copy of an array whose id is in ``given``, which collects the ids handed out), and a
    scalar for a Python or NumPy scalar input."""
    grads = []
    for x, n in zip(leaves, nodes, strict=True):
        g = at_leaves.get(n)
        if type(g) is not np.ndarray:
            g = _numpy_scalar(instantiate(zero if g is None else g, x), x)
        if type(g) is np.ndarray:
            if id(g) in given:
                g = g.copy()  # one array object per result, none the caller's
            given.add(id(g))
            if not g.ndim and not isinstance(x, np.ndarray):
                g = g[()]  # the derivative of a Python or NumPy scalar is a scalar
        grads.append(g)
    return grads


def _vjp_finish(
    who: str, trace: VJPTrace, result: PyTree, has_aux: bool, in_trees: list[PyTreeDef],
    in_leaves: list[list[Any]], in_nodes: list[list[Any]],
) -> tuple[PyTree, VJPFn, Callable[[list[Any]], tuple[PyTree, ...]], PyTree]:
    """:func:`_vjp` after the call of the function, which returned ``result`` on the trace
    ``trace`` (now closed): the output, ``vjp_fn``, ``pull`` and ``aux``."""
    out, aux = _split_aux(who, result, has_aux)
    del result
    nodes = trace.nodes
    if type(out) is VJPTracer:
        out_leaves, out_tree = [out], _LEAF
    else:
        out_leaves, out_tree = tree_flatten(out)
    out_primals: list[Any] = []
    out_nodes: list[tuple[Any, int] | None] = []
    for leaf in out_leaves:
        if isinstance(leaf, VJPTracer) and leaf._trace is trace:
            primal = leaf._primal
            if not isinstance(primal, _NUMPY):
                _known_shape(who, primal)
            out_primals.append(primal)
            out_nodes.append((leaf.node, leaf.index))
        else:
            out_primals.append(leaf)
            out_nodes.append(None)
    del out_leaves, out

    def pull(cts: list[Any]) -> tuple[PyTree, ...]:
        """The cotangents of the primals for the (checked) flat output cotangents ``cts``."""
        if len(cts) == 1 and out_nodes[0] is not None:
            n = out_nodes[0]
            at_leaves = backward_pass([(n[0], n[1], cts[0])], nodes)
        else:
            seeds = [(n[0], n[1], g) for n, g in zip(out_nodes, cts, strict=True)
                     if n is not None]
            at_leaves = backward_pass(seeds, nodes)
        results = []
        given = {id(c) for c in cts}  # never hand back the caller's own cotangent arrays
        for tree, ls, ns in zip(in_trees, in_leaves, in_nodes, strict=True):
            grads = _leaf_grads(at_leaves, ls, ns, given)
            if tree is _LEAF:
                results.append(grads[0])
            elif tree is _LIST_TREES.get(len(grads)):
                results.append(grads)
            else:
                results.append(tree_unflatten(tree, grads))
        return tuple(results)

    def vjp_fn(ct: PyTree) -> tuple[PyTree, ...]:
        return pull(_check_like(who, "cotangent", out_primals, out_tree, ct))

    out_value = out_primals[0] if out_tree is _LEAF else tree_unflatten(out_tree, out_primals)
    return out_value, vjp_fn, pull, (_strip(trace, aux) if has_aux else None)


@overload
def jvp(
    f: Callable[..., PyTree], primals: Sequence[PyTree], tangents: Sequence[PyTree],
    has_aux: Literal[False] = False,
) -> tuple[PyTree, PyTree]: ...
@overload
def jvp(
    f: Callable[..., PyTree], primals: Sequence[PyTree], tangents: Sequence[PyTree],
    has_aux: Literal[True],
) -> tuple[PyTree, PyTree, PyTree]: ...
@overload
def jvp(
    f: Callable[..., PyTree], primals: Sequence[PyTree], tangents: Sequence[PyTree],
    has_aux: bool,
) -> tuple[PyTree, PyTree] | tuple[PyTree, PyTree, PyTree]: ...
def jvp(
    f: Callable[..., PyTree], primals: Sequence[PyTree], tangents: Sequence[PyTree],
    has_aux: bool = False,
) -> tuple[PyTree, PyTree] | tuple[PyTree, PyTree, PyTree]:
    """Evaluate ``f(*primals)`` and its directional derivative along ``tangents``.

    Returns ``(out, tangent_out)`` (and ``aux`` with ``has_aux=True``).

    Example:
        >>> import pullback.numpy as pnp
        >>> jvp(lambda x: x * x, (3.0,), (1.0,))
        (np.float64(9.0), np.float64(6.0))
    """
    who = f"jvp of {fun_name(f)}"
    for name, val in (("primals", primals), ("tangents", tangents)):
        if not isinstance(val, (tuple, list)):
            raise TypeError(
                f"{who}: {name} must be a tuple with one entry per argument, "
                f"got {type(val).__name__}; write ({name[:-1]},) for one argument"
            )
    if len(primals) != len(tangents):
        raise TypeError(
            f"{who}: got {len(primals)} primals but {len(tangents)} tangents; "
            "give one tangent per primal"
        )
    with new_trace(JVPTrace) as trace:
        args = []
        for i, (p, t) in enumerate(zip(primals, tangents, strict=True)):
            if (type(p) is np.ndarray and p.dtype.kind in "fc"
                    and (type(t) is np.ndarray or isinstance(t, Tracer))
                    and t.shape == p.shape and t.dtype == p.dtype):
                # the common case: one floating array and its tangent, which the checks
                # below would accept (a leaf each, one shape and dtype)
                args.append(JVPTracer(trace, p, t))
                continue
            leaves, tree = tree_flatten(p)
            _check_differentiable(who, lambda i=i: arg_label(f, i), leaves, tree)
            for x in leaves:
                if type(x) is not np.ndarray:
                    _known_shape(who, x)
            t_leaves = _check_like(
                who, lambda i=i: f"tangent for {arg_label(f, i)}", leaves, tree, t
            )
            args.append(
                tree_unflatten(tree, [JVPTracer(trace, x, tx)
                                      for x, tx in zip(leaves, t_leaves, strict=True)])
            )
        out, aux = _split_aux(who, f(*args), has_aux)
    if type(out) is tuple:  # a tuple of leaves (hvp's gradients): without the pytree walk
        out_leaves: list[Any] = list(out)
        out_tree: PyTreeDef | None = None
        for leaf in out_leaves:
            if not (type(leaf) is JVPTracer or type(leaf) is np.ndarray):
                out_leaves, out_tree = tree_flatten(out)
                break
    elif type(out) is JVPTracer or type(out) is np.ndarray:
        out_leaves, out_tree = [out], _LEAF
    else:
        out_leaves, out_tree = tree_flatten(out)
    primals_out: list[Any] = []
    tangents_out: list[Any] = []
    for leaf in out_leaves:
        if isinstance(leaf, JVPTracer) and leaf._trace is trace:
            primal = leaf._primal
            if type(primal) is not np.ndarray:
                _known_shape(who, primal)
            primals_out.append(primal)
            tangents_out.append(_numpy_scalar(instantiate(leaf.tangent, primal), primal))
        else:
            primals_out.append(leaf)
            tangents_out.append(instantiate(zero, leaf))
    if out_tree is None:
        result: tuple = (tuple(primals_out), tuple(tangents_out))
    elif out_tree is _LEAF:
        result = (primals_out[0], tangents_out[0])
    else:
        result = (tree_unflatten(out_tree, primals_out), tree_unflatten(out_tree, tangents_out))
    if has_aux:
        return result + (_strip(trace, aux),)
    return result


def linearize(
    f: Callable[..., PyTree], *primals: PyTree
) -> tuple[PyTree, Callable[..., PyTree]]:
    """Return ``(f(*primals), jvp_fn)`` with ``jvp_fn(*tangents)`` the JVP at ``primals``.

    ``jvp_fn`` runs forward mode at the stored primals on each call.

    Example:
        >>> out, f_jvp = linearize(lambda x: x * x * x, 2.0)
        >>> float(out), float(f_jvp(1.0))
        (8.0, 12.0)
    """
    primals = tuple(tree_map(_snapshot, p) for p in primals)  # the point, kept as it is now
    out = f(*primals)

    def jvp_fn(*tangents: PyTree) -> PyTree:
        return jvp(f, primals, tangents)[1]

    return out, jvp_fn


# ----------------------------------------------------------------------------- grad


def _check_scalar(who: str, out: PyTree) -> None:
    leaves, tree = tree_flatten(out)
    if len(leaves) != 1 or tree.kind is not None:
        raise TypeError(
            f"{who} requires the function to return a scalar, got a {type(out).__name__} "
            "pytree: return one number, or pass has_aux=True to return (scalar, aux)"
        )
    shape, dtype = shape_of(out), dtype_of(out)
    if shape != ():
        raise TypeError(
            f"{who} requires a scalar output, got shape {shape}: reduce it (for example "
            ".sum()) or use jacrev for the full Jacobian"
        )
    if dtype.kind != "f":
        raise TypeError(
            f"{who} requires a real floating-point scalar output, got dtype {dtype}: "
            "a complex or integer output has no gradient (use vjp for complex outputs)"
        )


def value_and_grad(
    f: Callable[_P, PyTree], argnums: Argnums = 0, has_aux: bool = False
) -> Callable[_P, tuple[PyTree, PyTree]]:
    """A function returning ``(value, gradient)``, or ``((value, aux), gradient)``.

    Example:
        >>> vg = value_and_grad(lambda x, y: x * y, argnums=(0, 1))
        >>> vg(2.0, 5.0)
        (np.float64(10.0), (np.float64(5.0), np.float64(2.0)))
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def _value_and_grad(
    f: Callable[_P, PyTree], argnums: Argnums, has_aux: bool, who: str, wraps: bool = True
) -> Callable[_P, tuple[PyTree, PyTree]]:
    """``value_and_grad``; ``wraps=False``: the result takes only ``f``'s name, not its other
    attributes (``functools.wraps`` costs microseconds, for a function made on every call)."""
    if isinstance(argnums, np.integer) and not isinstance(argnums, np.bool_):
        argnums = int(argnums)  # one position: the result is not a tuple
    known: dict[int, tuple[tuple[int, ...], bool]] = {}  # nargs -> (nums, all in order)
    one = isinstance(argnums, int)
    name = f"{who} of {fun_name(f)}"
    fn: Callable[..., PyTree] = f  # (called with the tracers in place of some arguments)

    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> tuple[PyTree, PyTree]:
        nargs = len(args)
        hit = known.get(nargs)
        if hit is not None:
            nums, every = hit
        else:
            nums = _normalize_argnums(name, argnums, nargs)
            every = nums == tuple(range(nargs))
            known[nargs] = (nums, every)
        whole = every and not kwargs  # f itself, on all of its arguments
        # (map: without the frame of a comprehension)
        dyn: tuple[Any, ...] = args if whole else tuple(map(args.__getitem__, nums))
        if not has_aux and _float_inputs(dyn):
            # the eager common case: arrays (or lists of arrays, an MLP's parameters) in, a
            # NumPy float out (the general path below, without its pytrees and checks, which
            # these values pass)
            trace: VJPTrace
            # new_trace(VJPTrace), written out (its three calls cost a microsecond): the
            # garbage collector paused in the outermost transformation, NumPy's error for a
            # traced value written into np.zeros(n) replaced by pullback's
            stack = trace_state.stack
            paused = not stack and gc.isenabled()
            if paused:
                gc.disable()
            trace = VJPTrace(len(stack))
            stack.append(trace)
            try:
                leaf = trace.leaf
                ts: list[Any] = []
                in_nodes: list[list[Any]] = []  # taken before f can rebind the tracers
                for p in dyn:
                    if type(p) is list:
                        tl = [leaf(x) for x in p]
                        in_nodes.append([t.node for t in tl])
                        ts.append(tl)
                    else:
                        t0 = leaf(p)
                        in_nodes.append([t0.node])
                        ts.append(t0)
                full: list[Any] = ts if whole else list(args)
                if not whole:
                    for i, tr in zip(nums, ts, strict=True):
                        full[i] = tr
                result = fn(*full, **kwargs)
                del full
                del ts
            except ValueError as exc:
                raise_store_error(exc)
                raise
            finally:
                trace.active = False
                trace_state.stack.pop()
                if paused:
                    gc.enable()
            if type(result) is VJPTracer and result._trace is trace and _float_scalar(
                    result._primal):
                out = result._primal
                seed = np.array(1, out.dtype)
                at_leaves = backward_pass([(result.node, result.index, seed)], trace.nodes)
                del result
                grads: list[Any] = []
                given = {id(seed)}  # one array object per result
                for p, ns in zip(dyn, in_nodes, strict=True):
                    if type(p) is list:
                        grads.append(_leaf_grads(at_leaves, p, ns, given))
                        continue
                    g = at_leaves.get(ns[0])
                    if type(g) is np.ndarray and id(g) not in given:
                        # an array's gradient, a new array: what _leaf_grads does with it
                        given.add(id(g))
                        grads.append(g)
                    else:
                        grads.append(_leaf_grads(at_leaves, (p,), ns, given)[0])
                return out, (grads[0] if one else tuple(grads))
            out, _, pull, aux = _vjp_finish(
                name, trace, result, False,
                [_list_tree(len(p)) if type(p) is list else _LEAF for p in dyn],
                [p if type(p) is list else [p] for p in dyn], in_nodes)
            del result
        elif whole:
            out, _, pull, aux = _vjp(name, f, args, has_aux, lambda k: arg_label(f, nums[k]))
        else:
            out, _, pull, aux = _vjp(name, f, tuple([args[i] for i in nums]), has_aux,
                                     lambda k: arg_label(f, nums[k]), (args, kwargs, nums))
        t = type(out)
        if t is np.float64 or t is np.float32:  # a NumPy scalar: the common case
            seed = np.array(1, out.dtype)
        else:
            if not isinstance(out, (np.ndarray, np.floating)) or out.shape or out.dtype.kind != "f":
                _check_scalar(name, out)
            # grad's own seed (no checks), in an eager library's arrays (CuPy refuses NumPy ones)
            seed = backends.constant(np.ones((), dtype_of(out)), out)
        pulled = pull([seed])
        g = pulled[0] if one else pulled
        return ((out, aux) if has_aux else out), g

    if wraps:
        return functools.wraps(f)(wrapped)
    wrapped.__name__ = fun_name(f)
    return wrapped


def grad(
    f: Callable[_P, PyTree], argnums: Argnums = 0, has_aux: bool = False
) -> Callable[_P, PyTree]:
    """The gradient of scalar-valued ``f`` with respect to argument(s) ``argnums``.

    Example:
        >>> import pullback.numpy as pnp
        >>> grad(lambda x: pnp.sum(x ** 2))(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    vg = _value_and_grad(f, argnums, has_aux, "grad")

    @functools.wraps(f)
    def grad_f(*args: _P.args, **kwargs: _P.kwargs) -> PyTree:
        (out, g) = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return grad_f


# ----------------------------------------------------------------------------- Jacobians


def _flat(x: PyTree) -> tuple[list[Any], PyTreeDef]:
    """``tree_flatten(x)``, without the pytree walk for one NumPy array (the common case)."""
    if type(x) is np.ndarray:
        return [x], _LEAF
    return tree_flatten(x)


def _unflat(tree: PyTreeDef, leaves: list[Any]) -> PyTree:
    """``tree_unflatten(tree, leaves)``, without the pytree walk for one leaf."""
    if tree is _LEAF:
        return leaves[0]
    return tree_unflatten(tree, leaves)


def _jacobian(f: Callable[_P, PyTree], argnums: Argnums, mode: str) -> Callable[_P, PyTree]:
    if isinstance(argnums, np.integer) and not isinstance(argnums, np.bool_):
        argnums = int(argnums)  # one position: the result is not a tuple
    @functools.wraps(f)
    def jac(*args: _P.args, **kwargs: _P.kwargs) -> PyTree:
        name = f"{mode} of {fun_name(f)}"
        nums = _normalize_argnums(name, argnums, len(args))
        f_partial: Callable[..., PyTree]
        dyn: tuple[Any, ...]
        if not kwargs and nums == tuple(range(len(args))):  # f itself, on all its arguments
            f_partial, dyn = f, args
        else:
            f_partial = _partial_args(f, args, kwargs, nums)
            dyn = tuple(args[i] for i in nums)
        in_flat = [_flat(d) for d in dyn]
        for i, (leaves, tree) in zip(nums, in_flat, strict=True):
            _check_differentiable(name, lambda i=i: arg_label(f, i), leaves, tree)
        in_leaves = [x for leaves, _ in in_flat for x in leaves]
        if mode == "jacrev":
            blocks, out_tree = _jac_rev_blocks(f_partial, dyn, in_leaves)
        else:
            blocks, out_tree = _jac_fwd_blocks(f_partial, dyn, in_flat)
        # blocks[k][j]: output leaf k against input leaf j
        rows = []
        for row in blocks:
            it = iter(row)
            per_arg = tuple(
                _unflat(tree, [next(it) for _ in leaves]) for leaves, tree in in_flat
            )
            rows.append(per_arg[0] if isinstance(argnums, int) else per_arg)
        return _unflat(out_tree, rows)

    return jac


def _basis(shape: tuple[int, ...], dtype: np.dtype, like: Any = None) -> Any:
    """The standard basis of arrays of ``shape``, stacked: shape ``(size,) + shape``; in the
    library of ``like`` when that refuses NumPy operands (CuPy)."""
    size = math.prod(shape)
    return backends.constant(np.eye(size, dtype=dtype).reshape((size,) + tuple(shape)), like)


def _jac_rev_blocks(
    f: Callable[..., PyTree], dyn: tuple[PyTree, ...], in_leaves: list[Any]
) -> tuple[list[list[Any]], PyTreeDef]:
    """Rows of the Jacobian: every basis cotangent pushed through one batched backward pass."""
    out, vjp_fn, _, _ = _vjp(f"jacrev of {fun_name(f)}", f, dyn, False, lambda i: f"argument {i}")
    out_leaves, out_tree = _flat(out) if not isinstance(out, Tracer) else ([out], _LEAF)
    if any(dtype_of(o).kind == "c" for o in out_leaves) and any(
        dtype_of(x).kind != "c" for x in in_leaves
    ):
        raise TypeError(
            f"jacrev of {fun_name(f)}: the output is complex and an input is real; reverse "
            "mode would give only the real part of the Jacobian (the transpose of a map into "
            "the complex numbers under Re(sum(a * b))). Use jacfwd for the complex Jacobian, "
            "or differentiate the real and imaginary parts separately (pnp.real, pnp.imag)"
        )
    blocks = []
    for k, o in enumerate(out_leaves):
        shape, dtype = shape_of(o), dtype_of(o)

        def pull(ct: Any, k: int = k) -> list[Any]:
            grads = vjp_fn(_unflat(out_tree, _one_of(out_leaves, k, ct)))
            return [x for g in grads for x in _flat(g)[0]]

        if not shape:  # one output entry (the gradient of a scalar): no basis, no vmap
            rows = pull(backends.constant(np.ones((), dtype), o)[()])
            blocks.append(rows)  # each row has its input's shape already
            continue
        basis = _basis(shape, dtype, o)
        if len(basis):  # one output entry needs no vmap
            rows = pull(basis[0]) if len(basis) == 1 else vmap(pull)(basis)
            blocks.append([lax.reshape(r, shape + shape_of(x))
                           for r, x in zip(rows, in_leaves, strict=True)])
        else:
            blocks.append([np.zeros(shape + shape_of(x), dtype_of(x)) for x in in_leaves])
    return blocks, out_tree


def _one_of(leaves: list[Any], k: int, v: Any) -> list[Any]:
    """``v`` in place ``k`` and zeros shaped like the other leaves (in their library): the
    cotangent or tangent that picks one output or input of several."""
    if len(leaves) == 1:  # nothing else to set to zero
        return [v]
    out = [backends.constant(np.zeros(shape_of(x), dtype_of(x)), x) for x in leaves]
    out[k] = v
    return out


def _jac_fwd_blocks(
    f: Callable[..., PyTree], dyn: tuple[PyTree, ...], in_flat: list[tuple[list[Any], PyTreeDef]]
) -> tuple[list[list[Any]], PyTreeDef]:
    """Columns of the Jacobian: every basis tangent pushed through one batched forward pass."""
    in_leaves = [x for leaves, _ in in_flat for x in leaves]
    found: list[Any] = []  # the output structure, seen in the first pass
    columns: list[list[Any] | None] = []  # columns[j][k]: output leaf k against input leaf j
    for j, x in enumerate(in_leaves):
        basis = _basis(shape_of(x), dtype_of(x), x)
        if not len(basis):
            columns.append(None)
            continue

        def push(t: Any, j: int = j) -> list[Any]:
            it = iter(_one_of(in_leaves, j, t))
            tangents = tuple(_unflat(tree, [next(it) for _ in ls]) for ls, tree in in_flat)
            out = jvp(f, dyn, tangents)[1]
            leaves, tree = _flat(out) if not isinstance(out, Tracer) else ([out], _LEAF)
            found[:] = [tree, [(shape_of(o), dtype_of(o)) for o in leaves]]
            return leaves

        cols = vmap(push)(basis)
        columns.append(
            [
                lax.reshape(
                    lax.transpose(c, tuple(range(1, len(shape_of(c)))) + (0,)),
                    shape_of(c)[1:] + shape_of(x),
                )
                for c in cols
            ]
        )
    if not found:  # no input has any element: evaluate once for the output structure
        leaves, tree = tree_flatten(f(*dyn))
        found[:] = [tree, [(shape_of(o), dtype_of(o)) for o in leaves]]
    out_tree, out_avals = found
    blocks = [
        [
            np.zeros(shape + shape_of(x), dtype) if (col := columns[j]) is None else col[k]
            for j, x in enumerate(in_leaves)
        ]
        for k, (shape, dtype) in enumerate(out_avals)
    ]
    return blocks, out_tree


def jacrev(f: Callable[_P, PyTree], argnums: Argnums = 0) -> Callable[_P, PyTree]:
    """The Jacobian of ``f`` by reverse mode, shaped ``out.shape + in.shape``.

    Example:
        >>> import pullback.numpy as pnp
        >>> jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    return _jacobian(f, argnums, "jacrev")


def jacfwd(f: Callable[_P, PyTree], argnums: Argnums = 0) -> Callable[_P, PyTree]:
    """The Jacobian of ``f`` by forward mode, shaped ``out.shape + in.shape``.

    Example:
        >>> jacfwd(lambda x: x * 3.0)(np.array([1.0, 2.0]))
        array([[3., 0.],
               [0., 3.]])
    """
    return _jacobian(f, argnums, "jacfwd")


jacobian = jacrev


def hessian(f: Callable[_P, PyTree], argnums: Argnums = 0) -> Callable[_P, PyTree]:
    """The Hessian of scalar ``f``: ``jacfwd(jacrev(f))``.

    Example:
        >>> import pullback.numpy as pnp
        >>> hessian(lambda x: pnp.sum(x ** 3))(np.array([1.0, 2.0]))
        array([[ 6.,  0.],
               [ 0., 12.]])
    """
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(
    f: Callable[..., PyTree], primals: Sequence[PyTree], tangents: Sequence[PyTree]
) -> tuple[tuple[PyTree, ...], tuple[PyTree, ...]]:
    """``(grads, hvps)``: the gradient of scalar ``f`` and the Hessian applied to ``tangents``.

    Forward-over-reverse, without forming the Hessian.

    Example:
        >>> import pullback.numpy as pnp
        >>> g, hv = hvp(lambda x: pnp.sum(x ** 3), (np.array([1.0, 2.0]),),
        ...             (np.array([1.0, 0.0]),))
        >>> g[0], hv[0]
        (array([ 3., 12.]), array([6., 0.]))
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError(
            f"hvp: primals must be a tuple with one entry per argument, got "
            f"{type(primals).__name__}; write (x,) for one argument"
        )
    nums = tuple(range(len(primals)))
    vg = _value_and_grad(f, nums, False, "grad", wraps=False)  # grad(f), made on every call

    def grad_f(*args: Any) -> PyTree:
        return vg(*args)[1]

    grad_f.__name__ = vg.__name__
    grad_f.__wrapped__ = f  # type: ignore[attr-defined]  # errors name f's parameters
    return jvp(grad_f, tuple(primals), tangents)


# ----------------------------------------------------------------------------- stop_gradient



def stop_gradient(x: _T) -> _T:
    """``x`` itself, treated as a constant by every transformation (pytrees too).

    Example:
        >>> grad(lambda x: x * stop_gradient(x))(3.0)
        np.float64(3.0)
    """
    if isinstance(x, (Tracer, np.ndarray)):  # one leaf, the common case
        return cast(_T, lax.stop_gradient(x))
    return cast(_T, tree_map(lax.stop_gradient, x))
