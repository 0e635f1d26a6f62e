"""Elementwise functions (NumPy's ufuncs): one line each, the derivative as a function of
``(ans, x[, y])`` written with pullback's own operations.

Conventions at the points where a function has no derivative (each has a test in
``tests/test_special_values.py``):

- ``abs``/``absolute``/``fabs`` at 0: derivative 0 (the subgradient of least norm);
- ``maximum``/``minimum``/``fmax``/``fmin`` at ties: each argument gets 1/2, so the two
  cotangents still add up to the output's (``clip`` at its bounds inherits this). The
  argument that loses gets exactly 0, even from an infinite or NaN cotangent (a selection,
  not a product with 0: ``sqrt(maximum(x, 0))`` has derivative 0, not NaN, at ``x < 0``);
- ``sqrt`` and ``cbrt`` at 0: ``+inf`` (the one-sided limit), not NaN; the second derivative
  of ``sqrt`` there is ``-inf``, in every mode;
- ``hypot`` at ``(0, 0)``: derivative 0 in both arguments, and all higher derivatives 0 (as
  ``linalg.norm`` at 0: the subgradient of least norm);
- ``arctan2`` at ``(0, 0)``: NaN (the function jumps there: no derivative, as in JAX);
- ``power(x, y)``: the derivative in ``x`` where ``y == 0`` is 0, also at ``x == 0``, at every
  order (``x ** 0`` is the constant 1; JAX's convention); at ``x == 0`` and ``y == 1, 2`` it is
  ``y * 0 ** (y - 1)`` (1, 0), at integer ``y > 1`` the higher ones follow (``x ** 3``: 0, 0,
  6). The derivative in ``y`` is ``x ** y * log(x)``, taken as 0 where ``x == 0``;
- ``sign``, ``floor``, ``ceil``, ``rint``, comparisons, ``heaviside``: no derivative (their
  outputs are constants to every transformation: the derivative is 0 almost everywhere).
  ``sign`` of complex values, ``z / |z|``, is differentiable (0 at ``z == 0``);
- ``fmod``/``remainder`` at their jumps: the derivative of the branch NumPy's value is on.

Complex values: a cotangent ``g`` pairs with a tangent ``t`` as ``Re(sum(g * t))``, without
conjugation (JAX's convention), so ``vjp`` is the transpose of the real-linear JVP and ``grad``
of a real function of complex input is the conjugate of the steepest-ascent direction:
``pb.grad(lambda z: pnp.abs(z) ** 2)(z) == 2 * conj(z)``. The rules of holomorphic functions
(``exp``, ``log``, ``sin``, ``sqrt``, ``power``, ...) are ``g * f'(z)`` computed in complex;
``abs``, ``real``, ``imag``, ``conj`` and ``sign`` have rules of their own. The functions
NumPy refuses complex input for (``arctan2``, ``hypot``, ``fabs``, ``cbrt``, ``logaddexp``,
``fmod``...) raise NumPy's ``TypeError`` on traced values too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pullback.core import backends, lax
from pullback.core.batching import batch_apply1
from pullback.core.forward import jvp_apply1
from pullback.core.lax import broadcast_to, stop_gradient
from pullback.core.lax import convert as astype
from pullback.core.reverse import BROADCASTING, defvjp_lean, record1
from pullback.core.rules import defbatch, defjvp, defjvp_joint, deflinear, defvjp, defvjp_joint
from pullback.core.trace import PRIMITIVES, Tracer, dtype_of, shape_of, zero
from pullback.numpy._nondiff import (
    floor_divide,
    isfinite,
    isnan,
    logical_or,
    nonzero,
    rint,
    signbit,
    trunc,
)
from pullback.numpy._registry import (
    _check_kwargs,
    batch_elementwise,
    binary,
    implements,
    method,
    new_primitive,
    nondiff_function,
    promote,
    unary,
    wrap_binary,
    wrap_unary,
)
from pullback.numpy._util import (
    as_array,
    python_number_operator,
    python_number_part,
    result_dtype,
)

__all__ = [
    "abs", "absolute", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "cbrt", "clip", "conj", "conjugate", "copysign", "cos", "cosh", "deg2rad",
    "degrees", "divide", "divmod", "equal", "exp", "exp2", "expm1", "fabs", "float_power",
    "fmax", "fmin", "fmod", "frexp", "greater", "greater_equal", "hypot", "imag", "ldexp",
    "less", "less_equal", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "maximum",
    "minimum", "mod", "modf", "multiply", "nan_to_num", "negative", "not_equal", "positive",
    "power", "rad2deg", "radians", "real", "reciprocal", "remainder", "sign", "sin", "sinc",
    "sinh", "sqrt", "square", "subtract", "tan", "tanh", "true_divide", "where",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEG = math.pi / 180.0  # Python floats: they keep float32 values float32


def _mask(cond: Any, like: Any) -> Any:
    """A boolean condition as 0/1 in ``like``'s dtype (a constant to every derivative)."""
    return astype(cond, dtype_of(like))


def _no_derivative(*_: Any, **__: Any) -> Any:
    """A partial derivative that is identically zero (a symbolic zero: nothing is computed)."""
    return zero


