"""``scipy.special``, differentiable in reverse and forward mode to any order.

Implemented here with NumPy and the ``math`` module (SciPy is not a dependency), but for the
Bessel functions (``j0`` ... ``kve``), whose values come from SciPy, imported on their first
call (``import pullback`` neither needs nor loads SciPy): ``erf``,
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

SciPy's own ufuncs called on traced values (``scipy.special.gammaln(x)`` inside ``pb.grad``)
dispatch to the function of the same name here, through NumPy's ``__array_ufunc__`` protocol
(so does ``scipy.special.zeta``, through the private ufuncs it calls); one that has no
version here raises ``NotImplementedError`` naming it as SciPy's. SciPy's Python functions
that are not ufuncs (``softmax``, ``polygamma``, ``multigammaln``, ...) convert their
arguments to NumPy arrays first: call these instead.

Derivatives with respect to an order or shape parameter that have no closed form (a Bessel
function's order, ``yn``'s integer ``n``, ``zeta``'s ``x``, the shape parameters of the
incomplete gamma and beta functions) raise ``NotImplementedError`` naming the function and
the argument: hold it constant. All the functions added with the Bessel functions refuse
complex input with ``TypeError`` (but ``sinc``, which is ``pullback.numpy.sinc``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core.rules import defbatch, defelementwise
from pullback.core.trace import Tracer, dtype_of
from pullback.numpy import reductions
from pullback.numpy._backends import blockwise, foreign
from pullback.numpy._nondiff import logical_and
from pullback.numpy._registry import SCIPY_UFUNCS, batch_elementwise, new_primitive, promote
from pullback.numpy._util import as_array
from pullback.numpy.elementwise import (
    cbrt,
    cos,
    equal,
    exp,
    exp2,
    expm1,
    less,
    log,
    negative,
    sign,
    sin,
    where,
)
from pullback.numpy.elementwise import sinc as _pnp_sinc
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
    dtype = x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) or foreign(x) \
        else np.asarray(x).dtype
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

    return blockwise(impl)


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


@blockwise  # Dask arrays: block by block
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


@blockwise  # Dask arrays: block by block
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


@blockwise  # Dask arrays: block by block
def _expit_impl(x: Any) -> Any:
    arr = np.asarray(x)
    z = arr.astype(np.float64)  # float32 too is computed in float64 and rounded once
    e = np.exp(-np.abs(z))  # never overflows
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _result(out, _float_dtype(arr))


@blockwise  # Dask arrays: block by block
def _logit_impl(p: Any) -> Any:
    arr = np.asarray(p)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_half = np.abs(q - 0.5) < 0.25
        # near 1/2, log1p of (2p - 1) / (1 - p) (both exact there) avoids cancellation
        out = np.where(near_half, np.log1p((2.0 * q - 1.0) / (1.0 - q)), np.log(q / (1.0 - q)))
    return _result(out, _float_dtype(arr))


@blockwise  # Dask arrays: block by block
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
# expit' = expit(x) expit(-x): no cancellation in 1 - expit(x) where expit(x) is close to 1
expit = _unary("expit", _expit_impl, lambda ans, x: ans * expit(negative(x)), """\
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
    x, y = _as_scipy("xlogy", (x, y))
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        return _xlogy_impl(x, y)
    x, y = promote(x, y)
    if not isinstance(x, Tracer) or not isinstance(y, Tracer):
        # the constant one in the traced one's dtype (promote gave it the common dtype)
        like = x if isinstance(x, Tracer) else y
        x = x if isinstance(x, Tracer) else as_array(x, like.dtype)
        y = y if isinstance(y, Tracer) else as_array(y, like.dtype)
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


# =============================================================================================
# Added for pullback.scipy.stats (issue 10): the normal distribution's functions, the
# incomplete gamma and beta functions, betaln, xlog1py, log_expit. Implemented with NumPy and
# ``math`` (no SciPy). Derivatives with respect to the shape parameters of the incomplete
# functions have no closed form: asking for one raises NotImplementedError, naming the function.
# =============================================================================================

from pullback.numpy._util import result_dtype  # noqa: E402
from pullback.numpy.elementwise import log1p, logaddexp  # noqa: E402

__all__ += [
    "betainc", "betaln", "gammainc", "gammaincc", "log_expit", "log_ndtr", "ndtr", "ndtri",
    "xlog1py",
]

_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_erfc_impl = _per_element(math.erfc)
_erf_impl = _per_element(math.erf)


@blockwise  # Dask arrays: block by block
def _ndtr_impl(x: Any) -> Any:
    arr = np.asarray(x)
    z = arr.astype(np.float64) * _SQRT_HALF
    # near 0, 1/2 + erf/2 (no cancellation); in the tails erfc of |z|, exact in relative terms
    out = np.where(np.abs(z) < _SQRT_HALF, 0.5 + 0.5 * _erf_impl(z),
                   np.where(z > 0, 1.0 - 0.5 * _erfc_impl(z), 0.5 * _erfc_impl(-z)))
    return _result(out, _float_dtype(arr))


@blockwise  # Dask arrays: block by block
def _log_ndtr_impl(x: Any) -> Any:
    arr = np.asarray(x)
    z = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upper = np.log1p(-0.5 * _erfc_impl(z * _SQRT_HALF))  # z > -1: Phi(z) = 1 - Phi(-z)
        middle = np.log(0.5 * _erfc_impl(-z * _SQRT_HALF))
        # z < -20: log Phi(z) = -z^2/2 - log(-z) - log sqrt(2 pi) + log(1 - 1/z^2 + 3/z^4 ...)
        w = np.where(z < -20.0, z, -20.0)
        inv2 = 1.0 / (w * w)
        series, term = np.ones_like(w), np.ones_like(w)
        for k in range(1, 12):
            term = -term * (2 * k - 1) * inv2
            series = series + term
        tail = -0.5 * w * w - np.log(-w) - _LOG_SQRT_2PI + np.log(series)
        out = np.where(z > -1.0, upper, np.where(z >= -20.0, middle, tail))
        out = np.where(np.isnan(z), np.nan, np.where(z == -np.inf, -np.inf, out))
    return _result(out, _float_dtype(arr))


# Acklam's rational approximation of the normal quantile (relative error 1.2e-9), refined by
# Halley's method on ndtr
_NDTRI_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
            1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_NDTRI_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
            6.680131188771972e01, -1.328068155288572e01)
_NDTRI_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
            -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_NDTRI_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
            3.754408661907416e00)


