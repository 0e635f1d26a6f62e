"""Products: ``matmul`` and ``einsum`` are the primitives; ``dot``, ``vdot``, ``inner``,
``outer``, ``tensordot``, ``kron``, ``trace``, ``diag``, ``diagonal``, ``triu``, ``tril`` and
``cross`` are exact composites of them and of the linear shape primitives.

``einsum`` is multilinear: the cotangent of each operand is again an ``einsum`` (of the output
cotangent with the other operands), so it is differentiable to any order. Indices that appear
only in one operand are restored with a vector of ones, repeated indices (diagonals) with an
identity matrix, both constants.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.reverse import VJPTracer, defvjp_lean, record_pair
from pullback.core.rules import add_tangents, defbatch, defbilinear, defjvp_joint, defvjp_joint
from pullback.core.trace import Tracer, dtype_of, shape_of, zero
from pullback.numpy._registry import (
    _check_kwargs,
    implements,
    method,
    move_to_front,
    new_primitive,
)
from pullback.numpy._util import normalize_axis, promote_dtypes
from pullback.numpy.elementwise import conjugate, multiply, negative, subtract, where
from pullback.numpy.reductions import sum as sum_
from pullback.numpy.shape import (
    broadcast_to,
    expand_dims,
    getitem,
    moveaxis,
    reshape,
    scatter_add_p,
    stack,
    swapaxes,
    transpose,
)

__all__ = [
    "cross",
    "diag",
    "diagonal",
    "dot",
    "einsum",
    "inner",
    "kron",
    "matmul",
    "outer",
    "tensordot",
    "trace",
    "tril",
    "triu",
    "vdot",
]


def _traced(*xs: Any) -> bool:
    for x in xs:
        if isinstance(x, Tracer):
            return True
    return False


# ----------------------------------------------------------------------------- matmul

matmul_p = new_primitive("matmul", np.matmul)


def _matmul_lhs(g: Any, x: Any, y: Any) -> Any:
    xnd, ynd = len(shape_of(x)), len(shape_of(y))
    if type(g) is np.ndarray and type(y) is np.ndarray and ynd <= 2 and xnd <= 2:
        # plain arrays (first order, eager): the same products as below, in NumPy directly
        if ynd == 1:
            return g * y if xnd == 1 else g[..., None] * y
        return np.matmul(y, g) if xnd == 1 else np.matmul(g, y.swapaxes(-1, -2))
    if ynd == 1:
        # (..., n, k) @ (k,) -> (..., n);  (k,) @ (k,) -> ()
        return g * y if xnd == 1 else reshape(g, shape_of(g) + (1,)) * y
    if xnd == 1:
        # (k,) @ (..., k, m) -> (..., m): sum over m and the batch axes of y * g[..., None, :]
        if ynd == 2:
            return matmul(y, g)
        prod = y * expand_dims(g, -2)
        return sum_(prod, axis=tuple(i for i in range(ynd) if i != ynd - 2))
    return matmul(g, swapaxes(y, -1, -2))


def _matmul_rhs(g: Any, x: Any, y: Any) -> Any:
    xnd, ynd = len(shape_of(x)), len(shape_of(y))
    if type(g) is np.ndarray and type(x) is np.ndarray and xnd <= 2 and ynd <= 2:
        # plain arrays (first order, eager): the same products as below, in NumPy directly
        if xnd == 1:
            return g * x if ynd == 1 else x[:, None] * g
        return np.matmul(g, x) if ynd == 1 else np.matmul(x.swapaxes(-1, -2), g)
    if xnd == 1:
        # (k,) @ (k,) -> (): g * x;  (k,) @ (..., k, m) -> (..., m): outer(x, g) per batch
        gs = shape_of(g)
        return g * x if ynd == 1 else reshape(x, shape_of(x) + (1,)) * reshape(
            g, gs[:-1] + (1,) + gs[-1:]
        )
    if ynd == 1:
        # (..., n, k) @ (k,) -> (..., n)
        if xnd == 2:
            return matmul(g, x)
        return sum_(x * expand_dims(g, -1), axis=tuple(range(xnd - 1)))
    return matmul(swapaxes(x, -1, -2), g)


defbilinear(
    matmul_p,
    lambda g, x, y: _matmul_lhs(g, x, y),
    lambda g, x, y: _matmul_rhs(g, x, y),
)


def _matmul_eager(g: Any, ans: Any, args: tuple, params: dict, parents: tuple) -> tuple:
    """matmul's reverse rule in one call (``reverse.EAGER_VJP``): for plain vectors and
    matrices the products of :func:`_matmul_lhs`/:func:`_matmul_rhs`' first case, written
    out, each cotangent of a matrix made in that matrix's layout (the same product, the
    other way round: a transposed weight ``W.T`` gets a transposed cotangent, so that ``W``'s
    gradient is C-ordered, and an update ``W - lr * g`` runs at NumPy's speed); else those
    functions."""
    x, y = args
    if type(g) is np.ndarray and type(x) is np.ndarray and type(y) is np.ndarray:
        xnd, ynd = x.ndim, y.ndim
        if xnd <= 2 and ynd <= 2:
            gx = gy = None
            if parents[0] is not None:
                if ynd == 1:
                    gx = g * y if xnd == 1 else g[..., None] * y
                elif xnd == 1:
                    gx = np.matmul(y, g)
                elif (fl := x.flags).f_contiguous and not fl.c_contiguous:
                    # x is stored in Fortran order only, a transpose (W.T): its cotangent
                    # in its layout
                    gx = np.matmul(y, g.T).T
                else:
                    gx = np.matmul(g, y.T)
            if parents[1] is not None:
                if xnd == 1:
                    gy = g * x if ynd == 1 else x[:, None] * g
                elif ynd == 1:
                    gy = np.matmul(g, x)
                elif (fl := y.flags).f_contiguous and not fl.c_contiguous:
                    # y is a transpose (x @ W.T): its cotangent in its layout, so that W's
                    gy = np.matmul(g.T, x).T  # is C-ordered as W is
                else:
                    gy = np.matmul(x.T, g)
            return gx, gy
    return (None if parents[0] is None else _matmul_lhs(g, x, y),
            None if parents[1] is None else _matmul_rhs(g, x, y))


defvjp_lean(matmul_p, _matmul_eager)


def _matmul_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    """Vectors become matrices, the batched operand's batch axis leads the broadcast batch
    axes (the other operand gets axes of length 1), then one matmul."""
    (x, y), (bx, by) = vals, batched
    sx, sy = shape_of(x)[bx:], shape_of(y)[by:]
    if len(sx) == 1:
        x = reshape(x, ((size,) if bx else ()) + (1,) + tuple(sx))
    if len(sy) == 1:
        y = reshape(y, ((size,) if by else ()) + tuple(sy) + (1,))
    rx, ry = len(shape_of(x)) - bx, len(shape_of(y)) - by
    rank = max(rx, ry)
    if bx and rx < rank:
        x = reshape(x, (size,) + (1,) * (rank - rx) + tuple(shape_of(x)[1:]))
    if by and ry < rank:
        y = reshape(y, (size,) + (1,) * (rank - ry) + tuple(shape_of(y)[1:]))
    if not bx:
        x = reshape(x, (1,) * (rank + 1 - len(shape_of(x))) + tuple(shape_of(x)))
    if not by:
        y = reshape(y, (1,) * (rank + 1 - len(shape_of(y))) + tuple(shape_of(y)))
    out = matmul(x, y)
    shape = shape_of(out)
    if len(sx) == 1 and len(sy) == 1:
        return reshape(out, shape[:-2])
    if len(sx) == 1:
        return reshape(out, shape[:-2] + shape[-1:])
    if len(sy) == 1:
        return reshape(out, shape[:-1])
    return out


defbatch(matmul_p, _matmul_batch)


@implements(np.matmul)
def matmul(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.matmul`` (the ``@`` operator), batched and broadcasting.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.matmul(np.ones((2, 3)), np.ones(3))
        array([3., 3.])
    """
    t1, t2 = type(x1) is VJPTracer, type(x2) is VJPTracer
    if (t1 or t2) and not kwargs:  # the eager reverse-mode case, without the checks below
        v1 = x1._primal if t1 else x1
        v2 = x2._primal if t2 else x2
        if (type(v1) is np.ndarray and type(v2) is np.ndarray and v1.dtype == v2.dtype
                and 0 < v1.ndim <= 2 and 0 < v2.ndim <= 2):
            out = record_pair(matmul_p, x1, x2, {})
            if out is not None:
                return out
    if not _traced(x1, x2):
        return np.matmul(x1, x2, **kwargs)
    if (
        not kwargs
        and isinstance(x1, (Tracer, np.ndarray))
        and isinstance(x2, (Tracer, np.ndarray))
        and x1.dtype == x2.dtype
        and 0 < x1.ndim <= 2
        and 0 < x2.ndim <= 2
    ):  # nothing to promote or broadcast
        return matmul_p.bind(x1, x2)
    _check_kwargs("matmul", kwargs)
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        raise ValueError("matmul: input operand does not have enough dimensions (0-d array); "
                         "use multiply for scalars")
    if s1[-1] != s2[0 if len(s2) == 1 else -2]:
        raise ValueError(f"matmul: mismatch in the contracted dimension: shapes {s1} and {s2}")
    # one dtype for both; batch axes broadcast explicitly so the rules see equal batches
    x1, x2 = promote_dtypes(x1, x2)
    if len(s1) >= 2 and len(s2) >= 2 and (len(s1) > 2 or len(s2) > 2):
        batch = np.broadcast_shapes(s1[:-2], s2[:-2])
        if s1[:-2] != batch:
            x1 = broadcast_to(x1, batch + s1[-2:])
        if s2[:-2] != batch:
            x2 = broadcast_to(x2, batch + s2[-2:])
    return matmul_p.bind(x1, x2)


