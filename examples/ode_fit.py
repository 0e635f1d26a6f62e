"""Fitting an ODE: the four rates of a Lotka-Volterra model, from noisy counts.

Shows ``pullback.scipy.integrate.odeint`` (SciPy's LSODA) inside a loss, its gradient with
respect to the model's parameters by the adjoint method (``pb.grad``: a backward
integration, no step of the solver stored), the gradient checked against forward-mode
sensitivities (``pb.jvp``) and central differences, and ``scipy.optimize.minimize`` with
``jac=`` that gradient. The rates are fitted in logarithms (positive). Needs SciPy.

Run: ``python examples/ode_fit.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import integrate

TOL = {"rtol": 1e-7, "atol": 1e-7}


def lotka_volterra(y, t, log_rates):
    """Prey ``y[0]`` and predators ``y[1]``: ``prey' = a prey - b prey pred``,
    ``pred' = d prey pred - c pred``."""
    a, b, c, d = pnp.exp(log_rates)
    prey, pred = y[0], y[1]
    return pnp.stack([a * prey - b * prey * pred, d * prey * pred - c * pred])


def loss(log_rates, y0, t, observed):
    """The squared error of the log counts (the noise is multiplicative)."""
    ys = integrate.odeint(lotka_volterra, y0, t, log_rates, **TOL)
    return 0.5 * pnp.sum((pnp.log(ys[1:]) - pnp.log(observed)) ** 2)


def main(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    true_rates = np.array([1.0, 0.1, 1.5, 0.075])  # a, b, c, d
    y0 = np.array([10.0, 5.0])
    t = np.linspace(0.0, 12.0, 13)
    clean = integrate.odeint(lotka_volterra, y0, t, np.log(true_rates), **TOL)[1:]
    observed = clean * np.exp(0.05 * rng.standard_normal(clean.shape))  # 5 % noise

    grad = pb.grad(loss)  # the adjoint method: integrations backwards in time
    start = np.log(np.array([0.8, 0.12, 1.2, 0.09]))

    # the gradient, three ways: adjoint (reverse), sensitivities (forward), differences
    g = grad(start, y0, t, observed)
    fwd = np.array([pb.jvp(lambda r: loss(r, y0, t, observed), (start,), (e,))[1]
                    for e in np.eye(4)])
    h = 1e-5
    fd = np.array([(loss(start + h * e, y0, t, observed) - loss(start - h * e, y0, t,
                                                                 observed)) / (2 * h)
                   for e in np.eye(4)])
    print(f"gradient at the start {np.round(g, 4)}")
    print(f"  adjoint vs forward sensitivities: {np.abs(g - fwd).max() / np.abs(g).max():.1e}"
          f" relative; vs central differences: {np.abs(g - fd).max() / np.abs(g).max():.1e}")

    count = [0]

    def progress(r):
        count[0] += 1
        if count[0] % 5 == 1:
            print(f"iteration {count[0]:3d}  loss {float(loss(r, y0, t, observed)):10.5f}  "
                  f"rates {np.round(np.exp(r), 4)}")

    res = scipy.optimize.minimize(lambda r: float(loss(r, y0, t, observed)), start,
                                  jac=lambda r: grad(r, y0, t, observed), method="BFGS",
                                  callback=progress, options={"gtol": 1e-6})
    fitted = np.exp(res.x)
    print(f"{res.message} after {res.nit} iterations, {res.nfev} evaluations; "
          f"loss {res.fun:.5f}")
    print(f"fitted rates {np.round(fitted, 4)}; true {true_rates}; largest relative error "
          f"{np.abs(fitted / true_rates - 1).max():.3f}")
    return fitted


if __name__ == "__main__":
    main()