def _poly(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for c in coeffs:
        out = out * x + c
    return out


@blockwise  # Dask arrays: block by block
def _ndtri_impl(p: Any) -> Any:
    arr = np.asarray(p)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lower = np.minimum(q, 1.0 - q)  # exact for q in [1/2, 1]: the lower tail's probability
        low = np.clip(lower, 1e-300, 0.5)
        r = np.sqrt(-2.0 * np.log(low))
        tail = _poly(_NDTRI_C, r) / (_poly(_NDTRI_D, r) * r + 1.0)
        t = low - 0.5
        s = t * t
        central = _poly(_NDTRI_A, s) * t / (_poly(_NDTRI_B, s) * s + 1.0)
        x = np.where(low < 0.02425, tail, central)  # x <= 0
        for _ in range(2):  # Halley's steps on Phi(x) - low, with Phi(x) = erfc(-x/sqrt2)/2
            e = 0.5 * _erfc_impl(-x * _SQRT_HALF) - low
            u = e * np.exp(0.5 * x * x + _LOG_SQRT_2PI)
            x = x - u / (1.0 + 0.5 * x * u)
        out = np.where(q > 0.5, -x, x)
        out = np.where(q == 0.0, -np.inf, np.where(q == 1.0, np.inf, out))
        out = np.where((q < 0) | (q > 1) | np.isnan(q), np.nan, out)
        out = np.where(q == 0.5, 0.0, out)
    return _result(out, _float_dtype(arr))


@blockwise  # Dask arrays: block by block
def _xlog1py_impl(x: Any, y: Any) -> Any:
    x, y = np.asarray(x), np.asarray(y)
    dtype = np.result_type(_float_dtype(x), _float_dtype(y))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((x64 == 0) & ~np.isnan(y64), 0.0, x64 * np.log1p(y64))
    return _result(out, dtype)


_NARROW = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.complex64))


def _as_scipy(name: str, args: tuple) -> tuple:
    """``args``, their Python numbers made NumPy scalars where SciPy's ufunc ``name`` widens
    the result for them. SciPy's ufuncs take the first of their loops that accepts the
    arguments, so a Python number with a float32 array gives float64 where a float64 loop
    comes first (``gammainc(1.7, x32)``, ``xlogy``, ``beta``, ``yn(2, x32)``) and float32
    where a float32 one does (``betainc(2.5, 1.5, x32)``, ``jv``); NumPy's scalars are not
    weak, so the promotion that follows gives SciPy's dtype."""
    if not any(type(a) in (int, float) for a in args) or not any(
            getattr(a, "dtype", None) in _NARROW for a in args):
        return args  # no Python number, or nothing narrower than float64 it could widen
    try:
        ufunc = getattr(importlib.import_module("scipy.special"), name)
        found = tuple(type(a) if type(a) in (int, float) else dtype_of(a) for a in args)
        wide = ufunc.resolve_dtypes(found + (None,) * ufunc.nout)[-1]
    except (ImportError, AttributeError, TypeError, ValueError):
        return args  # without SciPy (or for an argument it would refuse): NumPy's rule
    if wide == result_dtype(*args):
        return args
    return tuple(np.asarray(a) if type(a) in (int, float) else a for a in args)


def _plain_all(*args: Any) -> tuple:
    """Untraced arguments as arrays of NumPy's result dtype, Python numbers weak (as SciPy's
    ufuncs see them: ``betainc(2.5, 1.5, x)`` of a float32 ``x`` is float32)."""
    dtype = result_dtype(*args)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return tuple(as_array(v, dtype) for v in args)


def _promote_all(*args: Any) -> tuple:
    """``promote``, and the untraced arguments as arrays of the same dtype (a Python or NumPy
    float64 shape parameter must not make the rules of a float32 ``x`` float64)."""
    out = promote(*args)
    dtype = next(v.dtype for v in out if isinstance(v, Tracer))
    return tuple(v if isinstance(v, Tracer) else as_array(v, dtype) for v in out)


_lgamma_impl = _per_element(_lgamma)
_EPS = np.finfo(np.float64).eps
_TINY = 1e-300
_MAX_ITERATIONS = 2000


def _gammainc_both(a: Any, x: Any) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """The regularised incomplete gamma functions ``(P(a, x), Q(a, x))``: the power series for
    ``P`` where ``x < a + 1``, Lentz's continued fraction for ``Q`` elsewhere, the other one
    as the complement (which is then not small, so without cancellation)."""
    a, x = np.asarray(a), np.asarray(x)
    dtype = np.result_type(_float_dtype(a), _float_dtype(x))
    a64, x64 = np.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ok = (a64 > 0) & (x64 > 0) & np.isfinite(x64)
        aa, xx = np.where(ok, a64, 1.0), np.where(ok, x64, 1.0)
        front = np.exp(aa * np.log(xx) - xx - _lgamma_impl(aa))  # x^a e^-x / Gamma(a)
        series = xx < aa + 1.0
        # P by the series: sum_n x^n / (a (a+1) ... (a+n))
        term = 1.0 / aa
        total = term.copy()
        ap = aa.copy()
        todo = series.copy()
        for _ in range(_MAX_ITERATIONS):
            if not todo.any():
                break
            ap = ap + 1.0
            term = np.where(todo, term * xx / ap, 0.0)
            total = total + term
            todo = todo & (np.abs(term) > np.abs(total) * _EPS)
        p_series = total * front
        # Q by the continued fraction (modified Lentz)
        b = xx + 1.0 - aa
        c = np.full_like(b, 1.0 / _TINY)
        d = 1.0 / np.where(np.abs(b) < _TINY, _TINY, b)
        h = d.copy()
        todo = ~series
        for i in range(1, _MAX_ITERATIONS):
            if not todo.any():
                break
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = b + an / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = np.where(todo, d * c, 1.0)
            h = h * delta
            todo = todo & (np.abs(delta - 1.0) > _EPS)
        q_fraction = h * front
        p = np.where(series, p_series, 1.0 - q_fraction)
        q = np.where(series, 1.0 - p_series, q_fraction)
        # edges: x == 0, x == inf, invalid arguments
        p = np.where(x64 == 0, 0.0, np.where(x64 == np.inf, 1.0, p))
        q = np.where(x64 == 0, 1.0, np.where(x64 == np.inf, 0.0, q))
        limit = (a64 == 0) & (x64 > 0)  # SciPy's limit a -> 0: P = 1
        p, q = np.where(limit, 1.0, p), np.where(limit, 0.0, q)
        bad = ~(a64 >= 0) | ~(x64 >= 0) | ((a64 == 0) & (x64 == 0))
        p, q = np.where(bad, np.nan, p), np.where(bad, np.nan, q)
    return p, q, dtype


@blockwise  # Dask arrays: block by block
def _gammainc_impl(a: Any, x: Any) -> Any:
    p, _, dtype = _gammainc_both(a, x)
    return _result(p, dtype)