# ----------------------------------------------------------------------------- einsum

_LETTERS = string.ascii_letters


def _einsum_optimize(operands: Sequence[Any]) -> Any:
    # NumPy's plain loop for two small operands (exactly NumPy's default result); a
    # contraction path with BLAS where it pays: many operands or a large contraction
    return "greedy" if len(operands) > 2 or sum(
        math.prod(shape_of(o)) for o in operands) > 4096 else False


def _einsum_impl(*operands: Any, subscripts: str) -> Any:
    return np.einsum(subscripts, *operands, optimize=_einsum_optimize(operands))


einsum_p = new_primitive("einsum", _einsum_impl)


def _split_subscripts(subscripts: str) -> tuple[list[str], str]:
    ins, out = subscripts.split("->")
    return ins.split(","), out


def _einsum_transpose(g: Any, args: tuple, k: int, subscripts: str) -> Any:
    """The cotangent of operand ``k``: ``g`` contracted with every other operand."""
    ins, out = _split_subscripts(subscripts)
    sizes = {c: n for term, a in zip(ins, args, strict=True)
             for c, n in zip(term, shape_of(a), strict=True)}
    fresh = iter(c for c in _LETTERS if c not in sizes)
    ops = [g] + [a for j, a in enumerate(args) if j != k]
    terms = [out] + [t for j, t in enumerate(ins) if j != k]
    present = set("".join(terms))
    dtype = dtype_of(g)
    target = []
    for c in ins[k]:
        if c in target:  # a repeated index (a diagonal): an identity matrix puts it back
            d = next(fresh)
            ops.append(backends.constant(np.eye(sizes[c], dtype=dtype), g))
            terms.append(c + d)
            target.append(d)
            continue
        if c not in present:  # summed in this operand alone: broadcast back with ones
            ops.append(backends.constant(np.ones(sizes[c], dtype=dtype), g))
            terms.append(c)
            present.add(c)
        target.append(c)
    return einsum_p.bind(*ops, subscripts=",".join(terms) + "->" + "".join(target))


