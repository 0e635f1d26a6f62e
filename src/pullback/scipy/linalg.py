"""``scipy.linalg``: triangular and structured solves, factorisations and matrix functions,
differentiable in reverse and forward mode to any order.

Values come from SciPy (a module-level, optional import: without SciPy the functions that
need it raise ``ImportError`` naming themselves); derivative rules are written with
pullback's own operations, so that they are differentiable again:

- ``solve_triangular``: ``dX = op(A)^-1 (dB - op(dA) X)``; only the triangle SciPy reads
  (and not the diagonal with ``unit_diagonal=True``) has a derivative, the rest reads 0;
- ``expm``, ``sqrtm``, ``logm``: the Fréchet derivative ``L(A, E)`` is the upper right block
  of ``f([[A, E], [0, A]])`` (Mathias' block formula), and its adjoint is ``L(A^T, G)``;
  ``sqrtm`` and ``logm`` need the principal root/logarithm to exist (no eigenvalues on the
  closed negative real axis; for a real matrix with negative eigenvalues SciPy returns a
  complex result, and so does pullback);
- ``solve_sylvester``: ``A dX + dX B = dQ - dA X - X dB``, adjoint ``A^T Y + Y B^T = G``;
- ``lu_factor``: ``F = L^-1 P^T dA U^-1``, ``dL = L strictly_lower(F)``, ``dU = upper(F) U``
  (for a rectangular ``a``, ``L`` and ``U`` completed to square invertible matrices by the
  identity);
- ``cholesky``, ``cho_factor``/``cho_solve``, ``lu_solve``, ``solve`` (every ``assume_a``),
  ``eigh`` (also generalised, ``b`` given: reduced by a Cholesky factor of ``b``),
  ``block_diag``, ``inv``, ``det`` are compositions of these and of ``pullback.numpy.linalg``.

Complex matrices follow pullback's convention (cotangents paired without conjugation, as
JAX): the holomorphic functions above transpose their rules without conjugating.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import linalg
    >>> a = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> linalg.expm(a)
    array([[1., 1.],
           [0., 1.]])
    >>> float(pb.jacfwd(lambda t: linalg.expm(t * a)[0, 1])(2.0))
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.rules import (
    add_tangents,
    defbatch,
    defjvp,
    defjvp_joint,
    defnondiff,
    defvjp,
    defvjp_joint,
)
from pullback.core.trace import Tracer, dtype_of, shape_of, zero
from pullback.numpy._registry import batch_stacked, new_primitive
from pullback.scipy import _lazy

try:
    import scipy.linalg as _sla
except ImportError:  # pragma: no cover - SciPy is optional (the dev extra has it)
    _sla = None

__all__ = [
    "block_diag",
    "cho_factor",
    "cho_solve",
    "cholesky",
    "det",
    "eigh",
    "expm",
    "inv",
    "logm",
    "lu_factor",
    "lu_solve",
    "solve",
    "solve_sylvester",
    "solve_triangular",
    "sqrtm",
]

LinAlgError = np.linalg.LinAlgError


def _scipy(name: str) -> Any:
    if _sla is None:
        raise ImportError(
            f"pullback.scipy.linalg.{name} computes its values with SciPy, which is not "
            "installed: pip install scipy (pullback's 'dev' extra has it)"
        )
    return getattr(_sla, name)


# ----------------------------------------------------------------------------- helpers


def _mT(x: Any) -> Any:
    return pnp.swapaxes(x, -1, -2)


def _as_float(a: Any) -> Any:
    if isinstance(a, Tracer):
        return a if dtype_of(a).kind in "fc" else pnp.astype(a, np.float64)
    a = _lazy.as_value(a)  # a Dask array stays lazy
    return a if a.dtype.kind in "fc" else a.astype(np.float64)


def _square(name: str, a: Any, arg: str = "a") -> None:
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"pullback.scipy.linalg.{name}: argument '{arg}' must be a square matrix (or a "
            f"stack of them: the last two axes equal), got shape {shape}"
        )


#: the functions of stacks whose SciPy result for a stack of no matrices is an empty stack of
#: the input's shape (SciPy refuses zero-size batches in the others)
_EMPTY_STACKS = ("expm", "sqrtm")


def _stacked(name: str, fn2d: Callable[..., Any], outs: Callable[..., list], nout: int = 1,
             lazy2d: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``fn2d`` (SciPy's, on single matrices) applied to every matrix of stacks with equal
    leading axes; its ``LinAlgError``/``ValueError`` named as ``name``'s. On Dask operands,
    lazily: each matrix in one chunk, the stacks mapped chunk by chunk (``lazy2d`` instead of
    ``fn2d`` where given), the results' core shapes and dtypes ``outs(*arrays)``."""

    def impl(*arrays: Any, **params: Any) -> Any:
        if not all(type(a) is np.ndarray for a in arrays) and _lazy.foreign(
                f"pullback.scipy.linalg.{name}", *arrays):
            return _lazy.apply(lambda *blocks: eager(*blocks, **params),
                               f"pullback.scipy.linalg.{name}", arrays, [2] * len(arrays),
                               outs(*arrays), multiple=nout > 1)
        return run(fn2d, *arrays, **params)

    def eager(*arrays: Any, **params: Any) -> Any:
        return run(fn2d if lazy2d is None else lazy2d, *arrays, **params)

    def run(fn: Callable[..., Any], *arrays: Any, **params: Any) -> Any:
        arrays = tuple(np.asarray(a) for a in arrays)
        lead = shape_of(arrays[0])[:-2]
        if 0 in lead:
            if name in _EMPTY_STACKS:  # SciPy: an empty stack of the input's shape
                a = arrays[0]
                return np.zeros(a.shape, a.dtype if a.dtype.kind in "fc" else np.float64)
            raise ValueError(
                f"pullback.scipy.linalg.{name}: a stack of no matrices (shape "
                f"{shape_of(arrays[0])}): SciPy does not take zero-size batches here")
        try:
            if not lead:
                return fn(*arrays, **params)
            found = [fn(*(a[idx] for a in arrays), **params) for idx in np.ndindex(*lead)]
        except (LinAlgError, ValueError) as err:
            raise type(err)(f"pullback.scipy.linalg.{name}: {err}") from None
        if nout == 1:
            stacked = np.stack(found)
            return stacked.reshape(lead + stacked.shape[1:])
        parts = []
        for k in range(nout):
            stacked = np.stack([o[k] for o in found])
            parts.append(stacked.reshape(lead + stacked.shape[1:]))
        return tuple(parts)

    impl.__name__ = f"{name}_impl"
    return impl


