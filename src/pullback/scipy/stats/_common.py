"""What the distributions of ``pullback.scipy.stats`` share: SciPy's conventions for ``loc``
and ``scale``, supports, invalid parameters, and the logarithms of ``cdf`` and ``sf``.

Every function here is written with ``pullback.numpy`` operations, so that the
distributions' functions are differentiable (to any order) in every argument that is a
float, and they evaluate plain arrays with NumPy when nothing is traced. Values outside the
support are SciPy's (``logpdf = -inf``, ``cdf = 0`` or ``1``) with derivative 0; invalid
parameters (``scale <= 0``, a shape parameter out of range) give NaN, as in SciPy.

The functions are evaluated at a safe point outside the support and the result replaced
there (the "double where"), so that the derivative of an unused branch never turns a zero
cotangent into NaN.

A distribution module states only its mathematics: a :class:`Continuous` (or
:class:`Discrete`) of its standardised log-density, distribution functions, support and
parameter checks. Its public functions (``logpdf``, ``pdf``, ``cdf``, ``logcdf``, ``sf``,
``logsf``) are made from that by ``public``, with the module's signatures and docstrings:
``pdf`` is ``exp(logpdf)``, ``loc`` and ``scale`` standardise ``x``, and the logarithms of
``cdf`` and ``sf`` come from them where the module gives no formula of its own.
"""

from __future__ import annotations
import __future__

import math
import re
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.lax import stop_gradient
from pullback.core.rules import defbatch, defjvp, defvjp
from pullback.core.trace import Primitive, Tracer, dtype_of, shape_of
from pullback.numpy._registry import batch_elementwise, new_primitive
from pullback.numpy._util import as_array

__all__: list[str] = []

Std = Callable[..., Any]

#: the public functions of a distribution module, in the order ``public`` returns them
CONTINUOUS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
DISCRETE = ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")


def real_only(who: str, *values: Any) -> None:
    """Raise a ``TypeError`` naming ``who`` when one of ``values`` (or of the tuples among
    them) is complex: a probability distribution's arguments are real (SciPy evaluates its
    formulas on complex values, which mean nothing there; pullback refuses rather than
    differentiate them).

    Example:
        >>> real_only("norm.pdf", 1.0, (2.0,))
        >>> real_only("norm.pdf", 1j)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: norm.pdf: complex input (dtype complex128) is not supported: ...
    """
    for v in values:
        if isinstance(v, tuple):
            real_only(who, *v)
        elif v is not None and not isinstance(v, (bool, int, float)) and (
                dtype_of(v).kind == "c" if isinstance(v, Tracer) or hasattr(v, "dtype")
                else isinstance(v, complex)):
            raise TypeError(
                f"{who}: complex input (dtype {np.result_type(v)}) is not supported: the "
                "arguments of a probability distribution are real; pass real values "
                "(np.real(z), or abs(z))")


def is_number(v: Any) -> bool:
    return type(v) in (int, float)


def valid(*conditions: Any) -> Any:
    """The conjunction of the parameter checks (``True`` when there are none)."""
    out: Any = True
    for c in conditions:
        if c is True:
            continue
        out = c if out is True else pnp.logical_and(out, c)
    return out


def positive(v: Any) -> Any:
    """``v > 0``; ``True`` for a positive Python number (no array made)."""
    if is_number(v):
        return True if v > 0 else False
    return pnp.greater(v, 0)


def _nan_where_invalid(out: Any, ok: Any) -> Any:
    return np.where(ok, out, np.nan)


#: ``where(ok, out, nan)`` whose derivatives are NaN where ``ok`` is false too (a plain
#: ``where`` would give 0 there: a silent zero derivative at invalid parameters)
nan_where_invalid_p = new_primitive("stats.nan_where_invalid", _nan_where_invalid)
defvjp(nan_where_invalid_p, lambda g, ans, out, ok: pnp.where(ok, g, np.nan), None)
defjvp(nan_where_invalid_p, lambda t, ans, out, ok: pnp.where(ok, t, np.nan), None)
defbatch(nan_where_invalid_p, batch_elementwise(nan_where_invalid_p, dtypes=False))


