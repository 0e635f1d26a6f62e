"""``scipy.optimize``: SciPy's solvers (``minimize``, ``least_squares``, ``root``,
``root_scalar``, ``fixed_point``), their solutions differentiable with respect to the extra
arguments by the **implicit function theorem**, never through the iterations.

Each function calls SciPy's solver on plain NumPy values, with SciPy's signature: the
user's function takes ``(x, *args)``, and the quantities to differentiate are in ``args``
(arrays or pytrees of arrays). When the user gives no derivative and the method uses one,
SciPy gets pullback's own (``jac`` from :func:`pullback.grad` or the Jacobian, ``hess`` or
``hessp`` for the methods that need them). The solution ``x*`` solves ``R(x*, p) = 0``:

- ``minimize``: ``R = grad_x f`` (the optimality condition), so ``J_x`` is the Hessian;
- ``least_squares``: ``minimize`` of the cost ``0.5 sum(r**2)`` (or SciPy's robust
  ``loss``): the true Hessian ``J_r^T J_r + sum(r_i H_i)``, not Gauss-Newton's, which is
  exact only for a zero residual;
- ``root``, ``root_scalar``: ``R = F``;
- ``fixed_point``: ``R = g(x, p) - x``.

so that ``dx*/dp = -J_x^{-1} J_p``. Forward mode solves ``J_x dx = -J_p dp`` with the
tangent ``J_p dp`` from :func:`pullback.jvp` of ``R``; reverse mode solves
``J_x^T w = x_bar`` and pulls ``-w`` back through ``R`` with :func:`pullback.vjp`. ``J_x``
is formed densely (``n`` forward-mode passes through ``R``, a Hessian by forward over reverse
for ``minimize``) and solved by LU: fine for the moderate sizes SciPy's solvers handle
(thousands of unknowns at most); there is no matrix-free (iterative) solve. The rules are
written with pullback's operations, so second derivatives are derivatives of the rules
(they differentiate ``R``'s derivatives and the solve again).

Before differentiating, SciPy's report is checked: a solver that did not converge raises
:class:`OptimizeError` rather than differentiating a non-solution, and so does a singular
``J_x`` at the solution (condition number above ``1e12``: the implicit derivative does not
exist, or is not determined, as at a minimum that is not isolated). ``minimize`` and
``least_squares`` with bounds are differentiable when no bound is active at the solution
(an active bound raises); constraints are not supported when differentiating. The
derivative with respect to ``x0`` is zero (an isolated solution does not move with the
starting point); ``x0`` is not differentiated. The function must use ``pullback.numpy``
operations on ``(x, *args)``. A quantity to differentiate may reach it as an argument
(``args``) or through a closure (``lambda x: f(x, theta)``, as JAX's ``odeint`` allows):
a function that closes over traced values is traced once with shapes and dtypes only,
which finds those values, and they become arguments (so its Python must not branch on
values then; the error says so).

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> from pullback.scipy import optimize
    >>> f = lambda x, c: pnp.sum((x - c) ** 2) + pnp.sum(x ** 4)
    >>> res = optimize.minimize(f, np.zeros(2), args=(np.array([1.0, -0.5]),))
    >>> bool(res.success)
    True
    >>> J = pb.jacobian(lambda c: optimize.minimize(f, np.zeros(2), args=(c,),
    ...                                             tol=1e-12).x)(np.array([1.0, -0.5]))
    >>> J.round(6)  # dx/dc = 1 / (1 + 6 x**2) on the diagonal
    array([[0.323954, 0.      ],
           [0.      , 0.528689]])
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.api import grad, hessian, hvp, jacfwd, jvp, vjp
from pullback.core.batching import vmap
from pullback.core.trace import (
    Primitive,
    Tracer,
    TracerConversionError,
    dtype_of,
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
    import scipy.optimize as _sopt
except ImportError:  # pragma: no cover - SciPy is optional (the dev extra has it)
    _sopt = None

#: also public: :class:`OptimizeError` (raised instead of differentiating what cannot be)
__all__ = [
    "fixed_point",
    "least_squares",
    "minimize",
    "root",
    "root_scalar",
]

#: condition number of ``J_x`` above which the implicit derivative is refused
SINGULAR = 1e12


class OptimizeError(RuntimeError):
    """A solution that cannot be differentiated: SciPy's solver did not converge, the
    Jacobian (or Hessian) at the solution is singular, or a bound is active there."""


def _require_scipy(name: str) -> Any:
    if _sopt is None:
        raise ImportError(
            f"pullback.scipy.optimize.{name} solves with SciPy's solvers, and SciPy is not "
            "installed: pip install scipy (pullback's 'dev' extra has it)"
        )
    return _sopt


def _wide(a: Any) -> Any:
    """float32 arguments are evaluated in float64: SciPy's tolerances refer to float64."""
    a = np.asarray(a)
    return a.astype(np.result_type(a, np.float64)) if a.dtype.kind in "fc" else a


# ----------------------------------------------------------------------------- the primitive

#: the full result of the last solve on this thread, read by the public functions after
#: ``bind`` (the primitive's value is the solution only)
_record = threading.local()


