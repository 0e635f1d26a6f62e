"""pullback.scipy.stats (and the special functions it brought): closed-form derivatives in
both modes and at second order, the errors for derivatives without a closed form, supports
and invalid parameters as SciPy's, vmap and jit. The spec table (``tests/specs/scipy_stats.py``)
checks every function against finite differences of SciPy's."""

import inspect
import math

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy import stats as ps

st = pytest.importorskip("scipy.stats")
sps = pytest.importorskip("scipy.special")


def both_modes(f, x):
    """The derivatives of the elementwise function ``f`` at ``x`` by reverse and by forward
    mode."""
    rev = pb.grad(lambda v: pnp.sum(f(v)))(x)
    fwd = pb.jvp(f, (x,), (np.ones_like(x),))[1]
    return rev, fwd


# ----------------------------------------------------------------------------- closed forms


def test_norm_logpdf_derivatives_are_the_closed_forms():
    x, loc, scale = 1.3, -0.4, 0.7
    y = (x - loc) / scale
    cases = [
        (lambda v: ps.norm.logpdf(v, loc, scale), x, -y / scale, -1.0 / scale**2),
        (lambda v: ps.norm.logpdf(x, v, scale), loc, y / scale, -1.0 / scale**2),
        (lambda v: ps.norm.logpdf(x, loc, v), scale, (y * y - 1.0) / scale,
         (1.0 - 3.0 * y * y) / scale**2),
    ]
    for f, at, first, second in cases:
        for d in both_modes(f, at):
            np.testing.assert_allclose(d, first, rtol=1e-14)
        np.testing.assert_allclose(pb.hessian(f)(at), second, rtol=1e-13)
        np.testing.assert_allclose(pb.jacfwd(pb.jacfwd(f))(at), second, rtol=1e-13)


def test_cdf_derivatives_are_the_densities():
    # d cdf / dx = pdf, d sf / dx = -pdf, d logcdf / dx = pdf / cdf, at several points
    cases = [
        ("norm", (), np.array([-30.0, -3.0, 0.2, 4.0])),
        ("t", (3.5,), np.array([-30.0, -2.0, 0.1, 5.0])),
        ("cauchy", (), np.array([-40.0, -0.5, 0.3, 12.0])),
        ("logistic", (), np.array([-30.0, -0.5, 0.3, 5.0])),
        ("laplace", (), np.array([-3.0, -0.5, 0.3, 2.0])),
        # not further out: pullback.numpy.expm1's derivative, ans + 1, cancels near -1
        ("expon", (), np.array([0.1, 1.0, 3.0, 5.0])),
        ("gamma", (2.5,), np.array([0.1, 1.0, 5.0, 30.0])),
        ("chi2", (3.0,), np.array([0.1, 1.0, 5.0, 30.0])),
        ("beta", (2.5, 1.5), np.array([0.02, 0.3, 0.7, 0.98])),
    ]
    for name, shapes, x in cases:
        dist, ref = getattr(ps, name), getattr(st, name)
        pdf = ref.pdf(x, *shapes)
        for fn, want in (("cdf", pdf), ("sf", -pdf), ("logcdf", pdf / ref.cdf(x, *shapes)),
                         ("logsf", -pdf / ref.sf(x, *shapes))):
            f = getattr(dist, fn)
            for got in both_modes(lambda v, f=f, s=shapes: f(v, *s), x):
                np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{name}.{fn}")


