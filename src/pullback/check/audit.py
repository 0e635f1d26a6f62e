"""The rule audit: every registered derivative rule, checked on inputs from its domain.

The registry does not store input domains. Where each function is valid lives in one table,
:data:`pullback.check.domains.FUNCTION_DOMAINS` (shared with the test suite's spec table);
this module keeps the table of audit cases: a public function's name (``"sin"``,
``"linalg.inv"``, ``"scipy.special.erf"``) -> how to call it (argument shapes, keyword
arguments, or a ``call``/``make`` for functions that take lists or need structured inputs).
A case that names no domains draws its arguments from the function's domains in that table;
cases name domains of their own only for special inputs (a second, narrower region, or a
function whose domain does not factor per argument, like ``fmod``); ``tests/test_audit.py``
checks that those stay inside the table's valid region. Functions are discovered at run time
(the public names of ``pullback.numpy``, its submodules and ``pullback.scipy``); a function
without a case is reported as "no case", not as a failure. Each case runs through
:func:`pullback.check.report` (both modes, the dot-product test, up to the audit's order);
the primitives each case exercises (its own and those of its derivative rules) are recorded,
which gives the coverage of ``pullback.numpy._registry.PRIMITIVES``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import pkgutil
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.check.domains import differentiable, domain_of, is_domain, sample
from pullback.check.grads import report
from pullback.check.locate import RecordTrace, RecordTracer
from pullback.check.numeric import has_inexact_leaf, is_inexact_tree
from pullback.check.report import VERDICTS
from pullback.core.api import jvp, vjp
from pullback.core.batching import vmap
from pullback.core.trace import Primitive, dtype_of, new_trace
from pullback.core.tree import tree_flatten, tree_unflatten
from pullback.numpy._registry import PRIMITIVES

__all__ = ["CASES", "AuditCase", "AuditReport", "AuditRow", "audit", "discover"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class AuditCase:
    """How to call one function for the audit.

    ``shapes``: one shape per positional argument; ``domains``: per argument (a single
    domain applies to all) a domain of :mod:`pullback.check.domains` (``"real"``,
    ``"positive"``, ``"nonzero"``, ``"unit"``, ``"gt1"``, ``"complex"``, ``"int"`` and
    ``"bool"`` held fixed, ``(lo, hi)`` or a callable ``(rng, shape) -> array``), or
    ``None`` (the default): the function's domains in
    :data:`pullback.check.domains.FUNCTION_DOMAINS`, ``"real"`` for functions not listed
    there. ``make(rng) -> args`` replaces both. ``call(fn, *args, **kwargs)`` calls the
    function (default ``fn(*args, **kwargs)``). ``label`` names a special case (``"at 0"``),
    ``order`` caps the order, ``dtype`` is the floating dtype.

    Example:
        >>> AuditCase(((3,), (3,)), ("real", "nonzero")).domain(1)
        'nonzero'
        >>> AuditCase(((3,), (3,))).domain(1, "divide")
        'nonzero'
    """

    shapes: tuple[Shape, ...] = ((3, 2),)
    domains: Any = None
    kwargs: dict = field(default_factory=dict)
    call: Callable[..., Any] | None = None
    make: Callable[[np.random.Generator], tuple] | None = None
    label: str = ""
    order: int | None = None
    dtype: str = "float64"

    def domain(self, i: int, name: str = "") -> Any:
        """The domain of argument ``i``; ``name`` is the function's, for the default."""
        d = self.domains
        if d is None:
            return domain_of(name, i)
        if is_domain(d):
            return d
        return d[i] if i < len(d) else "real"

    def args(self, rng: np.random.Generator, name: str = "") -> tuple:
        if self.make is not None:
            return tuple(self.make(rng))
        return tuple(
            sample(rng, self.domain(i, name), s, self.dtype) for i, s in enumerate(self.shapes)
        )

    def function(self, fn: Callable) -> Callable:
        call, kwargs = self.call, self.kwargs
        name = getattr(fn, "__name__", "function")
        if call is None:

            def g(*args: Any) -> Any:
                return fn(*args, **kwargs)

        else:

            def g(*args: Any) -> Any:
                return call(fn, *args, **kwargs)

        g.__name__ = name
        return g


# ----------------------------------------------------------------------------- the table


def C(*shapes: Shape, dom: Any = None, kw: dict | None = None, **opts: Any) -> AuditCase:
    """A case; without ``dom``, the function's domains from ``FUNCTION_DOMAINS``."""
    return AuditCase(tuple(shapes), dom, kw or {}, **opts)


def _sym(f: Callable, a: Any, **kw: Any) -> Any:
    """``f`` of the Hermitian (real: symmetric) positive definite matrix
    ``(a + a^H) / 2 + 3 I``."""

    n = a.shape[-1]
    return f((a + pnp.conj(pnp.swapaxes(a, -1, -2))) * 0.5 + 3.0 * np.eye(n), **kw)


def _fix_sign(v: Any) -> Any:
    """Columns of ``v`` with their first entry made real and positive (the eigenvector
    gauge: a sign for real vectors, a phase for complex ones)."""

    return v * pnp.conj(pnp.sign(v[..., :1, :]))


def _eigh(f: Callable, a: Any, **kw: Any) -> Any:
    w, v = _sym(f, a, **kw)
    return w, _fix_sign(v)


def _svd(f: Callable, a: Any) -> Any:

    u, s, vh = f(a, full_matrices=False)
    phase = pnp.sign(u[..., :1, :])  # U conj(D), D Vh: the same product, a fixed gauge
    return u * pnp.conj(phase), s, vh * pnp.swapaxes(phase, -1, -2)


def _vmap(f: Callable) -> Callable:

    return vmap(f)


def _ties(rng: np.random.Generator) -> tuple:
    return np.array([1.0, 0.0, -0.5, 0.7]), np.array([1.0, 0.0, 0.3, -0.5])


UNARY = C((3, 2))
SCALAR = C(())
BINARY = C((3, 2), (2,))
NONDIFF_1 = C((3, 2))
NONDIFF_2 = C((3, 2), (3, 2))

