"""pullback.scipy.optimize: SciPy's solutions, differentiated by the implicit function theorem.

Oracles: closed forms (a quadratic's minimum A^-1 b, per-component roots), and central
differences of re-solved problems. The solvers run to tolerances near 1e-13, so a re-solved
solution is accurate to about 1e-13 / (smallest eigenvalue of J_x) ~ 1e-12; a central
difference with step h = 1e-5 then carries 1e-12 / 1e-5 = 1e-7 from the solver and
h**2 * x''' ~ 1e-10 from truncation: derivatives are compared to 1e-6 (relative to their
largest entry). Second derivatives are compared with differences of the first (checked
above), to 1e-5: the same solver noise divided by h on top of the first derivatives'.
"""

import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize as so

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import optimize as po

H = 1e-5


def fd(fun, p, h=H):
    """Central differences of ``fun`` (a re-solve) at ``p``: shape out.shape + p.shape."""
    p = np.asarray(p, np.float64)
    cols = []
    for i in range(p.size):
        e = np.zeros(p.size)
        e[i] = h
        e = e.reshape(p.shape)
        cols.append((np.asarray(fun(p + e)) - np.asarray(fun(p - e))).ravel() / (2 * h))
    out_shape = np.shape(fun(p))
    return np.stack(cols, -1).reshape(out_shape + p.shape)


def close(a, b, tol):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.abs(b).max()))
    err = float(np.abs(a - b).max()) / scale
    assert err < tol, f"off by {err:.3g} (relative), tolerance {tol:g}"


def both_modes(sol, p, tol=1e-6):
    """jacfwd and jacrev of the solution against central differences of re-solves."""
    expected = fd(sol, p)
    close(pb.jacfwd(sol)(p), expected, tol)
    close(pb.jacrev(sol)(p), expected, tol)


def second_order(sol, p, tol=1e-5):
    """The Hessian of sum(x*(p)**3), reverse over reverse and forward over reverse, against
    differences of its gradient."""
    loss = lambda q: pnp.sum(sol(q) ** 3)  # noqa: E731
    expected = fd(pb.grad(loss), p)
    close(pb.hessian(loss)(p), expected, tol)
    close(pb.jacrev(pb.grad(loss))(p), expected, tol)


# ----------------------------------------------------------------------------- minimize

def quartic(x, th):
    """sum(a x**4) / 4 + s |x|^2 / 2 - b.x: per component a x**3 + s x = b."""
    return pnp.sum(th["a"] * x ** 4) / 4 + 0.5 * th["s"] * pnp.sum(x ** 2) - th["b"] @ x


TH = {"a": np.array([1.0, 2.0, 0.5]), "s": 1.5, "b": np.array([1.0, -2.0, 0.3])}


def test_minimize_quadratic_closed_form_both_modes():
    # minimize 0.5 x^T A x - b^T x with A a parameter: x* = A_s^-1 b, A_s = (A + A^T) / 2;
    # dx*/db = A_s^-1, dx*/dA_ij = -A_s^-1 (E_ij + E_ji) / 2 x*
    rng = np.random.default_rng(0)
    S = rng.normal(size=(4, 4))
    A = S @ S.T + 4 * np.eye(4)
    b = rng.normal(size=4)
    quad = lambda x, A, b: 0.5 * x @ A @ x - b @ x  # noqa: E731
    sol = lambda A, b: po.minimize(quad, np.zeros(4), args=(A, b), method="trust-exact",  # noqa: E731
                                   tol=1e-14).x
    inv = np.linalg.inv(A)
    x = inv @ b
    np.testing.assert_allclose(sol(A, b), x, rtol=1e-12)
    dA = np.zeros((4, 4, 4))
    for i in range(4):
        for j in range(4):
            E = np.zeros((4, 4))
            E[i, j] = 1.0
            dA[:, i, j] = -inv @ ((E + E.T) / 2) @ x
    for jac in (pb.jacfwd, pb.jacrev):
        got_A, got_b = jac(sol, argnums=(0, 1))(A, b)
        np.testing.assert_allclose(got_b, inv, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got_A, dA, rtol=1e-12, atol=1e-14)
    # second order: x* is bilinear-free in b (linear), so d2 x*/db2 = 0, and
    # d/dA of dx*/db = d(A^-1) = -A^-1 dA A^-1 (symmetrised)
    hess_b = pb.jacfwd(pb.jacrev(lambda b: sol(A, b)))(b)
    np.testing.assert_allclose(hess_b, 0.0, atol=1e-12)


