"""The course notebook, question by question, with pullback doing the chaining.

In the notebook every function returns ``(value, vjp)`` and the two-layer network's pullback
is chained by hand. Here the same functions are plain NumPy-style code, ``pb.vjp`` builds the
pullbacks, and each result is compared with the notebook's forward difference (eps = 1e-3)
and with the closed form the notebook wrote by hand.

Run: ``python examples/notebook_walkthrough.py`` (under a second).
"""

from __future__ import annotations

import numpy as np

import pullback as pb
import pullback.numpy as pnp


def forward_difference_vjp(f, x, u, eps=1e-3):
    """The notebook's ``test_vjp``: the Jacobian by one-sided differences, then ``J.T @ u``."""
    fx = np.atleast_1d(f(x))
    jac = np.zeros((fx.size, x.size))
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        jac[:, i] = (np.atleast_1d(f(x + e)) - fx) / eps
    return jac.T @ np.atleast_1d(u)


def report(name, ours, numerical, closed):
    scale = np.max(np.abs(closed))
    print(f"{name:<34} forward difference off by {np.max(np.abs(ours - numerical)) / scale:.1e}, "
          f"closed form off by {np.max(np.abs(ours - closed)) / scale:.1e}")


def main() -> None:
    rng = np.random.default_rng(0)

    # Question 1: ReLU. No pullback to write: pb.vjp derives it from the function.
    def relu(x):
        return pnp.maximum(x, 0.0)

    x = np.linspace(-2, 2, 40)
    u = np.linspace(-5, 2, 40)
    value, relu_vjp = pb.vjp(relu, x)
    (gx,) = relu_vjp(u)
    report("Q1 relu, VJP wrt x", gx, forward_difference_vjp(relu, x, u), u * (x > 0))

    # Question 2: the two-layer network W2 @ relu(W1 @ x), differentiated in every argument.
    def mlp2(x, W1, W2):
        return W2 @ relu(W1 @ x)

    m, k = 5, 10
    W1, W2 = rng.random((m, x.size)), rng.random((k, m))
    u2 = rng.standard_normal(k)
    _, mlp_vjp = pb.vjp(mlp2, x, W1, W2)
    gx, gW1, gW2 = mlp_vjp(u2)
    h = W1 @ x
    gh = (W2.T @ u2) * (h > 0)  # the notebook's hand-chained pullback
    report("Q2 mlp2, VJP wrt x", gx, forward_difference_vjp(lambda x: mlp2(x, W1, W2), x, u2),
           W1.T @ gh)
    report("Q2 mlp2, VJP wrt W2", gW2,
           forward_difference_vjp(lambda w: mlp2(x, W1, w.reshape(W2.shape)), W2.ravel(),
                                  u2).reshape(W2.shape),
           np.outer(u2, np.maximum(h, 0)))

    # Question 3: the squared loss.
    def squared_loss(pred, y):
        return 0.5 * pnp.sum((pred - y) ** 2)

    y = np.linspace(-2, 2, k)
    pred = mlp2(x, W1, W2)
    _, loss_vjp = pb.vjp(squared_loss, pred, y)
    gpred, gy = loss_vjp(1.0)
    report("Q3 squared_loss, VJP wrt pred", gpred,
           forward_difference_vjp(lambda p: squared_loss(p, y), pred, 1.0), pred - y)

    # Question 4: the composition. The notebook chained four pullbacks by hand; here the
    # gradient with respect to all four arguments is one call.
    def loss(x, y, W1, W2):
        return squared_loss(mlp2(x, W1, W2), y)

    gx, gy, gW1, gW2 = pb.grad(loss, argnums=(0, 1, 2, 3))(x, y, W1, W2)
    r = pred - y
    gh = (W2.T @ r) * (h > 0)
    report("Q4 loss, gradient wrt x", gx,
           forward_difference_vjp(lambda x: loss(x, y, W1, W2), x, 1.0), W1.T @ gh)
    report("Q4 loss, gradient wrt W1", gW1,
           forward_difference_vjp(lambda w: loss(x, y, w.reshape(W1.shape), W2), W1.ravel(),
                                  1.0).reshape(W1.shape), np.outer(gh, x))

    # Beyond the notebook: forward mode gives the same directional derivative, and second
    # derivatives come for free (Hessian-vector product without forming the Hessian).
    t = rng.standard_normal(x.size)
    _, dloss = pb.jvp(lambda x: loss(x, y, W1, W2), (x,), (t,))
    print(f"forward mode along t: {float(dloss):.12f}, reverse mode <grad, t>: {gx @ t:.12f}")
    (grads,), (hv,) = pb.hvp(lambda x: loss(x, y, W1, W2), (x,), (t,))
    print(f"Hessian-vector product: |H t| = {np.linalg.norm(hv):.6f} "
          f"(closed form W1^T D W2^T W2 D W1 t: "
          f"{np.linalg.norm(W1.T @ ((h > 0) * (W2.T @ (W2 @ ((h > 0) * (W1 @ t)))))):.6f})")


if __name__ == "__main__":
    main()
