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


def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the Laplace (double exponential) distribution;
    ``scipy.stats.laplace.logpdf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.logpdf(1.5)), 10)
        -2.1931471806
    """
    return _DIST.logpdf(x, (), loc, scale)


def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the Laplace (double exponential) distribution; ``scipy.stats.laplace.pdf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.pdf(1.5)), 10)
        0.1115650801
    """
    return _DIST.pdf(x, (), loc, scale)


def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the Laplace (double exponential) distribution;
    ``scipy.stats.laplace.cdf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.cdf(1.5)), 10)
        0.8884349199
    """
    return _DIST.cdf(x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the Laplace (double exponential) distribution;
    ``scipy.stats.laplace.logcdf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.logcdf(1.5)), 10)
        -0.1182938812
    """
    return _DIST.logcdf(x, (), loc, scale)


def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the Laplace (double exponential) distribution;
    ``scipy.stats.laplace.sf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.sf(1.5)), 10)
        0.1115650801
    """
    return _DIST.sf(x, (), loc, scale)


def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the Laplace (double exponential) distribution;
    ``scipy.stats.laplace.logsf``.

    Example:
        >>> from pullback.scipy.stats import laplace
        >>> round(float(laplace.logsf(1.5)), 10)
        -2.1931471806
    """
    return _DIST.logsf(x, (), loc, scale)
