"""Random draws with traced parameters: pathwise (reparameterised) derivatives.

``numpy.random`` converts its arguments to plain arrays, so ``rng.normal(mu, sigma)`` with a
traced ``mu`` cannot carry a derivative (and NumPy gives no dispatch hook for a
``Generator``'s methods). These functions take the generator as their first argument and
draw as ``torch.distributions``' ``rsample`` does: the draw is a differentiable transform of
a standard draw, and the standard draw is a constant:

| function | the draw |
|---|---|
| ``normal(rng, loc, scale, size)`` | ``loc + scale * z``, ``z ~ N(0, 1)`` |
| ``uniform(rng, low, high, size)`` | ``low + (high - low) * u``, ``u ~ U[0, 1)`` |
| ``exponential(rng, scale, size)`` | ``scale * e``, ``e ~ Exp(1)`` |
| ``laplace(rng, loc, scale, size)`` | ``loc + scale * z``, ``z ~ Laplace(0, 1)`` |
| ``logistic(rng, loc, scale, size)`` | ``loc + scale * z``, ``z ~ Logistic(0, 1)`` |
| ``gumbel(rng, loc, scale, size)`` | ``loc + scale * z``, ``z ~ Gumbel(0, 1)`` |
| ``lognormal(rng, mean, sigma, size)`` | ``exp(mean + sigma * z)``, ``z ~ N(0, 1)`` |

So ``d normal / d loc = 1`` and ``d normal / d scale = z``: the derivative of *this* draw, as
a function of the parameters with the randomness held fixed. The standard draw comes from
the same generator with NumPy's own method, so the numbers are NumPy's for the same seed
and state: ``normal``, ``uniform``, ``exponential``, ``laplace``, ``logistic`` and
``gumbel`` equal ``rng.normal(loc, scale, size)`` (and so on) exactly, because NumPy
computes each of them as the same transform (``loc + scale * z``, rejection of the edge
values included); ``lognormal`` equals NumPy's to within one unit in the last place
(NumPy's C code calls the C library's ``exp``, pullback NumPy's vectorised ``numpy.exp``).
The generator advances as NumPy's call would advance it.

``permutation``, ``choice`` and ``shuffle`` of a traced ``x`` are gathers with a constant
index (the index NumPy's call would use), differentiable in ``x``. A derivative with
respect to ``choice``'s probabilities ``p`` is not pathwise (the draw is discrete) and
raises an error that names the alternatives.

``rng`` is a ``numpy.random.Generator``, a ``numpy.random.RandomState``, or ``None`` (or
the ``numpy.random`` module): NumPy's global state, which the legacy functions
``np.random.normal(...)`` use. Without a traced argument each function is NumPy's own call.
Each call draws new numbers, as NumPy does: to compare derivatives with finite
differences, seed a fresh generator inside the function. Under ``pb.jit`` and ``pb.vmap``
the functions raise (a compiled function would replay one draw on every call; under
``vmap`` one draw would be shared by every entry): draw the standard numbers outside and
pass them in.

Calling ``rng.normal(mu, sigma)`` itself with a traced ``mu`` raises
``pb.TracerConversionError``, whose message names the function of this module to call.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> def draw(mu, sigma):
    ...     return pnp.random.normal(np.random.default_rng(0), mu, sigma, size=3)
    >>> z = np.random.default_rng(0).standard_normal(3)
    >>> bool(np.all(draw(1.0, 2.0) == np.random.default_rng(0).normal(1.0, 2.0, 3)))
    True
    >>> bool(np.allclose(pb.jacfwd(draw, argnums=1)(1.0, 2.0), z))
    True
"""

from __future__ import annotations

import ast
import builtins
import linecache
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import trace as _trace
from pullback.core.trace import Tracer, shape_of, trace_state
from pullback.numpy.elementwise import add, exp, multiply, subtract
from pullback.numpy.shape import take

__all__ = [
    "choice",
    "exponential",
    "gumbel",
    "laplace",
    "logistic",
    "lognormal",
    "normal",
    "permutation",
    "shuffle",
    "uniform",
]

#: what ``rng`` may be
Generator = np.random.Generator | np.random.RandomState | types.ModuleType | None
#: ``size`` as NumPy takes it
Size = int | tuple[int, ...] | None


# ----------------------------------------------------------------------------- helpers