def test_second_derivatives_of_cdfs_are_derivatives_of_the_densities():
    # d^2 cdf / dx^2 = d pdf / dx = pdf * d logpdf / dx, the latter in closed form
    x = np.array([0.3, 1.2, 2.5])
    a = 2.5
    want = st.gamma.pdf(x, a) * ((a - 1.0) / x - 1.0)
    np.testing.assert_allclose(pb.hessian(lambda v: ps.gamma.cdf(v, a)[1])(x)[1, 1], want[1],
                               rtol=1e-12)
    got = pb.jvp(pb.grad(lambda v: pnp.sum(ps.gamma.cdf(v, a))), (x,), (np.ones(3),))[1]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    df = 3.5  # t: pdf' = -pdf (df + 1) x / (df + x^2)
    want = -st.t.pdf(x, df) * (df + 1.0) * x / (df + x * x)
    got = pb.jvp(pb.grad(lambda v: pnp.sum(ps.t.cdf(v, df))), (x,), (np.ones(3),))[1]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_discrete_parameters_derivatives_are_the_closed_forms():
    k = np.array([0.0, 2.0, 5.0])
    mu = 1.7
    # d logpmf / dmu = k / mu - 1; d cdf / dmu = -pmf(k, mu) (Poisson)
    for got in (pb.grad(lambda m: pnp.sum(ps.poisson.logpmf(k, m)))(mu),
                pb.jvp(lambda m: pnp.sum(ps.poisson.logpmf(k, m)), (mu,), (1.0,))[1]):
        np.testing.assert_allclose(got, np.sum(k / mu - 1.0), rtol=1e-14)
    for got in (pb.grad(lambda m: pnp.sum(ps.poisson.cdf(k, m)))(mu),
                pb.jvp(lambda m: pnp.sum(ps.poisson.cdf(k, m)), (mu,), (1.0,))[1]):
        np.testing.assert_allclose(got, -np.sum(st.poisson.pmf(k, mu)), rtol=1e-12)
    # binomial: d logpmf / dp = k / p - (n - k) / (1 - p)
    n, p = 6, 0.35
    for got in (pb.grad(lambda q: pnp.sum(ps.binom.logpmf(k, n, q)))(p),
                pb.jvp(lambda q: pnp.sum(ps.binom.logpmf(k, n, q)), (p,), (1.0,))[1]):
        np.testing.assert_allclose(got, np.sum(k / p - (n - k) / (1 - p)), rtol=1e-13)
    # d cdf / dp = -n pmf(k; n - 1, p): the density of the incomplete beta function
    want = -n * st.binom.pmf(k, n - 1, p)
    got = pb.jacrev(lambda q: ps.binom.cdf(k, n, q))(p)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_multivariate_normal_gradients_are_the_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + np.eye(3)
    mean, x = rng.standard_normal(3), rng.standard_normal(3)
    inv = np.linalg.inv(cov)
    d = x - mean
    g_mean = pb.grad(lambda m: ps.multivariate_normal.logpdf(x, m, cov))(mean)
    np.testing.assert_allclose(g_mean, inv @ d, rtol=1e-12)
    np.testing.assert_allclose(pb.hessian(lambda m: ps.multivariate_normal.logpdf(x, m, cov))(
        mean), -inv, rtol=1e-12)
    # along a symmetric direction E: d logpdf = tr(G E), G = (inv d d^T inv - inv) / 2
    E = rng.standard_normal((3, 3))
    E = E + E.T
    G = 0.5 * (inv @ np.outer(d, d) @ inv - inv)
    _, t = pb.jvp(lambda c: ps.multivariate_normal.logpdf(x, mean, c), (cov,), (E,))
    np.testing.assert_allclose(t, np.sum(G * E), rtol=1e-12)
    # entropy: d/dcov (log det cov) / 2 along E = tr(inv E) / 2
    _, t = pb.jvp(lambda c: ps.multivariate_normal.entropy(mean, c), (cov,), (E,))
    np.testing.assert_allclose(t, 0.5 * np.trace(inv @ E), rtol=1e-12)


