"""``scipy.stats.dirichlet``: the Dirichlet distribution on the simplex, differentiable in
``x`` and ``alpha`` (reverse and forward mode, any order).

As in SciPy, ``x`` holds the ``K`` components along its first axis (shape ``(K,)`` or
``(K, N)`` for ``N`` points), or ``K - 1`` of them (the last is then ``1 - sum``); ``alpha``
has shape ``(K,)``, ``K >= 1`` (with ``K = 1`` the distribution is the point mass at
``x = 1``: ``logpdf`` 0 there, ``mean`` 1, ``var`` 0). Results drop axes of length 1 as
SciPy's (``mean`` and ``var`` of one entry are 0-d). A plain ``x`` is checked as SciPy checks
it (entries in ``[0, 1]``, each point summing to 1, no 0 where alpha < 1); a traced one is not
(its values may be unknown, under ``jit``).

Example:
    >>> import numpy as np
    >>> from pullback.scipy.stats import dirichlet
    >>> round(float(dirichlet.logpdf(np.array([0.2, 0.3, 0.5]), np.array([1.0, 2.0, 3.0]))), 10)
    1.5040773968
"""

from __future__ import annotations

from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core.trace import Tracer, shape_of
from pullback.scipy import special
from pullback.scipy.stats._common import real_only

__all__ = ["entropy", "logpdf", "mean", "pdf", "var"]


def _alpha(alpha: Any) -> Any:
    if not isinstance(alpha, Tracer):
        alpha = np.asarray(alpha)
        alpha = alpha if alpha.dtype.kind == "f" else alpha.astype(np.float64)
        if alpha.ndim != 1 or alpha.size < 1:
            raise ValueError(
                "pullback.scipy.stats.dirichlet: parameter vector 'alpha' must be "
                f"one-dimensional with at least 1 entry, got shape {alpha.shape}"
            )
        if np.any(alpha <= 0):
            raise ValueError("pullback.scipy.stats.dirichlet: all parameters 'alpha' must be > 0")
    elif len(shape_of(alpha)) != 1 or not shape_of(alpha)[0]:
        raise ValueError(
            "pullback.scipy.stats.dirichlet: parameter vector 'alpha' must be one-dimensional "
            f"with at least 1 entry, got shape {shape_of(alpha)}"
        )
    return alpha


def _x(x: Any, k: int, alpha: Any) -> Any:
    """``x`` with all ``K`` components along its first axis, checked when it is plain."""
    if not isinstance(x, Tracer):
        x = np.asarray(x)
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
    shape = shape_of(x)
    if not shape or shape[0] not in (k, k - 1):
        raise ValueError(
            "pullback.scipy.stats.dirichlet: vector 'x' must have either the same number of "
            f"entries as, or one entry fewer than, parameter vector 'alpha' ({k}) along its "
            f"first axis, got shape {shape}"
        )
    if shape[0] == k - 1:
        last = 1.0 - pnp.sum(x, axis=0, keepdims=True)
        x = pnp.concatenate([x, last], axis=0)
    if 0 in shape_of(x):
        raise ValueError("pullback.scipy.stats.dirichlet: 'x' holds no point (shape "
                         f"{shape}), as SciPy refuses it")
    if not isinstance(x, Tracer):
        if np.any(x < 0) or np.any(x > 1):
            raise ValueError("pullback.scipy.stats.dirichlet: each entry in 'x' must be in "
                             "[0, 1]")
        if not isinstance(alpha, Tracer):
            low = (alpha < 1).reshape((k,) + (1,) * (x.ndim - 1))
            if np.any((x == 0) & low):
                raise ValueError("pullback.scipy.stats.dirichlet: each entry in 'x' must be "
                                 "greater than zero if its alpha is less than one")
        if np.any(np.abs(np.sum(x, axis=0) - 1.0) > 1e-9):
            raise ValueError("pullback.scipy.stats.dirichlet: the entries of each point in "
                             "'x' must sum to 1")
    return x


