"""``scipy.special``, differentiable in reverse and forward mode to any order.

Implemented here with NumPy and the ``math`` module (SciPy is not a dependency): ``erf``,
``erfc`` and ``gammaln`` evaluate ``math.erf``/``math.erfc``/``math.lgamma`` per element
(correctly rounded to within an ulp or two); ``digamma`` and ``polygamma`` shift the
argument upwards with the recurrence and finish with the asymptotic series, with the
reflection formula for negative arguments of ``digamma``. Values keep the input's float
dtype (float32 stays float32), integers become float64, as in SciPy.

Derivatives: ``erf' = 2/sqrt(pi) exp(-x**2)``, ``gammaln' = digamma``,
``digamma' = polygamma(1, .)``, ``polygamma(n, .)' = polygamma(n + 1, .)``,
``expit' = expit (1 - expit)``, ``logit'(p) = 1 / (p (1 - p))``; ``softmax``, ``log_softmax``
and ``logsumexp`` are compositions of differentiable functions.

Complex input: ``xlogy``, ``softmax``, ``log_softmax`` and ``logsumexp`` accept it, as SciPy
does, and differentiate it with JAX's convention (a cotangent pairs with a tangent as
``Re(sum(g * t))``: ``grad`` of a real function is the conjugate of its steepest-ascent
direction). ``expit``, ``logit``, ``gammaln`` and ``polygamma`` refuse it, as SciPy does;
``erf``, ``erfc`` and ``digamma``, which SciPy evaluates for complex arguments, refuse it too
(these implementations are real): each raises ``TypeError`` naming the function rather than
drop the imaginary part.

Poles and infinities follow SciPy: ``gammaln`` is ``inf`` at 0, -1, -2, ...; ``digamma`` is
``-inf``/``inf`` at ``+0``/``-0`` and NaN at the negative integers and ``-inf``;
``polygamma(n, .)`` is ``(-1)**(n + 1) * inf`` at the poles (every float below ``-2**52`` and
``-inf`` included); negative arguments use the reflection formula, so that no argument makes
the recurrence run for long.

Calling SciPy's own functions on traced values is not supported: call these instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core.rules import defbatch, defelementwise
from pullback.core.trace import Tracer
from pullback.numpy import reductions
from pullback.numpy._nondiff import logical_and
from pullback.numpy._registry import batch_elementwise, new_primitive, promote
from pullback.numpy.elementwise import equal, exp, log, negative, where
from pullback.numpy.reductions import logsumexp
from pullback.numpy.shape import broadcast_to

__all__ = [
    "digamma", "erf", "erfc", "expit", "gammaln", "log_softmax", "logit", "logsumexp",
    "polygamma", "psi", "softmax", "xlogy",
]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _float_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def _real_only(name: str, x: Any) -> None:
    """Raise ``TypeError`` for complex ``x`` (traced or not): these implementations are real,
    and a cast would drop the imaginary part without a word."""
    dtype = x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.asarray(x).dtype
    if dtype.kind == "c":
        raise TypeError(
            f"pullback.scipy.special.{name}: complex input (dtype {dtype}) is not supported: "
            "this implementation is real-valued and will not drop the imaginary part; pass "
            "real values (their real and imaginary parts separately, if that is what you mean)"
        )


def _result(out: np.ndarray, dtype: np.dtype) -> Any:
    out = np.asarray(out, dtype=dtype)
    return out[()] if out.ndim == 0 else out


def _per_element(scalar: Callable[[float], float]) -> Callable[[Any], Any]:
    """A NumPy implementation evaluating ``scalar`` (float64) on each element."""
    vectorised = np.frompyfunc(scalar, 1, 1)

    def impl(x: Any) -> Any:
        arr = np.asarray(x)
        return _result(vectorised(arr.astype(np.float64)), _float_dtype(arr))

    return impl


def _lgamma(x: float) -> float:
    try:
        return math.lgamma(x)
    except ValueError:  # a pole: 0, -1, -2, ...
        return math.inf


# ----------------------------------------------------------------------------- digamma

# Bernoulli numbers B_2, B_4, ..., B_30
_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730, 8553103 / 6,
              -23749461029 / 870, 8615841276005 / 14322]


def _cot_pi(x: np.ndarray) -> np.ndarray:
    """cot(pi x), with the argument reduced to [-1/2, 1/2] first (cot has period 1)."""
    r = x - np.round(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.cos(np.pi * r) / np.sin(np.pi * r)


def _digamma_impl(x: Any) -> Any:
    arr = np.asarray(x)
    z = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reflect = z < 0.5
        w = np.where(reflect, 1.0 - z, z)
        acc = np.zeros_like(w)
        low = w < 10.0
        while np.any(low):  # psi(w) = psi(w + 1) - 1/w
            acc = acc - np.where(low, 1.0 / np.where(low, w, 1.0), 0.0)
            w = np.where(low, w + 1.0, w)
            low = w < 10.0
        inv2 = 1.0 / (w * w)
        series = np.zeros_like(w)
        for k in range(len(_BERNOULLI[:8]) - 1, -1, -1):
            series = series * inv2 + _BERNOULLI[k] / (2 * (k + 1))
        out = np.log(w) - 0.5 / w - series * inv2 + acc
        # reflection: psi(z) = psi(1 - z) - pi cot(pi z)
        out = np.where(reflect, out - np.pi * _cot_pi(z), out)
        pole = (z <= 0) & (z == np.round(z))
        out = np.where(pole, np.where(z == 0, np.where(np.signbit(z), np.inf, -np.inf),
                                      np.nan), out)
    return _result(out, _float_dtype(arr))


def _cot_derivative(n: int) -> list[float]:
    """Coefficients (constant first) of the polynomial ``P_n`` with
    ``d^n/dz^n cot(pi z) = pi**n P_n(cot(pi z))``: ``P_0(c) = c``,
    ``P_(k+1)(c) = -(1 + c**2) P_k'(c)``."""
    coef = [0.0, 1.0]
    for _ in range(n):
        d = [i * c for i, c in enumerate(coef)][1:]  # P_k'
        out = [0.0] * (len(d) + 2)
        for i, c in enumerate(d):
            out[i] -= c
            out[i + 2] -= c
        coef = out
    return coef


