"""The one-step paths of the eager Hessian-vector product (forward over reverse), each against
a closed form: a product of a value with itself (one cotangent computed for both arguments),
the VJP tape recorded over a JVP level (record1/record2 over jvp_apply1/2, views included),
grad's fast path on JVP values, and special values (NaN, infinities, signed zeros)."""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.core.forward import JVPTrace, JVPTracer
from pullback.core.reverse import VJPTrace
from pullback.core.trace import new_trace

RNG = np.random.default_rng(12)


def rosenbrock(x):
    a = x[0::2]
    b = x[1::2]
    return pnp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def rosenbrock_hvp(x, v):
    """The closed form: the 2x2 blocks of the Hessian applied to v."""
    a, b, va, vb = x[0::2], x[1::2], v[0::2], v[1::2]
    out = np.empty_like(x)
    out[0::2] = (1200.0 * a * a - 400.0 * b + 2.0) * va - 400.0 * a * vb
    out[1::2] = -400.0 * a * va + 200.0 * vb
    return out


def rosenbrock_grad(x):
    a, b = x[0::2], x[1::2]
    out = np.empty_like(x)
    out[0::2] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    out[1::2] = 200.0 * (b - a * a)
    return out


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_rosenbrock_hvp_and_hessian_closed_form(n):
    x = RNG.uniform(-1.5, 1.5, n)
    v = RNG.standard_normal(n)
    (g,), (hv,) = pb.hvp(rosenbrock, (x,), (v,))
    np.testing.assert_allclose(g, rosenbrock_grad(x), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(hv, rosenbrock_hvp(x, v), rtol=1e-13, atol=1e-11)
    if n <= 10:
        H = pb.hessian(rosenbrock)(x)
        cols = np.stack([rosenbrock_hvp(x, e) for e in np.eye(n)], axis=1)
        np.testing.assert_allclose(H, cols, rtol=1e-13, atol=1e-11)


def test_square_by_product_closed_form_all_transformations():
    # f(x) = sum(c x^3) written with x * x (one traced value times itself)
    c = RNG.uniform(0.5, 2.0, 5)
    x = RNG.standard_normal(5)
    v = RNG.standard_normal(5)

    def f(x):
        return pnp.sum(c * (x * x) * x)

    grad = 3.0 * c * x**2
    hess = np.diag(6.0 * c * x)
    np.testing.assert_allclose(pb.grad(f)(x), grad, rtol=1e-14)
    (g,), (hv,) = pb.hvp(f, (x,), (v,))
    np.testing.assert_allclose(g, grad, rtol=1e-14)
    np.testing.assert_allclose(hv, hess @ v, rtol=1e-13)
    np.testing.assert_allclose(pb.hessian(f)(x), hess, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pb.jacrev(pb.jacrev(f))(x), hess, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pb.jacfwd(pb.grad(f))(x), hess, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pb.jvp(f, (x,), (v,))[1], grad @ v, rtol=1e-13)
    xs = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(pb.vmap(pb.grad(f))(xs), 3.0 * c * xs**2, rtol=1e-14)
    # third order: the derivative of the Hessian along v, 6 c v on the diagonal
    third = pb.jvp(pb.hessian(f), (x,), (v,))[1]
    np.testing.assert_allclose(third, np.diag(6.0 * c * v), rtol=1e-13, atol=1e-15)


def test_square_by_product_one_argument_traced_twice_vjp():
    # the cotangent of x * x reaches x once per argument: g * x + g * x = 2 g x
    x = RNG.standard_normal(4)
    g = RNG.standard_normal(4)
    out, pull = pb.vjp(lambda x: x * x, x)
    np.testing.assert_array_equal(pull(g)[0], g * x + g * x)
    # two different values of equal contents: still a product of two arguments
    _, pull2 = pb.vjp(lambda x, y: x * y, x, x.copy())
    gx, gy = pull2(g)
    np.testing.assert_array_equal(gx, g * x)
    np.testing.assert_array_equal(gy, g * x)


def test_square_by_product_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e200, -3.0])
    v = np.array([1.0, 1.0, -2.0, 1.0, 1.0, 1.0, 0.5])

    def f(x):
        return pnp.sum(x * x)

    with np.errstate(all="ignore"):
        (g,), (hv,) = pb.hvp(f, (x,), (v,))
        np.testing.assert_array_equal(pb.grad(f)(x), 2.0 * x)
        np.testing.assert_array_equal(g, 2.0 * x)
        np.testing.assert_array_equal(hv, 2.0 * v)
        np.testing.assert_array_equal(np.signbit(pb.grad(f)(x)), np.signbit(2.0 * x))