def guard(out: Any, ok: Any) -> Any:
    """``out`` where the parameters are valid, NaN elsewhere (SciPy's ``badvalue``), with NaN
    derivatives there. Applied to the results (for their values) and to the arguments (so
    that a zero cotangent, from a choice made downstream, still gives a NaN derivative)."""
    if ok is True or (not isinstance(out, Tracer) and is_number(out)):
        return out
    if not isinstance(out, Tracer):  # pnp.where: a NumPy operand meets a device one there
        return pnp.where(ok, out, np.nan)
    if ok is False:
        ok = np.zeros(shape_of(out), bool)
    # Dask stays Dask; a NumPy mask meets a device array in the device's library
    ok = stop_gradient(ok) if isinstance(ok, Tracer) else backends.constant(as_array(ok), out)
    if shape_of(ok) != shape_of(out):
        shape = np.broadcast_shapes(shape_of(ok), shape_of(out))
        out, ok = pnp.broadcast_to(out, shape), pnp.broadcast_to(ok, shape)
    return nan_where_invalid_p.bind(out, ok)


def _guarded(shapes: tuple, ok: Any) -> tuple:
    return tuple(guard(v, ok) for v in shapes)


def standardize(x: Any, loc: Any, scale: Any) -> Any:
    """``(x - loc) / scale`` (skipping the default ``loc=0``, ``scale=1``)."""
    y = x if is_number(loc) and loc == 0 else pnp.subtract(x, loc)
    if not (is_number(scale) and scale == 1):
        y = pnp.divide(y, scale)
    if not isinstance(y, Tracer):
        y = as_array(y)
        if y.dtype.kind not in "fc":
            y = y.astype(np.float64)
    return y


def log_scale(scale: Any) -> Any:
    """``log(scale)``; a Python number for a Python number (weak: float32 stays float32)."""
    if is_number(scale):
        return math.log(scale) if scale > 0 else math.nan
    return pnp.log(scale)


def _inside(y: Any, lower: float, upper: float) -> Any:
    """Where ``y`` is in the closed support ``[lower, upper]`` (``None``: everywhere)."""
    cond: Any = None
    if lower > -np.inf:
        cond = pnp.greater_equal(y, lower)
    if upper < np.inf:
        top = pnp.less_equal(y, upper)
        cond = top if cond is None else pnp.logical_and(cond, top)
    return cond


def _safe(y: Any, inside: Any, lower: float, upper: float) -> Any:
    """``y`` inside the support, a point strictly inside it elsewhere."""
    if inside is None:
        return y
    if lower > -np.inf and upper < np.inf:
        point = 0.5 * (lower + upper)
    elif lower > -np.inf:
        point = lower + 1.0
    else:
        point = upper - 1.0
    return pnp.where(inside, y, point)


def _fill(inside: Any, value: Any, outside: float) -> Any:
    return value if inside is None else pnp.where(inside, value, outside)


def _fill_sides(y: Any, value: Any, lower: float, upper: float, below: float,
                above: float) -> Any:
    if upper < np.inf:
        value = pnp.where(pnp.greater(y, upper), above, value)
    if lower > -np.inf:
        value = pnp.where(pnp.less(y, lower), below, value)
    return value


def _finish(out: Any) -> Any:
    """A plain 0-d result as a NumPy scalar, as SciPy returns it."""
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return out[()]
    return out


# ----------------------------------------------------------------------------- continuous


class _Family:
    """What a distribution's public functions share: their making (see :meth:`public`)."""

    #: the names of the public functions, the variable, and the location (and scale)
    #: parameters with their defaults and as passed on
    names: tuple[str, ...] = ()
    variable = ""
    location = ""
    passed = ""

    def notes(self, shapes: list[str], no_closed_form: list[str]) -> dict[str, str]:
        """What each function's docstring says of its derivatives, after the summary."""
        raise NotImplementedError

    @staticmethod
    def real_only(who: str, *values: Any) -> None:
        """Refuse complex arguments (``values`` may hold tuples of them)."""
        real_only(who, *values)

    def public(self, module: str, of: str = "", example: str = "",
               values: tuple[str, ...] = (), shapes: str = "", no_closed_form: str = "",
               docs: dict[str, tuple[str, str, str]] | None = None,
               ) -> tuple[Callable[..., Any], ...]:
        """The public functions of the distribution module ``module`` (its ``__name__``), in
        the order of :attr:`names`: each with the signature ``(x, *shapes, loc=0.0,
        scale=1.0)`` (discrete: ``(k, *shapes, loc=0)``), ``shapes`` the names of the shape
        parameters separated by commas, calling this distribution's method of its name.

        Their docstrings say what each function is, of ``of`` ("the gamma distribution"),
        and which derivatives it has (those with respect to the shape parameters
        ``no_closed_form`` of the distribution functions have no closed form); each ends
        with an example, the function at ``example`` (its arguments) rounded to 10 places
        equal to its entry of ``values``. ``docs`` gives each function a docstring of its
        own instead: a summary, an example's expression and its value.
        """
        names = [n.strip() for n in shapes.split(",") if n.strip()]
        missing = [n.strip() for n in no_closed_form.split(",") if n.strip()]
        parameters = "".join(f"{n}: Any, " for n in [self.variable, *names]) + self.location
        arguments = f"{self.variable}, ({''.join(f'{n}, ' for n in names)}), {self.passed}"
        notes = self.notes(names, missing)
        short = module.rsplit(".", 1)[-1]
        if docs is None:
            docs = {name: (f"{_SUMMARIES[name]} {of}",
                           f"round(float({short}.{name}({example})), 10)", value)
                    for name, value in zip(self.names, values, strict=True)}
        return tuple(
            _define(module, name, parameters, arguments, self,
                    _docstring(short, name, *docs[name], notes.get(name, "")))
            for name in self.names
        )