def _generator(rng: Any, who: str) -> np.random.Generator | np.random.RandomState:
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if rng is None or rng is np.random:
        return np.random.mtrand._rand  # the legacy functions' global RandomState
    raise TypeError(
        f"pullback.numpy.random.{who}: rng must be a numpy.random.Generator "
        "(np.random.default_rng(seed)), a numpy.random.RandomState, or None for NumPy's "
        f"global state; got {type(rng).__name__}"
    )


def _chain(x: Any) -> list[str]:
    """The tracer classes ``x`` is a value of, innermost first."""
    kinds = []
    while isinstance(x, Tracer):
        kinds.append(type(x).__name__)
        x = x._primal
    return kinds


def _concrete(x: Any) -> Any:
    """The number a (possibly traced) value stands for."""
    while isinstance(x, Tracer):
        x = x._primal
    return x


def _refuse_transformations(who: str, *values: Any) -> None:
    """Draws cannot be compiled (they would be replayed) or batched (they would be shared)."""
    if any(type(t).__name__ == "GraphTrace" for t in trace_state.stack):
        raise NotImplementedError(
            f"pullback.numpy.random.{who} under pb.jit: the numbers would be drawn once, "
            "while jit traces, and the compiled function would return the same draw on "
            "every call. Draw the standard numbers outside and pass them in as an "
            "argument: eps = rng.standard_normal(shape) outside, loc + scale * eps inside"
        )
    if any("BatchTracer" in _chain(v) for v in values):
        raise NotImplementedError(
            f"pullback.numpy.random.{who} under vmap: one draw would be shared by every "
            "entry, where a loop over the entries would draw new numbers for each. Draw "
            "the standard numbers outside with the batch axis (eps = "
            "rng.standard_normal((n,) + shape)) and vmap over loc + scale * eps"
        )


def _draw_shape(who: str, size: Size, params: dict[str, Any]) -> tuple[int, ...]:
    shapes = [shape_of(v) for v in params.values()]
    try:
        full = np.broadcast_shapes(*shapes)
        if size is None:
            return full
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        if np.broadcast_shapes(size, full) != size:
            raise ValueError
    except ValueError:
        described = ", ".join(f"{k} of shape {s}" for k, s in zip(params, shapes, strict=True))
        raise ValueError(
            f"pullback.numpy.random.{who}: {described} cannot be broadcast to "
            f"{'one shape' if size is None else f'size {size}'}, as NumPy requires"
        ) from None
    return size


def _check_nonnegative(who: str, name: str, value: Any) -> None:
    if np.any(np.less(_concrete(value), 0)):
        raise ValueError(f"pullback.numpy.random.{who}: {name} < 0")


def _standard_draw(who: str, rng: Any, params: dict[str, Any], size: Size, method: str,
                   *standard: float, nonnegative: str | None = None) -> tuple[Any, Any]:
    """NumPy's own draw ``who`` of the ``params`` when none is traced (``(draw, None)``);
    else ``(None, z)`` with ``z`` the standard draw (NumPy's ``method`` with the arguments
    ``standard``) of the result's shape, after checking that ``nonnegative`` is not < 0."""
    gen = _generator(rng, who)
    values = list(params.values())
    if not any(isinstance(v, Tracer) for v in values):
        return getattr(gen, who)(*values, size), None
    _refuse_transformations(who, *values)
    if nonnegative is not None:
        _check_nonnegative(who, nonnegative, params[nonnegative])
    shape = _draw_shape(who, size, params)
    return None, getattr(gen, method)(*standard, size=shape)


# ----------------------------------------------------------------------------- location-scale


def _location_scale_draw(who: str, family: str, example: str) -> Callable[..., Any]:
    """The public draw ``who`` of a location-scale family: ``loc + scale * z`` with ``z``
    NumPy's standard draw of the ``family``; ``example`` ends its docstring."""

    def draw(rng: Generator, loc: Any = 0.0, scale: Any = 1.0, size: Size = None) -> Any:
        out, z = _standard_draw(who, rng, {"loc": loc, "scale": scale}, size, who, 0.0, 1.0,
                                nonnegative="scale")
        return out if z is None else add(loc, multiply(scale, z))

    draw.__name__ = draw.__qualname__ = who
    draw.__doc__ = f"""``rng.{who}(loc, scale, size)``, differentiable in ``loc`` and ``scale``:
``loc + scale * z`` with ``z`` NumPy's standard {family} draw (the same numbers).

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
{textwrap.indent(example, "    ")}"""
    return draw