@blockwise  # Dask arrays: block by block
def _gammaincc_impl(a: Any, x: Any) -> Any:
    _, q, dtype = _gammainc_both(a, x)
    return _result(q, dtype)


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """The continued fraction of the incomplete beta function (modified Lentz), where ``todo``."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    for m in range(1, _MAX_ITERATIONS):
        if not todo.any():
            break
        m2 = 2 * m
        for coef in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                     -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + coef * d
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + coef / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = np.where(todo, d * c, 1.0)
            h = h * delta
        todo = todo & (np.abs(delta - 1.0) > _EPS)
    return h


@blockwise  # Dask arrays: block by block
def _betainc_impl(a: Any, b: Any, x: Any) -> Any:
    a, b, x = np.asarray(a), np.asarray(b), np.asarray(x)
    dtype = np.result_type(_float_dtype(a), _float_dtype(b), _float_dtype(x))
    a64, b64, x64 = np.broadcast_arrays(*(v.astype(np.float64) for v in (a, b, x)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ok = (a64 > 0) & (b64 > 0) & (x64 > 0) & (x64 < 1)
        aa, bb = np.where(ok, a64, 1.0), np.where(ok, b64, 1.0)
        xx = np.where(ok, x64, 0.5)
        # x^a (1-x)^b / B(a, b)
        front = np.exp(_lgamma_impl(aa + bb) - _lgamma_impl(aa) - _lgamma_impl(bb)
                       + aa * np.log(xx) + bb * np.log1p(-xx))
        direct = xx < (aa + 1.0) / (aa + bb + 2.0)
        cf_direct = _betacf(aa, bb, xx, ok & direct)
        cf_swapped = _betacf(bb, aa, 1.0 - xx, ok & ~direct)
        out = np.where(direct, front * cf_direct / aa, 1.0 - front * cf_swapped / bb)
        out = np.where(x64 == 0, 0.0, np.where(x64 == 1, 1.0, out))
        bad = ~(a64 > 0) | ~(b64 > 0) | ~(x64 >= 0) | ~(x64 <= 1)
        out = np.where(bad, np.nan, out)
    return _result(out, dtype)


def _no_closed_form(name: str, argument: str, uses: str) -> Callable[..., Any]:
    def rule(*_: Any, **__: Any) -> Any:
        raise NotImplementedError(
            f"pullback.scipy.special.{name}: the derivative with respect to {argument} has no "
            f"closed form and is not implemented (only the one with respect to x is). It is "
            f"needed here because {argument} depends on what is differentiated{uses}: hold it "
            "constant (a plain number, or pb.stop_gradient), or differentiate with respect to "
            "the other arguments only"
        )

    return rule


_SHAPE_USES = (" (the cdf, sf and their logarithms of stats.gamma, chi2, poisson, beta, t, "
               "binom and nbinom call it with the distribution's shape parameter there)")

ndtr = _unary("ndtr", _ndtr_impl,
              lambda ans, x: exp(-0.5 * x * x - _LOG_SQRT_2PI), """\
The standard normal distribution function ``(1 + erf(x / sqrt(2))) / 2``;
``scipy.special.ndtr``. Derivative: the normal density.

Example:
    >>> from pullback.scipy import special
    >>> float(special.ndtr(0.0)), round(float(special.ndtr(-10.0)) / 7.6198530241605e-24, 12)
    (0.5, 1.0)
""")
log_ndtr = _unary("log_ndtr", _log_ndtr_impl,
                  lambda ans, x: exp(-0.5 * x * x - _LOG_SQRT_2PI - ans), """\
``log(ndtr(x))``, accurate in both tails (an asymptotic series below -20);
``scipy.special.log_ndtr``. Derivative: ``pdf / cdf``, computed as ``exp(log pdf - ans)``.

Example:
    >>> from pullback.scipy import special
    >>> round(float(special.log_ndtr(-40.0)), 6), float(special.log_ndtr(10.0)) / -7.6198530e-24
    (-804.608442, 1.0...)
""")
ndtri = _unary("ndtri", _ndtri_impl,
               lambda ans, p: exp(0.5 * ans * ans + _LOG_SQRT_2PI), """\
The inverse of ``ndtr``: the standard normal quantile; ``scipy.special.ndtri``.

Example:
    >>> from pullback.scipy import special
    >>> round(float(special.ndtri(0.975)), 12)
    1.95996398454
""")


def log_expit(x: Any) -> Any:
    """``log(expit(x)) = -log(1 + exp(-x))``, without overflow; ``scipy.special.log_expit``.

    Example:
        >>> from pullback.scipy import special
        >>> float(special.log_expit(-1000.0)), round(float(special.log_expit(0.0)), 12)
        (-1000.0, -0.69314718056)
    """
    _real_only("log_expit", x)
    return negative(logaddexp(0.0, negative(x)))


def betaln(a: Any, b: Any) -> Any:
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``; ``scipy.special.betaln``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.betaln(2.0, 3.0)), 12)  # log(1/12)
        -2.484906649788
    """
    _real_only("betaln", a)
    _real_only("betaln", b)
    # one float dtype, Python numbers weak (a float64 gammaln(1.0) would widen float32)
    a, b = _as_scipy("betaln", (a, b))
    traced = isinstance(a, Tracer) or isinstance(b, Tracer)
    a, b = _promote_all(a, b) if traced else _plain_all(a, b)
    return gammaln(a) + gammaln(b) - gammaln(a + b)


xlog1py_p = new_primitive("special.xlog1py", _xlog1py_impl)
defelementwise(xlog1py_p, lambda ans, x, y: log1p(y),
               lambda ans, x, y: x / where(logical_and(equal(x, 0), equal(y, -1)), 1.0, 1.0 + y))
defbatch(xlog1py_p, batch_elementwise(xlog1py_p))


def xlog1py(x: Any, y: Any) -> Any:
    """``x * log1p(y)``, taken as 0 where ``x == 0``; differentiable in both arguments;
    ``scipy.special.xlog1py``.

    Example:
        >>> from pullback.scipy import special
        >>> float(special.xlog1py(0.0, -1.0)), float(special.xlog1py(2.0, np.e - 1.0))
        (0.0, 2.0)
    """
    _real_only("xlog1py", x)
    _real_only("xlog1py", y)
    x, y = _as_scipy("xlog1py", (x, y))
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        return _xlog1py_impl(*_plain_all(x, y))
    return xlog1py_p.bind(*_promote_all(x, y))


def _gamma_density(a: Any, x: Any) -> Any:
    """``x**(a-1) exp(-x) / Gamma(a)``: the derivative of ``gammainc`` with respect to x."""
    return exp(xlogy(a - 1.0, x) - x - gammaln(a))


gammainc_p = new_primitive("special.gammainc", _gammainc_impl)
defelementwise(gammainc_p, _no_closed_form("gammainc", "a (argument 0)", _SHAPE_USES),
               lambda ans, a, x: _gamma_density(a, x))
defbatch(gammainc_p, batch_elementwise(gammainc_p))
gammaincc_p = new_primitive("special.gammaincc", _gammaincc_impl)
defelementwise(gammaincc_p, _no_closed_form("gammaincc", "a (argument 0)", _SHAPE_USES),
               lambda ans, a, x: negative(_gamma_density(a, x)))
defbatch(gammaincc_p, batch_elementwise(gammaincc_p))


def gammainc(a: Any, x: Any) -> Any:
    """The regularised lower incomplete gamma function
    ``P(a, x) = integral(t**(a-1) exp(-t), t=0..x) / Gamma(a)``; ``scipy.special.gammainc``.

    Differentiable with respect to ``x`` (to any order); the derivative with respect to
    ``a`` has no closed form: asking for it raises ``NotImplementedError``.

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> round(float(special.gammainc(1.0, 2.0)), 12)  # 1 - exp(-2)
        0.864664716763
        >>> round(float(pb.grad(special.gammainc, argnums=1)(1.0, 2.0)), 12)  # exp(-2)
        0.135335283237
    """
    _real_only("gammainc", a)
    _real_only("gammainc", x)
    a, x = _as_scipy("gammainc", (a, x))
    if not (isinstance(a, Tracer) or isinstance(x, Tracer)):
        return _gammainc_impl(*_plain_all(a, x))
    return gammainc_p.bind(*_promote_all(a, x))


