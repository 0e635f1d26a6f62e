"""``pullback.numpy.linalg``: NumPy's linear algebra, differentiable in both modes, any order.

Every rule is written with pullback's own operations (``matmul``, ``solve``, ``inv``, masks),
so the derivative of a rule is again a rule: Hessians of ``det``, ``eigh`` or ``svd`` come for
free. Batched (leading-axis) arguments work wherever NumPy accepts them.

Conventions (each has a test in ``tests/test_linalg.py``):

- ``cholesky`` and ``eigh``/``eigvalsh`` read one triangle of their argument, as NumPy does
  (the lower one; the upper one for ``upper=True`` / ``UPLO="U"``): their derivatives with
  respect to the other triangle are zero, and finite differences of NumPy agree.
- ``eigh`` and ``svd`` derivatives assume distinct eigenvalues / singular values (and, for
  the extra columns of a rectangular ``svd``, nonzero singular values). Where two are exactly
  equal, the derivatives that involve the vectors' coupling ``1/(w_j - w_i)`` are NaN
  (undefined, as in JAX), not a silently wrong number; first derivatives of the eigenvalues
  or singular values alone (``eigvalsh``, ``svd(compute_uv=False)``, nuclear and 2-norms)
  do not involve it and stay finite there. The 2-norm (the largest singular value) has its
  own rule, from the top singular pair alone: every derivative is finite wherever that value
  is simple and positive, whatever ties the others have (rank-deficient matrices).
- ``pinv`` and ``lstsq`` derivatives assume the rank is locally constant (full rank in
  practice); ``qr`` assumes full rank; ``inv``, ``solve``, ``det`` and ``slogdet`` need a
  nonsingular matrix for their derivatives (``det`` of a singular matrix is 0, its derivative
  raises ``LinAlgError``).
- ``norm`` at 0 has derivative 0, not NaN (vector norms, Frobenius, nuclear, 2-norm); all its
  higher derivatives there are 0 too. ``ord=0`` (the count of nonzeros) is piecewise
  constant: its derivative is 0. Ties of ``inf``/``-inf``/``1``/``-1`` norms share the
  derivative equally.
- ``svd`` with ``full_matrices=True`` is differentiable only for square matrices (the extra
  singular vectors of a rectangular matrix are not unique): pass ``full_matrices=False``.
  ``qr`` with ``mode="complete"`` likewise needs ``m <= n``.

Complex matrices: every function here differentiates them, in both modes and at any order,
with JAX's convention: a cotangent ``g`` pairs with a tangent ``t`` as ``Re(sum(g * t))``
(no conjugation), so ``vjp`` is the transpose of the real-linear JVP and ``grad`` of a real
function is the conjugate of its steepest-ascent direction (``grad(lambda a:
pnp.sum(pnp.abs(a) ** 2))(a) == 2 * a.conj()``). ``inv``, ``solve``, ``det`` and
``matrix_power`` are holomorphic (their rules are the real ones); the others use conjugate
transposes. Gauges, where the result is not unique:

- ``eigh``: each eigenvector is defined up to a phase (a sign for real matrices); the
  derivative holds the phase fixed, ``V^H dV`` has a zero diagonal. Differentiate functions
  that do not depend on it: ``|V|**2``, ``V @ diag(f(w)) @ V^H`` (projectors).
- ``svd``: ``u_i`` and ``v_i`` share a free phase (a sign for real matrices); the
  derivative gives ``V^H dV`` a zero diagonal and puts the phase's change into ``U``
  (``U^H dU`` has the diagonal ``i Im(u_i^H da v_i) / s_i``). Differentiate ``|U|**2``,
  ``S``, ``U @ diag(f(S)) @ Vh``.
- ``qr``: NumPy's ``R`` has a real diagonal (LAPACK's convention), which makes ``Q`` and
  ``R`` unique near a full-rank matrix; the derivative keeps the diagonal real.
- ``cholesky``: ``L`` is unique (a real, positive diagonal).
- ``slogdet``: for complex ``a`` the sign ``det / |det|`` is differentiable (for real ``a``
  a constant); ``logabsdet`` is real.
- ``eigh``, ``eigvalsh``, ``cholesky`` and ``pinv(hermitian=True)`` read one triangle and the
  real part of the diagonal, as LAPACK does.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda a: pnp.linalg.det(a))(np.array([[2.0, 1.0], [1.0, 3.0]]))
    array([[ 3., -1.],
           [-1.,  2.]])
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.lax import stop_gradient
from pullback.core.rules import add_tangents, defbatch, defjvp, defjvp_joint, defvjp, defvjp_joint
from pullback.core.trace import Tracer, dtype_of, shape_of, zero
from pullback.numpy import _backends
from pullback.numpy import products as _products
from pullback.numpy._constant import concrete, constant_call, constant_function
from pullback.numpy._nondiff import argmax as _argmax
from pullback.numpy._registry import batch_by_looping, batch_stacked, implements, new_primitive
from pullback.numpy._util import as_array, mark_weak, normalize_axes, result_dtype
from pullback.numpy.elementwise import absolute, conjugate, equal, power, real, sqrt, where
from pullback.numpy.reductions import sum as _sum
from pullback.numpy.shape import (
    astype,
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    reshape,
    swapaxes,
    transpose,
)

__all__ = [
    "LinAlgError",
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_power",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    # NumPy 2's array-API names and the rest of numpy.linalg (at the end of this file)
    "cond",
    "cross",
    "diagonal",
    "eig",
    "eigvals",
    "matmul",
    "matrix_norm",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "outer",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]

LinAlgError = np.linalg.LinAlgError


# NumPy's named result tuples, so traced results unpack and read like NumPy's
_EighResult = type(np.linalg.eigh(np.eye(1)))
_QRResult = type(np.linalg.qr(np.eye(1)))
_SVDResult = type(np.linalg.svd(np.eye(1)))
_SlogdetResult = type(np.linalg.slogdet(np.eye(1)))


# ----------------------------------------------------------------------------- helpers


def _mT(x: Any) -> Any:
    """The matrix transpose of a stack of matrices (the last two axes swapped)."""
    return swapaxes(x, -1, -2)


def _is_complex(x: Any) -> bool:
    return dtype_of(x).kind == "c"


def _conj(x: Any) -> Any:
    """The complex conjugate; ``x`` itself (no copy) when it is real."""
    return conjugate(x) if _is_complex(x) else x


def _H(x: Any) -> Any:
    """The conjugate transpose of a stack of matrices (the transpose when they are real)."""
    return _conj(_mT(x))


def _imag_part(x: Any) -> Any:
    """``1j * Im(x)`` (in ``x``'s complex dtype): ``(x - conj(x)) / 2``."""
    return (x - conjugate(x)) * 0.5


def _real_dtype(x: Any) -> np.dtype:
    """The real dtype of ``x``'s precision (float64 for complex128)."""
    return np.empty(0, dtype_of(x)).real.dtype


def _constant(c: np.ndarray, like: Any) -> Any:
    """The NumPy constant ``c`` (an identity, a mask) ready to meet ``like`` (an array or
    traced value): ``c`` itself when the plain value under ``like`` is a NumPy array (the fast
    path), else :func:`pullback.core.backends.constant` (moved into CuPy's kind of library)."""
    x = like
    while isinstance(x, Tracer):
        x = x._primal
    return c if type(x) is np.ndarray else backends.constant(c, x)


def _eye(n: int, like: Any) -> Any:
    """The identity of size ``n`` in ``like``'s dtype, ready to meet ``like``."""
    return _constant(np.eye(n, dtype=dtype_of(like)), like)


def _diagonal(x: Any) -> Any:
    """The diagonals of a stack of square matrices, shape ``(..., n)``."""
    return _sum(x * _eye(shape_of(x)[-1], x), axis=-1)


def _diag(v: Any) -> Any:
    """Square matrices with the vectors ``v`` (shape ``(..., n)``) on their diagonals."""
    return expand_dims(v, -1) * _eye(shape_of(v)[-1], v)


def _trace(x: Any) -> Any:
    return _sum(_diagonal(x), axis=-1)


def _as_matrix(s: Any) -> Any:
    """A stack of scalars ``(...)`` shaped ``(..., 1, 1)`` to scale a stack of matrices."""
    return expand_dims(expand_dims(s, -1), -1)


def _tri_mask(n: int, like: Any, k: int, lower: bool = True) -> Any:
    ones = np.ones((n, n), dtype_of(like))
    return _constant(np.tril(ones, k) if lower else np.triu(ones, -k), like)


def _is_zero(g: Any) -> bool:
    """Whether ``g`` is a plain array of zeros (an output whose cotangent was filled in, in
    its library: see :func:`pullback.core.backends.known_zeros`)."""
    if isinstance(g, (np.ndarray, np.generic)):
        return not np.any(g)
    return not isinstance(g, Tracer) and backends.known_zeros(g)


def _inverse_or_nan(d: Any) -> Any:
    """``1 / d`` where ``d != 0``, NaN (undefined) where ``d == 0``, without NumPy warnings."""
    tie = equal(d, 0)
    return where(tie, np.nan, 1.0 / where(tie, 1.0, d))


def _promote_float(*args: Any) -> tuple:
    """Cast the traced arguments to the floating dtype NumPy's linear algebra would use
    (untraced ones, lists included, become arrays)."""
    args = tuple(a if isinstance(a, Tracer) or _backends.foreign(a) else np.asarray(a)
                 for a in args)
    dtype = result_dtype(*args)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    return tuple(astype(a, dtype) if isinstance(a, Tracer) and a.dtype != dtype else a
                 for a in args)


def _shape_text(a: Any) -> str:
    try:
        return str(shape_of(a))
    except Exception:  # pragma: no cover - an object NumPy could not read either
        return "unknown"


def _require_square(name: str, a: Any, arg: str = "a") -> None:
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise LinAlgError(
            f"pullback.numpy.linalg.{name}: argument '{arg}' must be a square matrix or a stack "
            f"of square matrices (the last two axes equal), got shape {shape}; for a "
            "rectangular matrix use pinv or lstsq"
        )


def _require_matrix(name: str, a: Any, arg: str = "a") -> None:
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(
            f"pullback.numpy.linalg.{name}: argument '{arg}' must be a matrix or a stack of "
            f"matrices (at least 2 dimensions), got shape {shape}"
        )


_SINGULAR_ADVICE = {
    "inv": "its inverse does not exist; use pinv for a pseudo-inverse",
    "solve": "the system has no unique solution; use lstsq for a least-squares solution",
}


def _lapack(name: str, func: Callable[..., Any], square: bool = True) -> Callable[..., Any]:
    """``func`` with NumPy's ``LinAlgError`` messages made to name the function and argument."""

    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if type(a) is not np.ndarray and _backends.foreign(a, *args):  # Dask: per block
                return _backends.linalg(func, f"pullback.numpy.linalg.{name}", a, *args,
                                        **kwargs)
            return func(a, *args, **kwargs)
        except LinAlgError as err:
            text = str(err)
            if (square and "square" in text.lower()) or "dimension" in text.lower():
                shape = _shape_text(a)
                what = "a square matrix or a stack of square matrices" if square else "a matrix"
                raise LinAlgError(
                    f"pullback.numpy.linalg.{name}: argument 'a' must be {what}, got shape "
                    f"{shape} (NumPy: {text})"
                ) from None
            if "singular" in text.lower():
                advice = _SINGULAR_ADVICE.get(name, "")
                raise LinAlgError(
                    f"pullback.numpy.linalg.{name}: argument 'a' is a singular matrix "
                    f"(NumPy: {text}); {advice}".rstrip("; ")
                ) from None
            if "positive definite" in text.lower():
                raise LinAlgError(
                    f"pullback.numpy.linalg.{name}: argument 'a' is not positive definite "
                    f"(NumPy: {text}); only one triangle of 'a' is read (the lower one, the "
                    "upper one with upper=True): check that it holds a symmetric positive "
                    "definite matrix"
                ) from None
            raise LinAlgError(f"pullback.numpy.linalg.{name}: {text}") from None

    call.__name__ = f"{name}_impl"
    return call


def _singular_derivative(name: str, rule: Callable[..., Any]) -> Callable[..., Any]:
    """A rule that needs an inverse: a singular argument raises an error naming ``name``."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return rule(*args, **kwargs)
        except LinAlgError as err:
            raise LinAlgError(
                f"pullback.numpy.linalg.{name}: the derivative at a singular matrix 'a' is not "
                f"implemented (it needs the inverse of 'a'; {err})"
            ) from None

    return checked


def _symmetric_from(a: Any, lower: bool) -> Any:
    """The symmetric (Hermitian) matrix NumPy reads from one triangle of ``a``, differentiably.

    ``cholesky`` and ``eigh`` read only one triangle, and of a complex diagonal only the real
    part (LAPACK's convention); building the matrix they read gives their derivatives with
    respect to the rest (zero) for free.
    """
    n = shape_of(a)[-1]
    if not _is_complex(a):
        keep = _tri_mask(n, a, 0, lower)
        mirror = _tri_mask(n, a, -1, lower)
        return a * keep + _mT(a * mirror)
    strict = a * _tri_mask(n, a, -1, lower)
    return strict + _H(strict) + _diag(real(_diagonal(a)))


# ----------------------------------------------------------------------------- inv, solve

_inv_impl = _lapack("inv", np.linalg.inv)
inv_p = new_primitive("linalg.inv", _inv_impl)
defvjp(inv_p, lambda g, ans, a: -(_mT(ans) @ g @ _mT(ans)))
defjvp(inv_p, lambda t, ans, a: -(ans @ t @ ans))
defbatch(inv_p, batch_stacked(inv_p))  # NumPy maps it over leading axes (so below)


@implements(np.linalg.inv)
def inv(a: Any) -> Any:
    """Differentiable ``numpy.linalg.inv``: the inverse of a (stack of) square matrices.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25]])
    """
    if not isinstance(a, Tracer):
        return _inv_impl(a)
    _require_square("inv", a)
    return inv_p.bind(a)


_solve_impl = _lapack("solve", np.linalg.solve)
solve_p = new_primitive("linalg.solve", _solve_impl)


def _solve_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    a, _ = args
    gb = solve_p.bind(_mT(a), g)
    ga = -(gb @ _mT(ans)) if needs[0] else zero
    return ga, gb if needs[1] else zero


def _solve_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    ta, tb = tangents
    rhs = zero if ta is zero else -(ta @ ans)
    rhs = add_tangents(rhs, tb)
    return zero if rhs is zero else solve_p.bind(args[0], rhs)


defvjp_joint(solve_p, _solve_vjp)
defjvp_joint(solve_p, _solve_jvp)
defbatch(solve_p, batch_stacked(solve_p))


@implements(np.linalg.solve)
def solve(a: Any, b: Any) -> Any:
    """Differentiable ``numpy.linalg.solve``: ``x`` with ``a @ x == b``.

    As in NumPy 2, ``b`` is a vector only when it is 1-d (shape ``(M,)``); otherwise it is a
    (stack of) ``(M, K)`` matrices. Leading axes broadcast.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))
        array([0.5 , 0.25])
    """
    if not (isinstance(a, Tracer) or isinstance(b, Tracer)):
        return _solve_impl(a, b)
    a, b = _promote_float(a, b)
    _require_square("solve", a)
    vector = len(shape_of(b)) == 1
    if vector:
        b = expand_dims(b, -1)
    sa, sb = shape_of(a), shape_of(b)
    if sb[-2] != sa[-1]:
        raise ValueError(
            f"pullback.numpy.linalg.solve: argument 'b' has {sb[-2]} rows but 'a' is "
            f"{sa[-1]}x{sa[-1]}: they must match (b of shape (M,) or (..., M, K))"
        )
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    # both operands to the full stack, a constant one too (the primitive and its batching
    # rule take one stack shape: under vmap a constant (3, 3) b met a batched (B, 3, 3, 3) a)
    if sa[:-2] != batch:
        a = broadcast_to(a, batch + sa[-2:])
    if sb[:-2] != batch:
        b = broadcast_to(b, batch + sb[-2:])
    x = solve_p.bind(a, b)
    return getitem(x, (Ellipsis, 0)) if vector else x


# ----------------------------------------------------------------------------- det, slogdet

_det_impl = _lapack("det", np.linalg.det)
det_p = new_primitive("linalg.det", _det_impl)
# d det = det * tr(a^-1 da)
defjvp(det_p, _singular_derivative("det", lambda t, ans, a: ans * _trace(solve_p.bind(a, t))))
defvjp(det_p, _singular_derivative("det", lambda g, ans, a: _as_matrix(g * ans) * _mT(inv(a))))
defbatch(det_p, batch_stacked(det_p))


@implements(np.linalg.det)
def det(a: Any) -> Any:
    """Differentiable ``numpy.linalg.det``: the determinant of a (stack of) square matrices.

    Its derivative needs ``a`` nonsingular (``det(a) * inv(a).T``).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> float(pnp.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])))
        5.000000000000001
    """
    if not isinstance(a, Tracer):
        return _det_impl(a)
    _require_square("det", a)
    return det_p.bind(a)


_slogdet_impl = _lapack("slogdet", np.linalg.slogdet)
slogdet_p = new_primitive("linalg.slogdet", lambda a: tuple(_slogdet_impl(a)),
                          multiple_results=True)


def _slogdet_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    tau = _trace(solve_p.bind(args[0], t))  # d log det = tr(a^-1 da)
    if not _is_complex(tau):
        return zero, tau  # a real sign is piecewise constant
    # sign = det / |det|: d sign = sign * i Im(tau), d log|det| = Re(tau)
    return ans[0] * _imag_part(tau), real(tau)


def _slogdet_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    g_sign, g_log = g
    a = args[0]
    if not _is_complex(a) or _is_zero(g_sign):
        # a real sign is piecewise constant: only the log-determinant's cotangent contributes
        return (_as_matrix(g_log) * _mT(inv(a)),)
    # the transpose of the JVP above: (g_log + i Im(g_sign * sign)) a^-T
    return (_as_matrix(g_log + _imag_part(g_sign * ans[0])) * _mT(inv(a)),)


defjvp_joint(slogdet_p, _singular_derivative("slogdet", _slogdet_jvp))
defvjp_joint(slogdet_p, _singular_derivative("slogdet", _slogdet_vjp))
defbatch(slogdet_p, batch_stacked(slogdet_p))


@implements(np.linalg.slogdet)
def slogdet(a: Any) -> Any:
    """Differentiable ``numpy.linalg.slogdet``: ``(sign, logabsdet)`` of square matrices.

    For real ``a`` the sign is a constant (its derivative is zero); ``logabsdet`` has
    derivative ``inv(a).T``, which needs ``a`` nonsingular. For complex ``a`` the sign
    ``det / |det|`` moves with ``a`` and is differentiable too: ``d sign = sign * i Im(tau)``,
    ``d logabsdet = Re(tau)`` with ``tau = tr(inv(a) @ da)``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> sign, logdet = pnp.linalg.slogdet(np.array([[-2.0, 0.0], [0.0, 3.0]]))
        >>> float(sign), round(float(logdet), 6)
        (-1.0, 1.791759)
    """
    if not isinstance(a, Tracer):
        return _slogdet_impl(a)
    _require_square("slogdet", a)

    sign, logabsdet = slogdet_p.bind(a)
    return _SlogdetResult(sign if _is_complex(a) else stop_gradient(sign), logabsdet)


# ----------------------------------------------------------------------------- pinv


def _pinv_jvp_map(P: Any, A: Any, dA: Any) -> Any:
    """The derivative of ``pinv`` at ``A`` (of locally constant rank) along ``dA``.

    d(A+) = -A+ dA A+ + A+ A+^H dA^H (I - A A+) + (I - A+ A) dA^H A+^H A+.
    """
    dAH = _H(dA)
    out = -(P @ dA @ P)
    out = out + P @ (_H(P) @ (dAH - (dAH @ A) @ P))
    Y = dAH @ (_H(P) @ P)
    return out + (Y - P @ (A @ Y))


def _pinv_adjoint_map(P: Any, A: Any, G: Any) -> Any:
    """The adjoint of :func:`_pinv_jvp_map` for the inner product ``Re tr(X^H Y)``, applied
    to ``G`` (for real matrices: its transpose)."""
    GH = _H(G)
    out = -(_H(P) @ G @ _H(P))
    Z = GH @ (P @ _H(P))
    out = out + (Z - A @ (P @ Z))
    W = (_H(P) @ P) @ GH
    return out + (W - (W @ P) @ A)


def _pinv_vjp_map(P: Any, A: Any, g: Any) -> Any:
    """The cotangent of ``A`` for the cotangent ``g`` of ``pinv(A)``: the adjoint map taken
    between conjugates, as the pairing ``Re(sum(g * t))`` has no conjugation."""
    return _conj(_pinv_adjoint_map(P, A, _conj(g)))


def _pinv_impl(a: Any, **params: Any) -> Any:
    return _lapack("pinv", np.linalg.pinv, square=False)(a, **params)


pinv_p = new_primitive("linalg.pinv", _pinv_impl)
defjvp(pinv_p, lambda t, ans, a, **p: _pinv_jvp_map(ans, a, t))
defvjp(pinv_p, lambda g, ans, a, **p: _pinv_vjp_map(ans, a, g))
defbatch(pinv_p, batch_stacked(pinv_p))


@implements(np.linalg.pinv)
def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """Differentiable ``numpy.linalg.pinv``: the Moore-Penrose pseudo-inverse.

    The derivative (Golub and Pereyra's formula, with conjugate transposes for complex
    ``a``) assumes the rank of ``a`` is locally constant, as it is for a matrix of full rank.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.pinv(np.array([[2.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25],
               [0.  , 0.  ]])
    """
    params = {"rcond": rcond} if rcond is not None else {}
    if rtol is not None:
        params["rtol"] = rtol
    if hermitian:
        params["hermitian"] = True
    if not isinstance(a, Tracer):
        return _pinv_impl(a, **params)
    _require_matrix("pinv", a)
    if hermitian:  # NumPy then reads the lower triangle only
        _require_square("pinv", a)
        a = _symmetric_from(a, lower=True)
        lib = _backends.foreign(backends.base_value(a))
        if lib is not None and lib != "dask":
            # CuPy's pinv has no hermitian=: the general one of the Hermitian matrix just
            # built (the matrix hermitian=True reads) is the same pseudo-inverse
            del params["hermitian"]
    return pinv_p.bind(a, **params)


# ----------------------------------------------------------------------------- cholesky

_cholesky_impl = _lapack("cholesky", np.linalg.cholesky)
cholesky_p = new_primitive("linalg.cholesky", _cholesky_impl)


def _cholesky_phi(x: Any) -> Any:
    """The strictly lower triangle of ``x`` plus half its diagonal."""
    n = shape_of(x)[-1]
    return x * (_tri_mask(n, x, -1) + 0.5 * _eye(n, x))


def _cholesky_jvp(t: Any, L: Any, a: Any) -> Any:
    # a symmetric (Hermitian) tangent t: dL = L phi(L^-1 t L^-H)
    X = solve_p.bind(L, _H(solve_p.bind(L, t)))
    return L @ _cholesky_phi(X)


def _cholesky_vjp(g: Any, L: Any, a: Any) -> Any:
    # the adjoint of the JVP, L^-H phi(L^H G) L^-1 for G = conj(g), conjugated back; only
    # its Hermitian part matters (the wrapper builds a from one triangle)
    P = _cholesky_phi(_H(L) @ _conj(g))
    return _conj(solve_p.bind(_H(L), _H(solve_p.bind(_H(L), _H(P)))))


defjvp(cholesky_p, _cholesky_jvp)
defvjp(cholesky_p, _cholesky_vjp)
defbatch(cholesky_p, batch_stacked(cholesky_p))


@implements(np.linalg.cholesky)
def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """Differentiable ``numpy.linalg.cholesky``: ``L`` with ``a == L @ L.conj().T`` (lower).

    As in NumPy only the lower triangle of ``a`` is read (the upper one with ``upper=True``,
    which returns ``L.conj().T``), and of a complex diagonal only the real part: the
    derivatives with respect to the rest are zero. Complex (Hermitian positive definite)
    ``a`` is differentiable; ``L`` is unique (a real, positive diagonal), so there is no gauge.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
        array([[2., 0.],
               [1., 2.]])
    """
    if not isinstance(a, Tracer):
        return _cholesky_impl(a, upper=upper)
    _require_square("cholesky", a)
    L = cholesky_p.bind(_symmetric_from(a, lower=not upper))
    return _H(L) if upper else L


# ----------------------------------------------------------------------------- qr

_qr_impl = _lapack("qr", np.linalg.qr, square=False)
qr_p = new_primitive("linalg.qr", lambda a: tuple(_qr_impl(a, mode="reduced")),
                     multiple_results=True)


def _qr_tall_jvp(Q: Any, R: Any, dA: Any) -> tuple[Any, Any]:
    """Tangents of ``Q`` (m x n) and ``R`` (n x n, invertible) for ``A = QR``, ``m >= n``."""
    B = _mT(solve_p.bind(_mT(R), _mT(dA)))  # dA R^-1
    C = _H(Q) @ B
    low = C * _tri_mask(shape_of(C)[-1], C, -1)
    # Omega = Q^H dQ is antihermitian and dR R^-1 upper triangular; R's diagonal stays real
    # (LAPACK's convention), so Omega's diagonal is i Im(diag C)
    omega = low - _H(low)
    if _is_complex(C):
        omega = omega + _diag(_imag_part(_diagonal(C)))
    C_minus_omega = C - omega
    return B - Q @ C_minus_omega, C_minus_omega @ R


def _qr_tall_adjoint(Q: Any, R: Any, GQ: Any, GR: Any) -> Any:
    """The adjoint of :func:`_qr_tall_jvp` for the inner product ``Re tr(X^H Y)``: the
    gradient of ``A`` from those of ``Q`` and ``R`` (for real matrices: the transpose)."""
    M = GR @ _H(R) - _H(Q) @ GQ
    low = _tri_mask(shape_of(M)[-1], M, -1)
    GC = M - M * low + _H(M) * low
    if _is_complex(M):
        GC = GC - _diag(_imag_part(_diagonal(M)))
    return _H(solve_p.bind(R, _H(GQ + Q @ GC)))  # (GQ + Q GC) R^-H


def _qr_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    Q, R = ans
    m, n = shape_of(args[0])[-2:]
    if m >= n:
        return _qr_tall_jvp(Q, R, t)
    # wide: a = [X | Y], R = [R_X | Q^T Y]
    dQ, dRX = _qr_tall_jvp(Q, getitem(R, (Ellipsis, slice(None, m))),
                           getitem(t, (Ellipsis, slice(None, m))))
    Y = getitem(args[0], (Ellipsis, slice(m, None)))
    dRY = _H(dQ) @ Y + _H(Q) @ getitem(t, (Ellipsis, slice(m, None)))
    return dQ, concatenate([dRX, dRY], axis=-1)


def _qr_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    # the adjoint taken between conjugates: the pairing Re(sum(g * t)) has no conjugation
    GQ, GR = (_conj(c) for c in g)
    Q, R = ans
    a = args[0]
    m, n = shape_of(a)[-2:]
    if m >= n:
        return (_conj(_qr_tall_adjoint(Q, R, GQ, GR)),)
    first, rest = (Ellipsis, slice(None, m)), (Ellipsis, slice(m, None))
    GRY = getitem(GR, rest)
    GQ = GQ + getitem(a, rest) @ _H(GRY)
    GX = _qr_tall_adjoint(Q, getitem(R, first), GQ, getitem(GR, first))
    return (_conj(concatenate([GX, Q @ GRY], axis=-1)),)


defjvp_joint(qr_p, _qr_jvp)
defvjp_joint(qr_p, _qr_vjp)
defbatch(qr_p, batch_stacked(qr_p))


@implements(np.linalg.qr)
def qr(a: Any, mode: str = "reduced") -> Any:
    """Differentiable ``numpy.linalg.qr`` (modes ``"reduced"``, ``"complete"``, ``"r"``).

    The derivative assumes ``a`` has full rank; it covers tall, square and wide matrices,
    real and complex (``R``'s diagonal is real, NumPy's convention, which fixes the gauge).
    ``mode="complete"`` of a tall matrix is not differentiable (its extra columns of ``Q``
    are not unique) and ``mode="raw"`` neither.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> q, r = pnp.linalg.qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
        >>> np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]])
        True
    """
    if not isinstance(a, Tracer):
        return _qr_impl(a, mode=mode)
    _require_matrix("qr", a)
    m, n = a.shape[-2:]
    if mode not in ("reduced", "complete", "r") or (mode == "complete" and m > n):
        raise NotImplementedError(
            f"pullback.numpy.linalg.qr: mode={mode!r} is not differentiable for argument 'a' "
            f"of shape {a.shape}: use mode='reduced' (or 'r')"
        )
    Q, R = qr_p.bind(a)
    return R if mode == "r" else _QRResult(Q, R)


# ----------------------------------------------------------------------------- eigh, eigvalsh

_eigh_impl = _lapack("eigh", np.linalg.eigh)
eigh_p = new_primitive("linalg.eigh", lambda a, UPLO: tuple(_eigh_impl(a, UPLO=UPLO)),
                       multiple_results=True)


def _gaps(w: Any) -> Any:
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal (NaN at exact ties), 0 on it."""
    n = shape_of(w)[-1]
    off = 1.0 - _eye(n, w)
    return _inverse_or_nan(expand_dims(w, -2) - expand_dims(w, -1) + _eye(n, w)) * off


