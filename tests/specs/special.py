"""Rows for ``pullback.scipy.special``, against SciPy's values (SciPy is a test dependency,
in the ``dev`` extra; without it these rows are skipped, and the coverage test says so)."""

import numpy as np

import pullback.numpy as pnp
import pullback.scipy.special as ps
from specs import spec

try:
    import scipy.special as sps
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    sps = None

UNARY = [((3, 2),), ((),), ((0,),), ((4,),)]
BINARY = [((3, 2), (3, 2)), ((3, 2), (2,)), ((1, 2), (3, 1)), ((), (4,)), ((0, 2), (2,))]


def _bins(*intervals):
    """Values drawn from the union of ``intervals`` (to keep away from roots and poles, where
    a relative comparison of values has no meaning)."""
    bins = np.array(intervals, dtype=float)

    def sample(rng, shape):
        pick = bins[rng.integers(0, len(bins), shape)]
        return rng.uniform(pick[..., 0], pick[..., 1])

    return sample


def _with_zeros(rng, shape):
    return np.where(rng.random(shape) < 0.35, 0.0, rng.uniform(-2.0, 2.0, shape))


def _f32(fn):
    return lambda x: fn(pnp.astype(x, np.float32))


def _ref32(fn):
    return lambda x: fn(np.asarray(x).astype(np.float32))


# gammaln has roots at 1 and 2, digamma at 1.4616...: values are compared with SciPy's to
# 1e-13 relative, so the rows keep away from them; they also keep away from the poles, where
# finite differences with the oracle's step (1e-2 max|x|) are not accurate enough. Negative
# arguments are checked in tests/test_special_values.py.
GAMMALN = _bins((0.5, 0.8), (1.2, 1.8), (2.3, 2.9))
DIGAMMA = _bins((0.5, 1.3), (1.6, 2.9))
POLYGAMMA = (0.8, 2.9)
PROBABILITY = _bins((0.2, 0.4), (0.6, 0.8))

SPECS = []
if sps is not None:
    # fmt: off
    SPECS = [
        spec("special.erf",     ps.erf,     sps.erf,     UNARY),
        spec("special.erf",     ps.erf,     sps.erf,     [((5,),)], (-6.0, 6.0), tag="wide"),
        spec("special.erfc",    ps.erfc,    sps.erfc,    UNARY),
        spec("special.erfc",    ps.erfc,    sps.erfc,    [((5,),)], (2.0, 8.0), tag="tail"),
        spec("special.gammaln", ps.gammaln, sps.gammaln, UNARY, GAMMALN),
        spec("special.digamma", ps.digamma, sps.digamma, UNARY, DIGAMMA),
        spec("special.psi",     ps.psi,     sps.psi,     [((3, 2),)], DIGAMMA),
        spec("special.polygamma", lambda x: ps.polygamma(1, x), lambda x: sps.polygamma(1, x),
             UNARY, POLYGAMMA, tag="1"),
        spec("special.polygamma", lambda x: ps.polygamma(3, x), lambda x: sps.polygamma(3, x),
             [((3, 2),), ((),)], POLYGAMMA, tag="3"),
        spec("special.polygamma", lambda x: ps.polygamma(0, x), lambda x: sps.polygamma(0, x),
             [((3, 2),)], DIGAMMA, tag="0"),
        spec("special.expit",   ps.expit,   sps.expit,   UNARY, (-8.0, 8.0)),
        spec("special.logit",   ps.logit,   sps.logit,   UNARY, PROBABILITY),
        spec("special.xlogy",   ps.xlogy,   sps.xlogy,   BINARY, _with_zeros, "positive"),
        spec("special.softmax", ps.softmax, sps.softmax, [((3, 4),), ((),), ((5,),)]),
        spec("special.softmax", lambda x: ps.softmax(x, axis=-1),
             lambda x: sps.softmax(x, axis=-1), [((3, 4),), ((0, 3),)], tag="neg-axis"),
        spec("special.softmax", lambda x: ps.softmax(x, axis=(0, 2)),
             lambda x: sps.softmax(x, axis=(0, 2)), [((3, 4, 2),)], tag="tuple-axis"),
        spec("special.log_softmax", ps.log_softmax, sps.log_softmax, [((3, 4),), ((),)]),
        spec("special.log_softmax", lambda x: ps.log_softmax(x, axis=0),
             lambda x: sps.log_softmax(x, axis=0), [((3, 4),), ((3, 0),)], tag="axis0"),
        spec("special.logsumexp", lambda x: ps.logsumexp(x, axis=1, keepdims=True),
             lambda x: sps.logsumexp(x, axis=1, keepdims=True), [((3, 4),), ((2, 5, 3),)],
             tag="scipy"),
        spec("special.logsumexp", lambda x: ps.logsumexp(x + 700.0),
             lambda x: sps.logsumexp(x + 700.0), [((3, 4),)], tag="large"),
        spec("special.erf", _f32(ps.erf), _ref32(sps.erf),
             [((4,),)], tag="float32", smooth=sps.erf, rtol=2e-5, atol=1e-6, order=1),
        spec("special.expit", _f32(ps.expit), _ref32(sps.expit),
             [((4,),)], tag="float32", smooth=sps.expit, rtol=2e-5, atol=1e-6, order=1),
    ]
    # fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts. The
# real-only functions (erf, erfc, expit, logit, gammaln, digamma, polygamma) refuse complex
# input: tests/test_complex.py checks their TypeError.


def _complex(rng, shape):
    return rng.uniform(-2.0, 2.0, shape) + 1j * rng.uniform(-2.0, 2.0, shape)


def _right_half(rng, shape):
    """Real part in (0.3, 2): away from log's branch cut."""
    return rng.uniform(0.3, 2.0, shape) + 1j * rng.uniform(-1.5, 1.5, shape)


COMPLEX_SPECS = []
if sps is not None:
    # fmt: off
    COMPLEX_SPECS = [
        spec("special.xlogy", ps.xlogy, sps.xlogy, [((3, 2), (3, 2)), ((3, 2), (2,))],
             _complex, _right_half, tag="complex"),
        spec("special.xlogy", ps.xlogy, sps.xlogy, [((3, 2), (3, 2))], "real", _right_half,
             tag="complex-y"),
        spec("special.logsumexp", lambda z: ps.logsumexp(z, axis=-1),
             lambda z: sps.logsumexp(z, axis=-1), [((3, 4),)], _complex, tag="complex"),
        spec("special.softmax", lambda z: ps.softmax(z, axis=0),
             lambda z: sps.softmax(z, axis=0), [((3, 4),)], _complex, tag="complex"),
        spec("special.log_softmax", lambda z: ps.log_softmax(z, axis=1),
             lambda z: sps.log_softmax(z, axis=1), [((3, 4),)], _complex, tag="complex"),
    ]
    # fmt: on