def gammaincc(a: Any, x: Any) -> Any:
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, accurate
    where it is small; ``scipy.special.gammaincc``. Differentiable with respect to ``x``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.gammaincc(1.0, 30.0)) / 9.357622968840175e-14, 12)  # exp(-30)
        1.0
    """
    _real_only("gammaincc", a)
    _real_only("gammaincc", x)
    a, x = _as_scipy("gammaincc", (a, x))
    if not (isinstance(a, Tracer) or isinstance(x, Tracer)):
        return _gammaincc_impl(*_plain_all(a, x))
    return gammaincc_p.bind(*_promote_all(a, x))


betainc_p = new_primitive("special.betainc", _betainc_impl)
defelementwise(
    betainc_p,
    _no_closed_form("betainc", "a (argument 0)", _SHAPE_USES),
    _no_closed_form("betainc", "b (argument 1)", _SHAPE_USES),
    lambda ans, a, b, x: exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, negative(x)) - betaln(a, b)),
)
defbatch(betainc_p, batch_elementwise(betainc_p))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularised incomplete beta function
    ``I_x(a, b) = integral(t**(a-1) (1-t)**(b-1), t=0..x) / B(a, b)``;
    ``scipy.special.betainc``. Differentiable with respect to ``x`` (to any order); the
    derivatives with respect to ``a`` and ``b`` have no closed form and raise
    ``NotImplementedError``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.betainc(2.0, 3.0, 0.4)), 12)
        0.5248
    """
    for v in (a, b, x):
        _real_only("betainc", v)
    if not any(isinstance(v, Tracer) for v in (a, b, x)):
        return _betainc_impl(*_plain_all(a, b, x))
    return betainc_p.bind(*_promote_all(a, b, x))


# =============================================================================================
# Issue 10, continued: the gamma and beta functions, the Bessel functions, erfinv/erfcinv,
# the entropies, sinc and zeta. Derivatives are closed forms in pullback's own operations (so
# that they differentiate again); those with respect to an order or shape parameter that
# have none (a Bessel function's order, zeta's x, yn's n) raise NotImplementedError, naming
# the function and the argument. The Bessel functions compute their values with SciPy
# (imported on their first call); the others with NumPy and ``math``.
# =============================================================================================

__all__ += [
    "beta", "erfcinv", "erfinv", "entr", "gamma", "i0", "i0e", "i1", "i1e", "iv", "ive", "j0",
    "j1", "jv", "kl_div", "kv", "kve", "multigammaln", "rel_entr", "rgamma", "sinc", "y0", "y1",
    "yn", "zeta",
]

_SQRT_PI_OVER_2 = 0.5 * math.sqrt(math.pi)
_SCIPY_SPECIAL: list[Any] = []  # scipy.special, once imported


def _scipy_special(name: str) -> Any:
    """SciPy's ``special`` module, imported on first use (``import pullback`` stays fast and
    works without SciPy)."""
    if not _SCIPY_SPECIAL:
        try:
            _SCIPY_SPECIAL.append(importlib.import_module("scipy.special"))
        except ImportError:
            raise ImportError(
                f"pullback.scipy.special.{name} computes its values with SciPy, which is not "
                "installed: pip install scipy (pullback's 'dev' extra has it)"
            ) from None
    return _SCIPY_SPECIAL[0]


def _from_scipy(name: str) -> Callable[..., Any]:
    """A NumPy implementation calling ``scipy.special.<name>`` in float64 and rounding once
    to the arguments' float dtype (float32 stays float32, integers give float64)."""

    def impl(*args: Any) -> Any:
        arrays = [np.asarray(a) for a in args]
        dtype = np.result_type(*(_float_dtype(a) for a in arrays))
        with np.errstate(all="ignore"):
            out = getattr(_scipy_special(name), name)(*(a.astype(np.float64) for a in arrays))
        return _result(out, dtype)

    impl.__name__ = impl.__qualname__ = f"_{name}_impl"
    return blockwise(impl)


def _elementwise(name: str, impl: Callable[..., Any], *derivatives: Any) -> Any:
    """The elementwise primitive ``special.<name>`` with one partial derivative per operand."""
    prim = new_primitive(f"special.{name}", impl)
    defelementwise(prim, *derivatives)
    defbatch(prim, batch_elementwise(prim))
    return prim


def _apply(name: str, prim: Any, *args: Any) -> Any:
    """``prim`` on ``args``: real input only; untraced arguments straight to the implementation
    (Python numbers weak, as for SciPy's ufuncs), traced ones promoted to one dtype and shape."""
    for v in args:
        _real_only(name, v)
    args = _as_scipy(name, args)
    if not any(isinstance(v, Tracer) for v in args):
        return prim.impl(*_plain_all(*args))
    return prim.bind(*_promote_all(*args))


def _order_rule(name: str, argument: str, other: str | None = "x",
                why: str = "has no closed form") -> Callable[..., Any]:
    """The rule for an order or shape parameter with no derivative in pullback: it raises,
    naming the function, the argument and what to do."""
    only = f" (only the one with respect to {other} is)" if other else ""
    instead = f", or differentiate with respect to {other} only" if other else ""

    def rule(*_: Any, **__: Any) -> Any:
        raise NotImplementedError(
            f"pullback.scipy.special.{name}: the derivative with respect to {argument} {why} "
            f"and is not implemented{only}. It is needed here because {argument} depends on "
            f"what is differentiated: hold it constant (a plain number, or pb.stop_gradient)"
            f"{instead}"
        )

    return rule


# ----------------------------------------------------------------------------- gamma, beta


def _gamma_sign(x: float) -> float:
    """The sign of Gamma(x) (x not a pole): negative on (-1, 0), (-3, -2), ..."""
    return -1.0 if x < 0 and math.ceil(-x) % 2 == 1 else 1.0


def _gamma_scalar(x: float) -> float:
    if x == 0:
        return math.copysign(math.inf, x)
    if math.isnan(x) or x == -math.inf or (x < 0 and x == math.floor(x)):
        return math.nan
    if x > 171.6243769563027:  # Gamma overflows above
        return math.inf
    return math.gamma(x)


def _rgamma_scalar(x: float) -> float:
    if math.isnan(x):
        return math.nan
    if x == -math.inf or (x <= 0 and x == math.floor(x)):  # poles of Gamma: zeros of 1/Gamma
        return 0.0
    if x > 171.6243769563027:  # Gamma overflows; 1/Gamma underflows
        return math.exp(-math.lgamma(x))
    g = math.gamma(x)
    if g == 0.0:  # x below -184: 1/Gamma overflows
        return _gamma_sign(x) * math.inf
    return 1.0 / g


def _beta_scalar(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    for v in (a, b):
        if v <= 0 and v == math.floor(v):
            return math.inf
    s = a + b
    if s <= 0 and s == math.floor(s):
        return 0.0
    if max(abs(a), abs(b), abs(s)) < 100.0:  # Gamma neither overflows nor underflows
        return math.gamma(a) * math.gamma(b) / math.gamma(s)
    sign = _gamma_sign(a) * _gamma_sign(b) * _gamma_sign(s)
    return sign * math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(s))


_gamma_impl = _per_element(_gamma_scalar)
_rgamma_impl = _per_element(_rgamma_scalar)
_beta_vec = np.frompyfunc(_beta_scalar, 2, 1)


