"""pullback.scipy.linalg: derivatives against closed forms and SciPy's own Fréchet
derivative (``expm_frechet``), in both modes and at second order; the triangles that are read;
complex matrices; errors; vmap and jit. The spec table (``tests/specs/scipy_linalg.py``)
checks every function against finite differences of SciPy's."""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

sla = pytest.importorskip("scipy.linalg")
from pullback.scipy import linalg as pla  # noqa: E402

RNG = np.random.default_rng(7)


def rand(*shape, complex_=False):
    x = RNG.standard_normal(shape)
    return x + 1j * RNG.standard_normal(shape) if complex_ else x


def wc(n, complex_=False):
    return rand(n, n, complex_=complex_) * 0.3 + 3.0 * np.eye(n)


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_expm_derivatives_are_scipys_frechet_derivative(complex_):
    a, e = rand(4, 4, complex_=complex_) * 0.5, rand(4, 4, complex_=complex_)
    _, want = sla.expm_frechet(a, e)
    np.testing.assert_allclose(pb.jvp(pla.expm, (a,), (e,))[1], want, rtol=1e-12)
    # reverse mode: <g, L(a, e)> = <L(a^T, g), e> (bilinear pairing, no conjugation)
    g = rand(4, 4, complex_=complex_)
    _, back = pb.vjp(pla.expm, a)
    np.testing.assert_allclose(np.sum(back(g)[0] * e), np.sum(g * want), rtol=1e-12)


def test_expm_second_order_is_the_derivative_of_the_frechet_derivative():
    # d/dt L(a + t f, e) at t = 0, by SciPy's expm_frechet and differences of it (Richardson)
    a, e, f = rand(3, 3) * 0.5, rand(3, 3), rand(3, 3)

    def L(t):
        return sla.expm_frechet(a + t * f, e)[1]

    h = 1e-3
    d1 = (L(h) - L(-h)) / (2 * h)
    d2 = (L(h / 2) - L(-h / 2)) / h
    want = (4 * d2 - d1) / 3
    fwd_fwd = pb.jvp(lambda m: pb.jvp(pla.expm, (m,), (e,))[1], (a,), (f,))[1]
    np.testing.assert_allclose(fwd_fwd, want, rtol=1e-8)
    # reverse over forward: the gradient of <w, L(a, e)> along f
    w = rand(3, 3)
    g = pb.grad(lambda m: pnp.sum(w * pb.jvp(pla.expm, (m,), (e,))[1]))(a)
    np.testing.assert_allclose(np.sum(g * f), np.sum(w * want), rtol=1e-8)


def test_sqrtm_and_logm_derivatives_solve_their_defining_equations():
    a, e = wc(4), rand(4, 4)
    s = pla.sqrtm(a)
    for ds in (pb.jvp(pla.sqrtm, (a,), (e,))[1], pb.jacrev(pla.sqrtm)(a).reshape(16, 16)
               @ e.ravel()):
        ds = np.reshape(ds, (4, 4))
        np.testing.assert_allclose(s @ ds + ds @ s, e, atol=1e-12)
    # expm(logm(a)) == a: the derivative of the composition is the identity, both modes
    np.testing.assert_allclose(pb.jvp(lambda m: pla.expm(pla.logm(m)), (a,), (e,))[1], e,
                               atol=1e-11)
    jac = pb.jacrev(lambda m: pla.expm(pla.logm(m)))(a).reshape(16, 16)
    np.testing.assert_allclose(jac, np.eye(16), atol=1e-11)
    # and of logm(expm(x)) for small x
    x = rand(3, 3) * 0.3
    np.testing.assert_allclose(pb.jacfwd(lambda m: pla.logm(pla.expm(m)))(x).reshape(9, 9),
                               np.eye(9), atol=1e-11)


def test_logm_of_a_real_matrix_with_negative_eigenvalues_is_complex_as_scipys():
    a = np.array([[-2.0, 0.3], [0.1, 1.5]])
    np.testing.assert_allclose(pla.logm(a), sla.logm(a), rtol=1e-12)
    e = rand(2, 2)
    # the tangent is complex; the real cotangent is the real part of the complex adjoint
    t = pb.jvp(pla.logm, (a,), (e,))[1]
    np.testing.assert_allclose(sla.expm_frechet(sla.logm(a), t)[1], e, atol=1e-10)
    g = pb.vjp(lambda m: pnp.real(pla.logm(m)), a)[1](np.ones((2, 2)))[0]
    assert g.dtype == np.float64
    np.testing.assert_allclose(np.sum(g * e), np.sum(np.real(t)), rtol=1e-10)


