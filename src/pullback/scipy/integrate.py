"""``scipy.integrate``: quadrature of sampled values (``trapezoid``, ``simpson``,
``cumulative_trapezoid``) and ODE solutions (``odeint``, ``solve_ivp``), differentiable in
reverse and forward mode to any order.

The quadratures are compositions of ``pullback.numpy`` operations (SciPy's formulas, also
Simpson's correction of the last interval for an even number of points).

``odeint`` and ``solve_ivp`` integrate with SciPy's own integrators (LSODA for ``odeint``,
the chosen ``method`` for ``solve_ivp``; SciPy is needed for them) and are differentiable
with respect to the initial state, the time points and the extra arguments:

- reverse mode by the **adjoint method**: the system is integrated backwards from each
  output time to the previous one together with the adjoint state ``a`` and the parameters'
  cotangent (``da/dt = -J_y^T a``, ``dp_bar/dt = -J_p^T a``), the products ``J^T a`` by
  reverse mode through ``func``; only the outputs are stored, so memory does not grow with
  the number of integration steps;
- forward mode by forward sensitivities (``dv/dt = J_y v + J_p p_dot``, integrated with the
  solution);
- the derivative with respect to an output time ``t_i`` is ``func(y_i, t_i)``, and with
  respect to ``t_0`` minus the adjoint state there times ``func(y_0, t_0)``.

Both rules integrate augmented systems with the same solver and tolerances, through the same
primitive: second derivatives are adjoints of adjoints. Their accuracy is that of the
integration (``rtol``, ``atol``). ``func`` must be written with ``pullback.numpy``
operations. A quantity to differentiate may reach it as an argument (``args``) or through a
closure (``lambda y, t: -k * y``): a function that closes over traced values is traced once
with shapes and dtypes only, which finds those values, and they become arguments (so its
Python must not branch on values then; the error says so).

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import integrate
    >>> decay = lambda y, t, k: -k * y
    >>> t = np.array([0.0, 1.0])
    >>> y = integrate.odeint(decay, np.array([2.0]), t, 0.5, rtol=1e-10, atol=1e-10)
    >>> round(float(y[1, 0]), 8)  # 2 exp(-0.5)
    1.21306132
    >>> g = pb.grad(lambda k: integrate.odeint(decay, np.array([2.0]), t, k,
    ...                                        rtol=1e-10, atol=1e-10)[1, 0])(0.5)
    >>> round(float(g), 6)  # -2 exp(-0.5)
    -1.213061
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.api import jvp, vjp
from pullback.core.rules import add_tangents
from pullback.core.trace import (
    Primitive,
    Tracer,
    TracerConversionError,
    dtype_of,
    instantiate,
    outside_traces,
    shape_of,
    zero,
)
from pullback.core.tree import tree_flatten, tree_unflatten
from pullback.scipy import _lazy
from pullback.scipy._solver import declare_rules, hoist_closure
from pullback.scipy._solver import differentiable as _differentiable
from pullback.scipy._solver import flat as _flat
from pullback.scipy._solver import plain_value as _strip
from pullback.scipy._solver import with_values as _with

try:
    import scipy.integrate as _sint
except ImportError:  # pragma: no cover - SciPy is optional (the dev extra has it)
    _sint = None

__all__ = ["cumulative_trapezoid", "odeint", "simpson", "solve_ivp", "trapezoid"]


# ----------------------------------------------------------------------------- quadrature


def _axis_of(y: Any, axis: int, name: str) -> int:
    nd = len(shape_of(y))
    if not -nd <= axis < nd:
        raise ValueError(f"pullback.scipy.integrate.{name}: axis {axis} is out of bounds for "
                         f"an array of {nd} dimensions")
    return axis % nd


def _take(y: Any, axis: int, index: Any) -> Any:
    sl: list[Any] = [slice(None)] * len(shape_of(y))
    sl[axis] = index
    return y[tuple(sl)]


def _spacing(x: Any, y: Any, axis: int, name: str) -> Any:
    """The differences of ``x`` along ``axis``, shaped to broadcast against ``y``'s."""
    x = _lazy.as_value(x)
    if len(shape_of(x)) == 1:
        # SciPy's trapezoid broadcasts the differences against the intervals: two points
        # give one spacing for all of them, one interval takes every difference (its
        # cumulative_trapezoid checks the length)
        spread = name == "trapezoid" and 1 in (shape_of(x)[0] - 1, shape_of(y)[axis] - 1)
        if shape_of(x)[0] != shape_of(y)[axis] and not spread:
            raise ValueError(f"pullback.scipy.integrate.{name}: if given, length of x along "
                             "axis must be the same as y")
        shape = [1] * len(shape_of(y))
        shape[axis] = shape_of(x)[0] - 1
        return pnp.reshape(pnp.diff(x), tuple(shape))
    if len(shape_of(x)) != len(shape_of(y)):
        raise ValueError(f"pullback.scipy.integrate.{name}: if given, shape of x must be 1-D "
                         "or the same as y")
    return pnp.diff(x, axis=axis)


