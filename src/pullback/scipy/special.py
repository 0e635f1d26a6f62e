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
from pullback.numpy._backends import blockwise, foreign
from pullback.numpy._nondiff import logical_and
from pullback.numpy._registry import batch_elementwise, new_primitive, promote
from pullback.numpy._util import as_array
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
