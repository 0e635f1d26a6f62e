"""``scipy.stats.multivariate_normal``: the multivariate normal distribution, differentiable in
``x``, ``mean`` and ``cov`` (reverse and forward mode, any order).

As in SciPy, ``x`` holds points along its last axis (shape ``(..., K)``; for ``K == 1`` a
1-d ``x`` is a list of points), ``mean`` has shape ``(K,)`` (``None``: zeros) and ``cov`` is
a ``(K, K)`` matrix, a vector (a diagonal) or a number (a multiple of the identity); results
are squeezed as SciPy's. ``cov`` must be positive definite: it goes through a Cholesky
factorisation, whose derivative reads the lower triangle only (SciPy reads the whole
matrix; for the symmetric matrices either accepts the values agree, and the derivative with
respect to a symmetric ``cov`` is that of the lower triangle). ``allow_singular=True`` is
not supported.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy.stats import multivariate_normal as mvn
    >>> cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> round(float(mvn.logpdf(np.array([0.3, -0.2]), np.zeros(2), cov)), 10)
    -2.1833992461
    >>> pb.grad(lambda m: mvn.logpdf(np.ones(2), m, cov))(np.zeros(2))  # cov^-1 (x - m)
    array([0.28571429, 0.85714286])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.trace import Tracer, shape_of
from pullback.scipy.stats._common import real_only

__all__ = ["entropy", "logpdf", "pdf"]

_LOG_2PI = math.log(2.0 * math.pi)


def _who(fn: str) -> str:
    return f"pullback.scipy.stats.multivariate_normal.{fn}"


def _as_float(v: Any) -> Any:
    if isinstance(v, Tracer):
        return v
    v = np.asarray(v)
    return v if v.dtype.kind in "fc" else v.astype(np.float64)


def _dimension(mean: Any, cov: Any, fn: str) -> int:
    if mean is not None:  # SciPy's: the number of entries of the mean
        return int(np.prod(shape_of(mean)))
    cs = shape_of(cov)
    return cs[0] if len(cs) >= 2 else 1  # SciPy's: without a mean, a matrix says K


def _parameters(mean: Any, cov: Any, allow_singular: bool, fn: str) -> tuple[Any, Any, int]:
    """``mean`` of shape ``(K,)`` and ``cov`` of shape ``(K, K)``, as SciPy reads them."""
    if allow_singular:
        raise NotImplementedError(
            f"{_who(fn)}: allow_singular=True (a pseudo-determinant) is not supported: pass "
            "a positive definite 'cov'"
        )
    cov = _as_float(cov)
    k = _dimension(mean, cov, fn)
    mean = np.zeros(k) if mean is None else _as_float(mean)
    if k == 1:  # SciPy's: one dimension, whatever the shapes of a one-entry mean and cov
        mean = pnp.reshape(mean, (1,))
        if int(np.prod(shape_of(cov))) != 1:
            raise ValueError(f"{_who(fn)}: array 'cov' of shape {shape_of(cov)} does not "
                             "match a mean of one entry: pass one variance")
        cov = pnp.reshape(cov, (1, 1))
    if len(shape_of(mean)) != 1:
        raise ValueError(f"{_who(fn)}: array 'mean' must be a vector of length {k}, got shape "
                         f"{shape_of(mean)}")
    cs = shape_of(cov)
    if len(cs) == 0:
        cov = cov * backends.constant(np.eye(k), cov)
    elif len(cs) == 1:
        if cs[0] != k:
            raise ValueError(f"{_who(fn)}: array 'cov' of shape {cs} does not match 'mean' "
                             f"of shape {(k,)}")
        cov = pnp.expand_dims(cov, -1) * backends.constant(np.eye(k), cov)
    elif cs != (k, k):
        raise ValueError(f"{_who(fn)}: array 'cov' must be ({k}, {k}) for 'mean' of shape "
                         f"{(k,)}, got shape {cs}")
    return mean, cov, k


def _points(x: Any, k: int) -> Any:
    x = _as_float(x)
    shape = shape_of(x)
    if len(shape) == 0:
        x = pnp.reshape(x, (1,))
    elif len(shape) == 1 and k == 1:
        x = pnp.expand_dims(x, -1)
    if shape_of(x)[-1] == 1 and k > 1:  # SciPy broadcasts x - mean: the point (x, ..., x)
        x = pnp.broadcast_to(x, (*shape_of(x)[:-1], k))
    if shape_of(x)[-1] != k:
        raise ValueError(f"{_who('logpdf')}: the last axis of 'x' must have {k} entries, got "
                         f"shape {shape}")
    return x


def _log_det_and_factor(cov: Any) -> tuple[Any, Any]:
    L = pnp.linalg.cholesky(cov)
    return 2.0 * pnp.sum(pnp.log(pnp.diagonal(L))), L


def _squeeze(out: Any) -> Any:
    out = pnp.squeeze(out)
    if not isinstance(out, Tracer) and np.ndim(out) == 0:
        return np.asarray(out)[()]
    return out


def logpdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """The log-density ``-(K log(2 pi) + log det cov + (x - mean)^T cov^-1 (x - mean)) / 2``;
    ``scipy.stats.multivariate_normal.logpdf``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import multivariate_normal as mvn
        >>> mean, cov = np.zeros(2), np.array([1.0, 4.0])  # a diagonal covariance
        >>> round(float(mvn.logpdf(np.array([1.0, 1.0]), mean, cov)), 10)
        -3.156024247
    """
    real_only("pullback.scipy.stats.multivariate_normal.logpdf", x, mean, cov)
    mean, cov, k = _parameters(mean, cov, allow_singular, "logpdf")
    x = _points(x, k)
    log_det, L = _log_det_and_factor(cov)
    d = x - mean
    flat = pnp.reshape(d, (-1, k))
    z = pnp.linalg.solve(L, pnp.transpose(flat))  # L z = d: the whitened points, (K, N)
    maha = pnp.reshape(pnp.sum(z * z, axis=0), shape_of(d)[:-1])
    return _squeeze(-0.5 * (k * _LOG_2PI + log_det + maha))


def pdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """The density; ``scipy.stats.multivariate_normal.pdf``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import multivariate_normal as mvn
        >>> round(float(mvn.pdf(np.zeros(2), np.zeros(2))), 10)  # 1 / (2 pi)
        0.1591549431
    """
    real_only("pullback.scipy.stats.multivariate_normal.pdf", x, mean, cov)
    return _squeeze(pnp.exp(logpdf(x, mean, cov, allow_singular)))


def entropy(mean: Any = None, cov: Any = 1) -> Any:
    """The differential entropy ``(K (1 + log(2 pi)) + log det cov) / 2``;
    ``scipy.stats.multivariate_normal.entropy``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy.stats import multivariate_normal as mvn
        >>> round(float(mvn.entropy(cov=np.array([[2.0, 0.5], [0.5, 1.0]]))), 10)
        3.1176849604
    """
    real_only("pullback.scipy.stats.multivariate_normal.entropy", mean, cov)
    mean, cov, k = _parameters(mean, cov, False, "entropy")
    log_det, _ = _log_det_and_factor(cov)
    return _squeeze(0.5 * (k * (1.0 + _LOG_2PI) + log_det))
