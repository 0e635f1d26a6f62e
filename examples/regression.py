"""Regression: an MLP fitted to noisy samples of a smooth curve, with Adam.

Shows ``pullback.nn`` (``init_mlp``, ``mlp``), a loss written with ``pullback.numpy``,
``pb.value_and_grad`` over a list of layer dicts, ``pullback.optim.adam`` with a cosine
schedule, and a derivative of the fitted model with respect to its input.

Run: ``python examples/regression.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np

import pullback as pb
import pullback.numpy as pnp
from pullback import nn, optim


def main(steps: int = 3000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (256, 1))
    y = np.sin(2 * x) + 0.3 * x + 0.05 * rng.standard_normal(x.shape)
    x_test = np.linspace(-3, 3, 201)[:, None]
    y_test = np.sin(2 * x_test) + 0.3 * x_test

    params = nn.init_mlp([1, 32, 32, 1], rng)

    def mse(params, x, y):
        return pnp.mean((nn.mlp(params, x) - y) ** 2)

    opt_init, opt_update = optim.adam(optim.cosine_decay_schedule(1e-2, steps, alpha=1e-2))
    state = opt_init(params)
    step = pb.value_and_grad(mse)
    for i in range(steps):
        value, grads = step(params, x, y)  # full batch: 256 points
        params, state = opt_update(grads, state, params)
        if i % 500 == 0 or i == steps - 1:
            print(f"step {i:5d}  training mse {float(value):.5f}")

    test_mse = float(mse(params, x_test, y_test))
    print(f"test mse against the noiseless curve: {test_mse:.5f} (noise variance 0.0025)")

    # The model is a function of its input too: its slope, by reverse and by forward mode,
    # against a central difference of the model (ReLU networks are piecewise linear, so the
    # slope is that of the piece around the point).
    def model(t):
        return nn.mlp(params, t[None])[0]

    t0 = np.array(0.5)
    rev = float(pb.grad(model)(t0))
    fwd = float(pb.jvp(model, (t0,), (np.array(1.0),))[1])
    h = 1e-6
    fd = float((model(t0 + h) - model(t0 - h)) / (2 * h))
    print(f"slope of the fit at x = 0.5: reverse {rev:.6f}, forward {fwd:.6f}, "
          f"central difference {fd:.6f} (the curve's: {2 * np.cos(1.0) + 0.3:.3f})")
    return test_mse


if __name__ == "__main__":
    main()