def _solve(x0: Any, *args: Any, fun: Callable[..., Any], kind: str, run: Callable[..., Any],
           name: str, batched: bool = False) -> Any:
    """The solution, by SciPy's solver (``run(x0, args)`` returns SciPy's result); with
    ``batched``, every argument carries a leading batch axis and each entry is solved on its
    own. On Dask operands, lazily: one task solves with every operand whole, when the result
    is computed (SciPy's report is not kept then; a solver that does not converge raises
    there)."""
    if not (type(x0) is np.ndarray and all(type(a) is np.ndarray for a in args)) and \
            _lazy.foreign(f"pullback.scipy.optimize.{name}", x0, *args):
        x0 = _lazy.as_value(x0)
        return _lazy.whole(lambda *a: _solve(*a, fun=fun, kind=kind, run=run, name=name,
                                             batched=batched),
                           f"pullback.scipy.optimize.{name}", [x0, *args],
                           [(x0.shape, x0.dtype)])
    if batched:
        results = [_solve_one(x0[b], *(a[b] for a in args), run=run, name=name)
                   for b in range(np.shape(x0)[0])]
        _record.results = [r for r, _ in results]
        return np.stack([x for _, x in results])
    res, x = _solve_one(x0, *args, run=run, name=name)
    _record.results = [res]
    return x


def _solve_one(x0: Any, *args: Any, run: Callable[..., Any], name: str) -> tuple[Any, Any]:
    x0 = np.asarray(x0)
    if x0.size == 0:  # no unknowns: nothing to solve (MINPACK calls it improper input)
        sopt = _require_scipy(name)
        return sopt.OptimizeResult(x=x0.copy(), success=True, status=0, nfev=0,
                                   message="no unknowns: nothing to solve"), x0.copy()
    with outside_traces():  # the user's functions see plain arrays, as outside pullback
        res = run(x0, [_wide(a) for a in args])
    if not _converged(res):
        # how far from a solution it stopped: the gradient, or the residual for root
        field = {"minimize": "jac", "least_squares": "grad", "root": "fun"}.get(name)
        left = res.get(field) if field is not None and isinstance(res, dict) else None
        where = ("" if left is None or np.size(left) == 0 else
                 f"; the largest entry of the {'residual' if name == 'root' else 'gradient'}"
                 f" there is {float(np.max(np.abs(left))):.1e}")
        raise OptimizeError(
            f"pullback.scipy.optimize.{name}: SciPy's solver did not converge "
            f"({_message(res).rstrip('.')}{where}), so there is no solution to "
            "differentiate. Raise maxiter, loosen the tolerance (a tolerance near rounding "
            "makes SciPy report a loss of precision), choose another method or a better x0"
        )
    x = np.asarray(_solution(res), dtype=np.result_type(x0.dtype, np.float64))
    return res, x.reshape(x0.shape).astype(x0.dtype, copy=False)


def _converged(res: Any) -> bool:
    if hasattr(res, "converged"):  # root_scalar's RootResults
        return bool(res.converged)
    if isinstance(res, _FixedPoint):
        return res.success
    return bool(res.get("success", True))


def _message(res: Any) -> str:
    """SciPy's message on one line (MINPACK's come wrapped)."""
    text = str(res.flag) if hasattr(res, "flag") else str(getattr(res, "message", "no message"))
    return " ".join(text.split())


def _solution(res: Any) -> Any:
    found = getattr(res, "root", None)  # root_scalar's RootResults
    return res.x if found is None else found


#: ``solve_p.bind(x0, *args, fun=R, kind=..., run=..., name=..., batched=False)``: the
#: solution ``x*`` of ``R(x*, *args) = 0`` found by SciPy (``run``), where ``R(x, *args)``
#: is the residual written with pullback's operations (the optimality condition for
#: ``minimize``). Not a registered primitive: it carries user functions (as custom
#: derivatives do). Under ``vmap`` every argument gets the batch axis and one call solves
#: the entries in turn (``batched=True``); its rules are the unbatched ones under ``vmap``.
solve_p = Primitive("scipy.optimize.solve", _solve)


def _jacobian_x(residual: Callable[..., Any], xs: Any, dargs: Sequence[Any], name: str) -> Any:
    """``J_x`` of the flat residual at the solution, checked for singularity."""
    if backends.is_dask(backends.base_value(xs)):
        # the columns J e_i for a basis made in Dask (jacfwd's is NumPy's: the tangents
        # computed from it alone would be NumPy constants put into the graph); the
        # singularity is checked when the Jacobian is computed
        xf = _flat(xs)
        n = shape_of(xf)[0]
        basis = backends.dask_array().eye(n, dtype=dtype_of(xf))
        cols = vmap(lambda v: jvp(lambda x: residual(x, *dargs), (xf,), (v,))[1])(basis)
        return _lazy.checked(pnp.transpose(cols), lambda plain: _check_jacobian(name, plain))
    jac = jacfwd(residual, argnums=0)(_flat(xs), *dargs)
    try:
        plain = _strip(jac)
    except Exception:  # noqa: BLE001 - an abstract value (jit): no check at tracing time
        return jac
    _check_jacobian(name, plain)
    return jac


def _check_jacobian(name: str, plain: np.ndarray) -> None:
    plain = plain.astype(np.float64)
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(plain) if plain.size else np.array(1.0)
    if not np.all(np.isfinite(cond)) or np.any(cond > SINGULAR):
        what = "Hessian" if name in ("minimize", "least_squares") else "Jacobian"
        raise OptimizeError(
            f"pullback.scipy.optimize.{name}: the {what} with respect to x at the solution is "
            f"singular (condition number {float(np.max(cond)):.3g}), so the implicit "
            "derivative of the solution does not exist (the solution is not isolated: it may "
            "move along a valley, or not move at all). Make the problem well-posed (a "
            "regularisation term, fewer unknowns) or fix the free directions"
        )


def _residual_fn(fun: Callable[..., Any], xs: Any, args: Sequence[Any],
                 diff: list[int]) -> Callable[..., Any]:
    shape = shape_of(xs)

    def residual(xf: Any, *dargs: Any) -> Any:
        return _flat(fun(pnp.reshape(xf, shape), *_with(args, diff, dargs)))

    return residual