def _einsum_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    return tuple(
        _einsum_transpose(g, args, k, params["subscripts"]) if need else zero
        for k, need in enumerate(needs)
    )


def _einsum_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    out = zero
    for k, t in enumerate(tangents):
        if t is not zero:
            ops = list(args)
            ops[k] = t
            out = add_tangents(out, einsum_p.bind(*ops, **params))
    return out


defvjp_joint(einsum_p, _einsum_vjp)
defjvp_joint(einsum_p, _einsum_jvp)


def _einsum_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    """A fresh index for the batch axis, on the batched operands and in front of the output."""
    ins, out = _split_subscripts(params["subscripts"])
    letter = next(c for c in _LETTERS if c not in params["subscripts"])
    terms = [letter + t if b else t for t, b in zip(ins, batched, strict=True)]
    return einsum_p.bind(*vals, subscripts=",".join(terms) + "->" + letter + out)


defbatch(einsum_p, _einsum_batch)


def _from_sublists(args: tuple) -> tuple[str, list]:
    """NumPy's interleaved form ``einsum(op0, sublist0, op1, sublist1, ..., [out])``."""

    def letters(sub: Sequence[Any]) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise ValueError(f"einsum: subscript {s!r} in a sublist must be an integer in "
                                 f"[0, {len(_LETTERS)}) or Ellipsis")
        return "".join(out)

    n = len(args) // 2
    spec = ",".join(letters(s) for s in args[1 : 2 * n : 2])
    if len(args) % 2:
        spec += "->" + letters(args[-1])
    return spec, list(args[0 : 2 * n : 2])