# fmt: off
CASES: dict[str, list[AuditCase]] = {
    # elementwise, smooth on the reals
    **{n: [UNARY, SCALAR] for n in (
        "exp", "exp2", "expm1", "sin", "cos", "tanh", "sinh", "cosh", "arctan", "arcsinh",
        "negative", "positive", "square", "deg2rad", "degrees", "rad2deg", "radians",
        "nan_to_num", "real", "imag", "conj", "conjugate", "sinc")},
    **{n: [UNARY, C((3, 2), call=lambda f, x: f(x * (1.0 + 2.0j)), label="complex")]
       for n in ("real", "imag", "conj", "conjugate")},
    # elementwise, smooth on part of the line (their domains: FUNCTION_DOMAINS)
    **{n: [UNARY] for n in ("tan", "cbrt", "reciprocal", "log", "log10", "log2", "sqrt",
                            "log1p", "arcsin", "arccos", "arctanh", "arccosh", "frexp")},
    "abs": [UNARY,
            C(make=lambda rng: (np.array([0.0, 1.5, -0.7]),), label="at 0")],
    "fabs": [UNARY,
             C(make=lambda rng: (np.array([0.0, 1.5, -0.7]),), label="at 0")],
    # elementwise, two arguments
    **{n: [BINARY, C((), (4,))] for n in ("add", "subtract", "multiply", "logaddexp",
                                         "logaddexp2")},
    **{n: [BINARY, C(make=_ties, label="ties")] for n in ("maximum", "minimum", "fmax", "fmin")},
    **{n: [BINARY] for n in ("divide", "hypot", "arctan2")},
    "copysign": [C((3, 2), (3, 2))],
    "power": [C((3, 2), (2,), dom=("positive", "real")),
              C((3, 2), (), dom=("real", "int"), label="integer exponent")],
    "float_power": [BINARY],
    **{n: [C((3, 2), (2,), dom=((0.1, 2.9), (1.0, 1.3)))] for n in ("fmod", "mod", "remainder")},
    "ldexp": [C((3, 2), (3, 2))],
    "divmod": [C((3, 2), (2,), dom=((0.1, 2.9), (1.0, 1.3)))],
    "modf": [C((3, 2), dom=(-2.9, 2.9))],
    "clip": [C((3, 2), call=lambda f, x: f(x, -0.5, 0.5))],
    "where": [C((3, 2), (3, 2), (2,))],
    # reductions
    **{n: [C((3, 4), kw={"axis": 1}), C((3, 4))] for n in (
        "sum", "mean", "nansum", "nanmean", "logsumexp", "max", "min", "amax", "amin",
        "nanmax", "nanmin", "ptp")},
    **{n: [C((3, 4), kw={"axis": 1}, dom="nonzero"), C((3, 4), dom="nonzero")]
       for n in ("prod", "nanprod")},
    **{n: [C((3, 4), kw={"axis": 0}), C((3, 4), kw={"ddof": 1})] for n in ("std", "var")},
    "cumsum": [C((3, 4), kw={"axis": 1}), C((3, 4))],
    "nancumsum": [C((3, 4), kw={"axis": 1})],
    **{n: [C((3, 4), kw={"axis": 1}, dom="nonzero")] for n in ("cumprod", "nancumprod")},
    **{n: [C((3, 4), kw={"axis": 0}), C((3, 4), kw={"ddof": 1})] for n in ("nanstd", "nanvar")},
    "median": [C((3, 4), kw={"axis": 1}), C((5,))],
    "quantile": [C((3, 4), call=lambda f, x: f(x, 0.3, axis=1)),
                 C((5,), call=lambda f, x: f(x, np.array([0.2, 0.9])), label="several q")],
    "percentile": [C((3, 4), call=lambda f, x: f(x, 30.0, axis=1))],
    "average": [C((3, 4), (4,), dom=("real", "positive"),
                  call=lambda f, x, w: f(x, axis=1, weights=w))],
    # shapes and indexing
    "astype": [C((3, 2), call=lambda f, x: f(x, np.float32)),
               C((3, 2), call=lambda f, x: f(x, np.int32), label="to int")],
    "atleast_1d": [C(())],
    "atleast_2d": [C((3,))],
    "atleast_3d": [C((3, 2))],
    "broadcast_arrays": [C((3, 1), (2,))],
    "broadcast_to": [C((3, 1), kw={"shape": (2, 3, 4)})],
    **{n: [C((2, 3), (2, 3), call=lambda f, x, y: f([x, y]))]
       for n in ("column_stack", "hstack", "vstack", "dstack", "array", "asarray")},
    "concatenate": [C((2, 3), (2, 1), call=lambda f, x, y: f([x, y], axis=1))],
    "stack": [C((2, 3), (2, 3), call=lambda f, x, y: f([x, y], axis=-1))],
    "array_split": [C((5, 2), call=lambda f, x: f(x, 3))],
    "split": [C((4, 2), call=lambda f, x: f(x, 2))],
    "diff": [C((4, 3), kw={"axis": 0}), C((5,), kw={"n": 2})],
    "expand_dims": [C((3, 2), kw={"axis": 1})],
    "flip": [C((3, 2), kw={"axis": 0})],
    "fliplr": [C((3, 2))],
    "flipud": [C((3, 2))],
    "getitem": [C((3, 4), call=lambda f, x: f(x, (slice(1, None), slice(None, None, -1))),
                  label="slices"),
                C((3, 4), call=lambda f, x: f(x, np.array([0, 2, 0])), label="repeated"),
                C((3, 4), call=lambda f, x: _vmap(lambda r, i: f(r, i))(x, np.array([1, 0, 3])),
                  label="index a value, under vmap")],
    "take": [C((3, 4), call=lambda f, x: f(x, np.array([0, 2, 0]), axis=0))],
    "take_along_axis": [C((3, 2), call=lambda f, x: f(x, np.array([[0, 1], [2, 2]]), axis=0))],
    "interp": [C((4,), (6,), call=lambda f, x, fp: f(x, np.linspace(-2.5, 2.5, 6), fp))],
    "moveaxis": [C((2, 3, 4), call=lambda f, x: f(x, 0, -1))],
    "pad": [C((3, 2), call=lambda f, x: f(x, ((1, 0), (0, 2)))),
            C((4,), call=lambda f, x: f(x, 2, mode="reflect"), label="reflect")],
    "ravel": [C((3, 2))],
    "repeat": [C((3, 2), call=lambda f, x: f(x, 2, axis=0))],
    "reshape": [C((3, 4), call=lambda f, x: f(x, (2, -1)))],
    "roll": [C((3, 2), call=lambda f, x: f(x, 1, axis=1))],
    "select": [C((3, 2), (3, 2), call=lambda f, x, y: f([x > 0.5, x < -0.5], [x, y], 0.25))],
    "sort": [C((3, 4), kw={"axis": -1})],
    "squeeze": [C((3, 1, 2))],
    "swapaxes": [C((2, 3, 4), call=lambda f, x: f(x, 0, 2))],
    "tile": [C((3, 2), call=lambda f, x: f(x, (2, 1)))],
    "transpose": [C((2, 3, 4)), C((2, 3, 4), kw={"axes": (1, -1, 0)}, label="axes")],
    "at": [C((4,), (3,), call=lambda f, x, v: f(x)[np.array([0, 2, 0])].add(v), label="add"),
           C((4,), (2,), call=lambda f, x, v: f(x)[1:3].set(v), label="set"),
           C((4,), (2,), dom="nonzero", call=lambda f, x, v: f(x)[::2].multiply(v),
             label="multiply")],
    # products
    "cross": [C((3,), (3,)), C((2, 3), (2, 3))],
    "diag": [C((3,)), C((3, 3))],
    "diagonal": [C((3, 3))],
    "dot": [C((3, 4), (4,)), C((2, 3), (3, 2)), C((2, 3, 4), (4, 2), label="3-d")],
    "einsum": [C((2, 3), (3, 4), call=lambda f, x, y: f("ij,jk->ik", x, y)),
               C((3, 3), call=lambda f, x: f("ii->", x), label="trace")],
    "inner": [C((3,), (3,)), C((2, 3), (4, 3))],
    "kron": [C((2, 2), (2, 3))],
    "matmul": [C((2, 3, 4), (4, 2)), C((4,), (4, 3)),
               C((3, 4), (4, 2), dtype="float32", label="float32")],
    "outer": [C((3,), (4,))],
    "tensordot": [C((2, 3, 4), (3, 4, 2))],
    "trace": [C((3, 3))],
    "tril": [C((3, 3))],
    "triu": [C((3, 3))],
    "vdot": [C((2, 3), (2, 3))],
    # linear algebra
    "linalg.cholesky": [C((3, 3), call=_sym)],
    "linalg.det": [C((3, 3))],
    "linalg.eigh": [C((3, 3), call=_eigh)],
    "linalg.eigvalsh": [C((3, 3), call=_sym)],
    "linalg.inv": [C((3, 3))],
    "linalg.lstsq": [C((4, 3), (4,), call=lambda f, a, b: f(a, b)[0])],
    "linalg.matrix_power": [C((3, 3), call=lambda f, a: f(a, 3))],
    "linalg.norm": [C((3, 4)), C((5,), kw={"ord": 2}, label="vector")],
    "linalg.pinv": [C((3, 2))],
    "linalg.qr": [C((4, 3))],
    "linalg.slogdet": [C((3, 3))],
    "linalg.solve": [C((3, 3), (3,)), C((3, 3), (3, 2), label="matrix")],
    "linalg.svd": [C((3, 2), call=_svd)],
    # Fourier transforms (real input; complex outputs)
    "fft.fft": [C((4,))], "fft.ifft": [C((4,))], "fft.rfft": [C((5,))],
    "fft.irfft": [C((3,))], "fft.fft2": [C((3, 4))], "fft.ifft2": [C((3, 4))],
    "fft.fftn": [C((2, 3, 2))], "fft.ifftn": [C((2, 3, 2))],
    # scipy.special
    "scipy.special.digamma": [UNARY],
    "scipy.special.erf": [UNARY], "scipy.special.erfc": [UNARY], "scipy.special.expit": [UNARY],
    "scipy.special.gammaln": [UNARY],
    "scipy.special.log_softmax": [C((3, 4), kw={"axis": 1})],
    "scipy.special.softmax": [C((3, 4), kw={"axis": -1})],
    "scipy.special.logit": [UNARY],
    "scipy.special.polygamma": [C((3, 2), dom="positive", call=lambda f, x: f(1, x))],
    "scipy.special.xlogy": [C((3, 2), (3, 2))],
    # no derivative: the audit checks that their outputs are constants with zero derivative
    **{n: [NONDIFF_1] for n in (
        "floor", "ceil", "rint", "trunc", "fix", "around", "round", "sign", "signbit",
        "isfinite", "isinf", "isnan", "isneginf", "isposinf", "logical_not", "argmax",
        "argmin", "nanargmax", "nanargmin", "argsort", "argwhere", "nonzero", "flatnonzero",
        "count_nonzero", "all", "any", "zeros_like", "ones_like", "shape", "ndim", "size",
        "iscomplexobj", "isrealobj")},
    **{n: [NONDIFF_2] for n in (
        "allclose", "isclose", "array_equal", "greater", "greater_equal", "less",
        "less_equal", "equal", "not_equal", "logical_and", "logical_or", "logical_xor",
        "heaviside")},
    "floor_divide": [NONDIFF_2],
    "full_like": [C((3, 2), call=lambda f, x: f(x, 2.0))],
    "empty_like": [C((3, 2), call=lambda f, x: f(x).shape)],
    "result_type": [C((3, 2), call=lambda f, x: f(x) == np.float64)],
}
# fmt: on

