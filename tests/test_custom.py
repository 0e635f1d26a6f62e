"""Custom derivatives: pb.primitive (the notebook's format), custom_vjp, custom_jvp, and
rule validation."""

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp

X = np.array([-1.3, -0.2, 0.4, 1.1, 2.0])
T = np.array([0.5, -1.0, 2.0, 0.3, -0.7])


@pb.primitive
def softplus(x):
    """log(1 + e^x) with its pullback written in pullback's operations."""
    value = np.log1p(np.exp(x))

    def vjp(u):
        return (u / (1.0 + np.exp(-x)),)

    return value, vjp


def softplus_d(x):
    return 1 / (1 + np.exp(-x))


def softplus_d2(x):
    s = softplus_d(x)
    return s * (1 - s)


def test_primitive_outside_a_transformation_returns_the_value():
    np.testing.assert_allclose(softplus(X), np.log1p(np.exp(X)))
    assert softplus.__name__ == "softplus" and "pullback" in softplus.__doc__


def test_primitive_reverse_forward_and_second_order():
    g = pb.grad(lambda x: pnp.sum(softplus(x)))(X)
    np.testing.assert_allclose(g, softplus_d(X), rtol=1e-15)
    _, t = pb.jvp(softplus, (X,), (T,))  # JVP derived from the pullback
    np.testing.assert_allclose(t, softplus_d(X) * T, rtol=1e-15)
    H = pb.hessian(lambda x: pnp.sum(softplus(x)))(X)
    np.testing.assert_allclose(H, np.diag(softplus_d2(X)), rtol=1e-13, atol=1e-15)
    J = pb.jacfwd(softplus)(X)
    np.testing.assert_allclose(J, np.diag(softplus_d(X)), rtol=1e-15)
    third = pb.grad(pb.grad(pb.grad(lambda x: softplus(x))))(0.3)
    s = softplus_d(0.3)
    np.testing.assert_allclose(third, s * (1 - s) * (1 - 2 * s), rtol=1e-12)


@pb.primitive
def weighted(x, w):
    """Two arguments; the second sometimes without derivative (None)."""
    return x * w, lambda u: (u * w, u * x)


def test_primitive_with_two_arguments():
    w = np.linspace(1, 2, 5)
    gx, gw = pb.grad(lambda x, w: pnp.sum(weighted(x, w) ** 2), argnums=(0, 1))(X, w)
    np.testing.assert_allclose(gx, 2 * X * w**2)
    np.testing.assert_allclose(gw, 2 * w * X**2)
    _, t = pb.jvp(weighted, (X, w), (T, T))
    np.testing.assert_allclose(t, T * w + X * T)


def test_primitive_none_cotangent_is_zero():
    @pb.primitive
    def scale(x, k):
        return x * k, lambda u: (u * k, None)

    g = pb.grad(lambda k: pnp.sum(scale(X, k)))(2.0)
    assert float(g) == 0.0
    np.testing.assert_allclose(pb.grad(lambda x: pnp.sum(scale(x, 2.0)))(X), 2.0)


def test_primitive_with_untraceable_pullback_raises_in_forward_mode_with_advice():
    @pb.primitive
    def opaque(x):
        return np.sin(x), lambda u: (np.asarray(u) * np.cos(x),)

    np.testing.assert_allclose(pb.grad(lambda x: pnp.sum(opaque(x)))(X), np.cos(X))
    with pytest.raises(NotImplementedError, match=r"opaque.*forward mode.*opaque\.defjvp"):
        pb.jvp(opaque, (X,), (T,))


def test_primitive_defjvp_is_used_in_forward_mode():
    calls = []

    @pb.primitive
    def opaque(x):
        return np.sin(x), lambda u: (np.asarray(u) * np.cos(x),)

    @opaque.defjvp
    def opaque_jvp(primals, tangents):
        calls.append(1)
        (x,), (t,) = primals, tangents
        return pnp.sin(x), pnp.cos(x) * t

    _, t = pb.jvp(opaque, (X,), (T,))
    np.testing.assert_allclose(t, np.cos(X) * T)
    assert calls == [1]


def test_notebook_dot_primitive():
    @pb.primitive
    def dot(W, x):
        return np.dot(W, x), lambda u: (np.outer(u, x), np.dot(W.T, u))

    W = np.arange(10.0).reshape(2, 5) / 10
    gW, gx = pb.grad(lambda W, x: pnp.sum(pnp.tanh(dot(W, x))), argnums=(0, 1))(W, X)
    d = 1 - np.tanh(W @ X) ** 2
    np.testing.assert_allclose(gW, np.outer(d, X), rtol=1e-14)
    np.testing.assert_allclose(gx, W.T @ d, rtol=1e-14)
    _, t = pb.jvp(lambda x: dot(W, x), (X,), (T,))
    np.testing.assert_allclose(t, W @ T, rtol=1e-14)


