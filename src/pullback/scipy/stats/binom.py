"""``scipy.stats.binom``: the binomial distribution of ``k``, differentiable in ``n``, ``p``
(reverse and forward mode, any order, except as noted).

Parameters: ``n`` a non-negative integer (the number of trials; differentiable in ``logpmf``
and ``pmf``, through ``gammaln``, but not in the cdfs), ``0 <= p <= 1``; invalid values give
NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import binom
    >>> round(float(binom.logpmf(3, 10, 0.4)), 10)
    -1.5371598192
"""

from __future__ import annotations

from typing import Any

import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy.stats._common import Discrete, valid

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]


def _logpmf(k: Any, n: Any, p: Any) -> Any:
    combinations = special.gammaln(n + 1.0) - (special.gammaln(k + 1.0)
                                               + special.gammaln(n - k + 1.0))
    return combinations + special.xlogy(k, p) + special.xlog1py(n - k, -p)


def _check(n: Any, p: Any) -> Any:
    return valid(pnp.greater_equal(n, 0), pnp.equal(n, pnp.floor(n)),
                 pnp.greater_equal(p, 0), pnp.less_equal(p, 1))


_DIST = Discrete("binom", _logpmf, lambda k, n, p: special.betainc(n - k, k + 1.0, 1.0 - p),
                 lambda k, n, p: special.betainc(k + 1.0, n - k, p),
                 upper=lambda n, p: n, check=_check)


logpmf, pmf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="n, p", of="the binomial distribution", no_closed_form="n",
    example="3, 10, 0.4",
    values=("-1.5371598192", "0.214990848", "0.3822806016", "-0.9616003809", "0.6177193984",
            "-0.4817209725"))