def _triangle(a: Any, lower: bool, unit_diagonal: bool = False) -> Any:
    """The triangular matrix SciPy reads from ``a`` (differentiably: the other entries have
    derivative 0)."""
    t = pnp.tril(a, -1 if unit_diagonal else 0) if lower else pnp.triu(a, 1 if unit_diagonal
                                                                        else 0)
    if unit_diagonal:
        t = t + backends.constant(np.eye(shape_of(a)[-1], dtype=dtype_of(a)), t)
    return t


def _rhs(name: str, b: Any, n: int, arg: str = "b", op: str = "a") -> tuple[Any, bool]:
    """``b`` as SciPy's solvers read it against an ``n`` by ``n`` (stack of) ``op``: a 1-d
    ``b`` is one vector (returned as a column, with ``True``), ``b`` of two or more
    dimensions a (stack of) ``(n, k)`` matrices; a 0-d ``b`` is refused (SciPy's
    ``solve_triangular``, ``lu_solve`` and ``cho_solve`` fail on it with an ``IndexError``)."""
    sb = shape_of(b)
    if not sb:
        raise ValueError(
            f"pullback.scipy.linalg.{name}: argument '{arg}' is 0-d; it must be a vector of "
            f"{n} entries or a (stack of) matrices of {n} rows (SciPy refuses a 0-d '{arg}' "
            "too)"
        )
    vector = len(sb) == 1
    rows = sb[0] if vector else sb[-2]
    if rows != n:
        raise ValueError(
            f"pullback.scipy.linalg.{name}: '{arg}' of shape {sb} does not fit '{op}' with "
            f"{n} rows: a 1-d '{arg}' must have {n} entries, a 2-d (or stacked) one {n} rows "
            f"(its second-to-last axis; SciPy reads a '{arg}' of two or more dimensions as a "
            "stack of matrices)"
        )
    return (pnp.expand_dims(b, -1) if vector else b), vector


def _lead(name: str, *shapes: tuple[int, ...], batched: bool = True) -> tuple[int, ...]:
    """The broadcast stack (leading) shape of ``shapes`` (already cut to their stacks), with
    SciPy's refusals: stacks that do not broadcast, and (``batched``: the functions SciPy
    maps over stacks one matrix at a time) stacks of no matrices."""
    try:
        lead = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"pullback.scipy.linalg.{name}: the leading (stack) axes of the arguments do not "
            f"broadcast together: {', '.join(str(s) for s in shapes)}"
        ) from None
    if batched and any(shapes) and not int(np.prod(lead)):
        raise ValueError(
            f"pullback.scipy.linalg.{name}: a stack of no matrices (leading axes {lead}); "
            "SciPy does not support zero-size batches in this function either"
        )
    return tuple(lead)


def _to_lead(x: Any, lead: tuple[int, ...], core: int = 2) -> Any:
    sx = shape_of(x)
    want = lead + tuple(sx[len(sx) - core:])
    if sx == want:
        return x
    if isinstance(x, Tracer):
        return pnp.broadcast_to(x, want)
    return np.broadcast_to(x, want)


#: SciPy's choice of LAPACK precision (``scipy.linalg.blas.find_best_blas_type``): each
#: argument's type scores 1 (bool, 8 and 16 bit integers, float16, float32), 2 (wider
#: integers, float64), 3 (complex64) or 4 (complex128); the highest wins (complex64 with a
#: score-2 argument: complex128)
_LAPACK_SCORE = {**dict.fromkeys("?bBhHef", 1), **dict.fromkeys("iIlLqQdg", 2), "F": 3,
                 "D": 4, "G": 4}
_LAPACK_TYPE = {1: np.float32, 2: np.float64, 3: np.complex64, 4: np.complex128}


def _lapack_dtype(*args: Any) -> np.dtype:
    scores = [_LAPACK_SCORE.get(np.dtype(dtype_of(a)).char, 5) for a in args]
    top = max(scores)
    if top == 3 and 2 in scores:
        top = 4
    return np.dtype(_LAPACK_TYPE.get(top, np.float64))


def _solve_dtype(*args: Any) -> np.dtype:
    """``scipy.linalg.solve``'s precision: the arguments' NumPy result type, float64 when it
    is not inexact, single precision up to 32 bits, double above."""
    dtype = np.result_type(*(dtype_of(a) for a in args))
    if dtype.kind not in "fc":
        return np.dtype(np.float64)
    if np.finfo(dtype).bits <= 32:
        return np.dtype(np.complex64 if dtype.kind == "c" else np.float32)
    return np.dtype(np.complex128 if dtype.kind == "c" else np.float64)


def _cast(dtype: np.dtype, *args: Any) -> tuple:
    return tuple((pnp.astype(a, dtype) if dtype_of(a) != dtype else a)
                 if isinstance(a, Tracer) or not backends.numpy_based(a)
                 else np.asarray(a, dtype) for a in args)


def _promote(*args: Any) -> tuple:
    args = tuple(_as_float(a) for a in args)
    dtype = np.result_type(*(dtype_of(a) for a in args))
    return tuple(a if dtype_of(a) == dtype else pnp.astype(a, dtype) for a in args)


# ----------------------------------------------------------------------------- solve_triangular


def _solve_triangular_2d(a: np.ndarray, b: np.ndarray, lower: bool, trans: int) -> np.ndarray:
    return _scipy("solve_triangular")(a, b, trans=trans, lower=lower, check_finite=False)


_solve_triangular_impl = _stacked(
    "solve_triangular", _solve_triangular_2d,
    lambda a, b: [((a.shape[-1], b.shape[-1]), np.result_type(a.dtype, b.dtype))])
#: ``op(a)^-1 b`` for a triangular ``a`` (the other triangle is zero), ``b`` (..., n, k);
#: ``trans`` 0 (``op(a) = a``) or 1 (``a^T``)
solve_triangular_p = new_primitive("scipy.linalg.solve_triangular", _solve_triangular_impl)


def _mask(m: Any, lower: bool) -> Any:
    return pnp.tril(m) if lower else pnp.triu(m)


def _tri_solve(a: Any, b: Any, lower: bool, trans: int) -> Any:
    return solve_triangular_p.bind(a, b, lower=lower, trans=trans)