def test_solve_triangular_reads_one_triangle_and_agrees_with_the_inverse():
    a, b = wc(4), rand(4, 2)
    for lower, trans, unit in [(False, 0, False), (True, 1, False), (True, 0, True),
                               (False, 2, True)]:
        x = pla.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        t = np.tril(a) if lower else np.triu(a)
        if unit:
            t = t - np.diag(np.diag(t)) + np.eye(4)
        op = {0: t, 1: t.T, 2: t.conj().T}[trans]
        np.testing.assert_allclose(x, np.linalg.solve(op, b), rtol=1e-13)
        ga = pb.grad(lambda m, t=trans, lo=lower, u=unit: pnp.sum(pla.solve_triangular(
            m, b, trans=t, lower=lo, unit_diagonal=u) ** 2))(a)
        unread = np.triu(np.ones((4, 4)), 1) if lower else np.tril(np.ones((4, 4)), -1)
        if unit:
            unread = unread + np.eye(4)
        np.testing.assert_array_equal(ga[unread == 1], 0.0)
        # the read entries: d/dT |op(T)^-1 b|^2 in closed form
        X = np.linalg.solve(op, b)
        gop = -np.linalg.solve(op.T, 2 * X) @ X.T
        want = {0: gop, 1: gop.T, 2: gop.T}[trans] * (1 - unread)
        np.testing.assert_allclose(ga, want, rtol=1e-12, atol=1e-14)


def test_solve_triangular_complex_in_both_modes():
    a, b = wc(3, complex_=True), rand(3, 2, complex_=True)
    da, db = np.triu(rand(3, 3, complex_=True)), rand(3, 2, complex_=True)
    x = pla.solve_triangular(a, b, trans="C")
    A = np.triu(a).conj().T
    want = np.linalg.solve(A, db - da.conj().T @ x)
    np.testing.assert_allclose(pb.jvp(lambda m, v: pla.solve_triangular(m, v, trans="C"),
                                      (a, b), (da, db))[1], want, rtol=1e-12)
    # reverse mode: pullback's pairing Re(sum(g * t)) (conj(a) is not holomorphic)
    g = rand(3, 2, complex_=True)
    back = pb.vjp(lambda m, v: pla.solve_triangular(m, v, trans="C"), a, b)[1](g)
    np.testing.assert_allclose(np.real(np.sum(back[0] * da) + np.sum(back[1] * db)),
                               np.real(np.sum(g * want)), rtol=1e-12)


def test_lu_factor_tangents_reconstruct_the_tangent_of_a():
    a = wc(4)[RNG.permutation(4)]
    e = rand(4, 4)
    (lu, piv), (dlu, _) = pb.jvp(pla.lu_factor, (a,), (e,))
    P, L, U = sla.lu(a)
    np.testing.assert_allclose(lu, np.tril(L, -1) + U, rtol=1e-13)
    dL, dU = np.tril(dlu, -1), np.triu(dlu)
    np.testing.assert_allclose(P @ (dL @ U + L @ dU), e, atol=1e-12)
    # reverse mode is its transpose
    g = rand(4, 4)
    back = pb.vjp(lambda m: pla.lu_factor(m)[0], a)[1](g)[0]
    np.testing.assert_allclose(np.sum(back * e), np.sum(g * dlu), rtol=1e-12)


def test_generalised_eigenvalue_derivatives_are_the_closed_form():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    a = q @ np.diag([-2.0, 0.5, 3.0]) @ q.T
    c = rng.standard_normal((3, 3))
    b = c @ c.T / 3 + np.eye(3)
    w, v = sla.eigh(a, b)
    da, db = rand(3, 3), rand(3, 3)
    da, db = da + da.T, db + db.T
    # dw_i = v_i^T (da - w_i db) v_i, for b-normalised v
    want = np.array([v[:, i] @ (da - w[i] * db) @ v[:, i] for i in range(3)])
    got = pb.jvp(lambda m, n: pla.eigh(m, n, eigvals_only=True), (a, b), (da, db))[1]
    np.testing.assert_allclose(got, want, rtol=1e-11)
    g = pb.grad(lambda m, n: pnp.sum(pla.eigh(m, n, eigvals_only=True) * [1.0, 2.0, 3.0]),
                argnums=(0, 1))(a, b)
    np.testing.assert_allclose(np.sum(g[0] * da) + np.sum(g[1] * db), want @ [1.0, 2.0, 3.0],
                               rtol=1e-11)
    _, vv = pla.eigh(a, b)
    np.testing.assert_allclose(vv.T @ b @ vv, np.eye(3), atol=1e-13)


