"""pullback.check's numerical derivatives against closed forms: accuracy of each method, error
estimates that bound the error, steps relative to x, the float64 oracle of float32 functions,
the choice made by ``auto``, one-sided derivatives at kinks, and the notebook's test_vjp."""

from __future__ import annotations

import numpy as np
import pytest

import pullback.numpy as pnp
from pullback.check import numerical_jacobian, numerical_jvp, numerical_vjp, report
from pullback.check.numeric import Flat, directional

# name, f, x, closed-form derivative
WELL_SCALED = [
    ("exp", pnp.exp, 1.3, np.exp),
    ("sin", pnp.sin, 0.7, np.cos),
    ("runge", lambda x: 1.0 / (1.0 + 25.0 * x * x), 0.3,
     lambda x: -50.0 * x / (1.0 + 25.0 * x * x) ** 2),
    ("pow4.5", lambda x: x ** 4.5, 2.0, lambda x: 4.5 * x ** 3.5),
]
BADLY_SCALED = [
    ("log-small", pnp.log, 1e-3, lambda x: 1.0 / x),
    ("log-large", pnp.log, 1e8, lambda x: 1.0 / x),
    ("exp-700", pnp.exp, 700.0, np.exp),
    ("tanh-10", pnp.tanh, 10.0, lambda x: 1.0 / np.cosh(x) ** 2),
]
# the accuracy each method reaches on well-scaled functions in float64 (relative error)
BOUNDS = {"forward": 1e-7, "central": 1e-9, "richardson": 1e-13, "complex": 2.3e-16,
          "auto": 2.3e-16}


def _rel(f, x, df, method):
    xs = np.array([x])
    t, e = numerical_jvp(f, (xs,), (np.ones(1),), method=method, return_error=True)
    exact = df(x)
    return abs(t[0] - exact) / abs(exact), e[0] / abs(exact)


@pytest.mark.parametrize("method", list(BOUNDS))
@pytest.mark.parametrize("name,f,x,df", WELL_SCALED, ids=[r[0] for r in WELL_SCALED])
def test_accuracy_on_well_scaled_functions(name, f, x, df, method):
    rel, _ = _rel(f, x, df, method)
    assert rel <= BOUNDS[method]


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex", "auto"])
@pytest.mark.parametrize("name,f,x,df", WELL_SCALED + BADLY_SCALED,
                         ids=[r[0] for r in WELL_SCALED + BADLY_SCALED])
def test_error_estimate_bounds_the_error(name, f, x, df, method):
    rel, est = _rel(f, x, df, method)
    assert rel <= 2 * est + 1e-300


@pytest.mark.parametrize("name,f,x,df", BADLY_SCALED, ids=[r[0] for r in BADLY_SCALED])
def test_richardson_steps_follow_the_scale_of_x(name, f, x, df):
    rel, _ = _rel(f, x, df, "richardson")
    # tanh at 10: the derivative (8e-9) is far below the values (1), rounding dominates
    assert rel <= (3e-7 if name == "tanh-10" else 3e-13)
    rel, _ = _rel(f, x, df, "auto")
    assert rel <= 2.3e-16


def test_float32_functions_get_a_float64_oracle():
    x32 = np.array([0.7, -1.3], np.float32)
    t = numerical_jvp(pnp.sin, (x32,), (np.ones(2, np.float32),), method="richardson")
    assert t.dtype == np.float64
    np.testing.assert_allclose(t, np.cos(x32.astype(np.float64)), rtol=1e-13, atol=0)
    flat = Flat(pnp.sin, (x32,))
    assert flat.phi0.dtype == np.float64 and flat.eval_eps == np.finfo(np.float64).eps


def test_a_function_that_casts_down_is_differenced_at_its_own_precision():
    f = lambda x: pnp.astype(pnp.sin(x), np.float32)  # noqa: E731
    flat = Flat(f, (np.array([0.7]),))
    assert flat.eval_eps == np.finfo(np.float32).eps
    est = directional(flat, [np.ones(1)], "richardson")
    assert abs(est.value[0] - np.cos(0.7)) <= 2 * est.error[0]
    assert est.error[0] > 1e-9  # honest: float32 values cannot give 1e-13