# ----------------------------------------------------------------------------- the rest of the API
# Cases for the functions that take structured inputs (lists, callables, generators, in-place
# targets) and for pullback.scipy, following the spec table's rows (tests/specs).


def _into(f: Callable, a: Any, *rest: Any, **kw: Any) -> Any:
    """``f`` writing into a traced copy of ``a`` (the in-place functions); the copy."""
    b = a * 1.0
    f(b, *rest, **kw)
    return b


def _sibling(f: Callable, name: str) -> Callable:
    """The function ``name`` of ``f``'s own module (``cho_factor`` for ``cho_solve``: this
    module does not import ``pullback.scipy``, which needs SciPy)."""
    found: Callable = getattr(sys.modules[f.__module__], name)
    return found


def _draw(f: Callable, *params: Any, **kw: Any) -> Any:
    """A draw of ``f`` from a generator seeded afresh: the same standard draw at every call,
    so the derivative checked is the pathwise one."""
    return f(np.random.default_rng(7), *params, **kw)


def _nan_at(mask: Any) -> Callable:
    """Call ``f`` on ``x`` with NaN where ``mask`` is true (the nan-ignoring reductions)."""
    return lambda f, x, *a, **kw: f(pnp.where(np.asarray(mask), np.nan, x), *a, **kw)


def _spd(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Symmetric positive definite matrices ``A A^T / n + I``."""
    a = rng.uniform(-1.0, 1.0, shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


def _symmetric(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    a = rng.uniform(-1.0, 1.0, shape)
    return a + np.swapaxes(a, -1, -2)


def _pivoted(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """A row permutation of a diagonally dominant matrix: partial pivoting finds it back."""
    a = rng.uniform(-1.0, 1.0, shape) + 4.0 * np.eye(shape[-1])
    return a[..., rng.permutation(shape[-1]), :]


def _near_identity(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """``2 I + 0.3 U(-1, 1)``: distinct singular values, well conditioned."""
    return 2.0 * np.eye(shape[-1]) + 0.3 * rng.uniform(-1.0, 1.0, shape)


def _distinct_eigenvalues(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Real eigenvalues 1, 2, 3, ... with a well conditioned eigenvector matrix."""
    n = shape[-1]
    q = np.eye(n) + 0.3 * rng.uniform(-1.0, 1.0, (n, n))
    return q @ np.diag(np.arange(1.0, n + 1)) @ np.linalg.inv(q)


def _increasing(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Strictly increasing coordinates (spacings in (0.5, 1.5))."""
    return np.cumsum(rng.uniform(0.5, 1.5, shape), axis=-1)


def _times(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Increasing times from near 0, gaps in (0.3, 0.6)."""
    return np.cumsum(rng.uniform(0.3, 0.6, shape), axis=0) - 0.3


def _wrapped(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """A phase with jumps larger than pi (what unwrap corrects)."""
    return np.cumsum(rng.uniform(-6.0, 6.0, shape), axis=-1)


def _spread(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Samples whose minimum and maximum are well apart from the rest (histogram edges)."""
    return rng.permutation(np.linspace(-1.5, 1.5, shape[-1]) + rng.uniform(-0.1, 0.1))


def _signed(lo: float, hi: float) -> Callable[[np.random.Generator, Shape], np.ndarray]:
    """|x| uniform in (lo, hi), random signs: away from a kink at 0."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


# problems with one smooth solution for every parameter p (ODEs, solvers)
def _lotka_volterra(y: Any, t: Any, a: Any, b: Any) -> Any:
    return pnp.stack([a * y[0] - b * y[0] * y[1], b * y[0] * y[1] - 0.8 * y[1]])


def _forced(t: Any, y: Any, w: Any) -> Any:
    """A damped oscillator driven by ``w[1] cos(w[0] t)``."""
    return pnp.stack([y[1], -y[0] - 0.3 * y[1] + pnp.cos(w[0] * t) * w[1]])


def _objective(x: Any, p: Any) -> Any:
    """Strictly convex: its minimum solves sinh(x - p) + x = 0."""
    return pnp.sum(pnp.cosh(x - p)) + 0.5 * pnp.sum(x * x)


def _residuals(x: Any, p: Any) -> Any:
    return pnp.concatenate([x - p, 0.3 * x * x])


_ODE_TOL = {"rtol": 1e-12, "atol": 1e-12}
_MASK = np.array([[False, True, False, False], [False, False, False, True],
                  [True, False, False, False]])
_POS = (0.5, 2.0)
_DENSITIES = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
_MASSES = ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")
#: location-scale distributions: the domains of (x, loc, scale)
_LOC_SCALE = {
    "norm": ("real", "real", "positive"), "cauchy": ((-1.5, 1.5), "real", (0.8, 2.0)),
    "logistic": ("real", "real", "positive"),
    "laplace": (_signed(0.8, 2.0), (-0.3, 0.3), "positive"),
    "expon": ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5)),
}
#: distributions with shape parameters: the domains of (x, shapes..., loc, scale) for the
#: densities; the shape parameters held fixed and the domains of (x, loc, scale) for the
#: distribution functions (no closed-form derivative in the shape parameters)
_SHAPED = {
    "t": (("real", (1.5, 3.0), "real", "positive"), (3.5,), ("real", "real", "positive")),
    "gamma": (((1.5, 3.0), (1.2, 3.0), (-0.5, 0.5), (0.5, 1.5)), (2.5,),
              ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5))),
    "chi2": (((2.0, 3.0), (2.5, 3.5), (-0.3, 0.3), (0.8, 1.2)), (3.0,),
             ((1.5, 3.0), (-0.5, 0.5), (0.5, 1.5))),
    "beta": (((0.4, 0.6), (1.5, 2.5), (1.5, 2.5), (-0.03, 0.03), (1.1, 1.2)), (2.5, 1.5),
             ((0.25, 0.75), (-0.1, 0.1), (1.2, 1.5))),
}
_V = "well_conditioned"
_SP = "scipy.special."