# below this, polygamma uses the reflection formula instead of the upward recurrence
_REFLECT_BELOW = -10.0


def _polygamma_impl(x: Any, n: int) -> Any:
    """psi^(n)(x) = (-1)**(n+1) n! zeta(n + 1, x) for n >= 1, by the Hurwitz zeta function;
    for x < -10 by the reflection formula
    psi^(n)(x) = (-1)**n psi^(n)(1 - x) - pi d^n/dx^n cot(pi x)."""
    if n == 0:
        return _digamma_impl(x)
    arr = np.asarray(x)
    z = arr.astype(np.float64)
    reflect = z < _REFLECT_BELOW
    if np.any(reflect):
        z = np.where(reflect, 1.0 - z, z)
    s = n + 1
    start = 15.0 + s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        acc = np.zeros_like(z)
        low = z < start
        w = z
        while np.any(low):  # zeta(s, w) = w**-s + zeta(s, w + 1)
            acc = acc + np.where(low, np.where(low, w, 1.0) ** -s, 0.0)
            w = np.where(low, w + 1.0, w)
            low = w < start
        # Euler-Maclaurin: w**(1-s)/(s-1) + w**-s/2 + sum_k B_2k/(2k)! (s)_(2k-1) w**(-s-2k+1)
        tail = np.zeros_like(w)
        rising = float(s)  # (s)_(2k-1)
        power = w ** (-s - 1)
        inv2 = 1.0 / (w * w)
        for k, b in enumerate(_BERNOULLI, start=1):
            tail = tail + b / math.factorial(2 * k) * rising * power
            rising *= (s + 2 * k - 1) * (s + 2 * k)
            power = power * inv2
        zeta = acc + w ** (1 - s) / (s - 1) + 0.5 * w ** -s + tail
        out = (-1) ** (n + 1) * math.factorial(n) * zeta
        x64 = arr.astype(np.float64)
        if np.any(reflect):
            c = _cot_pi(x64)
            cot_n = np.zeros_like(c)
            for coef in reversed(_cot_derivative(n)):
                cot_n = cot_n * c + coef
            out = np.where(reflect, (-1) ** n * out - np.pi ** (n + 1) * cot_n, out)
        pole = (x64 <= 0) & (x64 == np.round(x64))  # -inf and every float below -2**52 too
        out = np.where(pole, (-1) ** (n + 1) * np.inf, out)
    return _result(out, _float_dtype(arr))