@blockwise  # Dask arrays: block by block
def _beta_impl(a: Any, b: Any) -> Any:
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(_float_dtype(a), _float_dtype(b))
    return _result(_beta_vec(a.astype(np.float64), b.astype(np.float64)), dtype)


gamma_p = _elementwise("gamma", _gamma_impl, lambda ans, x: ans * digamma(x))


def _rgamma_derivative(ans: Any, x: Any) -> Any:
    """-rgamma(x) digamma(x) for x >= 1/2; below, the derivative of the reflection formula
    rgamma(x) = gamma(1 - x) sin(pi x) / pi, which is finite at the poles of gamma (where
    rgamma is 0 and digamma NaN). Each branch sees a safe argument: no NaN leaks from the
    other one into higher derivatives."""
    low = less(x, 0.5)
    xp, xn = where(low, 1.0, x), where(low, x, 0.0)
    gn = gamma(1.0 - xn)
    left = gn * (cos(np.pi * xn) - digamma(1.0 - xn) * sin(np.pi * xn) / np.pi)
    return where(low, left, negative(rgamma(xp)) * digamma(xp))


rgamma_p = _elementwise("rgamma", _rgamma_impl, _rgamma_derivative)
beta_p = _elementwise("beta", _beta_impl,
                      lambda ans, a, b: ans * (digamma(a) - digamma(a + b)),
                      lambda ans, a, b: ans * (digamma(b) - digamma(a + b)))


def gamma(x: Any) -> Any:
    """The gamma function (``inf`` at 0, NaN at the negative integers); ``scipy.special.gamma``.
    Derivative: ``gamma(x) * digamma(x)``.

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> float(special.gamma(5.0))
        24.0
        >>> round(float(pb.grad(special.gamma)(1.0)), 12)  # minus the Euler-Mascheroni constant
        -0.577215664902
    """
    return _apply("gamma", gamma_p, x)


def rgamma(x: Any) -> Any:
    """The reciprocal of the gamma function, ``1 / gamma(x)`` (0 at the poles of gamma);
    ``scipy.special.rgamma``. Derivative: ``-rgamma(x) * digamma(x)``, and below 1/2 that of
    the reflection formula ``gamma(1 - x) sin(pi x) / pi`` (finite at the poles of gamma:
    ``(-1)**n n!`` at ``-n``).

    Example:
        >>> from pullback.scipy import special
        >>> float(special.rgamma(4.0)), float(special.rgamma(-2.0))
        (0.16666666666666666, 0.0)
    """
    return _apply("rgamma", rgamma_p, x)


def beta(a: Any, b: Any) -> Any:
    """The beta function ``gamma(a) gamma(b) / gamma(a + b)``; ``scipy.special.beta``.
    Differentiable in both arguments: ``d/da = beta(a, b) (digamma(a) - digamma(a + b))``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.beta(2.0, 3.0)), 15)  # 1/12
        0.083333333333333
    """
    return _apply("beta", beta_p, a, b)


def multigammaln(a: Any, d: int) -> Any:
    """The logarithm of the multivariate gamma function of dimension ``d``,
    ``d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2)`` (j = 0 .. d - 1);
    ``scipy.special.multigammaln``. ``d`` is a positive integer (not differentiated); like
    SciPy, an untraced ``a`` must be greater than ``(d - 1) / 2``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.multigammaln(3.0, 3)), 12)
        2.694924879807
    """
    if isinstance(d, Tracer) or np.ndim(d) != 0 or int(d) != d or d < 1:
        raise TypeError(
            f"pullback.scipy.special.multigammaln: argument 1 (d) must be a positive integer, "
            f"got {d!r}; call it once per dimension for several dimensions"
        )
    d = int(d)
    _real_only("multigammaln", a)
    if not isinstance(a, Tracer) and np.any(np.asarray(a) <= 0.5 * (d - 1)):
        raise ValueError(
            f"pullback.scipy.special.multigammaln: a must be greater than (d - 1) / 2 = "
            f"{0.5 * (d - 1)} everywhere (as SciPy requires), got {a!r}"
        )
    out = gammaln(a)
    for j in range(1, d):
        out = out + gammaln(a - 0.5 * j)
    return out + 0.25 * d * (d - 1) * math.log(math.pi)


# ----------------------------------------------------------------------------- Bessel

_j0_impl, _j1_impl, _jv_impl = _from_scipy("j0"), _from_scipy("j1"), _from_scipy("jv")
_y0_impl, _y1_impl, _yn_impl = _from_scipy("y0"), _from_scipy("y1"), _from_scipy("yn")
_i0_impl, _i0e_impl = _from_scipy("i0"), _from_scipy("i0e")
_i1_impl, _i1e_impl = _from_scipy("i1"), _from_scipy("i1e")
_iv_impl, _ive_impl = _from_scipy("iv"), _from_scipy("ive")
_kv_impl, _kve_impl = _from_scipy("kv"), _from_scipy("kve")

# d/dx C_v = (C_(v-1) - C_(v+1)) / 2 for C = J, Y; (I_(v-1) + I_(v+1)) / 2; -(K_(v-1) + K_(v+1)) / 2
j0_p = _elementwise("j0", _j0_impl, lambda ans, x: negative(j1(x)))
j1_p = _elementwise("j1", _j1_impl, lambda ans, x: 0.5 * (j0(x) - jv(2.0, x)))
jv_p = _elementwise("jv", _jv_impl, _order_rule("jv", "the order v (argument 0)"),
                    lambda ans, v, x: 0.5 * (jv(v - 1.0, x) - jv(v + 1.0, x)))
y0_p = _elementwise("y0", _y0_impl, lambda ans, x: negative(y1(x)))
y1_p = _elementwise("y1", _y1_impl, lambda ans, x: 0.5 * (y0(x) - yn(2.0, x)))
yn_p = _elementwise("yn", _yn_impl, _order_rule("yn", "the order n (argument 0)",
                                          why="does not exist (an integer)"),
                    lambda ans, n, x: 0.5 * (yn(n - 1.0, x) - yn(n + 1.0, x)))
i0_p = _elementwise("i0", _i0_impl, lambda ans, x: i1(x))
i1_p = _elementwise("i1", _i1_impl, lambda ans, x: 0.5 * (i0(x) + iv(2.0, x)))
iv_p = _elementwise("iv", _iv_impl, _order_rule("iv", "the order v (argument 0)"),
                    lambda ans, v, x: 0.5 * (iv(v - 1.0, x) + iv(v + 1.0, x)))
# the exponentially scaled ones, exp(-|x|) I_v(x): the derivative gains -sign(x) * ans
i0e_p = _elementwise("i0e", _i0e_impl, lambda ans, x: i1e(x) - sign(x) * ans)
i1e_p = _elementwise("i1e", _i1e_impl,
                     lambda ans, x: 0.5 * (i0e(x) + ive(2.0, x)) - sign(x) * ans)
ive_p = _elementwise("ive", _ive_impl, _order_rule("ive", "the order v (argument 0)"),
                     lambda ans, v, x: 0.5 * (ive(v - 1.0, x) + ive(v + 1.0, x)) - sign(x) * ans)