def _with_fixed(fixed: tuple) -> Callable:
    return lambda f, x, *rest: f(x, *fixed, *rest)


# fmt: off
CASES.update({
    # numpy: building and taking apart arrays
    "angle": [C((4,), (4,), dom="nonzero", call=lambda f, a, b: f(a + 1j * b, deg=True))],
    "append": [C((2, 3), (4,)), C((2, 3), (1, 3), kw={"axis": 0}, label="axis")],
    "apply_along_axis": [C((2, 3), call=lambda f, a: f(lambda v: v * pnp.sum(v ** 2), 1, a))],
    "apply_over_axes": [C((2, 3, 4), call=lambda f, a: f(pnp.sum, a ** 2, [0, 2]))],
    **{n: [C((2, 3))] for n in ("asanyarray", "asarray_chkfinite", "ascontiguousarray",
                                "asfortranarray", "copy", "require", "matrix_transpose",
                                "rot90", "unstack", "linalg.matrix_transpose")},
    "bincount": [C((5,), call=lambda f, w: f(np.array([0, 3, 3, 1, 0]), weights=w,
                                             minlength=5))],
    "block": [C((2, 2), (2, 2), call=lambda f, a, b: f([[a, b], [b * 2.0, a]]))],
    "choose": [C((4,), (4,), call=lambda f, a, b: f(np.array([0, 1, 1, 0]), [a, b]))],
    "compress": [C((3, 2), call=lambda f, a: f([True, False, True], a, axis=0))],
    "delete": [C((5,), call=lambda f, a: f(a, [0, 2]))],
    "diagflat": [C((3,), call=lambda f, v: f(v, 1))],
    "dsplit": [C((1, 2, 4), call=lambda f, a: f(a, 2))],
    "hsplit": [C((2, 4), call=lambda f, a: f(a, 2))],
    "vsplit": [C((4, 3), call=lambda f, a: f(a, 2))],
    "ediff1d": [C((5,), (), call=lambda f, a, b: f(a, to_begin=b, to_end=[1.0, 2.0]))],
    "extract": [C((4,), call=lambda f, a: f(np.array([1, 0, 1, 1], bool), a))],
    "full": [C((), call=lambda f, v: f((2, 3), v))],
    "insert": [C((5,), (2,), call=lambda f, a, v: f(a, [1, 3], v))],
    "partition": [C((5,), call=lambda f, a: f(a, 2))],
    "resize": [C((5,), call=lambda f, a: f(a, (3, 4)))],
    "rollaxis": [C((2, 3, 4), call=lambda f, a: f(a, 2, 0))],
    "row_stack": [C((3,), (3,), call=lambda f, a, b: f([a, b]))],
    "meshgrid": [C((3,), (4,))],
    "trim_zeros": [C((3,), dom="nonzero",
                     call=lambda f, x: f(pnp.concatenate([np.zeros(1), x, np.zeros(2)])))],
    "vander": [C((3,), call=lambda f, x: f(x, 4))],
    "real_if_close": [C((3,), call=lambda f, x: f(x + 0j))],
    "sort_complex": [C((5,), call=lambda f, a: pnp.real(f(a)))],
    # in-place writes, into a traced copy
    "copyto": [C((2, 3), (3,), call=lambda f, a, v: _into(f, a, v))],
    "fill_diagonal": [C((3, 3), (), call=lambda f, a, v: _into(f, a, v))],
    "place": [C((4,), (2,), call=lambda f, a, v: _into(f, a, np.array([1, 0, 1, 1], bool), v))],
    "put": [C((2, 3), (2,), call=lambda f, a, v: _into(f, a, [0, 4], v))],
    "put_along_axis": [C((2, 3), (2, 1), call=lambda f, a, v: _into(
        f, a, np.array([[0], [2]]), v, axis=1))],
    "putmask": [C((4,), (3,), call=lambda f, a, v: _into(f, a, np.array([1, 0, 1, 1], bool),
                                                         v))],
    # sets: the output's shape depends on the values, constant near distinct inputs
    "intersect1d": [C((4,), (3,), call=lambda f, x, y: f(x, pnp.concatenate([y, x[1:3]])))],
    "setdiff1d": [C((4,), (3,), call=lambda f, x, y: f(pnp.concatenate([x, y[:2]]), y))],
    "setxor1d": [C((4,), (3,), call=lambda f, x, y: f(x, pnp.concatenate([y, x[:2]])))],
    "union1d": [C((3,), (4,), call=lambda f, x, y: f(x, pnp.concatenate([y, x[:1]])))],
    "unique": [C((5,), call=lambda f, x: f(pnp.concatenate([x, x[:2]])))],
    **{n: [C((4,), call=lambda f, x: f(pnp.concatenate([x, x[:1]])).values)]
       for n in ("unique_all", "unique_counts", "unique_inverse")},
    # NumPy's unique_values does not promise an order (a hash order for complex input)
    "unique_values": [C((4,), call=lambda f, x: pnp.sort(f(pnp.concatenate([x, x[:1]]))))],
    # numeric
    "convolve": [C((5,), (3,)), C((5,), (3,), kw={"mode": "same"}, label="same")],
    "correlate": [C((5,), (3,)), C((5,), (3,), kw={"mode": "full"}, label="full")],
    "corrcoef": [C((3, 5))],
    "cov": [C((3, 5))],
    "cumulative_prod": [C((4,), dom="nonzero", kw={"include_initial": True})],
    "cumulative_sum": [C((2, 3), kw={"axis": 1, "include_initial": True})],
    "geomspace": [C((), (), dom="positive", call=lambda f, a, b: f(a, b, 5))],
    "linspace": [C((), (), kw={"num": 5}), C((2,), (2,), kw={"num": 4, "endpoint": False,
                                                             "axis": 1}, label="axis")],
    "logspace": [C((), (), (), dom=("real", "real", "positive"),
                   call=lambda f, a, b, base: f(a, b, 4, base=base))],
    "gradient": [C((6,)), C((6,), (6,), dom=("real", _increasing), label="coordinates")],
    "histogram": [C((7,), dom=_spread, call=lambda f, a: f(a, 4)[1])],
    "histogram_bin_edges": [C((5,), dom=_spread, call=lambda f, a: f(a, 3))],
    "trapezoid": [C((5,), kw={"dx": 0.3}), C((5,), (5,), dom=("real", _increasing),
                                             label="x")],
    "unwrap": [C((6,), dom=_wrapped)],
    "nextafter": [C((4,), (4,))],
    "piecewise": [C((5,), dom="nonzero",
                    call=lambda f, x: f(x, [x < 0, x >= 0], [lambda v: v ** 2, pnp.sin]))],
    "nanmedian": [C((3, 4), call=_nan_at(_MASK), kw={"axis": 1})],
    "nanquantile": [C((3, 4), call=_nan_at(_MASK), kw={"q": 0.3, "axis": 1})],
    "nanpercentile": [C((3, 4), call=_nan_at(_MASK), kw={"q": [25, 50, 90]})],
    # polynomials
    **{n: [C((3,), (2,))] for n in ("polyadd", "polysub", "polymul")},
    "poly": [C((3,)), C((3, 3), dom=_distinct_eigenvalues, label="matrix")],
    "polyder": [C((4,), call=lambda f, p: f(p, 2))],
    "polydiv": [C((5,), (3,), dom="nonzero", call=lambda f, u, v: pnp.concatenate(f(u, v)))],
    "polyfit": [C((6,), (6,), dom=(_increasing, "real"), call=lambda f, x, y: f(x, y, 2))],
    "polyint": [C((3,), (2,), call=lambda f, p, k: f(p, 2, k))],
    "polyval": [C((3,), (4,))],
    "roots": [C((4,), dom="nonzero", call=lambda f, p: pnp.sort(pnp.real(f(p))))],
    # products and linear algebra
    "matvec": [C((2, 3, 4), (4,))],
    "vecmat": [C((3,), (2, 3, 4))],
    "vecdot": [C((2, 3), (3,))],
    "linalg.cond": [C((3, 3), dom=_near_identity),
                    C((3, 3), dom=_near_identity, kw={"p": "fro"}, label="fro")],
    "linalg.cross": [C((2, 3), (3,))],
    "linalg.diagonal": [C((2, 3, 3), kw={"offset": 1})],
    "linalg.eig": [C((3, 3), dom=_distinct_eigenvalues,
                     call=lambda f, a: (f(a).eigenvalues, _fix_sign(f(a).eigenvectors)))],
    "linalg.eigvals": [C((3, 3), dom=_distinct_eigenvalues)],
    "linalg.matmul": [C((2, 3), (3, 4))],
    "linalg.matrix_norm": [C((2, 3, 3)), C((3, 4), kw={"ord": 1}, label="ord 1")],
    "linalg.multi_dot": [C((2, 3), (3, 4), (4, 2), call=lambda f, *m: f(list(m)))],
    "linalg.outer": [C((2,), (3,))],
    "linalg.svdvals": [C((3, 2))],
    "linalg.tensordot": [C((2, 3), (3, 4), kw={"axes": 1})],
    "linalg.tensorinv": [C((6, 6), dom=_near_identity,
                           call=lambda f, a: f(pnp.reshape(a, (6, 2, 3)), ind=1))],
    "linalg.tensorsolve": [C((6, 6), (2, 3), dom=(_near_identity, "real"),
                             call=lambda f, a, b: f(pnp.reshape(a, (2, 3, 6)), b))],
    "linalg.trace": [C((2, 3, 3), kw={"offset": -1})],
    "linalg.vecdot": [C((3, 2), (3, 1), kw={"axis": 0})],
    "linalg.vector_norm": [C((2, 3)), C((2, 3, 2), kw={"axis": (0, 2), "ord": 3},
                                        label="ord 3")],
    "linalg.matrix_rank": [C((3, 3))],
    # Fourier transforms
    **{f"fft.{n}": [C((3, 4))] for n in ("rfft2", "rfftn", "fftshift", "ifftshift")},
    "fft.ihfft": [C((5,))],
    **{f"fft.{n}": [C((), dom="positive", call=lambda f, d: f(5, d))]
       for n in ("fftfreq", "rfftfreq")},
    **{f"fft.{n}": [C(s, s, call=lambda f, x, y: f(x + 1j * y))]
       for n, s in (("hfft", (4,)), ("irfft2", (2, 3)), ("irfftn", (3, 3)))},
    # random draws: pathwise derivatives of one draw (a generator seeded afresh per call)
    **{f"random.{n}": [C((3,), (3,), dom=("real", "positive"), call=_draw)]
       for n in ("normal", "laplace", "logistic", "gumbel", "lognormal")},
    "random.uniform": [C((3,), (3,), dom=((-2.0, -1.0), (1.0, 2.0)), call=_draw)],
    "random.exponential": [C((3,), dom="positive", call=_draw)],
    "random.choice": [C((4,), call=lambda f, a: _draw(f, a, size=5))],
    "random.permutation": [C((4, 3), call=_draw)],
    "random.shuffle": [C((4, 3), call=lambda f, a: _into(lambda b: _draw(f, b), a))],
    # scipy.special
    _SP + "logsumexp": [C((3, 4), kw={"axis": 1})],
    **{_SP + n: [UNARY] for n in (
        "ndtr", "log_ndtr", "i0", "i1", "j0", "j1", "sinc", "erfinv", "erfcinv", "entr",
        "i0e", "i1e", "y0", "y1")},
    **{_SP + n: [C((3, 2), (3, 2))] for n in ("beta", "kl_div", "rel_entr")},
    _SP + "ndtri": [C((3, 2), dom=(0.1, 0.9))],
    _SP + "log_expit": [C((3, 2), dom=(-8.0, 8.0))],
    _SP + "betaln": [C((3, 2), (3, 2), dom=((0.5, 0.9), (1.5, 2.0)))],
    _SP + "xlog1py": [C((3, 2), (3, 2), dom=("real", (-0.5, 2.0)))],
    **{_SP + n: [C((3, 2), dom=(0.5, 2.5), call=lambda f, x: f(1.7, x))]
       for n in ("gammainc", "gammaincc")},
    _SP + "betainc": [C((3, 2), dom=(0.2, 0.8), call=lambda f, x: f(2.5, 1.5, x))],
    **{_SP + n: [C((3, 2), dom=(0.7, 2.5))] for n in ("gamma", "rgamma")},
    _SP + "multigammaln": [C((), dom=(1.2, 4.0), call=lambda f, x: f(x, 3))],
    **{_SP + n: [C((3, 2), dom=lo_hi, call=lambda f, x, v=v: f(v, x))] for n, v, lo_hi in (
        ("jv", 1.5, (0.3, 9.0)), ("iv", 1.5, (0.3, 6.0)), ("ive", 1.5, (0.3, 6.0)),
        ("kv", 1.5, (1.0, 4.0)), ("kve", 0.7, (1.0, 4.0)), ("yn", 2, (0.5, 8.0)),
        ("zeta", 2.5, (0.5, 2.0)))},
    # scipy.stats: every function of every distribution, in x, the parameters, loc and scale
    **{f"scipy.stats.{d}.{fn}": [C((4,), (4,), (4,), dom=dom)]
       for d, dom in _LOC_SCALE.items() for fn in _DENSITIES},
    "scipy.stats.norm.ppf": [C((4,), (4,), (4,), dom=((0.15, 0.45), "real", "positive"))],
    # shape parameters: (2,) arrays, as the incomplete gamma and beta functions iterate; the
    # t and beta distribution functions (continued fractions, seconds each) to first order
    # here, to second in the spec table (tests/test_ops.py)
    **{f"scipy.stats.{d}.{fn}": [C(*[(2,)] * len(dom), dom=dom)]
       for d, (dom, _, _) in _SHAPED.items() for fn in ("logpdf", "pdf")},
    **{f"scipy.stats.{d}.{fn}": [C((2,), (2,), (2,), dom=dom, call=_with_fixed(fixed),
                                   order=1 if d in ("t", "beta") else None)]
       for d, (_, fixed, dom) in _SHAPED.items() for fn in ("cdf", "logcdf", "sf", "logsf")},
    **{f"scipy.stats.poisson.{fn}": [C((4,), (4,), dom=("int", (0.5, 3.0)))] for fn in _MASSES},
    **{f"scipy.stats.binom.{fn}": [C((4,), (4,), dom=("int", (0.2, 0.8)),
                                     call=_with_fixed((5,)))] for fn in _MASSES},
    **{f"scipy.stats.nbinom.{fn}": [C((4,), (4,), (4,), dom=("int", (1.5, 3.0), (0.3, 0.8)))]
       for fn in ("logpmf", "pmf")},
    **{f"scipy.stats.nbinom.{fn}": [C((4,), (4,), dom=("int", (0.3, 0.8)),
                                      call=_with_fixed((2.5,)))]
       for fn in ("cdf", "logcdf", "sf", "logsf")},
    **{f"scipy.stats.dirichlet.{fn}": [C((2,), (3,), dom=((0.25, 0.35), (1.5, 2.5)))]
       for fn in ("logpdf", "pdf")},
    **{f"scipy.stats.dirichlet.{fn}": [C((3,), dom=(1.5, 3.0))]
       for fn in ("entropy", "mean", "var")},
    **{f"scipy.stats.multivariate_normal.{fn}": [C((4, 3), (3,), (3, 3),
                                                   dom=("real", "real", _spd))]
       for fn in ("logpdf", "pdf")},
    "scipy.stats.multivariate_normal.entropy": [C((3,), (3, 3), dom=("real", _spd))],
    # scipy.linalg
    "scipy.linalg.block_diag": [C((2, 2), (1, 3), (3,))],
    "scipy.linalg.cholesky": [C((3, 3), dom=_spd)],
    "scipy.linalg.cho_factor": [C((3, 3), dom=_spd,
                                  call=lambda f, a: pnp.tril(f(a, lower=True)[0]))],
    "scipy.linalg.cho_solve": [C((3, 3), (3, 2), dom=(_spd, "real"), call=lambda f, a, b: f(
        _sibling(f, "cho_factor")(a), b))],
    "scipy.linalg.lu_factor": [C((3, 3), dom=_pivoted, call=lambda f, a: f(a)[0])],
    "scipy.linalg.lu_solve": [C((3, 3), (3, 2), dom=(_pivoted, "real"), call=lambda f, a, b: f(
        _sibling(f, "lu_factor")(a), b))],
    **{f"scipy.linalg.{n}": [C((3, 3), dom=_V)] for n in ("det", "inv", "sqrtm")},
    "scipy.linalg.logm": [C((3, 3), dom=_V, order=1)],  # SciPy's logm is slow (40 ms)
    "scipy.linalg.expm": [C((3, 3))],
    "scipy.linalg.eigh": [C((3, 3), dom=_symmetric, call=lambda f, a: (
        f(a)[0], _fix_sign(f(a)[1])))],
    "scipy.linalg.solve": [C((3, 3), (3,), dom=(_V, "real")),
                           C((3, 3), (3, 2), dom=(_spd, "real"), kw={"assume_a": "pos"},
                             label="positive definite")],
    "scipy.linalg.solve_triangular": [C((3, 3), (3, 2), dom=(_V, "real"))],
    "scipy.linalg.solve_sylvester": [C((3, 3), (2, 2), (3, 2), dom=(_V, _V, "real"))],
    # scipy.signal
    **{f"scipy.signal.{n}": [C((5,), (3,), dom=_POS), C((4, 5), (2, 3), dom=_POS,
                                                        kw={"mode": "same"}, label="same")]
       for n in ("convolve", "correlate", "fftconvolve")},
    # scipy.integrate
    "scipy.integrate.trapezoid": [C((5,)), C((4, 3), (4,), dom=("real", _times),
                                              kw={"axis": 0}, label="x")],
    "scipy.integrate.cumulative_trapezoid": [C((5,), (5,), dom=("real", _times),
                                               kw={"initial": 0})],
    "scipy.integrate.simpson": [C((5,)), C((6,))],
    # the ODE solvers: first order (a second costs a minute: SciPy solves at 1e-12 each time)
    "scipy.integrate.odeint": [C((2,), (3,), (), (), dom=((0.5, 1.5), _times, (0.8, 1.2),
                                                          (0.3, 0.6)), order=1,
                                 call=lambda f, y0, t, a, b: f(_lotka_volterra, y0, t, a, b,
                                                               **_ODE_TOL))],
    # solve_ivp in the initial state and the parameters (complex too), and in the output
    # times on real input only: it takes complex times and drops their imaginary parts
    "scipy.integrate.solve_ivp": [
        C((2,), (2,), dom=("real", (0.5, 1.5)), order=1,
          call=lambda f, y0, w: f(_forced, (0.0, 1.5), y0, "DOP853", np.array([0.4, 1.1]),
                                  args=(w,), **_ODE_TOL).y),
        C((2,), (3,), (2,), dom=("real", _times, (0.5, 1.5)), order=1, label="output times",
          call=lambda f, y0, t, w: f(_forced, (0.0, 1.5), y0, "DOP853", t, args=(w,),
                                     **_ODE_TOL).y)],
    # scipy.optimize: solutions as functions of the problem's parameter p
    "scipy.optimize.minimize": [C((3,), call=lambda f, p: f(
        _objective, np.zeros(3), args=(p,), method="trust-exact",
        jac=lambda x, p: pnp.sinh(x - p) + x,
        hess=lambda x, p: pnp.diag(pnp.cosh(x - p) + 1.0), options={"gtol": 1e-12}).x)],
    "scipy.optimize.root": [C((3,), call=lambda f, p: f(
        lambda x, p: x + 0.5 * pnp.sin(x) - p, np.zeros(3), args=(p,),
        jac=lambda x, p: pnp.diag(1.0 + 0.5 * pnp.cos(x)), method="hybr", tol=1e-12).x)],
    "scipy.optimize.root_scalar": [C((), call=lambda f, p: f(
        lambda x, p: x ** 3 + x - p, args=(p,), method="newton", x0=0.0,
        fprime=lambda x, p: 3.0 * x * x + 1.0, xtol=1e-15, rtol=1e-15).root)],
    "scipy.optimize.fixed_point": [C((3,), call=lambda f, p: f(
        lambda x, p: 0.5 * pnp.cos(x) + p, np.zeros(3), args=(p,), xtol=1e-14))],
    "scipy.optimize.least_squares": [C((3,), call=lambda f, p: f(
        _residuals, np.zeros(3), args=(p,), method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15,
        jac=lambda x, p: pnp.concatenate([pnp.eye(3), pnp.diag(0.6 * x)])).x)],
})
# fmt: on

