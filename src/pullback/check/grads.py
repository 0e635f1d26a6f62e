"""``check_grads`` and ``report``: pullback's derivatives against numerical ones, per
argument, mode and order; numerical JVPs, VJPs and Jacobians; the Taylor test; the wrong rule
located in the user's code."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, overload

import numpy as np

from pullback.check.locate import record
from pullback.check.numeric import (
    METHODS,
    Estimate,
    Flat,
    check_output,
    directional,
    is_inexact_tree,
)
from pullback.check.report import (
    CheckRow,
    GradientCheckError,
    Item,
    Localisation,
    Report,
    compare_scalar,
    compare_vector,
    default_rtol,
    dot_rtol,
    error_item,
    one_sided,
)
from pullback.core.api import arg_label, fun_name, jvp, vjp
from pullback.core.trace import dtype_of, shape_of
from pullback.core.tree import tree_flatten, tree_unflatten
from pullback.core.typing import ArrayLike, PyTree

MODES = ("fwd", "rev")
#: how a numerical derivative is taken (see :func:`numerical_jvp`)
Method = Literal["auto", "forward", "central", "richardson", "complex"]


# ----------------------------------------------------------------------------- helpers


def _as_args(who: str, args: Any) -> tuple[Any, ...]:
    if isinstance(args, (tuple, list)):
        return tuple(args)
    if isinstance(args, dict):
        raise TypeError(f"{who}: args must be a tuple of positional arguments, got a dict")
    return (args,)


def _check_method(who: str, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"{who}: unknown method {method!r}; use one of {', '.join(METHODS)}")


def _float_argnums(
    who: str, f: Callable[..., Any], args: tuple[Any, ...], argnums: int | Sequence[int] | None
) -> tuple[int, ...]:
    if argnums is None:
        nums = tuple(i for i, a in enumerate(args) if is_inexact_tree(a))
        if not nums:
            raise TypeError(
                f"{who}: none of the {len(args)} arguments of {fun_name(f)} is a floating-point "
                "or complex array or pytree of them, so there is no derivative to check: pass "
                "float inputs (for example x.astype(float))"
            )
        return nums
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    out = []
    for i in nums:
        if not isinstance(i, int) or not -len(args) <= i < len(args):
            raise ValueError(f"{who}: argnums {argnums!r} does not fit {len(args)} arguments")
        i %= len(args)
        if not is_inexact_tree(args[i]):
            leaves = tree_flatten(args[i])[0]
            found = sorted({str(dtype_of(x)) for x in leaves}) or ["no leaves"]
            raise TypeError(
                f"{who}: {arg_label(f, i)} of {fun_name(f)} has dtype {', '.join(found)}; "
                "derivatives are checked only for floating-point and complex inputs: cast it "
                "to float or leave it out of argnums"
            )
        out.append(i)
    return tuple(out)


def _partial(
    f: Callable[..., PyTree], args: tuple[Any, ...], nums: tuple[int, ...]
) -> Callable[..., PyTree]:
    def f_partial(*dargs: PyTree) -> PyTree:
        full = list(args)
        for i, d in zip(nums, dargs, strict=True):
            full[i] = d
        return f(*full)

    f_partial.__name__ = fun_name(f)
    return f_partial


def _cast_like(v: PyTree, ref: PyTree) -> PyTree:
    """``v`` with each leaf cast to the dtype of the matching leaf of ``ref``."""
    v_leaves, _ = tree_flatten(v)
    r_leaves, r_tree = tree_flatten(ref)
    return tree_unflatten(
        r_tree,
        [np.asarray(a).astype(dtype_of(r)) for a, r in zip(v_leaves, r_leaves, strict=True)],
    )


def _random_like(rng: np.random.Generator, tree: PyTree) -> PyTree:
    """Standard normal leaves shaped like ``tree``'s (zeros for non-float leaves)."""
    leaves, t = tree_flatten(tree)
    out = []
    for x in leaves:
        dt = dtype_of(x)
        if dt.kind == "c":
            out.append((rng.standard_normal(shape_of(x))
                        + 1j * rng.standard_normal(shape_of(x))).astype(dt))
        elif dt.kind == "f":
            out.append(rng.standard_normal(shape_of(x)).astype(dt))
        else:
            out.append(np.zeros(shape_of(x), dt))
    return tree_unflatten(t, out)


def _restrict(v: tuple[PyTree, ...], ai: int) -> tuple[PyTree, ...]:
    """The direction ``v`` (one pytree per argument) with every argument but ``ai`` zeroed."""
    out = []
    for i, x in enumerate(v):
        leaves, t = tree_flatten(x)
        out.append(x if i == ai else tree_unflatten(t, [np.zeros_like(y) for y in leaves]))
    return tuple(out)


def _as64(x: ArrayLike) -> np.ndarray:
    arr = np.asarray(x)
    return arr.astype(np.result_type(arr, np.float64))


def _leaves64(tree: PyTree) -> list[np.ndarray]:
    """The leaves of ``tree`` in float64 (complex128 for complex leaves)."""
    return [_as64(x) for x in tree_flatten(tree)[0]]


def _has_complex(tree: PyTree) -> bool:
    return any(dtype_of(x).kind == "c" for x in tree_flatten(tree)[0])


