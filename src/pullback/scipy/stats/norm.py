"""``scipy.stats.norm``: the normal distribution, differentiable in ``x``, ``loc`` and
``scale`` (reverse and forward mode, any order).

Example:
    >>> import pullback as pb
    >>> from pullback.scipy.stats import norm
    >>> float(pb.grad(norm.logpdf, argnums=2)(1.0, 0.0, 2.0))  # d/dscale: (y**2 - 1) / scale
    -0.375
"""

from __future__ import annotations

import math
from typing import Any

import pullback.numpy as pnp
from pullback.scipy import special
from pullback.scipy.stats._common import Continuous, real_only

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

_DIST = Continuous(
    logpdf=lambda y: -0.5 * pnp.square(y) - _LOG_SQRT_2PI,
    cdf=special.ndtr,
    sf=lambda y: special.ndtr(-y),
    logcdf=special.log_ndtr,
    logsf=lambda y: special.log_ndtr(-y),
)


logpdf, pdf, cdf, logcdf, sf, logsf = _DIST.public(__name__, docs={
    "logpdf": ("The log-density ``-((x - loc)/scale)**2 / 2 - log(sqrt(2 pi) scale)``",
               "float(norm.logpdf(1.0))", "-1.4189385332046727"),
    "pdf": ("The density", "round(float(norm.pdf(0.0)), 12)", "0.398942280401"),
    "cdf": ("The distribution function ``ndtr((x - loc) / scale)``",
            "round(float(norm.cdf(1.96)), 12)", "0.975002104852"),
    "logcdf": ("``log(cdf)``, accurate far in the lower tail (``log_ndtr``)",
               "round(float(norm.logcdf(-40.0)), 6)", "-804.608442"),
    "sf": ("The survival function ``1 - cdf``, accurate in the upper tail",
           "round(float(norm.sf(10.0)) / 7.6198530e-24, 6)", "1.0"),
    "logsf": ("``log(sf)``, accurate far in the upper tail", "round(float(norm.logsf(40.0)), 6)",
              "-804.608442"),
})

def ppf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The quantile function ``loc + scale * ndtri(q)``; ``scipy.stats.norm.ppf``.
    Differentiable in ``q``, ``loc`` and ``scale``.

    Example:
        >>> from pullback.scipy.stats import norm
        >>> round(float(norm.ppf(0.975, loc=1.0, scale=2.0)), 10)
        4.9199279691
    """
    real_only("pullback.scipy.stats.norm.ppf", q, loc, scale)
    out = special.ndtri(q)
    if not (type(scale) in (int, float) and scale == 1):
        out = pnp.where(pnp.greater(scale, 0), out * scale, pnp.nan)
    return out if type(loc) in (int, float) and loc == 0 else out + loc