normal = _location_scale_draw("normal", "normal", """\
>>> g = pb.grad(lambda s: pnp.random.normal(np.random.default_rng(1), 0.0, s))(2.0)
>>> bool(g == np.random.default_rng(1).standard_normal())
True""")
laplace = _location_scale_draw("laplace", "Laplace", """\
>>> pb.grad(lambda m: pnp.random.laplace(np.random.default_rng(0), m, 1.0))(0.5)
np.float64(1.0)""")
logistic = _location_scale_draw("logistic", "logistic", """\
>>> g = pb.grad(lambda s: pnp.random.logistic(np.random.default_rng(2), 0.0, s))(3.0)
>>> bool(g == np.random.default_rng(2).logistic())
True""")
gumbel = _location_scale_draw("gumbel", "Gumbel", """\
>>> g = pb.grad(lambda s: pnp.random.gumbel(np.random.default_rng(3), 1.0, s))(2.0)
>>> bool(g == np.random.default_rng(3).gumbel())
True""")


def lognormal(rng: Generator, mean: Any = 0.0, sigma: Any = 1.0, size: Size = None) -> Any:
    """``rng.lognormal(mean, sigma, size)``, differentiable in ``mean`` and ``sigma``:
    ``exp(mean + sigma * z)`` with ``z`` NumPy's standard normal draw (NumPy's numbers to
    within one unit in the last place: NumPy's C code uses the C library's ``exp``).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> x, dx = pb.jvp(lambda m: pnp.random.lognormal(np.random.default_rng(0), m, 0.5),
        ...                (0.0,), (1.0,))
        >>> bool(x == dx)   # d exp(m + s z) / dm is the draw itself
        True
    """
    out, z = _standard_draw("lognormal", rng, {"mean": mean, "sigma": sigma}, size, "normal",
                            0.0, 1.0, nonnegative="sigma")
    return out if z is None else exp(add(mean, multiply(sigma, z)))


def uniform(rng: Generator, low: Any = 0.0, high: Any = 1.0, size: Size = None) -> Any:
    """``rng.uniform(low, high, size)``, differentiable in ``low`` and ``high``:
    ``low + (high - low) * u`` with ``u`` NumPy's draw on ``[0, 1)`` (the same numbers), so
    ``d/d low = 1 - u`` and ``d/d high = u``.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> u = np.random.default_rng(0).random()
        >>> g = pb.grad(lambda b: pnp.random.uniform(np.random.default_rng(0), 0.0, b))(5.0)
        >>> bool(g == u)
        True
    """
    params = {"low": low, "high": high}
    out, u = _standard_draw("uniform", rng, params, size, "uniform", 0.0, 1.0)
    return out if u is None else add(low, multiply(subtract(high, low), u))


def exponential(rng: Generator, scale: Any = 1.0, size: Size = None) -> Any:
    """``rng.exponential(scale, size)``, differentiable in ``scale``: ``scale * e`` with
    ``e`` NumPy's standard exponential draw (the same numbers).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> e = np.random.default_rng(0).standard_exponential()
        >>> g = pb.grad(lambda s: pnp.random.exponential(np.random.default_rng(0), s))(2.0)
        >>> bool(g == e)
        True
    """
    out, e = _standard_draw("exponential", rng, {"scale": scale}, size, "standard_exponential",
                            nonnegative="scale")
    return out if e is None else multiply(scale, e)


# ----------------------------------------------------------------------------- gathers


def _axis_length(who: str, x: Any, axis: int) -> tuple[int, int]:
    ndim = len(shape_of(x))
    if ndim < 1:
        raise IndexError(
            f"pullback.numpy.random.{who}: x must be an integer or at least 1-dimensional"
        )
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    axis %= ndim
    return shape_of(x)[axis], axis


def permutation(rng: Generator, x: Any, axis: int = 0) -> Any:
    """``rng.permutation(x, axis)``: ``x`` with its entries along ``axis`` permuted,
    differentiable in ``x`` (a gather by NumPy's permutation of the same seed).

    ``axis`` other than 0 needs a ``Generator``, as in NumPy.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> x = np.array([10.0, 20.0, 30.0])
        >>> pnp.random.permutation(np.random.default_rng(0), x)
        array([30., 10., 20.])
        >>> pb.jacrev(lambda x: pnp.random.permutation(np.random.default_rng(0), x))(x)
        array([[0., 0., 1.],
               [1., 0., 0.],
               [0., 1., 0.]])
    """
    gen = _generator(rng, "permutation")
    if not isinstance(x, Tracer):
        return gen.permutation(x) if axis == 0 else gen.permutation(x, axis=axis)
    _refuse_transformations("permutation", x)
    n, axis = _axis_length("permutation", x, axis)
    return take(x, gen.permutation(n), axis=axis)