def _solve_triangular_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    ta, tb = tangents
    a, _ = args
    lower, trans = params["lower"], params["trans"]
    rhs = tb
    if ta is not zero:
        ta = _mask(ta, lower)
        rhs = add_tangents(rhs, -((_mT(ta) if trans else ta) @ ans))
    return zero if rhs is zero else _tri_solve(a, rhs, lower, trans)


def _solve_triangular_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    a, _ = args
    lower, trans = params["lower"], params["trans"]
    gb = _tri_solve(a, g, lower, 1 - trans)
    ga = zero
    if needs[0]:
        ga = _mask(-(ans @ _mT(gb)) if trans else -(gb @ _mT(ans)), lower)
    return ga, gb if needs[1] else zero


defjvp_joint(solve_triangular_p, _solve_triangular_jvp)
defvjp_joint(solve_triangular_p, _solve_triangular_vjp)
defbatch(solve_triangular_p, batch_stacked(solve_triangular_p))

_TRANS = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True) -> Any:
    """``x`` with ``op(a) @ x == b`` for a triangular ``a``; ``scipy.linalg.solve_triangular``.

    Only the triangle of ``a`` that SciPy reads (the upper one unless ``lower=True``; not its
    diagonal with ``unit_diagonal=True``) is used, and differentiated: the derivative with
    respect to the other entries is 0. ``trans`` is 0/``'N'`` (``a``), 1/``'T'`` (``a.T``)
    or 2/``'C'`` (``a.conj().T``). ``b`` is ``(n,)`` or ``(n, k)``; leading axes of both
    are stacks. ``overwrite_b`` and ``check_finite`` are accepted and ignored.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.scipy import linalg
        >>> a = np.array([[2.0, 1.0], [0.0, 4.0]])
        >>> linalg.solve_triangular(a, np.array([3.0, 4.0]))
        array([1., 1.])
        >>> pb.grad(lambda b: linalg.solve_triangular(a, b).sum())(np.array([3.0, 4.0]))
        array([0.5  , 0.125])
    """
    if trans not in _TRANS:
        raise ValueError(f"pullback.scipy.linalg.solve_triangular: 'trans' must be 0, 1, 2, "
                         f"'N', 'T' or 'C', got {trans!r}")
    t = _TRANS[trans]
    a, b = _cast(_lapack_dtype(a, b), a, b)
    _square("solve_triangular", a)
    b, vector = _rhs("solve_triangular", b, shape_of(a)[-1])
    lead = _lead("solve_triangular", shape_of(a)[:-2], shape_of(b)[:-2])
    a = _triangle(a, lower, unit_diagonal)
    if t == 2:  # a^H x = b: the transpose of conj(a)
        a, t = pnp.conjugate(a), 1
    a, b = _to_lead(a, lead), _to_lead(b, lead)
    if isinstance(a, Tracer) or isinstance(b, Tracer):
        x = _tri_solve(a, b, lower, t)
    else:
        x = _solve_triangular_impl(a, b, lower=lower, trans=t)
    return x[..., 0] if vector else x


# ----------------------------------------------------------------------------- Cholesky


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Any:
    """The Cholesky factor of a symmetric (Hermitian) positive definite matrix: upper ``U``
    with ``a == U^H U`` (SciPy's default), or lower ``L`` with ``lower=True``;
    ``scipy.linalg.cholesky``. Only the triangle SciPy reads (the upper one, the lower one
    with ``lower=True``) is used and differentiated.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
        array([[2., 1.],
               [0., 2.]])
    """
    (a,) = _cast(_lapack_dtype(a), a)
    _square("cholesky", a)
    return pnp.linalg.cholesky(a, upper=not lower)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """``(c, lower)`` for :func:`cho_solve`: ``c`` holds the Cholesky factor in the triangle
    ``lower`` says; ``scipy.linalg.cho_factor``. SciPy leaves arbitrary entries in the other
    triangle; pullback leaves zeros.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> c, low = linalg.cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))
        >>> c, low
        (array([[2., 1.],
               [0., 2.]]), False)
    """
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """``x`` with ``a @ x == b``, given :func:`cho_factor`'s ``(c, lower)`` of ``a``;
    ``scipy.linalg.cho_solve``. Differentiable in ``c`` (its triangle) and ``b``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
        >>> linalg.cho_solve(linalg.cho_factor(a), np.array([6.0, 7.0]))
        array([1., 1.])
    """
    c, lower = c_and_lower
    c, b = _cast(_lapack_dtype(c, b), c, b)
    _square("cho_solve", c, "c")
    b, vector = _rhs("cho_solve", b, shape_of(c)[-1], op="c")
    lead = _lead("cho_solve", shape_of(c)[:-2], shape_of(b)[:-2])
    c, b = _to_lead(c, lead), _to_lead(b, lead)
    if lower:  # L L^H x = b
        y = solve_triangular(c, b, lower=True)
        x = solve_triangular(c, y, trans=2, lower=True)
    else:  # U^H U x = b
        y = solve_triangular(c, b, trans=2, lower=False)
        x = solve_triangular(c, y, lower=False)
    return x[..., 0] if vector else x


# ----------------------------------------------------------------------------- LU


