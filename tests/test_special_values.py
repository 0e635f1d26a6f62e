"""Special values: conventions at non-differentiable points, overflow, ties, zeros and NaNs.

Each row gives a function, its input, the expected value and the expected Jacobian, checked
in reverse mode (``jacrev``) and forward mode (``jacfwd``). Expected numbers come from closed
forms, not from pullback.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import special as ps

INF, NAN = np.inf, np.nan
EULER = 0.57721566490153286
a = np.array


def _pair(f):
    """A function of two scalars as a function of one 2-vector (Jacobian in one array)."""
    return lambda v: f(v[0], v[1])


# (id, function, input, value, Jacobian); NaN in an expected entry means NaN is expected
CASES = [
    # saturation: derivatives underflow to 0, never NaN
    ("tanh-at-1000", pnp.tanh, 1000.0, 1.0, 0.0),
    ("tanh-at--1000", pnp.tanh, -1000.0, -1.0, 0.0),
    ("expit-of--1000", ps.expit, -1000.0, 0.0, 0.0),
    ("expit-of-1000", ps.expit, 1000.0, 1.0, 0.0),
    ("expit-of--740-subnormal", ps.expit, -740.0, math.exp(-740.0), math.exp(-740.0)),
    ("exp-of--1000", pnp.exp, -1000.0, 0.0, 0.0),
    ("logaddexp-large", _pair(pnp.logaddexp), a([1000.0, 1000.0]), 1000.0 + math.log(2.0),
     a([0.5, 0.5])),
    ("logaddexp-far-apart", _pair(pnp.logaddexp), a([0.0, -1000.0]), 0.0, a([1.0, 0.0])),
    ("erfc-at-30", ps.erfc, 30.0, math.erfc(30.0), 0.0),
    # logsumexp: stable for large inputs, exact for sums close to 1, -inf entries, ties
    ("logsumexp-of-1e3", pnp.logsumexp, a([1e3, 1e3]), 1e3 + math.log(2.0), a([0.5, 0.5])),
    ("logsumexp-of-single-1e3", pnp.logsumexp, a([1e3]), 1e3, a([1.0])),
    ("logsumexp-small-rest", pnp.logsumexp, a([0.0, -40.0]), math.log1p(math.exp(-40.0)),
     a([1.0 / (1.0 + math.exp(-40.0)), math.exp(-40.0) / (1.0 + math.exp(-40.0))])),
    ("logsumexp-with--inf", pnp.logsumexp, a([-INF, 0.0]), 0.0, a([0.0, 1.0])),
    ("logsumexp-tie-at-max", pnp.logsumexp, a([2.0, 2.0, 2.0 - math.log(2.0)]),
     2.0 + math.log(2.5), a([0.4, 0.4, 0.2])),
    ("special.logsumexp-of--1e3", ps.logsumexp, a([-1e3, -1e3]), -1e3 + math.log(2.0),
     a([0.5, 0.5])),
    ("log_softmax-of-1e3", ps.log_softmax, a([1e3, 1e3]), a([-math.log(2.0)] * 2),
     a([[0.5, -0.5], [-0.5, 0.5]])),
    ("softmax-far-apart", ps.softmax, a([1e3, -1e3]), a([1.0, 0.0]), a([[0.0, 0.0], [0.0, 0.0]])),
    # conventions at kinks
    ("abs-at-0", pnp.abs, 0.0, 0.0, 0.0),
    ("abs-at--0", pnp.abs, -0.0, 0.0, 0.0),
    ("fabs-at-0", pnp.fabs, 0.0, 0.0, 0.0),
    ("maximum-tie", _pair(pnp.maximum), a([1.5, 1.5]), 1.5, a([0.5, 0.5])),
    ("minimum-tie", _pair(pnp.minimum), a([-2.0, -2.0]), -2.0, a([0.5, 0.5])),
    ("fmax-tie", _pair(pnp.fmax), a([1.5, 1.5]), 1.5, a([0.5, 0.5])),
    ("fmin-tie", _pair(pnp.fmin), a([1.5, 1.5]), 1.5, a([0.5, 0.5])),
    ("fmax-ignores-nan", _pair(pnp.fmax), a([NAN, 2.0]), 2.0, a([0.0, 1.0])),
    ("fmin-ignores-nan", _pair(pnp.fmin), a([3.0, NAN]), 3.0, a([1.0, 0.0])),
    ("max-two-ties", pnp.max, a([1.0, 3.0, 3.0]), 3.0, a([0.0, 0.5, 0.5])),
    ("max-three-ties", pnp.max, a([2.0, 2.0, 2.0]), 2.0, a([1.0, 1.0, 1.0]) / 3.0),
    ("min-ties", pnp.min, a([0.0, 4.0, 0.0]), 0.0, a([0.5, 0.0, 0.5])),
    ("amax-ties-per-row", lambda x: pnp.amax(x, axis=1), a([[1.0, 1.0], [0.0, 2.0]]),
     a([1.0, 2.0]), a([[[0.5, 0.5], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])),
    ("ptp-ties", pnp.ptp, a([1.0, 1.0, 4.0]), 3.0, a([-0.5, -0.5, 1.0])),
    ("clip-at-bound", lambda x: pnp.clip(x, 0.0, 1.0), 1.0, 1.0, 0.5),
    ("clip-inside", lambda x: pnp.clip(x, 0.0, 1.0), 0.25, 0.25, 1.0),
    ("clip-outside", lambda x: pnp.clip(x, 0.0, 1.0), 3.0, 1.0, 0.0),
    ("sqrt-at-0", pnp.sqrt, 0.0, 0.0, INF),
    ("sqrt-near-0", pnp.sqrt, 1e-300, 1e-150, 0.5e150),
    ("cbrt-at-0", pnp.cbrt, 0.0, 0.0, INF),
    ("sign-at-0", lambda x: x * pnp.sign(x), 0.0, 0.0, 0.0),
    ("power-zero-base", lambda y: pnp.power(0.0, y), 2.0, 0.0, 0.0),
    ("std-of-constant", pnp.std, a([2.0, 2.0]), 0.0, a([NAN, NAN])),
    # zeros in products: exact, no division by the product
    ("prod-one-zero", pnp.prod, a([2.0, 0.0, 3.0]), 0.0, a([0.0, 6.0, 0.0])),
    ("prod-two-zeros", pnp.prod, a([0.0, 5.0, 0.0]), 0.0, a([0.0, 0.0, 0.0])),
    ("prod-no-zero", pnp.prod, a([2.0, 4.0, 0.5]), 4.0, a([2.0, 1.0, 8.0])),
    ("cumprod-zero", pnp.cumprod, a([2.0, 0.0, 3.0]), a([2.0, 0.0, 0.0]),
     a([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 6.0, 0.0]])),
    # NaNs and infinities
    ("nan_to_num", pnp.nan_to_num, a([NAN, 1.5, INF, -INF]), a([0.0, 1.5, 1.7976931348623157e308,
     -1.7976931348623157e308]), np.diag([0.0, 1.0, 0.0, 0.0])),
    ("nansum", pnp.nansum, a([1.0, NAN, 2.0]), 3.0, a([1.0, 0.0, 1.0])),
    ("nanmean", pnp.nanmean, a([1.0, NAN, 2.0]), 1.5, a([0.5, 0.0, 0.5])),
    ("nanmax-ties", pnp.nanmax, a([2.0, NAN, 2.0]), 2.0, a([0.5, 0.0, 0.5])),
    ("nanmax-all-nan", lambda x: pnp.nanmax(x, axis=1), a([[NAN, NAN], [1.0, NAN]]),
     a([NAN, 1.0]), a([[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]])),
    # special functions at their landmarks
    ("sinc-at-0", pnp.sinc, 0.0, 1.0, 0.0),
    ("sinc-at-1", pnp.sinc, 1.0, 3.8981718325193755e-17, -1.0),
    ("erf-at-0", ps.erf, 0.0, 0.0, 2.0 / math.sqrt(math.pi)),
    ("gammaln-at-1", ps.gammaln, 1.0, 0.0, -EULER),
    ("gammaln-at-half", ps.gammaln, 0.5, 0.5 * math.log(math.pi),
     -EULER - 2.0 * math.log(2.0)),
    ("digamma-at-1", ps.digamma, 1.0, -EULER, math.pi**2 / 6.0),
    ("digamma-at-half", ps.digamma, 0.5, -EULER - 2.0 * math.log(2.0), math.pi**2 / 2.0),
    ("polygamma-1-at-1", lambda x: ps.polygamma(1, x), 1.0, math.pi**2 / 6.0,
     -2.0 * 1.2020569031595942),
    ("logit-at-half", ps.logit, 0.5, 0.0, 4.0),
    ("xlogy-x-zero", _pair(ps.xlogy), a([0.0, 2.0]), 0.0, a([math.log(2.0), 0.0])),
    ("xlogy-in-x-at-0-0", lambda x: ps.xlogy(x, 0.0), 0.0, 0.0, -INF),
    ("xlogy-in-y-at-0-0", lambda y: ps.xlogy(0.0, y), 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", ["value", "rev", "fwd"])
def test_special_value(case, mode) -> None:
    _, f, x, value, jac = case
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        if mode == "value":
            got = f(x)
            traced = pb.vjp(f, x)[0]
            np.testing.assert_allclose(got, value, rtol=1e-14, atol=0)
            np.testing.assert_allclose(traced, value, rtol=1e-14, atol=0)
            return
        got = (pb.jacrev if mode == "rev" else pb.jacfwd)(f)(x)
    np.testing.assert_allclose(got, jac, rtol=1e-14, atol=1e-300)


# second derivatives at the same kind of points
SECOND = [
    ("sinc-at-0", pnp.sinc, 0.0, -math.pi**2 / 3.0),
    ("sinc-near-0", pnp.sinc, 1e-9, -math.pi**2 / 3.0),
    ("abs-at-0", pnp.abs, 0.0, 0.0),
    ("tanh-at-1000", pnp.tanh, 1000.0, 0.0),
    ("expit-of--1000", ps.expit, -1000.0, 0.0),
    ("gammaln-at-1", ps.gammaln, 1.0, math.pi**2 / 6.0),
    ("digamma-at-1", ps.digamma, 1.0, -2.0 * 1.2020569031595942),
    ("prod-with-zero", lambda x: pnp.prod(pnp.stack([x, x, 0.0 * x + 2.0])), 0.0, 4.0),
]


@pytest.mark.parametrize("case", SECOND, ids=[c[0] for c in SECOND])
def test_second_derivative(case) -> None:
    _, f, x, want = case
    x = np.float64(x)
    for got in (pb.grad(pb.grad(f))(x), pb.jacfwd(pb.grad(f))(x), pb.jacfwd(pb.jacfwd(f))(x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_prod_hessian_with_zeros() -> None:
    """d^2 prod / dx_i dx_j is the product of the other entries, zeros included."""
    x = np.array([2.0, 0.0, 3.0, 0.0])
    want = np.zeros((4, 4))
    want[1, 3] = want[3, 1] = 6.0
    np.testing.assert_array_equal(pb.hessian(pnp.prod)(x), want)
    np.testing.assert_array_equal(pb.jacrev(pb.jacrev(pnp.prod))(x), want)


def test_float32_stays_float32_at_extremes() -> None:
    x = np.float32(-1000.0)
    value, g = pb.value_and_grad(ps.expit)(x)
    assert value.dtype == np.float32 and g.dtype == np.float32
    assert value == 0.0 and g == 0.0
    value, g = pb.value_and_grad(lambda v: pnp.logsumexp(v))(np.array([1e3, 1e3], np.float32))
    assert value.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=0)


def test_special_functions_at_negative_arguments_and_poles() -> None:
    """Values against SciPy away from the positive axis; derivatives against SciPy's closed
    forms (gammaln' = digamma, digamma' = polygamma(1, .), polygamma(n)' = polygamma(n + 1))."""
    sps = pytest.importorskip("scipy.special")
    x = np.array([-4.7, -2.5, -1.3, -0.5, -0.2, 0.3, 7.0, 40.0, 1e5])
    np.testing.assert_allclose(ps.gammaln(x), sps.gammaln(x), rtol=1e-13)
    np.testing.assert_allclose(ps.digamma(x), sps.digamma(x), rtol=1e-12)
    for n in (1, 2, 3):
        np.testing.assert_allclose(ps.polygamma(n, x[:-1]), sps.polygamma(n, x[:-1]),
                                   rtol=1e-12)
    np.testing.assert_allclose(pb.grad(lambda v: pnp.sum(ps.gammaln(v)))(x), sps.digamma(x),
                               rtol=1e-12)
    np.testing.assert_allclose(pb.jacfwd(ps.digamma)(x[:-1]), np.diag(sps.polygamma(1, x[:-1])),
                               rtol=1e-12, atol=1e-300)
    poles = np.array([0.0, -1.0, -2.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(ps.gammaln(poles), sps.gammaln(poles))
        np.testing.assert_array_equal(ps.digamma(poles), sps.digamma(poles))
        np.testing.assert_array_equal(ps.polygamma(1, poles), sps.polygamma(1, poles))


def test_erf_and_erfc_against_scipy_over_a_wide_range() -> None:
    sps = pytest.importorskip("scipy.special")
    x = np.linspace(-30.0, 30.0, 2001)
    np.testing.assert_allclose(ps.erf(x), sps.erf(x), rtol=1e-15, atol=0)
    # math.erfc keeps subnormal results (x > 26.5) that SciPy flushes to 0
    np.testing.assert_allclose(ps.erfc(x), sps.erfc(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(ps.expit(x * 30), sps.expit(x * 30), rtol=1e-15, atol=1e-300)


def test_special_imports_without_scipy() -> None:
    """SciPy is not a runtime dependency: pullback.scipy.special works with it blocked."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import numpy as np, pullback as pb\n"
        "from pullback.scipy import special\n"
        "assert abs(pb.grad(special.gammaln)(3.0) - (1.5 - 0.5772156649015329)) < 1e-14\n"
        "print(float(special.erf(1.0)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(math.erf(1.0))
