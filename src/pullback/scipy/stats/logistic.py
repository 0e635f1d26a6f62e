"""``scipy.stats.logistic``: the logistic distribution, differentiable in ``x``, ``loc``,
``scale`` (reverse and forward mode, any order).

Example:
    >>> from pullback.scipy.stats import logistic
    >>> round(float(logistic.logpdf(1.5)), 10)
    -1.902826556
"""

from __future__ import annotations

from typing import Any

import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy.stats._common import Continuous

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _logpdf(y: Any) -> Any:
    z = -pnp.abs(y)
    return z - 2.0 * pnp.log1p(pnp.exp(z))


_DIST = Continuous(_logpdf, special.expit, lambda y: special.expit(-y),
                   logcdf=special.log_expit, logsf=lambda y: special.log_expit(-y))


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, of="the logistic distribution", example="1.5",
    values=("-1.902826556", "0.1491464521", "0.8175744762", "-0.201413278", "0.1824255238",
            "-1.701413278"))