def _parse_einsum(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit subscripts: ellipses replaced by letters, the implicit output made explicit."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
        if "->" in out:
            raise ValueError(f"einsum: subscripts {subscripts!r} contain more than one '->'")
    else:
        lhs, out = spec, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operands, but {len(shapes)} "
            "were given"
        )
    for term in terms + ([out] if out is not None else []):
        bad = set(term.replace("...", "")) - set(_LETTERS)
        if bad or term.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript(s) {sorted(bad) or ['...']} in "
                             f"{subscripts!r}: use letters a-z, A-Z and at most one '...'")
    used = set(lhs)
    spare = [c for c in _LETTERS if c not in used]
    ell_nd = 0
    for term, shape in zip(terms, shapes, strict=True):
        named = len(term.replace("...", ""))
        if ("..." in term and named > len(shape)) or ("..." not in term and named != len(shape)):
            raise ValueError(
                f"einsum: operand of shape {shape} does not match its subscripts {term!r}"
            )
        if "..." in term:
            ell_nd = max(ell_nd, len(shape) - named)
    if ell_nd > len(spare):
        raise ValueError("einsum: too many dimensions under '...' for the letters left")
    ell = "".join(spare[:ell_nd])
    ins = []
    for term, shape in zip(terms, shapes, strict=True):
        if "..." in term:  # right-aligned: an operand with fewer such dims takes the last ones
            n = len(shape) - (len(term) - 3)
            term = term.replace("...", ell[len(ell) - n:])
        ins.append(term)
    if out is None:
        counts = {c: lhs.count(c) for c in set(lhs) - {".", ","}}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        if "..." not in out and any(len(shape) > len(t.replace("...", ""))
                                    for t, shape in zip(terms, shapes, strict=True)
                                    if "..." in t):
            raise ValueError(
                "einsum: output has more dimensions than subscripts given in einstein sum, but "
                "no '...' ellipsis provided to broadcast the extra dimensions"
            )
        out = out.replace("...", ell)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} repeat an index")
        missing = set(out) - set("".join(ins))
        if missing:
            raise ValueError(f"einsum: output subscript(s) {sorted(missing)} appear in no input")
    return ins, out


