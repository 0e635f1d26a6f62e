"""Conventions and errors of ``pullback.numpy.linalg`` and ``pullback.numpy.fft``.

The spec table (``tests/specs/linalg.py``, ``tests/specs/fft.py``) checks every function's
derivatives against finite differences in both modes to second order; here: the documented
conventions (norm at 0, the triangle that cholesky/eigh read, ties of eigenvalues, the
complex cotangent convention), closed forms at third order, dtypes, and error messages.
"""

from __future__ import annotations

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp

RNG_SEED = 20240531


def _rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _well(n: int = 3) -> np.ndarray:
    return np.eye(n) + 0.2 * _rng().uniform(-1, 1, (n, n))


def _spd(n: int = 3) -> np.ndarray:
    x = _rng().standard_normal((n, n))
    return x @ x.T + n * np.eye(n)


# ----------------------------------------------------------------------------- norm at 0

NORMS_AT_ZERO = [
    ((4,), {}),
    ((4,), {"ord": 2}),
    ((4,), {"ord": 1}),
    ((4,), {"ord": np.inf}),
    ((4,), {"ord": -np.inf}),
    ((4,), {"ord": 3}),
    ((4,), {"ord": 0}),
    ((3, 2), {}),
    ((3, 2), {"ord": "fro"}),
    ((3, 2), {"ord": "nuc"}),
    ((3, 2), {"ord": 2}),
    ((3, 2), {"ord": 1}),
    ((3, 2), {"ord": np.inf}),
    ((2, 3), {"axis": 1}),
    ((2, 3, 2), {"axis": (0, 2), "ord": "nuc", "keepdims": True}),
]


@pytest.mark.parametrize("shape,kwargs", NORMS_AT_ZERO, ids=str)
def test_norm_at_zero_has_zero_derivative(shape: tuple, kwargs: dict) -> None:
    x = np.zeros(shape)

    def f(x):
        return pnp.sum(pnp.linalg.norm(x, **kwargs))

    assert f(x) == 0.0
    g = pb.grad(f)(x)
    np.testing.assert_array_equal(g, np.zeros(shape))
    _, t = pb.jvp(f, (x,), (np.ones(shape),))
    assert t == 0.0
    # higher derivatives at 0 are 0 as well (no NaN from the square root)
    np.testing.assert_array_equal(pb.hessian(f)(x), np.zeros(shape + shape))


def test_norm_away_from_zero_is_unaffected_by_the_zero_guard() -> None:
    x = np.array([3.0, -4.0])
    np.testing.assert_allclose(pb.grad(pnp.linalg.norm)(x), [0.6, -0.8], rtol=1e-15)
    # the Hessian of |x| is (I - x x^T / |x|^2) / |x|
    want = (np.eye(2) - np.outer(x, x) / 25.0) / 5.0
    np.testing.assert_allclose(pb.hessian(pnp.linalg.norm)(x), want, rtol=1e-14, atol=1e-16)


def test_norm_ties_share_the_derivative() -> None:
    x = np.array([1.0, -3.0, 3.0])
    g = pb.grad(lambda x: pnp.linalg.norm(x, ord=np.inf))(x)
    np.testing.assert_array_equal(g, [0.0, -0.5, 0.5])


def test_norm_rejects_bad_orders() -> None:
    with pytest.raises(ValueError, match="norm.*'fro'.*vectors"):
        pb.grad(lambda x: pnp.linalg.norm(x, ord="fro"))(np.ones(3))
    with pytest.raises(ValueError, match="norm.*matrices"):
        pb.grad(lambda x: pnp.linalg.norm(x, ord=3))(np.ones((2, 2)))