def _solve_vjp(g: Any, xs: Any, args_all: tuple, params: dict, needs: tuple) -> tuple:
    x0, *args = args_all
    fun, name = params["fun"], params["name"]
    diff = [i for i in _differentiable(args) if needs[1 + i]]
    out: list[Any] = [zero] * len(args_all)
    if not diff:
        return tuple(out)
    residual = _residual_fn(fun, xs, args, diff)
    dargs = [args[i] for i in diff]
    jac = _jacobian_x(residual, xs, dargs, name)
    w = pnp.linalg.solve(pnp.transpose(jac), pnp.astype(_flat(g), dtype_of(jac)))
    _, back = vjp(lambda *d: residual(_flat(xs), *d), *dargs)
    cts = back(-w)
    for i, c in zip(diff, cts, strict=True):
        out[1 + i] = c
    return tuple(out)


def _solve_jvp(tangents: tuple, xs: Any, args_all: tuple, params: dict) -> Any:
    _, *targs = tangents
    x0, *args = args_all
    fun, name = params["fun"], params["name"]
    diff = [i for i in _differentiable(args) if targs[i] is not zero]
    if not diff:
        return zero
    residual = _residual_fn(fun, xs, args, diff)
    dargs = [args[i] for i in diff]
    jac = _jacobian_x(residual, xs, dargs, name)
    _, u = jvp(lambda *d: residual(_flat(xs), *d), tuple(dargs),
               tuple(targs[i] for i in diff))
    dx = -pnp.linalg.solve(jac, pnp.astype(u, dtype_of(jac)))
    return pnp.astype(pnp.reshape(dx, shape_of(xs)), dtype_of(xs))


declare_rules(solve_p, _solve_vjp, _solve_jvp, fixed=1)  # x0 is a starting point


# ----------------------------------------------------------------------------- shared plumbing


def _gradient(f: Callable[[Any], Any], x: Any) -> Any:
    """``grad(f)(x)``; at a solution held by a Dask array, with the seed 1 made in Dask, so
    that the cotangents broadcast from it (a sum's, shaped like ``x``) stay Dask arrays
    rather than NumPy constants put into the graph."""
    if not backends.is_dask(backends.base_value(x)):
        return grad(f)(x)
    value, back = vjp(f, x)
    seed = backends.zeros(shape_of(value), dtype_of(value), like=x) + 1
    return back(seed)[0]


def _closure_error(name: str) -> TracerConversionError:
    return TracerConversionError(
        f"pullback.scipy.optimize.{name}: the function returned a traced value for plain "
        "arguments: it uses a traced value it closes over (a parameter captured by a lambda "
        "or a nested function). Pass every quantity to differentiate as an extra argument "
        f"instead: {name}(fun, x0, args=(theta,)) with fun(x, theta)"
    )


def _plain(name: str, value: Any) -> np.ndarray:
    if isinstance(value, Tracer):
        raise _closure_error(name)
    return np.asarray(value)


def _plain_fn(name: str, fn: Any) -> Any:
    """A user's derivative function (``jac``, ``hess``...) as SciPy gets it: its results as
    plain arrays (inside a transformation ``pullback.numpy``'s constructors make values of
    pullback's own, which SciPy does not take for arrays); anything but a function (``'cs'``,
    ``True``) as it is."""
    if not callable(fn):
        return fn

    def plain(*a: Any) -> Any:
        return _plain(name, fn(*a))

    return plain


def _args_tuple(args: Any) -> tuple:
    return args if isinstance(args, tuple) else (args,)


def _with_kwargs(fun: Callable[..., Any], kwargs: dict, x: Any, *args: Any) -> Any:
    return fun(x, *args, **kwargs)


def _hoisted(name: str, fun: Callable[..., Any], x0: Any, args: tuple, flat: bool = False
             ) -> tuple[Callable[..., Any], tuple]:
    """``fun`` and ``args``; for a function that closes over traced values, one that takes
    them as one more argument, and ``args`` with them (see ``hoist_closure``). ``flat``: the
    solver calls ``fun`` with a 0-d ``x0`` as a vector of one entry (``minimize``)."""
    if isinstance(x0, (list, tuple)):
        x0 = np.asarray([_strip(v) for v in x0])
    if flat and not shape_of(x0):
        x0 = np.reshape(_strip(x0), (1,))
    return hoist_closure(f"pullback.scipy.optimize.{name}", fun, [x0], args,
                         f"{name}(fun, x0, args=(theta,)) with fun(x, theta)")


class _Problem:
    """The user's function and extra arguments, flattened: ``flat`` are the leaves (traced
    or plain), ``call(x, flat_args)`` the function on them."""

    def __init__(self, fun: Callable[..., Any], args: tuple):
        flat, self.treedef = tree_flatten(args)
        self.flat = [_lazy.as_value(a) for a in flat]  # Dask arrays stay lazy
        self.fun = fun
        self.traced = any(isinstance(a, Tracer) for a in self.flat)
        #: whether an argument is (traced or not) a Dask array: then the solver runs in the
        #: Dask graph (:func:`_solve`), as it does for traced arguments
        self.lazy = any(backends.is_dask(backends.base_value(a)) for a in self.flat)

    def eager(self, x0: Any) -> bool:
        """Whether SciPy runs now on plain values (no traced argument, nothing lazy)."""
        return not self.traced and not self.lazy and not backends.is_dask(
            backends.base_value(x0))

    def call(self, x: Any, flat_args: Sequence[Any]) -> Any:
        return self.fun(x, *tree_unflatten(self.treedef, list(flat_args)))

    def call_flat(self, x: Any, *flat_args: Any) -> Any:
        return self.fun(x, *tree_unflatten(self.treedef, list(flat_args)))

    def unflatten(self, flat_args: Sequence[Any]) -> tuple:
        return tuple(tree_unflatten(self.treedef, list(flat_args)))