# special points and precisions, reported as their own rows
SPECIAL: dict[str, list[AuditCase]] = {
    "exp": [C(make=lambda rng: (np.array([700.0, 705.0, -700.0]),), label="near overflow"),
            C(make=lambda rng: (np.array([85.0, 88.0, -80.0], np.float32),),
              label="float32 near overflow")],
    "tanh": [C((3, 2), dtype="float32", label="float32"),
             C(make=lambda rng: (np.array([1000.0, -1000.0, 20.0]),), label="saturated")],
    "max": [C(make=lambda rng: (np.array([1.0, 2.0, 2.0, -1.0]),), label="tie")],
    "maximum": [C(make=lambda rng: (np.array([0.0, -1.0, 2.0]), np.zeros(3)), label="relu at 0")],
    "sqrt": [C(make=lambda rng: (np.array([1e-8, 1e-4, 4.0]),), label="near 0")],
}
for _name, _extra in SPECIAL.items():
    CASES.setdefault(_name, []).extend(_extra)
CASES["absolute"] = CASES["abs"]
CASES["true_divide"] = CASES["divide"]

#: public names that are not array functions (no derivative to audit)
HELPERS = {
    "normalize_axes": "a helper that normalises axis arguments",
    # constructors: their sizes and values are constants; a traced one is refused (TypeError)
    **{n: "makes an array from constants (a traced size or value is refused)"
       for n in ("arange", "empty", "eye", "identity", "ones", "zeros", "tri")},
}