def test_sylvester_derivatives_satisfy_the_differentiated_equation():
    a, b, q = wc(3), wc(2), rand(3, 2)
    da, db, dq = rand(3, 3), rand(2, 2), rand(3, 2)
    x, dx = pb.jvp(pla.solve_sylvester, (a, b, q), (da, db, dq))
    np.testing.assert_allclose(a @ dx + dx @ b, dq - da @ x - x @ db, atol=1e-12)


def test_solve_with_assume_a_reads_what_scipy_reads():
    a, b = wc(3), rand(3)
    s = a + a.T
    lower_only = np.tril(s) + np.triu(rand(3, 3), 1) * 5  # garbage above the diagonal
    for kw in ({"assume_a": "sym", "lower": True}, {"assume_a": "pos", "lower": True}):
        np.testing.assert_allclose(pla.solve(lower_only, b, **kw), sla.solve(lower_only, b, **kw),
                                   rtol=1e-13)
        g = pb.grad(lambda m, kw=kw: pnp.sum(pla.solve(m, b, **kw)))(lower_only)
        np.testing.assert_array_equal(np.triu(g, 1), 0.0)


def test_errors_name_the_function():
    with pytest.raises(np.linalg.LinAlgError, match="sqrtm of a singular matrix"):
        pla.sqrtm(np.ones((3, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="logm of a singular matrix"):
        pb.grad(lambda m: pnp.sum(pla.logm(m)))(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"solve_triangular: 'b' of shape \(2,\)"):
        pla.solve_triangular(np.eye(3), np.ones(2))
    with pytest.raises(ValueError, match="unknown assume_a"):
        pla.solve(np.eye(2), np.ones(2), assume_a="orthogonal")
    with pytest.raises(ValueError, match=r"solve_sylvester: 'q' must be \(2, 3\)"):
        pla.solve_sylvester(np.eye(2), np.eye(3), np.ones((3, 2)))


def test_without_scipy_the_error_says_so(monkeypatch):
    monkeypatch.setattr(pla, "_sla", None)
    with pytest.raises(ImportError, match=r"pullback.scipy.linalg.expm computes its values "
                       "with SciPy, which is not installed"):
        pla.expm(np.eye(2))
    # compositions of pullback.numpy need no SciPy
    np.testing.assert_allclose(pla.cholesky(np.eye(2) * 4.0), 2.0 * np.eye(2))


def test_vmap_and_jit_agree_with_eager():
    a, b = np.stack([wc(3) for _ in range(4)]), rand(4, 3, 2)

    def f(m, v):
        x = pla.solve_triangular(m, v, lower=True) + pla.lu_solve(pla.lu_factor(m), v)
        return pla.expm(m * 0.1) @ x + pla.sqrtm(m) @ pla.solve_sylvester(m, m[:2, :2], v)

    eager = np.stack([f(a[i], b[i]) for i in range(4)])
    np.testing.assert_allclose(pb.vmap(f)(a, b), eager, rtol=1e-12)
    np.testing.assert_allclose(pb.jit(f)(a[0], b[0]), eager[0], rtol=1e-12)
    g = pb.grad(lambda m: pnp.sum(f(m, b[0])))
    np.testing.assert_allclose(pb.jit(g)(a[0]), g(a[0]), rtol=1e-12)
    np.testing.assert_allclose(pb.vmap(g)(a)[1], g(a[1]), rtol=1e-12)


_A_SHAPES = [(1, 1), (2, 2), (3, 2, 2), (1, 2, 2), (1, 1, 1), (3, 1, 1), (0, 0), (0, 2, 2)]
_B_SHAPES = [(), (1,), (2,), (2, 1), (2, 3), (3, 2), (1, 2), (3, 2, 1), (1, 1), (0,), (2, 0),
             (2, 2, 2), (0, 2, 1)]
_SOLVERS = {
    **{f"solve[{k}]": (lambda L, k=k: lambda a, b: L.solve(a, b, assume_a=k))
       for k in (None, "sym", "her", "pos", "diagonal", "upper triangular",
                 "lower triangular", "tridiagonal")},
    "solve[sym-lower]": lambda L: lambda a, b: L.solve(a, b, assume_a="sym", lower=True),
    "solve[transposed]": lambda L: lambda a, b: L.solve(a, b, transposed=True),
    "solve_triangular": lambda L: lambda a, b: L.solve_triangular(a, b),
    "solve_triangular[lower-unit-trans]": lambda L: lambda a, b: L.solve_triangular(
        a, b, trans=1, lower=True, unit_diagonal=True),
    "lu_solve": lambda L: lambda a, b: L.lu_solve(L.lu_factor(a), b),
    "lu_solve[trans]": lambda L: lambda a, b: L.lu_solve(L.lu_factor(a), b, trans=1),
    "cho_solve": lambda L: lambda a, b: L.cho_solve(L.cho_factor(a), b),
    "cho_solve[lower]": lambda L: lambda a, b: L.cho_solve(L.cho_factor(a, lower=True), b),
}


@pytest.mark.parametrize("name", list(_SOLVERS))
def test_solvers_read_shapes_as_scipy(name):
    # SciPy 1.17: a 1-d b is one vector, a b of two or more dimensions a stack of matrices,
    # stack axes broadcast; solve also takes a 0-d b (one entry) and divides any b by a 1 by 1
    # a. Every pair of shapes: the same result (shape, dtype, value) or both refuse (pullback
    # with a message naming the function)
    ours, theirs = _SOLVERS[name](pla), _SOLVERS[name](sla)
    rng = np.random.default_rng(16)
    agree = refused = 0
    for sa in _A_SHAPES:
        for sb in _B_SHAPES:
            m = rng.uniform(-0.3, 0.3, sa)
            a = m @ np.swapaxes(m, -1, -2) + 2.0 * np.eye(sa[-1])
            b = rng.standard_normal(sb)
            try:
                want = np.asarray(theirs(a, b))
            except (ValueError, IndexError, np.linalg.LinAlgError):
                with pytest.raises(ValueError, match=r"pullback\.scipy\.linalg\."):
                    ours(a, b)
                refused += 1
                continue
            got = np.asarray(ours(a, b))
            assert got.shape == want.shape and got.dtype == want.dtype, (sa, sb, got.shape,
                                                                         want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
            agree += 1
    assert agree and refused


def test_solve_tridiagonal_reads_three_diagonals():
    a, b = wc(4), rand(4)
    want = sla.solve(a, b, assume_a="tridiagonal")
    np.testing.assert_allclose(pla.solve(a, b, assume_a="tridiagonal"), want, rtol=1e-13)
    band = np.triu(np.tril(a, 1), -1)
    np.testing.assert_allclose(want, np.linalg.solve(band, b), rtol=1e-13)
    # the derivative for the entries off the band is 0
    g = pb.grad(lambda x: pla.solve(x, b, assume_a="tridiagonal").sum())(a)
    assert np.all(g[np.abs(np.subtract.outer(np.arange(4), np.arange(4))) > 1] == 0)


def test_solve_transposed_complex_is_refused_as_scipy():
    a, b = wc(2, complex_=True), rand(2)
    with pytest.raises(NotImplementedError):
        sla.solve(a, b, transposed=True)
    with pytest.raises(NotImplementedError, match="solve: transposed=True with a complex"):
        pla.solve(a, b, transposed=True)


_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int64, bool, np.complex64,
           np.complex128]


@pytest.mark.parametrize("name", ["solve", "solve[pos]", "solve[1x1]", "solve_triangular",
                                  "lu_solve", "cho_solve", "lu_factor", "cho_factor"])
def test_solvers_compute_in_scipys_precision(name):
    # solve: the arguments' result type, float64 if not inexact, single precision up to 32
    # bits (float16 too); the others: LAPACK's choice (bool, int8, float16 and float32 in
    # float32, so int8 with int8 is float32 there but float64 in solve)
    f = {"solve": lambda L, a, b: L.solve(a, b),
         "solve[pos]": lambda L, a, b: L.solve(a, b, assume_a="pos"),
         "solve[1x1]": lambda L, a, b: L.solve(a[:1, :1], b),
         "solve_triangular": lambda L, a, b: L.solve_triangular(a, b),
         "lu_solve": lambda L, a, b: L.lu_solve(L.lu_factor(a), b),
         "cho_solve": lambda L, a, b: L.cho_solve(L.cho_factor(a), b),
         "lu_factor": lambda L, a, b: L.lu_factor(a)[0],
         "cho_factor": lambda L, a, b: L.cho_factor(a)[0]}[name]
    for da in _DTYPES:
        for db in _DTYPES:
            a, b = (np.eye(2) * 2).astype(da), np.array([1.0, 3.0]).astype(db)
            want = np.asarray(f(sla, a, b))
            got = np.asarray(f(pla, a, b))
            assert got.dtype == want.dtype, (da, db, got.dtype, want.dtype)
            np.testing.assert_allclose(got, want, rtol=1e-6)
