"""``scipy.stats.chi2``: the chi-squared distribution (support ``x >= loc``), differentiable in
``x``, ``loc``, ``scale``, ``df`` (reverse and forward mode, any order, except as noted).

Shape parameters: ``df`` > 0 (degrees of freedom); invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import chi2
    >>> round(float(chi2.logpdf(1.5, 3.0)), 10)
    -1.4662059792
"""

from __future__ import annotations

import math
from typing import Any

from pullback.scipy import special
from pullback.scipy.stats._common import Continuous, positive

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_2 = math.log(2.0)


def _logpdf(y: Any, df: Any) -> Any:
    return (special.xlogy(0.5 * df - 1.0, y) - 0.5 * y - special.gammaln(0.5 * df)
            - _LOG_2 * df / 2.0)


def _median(df: Any) -> Any:
    # only compared (to pick logcdf's formula), never differentiated: Wilson-Hilferty
    return df * (1.0 - 2.0 / (9.0 * df)) ** 3


_DIST = Continuous(_logpdf, lambda y, df: special.gammainc(0.5 * df, 0.5 * y),
                   lambda y, df: special.gammaincc(0.5 * df, 0.5 * y), lower=0.0,
                   median=_median, check=positive)


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="df", of="the chi-squared distribution (support ``x >= loc``)",
    no_closed_form="df", example="1.5, 3.0",
    values=("-1.4662059792", "0.2307994842", "0.3177296697", "-1.1465543531", "0.6822703303",
            "-0.3823293209"))
