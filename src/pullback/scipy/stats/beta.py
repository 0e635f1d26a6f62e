"""``scipy.stats.beta``: the beta distribution (support ``loc <= x <= loc + scale``),
differentiable in ``x``, ``loc``, ``scale``, ``a``, ``b`` (reverse and forward mode, any
order, except as noted).

Shape parameters: ``a``, ``b`` > 0; invalid values give NaN, as in SciPy.

Example:
    >>> from pullback.scipy.stats import beta
    >>> round(float(beta.logpdf(0.3, 2.0, 3.0)), 10)
    0.5675839576
"""

from __future__ import annotations

from typing import Any

from pullback.scipy import special
from pullback.scipy.stats._common import Continuous, positive, valid

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _logpdf(y: Any, a: Any, b: Any) -> Any:
    return special.xlog1py(b - 1.0, -y) + special.xlogy(a - 1.0, y) - special.betaln(a, b)


def _median(a: Any, b: Any) -> Any:
    # only compared (to pick logcdf's formula), never differentiated: the mean
    return a / (a + b)


_DIST = Continuous(_logpdf, lambda y, a, b: special.betainc(a, b, y),
                   lambda y, a, b: special.betainc(b, a, 1.0 - y), lower=0.0, upper=1.0,
                   median=_median, check=lambda a, b: valid(positive(a), positive(b)))


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The log-density of the beta distribution (support ``loc <= x <= loc + scale``);
    ``scipy.stats.beta.logpdf``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.logpdf(0.3, 2.0, 3.0)), 10)
        0.5675839576
    """
    return _DIST.logpdf(x, (a, b), loc, scale)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The density of the beta distribution (support ``loc <= x <= loc + scale``);
    ``scipy.stats.beta.pdf``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.pdf(0.3, 2.0, 3.0)), 10)
        1.764
    """
    return _DIST.pdf(x, (a, b), loc, scale)


def cdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The distribution function of the beta distribution (support ``loc <= x <= loc + scale``);
    ``scipy.stats.beta.cdf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to a and b has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.cdf(0.3, 2.0, 3.0)), 10)
        0.3483
    """
    return _DIST.cdf(x, (a, b), loc, scale)


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(cdf)`` of the beta distribution (support ``loc <= x <= loc + scale``);
    ``scipy.stats.beta.logcdf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to a and b has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.logcdf(0.3, 2.0, 3.0)), 10)
        -1.0546911016
    """
    return _DIST.logcdf(x, (a, b), loc, scale)


def sf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The survival function ``1 - cdf`` of the beta distribution (support ``loc <= x <= loc +
    scale``); ``scipy.stats.beta.sf``. Differentiable in ``x``, ``loc`` and ``scale``; the
    derivative with respect to a and b has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.sf(0.3, 2.0, 3.0)), 10)
        0.6517
    """
    return _DIST.sf(x, (a, b), loc, scale)


def logsf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """``log(sf)`` of the beta distribution (support ``loc <= x <= loc + scale``);
    ``scipy.stats.beta.logsf``. Differentiable in ``x``, ``loc`` and ``scale``; the derivative
    with respect to a and b has no closed form and raises ``NotImplementedError``.

    Example:
        >>> from pullback.scipy.stats import beta
        >>> round(float(beta.logsf(0.3, 2.0, 3.0)), 10)
        -0.4281709456
    """
    return _DIST.logsf(x, (a, b), loc, scale)