def test_dirichlet_entropy_gradient_is_the_closed_form():
    alpha = np.array([1.5, 2.0, 3.5])
    a0 = alpha.sum()
    # d H / d alpha_j = (a0 - K) psi1(a0) - (alpha_j - 1) psi1(alpha_j)
    want = (a0 - 3) * sps.polygamma(1, a0) - (alpha - 1) * sps.polygamma(1, alpha)
    for got in (pb.grad(ps.dirichlet.entropy)(alpha),
                pb.jacfwd(ps.dirichlet.entropy)(alpha)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_special_function_derivatives_in_the_tails():
    # ndtri' = 1 / pdf(ndtri(p)), in the tail where finite differences cannot reach
    p = np.array([1e-12, 1e-5, 0.003, 1 - 1e-9])
    z = sps.ndtri(p)
    for got in both_modes(special.ndtri, p):
        np.testing.assert_allclose(got, 1.0 / st.norm.pdf(z), rtol=1e-9)
    # log_ndtr' = pdf / cdf: at -40 it is -x / (1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8 ...)
    x = -40.0
    series = sum((-1) ** k * math.prod(range(1, 2 * k, 2)) / x ** (2 * k) for k in range(8))
    for got in both_modes(special.log_ndtr, x):  # exp(-x^2/2 - log sqrt(2 pi) - log_ndtr(x)):
        np.testing.assert_allclose(got, -x / series, rtol=1e-12)  # terms of 800 cancel
    # gammainc' = x^(a-1) e^-x / Gamma(a), far out in both functions' tails
    a, x = 3.0, np.array([1e-3, 40.0])
    want = x ** (a - 1) * np.exp(-x) / 2.0
    for f in (special.gammainc, lambda a, v: -special.gammaincc(a, v)):
        got = pb.grad(lambda v, f=f: pnp.sum(f(a, v)))(x)
        np.testing.assert_allclose(got, want, rtol=1e-13)


# ----------------------------------------------------------------------------- no closed form


@pytest.mark.parametrize("case", [
    ("gamma.cdf", lambda a: ps.gamma.cdf(1.5, a), 2.0, "gammainc"),
    ("gamma.logsf", lambda a: ps.gamma.logsf(1.5, a), 2.0, "gammaincc?"),
    ("chi2.sf", lambda df: ps.chi2.sf(1.5, df), 3.0, "gammaincc?"),
    ("t.cdf", lambda df: ps.t.cdf(-0.5, df), 3.0, "betainc"),
    ("beta.cdf", lambda a: ps.beta.cdf(0.3, a, 2.0), 2.0, "betainc"),
    ("beta.sf b", lambda b: ps.beta.sf(0.3, 2.0, b), 2.0, "betainc"),
    ("binom.cdf", lambda n: ps.binom.cdf(2.0, n, 0.4), 6.0, "betainc"),
    ("nbinom.cdf", lambda n: ps.nbinom.cdf(2.0, n, 0.4), 2.5, "betainc"),
    ("poisson", lambda a: special.gammainc(a, 2.0), 2.0, "gammainc"),
], ids=lambda c: c[0])
def test_a_shape_derivative_without_closed_form_is_an_error_in_both_modes(case):
    _, f, at, prim = case
    float(f(at))  # the value is fine
    with pytest.raises(NotImplementedError, match=rf"special\.{prim}: the derivative with "
                       r"respect to [ab] \(argument [01]\) has no closed form"):
        pb.grad(f)(at)
    with pytest.raises(NotImplementedError, match="has no closed form"):
        pb.jvp(f, (at,), (1.0,))


def test_the_mass_is_not_differentiable_in_k_but_the_cdf_is_piecewise_constant():
    k = np.array([1.0, 3.0])
    with pytest.raises(NotImplementedError, match=r"stats\.poisson\.logpmf: .* not "
                       "differentiable with respect to k"):
        pb.grad(lambda v: pnp.sum(ps.poisson.logpmf(v, 2.0)))(k)
    with pytest.raises(NotImplementedError, match=r"stats\.binom\.pmf"):
        pb.jvp(lambda v: ps.binom.pmf(v, 5, 0.3), (k,), (np.ones(2),))
    np.testing.assert_array_equal(pb.grad(lambda v: pnp.sum(ps.poisson.cdf(v, 2.0)))(k),
                                  np.zeros(2))
    # under vmap nothing is differentiated: no error
    got = pb.vmap(lambda v: ps.poisson.logpmf(v, 2.0))(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(got, st.poisson.logpmf(np.array([[1.0], [3.0]]), 2.0),
                               rtol=1e-14)


# ----------------------------------------------------------------------------- edges


def test_outside_the_support_values_are_scipys_and_derivatives_zero():
    cases = [
        (ps.expon.logpdf, st.expon.logpdf, np.array([-1.0, 0.5]), ()),
        (ps.gamma.pdf, st.gamma.pdf, np.array([-1.0, 0.5]), (2.0,)),
        (ps.gamma.cdf, st.gamma.cdf, np.array([-1.0, 0.5]), (2.0,)),
        (ps.beta.logsf, st.beta.logsf, np.array([-0.5, 0.5, 1.5]), (2.0, 3.0)),
        (ps.beta.logcdf, st.beta.logcdf, np.array([-0.5, 0.5, 1.5]), (2.0, 3.0)),
        (ps.chi2.logcdf, st.chi2.logcdf, np.array([-0.5, 0.5]), (3.0,)),
    ]
    for f, ref, x, shapes in cases:
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(f(x, *shapes), ref(x, *shapes), rtol=1e-13)
        outside = (x < 0) | (x > 1) if f in (ps.beta.logsf, ps.beta.logcdf) else x < 0
        for jac in (pb.jacrev, pb.jacfwd):
            loc_grad = jac(lambda l, f=f, x=x, s=shapes: f(x, *s, loc=l))(0.0)
            np.testing.assert_array_equal(loc_grad[outside], 0.0)
            assert np.all(np.isfinite(loc_grad))


def test_invalid_parameters_give_nan_as_scipy():
    with np.errstate(invalid="ignore"):
        pairs = [
            (ps.norm.logpdf(1.0, 0.0, -1.0), st.norm.logpdf(1.0, 0.0, -1.0)),
            (ps.norm.cdf(1.0, 0.0, 0.0), st.norm.cdf(1.0, 0.0, 0.0)),
            (ps.gamma.cdf(1.0, -1.0), st.gamma.cdf(1.0, -1.0)),
            (ps.beta.logpdf(0.5, 0.0, 1.0), st.beta.logpdf(0.5, 0.0, 1.0)),
            (ps.poisson.pmf(1.0, -1.0), st.poisson.pmf(1.0, -1.0)),
            (ps.binom.pmf(1.0, 3.5, 0.5), st.binom.pmf(1.0, 3.5, 0.5)),
            (ps.binom.cdf(1.0, 3, 1.5), st.binom.cdf(1.0, 3, 1.5)),
            (ps.nbinom.sf(1.0, 0.0, 0.5), st.nbinom.sf(1.0, 0.0, 0.5)),
            (ps.poisson.pmf(2.5, 1.0), st.poisson.pmf(2.5, 1.0)),  # not an integer: 0
        ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours, theirs)
    # derivatives there are NaN too (not 0)
    assert np.isnan(pb.grad(lambda s: ps.norm.logpdf(1.0, 0.0, s))(-1.0))
    assert np.isnan(pb.jvp(lambda s: ps.norm.cdf(1.0, 0.0, s), (-1.0,), (1.0,))[1])
    g = pb.grad(lambda s: pnp.sum(ps.gamma.sf(1.0, 2.0, 0.0, s)))(np.array([-1.0, 2.0]))
    assert np.isnan(g[0]) and np.isfinite(g[1])


def test_multivariate_errors_name_the_function():
    with pytest.raises(ValueError, match=r"stats\.dirichlet: vector 'x'"):
        ps.dirichlet.logpdf(np.array([0.5, 0.5]), np.ones(4))
    with pytest.raises(ValueError, match="must sum to 1"):
        ps.dirichlet.logpdf(np.array([0.5, 0.6]), np.ones(2))
    with pytest.raises(ValueError, match=r"multivariate_normal\.logpdf: array 'cov'"):
        ps.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(3))
    with pytest.raises(NotImplementedError, match="allow_singular"):
        ps.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(2), allow_singular=True)
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        pb.grad(lambda c: ps.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), c))(
            -np.eye(2))