# ----------------------------------------------------------------------------- discovery


def _public(module: Any) -> list[tuple[str, Any]]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    out = []
    for n in names:
        obj = getattr(module, n, None)
        if obj is None or isinstance(obj, type) or inspect.ismodule(obj) or not callable(obj):
            continue
        out.append((n, obj))
    return out


#: the submodules of pullback.numpy that are API (NumPy's)
NUMPY_SUBMODULES = ("linalg", "fft", "random")


def discover() -> list[tuple[str, Callable, list[str]]]:
    """``(name, function, aliases)`` for every public function of ``pullback.numpy`` (and
    its public submodules) and ``pullback.scipy``, found at run time.

    Example:
        >>> names = [n for n, _, _ in discover()]
        >>> "sin" in names and "sum" in names
        True
    """

    found: dict[int, tuple[str, Callable, list[str]]] = {}
    order: list[int] = []

    def add(name: str, obj: Callable) -> None:
        key = id(obj)
        if key in found:
            found[key][2].append(name)
            return
        found[key] = (name, obj, [])
        order.append(key)

    for n, obj in _public(pnp):
        add(n, obj)
    roots = [("", pnp)]
    try:
        roots.append(("scipy.", importlib.import_module("pullback.scipy")))
    except ImportError:
        pass
    for prefix, root in roots:
        for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
            rel = info.name[len(root.__name__) + 1 :]
            if any(part.startswith("_") for part in rel.split(".")):
                continue
            # the public submodules only (NumPy's linalg, fft, random; pullback.scipy's
            # __all__): the family modules that implement pullback.numpy are not its API
            if rel.split(".")[0] not in getattr(root, "__all__", NUMPY_SUBMODULES):
                continue
            try:
                mod = importlib.import_module(info.name)
            except ImportError:
                continue
            for n, obj in _public(mod):
                if getattr(obj, "__module__", "") in ("numpy",) or id(obj) in found:
                    continue
                add(f"{prefix}{rel}.{n}", obj)
    return [found[k] for k in order]


