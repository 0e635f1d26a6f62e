"""Rows for the functions ``pullback.scipy.special`` gained with ``pullback.scipy.stats``
(``ndtr``, ``log_ndtr``, ``ndtri``, ``log_expit``, ``betaln``, ``xlog1py``, ``gammainc``,
``gammaincc``, ``betainc``) and after them (the gamma and beta functions, the Bessel
functions, ``erfinv``, ``erfcinv``, the entropies, ``sinc``, ``zeta``), against SciPy's values.
The incomplete functions are checked in ``x`` (their derivatives in the shape parameters have
no closed form, and raise: ``tests/test_scipy_stats.py``); so are the Bessel functions of real
order (in ``x``, at fixed orders) and ``zeta`` (in ``q``): ``tests/test_scipy_special.py``
checks that the derivatives in the order and in zeta's ``x`` raise. Rows that call a function
directly and name no domain take it from ``pullback.check.domains``."""

import numpy as np

import pullback.numpy as pnp
import pullback.scipy.special as ps
from specs import spec

try:
    import scipy.special as sps
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    sps = None

UNARY = [((3, 2),), ((),), ((0,),), ((4,),)]
BINARY = [((3, 2), (3, 2)), ((3, 2), (2,)), ((), (4,))]
A = np.array([0.7, 1.5, 3.2])  # shape parameters, held fixed
V = np.array([0.0, 1.0, 2.5])  # Bessel orders, held fixed
N = np.array([0, 1, 3])  # integer orders
S = np.array([1.5, 2.0, 6.5])  # zeta's x, held fixed


def _bins(*intervals):
    """Values drawn from the union of ``intervals``."""
    bins = np.array(intervals, dtype=float)

    def sample(rng, shape):
        pick = bins[rng.integers(0, len(bins), shape)]
        return rng.uniform(pick[..., 0], pick[..., 1])

    return sample


# gamma and rgamma between their poles too (away from them: finite differences; the domain
# table leaves them out, as they are smooth everywhere but at the poles)
GAMMA = _bins((-2.6, -2.4), (-1.6, -1.4), (0.7, 2.5))

