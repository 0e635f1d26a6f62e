"""The notebook's four questions (../shared/seed/autodiff-notebook.txt), redone with pullback.

Q1: the ReLU pullback equals the mask times u, and the notebook's forward difference within
its error. Q2-Q4: the two-layer network and the squared loss: the gradients with respect to
x, W1 and W2 equal a hand-written NumPy reference to 1e-12, written three ways: with
pullback.numpy, with plain numpy, and with a ReLU defined through @pb.primitive in the
notebook's (value, vjp) format.
"""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp


def notebook_test_vjp(f, x, u, eps=1e-3):
    """The notebook's one-sided finite difference, as it was written."""
    jac = np.zeros((len(f(x)), len(x)))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = 1
        jac[:, i] = (f(x + eps * e) - f(x)) / eps
    return jac.T @ u


# ----------------------------------------------------------------------------- question 1


def test_relu_pullback_is_mask_times_u_and_matches_forward_difference():
    x = np.linspace(-2, 2, 40)
    u = np.linspace(-5, 2, 40)
    out, relu_vjp = pb.vjp(lambda x: pnp.maximum(x, 0.0), x)
    (got,) = relu_vjp(u)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(got, (x > 0) * u)
    # no point of linspace(-2, 2, 40) lies within eps of the kink, so the forward difference of
    # a piecewise-linear function is exact up to rounding of (x + eps - x) / eps
    numeric = notebook_test_vjp(lambda x: np.maximum(x, 0), x, u)
    np.testing.assert_allclose(got, numeric, rtol=0, atol=1e-11)


# ----------------------------------------------------------------------------- questions 2-4


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    x = np.linspace(-2, 2, 40)
    W1 = rng.random((5, 40))
    W2 = rng.random((10, 5))
    y = np.linspace(-2, 2, 10)
    return x, y, W1, W2


def reference(x, y, W1, W2):
    """The notebook's hand-chained pullbacks in plain NumPy: loss and (dx, dW1, dW2)."""
    x1 = W1 @ x
    x2 = np.maximum(x1, 0)
    y_pred = W2 @ x2
    residual = y_pred - y
    loss = 0.5 * np.sum(residual**2)
    g_pred = residual
    dW2 = np.outer(g_pred, x2)
    g_x2 = W2.T @ g_pred
    g_x1 = g_x2 * (x1 > 0)
    dW1 = np.outer(g_x1, x)
    dx = W1.T @ g_x1
    return loss, (dx, dW1, dW2)


def loss_pnp(x, y, W1, W2):
    hidden = pnp.maximum(pnp.dot(W1, x), 0.0)
    residual = pnp.dot(W2, hidden) - y
    return 0.5 * pnp.sum(residual**2)


def loss_plain_numpy(x, y, W1, W2):
    hidden = np.maximum(np.dot(W1, x), 0)
    residual = np.dot(W2, hidden) - y
    return 0.5 * np.sum(residual**2)


@pb.primitive
def relu(x):
    """The notebook's relu, verbatim in spirit: (value, vjp)."""
    value = np.maximum(x, 0)

    def vjp(u):
        return (np.multiply(u, (x > 0) * 1),)

    return value, vjp


def loss_primitive(x, y, W1, W2):
    residual = W2 @ relu(W1 @ x) - y
    return 0.5 * (residual**2).sum()


@pytest.mark.parametrize("loss", [loss_pnp, loss_plain_numpy, loss_primitive])
def test_two_layer_network_gradients_match_hand_written_pullbacks(problem, loss):
    x, y, W1, W2 = problem
    want_loss, want = reference(x, y, W1, W2)
    value, grads = pb.value_and_grad(loss, argnums=(0, 2, 3))(x, y, W1, W2)
    np.testing.assert_allclose(value, want_loss, rtol=1e-12)
    for name, g, w in zip(("x", "W1", "W2"), grads, want, strict=True):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("loss", [loss_pnp, loss_plain_numpy, loss_primitive])
def test_network_forward_mode_and_second_order(problem, loss):
    """Forward mode and a Hessian-vector product of the same loss, against the reference."""
    x, y, W1, W2 = problem
    rng = np.random.default_rng(1)
    tx = rng.standard_normal(x.shape)
    _, (dx, _, _) = reference(x, y, W1, W2)
    _, t_out = pb.jvp(lambda x: loss(x, y, W1, W2), (x,), (tx,))
    np.testing.assert_allclose(t_out, dx @ tx, rtol=1e-12)
    # the loss is quadratic in x where the ReLU pattern is fixed: H = W1m^T W2^T W2 W1m
    mask = (W1 @ x > 0)[:, None]
    W1m = W1 * mask
    H = W1m.T @ W2.T @ W2 @ W1m
    _, (hv,) = pb.hvp(lambda x: loss(x, y, W1, W2), (x,), (tx,))
    np.testing.assert_allclose(hv, H @ tx, rtol=1e-11)


def test_squared_loss_pullback_matches_notebook(problem):
    """Question 3: vjp of the squared loss with respect to y_pred and y."""
    rng = np.random.default_rng(2)
    y_pred, y = rng.standard_normal(10), rng.standard_normal(10)
    u = 0.7
    _, vjp_fn = pb.vjp(lambda p, t: 0.5 * pnp.sum((p - t) ** 2), y_pred, y)
    g_pred, g_y = vjp_fn(np.float64(u))
    np.testing.assert_allclose(g_pred, (y_pred - y) * u, rtol=1e-15)
    np.testing.assert_allclose(g_y, -(y_pred - y) * u, rtol=1e-15)


def test_notebook_forward_difference_is_only_approximate(problem):
    """The notebook's closing remark, quantified: its check is off by about eps; ours is exact."""
    x, y, W1, W2 = problem
    _, (dx, _, _) = reference(x, y, W1, W2)
    numeric = notebook_test_vjp(lambda x: np.array([loss_plain_numpy(x, y, W1, W2)]), x,
                                np.array([1.0]))
    exact = pb.grad(loss_plain_numpy)(x, y, W1, W2)
    assert np.max(np.abs(numeric - dx)) > 1e-4  # the notebook's approximation error
    np.testing.assert_allclose(exact, dx, rtol=1e-13, atol=1e-13)