def _refuse_complex_step(who: str, f: Callable[..., Any], args: tuple[Any, ...],
                         nums: tuple[int, ...],
                         method: str) -> None:
    """``method="complex"`` cannot differentiate complex inputs: say so before checking."""
    bad = [i for i in nums if _has_complex(args[i])]
    if method == "complex" and bad:
        raise ValueError(
            f"{who}: method='complex' cannot be used: {arg_label(f, bad[0])} of {fun_name(f)} "
            "is complex, and the complex step needs real inputs (f(x + ih d) moves a complex "
            "x along i d, another direction); use method='richardson' or 'auto', which "
            "differentiate its real and imaginary parts by Richardson extrapolation"
        )


def _vec(tree: PyTree) -> np.ndarray:
    leaves = [np.asarray(x) for x in tree_flatten(tree)[0]]
    leaves = [x for x in leaves if x.dtype.kind in "fc"]
    if not leaves:
        return np.zeros(0)
    return np.concatenate([x.astype(np.result_type(x, np.float64)).ravel() for x in leaves])


def _lowest_precision(trees: Sequence[PyTree]) -> np.dtype:
    dts = [dtype_of(x) for t in trees for x in tree_flatten(t)[0] if dtype_of(x).kind in "fc"]
    if not dts:
        return np.dtype(np.float64)
    return max(dts, key=lambda d: float(np.finfo(d).eps))


def _jvp_of(D: Callable[..., PyTree], u: tuple[PyTree, ...]) -> Callable[..., PyTree]:
    def D_next(*x: PyTree) -> PyTree:
        return jvp(D, x, _cast_like(u, x))[1]

    return D_next


def _vjp_of(R: Callable[..., PyTree], w: PyTree) -> Callable[..., tuple[PyTree, ...]]:
    def R_next(*x: PyTree) -> tuple[PyTree, ...]:
        out, back = vjp(R, *x)
        return back(_cast_like(w, out))

    return R_next


def _coordinates(tree: PyTree) -> list[tuple[str, PyTree]]:
    """``(label, direction)`` for every real coordinate direction of one argument (a pytree):
    a unit entry, and for a complex leaf also ``1j`` at each entry (its imaginary part)."""
    leaves, t = tree_flatten(tree)
    out = []
    for k, x in enumerate(leaves):
        shape = shape_of(x)
        units = [(1.0, "")] + ([(1j, " (imaginary part)")] if dtype_of(x).kind == "c" else [])
        for j in range(int(np.prod(shape, dtype=np.int64))):
            idx = np.unravel_index(j, shape) if shape else ()
            body = "[" + ", ".join(str(int(i)) for i in idx) + "]"
            where = body if len(leaves) == 1 else f"leaf {k} {body}"
            for unit, part in units:
                parts = [np.zeros(shape_of(y), type(unit)) for y in leaves]
                parts[k].reshape(-1)[j] = unit
                out.append((where + part, tree_unflatten(t, parts)))
    return out


def _zeros_tree(tree: PyTree) -> PyTree:
    leaves, t = tree_flatten(tree)
    return tree_unflatten(t, [np.zeros(shape_of(x)) for x in leaves])


# ----------------------------------------------------------------------------- numerical


