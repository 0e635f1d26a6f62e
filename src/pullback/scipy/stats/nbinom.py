"""``scipy.stats.nbinom``: the negative binomial distribution of ``k``, differentiable in ``n``,
``p`` (reverse and forward mode, any order, except as noted).

Parameters: ``n`` > 0 (the number of successes, a real number; differentiable in ``logpmf``
and ``pmf``, not in the cdfs), ``0 < p <= 1``; invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import nbinom
    >>> round(float(nbinom.logpmf(3, 4.5, 0.4)), 10)
    -2.366916968
"""

from __future__ import annotations

from typing import Any

import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy.stats._common import Discrete, valid

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]


def _logpmf(k: Any, n: Any, p: Any) -> Any:
    coefficient = special.gammaln(n + k) - special.gammaln(k + 1.0) - special.gammaln(n)
    return coefficient + n * pnp.log(p) + special.xlog1py(k, -p)


def _logcdf(k: Any, n: Any, p: Any) -> Any:
    # SciPy's: log(cdf) where cdf <= 1/2, log1p(-sf) above
    cdf = special.betainc(n, k + 1.0, p)
    return pnp.where(pnp.greater(cdf, 0.5),
                     pnp.log1p(-special.betainc(k + 1.0, n, 1.0 - p)), pnp.log(cdf))


def _check(n: Any, p: Any) -> Any:
    return valid(pnp.greater(n, 0), pnp.greater(p, 0), pnp.less_equal(p, 1))


_DIST = Discrete("nbinom", _logpmf, lambda k, n, p: special.betainc(n, k + 1.0, p),
                 lambda k, n, p: special.betainc(k + 1.0, n, 1.0 - p), check=_check,
                 logcdf=_logcdf)


logpmf, pmf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="n, p", of="the negative binomial distribution", no_closed_form="n",
    example="3, 4.5, 0.4",
    values=("-2.366916968", "0.0937693751", "0.2258058516", "-1.4880797127", "0.7741941484",
            "-0.2559325991"))