def shuffle(rng: Generator, x: Any, axis: int = 0) -> None:
    """``rng.shuffle(x, axis)``: permute ``x`` in place along ``axis``; a traced ``x`` is
    rebound to its permutation (every name bound to it sees it, as NumPy's in-place shuffle
    would), differentiable in the values it held. Returns ``None``, as NumPy does.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> def shuffled(x):
        ...     y = x * 1.0
        ...     pnp.random.shuffle(np.random.default_rng(0), y)
        ...     return y
        >>> shuffled(np.array([10.0, 20.0, 30.0]))
        array([30., 10., 20.])
        >>> pb.grad(lambda x: shuffled(x)[0])(np.array([10.0, 20.0, 30.0]))
        array([0., 0., 1.])
    """
    gen = _generator(rng, "shuffle")
    if not isinstance(x, Tracer):
        gen.shuffle(x) if axis == 0 else gen.shuffle(x, axis=axis)
        return
    _refuse_transformations("shuffle", x)
    n, axis = _axis_length("shuffle", x, axis)
    x[...] = take(x, gen.permutation(n), axis=axis)


def choice(
    rng: Generator, a: Any, size: Size = None, replace: bool = True, p: Any = None,
    axis: int = 0, shuffle: bool = True,
) -> Any:
    """``rng.choice(a, size, replace, p, axis, shuffle)``, differentiable in the array ``a``
    (a gather by the indices NumPy draws for the same seed).

    The derivative with respect to the probabilities ``p`` does not exist pathwise (the
    draw is discrete): a traced ``p`` raises an error that names the score-function
    (REINFORCE) estimator and the Gumbel-softmax relaxation, which estimate the derivative
    of an expectation instead. ``axis`` and ``shuffle`` need a ``Generator``, as in NumPy.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> a = np.array([10.0, 20.0, 30.0])
        >>> pnp.random.choice(np.random.default_rng(0), a, size=4)
        array([30., 20., 20., 10.])
        >>> pb.grad(lambda a: pnp.random.choice(np.random.default_rng(0), a, 4).sum())(a)
        array([1., 2., 1.])
    """
    gen = _generator(rng, "choice")
    if isinstance(p, Tracer):
        raise NotImplementedError(
            "pullback.numpy.random.choice: no derivative with respect to the probabilities "
            "p: the draw is discrete, so a small change of p changes which element is drawn "
            "(with some probability), not the drawn value, and the pathwise derivative is "
            "zero where the expectation's is not. Estimate the derivative of an expectation "
            "E[f(draw)] instead: with the score-function (REINFORCE) estimator, i = "
            "pnp.random.choice(rng, n, p=pb.stop_gradient(p)) and the surrogate "
            "pb.stop_gradient(f(i)) * pnp.log(p[i]), whose gradient is the estimate; or "
            "with a Gumbel-softmax (concrete) relaxation, a differentiable soft one-hot "
            "draw: pullback.scipy.special.softmax((pnp.log(p) + g) / temperature) with g = "
            "pnp.random.gumbel(rng, size=p.shape). To draw without a derivative, pass "
            "pb.stop_gradient(p)"
        )
    generator = isinstance(gen, np.random.Generator)
    extra = {"axis": axis, "shuffle": shuffle} if generator else {}
    if not isinstance(a, Tracer):
        return gen.choice(a, size, replace, p, **extra)
    _refuse_transformations("choice", a)
    if not shape_of(a):
        raise ValueError(
            "pullback.numpy.random.choice: a traced a must be an array of at least one "
            "dimension to choose from (an integer a, choosing from range(a), has no "
            "derivative)"
        )
    if not generator and len(shape_of(a)) != 1:
        raise ValueError("pullback.numpy.random.choice: a must be 1-dimensional (as "
                         "RandomState.choice requires; a Generator takes axis=)")
    n, axis = _axis_length("choice", a, axis)
    extra = {"shuffle": shuffle} if generator else {}
    idx = gen.choice(n, size, replace, p, **extra)
    return take(a, idx, axis=axis)


# ----------------------------------------------------------------------------- plain calls