def _lu_factor_2d(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lu, piv = _scipy("lu_factor")(a, check_finite=False)
    return lu, piv.astype(np.int32)


_lu_factor_impl = _stacked(
    "lu_factor", _lu_factor_2d,
    lambda a: [(a.shape[-2:], a.dtype), ((min(a.shape[-2:]),), np.dtype(np.int32))], nout=2)
lu_factor_p = new_primitive("scipy.linalg.lu_factor", lambda a: _lu_factor_impl(a),
                            multiple_results=True)


def _permutation(piv: np.ndarray, rows: int | None = None) -> np.ndarray:
    """The row order ``perm`` with ``P^T b = b[perm]`` for LAPACK's pivots (stacked) of a
    matrix of ``rows`` rows (``piv``'s length, ``min(rows, columns)``, by default)."""
    if type(piv) is not np.ndarray and _lazy.foreign("pullback.scipy.linalg.lu_solve", piv):
        n = piv.shape[-1] if rows is None else rows
        return _lazy.apply(lambda p: _permutation(p, rows), "pullback.scipy.linalg.lu_solve",
                           [piv], [1], [((n,), np.dtype(np.intp))])
    piv = np.asarray(piv)
    k = piv.shape[-1]
    n = k if rows is None else rows
    perm = np.broadcast_to(np.arange(n, dtype=np.intp), piv.shape[:-1] + (n,)).copy()
    for idx in np.ndindex(*piv.shape[:-1]):
        row, p = perm[idx], piv[idx]
        for i in range(k):
            j = int(p[i])
            row[i], row[j] = row[j], row[i]
    return perm


#: LAPACK's pivots -> the row permutation (no derivative)
lu_permutation_p = new_primitive("scipy.linalg.lu_permutation", _permutation)
defnondiff(lu_permutation_p)
defbatch(lu_permutation_p, batch_stacked(lu_permutation_p))


def _lu_parts(lu: Any) -> tuple[Any, Any]:
    """``L`` (m, m) and ``U`` (n, n), both invertible, with ``P^T a = L[:, :k] U[:k]``
    (``k = min(m, n)``) for the packed ``lu`` (m, n): a rectangular factor is completed with
    the identity (``L``'s last ``m - k`` columns, ``U``'s last ``n - k`` rows)."""
    shape, dtype = shape_of(lu), dtype_of(lu)
    lead, (m, n) = shape[:-2], shape[-2:]
    if n >= m:
        low = lu[..., :, :m] if n > m else lu
    else:
        low = pnp.concatenate([lu, backends.zeros(lead + (m, m - n), dtype, like=lu)], axis=-1)
    if m >= n:
        up = lu[..., :n, :] if m > n else lu
    else:
        up = pnp.concatenate([lu, backends.zeros(lead + (n - m, n), dtype, like=lu)], axis=-2)
    L = pnp.tril(low, -1) + backends.constant(np.eye(m, dtype=dtype), low)
    U = pnp.triu(up)
    if n > m:
        U = U + backends.constant(np.diag(np.arange(n) >= m).astype(dtype), U)
    return L, U


def _permute_rows(x: Any, perm: Any) -> Any:
    """``x[..., perm, :]`` per stack (``perm`` shaped ``(..., n)``)."""
    return pnp.take_along_axis(x, pnp.expand_dims(perm, -1), axis=-2)


def _inverse_permutation(perm: Any) -> Any:
    return pnp.argsort(perm, axis=-1)


def _lu_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    lu, piv = ans
    if shape_of(lu)[-2] == 1 or 0 in shape_of(lu):  # one row: L = 1, U = a (exactly); or empty
        return t, zero
    L, U = _lu_parts(lu)
    perm = lu_permutation_p.bind(piv, rows=shape_of(lu)[-2])
    # P^T dA = dL U + L dU  ->  F = L^-1 P^T dA U^-1 = L^-1 dL + dU U^-1 (L and U completed
    # to square invertible ones for a rectangular a: the same split, strictly lower + upper)
    F = _tri_solve(U, _mT(_tri_solve(L, _permute_rows(t, perm), True, 0)), False, 1)
    F = _mT(F)
    dL = L @ pnp.tril(F, -1)
    dU = pnp.triu(F) @ U
    return pnp.tril(dL, -1) + dU, zero


def _lu_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    g_lu = g[0]
    lu, piv = ans
    if shape_of(lu)[-2] == 1 or 0 in shape_of(lu):  # one row: lu = a; or empty
        return (g_lu,)
    L, U = _lu_parts(lu)
    perm = lu_permutation_p.bind(piv, rows=shape_of(lu)[-2])
    gL, gU = pnp.tril(g_lu, -1), pnp.triu(g_lu)
    # <gL, L tril_(F)> + <gU, triu(F) U> = <tril_(L^T gL) + triu(gU U^T), F>
    M = pnp.tril(_mT(L) @ gL, -1) + pnp.triu(gU @ _mT(U))
    # F = L^-1 P^T dA U^-1: the cotangent of P^T dA is L^-T M U^-T
    H = _tri_solve(L, _mT(_tri_solve(U, _mT(M), False, 0)), True, 1)
    return (_permute_rows(H, _inverse_permutation(perm)),)


defjvp_joint(lu_factor_p, _lu_jvp)
defvjp_joint(lu_factor_p, _lu_vjp)
defbatch(lu_factor_p, batch_stacked(lu_factor_p))


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, Any]:
    """``(lu, piv)``: the LU factorisation with partial pivoting ``a = P L U`` in LAPACK's
    packed form (``L`` unit lower triangular below the diagonal, ``U`` on and above it;
    ``piv`` the row interchanges, not differentiated); ``scipy.linalg.lu_factor``.
    Differentiable in ``a`` (the pivots are locally constant).

    As SciPy's, ``a`` may be rectangular, ``(m, n)``: ``L`` is ``(m, k)`` and ``U``
    ``(k, n)`` with ``k = min(m, n)``, ``piv`` has ``k`` entries (:func:`lu_solve` needs a
    square one); a 1-d ``a`` is factored as a column and a 0-d one as a 1 by 1 matrix, ``lu``
    keeping ``a``'s shape. Leading axes are stacks.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> lu, piv = linalg.lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> lu, piv
        (array([[3.        , 4.        ],
               [0.33333333, 0.66666667]]), array([1, 1], dtype=int32))
    """
    (a,) = _cast(_lapack_dtype(a), a)
    shape = shape_of(a)
    if len(shape) < 2:  # SciPy: a column (a 0-d a: 1 by 1), lu of a's shape
        lu, piv = lu_factor(pnp.reshape(a, (shape[0] if shape else 1, 1)))
        return pnp.reshape(lu, shape), piv
    _lead("lu_factor", shape[:-2])  # SciPy refuses a stack of no matrices
    if not isinstance(a, Tracer):
        return _lu_factor_impl(a)
    lu, piv = lu_factor_p.bind(a)
    return lu, piv


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """``x`` with ``a @ x == b`` (``trans=1``: ``a.T``, ``2``: ``a.conj().T``), given
    :func:`lu_factor`'s ``(lu, piv)`` of ``a``; ``scipy.linalg.lu_solve``. Differentiable in
    ``lu`` and ``b``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> linalg.lu_solve(linalg.lu_factor(a), np.array([3.0, 7.0]))
        array([1., 1.])
    """
    lu, piv = lu_and_piv
    lu, b = _cast(_lapack_dtype(lu, b), lu, b)
    _square("lu_solve", lu, "lu")
    if trans not in _TRANS:
        raise ValueError(f"pullback.scipy.linalg.lu_solve: 'trans' must be 0, 1 or 2, got "
                         f"{trans!r}")
    t = _TRANS[trans]
    b, vector = _rhs("lu_solve", b, shape_of(lu)[-1], op="lu")
    sp = shape_of(piv)
    if len(sp) < 1:
        raise ValueError("pullback.scipy.linalg.lu_solve: 'piv' is 0-d; pass lu_factor's "
                         "pivots (one entry per row of 'lu')")
    lead = _lead("lu_solve", shape_of(lu)[:-2], sp[:-1], shape_of(b)[:-2])
    lu, b, piv = _to_lead(lu, lead), _to_lead(b, lead), _to_lead(piv, lead, 1)
    if 0 in shape_of(b):  # SciPy: an empty solution (b's shape)
        return b[..., 0] if vector else b
    perm = lu_permutation_p.bind(piv) if isinstance(piv, Tracer) else _permutation(piv)
    if t == 0:  # L U x = P^T b
        y = solve_triangular(lu, _permute_rows(b, perm), lower=True, unit_diagonal=True)
        x = solve_triangular(lu, y, lower=False)
    else:  # U^T L^T P^T x = b
        y = solve_triangular(lu, b, trans=t, lower=False)
        y = solve_triangular(lu, y, trans=t, lower=True, unit_diagonal=True)
        inverse = (np.argsort(perm, axis=-1) if type(perm) is np.ndarray
                   else pnp.argsort(perm, axis=-1))
        x = _permute_rows(y, inverse)
    return x[..., 0] if vector else x


