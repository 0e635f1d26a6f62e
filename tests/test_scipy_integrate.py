"""pullback.scipy.integrate: ODE derivatives by the adjoint method (reverse) and forward
sensitivities (forward) against closed forms and against a fixed-step integrator
differentiated directly; memory that does not grow with the number of steps; the
quadratures' closed forms; errors, vmap, jit. The spec table checks every function against
finite differences of SciPy's."""

import gc
import tracemalloc

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

si = pytest.importorskip("scipy.integrate")
from pullback.scipy import integrate as pint  # noqa: E402

TOL = {"rtol": 1e-12, "atol": 1e-12}


def decay(y, t, k):
    return -k * y


def test_exponential_decay_derivatives_are_the_closed_forms_in_both_modes():
    # y(t) = y0 exp(-k (t - t0))
    y0, k, t = np.array([2.0, -1.0]), 0.7, np.array([0.2, 1.0, 2.5])

    def last(y0, t, k):
        return pnp.sum(pint.odeint(decay, y0, t, k, **TOL)[-1] * np.array([1.0, 3.0]))

    e = np.exp(-k * (t[-1] - t[0]))
    w = np.array([1.0, 3.0])
    want_y0 = w * e
    want_k = -(t[-1] - t[0]) * np.sum(w * y0) * e
    want_t = np.array([k * np.sum(w * y0) * e, 0.0, -k * np.sum(w * y0) * e])
    g = pb.grad(last, argnums=(0, 1, 2))(y0, t, k)
    np.testing.assert_allclose(g[0], want_y0, rtol=1e-9)
    np.testing.assert_allclose(g[1], want_t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[2], want_k, rtol=1e-9)
    for i, want in enumerate((want_y0, want_t, want_k)):
        basis = np.eye(np.size(want)).reshape((np.size(want),) + np.shape(want))
        fwd = [pb.jvp(last, (y0, t, k), tuple(b if j == i else np.zeros_like(a)
                                                  for j, a in enumerate((y0, t, k))))[1]
               for b in (basis if np.ndim(want) else [1.0])]
        np.testing.assert_allclose(np.reshape(fwd, np.shape(want)), want, rtol=1e-9,
                                   atol=1e-12)
    # second order: d2/dk2 = (t - t0)^2 sum(w y0) e, three ways
    want2 = (t[-1] - t[0]) ** 2 * np.sum(w * y0) * e
    f = lambda k: last(y0, t, k)  # noqa: E731
    np.testing.assert_allclose(pb.grad(pb.grad(f))(k), want2, rtol=1e-8)
    np.testing.assert_allclose(pb.jvp(pb.grad(f), (k,), (1.0,))[1], want2, rtol=1e-8)
    np.testing.assert_allclose(pb.jacfwd(pb.jacfwd(f))(k), want2, rtol=1e-8)


def lotka_volterra(y, t, theta):
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    return pnp.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


def rk4(func, y0, t0, t1, steps, *args):
    """A fixed-step Runge-Kutta integrator written with pullback.numpy: differentiated
    directly, its tape grows with the number of steps."""
    h = (t1 - t0) / steps
    y, t = y0, t0
    for _ in range(steps):
        k1 = func(y, t, *args)
        k2 = func(y + 0.5 * h * k1, t + 0.5 * h, *args)
        k3 = func(y + 0.5 * h * k2, t + 0.5 * h, *args)
        k4 = func(y + h * k3, t + h, *args)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + h
    return y


THETA = np.array([1.1, 0.4, 0.4, 0.8])
Y0 = np.array([1.0, 0.5])


def test_the_adjoint_agrees_with_a_fixed_step_integrator_differentiated_directly():
    def adjoint_loss(y0, theta):
        y = pint.odeint(lotka_volterra, y0, np.array([0.0, 3.0]), theta, **TOL)[-1]
        return pnp.sum(y * y)

    def direct_loss(y0, theta):
        y = rk4(lotka_volterra, y0, 0.0, 3.0, 400, theta)
        return pnp.sum(y * y)

    ga = pb.grad(adjoint_loss, argnums=(0, 1))(Y0, THETA)
    gd = pb.grad(direct_loss, argnums=(0, 1))(Y0, THETA)
    for a, d in zip(ga, gd, strict=True):
        np.testing.assert_allclose(a, d, rtol=1e-8)  # RK4 with h = 0.0075: error ~1e-9
    # and forward mode agrees with reverse mode
    v = np.array([0.3, -0.2, 0.5, 1.0])
    fwd = pb.jvp(lambda th: adjoint_loss(Y0, th), (THETA,), (v,))[1]
    np.testing.assert_allclose(fwd, ga[1] @ v, rtol=1e-9)