kv_p = _elementwise("kv", _kv_impl, _order_rule("kv", "the order v (argument 0)"),
                    lambda ans, v, x: -0.5 * (kv(v - 1.0, x) + kv(v + 1.0, x)))
# exp(x) K_v(x): the derivative gains + ans
kve_p = _elementwise("kve", _kve_impl, _order_rule("kve", "the order v (argument 0)"),
                     lambda ans, v, x: ans - 0.5 * (kve(v - 1.0, x) + kve(v + 1.0, x)))

def j0(x: Any) -> Any:
    """The Bessel function of the first kind of order 0; ``scipy.special.j0``.
    Derivative: ``-j1(x)``. Values from SciPy (imported on the first call); real arguments
    only (complex input raises ``TypeError``).

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> round(float(special.j0(1.0)), 12), round(float(pb.grad(special.j0)(1.0)), 12)
        (0.765197686558, -0.440050585745)
    """
    return _apply("j0", j0_p, x)


def j1(x: Any) -> Any:
    """The Bessel function of the first kind of order 1; ``scipy.special.j1``.
    Derivative: ``(j0(x) - jv(2, x)) / 2``. Values from SciPy (imported on the first call);
    real arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.j1(1.0)), 12)
        0.440050585745
    """
    return _apply("j1", j1_p, x)


def jv(v: Any, x: Any) -> Any:
    """The Bessel function of the first kind of real order ``v``; ``scipy.special.jv``.
    Differentiable in ``x``: ``(jv(v - 1, x) - jv(v + 1, x)) / 2``; the derivative in the order
    ``v`` has no closed form and raises ``NotImplementedError``. Values from SciPy (imported
    on the first call); real arguments only (complex input raises ``TypeError``).

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> round(float(special.jv(0.5, np.pi / 2)), 12)  # sqrt(2 / (pi x)) sin(x)
        0.636619772368
        >>> round(float(pb.grad(special.jv, argnums=1)(0.5, np.pi / 2)), 12)
        -0.202642367285
    """
    return _apply("jv", jv_p, v, x)


def y0(x: Any) -> Any:
    """The Bessel function of the second kind of order 0 (``x > 0``); ``scipy.special.y0``.
    Derivative: ``-y1(x)``. Values from SciPy (imported on the first call); real arguments
    only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.y0(1.0)), 12)
        0.088256964216
    """
    return _apply("y0", y0_p, x)


def y1(x: Any) -> Any:
    """The Bessel function of the second kind of order 1 (``x > 0``); ``scipy.special.y1``.
    Derivative: ``(y0(x) - yn(2, x)) / 2``. Values from SciPy (imported on the first call);
    real arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.y1(1.0)), 12)
        -0.7812128213
    """
    return _apply("y1", y1_p, x)


def yn(n: Any, x: Any) -> Any:
    """The Bessel function of the second kind of integer order ``n`` (``x > 0``);
    ``scipy.special.yn``. Differentiable in ``x``: ``(yn(n - 1, x) - yn(n + 1, x)) / 2``; the
    derivative in ``n`` does not exist (an integer) and raises ``NotImplementedError`` when
    ``n`` depends on what is differentiated. Values from SciPy (imported on the first call);
    real arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.yn(2, 1.0)), 12)
        -1.650682606816
    """
    return _apply("yn", yn_p, n, x)


def i0(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 0; ``scipy.special.i0``.
    Derivative: ``i1(x)``. Values from SciPy (imported on the first call); real arguments only
    (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.i0(1.0)), 12)
        1.266065877752
    """
    return _apply("i0", i0_p, x)


def i0e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) i0(x)``;
    ``scipy.special.i0e``. Derivative: ``i1e(x) - sign(x) i0e(x)`` (a kink at 0, where the
    derivative taken is ``i1e(0) = 0``). Values from SciPy (imported on the first call); real
    arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.i0e(1.0)), 12)
        0.465759607594
    """
    return _apply("i0e", i0e_p, x)


def i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1; ``scipy.special.i1``.
    Derivative: ``(i0(x) + iv(2, x)) / 2``. Values from SciPy (imported on the first call);
    real arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.i1(1.0)), 12)
        0.565159103992
    """
    return _apply("i1", i1_p, x)


def i1e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) i1(x)``;
    ``scipy.special.i1e``. Derivative: ``(i0e(x) + ive(2, x)) / 2 - sign(x) i1e(x)``. Values
    from SciPy (imported on the first call); real arguments only (complex input raises
    ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.i1e(1.0)), 12)
        0.20791041535
    """
    return _apply("i1e", i1e_p, x)


def iv(v: Any, x: Any) -> Any:
    """The modified Bessel function of the first kind of real order ``v``;
    ``scipy.special.iv``. Differentiable in ``x``: ``(iv(v - 1, x) + iv(v + 1, x)) / 2``; the
    derivative in the order ``v`` has no closed form and raises ``NotImplementedError``.
    Values from SciPy (imported on the first call); real arguments only (complex input raises
    ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.iv(0.5, 1.0)), 12)  # sqrt(2 / (pi x)) sinh(x)
        0.937674888245
    """
    return _apply("iv", iv_p, v, x)


def ive(v: Any, x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) iv(v, x)``;
    ``scipy.special.ive``. Differentiable in ``x``:
    ``(ive(v - 1, x) + ive(v + 1, x)) / 2 - sign(x) ive(v, x)``; the derivative in the order
    ``v`` raises ``NotImplementedError``. Values from SciPy (imported on the first call); real
    arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.ive(0.5, 1.0)), 12)
        0.344951313888
    """
    return _apply("ive", ive_p, v, x)


def kv(v: Any, x: Any) -> Any:
    """The modified Bessel function of the second kind of real order ``v`` (``x > 0``);
    ``scipy.special.kv``. Differentiable in ``x``: ``-(kv(v - 1, x) + kv(v + 1, x)) / 2``; the
    derivative in the order ``v`` has no closed form and raises ``NotImplementedError``.
    Values from SciPy (imported on the first call); real arguments only (complex input raises
    ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.kv(0.5, 1.0)), 12)  # sqrt(pi / (2 x)) exp(-x)
        0.461068504448
    """
    return _apply("kv", kv_p, v, x)


def kve(v: Any, x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(x) kv(v, x)`` (``x > 0``);
    ``scipy.special.kve``. Differentiable in ``x``:
    ``kve(v, x) - (kve(v - 1, x) + kve(v + 1, x)) / 2``; the derivative in the order ``v``
    raises ``NotImplementedError``. Values from SciPy (imported on the first call); real
    arguments only (complex input raises ``TypeError``).

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.kve(0.5, 1.0)), 12)  # sqrt(pi / (2 x))
        1.253314137316
    """
    return _apply("kve", kve_p, v, x)


# ----------------------------------------------------------------------------- erfinv, erfcinv


def _erfcinv_small(z: np.ndarray) -> Any:
    """erfcinv(z) = -ndtri(z / 2) / sqrt(2): exact where z / 2 is (z in (0, 2]); below 1e-100,
    Newton's method on the asymptotic series of log(erfc)."""
    tiny = z < 1e-100
    out = -_ndtri_impl(0.5 * np.where(tiny, 0.5, z)) * _SQRT_HALF
    if np.any(tiny):
        out = np.where(tiny, _erfcinv_tiny(np.where(tiny, z, 1e-200)), out)
    return out