# ----------------------------------------------------------------------------- solve


_ASSUME = {
    None: "gen", "gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
    "her": "her", "hermitian": "her", "pos": "pos", "positive definite": "pos",
    "diagonal": "diagonal", "upper triangular": "upper", "lower triangular": "lower",
    "tridiagonal": "tridiagonal", "banded": "gen",
}


def _from_triangle(a: Any, lower: bool, hermitian: bool) -> Any:
    """The symmetric (Hermitian) matrix SciPy reads from one triangle of ``a``."""
    strict = pnp.tril(a, -1) if lower else pnp.triu(a, 1)
    other = pnp.conjugate(_mT(strict)) if hermitian else _mT(strict)
    diagonal = pnp.tril(pnp.triu(a))
    if hermitian and dtype_of(a).kind == "c":
        diagonal = pnp.real(diagonal).astype(dtype_of(a))
    return strict + other + diagonal


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, check_finite: bool = True, assume_a: str | None = None,
          transposed: bool = False) -> Any:
    """``x`` with ``a @ x == b`` (``a.T @ x == b`` with ``transposed=True``);
    ``scipy.linalg.solve``.

    ``assume_a`` as SciPy's: ``'gen'`` (or ``None``), ``'sym'``, ``'her'`` and ``'pos'``
    read one triangle of ``a`` (the upper one unless ``lower=True``) and differentiate only
    it; ``'pos'`` solves through a Cholesky factorisation; ``'diagonal'``,
    ``'upper triangular'``, ``'lower triangular'`` and ``'tridiagonal'`` read the diagonal,
    the triangle or the three middle diagonals; ``'banded'`` is solved as a general matrix
    (the same solution). With the symmetric readings ``transposed`` changes nothing.

    Shapes are read as SciPy 1.17 reads them: ``a`` is at least 2-d and ``b`` at least 1-d
    (a 0-d ``b`` is a vector of one entry); a 1-d ``b`` is one vector, a ``b`` of two or
    more dimensions a stack of ``(n, k)`` matrices, and the leading (stack) axes of ``a``
    and ``b`` broadcast. A 1 by 1 ``a`` (or a stack of one) divides any ``b``, whatever its
    number of rows and whatever ``assume_a`` says; an empty ``a`` or ``b`` gives an empty
    solution of ``b``'s shape. The precision is SciPy's: the arguments' result type, float64
    when it is not inexact, float32 (complex64) for float16.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
        >>> linalg.solve(a, np.array([6.0, 7.0]), assume_a="pos")
        array([1., 1.])
        >>> linalg.solve(np.array([[2.0]]), np.array([2.0, 4.0]))  # SciPy: b / a
        array([1., 2.])
    """
    if assume_a not in _ASSUME:
        raise ValueError(f"pullback.scipy.linalg.solve: unknown assume_a={assume_a!r}; use "
                         f"one of {sorted(k for k in _ASSUME if k)}")
    kind = _ASSUME[assume_a]
    a, b = _cast(_solve_dtype(a, b), a, b)
    sa = shape_of(a)
    if len(sa) < 2:  # SciPy: np.atleast_2d(a)
        if int(np.prod(sa)) != 1:
            raise ValueError(f"pullback.scipy.linalg.solve: argument 'a' must be a square "
                             f"matrix (or a stack of them), got shape {sa}")
        a = pnp.reshape(a, (1, 1))
    _square("solve", a)
    if transposed and dtype_of(a).kind == "c":
        raise NotImplementedError(
            "pullback.scipy.linalg.solve: transposed=True with a complex 'a' (SciPy does not "
            "support it either); pass a.T (or a.conj().T) instead")
    sa, sb = shape_of(a), shape_of(b)
    given = sb
    vector = len(sb) <= 1  # SciPy: np.atleast_1d(b), a 1-d b is one vector
    if vector:
        b = pnp.reshape(b, (sb[0] if sb else 1, 1))
        sb = shape_of(b)
    n = sa[-1]
    scalar = int(np.prod(sa)) == 1  # SciPy: a 1 by 1 'a' (stacks of one) divides any b
    if sb[-2] != n and not scalar:
        raise ValueError(
            f"pullback.scipy.linalg.solve: 'b' of shape {given} does not fit 'a' of shape "
            f"{sa}: a 1-d 'b' must have {n} entries, a 2-d (or stacked) one {n} rows (SciPy reads "
            "a 'b' of two or more dimensions as a stack of matrices)")
    lead = _lead("solve", sa[:-2], sb[:-2], batched=False)
    a, b = _to_lead(a, lead), _to_lead(b, lead)
    if 0 in shape_of(a) or 0 in shape_of(b):  # SciPy: an empty solution of b's shape
        x = b
    elif scalar:  # SciPy: b / a, whatever assume_a says (a zero 'a' is singular)
        if int(np.prod(lead)) != 1:
            raise ValueError(
                f"pullback.scipy.linalg.solve: a 1 by 1 'a' (shape {sa}) with a stack of "
                f"{int(np.prod(lead))} right-hand sides (stack axes {lead}): SciPy 1.17 refuses "
                "this (it reads a 1 by 1 'a' as one number after broadcasting it); pass 'a' of "
                "shape (1, 1) with a 1-d or 2-d 'b', or divide b by a")
        m, k = sb[-2:]
        x = pnp.reshape(pnp.linalg.solve(a, pnp.reshape(b, lead + (1, m * k))),
                        lead + (m, k))
    else:
        # C-ordered as SciPy's (the triangular and Cholesky paths give Fortran order), so that
        # a reshape of the solution is a view or a copy as with SciPy's
        x = pnp.ascontiguousarray(_solve_kind(kind, a, b, lower, transposed))
    return x[..., 0] if vector else x