def test_adjoint_memory_does_not_grow_with_the_number_of_steps():
    """The adjoint keeps the outputs only: integrating twice as long (twice the steps: about
    235 and 430) takes the same memory, once the garbage of the steps' pullbacks is collected
    as it comes; a fixed-step integrator differentiated directly keeps every step
    (``benchmarks/odeint_adjoint.py`` measures both at 10,000 steps)."""

    def peak(f):
        gc.collect()
        tracemalloc.start()
        try:
            f()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def adjoint(t_end):
        t = np.array([0.0, t_end])
        return lambda: pb.grad(lambda th: pnp.sum(pint.odeint(
            lotka_volterra, Y0, t, th, mxstep=100000, rtol=1e-6, atol=1e-6)[-1]))(THETA)

    adjoint(20.0)()  # warm up: caches filled once
    short, long = peak(adjoint(20.0)), peak(adjoint(40.0))
    assert long < 1.25 * short, (short, long)
    direct = peak(lambda: pb.grad(lambda th: pnp.sum(rk4(lotka_volterra, Y0, 0.0, 1.0, 100,
                                                         th)))(THETA))
    assert direct > 10 * short, (direct, short)


def test_times_in_any_order_and_pytree_arguments():
    t = np.array([2.0, 1.0, 0.0])  # backwards in time, as SciPy allows
    y = pint.odeint(decay, np.array([1.0]), t, 0.5, **TOL)
    np.testing.assert_allclose(y[:, 0], np.exp(-0.5 * (t - 2.0)), rtol=1e-10)
    g = pb.grad(lambda k: pint.odeint(decay, np.array([1.0]), t, k, **TOL)[-1, 0])(0.5)
    np.testing.assert_allclose(g, 2.0 * np.exp(1.0), rtol=1e-9)

    def f(y, t, p):  # a dict of parameters, SciPy's args=, and tfirst
        return -p["k"] * y + p["c"]

    p = {"k": 0.5, "c": np.array([0.1, 0.2])}
    y = pint.odeint(lambda t, y, p: f(y, t, p), np.ones(2), np.array([0.0, 1.0]), args=(p,),
                    tfirst=True, **TOL)
    g = pb.grad(lambda p: pnp.sum(pint.odeint(f, np.ones(2), np.array([0.0, 1.0]), p,
                                              **TOL)[-1]))(p)
    e = np.exp(-0.5)
    np.testing.assert_allclose(y[-1], e + p["c"] / 0.5 * (1 - e), rtol=1e-10)
    np.testing.assert_allclose(g["c"], (1 - e) / 0.5, rtol=1e-9)


def test_solve_ivp_matches_scipy_and_differentiates_every_time():
    def fun(t, y, k):
        return -k * y * pnp.cos(t)

    t_eval = np.array([0.5, 1.0, 2.0])
    sol = pint.solve_ivp(fun, (0.0, 2.0), np.array([1.0]), "DOP853", t_eval, args=(0.3,), **TOL)
    ref = si.solve_ivp(fun, (0.0, 2.0), np.array([1.0]), "DOP853", t_eval, args=(0.3,), **TOL)
    np.testing.assert_array_equal(sol.y, ref.y)
    assert sol.success and sol.t is t_eval or np.array_equal(sol.t, t_eval)
    # y = exp(-k sin t): d y(t_i) / d t_i = -k cos(t_i) y, d/dk = -sin(t) y
    g = pb.jacrev(lambda te: pint.solve_ivp(fun, (0.0, 2.0), np.array([1.0]), "DOP853", te,
                                            args=(0.3,), **TOL).y[0])(t_eval)
    y = np.exp(-0.3 * np.sin(t_eval))
    np.testing.assert_allclose(np.diag(g), -0.3 * np.cos(t_eval) * y, rtol=1e-9)
    # without t_eval: SciPy's own steps, as constants
    free = pint.solve_ivp(fun, (0.0, 2.0), np.array([1.0]), args=(0.3,), **TOL)
    ref = si.solve_ivp(fun, (0.0, 2.0), np.array([1.0]), args=(0.3,), **TOL)
    np.testing.assert_allclose(free.y, ref.y, rtol=1e-12)


