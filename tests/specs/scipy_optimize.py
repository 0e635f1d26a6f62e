"""Rows for ``pullback.scipy.optimize``, against SciPy's solutions of the same problems.

Each problem has one solution for every real parameter ``p`` (positive definite quadratics,
strictly monotone equations, a contraction), so the rows hold wherever the spec table or the
fuzzer draws ``p``. Both sides call SciPy with the same functions (written with
``pullback.numpy``, which computes on plain arrays as NumPy does), the same derivatives and
the same method, so their iterates, and values, agree to rounding. The derivatives of the
solutions (pullback's, by the implicit function theorem) are compared with differences of
re-solved problems: the solvers stop within about 1e-12 of the solution, which the oracle's
differences (steps near 1e-2, extrapolated) turn into errors near 1e-9; the rows compare to
1e-6."""

import numpy as np

import pullback.numpy as pnp
from specs import spec

try:
    import scipy.optimize as so

    from pullback.scipy import optimize as po
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    so = None


def _objective(x, p):
    """A quadratic in x whose coefficients depend on p nonlinearly: positive definite for
    every p, minimum at the solution of ((1 + p^2) I + 0.2 11^T) x = sin(p). trust-exact's
    Newton step solves it to rounding (a nonquadratic objective stops near sqrt(eps) in the
    gradient, where the objective's rounding hides any further decrease)."""
    return 0.5 * pnp.sum((1.0 + p * p) * x * x) - pnp.sum(pnp.sin(p) * x) + 0.1 * pnp.sum(x) ** 2


def _gradient(x, p):
    return (1.0 + p * p) * x - pnp.sin(p) + 0.2 * pnp.sum(x)


def _hessian(x, p):
    return pnp.diag(1.0 + p * p) + 0.2


def _minimize(lib):
    def solve(p):
        x0 = np.zeros(np.size(p))
        res = lib.minimize(_objective, x0, args=(pnp.ravel(p) if lib is po else np.ravel(p),),
                           method="trust-exact", jac=_gradient, hess=_hessian,
                           options={"gtol": 1e-14})
        return pnp.reshape(res.x, np.shape(p)) if lib is po else res.x.reshape(np.shape(p))
    return solve


def _equations(x, p):
    """x + sin(x) / 2 - p: strictly increasing (slope at least 1/2), one root."""
    return x + 0.5 * pnp.sin(x) - p


def _equations_jac(x, p):
    return pnp.diag(1.0 + 0.5 * pnp.cos(x))


def _root(lib):
    def solve(p):
        res = lib.root(_equations, np.zeros(np.shape(p)), args=(p,), jac=_equations_jac,
                       method="hybr", tol=1e-13)  # at 1e-14 hybr reports no progress
        return res.x if lib is po else res.x.reshape(np.shape(p))
    return solve


def _cubic(x, p):
    return x ** 3 + x - p


def _root_scalar(lib):
    def solve(p):
        res = lib.root_scalar(_cubic, args=(p,), method="newton", x0=0.0,
                              fprime=lambda x, p: 3.0 * x * x + 1.0, xtol=1e-15, rtol=1e-15)
        return res.root
    return solve


def _contraction(x, p):
    return 0.5 * pnp.cos(x) + p


def _fixed_point(lib):
    def solve(p):
        return lib.fixed_point(_contraction, np.zeros(np.shape(p)), args=(p,), xtol=1e-14)
    return solve


def _residuals(x, p):
    """(x - sin(p), 0.3 (1 + p^2) x): linear in x (Levenberg-Marquardt solves it to rounding),
    nonlinear in p; the minimum is x = sin(p) / (1 + 0.09 (1 + p^2)^2). (The Hessian of a
    cost whose residuals are nonlinear in x is tested in tests/test_scipy_optimize.py.)"""
    return pnp.concatenate([x - pnp.sin(p), 0.3 * (1.0 + p * p) * x])


def _residuals_jac(x, p):
    return pnp.concatenate([pnp.eye(np.size(x)), pnp.diag(0.3 * (1.0 + p * p))])


def _least_squares(lib):
    def solve(p):
        res = lib.least_squares(_residuals, np.zeros(np.shape(p)), jac=_residuals_jac,
                                args=(p,), method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
        return res.x
    return solve


SPECS = []
if so is not None:
    SPECS = [
        spec("scipy.optimize.minimize", _minimize(po), _minimize(so), [((3,),), ((2, 2),)],
             rtol=1e-6, atol=1e-9),
        spec("scipy.optimize.root", _root(po), _root(so), [((3,),)], rtol=1e-6, atol=1e-9),
        spec("scipy.optimize.root_scalar", _root_scalar(po), _root_scalar(so), [((),)],
             rtol=1e-6, atol=1e-9),
        spec("scipy.optimize.fixed_point", _fixed_point(po), _fixed_point(so), [((3,),)],
             rtol=1e-6, atol=1e-9),
        spec("scipy.optimize.least_squares", _least_squares(po), _least_squares(so),
             [((3,),)], rtol=1e-6, atol=1e-9),
    ]