# ----------------------------------------------------------------------------- running


@dataclass
class AuditRow:
    """One function's health: its cases, checks, worst verdict and relative error."""

    name: str
    aliases: list[str]
    kind: str
    cases: int
    checks: int
    verdict: str
    worst_rel_error: float
    note: str = ""
    primitives: list[str] = field(default_factory=list)
    #: complex input: "checked" (a complex case ran), "refused" (the function raised on
    #: it), "" (no complex case: real domains only, or special cases only)
    complex: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict in ("fail", "error")


@dataclass
class AuditReport:
    """The audit's table: one row per function, the coverage of registered primitives."""

    rows: list[AuditRow]
    registered: list[str]
    exercised: list[str]
    seed: int
    order: int

    @property
    def ok(self) -> bool:
        """No function failed or raised (``no case`` is not a failure)."""
        return not any(r.failed for r in self.rows)

    @property
    def uncovered(self) -> list[str]:
        return sorted(set(self.registered) - set(self.exercised))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def __str__(self) -> str:
        header = ("function", "kind", "cases", "checks", "worst rel err", "verdict", "note")
        body = []
        for r in self.rows:
            name = r.name + (f" (= {', '.join(r.aliases)})" if r.aliases else "")
            rel = "-" if not np.isfinite(r.worst_rel_error) else f"{r.worst_rel_error:.1e}"
            verdict = r.verdict.upper() if r.failed else r.verdict
            body.append((name, r.kind, str(r.cases), str(r.checks), rel, verdict, r.note))
        widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in body]
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.counts().items()))
        covered = len(set(self.registered) & set(self.exercised))
        lines.append("")
        lines.append(f"functions: {len(self.rows)} ({counts}); order {self.order}, "
                     f"seed {self.seed}")
        lines.append(f"registered primitives exercised: {covered} of {len(self.registered)}")
        on = [r.complex for r in self.rows]
        lines.append(f"complex input: checked for {on.count('checked')} functions, refused by "
                     f"{on.count('refused')}")
        if self.uncovered:
            lines.append("not exercised by any case: " + ", ".join(self.uncovered))
        lines.append("health: " + ("OK" if self.ok else "FAILURES (see the rows marked FAIL "
                                                     "or ERROR)"))
        return "\n".join(lines)


def _exercised(g: Callable, args: tuple, nums: tuple[int, ...]) -> set[str]:
    """Names of the primitives ``g`` applies, in its evaluation and in both modes' rules."""

    with new_trace(RecordTrace) as trace:
        full = list(args)
        for i in nums:
            leaves, tree = tree_flatten(args[i])
            full[i] = tree_unflatten(tree, [RecordTracer(trace, x) for x in leaves])
        dargs = tuple(full[i] for i in nums)

        def h(*d: Any) -> Any:
            new = list(full)
            for i, x in zip(nums, d, strict=True):
                new[i] = x
            return g(*new)

        def ones(tree: Any) -> Any:
            # traced too, so that rules applied to tangents and cotangents alone (the
            # transposes of linear primitives) are recorded
            leaves, t = tree_flatten(tree)
            return tree_unflatten(t, [RecordTracer(trace, np.ones(np.shape(x), dtype_of(x)))
                                      for x in leaves])

        try:
            h(*dargs)
            jvp(h, dargs, tuple(ones(args[i]) for i in nums))
            out, back = vjp(h, *dargs)
            back(ones(out))
        except Exception:  # coverage is best effort; the checks report real errors
            pass
    return {r.prim.name for r in trace.records}


def _nondiff_only(g: Callable, args: tuple, nums: tuple[int, ...]) -> bool:
    with new_trace(RecordTrace) as trace:
        full = list(args)
        for i in nums:
            leaves, tree = tree_flatten(args[i])
            full[i] = tree_unflatten(tree, [RecordTracer(trace, x) for x in leaves])
        try:
            g(*full)
        except Exception:
            return False
    return bool(trace.records) and all(r.prim.nondiff for r in trace.records)


def _as_float_output(g: Callable) -> Callable:
    """``g`` with its integer and boolean outputs (indices, masks, shapes) cast to float64:
    constants whose derivative the checker can then compare with zero."""

    def h(*args: Any) -> Any:
        leaves, tree = tree_flatten(g(*args))
        return tree_unflatten(tree, [pnp.astype(pnp.asarray(v), np.float64) for v in leaves])

    h.__name__ = getattr(g, "__name__", "function")
    return h


def _default_case(fn: Callable) -> AuditCase:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
        n = max(len(params), 1)
    except (TypeError, ValueError):
        n = 1
    return AuditCase(tuple((3,) for _ in range(n)))


#: how far from the real axis the complex variant of a case draws its inputs
IMAG = 0.3


