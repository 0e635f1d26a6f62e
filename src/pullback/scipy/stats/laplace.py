"""``scipy.stats.laplace``: the Laplace (double exponential) distribution, differentiable in
``x``, ``loc``, ``scale`` (reverse and forward mode, any order).

``x == loc`` is a kink of ``logpdf``/``pdf`` (the derivative there is taken as 0, as of ``abs``).

Example:
    >>> from pullback.scipy.stats import laplace
    >>> round(float(laplace.logpdf(1.5)), 10)
    -2.1931471806
"""

from __future__ import annotations

import math
from typing import Any

import pullback.numpy as pnp
from pullback.scipy.stats._common import Continuous

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_2 = math.log(2.0)


def _cdf(y: Any) -> Any:
    e = 0.5 * pnp.exp(-pnp.abs(y))
    return pnp.where(pnp.greater(y, 0), 1.0 - e, e)


_DIST = Continuous(lambda y: -_LOG_2 - pnp.abs(y), _cdf, lambda y: _cdf(-y))


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, of="the Laplace (double exponential) distribution", example="1.5",
    values=("-2.1931471806", "0.1115650801", "0.8884349199", "-0.1182938812", "0.1115650801",
            "-2.1931471806"))