def numerical_jvp(
    f: Callable[..., PyTree],
    primals: Sequence[PyTree],
    tangents: Sequence[PyTree],
    method: Method = "auto",
    eps: float | None = None,
    return_error: bool = False,
) -> PyTree:
    """The directional derivative of ``f`` at ``primals`` along ``tangents``, numerically.

    Returns the output tangent, shaped like ``f``'s output, in float64: the evaluations are
    done on float64 copies of the inputs (the oracle of a float32 function is computed in
    float64). With ``return_error=True`` returns
    ``(tangent, error_estimate)``. Non-float arguments are held fixed (their tangent may be
    ``None``). ``eps`` is an absolute step along the tangent; by default steps are relative
    to the inputs and chosen from the dtype. A complex primal takes a complex tangent: the
    result is the real-linear derivative along it (real and imaginary parts move
    separately, as in JAX); the complex step is not available for it.

    Example:
        >>> import pullback.numpy as pnp
        >>> t = numerical_jvp(pnp.sin, (np.array([0.0, 1.0]),), (np.array([1.0, 1.0]),))
        >>> np.allclose(t, np.cos([0.0, 1.0]), rtol=1e-14, atol=0)
        True
        >>> z = np.array([1.0 + 2.0j])
        >>> t = numerical_jvp(lambda z: pnp.abs(z) ** 2, (z,), (np.array([1j]),))
        >>> np.allclose(t, [4.0], rtol=1e-12)  # d|z|^2 / dIm(z) = 2 Im(z)
        True
    """
    who = "numerical_jvp"
    _check_method(who, method)
    primals, tangents = _as_args(who, primals), _as_args(who, tangents)
    if len(primals) != len(tangents):
        raise TypeError(f"{who}: got {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(i for i, p in enumerate(primals) if is_inexact_tree(p))
    _refuse_complex_step(who, f, primals, nums, method)
    flat = Flat(_partial(f, primals, nums), tuple(primals[i] for i in nums), fun_name(f))
    d = [leaf for i in nums for leaf in _leaves64(tangents[i])]
    if [x.shape for x in d] != [x.shape for x in flat.leaves]:
        raise ValueError(
            f"{who}: tangent shapes {[x.shape for x in d]} do not match the primals' "
            f"{[x.shape for x in flat.leaves]}: give one tangent per primal, shaped like it"
        )
    est = directional(flat, d, method, eps)
    value = flat.outputs.unflatten(est.value)
    if return_error:
        return value, flat.outputs.unflatten(est.error, cast=False)
    return value


def _columns(flat: Flat, method: str, eps: float | None, unit: complex = 1.0) -> list[Estimate]:
    """One numerical directional derivative per coordinate of the flat inputs (along
    ``unit`` times each unit vector; ``unit=1j``: the imaginary parts of complex inputs)."""
    cols = []
    for k, x in enumerate(flat.leaves):
        for j in range(x.size):
            d = [np.zeros(y.shape, type(unit)) for y in flat.leaves]
            d[k].reshape(-1)[j] = unit
            cols.append(directional(flat, d, method, eps))
    return cols


def numerical_vjp(
    f: Callable[..., PyTree],
    primals: Sequence[PyTree],
    cotangent: PyTree,
    method: Method = "auto",
    eps: float | None = None,
) -> tuple[PyTree, ...]:
    """The vector-Jacobian product of ``f`` at ``primals`` with ``cotangent``, numerically.

    Returns a tuple with one cotangent per primal (shaped like it, in float64; ``None`` for
    a non-float argument), like ``vjp_fn``. The Jacobian is built column by column from
    coordinate directions, each step relative to its own entry. The notebook's
    ``test_vjp(f, x, u, eps=1e-3)`` is
    ``numerical_vjp(f, (x,), u, method="forward", eps=1e-3)[0]``.

    A complex primal gets a complex cotangent in JAX's convention: the transpose of the
    real-linear JVP under ``<a, b> = Re(sum(a * b))`` (no conjugation), that is
    ``<w, J e_j> - i <w, J (i e_j)>`` per entry, so for a real ``f`` it is
    ``df/dRe(z) - i df/dIm(z)``.

    Example:
        >>> import pullback.numpy as pnp
        >>> x = np.array([0.5, 2.0])
        >>> g, = numerical_vjp(lambda x: x * x, (x,), np.array([1.0, 1.0]))
        >>> np.allclose(g, 2 * x, rtol=1e-14, atol=0)
        True
        >>> z = np.array([1.0 + 2.0j])
        >>> g, = numerical_vjp(lambda z: pnp.sum(pnp.abs(z) ** 2), (z,), np.array(1.0))
        >>> np.allclose(g, 2 * np.conj(z), rtol=1e-12)
        True
    """
    who = "numerical_vjp"
    _check_method(who, method)
    primals = _as_args(who, primals)
    nums = tuple(i for i, p in enumerate(primals) if is_inexact_tree(p))
    _refuse_complex_step(who, f, primals, nums, method)
    flat = Flat(_partial(f, primals, nums), tuple(primals[i] for i in nums), fun_name(f))
    w, _ = flat.outputs.vector(cotangent, "the cotangent")
    if w.shape != flat.phi0.shape:
        raise ValueError(
            f"{who}: the cotangent has {w.size} floating entries, but {fun_name(f)}'s output "
            f"has {flat.phi0.size}: give a cotangent shaped like the output"
        )
    # <w, J d> pairs through the real part (JAX's convention for complex outputs)
    values = np.array([np.real(est.dot(w)[0]) for est in _columns(flat, method, eps)])
    if any(flat.leaf_complex):
        imag = np.array([np.real(est.dot(w)[0]) for est in _columns(flat, method, eps, 1j)])
        mask = np.concatenate([np.full(x.size, c) for x, c in zip(flat.leaves, flat.leaf_complex,
                                                                   strict=True)])
        values = values - 1j * np.where(mask, imag, 0.0)
    out: list[PyTree] = []
    start = 0
    for i, p in enumerate(primals):
        if i not in nums:
            out.append(None)
            continue
        leaves, tree = tree_flatten(p)
        parts = []
        for x in leaves:
            n = int(np.prod(shape_of(x), dtype=np.int64))
            part = values[start : start + n]
            part = part if dtype_of(x).kind == "c" else np.real(part)
            parts.append(part.reshape(shape_of(x)))
            start += n
        out.append(tree_unflatten(tree, parts))
    return tuple(out)


@overload
def numerical_jacobian(
    f: Callable[..., ArrayLike], x: ArrayLike, method: Method = "auto",
    eps: float | None = None, return_error: Literal[False] = False,
) -> np.ndarray: ...
@overload
def numerical_jacobian(
    f: Callable[..., ArrayLike], x: ArrayLike, method: Method = "auto",
    eps: float | None = None, *, return_error: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def numerical_jacobian(
    f: Callable[..., ArrayLike], x: ArrayLike, method: Method = "auto",
    eps: float | None = None, return_error: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...
def numerical_jacobian(
    f: Callable[..., ArrayLike],
    x: ArrayLike,
    method: Method = "auto",
    eps: float | None = None,
    return_error: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The Jacobian of ``f`` at the array ``x``, numerically, shaped ``out.shape + x.shape``
    (in float64, or complex128 for a complex output).

    With ``return_error=True`` returns ``(jacobian, error_estimate)`` (same shape).

    Example:
        >>> import pullback.numpy as pnp
        >>> J = numerical_jacobian(lambda x: x ** 2, np.array([1.0, 3.0]))
        >>> np.allclose(J, [[2.0, 0.0], [0.0, 6.0]], rtol=1e-14, atol=1e-14)
        True
    """
    who = "numerical_jacobian"
    _check_method(who, method)
    if not is_inexact_tree(x) or len(tree_flatten(x)[0]) != 1:
        raise TypeError(
            f"{who}: x must be one floating-point array, got {type(x).__name__} of dtype "
            f"{dtype_of(x) if not isinstance(x, (list, tuple, dict)) else 'pytree'}; "
            "use numerical_vjp or numerical_jvp for pytrees"
        )
    if dtype_of(x).kind == "c":
        raise TypeError(
            f"{who}: x is complex ({dtype_of(x)}); the derivative with respect to a complex "
            "input is real-linear, not a complex matrix: use numerical_jvp along complex "
            "tangents or numerical_vjp (JAX's convention), or pass the real and imaginary "
            "parts as separate real arrays"
        )
    flat = Flat(f, (x,), fun_name(f))
    out = flat.call(flat.leaves)
    if len(tree_flatten(out)[0]) != 1:
        raise TypeError(
            f"{who}: {fun_name(f)} must return one array, got a {type(out).__name__} pytree"
        )
    out_shape, x_shape = shape_of(out), shape_of(x)
    cols = _columns(flat, method, eps)
    n_out = int(np.prod(out_shape, dtype=np.int64))
    vals = np.stack([c.value for c in cols], axis=-1) if cols else np.zeros((n_out, 0))
    errs = np.stack([c.error for c in cols], axis=-1) if cols else np.zeros((n_out, 0))
    jac = vals.reshape(out_shape + x_shape)
    if return_error:
        return jac, errs.reshape(out_shape + x_shape)
    return jac


# ----------------------------------------------------------------------------- the checker


@dataclass
class _Setup:
    f: Callable[..., PyTree]
    name: str
    args: tuple[Any, ...]
    nums: tuple[int, ...]
    dargs: tuple[PyTree, ...]
    out: PyTree
    labels: list[str]
    rtol: float
    atol: float
    dtype: np.dtype
    method: str
    eps: float | None
    probes: int
    full: bool
    # directions per probe: us[p][k] (k = 0..order-1), ws[p][k]
    us: list[list[tuple[PyTree, ...]]] = field(default_factory=list)
    ws: list[list[PyTree]] = field(default_factory=list)
    flats: dict[tuple[Any, ...], Flat] = field(default_factory=dict)

    @property
    def fd(self) -> Callable[..., PyTree]:
        return _partial(self.f, self.args, self.nums)

    def chain(self, mode: str, p: int, k: int) -> Callable[..., PyTree]:
        """The derivative of order ``k`` computed by pullback in ``mode``, along probe p's
        directions: a function of the differentiated arguments."""
        D = self.fd
        for j in range(k):
            D = _jvp_of(D, self.us[p][j]) if mode == "fwd" else _vjp_of(D, self.ws[p][j])
        return D

    def flat(self, mode: str, p: int, k: int) -> Flat:
        key = ("fd",) if k == 0 else (mode, p, k)
        if key not in self.flats:
            self.flats[key] = Flat(self.chain(mode, p, k), self.dargs, self.name)
        return self.flats[key]


def _numeric_row(s: _Setup, mode: str, k: int, ai: int) -> CheckRow:
    """Order ``k`` (from 1) in ``mode`` for argument ``ai``: pullback's derivative of the
    order k-1 derivative against a numerical derivative of it."""
    items: list[Item] = []
    ests: list[Estimate] = []
    probes = range(1 if s.full else s.probes)
    for p in probes:
        try:
            flat = s.flat(mode, p, k - 1)
        except Exception as err:
            items.append(error_item(err, f"probe {p}: the order {k - 1} derivative"))
            continue
        D = s.chain(mode, p, k - 1)
        u = _restrict(s.us[p][k - 1], ai)
        try:
            if mode == "fwd":
                items.extend(_fwd_items(s, flat, D, u, ai, p, ests))
            else:
                items.extend(_rev_items(s, flat, D, u, s.ws[p][k - 1], ai, p, ests))
        except Exception as err:
            items.append(error_item(err, f"probe {p}"))
    methods = sorted({e.method for e in ests if e.method != "exact"}) or ["exact"]
    step = float(np.median([e.step for e in ests])) if ests else float("nan")
    return CheckRow.from_items(s.labels[ai], mode, k, "+".join(methods), step, items)


def _directions(
    s: _Setup, flat: Flat, u: tuple[PyTree, ...], ai: int
) -> list[tuple[str, list[np.ndarray], tuple[PyTree, ...]]]:
    """(label, flat direction, pytree direction) for the probe ``u`` or, with ``full``,
    every coordinate of argument ``ai``."""
    if not s.full:
        return [("", [leaf for x in u for leaf in _leaves64(x)], u)]
    out = []
    for where, unit in _coordinates(s.dargs[ai]):
        e = tuple(unit if i == ai else _zeros_tree(x) for i, x in enumerate(s.dargs))
        out.append(("input " + where, [leaf for x in e for leaf in _leaves64(x)], e))
    return out


#: a probe direction that crosses kinks is split into at most this many coordinates
_SPLIT_LIMIT = 64


def _split(flat: Flat, d: list[np.ndarray], method: str, eps: float | None) -> Estimate | None:
    """The numerical derivative along ``d`` from its coordinate pieces, for a probe that
    crosses several kinks at once (a Huber loss summed over entries at their switch points).

    Along ``d`` the one-sided derivatives mix the sides of every kink, so a value that takes
    one side at one entry and the other side at another (a valid derivative: the rule picks
    a side per entry) lies outside them. Per coordinate each kink has a left and a right
    derivative; ``left`` and ``right`` of the result are the sums of their minima and maxima,
    the interval every choice of sides falls in. None when ``d`` has one coordinate, more than
    :data:`_SPLIT_LIMIT`, or the method finds no one-sided derivatives.
    """
    pieces = []
    for k, dk in enumerate(d):
        flat_dk = dk.reshape(-1)
        for j in np.flatnonzero(flat_dk):
            v = flat_dk[j]
            for part in ((v.real, 1j * v.imag) if np.iscomplexobj(dk) else (v,)):
                if part != 0:
                    pieces.append((k, j, part))
    if not 2 <= len(pieces) <= _SPLIT_LIMIT:
        return None
    ests: list[Estimate] = []
    for k, j, part in pieces:
        dj = [np.zeros(x.shape, np.result_type(x, type(part))) for x in d]
        dj[k].reshape(-1)[j] = part
        est = directional(flat, dj, "richardson" if method == "auto" else method, eps)
        if est.method == "exact":
            continue
        if est.left is None:
            return None
        ests.append(est)
    if not ests:
        return None
    sides = [one_sided(e) for e in ests]
    with np.errstate(all="ignore"):
        total = _sum(e.value for e in ests)
        lo = _sum(np.minimum(L, R) for L, R, _, _ in sides)
        hi = _sum(np.maximum(L, R) for L, R, _, _ in sides)
        lr = _sum(np.maximum(L_err, R_err) for _, _, L_err, R_err in sides)
    jump = np.any([e.jump for e in ests if e.jump is not None], axis=0)
    bend = np.any([e.bend for e in ests if e.bend is not None], axis=0)
    return Estimate(total, _sum(e.error for e in ests), "richardson",
                    float(np.median([e.step for e in ests])), max(e.fscale for e in ests),
                    lo, hi, lr, lr, jump, bend)


def _sum(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """``sum(arrays)`` (the builtin: from 0, in order) of one array or more."""
    return cast(np.ndarray, sum(arrays))


def _crossed_kinks(item: Item | None) -> bool:
    """A comparison that failed only because the computed value lies outside the one-sided
    derivatives of a kink."""
    return item is not None and item.verdict == "fail" and item.detail.startswith("kink:")


def _fwd_items(
    s: _Setup, flat: Flat, D: Callable[..., PyTree], u: tuple[PyTree, ...], ai: int, p: int,
    ests: list[Estimate],
) -> list[Item]:
    items = []
    for label, d, tree in _directions(s, flat, u, ai):
        est = directional(flat, d, s.method, s.eps)
        ests.append(est)
        t_out = jvp(D, s.dargs, _cast_like(tree, s.dargs))[1]
        c, _ = flat.outputs.vector(t_out, s.name)
        c = c.astype(np.result_type(c, np.float64))
        where = (lambda i, label=label: (f"probe {p}, " if not s.full else "")
                 + ("output " + flat.outputs.label(i)).rstrip()
                 + (f" / {label}" if label else ""))
        item = compare_vector(c, est, s.rtol, s.atol, where)
        if _crossed_kinks(item):
            split = _split(flat, d, s.method, s.eps)
            if split is not None:
                item = compare_vector(c, split, s.rtol, s.atol, where)
        if item is not None:
            items.append(item)
    return items


def _rev_items(
    s: _Setup, flat: Flat, D: Callable[..., PyTree], u: tuple[PyTree, ...], w: PyTree, ai: int,
    p: int, ests: list[Estimate],
) -> list[Item]:
    out, back = vjp(D, *s.dargs)
    ct = back(_cast_like(w, out))[ai]
    c_vec = _vec(ct)
    w_vec, _ = flat.outputs.vector(_cast_like(w, out), "the cotangent")
    w_vec = w_vec.astype(np.result_type(w_vec, np.float64))
    items = []
    for label, d, tree in _directions(s, flat, u, ai):
        # <u, ct> = Re(sum(u * ct)): for a complex input, the transpose of the real-linear JVP
        u_vec = _vec(tree[ai])
        est = directional(flat, d, s.method, s.eps)
        ests.append(est)
        computed = float(np.real(np.sum(u_vec * c_vec)))
        extra = float(np.sum(np.abs(u_vec) * np.abs(c_vec)))
        where = label or f"probe {p}"
        item = compare_scalar(computed, w_vec, est, s.rtol, s.atol, extra, where)
        if _crossed_kinks(item):
            split = _split(flat, d, s.method, s.eps)
            if split is not None:
                item = compare_scalar(computed, w_vec, split, s.rtol, s.atol, extra, where)
        items.append(item)
    return items


def _dot_row(s: _Setup, k: int, ai: int) -> CheckRow:
    """Order ``k``: forward against reverse mode on the order k-1 (forward) derivative."""
    items = []
    tol_rel = dot_rtol(s.dtype)
    for p in range(s.probes):
        try:
            D = s.chain("fwd", p, k - 1)
            u = _restrict(s.us[p][k - 1], ai)
            out, t_out = jvp(D, s.dargs, _cast_like(u, s.dargs))
            w = _cast_like(s.ws[p][0], out)
            _, back = vjp(D, *s.dargs)
            ct = back(w)[ai]
            tv, wv, cv, uv = _vec(t_out), _vec(w), _vec(ct), _vec(u[ai])
            # real inputs: a complex output pairs with w through the real part
            a = float(np.real(np.sum(tv * wv)))
            b = float(np.real(np.sum(uv * cv)))
            mag = float(np.sum(np.abs(tv) * np.abs(wv)) + np.sum(np.abs(uv) * np.abs(cv)))
            tol = s.atol + tol_rel * mag
            err = abs(a - b)
            verdict = "ok" if err <= tol else "fail"
            if not (np.isfinite(a) and np.isfinite(b)):
                verdict = "uncertain" if not np.isfinite(mag) else "fail"
            items.append(Item(verdict, f"probe {p}", a, b, err,
                              err / mag if mag > 0 else 0.0, 0.0, tol,
                              "<J u, w> by forward mode against <u, J^T w> by reverse mode"))
        except Exception as err:
            items.append(error_item(err, f"probe {p}"))
    return CheckRow.from_items(s.labels[ai], "dot", k, "fwd vs rev", float("nan"), items)


def _taylor_row(s: _Setup, ai: int, mode: str) -> CheckRow:
    try:
        res = _taylor(s.fd, s.dargs, _restrict(s.us[0][0], ai), mode, s.ws[0][0], s.rtol)
    except Exception as err:
        return CheckRow.from_items(s.labels[ai], "taylor", 1, "-", 0.0, [error_item(err)])
    where = "exact to rounding" if np.isnan(res.order) else f"observed order {res.order:.2f}"
    item = Item(res.verdict, where, 2.0, res.order, 0.0, 0.0, 0.0, 0.0, res.detail)
    row = CheckRow.from_items(s.labels[ai], "taylor", 1, mode, float(res.steps[0]), [item])
    row.abs_error = row.rel_error = row.tolerance = float("nan")
    return row


def report(
    f: Callable[..., PyTree],
    args: Sequence[PyTree],
    order: int = 1,
    modes: Sequence[str] = MODES,
    method: Method = "auto",
    atol: float | None = None,
    rtol: float | None = None,
    eps: float | None = None,
    probes: int = 3,
    full: bool = False,
    seed: int = 0,
    argnums: int | Sequence[int] | None = None,
    dot: bool | None = None,
    taylor: bool = False,
    locate: bool = True,
) -> Report:
    """Check ``f``'s derivatives at ``args`` and return a structured :class:`Report`.

    One row per argument, mode (``"fwd"``, ``"rev"``; ``"dot"`` for the dot-product test,
    ``"taylor"`` for the Taylor test) and order, with the method used, the step, the worst
    entry, expected and computed values, absolute and relative error, the numerical error
    estimate, the tolerance and a verdict (``ok``, ``kink``, ``uncertain``, ``fail``,
    ``error``). The dot-product test runs when both modes are checked (or ``dot=True``).
    ``probes`` seeded random directions are used (``seed`` is in the report), or
    with ``full=True`` every coordinate. The derivative of order k is checked by differencing
    pullback's derivative of order k-1 in the same mode. When a check fails and ``locate``
    is true, each primitive ``f`` applies is checked at the inputs it saw, and the first
    wrong rule and the line that called it are in ``report.localisation``.

    Example:
        >>> import pullback.numpy as pnp
        >>> rep = report(lambda x: pnp.sin(x) * x, (np.array([0.5, 1.5]),), order=2)
        >>> rep.ok, sorted({r.verdict for r in rep.rows})
        (True, ['ok'])
    """
    who = f"pullback.check of {fun_name(f)}"
    _check_method(who, method)
    args = _as_args(who, args)
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"{who}: order must be a positive integer, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"{who}: modes must be a subset of {MODES}, got {modes!r}")
    if probes < 1:
        raise ValueError(f"{who}: probes must be at least 1, got {probes}")
    nums = _float_argnums(who, f, args, argnums)
    _refuse_complex_step(who, f, args, nums, method)
    dargs = tuple(args[i] for i in nums)
    out = f(*args)
    check_output(who, fun_name(f), out)
    dtype = _lowest_precision([*dargs, out])
    s = _Setup(
        f, fun_name(f), args, nums, dargs, out, [arg_label(f, i) for i in nums],
        default_rtol(dtype) if rtol is None else float(rtol), 0.0 if atol is None else float(atol),
        dtype, method, eps, probes, full,
    )
    rng = np.random.default_rng(seed)
    for _ in range(probes):
        s.us.append([_random_like(rng, dargs) for _ in range(order)])
        s.ws.append([_random_like(rng, out)] + [_random_like(rng, dargs)
                                                for _ in range(order - 1)])
    rows = []
    for k in range(1, order + 1):
        for mode in modes:
            for ai in range(len(nums)):
                rows.append(_numeric_row(s, mode, k, ai))
        if dot or (dot is None and set(modes) == set(MODES)):
            for ai in range(len(nums)):
                rows.append(_dot_row(s, k, ai))
    if taylor:
        for ai in range(len(nums)):
            rows.append(_taylor_row(s, ai, "rev" if "rev" in modes else "fwd"))
    notes = [
        f"{arg_label(f, i)} is complex: its real and imaginary parts are checked as separate "
        "real directions (JAX's convention: the VJP is the transpose of the real-linear JVP "
        "under Re(sum(a * b))), by Richardson extrapolation, as the complex step needs real "
        "inputs"
        for i in nums if _has_complex(args[i])
    ]
    rep = Report(s.name, seed, str(dtype), s.rtol, s.atol, order, modes, method, rows,
                 notes=notes)
    if locate and not rep.ok:
        rep.localisation = _localise(f, args, nums, rep, method, rtol, atol, eps, seed)
    return rep


def check_grads(
    f: Callable[..., PyTree],
    args: Sequence[PyTree],
    order: int = 1,
    modes: Sequence[str] = MODES,
    method: Method = "auto",
    atol: float | None = None,
    rtol: float | None = None,
    eps: float | None = None,
    probes: int = 3,
    full: bool = False,
    seed: int = 0,
    argnums: int | Sequence[int] | None = None,
    dot: bool | None = None,
    taylor: bool = False,
    locate: bool = True,
) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``; raise if one is wrong.

    Returns nothing on success; raises :class:`GradientCheckError` (an ``AssertionError``)
    carrying the :class:`Report` (``err.report``), its message a table naming the argument,
    mode and order that failed, the worst entry, expected and computed values, and the error
    against the tolerance, then the first wrong rule and the line that called it. Default
    tolerances come from the dtype: in float64 a derivative wrong by a relative 1e-6 is
    caught; a correct float32 derivative passes. See :func:`report` for the arguments.

    Example:
        >>> import pullback.numpy as pnp
        >>> check_grads(lambda x, y: pnp.sum(x * pnp.exp(y)),
        ...             (np.array([1.0, 2.0]), np.array([0.1, -0.3])), order=2)
    """
    rep = report(f, args, order, modes, method, atol, rtol, eps, probes, full, seed, argnums,
                 dot, taylor, locate)
    if not rep.ok:
        raise GradientCheckError(rep)


# ----------------------------------------------------------------------------- localisation


def _localise(
    f: Callable[..., PyTree],
    args: tuple[Any, ...],
    nums: tuple[int, ...],
    rep: Report,
    method: Method,
    rtol: float | None,
    atol: float | None,
    eps: float | None,
    seed: int,
    limit: int = 200,
) -> Localisation:
    failing = rep.failures
    order = max(r.order for r in failing)
    modes = tuple(m for m in MODES if any(r.mode in (m, "dot", "taylor") for r in failing))
    try:
        records = record(f, args, nums)
    except Exception as err:
        return Localisation("", "", "", note=(
            f"the function could not be re-run under the recording trace "
            f"({type(err).__name__}: {err})"))
    seen: set[tuple[Any, ...]] = set()
    checked = 0
    for rec in records:
        positions = rec.float_traced
        if rec.prim.nondiff or not positions:
            continue
        key = (id(rec.prim), rec.site, rec.shapes, repr(sorted(rec.params)))
        if key in seen:
            continue
        seen.add(key)
        if checked >= limit:
            break
        checked += 1

        def g(*xs: Any, rec: Any = rec) -> Any:
            return rec.prim.bind(*xs, **rec.params)

        g.__name__ = f"primitive '{rec.prim.name}'"
        try:
            sub = report(g, rec.args, order, modes or MODES, method, atol, rtol, eps,
                         probes=2, seed=seed, argnums=positions, locate=False)
        except Exception as err:
            return Localisation(rec.prim.name, rec.site, rec.function, None, checked,
                                note=f"checking it raised {type(err).__name__}: {err}")
        if not sub.ok:
            return Localisation(rec.prim.name, rec.site, rec.function, sub, checked)
    return Localisation(
        "", "", "", None, checked,
        note=f"each of the {checked} primitive applications passed its own check at the "
        "inputs it saw: the error is in how they are combined (for example a stop_gradient, "
        "or a value computed outside pullback and fed back in)",
    )


# ----------------------------------------------------------------------------- Taylor test


@dataclass
class TaylorResult:
    """The Taylor-remainder test: residuals ``r(h)`` and their observed orders.

    ``r(h) = |f(x + h d) - f(x) - h <g, d>|`` shrinks like ``h**2`` when the derivative is
    right and like ``h`` when it is wrong; ``order`` is the order observed at the smallest
    steps where ``r`` stands above rounding noise (``nan`` when it never does: the
    linearisation is exact to rounding, verdict ``ok``).
    """

    steps: np.ndarray
    residuals: np.ndarray
    orders: np.ndarray
    order: float
    verdict: str
    detail: str = ""

    def __str__(self) -> str:
        lines = [f"Taylor test: observed order {self.order:.2f}, verdict {self.verdict}"]
        lines.append("         h      residual  order")
        for h, r, o in zip(self.steps, self.residuals, self.orders, strict=True):
            lines.append(f"  {h:8.2e}  {r:12.4e}  {'' if np.isnan(o) else f'{o:5.2f}'}")
        return "\n".join(lines)


def taylor_test(
    f: Callable[..., PyTree],
    args: Sequence[PyTree],
    direction: Sequence[PyTree] | None = None,
    mode: str = "rev",
    argnums: int | Sequence[int] | None = None,
    rtol: float | None = None,
    seed: int = 0,
) -> TaylorResult:
    """The Taylor-remainder test of ``f``'s first derivative at ``args``.

    Computes ``r(h) = |F(x + h d) - F(x) - h F'(x) d|`` for ``h`` halving from a tenth of
    the input scale down over 40 steps (``F = <w, f>`` with a random ``w`` and ``F'`` by
    reverse mode for ``mode="rev"``; ``f`` itself with the JVP, in the max norm, for
    ``mode="fwd"``). The observed order is 2 (or more) for a right derivative and 1 for a
    wrong one, whatever the step: a verdict that depends on no step size. ``direction`` is a
    tuple like the differentiated arguments (random by default).

    Example:
        >>> import pullback.numpy as pnp
        >>> res = taylor_test(lambda x: pnp.sum(pnp.exp(x)), (np.array([0.1, 0.7]),))
        >>> res.verdict, bool(1.8 < res.order < 2.2)
        ('ok', True)
    """
    who = f"taylor_test of {fun_name(f)}"
    if mode not in MODES:
        raise ValueError(f"{who}: mode must be 'fwd' or 'rev', got {mode!r}")
    args = _as_args(who, args)
    nums = _float_argnums(who, f, args, argnums)
    dargs = tuple(args[i] for i in nums)
    rng = np.random.default_rng(seed)
    d = _random_like(rng, dargs) if direction is None else _as_args(who, direction)
    out = f(*args)
    check_output(who, fun_name(f), out)
    w = _random_like(rng, out)
    dtype = _lowest_precision([*dargs, out])
    rt = default_rtol(dtype) if rtol is None else rtol
    return _taylor(_partial(f, args, nums), dargs, d, mode, w, rt)


def _taylor(
    fd: Callable[..., PyTree], dargs: tuple[PyTree, ...], d: tuple[PyTree, ...], mode: str,
    w: PyTree, rtol: float,
) -> TaylorResult:
    flat = Flat(fd, dargs, fun_name(fd))
    dl = [leaf for x in d for leaf in _leaves64(x)]
    if [x.shape for x in dl] != [x.shape for x in flat.leaves]:
        raise ValueError(
            f"taylor_test: the direction has shapes {[x.shape for x in dl]}, the arguments "
            f"{[x.shape for x in flat.leaves]}: give one direction per argument, shaped like it"
        )
    out = fd(*dargs)
    w_vec, _ = flat.outputs.vector(_cast_like(w, out), "the cotangent")
    w_vec = _as64(w_vec)
    u_vec = np.concatenate([x.ravel() for x in dl]) if dl else np.zeros(0)
    if mode == "rev":
        _, back = vjp(fd, *dargs)
        g = np.concatenate([_vec(c) for c in back(_cast_like(w, out))])
        # Re(sum(a * b)) pairs complex values (JAX's convention); plain sums for real ones
        slope = float(np.real(np.sum(g * u_vec)))
        size = float(np.sum(np.abs(g * u_vec)))

        def resid(vec: np.ndarray, h: float) -> float:
            return abs(float(np.real(np.sum(w_vec * (vec - flat.phi0)))) - h * slope)

        noise = float(np.sum(np.abs(w_vec * flat.phi0)))
    else:
        t = jvp(fd, dargs, _cast_like(d, dargs))[1]
        slope_v, _ = flat.outputs.vector(t, "the tangent")
        slope_v = _as64(slope_v)
        size = float(np.max(np.abs(slope_v), initial=0.0))

        def resid(vec: np.ndarray, h: float) -> float:
            return float(np.max(np.abs(vec - flat.phi0 - h * slope_v), initial=0.0))

        noise = float(np.max(np.abs(flat.phi0), initial=0.0))
    xv = np.concatenate([x.ravel() for x in flat.x64]) if flat.x64 else np.zeros(0)
    mask = u_vec != 0
    if not mask.any():
        return TaylorResult(np.zeros(1), np.zeros(1), np.full(1, np.nan), float("nan"), "ok",
                            "zero direction")
    scale = float(np.min(np.maximum(np.abs(xv[mask]), 1.0) / np.abs(u_vec[mask])))
    hs = 0.1 * scale * 2.0 ** -np.arange(40)
    res = np.array([resid(flat.phi(dl, h)[0], h) for h in hs])
    # the noise floor: rounding in F's values (bounded a priori, and measured at the
    # smallest steps, where any derivative's remainder is far below rounding), plus the
    # rounding of the computed derivative itself (a relative rtol / 10)
    measured = float(np.max(res[-10:][np.isfinite(res[-10:])], initial=0.0))
    floor = np.minimum(16 * flat.eval_eps * noise, measured) + hs * (rtol / 10) * size
    significant = np.isfinite(res) & (res > 4 * floor)
    orders = np.full(hs.shape, np.nan)
    for j in range(len(hs) - 1):
        if significant[j] and significant[j + 1] and res[j + 1] > 0:
            orders[j] = np.log2(res[j] / res[j + 1])
    valid = np.flatnonzero(~np.isnan(orders))
    if valid.size == 0:
        return TaylorResult(hs, res, orders, float("nan"), "ok",
                            "the linearisation is exact to rounding at every step")
    observed = float(np.median(orders[valid[-3:]]))
    if observed >= 1.75:
        verdict, detail = "ok", "the remainder shrinks like h**2 or faster"
    elif observed <= 1.25:
        verdict, detail = "fail", "the remainder shrinks like h: the derivative is wrong"
    else:
        verdict, detail = "uncertain", "the observed order is between 1 and 2"
    return TaylorResult(hs, res, orders, observed, verdict, detail)