def test_notebook_test_vjp_is_the_forward_method():
    def test_vjp(f, x, u, eps=1e-3):  # the seed notebook's checker
        def e(i):
            basis_vector = np.zeros(len(x))
            basis_vector[i] = 1
            return basis_vector

        jacobian = np.zeros((len(f(x)), len(x)))
        for i in range(len(x)):
            jacobian[:, i] = (f(x + eps * e(i)) - f(x)) / eps
        return np.dot(jacobian.T, u)

    f = lambda x: np.tanh(np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]) @ x)  # noqa: E731
    x, u = np.array([0.1, -0.4, 0.7]), np.array([1.0, -2.0])
    ours = numerical_vjp(f, (x,), u, method="forward", eps=1e-3)[0]
    np.testing.assert_allclose(ours, test_vjp(f, x, u), rtol=1e-13, atol=0)


def test_numerical_jacobian_and_vjp_against_closed_forms():
    A = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
    x = np.array([0.2, -0.8, 1.1])
    J = numerical_jacobian(lambda x: A @ pnp.sin(x), x)
    np.testing.assert_allclose(J, A * np.cos(x), rtol=1e-15, atol=1e-15)
    J2, err = numerical_jacobian(lambda x: x[:, None] * x, x, return_error=True)
    assert J2.shape == (3, 3, 3) and err.shape == (3, 3, 3)
    np.testing.assert_allclose(J2, np.einsum("ik,j->ijk", np.eye(3), x)
                               + np.einsum("i,jk->ijk", x, np.eye(3)), rtol=1e-15, atol=1e-15)
    params = {"a": np.array([1.0, 2.0]), "b": np.array(0.5)}
    g = numerical_vjp(lambda p, n: p["a"] * p["b"] ** n, (params, 2), np.array([1.0, -1.0]))
    np.testing.assert_allclose(g[0]["a"], [0.25, -0.25], rtol=1e-15)
    np.testing.assert_allclose(g[0]["b"], (1.0 - 2.0) * 2 * 0.5, rtol=1e-15)
    assert g[1] is None
    with pytest.raises(TypeError, match="x must be one floating-point array"):
        numerical_jacobian(lambda p: p["a"], params)
    with pytest.raises(ValueError, match="cotangent has 1 floating entries"):
        numerical_vjp(pnp.sin, (x,), np.ones(1))


def test_eps_is_an_absolute_step():
    x = np.array([2.0])
    for method, quotient in [
        ("forward", (np.exp(2.5) - np.exp(2.0)) / 0.5),
        ("central", (np.exp(2.5) - np.exp(1.5)) / 1.0),
    ]:
        t = numerical_jvp(pnp.exp, (x,), (np.ones(1),), method=method, eps=0.5)
        np.testing.assert_allclose(t, [quotient], rtol=1e-15)


def test_zero_direction_gives_an_exact_zero():
    t, e = numerical_jvp(pnp.exp, (np.ones(2),), (np.zeros(2),), return_error=True)
    assert np.all(t == 0) and np.all(e == 0)


@pytest.mark.parametrize(
    "f,method",
    [
        (lambda x: pnp.sum(pnp.sin(x) * x), "complex"),
        (lambda x: pnp.sum(pnp.abs(x) * x), "richardson"),  # abs drops the imaginary part
        (lambda x: pnp.sum(pnp.real(x) * x), "richardson"),  # real part: not analytic
        (lambda x: pnp.sum(pnp.maximum(x, 0.5) ** 2), "complex"),  # analytic away from ties
        (lambda x: pnp.sum(pnp.maximum(x, 0.0)), "richardson"),  # x has a 0: a tie
    ],
)
def test_auto_uses_the_complex_step_only_where_it_is_exact(f, method):
    rep = report(f, (np.array([0.0, 1.5, -0.7]) + (method == "complex") * 0.1,), dot=False)
    assert {r.method for r in rep.rows} == {method}
    assert rep.ok


