"""Special values: conventions at non-differentiable points, overflow, ties, zeros and NaNs.

Each row gives a function, its input, the expected value and the expected Jacobian, checked
in reverse mode (``jacrev``) and forward mode (``jacfwd``). Expected numbers come from closed
forms, not from pullback.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import special as ps
from specs import ALL_SPECS, VALUE_DEPENDENT_SHAPE, sample

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
    ("logsumexp-all--inf", pnp.logsumexp, a([-INF, -INF]), -INF, a([NAN, NAN])),
    ("softmax-with--inf", ps.softmax, a([-INF, 0.0, 0.0]), a([0.0, 0.5, 0.5]),
     a([[0.0, 0.0, 0.0], [0.0, 0.25, -0.25], [0.0, -0.25, 0.25]])),
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
    # x ** y at x = 0: the derivative in x is y * 0 ** (y - 1), and 0 where y == 0 (JAX)
    ("power-0.0-at-0", lambda x: x ** 0.0, 0.0, 1.0, 0.0),
    ("power-int-0-at-0", lambda x: x ** 0, 0.0, 1.0, 0.0),
    ("power-1.0-at-0", lambda x: x ** 1.0, 0.0, 0.0, 1.0),
    ("power-2.0-at-0", lambda x: x ** 2.0, 0.0, 0.0, 0.0),
    ("power-3-at-0", lambda x: x ** 3, 0.0, 0.0, 0.0),
    ("power-0.5-at-0", lambda x: x ** 0.5, 0.0, 0.0, INF),
    ("power-array-exponents-at-0", lambda x: pnp.power(x, a([0.0, 1.0, 2.0, 3.0])), np.zeros(4),
     a([1.0, 0.0, 0.0, 0.0]), np.diag([0.0, 1.0, 0.0, 0.0])),
    ("power-in-y-at-0-0", lambda y: pnp.power(a([0.0, 0.0]), y), a([0.0, 2.0]), a([1.0, 0.0]),
     np.zeros((2, 2))),
    # std where the spread is 0: derivative 0 (linalg.norm's convention at 0)
    ("std-of-constant", pnp.std, a([2.0, 2.0]), 0.0, a([0.0, 0.0])),
    ("std-over-size-1-axis", lambda x: pnp.std(x, axis=1), a([[2.0], [-1.0]]), a([0.0, 0.0]),
     np.zeros((2, 2, 1))),
    ("nanstd-of-constant", pnp.nanstd, a([2.0, NAN, 2.0]), 0.0, a([0.0, 0.0, 0.0])),
    ("std-of-complex-constant", lambda x: pnp.std(x * (1.0 + 1.0j)), a([2.0, 2.0]), 0.0,
     a([0.0, 0.0])),
    # hypot at the origin: 0 (as linalg.norm); arctan2 at the origin: NaN (it jumps there)
    ("hypot-at-0", _pair(pnp.hypot), a([0.0, 0.0]), 0.0, a([0.0, 0.0])),
    ("hypot-near-0", _pair(pnp.hypot), a([3e-300, 4e-300]), 5e-300, a([0.6, 0.8])),
    ("arctan2-at-0", _pair(pnp.arctan2), a([0.0, 0.0]), 0.0, a([NAN, NAN])),
    ("norm-at-0", pnp.linalg.norm, a([0.0, 0.0]), 0.0, a([0.0, 0.0])),
    # a masked operation whose argument loses everywhere passes a symbolic zero
    ("sqrt-of-maximum-dropped", lambda x: pnp.sqrt(pnp.maximum(x, 0.0)), -1.0, 0.0, 0.0),
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
    ("sqrt-at-0", pnp.sqrt, 0.0, -INF),
    ("power-0.0-at-0", lambda x: x ** 0.0, 0.0, 0.0),
    ("power-int-0-at-0", lambda x: x ** 0, 0.0, 0.0),
    ("power-1.0-at-0", lambda x: x ** 1.0, 0.0, 0.0),
    ("power-2.0-at-0", lambda x: x ** 2.0, 0.0, 2.0),
    ("power-3-at-0", lambda x: x ** 3, 0.0, 0.0),
    ("power-traced-0-at-0", lambda x: pnp.power(x, x * 0.0), 0.0, 0.0),
    ("std-over-size-1", lambda x: pnp.std(pnp.reshape(x, (1,))), 2.0, 0.0),
    ("sqrt-of-maximum-dropped", lambda x: pnp.sqrt(pnp.maximum(x, 0.0)), -1.0, 0.0),
]


@pytest.mark.parametrize("case", SECOND, ids=[c[0] for c in SECOND])
def test_second_derivative(case) -> None:
    _, f, x, want = case
    x = np.float64(x)
    for got in (pb.grad(pb.grad(f))(x), pb.jacfwd(pb.grad(f))(x), pb.jacfwd(pb.jacfwd(f))(x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


# Hessians at the points where the functions of two or more variables have conventions
HESSIANS = [
    ("hypot-at-0", _pair(pnp.hypot), a([0.0, 0.0]), np.zeros((2, 2))),
    ("arctan2-at-0", _pair(pnp.arctan2), a([0.0, 0.0]), np.full((2, 2), NAN)),
    ("std-of-constant", pnp.std, a([2.0, 2.0, 2.0]), np.zeros((3, 3))),
    ("nanstd-of-constant", pnp.nanstd, a([2.0, NAN, 2.0]), np.zeros((3, 3))),
    ("var-of-constant", pnp.var, a([2.0, 2.0]), a([[0.5, -0.5], [-0.5, 0.5]])),
    ("norm-at-0", pnp.linalg.norm, a([0.0, 0.0]), np.zeros((2, 2))),
    # p = softmax; d^2 logsumexp = diag(p) - p p^T: the -inf entry's row and column are 0
    ("logsumexp-with--inf", pnp.logsumexp, a([-INF, 0.0, 0.0]),
     a([[0.0, 0.0, 0.0], [0.0, 0.25, -0.25], [0.0, -0.25, 0.25]])),
    ("logsumexp-all--inf", pnp.logsumexp, a([-INF, -INF]), np.full((2, 2), NAN)),
    ("power-array-exponents-at-0", lambda x: pnp.sum(pnp.power(x, a([0.0, 1.0, 2.0, 3.0]))),
     np.zeros(4), np.diag([0.0, 0.0, 2.0, 0.0])),
]


# masked operations in reverse mode: the entries they drop get exactly 0 from an infinite
# cotangent (a selection, not a product with 0). (Forward mode multiplies the zero tangent of a
# dropped entry by the infinite derivative further on: NaN there, unless the whole argument
# is dropped, which gives a symbolic zero.)
MASKED = [
    ("maximum", lambda x: pnp.sum(pnp.sqrt(pnp.maximum(x, 0.0))), a([-1.0, 4.0]), a([0.0, 0.25]),
     np.diag([0.0, -1.0 / 32.0])),
    ("minimum", lambda x: pnp.sum(pnp.sqrt(-pnp.minimum(x, 0.0))), a([1.0, -4.0]),
     a([0.0, -0.25]), np.diag([0.0, -1.0 / 32.0])),
    ("max", lambda x: pnp.sqrt(pnp.max(x)), a([0.0, -1.0]), a([INF, 0.0]), None),
    ("max-axis", lambda x: pnp.sum(pnp.sqrt(pnp.max(x, axis=1))), a([[4.0, -1.0], [0.0, -2.0]]),
     a([[0.25, 0.0], [INF, 0.0]]), None),
    ("min", lambda x: pnp.sqrt(pnp.min(x)), a([0.0, 1.0]), a([INF, 0.0]), None),
    ("fmax-vs-nan", lambda x: pnp.sum(pnp.sqrt(pnp.fmax(x, a([NAN, 5.0])))), a([0.0, 4.0]),
     a([INF, 0.0]), None),
    ("fmin", lambda x: pnp.sum(pnp.sqrt(pnp.fmin(x, a([NAN, 1.0])))), a([0.0, 4.0]),
     a([INF, 0.0]), None),
    ("clip", lambda x: pnp.sum(pnp.sqrt(pnp.clip(x, 0.0, 1.0))), a([-2.0, 0.25]),
     a([0.0, 1.0]), np.diag([0.0, -2.0])),
    ("norm-inf", lambda x: pnp.sqrt(pnp.linalg.norm(x, np.inf)), a([4.0, -1.0]),
     a([0.25, 0.0]), a([[-1.0 / 32.0, 0.0], [0.0, 0.0]])),
]


@pytest.mark.parametrize("case", MASKED, ids=[c[0] for c in MASKED])
def test_masked_operations_drop_infinite_cotangents(case) -> None:
    _, f, x, grad, hessian = case
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(pb.grad(f)(x), grad, rtol=1e-14, atol=1e-300)
        if hessian is not None:
            for second in (pb.jacrev(pb.grad(f)), pb.jacfwd(pb.grad(f)), pb.hessian(f)):
                np.testing.assert_allclose(second(x), hessian, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("case", HESSIANS, ids=[c[0] for c in HESSIANS])
def test_hessian_at_special_points(case) -> None:
    _, f, x, want = case
    with np.errstate(all="ignore"):
        for second in (pb.hessian, lambda f: pb.jacrev(pb.jacrev(f)),
                       lambda f: pb.jacfwd(pb.jacfwd(f)), lambda f: pb.jacrev(pb.jacfwd(f))):
            np.testing.assert_allclose(second(f)(x), want, rtol=1e-14, atol=1e-300)


def test_logsumexp_with_an_infinite_entry_has_no_derivative_there() -> None:
    x = np.array([INF, 0.0])
    with np.errstate(all="ignore"):
        assert pnp.logsumexp(x) == INF
        for jac in (pb.jacrev, pb.jacfwd):
            assert np.isnan(jac(pnp.logsumexp)(x)[0])


def test_third_derivative_of_integer_powers_at_0() -> None:
    for got in (pb.grad(pb.grad(pb.grad(lambda x: x ** 3)))(0.0),
                pb.jacfwd(pb.jacfwd(pb.jacfwd(lambda x: x ** 3)))(0.0),
                pb.jacfwd(pb.grad(pb.grad(lambda x: x ** 3.0)))(0.0)):
        assert got == 6.0
    # x ** 0 stays the constant 1 at every order, also at x == 0
    assert pb.grad(pb.grad(pb.grad(lambda x: x ** 0.0)))(0.0) == 0.0


def test_where_takes_the_derivative_of_the_branch_it_takes() -> None:
    x = np.array([-1.0, 0.0, 4.0])

    def single(x):  # the choice not taken has NaN and infinite derivatives at x <= 0
        return pnp.where(x > 0, pnp.sqrt(x), 0.0)

    def double(x):  # the documented fix: a safe input where the choice is not taken
        return pnp.where(x > 0, pnp.sqrt(pnp.where(x > 0, x, 1.0)), 0.0)

    want = np.diag([0.0, 0.0, 0.25])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(pb.jacfwd(single)(x), want)  # forward mode selects
        np.testing.assert_array_equal(pb.jacrev(double)(x), want)
        np.testing.assert_array_equal(pb.jacfwd(double)(x), want)
        hess = np.zeros((3, 3, 3))
        hess[2, 2, 2] = -1.0 / 32.0
        for second in (pb.jacrev(pb.jacrev(double)), pb.jacfwd(pb.jacrev(double)),
                       pb.jacfwd(pb.jacfwd(double))):
            np.testing.assert_array_equal(second(x), hess)
        # reverse mode of the single where meets 0 * NaN, as in JAX: documented, not hidden
        assert np.isnan(pb.jacrev(single)(x)[0, 0])


@pytest.mark.parametrize("ddof", [2, 3, 5])
@pytest.mark.parametrize("name", ["var", "std", "nanvar", "nanstd"])
def test_ddof_at_or_above_the_count_divides_by_zero_as_numpy(name, ddof) -> None:
    x = np.array([1.0, 2.0])
    y = np.array([3.0, 3.0])  # a zero sum of squares: 0 / 0
    func, ref = getattr(pnp, name), getattr(np, name)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for v in (x, y):
            want = ref(v, ddof=ddof)
            np.testing.assert_array_equal(func(v, ddof=ddof), want)
            value, g = pb.value_and_grad(lambda v: func(v, ddof=ddof))(v)
            np.testing.assert_array_equal(value, want)
            assert g.shape == v.shape and not np.isfinite(g).all()  # no ZeroDivisionError
            _, t = pb.jvp(lambda v: func(v, ddof=ddof), (v,), (np.ones(2),))
            pb.hessian(lambda v: func(v, ddof=ddof))(v)


def test_polygamma_returns_promptly_far_left_and_at_minus_infinity() -> None:
    """These once never returned (the upward recurrence from -1e20 or -inf)."""
    sps = pytest.importorskip("scipy.special")
    with np.errstate(all="ignore"):
        assert pb.grad(ps.digamma)(-1e20) == sps.polygamma(1, -1e20)  # a pole: inf
        for n in (1, 2, 3):
            for x in (-np.inf, -1e20, -4.0, -0.0, 0.0):
                assert ps.polygamma(n, np.array([x]))[0] == sps.polygamma(n, x), (n, x)
        x = np.array([-299999.75, -1234.4, -10.5, -9.7])  # the reflection formula
        for n in (1, 2, 3):
            np.testing.assert_allclose(ps.polygamma(n, x), sps.polygamma(n, x), rtol=1e-12)
        np.testing.assert_allclose(pb.grad(lambda v: pnp.sum(ps.polygamma(2, v)))(x),
                                   sps.polygamma(3, x), rtol=1e-12)


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


# ----------------------------------------------------------------------------- float32


def test_float32_power_and_xlogy_derivatives_stay_float32() -> None:
    """These once returned float64 cotangents (RuleError): a Python-float constant beside a
    float32 traced value made a float64 derivative."""
    x, y = np.array([1.5, 2.0], np.float32), np.array([0.5, 3.0], np.float32)
    cases = [
        (lambda x, y: pnp.sum(pnp.power(2.0, y) * x), (0, 1)),
        (lambda x, y: pnp.sum(ps.xlogy(x, y)), (0, 1)),
        (lambda x, y: pnp.sum(ps.xlogy(2.0, y) + ps.xlogy(x, 3.0)), (0, 1)),
        (lambda x, y: pnp.sum(pnp.where(x > 1.8, 0.0, y)), (1,)),
    ]
    for f, nums in cases:
        grads = pb.grad(f, argnums=nums)(x, y)
        assert all(g.dtype == np.float32 for g in grads)
        hvp = pb.jvp(pb.grad(f, argnums=nums), (x, y), (x, y))[1]
        assert all(h.dtype == np.float32 for h in hvp)
    assert pb.vmap(lambda v: pnp.where(pnp.isnan(v), 0.0, v))(np.ones((2, 3), np.float32)).dtype \
        == np.float32


def _float32_rows():
    for row in ALL_SPECS:
        yield pytest.param(row, id=row.id)


@pytest.mark.parametrize("row", list(_float32_rows()))
def test_float32_rows_keep_float32_in_every_mode(row) -> None:
    """Every spec row on float32 inputs: derivatives keep the inputs' dtypes (the core checks
    each rule's cotangent dtype) in reverse and forward mode and at second order, and the
    traced and vmapped values have the dtype of the untraced call (NumPy's)."""
    shapes = row.shapes[0]
    rng = np.random.default_rng(0)
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    args = [x.astype(np.float32) if x.dtype == np.float64 else x for x in args]
    diff = [i for i in range(len(args)) if row.differentiable(i) and args[i].dtype.kind == "f"]

    def f(*d):
        new = list(args)
        for i, v in zip(diff, d, strict=True):
            new[i] = v
        return row.fn(*new, **row.kwargs)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = np.result_type(f(*[args[i] for i in diff]))
        if diff:
            dargs = [args[i] for i in diff]
            out, vjp_fn = pb.vjp(f, *dargs)
            assert np.result_type(out) == plain
            if plain.kind in "fc":
                cts = vjp_fn(np.ones(np.shape(out), plain))
                assert [c.dtype for c in cts] == [a.dtype for a in dargs]
                ones = tuple(np.ones_like(a) for a in dargs)
                assert np.result_type(pb.jvp(f, tuple(dargs), ones)[1]) == plain
                if row.order >= 2 and plain.kind == "f":
                    nums = tuple(range(len(dargs)))
                    G = pb.grad(lambda *d: pnp.sum(f(*d)), argnums=nums)
                    assert [h.dtype for h in pb.jvp(G, tuple(dargs), ones)[1]] == \
                        [a.dtype for a in dargs]
        if row.id not in VALUE_DEPENDENT_SHAPE:
            batched = [np.stack([x, x]) for x in args]
            try:
                out = pb.vmap(lambda *a: row.fn(*a, **row.kwargs))(*batched)
            except ValueError as err:
                if "different shapes" in str(err):
                    return
                raise
            assert np.result_type(out) == plain