# fmt: off
negative_p = new_primitive("negative", np.negative)
deflinear(negative_p, lambda g, x: negative(g))
defbatch(negative_p, batch_elementwise(negative_p))
# fmt: on


def negative(x: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.negative``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.negative(np.array([1.0, -2.0]))
        array([-1.,  2.])
    """
    if not isinstance(x, Tracer):
        return np.negative(x, **kwargs)
    out = record1(negative_p, x, {})  # the eager reverse-mode case in one step
    if out is None:
        out = jvp_apply1(negative_p, x, {})  # the outermost forward-mode case in one step
    if out is None:
        out = batch_apply1(negative_p, x, {})  # vmap of plain values, in one step
    return negative_p.bind(x) if out is None else out


implements(np.negative)(negative)
defvjp_lean(negative_p, lambda g, ans, args, params, parents: (negative(g),))

# fmt: off
exp     = unary("exp",     np.exp,     lambda ans, x: ans)
exp2    = unary("exp2",    np.exp2,    lambda ans, x: ans * _LN2)
expm1   = unary("expm1",   np.expm1,   lambda ans, x: exp(x))  # not ans + 1: cancels
log     = unary("log",     np.log,     lambda ans, x: 1.0 / x)
log2    = unary("log2",    np.log2,    lambda ans, x: 1.0 / (x * _LN2))
log10   = unary("log10",   np.log10,   lambda ans, x: 1.0 / (x * _LN10))
log1p   = unary("log1p",   np.log1p,   lambda ans, x: 1.0 / (x + 1.0))
sin     = unary("sin",     np.sin,     lambda ans, x: cos(x))
cos     = unary("cos",     np.cos,     lambda ans, x: negative(sin(x)))
tan     = unary("tan",     np.tan,     lambda ans, x: 1.0 + ans * ans)
arcsin  = unary("arcsin",  np.arcsin,  lambda ans, x: 1.0 / sqrt((1.0 - x) * (1.0 + x)))
arccos  = unary("arccos",  np.arccos,  lambda ans, x: -1.0 / sqrt((1.0 - x) * (1.0 + x)))
arctan  = unary("arctan",  np.arctan,  lambda ans, x: 1.0 / (1.0 + x * x))
sinh    = unary("sinh",    np.sinh,    lambda ans, x: cosh(x))
cosh    = unary("cosh",    np.cosh,    lambda ans, x: sinh(x))
tanh    = unary("tanh",    np.tanh,    lambda ans, x: 1.0 - ans * ans)
arcsinh = unary("arcsinh", np.arcsinh, lambda ans, x: 1.0 / sqrt(x * x + 1.0))
arccosh = unary("arccosh", np.arccosh, lambda ans, x: 1.0 / sqrt((x - 1.0) * (x + 1.0)))
arctanh = unary("arctanh", np.arctanh, lambda ans, x: 1.0 / ((1.0 - x) * (1.0 + x)))
sqrt    = unary("sqrt",    np.sqrt,    lambda ans, x: 0.5 / ans)
cbrt    = unary("cbrt",    np.cbrt,    lambda ans, x: 1.0 / (3.0 * ans * ans))
square  = unary("square",  np.square,  lambda ans, x: 2.0 * x)
reciprocal = unary("reciprocal", np.reciprocal, lambda ans, x: negative(ans * ans))
fabs    = unary("fabs",    np.fabs,    lambda ans, x: sign(x))
deg2rad = unary("deg2rad", np.deg2rad, lambda ans, x: _DEG)
radians = unary("radians", np.radians, lambda ans, x: _DEG)
rad2deg = unary("rad2deg", np.rad2deg, lambda ans, x: 1.0 / _DEG)
degrees = unary("degrees", np.degrees, lambda ans, x: 1.0 / _DEG)

_sign_real = unary("sign", np.sign, None)

multiply = wrap_binary("multiply", np.multiply, lax.mul_p)
divide   = binary("divide",   np.divide,   lambda ans, x, y: 1.0 / y,
                                           lambda ans, x, y: negative(ans / y))
true_divide = divide
# fmt: on


def _known(x: Any) -> bool:
    """Whether ``x`` is a plain NumPy value (its entries known now, outside jit and vmap)."""
    return type(x) is np.ndarray or isinstance(x, np.generic)


def _pick(g: Any, wins: Any, ties: Any) -> Any:
    """``g`` where an argument of max/min wins, ``g / 2`` at ties, exactly 0 elsewhere (a
    selection: an infinite or NaN ``g`` does not become NaN where the argument loses).

    When the values show no tie (known now, outside jit/vmap), ``g`` times the boolean mask
    does it in one pass (ten times faster than ``where``), unless that made a NaN."""
    # (np.count_nonzero: what .any() answers, without its Python layers, for these masks)
    if _known(ties) and _known(wins) and not np.count_nonzero(ties):
        if not np.count_nonzero(wins):  # the argument loses everywhere: a symbolic zero
            return zero  # (then an infinite derivative further on does not meet a 0: no NaN)
        if _known(g):
            out = g * wins
            if not np.count_nonzero(np.isnan(out)):
                return out
        return where(wins, g, 0.0)
    return where(wins, g, where(ties, g * 0.5, 0.0))


def _wins_max(x: Any, y: Any) -> Any:
    """Where ``fmax(x, y)`` is ``x``'s value other than at a tie: ``x > y`` or ``y`` NaN."""
    return logical_or(greater(x, y), isnan(y))


def _wins_min(x: Any, y: Any) -> Any:
    return logical_or(less(x, y), isnan(y))


maximum_p = new_primitive("maximum", np.maximum)
defvjp(maximum_p, lambda g, ans, x, y: _pick(g, x > y, x == y),
       lambda g, ans, x, y: _pick(g, y > x, x == y))
defjvp(maximum_p, lambda t, ans, x, y: _pick(t, x > y, x == y),
       lambda t, ans, x, y: _pick(t, y > x, x == y))
minimum_p = new_primitive("minimum", np.minimum)
defvjp(minimum_p, lambda g, ans, x, y: _pick(g, x < y, x == y),
       lambda g, ans, x, y: _pick(g, y < x, x == y))
defjvp(minimum_p, lambda t, ans, x, y: _pick(t, x < y, x == y),
       lambda t, ans, x, y: _pick(t, y < x, x == y))
fmax_p = new_primitive("fmax", np.fmax)
defvjp(fmax_p, lambda g, ans, x, y: _pick(g, _wins_max(x, y), equal(x, y)),
       lambda g, ans, x, y: _pick(g, _wins_max(y, x), equal(x, y)))
defjvp(fmax_p, lambda t, ans, x, y: _pick(t, _wins_max(x, y), equal(x, y)),
       lambda t, ans, x, y: _pick(t, _wins_max(y, x), equal(x, y)))
fmin_p = new_primitive("fmin", np.fmin)
defvjp(fmin_p, lambda g, ans, x, y: _pick(g, _wins_min(x, y), equal(x, y)),
       lambda g, ans, x, y: _pick(g, _wins_min(y, x), equal(x, y)))
defjvp(fmin_p, lambda t, ans, x, y: _pick(t, _wins_min(x, y), equal(x, y)),
       lambda t, ans, x, y: _pick(t, _wins_min(y, x), equal(x, y)))

# fmt: off
maximum  = wrap_binary("maximum",  np.maximum,  maximum_p)
minimum  = wrap_binary("minimum",  np.minimum,  minimum_p)
fmax     = wrap_binary("fmax", np.fmax,   fmax_p)
fmin     = wrap_binary("fmin", np.fmin,   fmin_p)
hypot    = binary("hypot",    np.hypot,    lambda ans, x, y: _hypot_d(ans, x),
                                           lambda ans, x, y: _hypot_d(ans, y))
# -y, not negative(y): y may be a Python number (weak), and negative(1.0) is a float64 scalar
arctan2  = binary("arctan2",  np.arctan2,  lambda ans, y, x: x / (x * x + y * y),
                                           lambda ans, y, x: -y / (x * x + y * y))
logaddexp  = binary("logaddexp",  np.logaddexp,  lambda ans, x, y: _weight(x - y),
                                                 lambda ans, x, y: _weight(y - x))
logaddexp2 = binary("logaddexp2", np.logaddexp2, lambda ans, x, y: _weight((x - y) * _LN2),
                                                 lambda ans, x, y: _weight((y - x) * _LN2))
fmod      = binary("fmod",      np.fmod,      lambda ans, x, y: 1.0,
                                              lambda ans, x, y: negative(_quotient(ans, x, y)))
remainder = binary("remainder", np.remainder, lambda ans, x, y: 1.0,
                                              lambda ans, x, y: negative(_quotient(ans, x, y)))
mod = remainder

# the leaner forms of the rules above that the backward pass calls (reverse.EAGER_VJP): the
# same expressions, one call
defvjp_lean(PRIMITIVES["exp"], lambda g, ans, args, params, parents: (g * ans,))
defvjp_lean(PRIMITIVES["log"], lambda g, ans, args, params, parents: (g * (1.0 / args[0]),))
defvjp_lean(PRIMITIVES["divide"], lambda g, ans, args, params, parents: (
    None if parents[0] is None else g * (1.0 / args[1]),
    None if parents[1] is None else g * negative(ans / args[1]),
))


def _pick_plain(g: np.ndarray, wins: Any) -> Any:
    """:func:`_pick` for a plain ``g`` and ``wins`` when there is no tie (the same steps)."""
    if not np.count_nonzero(wins):
        return zero
    out = g * wins
    if not np.count_nonzero(np.isnan(out)):
        return out
    return where(wins, g, 0.0)


def _extremum_eager(wins: Any) -> Any:
    def rule(g: Any, ans: Any, args: tuple, params: dict, parents: tuple) -> tuple:
        x, y = args
        ties = x == y  # computed once for both arguments
        if type(g) is np.ndarray and type(ties) is np.ndarray and not np.count_nonzero(ties):
            # plain values and no tie: _pick's first case, without its tests
            return (None if parents[0] is None else _pick_plain(g, wins(x, y)),
                    None if parents[1] is None else _pick_plain(g, wins(y, x)))
        return (None if parents[0] is None else _pick(g, wins(x, y), ties),
                None if parents[1] is None else _pick(g, wins(y, x), ties))

    return rule


# (np.greater(a, b) is a > b for NumPy values and traced ones, without a lambda's frame)
defvjp_lean(maximum_p, _extremum_eager(np.greater))
defvjp_lean(minimum_p, _extremum_eager(np.less))

greater       = binary("greater",       np.greater,       None, None)
greater_equal = binary("greater_equal", np.greater_equal, None, None)
less          = binary("less",          np.less,          None, None)
less_equal    = binary("less_equal",    np.less_equal,    None, None)
equal         = binary("equal",         np.equal,         None, None)
not_equal     = binary("not_equal",     np.not_equal,     None, None)
# fmt: on


def _hypot_d(ans: Any, x: Any) -> Any:
    """``x / hypot``: the derivative of ``hypot`` in ``x``; 0 at the origin, and so are all
    the higher derivatives there (the outer ``where`` selects a constant)."""
    at_zero = equal(ans, 0)
    return where(at_zero, 0.0, x / where(at_zero, 1.0, ans))


def _weight(z: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-z))``: ``logaddexp``'s derivative in ``x`` for
    ``z = x - y``. Written so that no exponential overflows (then no derivative of it is NaN)
    and exact at ties (``exp(x - ans)`` would carry the rounding of ``ans``)."""
    return exp(minimum(z, 0.0)) / (1.0 + exp(negative(absolute(z))))


def _quotient(ans: Any, x: Any, y: Any) -> Any:
    """The integer ``q`` with ``ans == x - q * y`` (a constant): ``fmod``'s and ``remainder``'s
    derivative in ``y`` is ``-q``."""
    return rint((x - ans) / y)


# add and subtract: cotangents pass through (broadcasting is undone by broadcast_to)
def _fit(ct: Any, x: Any) -> Any:
    """The cotangent ``ct`` of an operand ``x`` of a binary operation, summed over the axes that
    broadcasting added (the eager tape applies add, subtract and multiply to operands of
    different shapes as NumPy broadcasts them: ``reverse.BROADCASTING``)."""
    try:  # shape_of, for values that have the attribute
        sx = x.shape
        if ct.shape == sx:
            return ct
    except AttributeError:
        sx = shape_of(x)
        if shape_of(ct) == sx:
            return ct
    return lax.unbroadcast(ct, sx)


add_p = new_primitive("add", np.add)
defvjp(add_p, lambda g, ans, x, y: _fit(g, x), lambda g, ans, x, y: _fit(g, y))
defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
add = wrap_binary("add", np.add, add_p)

subtract_p = new_primitive("subtract", np.subtract)
# (the sum over broadcast axes first, then the negation: the same values, on fewer entries)
defvjp(subtract_p, lambda g, ans, x, y: _fit(g, x), lambda g, ans, x, y: negative(_fit(g, y)))


def _subtract_jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
    # tx - ty in one operation (not tx + negative(ty): one array less); the operands have
    # one shape here (only the top-level tape records broadcasting operands, and it has no
    # forward rules to run)
    tx, ty = tangents
    if ty is zero:
        return tx
    if tx is zero:
        return negative(ty)
    return subtract(tx, ty)


defjvp_joint(subtract_p, _subtract_jvp)
subtract = wrap_binary("subtract", np.subtract, subtract_p)


# the lean rules (reverse.EAGER_VJP): the rules above, with _fit's identity case (a NumPy
# operand and cotangent of one shape) tested first
_SHAPED = frozenset((np.ndarray, np.float64, np.float32, np.complex128, np.complex64))


def _fitted(c: Any, like: Any) -> Any:
    """``_fit(c, like)``, with its identity case (a NumPy value of ``like``'s shape) inline."""
    t = type(like)
    if t is type(c) and t in _SHAPED and c.shape == like.shape:
        return c
    return _fit(c, like)


def _add_lean(g: Any, ans: Any, args: tuple, params: dict, parents: tuple) -> tuple:
    return (None if parents[0] is None else _fitted(g, args[0]),
            None if parents[1] is None else _fitted(g, args[1]))


def _subtract_lean(g: Any, ans: Any, args: tuple, params: dict, parents: tuple) -> tuple:
    return (None if parents[0] is None else _fitted(g, args[0]),
            None if parents[1] is None else negative(_fitted(g, args[1])))


defvjp_lean(add_p, _add_lean)
defvjp_lean(subtract_p, _subtract_lean)


def _mul_vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
    """multiply's reverse rule (lax.mul_p), with the sum over broadcast axes: ``g * y`` for
    ``x``, ``g * x`` for ``y``. For a value times itself (``x * x``: one object, so one value)
    the two are the same array, computed once: each argument receives it, and their sum is
    the value the two products gave. Its own lean form (``needs`` may be the parents)."""
    x, y = args
    if x is y and needs[0] and needs[1]:
        ct = _fitted(g * x, x)
        return ct, ct
    return (_fitted(g * y, x) if needs[0] else None, _fitted(g * x, y) if needs[1] else None)


defvjp_joint(lax.mul_p, _mul_vjp)
defvjp_lean(lax.mul_p, _mul_vjp)
BROADCASTING.update((add_p, subtract_p, lax.mul_p))


def _power_dx(ans: Any, x: Any, y: Any) -> Any:
    if type(y) is int or type(y) is float:  # a constant exponent: the common x**2, x**1
        if y == 2:
            return x * 2
        if y == 1:
            return backends.zeros(shape_of(x), dtype_of(x), like=x) + 1
        if y == 0:  # x**0 is the constant 1, also at x == 0
            return backends.zeros(shape_of(x), dtype_of(x), like=x)
        return y * power(x, y - 1)
    # y x**(y-1), but 0 where y == 0 (also at x == 0, where 0 * 0**-1 would be NaN): there
    # the exponent is replaced by 1, so that no infinity appears at any order
    return y * power(x, where(equal(y, 0), 1, y - 1))


def _power_dy(ans: Any, x: Any, y: Any) -> Any:
    # d/dy x**y = x**y log x; taken as 0 where x == 0 (the limit from the right when y > 0)
    safe = where(equal(x, 0), 1, x)
    if not isinstance(safe, Tracer):  # a constant base (2.0 ** y): in the result's dtype
        safe = as_array(safe, dtype_of(ans))
    return ans * log(safe)


power = binary("power", np.power, _power_dx, _power_dy)


def _copysign_dx(ans: Any, x: Any) -> Any:
    """+1 where ``copysign`` kept the sign of ``x``, -1 where it flipped it."""
    return 1.0 - 2.0 * _mask(not_equal(signbit(ans), signbit(x)), x)


copysign_p = new_primitive("copysign", np.copysign)
defvjp(copysign_p, lambda g, ans, x, y: g * _copysign_dx(ans, x), _no_derivative)
defjvp(copysign_p, lambda t, ans, x, y: t * _copysign_dx(ans, x), _no_derivative)
copysign = wrap_binary("copysign", np.copysign, copysign_p)


# ----------------------------------------------------------------------------- sinc

# sinc'(x) = sum_k c_k x**(2k-1), c_k = (-1)**k 2k pi**(2k) / (2k+1)!, used for |x| < 0.1
# where (cos(pi x) - sinc(x)) / x would cancel; the series is differentiable to any order.
_SINC_SERIES = [(-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1)
                for k in range(1, 9)]


def _sinc_derivative(ans: Any, x: Any) -> Any:
    small = less(absolute(x), 0.1)
    safe = where(small, 1.0, x)  # keeps the unused branch finite, so its derivatives are too
    direct = (cos(math.pi * safe) - ans) / safe
    x2 = x * x
    series = _SINC_SERIES[-1]
    for c in reversed(_SINC_SERIES[:-1]):
        series = series * x2 + c
    return where(small, series * x, direct)


sinc = unary("sinc", np.sinc, _sinc_derivative)


# ----------------------------------------------------------------------------- ldexp

ldexp_p = new_primitive("ldexp", np.ldexp)
deflinear(ldexp_p, lambda g, x, i: ldexp(g, i))
defbatch(ldexp_p, batch_elementwise(ldexp_p, dtypes=False))  # the exponent stays an integer


@implements(np.ldexp)
def ldexp(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.ldexp``: ``x1 * 2**x2`` for integer ``x2`` (linear in ``x1``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.ldexp(np.array([1.5]), 3)
        array([12.])
    """
    if not (isinstance(x1, Tracer) or isinstance(x2, Tracer)):
        return np.ldexp(x1, x2, **kwargs)
    _check_kwargs("ldexp", kwargs)
    if isinstance(x2, Tracer) and x2.dtype.kind not in "iu":
        raise TypeError(
            f"pullback.numpy.ldexp: argument 1 (x2) must be an integer exponent, got a traced "
            f"value of dtype {x2.dtype}; use x1 * pnp.exp2(x2) to differentiate in the exponent"
        )
    if not isinstance(x1, Tracer):  # only the (integer) exponent is traced: no derivative
        x1 = np.asarray(x1)
    shape = np.broadcast_shapes(x1.shape, shape_of(x2))
    if x1.shape != shape:
        x1 = broadcast_to(x1, shape)
    return ldexp_p.bind(x1, x2)


# ----------------------------------------------------------------------------- two outputs


@implements(np.modf)
def modf(x: Any, /, **kwargs: Any) -> tuple[Any, Any]:
    """Differentiable ``numpy.modf``: ``(x - trunc(x), trunc(x))``; the integral part is a
    constant, the fractional part has derivative 1.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.modf(np.array([2.5, -1.25]))
        (array([ 0.5 , -0.25]), array([ 2., -1.]))
    """
    if not isinstance(x, Tracer):
        return np.modf(x, **kwargs)
    _check_kwargs("modf", kwargs)
    whole = trunc(x)
    return x - whole, whole


@implements(np.frexp)
def frexp(x: Any, /, **kwargs: Any) -> tuple[Any, Any]:
    """Differentiable ``numpy.frexp``: ``(mantissa, exponent)`` with ``x = mantissa * 2**exponent``;
    the mantissa is ``ldexp(x, -exponent)`` (the exponent is a constant).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.frexp(np.array([8.0, 0.75]))
        (array([0.5 , 0.75]), array([4, 0], dtype=int32))
    """
    if not isinstance(x, Tracer):
        return np.frexp(x, **kwargs)
    _check_kwargs("frexp", kwargs)
    exponent = _frexp_exponent(x)
    return ldexp(x, negative(exponent)), exponent


_frexp_exponent = nondiff_function("frexp_exponent", lambda x: np.frexp(x)[1],
                                   batch_elementwise)


@implements(np.divmod)
def divmod(x1: Any, x2: Any, /, **kwargs: Any) -> tuple[Any, Any]:
    """Differentiable ``numpy.divmod``: ``(floor_divide(x1, x2), remainder(x1, x2))``; the
    quotient is a constant.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.divmod(np.array([7.0, -7.0]), 2.0)
        (array([ 3., -4.]), array([1., 1.]))
    """
    if not (isinstance(x1, Tracer) or isinstance(x2, Tracer)):
        return np.divmod(x1, x2, **kwargs)
    _check_kwargs("divmod", kwargs)
    return floor_divide(x1, x2), remainder(x1, x2)


# ----------------------------------------------------------------------------- composites


@implements(np.float_power)
def float_power(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.float_power``: ``power`` computed in float64.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.float_power(np.float32(2.0), 3).dtype
        dtype('float64')
    """
    if not (isinstance(x1, Tracer) or isinstance(x2, Tracer)):
        return np.float_power(x1, x2, **kwargs)
    _check_kwargs("float_power", kwargs)
    wide = result_dtype(x1, x2, np.float64)
    return power(astype(x1, wide), astype(x2, wide))


@implements(np.positive)
def positive(x: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.positive`` (``+x``): the identity.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.positive(np.array([-1.0]))
        array([-1.])
    """
    if not isinstance(x, Tracer):
        return np.positive(x, **kwargs)
    _check_kwargs("positive", kwargs)
    return x


_NOVALUE = getattr(np, "_NoValue", None)


@implements(np.clip)
def clip(a: Any, a_min: Any = _NOVALUE, a_max: Any = _NOVALUE, out: Any = None, *,
         min: Any = _NOVALUE, max: Any = _NOVALUE, **kwargs: Any) -> Any:
    """Differentiable ``numpy.clip``: ``minimum(maximum(a, a_min), a_max)``.

    Differentiable in ``a`` and in the bounds; where ``a`` equals a bound each gets 1/2 (the
    ``maximum``/``minimum`` convention).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.clip(np.array([-2.0, 0.5, 3.0]), 0.0, 1.0)
        array([0. , 0.5, 1. ])
    """
    lo = min if a_min is _NOVALUE else a_min
    hi = max if a_max is _NOVALUE else a_max
    lo = None if lo is _NOVALUE else lo
    hi = None if hi is _NOVALUE else hi
    if not any(isinstance(v, Tracer) for v in (a, lo, hi)):
        return np.clip(a, lo, hi, out=out, **kwargs)
    _check_kwargs("clip", {"out": out, **kwargs})
    if lo is None and hi is None:
        raise ValueError("pullback.numpy.clip: at least one of a_min and a_max must be given")
    result = a
    if lo is not None:
        result = maximum(result, lo)
    if hi is not None:
        result = minimum(result, hi)
    return result


@implements(np.nan_to_num)
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """Differentiable ``numpy.nan_to_num``: derivative 1 at finite entries, 0 at replaced ones.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.nan_to_num(np.array([np.nan, 1.0, np.inf]), posinf=9.0)
        array([0., 1., 9.])
    """
    if not isinstance(x, Tracer):
        return np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    if x.dtype.kind == "c":  # NumPy replaces in the real and imaginary parts separately
        parts = [nan_to_num(part, copy, nan, posinf, neginf) for part in (real(x), imag(x))]
        return astype(parts[0], x.dtype) + parts[1] * 1j
    if x.dtype.kind != "f":
        raise TypeError(
            f"pullback.numpy.nan_to_num: traced values of dtype {x.dtype} carry no derivative; "
            "pass floating-point or complex values"
        )
    big = np.finfo(x.dtype)
    high = np.asarray(big.max if posinf is None else posinf, x.dtype)
    low = np.asarray(big.min if neginf is None else neginf, x.dtype)
    replaced = where(isnan(x), np.asarray(nan, x.dtype), where(greater(x, 0), high, low))
    return where(isfinite(x), x, replaced)


# Complex values (for real-valued functions of real inputs, as FFTs produce): a cotangent g
# of a complex value pairs with a tangent t as Re(sum(g * t)), JAX's convention, so rules of
# holomorphic functions (g * f'(z)) hold unchanged, and these three are linear with:
#   real: t -> Re t, transpose g -> g + 0j;  imag: t -> Im t, transpose g -> -1j * g;
#   conjugate: transpose g -> conj(g).
imag_p = new_primitive("imag", np.imag)
deflinear(imag_p, lambda g, x: multiply(astype(g, dtype_of(x)), -1j))
defbatch(imag_p, batch_elementwise(imag_p))
conjugate_p = new_primitive("conjugate", np.conjugate)
deflinear(conjugate_p, lambda g, x: conjugate(g))
defbatch(conjugate_p, batch_elementwise(conjugate_p))


def _abs_vjp(g: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        return g * sign(x)
    # d|z| = Re(conj(z) dz) / |z|: the cotangent is g conj(z) / |z| (0 at z = 0)
    return astype(g, dtype_of(x)) * conjugate(x) / where(equal(ans, 0), 1.0, ans)


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        return t * sign(x)
    return real(conjugate(x) * t) / where(equal(ans, 0), 1.0, ans)


absolute_p = new_primitive("absolute", np.absolute)
defvjp(absolute_p, _abs_vjp)
defjvp(absolute_p, _abs_jvp)
absolute = wrap_unary("absolute", np.absolute, absolute_p)
abs = absolute


@implements(np.real)
def real(val: Any) -> Any:
    """Differentiable ``numpy.real``: the real part (the identity for real arrays).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.real(np.array([1.5 + 2.0j]))
        array([1.5])
    """
    if not isinstance(val, Tracer):
        return np.real(val)
    return lax.real(val)


@implements(np.imag)
def imag(val: Any) -> Any:
    """Differentiable ``numpy.imag``: the imaginary part (zeros, a constant, for real arrays).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.imag(np.array([1.5 + 2.0j]))
        array([2.])
    """
    if not isinstance(val, Tracer):
        return np.imag(val)
    if val.dtype.kind == "c":
        return imag_p.bind(val)
    return backends.zeros(val.shape, val.dtype, like=val)


@implements(np.conjugate)
def conjugate(x: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.conjugate`` (``numpy.conj``; the identity for real arrays).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.conj(np.array([1.5 + 2.0j]))
        array([1.5-2.j])
    """
    if not isinstance(x, Tracer):
        return np.conjugate(x, **kwargs)
    _check_kwargs("conjugate", kwargs)
    return conjugate_p.bind(x) if x.dtype.kind == "c" else x


conj = conjugate


@implements(np.sign)
def sign(x: Any, /, **kwargs: Any) -> Any:
    """``numpy.sign``: piecewise constant for real values (no derivative: a constant to every
    transformation); for complex values ``z / |z|`` (0 at 0), which is differentiable away
    from 0, with derivative 0 at 0.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> pnp.sign(np.array([-2.0, 0.0, 3.0 + 4.0j]))
        array([-1. +0.j ,  0. +0.j ,  0.6+0.8j])
        >>> pb.grad(lambda x: pnp.sum(pnp.sign(x) * x))(np.array([-2.0, 3.0]))
        array([-1.,  1.])
    """
    if not (isinstance(x, Tracer) and x.dtype.kind == "c"):
        return _sign_real(x, **kwargs)
    _check_kwargs("sign", kwargs)
    magnitude = absolute(x)
    at_zero = equal(magnitude, 0)
    return where(at_zero, 0, x / where(at_zero, 1.0, magnitude))


# ----------------------------------------------------------------------------- where


def _choice(v: Any, dtype: np.dtype) -> Any:
    """A constant choice of ``where`` in ``dtype``: a Python number as a NumPy scalar (which
    every array library takes; CuPy refuses 0-d NumPy arrays among its operands)."""
    if type(v) in (bool, int, float, complex):
        return dtype.type(v)
    return v.astype(dtype) if isinstance(v, np.generic) else as_array(v, dtype)

where_p = new_primitive("where", np.where)
defvjp(
    where_p,
    None,
    lambda g, ans, c, x, y: where_p.bind(c, g, dtype_of(g).type(0)),
    lambda g, ans, c, x, y: where_p.bind(c, dtype_of(g).type(0), g),
)
defjvp(
    where_p,
    None,
    lambda t, ans, c, x, y: where_p.bind(c, t, dtype_of(t).type(0)),
    lambda t, ans, c, x, y: where_p.bind(c, dtype_of(t).type(0), t),
)


def _where_batch(vals: list, batched: list, params: dict, size: int) -> Any:
    """Align the ranks after the batch axis, then give both choices one dtype and the full
    shape, as the wrapper does (its rules rely on it); the condition broadcasts."""
    rank = max(len(shape_of(v)) - b for v, b in zip(vals, batched, strict=True))
    aligned = []
    for v, b in zip(vals, batched, strict=True):
        s = tuple(shape_of(v))
        if b and len(s) - 1 < rank:
            v = lax.reshape(v, (size,) + (1,) * (rank - len(s) + 1) + s[1:])
        elif not b and s:  # a 0-d one broadcasts as it is (a Python number stays one)
            v = lax.reshape(v, (1,) * (rank + 1 - len(s)) + s)
        aligned.append(v)
    full = np.broadcast_shapes(*(tuple(shape_of(v)) for v in aligned))
    c, x, y = aligned
    x, y = promote(x, y)
    x = broadcast_to(x, full) if isinstance(x, Tracer) else x
    y = broadcast_to(y, full) if isinstance(y, Tracer) else y
    return where_p.bind(c, x, y)


defbatch(where_p, _where_batch)


@implements(np.where)
def where(condition: Any, x: Any = None, y: Any = None, /) -> Any:
    """Differentiable ``numpy.where(condition, x, y)`` (in ``x`` and ``y``).

    The condition is a constant: each entry's derivative is that of the choice it takes, and
    the choice not taken gets a cotangent of exactly 0. As in JAX, that 0 still meets the
    derivative of the computation behind the choice not taken: where that computation has a
    NaN or infinite derivative (``sqrt`` of a negative number, ``log`` at 0), reverse mode
    gives NaN (0 * NaN), although the value and forward mode are right. Keep both choices
    finite by making the input safe first (the "double where")::

        safe = pnp.where(x > 0, x, 1.0)
        y = pnp.where(x > 0, pnp.log(safe), 0.0)   # finite derivatives, every mode and order

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> pnp.where(np.array([True, False]), 1.0, np.array([5.0, 6.0]))
        array([1., 6.])
        >>> x = np.array([-1.0, 4.0])
        >>> pb.grad(lambda x: pnp.sum(pnp.where(x > 0, pnp.sqrt(pnp.where(x > 0, x, 1.0)),
        ...                                     0.0)))(x)
        array([0.  , 0.25])
    """
    if x is None and y is None:
        return nonzero(condition)
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        if not isinstance(condition, Tracer):
            if type(condition) is not np.ndarray:  # constant choices in its library
                x, y = _into_library(condition, x, y)
            return np.where(condition, x, y)
        condition = stop_gradient(condition)
        if not isinstance(condition, Tracer):
            if type(condition) is not np.ndarray:  # constant choices in its library
                x, y = _into_library(condition, x, y)
            return np.where(condition, x, y)
        # a condition traced by a transformation that does not differentiate (vmap, jit):
        # the selection itself is the operation to record
        dtype = result_dtype(x, y)  # Python scalars stay weak, as in np.where
        x, y = as_array(x), as_array(y)
        shape = np.broadcast_shapes(condition.shape, x.shape, y.shape)
        x, y = np.broadcast_to(x.astype(dtype), shape), np.broadcast_to(y.astype(dtype), shape)
        if condition.dtype != np.bool_:
            condition = astype(condition, np.bool_)
        return where_p.bind(broadcast_to(condition, shape), x, y)
    if isinstance(condition, Tracer) or result_dtype(condition) != np.bool_:
        condition = astype(condition, np.bool_)
    if not isinstance(condition, Tracer):
        condition = as_array(condition)
    x, y = promote(x, y)
    # the constant choice (a Python number...) in the traced one's dtype, which promote gave
    # the common dtype: every transformation then sees one dtype (float32 stays float32)
    like = x if isinstance(x, Tracer) else y
    x = x if isinstance(x, Tracer) else _choice(x, like.dtype)
    y = y if isinstance(y, Tracer) else _choice(y, like.dtype)
    shape = np.broadcast_shapes(condition.shape, np.shape(x) if not isinstance(x, Tracer)
                                else x.shape, np.shape(y) if not isinstance(y, Tracer) else y.shape)

    x = broadcast_to(x, shape) if isinstance(x, Tracer) and x.shape != shape else x
    y = broadcast_to(y, shape) if isinstance(y, Tracer) and y.shape != shape else y
    if not backends.numpy_based(like):  # constants in like's library
        condition, x, y = _into_library(like, condition, x, y)
    return where_p.bind(condition, x, y)


def _into_library(like: Any, *values: Any) -> tuple:
    """``values`` with the NumPy arrays among them (constants: a mask, a fill value) moved
    into the library of ``like`` (an array or traced value of another library)."""
    return tuple(backends.constant(v, like) if type(v) is np.ndarray else v for v in values)


# ----------------------------------------------------------------------------- conventions


def _convention(func: Any, text: str) -> None:
    """Add to ``func``'s docstring, before its example, its convention where it has no
    derivative (each has a test in ``tests/test_special_values.py``)."""
    if func.__doc__ is None:  # python -OO
        return
    head, sep, example = func.__doc__.partition("\n\nExample:")
    func.__doc__ = f"{head}\n\n{text}{sep}{example}"


_convention(sqrt, "At 0 the derivative is ``+inf`` (the one-sided limit, not NaN) and the "
            "second ``-inf``, in every mode. Complex input: the principal branch.")
_convention(power, "In ``x``: ``y * x**(y - 1)``, but 0 wherever ``y == 0``, also at "
            "``x == 0`` and at every order (``x**0`` is the constant 1; JAX's convention). At "
            "``x == 0``: 1 for ``y == 1``, 0 for ``y == 2`` (second derivative 2), 0 for an "
            "integer ``y > 2`` (``x**3``: third derivative 6), ``inf`` for ``0 < y < 1``. In "
            "``y``: ``x**y * log(x)``, taken as 0 where ``x == 0``. Holomorphic on complex "
            "input (the rules are computed in complex).")
_convention(hypot, "At the origin the derivative in both arguments is 0, and so are all the "
            "higher ones (``linalg.norm``'s convention at 0: the subgradient of least norm).")
_convention(arctan2, "At the origin ``(0, 0)`` the function jumps: its derivatives there are "
            "NaN, in every mode (as in JAX), not a number chosen for it.")


# ----------------------------------------------------------------------------- methods

# fmt: off
method("clip", lambda s, min=None, max=None: clip(s, min, max))
method("conj", lambda s: conjugate(s))
method("conjugate", lambda s: conjugate(s))
# a traced Python number (matrix_rank of a vector) stays one, weak, as NumPy's
method("real", property(python_number_part("real", lambda s: real(s))))
method("imag", property(python_number_part("imag", lambda s: imag(s))))
method("__mod__", python_number_operator("__mod__", lambda s, o: remainder(s, o)))
method("__rmod__", python_number_operator("__rmod__", lambda s, o: remainder(o, s)))
method("__divmod__", lambda s, o: divmod(s, o))
method("__rdivmod__", lambda s, o: divmod(o, s))
# fmt: on