def _erfcinv_tiny(z: np.ndarray) -> Any:
    """erfcinv(z) for 0 < z < 1e-100 (x > 15): the root of
    log erfc(x) = -x**2 - log(x sqrt(pi)) + log(1 - 1/(2x**2) + 3/(2x**2)**2 - ...) = log z."""
    log_z = np.log(z)
    x = np.sqrt(-log_z)
    for _ in range(8):
        u = 1.0 / (2.0 * x * x)
        series, term = np.ones_like(x), np.ones_like(x)
        for k in range(1, 10):
            term = -term * (2 * k - 1) * u
            series = series + term
        g = -x * x - np.log(x) - 0.5 * math.log(math.pi) + np.log(series) - log_z
        x = x + g / (2.0 * x + 1.0 / x)  # g' = -(2x + 1/x) up to O(x**-3)
    return x


def _erfinv_center(y: np.ndarray) -> Any:
    """erfinv(y) for |y| <= 1/2: a first guess from ndtri, then two Halley steps on
    erf(x) - y (erf is accurate in relative terms near 0, where (1 + y) / 2 is not)."""
    x = _ndtri_impl(0.5 * (1.0 + y)) * _SQRT_HALF
    for _ in range(2):
        f = (_erf_impl(x) - y) / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
        x = x - f / (1.0 + x * f)
    return np.where(y == 0, y, x)  # erfinv(-0.0) = -0.0


@blockwise  # Dask arrays: block by block
def _erfinv_impl(y: Any) -> Any:
    arr = np.asarray(y)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.abs(q)
        center = np.abs(q) <= 0.5
        # |y| > 1/2: 1 - |y| is exact, erfinv(y) = sign(y) erfcinv(1 - |y|)
        out = np.where(center, _erfinv_center(np.where(center, q, 0.0)),
                       np.sign(q) * _erfcinv_small(np.where(center, 1.0, 1.0 - a)))
        out = np.where(a == 1.0, np.sign(q) * np.inf, out)
        out = np.where((a > 1.0) | np.isnan(q), np.nan, out)
    return _result(out, _float_dtype(arr))


@blockwise  # Dask arrays: block by block
def _erfcinv_impl(z: Any) -> Any:
    arr = np.asarray(z)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        center = (q > 0.5) & (q < 1.5)  # 1 - z is exact there
        out = np.where(center, _erfinv_center(np.where(center, 1.0 - q, 0.0)),
                       _erfcinv_small(np.where(center, 1.0, q)))
        out = np.where(q == 0.0, np.inf, np.where(q == 2.0, -np.inf, out))
        out = np.where((q < 0.0) | (q > 2.0) | np.isnan(q), np.nan, out)
    return _result(out, _float_dtype(arr))


# erfinv' = sqrt(pi)/2 exp(erfinv(y)**2), written with the answer
erfinv_p = _elementwise("erfinv", _erfinv_impl,
                        lambda ans, y: _SQRT_PI_OVER_2 * exp(ans * ans))
erfcinv_p = _elementwise("erfcinv", _erfcinv_impl,
                         lambda ans, z: -_SQRT_PI_OVER_2 * exp(ans * ans))


def erfinv(y: Any) -> Any:
    """The inverse of ``erf`` on (-1, 1) (``-inf``/``inf`` at -1/1, NaN outside);
    ``scipy.special.erfinv``. Derivative: ``sqrt(pi) / 2 * exp(erfinv(y)**2)``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.erfinv(0.5)), 12), float(special.erfinv(special.erf(1e-3)))
        (0.476936276204, 0.001)
    """
    return _apply("erfinv", erfinv_p, y)


def erfcinv(z: Any) -> Any:
    """The inverse of ``erfc`` on (0, 2) (``inf``/``-inf`` at 0/2, NaN outside);
    ``scipy.special.erfcinv``. Derivative: ``-sqrt(pi) / 2 * exp(erfcinv(z)**2)``.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.erfcinv(0.5)), 12), round(float(special.erfcinv(1e-10)), 12)
        (0.476936276204, 4.572824967389)
    """
    return _apply("erfcinv", erfcinv_p, z)


# ----------------------------------------------------------------------------- entropies


@blockwise  # Dask arrays: block by block
def _entr_impl(x: Any) -> Any:
    arr = np.asarray(x)
    q = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(q > 0, -q * np.log(np.where(q > 0, q, 1.0)), 0.0)
        out = np.where(q < 0, -np.inf, np.where(np.isnan(q), np.nan, out))
    return _result(out, _float_dtype(arr))