@pytest.mark.parametrize("method", [None, "BFGS", "trust-exact", "L-BFGS-B", "Nelder-Mead"])
def test_minimize_matches_closed_form_per_component(method):
    # a x**3 + s x = b per component: dx/db = 1 / (3 a x**2 + s)
    options = {"xatol": 1e-13, "fatol": 1e-15, "maxiter": 20000} if method == "Nelder-Mead" \
        else None
    tol = None if method == "Nelder-Mead" else 1e-12

    def sol(b):
        return po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},), method=method,
                           tol=tol, options=options).x

    x = np.asarray(sol(TH["b"]))
    exact = np.diag(1 / (3 * TH["a"] * x ** 2 + TH["s"]))
    # Nelder-Mead stops on the simplex size, about 1e-13 in x
    for jac in (pb.jacfwd, pb.jacrev):
        np.testing.assert_allclose(jac(sol)(TH["b"]), exact, atol=1e-9)


def test_minimize_pytree_args_against_differences():
    def sol_of(flat):
        th = {"a": flat[:3], "s": flat[3], "b": flat[4:]}
        return po.minimize(quartic, np.zeros(3), args=(th,), method="trust-exact",
                           tol=1e-14).x

    flat = np.concatenate([TH["a"], [TH["s"]], TH["b"]])
    both_modes(sol_of, flat)
    second_order(sol_of, flat)
    # the pytree itself as the differentiated argument
    g = pb.grad(lambda th: pnp.sum(po.minimize(quartic, np.zeros(3), args=(th,),
                                               method="trust-exact", tol=1e-12).x ** 2))(TH)
    g_flat = np.concatenate([g["a"], [g["s"]], g["b"]])
    close(g_flat, fd(lambda f: np.sum(np.asarray(sol_of(f)) ** 2), flat), 1e-6)


def test_minimize_fun_is_differentiable_envelope():
    # d/dp min_x f(x, p) = df/dp at x* (the envelope theorem): here d/db = -x*
    def best(b):
        return po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},),
                           method="trust-exact", tol=1e-12).fun

    x = np.asarray(po.minimize(quartic, np.zeros(3), args=(TH,), method="trust-exact",
                               tol=1e-14).x)
    np.testing.assert_allclose(pb.grad(best)(TH["b"]), -x, rtol=1e-10)


def test_minimize_jac_true_and_user_hessian_pass_on():
    def value_and_grad(x, th):
        return quartic(x, th), th["a"] * x ** 3 + th["s"] * x - th["b"]

    sol = lambda b: po.minimize(value_and_grad, np.zeros(3), args=({**TH, "b": b},),  # noqa: E731
                                jac=True, tol=1e-12).x
    x = np.asarray(sol(TH["b"]))
    np.testing.assert_allclose(pb.jacrev(sol)(TH["b"]),
                               np.diag(1 / (3 * TH["a"] * x ** 2 + TH["s"])), atol=1e-9)


def test_minimize_plain_arguments_give_scipys_result():
    def quartic_np(x, a, s, b):
        return np.sum(a * x ** 4) / 4 + 0.5 * s * np.sum(x ** 2) - b @ x

    def grad_np(x, a, s, b):
        return a * x ** 3 + s * x - b

    ours = po.minimize(lambda x, a, s, b: quartic(x, {"a": a, "s": s, "b": b}),
                       np.zeros(3), args=(TH["a"], TH["s"], TH["b"]), method="BFGS")
    theirs = so.minimize(quartic_np, np.zeros(3), args=(TH["a"], TH["s"], TH["b"]),
                         jac=grad_np, method="BFGS")
    assert isinstance(ours, so.OptimizeResult)
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-12)
    assert ours.nit == theirs.nit  # pullback's gradient was given to SciPy: the same steps


