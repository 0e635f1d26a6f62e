"""Bilevel optimisation: regularisation strengths tuned on a validation set by their gradient.

The inner problem fits an L2-regularised logistic regression on a training set, with one
penalty per feature (too many hyperparameters for a grid search); the outer problem chooses
the penalties that minimise the validation loss of the fitted weights. The inner fit is
``pullback.scipy.optimize.minimize`` (SciPy's trust-exact, a Newton method, given
pullback's gradient and Hessian), and the hypergradient (the validation loss's gradient with
respect to the penalties) comes from the implicit function theorem at the inner solution,
never from the iterations: checked here against central differences of re-solved fits.
The outer problem is SciPy's L-BFGS-B with ``jac=`` that hypergradient. Needs SciPy.

Run: ``python examples/bilevel.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import optimize


def log_loss(w, X, y):
    """The mean logistic loss of the weights ``w`` on ``(X, y)``, labels in {0, 1}."""
    z = X @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - y * z)


def train_objective(w, log_penalty, X, y):
    """Training loss plus ``0.5 sum(exp(log_penalty) * w**2)``: one penalty per feature."""
    return log_loss(w, X, y) + 0.5 * pnp.sum(pnp.exp(log_penalty) * w ** 2)


def fit(log_penalty, X, y):
    """The regularised fit, differentiable with respect to the penalties."""
    res = optimize.minimize(train_objective, np.zeros(X.shape[1]), args=(log_penalty, X, y),
                            method="trust-exact", options={"gtol": 1e-8})
    return res.x


def main(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = 10
    w_true = np.zeros(d)
    w_true[:3] = [2.0, -1.5, 1.0]  # three features matter, seven are noise

    def data(n):
        X = rng.standard_normal((n, d))
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
        return X, y

    X_train, y_train = data(60)
    X_val, y_val = data(200)
    X_test, y_test = data(2000)

    def validation(log_penalty):
        return log_loss(fit(log_penalty, X_train, y_train), X_val, y_val)

    hypergradient = pb.grad(validation)
    start = np.full(d, np.log(1e-2))

    g = hypergradient(start)
    h = 1e-4
    fd = np.array([(float(validation(start + h * e)) - float(validation(start - h * e)))
                   / (2 * h) for e in np.eye(d)])
    print("hypergradient at the start: " + " ".join(f"{v:.2e}" for v in g))
    print(f"  off central differences of re-solved fits by "
          f"{np.abs(g - fd).max() / np.abs(g).max():.1e} (relative)")

    count = [0]

    def progress(r):
        count[0] += 1
        if count[0] % 5 == 1:
            print(f"outer iteration {count[0]:2d}  validation loss "
                  f"{float(validation(r)):.5f}")

    res = scipy.optimize.minimize(lambda r: float(validation(r)), start,
                                  jac=lambda r: hypergradient(r), method="L-BFGS-B",
                                  bounds=[(-8.0, 5.0)] * d, callback=progress,
                                  options={"maxiter": 30})
    tuned = res.x
    for name, r in (("one small penalty", start), ("tuned penalties", tuned)):
        w = np.asarray(fit(r, X_train, y_train))
        print(f"{name:>18}: test loss {float(log_loss(w, X_test, y_test)):.4f}, "
              f"weights {np.round(w, 2)}")
    print("tuned penalties " + " ".join(f"{p:.3g}" for p in np.exp(tuned))
          + f" (after {res.nit} outer iterations; bounds exp(-8) and exp(5))")
    return tuned


if __name__ == "__main__":
    main()