@implements(np.einsum)
def einsum(*operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Any:
    """Differentiable ``numpy.einsum``: any subscripts (repeated indices, ``...``, implicit
    output, the interleaved sublist form) and any number of operands, differentiable in each.
    On traced values the contraction order is chosen automatically (``optimize`` is ignored).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.einsum("ij,j->i", np.ones((2, 3)), np.arange(3.0))
        array([3., 3.])
    """
    if operands and not isinstance(operands[0], str):
        spec, ops = _from_sublists(operands)
    else:
        spec, ops = operands[0], list(operands[1:])
    if not _traced(*ops):
        return np.einsum(*operands, out=out, optimize=optimize, **kwargs)
    _check_kwargs("einsum", {"out": out, "dtype": kwargs.pop("dtype", None)})
    kwargs.pop("order", None), kwargs.pop("casting", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword argument(s) {sorted(kwargs)}")
    ops = list(promote_dtypes(*ops))
    ins, out_sub = _parse_einsum(spec, [shape_of(o) for o in ops])
    # indices of size 1 broadcast, as in NumPy: make that explicit so the rules see full sizes
    sizes: dict[str, int] = {}
    for term, o in zip(ins, ops, strict=True):
        for c, n in zip(term, shape_of(o), strict=True):
            m = sizes.get(c)
            if m is None or m == 1:
                sizes[c] = n
            elif n not in (1, m):
                raise ValueError(
                    f"einsum: index {c!r} of {spec!r} has inconsistent sizes {m} and {n}"
                )
    ops = [
        broadcast_to(o, tuple(sizes[c] for c in term))
        if shape_of(o) != tuple(sizes[c] for c in term) else o
        for term, o in zip(ins, ops, strict=True)
    ]
    return einsum_p.bind(*ops, subscripts=",".join(ins) + "->" + out_sub)


# ----------------------------------------------------------------------------- tensordot & co


def _axes_list(axes: Any) -> list[int]:
    return [int(axes)] if isinstance(axes, (int, np.integer)) else [int(a) for a in axes]


@implements(np.tensordot)
def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Any:
    """Differentiable ``numpy.tensordot``: ``axes`` an integer (the last ``axes`` of ``a``
    with the first of ``b``) or a pair of axis sequences. Computed as NumPy does, by a
    transpose, a reshape and one matrix product.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.tensordot(np.ones((2, 3, 4)), np.ones((4, 3)), axes=([1, 2], [1, 0]))
        array([12., 12.])
    """
    if not _traced(a, b):
        return np.tensordot(a, b, axes)
    sa, sb = shape_of(a), shape_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(len(sa), len(sb)):
            raise ValueError(f"tensordot: axes={n} does not fit shapes {sa} and {sb}")
        axes_a, axes_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise ValueError(
                f"tensordot: axes must be an integer or a pair of sequences, got {axes!r}"
            ) from None
        axes_a, axes_b = _axes_list(axes_a), _axes_list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(axes_a)} axes of a with "
                         f"{len(axes_b)} of b")
    axes_a = [normalize_axis(i, len(sa), "tensordot") for i in axes_a]
    axes_b = [normalize_axis(i, len(sb), "tensordot") for i in axes_b]
    for i, j in zip(axes_a, axes_b, strict=True):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape-mismatch for sum: axis {i} of a has length "
                             f"{sa[i]}, axis {j} of b has length {sb[j]}")
    free_a = [i for i in range(len(sa)) if i not in axes_a]
    free_b = [j for j in range(len(sb)) if j not in axes_b]
    size = lambda shape, axes: int(np.prod([shape[i] for i in axes], dtype=np.int64))  # noqa: E731
    k = size(sa, axes_a)
    a2 = reshape(transpose(a, free_a + axes_a), (size(sa, free_a), k))
    b2 = reshape(transpose(b, axes_b + free_b), (k, size(sb, free_b)))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


def _dot_lhs(g: Any, a: Any, b: Any) -> Any:
    # g: a.shape[:-1] + b.shape[:-2] + b.shape[-1:]; contract b's batch and last axes
    na, nb = len(shape_of(a)), len(shape_of(b))
    b_axes = [i for i in range(nb) if i != nb - 2]
    return tensordot(g, b, axes=(list(range(na - 1, na - 1 + len(b_axes))), b_axes))


def _dot_rhs(g: Any, a: Any, b: Any) -> Any:
    na = len(shape_of(a))
    gb = tensordot(a, g, axes=(list(range(na - 1)), list(range(na - 1))))  # (k,) + b's others
    return moveaxis(gb, 0, -2)


# N-d dot is a primitive so that its value is NumPy's own (its summation order differs from a
# matrix product's); its transposes are tensordots
dot_p = new_primitive("dot", np.dot)
defbilinear(dot_p, _dot_lhs, _dot_rhs)


def _dot_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    """``a``'s batch axis is a leading axis of ``a`` for dot; ``b``'s lands after ``a``'s
    free axes; both batched: an einsum with the batch index shared (no outer product)."""
    (a, b), (ba, bb) = vals, batched
    if not bb:
        return dot_p.bind(a, b)
    na = len(shape_of(a)) - ba
    if not ba:
        return move_to_front(dot_p.bind(a, b), na - 1)
    nb = len(shape_of(b)) - 1
    letters = iter(_LETTERS)

    def take(n: int) -> str:
        return "".join(next(letters) for _ in range(n))

    z, free_a, k, free_b, m = take(1), take(na - 1), take(1), take(nb - 2), take(1)
    return einsum_p.bind(a, b, subscripts=f"{z}{free_a}{k},{z}{free_b}{k}{m}->"
                                          f"{z}{free_a}{free_b}{m}")