def test_minimize_under_vmap():
    B = np.stack([TH["b"], 0.5 * TH["b"], -TH["b"]])

    def sol(b):
        return po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},),
                           method="trust-exact", tol=1e-12).x

    got = pb.vmap(sol)(B)
    np.testing.assert_allclose(got, np.stack([np.asarray(sol(b)) for b in B]), rtol=1e-12)
    per_row = pb.vmap(pb.jacrev(sol))(B)
    for k, b in enumerate(B):
        np.testing.assert_allclose(per_row[k], pb.jacfwd(sol)(b), rtol=1e-12)


# ----------------------------------------------------------------------------- least_squares

T = np.linspace(0.0, 1.0, 5)
Y = np.array([1.0, 1.3, 1.9, 2.2, 3.5])  # far from an exponential: large residuals


#: SciPy's tightest tolerances: its trust-region methods then stop at a gradient near 1e-9
#: on these problems (the derivative is taken at that point: off by about 1e-9)
TIGHT = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15}


def exp_resid(x, t, y):
    return x[0] * pnp.exp(x[1] * t) - y


def _newton_polish(x, y):
    """The least-squares solution of the exponential model to machine precision: Newton's
    method on the cost with hand-written gradient and Hessian (an oracle independent of
    pullback and of SciPy's stopping rule, which for this non-zero-residual problem stops at
    a gradient of about 1e-9)."""
    x = np.array(x, np.float64)
    for _ in range(20):
        e = np.exp(x[1] * T)
        r = x[0] * e - y
        J = np.stack([e, x[0] * T * e], axis=1)
        g = J.T @ r
        Hs = J.T @ J + np.array([[0.0, np.sum(r * T * e)],
                                 [np.sum(r * T * e), np.sum(r * x[0] * T ** 2 * e)]])
        x = x - np.linalg.solve(Hs, g)
    return x


@pytest.mark.parametrize("method", ["trf", "lm", "dogbox"])
def test_least_squares_true_hessian_not_gauss_newton(method):
    def sol(y):
        return po.least_squares(exp_resid, np.array([1.0, 0.0]), args=(T, y),
                                method=method, **TIGHT).x

    def resolve(y):
        x = so.least_squares(lambda x: np.asarray(exp_resid(x, T, y)),
                             np.array([1.0, 0.0]), method="lm").x
        return _newton_polish(x, y)

    expected = fd(resolve, Y)
    close(pb.jacfwd(sol)(Y), expected, 1e-6)
    close(pb.jacrev(sol)(Y), expected, 1e-6)
    # Gauss-Newton's derivative (J^T J)^-1 J^T differs here by far more than the tolerance
    x = resolve(Y)
    e = np.exp(x[1] * T)
    J = np.stack([e, x[0] * T * e], axis=1)
    gauss_newton = np.linalg.solve(J.T @ J, J.T)
    assert np.abs(gauss_newton - expected).max() > 1e-3


def test_least_squares_second_order_and_fields():
    def sol(y):
        return po.least_squares(exp_resid, np.array([1.0, 0.0]), args=(T, y), method="lm").x

    def resolve(y):
        x = so.least_squares(lambda x: np.asarray(exp_resid(x, T, y)),
                             np.array([1.0, 0.0]), method="lm").x
        return _newton_polish(x, y)

    loss = lambda y: pnp.sum(sol(y) ** 3)  # noqa: E731
    expected = fd(pb.grad(loss), Y)
    close(pb.hessian(loss)(Y), expected, 1e-5)
    res = po.least_squares(exp_resid, np.array([1.0, 0.0]), args=(T, Y))
    traced = pb.grad(lambda y: po.least_squares(exp_resid, np.array([1.0, 0.0]),
                                                args=(T, y)).cost)(Y)
    # the envelope theorem: d cost / dy = -r(x*)
    np.testing.assert_allclose(traced, -np.asarray(exp_resid(resolve(Y), T, Y)), atol=1e-8)
    assert res.success


