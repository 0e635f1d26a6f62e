"""``scipy.stats.cauchy``: the Cauchy distribution, differentiable in ``x``, ``loc``, ``scale``
(reverse and forward mode, any order).

Example:
    >>> from pullback.scipy.stats import cauchy
    >>> round(float(cauchy.logpdf(1.5)), 10)
    -2.3233848822
"""

from __future__ import annotations

import math
from typing import Any

import pullback.numpy as pnp
from pullback.scipy.stats._common import Continuous

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_PI = math.log(math.pi)


def _logpdf(y: Any) -> Any:
    return -_LOG_PI - pnp.log1p(y * y)


def _cdf(y: Any) -> Any:
    # SciPy's arctan2(1, -y) / pi, accurate in the lower tail (the 1 an array of y's dtype)
    return pnp.arctan2(pnp.ones_like(y), -y) / math.pi


_DIST = Continuous(_logpdf, _cdf, lambda y: _cdf(-y))


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, of="the Cauchy distribution", example="1.5",
    values=("-2.3233848822", "0.0979415034", "0.8128329582", "-0.207229654", "0.1871670418",
            "-1.6757537891"))