def complex_variant(case: AuditCase, name: str) -> AuditCase | None:
    """``case`` on complex inputs: each differentiable argument drawn from its domain plus an
    imaginary part uniform in (-IMAG, IMAG), labelled ``"complex"``; None for cases built
    by ``make``, special cases (labelled) and float32 ones. The audit runs it for every
    function with such a case: a function that computes on complex input must be right there
    (the checks treat real and imaginary parts as separate variables); one that refuses
    complex input (pullback's error, or NumPy's) is not audited on it.

    Example:
        >>> complex_variant(AuditCase(((2,),)), "sin").label
        'complex'
    """
    if case.make is not None or case.label or case.dtype != "float64":
        return None
    doms = [case.domain(i, name) for i in range(len(case.shapes))]
    if not any(differentiable(d) for d in doms):
        return None

    def lifted(domain: Any) -> Any:
        if not differentiable(domain):
            return domain

        def draw(rng: np.random.Generator, shape: Shape) -> np.ndarray:
            x = np.asarray(sample(rng, domain, shape))
            if x.dtype.kind != "f":
                return x
            return x + 1j * rng.uniform(-IMAG, IMAG, x.shape)

        return draw

    return dataclasses.replace(case, domains=tuple(lifted(d) for d in doms), label="complex")


def _run_case(name: str, fn: Callable, case: AuditCase, order: int, probes: int,
              seed: int) -> tuple[str, int, str, float, str, set[str]]:
    """(verdict, checks, kind, worst relative error, note, primitives) of one case."""

    rng = np.random.default_rng(zlib.crc32(f"{name}|{case.label}|{seed}".encode()))
    g = case.function(fn)
    try:
        args = case.args(rng, name)
        nums = tuple(i for i, a in enumerate(args) if is_inexact_tree(a))
        if not has_inexact_leaf(g(*args)):
            g = _as_float_output(g)
        prims = _exercised(g, args, nums)
        kind = "nondiff" if _nondiff_only(g, args, nums) else "rule"
        rep = report(g, args, order=case.order or order, probes=probes, seed=seed,
                     argnums=nums)
    except Exception as err:
        return "error", 0, "rule", float("nan"), f"{type(err).__name__}: {err}"[:200], set()
    rank = {v: i for i, v in enumerate(VERDICTS)}
    worst = max(rep.rows, key=lambda r: (rank[r.verdict], np.nan_to_num(r.rel_error)))
    verdict = worst.verdict
    rels = [r.rel_error for r in rep.rows if r.mode != "taylor" and np.isfinite(r.rel_error)]
    note = ""
    if verdict in ("fail", "error", "uncertain"):
        note = f"{worst.argument}, {worst.mode}, order {worst.order}: "
        note += worst.detail if worst.verdict == "error" else (
            f"rel error {worst.rel_error:.1e} > tol {worst.tolerance:.1e} at {worst.where}")
        if rep.localisation is not None and rep.localisation.primitive:
            note += f"; first wrong rule: '{rep.localisation.primitive}'"
    elif verdict == "kink":
        note = worst.detail or f"kink at {worst.where}"
    return verdict, len(rep.rows), kind, max(rels, default=0.0), note[:200], prims


def run_audit(
    functions: Sequence[Callable],
    cases: dict[str, Any],
    registry: bool,
    order: int,
    probes: int,
    seed: int,
    only: Sequence[str] | None,
    complex_cases: bool = True,
) -> AuditReport:
    """The body of :func:`pullback.check.audit`."""

    entries: list[tuple[str, Callable, list[str], str]] = []
    if registry:
        entries += [(n, f, aliases, "") for n, f, aliases in discover()]
    for fn in functions:
        if isinstance(fn, Primitive):
            prim = fn

            def bound(*a: Any, prim: Primitive = prim) -> Any:
                return prim.bind(*a)

            bound.__name__ = prim.name
            entries.append((prim.name, bound, [], "user"))
        else:
            entries.append((getattr(fn, "__name__", repr(fn)), fn, [], "user"))
    if only is not None:
        if isinstance(only, str):
            only = [only]
        wanted = set(only)
        known = {n for e in entries for n in (e[0], *e[2])}
        for name in only:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=3)
                hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
                raise ValueError(
                    f"pullback.check.audit: only={name!r} matches no function{hint}; give "
                    "public names of pullback.numpy or pullback.scipy, like 'sin', "
                    "'linalg.inv' or 'scipy.special.erf', or the names of the functions passed"
                )
        entries = [e for e in entries if e[0] in wanted or wanted & set(e[2])]
    rows, exercised = [], set()
    for name, fn, aliases, origin in entries:
        own = cases.get(name)
        if own is None:
            own = next((cases[a] for a in aliases if a in cases), None)
        table = own if own is not None else CASES.get(name)
        if table is None:
            table = next((CASES[a] for a in aliases if a in CASES), None)
        if table is None and origin == "user":
            table = [_default_case(fn)]
        if isinstance(table, AuditCase):
            table = [table]
        if table is None:
            if name in HELPERS:
                rows.append(AuditRow(name, aliases, "helper", 0, 0, "ok", float("nan"),
                                     HELPERS[name]))
            else:
                rows.append(AuditRow(name, aliases, "-", 0, 0, "no case", float("nan"),
                                     "no audit case: add one to pullback.check.audit.CASES"))
            continue
        results = [(_run_case(name, fn, c, order, probes, seed), c) for c in table]
        on_complex = ""
        if complex_cases and all(r[0][2] == "rule" for r in results):
            variant = next((v for c in table if (v := complex_variant(c, name))), None)
            if variant is not None:
                got = _run_case(name, fn, variant, order, probes, seed)
                on_complex = "refused" if got[0] == "error" else "checked"
                if got[0] != "error":  # an error: complex input refused (said, not computed)
                    results.append((got, variant))
        rank = {v: i for i, v in enumerate(VERDICTS)}
        (verdict, _, kind, _, note, _), _ = max(results, key=lambda r: rank[r[0][0]])
        worst_case = max(results, key=lambda r: rank[r[0][0]])[1]
        prims = set().union(*(r[0][5] for r in results))
        exercised |= prims
        if note and worst_case.label:
            note = f"[{worst_case.label}] {note}"
        kinds = {r[0][2] for r in results}
        rows.append(AuditRow(
            name, aliases, origin or ("nondiff" if kinds == {"nondiff"} else "rule"),
            len(results), sum(r[0][1] for r in results), verdict,
            max((r[0][3] for r in results), default=0.0), note, sorted(prims), on_complex,
        ))
    return AuditReport(rows, sorted(PRIMITIVES), sorted(exercised), seed, order)


# ----------------------------------------------------------------------------- audit


def audit(
    *functions: Callable,
    cases: dict[str, Any] | None = None,
    registry: bool = True,
    order: int = 2,
    probes: int = 2,
    seed: int = 0,
    only: Sequence[str] | None = None,
    complex_cases: bool = True,
) -> AuditReport:
    """Check every registered derivative rule (and ``functions``) on inputs from its domain.

    Every public function of ``pullback.numpy`` and its submodules, discovered at run
    time, is run through :func:`report` (both modes, the dot-product test, up to ``order``)
    on the inputs its audit case describes; user functions or primitives passed in are
    checked too (``cases`` maps their names to :class:`AuditCase` objects; by default every
    positional parameter is a (3,) array in (-2, 2)). Functions without a case are listed as
    "no case", not as failures. ``only`` restricts the audit to the functions of those names
    (or aliases); a name that matches no function is a ``ValueError``. With
    ``complex_cases`` (the default) every function is also run on complex inputs
    (:func:`complex_variant`): where it computes, it must be right; where it refuses complex
    input with an error, the row says ``complex="refused"``. Returns an
    :class:`AuditReport`: one row per function, coverage of the registered primitives, and
    ``ok``.

    Example:
        >>> rep = audit(only=["sin", "multiply"], order=1)
        >>> rep.ok, [r.verdict for r in rep.rows], [r.complex for r in rep.rows]
        (True, ['ok', 'ok'], ['checked', 'checked'])
    """
    return run_audit(functions, cases or {}, registry, order, probes, seed, only,
                     complex_cases)