#: rho'(z) of SciPy's robust losses, by hand
RHO_PRIME = {"soft_l1": lambda z: 1 / np.sqrt(1 + z),
             "huber": lambda z: np.where(z <= 1, 1.0, 1 / np.sqrt(np.maximum(z, 1))),
             "cauchy": lambda z: 1 / (1 + z), "arctan": lambda z: 1 / (1 + z ** 2)}


@pytest.mark.parametrize("loss", sorted(RHO_PRIME))
def test_least_squares_robust_losses(loss):
    # the oracle re-solves the hand-written optimality condition of the robust cost
    # 0.5 sum rho(r**2): sum rho'(r_i**2) r_i grad r_i = 0, by MINPACK's hybrid method to
    # 1e-14 (its Jacobian by differences: only the speed depends on it)
    def sol(y):
        return po.least_squares(exp_resid, np.array([1.0, 0.0]), args=(T, y), loss=loss,
                                **TIGHT).x

    def resolve(y):
        def optimality(x):
            e = np.exp(x[1] * T)
            r = x[0] * e - y
            w = RHO_PRIME[loss](r ** 2) * r
            return np.array([np.sum(w * e), np.sum(w * x[0] * T * e)])

        start = so.least_squares(lambda x: np.asarray(exp_resid(x, T, y)),
                                 np.array([1.0, 0.0]), loss=loss).x
        out = so.root(optimality, start, method="hybr", tol=1e-14)
        assert np.abs(optimality(out.x)).max() < 1e-13
        return out.x

    expected = fd(resolve, Y)
    close(pb.jacfwd(sol)(Y), expected, 1e-6)
    close(pb.jacrev(sol)(Y), expected, 1e-6)


# ----------------------------------------------------------------------------- root

M = np.array([[2.0, 0.3, 0.0], [0.1, 1.5, 0.2], [0.0, 0.4, 1.0]])
B0 = np.array([1.0, -0.5, 2.0])


def cubic(x, M, b):
    return M @ x + x ** 3 - b


@pytest.mark.parametrize("method", ["hybr", "lm", "broyden1"])
def test_root_against_differences(method):
    options = {"fatol": 1e-13} if method == "broyden1" else None
    tol = None if method == "broyden1" else 1e-13

    def sol_b(b):
        return po.root(cubic, np.zeros(3), args=(M, b), method=method, tol=tol,
                       options=options).x

    def sol_m(m):
        return po.root(cubic, np.zeros(3), args=(m.reshape(3, 3), B0), method=method,
                       tol=tol, options=options).x

    both_modes(sol_b, B0)
    both_modes(sol_m, M.ravel())
    second_order(sol_b, B0)


def test_root_matrix_shaped_unknown():
    # x of shape (2, 2): x @ x = P has the root sqrt(P); d sqrt(P) solves the Sylvester
    # equation X dX + dX X = dP
    P = np.array([[4.0, 1.0], [1.0, 3.0]])
    sol = lambda P: po.root(lambda x, P: x @ x - P, np.eye(2), args=(P,), tol=1e-12).x  # noqa: E731
    X = np.asarray(sol(P))
    np.testing.assert_allclose(X @ X, P, atol=1e-12)
    dP = np.array([[0.3, -0.2], [0.5, 0.1]])
    _, dX = pb.jvp(sol, (P,), (dP,))
    np.testing.assert_allclose(X @ dX + dX @ X, dP, atol=1e-12)
    both_modes(sol, P)


# ----------------------------------------------------------------------------- root_scalar

def kepler_like(x, a):
    return x ** 3 + x - a[0] * pnp.exp(-x)


@pytest.mark.parametrize("kw", [{"bracket": (-10.0, 10.0)}, {"x0": 1.0},
                                {"x0": 1.0, "method": "halley"},
                                {"x0": 1.0, "x1": 2.0, "method": "secant"}],
                         ids=["brentq", "newton", "halley", "secant"])
def test_root_scalar_against_closed_form_and_differences(kw):
    a = np.array([2.0])

    def sol(a):
        return po.root_scalar(kepler_like, args=(a,), xtol=1e-14, **kw).root

    x = float(np.asarray(sol(a)))
    # dx/da = e^-x / (3 x**2 + 1 + a e^-x)
    exact = np.exp(-x) / (3 * x ** 2 + 1 + a[0] * np.exp(-x))
    np.testing.assert_allclose(pb.grad(sol)(a), [exact], rtol=1e-12)
    np.testing.assert_allclose(pb.jacfwd(sol)(a), [exact], rtol=1e-12)
    both_modes(sol, a)
    second_order(sol, a)


