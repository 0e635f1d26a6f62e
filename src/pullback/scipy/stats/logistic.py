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


def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the logistic distribution; ``scipy.stats.logistic.logpdf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.logpdf(1.5)), 10)
        -1.902826556
    """
    return _DIST.logpdf(x, (), loc, scale)


def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the logistic distribution; ``scipy.stats.logistic.pdf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.pdf(1.5)), 10)
        0.1491464521
    """
    return _DIST.pdf(x, (), loc, scale)


def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the logistic distribution; ``scipy.stats.logistic.cdf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.cdf(1.5)), 10)
        0.8175744762
    """
    return _DIST.cdf(x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the logistic distribution; ``scipy.stats.logistic.logcdf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.logcdf(1.5)), 10)
        -0.201413278
    """
    return _DIST.logcdf(x, (), loc, scale)


def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the logistic distribution;
    ``scipy.stats.logistic.sf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.sf(1.5)), 10)
        0.1824255238
    """
    return _DIST.sf(x, (), loc, scale)


def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the logistic distribution; ``scipy.stats.logistic.logsf``.

    Example:
        >>> from pullback.scipy.stats import logistic
        >>> round(float(logistic.logsf(1.5)), 10)
        -1.701413278
    """
    return _DIST.logsf(x, (), loc, scale)
