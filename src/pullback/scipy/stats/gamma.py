"""``scipy.stats.gamma``: the gamma distribution (support ``x >= loc``), differentiable in ``x``,
``loc``, ``scale``, ``a`` (reverse and forward mode, any order, except as noted).

Shape parameters: ``a`` > 0 (the shape); invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import gamma
    >>> round(float(gamma.logpdf(1.5, 2.0)), 10)
    -1.0945348919
"""

from __future__ import annotations

from typing import Any

from pullback.scipy import special
from pullback.scipy.stats._common import Continuous, positive

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _logpdf(y: Any, a: Any) -> Any:
    return special.xlogy(a - 1.0, y) - y - special.gammaln(a)


_DIST = Continuous(_logpdf, lambda y, a: special.gammainc(a, y),
                   lambda y, a: special.gammaincc(a, y), lower=0.0,
                   median=lambda a: _median(a), check=positive)


def _median(a: Any) -> Any:
    # the median, where logcdf/logsf switch formulas (as SciPy's ppf(0.5)); only compared,
    # never differentiated: Wilson-Hilferty's approximation is close enough to pick a formula
    return a * (1.0 - 1.0 / (9.0 * a)) ** 3


def logpdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the gamma distribution (support ``x >= loc``);
    ``scipy.stats.gamma.logpdf``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.logpdf(1.5, 2.0)), 10)
        -1.0945348919
    """
    return _DIST.logpdf(x, (a,), loc, scale)


def pdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the gamma distribution (support ``x >= loc``); ``scipy.stats.gamma.pdf``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.pdf(1.5, 2.0)), 10)
        0.3346952402
    """
    return _DIST.pdf(x, (a,), loc, scale)


def cdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the gamma distribution (support ``x >= loc``);
    ``scipy.stats.gamma.cdf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to a has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.cdf(1.5, 2.0)), 10)
        0.4421745996
    """
    return _DIST.cdf(x, (a,), loc, scale)


def logcdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the gamma distribution (support ``x >= loc``);
    ``scipy.stats.gamma.logcdf``. Differentiable in ``x``, ``loc`` and ``scale``; the
    derivative with respect to a has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.logcdf(1.5, 2.0)), 10)
        -0.8160504531
    """
    return _DIST.logcdf(x, (a,), loc, scale)


def sf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the gamma distribution (support ``x >= loc``);
    ``scipy.stats.gamma.sf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to a has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.sf(1.5, 2.0)), 10)
        0.5578254004
    """
    return _DIST.sf(x, (a,), loc, scale)


def logsf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the gamma distribution (support ``x >= loc``); ``scipy.stats.gamma.logsf``.
    Differentiable in ``x``, ``loc`` and ``scale``; the derivative with respect to a has no
    closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import gamma
        >>> round(float(gamma.logsf(1.5, 2.0)), 10)
        -0.5837092681
    """
    return _DIST.logsf(x, (a,), loc, scale)