# ----------------------------------------------------------------------------- triangles


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_reads_one_triangle(upper: bool) -> None:
    a = _spd()
    w = _rng().standard_normal((3, 3))

    def f(a):
        return pnp.sum(pnp.linalg.cholesky(a, upper=upper) * w)

    g = pb.grad(f)(a)
    unread = np.triu(np.ones((3, 3)), 1) if not upper else np.tril(np.ones((3, 3)), -1)
    np.testing.assert_array_equal(g[unread == 1], 0.0)
    want = np.tensordot(w, oracle.jacobian(lambda a: np.linalg.cholesky(a, upper=upper), [a], 0),
                        axes=2)
    np.testing.assert_allclose(g, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigvalsh_reads_one_triangle(uplo: str) -> None:
    a = _spd()
    g = pb.grad(lambda a: pnp.sum(pnp.linalg.eigvalsh(a, UPLO=uplo) ** 2))(a)
    # sum(w^2) = trace(S^2) for the symmetric S read from one triangle
    keep = np.tril(np.ones((3, 3))) if uplo == "L" else np.triu(np.ones((3, 3)))
    want = 2 * a * keep + 2 * a * (keep - np.eye(3))
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_eigenvalue_derivatives_at_repeated_eigenvalues_are_finite() -> None:
    # the identity: every eigenvalue repeated; the eigenvalues' first derivatives need no
    # eigenvector coupling: d sum(w^2) = 2 tr(S dS), with S read from the lower triangle
    a = np.eye(3)
    g = pb.grad(lambda a: pnp.sum(pnp.linalg.eigvalsh(a) ** 2))(a)
    np.testing.assert_allclose(g, 2 * np.eye(3), rtol=1e-14, atol=1e-14)
    _, t = pb.jvp(lambda a: pnp.sum(pnp.linalg.eigvalsh(a) ** 2), (a,), (np.ones((3, 3)),))
    np.testing.assert_allclose(t, 6.0, rtol=1e-14)


def test_exactly_zero_singular_values() -> None:
    a = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # singular values exactly 2 and 0
    # the nuclear norm's derivative: u0 v0^T, no contribution from the zero singular value
    g = pb.grad(lambda a: pnp.linalg.norm(a, "nuc"))(a)
    np.testing.assert_array_equal(g, [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # singular values alone: first derivatives stay finite in both modes
    _, t = pb.jvp(lambda a: pnp.linalg.svd(a, compute_uv=False), (a,), (np.ones((3, 2)),))
    np.testing.assert_allclose(t, [1.0, 1.0], rtol=1e-15)


def test_vector_derivatives_at_repeated_values_are_nan_not_wrong() -> None:
    # at the identity the eigenvectors are not unique: their coupling is undefined (NaN)
    _, t = pb.jvp(lambda a: pnp.linalg.eigh(a)[1], (np.eye(3),), (np.ones((3, 3)),))
    assert np.isnan(t).any()


# ----------------------------------------------------------------------------- closed forms


def test_logdet_third_derivative_closed_form_all_modes() -> None:
    # d^3/dt^3 log|det(A + tV)| = 2 tr((A^-1 V)^3)
    a = _well()
    v = _rng().standard_normal((3, 3))
    m = np.linalg.solve(a, v)
    want = 2 * np.trace(m @ m @ m)

    def logdet(a):
        return pnp.linalg.slogdet(a)[1]

    def d1(a):
        return pb.jvp(logdet, (a,), (v,))[1]

    def d2(a):
        return pb.jvp(d1, (a,), (v,))[1]

    fwd3 = pb.jvp(d2, (a,), (v,))[1]
    rev3 = np.sum(pb.grad(d2)(a) * v)
    rev_rev = np.sum(pb.grad(lambda a: pnp.sum(pb.grad(lambda a: pnp.sum(
        pb.grad(logdet)(a) * v))(a) * v))(a) * v)
    for got in (fwd3, rev3, rev_rev):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_det_hessian_of_2x2_is_constant() -> None:
    # det [[a, b], [c, d]] = ad - bc
    h = pb.hessian(pnp.linalg.det)(_well(2))
    want = np.zeros((2, 2, 2, 2))
    want[0, 0, 1, 1] = want[1, 1, 0, 0] = 1.0
    want[0, 1, 1, 0] = want[1, 0, 0, 1] = -1.0
    np.testing.assert_allclose(h, want, atol=1e-14)


def test_inv_jacobians_agree_between_modes() -> None:
    a = _well()
    np.testing.assert_allclose(pb.jacfwd(pnp.linalg.inv)(a), pb.jacrev(pnp.linalg.inv)(a),
                               rtol=1e-13, atol=1e-15)
    ainv = np.linalg.inv(a)
    np.testing.assert_allclose(pb.jacrev(pnp.linalg.inv)(a),
                               -np.einsum("ik,lj->ijkl", ainv, ainv), rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- complex values


def test_complex_cotangents_follow_jax_convention() -> None:
    z = np.array(3.0 + 4.0j)
    # grad of a real function of z = x + iy is df/dx - i df/dy
    np.testing.assert_allclose(pb.vjp(pnp.abs, z)[1](np.array(1.0))[0], 0.6 - 0.8j, rtol=1e-15)
    assert pb.vjp(pnp.real, z)[1](np.array(1.0))[0] == 1.0 + 0.0j
    assert pb.vjp(pnp.imag, z)[1](np.array(1.0))[0] == -1.0j
    assert pb.vjp(pnp.conj, z)[1](np.array(2.0 + 1.0j))[0] == 2.0 - 1.0j
    # forward mode: d|z| along t is Re(conj(z) t) / |z|
    np.testing.assert_allclose(pb.jvp(pnp.abs, (z,), (np.array(1.0j),))[1], 0.8, rtol=1e-15)


def test_fft_parseval_gradient() -> None:
    x = _rng().standard_normal(6)
    # sum |fft(x)|^2 = n sum x^2
    g = pb.grad(lambda x: pnp.sum(pnp.abs(pnp.fft.fft(x)) ** 2))(x)
    np.testing.assert_allclose(g, 2 * 6 * x, rtol=1e-13)
    g = pb.grad(lambda x: pnp.sum(pnp.abs(pnp.fft.fft(x, norm="ortho")) ** 2))(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-13)


def test_irfft_ignores_imaginary_parts_it_does_not_read() -> None:
    # the zero-frequency and (even n) Nyquist terms' imaginary parts are not read
    w = _rng().standard_normal(6)

    def f(y):
        return pnp.sum(pnp.fft.irfft(np.ones(4) + 1j * y) * w)

    g = pb.grad(f)(np.zeros(4))
    assert abs(g[0]) < 1e-15 and abs(g[3]) < 1e-15  # zero up to rounding
    assert np.all(np.abs(g[1:3]) > 0.1)


def test_float32_stays_float32() -> None:
    a = _well().astype(np.float32)
    x = _rng().standard_normal(8).astype(np.float32)
    cases = [
        (lambda a: pnp.linalg.det(a), a),
        (lambda a: pnp.sum(pnp.linalg.inv(a)), a),
        (lambda a: pnp.sum(pnp.linalg.eigvalsh(a @ a.T) ** 2), a),
        (lambda a: pnp.linalg.norm(a, "nuc"), a),
        (lambda x: pnp.sum(pnp.abs(pnp.fft.rfft(x)) ** 2), x),
        (lambda x: pnp.sum(pnp.fft.irfft(pnp.fft.fft(x)[:5]) ** 2), x),
    ]
    for f, arg in cases:
        g32 = pb.grad(f)(arg)
        assert g32.dtype == np.float32
        g64 = pb.grad(f)(arg.astype(np.float64))
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- results


def test_named_results_and_constants() -> None:
    a = _well()

    def f(a):
        res = pnp.linalg.eigh(a @ a.T)
        q = pnp.linalg.qr(a)
        u = pnp.linalg.svd(a)
        sign, logdet = pnp.linalg.slogdet(a)
        assert isinstance(sign, np.ndarray | np.generic)  # a constant
        return pnp.sum(res.eigenvalues) + pnp.sum(q.R) + pnp.sum(u.S) + logdet

    pb.grad(f)(a)
    pb.jvp(f, (a,), (a,))


def test_lstsq_rank_is_an_integer_constant() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

    def f(a):
        x, res, rank, s = pnp.linalg.lstsq(a, np.array([1.0, 2.0, 4.0]))
        assert int(rank) == 2 and res.shape == (1,)
        return pnp.sum(x) + res[0]

    pb.grad(f)(a)

    def wide(b):  # underdetermined: the minimum-norm solution, no residuals
        x, res, rank, s = pnp.linalg.lstsq(a.T, b)
        assert res.shape == (0,) and int(rank) == 2
        return pnp.sum(x * x)

    b = np.array([1.0, 2.0])
    want = 2 * np.linalg.pinv(a.T).T @ np.linalg.pinv(a.T) @ b
    np.testing.assert_allclose(pb.grad(wide)(b), want, rtol=1e-13, atol=1e-15)


def test_matrix_power_zero_is_a_constant_identity() -> None:
    a = _well()
    g = pb.grad(lambda a: pnp.sum(pnp.linalg.matrix_power(a, 0) * a))(a)
    np.testing.assert_array_equal(g, np.eye(3))
    with pytest.raises(TypeError, match="matrix_power.*'n'.*integer"):
        pb.grad(lambda a: pnp.sum(pnp.linalg.matrix_power(a, 1.5)))(a)


# ----------------------------------------------------------------------------- errors

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("traced", [False, True], ids=["plain", "traced"])
@pytest.mark.parametrize(
    "name,call",
    [
        ("inv", lambda a: pnp.linalg.inv(a)),
        ("solve", lambda a: pnp.linalg.solve(a, np.ones(2))),
    ],
)
def test_singular_matrix_errors_name_function_and_argument(name, call, traced: bool) -> None:
    run = (lambda: pb.grad(lambda a: pnp.sum(call(a)))(SINGULAR)) if traced else (
        lambda: call(SINGULAR))
    with pytest.raises(np.linalg.LinAlgError, match=rf"linalg\.{name}: argument 'a' is a "
                       "singular matrix"):
        run()


def test_det_derivative_at_singular_matrix_raises() -> None:
    assert pnp.linalg.det(SINGULAR) == 0.0
    with pytest.raises(np.linalg.LinAlgError, match=r"linalg\.det: the derivative at a singular"):
        pb.grad(pnp.linalg.det)(SINGULAR)
    with pytest.raises(np.linalg.LinAlgError, match=r"linalg\.det: the derivative at a singular"):
        pb.jvp(pnp.linalg.det, (SINGULAR,), (np.ones((2, 2)),))


@pytest.mark.parametrize("traced", [False, True], ids=["plain", "traced"])
def test_cholesky_of_indefinite_matrix(traced: bool) -> None:
    a = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(np.linalg.LinAlgError, match=r"cholesky: argument 'a' is not positive "
                       "definite"):
        if traced:
            pb.grad(lambda a: pnp.sum(pnp.linalg.cholesky(a)))(a)
        else:
            pnp.linalg.cholesky(a)


@pytest.mark.parametrize("traced", [False, True], ids=["plain", "traced"])
@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh"])
def test_non_square_input_errors(name: str, traced: bool) -> None:
    func = getattr(pnp.linalg, name)
    a = np.ones((2, 3))

    def f(a):
        out = func(a)
        return pnp.sum(out[0] if isinstance(out, tuple) else out)

    with pytest.raises(np.linalg.LinAlgError, match=rf"{name}: argument 'a' must be a square "
                       r"matrix.*\(2, 3\)"):
        pb.grad(f)(a) if traced else f(a)


def test_one_dimensional_input_errors() -> None:
    with pytest.raises(np.linalg.LinAlgError, match=r"inv: argument 'a' must be a square.*\(3,\)"):
        pb.grad(lambda a: pnp.sum(pnp.linalg.inv(a)))(np.ones(3))
    with pytest.raises(np.linalg.LinAlgError, match=r"svd: argument 'a' must be a matrix"):
        pb.grad(lambda a: pnp.sum(pnp.linalg.svd(a, compute_uv=False)))(np.ones(3))


def test_undifferentiable_modes_say_what_to_use() -> None:
    a = np.ones((3, 2)) + np.eye(3, 2)
    with pytest.raises(NotImplementedError, match="svd: full_matrices=True.*full_matrices=False"):
        pb.grad(lambda a: pnp.sum(pnp.linalg.svd(a)[0]))(a)
    with pytest.raises(NotImplementedError, match="qr: mode='complete'.*mode='reduced'"):
        pb.grad(lambda a: pnp.sum(pnp.linalg.qr(a, mode="complete")[0]))(a)


def test_solve_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="solve: argument 'b' has 3 rows but 'a' is 2x2"):
        pb.grad(lambda b: pnp.sum(pnp.linalg.solve(np.eye(2), b)))(np.ones(3))


def test_fft_errors() -> None:
    x = np.ones(4)
    with pytest.raises(ValueError, match="fft.fft: invalid value 'bogus' for argument 'norm'"):
        pb.grad(lambda x: pnp.sum(pnp.real(pnp.fft.fft(x, norm="bogus"))))(x)
    with pytest.raises(ValueError, match="fft.fft: invalid number of data points 0"):
        pb.grad(lambda x: pnp.sum(pnp.real(pnp.fft.fft(x, n=0))))(x)
    with pytest.raises(TypeError, match="rfft: argument 'a' is complex"):
        pb.grad(lambda x: pnp.sum(pnp.real(pnp.fft.rfft(x * 1j))))(x)
    with pytest.raises(np.exceptions.AxisError, match="fft.fft: axis 2 is out of bounds"):
        pb.grad(lambda x: pnp.sum(pnp.real(pnp.fft.fft(x, axis=2))))(x)