# ----------------------------------------------------------------------------- expit, logit


def _expit_impl(x: Any) -> Any:
    arr = np.asarray(x)
    z = arr.astype(np.float64)  # float32 too is computed in float64 and rounded once
    e = np.exp(-np.abs(z))  # never overflows
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _result(out, _float_dtype(arr))


def _logit_impl(p: Any) -> Any:
    arr = np.asarray(p)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_half = np.abs(q - 0.5) < 0.25
        # near 1/2, log1p of (2p - 1) / (1 - p) (both exact there) avoids cancellation
        out = np.where(near_half, np.log1p((2.0 * q - 1.0) / (1.0 - q)), np.log(q / (1.0 - q)))
    return _result(out, _float_dtype(arr))


def _xlogy_impl(x: Any, y: Any) -> Any:
    # SciPy's result dtype: Python numbers are weak (xlogy(2.0, float32) is float32)
    dtype = np.result_type(x, y)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    x, y = np.asarray(x), np.asarray(y)
    wide = np.result_type(dtype, np.float64)  # computed in double (complex) precision
    xw, yw = x.astype(wide), y.astype(wide)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((xw == 0) & ~np.isnan(yw), 0.0, xw * np.log(yw))
    return _result(out, dtype)


# ----------------------------------------------------------------------------- primitives


def _unary(name: str, impl: Callable[..., Any], derivative: Callable[..., Any],
           doc: str) -> Callable[[Any], Any]:
    prim = new_primitive(f"special.{name}", impl)
    defelementwise(prim, derivative)
    defbatch(prim, batch_elementwise(prim))

    def wrapper(x: Any) -> Any:
        _real_only(name, x)
        if not isinstance(x, Tracer):
            return impl(x)
        return prim.bind(x)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = doc
    wrapper.__module__ = __name__
    return wrapper


# fmt: off
erf = _unary("erf", _per_element(math.erf),
             lambda ans, x: _TWO_OVER_SQRT_PI * exp(negative(x * x)), """\
The error function ``2/sqrt(pi) * integral(exp(-t**2), t=0..x)``; ``scipy.special.erf``.

Example:
    >>> from pullback.scipy import special
    >>> float(special.erf(0.5))
    0.5204998778130465
""")
erfc = _unary("erfc", _per_element(math.erfc),
              lambda ans, x: -_TWO_OVER_SQRT_PI * exp(negative(x * x)), """\
The complementary error function ``1 - erf(x)``, accurate for large x; ``scipy.special.erfc``.

Example:
    >>> from pullback.scipy import special
    >>> float(special.erfc(10.0))
    2.088487583762545e-45
""")
gammaln = _unary("gammaln", _per_element(_lgamma), lambda ans, x: digamma(x), """\
``log|Gamma(x)|`` (``inf`` at the poles 0, -1, -2, ...); ``scipy.special.gammaln``.

Example:
    >>> from pullback.scipy import special
    >>> round(float(special.gammaln(5.0)), 12)  # log(4!)
    3.178053830348
""")
digamma = _unary("digamma", _digamma_impl, lambda ans, x: polygamma(1, x), """\
The digamma function ``psi = d/dx log Gamma``; ``scipy.special.digamma`` (also ``psi``).

Example:
    >>> from pullback.scipy import special
    >>> round(float(special.digamma(1.0)), 12)  # minus the Euler-Mascheroni constant
    -0.577215664902
""")
psi = digamma
expit = _unary("expit", _expit_impl, lambda ans, x: ans * (1.0 - ans), """\
The logistic sigmoid ``1 / (1 + exp(-x))``, without overflow; ``scipy.special.expit``.

Example:
    >>> from pullback.scipy import special
    >>> float(special.expit(-1000.0)), float(special.expit(0.0))
    (0.0, 0.5)
""")
logit = _unary("logit", _logit_impl, lambda ans, p: 1.0 / (p * (1.0 - p)), """\
The inverse of ``expit``: ``log(p / (1 - p))``; ``scipy.special.logit``.

Example:
    >>> from pullback.scipy import special
    >>> float(special.logit(0.75))
    1.0986122886681098
""")
# fmt: on

