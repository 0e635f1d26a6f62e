"""Elementwise functions (NumPy's ufuncs): one line each, the derivative as a function of
``(ans, x[, y])`` written with pullback's own operations."""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback._core import Tracer, dtype_of
from pullback._rules import defjvp, deflinear, defvjp
from pullback.numpy._registry import binary, implements, new_primitive, promote, unary
from pullback.numpy.shape import astype

__all__ = [
    "abs", "absolute", "add", "cos", "divide", "equal", "exp", "expm1", "greater",
    "greater_equal", "less", "less_equal", "log", "log1p", "maximum", "minimum", "multiply",
    "negative", "not_equal", "power", "sign", "sin", "sqrt", "square", "subtract", "tan",
    "tanh", "true_divide", "where",
]


def _mask(cond: Any, like: Any) -> Any:
    """A boolean condition as 0/1 in ``like``'s dtype (a constant to every derivative)."""
    return astype(cond, dtype_of(like))


# fmt: off
negative_p = new_primitive("negative", np.negative)
deflinear(negative_p, lambda g, x: negative(g))
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
    return negative_p.bind(x)


implements(np.negative)(negative)

# fmt: off
exp     = unary("exp",     np.exp,     lambda ans, x: ans)
expm1   = unary("expm1",   np.expm1,   lambda ans, x: ans + 1.0)
log     = unary("log",     np.log,     lambda ans, x: 1.0 / x)
log1p   = unary("log1p",   np.log1p,   lambda ans, x: 1.0 / (x + 1.0))
sin     = unary("sin",     np.sin,     lambda ans, x: cos(x))
cos     = unary("cos",     np.cos,     lambda ans, x: negative(sin(x)))
tan     = unary("tan",     np.tan,     lambda ans, x: 1.0 + ans * ans)
tanh    = unary("tanh",    np.tanh,    lambda ans, x: 1.0 - ans * ans)
sqrt    = unary("sqrt",    np.sqrt,    lambda ans, x: 0.5 / ans)
square  = unary("square",  np.square,  lambda ans, x: 2.0 * x)
absolute = unary("absolute", np.absolute, lambda ans, x: sign(x))
abs = absolute

sign    = unary("sign",    np.sign,    None)

multiply = binary("multiply", np.multiply, lambda ans, x, y: y, lambda ans, x, y: x)
divide   = binary("divide",   np.divide,   lambda ans, x, y: 1.0 / y,
                                           lambda ans, x, y: negative(ans / y))
true_divide = divide
maximum  = binary("maximum",  np.maximum,  lambda ans, x, y: _tie(x > y, x == y, ans),
                                           lambda ans, x, y: _tie(y > x, x == y, ans))
minimum  = binary("minimum",  np.minimum,  lambda ans, x, y: _tie(x < y, x == y, ans),
                                           lambda ans, x, y: _tie(y < x, x == y, ans))

greater       = binary("greater",       np.greater,       None, None)
greater_equal = binary("greater_equal", np.greater_equal, None, None)
less          = binary("less",          np.less,          None, None)
less_equal    = binary("less_equal",    np.less_equal,    None, None)
equal         = binary("equal",         np.equal,         None, None)
not_equal     = binary("not_equal",     np.not_equal,     None, None)
# fmt: on


def _tie(wins: Any, ties: Any, like: Any) -> Any:
    """Derivative of max/min with respect to one argument: 1 where it wins, 1/2 at ties."""
    return _mask(wins, like) + 0.5 * _mask(ties, like)


# add and subtract: cotangents pass through (broadcasting is undone by broadcast_to)
add_p = new_primitive("add", np.add)
defvjp(add_p, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
add = binary("add", np.add, None, None, prim=add_p)

subtract_p = new_primitive("subtract", np.subtract)
defvjp(subtract_p, lambda g, ans, x, y: g, lambda g, ans, x, y: negative(g))
defjvp(subtract_p, lambda t, ans, x, y: t, lambda t, ans, x, y: negative(t))
subtract = binary("subtract", np.subtract, None, None, prim=subtract_p)


def _power_dx(ans: Any, x: Any, y: Any) -> Any:
    return y * power(x, y - 1)


def _power_dy(ans: Any, x: Any, y: Any) -> Any:
    # d/dy x**y = x**y log x; taken as 0 where x == 0 (the limit from the right when y > 0)
    safe = where(equal(x, 0), 1.0, x)
    return ans * log(safe)


power = binary("power", np.power, _power_dx, _power_dy)


# ----------------------------------------------------------------------------- where

where_p = new_primitive("where", np.where)
defvjp(
    where_p,
    None,
    lambda g, ans, c, x, y: where_p.bind(c, g, np.zeros((), dtype_of(g))),
    lambda g, ans, c, x, y: where_p.bind(c, np.zeros((), dtype_of(g)), g),
)
defjvp(
    where_p,
    None,
    lambda t, ans, c, x, y: where_p.bind(c, t, np.zeros((), dtype_of(t))),
    lambda t, ans, c, x, y: where_p.bind(c, np.zeros((), dtype_of(t)), t),
)


@implements(np.where)
def where(condition: Any, x: Any = None, y: Any = None, /) -> Any:
    """Differentiable ``numpy.where(condition, x, y)`` (in ``x`` and ``y``).

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.where(np.array([True, False]), 1.0, np.array([5.0, 6.0]))
        array([1., 6.])
    """
    if x is None and y is None:
        from pullback.numpy._nondiff import nonzero

        return nonzero(condition)
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        if isinstance(condition, Tracer):
            from pullback._api import stop_gradient

            condition = stop_gradient(condition)
        return np.where(condition, x, y)
    if isinstance(condition, Tracer) or np.result_type(condition) != np.bool_:
        condition = astype(condition, np.bool_)
    x, y = promote(x, y)
    shape = np.broadcast_shapes(condition.shape, np.shape(x) if not isinstance(x, Tracer)
                                else x.shape, np.shape(y) if not isinstance(y, Tracer) else y.shape)
    from pullback.numpy.shape import broadcast_to

    x = broadcast_to(x, shape) if isinstance(x, Tracer) and x.shape != shape else x
    y = broadcast_to(y, shape) if isinstance(y, Tracer) and y.shape != shape else y
    return where_p.bind(condition, x, y)