def test_root_scalar_traced_bracket_is_not_differentiated():
    # the bracket (0, a) moves with a, the root sqrt(a) does not depend on it: d/da = 1/(2x)
    def sol(a):
        return po.root_scalar(lambda x, a: x * x - a, args=(a,), bracket=(0.0, a),
                              xtol=1e-14).root

    np.testing.assert_allclose(pb.grad(sol)(4.0), 0.25, rtol=1e-12)
    np.testing.assert_allclose(pb.jvp(sol, (4.0,), (1.0,))[1], 0.25, rtol=1e-12)


@pytest.mark.parametrize("method", ["newton", "secant", "halley"])
def test_root_scalar_one_entry_array_value_takes_scipys_shape(method):
    # f(x, p) = x**3 + x - p with p of shape (1, 1): SciPy's Newton, secant and Halley steps
    # broadcast the root with f's value, so the root has shape (1, 1) (fuzz seed 3000202)
    def cubic(x, p):
        return x ** 3 + x - p

    kw = {"x0": 0.0, "x1": 1.0} if method == "secant" else {"x0": 0.0}
    if method != "secant":
        kw.update(fprime=lambda x, p: 3 * x * x + 1)
    if method == "halley":
        kw.update(fprime2=lambda x, p: 6 * x)
    p = np.array([[0.3]])
    want = so.root_scalar(cubic, args=(p,), method=method, xtol=1e-15, **kw).root

    def sol(p):
        return po.root_scalar(cubic, args=(p,), method=method, xtol=1e-15, **kw).root

    got = sol(p)
    assert np.shape(got) == np.shape(want) == (1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    exact = 1 / (3 * want ** 2 + 1)  # dx/dp by the implicit function theorem
    np.testing.assert_allclose(pb.grad(lambda p: pnp.sum(sol(p)))(p), exact, rtol=1e-12)
    np.testing.assert_allclose(pb.jvp(sol, (p,), (np.ones_like(p),))[1], exact, rtol=1e-12)
    np.testing.assert_allclose(pb.jit(sol)(p), want, rtol=1e-14)
    both_modes(sol, p)


def test_root_scalar_refuses_several_equations():
    with pytest.raises(ValueError, match=r"root_scalar: f returned an array of shape \(2,\).*"
                                         r"optimize\.root"):
        po.root_scalar(lambda x, p: x - p, args=(np.array([1.0, 2.0]),), x0=0.0)


# ----------------------------------------------------------------------------- fixed_point

@pytest.mark.parametrize("method", ["del2", "iteration"])
def test_fixed_point_against_closed_form_and_differences(method):
    a = np.array([1.0, 0.5, 1.2])

    def sol(a):
        return po.fixed_point(lambda x, a: pnp.cos(a * x), np.full(3, 0.5), args=(a,),
                              xtol=1e-14, method=method, maxiter=5000)

    x = np.asarray(sol(a))
    np.testing.assert_allclose(x, np.cos(a * x), atol=1e-13)
    # x = cos(a x): dx/da = -x sin(a x) / (1 + a sin(a x))
    exact = np.diag(-x * np.sin(a * x) / (1 + a * np.sin(a * x)))
    np.testing.assert_allclose(pb.jacrev(sol)(a), exact, atol=1e-12)
    both_modes(sol, a)
    second_order(sol, a)


# ----------------------------------------------------------------------------- errors

def test_no_convergence_raises_rather_than_differentiating():
    with pytest.raises(po.OptimizeError, match=r"minimize: SciPy's solver did not converge "
                                               r"\(Maximum number of iterations has been "
                                               r"exceeded; the largest entry of the gradient "
                                               r"there is \d"):
        pb.grad(lambda b: po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},),
                                      method="BFGS", options={"maxiter": 1}).x[0])(TH["b"])
    with pytest.raises(po.OptimizeError, match=r"root: SciPy's solver did not converge .*"
                                               r"the largest entry of the residual there"):
        pb.jacfwd(lambda b: po.root(cubic, np.zeros(3), args=(M, b),
                                    options={"maxfev": 2}).x)(B0)
    with pytest.raises(po.OptimizeError, match="fixed_point: SciPy's solver did not converge"):
        pb.grad(lambda a: po.fixed_point(lambda x, a: pnp.cos(a * x), np.array([0.5]),
                                         args=(a,), maxiter=2)[0])(1.0)
    # plain values: SciPy's own behaviour (a result with success False)
    assert not po.minimize(quartic, np.zeros(3), args=(TH,), method="BFGS",
                           options={"maxiter": 1}).success