def test_a_right_hand_side_closing_over_a_traced_value():
    # y' = -k y: y(1) = 2 exp(-k); the closure over k is an argument in disguise
    t = np.array([0.0, 1.0])

    def end(k):
        return pint.odeint(lambda y, tt: -k * y, np.array([2.0]), t, **TOL)[-1, 0]

    k = 0.7
    e = 2.0 * np.exp(-k)
    assert float(pb.grad(end)(k)) == pytest.approx(-e, rel=1e-9)
    assert float(pb.jacfwd(end)(k)) == pytest.approx(-e, rel=1e-9)
    assert float(pb.hessian(end)(k)) == pytest.approx(e, rel=1e-8)
    assert float(pb.jit(pb.grad(end))(k)) == pytest.approx(-e, rel=1e-9)
    ks = np.array([0.3, 0.7])
    np.testing.assert_allclose(pb.vmap(pb.grad(end))(ks), -2.0 * np.exp(-ks), rtol=1e-9)
    # closed over and passed: both differentiated (y(1) = 2 exp(-k c))
    both = pb.grad(lambda k, c: pint.odeint(lambda y, tt, cc: -k * cc * y, np.array([2.0]),
                                            t, c, **TOL)[-1, 0], argnums=(0, 1))(k, 1.5)
    np.testing.assert_allclose(both, [-1.5 * 2 * np.exp(-1.05), -k * 2 * np.exp(-1.05)],
                               rtol=1e-9)
    # solve_ivp, without t_eval (the solver's steps found with the closure's plain value)
    g = pb.grad(lambda k: pint.solve_ivp(lambda tt, y: -k * y, (0.0, 1.0), np.array([2.0]),
                                         **TOL).y[0, -1])(k)
    assert float(g) == pytest.approx(-e, rel=1e-8)


def test_errors_name_the_problem():
    theta = np.array(0.5)

    def branchy(k):  # Python that needs a value: the closure cannot be traced to find k
        def rhs(y, t):
            return -y if float(pnp.sum(y)) > 10 else -k * y
        return pint.odeint(rhs, np.ones(1), np.array([0.0, 1.0]))[-1, 0]

    with pytest.raises(pb.TracerConversionError,
                       match=r"closes over a traced value .* float\(\) needs the value.*"
                             r"Pass every quantity to differentiate as an extra argument"):
        pb.grad(branchy)(theta)
    with pytest.raises(NotImplementedError, match=r"\['Dfun'\] are not supported"):
        pint.odeint(decay, np.ones(1), np.array([0.0, 1.0]), 0.5, Dfun=lambda y, t, k: -k)
    with pytest.raises(TypeError, match="either positionally or as args"):
        pint.odeint(decay, np.ones(1), np.array([0.0, 1.0]), 0.5, args=(0.5,))
    with pytest.raises(NotImplementedError, match="events"):
        pint.solve_ivp(lambda t, y: -y, (0.0, 1.0), np.ones(1), events=lambda t, y: y)
    with pytest.raises(RuntimeError, match="SciPy's integrator failed"):
        pint.odeint(lambda y, t: y * y, np.ones(1), np.array([0.0, 2.0]), mxstep=50)