#: what each public function is, for its docstring
_SUMMARIES = {
    "logpdf": "The log-density of", "pdf": "The density of",
    "logpmf": "The log of the probability mass of", "pmf": "The probability mass of",
    "cdf": "The distribution function of", "logcdf": "``log(cdf)`` of",
    "sf": "The survival function ``1 - cdf`` of", "logsf": "``log(sf)`` of",
}


def _docstring(module: str, name: str, summary: str, expression: str, value: str,
               note: str) -> str:
    text = f"{summary}; ``scipy.stats.{module}.{name}``." + (f" {note}" if note else "")
    # wrapped as in a source file, never inside a ``code`` span
    text = re.sub(r"``[^`]*``", lambda m: m.group().replace(" ", "\0"), text)
    lines = textwrap.wrap(text, 92, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines).replace("\0", " ") + f"""

Example:
    >>> from pullback.scipy.stats import {module}
    >>> {expression}
    {value}
"""


def _and(names: list[str], code: bool = False) -> str:
    """``a``, ``a and b``, ``a, b and c`` (as code spans)."""
    quoted = [f"``{n}``" if code else n for n in names]
    return " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


#: a public function's source, compiled as these lines of this file (so that tracebacks show
#: them, and ``pb.debug_nans`` passes over them as pullback's own) and run in the
#: distribution's module (whose doctests then find the function): ``make(dist)`` returns the
#: function with the distribution's own signature (parameters by name, as in SciPy)
_SOURCE_LINE = sys._getframe().f_lineno + 2
_SOURCE = """\
def make(dist):
    def {name}({parameters}) -> Any:
        dist.real_only("{who}", {arguments})
        return dist.{name}({arguments})
    return {name}
"""


def _define(module: str, name: str, parameters: str, arguments: str, dist: _Family,
            doc: str) -> Callable[..., Any]:
    who = f"pullback.scipy.stats.{module.rsplit('.', 1)[-1]}.{name}"
    source = "\n" * (_SOURCE_LINE - 1) + _SOURCE.format(
        name=name, parameters=parameters, arguments=arguments, who=who)
    code = compile(source, __file__, "exec", flags=__future__.annotations.compiler_flag,
                   dont_inherit=True)
    namespace: dict[str, Any] = {}
    exec(code, vars(sys.modules[module]), namespace)  # our own source, of our own names
    function = namespace["make"](dist)
    function.__qualname__ = name
    function.__doc__ = doc
    return function


