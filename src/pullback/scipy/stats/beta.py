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


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="a, b", of="the beta distribution (support ``loc <= x <= loc + scale``)",
    no_closed_form="a, b", example="0.3, 2.0, 3.0",
    values=("0.5675839576", "1.764", "0.3483", "-1.0546911016", "0.6517", "-0.4281709456"))