def _eigh_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    w, V = ans
    X = _H(V) @ t @ V
    # gauge: V^H dV has a zero diagonal (each eigenvector's phase, or sign, held fixed)
    return real(_diagonal(X)), V @ (_gaps(w) * X)


def _eigh_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    gw, gV = g
    w, V = ans
    inner = _diag(gw)
    if not _is_zero(gV):
        inner = inner + _gaps(w) * (_H(V) @ _conj(gV))
    # the adjoint V (diag(gw) + F o V^H G) V^H for G = conj(gV), conjugated back
    return (_conj(V @ inner @ _H(V)),)


defjvp_joint(eigh_p, _eigh_jvp)
defvjp_joint(eigh_p, _eigh_vjp)
defbatch(eigh_p, batch_stacked(eigh_p))


def _check_uplo(name: str, UPLO: str) -> str:
    uplo = str(UPLO).upper()
    if uplo not in ("L", "U"):
        raise ValueError(f"pullback.numpy.linalg.{name}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return uplo


@implements(np.linalg.eigh)
def eigh(a: Any, UPLO: str = "L") -> Any:
    """Differentiable ``numpy.linalg.eigh``: eigenvalues (ascending) and eigenvectors of
    symmetric matrices, ``(eigenvalues, eigenvectors)``.

    Only the lower triangle of ``a`` is read (the upper one with ``UPLO="U"``), and of a
    complex diagonal only the real part. Derivatives assume distinct eigenvalues;
    eigenvectors are defined up to sign (a phase for complex ``a``), so differentiate
    functions of them that do not depend on it (``abs(V)**2``, ``V @ diag(f(w)) @ V^H``).
    The gauge of the derivative: ``V^H dV`` has a zero diagonal.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> w, v = pnp.linalg.eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w
        array([1., 3.])
    """
    if not isinstance(a, Tracer):
        return _eigh_impl(a, UPLO=UPLO)
    _require_square("eigh", a)
    uplo = _check_uplo("eigh", UPLO)
    w, V = eigh_p.bind(_symmetric_from(a, lower=uplo == "L"), UPLO=uplo)
    return _EighResult(w, V)


@implements(np.linalg.eigvalsh)
def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """Differentiable ``numpy.linalg.eigvalsh``: the eigenvalues (ascending) of symmetric
    matrices, reading one triangle as :func:`eigh` does.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        array([1., 3.])
    """
    if not isinstance(a, Tracer):
        return _lapack("eigvalsh", np.linalg.eigvalsh)(a, UPLO=UPLO)
    _require_square("eigvalsh", a)
    return eigh(a, UPLO)[0]


# ----------------------------------------------------------------------------- svd

_svd_impl = _lapack("svd", np.linalg.svd, square=False)
svd_p = new_primitive("linalg.svd", lambda a: tuple(_svd_impl(a, full_matrices=False)),
                      multiple_results=True)


def _svd_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    U, s, Vh = ans
    V = _H(Vh)
    m, n = shape_of(args[0])[-2:]
    dP = _H(U) @ t @ V
    s_row, s_col = expand_dims(s, -2), expand_dims(s, -1)
    F = _gaps(s * s)
    dPS = dP * s_row  # dP @ diag(s)
    SdP = s_col * dP  # diag(s) @ dP
    dU = U @ (F * (dPS + _H(dPS)))
    dV = V @ (F * (SdP + _H(SdP)))
    if _is_complex(dP):
        # gauge: a common phase of u_i and v_i is free; V^H dV gets a zero diagonal and
        # U^H dU the diagonal i Im(dP_ii) / s_i
        dU = dU + U * expand_dims(_imag_part(_diagonal(dP)) * _inverse_or_nan(s), -2)
    if m > n:
        tV = t @ V
        dU = dU + (tV - U @ (_H(U) @ tV)) * _inverse_or_nan(s_row)
    if n > m:
        tU = _H(t) @ U
        dV = dV + (tU - V @ (_H(V) @ tU)) * _inverse_or_nan(s_row)
    return dU, real(_diagonal(dP)), _H(dV)


def _svd_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    # the adjoint of the JVP for the inner product Re tr(X^H Y), taken between conjugates
    # (the pairing Re(sum(g * t)) has no conjugation): GU = conj(gU), GV = gVh^T
    gU, gs, gVh = g
    U, s, Vh = ans
    m, n = shape_of(args[0])[-2:]
    inner = _diag(gs)
    s_row = expand_dims(s, -2)
    GU = _conj(gU)
    if not (_is_zero(gU) and _is_zero(gVh)):
        F = _gaps(s * s)
        UG = _H(U) @ GU
        J = F * UG
        K = F * (Vh @ _mT(gVh))  # V^H GV
        inner = inner + (J + _H(J)) * s_row + expand_dims(s, -1) * (K + _H(K))
        if _is_complex(UG):  # the adjoint of the phase term of the JVP
            inner = inner + _diag(_imag_part(_diagonal(UG)) * _inverse_or_nan(s))
    ga = U @ inner @ Vh
    if m > n and not _is_zero(gU):
        GU_s = GU * _inverse_or_nan(s_row)
        ga = ga + (GU_s - U @ (_H(U) @ GU_s)) @ Vh
    if n > m and not _is_zero(gVh):
        GVh = _conj(gVh)
        ga = ga + (U * _inverse_or_nan(s_row)) @ (GVh - (GVh @ _H(Vh)) @ Vh)
    return (_conj(ga),)


defjvp_joint(svd_p, _svd_jvp)
defvjp_joint(svd_p, _svd_vjp)
defbatch(svd_p, batch_stacked(svd_p))


# The largest singular value s with its singular vectors u, v (a u = s v... a v = s u,
# a^H u = s v): smooth wherever s is simple and positive, whatever the other singular values
# (ties among them, zeros: rank-deficient matrices), unlike the full SVD's derivatives,
# which couple every pair through 1 / (s_i^2 - s_j^2). The vectors are the eigenvector
# z = [u; v] / sqrt(2) of H = [[0, a], [a^H, 0]] for its eigenvalue s, so their derivative
# solves (s I - H) dz = (dH - ds) z on the complement of z: the matrix
# M = s I - H + z z^H is invertible there (its other eigenvalues are s -/+ s_j, s + s and 1).
# The gauge (u and v share a free phase): u^H du + v^H dv = 0.

def _top_pair_impl(a: Any) -> tuple:
    U, s, Vh = _svd_impl(a, full_matrices=False)
    return s[..., 0], U[..., :, 0], np.conj(Vh[..., 0, :])


top_pair_p = new_primitive("linalg.top_singular_pair", _top_pair_impl, multiple_results=True)


def _top_system(a: Any, s: Any, u: Any, v: Any) -> Any:
    """``M = s I - [[0, a], [a^H, 0]] + z z^H`` with ``z = [u; v] / sqrt(2)``, by blocks (no
    constant block of zeros: under Dask it would be a data-sized NumPy array in the graph)."""
    m, n = shape_of(a)[-2:]
    ss = _as_matrix(s)
    cu, cv = _conj(u), _conj(v)
    top = concatenate([ss * _eye(m, a) + _outer(u, cu) * 0.5, _outer(u, cv) * 0.5 - a], axis=-1)
    bottom = concatenate([_outer(v, cu) * 0.5 - _H(a), ss * _eye(n, a) + _outer(v, cv) * 0.5],
                         axis=-1)
    return concatenate([top, bottom], axis=-2)


def _matvec(a: Any, x: Any) -> Any:
    return getitem(a @ expand_dims(x, -1), (Ellipsis, 0))


def _top_pair_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    s, u, v = ans
    (a,) = args
    m = shape_of(a)[-2]
    tv, tHu = _matvec(t, v), _matvec(_H(t), u)
    ds = real(_sum(_conj(u) * tv, axis=-1))
    dss = expand_dims(ds, -1)
    r = concatenate([tv - dss * u, tHu - dss * v], axis=-1)
    w = _matvec_solve(_top_system(a, s, u, v), r)
    return ds, getitem(w, (Ellipsis, slice(None, m))), getitem(w, (Ellipsis, slice(m, None)))


def _matvec_solve(M: Any, r: Any) -> Any:
    return getitem(solve_p.bind(M, expand_dims(r, -1)), (Ellipsis, 0))


def _outer(x: Any, y: Any) -> Any:
    return expand_dims(x, -1) * expand_dims(y, -2)


def _top_pair_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    # the adjoint of the JVP for the pairing Re(sum(g * t)): with G = conj(g), the cotangent
    # of a is conj(lu) v^T + conj(u) lv^T + (gs - Re(lu^H u + lv^H v)) conj(u) v^T, where
    # l = [lu; lv] = M^-1 [conj(gu); conj(gv)] (M is Hermitian)
    gs, gu, gv = g
    s, u, v = ans
    (a,) = args
    m = shape_of(a)[-2]
    coef = gs
    ga = None
    if not (_is_zero(gu) and _is_zero(gv)):
        lam = _matvec_solve(_top_system(a, s, u, v), concatenate([_conj(gu), _conj(gv)], -1))
        lu = getitem(lam, (Ellipsis, slice(None, m)))
        lv = getitem(lam, (Ellipsis, slice(m, None)))
        c = real(_sum(_conj(lu) * u, axis=-1) + _sum(_conj(lv) * v, axis=-1))
        coef = coef - c
        ga = _outer(_conj(lu), v) + _outer(_conj(u), lv)
    main = _outer(_conj(u), v) * _as_matrix(coef)
    return (main if ga is None else ga + main,)


defjvp_joint(top_pair_p, _top_pair_jvp)
defvjp_joint(top_pair_p, _top_pair_vjp)
defbatch(top_pair_p, batch_stacked(top_pair_p))


@implements(np.linalg.svd)
def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """Differentiable ``numpy.linalg.svd``: ``(U, S, Vh)`` with ``a == U @ diag(S) @ Vh``,
    or the singular values alone with ``compute_uv=False``.

    Derivatives assume distinct singular values (and nonzero ones for the extra columns of
    a rectangular matrix). Singular vectors are defined up to sign (up to a phase shared by
    ``u_i`` and ``v_i`` for complex ``a``): differentiate functions that do not depend on
    it, such as ``U @ diag(f(S)) @ Vh``, ``abs(U)**2`` or ``S``. The gauge of the derivative:
    ``V^H dV`` has a zero diagonal (the module's docstring has the details). With
    ``full_matrices=True`` (NumPy's default) only square matrices are differentiable. On
    traced values ``hermitian`` is ignored: the general SVD gives the same singular values,
    and singular vectors that may differ from NumPy's hermitian ones in sign.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
        array([4., 3.])
    """
    if not isinstance(a, Tracer):
        return _svd_impl(a, full_matrices=full_matrices, compute_uv=compute_uv,
                         hermitian=hermitian)
    _require_matrix("svd", a)
    m, n = a.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"pullback.numpy.linalg.svd: full_matrices=True is not differentiable for argument "
            f"'a' of shape {a.shape} (the extra singular vectors are not unique): pass "
            "full_matrices=False"
        )
    U, s, Vh = svd_p.bind(a)
    return _SVDResult(U, s, Vh) if compute_uv else s