def test_vmap_solves_each_entry_as_without_it_and_jit_agrees():
    y0 = np.array([[1.0, 0.5], [0.8, 0.9], [1.2, 0.3]])
    thetas = THETA * np.array([[1.0], [1.1], [0.9]])
    t = np.array([0.0, 1.0, 2.0])

    def f(y0, th):
        return pint.odeint(lotka_volterra, y0, t, th, **TOL)

    want = np.stack([f(y0[i], thetas[i]) for i in range(3)])
    np.testing.assert_array_equal(pb.vmap(f)(y0, thetas), want)
    np.testing.assert_array_equal(pb.vmap(f, in_axes=(0, None))(y0, THETA),
                                  np.stack([f(y, THETA) for y in y0]))
    g = pb.grad(lambda th, y: pnp.sum(f(y, th)[-1]))
    gv = pb.vmap(g, in_axes=(None, 0))(THETA, y0)
    np.testing.assert_allclose(gv, np.stack([g(THETA, y) for y in y0]), rtol=1e-12)
    np.testing.assert_allclose(pb.jit(f)(y0[0], THETA), f(y0[0], THETA), rtol=1e-13)


# ----------------------------------------------------------------------------- quadrature


def test_quadrature_derivatives_are_the_closed_forms():
    x = np.array([0.0, 0.4, 1.0, 1.3, 2.0])
    y = np.sin(x)
    # trapezoid: d/dy_i = (x_{i+1} - x_{i-1}) / 2 (half intervals at the ends)
    want = np.diff(np.concatenate([[x[0]], (x[1:] + x[:-1]) / 2, [x[-1]]]))
    np.testing.assert_allclose(pb.grad(lambda v: pint.trapezoid(v, x))(y), want, rtol=1e-14)
    # Simpson's rule is exact for quadratics, for every placement of the points
    quad = lambda x: x**2 - 2 * x + 0.5  # noqa: E731
    np.testing.assert_allclose(pint.simpson(quad(x), x=x), 8 / 3 - 4 + 1, rtol=1e-13)
    for xs in (x, x[:4]):  # odd and even numbers of points (Cartwright's last interval)
        gx = pb.grad(lambda v: pint.simpson(quad(v), x=v))(xs)
        # moving an inner point changes nothing; the ends move the limits: -+f(end)
        want = np.zeros(len(xs))
        want[0], want[-1] = -quad(xs[0]), quad(xs[-1])
        np.testing.assert_allclose(gx, want, atol=1e-12)
    c = pint.cumulative_trapezoid(y, x, initial=0)
    np.testing.assert_allclose(c[-1], pint.trapezoid(y, x), rtol=1e-14)


def test_a_right_hand_side_that_fills_an_array_works_inside_a_transformation():
    # SciPy calls the function on plain arrays: pnp.zeros there is a plain array too (inside
    # pb.grad it would otherwise be a buffer of the gradient's trace), so the loop that fills
    # it is NumPy's, and the derivative is the one of the same system written with stack
    def filled(y, t, k):
        out = pnp.zeros(2)
        out[0] = y[1]
        out[1] = -k * y[0]
        return out

    def stacked(y, t, k):
        return pnp.stack([y[1], -k * y[0]])

    y0, t = np.array([1.0, 0.0]), np.array([0.0, 0.5, 1.0])

    def loss(rhs):
        return lambda k: pnp.sum(pint.odeint(rhs, y0, t, k, rtol=1e-10, atol=1e-10)[-1])

    got = pb.grad(loss(filled))(2.0)
    np.testing.assert_allclose(got, pb.grad(loss(stacked))(2.0), rtol=1e-12)
    # y = cos(sqrt(k) t): d/dk [cos(sqrt(k)) - sqrt(k) sin(sqrt(k))] at t = 1
    s = np.sqrt(2.0)
    want = -np.sin(s) / (2 * s) - np.sin(s) / (2 * s) - np.cos(s) / 2
    np.testing.assert_allclose(got, want, rtol=1e-7)


@pytest.mark.parametrize("solver", ["odeint", "solve_ivp"])
def test_complex_times_are_refused(solver):
    # SciPy drops the imaginary part of complex times (a ComplexWarning at most), and the
    # derivative with respect to them would be wrong: time is real
    t = np.array([0.0, 0.5, 1.0]) + 0.1j
    y0 = np.array([1.0, 0.0])
    if solver == "odeint":
        def call(t):
            return pint.odeint(lambda y, s: -y, y0, t)
    else:
        def call(t):
            return pint.solve_ivp(lambda s, y: -y, (0.0, 1.0), y0, t_eval=t).y
    with pytest.raises(TypeError, match=f"integrate.{solver}: complex times"):
        pb.vjp(call, t)
