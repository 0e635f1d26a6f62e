"""Gaussian-process regression: hyperparameters fitted by maximising the marginal likelihood.

Shows a negative log marginal likelihood written with ``pullback.numpy`` and
``pullback.scipy.linalg`` (``cholesky``, ``cho_solve``), its gradient with respect to the
hyperparameters by ``pb.grad``, handed to SciPy's own ``scipy.optimize.minimize`` as
``jac`` (L-BFGS-B), and the gradient checked against central differences. Needs SciPy.

Run: ``python examples/gp_regression.py`` (a second or two).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import linalg


def kernel(theta, a, b):
    """The squared-exponential covariance ``s^2 exp(-|a - b|^2 / (2 l^2))`` between the rows
    of ``a`` and ``b``; ``theta = (log l, log s, log noise)``."""
    lengthscale, variance = pnp.exp(theta[0]), pnp.exp(2.0 * theta[1])
    d2 = pnp.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
    return variance * pnp.exp(-0.5 * d2 / lengthscale ** 2)


def neg_log_marginal_likelihood(theta, x, y):
    """``0.5 y^T K^-1 y + 0.5 log det K + n/2 log(2 pi)`` with ``K = k(x, x) + noise^2 I``,
    through the Cholesky factor ``K = L L^T``."""
    n = x.shape[0]
    noise = pnp.exp(2.0 * theta[2])
    K = kernel(theta, x, x) + (noise + 1e-10) * np.eye(n)
    L = linalg.cholesky(K, lower=True)
    alpha = linalg.cho_solve((L, True), y)
    return 0.5 * y @ alpha + pnp.sum(pnp.log(pnp.diag(L))) + 0.5 * n * np.log(2 * np.pi)


def predict(theta, x, y, x_new):
    """The posterior mean and standard deviation at ``x_new``."""
    n = x.shape[0]
    K = kernel(theta, x, x) + (np.exp(2.0 * theta[2]) + 1e-10) * np.eye(n)
    L = linalg.cholesky(K, lower=True)
    k_star = kernel(theta, x_new, x)
    mean = k_star @ linalg.cho_solve((L, True), y)
    v = linalg.solve_triangular(L, k_star.T, lower=True)
    var = np.exp(2.0 * theta[1]) - pnp.sum(v ** 2, axis=0)
    return mean, pnp.sqrt(pnp.maximum(var, 0.0))


def main(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-4.0, 4.0, n))[:, None]
    true_noise = 0.1
    y = np.sin(1.5 * x[:, 0]) + 0.5 * np.cos(0.5 * x[:, 0]) + true_noise * \
        rng.standard_normal(n)

    # the objective and its gradient, as plain NumPy values for SciPy
    nll = lambda theta: float(neg_log_marginal_likelihood(theta, x, y))  # noqa: E731
    nll_grad = pb.grad(neg_log_marginal_likelihood)

    theta0 = np.array([0.0, 0.0, np.log(0.5)])  # lengthscale 1, variance 1, noise 0.5
    # the gradient against central differences, at the start
    g = nll_grad(theta0, x, y)
    h = 1e-6
    fd = np.array([(nll(theta0 + h * e) - nll(theta0 - h * e)) / (2 * h) for e in np.eye(3)])
    print(f"gradient at the start {np.round(g, 6)}; off central differences by "
          f"{np.abs(g - fd).max():.1e}")

    evaluations = []

    def progress(theta):
        evaluations.append(theta.copy())
        if len(evaluations) % 5 == 1:
            print(f"iteration {len(evaluations):3d}  nll {nll(theta):10.5f}  "
                  f"lengthscale {np.exp(theta[0]):.4f}  std {np.exp(theta[1]):.4f}  "
                  f"noise {np.exp(theta[2]):.4f}")

    res = scipy.optimize.minimize(nll, theta0, jac=lambda t: nll_grad(t, x, y),
                                  method="L-BFGS-B", callback=progress)
    theta = res.x
    print(f"{res.message} after {res.nit} iterations, {res.nfev} evaluations; "
          f"nll {res.fun:.5f}, |gradient| {np.abs(nll_grad(theta, x, y)).max():.1e}")
    print(f"fitted: lengthscale {np.exp(theta[0]):.4f}, std {np.exp(theta[1]):.4f}, "
          f"noise {np.exp(theta[2]):.4f} (the data's noise: {true_noise})")

    x_new = np.linspace(-4.0, 4.0, 5)[:, None]
    mean, std = predict(theta, x, y, x_new)
    truth = np.sin(1.5 * x_new[:, 0]) + 0.5 * np.cos(0.5 * x_new[:, 0])
    for xi, m, s, t in zip(x_new[:, 0], mean, std, truth, strict=True):
        print(f"  f({xi:+.1f}) = {m:+.3f} +- {s:.3f}   (noiseless curve {t:+.3f})")
    return theta


if __name__ == "__main__":
    main()
