"""``scipy.stats.poisson``: the Poisson distribution of ``k``, differentiable in ``mu`` (reverse
and forward mode, any order).

Parameters: ``mu`` >= 0 (the mean); invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import poisson
    >>> round(float(poisson.logpmf(3, 2.5)), 10)
    -1.5428872736
"""

from __future__ import annotations

from typing import Any

import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy.stats._common import Discrete

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]


def _logpmf(k: Any, mu: Any) -> Any:
    return special.xlogy(k, mu) - special.gammaln(k + 1.0) - mu


_DIST = Discrete("poisson", _logpmf, lambda k, mu: special.gammaincc(k + 1.0, mu),
                 lambda k, mu: special.gammainc(k + 1.0, mu),
                 check=lambda mu: pnp.greater_equal(mu, 0))


logpmf, pmf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="mu", of="the Poisson distribution", example="3, 2.5",
    values=("-1.5428872736", "0.2137630172", "0.7575761331", "-0.2776312409", "0.2424238669",
            "-1.417067569"))