class Continuous(_Family):
    """A continuous distribution in SciPy's standard form: the functions of the standardised
    variable ``y = (x - loc) / scale`` and of the shape parameters, the support of ``y``, and
    its median (where ``logcdf``/``logsf`` switch from ``log(cdf)`` to ``log1p(-sf)``)."""

    def __init__(self, logpdf: Std, cdf: Std, sf: Std, lower: float = -np.inf,
                 upper: float = np.inf, median: Callable[..., Any] | float = 0.0,
                 logcdf: Std | None = None, logsf: Std | None = None,
                 check: Callable[..., Any] | None = None):
        self.std_logpdf, self.std_cdf, self.std_sf = logpdf, cdf, sf
        self.lower, self.upper, self.median = lower, upper, median
        self.std_logcdf, self.std_logsf = logcdf, logsf
        self.check = check

    names = CONTINUOUS
    variable, location, passed = "x", "loc: Any = 0.0, scale: Any = 1.0", "loc, scale"

    def notes(self, shapes: list[str], no_closed_form: list[str]) -> dict[str, str]:
        if not no_closed_form:
            return {}
        note = ("Differentiable in ``x``, ``loc`` and ``scale``; the derivative with respect "
                f"to {_and(no_closed_form)} has no closed form and raises "
                "``NotImplementedError``.")
        return dict.fromkeys(("cdf", "logcdf", "sf", "logsf"), note)

    def _prepare(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> tuple:
        y = standardize(x, loc, scale)
        ok = valid(positive(scale), *(() if self.check is None else (self.check(*shapes),)))
        inside = _inside(y, self.lower, self.upper)
        ys = _safe(guard(y, ok), inside, self.lower, self.upper)
        return y, ys, inside, ok

    def _shapes(self, shapes: tuple, ok: Any, like: Any) -> tuple:
        """The shape parameters, guarded; Python numbers as arrays of ``like``'s dtype (they
        are weak, as in NumPy: a float32 ``x`` keeps float32 results)."""
        dtype = dtype_of(like)
        return _guarded(tuple(np.asarray(v, dtype) if is_number(v) and dtype.kind == "f"
                              else v for v in shapes), ok)

    def logpdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        out = _fill(inside, self.std_logpdf(ys, *self._shapes(shapes, ok, ys)), -np.inf)
        return _finish(guard(pnp.subtract(out, log_scale(scale)), ok))

    def pdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        return _finish(pnp.exp(self.logpdf(x, shapes, loc, scale)))

    def _tail(self, x: Any, shapes: tuple, loc: Any, scale: Any, below: float, above: float,
              std: Std | None, side: Any = None, near: Any = None, far: Any = None) -> Any:
        """A distribution function (``cdf``, ``sf`` or their logarithms): ``std`` inside the
        support, ``below`` and ``above`` it. Without ``std`` (a logarithm with no formula of
        its own), SciPy's: ``log(near)`` on the side of the median where ``side`` holds,
        ``log1p(-far)`` on the other."""
        y, ys, inside, ok = self._prepare(x, shapes, loc, scale)
        if std is not None:
            inner = std(ys, *self._shapes(shapes, ok, ys))
        else:
            inner = pnp.where(side(ys, stop_gradient(self._median(shapes))),
                              pnp.log(near(ys, *self._shapes(shapes, ok, ys))),
                              pnp.log1p(-far(ys, *self._shapes(shapes, ok, ys))))
        out = _fill_sides(y, inner, self.lower, self.upper, below, above)
        return _finish(guard(out, ok))

    def cdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        return self._tail(x, shapes, loc, scale, 0.0, 1.0, self.std_cdf)

    def sf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        return self._tail(x, shapes, loc, scale, 1.0, 0.0, self.std_sf)

    def _median(self, shapes: tuple) -> Any:
        m = self.median
        return m(*shapes) if callable(m) else m

    def logcdf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        # SciPy's default: log(cdf) below the median, log1p(-sf) above it
        return self._tail(x, shapes, loc, scale, -np.inf, 0.0, self.std_logcdf, pnp.less,
                          self.std_cdf, self.std_sf)

    def logsf(self, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        # SciPy's default: log(sf) above the median, log1p(-cdf) below it
        return self._tail(x, shapes, loc, scale, 0.0, -np.inf, self.std_logsf, pnp.greater,
                          self.std_sf, self.std_cdf)


# ----------------------------------------------------------------------------- discrete


def _not_differentiable_in_k(*_: Any, **params: Any) -> Any:
    raise NotImplementedError(
        f"pullback.scipy.stats.{params['who']}: the probability mass is not differentiable "
        "with respect to k (or loc): it is defined at the integers only (0 elsewhere, as in "
        "SciPy). Pass k as a constant (a plain array, or pb.stop_gradient(k)); the cdfs and "
        "survival functions are piecewise constant in k, with derivative 0"
    )


#: the identity on ``k``, whose derivative is an error (not a registered primitive: it
#: computes nothing; its value is ``k`` itself)
_integer_k = Primitive("stats.integer_argument", lambda k, who: k)
defvjp(_integer_k, _not_differentiable_in_k)
defjvp(_integer_k, _not_differentiable_in_k)
defbatch(_integer_k, lambda vals, batched, params, size: _integer_k.bind(*vals, **params))


class Discrete(_Family):
    """A discrete distribution on the integers ``lower..upper(*shapes)`` in SciPy's form:
    ``logpmf``, ``cdf`` and ``sf`` of ``k - loc`` and the shape parameters. ``k`` and ``loc``
    are never differentiated (the probabilities are piecewise constant in them)."""

    def __init__(self, name: str, logpmf: Std, cdf: Std, sf: Std,
                 upper: Callable[..., Any] | None = None,
                 check: Callable[..., Any] | None = None, logcdf: Std | None = None):
        self.name = name
        self.std_logpmf, self.std_cdf, self.std_sf = logpmf, cdf, sf
        self.upper, self.check, self.std_logcdf = upper, check, logcdf

    names = DISCRETE
    variable, location, passed = "k", "loc: Any = 0", "loc"

    def notes(self, shapes: list[str], no_closed_form: list[str]) -> dict[str, str]:
        closed = [n for n in shapes if n not in no_closed_form]
        mass = (f"Differentiable in {_and(closed + no_closed_form, code=True)}. ``k`` is not "
                "differentiable (the mass is defined at the integers): asking for that "
                "derivative raises ``NotImplementedError``.")
        tails = f"Differentiable in {_and(closed, code=True)}" + (
            f"; the derivative with respect to {_and(no_closed_form, code=True)} has no "
            "closed form and raises ``NotImplementedError``" if no_closed_form else "") + (
            ". Piecewise constant in ``k`` (derivative 0).")
        return {"logpmf": mass, "pmf": mass, "cdf": tails, "logcdf": tails, "sf": tails,
                "logsf": tails}

    def _k(self, k: Any, loc: Any, who: str = "") -> Any:
        """``k - loc``: for the mass (``who`` names it) an error if differentiated, for the
        cdfs a constant (they are piecewise constant in ``k``)."""
        if not isinstance(k, Tracer):
            k = as_array(k)
        if not (is_number(loc) and loc == 0):
            k = pnp.subtract(k, loc)
        if isinstance(k, Tracer):
            k = _integer_k.bind(k, who=who) if who else stop_gradient(k)
        return k

    def _ok(self, shapes: tuple) -> Any:
        return True if self.check is None else self.check(*shapes)

    def logpmf(self, k: Any, shapes: tuple, loc: Any, who: str = "logpmf") -> Any:
        k = self._k(k, loc, f"{self.name}.{who}")
        inside = pnp.logical_and(pnp.equal(k, pnp.floor(k)), pnp.greater_equal(k, 0))
        if self.upper is not None:
            inside = pnp.logical_and(inside, pnp.less_equal(k, self.upper(*shapes)))
        ks = pnp.where(inside, k, 0.0)
        ok = self._ok(shapes)
        out = pnp.where(inside, self.std_logpmf(ks, *_guarded(shapes, ok)), -np.inf)
        return _finish(guard(out, ok))

    def pmf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return _finish(pnp.exp(self.logpmf(k, shapes, loc, "pmf")))

    def _sides(self, k: Any, shapes: tuple, loc: Any) -> tuple:
        k = pnp.floor(self._k(k, loc))
        below = pnp.less(k, 0)
        above = None if self.upper is None else pnp.greater_equal(k, self.upper(*shapes))
        inside = pnp.logical_not(below) if above is None else pnp.logical_not(
            pnp.logical_or(below, above))
        return pnp.where(inside, k, 0.0), below, above

    def _tail(self, std: Std, k: Any, shapes: tuple, loc: Any, below_value: float,
              above_value: float) -> Any:
        """A distribution function (``cdf``, ``sf``, ``logcdf``): ``std`` inside the support,
        ``below_value`` and ``above_value`` outside it."""
        ks, below, above = self._sides(k, shapes, loc)
        ok = self._ok(shapes)
        out = std(ks, *_guarded(shapes, ok))
        if above is not None:
            out = pnp.where(above, above_value, out)
        out = pnp.where(below, below_value, out)
        return _finish(guard(out, ok))

    def cdf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return self._tail(self.std_cdf, k, shapes, loc, 0.0, 1.0)

    def sf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return self._tail(self.std_sf, k, shapes, loc, 1.0, 0.0)

    def logcdf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        if self.std_logcdf is None:
            return _finish(pnp.log(self.cdf(k, shapes, loc)))
        return self._tail(self.std_logcdf, k, shapes, loc, -np.inf, 0.0)

    def logsf(self, k: Any, shapes: tuple, loc: Any) -> Any:
        return _finish(pnp.log(self.sf(k, shapes, loc)))
