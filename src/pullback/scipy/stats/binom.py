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


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the probability mass of the binomial distribution; ``scipy.stats.binom.logpmf``.
    Differentiable in ``p`` and ``n``. ``k`` is not differentiable (the mass is defined at the
    integers): asking for that derivative raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.logpmf(3, 10, 0.4)), 10)
        -1.5371598192
    """
    return _DIST.logpmf(k, (n, p), loc)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The probability mass of the binomial distribution; ``scipy.stats.binom.pmf``.
    Differentiable in ``p`` and ``n``. ``k`` is not differentiable (the mass is defined at the
    integers): asking for that derivative raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.pmf(3, 10, 0.4)), 10)
        0.214990848
    """
    return _DIST.pmf(k, (n, p), loc)


def cdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The distribution function of the binomial distribution; ``scipy.stats.binom.cdf``.
    Differentiable in ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.cdf(3, 10, 0.4)), 10)
        0.3822806016
    """
    return _DIST.cdf(k, (n, p), loc)


def logcdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """``log(cdf)`` of the binomial distribution; ``scipy.stats.binom.logcdf``. Differentiable in
    ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.logcdf(3, 10, 0.4)), 10)
        -0.9616003809
    """
    return _DIST.logcdf(k, (n, p), loc)


def sf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the binomial distribution; ``scipy.stats.binom.sf``.
    Differentiable in ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.sf(3, 10, 0.4)), 10)
        0.6177193984
    """
    return _DIST.sf(k, (n, p), loc)


def logsf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """``log(sf)`` of the binomial distribution; ``scipy.stats.binom.logsf``. Differentiable in
    ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import binom
        >>> round(float(binom.logsf(3, 10, 0.4)), 10)
        -0.4817209725
    """
    return _DIST.logsf(k, (n, p), loc)