defbatch(dot_p, _dot_batch)


@implements(np.dot)
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.dot``: scalars, vectors, matrices and N-d arrays (a sum over
    the last axis of ``a`` and the second-to-last of ``b``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    if not _traced(a, b):
        return np.dot(a, b, out=out)
    _check_kwargs("dot", {"out": out})

    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    sa, sb = shape_of(a), shape_of(b)
    if sa[-1] != sb[-2 if nb >= 2 else 0]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {na - 1}) != "
                         f"{sb[-2 if nb >= 2 else 0]} (dim {nb - 2 if nb >= 2 else 0})")
    if nb == 1:
        return tensordot(a, b, axes=([-1], [0]))
    return dot_p.bind(*promote_dtypes(a, b))


@implements(np.vdot)
def vdot(a: Any, b: Any, /) -> Any:
    """Differentiable ``numpy.vdot``: the dot product of the flattened inputs, the first one
    conjugated (``sum(conj(a) * b)``, as NumPy's).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.vdot(np.ones((2, 2)), np.ones((4,)))
        np.float64(4.0)
        >>> pnp.vdot(np.array([1j, 2.0]), np.array([1j, 1.0]))
        np.complex128(3+0j)
    """
    if not _traced(a, b):
        return np.vdot(a, b)
    if dtype_of(a).kind == "c":
        a = conjugate(a)
    a, b = reshape(a, (-1,)), reshape(b, (-1,))
    if shape_of(a) != shape_of(b):
        raise ValueError(f"vdot: vectors have different lengths {shape_of(a)[0]} and "
                         f"{shape_of(b)[0]}")
    return matmul(a, b)


@implements(np.inner)
def inner(a: Any, b: Any, /) -> Any:
    """Differentiable ``numpy.inner``: a sum over the last axes of ``a`` and ``b``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.inner(np.ones((2, 3)), np.ones((4, 3))).shape
        (2, 4)
    """
    if not _traced(a, b):
        return np.inner(a, b)

    if len(shape_of(a)) == 0 or len(shape_of(b)) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@implements(np.outer)
def outer(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.outer`` (inputs are flattened).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.outer(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])).shape
        (2, 3)
    """
    if not _traced(a, b):
        return np.outer(a, b, out=out)
    _check_kwargs("outer", {"out": out})

    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


@implements(np.kron)
def kron(a: Any, b: Any) -> Any:
    """Differentiable ``numpy.kron``: every product ``a[i] * b[j]``, laid out in blocks.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.kron(np.eye(2), np.ones((1, 2)))
        array([[1., 1., 0., 0.],
               [0., 0., 1., 1.]])
    """
    if not _traced(a, b):
        return np.kron(a, b)

    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = reshape(a, tuple(d for n in sa for d in (n, 1)))
    b2 = reshape(b, tuple(d for n in sb for d in (1, n)))
    return reshape(multiply(a2, b2), tuple(m * n for m, n in zip(sa, sb, strict=True)))


# ----------------------------------------------------------------------------- diagonals


def _diag_index(n: int, m: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ``offset`` diagonal of an ``n x m`` matrix."""
    k = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    i = np.arange(k)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


