"""Rows for ``pullback.scipy.stats``, against SciPy's values (SciPy is a test dependency, in the
``dev`` extra; without it these rows are skipped).

Each distribution's functions are checked in ``x``, ``loc``, ``scale`` and the shape
parameters (one row per function; the cdfs hold shape parameters without a closed-form
derivative fixed, ``tests/test_scipy_stats.py`` checks that asking for it is an error).
Domains keep the finite differences of the oracle (steps up to 1e-2) inside the support and
away from kinks, and the values away from 0 (they are compared with SciPy's to 1e-13).
"""

import numpy as np

import pullback.numpy as pnp
from pullback.scipy import stats as ps
from specs import spec

try:
    import scipy.stats as st
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    st = None


def _signed(lo, hi):
    """|x| uniform in (lo, hi), random signs: away from a kink at 0."""

    def sample(rng, shape):
        return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)

    return sample


def _spd(rng, shape):
    """Symmetric positive definite matrices ``A A^T / n + I``."""
    a = rng.uniform(-1.0, 1.0, shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


FUNCTIONS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
# (x, loc, scale) and broadcasting variants
LOC_SCALE = [((4,), (4,), (4,)), ((2, 3), (3,), ()), ((), (), ())]
WITH_SHAPE = [((4,), (4,), (4,), (4,)), ((2, 3), (3,), (), (2, 1)), ((), (), (), ())]
WITH_TWO = [((4,), (4,), (4,), (4,), (4,)), ((2, 3), (3,), (), (2, 1), ())]


def _rows(name, shapes, domains, fixed=None, fns=FUNCTIONS, names=("loc", "scale"), **kw):
    """One row per function of distribution ``name``; ``fixed`` (a dict) holds shape
    parameters constant: the arguments after the first are then passed by keyword, with
    ``names``."""
    rows = []
    ours, theirs = getattr(ps, name), getattr(st, name)
    for fn in fns:
        f, r = getattr(ours, fn), getattr(theirs, fn)
        if fixed:
            f = (lambda x, *a, _f=f: _f(x, **fixed, **dict(zip(names, a, strict=True))))
            r = (lambda x, *a, _r=r: _r(x, **fixed, **dict(zip(names, a, strict=True))))
        rows.append(spec(f"stats.{name}.{fn}", f, r, shapes, *domains, **kw))
    return rows


SPECS = []
if st is not None:
    REAL, POS = (-2.0, 2.0), (0.5, 2.0)
    SPECS = [
        *_rows("norm", LOC_SCALE, (REAL, REAL, POS)),
        spec("stats.norm.ppf", ps.norm.ppf, st.norm.ppf, LOC_SCALE[:2],
             (0.15, 0.45), REAL, POS),
        *_rows("cauchy", LOC_SCALE, ((-1.5, 1.5), REAL, (0.8, 2.0))),
        *_rows("logistic", LOC_SCALE, (REAL, REAL, POS)),
        *_rows("laplace", LOC_SCALE, (_signed(0.8, 2.0), (-0.3, 0.3), POS)),
        *_rows("expon", LOC_SCALE, ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5))),
        # t: loc and scale as keywords; df differentiable in the densities
        *_rows("t", WITH_SHAPE, (REAL, (1.5, 3.0), REAL, POS), fns=("logpdf", "pdf")),
        *_rows("t", LOC_SCALE, (REAL, REAL, POS), fixed={"df": 3.5},
               fns=("cdf", "logcdf", "sf", "logsf")),
        *_rows("gamma", WITH_SHAPE, ((1.5, 3.0), (1.2, 3.0), (-0.5, 0.5), (0.5, 1.5)),
               fns=("logpdf", "pdf")),
        *_rows("gamma", LOC_SCALE, ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5)), fixed={"a": 2.5},
               fns=("cdf", "logcdf", "sf", "logsf")),
        *_rows("chi2", WITH_SHAPE, ((2.0, 3.0), (2.5, 3.5), (-0.3, 0.3), (0.8, 1.2)),
               fns=("logpdf", "pdf")),
        *_rows("chi2", LOC_SCALE, ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5)), fixed={"df": 3.0},
               fns=("cdf", "logcdf", "sf", "logsf")),
        # the oracle's steps (1e-2 times the largest argument, along random directions of all five
        # at once) move y by up to 0.1, in a function with poles at 0 and 1: 1e-6 is its accuracy
        *_rows("beta", WITH_TWO, ((0.4, 0.6), (1.5, 2.5), (1.5, 2.5), (-0.03, 0.03),
                                  (1.1, 1.2)), fns=("logpdf", "pdf"), rtol=1e-6),
        *_rows("beta", LOC_SCALE, ((0.25, 0.75), (-0.1, 0.1), (1.2, 1.5)),
               fixed={"a": 2.5, "b": 1.5}, fns=("cdf", "logcdf", "sf", "logsf")),
        # discrete: k (integers, not differentiated) and the parameters
        *_rows("poisson", [((4,), (4,)), ((2, 3), (3,)), ((), ())], ("int", (0.5, 3.0)),
               fns=("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")),
        *_rows("binom", [((4,), (4,)), ((2, 3), ())], ("int", (0.2, 0.8)), fixed={"n": 5},
               names=("p",),
               fns=("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")),
        *_rows("nbinom", [((4,), (4,), (4,)), ((2, 3), (3,), ())],
               ("int", (1.5, 3.0), (0.3, 0.8)), fns=("logpmf", "pmf")),
        *_rows("nbinom", [((4,), (4,)), ((2, 3), ())], ("int", (0.3, 0.8)), fixed={"n": 2.5},
               names=("p",),
               fns=("cdf", "logcdf", "sf", "logsf")),
        # multivariate
        # x with K - 1 components (the last is 1 - sum), or K normalised by their sum: the
        # oracle's steps then stay on the simplex, where SciPy accepts them
        spec("stats.dirichlet.logpdf", ps.dirichlet.logpdf, st.dirichlet.logpdf,
             [((2,), (3,)), ((2, 4), (3,))], (0.25, 0.35), (1.5, 2.5)),
        spec("stats.dirichlet.logpdf", lambda x, a: ps.dirichlet.logpdf(x / pnp.sum(x, 0), a),
             lambda x, a: st.dirichlet.logpdf(x / np.sum(x, 0), a), [((3,), (3,)),
                                                                       ((3, 4), (3,))],
             (1.0, 2.0), (1.5, 3.0), tag="normalised"),
        spec("stats.dirichlet.pdf", ps.dirichlet.pdf, st.dirichlet.pdf, [((2, 4), (3,))],
             (0.25, 0.35), (1.5, 2.5)),
        # one entry of alpha (K = 1, SciPy takes it): the point mass at x = 1, x given with
        # its K - 1 = 0 entries
        spec("stats.dirichlet.logpdf", ps.dirichlet.logpdf, st.dirichlet.logpdf,
             [((0,), (1,)), ((0, 3), (1,))], (0.25, 0.35), (1.5, 2.5), tag="one-entry"),
        spec("stats.dirichlet.entropy", ps.dirichlet.entropy, st.dirichlet.entropy,
             [((3,),), ((5,),), ((1,),)], (1.5, 3.0)),
        spec("stats.dirichlet.mean", ps.dirichlet.mean, st.dirichlet.mean, [((3,),), ((1,),)],
             (1.5, 3.0)),
        spec("stats.dirichlet.var", ps.dirichlet.var, st.dirichlet.var, [((3,),), ((1,),)],
             (1.5, 3.0)),
        spec("stats.multivariate_normal.logpdf", ps.multivariate_normal.logpdf,
             st.multivariate_normal.logpdf, [((3,), (3,), (3, 3)), ((4, 3), (3,), (3, 3))],
             "real", "real", _spd),
        spec("stats.multivariate_normal.logpdf", ps.multivariate_normal.logpdf,
             st.multivariate_normal.logpdf, [((4, 2), (2,), (2,))], "real", "real", "positive",
             tag="diagonal"),
        spec("stats.multivariate_normal.pdf", ps.multivariate_normal.pdf,
             st.multivariate_normal.pdf, [((4, 3), (3,), (3, 3))], "real", "real", _spd),
        spec("stats.multivariate_normal.entropy", ps.multivariate_normal.entropy,
             st.multivariate_normal.entropy, [((3,), (3, 3))], "real", _spd),
    ]
