"""The adjoint method of ``pullback.scipy.integrate.odeint`` against a fixed-step integrator
differentiated directly: gradient error and peak memory (``tracemalloc``) at 10,000 steps.

The problem: the Lotka-Volterra system over ``t in [0, 10]``, the loss ``sum(y(10)**2)``, its
gradient with respect to the four parameters and the initial state. The reference gradient
is the adjoint's at tolerances 1e-13 (it agrees with RK4 at 20,000 steps to ~1e-12).

- direct: classical RK4 with 10,000 fixed steps written with ``pullback.numpy``, ``pb.grad``
  through every step (the tape holds every step);
- adjoint: ``odeint`` (LSODA) with ``hmax = 10 / 10,000``, so that it too takes at least
  10,000 steps forward and backward, and with its default step control (tolerances 1e-10).

Run: ``python benchmarks/odeint_adjoint.py [--steps N]`` (a minute or two: ``tracemalloc``
slows Python down, and the direct tape has millions of nodes).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

import pullback as pb
import pullback.numpy as pnp
from pullback.scipy import integrate

T_END = 10.0
THETA = np.array([1.1, 0.4, 0.4, 0.8])
Y0 = np.array([1.0, 0.5])


def lotka_volterra(y, t, theta):
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    return pnp.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


def rk4(y, theta, steps):
    h = T_END / steps
    t = 0.0
    for _ in range(steps):
        k1 = lotka_volterra(y, t, theta)
        k2 = lotka_volterra(y + 0.5 * h * k1, t + 0.5 * h, theta)
        k3 = lotka_volterra(y + 0.5 * h * k2, t + 0.5 * h, theta)
        k4 = lotka_volterra(y + h * k3, t + h, theta)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t += h
    return y


def direct_gradient(steps):
    return pb.grad(lambda y0, th: pnp.sum(rk4(y0, th, steps) ** 2), argnums=(0, 1))(Y0, THETA)


def adjoint_gradient(**options):
    t = np.array([0.0, T_END])
    return pb.grad(lambda y0, th: pnp.sum(integrate.odeint(
        lotka_volterra, y0, t, th, mxstep=10**7, **options)[-1] ** 2), argnums=(0, 1))(Y0, THETA)


def measure(f):
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        out = f()
        return out, tracemalloc.get_traced_memory()[1], time.perf_counter() - start
    finally:
        tracemalloc.stop()


def error(g, ref):
    flat = np.concatenate([np.ravel(v) for v in g])
    want = np.concatenate([np.ravel(v) for v in ref])
    return float(np.max(np.abs(flat - want)) / np.max(np.abs(want)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    steps = parser.parse_args(argv).steps
    ref = adjoint_gradient(rtol=1e-13, atol=1e-13)
    adjoint_gradient(rtol=1e-10, atol=1e-10)  # warm up (caches), not measured
    rows = [
        (f"direct: RK4, {steps} fixed steps, grad through them",
         lambda: direct_gradient(steps)),
        (f"adjoint: odeint, hmax = T/{steps} (>= {steps} steps each way)",
         lambda: adjoint_gradient(rtol=1e-10, atol=1e-10, hmax=T_END / steps)),
        ("adjoint: odeint, its own steps (tolerances 1e-10)",
         lambda: adjoint_gradient(rtol=1e-10, atol=1e-10)),
    ]
    print(f"{'method':62} {'rel. gradient error':>20} {'peak memory':>12} {'time':>8}")
    for label, f in rows:
        g, peak, seconds = measure(f)
        print(f"{label:62} {error(g, ref):20.2e} {peak / 2**20:9.2f} MiB {seconds:7.1f}s")


if __name__ == "__main__":
    main()
