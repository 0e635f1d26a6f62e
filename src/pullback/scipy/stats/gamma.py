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


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(
    __name__, shapes="a", of="the gamma distribution (support ``x >= loc``)", no_closed_form="a",
    example="1.5, 2.0",
    values=("-1.0945348919", "0.3346952402", "0.4421745996", "-0.8160504531", "0.5578254004",
            "-0.5837092681"))
