"""``scipy.stats.expon``: the exponential distribution (support ``x >= loc``), differentiable in
``x``, ``loc``, ``scale`` (reverse and forward mode, any order).

Example:
    >>> from pullback.scipy.stats import expon
    >>> round(float(expon.logpdf(1.5)), 10)
    -1.5
"""

from __future__ import annotations

import math
from typing import Any

import pullback.numpy as pnp
from pullback.scipy.stats._common import Continuous

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


_DIST = Continuous(pnp.negative, lambda y: -pnp.expm1(-y), lambda y: pnp.exp(-y),
                   lower=0.0, median=math.log(2.0), logsf=pnp.negative)


def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.logpdf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.logpdf(1.5)), 10)
        -1.5
    """
    return _DIST.logpdf(x, (), loc, scale)


def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.pdf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.pdf(1.5)), 10)
        0.2231301601
    """
    return _DIST.pdf(x, (), loc, scale)


def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.cdf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.cdf(1.5)), 10)
        0.7768698399
    """
    return _DIST.cdf(x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.logcdf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.logcdf(1.5)), 10)
        -0.2524824589
    """
    return _DIST.logcdf(x, (), loc, scale)


def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.sf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.sf(1.5)), 10)
        0.2231301601
    """
    return _DIST.sf(x, (), loc, scale)


def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the exponential distribution (support ``x >= loc``);
    ``scipy.stats.expon.logsf``.

    Example:
        >>> from pullback.scipy.stats import expon
        >>> round(float(expon.logsf(1.5)), 10)
        -1.5
    """
    return _DIST.logsf(x, (), loc, scale)