def test_square_by_product_complex_is_not_abs_squared():
    # holomorphic z * z: vjp g * 2z and jvp 2z t (JAX's convention: no conjugate), not the
    # rules of |z|^2
    z = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    t = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    g = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    _, pull = pb.vjp(lambda z: z * z, z)
    np.testing.assert_allclose(pull(g)[0], g * 2.0 * z, rtol=1e-14)
    np.testing.assert_allclose(pb.jvp(lambda z: z * z, (z,), (t,))[1], 2.0 * z * t, rtol=1e-14)

    # a real function of complex z: f = sum(Re(z^2)) = sum(x^2 - y^2); grad in JAX's
    # convention df/dx - i df/dy = 2x + 2iy = 2z, and its JVP along t is 2t
    def f(z):
        return pnp.sum(pnp.real(z * z))

    np.testing.assert_allclose(pb.grad(f)(z), 2.0 * z, rtol=1e-14)
    (gz,), (hv,) = pb.hvp(f, (z,), (t,))
    np.testing.assert_allclose(gz, 2.0 * z, rtol=1e-14)
    np.testing.assert_allclose(hv, 2.0 * t, rtol=1e-14)


def test_tape_over_jvp_level_records_one_node_per_operation():
    # the VJP tape inside a JVP level: one node per operation, values JVP values whose
    # tangents are the closed-form ones
    x = RNG.standard_normal(6)
    v = RNG.standard_normal(6)
    with new_trace(JVPTrace) as jt:
        with new_trace(VJPTrace) as vt:
            xl = vt.leaf(JVPTracer(jt, x, v))
            a = xl[1::2]
            y = a * 3.0 - pnp.sin(a)
            s = pnp.sum(y)
        assert [n.prim.name for n in vt.nodes[1:]] == [
            "getitem", "multiply", "sin", "subtract", "sum"]
        assert type(y.primal) is JVPTracer
        np.testing.assert_allclose(y.primal.primal, 3.0 * x[1::2] - np.sin(x[1::2]))
        np.testing.assert_allclose(y.primal.tangent, (3.0 - np.cos(x[1::2])) * v[1::2])
        np.testing.assert_allclose(s.primal.tangent, np.sum((3.0 - np.cos(x[1::2])) * v[1::2]))


def test_writes_through_views_under_jvp_and_hvp():
    # v = x[1:] is a view: writing into it writes into x's copy, as NumPy does
    x = RNG.standard_normal(5)
    t = RNG.standard_normal(5)

    def f(x):
        y = x * 1.0
        w = y[1:]
        w[0] = w[0] * w[0]  # y[1] = x[1]^2
        return pnp.sum(y * y)

    # f = x0^2 + x1^4 + x2^2 + x3^2 + x4^2
    grad = 2.0 * x
    grad[1] = 4.0 * x[1] ** 3
    diag = np.full(5, 2.0)
    diag[1] = 12.0 * x[1] ** 2
    np.testing.assert_allclose(pb.jvp(f, (x,), (t,))[1], grad @ t, rtol=1e-13)
    np.testing.assert_allclose(pb.grad(f)(x), grad, rtol=1e-13)
    (g,), (hv,) = pb.hvp(f, (x,), (t,))
    np.testing.assert_allclose(g, grad, rtol=1e-13)
    np.testing.assert_allclose(hv, diag * t, rtol=1e-13)
    np.testing.assert_allclose(pb.hessian(f)(x), np.diag(diag), rtol=1e-13)


def test_hvp_of_broadcasting_and_closed_over_values():
    # operands of different shapes and a closed-over array: the general path where the one-step
    # paths do not apply, same answers
    W = RNG.standard_normal((3, 4))
    x = RNG.standard_normal(4)
    v = RNG.standard_normal(4)

    def f(x):
        return pnp.sum((W * x) ** 2) + pnp.sum(x[None, :] * x[:, None])

    # f = sum_i x_i^2 sum_k W_ki^2 + (sum x)^2
    hess = np.diag(2.0 * np.sum(W**2, axis=0)) + 2.0 * np.ones((4, 4))
    (g,), (hv,) = pb.hvp(f, (x,), (v,))
    np.testing.assert_allclose(g, 2.0 * x * np.sum(W**2, axis=0) + 2.0 * np.sum(x), rtol=1e-13)
    np.testing.assert_allclose(hv, hess @ v, rtol=1e-13)
    np.testing.assert_allclose(pb.hessian(f)(x), hess, rtol=1e-13)
