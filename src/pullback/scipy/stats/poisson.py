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


def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The log of the probability mass of the Poisson distribution;
    ``scipy.stats.poisson.logpmf``. Differentiable in ``mu``. ``k`` is not differentiable (the
    mass is defined at the integers): asking for that derivative raises
    ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.logpmf(3, 2.5)), 10)
        -1.5428872736
    """
    return _DIST.logpmf(k, (mu,), loc)


def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The probability mass of the Poisson distribution; ``scipy.stats.poisson.pmf``.
    Differentiable in ``mu``. ``k`` is not differentiable (the mass is defined at the
    integers): asking for that derivative raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.pmf(3, 2.5)), 10)
        0.2137630172
    """
    return _DIST.pmf(k, (mu,), loc)


def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The distribution function of the Poisson distribution; ``scipy.stats.poisson.cdf``.
    Differentiable in ``mu``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.cdf(3, 2.5)), 10)
        0.7575761331
    """
    return _DIST.cdf(k, (mu,), loc)


def logcdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """``log(cdf)`` of the Poisson distribution; ``scipy.stats.poisson.logcdf``. Differentiable in
    ``mu``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.logcdf(3, 2.5)), 10)
        -0.2776312409
    """
    return _DIST.logcdf(k, (mu,), loc)


def sf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the Poisson distribution; ``scipy.stats.poisson.sf``.
    Differentiable in ``mu``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.sf(3, 2.5)), 10)
        0.2424238669
    """
    return _DIST.sf(k, (mu,), loc)


def logsf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """``log(sf)`` of the Poisson distribution; ``scipy.stats.poisson.logsf``. Differentiable in
    ``mu``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import poisson
        >>> round(float(poisson.logsf(3, 2.5)), 10)
        -1.417067569
    """
    return _DIST.logsf(k, (mu,), loc)
