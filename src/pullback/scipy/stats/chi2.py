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


def logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.logpdf``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.logpdf(1.5, 3.0)), 10)
        -1.4662059792
    """
    return _DIST.logpdf(x, (df,), loc, scale)


def pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.pdf``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.pdf(1.5, 3.0)), 10)
        0.2307994842
    """
    return _DIST.pdf(x, (df,), loc, scale)


def cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.cdf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to df has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.cdf(1.5, 3.0)), 10)
        0.3177296697
    """
    return _DIST.cdf(x, (df,), loc, scale)


def logcdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.logcdf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to df has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.logcdf(1.5, 3.0)), 10)
        -1.1465543531
    """
    return _DIST.logcdf(x, (df,), loc, scale)


def sf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.sf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to df has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.sf(1.5, 3.0)), 10)
        0.6822703303
    """
    return _DIST.sf(x, (df,), loc, scale)


def logsf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the chi-squared distribution (support ``x >= loc``);
    ``scipy.stats.chi2.logsf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to df has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import chi2
        >>> round(float(chi2.logsf(1.5, 3.0)), 10)
        -0.3823293209
    """
    return _DIST.logsf(x, (df,), loc, scale)
