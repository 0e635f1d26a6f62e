"""``scipy.stats.t``: Student's t distribution, differentiable in ``x``, ``loc``, ``scale``,
``df`` (reverse and forward mode, any order, except as noted).

Shape parameters: ``df`` > 0 (degrees of freedom); invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import t
    >>> round(float(t.logpdf(1.5, 3.0)), 10)
    -2.1201204255
"""

from __future__ import annotations

import math
from typing import Any

import pullback.numpy as pnp
from pullback.core.lax import stop_gradient
from pullback.scipy import special
from pullback.scipy.stats._common import Continuous, positive

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_PI = math.log(math.pi)


def _check(df: Any) -> Any:
    return positive(df)


def _logpdf(y: Any, df: Any) -> Any:
    return (special.gammaln(0.5 * (df + 1.0)) - special.gammaln(0.5 * df)
            - 0.5 * (pnp.log(df) + _LOG_PI) - 0.5 * (df + 1.0) * pnp.log1p(y * y / df))


def _cdf(y: Any, df: Any) -> Any:
    # Near the centre 1/2 + sign(y) I_w(1/2, df/2) / 2 with w = y^2 / (df + y^2); in the
    # tails I_(1-w)(df/2, 1/2) / 2 with 1 - w = df / (df + y^2) computed directly: each
    # where its result has no cancellation (the centre's I below 1/2). Each branch is
    # evaluated at a harmless point where the other one is used.
    # At y = 0 the centre's form has a 0 * inf derivative (I_w grows like sqrt(w), w like
    # y^2), NaN, and close to it (w underflowing, or its powers overflowing at higher orders)
    # wrong ones. There (|y| < 1e-4 sqrt(df)) the derivatives come from the same function in
    # the symmetric form I_v(df/2, df/2), v = 1/2 + y / (2 sqrt(df + y^2)), smooth in y, and
    # the value from the centre's form (the symmetric one is off by up to about sqrt(df) ulps:
    # v's rounding times the density of v), its derivatives stopped.
    y0, df0 = stop_gradient(y), stop_gradient(df)
    centre = pnp.less(special.betainc(0.5, 0.5 * df0, y0 * y0 / (df0 + y0 * y0)), 0.5)
    small = pnp.less(pnp.abs(y0), 1e-4 * pnp.sqrt(df0))

    def centre_form(y: Any, df: Any) -> Any:
        return 0.5 + 0.5 * pnp.sign(y) * special.betainc(0.5, 0.5 * df, y * y / (df + y * y))

    yc = pnp.where(centre, y, 0.5)
    ys = pnp.where(small, yc, 0.0)
    symmetric = special.betainc(0.5 * df, 0.5 * df, 0.5 + 0.5 * ys / pnp.sqrt(df + ys * ys))
    near = pnp.where(small,
                     centre_form(stop_gradient(yc), df0)
                     + (symmetric - stop_gradient(symmetric)),
                     centre_form(pnp.where(small, 0.5, yc), df))
    yt = pnp.where(centre, 1.0, y)
    tail = 0.5 * special.betainc(0.5 * df, 0.5, df / (df + yt * yt))
    return pnp.where(centre, near, pnp.where(pnp.less(y, 0), tail, 1.0 - tail))


_DIST = Continuous(_logpdf, _cdf, lambda y, df: _cdf(-y, df), check=_check)


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="df", of="Student's t distribution", no_closed_form="df", example="1.5, 3.0",
    values=("-2.1201204255", "0.1200171745", "0.8847080674", "-0.1224975558", "0.1152919326",
            "-2.1602878227"))
