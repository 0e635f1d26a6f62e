"""``scipy.stats``: log-densities, densities, distribution functions and their logarithms,
differentiable in every float argument (``x``, ``loc``, ``scale``, shape parameters) in
reverse and forward mode, to any order. SciPy is not needed.

Each distribution is a module with SciPy's method names and signatures:
``norm.logpdf(x, loc=0, scale=1)``, ``gamma.cdf(x, a, loc=0, scale=1)``,
``poisson.logpmf(k, mu, loc=0)``, ``multivariate_normal.logpdf(x, mean, cov)``. Values
outside the support and invalid parameters follow SciPy (``-inf``, ``0``, ``1``, ``NaN``).

Derivatives with respect to a shape parameter that enters ``cdf``/``sf`` through an
incomplete gamma or beta function (``gamma.cdf`` in ``a``, ``t.cdf`` in ``df``, ``beta.cdf``
in ``a``/``b``, ``chi2.cdf`` in ``df``, ``binom``/``nbinom`` cdfs in ``n``) have no closed
form: asking for one raises ``NotImplementedError``; the log-densities are differentiable
in every parameter.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> from pullback.scipy.stats import norm
    >>> x = np.array([0.5, 1.5, 2.5])
    >>> nll = lambda mu: -pnp.sum(norm.logpdf(x, mu, 1.0))
    >>> float(pb.grad(nll)(0.0))  # -(sum(x) - 3 mu)
    -4.5
"""

from pullback.scipy.stats import (
    beta,
    binom,
    cauchy,
    chi2,
    dirichlet,
    expon,
    gamma,
    laplace,
    logistic,
    multivariate_normal,
    nbinom,
    norm,
    poisson,
    t,
)

__all__ = [
    "beta", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma", "laplace", "logistic",
    "multivariate_normal", "nbinom", "norm", "poisson", "t",
]