# ----------------------------------------------------------------------------- RuleError


def test_wrong_number_of_cotangents():
    @pb.primitive
    def f(x, y):
        return x * y, lambda u: (u * y,)

    with pytest.raises(pb.RuleError, match=r"'f'.*returned 1 cotangents for 2 arguments"):
        pb.grad(lambda x: pnp.sum(f(x, X)))(X)


def test_non_tuple_pullback_result():
    @pb.primitive
    def f(x):
        return x * 2.0, lambda u: u * 2.0

    with pytest.raises(pb.RuleError, match=r"'f'.*tuple.*return \(g,\)"):
        pb.grad(lambda x: pnp.sum(f(x)))(X)


def test_cotangent_with_wrong_shape():
    @pb.primitive
    def bad_sum(x):
        return np.sum(x), lambda u: (u,)  # forgot to broadcast u back to x's shape

    with pytest.raises(pb.RuleError, match=r"'bad_sum'.*shape \(\).*argument 0.*\(5,\)"):
        pb.grad(bad_sum)(X)
    assert issubclass(pb.RuleError, ValueError)


def test_cotangent_with_wrong_dtype():
    @pb.primitive
    def bad_cast(x):
        return x * 2, lambda u: ((u * 2).astype(np.float64),)

    with pytest.raises(pb.RuleError, match=r"'bad_cast'.*dtype float64.*argument 0.*float32"):
        pb.grad(lambda x: pnp.sum(bad_cast(x)))(X.astype(np.float32))


# ----------------------------------------------------------------------------- custom_vjp


@pb.custom_vjp
def clip_gradient(x):
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (pnp.clip(g, -1.0, 1.0),)
                     if hasattr(pnp, "clip") else (pnp.maximum(pnp.minimum(g, 1.0), -1.0),))


def test_custom_vjp_replaces_the_pullback():
    g = pb.grad(lambda x: pnp.sum(clip_gradient(x) * 3.0))(X)
    np.testing.assert_array_equal(g, np.ones(5))
    np.testing.assert_array_equal(clip_gradient(X), X)


def test_custom_vjp_with_residuals_forward_mode_and_second_order():
    @pb.custom_vjp
    def f(x):
        return pnp.sin(x) * x

    def fwd(x):
        return pnp.sin(x) * x, (x, pnp.cos(x), pnp.sin(x))

    def bwd(res, g):
        x, c, s = res
        return (g * (s + x * c),)

    f.defvjp(fwd, bwd)
    d = np.sin(X) + X * np.cos(X)
    np.testing.assert_allclose(pb.grad(lambda x: pnp.sum(f(x)))(X), d, rtol=1e-15)
    np.testing.assert_allclose(pb.jvp(f, (X,), (T,))[1], d * T, rtol=1e-15)
    d2 = 2 * np.cos(X) - X * np.sin(X)
    np.testing.assert_allclose(pb.hessian(lambda x: pnp.sum(f(x)))(X), np.diag(d2), rtol=1e-13,
                               atol=1e-15)


def test_custom_vjp_without_rule():
    @pb.custom_vjp
    def f(x):
        return x

    with pytest.raises(NotImplementedError, match=r"f\.defvjp"):
        pb.grad(f)(1.0)


# ----------------------------------------------------------------------------- custom_jvp


@pb.custom_jvp
def log1pexp(x):
    return pnp.log(1.0 + pnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + pnp.exp(x)))


def test_custom_jvp_both_modes_and_second_order():
    x = np.array([-3.0, 0.0, 5.0, 30.0])
    want = 1 / (1 + np.exp(-x))
    _, t = pb.jvp(log1pexp, (x,), (np.ones(4),))
    np.testing.assert_allclose(t, want, rtol=1e-14)
    g = pb.grad(lambda x: pnp.sum(log1pexp(x)))(x)  # reverse mode derived from the JVP rule
    np.testing.assert_allclose(g, want, rtol=1e-14)
    h = pb.grad(pb.grad(log1pexp))(0.5)
    s = 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(h, s * (1 - s), rtol=1e-14)


def test_custom_jvp_matches_oracle_on_two_arguments():
    @pb.custom_jvp
    def f(x, y):
        return x * pnp.sin(y)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), tx * pnp.sin(y) + x * pnp.cos(y) * ty

    y = X[::-1].copy()
    gx, gy = pb.grad(lambda x, y: pnp.sum(f(x, y)), argnums=(0, 1))(X, y)
    np.testing.assert_allclose(gx, np.sin(y), rtol=1e-15)
    np.testing.assert_allclose(gy, X * np.cos(y), rtol=1e-15)
    jac = oracle.jacobian(lambda x, y: x * np.sin(y), [X, y], 1)
    np.testing.assert_allclose(pb.jacrev(f, argnums=1)(X, y), jac, rtol=1e-9, atol=1e-12)
