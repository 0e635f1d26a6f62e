"""pullback.scipy.special beyond the spec table: SciPy's own ufuncs called on traced values
(they dispatch to pullback's functions), the derivatives that raise (a Bessel function's order,
zeta's x), complex input refused, values at edges and dtypes against SciPy.

Derivatives in the table's rows are checked against finite differences by tests/test_ops.py;
here the gradients through SciPy's ufuncs are compared with those of pullback's functions,
and both with central differences of SciPy's values.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import special as ps

sps = pytest.importorskip("scipy.special")

# function name -> (arguments, the argument differentiated): inside each function's domain
ARGS: dict[str, tuple[tuple, int]] = {
    "erf": ((0.3,), 0), "erfc": ((0.3,), 0), "gammaln": ((2.3,), 0),
    "digamma": ((2.3,), 0), "psi": ((2.3,), 0), "expit": ((0.3,), 0), "logit": ((0.3,), 0),
    "xlogy": ((1.5, 2.5), 1), "ndtr": ((0.3,), 0), "log_ndtr": ((-2.0,), 0),
    "ndtri": ((0.3,), 0), "log_expit": ((0.3,), 0), "betaln": ((1.5, 2.5), 0),
    "xlog1py": ((1.5, 0.5), 1), "gammainc": ((1.7, 1.2), 1), "gammaincc": ((1.7, 1.2), 1),
    "betainc": ((2.5, 1.5, 0.4), 2), "gamma": ((2.3,), 0), "rgamma": ((2.3,), 0),
    "beta": ((1.5, 2.5), 1), "j0": ((1.3,), 0), "j1": ((1.3,), 0), "jv": ((1.5, 1.3), 1),
    "y0": ((1.3,), 0), "y1": ((1.3,), 0), "yn": ((2, 1.3), 1), "i0": ((1.3,), 0),
    "i0e": ((1.3,), 0), "i1": ((1.3,), 0), "i1e": ((1.3,), 0), "iv": ((1.5, 1.3), 1),
    "ive": ((1.5, 1.3), 1), "kv": ((1.5, 1.3), 1), "kve": ((1.5, 1.3), 1),
    "erfinv": ((0.3,), 0), "erfcinv": ((0.3,), 0), "entr": ((0.7,), 0),
    "rel_entr": ((0.7, 1.3), 0), "kl_div": ((0.7, 1.3), 1),
}

SCIPY_UFUNCS = sorted(n for n in ps.__all__ if isinstance(getattr(sps, n, None), np.ufunc))


def test_every_scipy_ufunc_of_pullback_has_arguments_here():
    assert set(SCIPY_UFUNCS) == set(ARGS), set(SCIPY_UFUNCS) ^ set(ARGS)
    assert len(SCIPY_UFUNCS) >= 35


def _arrays(args: tuple, k: int) -> list:
    """The scalar arguments as arrays of 3 (the differentiated one spread around its value)."""
    out = [np.asarray(a) if isinstance(a, int) else np.full(3, float(a)) for a in args]
    out[k] = float(args[k]) + np.array([-0.05, 0.0, 0.05])
    return out


@pytest.mark.parametrize("name", SCIPY_UFUNCS)
def test_scipy_ufunc_on_traced_values_is_pullbacks(name):
    args, k = ARGS[name]
    theirs, ours = getattr(sps, name), getattr(ps, name)
    arrays = _arrays(args, k)

    def call(f):
        def g(x):
            full = list(arrays)
            full[k] = x
            return f(*full)

        return g

    value, back = pb.vjp(call(theirs), arrays[k])  # SciPy's ufunc, on a traced value
    want, want_back = pb.vjp(call(ours), arrays[k])
    np.testing.assert_array_equal(value, want)
    np.testing.assert_allclose(value, theirs(*arrays), rtol=1e-13, atol=0)
    w = np.array([0.5, -1.0, 2.0])
    (grad,) = back(w)
    np.testing.assert_array_equal(grad, want_back(w)[0])
    # and against central differences of SciPy's values (diagonal Jacobian)
    h = 1e-6
    up, down = list(arrays), list(arrays)
    up[k], down[k] = arrays[k] + h, arrays[k] - h
    np.testing.assert_allclose(grad, w * (theirs(*up) - theirs(*down)) / (2 * h), rtol=1e-7)
    # forward mode and second order through SciPy's ufunc too
    _, tangent = pb.jvp(call(theirs), (arrays[k],), (np.ones(3),))
    np.testing.assert_array_equal(tangent, pb.jvp(call(ours), (arrays[k],), (np.ones(3),))[1])

    def scalar(f):
        return lambda x: pnp.sum(call(f)(x))

    np.testing.assert_array_equal(pb.hessian(scalar(theirs))(arrays[k]),
                                  pb.hessian(scalar(ours))(arrays[k]))


def test_scipy_zeta_and_log1p_dispatch_too():
    # scipy.special.zeta is a Python function calling private ufuncs (_zeta, _riemann_zeta)
    np.testing.assert_array_equal(pb.grad(lambda q: sps.zeta(2.0, q))(1.5),
                                  pb.grad(lambda q: ps.zeta(2.0, q))(1.5))
    assert float(pb.grad(lambda q: sps.zeta(3.0, q))(1.0)) == pytest.approx(
        -3.0 * sps.zeta(4.0), rel=1e-14)
    with pytest.raises(NotImplementedError, match=r"special\.zeta: .* x \(the Riemann"):
        pb.grad(lambda x: sps.zeta(x))(2.0)
    # SciPy's own ufuncs for functions NumPy has: pullback.numpy's
    for name in ("log1p", "expm1", "exp2", "cbrt"):
        assert getattr(sps, name) is not getattr(np, name)
        np.testing.assert_array_equal(pb.grad(getattr(sps, name))(0.7),
                                      pb.grad(getattr(pnp, name))(0.7))
    # the example from the issue
    assert float(pb.grad(lambda x: sps.gammaln(x))(2.0)) == pytest.approx(1 - np.euler_gamma)


def test_scipy_ufunc_without_a_pullback_version_names_scipy():
    with pytest.raises(NotImplementedError) as err:
        pb.grad(lambda x: sps.struve(1.0, x))(2.0)
    message = str(err.value)
    assert "scipy.special.struve" in message and "numpy.struve" not in message
    assert "pullback.scipy.special has no differentiable version" in message
    with pytest.raises(NotImplementedError, match=r"scipy\.special\.jv\.outer .* call "
                                                  r"pullback\.scipy\.special\.jv"):
        pb.grad(lambda x: pnp.sum(sps.jv.outer(x, x)))(np.ones(2))
    with pytest.raises(TypeError, match=r"scipy\.special\.jv: keyword argument\(s\) \['dtype'\]"):
        pb.grad(lambda x: sps.jv(1.0, x, dtype=np.float64))(2.0)
    with pytest.raises(TypeError, match=r"scipy\.special\.gammaln: out= with a plain"):
        pb.grad(lambda x: sps.gammaln(x, out=np.zeros(())))(2.0)
    # NumPy's ufuncs still say NumPy; a ufunc of neither says so
    with pytest.raises(NotImplementedError, match=r"numpy\.negative\.at"):
        pb.grad(lambda x: pnp.sum(np.negative.at(x * 1.0, [0])))(np.ones(2))
    other = np.frompyfunc(lambda v: v, 1, 1)
    with pytest.raises(NotImplementedError, match=r"ufunc .* \(not NumPy's or SciPy's\)"):
        pb.grad(lambda x: other(x))(2.0)


# ----------------------------------------------------------------------------- refusals

ORDER = [("jv", "the order v"), ("iv", "the order v"), ("ive", "the order v"),
         ("kv", "the order v"), ("kve", "the order v"), ("yn", "the order n"),
         ("zeta", "x")]


@pytest.mark.parametrize("name,argument", ORDER, ids=[o[0] for o in ORDER])
def test_derivative_in_an_order_raises_naming_it(name, argument):
    f = getattr(ps, name)
    message = rf"pullback\.scipy\.special\.{name}: the derivative with respect to {argument} " \
              r"\(argument 0\) .* hold it constant"
    with pytest.raises(NotImplementedError, match=message):
        pb.grad(f)(2.0, 1.3)
    with pytest.raises(NotImplementedError, match=message):
        pb.jvp(lambda v: f(v, 1.3), (2.0,), (1.0,))
    # held constant under vmap (batched, not differentiated): fine
    orders = np.array([1.0, 2.0, 3.0])
    got = pb.vmap(lambda v: pb.grad(lambda x: f(v, x))(1.3))(orders)
    want = [pb.grad(lambda x, v=v: f(v, x))(1.3) for v in orders]
    np.testing.assert_allclose(got, want, rtol=1e-15)


NEW = ["betaln", "gamma", "rgamma", "beta", "multigammaln", "j0", "j1", "jv", "y0", "y1",
       "yn", "i0", "i0e", "i1", "i1e", "iv", "ive", "kv", "kve", "erfinv", "erfcinv", "entr",
       "rel_entr", "kl_div", "zeta"]
BINARY_NEW = ("betaln", "beta", "rel_entr", "kl_div", "jv", "yn", "iv", "ive", "kv", "kve")


def _call(name, z):
    f = getattr(ps, name)
    if name == "multigammaln":
        return f(z, 2)
    if name == "zeta":
        return f(2.0, z)
    if name in BINARY_NEW:
        return f(1.0, z)
    return f(z)


@pytest.mark.parametrize("name", NEW)
def test_new_real_functions_refuse_complex_input(name):
    z = np.array([1.5 + 0.5j, 1.0 - 0.25j])
    message = rf"special\.{name}: complex input .* is not supported"
    with pytest.raises(TypeError, match=message):
        _call(name, z)
    with pytest.raises(TypeError, match=message):
        pb.grad(lambda z: pnp.sum(pnp.real(_call(name, z))))(z)
    with pytest.raises(TypeError, match=message):
        pb.jvp(lambda z: _call(name, z), (z,), (z,))


# ----------------------------------------------------------------------------- values


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_edges_agree_with_scipy():
    x = np.array([0.0, -0.0, -1.0, -2.0, 1.0, np.inf, -np.inf, np.nan, 171.5, 172.0, -180.5,
                  -190.5, 1e-300, -2.5])
    for name in ("gamma", "rgamma", "entr", "erfinv", "erfcinv"):
        with np.errstate(all="ignore"):
            got, want = getattr(ps, name)(x), getattr(sps, name)(x)
        if name == "rgamma":  # 1/171! is a subnormal float, which SciPy flushes to 0
            assert got[9] == pytest.approx(1 / math.factorial(171), rel=1e-6) and want[9] == 0
            got[9] = 0.0
        _same(got, want)
    y = np.array([1.0, 0.0, -0.5, 1.5, np.nan, 2.0, 1.0 - 1e-16, 1e-300])
    _same(ps.erfinv(y), sps.erfinv(y))
    _same(ps.erfcinv(y), sps.erfcinv(y))
    a = np.array([0.0, 1.0, 0.0, -1.0, 2.0, np.nan, 1.0, 0.0])
    b = np.array([0.0, 0.0, 3.0, 2.0, -1.0, 1.0, np.inf, -1.0])
    for name in ("rel_entr", "kl_div"):
        _same(getattr(ps, name)(a, b), getattr(sps, name)(a, b))
    a = np.array([1.0, 2.5, 0.5, 60.0, -1.5, 30.0, 0.0, -2.0])
    b = np.array([2.0, -0.5, 0.5, 30.0, 0.7, 1e-3, 1.0, 3.0])
    _same(ps.beta(a, b), sps.beta(a, b))
    # large arguments: through log-gamma, whose size (~500) costs digits
    np.testing.assert_allclose(ps.beta(120.0, 130.0), sps.beta(120.0, 130.0), rtol=1e-12)
    # zeta: poles, x < 1, negative q, q = inf; the Riemann function on the whole line
    xs = np.array([1.0, 0.5, 2.0, 3.0, 2.5, 4.0, 2.0, 70.0])
    qs = np.array([1.0, 1.0, 0.0, -2.0, -1.5, -1.5, np.inf, 0.5])
    _same(ps.zeta(xs, qs), sps.zeta(xs, qs))
    riemann = np.array([2.0, 1.0, 0.0, 0.5, -1.0, -2.0, -2.5, -13.0, -31.0, 50.0, np.inf])
    _same(ps.zeta(riemann), sps.zeta(riemann))


def test_riemann_zeta_between_its_zeros():
    x = np.linspace(-30.0, 0.9, 301)
    x = x[np.abs(x - np.round(x / 2) * 2) > 0.05]  # away from the zeros at -2, -4, ...
    np.testing.assert_allclose(ps.zeta(x), sps.zeta(x), rtol=1e-12)
    x = np.linspace(1.05, 40.0, 200)
    np.testing.assert_allclose(ps.zeta(x), sps.zeta(x), rtol=1e-14)
    q = np.linspace(0.05, 50.0, 200)
    np.testing.assert_allclose(ps.zeta(3.5, q), sps.zeta(3.5, q), rtol=1e-14)


@pytest.mark.parametrize("name", NEW)
def test_float32_stays_float32_and_integers_become_float64(name):
    x32 = np.array([1.2, 1.5], np.float32)
    # SciPy's ufuncs take their first loop that accepts the arguments: beta and betaln list
    # float64 first, so a Python 1.0 with float32 is float64 there (and here)
    want = np.float64 if name in ("beta", "betaln") else np.float32
    if name in BINARY_NEW:
        assert getattr(sps, name)(1.0, x32).dtype == want
    out = _call(name, x32 / 2 if name in ("erfinv",) else x32)
    assert np.asarray(out).dtype == want
    traced, vjp_fn = pb.vjp(lambda x: _call(name, x), x32)
    assert traced.dtype == want
    assert vjp_fn(np.ones(2, want))[0].dtype == np.float32
    if name not in ("erfinv", "erfcinv"):  # integer arguments 1 and 2 are inside the domain
        assert np.asarray(_call(name, np.array([1, 2]))).dtype == np.float64


def test_rgamma_derivatives_at_the_poles_of_gamma():
    # 1/gamma(x) = gamma(1 - x) sin(pi x) / pi: at -n the derivative is (-1)**n n! and the
    # second derivative -2 (-1)**n n! digamma(n + 1)
    for n in range(4):
        first = (-1) ** n * math.factorial(n)
        second = -2 * first * float(sps.digamma(n + 1))
        for f, want in ((pb.grad(ps.rgamma), first), (pb.grad(pb.grad(ps.rgamma)), second)):
            assert float(f(-float(n))) == pytest.approx(want, rel=1e-14)
        _, tangent = pb.jvp(ps.rgamma, (-float(n),), (1.0,))
        assert float(tangent) == pytest.approx(first, rel=1e-14)


def test_multigammaln_checks_its_arguments():
    with pytest.raises(TypeError, match=r"multigammaln: argument 1 \(d\) must be a positive"):
        ps.multigammaln(3.0, 1.5)
    with pytest.raises(ValueError, match=r"multigammaln: a must be greater than \(d - 1\) / 2"):
        ps.multigammaln(1.0, 4)
    _same(ps.multigammaln(np.array([2.0, 5.5]), 4), sps.multigammaln(np.array([2.0, 5.5]), 4))


def test_importing_pullback_does_not_import_scipy():
    code = ("import sys, pullback, pullback.scipy.special as s; "
            "assert 'scipy' not in sys.modules; s.gamma(2.0); s.zeta(2.0); "
            "assert 'scipy' not in sys.modules; s.j0(1.0); assert 'scipy.special' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