def _solve_kind(kind: str, a: Any, b: Any, lower: bool, transposed: bool) -> Any:
    """``solve`` for ``a`` (..., n, n) and ``b`` (..., n, k) of one stack shape."""
    if kind in ("sym", "her"):  # a symmetric reading: transposing it changes nothing
        return pnp.linalg.solve(_from_triangle(a, lower, kind == "her"), b)
    if kind == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    if kind in ("upper", "lower"):
        return solve_triangular(a, b, trans=1 if transposed else 0, lower=kind == "lower")
    if kind == "diagonal":
        return b / pnp.expand_dims(pnp.diagonal(a, axis1=-2, axis2=-1), -1)
    if kind == "tridiagonal":  # SciPy reads the three middle diagonals only
        a = pnp.triu(pnp.tril(a, 1), -1)
    return pnp.linalg.solve(_mT(a) if transposed else a, b)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse of a square matrix; ``scipy.linalg.inv`` (``pullback.numpy.linalg.inv``).

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25]])
    """
    return pnp.linalg.inv(_as_float(a))


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant; ``scipy.linalg.det`` (``pullback.numpy.linalg.det``).

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> float(linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])))
        5.000000000000001
    """
    return pnp.linalg.det(_as_float(a))


# ----------------------------------------------------------------------------- Sylvester