# ----------------------------------------------------------------------------- norm


def _safe_root(s: Any, p: float = 2.0) -> Any:
    """``s ** (1/p)`` for ``s >= 0``, with derivative 0 (not infinity) where ``s == 0``."""
    at_zero = equal(s, 0)
    safe = where(at_zero, 1.0, s)
    root = sqrt(safe) if p == 2.0 else power(safe, 1.0 / p)
    return where(at_zero, 0.0, root)


def _abs2(x: Any) -> Any:
    """``|x|**2`` entrywise, differentiable everywhere (``x * x`` for real ``x``)."""
    return real(x * conjugate(x)) if _is_complex(x) else x * x


def _extreme(x: Any, axis: int, keepdims: bool, largest: bool) -> Any:
    """``max`` (or ``min``) over one axis; tied entries share the derivative equally.

    Over an empty axis the max is 0 (NumPy's norms take the max with ``initial=0``) and the
    min an error, as NumPy's."""
    shape = shape_of(x)
    if shape[axis] == 0:
        if not largest:
            raise ValueError("pullback.numpy.linalg.norm: zero-size array to reduction "
                             f"operation minimum which has no identity (shape {shape}, axis "
                             f"{axis}), as NumPy's")
        return backends.zeros(_reduced(shape, (axis,), keepdims), _real_dtype(x), like=x)
    value = stop_gradient(x)
    best = (np.max if largest else np.min)(value, axis=axis, keepdims=True)
    hits = value == best
    count = np.sum(hits, axis=axis, keepdims=keepdims).astype(dtype_of(x))
    # a selection, not a product with 0/1 weights: entries that do not attain the extremum
    # get exactly 0, even from an infinite cotangent
    return _sum(where(hits, x, 0.0), axis=axis, keepdims=keepdims) / count


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _safe_root(_sum(_abs2(x), axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(
            f"pullback.numpy.linalg.norm: invalid norm order {ord!r} for vectors (argument "
            "'ord'); use a number, inf or -inf"
        )
    if ord == np.inf or ord == -np.inf:
        return _extreme(absolute(x), axis, keepdims, largest=ord > 0)
    if ord == 0:
        # the count of nonzero entries: piecewise constant, derivative 0

        value = stop_gradient(x)
        return np.sum(value != 0, axis=axis, keepdims=keepdims).astype(_real_dtype(x))
    if ord == 1:
        return _sum(absolute(x), axis=axis, keepdims=keepdims)
    ord = float(ord)
    return _safe_root(_sum(power(absolute(x), ord), axis=axis, keepdims=keepdims), ord)


def _reduced(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _keep_dims(out: Any, shape: tuple[int, ...], axes: tuple[int, int]) -> Any:
    return reshape(out, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if ord is None or ord == "fro":
        return _safe_root(_sum(_abs2(x), axis=axes, keepdims=keepdims))
    nd = len(shape_of(x))
    if ord in ("nuc", 2, -2):
        # singular values of the matrices moved to the last two axes; a zero matrix is
        # swapped for a constant one with distinct singular values before the svd and its
        # norm set to 0 after (so every derivative there is 0, not NaN)
        rest = tuple(i for i in range(nd) if i not in axes)
        y = transpose(x, rest + (row, col))
        m, n = shape_of(y)[-2:]
        if m == 0 or n == 0:  # no singular values: NumPy's max has initial=0, its min fails
            stack = shape_of(y)[:-2]
            if ord == -2 and 0 not in stack:
                raise ValueError("pullback.numpy.linalg.norm: zero-size array to reduction "
                                 f"operation minimum which has no identity (ord=-2, matrices "
                                 f"of shape {(m, n)}), as NumPy's")
            zeros = backends.zeros(stack, _real_dtype(x), like=x)
            return _keep_dims(zeros, shape_of(x), axes) if keepdims else zeros
        is_zero = equal(_sum(_abs2(y), axis=(-2, -1), keepdims=True), 0)
        stand_in = _constant(
            np.eye(m, n, dtype=dtype_of(y)) * np.arange(1, n + 1, dtype=dtype_of(y)), y)
        if ord == 2:
            # the largest singular value alone: smooth where it is simple (NaN-free second
            # and higher derivatives at rank-deficient matrices)
            out = top_pair_p.bind(where(is_zero, stand_in, y))[0]
        else:
            s = svd(where(is_zero, stand_in, y), compute_uv=False)
            # an exactly zero singular value contributes no derivative (the least-norm choice)
            s = where(equal(s, 0), 0.0, s)
            out = _sum(s, axis=-1) if ord == "nuc" else getitem(s, (Ellipsis, -1))
        out = where(reshape(is_zero, shape_of(out)), 0.0, out)
    elif ord in (1, -1, np.inf, -np.inf):
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = _sum(absolute(x), axis=summed, keepdims=True)
        out = _extreme(sums, other, keepdims=True, largest=ord > 0)
        out = reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if i not in axes))
    else:
        raise ValueError(
            f"pullback.numpy.linalg.norm: invalid norm order {ord!r} for matrices (argument "
            "'ord'); use None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf"
        )
    return _keep_dims(out, shape_of(x), axes) if keepdims else out


@implements(np.linalg.norm)
def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Any:
    """Differentiable ``numpy.linalg.norm``: vector norms (``ord`` a number, ``inf``,
    ``-inf``, ``0``), matrix norms (``"fro"``, ``"nuc"``, ``1``, ``-1``, ``2``, ``-2``, ``inf``,
    ``-inf``), over ``axis`` (an int or a pair) with ``keepdims``.

    At 0 the derivative is 0, not NaN (and so are the higher ones); ``ord=0`` counts the
    nonzero entries and has derivative 0. Ties of the max/min-based norms share the
    derivative equally. Complex ``x`` is supported (the norm is real).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> pb.grad(pnp.linalg.norm)(np.array([3.0, 4.0]))
        array([0.6, 0.8])
        >>> pb.grad(pnp.linalg.norm)(np.zeros(2))
        array([0., 0.])
    """
    if not isinstance(x, Tracer):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if dtype_of(x).kind not in "fc":
        raise TypeError(
            f"pullback.numpy.linalg.norm: argument 'x' of dtype {dtype_of(x)} is not supported "
            "on traced values; pass floating-point or complex arrays"
        )
    nd = x.ndim
    if axis is None:
        if ord is None:  # the 2-norm of all entries
            return _safe_root(_sum(_abs2(x), axis=tuple(range(nd)), keepdims=keepdims))
        if nd not in (1, 2):
            raise ValueError(
                f"pullback.numpy.linalg.norm: argument 'x' has {nd} dimensions: with ord="
                f"{ord!r} and axis=None it must be 1-d or 2-d; pass axis"
            )
        axes = tuple(range(nd))
    else:
        single = isinstance(axis, (int, np.integer))
        axes = (operator.index(axis),) if single else tuple(operator.index(a) for a in axis)
        # in the order given (row axis first); a repeated axis raises
        axes = normalize_axes(axes, nd, "pullback.numpy.linalg.norm", sort=False)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(
        f"pullback.numpy.linalg.norm: argument 'axis' must name 1 or 2 axes, got {axis!r}"
    )


# ----------------------------------------------------------------------------- matrix_power


@implements(np.linalg.matrix_power)
def matrix_power(a: Any, n: int) -> Any:
    """Differentiable ``numpy.linalg.matrix_power``: ``a`` multiplied by itself ``n`` times
    (``inv(a)`` for negative ``n``, the identity, a constant, for ``n == 0``).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
        array([[1., 3.],
               [0., 1.]])
    """
    if not isinstance(a, Tracer):
        return np.linalg.matrix_power(a, n)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            f"pullback.numpy.linalg.matrix_power: argument 'n' must be an integer, got "
            f"{type(n).__name__}"
        ) from None
    _require_square("matrix_power", a)
    if n == 0:
        # a constant, made in the library of ``a`` (so is its zero derivative)
        identity = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()
        return backends.asarray_like(identity, a)
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        out = a
        for _ in range(n - 1):
            out = out @ a
        return out
    result = square = None
    while n:  # binary powering, in NumPy's order of products
        square = a if square is None else square @ square
        n, bit = divmod(n, 2)
        if bit:
            result = square if result is None else result @ square
    return result


# ----------------------------------------------------------------------------- lstsq


def _lstsq_impl(a: Any, b: Any, rcond: Any) -> tuple:
    x, residuals, rank, s = _lapack("lstsq", np.linalg.lstsq, square=False)(a, b, rcond=rcond)
    return x, residuals, as_array(rank), s


lstsq_p = new_primitive("linalg.lstsq", _lstsq_impl, multiple_results=True)


def _columns(v: Any) -> Any:
    """A vector right-hand side or solution as a one-column matrix."""
    return expand_dims(v, -1) if len(shape_of(v)) == 1 else v


def _lstsq_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    ta, tb = tangents
    if ta is zero and tb is zero:
        return zero
    a, b = args
    x, residuals, _, s = ans
    vector = len(shape_of(b)) == 1
    P = pinv(a)
    X = _columns(x)
    # x = pinv(a) b
    dX = zero if ta is zero else _pinv_jvp_map(P, a, ta) @ _columns(b)
    if tb is not zero:
        dX = add_tangents(dX, P @ _columns(tb))
    dx = getitem(dX, (Ellipsis, 0)) if vector else dX
    dres = zero
    if shape_of(residuals)[-1]:
        # r = sum(|b - a x|^2, rows); a^H (b - a x) = 0 removes the dx term
        e = _columns(b) - a @ X
        de = zero if tb is zero else _columns(tb)
        if ta is not zero:
            de = add_tangents(de, -(ta @ X))
        dres = 2.0 * _sum(real(_conj(e) * de), axis=0)
    ds = zero
    if ta is not zero:
        U, _, Vh = svd_p.bind(a)
        ds = real(_diagonal(_H(U) @ ta @ _H(Vh)))
    return dx, dres, zero, ds


def _lstsq_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    # adjoints for the inner product Re tr(X^H Y), conjugated at the end (the pairing
    # Re(sum(g * t)) has no conjugation); for real matrices conj is the identity
    gx, gres, _, gs = g
    a, b = args
    x, residuals, _, s = ans
    ga, gb = zero, zero
    X, B = _columns(x), _columns(b)
    if not _is_zero(gx):
        P = pinv(a)
        GX = _conj(_columns(gx))
        if needs[0]:
            ga = _pinv_adjoint_map(P, a, GX @ _H(B))
        if needs[1]:
            gb = _H(P) @ GX
    if shape_of(residuals)[-1] and not _is_zero(gres):
        ge = 2.0 * (B - a @ X) * gres  # broadcast over the rows
        if needs[0]:
            ga = add_tangents(ga, -(ge @ _H(X)))
        if needs[1]:
            gb = add_tangents(gb, ge)
    if needs[0] and not _is_zero(gs):
        U, _, Vh = svd_p.bind(a)
        ga = add_tangents(ga, U @ _diag(gs) @ Vh)
    ga = ga if ga is zero else _conj(ga)
    gb = gb if gb is zero else _conj(gb)
    if gb is not zero and len(shape_of(b)) == 1:
        gb = getitem(gb, (Ellipsis, 0))
    return ga, gb


defjvp_joint(lstsq_p, _lstsq_jvp)
defvjp_joint(lstsq_p, _lstsq_vjp)
# NumPy's lstsq takes one matrix, and its residuals are empty or not depending on the rank
defbatch(lstsq_p, batch_by_looping(lstsq_p, "NumPy's lstsq solves one system at a time (its "
                                   "residuals' shape depends on the rank of each matrix)"))


@implements(np.linalg.lstsq)
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """Differentiable ``numpy.linalg.lstsq``: ``(x, residuals, rank, s)`` minimising
    ``|b - a @ x|``.

    ``x``, ``residuals`` and ``s`` are differentiable in ``a`` and ``b``; ``rank`` is an
    integer constant. Derivatives assume the rank of ``a`` is locally constant (full rank).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> x, res, rank, s = pnp.linalg.lstsq(np.array([[1.0], [1.0]]), np.array([1.0, 3.0]))
        >>> x, res, int(rank)
        (array([2.]), array([2.]), 1)
    """
    if not (isinstance(a, Tracer) or isinstance(b, Tracer)):
        return _lapack("lstsq", np.linalg.lstsq, square=False)(a, b, rcond=rcond)
    a, b = _promote_float(a, b)
    if len(shape_of(a)) != 2 or len(shape_of(b)) not in (1, 2):
        raise LinAlgError(
            f"pullback.numpy.linalg.lstsq: argument 'a' must be a matrix and 'b' a vector or "
            f"a matrix, got shapes {shape_of(a)} and {shape_of(b)}"
        )
    if shape_of(b)[0] != shape_of(a)[0]:
        raise LinAlgError(
            f"pullback.numpy.linalg.lstsq: argument 'b' has {shape_of(b)[0]} rows but 'a' has "
            f"{shape_of(a)[0]}: they must match"
        )

    x, residuals, rank, s = lstsq_p.bind(a, b, rcond=rcond)
    return x, residuals, stop_gradient(rank)[()], s


# ----------------------------------------------------------------------------- eig, eigvals
# A general square matrix A = V diag(w) V^-1. NumPy (LAPACK's geev) scales each eigenvector
# to unit norm with its largest component real: the derivatives keep both conventions, so
# they are those of NumPy's own outputs. The primitive is complex; the wrapper returns real
# arrays when every eigenvalue is real (NumPy's choice, which depends on the values: under
# jit and vmap it raises instead of guessing).

_EigResult = type(np.linalg.eig(np.eye(1)))
_eig_impl = _lapack("eig", np.linalg.eig)


def _eig_complex(a: Any) -> tuple:
    """NumPy's eigenvalues and eigenvectors, always complex (the primitive's dtype must not
    depend on the values; the wrapper returns real arrays where NumPy does)."""
    w, V = _eig_impl(a)
    dtype = np.result_type(w.dtype, np.complex64)
    return w.astype(dtype), V.astype(dtype)


def _real_spectrum(w: Any) -> np.ndarray:
    """Whether NumPy returns real arrays: every eigenvalue real (of a real matrix)."""
    if type(w) is not np.ndarray and _backends.foreign(w):
        if backends.is_dask(w):  # a dtype that depends on the values: known when computed
            raise backends.refuse("pullback.numpy.linalg.eig", "dask", "eig and eigvals")
        # an eager library (CuPy): the values are there, one boolean is read back
        return np.asarray(bool(np.all(w.imag == 0)))
    return np.asarray(bool(np.all(np.asarray(w).imag == 0)))


eig_p = new_primitive("linalg.eig", _eig_complex, multiple_results=True)


def _largest_component(V: Any) -> Any:
    """A constant mask (..., n, n): 1 at each column's largest entry (by modulus), the entry
    LAPACK makes real. Written with pullback's operations on ``stop_gradient(V)``, so that it
    is made in ``V``'s library (lazily for Dask) and batches under ``vmap``."""
    value = stop_gradient(V) if isinstance(V, Tracer) else V
    k = _argmax(absolute(value), axis=-2)
    rows = backends.arange(shape_of(V)[-2], np.intp, V)
    return astype(equal(expand_dims(rows, -1), expand_dims(k, -2)), _real_dtype(V))


def _eig_jvp(tangents: tuple, ans: tuple, args: tuple, params: dict) -> Any:
    (t,) = tangents
    if t is zero:
        return zero
    w, V = ans
    X = solve_p.bind(V, astype(t, result_dtype(t, V)) @ V)  # V^-1 dA V
    dw = _diagonal(X)
    dV = V @ (_gaps(w) * X)
    # unit norm: Re(v^H dv) = 0 for each column
    dV = dV - V * expand_dims(real(_diagonal(_H(V) @ dV)), -2)
    if _is_complex(V):
        # the largest component stays real: rotate each column's phase to keep Im = 0
        mask = _largest_component(V)
        theta = _sum(_imag_part(dV) * mask, axis=-2) / _sum(V * mask, axis=-2)
        dV = dV - V * expand_dims(theta, -2)
    return dw, dV


def _eig_vjp(g: tuple, ans: tuple, args: tuple, params: dict, needs: tuple) -> tuple:
    gw, gV = g
    w, V = ans
    a = args[0]
    gX = 0.0
    if not _is_zero(gV):
        if _is_complex(V):
            # the adjoint of dV -> dV - V theta(dV), theta = i Im(dV_k) / V_k on the mask
            mask = _largest_component(V)
            s = _sum(gV * V, axis=-2) / _sum(V * mask, axis=-2)  # (..., n)
            gV = gV - mask * expand_dims(_imag_part(s), -2)
        # the adjoint of dV -> dV - V Re(diag(V^H dV))
        r = real(_sum(gV * V, axis=-2))
        gV = gV - _conj(V) * expand_dims(r, -2)
        gX = _gaps(w) * (_mT(V) @ gV)
    if not _is_zero(gw):
        gX = gX + _diag(gw)
    # the adjoint of dA -> V^-1 dA V
    inv_V = inv(V)
    ga = _mT(inv_V) @ gX @ _mT(V)
    if not _is_complex(a):
        ga = real(ga) if _is_complex(ga) else ga
    return (ga,)


defjvp_joint(eig_p, _eig_jvp)
defvjp_joint(eig_p, _eig_vjp)
defbatch(eig_p, batch_stacked(eig_p))


@implements(np.linalg.eig)
def eig(a: Any) -> Any:
    """Differentiable ``numpy.linalg.eig``: eigenvalues and right eigenvectors of general
    square matrices, ``(eigenvalues, eigenvectors)``.

    The eigenvectors have NumPy's normalisation (unit norm, largest component real), and the
    derivatives are those of these outputs. They assume distinct eigenvalues (NaN at exact
    ties). Results are complex when some eigenvalue is, as in NumPy.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> pnp.linalg.eig(np.array([[2.0, 0.0], [0.0, 3.0]])).eigenvalues
        array([2., 3.])
        >>> a = np.array([[2.0, 1.0], [0.0, 3.0]])
        >>> pb.grad(lambda a: pnp.linalg.eig(a).eigenvalues[1])(a)  # u v^T / (u^T v)
        array([[0., 0.],
               [1., 1.]])
    """
    if not isinstance(a, Tracer):
        return _eig_impl(a)
    _require_square("eig", a)
    if dtype_of(a).kind not in "fc":
        a = astype(a, np.float64)
    w, V = eig_p.bind(a)
    if not _is_complex(a) and concrete(constant_call(_real_spectrum, w),
                                       "pullback.numpy.linalg.eig",
                                       "the dtype of the result (real when every eigenvalue "
                                       "is)"):
        w, V = real(w), real(V)
    return _EigResult(w, V)


@implements(np.linalg.eigvals)
def eigvals(a: Any) -> Any:
    """Differentiable ``numpy.linalg.eigvals``: the eigenvalues of general square matrices
    (as :func:`eig` computes them).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.eigvals(np.array([[0.0, -1.0], [1.0, 0.0]]))
        array([0.+1.j, 0.-1.j])
    """
    if not isinstance(a, Tracer):
        return _lapack("eigvals", np.linalg.eigvals)(a)
    return eig(a)[0]


# ----------------------------------------------------------------------------- the rest
# NumPy 2's array-API functions of numpy.linalg, and the remaining classic ones: composites
# of the products and of the functions above (their derivatives come from those).


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


@implements(np.linalg.matmul)
def matmul(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.linalg.matmul`` (``numpy.matmul`` without broadcasting
    options).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.matmul(np.eye(2), np.array([1.0, 2.0]))
        array([1., 2.])
    """
    if not _traced(x1, x2):
        return np.linalg.matmul(x1, x2)
    return _products.matmul(x1, x2)


@implements(np.linalg.outer)
def outer(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.linalg.outer`` (of two 1-d arrays).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.outer(np.array([1.0, 2.0]), np.array([3.0]))
        array([[3.],
               [6.]])
    """
    if not _traced(x1, x2):
        return np.linalg.outer(x1, x2)
    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ValueError(f"pullback.numpy.linalg.outer: both arguments must be 1-d, got shapes "
                         f"{shape_of(x1)} and {shape_of(x2)}")
    return _products.outer(x1, x2)


@implements(np.linalg.tensordot)
def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """Differentiable ``numpy.linalg.tensordot``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1).shape
        (2, 4)
    """
    if not _traced(x1, x2):
        return np.linalg.tensordot(x1, x2, axes=axes)
    return _products.tensordot(x1, x2, axes)


@implements(np.linalg.cross)
def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Differentiable ``numpy.linalg.cross`` (of 3-element vectors along ``axis``).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        array([0., 0., 1.])
    """
    if not _traced(x1, x2):
        return np.linalg.cross(x1, x2, axis=axis)
    if shape_of(x1)[axis] != 3 or shape_of(x2)[axis] != 3:
        raise ValueError(
            "pullback.numpy.linalg.cross: both input arrays must be (arrays of) 3-dimensional "
            f"vectors along axis {axis}, got shapes {shape_of(x1)} and {shape_of(x2)}")
    return _products.cross(x1, x2, axis=axis)


@implements(np.linalg.diagonal)
def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """Differentiable ``numpy.linalg.diagonal``: the diagonals of the last two axes.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.diagonal(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([1., 4.])
    """
    if not _traced(x):
        return np.linalg.diagonal(x, offset=offset)
    return _products.diagonal(x, offset=offset, axis1=-2, axis2=-1)


@implements(np.linalg.trace)
def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """Differentiable ``numpy.linalg.trace``: the traces over the last two axes.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.trace(np.array([[1.0, 2.0], [3.0, 4.0]]))
        np.float64(5.0)
    """
    if not _traced(x):
        return np.linalg.trace(x, offset=offset, dtype=dtype)
    out = _sum(_products.diagonal(x, offset=offset, axis1=-2, axis2=-1), axis=-1)
    return out if dtype is None else astype(out, dtype)


@implements(np.linalg.matrix_transpose)
def matrix_transpose(x: Any, /) -> Any:
    """Differentiable ``numpy.linalg.matrix_transpose``: the last two axes swapped.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.matrix_transpose(np.ones((2, 3))).shape
        (3, 2)
    """
    if not _traced(x):
        return np.linalg.matrix_transpose(x)
    if len(shape_of(x)) < 2:
        raise ValueError("pullback.numpy.linalg.matrix_transpose: the input must have at least "
                         f"2 dimensions, got shape {shape_of(x)}")
    return _mT(x)


@implements(np.linalg.vecdot)
def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Differentiable ``numpy.linalg.vecdot``: ``sum(conj(x1) * x2)`` along ``axis``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.vecdot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    if not _traced(x1, x2):
        return np.linalg.vecdot(x1, x2, axis=axis)
    return vecdot_core("linalg.vecdot", x1, x2, axis)


def vecdot_core(who: str, x1: Any, x2: Any, axis: int) -> Any:
    """``sum(conj(x1) * x2)`` over each operand's own ``axis``: NumPy's vecdot is a gufunc
    with signature (n),(n)->(), so ``axis`` picks the contracted axis in each operand before
    the other axes broadcast, and that axis does not broadcast (its lengths must agree)."""
    moved = []
    for x in (x1, x2):
        x = x if isinstance(x, Tracer) else np.asarray(x)
        nd = len(shape_of(x))
        if nd == 0:
            raise ValueError(f"pullback.numpy.{who}: the operands must have at least one "
                             f"dimension, got shapes {shape_of(x1)} and {shape_of(x2)}")
        if not -nd <= axis < nd:
            raise np.exceptions.AxisError(axis, nd, f"pullback.numpy.{who}")
        a = axis % nd
        perm = tuple(i for i in range(nd) if i != a) + (a,)
        moved.append(x if a == nd - 1 else transpose(x, perm))
    a1, a2 = moved
    if shape_of(a1)[-1] != shape_of(a2)[-1]:
        raise ValueError(
            f"pullback.numpy.{who}: the operands' axis {axis} must have one length (it does "
            f"not broadcast), got shapes {shape_of(x1)} and {shape_of(x2)}")
    return _sum(_conj(a1) * a2, axis=-1)


@implements(np.linalg.multi_dot)
def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Any:
    """Differentiable ``numpy.linalg.multi_dot``: the product of the matrices, first and last
    possibly 1-d (NumPy chooses the cheapest order; the value is the same product).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.multi_dot([np.ones(2), np.eye(2), np.ones(2)])
        np.float64(2.0)
    """
    arrays = list(arrays)
    if not _traced(*arrays):
        return np.linalg.multi_dot(arrays, out=out)
    if out is not None:
        raise TypeError("pullback.numpy.linalg.multi_dot: out= is not supported on traced "
                        "values")
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    first_1d = len(shape_of(arrays[0])) == 1
    last_1d = len(shape_of(arrays[-1])) == 1
    mats = [a if isinstance(a, Tracer) or _backends.foreign(a) else np.asarray(a)
            for a in arrays]
    if first_1d:
        mats[0] = expand_dims(mats[0], 0)
    if last_1d:
        mats[-1] = expand_dims(mats[-1], -1)
    for i, m in enumerate(mats):
        if len(shape_of(m)) != 2:
            raise ValueError(f"{len(shape_of(m))}-dimensional array given. Array must be "
                             "two-dimensional")
        del i
    order = _chain_order([shape_of(m) for m in mats])
    result = _chain(mats, order, 0, len(mats) - 1)
    if first_1d and last_1d:
        return getitem(result, (0, 0))
    if first_1d:
        return getitem(result, 0)
    if last_1d:
        return getitem(result, (slice(None), 0))
    return result


def _chain_order(shapes: list) -> np.ndarray:
    """The optimal parenthesisation of a chain of matrix products (the classic dynamic
    programme, as NumPy's multi_dot uses)."""
    n = len(shapes)
    p = [shapes[0][0]] + [s[1] for s in shapes]
    m = np.zeros((n, n))
    s = np.zeros((n, n), dtype=int)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            m[i, j] = np.inf
            for k in range(i, j):
                cost = m[i, k] + m[k + 1, j] + p[i] * p[k + 1] * p[j + 1]
                if cost < m[i, j]:
                    m[i, j], s[i, j] = cost, k
    return s


def _chain(mats: list, order: np.ndarray, i: int, j: int) -> Any:
    if i == j:
        return mats[i]
    k = order[i, j]
    return _chain(mats, order, i, k) @ _chain(mats, order, k + 1, j)


@implements(np.linalg.svdvals)
def svdvals(x: Any, /) -> Any:
    """Differentiable ``numpy.linalg.svdvals``: the singular values (descending).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.svdvals(np.diag([1.0, 3.0]))
        array([3., 1.])
    """
    if not _traced(x):
        return np.linalg.svdvals(x)
    return svd(x, compute_uv=False)


@implements(np.linalg.vector_norm)
def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """Differentiable ``numpy.linalg.vector_norm`` (over one axis, several, or all).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.vector_norm(np.array([[3.0], [4.0]]))
        np.float64(5.0)
    """
    if not _traced(x):
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    shape = shape_of(x)
    nd = len(shape)
    axes = normalize_axes(axis, nd, "pullback.numpy.linalg.vector_norm")
    if dtype_of(x).kind not in "fc":
        x = astype(x, np.float64)
    rest = tuple(i for i in range(nd) if i not in axes)
    moved = transpose(x, rest + axes)
    flat = reshape(moved, tuple(shape[i] for i in rest) + (-1,) if axes else
                   tuple(shape[i] for i in rest) + (1,))
    out = norm(flat, ord=ord, axis=-1)
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return out


@implements(np.linalg.matrix_norm)
def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """Differentiable ``numpy.linalg.matrix_norm`` (over the last two axes).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.matrix_norm(np.array([[3.0, 0.0], [0.0, 4.0]]))
        np.float64(5.0)
    """
    if not _traced(x):
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


@implements(np.linalg.cond)
def cond(x: Any, p: Any = None) -> Any:
    """Differentiable ``numpy.linalg.cond``: the condition number in the norm ``p``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.cond(np.diag([1.0, 4.0]))
        np.float64(4.0)
    """
    if not _traced(x):
        return np.linalg.cond(x, p)
    if p is None or p == 2 or p == -2:
        s = svd(x, compute_uv=False)
        big, small = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        return big / small if p != -2 else small / big
    _require_square("cond", x)
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


@implements(np.linalg.tensorinv)
def tensorinv(a: Any, ind: int = 2) -> Any:
    """Differentiable ``numpy.linalg.tensorinv``: the inverse of ``a`` seen as a matrix (its
    first ``ind`` axes against the rest).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.tensorinv(np.eye(4).reshape(4, 2, 2), ind=1).shape
        (2, 2, 4)
    """
    if not _traced(a):
        return np.linalg.tensorinv(a, ind)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    old = shape_of(a)
    prod = int(np.prod(old[ind:]))
    inv_shape = old[ind:] + old[:ind]
    return reshape(inv(reshape(a, (prod, -1) if prod else (0, 0))), inv_shape)


@implements(np.linalg.tensorsolve)
def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """Differentiable ``numpy.linalg.tensorsolve``: ``x`` with ``tensordot(a, x, x.ndim) ==
    b``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.linalg.tensorsolve(np.eye(4).reshape(2, 2, 4), np.ones((2, 2))).shape
        (4,)
    """
    if not _traced(a, b):
        return np.linalg.tensorsolve(a, b, axes)
    nd = len(shape_of(a))
    if axes is not None:
        allaxes = list(range(nd))
        for k in axes:
            allaxes.remove(k)
            allaxes.insert(nd, k)
        a = transpose(a, tuple(allaxes))
    bshape = shape_of(b)
    old = shape_of(a)[-(nd - len(bshape)):]
    prod = int(np.prod(old))
    if int(np.prod(shape_of(a))) != prod ** 2:
        raise LinAlgError("Input arrays must satisfy the requirement prod(a.shape[b.ndim:]) "
                          "== prod(a.shape[:b.ndim])")
    b = b if isinstance(b, Tracer) or _backends.foreign(b) else np.asarray(b)
    x = solve(reshape(a, (prod, prod)), reshape(b, (prod,)))
    return reshape(x, old)


def _matrix_rank_impl(A: Any, *args: Any, **kwargs: Any) -> Any:
    """``np.linalg.matrix_rank``; of a Dask stack, matrix by matrix (each in one chunk)."""
    if type(A) is not np.ndarray and backends.is_dask(A):
        return _backends.linalg(np.linalg.matrix_rank, "pullback.numpy.linalg.matrix_rank", A,
                                *args, **kwargs)
    return np.linalg.matrix_rank(A, *args, **kwargs)


_matrix_rank = constant_function("linalg.matrix_rank", _matrix_rank_impl)


@implements(np.linalg.matrix_rank)
def matrix_rank(A: Any, *args: Any, **kwargs: Any) -> Any:
    """``numpy.linalg.matrix_rank``, without derivative: traced arguments are used as
    constants (the result is an integer).

    Below two dimensions NumPy returns a Python ``int``, which promotes weakly (``x * rank``
    stays float32 for a float32 ``x``); the traced rank does too, under ``jit`` and ``vmap``.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> x = np.array([1.0, 2.0], np.float32)
        >>> pb.jit(lambda x: x * pnp.linalg.matrix_rank(x))(x)
        array([1., 2.], dtype=float32)
    """
    out = _matrix_rank(A, *args, **kwargs)
    if isinstance(out, Tracer) and len(shape_of(A)) < 2:
        mark_weak(out, int)
    return out


matrix_rank.__pullback_kind__ = "constant"  # type: ignore[attr-defined]
