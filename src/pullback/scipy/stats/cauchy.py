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


def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the Cauchy distribution; ``scipy.stats.cauchy.logpdf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.logpdf(1.5)), 10)
        -2.3233848822
    """
    return _DIST.logpdf(x, (), loc, scale)


def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the Cauchy distribution; ``scipy.stats.cauchy.pdf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.pdf(1.5)), 10)
        0.0979415034
    """
    return _DIST.pdf(x, (), loc, scale)


def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the Cauchy distribution; ``scipy.stats.cauchy.cdf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.cdf(1.5)), 10)
        0.8128329582
    """
    return _DIST.cdf(x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the Cauchy distribution; ``scipy.stats.cauchy.logcdf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.logcdf(1.5)), 10)
        -0.207229654
    """
    return _DIST.logcdf(x, (), loc, scale)


def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the Cauchy distribution; ``scipy.stats.cauchy.sf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.sf(1.5)), 10)
        0.1871670418
    """
    return _DIST.sf(x, (), loc, scale)


def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the Cauchy distribution; ``scipy.stats.cauchy.logsf``.

    Example:
        >>> from pullback.scipy.stats import cauchy
        >>> round(float(cauchy.logsf(1.5)), 10)
        -1.6757537891
    """
    return _DIST.logsf(x, (), loc, scale)