#: numpy.random methods this module differentiates
_OURS = frozenset(__all__)
#: every numpy.random method name (what a call's name must be for a hint to be looked for)
_NUMPY_NAMES = frozenset(
    n for cls in (np.random.Generator, np.random.RandomState) for n in dir(cls)
    if not n.startswith("_")
)
_HERE = {__file__, _trace.__file__}


#: (id(code), lasti) -> (code, _called_name's answer); the code object is kept so that its
#: id is not reused while the entry lives
_CALLED: dict[tuple[int, int], tuple[types.CodeType, tuple[str, ...] | None]] = {}


def _called_name(code: types.CodeType, lasti: int) -> tuple[str, ...] | None:
    """:func:`_find_called_name`, remembered (``len()`` of a traced value asks each time)."""
    entry = _CALLED.get((id(code), lasti))
    if entry is not None and entry[0] is code:
        return entry[1]
    if len(_CALLED) > 1024:
        _CALLED.clear()
    found = _find_called_name(code, lasti)
    _CALLED[(id(code), lasti)] = (code, found)
    return found


def _find_called_name(code: types.CodeType, lasti: int) -> tuple[str, ...] | None:
    """The dotted name a call in ``code`` at instruction offset ``lasti`` calls
    (``('rng', 'normal')`` for ``rng.normal(mu, 1.0)``, ``('f',)`` for ``f(x)``) when it
    may be a numpy.random method; None otherwise or when the source cannot be read."""
    positions = getattr(code, "co_positions", None)
    if positions is None:  # Python 3.10: no positions, no hint
        return None
    try:
        first, last, start, end = list(positions())[lasti // 2]
        lines = [line.encode() for line in linecache.getlines(code.co_filename)[first - 1:last]]
        if not lines or None in (start, end):
            return None
        if len(lines) == 1:
            text = lines[0][start:end]
        else:
            text = lines[0][start:] + b"".join(lines[1:-1]) + lines[-1][:end]
        call = ast.parse(text.decode(), mode="eval").body
    except (IndexError, TypeError, ValueError, SyntaxError, UnicodeDecodeError):
        return None
    if not isinstance(call, ast.Call):
        return None
    names: list[str] = []
    node = call.func
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or (names and names[0] not in _NUMPY_NAMES):
        return None
    return (node.id, *reversed(names))


def _numpy_random_hint() -> str | None:
    """When a traced value is converted by a numpy.random method (``rng.normal(mu, s)``),
    what to call instead; installed as the core's ``conversion_hint``."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _HERE:
        frame = frame.f_back
    if frame is None:
        return None
    names = _called_name(frame.f_code, frame.f_lasti)
    if names is None:
        return None
    code = frame.f_code
    local = names[0] in code.co_varnames or names[0] in code.co_cellvars \
        or names[0] in code.co_freevars
    scopes = ((frame.f_locals,) if local else ()) + (frame.f_globals, vars(builtins))
    func = next((s[names[0]] for s in scopes if names[0] in s), None)
    for name in names[1:]:
        func = getattr(func, name, None)
    owner = getattr(func, "__self__", None)
    if not isinstance(owner, (np.random.Generator, np.random.RandomState)):
        return None
    name = getattr(func, "__name__", names[-1])
    rng = "np.random" if owner is np.random.mtrand._rand else names[-2] if len(names) > 1 \
        else "rng"
    call = f"pullback.numpy.random.{name}({rng}, ...)"
    if name == "shuffle":
        return (
            f"numpy.random's shuffle: it would swap the entries of a traced array one by one "
            f"through views, which loses values and derivatives; call {call} instead (the "
            "same arguments after the generator), which shuffles it the same way and is "
            "differentiable"
        )
    if name in _OURS:
        return (
            f"numpy.random's {name}, which converts its arguments to plain arrays and has no "
            f"derivative; call {call} instead (the same arguments after the generator), "
            "which draws the same numbers and is differentiable (pathwise, as a "
            "reparameterised sample)"
        )
    return (
        f"numpy.random's {name}, which converts its arguments to plain arrays; pullback has "
        f"no derivative for it (pullback.numpy.random differentiates "
        f"{', '.join(sorted(_OURS))}). Write the draw as a transform of a standard one (a "
        "multivariate normal is mean + L @ rng.standard_normal(n)), or draw with constant "
        "parameters (pb.stop_gradient)"
    )


_trace.conversion_hint = _numpy_random_hint