def _as_value(v: Any) -> Any:
    return _lazy.as_value(v)  # traced values and Dask arrays as they are


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """The integral of samples ``y`` along ``axis`` by the trapezoidal rule, at points ``x``
    (or with spacing ``dx``); ``scipy.integrate.trapezoid``. Differentiable in ``y``, ``x``
    and ``dx``. The result has ``y``'s dtype (float64 for integer ``y``), as SciPy's: a float32
    ``y`` with float64 ``x`` gives float32.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import integrate
        >>> float(integrate.trapezoid(np.array([1.0, 2.0, 3.0]), x=np.array([0.0, 1.0, 3.0])))
        6.5
    """
    y = _as_value(y)
    axis = _axis_of(y, axis, "trapezoid")
    d = dx if x is None else _spacing(x, y, axis, "trapezoid")
    n = shape_of(y)[axis]
    mid = (_take(y, axis, slice(1, n)) + _take(y, axis, slice(0, n - 1))) / 2.0
    terms = d * mid
    # SciPy's dtype is y's (float64 for integers): its sum casts the terms to it (float32 y
    # with float64 x gives float32)
    want = dtype_of(y) if dtype_of(y).kind in "fc" else np.dtype(np.float64)
    if dtype_of(terms) != want and np.can_cast(dtype_of(terms), want, "same_kind"):
        terms = pnp.astype(terms, want)
    return pnp.sum(terms, axis=axis)


def cumulative_trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1,
                         initial: float | None = None) -> Any:
    """The running integral of ``y`` along ``axis`` by the trapezoidal rule (``initial=0``
    prepends a zero); ``scipy.integrate.cumulative_trapezoid``. Differentiable in ``y``,
    ``x`` and ``dx``.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import integrate
        >>> integrate.cumulative_trapezoid(np.array([1.0, 2.0, 3.0]), initial=0)
        array([0. , 1.5, 4. ])
    """
    y = _as_value(y)
    axis = _axis_of(y, axis, "cumulative_trapezoid")
    n = shape_of(y)[axis]
    if n == 0:
        raise ValueError("pullback.scipy.integrate.cumulative_trapezoid: at least one point "
                         "is required along axis")
    d = dx if x is None else _spacing(x, y, axis, "cumulative_trapezoid")
    mid = (_take(y, axis, slice(1, n)) + _take(y, axis, slice(0, n - 1))) / 2.0
    out = pnp.cumsum(d * mid, axis=axis)
    if initial is not None:
        if initial != 0 or not np.isscalar(initial):
            raise ValueError("pullback.scipy.integrate.cumulative_trapezoid: `initial` must "
                             "be `None` or `0`")
        shape = list(shape_of(out))
        shape[axis] = 1
        out = pnp.concatenate([np.zeros(shape, dtype_of(out)), out], axis=axis)
    return out