def test_singular_hessian_raises():
    # f depends on x0 + x1 only: a valley of minima, the Hessian is singular
    valley = lambda x, p: (x[0] + x[1] - p) ** 2  # noqa: E731
    with pytest.raises(po.OptimizeError, match=r"minimize: the Hessian with respect to x at "
                                               r"the solution is singular"):
        pb.grad(lambda p: po.minimize(valley, np.zeros(2), args=(p,)).x[0])(1.0)
    with pytest.raises(po.OptimizeError, match=r"root: the Jacobian .* is singular"):
        pb.jacfwd(lambda p: po.root(lambda x, p: x ** 2 - p, np.array([0.0]), args=(p,),
                                    method="lm").x)(np.array([0.0]))


def test_active_bound_raises_and_inactive_bound_differentiates():
    sol = lambda b, lo: po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},),  # noqa: E731
                                    bounds=[(lo, None)] * 3, tol=1e-12).x
    with pytest.raises(po.OptimizeError, match=r"the solution is on a bound \(entries \[1\]\)"):
        pb.jacrev(lambda b: sol(b, 0.0))(TH["b"])
    x = np.asarray(sol(TH["b"], -10.0))
    np.testing.assert_allclose(pb.jacrev(lambda b: sol(b, -10.0))(TH["b"]),
                               np.diag(1 / (3 * TH["a"] * x ** 2 + TH["s"])), atol=1e-8)


def test_unsupported_options_when_differentiating():
    with pytest.raises(NotImplementedError, match="constraints are not supported"):
        pb.grad(lambda b: po.minimize(
            quartic, np.zeros(3), args=({**TH, "b": b},),
            constraints=[{"type": "eq", "fun": lambda x, th: x[0]}]).x[0])(TH["b"])
    with pytest.raises(NotImplementedError, match="a callable loss is not supported"):
        pb.grad(lambda y: po.least_squares(exp_resid, np.array([1.0, 0.0]), args=(T, y),
                                           loss=lambda z: np.stack([z, 0 * z + 1, 0 * z])
                                           ).x[0])(Y)


def test_a_function_closing_over_a_traced_value():
    # the closure gives the derivative the argument gives
    def by_closure(b):
        return po.minimize(lambda x: quartic(x, {**TH, "b": b}), np.zeros(3), tol=1e-12).x

    def by_args(b):
        return po.minimize(quartic, np.zeros(3), args=({**TH, "b": b},), tol=1e-12).x

    np.testing.assert_allclose(pb.jacrev(by_closure)(TH["b"]), pb.jacrev(by_args)(TH["b"]),
                               rtol=1e-12, atol=1e-14)
    # closed forms: the root of x**3 = a is a**(1/3), the fixed point of x = a is a
    a = 8.0
    root = lambda a: po.root(lambda x: x ** 3 - a, np.array([1.0])).x[0]  # noqa: E731
    assert float(pb.grad(root)(a)) == pytest.approx(a ** (-2 / 3) / 3, rel=1e-10)
    assert float(pb.jacfwd(root)(a)) == pytest.approx(a ** (-2 / 3) / 3, rel=1e-10)
    assert float(pb.hessian(root)(a)) == pytest.approx(-2 / 9 * a ** (-5 / 3), rel=1e-8)
    scalar = lambda a: po.root_scalar(lambda x: x * x - a, bracket=(0.0, 3.0)).root  # noqa: E731
    assert float(pb.grad(scalar)(4.0)) == pytest.approx(0.25, rel=1e-10)
    point = lambda a: po.fixed_point(lambda x: 0.5 * (x + a), np.array([1.0]))[0]  # noqa: E731
    assert float(pb.grad(point)(3.0)) == pytest.approx(1.0, rel=1e-8)
    line = lambda y: po.least_squares(lambda x: x[0] + x[1] * T - y, np.zeros(2)).x  # noqa: E731
    np.testing.assert_allclose(pb.jacrev(line)(Y), np.linalg.pinv(np.stack([T * 0 + 1, T], 1)),
                               rtol=1e-9, atol=1e-12)
    # a scalar x0 (minimize works on a vector of one entry)
    one = lambda a: po.minimize(lambda x: pnp.sum((x - a) ** 2), 0.0).x[0]  # noqa: E731
    assert float(pb.grad(one)(0.3)) == pytest.approx(1.0, rel=1e-8)
    np.testing.assert_allclose(pb.vmap(pb.grad(root))(np.array([1.0, 8.0])),
                               np.array([1.0, 8.0]) ** (-2 / 3) / 3, rtol=1e-10)