def _log_beta(alpha: Any) -> Any:
    return pnp.sum(special.gammaln(alpha)) - special.gammaln(pnp.sum(alpha))


def _squeeze(out: Any) -> Any:
    """SciPy's result shape: its axes of length 1 dropped (one point given as an array of
    shape (K, 1) is a scalar), a plain 0-d result as a NumPy scalar."""
    out = pnp.squeeze(out)
    if isinstance(out, Tracer):
        return out
    out = np.asarray(out)
    return out[()] if out.ndim == 0 else out


def logpdf(x: Any, alpha: Any) -> Any:
    """The log-density ``sum((alpha - 1) log x) - log B(alpha)``;
    ``scipy.stats.dirichlet.logpdf``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import dirichlet
        >>> round(float(dirichlet.logpdf(np.array([0.25, 0.75]), np.array([2.0, 2.0]))), 10)
        0.1177830357
    """
    real_only("pullback.scipy.stats.dirichlet.logpdf", x, alpha)
    alpha = _alpha(alpha)
    k = shape_of(alpha)[0]
    x = _x(x, k, alpha)
    a = alpha if len(shape_of(x)) == 1 else pnp.reshape(alpha, (k,) + (1,) * (len(shape_of(x)) - 1))
    return _squeeze(pnp.sum(special.xlogy(a - 1.0, x), axis=0) - _log_beta(alpha))


def pdf(x: Any, alpha: Any) -> Any:
    """The density; ``scipy.stats.dirichlet.pdf``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import dirichlet
        >>> round(float(dirichlet.pdf(np.array([0.25, 0.75]), np.array([2.0, 2.0]))), 10)
        1.125
    """
    real_only("pullback.scipy.stats.dirichlet.pdf", x, alpha)
    return _squeeze(pnp.exp(logpdf(x, alpha)))


def entropy(alpha: Any) -> Any:
    """The differential entropy
    ``log B(alpha) + (a0 - K) digamma(a0) - sum((alpha - 1) digamma(alpha))`` with
    ``a0 = sum(alpha)``; ``scipy.stats.dirichlet.entropy``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import dirichlet
        >>> round(float(dirichlet.entropy(np.array([1.0, 2.0, 3.0]))), 10)
        -1.2443445622
    """
    real_only("pullback.scipy.stats.dirichlet.entropy", alpha)
    alpha = _alpha(alpha)
    a0 = pnp.sum(alpha)
    k = shape_of(alpha)[0]
    if k == 1:  # a point mass: the formula's terms cancel to 0 for every alpha (exactly here)
        return _squeeze(0.0 * a0)
    return _squeeze(_log_beta(alpha) + (a0 - k) * special.digamma(a0)
                    - pnp.sum((alpha - 1.0) * special.digamma(alpha)))


def mean(alpha: Any) -> Any:
    """The mean ``alpha / sum(alpha)``; ``scipy.stats.dirichlet.mean``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import dirichlet
        >>> dirichlet.mean(np.array([1.0, 3.0]))
        array([0.25, 0.75])
    """
    real_only("pullback.scipy.stats.dirichlet.mean", alpha)
    alpha = _alpha(alpha)
    if shape_of(alpha)[0] == 1:  # 1 for every alpha (exactly, derivatives 0 to every order)
        return _squeeze(0.0 * alpha + 1.0)
    return _squeeze(alpha / pnp.sum(alpha))


def var(alpha: Any) -> Any:
    """The variances ``alpha (a0 - alpha) / (a0**2 (a0 + 1))``; ``scipy.stats.dirichlet.var``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import dirichlet
        >>> dirichlet.var(np.array([1.0, 3.0]))
        array([0.0375, 0.0375])
    """
    real_only("pullback.scipy.stats.dirichlet.var", alpha)
    alpha = _alpha(alpha)
    a0 = pnp.sum(alpha)
    return _squeeze(alpha * (a0 - alpha) / (a0 * a0 * (a0 + 1.0)))