def test_multivariate_normal_reads_points_and_covariances_as_scipy():
    rng = np.random.default_rng(1)
    for x, mean, cov in [
        (rng.standard_normal(5), None, 2.0),  # K = 1: five points
        (rng.standard_normal((2, 4, 3)), np.zeros(3), np.array([1.0, 2.0, 0.5])),
        (0.3, 0.1, 1.5),
    ]:
        np.testing.assert_allclose(ps.multivariate_normal.logpdf(x, mean, cov),
                                   st.multivariate_normal.logpdf(x, mean, cov), rtol=1e-13)


# ----------------------------------------------------------------------------- transformations


def test_vmap_and_jit_agree_with_eager():
    rng = np.random.default_rng(2)
    x, loc, scale = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.uniform(0.5, 2, 4)

    def f(x, loc, scale):
        return (ps.t.cdf(x, 3.0, loc, scale) + ps.gamma.logpdf(pnp.abs(x) + 0.1, 2.0, 0.0, scale)
                + ps.logistic.logsf(x, loc) + ps.beta.cdf(special.expit(x), 2.0, 3.0))

    eager = np.stack([f(x[i], loc[i], scale[i]) for i in range(4)])
    np.testing.assert_allclose(pb.vmap(f)(x, loc, scale), eager, rtol=1e-13)
    np.testing.assert_allclose(pb.jit(f)(x[0], loc[0], scale[0]), eager[0], rtol=1e-13)
    g = pb.grad(lambda s: pnp.sum(f(x[0], loc[0], s)))
    np.testing.assert_allclose(pb.jit(g)(scale[0]), g(scale[0]), rtol=1e-13)