def test_complex_method_refuses_a_function_that_drops_the_imaginary_part():
    with pytest.raises(ValueError, match="method='complex' cannot be used for <lambda>: it "
                                         "returned a real result"):
        numerical_jvp(lambda x: pnp.abs(x), (np.ones(2),), (np.ones(2),), method="complex")


def test_one_sided_derivatives_and_jumps():
    x = np.array([0.0, 1.5, -0.7])
    est = directional(Flat(pnp.abs, (x,)), [np.ones(3)], "richardson")
    np.testing.assert_allclose(est.left, [-1.0, 1.0, -1.0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.right, [1.0, 1.0, -1.0], rtol=1e-12, atol=1e-12)
    assert est.value[0] == 0.0 and not est.jump.any()
    step = directional(Flat(lambda x: pnp.where(x > 0, 1.0, 0.0) + x, (x,)), [np.ones(3)],
                       "richardson")
    assert step.jump.tolist() == [True, False, False]


def test_a_kink_in_the_derivative_is_differentiated_from_one_side():
    # a Huber loss at its switch point |r| == 1: f' is continuous, f'' jumps from 1 to 0;
    # central differences converge like h there, the one-sided ones stay exact
    huber = lambda r: pnp.where(pnp.abs(r) < 1.0, 0.5 * r**2, pnp.abs(r) - 0.5)  # noqa: E731
    x, d = np.array([1.0, -1.0, 0.3, 2.0]), np.array([0.7, -1.3, 0.4, 1.1])
    est = directional(Flat(huber, (x,)), [d], "richardson")
    exact = np.array([0.7, 1.3, 0.12, 1.1])
    np.testing.assert_allclose(est.value, exact, rtol=1e-12, atol=0)
    assert np.all(np.abs(est.value - exact) <= 2 * est.error)
    assert est.bend.tolist() == [True, True, False, False]
    t = numerical_jvp(huber, (x,), (d,))
    np.testing.assert_allclose(t, exact, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name,f,x,df", WELL_SCALED + BADLY_SCALED,
                         ids=[r[0] for r in WELL_SCALED + BADLY_SCALED])
def test_smooth_functions_have_no_kink_in_the_derivative(name, f, x, df):
    est = directional(Flat(f, (np.array([x, 0.5 * x]),)), [np.array([1.0, -2.0])], "richardson")
    assert not est.bend.any()


def test_complex_inputs_move_along_real_and_imaginary_parts():
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    f = lambda z: pnp.sin(z) * pnp.conj(z)  # noqa: E731 (not holomorphic)
    dz = np.array([0.3 - 0.2j, 1.1 + 0.5j])
    expected = np.cos(z) * np.conj(z) * dz + np.sin(z) * np.conj(dz)
    for method in ("auto", "richardson", "central"):
        t, e = numerical_jvp(f, (z,), (dz,), method=method, return_error=True)
        assert t.dtype == np.complex128
        np.testing.assert_allclose(t, expected, rtol=1e-12 if method != "central" else 1e-8)
        assert np.all(np.abs(t - expected) <= 2 * e + 1e-300)
    w = np.array([0.7 + 0.1j, -0.4 + 0.9j])
    (g,) = numerical_vjp(f, (z,), w)
    # the transpose under Re(sum(a * b)): Re(sum(g * dz)) == Re(sum(w * J dz)) for every dz
    for dz in (np.array([1.0, 0.0]), np.array([0.0, 1j]), np.array([0.3 - 0.2j, 1.1 + 0.5j])):
        jdz = numerical_jvp(f, (z,), (dz,))
        np.testing.assert_allclose(np.real(np.sum(g * dz)), np.real(np.sum(w * jdz)),
                                   rtol=1e-11)
    with pytest.raises(ValueError, match="complex step needs real inputs"):
        directional(Flat(f, (z,)), [dz], "complex")
    assert directional(Flat(f, (z,)), [dz], "auto").method == "richardson"
