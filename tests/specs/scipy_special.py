"""Rows for the functions ``pullback.scipy.special`` gained with ``pullback.scipy.stats``
(``ndtr``, ``log_ndtr``, ``ndtri``, ``log_expit``, ``betaln``, ``xlog1py``, ``gammainc``,
``gammaincc``, ``betainc``), against SciPy's values. The incomplete functions are checked in
``x`` (their derivatives in the shape parameters have no closed form, and raise:
``tests/test_scipy_stats.py``)."""

import numpy as np

import pullback.scipy.special as ps
from specs import spec

try:
    import scipy.special as sps
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    sps = None

UNARY = [((3, 2),), ((),), ((0,),), ((4,),)]
BINARY = [((3, 2), (3, 2)), ((3, 2), (2,)), ((), (4,))]
A = np.array([0.7, 1.5, 3.2])  # shape parameters, held fixed

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
    ]
    # fmt: on