polygamma_p = new_primitive("special.polygamma", _polygamma_impl)
defelementwise(polygamma_p, lambda ans, x, n: polygamma(n + 1, x))
defbatch(polygamma_p, batch_elementwise(polygamma_p))


def polygamma(n: int, x: Any) -> Any:
    """The ``n``-th derivative of ``digamma`` (``n`` a non-negative integer, not
    differentiated); ``scipy.special.polygamma``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.polygamma(1, 1.0)), 12)  # pi**2 / 6
        1.644934066848
    """
    if isinstance(n, Tracer) or np.ndim(n) != 0 or int(n) != n or n < 0:
        raise TypeError(
            f"pullback.scipy.special.polygamma: argument 0 (n) must be a non-negative integer, "
            f"got {n!r}; call it once per order for several orders"
        )
    n = int(n)
    if n == 0:
        return digamma(x)
    _real_only("polygamma", x)
    if not isinstance(x, Tracer):
        return _polygamma_impl(x, n)
    return polygamma_p.bind(x, n=n)


def _xlogy_dy(ans: Any, x: Any, y: Any) -> Any:
    # x / y, which is 0 where x == 0 (also at y == 0, where the division would give NaN)
    return x / where(logical_and(equal(x, 0), equal(y, 0)), 1.0, y)


xlogy_p = new_primitive("special.xlogy", _xlogy_impl)
defelementwise(xlogy_p, lambda ans, x, y: _log(y), _xlogy_dy)
defbatch(xlogy_p, batch_elementwise(xlogy_p))


def _log(y: Any) -> Any:

    return log(y)


def xlogy(x: Any, y: Any) -> Any:
    """``x * log(y)``, taken as 0 where ``x == 0`` (so ``xlogy(0, 0) == 0``); differentiable in
    both arguments (the derivative in ``y``, ``x / y``, is 0 where ``x == 0``, also at
    ``y == 0``); ``scipy.special.xlogy``. Complex arguments are supported, as in SciPy
    (``log`` is the principal branch; the rules are those of a holomorphic function).

    Example:
        >>> from pullback.scipy import special
        >>> float(special.xlogy(0.0, 0.0)), float(special.xlogy(2.0, np.e))
        (0.0, 2.0)
    """
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        return _xlogy_impl(x, y)
    x, y = promote(x, y)
    if not isinstance(x, Tracer) or not isinstance(y, Tracer):
        # the constant one in the traced one's dtype (promote gave it the common dtype)
        like = x if isinstance(x, Tracer) else y
        x = x if isinstance(x, Tracer) else np.asarray(x, like.dtype)
        y = y if isinstance(y, Tracer) else np.asarray(y, like.dtype)
        shape = np.broadcast_shapes(np.shape(x), np.shape(y))
        x = broadcast_to(x, shape) if isinstance(x, Tracer) else x
        y = broadcast_to(y, shape) if isinstance(y, Tracer) else y
    return xlogy_p.bind(x, y)


# ----------------------------------------------------------------------------- softmax


def softmax(x: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """``exp(x) / sum(exp(x), axis)``, computed stably; ``scipy.special.softmax`` (note SciPy's
    default ``axis=None``: over the whole array).

    Example:
        >>> from pullback.scipy import special
        >>> special.softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
    """
    return reductions.softmax(x, axis)


def log_softmax(x: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """``x - logsumexp(x, axis)``, computed stably; ``scipy.special.log_softmax``.

    Example:
        >>> from pullback.scipy import special
        >>> special.log_softmax(np.array([1000.0, 1000.0]))
        array([-0.69314718, -0.69314718])
    """
    return reductions.log_softmax(x, axis)