def test_float32_stays_float32():
    x = np.array([0.3, 1.2], np.float32)
    for f in (lambda v: ps.norm.logpdf(v, 0.5, 2.0), lambda v: ps.gamma.cdf(v, 2.5),
              lambda v: ps.t.sf(v, 3.0), lambda v: ps.beta.logpdf(v / 2, 2.0, 3.0)):
        assert f(x).dtype == np.float32
        assert pb.grad(lambda v, f=f: pnp.sum(f(v)))(x).dtype == np.float32


@pytest.mark.parametrize("dist", ps.__all__)
def test_every_function_refuses_complex_arguments(dist):
    # SciPy evaluates the formulas on complex values; a distribution's arguments are real,
    # and pullback says so rather than differentiate them (never a silent cast either)
    module = getattr(ps, dist)
    for name in module.__all__:
        fn = getattr(module, name)
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is inspect.Parameter.empty]
        args = [np.array([0.3, 0.6]) if dist in ("dirichlet", "multivariate_normal")
                else 0.5 for _ in params] or [np.array([0.3, 0.6])]  # entropy(mean, cov)
        args[0] = np.asarray(args[0]) + 0.1j
        with pytest.raises(TypeError, match=rf"stats\.{dist}\.{name}: complex input"):
            fn(*args)


@pytest.mark.parametrize("shape", [(2, 1), (2, 2), (3, 1), (2,)])
def test_dirichlet_results_have_scipys_shape(shape):
    # SciPy drops axes of length 1 from the result: one point given as a (K - 1, 1) or
    # (K, 1) array is a scalar (found by the differential fuzzer)
    import scipy.stats as st

    alpha = np.array([2.0, 1.5, 3.0])
    x = np.full(shape, 0.3 if shape[0] == 2 else 1 / 3)
    for name in ("logpdf", "pdf"):
        want = getattr(st.dirichlet, name)(x, alpha)
        got = getattr(ps.dirichlet, name)(x, alpha)
        assert np.shape(got) == np.shape(want), name
        np.testing.assert_allclose(got, want, rtol=1e-13)
        traced, _ = pb.vjp(lambda x, name=name: getattr(ps.dirichlet, name)(x, alpha), x)
        assert np.shape(traced) == np.shape(want), name