def _relative(x: Any, y: Any, extra: bool) -> Any:
    x, y = np.asarray(x), np.asarray(y)
    dtype = np.result_type(_float_dtype(x), _float_dtype(y))
    x64, y64 = np.broadcast_arrays(x.astype(np.float64), y.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        both = (x64 > 0) & (y64 > 0)
        xs, ys = np.where(both, x64, 1.0), np.where(both, y64, 1.0)
        out = xs * np.log(xs / ys)
        if extra:
            out = out - xs + ys
        zero_x = (x64 == 0) & (y64 >= 0)
        out = np.where(both, out, np.where(zero_x, y64 if extra else 0.0, np.inf))
        out = np.where(np.isnan(x64) | np.isnan(y64), np.nan, out)
    return _result(out, dtype)


@blockwise  # Dask arrays: block by block
def _rel_entr_impl(x: Any, y: Any) -> Any:
    return _relative(x, y, extra=False)


@blockwise  # Dask arrays: block by block
def _kl_div_impl(x: Any, y: Any) -> Any:
    return _relative(x, y, extra=True)


entr_p = _elementwise("entr", _entr_impl, lambda ans, x: negative(1.0 + log(x)))
rel_entr_p = _elementwise("rel_entr", _rel_entr_impl,
                          lambda ans, x, y: log(x) - log(y) + 1.0,
                          lambda ans, x, y: negative(x / y))
kl_div_p = _elementwise("kl_div", _kl_div_impl,
                        lambda ans, x, y: log(x) - log(y),
                        lambda ans, x, y: 1.0 - x / y)


def entr(x: Any) -> Any:
    """The elementwise entropy ``-x log(x)`` (0 at 0, ``-inf`` for negative x);
    ``scipy.special.entr``. Derivative: ``-(1 + log(x))``.

    Example:
        >>> from pullback.scipy import special
        >>> float(special.entr(0.0)), round(float(special.entr(0.5)), 12)
        (0.0, 0.34657359028)
    """
    return _apply("entr", entr_p, x)


def rel_entr(x: Any, y: Any) -> Any:
    """The elementwise relative entropy ``x log(x / y)`` (0 where x == 0 and y >= 0, ``inf``
    outside the domain); ``scipy.special.rel_entr``. Derivatives ``log(x / y) + 1`` in x,
    ``-x / y`` in y.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.rel_entr(2.0, 1.0)), 12), float(special.rel_entr(0.0, 3.0))
        (1.38629436112, 0.0)
    """
    return _apply("rel_entr", rel_entr_p, x, y)


def kl_div(x: Any, y: Any) -> Any:
    """The elementwise Kullback-Leibler term ``x log(x / y) - x + y`` (``y`` where x == 0 and
    y >= 0, ``inf`` outside the domain); ``scipy.special.kl_div``. Derivatives ``log(x / y)``
    in x, ``1 - x / y`` in y.

    Example:
        >>> from pullback.scipy import special
        >>> round(float(special.kl_div(2.0, 1.0)), 12), float(special.kl_div(0.0, 3.0))
        (0.38629436112, 3.0)
    """
    return _apply("kl_div", kl_div_p, x, y)


def sinc(x: Any) -> Any:
    """The normalised sinc function ``sin(pi x) / (pi x)`` (1 at 0); ``scipy.special.sinc``,
    which is ``numpy.sinc``: this is ``pullback.numpy.sinc`` (complex input included).

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> float(special.sinc(0.5)) == 2 / np.pi, float(pb.grad(special.sinc)(0.0)) == 0
        (True, True)
    """
    return _pnp_sinc(x)


# ----------------------------------------------------------------------------- zeta


def _hurwitz(s: np.ndarray, q: np.ndarray, start: np.ndarray) -> Any:
    """sum_(k < m) (q + k)**-s + zeta(s, q + m) with q + m >= start, the latter by the
    Euler-Maclaurin formula (valid for every s != 1 where s + 31 > 0)."""
    acc = np.zeros_like(s)
    w = q
    low = w < start
    while np.any(low):  # zeta(s, w) = w**-s + zeta(s, w + 1)
        acc = acc + np.where(low, np.where(low, w, 1.0) ** -s, 0.0)
        w = np.where(low, w + 1.0, w)
        low = w < start
    tail = np.zeros_like(w)
    rising = s.copy()  # (s)_(2k-1)
    power = w ** (-s - 1.0)
    inv2 = 1.0 / (w * w)
    for k, b in enumerate(_BERNOULLI, start=1):
        tail = tail + b / math.factorial(2 * k) * rising * power
        rising = rising * (s + 2 * k - 1) * (s + 2 * k)
        power = power * inv2
    return acc + w ** (1.0 - s) / (s - 1.0) + 0.5 * w ** -s + tail


@blockwise  # Dask arrays: block by block
def _zeta_impl(x: Any, q: Any, riemann: bool = False) -> Any:
    """The Hurwitz zeta function, as SciPy's: NaN for x < 1, ``inf`` at x == 1 and at the
    non-positive integers q; for a negative q, NaN unless x is an integer. With ``riemann``,
    the Riemann zeta function of x on the whole real line (q, which is then 1, is not used)."""
    if riemann:
        return _riemann_zeta_impl(x)
    x, q = np.asarray(x), np.asarray(q)
    dtype = np.result_type(_float_dtype(x), _float_dtype(q))
    s, w = np.broadcast_arrays(x.astype(np.float64), q.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        pole = (s == 1.0) | ((w <= 0) & (w == np.round(w)))
        ok = (s > 1.0) & ~pole & np.isfinite(w)
        ss, ww = np.where(ok, s, 2.0), np.where(ok, w, 1.0)
        out = _hurwitz(ss, ww, 15.0 + np.minimum(ss, 100.0))
        out = np.where(ok, out, np.where(pole & (s >= 1.0), np.inf, np.nan))
        out = np.where((s > 1.0) & (w == np.inf), 0.0, out)
    return _result(out, dtype)


@blockwise  # Dask arrays: block by block
def _riemann_zeta_impl(x: Any) -> Any:
    """The Riemann zeta function on the whole real line: Euler-Maclaurin for x >= 0, the
    functional equation zeta(x) = 2**x pi**(x-1) sin(pi x / 2) Gamma(1 - x) zeta(1 - x) below
    (Euler-Maclaurin there would cancel catastrophically)."""
    arr = np.asarray(x)
    s = arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        direct = s >= 0.0
        sd = np.where(direct & (s != 1.0), s, 2.0)
        out = _hurwitz(sd, np.ones_like(sd), 20.0 + np.minimum(sd, 100.0))
        r = 1.0 - np.where(direct, -1.0, s)  # > 1
        # sin(pi x / 2) with the argument reduced first (exact), so that it is accurate in
        # relative terms near the zeros of zeta at the negative even integers
        half = 0.5 * (1.0 - r)
        n = np.round(half)
        sine = np.where(np.mod(n, 2.0) == 0, 1.0, -1.0) * np.sin(np.pi * (half - n))
        reflected = (2.0 ** (1.0 - r) * np.pi ** (-r) * sine * _gamma_impl(r)
                     * _hurwitz(r, np.ones_like(r), 15.0 + np.minimum(r, 100.0)))
        out = np.where(direct, out, reflected)
        out = np.where(s == 1.0, np.inf, out)
        out = np.where(s == np.inf, 1.0, np.where((s == -np.inf) | np.isnan(s), np.nan, out))
    return _result(out, _float_dtype(arr))


_zeta_x_rules = (_order_rule("zeta", "x (argument 0)", "q"),
                 _order_rule("zeta", "x (the Riemann zeta function, q=None)", None))


def _zeta_dx(ans: Any, x: Any, q: Any, riemann: bool = False) -> Any:
    return _zeta_x_rules[riemann](ans, x, q)


zeta_p = _elementwise("zeta", _zeta_impl, _zeta_dx,
                      lambda ans, x, q, riemann=False: negative(x) * zeta(x + 1.0, q))


def zeta(x: Any, q: Any = None) -> Any:
    """The Hurwitz zeta function ``sum_k (k + q)**-x`` (k = 0, 1, ...), or the Riemann zeta
    function when ``q`` is None; ``scipy.special.zeta``. Differentiable in ``q``:
    ``-x zeta(x + 1, q)``; the derivative in ``x`` has no closed form and raises
    ``NotImplementedError``. As in SciPy, the Hurwitz function is NaN for ``x < 1`` and the
    Riemann function is continued to the whole real line.

    Example:
        >>> import pullback as pb
        >>> from pullback.scipy import special
        >>> round(float(special.zeta(2.0)), 12), round(float(special.zeta(-1.0)), 12)
        (1.644934066848, -0.083333333333)
        >>> round(float(pb.grad(special.zeta, argnums=1)(2.0, 1.0)), 12)  # -2 zeta(3)
        -2.404113806319
    """
    if q is None:
        _real_only("zeta", x)
        if not isinstance(x, Tracer):
            return _riemann_zeta_impl(*_plain_all(x))
        return zeta_p.bind(x, as_array(1.0, x.dtype), riemann=True)
    return _apply("zeta", zeta_p, x, q)


# ----------------------------------------------------------------------------- SciPy's ufuncs
# scipy.special's ufuncs called on traced values (``scipy.special.gammaln(x)``) dispatch here,
# by name (pullback.numpy's Tracer.__array_ufunc__): every function above that SciPy has as a
# ufunc of the same name; the private ufuncs scipy.special.zeta calls; and SciPy's own ufuncs
# for functions that NumPy has too (the same functions, under pullback.numpy).
SCIPY_UFUNCS.update({name: globals()[name] for name in __all__})
SCIPY_UFUNCS.update({"_zeta": zeta, "_riemann_zeta": zeta, "cbrt": cbrt, "exp2": exp2,
                     "expm1": expm1, "log1p": log1p})