def test_a_closure_that_branches_on_values_is_refused():
    def branchy(b):
        def fun(x):
            return quartic(x, TH) if float(pnp.sum(x)) > 1e9 else quartic(x, {**TH, "b": b})
        return po.minimize(fun, np.zeros(3)).x[0]

    with pytest.raises(pb.TracerConversionError, match=r"closes over a traced value.*"
                                                       r"Pass every quantity"):
        pb.grad(branchy)(TH["b"])


def test_scipys_own_minimize_on_traced_values_points_here():
    # SciPy re-raises the conversion error as its ValueError ("must return a scalar"), from
    # pullback's, which names the function to call instead
    with pytest.raises(ValueError) as err:
        pb.grad(lambda b: so.minimize(quartic, np.zeros(3), args=({**TH, "b": b},)).x[0])(
            TH["b"])
    cause = err.value.__cause__
    assert isinstance(cause, pb.TracerConversionError)
    assert str(cause).startswith("scipy.optimize.minimize was called on a traced value")
    assert "use pullback.scipy.optimize.minimize" in str(cause)


# ----------------------------------------------------------------------------- the examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run_example(name, capsys):
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def _number(pattern, out):
    found = re.search(pattern, out)
    assert found, out
    return float(found.group(1))


def test_example_gp_regression(capsys):
    out = _run_example("gp_regression.py", capsys)
    assert _number(r"off central differences by (\S+)", out) < 1e-6
    assert 0.05 < _number(r"noise (\S+) \(the data's noise", out) < 0.2


def test_example_ode_fit(capsys):
    out = _run_example("ode_fit.py", capsys)
    assert _number(r"adjoint vs forward sensitivities: (\S+) relative", out) < 1e-5
    assert _number(r"vs central differences: (\S+)", out) < 1e-4
    assert "Optimization terminated successfully" in out
    assert _number(r"largest relative error (\S+)", out) < 0.1


def test_example_bilevel(capsys):
    out = _run_example("bilevel.py", capsys)
    assert _number(r"off central differences of re-solved fits by (\S+)", out) < 1e-5
    start = _number(r"one small penalty: test loss (\S+),", out)
    tuned = _number(r"tuned penalties: test loss (\S+),", out)
    assert tuned < start


def test_no_unknowns_is_an_empty_solution_with_an_empty_derivative():
    # an empty x0 (parameters of size 0 in a program): nothing to solve, as SciPy's result
    # for it (MINPACK flags it as improper input), and the derivative is empty, not an error
    p = np.zeros((2, 0))

    def sol(p):
        return po.root(lambda x, p: x + 0.5 * pnp.sin(x) - p, np.zeros(np.shape(p)),
                       args=(p,)).x

    out, back = pb.vjp(sol, p)
    assert out.shape == (2, 0)
    assert back(np.ones((2, 0)))[0].shape == (2, 0)
    assert pb.jvp(sol, (p,), (np.ones((2, 0)),))[1].shape == (2, 0)