def _basic_simpson(y: Any, stop: int, h: Any, axis: int) -> Any:
    """Simpson's rule on the intervals ``0 .. stop`` (pairs), spacings ``h`` (None: dx)."""
    y0, y1, y2 = (_take(y, axis, slice(k, stop + k, 2)) for k in range(3))
    if not isinstance(h, tuple):
        return pnp.sum(y0 + 4.0 * y1 + y2, axis=axis) * (h / 3.0)
    diffs = h[0]
    h0 = _take(diffs, axis, slice(0, stop, 2))
    h1 = _take(diffs, axis, slice(1, stop + 1, 2))
    hsum, hprod = h0 + h1, h0 * h1
    ratio = h0 / h1
    tmp = hsum / 6.0 * (y0 * (2.0 - 1.0 / ratio) + y1 * (hsum * hsum / hprod)
                        + y2 * (2.0 - ratio))
    return pnp.sum(tmp, axis=axis)


def simpson(y: Any, *, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """The integral of samples ``y`` along ``axis`` by Simpson's rule, at points ``x`` (or
    spacing ``dx``); for an even number of points the last interval gets Cartwright's
    correction, as SciPy's; ``scipy.integrate.simpson``. Differentiable in ``y``, ``x`` and
    ``dx`` (distinct points: the weights divide by the spacings).

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import integrate
        >>> x = np.linspace(0.0, 1.0, 5)
        >>> round(float(integrate.simpson(x ** 3, x=x)), 12)  # exact for cubics: 1/4
        0.25
    """
    y = _as_value(y)
    axis = _axis_of(y, axis, "simpson")
    n = shape_of(y)[axis]
    h: Any = dx
    if x is not None:
        x = _as_value(x)
        if len(shape_of(x)) == 1:
            if shape_of(x)[0] != n:
                raise ValueError("pullback.scipy.integrate.simpson: if given, length of x "
                                 "along axis must be the same as y")
            shape = [1] * len(shape_of(y))
            shape[axis] = n
            x = pnp.reshape(x, tuple(shape))
        elif len(shape_of(x)) != len(shape_of(y)):
            raise ValueError("pullback.scipy.integrate.simpson: if given, shape of x must be "
                             "1-D or the same as y")
        h = (pnp.diff(x, axis=axis),)
    if n % 2:
        return _basic_simpson(y, n - 2, h, axis)
    last, before = _take(y, axis, n - 1), _take(y, axis, n - 2)
    if n == 2:
        step = dx if x is None else _take(h[0], axis, 0)
        return 0.5 * step * (last + before)
    result = _basic_simpson(y, n - 3, h, axis)
    if x is None:
        h0 = h1 = dx
    else:
        h0, h1 = _take(h[0], axis, n - 3), _take(h[0], axis, n - 2)
    alpha = (2 * h1 * h1 + 3 * h0 * h1) / (6 * (h1 + h0))
    beta = (h1 * h1 + 3.0 * h0 * h1) / (6 * h0)
    eta = h1 * h1 * h1 / (6 * h0 * (h0 + h1))
    return result + alpha * last + beta * before - eta * _take(y, axis, n - 3)


# ----------------------------------------------------------------------------- the ODE primitive


def _require_scipy(name: str) -> Any:
    if _sint is None:
        raise ImportError(
            f"pullback.scipy.integrate.{name} integrates with SciPy's solvers, and SciPy is "
            "not installed: pip install scipy (pullback's 'dev' extra has it)"
        )
    return _sint


def _closure_error(name: str) -> TracerConversionError:
    return TracerConversionError(
        f"pullback.scipy.integrate.{name}: the right-hand side returned a traced value for "
        "plain arguments: it uses a traced value it closes over (a parameter captured by a "
        "lambda or a nested function). Pass every quantity to differentiate as an extra "
        f"argument instead: {name}(func, y0, t, theta) with func(y, t, theta)"
    )


def _solve(y0: Any, t: Any, *args: Any, fun: Callable[..., Any], solver: tuple,
           batched: bool = False) -> np.ndarray:
    """The solution at the times ``t`` (first the initial state), by SciPy's solver; with
    ``batched``, every argument carries a leading batch axis and each entry is solved on its
    own (SciPy's solvers take one system: the same steps as without vmap). On Dask operands,
    lazily: one task solves with every operand whole, when the result is computed."""
    if not all(type(a) is np.ndarray for a in (y0, t, *args)) and _lazy.foreign(
            f"pullback.scipy.integrate.{solver[0]}", y0, t, *args):
        y0, t = _lazy.as_value(y0), _lazy.as_value(t)
        shape = ((y0.shape[0], t.shape[1]) + y0.shape[1:] if batched
                 else (t.shape[0],) + y0.shape)
        return _lazy.whole(lambda *a: _solve(*a, fun=fun, solver=solver, batched=batched),
                           f"pullback.scipy.integrate.{solver[0]}", [y0, t, *args],
                           [(shape, y0.dtype)])
    if batched:
        size = np.shape(y0)[0]
        return np.stack([_solve_one(y0[b], t[b], *(a[b] for a in args), fun=fun,
                                    solver=solver) for b in range(size)])
    return _solve_one(y0, t, *args, fun=fun, solver=solver)


def _solve_one(y0: Any, t: Any, *args: Any, fun: Callable[..., Any],
               solver: tuple) -> np.ndarray:
    with outside_traces():  # the user's function sees plain arrays, as outside pullback
        return _solve_plain(y0, t, *args, fun=fun, solver=solver)


def _solve_plain(y0: Any, t: Any, *args: Any, fun: Callable[..., Any],
                 solver: tuple) -> np.ndarray:
    name = solver[0]
    sint = _require_scipy(name)
    y0 = np.asarray(y0)
    t = np.asarray(t)
    shape = y0.shape
    dtype = np.result_type(y0.dtype, np.float64)
    if t.ndim != 1:
        raise ValueError(f"pullback.scipy.integrate.{name}: the times 't' must be 1-d, got "
                         f"shape {t.shape}")
    if t.size == 0:
        return np.zeros((0,) + shape, y0.dtype)

    # float32 arguments are evaluated in float64 too: the solver's tolerances refer to
    # float64 values (float32 rounding would look like noise to its error control)
    wide = [np.asarray(a, np.result_type(a, np.float64)) if np.asarray(a).dtype.kind in "fc"
            else a for a in args]

    def f(yflat: np.ndarray, tt: float) -> np.ndarray:
        out = fun(yflat.reshape(shape), tt, *wide)
        if isinstance(out, Tracer):
            raise _closure_error(name)
        out = np.asarray(out, dtype)
        if out.shape != shape:
            raise ValueError(f"pullback.scipy.integrate.{name}: the right-hand side returned "
                             f"shape {out.shape} for a state of shape {shape}")
        return out.ravel()

    start = y0.astype(dtype).ravel()
    if np.all(t == t[0]) or start.size == 0:
        # no time passes (one time, or all equal), or no equations (SciPy's LSODA reports
        # illegal input for an empty y0 and returns the empty solution)
        return np.repeat(y0[None], t.size, axis=0)
    if name == "odeint":
        _, rtol, atol, options = solver
        ys, info = sint.odeint(f, start, t.astype(np.float64), rtol=rtol, atol=atol,
                               full_output=True, **dict(options))
        if info["message"] != "Integration successful.":
            raise RuntimeError(f"pullback.scipy.integrate.odeint: SciPy's integrator failed: "
                               f"{info['message']} (raise mxstep, or check the problem)")
    else:
        # the user's t_span end when this is the solution itself (SciPy's steps are then
        # exactly the user's), the last time for the integrations of the derivatives
        _, method, rtol, atol, options, t_end = solver
        end = float(t[-1]) if t_end is None else t_end
        sol = sint.solve_ivp(lambda tt, yy: f(yy, tt), (float(t[0]), end), start,
                             method=method, t_eval=t[1:].astype(np.float64), rtol=rtol,
                             atol=atol, **dict(options))
        if not sol.success:
            raise RuntimeError(f"pullback.scipy.integrate.solve_ivp: SciPy's integrator "
                               f"failed: {sol.message}")
        ys = np.concatenate([start[None], sol.y.T])
    return ys.reshape((t.size,) + shape).astype(y0.dtype, copy=False)


#: ``odeint_p.bind(y0, t, *args, fun=f, solver=..., batched=False)``: the solution of
#: ``y' = f(y, t, *args)`` at the times ``t``. Not a registered primitive: it carries a user
#: function (as custom derivatives do). Under ``vmap`` every argument gets the batch axis and
#: one call solves the entries in turn (``batched=True``); its rules are the unbatched ones
#: under ``vmap``.
odeint_p = Primitive("scipy.integrate.odeint", _solve)


def _derivative_solver(solver: tuple) -> tuple:
    """The solver for the augmented systems: the same, over their own time span."""
    return solver if solver[0] == "odeint" else solver[:-1] + (None,)


def _odeint_vjp(g: Any, ys: Any, args_all: tuple, params: dict, needs: tuple) -> tuple:
    y0, t, *args = args_all
    fun, solver = params["fun"], _derivative_solver(params["solver"])
    n_t = shape_of(t)[0]
    shape = shape_of(y0)
    n = int(np.prod(shape, dtype=np.int64))
    diff = _differentiable(args)
    sizes = [int(np.prod(shape_of(args[i]), dtype=np.int64)) for i in diff]

    def aug(state: Any, s: Any, *a: Any) -> Any:
        """In reversed time s = -t: y' = -f, adjoint' = J_y^T adjoint, p_bar' = J_p^T adj."""
        y = pnp.reshape(state[:n], shape)
        lam = pnp.reshape(state[n:2 * n], shape)
        tt = -s

        def at(yy: Any, *da: Any) -> Any:
            return fun(yy, tt, *_with(a, diff, da))

        ydot, back = vjp(at, y, *(a[i] for i in diff))
        cts = back(lam)
        return pnp.concatenate([_flat(-ydot)] + [_flat(c) for c in cts])

    if n_t == 0 or n == 0:  # no times, or no equations (f is not evaluated)
        return ((pnp.zeros_like(y0) if needs[0] else zero, pnp.zeros_like(t) if needs[1]
                 else zero) + (zero,) * len(args))
    if n_t == 1:  # the solution is y0 whatever t0 and the arguments (f is not evaluated)
        return ((g[0] if needs[0] else zero, pnp.zeros_like(t) if needs[1] else zero)
                + (zero,) * len(args))
    lam = g[n_t - 1]
    abar = [pnp.zeros(shape_of(args[i]), dtype_of(args[i])) for i in diff]
    t_bar: list[Any] = [None] * n_t
    for i in range(n_t - 1, 0, -1):
        t_bar[i] = pnp.sum(fun(ys[i], t[i], *args) * g[i])
        state = pnp.concatenate([_flat(ys[i]), _flat(lam)] + [_flat(b) for b in abar])
        span = pnp.stack([-t[i], -t[i - 1]])
        out = odeint_p.bind(state, span, *args, fun=aug, solver=solver)[1]
        lam = pnp.reshape(out[n:2 * n], shape) + g[i - 1]
        start, parts = 2 * n, []
        for k, i_arg in enumerate(diff):
            parts.append(pnp.reshape(out[start:start + sizes[k]], shape_of(args[i_arg])))
            start += sizes[k]
        abar = parts
    t_bar[0] = -pnp.sum((lam - g[0]) * fun(ys[0], t[0], *args))
    args_bar: list[Any] = [zero] * len(args)
    for k, i in enumerate(diff):
        args_bar[i] = _like(abar[k], args[i]) if needs[2 + i] else zero
    return (_like(lam, y0) if needs[0] else zero,
            _like(pnp.stack(t_bar), t) if needs[1] else zero, *args_bar)


def _like(ct: Any, primal: Any) -> Any:
    """A cotangent in its primal's dtype (y0, the times and the arguments may differ: the
    adjoint runs in the solution's dtype)."""
    return ct if dtype_of(ct) == dtype_of(primal) else pnp.astype(ct, dtype_of(primal))


def _odeint_jvp(tangents: tuple, ys: Any, args_all: tuple, params: dict) -> Any:
    ty0, tt, *targs = tangents
    y0, t, *args = args_all
    fun, solver = params["fun"], _derivative_solver(params["solver"])
    if ty0 is zero and tt is zero and all(ta is zero for ta in targs):
        return zero
    n_t = shape_of(t)[0]
    if n_t == 0 or int(np.prod(shape_of(y0), dtype=np.int64)) == 0:
        return zero  # no times, or no equations (f is not evaluated)
    if n_t == 1:  # the solution is y0 whatever t0 and the arguments (f is not evaluated)
        return zero if ty0 is zero else pnp.astype(pnp.reshape(ty0, (1,) + shape_of(y0)),
                                                   dtype_of(ys))
    shape = shape_of(y0)
    n = int(np.prod(shape, dtype=np.int64))
    diff = [i for i in _differentiable(args) if targs[i] is not zero]
    dy0 = ty0
    if tt is not zero:  # moving t0 moves the start: dy(t0) = dy0 - f(y0, t0) dt0
        dy0 = add_tangents(dy0, -(fun(y0, t[0], *args) * tt[0]))
    out: Any = zero
    if dy0 is not zero or diff:
        dy0 = instantiate(dy0, y0)
        n_args = len(args)

        def aug(state: Any, tau: Any, *a: Any) -> Any:
            """y' = f, v' = J_y v + J_p p_dot."""
            base, dargs = a[:n_args], a[n_args:]
            y = pnp.reshape(state[:n], shape)
            v = pnp.reshape(state[n:], shape)

            def at(yy: Any, *da: Any) -> Any:
                return fun(yy, tau, *_with(base, diff, da))

            f, df = jvp(at, (y, *(base[i] for i in diff)), (v, *dargs))
            return pnp.concatenate([_flat(f), _flat(df)])

        state0 = pnp.concatenate([_flat(y0), _flat(dy0)])
        sol = odeint_p.bind(state0, t, *args, *(targs[i] for i in diff), fun=aug,
                            solver=solver)
        out = pnp.reshape(sol[:, n:], (n_t,) + shape)
    if tt is not zero:  # moving t_i moves the sample: f(y_i, t_i) dt_i
        moved = pnp.stack([fun(ys[i], t[i], *args) * tt[i] for i in range(n_t)])
        out = add_tangents(out, moved)
    if out is not zero and dtype_of(out) != dtype_of(ys):
        out = pnp.astype(out, dtype_of(ys))
    return out


declare_rules(odeint_p, _odeint_vjp, _odeint_jvp)


def _as_float(v: Any) -> Any:
    if isinstance(v, Tracer):
        return v
    v = _lazy.as_value(v)  # a Dask array stays lazy
    return v if v.dtype.kind in "fc" else v.astype(np.float64)


def _bind(name: str, func_of: Callable[..., Any], y0: Any, t: Any, args: tuple,
          solver: tuple) -> Any:
    if len(shape_of(t)) == 1 and shape_of(t)[0]:
        # a right-hand side that closes over traced values takes them as an argument
        func_of, args = hoist_closure(
            f"pullback.scipy.integrate.{name}", func_of, [y0, t[0]], args,
            f"{name}(func, y0, t, theta) with func(y, t, theta)")
    flat, treedef = tree_flatten(args)
    flat = [_lazy.as_value(a) for a in flat]

    def fun(y: Any, tt: Any, *flat_args: Any) -> Any:
        return func_of(y, tt, *tree_unflatten(treedef, list(flat_args)))

    y0, t = _as_float(y0), _as_float(t)
    if dtype_of(t).kind == "c":
        raise TypeError(f"pullback.scipy.integrate.{name}: complex times are not supported "
                        "(time is real: SciPy would drop the imaginary parts); pass real times")
    if len(shape_of(t)) != 1:
        raise ValueError(f"pullback.scipy.integrate.{name}: the times must be 1-d, got shape "
                         f"{shape_of(t)}")
    if not any(isinstance(v, Tracer) for v in (y0, t, *flat)):
        return _solve(y0, t, *flat, fun=fun, solver=solver)
    return odeint_p.bind(y0, t, *flat, fun=fun, solver=solver)


_ODEINT_UNSUPPORTED = ("Dfun", "col_deriv", "full_output", "ml", "mu", "tcrit", "ixpr",
                       "mxhnil", "mxordn", "mxords", "printmessg")


def odeint(func: Callable[..., Any], y0: Any, t: Any, *args: Any, rtol: float | None = None,
           atol: float | None = None, mxstep: int = 0, hmax: float = 0.0, hmin: float = 0.0,
           h0: float = 0.0, tfirst: bool = False, **kwargs: Any) -> Any:
    """The solution of ``dy/dt = func(y, t, *args)`` at the times ``t`` (the first row is
    ``y0``, at ``t[0]``), by SciPy's LSODA; ``scipy.integrate.odeint``.

    Extra arguments are passed positionally (``odeint(func, y0, t, k, c)``, as JAX's) or as
    SciPy's ``args=(k, c)``; they may be arrays or pytrees of arrays. ``tfirst=True`` calls
    ``func(t, y, *args)``. ``y0`` may have any shape (``func`` sees ``y`` of that shape; SciPy's
    ravels it); a scalar ``y0`` is one equation, as in SciPy: ``y`` of shape ``(1,)``, a result
    of shape ``(len(t), 1)``. Differentiable with respect to ``y0``,
    ``t`` and the arguments: reverse mode by the adjoint method (memory independent of the
    number of steps), forward mode by forward sensitivities; see the module's text. ``rtol``,
    ``atol``, ``mxstep``, ``hmax``, ``hmin`` and ``h0`` are SciPy's and apply to the solution
    and to the integrations of the derivatives; ``Dfun``, ``full_output`` and the other
    options of LSODA are not supported.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.scipy import integrate
        >>> import pullback.numpy as pnp
        >>> f = lambda y, t: pnp.stack([y[1], -y[0]])  # y = (sin, cos)
        >>> y = integrate.odeint(f, np.array([0.0, 1.0]), np.array([0.0, np.pi / 2]),
        ...                      rtol=1e-10, atol=1e-10)
        >>> round(float(y[-1, 0]), 8)  # sin(pi / 2)
        1.0
    """
    scipy_args = kwargs.pop("args", None)
    if scipy_args is not None:
        if args:
            raise TypeError("pullback.scipy.integrate.odeint: give the extra arguments either "
                            "positionally or as args=(...), not both")
        args = scipy_args if isinstance(scipy_args, tuple) else (scipy_args,)
    bad = sorted(k for k, v in kwargs.items() if k in _ODEINT_UNSUPPORTED and v not in
                 (None, 0, False))
    unknown = sorted(k for k in kwargs if k not in _ODEINT_UNSUPPORTED)
    if unknown:
        raise TypeError(f"pullback.scipy.integrate.odeint: unexpected keyword argument(s) "
                        f"{unknown}")
    if bad:
        raise NotImplementedError(f"pullback.scipy.integrate.odeint: option(s) {bad} are not "
                                  "supported")
    options = tuple(sorted({"mxstep": mxstep, "hmax": hmax, "hmin": hmin, "h0": h0}.items()))
    solver = ("odeint", rtol, atol, options)

    def func_of(y: Any, tt: Any, *a: Any) -> Any:
        return func(tt, y, *a) if tfirst else func(y, tt, *a)

    y0 = _as_float(y0)
    if not shape_of(y0):
        # SciPy reads a scalar y0 as one equation: func sees y of shape (1,), may return a
        # scalar, and the result has shape (len(t), 1)
        def one(y: Any, tt: Any, *a: Any) -> Any:
            return pnp.reshape(func_of(y, tt, *a), (1,))

        return _bind("odeint", one, pnp.reshape(y0, (1,)), t, args, solver)
    return _bind("odeint", func_of, y0, t, args, solver)


class _OdeResult(dict):
    """SciPy's ``OdeResult``: a dict whose keys read as attributes (``sol.y``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "\n".join(f"{k:>9}: {v!r}" for k, v in self.items())


def solve_ivp(fun: Callable[..., Any], t_span: Sequence[Any], y0: Any, method: str = "RK45",
              t_eval: Any = None, dense_output: bool = False, events: Any = None,
              vectorized: bool = False, args: tuple | None = None, **options: Any) -> Any:
    """The solution of ``dy/dt = fun(t, y, *args)`` from ``t_span[0]``, with SciPy's
    ``method``; ``scipy.integrate.solve_ivp``. Returns SciPy's ``OdeResult`` (``t``, ``y``
    of shape ``(n, len(t))``, ``success``, ``status``, ``message``).

    Differentiable with respect to ``y0``, ``t_span[0]``, ``t_eval`` and ``args``, as
    :func:`odeint` (adjoint method in reverse mode, forward sensitivities in forward mode),
    with the same ``method`` and tolerances for the derivatives. Without ``t_eval`` the
    times are the solver's own steps, found on the plain values first (not differentiated:
    constants; pass ``t_eval`` for times that move). ``dense_output`` and ``events`` are not
    supported; ``rtol``, ``atol``, ``first_step``, ``max_step`` pass on to SciPy.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.scipy import integrate
        >>> sol = integrate.solve_ivp(lambda t, y, k: -k * y, (0.0, 1.0), np.array([2.0]),
        ...                           t_eval=np.array([0.0, 1.0]), args=(0.5,),
        ...                           rtol=1e-10, atol=1e-10)
        >>> sol.y.round(6)
        array([[2.      , 1.213061]])
    """
    name = "solve_ivp"
    if dense_output or events is not None:
        raise NotImplementedError(f"pullback.scipy.integrate.{name}: dense_output and events "
                                  "are not supported; pass t_eval")
    if vectorized:
        raise NotImplementedError(f"pullback.scipy.integrate.{name}: vectorized=True is not "
                                  "supported")
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    rtol, atol = options.pop("rtol", 1e-3), options.pop("atol", 1e-6)
    unknown = sorted(set(options) - {"first_step", "max_step", "min_step"})
    if unknown:
        raise TypeError(f"pullback.scipy.integrate.{name}: unexpected keyword argument(s) "
                        f"{unknown}")
    sint = _require_scipy(name)
    t0, t1 = t_span
    lazy = [what for what, v in (("t_span[1]", t1),) if backends.is_dask(backends.base_value(v))]
    if t_eval is None:
        lazy += [what for what, v in (("y0", y0), ("t_span[0]", t0), ("args", args))
                 if any(backends.is_dask(backends.base_value(a)) for a in tree_flatten(v)[0])]
    if lazy:
        raise backends.refuse(f"pullback.scipy.integrate.{name}", "dask",
                              "numbers that SciPy's solvers take",
                              f"{', '.join(lazy)} a Dask array"
                              + ("" if t_eval is not None else ", and no t_eval"))
    y0 = _as_float(y0)
    if len(shape_of(y0)) != 1:
        raise ValueError(f"pullback.scipy.integrate.{name}: 'y0' must be 1-dimensional, got "
                         f"shape {shape_of(y0)}")
    # a right-hand side that closes over traced values takes them as an argument (before
    # the solver's steps are found on the plain values below)
    fun, args = hoist_closure(f"pullback.scipy.integrate.{name}", fun, [t0, y0], args,
                              f"{name}(fun, t_span, y0, args=(theta,)) with fun(t, y, theta)")
    if t_eval is None:  # the solver's own steps, on the plain values: constants
        plain = [_strip(a) for a in tree_flatten(args)[0]]
        treedef = tree_flatten(args)[1]
        probe = sint.solve_ivp(lambda tt, yy: np.asarray(fun(tt, yy, *tree_unflatten(
            treedef, plain))), (float(_strip(t0)), float(_strip(t1))), _strip(y0),
            method=method, rtol=rtol, atol=atol, **options)
        t_eval = probe.t
    t_eval = _as_float(t_eval)
    start = pnp.reshape(_as_float(t0), (1,))
    if not isinstance(t0, Tracer) and dtype_of(start) != dtype_of(t_eval):
        start = start.astype(dtype_of(t_eval))  # a Python number is weak
    times = pnp.concatenate([start, t_eval])
    solver = ("solve_ivp", method, rtol, atol, tuple(sorted(options.items())),
              float(_strip(t1)))

    def func_of(y: Any, tt: Any, *a: Any) -> Any:
        return fun(tt, y, *a)

    ys = _bind(name, func_of, y0, times, args, solver)[1:]
    return _OdeResult(t=t_eval, y=pnp.transpose(ys), sol=None, t_events=None,
                       y_events=None, nfev=0, njev=0, nlu=0, status=0,
                       message="The solver successfully reached the end of the integration "
                               "interval.", success=True)
