"""Rows for ``pullback.scipy.integrate``, against SciPy's values.

The ODE rows solve with tight tolerances (1e-12): the oracle's differences of SciPy's
adaptive solution are then accurate to about 1e-8, and so are pullback's derivatives (the
adjoint and sensitivity equations are solved to the same tolerances); they are compared to
1e-6. Times are drawn increasing, with gaps wider than the oracle's steps."""

import numpy as np

import pullback.numpy as pnp
from specs import spec

try:
    import scipy.integrate as si

    from pullback.scipy import integrate as pint
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    si = None


def _times(rng, shape):
    """Increasing times from near 0, gaps in (0.3, 0.6)."""
    return np.cumsum(rng.uniform(0.3, 0.6, shape), axis=0) - 0.3


def _centred_times(rng, shape):
    """Increasing points centred on 0, gaps in (0.5, 0.7): the oracle's steps (1e-2 of the
    largest) stay small against the gaps, in which Simpson's weights are rational."""
    x = np.cumsum(rng.uniform(0.5, 0.7, shape), axis=0)
    return x - np.mean(x, axis=0)


def _lotka_volterra(y, t, a, b):
    return pnp.stack([a * y[0] - b * y[0] * y[1], b * y[0] * y[1] - 0.8 * y[1]])


def _forced(y, t, w):
    """A damped oscillator driven by cos(w t): the right-hand side depends on t."""
    return pnp.stack([y[1], -y[0] - 0.3 * y[1] + pnp.cos(w[0] * t) * w[1]])


TOL = {"rtol": 1e-12, "atol": 1e-12}
ODE = {"rtol": 1e-6, "atol": 1e-8}

SPECS = []
if si is not None:
    SPECS = [
        spec("scipy.integrate.trapezoid", pint.trapezoid, si.trapezoid,
             [((5,),), ((3, 4),), ((2,),)]),
        spec("scipy.integrate.trapezoid", lambda y, x: pint.trapezoid(y, x, axis=0),
             lambda y, x: si.trapezoid(y, x, axis=0), [((4, 3), (4,)), ((4, 3), (4, 3))],
             "real", _times, tag="x"),
        spec("scipy.integrate.cumulative_trapezoid",
             lambda y, x: pint.cumulative_trapezoid(y, x, initial=0),
             lambda y, x: si.cumulative_trapezoid(y, x, initial=0), [((5,), (5,))], "real",
             _times),
        spec("scipy.integrate.cumulative_trapezoid",
             lambda y: pint.cumulative_trapezoid(y, dx=0.5, axis=0),
             lambda y: si.cumulative_trapezoid(y, dx=0.5, axis=0), [((4, 3),)], tag="dx"),
        spec("scipy.integrate.simpson", pint.simpson, si.simpson,
             [((5,),), ((6,),), ((2,),), ((3, 4),)]),
        spec("scipy.integrate.simpson", lambda y, x: pint.simpson(y, x=x),
             lambda y, x: si.simpson(y, x=x), [((5,), (5,)), ((6,), (6,)), ((2, 4), (4,))],
             # second derivatives in x of the weights (ratios of spacings, cubes in the
             # last interval's correction): the oracle's differences reach 1e-6 there
             "real", _centred_times, tag="x", rtol=1e-6),
        spec("scipy.integrate.odeint",
             lambda y0, t, a, b: pint.odeint(_lotka_volterra, y0, t, a, b, **TOL),
             lambda y0, t, a, b: si.odeint(_lotka_volterra, y0, t, (a, b), **TOL),
             [((2,), (4,), (), ())], (0.5, 1.5), _times, (0.8, 1.2), (0.3, 0.6), **ODE),
        spec("scipy.integrate.odeint",
             lambda y0, t, w: pint.odeint(_forced, y0, t, args=(w,), **TOL),
             lambda y0, t, w: si.odeint(_forced, y0, t, (w,), **TOL),
             [((2,), (3,), (2,))], "real", _times, (0.5, 1.5), tag="time-dependent", **ODE),
        spec("scipy.integrate.solve_ivp",
             lambda y0, t, w: pint.solve_ivp(lambda s, y, w: _forced(y, s, w), (0.0, 3.0), y0,
                                             "DOP853", t, args=(w,), **TOL).y,
             lambda y0, t, w: si.solve_ivp(lambda s, y, w: _forced(y, s, w), (0.0, 3.0), y0,
                                           "DOP853", t, args=(w,), **TOL).y,
             [((2,), (3,), (2,))], "real", _times, (0.5, 1.5), **ODE),
    ]
