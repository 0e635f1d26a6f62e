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


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the probability mass of the negative binomial distribution;
    ``scipy.stats.nbinom.logpmf``. Differentiable in ``p`` and ``n``. ``k`` is not
    differentiable (the mass is defined at the integers): asking for that derivative raises
    ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.logpmf(3, 4.5, 0.4)), 10)
        -2.366916968
    """
    return _DIST.logpmf(k, (n, p), loc)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The probability mass of the negative binomial distribution; ``scipy.stats.nbinom.pmf``.
    Differentiable in ``p`` and ``n``. ``k`` is not differentiable (the mass is defined at the
    integers): asking for that derivative raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.pmf(3, 4.5, 0.4)), 10)
        0.0937693751
    """
    return _DIST.pmf(k, (n, p), loc)


def cdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The distribution function of the negative binomial distribution;
    ``scipy.stats.nbinom.cdf``. Differentiable in ``p``; the derivative with respect to ``n``
    has no closed form and raises ``NotImplementedError``. Piecewise constant in ``k``
    (derivative 0).

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.cdf(3, 4.5, 0.4)), 10)
        0.2258058516
    """
    return _DIST.cdf(k, (n, p), loc)


def logcdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """``log(cdf)`` of the negative binomial distribution; ``scipy.stats.nbinom.logcdf``.
    Differentiable in ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.logcdf(3, 4.5, 0.4)), 10)
        -1.4880797127
    """
    return _DIST.logcdf(k, (n, p), loc)


def sf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the negative binomial distribution;
    ``scipy.stats.nbinom.sf``. Differentiable in ``p``; the derivative with respect to ``n``
    has no closed form and raises ``NotImplementedError``. Piecewise constant in ``k``
    (derivative 0).

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.sf(3, 4.5, 0.4)), 10)
        0.7741941484
    """
    return _DIST.sf(k, (n, p), loc)


def logsf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """``log(sf)`` of the negative binomial distribution; ``scipy.stats.nbinom.logsf``.
    Differentiable in ``p``; the derivative with respect to ``n`` has no closed form and raises
    ``NotImplementedError``. Piecewise constant in ``k`` (derivative 0).

    Example:
        >>> from pullback.scipy.stats import nbinom
        >>> round(float(nbinom.logsf(3, 4.5, 0.4)), 10)
        -0.2559325991
    """
    return _DIST.logsf(k, (n, p), loc)