def _solve_sylvester_2d(a: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    return _scipy("solve_sylvester")(a, b, q)


_solve_sylvester_impl = _stacked(
    "solve_sylvester", _solve_sylvester_2d,
    lambda a, b, q: [((a.shape[-1], b.shape[-1]), np.result_type(a.dtype, b.dtype, q.dtype))])
solve_sylvester_p = new_primitive("scipy.linalg.solve_sylvester", _solve_sylvester_impl)


def _sylvester_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    ta, tb, tq = tangents
    a, b, _ = args
    rhs = tq
    if ta is not zero:
        rhs = add_tangents(rhs, -(ta @ ans))
    if tb is not zero:
        rhs = add_tangents(rhs, -(ans @ tb))
    return zero if rhs is zero else solve_sylvester_p.bind(a, b, rhs)


def _sylvester_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    a, b, _ = args
    y = solve_sylvester_p.bind(_mT(a), _mT(b), g)  # the adjoint equation
    return (-(y @ _mT(ans)) if needs[0] else zero, -(_mT(ans) @ y) if needs[1] else zero,
            y if needs[2] else zero)


defjvp_joint(solve_sylvester_p, _sylvester_jvp)
defvjp_joint(solve_sylvester_p, _sylvester_vjp)
defbatch(solve_sylvester_p, batch_stacked(solve_sylvester_p))


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """``x`` with ``a @ x + x @ b == q``; ``scipy.linalg.solve_sylvester``. Differentiable
    in all three (a unique solution needs no eigenvalue of ``a`` equal to minus one of ``b``).

    Leading axes are stacks (they broadcast). As SciPy reads it, a 0-d ``q`` stands for
    ``q`` times the identity (``a`` and ``b`` of one size), and a ``q`` of shape ``(1,)``
    with 1 by 1 ``a`` and ``b`` gives ``x`` of shape ``(1,)``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> a, b = np.diag([1.0, 2.0]), np.diag([3.0, 4.0])
        >>> linalg.solve_sylvester(a, b, np.ones((2, 2)))
        array([[0.25      , 0.2       ],
               [0.2       , 0.16666667]])
    """
    a, b, q = _promote(a, b, q)
    _square("solve_sylvester", a)
    _square("solve_sylvester", b, "b")
    sa, sb, sq = shape_of(a), shape_of(b), shape_of(q)
    n, m = sa[-1], sb[-1]
    if not sq:  # SciPy (np.dot with a scalar): q times the identity
        if n != m or not n:
            raise ValueError(
                "pullback.scipy.linalg.solve_sylvester: a 0-d 'q' stands for q times the "
                "identity (SciPy's reading), which needs 'a' and 'b' of one nonzero size, got "
                f"{sa[-2:]} and {sb[-2:]}"
            )
        return solve_sylvester(a, b, q * backends.constant(np.eye(n, dtype=dtype_of(q)), q))
    if len(sq) == 1:  # SciPy: a 1-d q only for 1 by 1 equations, solved as a 1-d x
        if sq != (1,) or (n, m) != (1, 1):
            raise ValueError(
                "pullback.scipy.linalg.solve_sylvester: a 1-d 'q' is read (as SciPy reads "
                f"it) only with 1 by 1 'a' and 'b' and shape (1,), got 'q' {sq}, 'a' "
                f"{sa[-2:]} and 'b' {sb[-2:]}"
            )
        return solve_sylvester(a, b, pnp.reshape(q, (1, 1)))[..., 0]
    if sq[-2:] != (n, m):
        raise ValueError(
            f"pullback.scipy.linalg.solve_sylvester: 'q' must be ({sa[-1]}, {sb[-1]}) for 'a' "
            f"{sa[-2:]} and 'b' {sb[-2:]}, got shape {sq}"
        )
    lead = np.broadcast_shapes(sa[:-2], sb[:-2], sq[:-2])
    a, b, q = (v if shape_of(v)[:-2] == lead else pnp.broadcast_to(v, lead + shape_of(v)[-2:])
               for v in (a, b, q))
    if not any(isinstance(v, Tracer) for v in (a, b, q)):
        return _solve_sylvester_impl(a, b, q)
    return solve_sylvester_p.bind(a, b, q)


# ----------------------------------------------------------------------------- matrix functions


def _block(a: Any, e: Any) -> Any:
    """``[[a, e], [0, a]]`` (stacked)."""
    top = pnp.concatenate([a, e], axis=-1)
    bottom = pnp.concatenate([pnp.zeros_like(a), a], axis=-1)
    return pnp.concatenate([top, bottom], axis=-2)


def _matrix_function(name: str, fn2d: Callable[[np.ndarray], np.ndarray], doc: str
                     ) -> Callable[[Any], Any]:
    impl = _stacked(name, fn2d, lambda a: [(a.shape[-2:], a.dtype)],
                    lazy2d=None if name == "expm" else _real_result(name, fn2d))
    prim = new_primitive(f"scipy.linalg.{name}", impl)

    def frechet(a: Any, e: Any) -> Any:
        """The Fréchet derivative of the function at ``a`` along ``e``: the upper right
        block of ``f([[a, e], [0, a]])``."""
        n = shape_of(a)[-1]
        if dtype_of(e) != dtype_of(a):
            e = pnp.astype(e, np.result_type(dtype_of(a), dtype_of(e)))
            a = pnp.astype(a, dtype_of(e))
        return prim.bind(_block(a, e))[..., :n, n:]

    def vjp(g: Any, ans: Any, a: Any) -> Any:
        out = frechet(_mT(a), g)  # the adjoint of L(a, .) for the bilinear pairing
        if dtype_of(a).kind == "f" and dtype_of(out).kind == "c":
            out = pnp.real(out)  # a real input's cotangent: the real part
        return out

    defjvp(prim, lambda t, ans, a: frechet(a, t))
    defvjp(prim, vjp)
    defbatch(prim, batch_stacked(prim))

    def wrapper(A: Any) -> Any:
        if not isinstance(A, Tracer):
            A = _lazy.as_value(A)
        shape = shape_of(A)
        if len(shape) < 2 and int(np.prod(shape)) == 1:
            if name == "expm":  # SciPy: [[exp(A.item())]] (a Python number's exp's dtype)
                wide = {"c": np.complex128, "b": np.float16}.get(dtype_of(A).kind, np.float64)
                A = A if dtype_of(A) == wide else pnp.astype(A, wide)
                return pnp.reshape(pnp.exp(A), (1, 1))
            if name == "sqrtm":  # a refusal by design (SciPy's value is not a root)
                raise NotImplementedError(
                    f"pullback.scipy.linalg.sqrtm: argument 'A' of shape {shape} is not a "
                    "square matrix; pass it as a 1 by 1 matrix (SciPy 1.17 returns exp(A) for "
                    "this input, not its square root: pullback refuses it)")
        A = _as_float(A)
        _square(name, A, "A")
        if not isinstance(A, Tracer):
            return impl(A)
        return prim.bind(A)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = doc
    wrapper.__module__ = __name__
    return wrapper


def _real_result(name: str, fn2d: Callable[[np.ndarray], np.ndarray]
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """``fn2d`` (``sqrtm``, ``logm``) for a lazy (Dask) matrix, whose result's dtype is fixed
    before its values are known: real for a real matrix. A real matrix with an eigenvalue on
    the closed negative real axis, whose principal root or logarithm is complex, raises."""

    def real(a: np.ndarray) -> np.ndarray:
        out = fn2d(a)
        if a.dtype.kind == "f" and out.dtype.kind == "c":
            raise LinAlgError(
                f"a real matrix with an eigenvalue on the closed negative real axis: its "
                f"principal {'square root' if name == 'sqrtm' else 'logarithm'} is complex, "
                "but on Dask arrays the result's dtype is chosen before the values are known "
                "(real for a real matrix). Pass a complex matrix (A.astype(complex)) for "
                "such matrices")
        return out

    return real


def _in_dtype_of(a: np.ndarray, out: Any) -> np.ndarray:
    """SciPy's result in ``a``'s precision: real stays real (float32 float32), a complex
    result the complex type of that precision."""
    out = np.asarray(out)
    if out.dtype.kind == "c" and a.dtype.kind == "f":
        return out.astype(np.result_type(a.dtype, np.complex64))
    return out.astype(a.dtype, copy=False)


def _expm_2d(a: np.ndarray) -> np.ndarray:
    return _in_dtype_of(a, _scipy("expm")(a))


def _nonsingular(name: str, a: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        singular = a.size and not np.linalg.cond(a.astype(np.result_type(a, np.float64))) < 1e15
    if singular:
        raise LinAlgError(
            f"{name} of a singular matrix: the principal "
            f"{'square root' if name == 'sqrtm' else 'logarithm'} is not differentiable "
            f"there{'' if name == 'sqrtm' else ' (it does not exist)'}; pullback refuses it "
            "(SciPy returns a value)"
        )


def _principal_real(a: np.ndarray, out: Any) -> Any:
    """A real matrix with no eigenvalue on the closed negative real axis has a real principal
    root and logarithm; SciPy's Schur-based result can still come back complex with
    rounding-sized imaginary parts (it does for the defective block matrices of the
    Fréchet derivative, depending on the BLAS threads), which would make the result's
    dtype depend on rounding. Such a result is returned real."""
    out = np.asarray(out)
    if a.dtype.kind != "f" or out.dtype.kind != "c" or not a.size:
        return out
    with np.errstate(all="ignore"):
        lam = np.linalg.eigvals(a.astype(np.float64))
    on_cut = (lam.real <= 0) & (np.abs(lam.imag) <= 1e-8 * np.maximum(np.abs(lam), 1e-300))
    return out if on_cut.any() else out.real


def _sqrtm_2d(a: np.ndarray) -> np.ndarray:
    _nonsingular("sqrtm", a)
    return _in_dtype_of(a, _principal_real(a, _scipy("sqrtm")(a)))


def _logm_2d(a: np.ndarray) -> np.ndarray:
    _nonsingular("logm", a)
    return _in_dtype_of(a, _principal_real(a, _scipy("logm")(a)))


expm = _matrix_function("expm", _expm_2d, """\
The matrix exponential; ``scipy.linalg.expm``. Derivative: the Fréchet derivative, from the
block matrix ``expm([[A, E], [0, A]])``. As SciPy's, a 0-d ``A`` or one of shape ``(1,)``
gives the 1 by 1 matrix ``[[exp(A)]]``, in float64 (complex128 for a complex ``A``, float16
for a boolean one, as NumPy's ``exp`` of a Python number).

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import linalg
    >>> d = np.diag([1.0, 2.0])
    >>> round(float(pb.grad(lambda t: linalg.expm(t * d)[1, 1])(0.5)), 12)  # 2 e
    5.436563656918
""")
sqrtm = _matrix_function("sqrtm", _sqrtm_2d, """\
The principal matrix square root; ``scipy.linalg.sqrtm``. Derivative: the solution ``X``
of ``S X + X S = E`` (``S`` the root), from the block matrix ``sqrtm([[A, E], [0, A]])``;
it needs ``A`` without eigenvalues on the closed negative real axis. A singular ``A``
(where the root is not differentiable) raises ``LinAlgError``.

Example:
    >>> import numpy as np
    >>> from pullback.scipy import linalg
    >>> linalg.sqrtm(np.array([[4.0, 0.0], [0.0, 9.0]]))
    array([[2., 0.],
           [0., 3.]])
""")
logm = _matrix_function("logm", _logm_2d, """\
The principal matrix logarithm; ``scipy.linalg.logm`` (complex for a real matrix with
negative eigenvalues, as SciPy's). Derivative: from the block matrix
``logm([[A, E], [0, A]])``; defined where ``A`` has no eigenvalue on the closed negative
real axis. A singular ``A`` (no logarithm) raises ``LinAlgError``.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import linalg
    >>> a = np.array([[2.0, 1.0], [0.0, 2.0]])
    >>> np.allclose(linalg.expm(linalg.logm(a)), a)
    True
""")


# ----------------------------------------------------------------------------- block_diag


def block_diag(*arrs: Any) -> Any:
    """The block diagonal matrix of the given arrays (0-d and 1-d ones as rows);
    ``scipy.linalg.block_diag``. Differentiable in every block.

    Arrays of more than two dimensions are stacks of blocks (SciPy 1.17's batching): their
    leading axes broadcast together, and the result is the stack of the block diagonal
    matrices, of shape ``leading + (sum of rows, sum of columns)``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> linalg.block_diag(np.ones((1, 2)), np.array([[3.0]]))
        array([[1., 1., 0.],
               [0., 0., 3.]])
        >>> linalg.block_diag(np.ones((4, 2, 2)), np.ones(3)).shape
        (4, 3, 5)
    """
    if not arrs:
        return np.empty((1, 0))
    blocks = []
    for a in arrs:
        if not isinstance(a, Tracer):
            a = _lazy.as_value(a)
        blocks.append(pnp.atleast_2d(a) if len(shape_of(a)) < 2 else a)
    try:
        lead = np.broadcast_shapes(*(shape_of(b)[:-2] for b in blocks))
    except ValueError:
        raise ValueError(
            "pullback.scipy.linalg.block_diag: the leading (stack) axes of the arguments do "
            f"not broadcast together: shapes {[shape_of(b) for b in blocks]}"
        ) from None
    dtype = np.result_type(*(dtype_of(b) for b in blocks))
    cols = sum(shape_of(b)[-1] for b in blocks)
    rows, start = [], 0
    for b in blocks:
        r, c = shape_of(b)[-2:]
        if dtype_of(b) != dtype:
            b = pnp.astype(b, dtype)
        if shape_of(b)[:-2] != lead:
            b = pnp.broadcast_to(b, lead + (r, c))
        parts = []
        if start:
            parts.append(backends.zeros(lead + (r, start), dtype, like=b))
        parts.append(b)
        if cols - start - c:
            parts.append(backends.zeros(lead + (r, cols - start - c), dtype, like=b))
        rows.append(pnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0])
        start += c
    return pnp.concatenate(rows, axis=-2) if len(rows) > 1 else rows[0]


# ----------------------------------------------------------------------------- eigh


def eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,
         check_finite: bool = True, subset_by_index: Sequence[int] | None = None,
         subset_by_value: Any = None, driver: str | None = None) -> Any:
    """Eigenvalues (ascending) and eigenvectors of a symmetric (Hermitian) ``a``, or of the
    generalised problem with a positive definite ``b`` (``type`` 1: ``a v = w b v``, 2:
    ``a b v = w v``, 3: ``b a v = w v``); ``scipy.linalg.eigh``. Only the triangle
    ``lower`` says is read of ``a`` and ``b``.

    The generalised problem is reduced by the Cholesky factor ``L`` of ``b`` to a standard
    one (``L^-1 a L^-H``, or ``L^H a L`` for types 2 and 3), whose derivatives
    (``pullback.numpy.linalg.eigh``) assume distinct eigenvalues; eigenvectors are
    normalised as SciPy's (``v^H b v = I``, or ``v^H b^-1 v = I`` for type 3), each up to
    its sign (phase). ``subset_by_index=(lo, hi)`` keeps those eigenpairs;
    ``subset_by_value`` and ``driver`` are not supported.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import linalg
        >>> a, b = np.diag([2.0, 6.0]), np.diag([1.0, 2.0])
        >>> linalg.eigh(a, b, eigvals_only=True)
        array([2., 3.])
    """
    if subset_by_value is not None or driver is not None:
        raise NotImplementedError("pullback.scipy.linalg.eigh: subset_by_value and driver are "
                                  "not supported; use subset_by_index, or slice the result")
    if type not in (1, 2, 3):
        raise ValueError(f"pullback.scipy.linalg.eigh: 'type' must be 1, 2 or 3, got {type!r}")
    a = _as_float(a)
    _square("eigh", a)
    uplo = "L" if lower else "U"
    if b is None:
        w, v = pnp.linalg.eigh(a, UPLO=uplo)
    else:
        a, b = _promote(a, b)
        _square("eigh", b, "b")
        L = pnp.linalg.cholesky(b, upper=not lower)
        L = _mT(pnp.conjugate(L)) if not lower else L  # lower: b = L L^H
        A = _from_triangle(a, lower, hermitian=True)
        if type == 1:  # L^-1 A L^-H
            C = solve_triangular(L, _mT(pnp.conjugate(solve_triangular(L, A, lower=True))),
                                 lower=True)
        else:  # L^H A L
            C = _mT(pnp.conjugate(L)) @ A @ L
        w, u = pnp.linalg.eigh(C, UPLO="L")
        v = u
        if not eigvals_only:
            v = solve_triangular(L, u, trans=2, lower=True) if type in (1, 2) else L @ u
    if subset_by_index is not None:
        lo, hi = subset_by_index
        w = w[..., lo:hi + 1]
        v = v[..., lo:hi + 1]
    return w if eigvals_only else (w, v)