SPECS = []
if sps is not None:
    # fmt: off
    SPECS = [
        spec("special.ndtr", ps.ndtr, sps.ndtr, UNARY),
        spec("special.ndtr", ps.ndtr, sps.ndtr, [((4,),)], (-9.0, -5.0), tag="tail"),
        spec("special.log_ndtr", ps.log_ndtr, sps.log_ndtr, UNARY),
        spec("special.log_ndtr", ps.log_ndtr, sps.log_ndtr, [((4,),)], (-30.0, -22.0),
             tag="series"),
        spec("special.log_ndtr", ps.log_ndtr, sps.log_ndtr, [((4,),)], (3.0, 6.0),
             tag="upper"),
        spec("special.ndtri", ps.ndtri, sps.ndtri, UNARY, (0.1, 0.4)),
        spec("special.ndtri", ps.ndtri, sps.ndtri, [((4,),)], (0.6, 0.9), tag="upper"),
        spec("special.log_expit", ps.log_expit, sps.log_expit, UNARY, (-8.0, 8.0)),
        spec("special.betaln", ps.betaln, sps.betaln, BINARY, (0.5, 0.9), (1.5, 2.0)),
        spec("special.xlog1py", ps.xlog1py, sps.xlog1py, BINARY, "real", (-0.5, 2.0)),
        spec("special.gammainc", lambda x: ps.gammainc(1.7, x), lambda x: sps.gammainc(1.7, x),
             UNARY, (0.5, 2.5)),
        spec("special.gammainc", lambda x: ps.gammainc(A, x), lambda x: sps.gammainc(A, x),
             [((2, 3),)], (0.5, 5.0), tag="series-and-fraction"),
        spec("special.gammaincc", lambda x: ps.gammaincc(1.7, x),
             lambda x: sps.gammaincc(1.7, x), UNARY, (0.5, 2.5)),
        spec("special.gammaincc", lambda x: ps.gammaincc(A, x), lambda x: sps.gammaincc(A, x),
             [((2, 3),)], (0.5, 5.0), tag="series-and-fraction"),
        spec("special.betainc", lambda x: ps.betainc(2.5, 1.5, x),
             lambda x: sps.betainc(2.5, 1.5, x), UNARY, (0.2, 0.8)),
        spec("special.betainc", lambda x: ps.betainc(A, A[::-1], x),
             lambda x: sps.betainc(A, A[::-1], x), [((2, 3),)], (0.2, 0.8),
             tag="both-sides"),
        # gamma, beta
        spec("special.gamma", ps.gamma, sps.gamma, UNARY, GAMMA),
        spec("special.rgamma", ps.rgamma, sps.rgamma, UNARY, GAMMA),
        spec("special.rgamma", ps.rgamma, sps.rgamma, [((6,),)], (-2.4, 0.4),
             tag="across-poles"),  # 1/gamma is smooth across the poles of gamma
        spec("special.beta", ps.beta, sps.beta, BINARY),
        spec("special.multigammaln", lambda x: ps.multigammaln(x, 3),
             lambda x: sps.multigammaln(x, 3), [((),)], (1.2, 4.0)),
        spec("special.multigammaln", lambda x: ps.multigammaln(x, 1),
             lambda x: sps.multigammaln(x, 1), [((3, 2),)], (0.5, 4.0), tag="d1"),
        # Bessel functions, in x
        spec("special.j0", ps.j0, sps.j0, UNARY),
        spec("special.j0", ps.j0, sps.j0, [((5,),)], (-12.0, 12.0), tag="wide"),
        spec("special.j1", ps.j1, sps.j1, UNARY),
        spec("special.j1", ps.j1, sps.j1, [((5,),)], (-12.0, 12.0), tag="wide"),
        spec("special.jv", lambda x: ps.jv(1.5, x), lambda x: sps.jv(1.5, x), UNARY,
             (0.3, 9.0)),
        spec("special.jv", lambda x: ps.jv(V, x), lambda x: sps.jv(V, x), [((2, 3),)],
             (0.3, 9.0), tag="orders"),
        spec("special.jv", lambda x: ps.jv(-2.0, x), lambda x: sps.jv(-2.0, x), [((4,),)],
             tag="negative-integer-order"),
        spec("special.y0", ps.y0, sps.y0, UNARY),
        spec("special.y1", ps.y1, sps.y1, UNARY),
        spec("special.yn", lambda x: ps.yn(2, x), lambda x: sps.yn(2, x), UNARY, (0.5, 8.0)),
        spec("special.yn", lambda x: ps.yn(N, x), lambda x: sps.yn(N, x), [((2, 3),)],
             (0.5, 8.0), tag="orders"),
        spec("special.i0", ps.i0, sps.i0, UNARY),
        spec("special.i0e", ps.i0e, sps.i0e, UNARY),
        spec("special.i1", ps.i1, sps.i1, UNARY),
        spec("special.i1e", ps.i1e, sps.i1e, UNARY),
        spec("special.iv", lambda x: ps.iv(1.5, x), lambda x: sps.iv(1.5, x), UNARY,
             (0.3, 6.0)),
        spec("special.iv", lambda x: ps.iv(V, x), lambda x: sps.iv(V, x), [((2, 3),)],
             (0.3, 6.0), tag="orders"),
        spec("special.ive", lambda x: ps.ive(1.5, x), lambda x: sps.ive(1.5, x), UNARY,
             (0.3, 6.0)),
        spec("special.ive", lambda x: ps.ive(2.0, x), lambda x: sps.ive(2.0, x), [((4,),)],
             "nonzero", tag="integer-order"),
        spec("special.kv", lambda x: ps.kv(1.5, x), lambda x: sps.kv(1.5, x), UNARY,
             (1.0, 4.0)),
        spec("special.kv", lambda x: ps.kv(V, x), lambda x: sps.kv(V, x), [((2, 3),)],
             (1.0, 4.0), tag="orders"),
        spec("special.kve", lambda x: ps.kve(0.7, x), lambda x: sps.kve(0.7, x), UNARY,
             (1.0, 4.0)),
        # inverse error functions
        spec("special.erfinv", ps.erfinv, sps.erfinv, UNARY),
        spec("special.erfinv", ps.erfinv, sps.erfinv, [((4,),)], (-1e-3, 1e-3), tag="small"),
        spec("special.erfcinv", ps.erfcinv, sps.erfcinv, UNARY),
        # the tail (erfcinv(z), z in (1e-4, 7e-3)), through exp: finite differences take
        # steps of at least 1e-2, too long for z itself
        spec("special.erfcinv", lambda t: ps.erfcinv(pnp.exp(t)),
             lambda t: sps.erfcinv(np.exp(t)), [((4,),)], (-9.0, -5.0), tag="tail"),
        # entropies
        spec("special.entr", ps.entr, sps.entr, UNARY),
        spec("special.rel_entr", ps.rel_entr, sps.rel_entr, BINARY),
        spec("special.kl_div", ps.kl_div, sps.kl_div, BINARY),
        spec("special.sinc", ps.sinc, sps.sinc, UNARY),
        # zeta, in q
        spec("special.zeta", lambda q: ps.zeta(2.5, q), lambda q: sps.zeta(2.5, q), UNARY,
             "positive"),
        spec("special.zeta", lambda q: ps.zeta(S, q), lambda q: sps.zeta(S, q), [((2, 3),)],
             (0.8, 4.0), tag="orders"),
        spec("special.zeta", lambda q: ps.zeta(3.0, q), lambda q: sps.zeta(3.0, q), [((4,),)],
             (-2.55, -2.45), tag="negative-q", rtol=1e-6),  # differences between two poles
        # float32 stays float32
        spec("special.gamma", lambda x: ps.gamma(pnp.astype(x, np.float32)),
             lambda x: sps.gamma(np.asarray(x).astype(np.float32)), [((4,),)], (0.7, 2.5),
             tag="float32",
             smooth=sps.gamma, rtol=2e-5, atol=1e-6, order=1),
        spec("special.jv", lambda x: ps.jv(1.5, pnp.astype(x, np.float32)),
             lambda x: sps.jv(1.5, np.asarray(x).astype(np.float32).astype(np.float64))
             .astype(np.float32),
             [((4,),)], (0.5, 3.0), tag="float32", smooth=lambda x: sps.jv(1.5, x), rtol=2e-5,
             atol=1e-6, order=1),
    ]
    # fmt: on