def _bind(problem: _Problem, x0: Any, residual: Callable[..., Any], run: Callable[..., Any],
          name: str, kind: str) -> tuple[Any, list]:
    """The traced solution and SciPy's result(s) for it."""
    _record.results = []
    x0 = _start(x0)
    if x0.dtype.kind == "c" or any(dtype_of(a).kind == "c" for a in problem.flat):
        raise TypeError(
            f"pullback.scipy.optimize.{name}: complex input is not supported: SciPy's "
            "solvers work in real arithmetic (they would drop the imaginary parts); split "
            "complex unknowns and parameters into real and imaginary parts")
    if x0.dtype.kind not in "fc":
        x0 = x0.astype(np.float64)
    xs = solve_p.bind(x0, *problem.flat, fun=residual, kind=kind, run=run, name=name)
    return xs, list(getattr(_record, "results", []))


def _numbers(name: str, **values: Any) -> None:
    """Refuse Dask arrays among ``values`` (and their leaves): settings SciPy's solver takes
    as numbers before it runs (a bracket, bounds), which a lazy array does not have."""
    for what, v in values.items():
        leaves = [v] if v is None or hasattr(v, "shape") else tree_flatten(
            [v.lb, v.ub] if hasattr(v, "lb") else v)[0]
        if any(backends.is_dask(backends.base_value(b)) for b in leaves):
            raise backends.refuse(f"pullback.scipy.optimize.{name}", "dask",
                                  "numbers that SciPy's solvers take",
                                  f"'{what}' is a Dask array")


def _start(x0: Any) -> Any:
    """The plain starting point (not differentiated): a Dask array stays lazy."""
    v = backends.base_value(x0)
    return v if backends.is_dask(v) else np.asarray(v)


def _fields(results: list, skip: Sequence[str], x: Any = None) -> dict:
    """The plain fields of SciPy's result (the first entry's under vmap)."""
    if not results and x is not None and backends.is_dask(backends.base_value(x)):
        return {"success": True, "status": 0, "message": (
            "solved when computed (Dask arrays: SciPy's solver runs when the solution is "
            "computed, and raises OptimizeError there if it does not converge)")}
    if not results:
        return {"success": True, "status": 0, "message": "solved (not run at tracing time)"}
    first = results[0]
    return {k: v for k, v in dict(first).items() if k not in skip}


