"""``scipy.stats.expon``: the exponential distribution (support ``x >= loc``), differentiable in
``x``, ``loc``, ``scale`` (reverse and forward mode, any order).

Example:
    >>> from pullback.scipy.stats import expon
    >>> round(float(expon.logpdf(1.5)), 10)
    -1.5
"""

from __future__ import annotations

import math

import pullback.numpy as pnp
from pullback.scipy.stats._common import Continuous

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


_DIST = Continuous(pnp.negative, lambda y: -pnp.expm1(-y), lambda y: pnp.exp(-y),
                   lower=0.0, median=math.log(2.0), logsf=pnp.negative)


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, of="the exponential distribution (support ``x >= loc``)", example="1.5",
    values=("-1.5", "0.2231301601", "0.7768698399", "-0.2524824589", "0.2231301601", "-1.5"))