@implements(np.diagonal)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Differentiable ``numpy.diagonal``: the diagonal becomes the last axis.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.diagonal(np.arange(4.0).reshape(2, 2))
        array([0., 3.])
    """
    if not isinstance(a, Tracer):
        return np.diagonal(a, offset, axis1, axis2)
    if a.ndim < 2:
        raise ValueError(f"diagonal requires an array of at least two dimensions, got {a.shape}")
    i, j = normalize_axis(axis1, a.ndim, "diagonal"), normalize_axis(axis2, a.ndim, "diagonal")
    if i == j:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    a = moveaxis(a, (i, j), (-2, -1))
    rows, cols = _diag_index(a.shape[-2], a.shape[-1], int(offset))
    return getitem(a, (Ellipsis, rows, cols))


@implements(np.trace)
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    """Differentiable ``numpy.trace``: the sum of a diagonal.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.trace(np.arange(4.0).reshape(2, 2))
        np.float64(3.0)
    """
    if not isinstance(a, Tracer):
        return np.trace(a, offset, axis1, axis2, dtype, out)
    _check_kwargs("trace", {"dtype": dtype, "out": out})
    return sum_(diagonal(a, offset, axis1, axis2), axis=-1)


@implements(np.diag)
def diag(v: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.diag``: a 2-d array's ``k``-th diagonal, or a 2-d array with a
    1-d input on its ``k``-th diagonal.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.diag(np.array([1.0, 2.0]))
        array([[1., 0.],
               [0., 2.]])
    """
    if not isinstance(v, Tracer):
        return np.diag(v, k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1- or 2-d, got shape {v.shape}")
    n = v.shape[0] + abs(int(k))
    return scatter_add_p.bind(v, shape=(n, n), dtype=v.dtype,
                              idx=_diag_index(n, n, int(k)))


def _triangle(m: Any, k: int, lower: bool, who: str) -> Any:

    shape = m.shape
    if len(shape) == 0:
        raise ValueError(f"{who}: the input must be at least 1-d, got a 0-d array")
    rows, cols = shape[-2:] if len(shape) >= 2 else (shape[-1], shape[-1])
    keep = np.tri(rows, cols, int(k) if lower else int(k) - 1, dtype=np.bool_)
    if not lower:
        keep = ~keep
    return where(backends.constant(keep, m), m, m.dtype.type(0))


@implements(np.tril)
def tril(m: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.tril``: zeros above the ``k``-th diagonal.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.tril(np.ones((2, 2)))
        array([[1., 0.],
               [1., 1.]])
    """
    if not isinstance(m, Tracer):
        return np.tril(m, k)
    return _triangle(m, k, True, "tril")


@implements(np.triu)
def triu(m: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.triu``: zeros below the ``k``-th diagonal.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.triu(np.ones((2, 2)))
        array([[1., 1.],
               [0., 1.]])
    """
    if not isinstance(m, Tracer):
        return np.triu(m, k)
    return _triangle(m, k, False, "triu")


# ----------------------------------------------------------------------------- cross


@implements(np.cross)
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """Differentiable ``numpy.cross`` of 3-vectors (a 2-vector has a zero third component;
    two 2-vectors give the scalar third component, as in NumPy).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        array([0., 0., 1.])
    """
    if not _traced(a, b):
        return np.cross(a, b, axisa, axisb, axisc, axis)

    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, normalize_axis(axisa, len(shape_of(a)), "cross"), -1)
    b = moveaxis(b, normalize_axis(axisb, len(shape_of(b)), "cross"), -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("cross: incompatible dimensions for cross product (dimension must be "
                         f"2 or 3), got {na} and {nb}")
    ca = [getitem(a, (Ellipsis, i)) for i in range(na)]
    cb = [getitem(b, (Ellipsis, i)) for i in range(nb)]
    a0, a1, b0, b1 = ca[0], ca[1], cb[0], cb[1]
    c2 = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return c2
    if na == 2:
        c0, c1 = multiply(a1, cb[2]), negative(multiply(a0, cb[2]))
    elif nb == 2:
        c0, c1 = negative(multiply(ca[2], b1)), multiply(ca[2], b0)
    else:
        c0 = subtract(multiply(a1, cb[2]), multiply(ca[2], b1))
        c1 = subtract(multiply(ca[2], b0), multiply(a0, cb[2]))
    shape = np.broadcast_shapes(shape_of(c0), shape_of(c1), shape_of(c2))
    c = stack([broadcast_to(c, shape) for c in (c0, c1, c2)], axis=-1)
    return moveaxis(c, -1, normalize_axis(axisc, len(shape) + 1, "cross"))


method("diagonal", lambda s, offset=0, axis1=0, axis2=1: diagonal(s, offset, axis1, axis2))
method("trace", lambda s, offset=0, axis1=0, axis2=1: trace(s, offset, axis1, axis2))