class OptimizeResultTraced(dict):
    """SciPy's ``OptimizeResult``: a dict whose keys read as attributes (``res.x``), here
    with a traced ``x`` (and ``fun``) and SciPy's other fields plain."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "\n".join(f"{k:>12}: {v!r}" for k, v in self.items())


def _known(v: Any) -> Any:
    """The plain value of ``v``, or None when a transformation on the way has none (pb.jit
    tracing, or a batch under vmap): the check that needs it runs where the value is known
    (eagerly, or when a compiled function runs in the solver's own checks)."""
    while isinstance(v, Tracer):
        if not v.holds_value:
            return None
        v = v.primal
    return v if backends.is_dask(v) else np.asarray(v)


def _check_bounds(name: str, x: Any, lower: Any, upper: Any) -> Any:
    """Refuse to differentiate a solution on a bound (the unconstrained optimality condition
    does not hold there): ``x``, checked (when it is computed, for a Dask array)."""
    lower = np.asarray(lower, np.float64).reshape(-1)
    upper = np.asarray(upper, np.float64).reshape(-1)
    if np.all(np.isinf(lower)) and np.all(np.isinf(upper)):
        return x  # no bounds
    value = _known(x)
    if value is not None and backends.is_dask(value):
        return _lazy.checked(x, lambda plain: _on_bound(name, plain, lower, upper))
    if value is None:
        raise OptimizeError(
            f"pullback.scipy.optimize.{name}: bounds inside pb.jit or pb.vmap: whether the "
            "solution lies on a bound (where its derivative is not the implicit one) needs "
            "its value, which is not known while tracing; call it outside the "
            "transformation, or remove the bounds (a change of variables, x = exp(z) for "
            "x > 0)")
    _on_bound(name, value, lower, upper)
    return x


def _on_bound(name: str, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
    lower = np.broadcast_to(lower, (x.size,))
    upper = np.broadcast_to(upper, (x.size,))
    x = x.reshape(-1)
    scale = np.maximum(1.0, np.abs(x))
    active = (np.abs(x - lower) <= 1e-10 * scale) | (np.abs(upper - x) <= 1e-10 * scale)
    if np.any(active):
        raise OptimizeError(
            f"pullback.scipy.optimize.{name}: the solution is on a bound (entries "
            f"{np.flatnonzero(active.ravel()).tolist()}), where the gradient need not vanish: "
            "its derivative is not the unconstrained implicit one, and is not computed. Remove "
            "the active bound (a change of variables, x = exp(z) for x > 0) or differentiate "
            "an unconstrained problem"
        )


# ----------------------------------------------------------------------------- minimize

_USES_JAC = {"cg", "bfgs", "newton-cg", "l-bfgs-b", "tnc", "slsqp", "dogleg", "trust-ncg",
             "trust-krylov", "trust-exact", "trust-constr"}
_USES_HESS = {"dogleg", "trust-exact"}
_USES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov"}


def _default_method(bounds: Any, constraints: Any) -> str:
    """SciPy's choice for ``method=None``."""
    if constraints:
        return "slsqp"
    return "l-bfgs-b" if bounds is not None else "bfgs"


def minimize(fun: Callable[..., Any], x0: Any, args: Any = (), method: str | None = None,
             jac: Any = None, hess: Any = None, hessp: Any = None, bounds: Any = None,
             constraints: Any = (), tol: float | None = None, callback: Any = None,
             options: dict | None = None) -> Any:
    """The minimum of ``fun(x, *args)`` from ``x0`` by SciPy's ``method``;
    ``scipy.optimize.minimize``. Returns SciPy's ``OptimizeResult``.

    With traced ``args`` (arrays or pytrees), ``res.x`` and ``res.fun`` are traced: ``x*``
    is differentiable by the implicit function theorem (``grad_x f(x*, p) = 0``, so
    ``dx*/dp = -H_xx^{-1} H_xp``, with a dense Hessian; see the module's text) and
    ``res.fun`` is ``fun(x*, args)``; SciPy's other fields are plain. Without ``jac``, SciPy
    gets pullback's gradient (and Hessian or Hessian-vector products for the methods that
    use them); ``jac=True`` (``fun`` returns the value and the gradient) and user-given
    ``jac``/``hess``/``hessp`` pass on to SciPy. A solver that does not converge, a singular
    Hessian or an active bound raise :class:`OptimizeError` when differentiating;
    ``constraints`` are not supported then. Plain arguments give SciPy's result as it is.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> from pullback.scipy import optimize
        >>> A = np.array([[3.0, 1.0], [1.0, 2.0]])
        >>> def quad(x, b):  # minimum at A^-1 b, so dx*/db = A^-1
        ...     return 0.5 * x @ A @ x - b @ x
        >>> pb.jacobian(lambda b: optimize.minimize(quad, np.zeros(2), args=(b,)).x)(
        ...     np.array([1.0, 1.0])).round(12)
        array([[ 0.4, -0.2],
               [-0.2,  0.6]])
    """
    name = "minimize"
    sopt = _require_scipy(name)
    _numbers(name, bounds=bounds)
    args = _args_tuple(args)
    fun, args = _hoisted(name, fun, x0, args, flat=True)
    problem = _Problem(fun, args)
    chosen = (method if isinstance(method, str) else _default_method(bounds, constraints))
    chosen = chosen.lower() if isinstance(chosen, str) else chosen
    value_of = (lambda x, *a: fun(x, *a)[0]) if jac is True else fun

    def run(x_start: np.ndarray, flat_args: list) -> Any:
        plain_args = problem.unflatten(flat_args)
        shape = x_start.shape

        def f(x: np.ndarray, *a: Any) -> Any:
            out = fun(x.reshape(shape), *a)
            if jac is True:
                return _plain(name, out[0]), _plain(name, out[1]).ravel()
            return _plain(name, out)

        extra: dict[str, Any] = {}
        if jac is None and chosen in _USES_JAC:
            gradient = grad(lambda x, *a: fun(pnp.reshape(x, shape), *a))
            extra["jac"] = lambda x, *a: _plain(name, gradient(x, *a))
        elif jac is not None:
            extra["jac"] = _plain_fn(name, jac)
        if hess is None and hessp is None and jac in (None, True):
            vf = lambda x, *a: value_of(pnp.reshape(x, shape), *a)  # noqa: E731
            if chosen in _USES_HESS:
                extra["hess"] = lambda x, *a: _plain(name, hessian(vf)(x, *a))
            elif chosen in _USES_HESSP:
                extra["hessp"] = lambda x, v, *a: _plain(
                    name, hvp(lambda xx: vf(xx, *a), (x,), (v,))[1][0])
        else:
            extra.update({k: _plain_fn(name, v) for k, v in (("hess", hess), ("hessp", hessp))
                          if v is not None})
        return sopt.minimize(f, x_start, args=plain_args, method=method, bounds=bounds,
                             constraints=constraints, tol=tol, callback=callback,
                             options=options, **extra)

    if problem.eager(x0):
        return run(np.asarray(x0) if not isinstance(x0, Tracer) else _strip(x0),
                   [_wide(a) for a in problem.flat])
    if constraints:
        raise NotImplementedError(
            f"pullback.scipy.optimize.{name}: constraints are not supported when "
            "differentiating (the solution's derivative would need the constraints' "
            "multipliers); write the constraint into the variables (a change of variables) "
            "or as a penalty"
        )

    def residual(x: Any, *flat_args: Any) -> Any:
        return _gradient(lambda xx: value_of(xx, *problem.unflatten(flat_args)), x)

    x0v = _start(x0)
    if x0v.ndim == 0:
        x0v = x0v.reshape(1)  # SciPy's minimize works on 1-d x
    xs, results = _bind(problem, x0v, residual, run, name, "minimize")
    if bounds is not None:
        if hasattr(bounds, "lb"):
            lower, upper = bounds.lb, bounds.ub
        else:  # (lo, hi) pairs, None for no bound
            lower = [-np.inf if lo is None else lo for lo, _ in bounds]
            upper = [np.inf if hi is None else hi for _, hi in bounds]
        xs = _check_bounds(name, xs, lower, upper)
    out = OptimizeResultTraced(_fields(results, ("x", "fun"), xs))
    out["x"] = xs
    out["fun"] = value_of(xs, *args)
    return out


# ----------------------------------------------------------------------------- least_squares

def _rho(loss: str, z: Any) -> Any:
    """SciPy's robust losses ``rho(z)`` of ``z = (r / f_scale)**2``."""
    if loss == "linear":
        return z
    if loss == "soft_l1":
        return 2.0 * (pnp.sqrt(1.0 + z) - 1.0)
    if loss == "huber":
        return pnp.where(z <= 1.0, z, 2.0 * pnp.sqrt(pnp.maximum(z, 1.0)) - 1.0)
    if loss == "cauchy":
        return pnp.log1p(z)
    if loss == "arctan":
        return pnp.arctan(z)
    raise ValueError(f"pullback.scipy.optimize.least_squares: loss must be one of 'linear', "
                     f"'soft_l1', 'huber', 'cauchy', 'arctan' or a callable, got {loss!r}")


def least_squares(fun: Callable[..., Any], x0: Any, jac: Any = None,
                  bounds: Any = (-np.inf, np.inf), method: str = "trf", ftol: float = 1e-8,
                  xtol: float = 1e-8, gtol: float = 1e-8, x_scale: Any = 1.0,
                  loss: Any = "linear", f_scale: float = 1.0, diff_step: Any = None,
                  tr_solver: str | None = None, tr_options: dict | None = None,
                  jac_sparsity: Any = None, max_nfev: int | None = None, verbose: int = 0,
                  args: Any = (), kwargs: dict | None = None) -> Any:
    """The minimum of ``0.5 * sum(rho((fun(x, *args) / f_scale)**2)) * f_scale**2`` (the
    cost, ``rho`` SciPy's ``loss``) by SciPy's ``method``; ``scipy.optimize.least_squares``.
    Returns SciPy's ``OptimizeResult``.

    With traced ``args``, ``res.x``, ``res.fun`` (the residuals) and ``res.cost`` are
    traced; ``x*`` is differentiable by the implicit function theorem of the minimum of the
    cost, with its true Hessian (Gauss-Newton's ``J^T J`` misses ``sum(r_i H_i)`` and is
    exact only when the residuals vanish). ``jac=None`` (the default; SciPy's is
    ``'2-point'``) gives SciPy pullback's Jacobian of the residuals; a callable or SciPy's
    difference schemes pass on. A solver that does not converge, a singular Hessian or an
    active bound raise :class:`OptimizeError` when differentiating; a callable ``loss`` is
    not supported then.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> from pullback.scipy import optimize
        >>> t = np.array([0.0, 1.0, 2.0])
        >>> def resid(x, y):  # a straight line through (t, y)
        ...     return x[0] + x[1] * t - y
        >>> y = np.array([1.0, 2.0, 2.5])
        >>> optimize.least_squares(resid, np.zeros(2), args=(y,)).x.round(6)
        array([1.083333, 0.75    ])
        >>> pb.jacobian(lambda y: optimize.least_squares(resid, np.zeros(2), args=(y,)).x)(
        ...     y).round(6) + 0.0  # the pseudo-inverse of [1, t]
        array([[ 0.833333,  0.333333, -0.166667],
               [-0.5     ,  0.      ,  0.5     ]])
    """
    name = "least_squares"
    sopt = _require_scipy(name)
    _numbers(name, bounds=bounds)
    args = _args_tuple(args)
    if kwargs:
        fun = functools.partial(_with_kwargs, fun, dict(kwargs))
    kwargs = {}
    fun, args = _hoisted(name, fun, x0, args, flat=True)
    problem = _Problem(fun, args)

    def run(x_start: np.ndarray, flat_args: list) -> Any:
        plain_args = problem.unflatten(flat_args)
        shape = x_start.shape

        def f(x: np.ndarray, *a: Any) -> Any:
            return _plain(name, fun(x.reshape(shape), *a, **kwargs)).ravel()

        if jac is None:
            jacobian = jacfwd(lambda x, *a: _flat(fun(pnp.reshape(x, shape), *a, **kwargs)))
            the_jac: Any = lambda x, *a: _plain(name, jacobian(x, *a))  # noqa: E731
        else:
            the_jac = _plain_fn(name, jac)
        options: dict[str, Any] = {} if tr_options is None else {"tr_options": tr_options}
        return sopt.least_squares(f, x_start.ravel() if x_start.ndim else x_start,
                                  jac=the_jac, bounds=bounds, method=method, ftol=ftol,
                                  xtol=xtol, gtol=gtol, x_scale=x_scale, loss=loss,
                                  f_scale=f_scale, diff_step=diff_step, tr_solver=tr_solver,
                                  jac_sparsity=jac_sparsity, max_nfev=max_nfev,
                                  verbose=verbose, args=plain_args, **options)

    if problem.eager(x0):
        return run(_strip(x0), [_wide(a) for a in problem.flat])
    if callable(loss):
        raise NotImplementedError(
            f"pullback.scipy.optimize.{name}: a callable loss is not supported when "
            "differentiating (its derivatives are SciPy's arrays, not pullback's); use one of "
            "'linear', 'soft_l1', 'huber', 'cauchy', 'arctan', or minimize with your cost"
        )
    _rho("linear" if loss == "linear" else loss, 0.0)  # an unknown loss fails here

    def cost(x: Any, *a: Any) -> Any:
        r = _flat(fun(x, *a, **kwargs))
        z = (r / f_scale) ** 2
        return 0.5 * f_scale ** 2 * pnp.sum(_rho(loss, z))

    def residual(x: Any, *flat_args: Any) -> Any:
        return _gradient(lambda xx: cost(xx, *problem.unflatten(flat_args)), x)

    x0v = _start(x0)
    if x0v.ndim == 0:
        x0v = x0v.reshape(1)
    xs, results = _bind(problem, x0v, residual, run, name, "least_squares")
    lower, upper = (bounds.lb, bounds.ub) if hasattr(bounds, "lb") else bounds
    xs = _check_bounds(name, xs, lower, upper)
    out = OptimizeResultTraced(_fields(results, ("x", "fun", "cost"), xs))
    out["x"] = xs
    out["fun"] = fun(xs, *args, **kwargs)
    out["cost"] = cost(xs, *args)
    return out


# ----------------------------------------------------------------------------- root

_ROOT_USES_JAC = {"hybr", "lm"}


def root(fun: Callable[..., Any], x0: Any, args: Any = (), method: str = "hybr",
         jac: Any = None, tol: float | None = None, callback: Any = None,
         options: dict | None = None) -> Any:
    """A root of ``fun(x, *args)`` (``fun`` returns an array shaped like ``x``) from ``x0`` by
    SciPy's ``method``; ``scipy.optimize.root``. Returns SciPy's ``OptimizeResult``.

    With traced ``args``, ``res.x`` and ``res.fun`` are traced: ``x*`` is differentiable by
    the implicit function theorem (``F(x*, p) = 0``, so ``dx*/dp = -J_x^{-1} J_p``, ``J_x``
    dense; see the module's text). Without ``jac``, the methods that use one (``'hybr'``,
    ``'lm'``) get pullback's Jacobian. A solver that does not converge or a singular ``J_x``
    at the root raise :class:`OptimizeError` when differentiating. ``x0`` may have any
    shape, which ``fun``'s ``x`` and ``res.x`` keep (SciPy's ``res.x`` is flat).

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.scipy import optimize
        >>> cube = lambda x, a: x ** 3 - a  # the root is a ** (1/3)
        >>> float(optimize.root(cube, np.array([1.0]), args=(8.0,)).x[0])
        2.0
        >>> round(float(pb.grad(lambda a: optimize.root(cube, np.array([1.0]),
        ...                                             args=(a,)).x[0])(8.0)), 12)  # 1/12
        0.083333333333
    """
    name = "root"
    sopt = _require_scipy(name)
    args = _args_tuple(args)
    fun, args = _hoisted(name, fun, x0, args)
    problem = _Problem(fun, args)
    chosen = method.lower() if isinstance(method, str) else method

    def run(x_start: np.ndarray, flat_args: list) -> Any:
        plain_args = problem.unflatten(flat_args)
        shape = x_start.shape

        def f(x: np.ndarray, *a: Any) -> Any:
            return _plain(name, fun(x.reshape(shape), *a)).ravel()

        extra: dict[str, Any] = {}
        if jac is None and chosen in _ROOT_USES_JAC:
            jacobian = jacfwd(lambda x, *a: _flat(fun(pnp.reshape(x, shape), *a)))
            extra["jac"] = lambda x, *a: _plain(name, jacobian(x, *a))
        elif jac is not None:
            extra["jac"] = _plain_fn(name, jac)
        res = sopt.root(f, x_start.ravel(), args=plain_args, method=method, tol=tol,
                        callback=callback, options=options, **extra)
        res.x = np.asarray(res.x).reshape(shape)
        return res

    if problem.eager(x0):
        return run(_strip(x0), [_wide(a) for a in problem.flat])
    xs, results = _bind(problem, _start(x0), problem.call_flat, run, name, "root")
    out = OptimizeResultTraced(_fields(results, ("x", "fun"), xs))
    out["x"] = xs
    out["fun"] = fun(xs, *args)
    return out


class RootResultsTraced:
    """SciPy's ``RootResults`` (``root``, ``iterations``, ``function_calls``, ``converged``,
    ``flag``, ``method``), here with a traced ``root``."""

    def __init__(self, root: Any, plain: Any):
        self.root = root
        for key in ("iterations", "function_calls", "converged", "flag", "method"):
            setattr(self, key, getattr(plain, key, None))

    def __repr__(self) -> str:
        return "\n".join(f"{k:>15}: {v!r}" for k, v in vars(self).items())


def root_scalar(f: Callable[..., Any], args: Any = (), method: str | None = None,
                bracket: Any = None, fprime: Any = None, fprime2: Any = None,
                x0: Any = None, x1: Any = None, xtol: float | None = None,
                rtol: float | None = None, maxiter: int | None = None,
                options: dict | None = None) -> Any:
    """A root of the scalar function ``f(x, *args)`` by SciPy's ``method`` (a bracketing one
    with ``bracket``, Newton's or the secant method from ``x0``);
    ``scipy.optimize.root_scalar``. Returns SciPy's ``RootResults``.

    With traced ``args``, ``res.root`` is traced and differentiable by the implicit function
    theorem: ``dx*/dp = -(df/dp) / (df/dx)``. ``method='newton'`` (or ``'halley'``) without
    ``fprime`` (``fprime2``) gets pullback's derivatives. The bracket and ``x0`` are not
    differentiated (the root does not move with them). A solver that does not converge or
    ``df/dx = 0`` at the root raise :class:`OptimizeError` when differentiating.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.scipy import optimize
        >>> f = lambda x, a: x * x - a  # the root in [0, 3] is sqrt(a)
        >>> float(optimize.root_scalar(f, args=(4.0,), bracket=(0.0, 3.0)).root)
        2.0
        >>> float(pb.grad(lambda a: optimize.root_scalar(f, args=(a,),
        ...                                              bracket=(0.0, 3.0)).root)(4.0))
        0.25
    """
    name = "root_scalar"
    sopt = _require_scipy(name)
    args = _args_tuple(args)
    at = x0 if x0 is not None else (bracket[0] if bracket is not None else 0.0)
    f, args = _hoisted(name, f, at, args)
    problem = _Problem(f, args)
    chosen = method.lower() if isinstance(method, str) else method
    if chosen is None and bracket is None and x0 is not None and x1 is None and fprime is None:
        chosen = method = "newton"  # SciPy would refuse x0 alone: Newton's with our f'

    # the bracket and the starting points are not differentiated (the root does not move
    # with them): their plain values, which SciPy takes as numbers before it runs
    _numbers(name, bracket=bracket, x0=x0, x1=x1)
    plain_bracket = None if bracket is None else tuple(float(_strip(b)) for b in bracket)

    # f may return a one-entry array of any shape: Newton's, Halley's and the secant steps
    # of SciPy broadcast the root with it, so that the root takes its shape (``shapes``)
    shapes: list[tuple[int, ...]] = []

    def number(v: Any) -> float:
        a = _plain(name, v)
        if a.size != 1:
            raise ValueError(
                f"pullback.scipy.optimize.root_scalar: f returned an array of shape {a.shape}; "
                "a scalar function returns one number: for several equations use "
                "pullback.scipy.optimize.root")
        if not shapes:
            shapes.append(a.shape)
        return float(a.reshape(()))

    def one(x: Any, *a: Any) -> Any:  # f as a function with a 0-d value
        return pnp.reshape(f(x, *a), ())

    def run(x_start: np.ndarray, flat_args: list) -> Any:
        plain_args = problem.unflatten(flat_args)

        def fn(x: Any, *a: Any) -> float:
            return number(f(x, *a))

        extra: dict[str, Any] = {}
        if fprime is None and chosen in ("newton", "halley"):
            d1 = grad(one)
            extra["fprime"] = lambda x, *a: number(d1(float(x), *a))
        elif fprime is not None:
            extra["fprime"] = fprime
        if fprime2 is None and chosen == "halley":
            d2 = grad(grad(one))
            extra["fprime2"] = lambda x, *a: number(d2(float(x), *a))
        elif fprime2 is not None:
            extra["fprime2"] = fprime2
        start = None if x0 is None else float(x_start)
        return sopt.root_scalar(fn, args=plain_args, method=method, bracket=plain_bracket,
                                x0=start, x1=None if x1 is None else float(_strip(x1)),
                                xtol=xtol, rtol=rtol, maxiter=maxiter, options=options,
                                **extra)

    first = np.float64(0.0 if x0 is None else _strip(x0))
    stepping = chosen in ("newton", "secant", "halley")
    if problem.eager(first):
        res = run(first, [_wide(a) for a in problem.flat])
        if stepping and shapes and shapes[0]:
            res.root = np.full(shapes[0], res.root)
        return res

    def residual(x: Any, *flat_args: Any) -> Any:
        return one(x, *problem.unflatten(flat_args))

    xs, results = _bind(problem, first, residual, run, name, "root_scalar")
    if stepping and not shapes:  # SciPy did not run (pb.jit tracing): f's value's shape
        shapes.append(shape_of(f(first, *args)))
    if stepping and shapes[0]:
        xs = pnp.reshape(xs, shapes[0])
    return RootResultsTraced(xs, results[0] if results else None)


# ----------------------------------------------------------------------------- fixed_point


class _FixedPoint:
    """``fixed_point``'s outcome as a result (SciPy's function returns the point, or raises)."""

    def __init__(self, x: Any, success: bool, message: str):
        self.x, self.success, self.message = x, success, message


def fixed_point(func: Callable[..., Any], x0: Any, args: Any = (), xtol: float = 1e-8,
                maxiter: int = 500, method: str = "del2") -> Any:
    """A fixed point ``x = func(x, *args)`` from ``x0`` by SciPy's iteration (``'del2'``,
    Steffensen's with Aitken's acceleration, or ``'iteration'``);
    ``scipy.optimize.fixed_point``. Returns the point.

    With traced ``args``, the point is traced and differentiable by the implicit function
    theorem of ``g(x, p) - x = 0``: ``dx*/dp = (I - J_x g)^{-1} J_p g``. SciPy's failure to
    converge raises :class:`OptimizeError` when differentiating (SciPy's own
    ``RuntimeError`` otherwise), and so does ``I - J_x g`` singular at the point.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> from pullback.scipy import optimize
        >>> g = lambda x, a: pnp.cos(a * x)  # x = cos(a x)
        >>> x = optimize.fixed_point(g, np.array([0.5]), args=(1.0,))
        >>> x.round(8)  # the Dottie number
        array([0.73908513])
        >>> float(pb.grad(lambda a: optimize.fixed_point(g, np.array([0.5]), args=(a,))[0])(
        ...     1.0).round(8))  # -x sin(x) / (1 + sin(x))
        -0.29747434
    """
    name = "fixed_point"
    sopt = _require_scipy(name)
    args = _args_tuple(args)
    func, args = _hoisted(name, func, x0, args)
    problem = _Problem(func, args)

    def run(x_start: np.ndarray, flat_args: list) -> Any:
        plain_args = problem.unflatten(flat_args)

        def g(x: Any, *a: Any) -> Any:
            return _plain(name, func(x, *a))

        try:
            x = sopt.fixed_point(g, x_start, args=plain_args, xtol=xtol, maxiter=maxiter,
                                 method=method)
        except RuntimeError as err:
            return _FixedPoint(None, False, str(err))
        return _FixedPoint(np.asarray(x), True, "converged")

    if problem.eager(x0):
        return sopt.fixed_point(lambda x, *a: _plain(name, func(x, *a)), _strip(x0),
                                args=problem.unflatten([_wide(a) for a in problem.flat]),
                                xtol=xtol, maxiter=maxiter, method=method)

    def residual(x: Any, *flat_args: Any) -> Any:
        return problem.call(x, flat_args) - x

    xs, _ = _bind(problem, _start(x0), lambda x, *a: residual(x, *a), run, name,
                  "fixed_point")
    return xs
