"""Regressions of the bugs the differential fuzzer (``tools/fuzz.py``) found and that are
fixed: each program runs through all of the fuzzer's checks (values, shapes and dtypes
against NumPy/SciPy; ``jvp``, ``vjp`` and ``hvp`` against derivatives from function values
only, Richardson-extrapolated differences or the complex step; ``jit`` and ``vmap`` against
eager), plus targeted checks of what the bug got wrong.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.integrate as si
import scipy.linalg as sla
import scipy.signal as ssig
import scipy.special
import scipy.stats

import pullback as pb
import pullback.numpy as pnp
import pullback.scipy.integrate as pint
import pullback.scipy.linalg as pla
import pullback.scipy.signal as psig
import pullback.scipy.special as psp
import pullback.scipy.stats as pstats
from pullback.check import check_grads
from specs import spec
from specs.scipy_integrate import TOL, _forced

ROOT = Path(__file__).resolve().parent.parent


def _load_fuzz() -> Any:
    if "fuzz" in sys.modules:
        return sys.modules["fuzz"]
    found = importlib.util.spec_from_file_location("fuzz", ROOT / "tools" / "fuzz.py")
    module = importlib.util.module_from_spec(found)
    sys.modules["fuzz"] = module
    found.loader.exec_module(module)
    return module


fuzz = _load_fuzz()


def all_checks(source: str, xs: Sequence[np.ndarray], rows: dict | None = None,
               K: Sequence[np.ndarray] = (), seed: int = 0) -> None:
    """Every check of the fuzzer on the program ``source`` (``R[i]``: the ``rows``' functions,
    pullback's and the reference's)."""
    table = rows or {}
    out = fuzz.check_program(fuzz.compile_program(source), fuzz.Rows(list(table), table), K,
                             list(xs), seed=seed)
    assert not out.failures, "\n".join(str(f) for f in out.failures)
    assert not out.unsupported, out.unsupported


def _program(body: str, n: int = 1) -> str:
    args = ", ".join(f"x{i}" for i in range(n))
    return f"def program(m, R, K, {args}):\n    return {body}\n"


# ----------------------------------------------------------------------------- axis-0d
# NumPy 2.4 takes a 0-d array with axis=0 or axis=-1 (not axis=(0,)) in its ufunc reductions
# (the result is the array), cumsum/cumprod (shape (1,)), argmax/argsort, take, repeat and
# compress (the array as shape (1,)); not in mean, var, std, median, sort, flip. SciPy's
# logsumexp takes a 0-d array as shape (1,) (axis=(0,) too; keepdims gives (1,)).

ZERO_D_OK = ["sum", "prod", "max", "min", "amax", "amin", "ptp", "nansum", "nanprod",
             "nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "cumsum", "cumprod",
             "nancumsum", "nancumprod"]


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("name", ZERO_D_OK)
def test_zero_d_reductions_take_axis_0_and_minus_1(name: str, axis: int) -> None:
    all_checks(_program(f"m.{name}(m.sin(x0), axis={axis})"), [np.array(0.7)])
    all_checks(_program(f"m.{name}(m.sin(x0), axis={axis}) * x1", 2),
               [np.array(0.7, np.float32), np.array([0.5, 2.0], np.float32)])


@pytest.mark.parametrize("body", [
    "m.repeat(x0, 3, axis=0)", "m.repeat(x0, [2], axis=-1)", "m.take(x0, 0, axis=0)",
    "m.take(x0, [0, 0, 0], axis=-1)", "m.compress([True], x0, axis=0)",
    "m.cumsum(x0 * x0, axis=0) * m.cumprod(x0, axis=-1)",
    "x0 * m.argmax(x0, axis=0) + m.argsort(x0, axis=-1)",
    "x0 * m.all(x0 > 0, axis=0) + m.count_nonzero(x0, axis=-1)",
    "m.sum(m.exp(x0), axis=0, keepdims=True) + m.max(x0, axis=-1, keepdims=True)",
])
def test_zero_d_selections_take_axis_0_and_minus_1(body: str) -> None:
    all_checks(_program(body), [np.array(0.7)])


@pytest.mark.parametrize("name", ["mean", "var", "std", "median", "sort", "flip"])
def test_zero_d_axis_stays_refused_where_numpy_refuses(name: str) -> None:
    f = getattr(pnp, name)
    with pytest.raises(np.exceptions.AxisError):
        getattr(np, name)(np.array(0.5), axis=0)
    with pytest.raises(np.exceptions.AxisError, match="var" if name == "std" else name):
        pb.grad(lambda x: f(x, axis=0))(np.array(0.5))
    with pytest.raises(np.exceptions.AxisError):
        pb.grad(lambda x: pnp.sum(x, axis=(0,)))(np.array(0.5))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0,), ()])
def test_zero_d_logsumexp_is_scipys(axis: Any, keepdims: bool) -> None:
    def ref(x: Any) -> Any:
        return scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)

    rows = {"lse": spec("lse", lambda x: psp.logsumexp(x, axis=axis, keepdims=keepdims), ref,
                        [((),)])}
    all_checks("def program(m, R, K, x0):\n    return R[0](2.0 * m.sin(x0))\n",
               [np.array(0.7)], rows)
    x = np.array(0.7)
    got, want = psp.logsumexp(x, axis=axis, keepdims=keepdims), ref(x)
    assert type(got) is type(want) and np.shape(got) == np.shape(want)
    g2, s2 = psp.logsumexp(x, axis=axis, keepdims=keepdims, b=np.array(-2.0),
                           return_sign=True)
    w2, t2 = scipy.special.logsumexp(x, axis=axis, keepdims=keepdims, b=np.array(-2.0),
                                     return_sign=True)
    np.testing.assert_allclose(g2, w2, rtol=1e-15)
    np.testing.assert_array_equal(s2, t2)
    assert np.shape(g2) == np.shape(w2)


@pytest.mark.parametrize("axis", [None, 0, -1, ()])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_zero_d_softmax_is_scipys(name: str, axis: Any) -> None:
    rows = {name: spec(name, lambda x: getattr(psp, name)(x, axis=axis),
                       lambda x: getattr(scipy.special, name)(x, axis=axis), [((),)])}
    all_checks("def program(m, R, K, x0):\n    return x0 * R[0](2.0 * m.sin(x0))\n",
               [np.array(0.7)], rows)
    with pytest.raises(np.exceptions.AxisError):
        getattr(psp, name)(np.array(0.5), axis=(0,))


def test_zero_d_axis_second_order_against_differences() -> None:
    check_grads(lambda x: pnp.cumprod(pnp.sin(x), axis=0) * pnp.nanvar(x * x, axis=-1)
                + pnp.repeat(pnp.exp(x), 2, axis=-1), (np.array(0.3),), order=2)


# ------------------------------------------------------------------ matrix-rank-jit-dtype
# NumPy's matrix_rank of a vector is a Python int (weak: x32 * rank stays float32); under jit
# and vmap the traced rank promotes the same way, also through Python-number arithmetic.


@pytest.mark.parametrize("body", [
    "x0 * m.linalg.matrix_rank(x0)", "x0 + 2.0 * m.linalg.matrix_rank(x0)",
    "x0 - m.linalg.matrix_rank(x0) * 2 + abs(-m.linalg.matrix_rank(x0))",
    "x0 * m.linalg.matrix_rank(x0) ** 2 / m.linalg.matrix_rank(x0[1:])",
    "x0 * m.linalg.matrix_rank(x0.reshape(3, 1))",  # np.int64 (strong): float64
    "x0 * m.tanh(m.linalg.matrix_rank(x0))",  # np.tanh of an int: np.float64 (strong)
    "x0 * (m.linalg.matrix_rank(x0) + 1j).real + x0 * (1.5j * m.linalg.matrix_rank(x0)).imag",
    "x0 * (m.linalg.matrix_rank(x0) // 2) + x0 * (7 % m.linalg.matrix_rank(x0))",
])
def test_python_int_rank_promotes_weakly(body: str) -> None:
    all_checks(_program(body), [np.array([1.0, 2.0, 0.5], np.float32)])


def test_weak_rank_dtypes_under_jit_and_vmap() -> None:
    x = np.array([1.0, 2.0, 0.5], np.float32)

    def f(x: Any) -> Any:
        return x * pnp.linalg.matrix_rank(x) + 1.5 * pnp.linalg.matrix_rank(x)

    want = x * np.linalg.matrix_rank(x) + 1.5 * np.linalg.matrix_rank(x)
    assert want.dtype == np.float32
    for got in (pb.jit(f)(x), pb.vmap(f)(np.stack([x, x]))[0], pb.jvp(f, (x,), (x,))[1]):
        assert got.dtype == np.float32
    np.testing.assert_array_equal(pb.jit(f)(x), want)


# ----------------------------------------------------------------------------- empty norms
# norm-inf-empty, norm2-empty: NumPy's max-based norms of empty vectors and matrices are 0
# (its max has initial=0), its min-based ones (-inf, -1, -2) fail.

_EMPTY_NORMS = [((0,), "inf", None), ((0, 2), "inf", None), ((2, 0), "inf", None),
                ((0, 0), "inf", None), ((0, 2), "1", None), ((2, 0), "-float('inf')", None),
                ((0, 2), "-1", None), ((0, 2), "2", None), ((2, 0), "'nuc'", None),
                ((1, 0, 3), "2", (1, 2)), ((2, 3, 0), "'nuc'", (1, 2)),
                ((0, 2, 2), "-2", (1, 2)), ((0, 2, 2), "2", (1, 2)),
                ((2, 0, 3), "float('inf')", (2, 1)), ((2, 0), "float('inf')", 1),
                ((3, 0), "float('inf')", 0)]


@pytest.mark.parametrize(("shape", "ord", "axis"), _EMPTY_NORMS)
def test_norms_of_empty_arrays_are_numpys(shape: tuple, ord: str, axis: Any) -> None:
    ord = ord.replace("inf", "float('inf')") if ord in ("inf", "-inf") else ord
    body = f"m.linalg.norm(x0, {ord}, axis={axis!r}) + m.sum(x1)"
    all_checks(_program(body, 2), [np.ones(shape), np.array([0.5, -1.0])])
    for keep in (False, True):
        def f(x: Any, keep: bool = keep) -> Any:
            return pnp.linalg.norm(x, eval(ord), axis=axis, keepdims=keep)

        want = np.linalg.norm(np.ones(shape), eval(ord), axis=axis, keepdims=keep)
        for got in (pb.jit(f)(np.ones(shape)), pb.jvp(f, (np.ones(shape),),
                                                      (np.ones(shape),))[0]):
            assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        assert pb.vjp(f, np.ones(shape))[1](np.ones_like(want))[0].shape == shape


@pytest.mark.parametrize(("shape", "ord", "axis"), [
    ((0,), -np.inf, None), ((0, 2), -np.inf, None), ((2, 0), -1, None), ((0, 2), -2, None),
    ((1, 0, 3), -2, (1, 2))])
def test_min_norms_of_empty_arrays_fail_as_numpys(shape: tuple, ord: Any, axis: Any) -> None:
    with pytest.raises(ValueError, match="zero-size array"):
        np.linalg.norm(np.ones(shape), ord, axis)
    with pytest.raises(ValueError, match="zero-size array"):
        pb.grad(lambda x: pnp.sum(pnp.linalg.norm(x, ord, axis)))(np.ones(shape))


# ----------------------------------------------------------------------------- median-empty
# NumPy's median over an empty axis is NaN (an empty result when there are no slices).


@pytest.mark.parametrize(("shape", "axis"), [((0, 0, 3), 1), ((0, 3), 1), ((2, 0), 1),
                                             ((0, 3), 0), ((0, 2), None), ((2, 0, 2), (0, 1))])
def test_median_over_empty_axes_is_numpys(shape: tuple, axis: Any) -> None:
    all_checks(_program(f"m.median(x0, axis={axis!r}) * m.sum(x1)", 2),
               [np.ones(shape), np.array([0.5, -1.0])])
    for keep in (False, True):
        want = np.median(np.ones(shape, np.float32), axis=axis, keepdims=keep)
        got = pb.jit(lambda x: pnp.median(x, axis=axis, keepdims=keep))(  # noqa: B023
            np.ones(shape, np.float32))
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- mvn-mean-shape
# SciPy's multivariate_normal counts the entries of the mean: one entry, whatever its shape
# ((1, 1, 1)), is one dimension (and cov is reshaped to (1, 1)).


@pytest.mark.parametrize(("mshape", "cshape", "xshape"), [
    ((1, 1, 1), (), ()), ((1, 1, 1), (), (3,)), ((1, 1), (1, 1, 1), (2, 1)), ((), (1,), (3,)),
    ((1,), (1, 1), (3, 1)), ((2,), (2,), (3, 2)), ((2,), (2, 2), (2,))])
@pytest.mark.parametrize("fn", ["logpdf", "pdf"])
def test_mvn_reads_mean_and_cov_as_scipy(fn: str, mshape: tuple, cshape: tuple,
                                         xshape: tuple) -> None:
    k = int(np.prod(mshape))
    cov = np.full(cshape, 1.5) if cshape != (k, k) else np.eye(k) * 1.5 + 0.2

    def ours(x: Any, mu: Any) -> Any:
        return getattr(pstats.multivariate_normal, fn)(x, mu, cov)

    def ref(x: Any, mu: Any) -> Any:
        return getattr(scipy.stats.multivariate_normal, fn)(x, mu, cov)

    rows = {"mvn": spec("mvn", ours, ref, [(xshape, mshape)])}
    all_checks("def program(m, R, K, x0, x1):\n    return R[0](m.sin(x0), m.cos(x1))\n",
               [np.linspace(0.2, 0.9, int(np.prod(xshape))).reshape(xshape),
                np.linspace(-0.3, 0.4, k).reshape(mshape)], rows)


@pytest.mark.parametrize(("mshape", "cshape"), [((1, 2), (2, 2)), ((2, 2), (2, 2)),
                                                ((1, 1), (2,))])
def test_mvn_refuses_what_scipy_refuses(mshape: tuple, cshape: tuple) -> None:
    cov = np.eye(2) if cshape == (2, 2) else np.ones(cshape)
    with pytest.raises(ValueError):
        scipy.stats.multivariate_normal.logpdf(np.ones(2), np.ones(mshape), cov)
    with pytest.raises(ValueError):
        pb.grad(lambda m: pstats.multivariate_normal.logpdf(np.ones(2), m, cov).sum())(
            np.ones(mshape))


# ----------------------------------------------------------------------------- norm2-rank
# linalg.norm(x, 2) is the largest singular value: smooth where it is simple, even when the
# others tie (rank-deficient x: ties at 0). Its derivatives come from the top singular pair
# alone, with no 1 / (s_i^2 - s_j^2) between the others.

_RANK_DEFICIENT = {
    "constant-2x4": np.full((2, 4), 0.5412815433718721),
    "rank1-3x4": np.outer([1.0, 2.0, -0.5], [0.3, 1.0, 0.7, -1.2]),
    "rank1-4x3": np.outer([0.3, 1.0, 0.7, -1.2], [1.0, 2.0, -0.5]),
    "rank2-3x3": np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.5]]),
    "zero-column": np.array([[1.0, 0.0, 2.0], [0.5, 0.0, -1.0]]),
}


@pytest.mark.parametrize("name", sorted(_RANK_DEFICIENT))
def test_spectral_norm_of_rank_deficient_matrices_to_third_order(name: str) -> None:
    x = _RANK_DEFICIENT[name]
    all_checks(_program("m.linalg.norm(x0, 2)"), [x])
    check_grads(lambda a: pnp.linalg.norm(a, 2), (x,), order=3)
    assert pnp.linalg.norm(pb.jvp(lambda a: a, (x,), (x,))[0], 2) == np.linalg.norm(x, 2)
    H = pb.hessian(lambda a: pnp.linalg.norm(a, 2))(x)
    assert np.all(np.isfinite(H))
    np.testing.assert_allclose(pb.jit(pb.hessian(lambda a: pnp.linalg.norm(a, 2)))(x), H,
                               rtol=1e-12, atol=1e-14)


def test_spectral_norm_closed_form_hessian_of_a_rank_one_matrix() -> None:
    """``x = s u v^T``: ``d2 ||x||_2 [t, t] = (|P_u^perp t v|^2 + |u^T t P_v^perp|^2) / s``
    (the top pair's coupling with the zero singular values alone)."""
    u, v = np.array([0.6, 0.8, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    x = 2.0 * np.outer(u, v)
    t = np.arange(12.0).reshape(3, 4) / 7 - 0.5
    pu, pv = np.eye(3) - np.outer(u, u), np.eye(4) - np.outer(v, v)
    want = (np.sum((pu @ t @ v) ** 2) + np.sum((u @ t @ pv) ** 2)) / 2.0
    got = pb.jvp(lambda a: pb.jvp(lambda b: pnp.linalg.norm(b, 2), (a,), (t,))[1], (x,),
                 (t,))[1]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_spectral_norm_complex_and_stacked_against_differences() -> None:
    rng = np.random.default_rng(3)
    xc = np.outer([1.0, 2j, -0.5], [0.3, 1.0 - 1j, 0.7])
    check_grads(lambda a: pnp.linalg.norm(a, 2), (xc,), order=2)
    xs = np.stack([_RANK_DEFICIENT["rank1-3x4"], rng.standard_normal((3, 4))])
    check_grads(lambda a: pnp.sum(pnp.linalg.norm(a, 2, axis=(1, 2)) ** 2), (xs,), order=2)
    np.testing.assert_allclose(pb.vmap(lambda a: pnp.linalg.norm(a, 2))(xs),
                               np.linalg.norm(xs, 2, axis=(1, 2)), rtol=1e-15)


# ----------------------------------------------------------------------------- issue 16 extras


@pytest.mark.parametrize("body", ["m.arctan2(1.0, x0)", "m.arctan2(x0, 2.0)",
                                  "m.arctan2(1.5, x0) * m.arctan2(x0, x0 + 1.0)"])
def test_arctan2_with_a_python_number_keeps_float32(body: str) -> None:
    """The pullback in y of arctan2(y, x) was ``negative(y) / ...``: for y = 1.0 a float64
    NumPy scalar, a float64 cotangent for a float32 x (RuleError)."""
    all_checks(_program(body), [np.array([0.5, 2.0, -1.5], np.float32)])
    all_checks(_program(body), [np.array([0.5, 2.0, -1.5])])
    y = np.array([0.5, 2.0], np.float32)
    g = pb.grad(lambda v: pnp.sum(pnp.arctan2(1.0, v)))(y)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, -1.0 / (1.0 + y * y), rtol=1e-6)


def test_expm1_derivatives_do_not_cancel() -> None:
    """d expm1(x) = exp(x), not expm1(x) + 1: that cancels for negative x (0 at x = -40,
    relative error 2e-4 at x = -30)."""
    x = np.array([-40.0, -30.0, -1e-10, 1e-300, 3.0])

    def total(v: Any) -> Any:
        return pnp.sum(pnp.expm1(v))

    np.testing.assert_allclose(pb.grad(total)(x), np.exp(x), rtol=1e-15)
    np.testing.assert_allclose(pb.jvp(pnp.expm1, (x,), (np.ones(5),))[1], np.exp(x),
                               rtol=1e-15)
    np.testing.assert_allclose(np.diagonal(pb.hessian(total)(x)), np.exp(x), rtol=1e-15)
    x32 = x.astype(np.float32)
    assert pb.grad(total)(x32).dtype == np.float32
    all_checks(_program("m.expm1(x0 - 30.0)"), [np.array([0.5, -2.0])])


def test_vdot_conjugates_its_first_argument() -> None:
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    b = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    ta = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    tb = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    value, tangent = pb.jvp(pnp.vdot, (a, b), (ta, tb))
    assert value == np.vdot(a, b)
    # vdot is real-linear in each argument (antilinear in a): its derivative is exact
    np.testing.assert_allclose(tangent, np.vdot(ta, b) + np.vdot(a, tb), rtol=1e-14)
    h = 1e-5  # and against central differences of NumPy's vdot
    fd = (np.vdot(a + h * ta, b + h * tb) - np.vdot(a - h * ta, b - h * tb)) / (2 * h)
    np.testing.assert_allclose(tangent, fd, rtol=1e-9)
    for part in (pnp.real, pnp.imag):
        check_grads(lambda x, y: part(pnp.vdot(x, y)), (a, b), order=2)  # noqa: B023
    check_grads(lambda x, y: pnp.abs(pnp.vdot(x, y)) ** 2, (a, b.real), order=2)
    np.testing.assert_allclose(pb.jit(pnp.vdot)(a, b), np.vdot(a, b), rtol=1e-15)
    np.testing.assert_allclose(pb.vmap(pnp.vdot)(np.stack([a.ravel(), b]), np.stack([b, b])),
                               [np.vdot(a, b), np.vdot(b, b)], rtol=1e-15)


# ----------------------------------------------------------------------------- t-logsf-nan
# scipy.stats.t's cdf near the centre is 1/2 + sign(y) I_w(1/2, df/2) / 2, w = y^2/(df + y^2):
# at y = 0 its derivative was 0 * inf (I_w grows like sqrt(w)), NaN in every tail function
# at x == loc. Close to 0 the symmetric form I_v(df/2, df/2), v = 1/2 + y/(2 sqrt(df + y^2)).

_T_FNS = ("cdf", "logcdf", "sf", "logsf")


@pytest.mark.parametrize("fn", _T_FNS)
def test_t_tails_at_the_centre_against_scipy_and_differences(fn: str) -> None:
    ours, ref = getattr(pstats.t, fn), getattr(scipy.stats.t, fn)
    rows = {"t": spec("t", lambda x, loc, s: ours(x, df=3.5, loc=loc, scale=s),
                      lambda x, loc, s: ref(x, df=3.5, loc=loc, scale=s), [((), (), ())])}
    # the fuzzer's reproducer: x == loc
    x0 = np.array(-1.37878655014589)
    all_checks("def program(m, R, K, x0):\n    return R[0](1.9 * m.sin(x0), 1.9 * "
               "m.sin(x0), 1.25 + 0.7 * m.tanh(x0))\n", [x0], rows)
    # and through a vector of points at, next to and away from the centre
    x = np.array([0.0, 1e-12, -1e-6, 3e-4, -0.2, 1.5])
    loc = np.zeros(6)
    for df in (0.7, 3.5, 40.0):
        def f(a: Any, m: Any, s: Any, df: float = df) -> Any:
            return ours(a, df, loc=m, scale=s)

        np.testing.assert_allclose(f(x, loc, 1.3), ref(x, df, loc=loc, scale=1.3), rtol=1e-14)
        g = pb.grad(lambda a, f=f: pnp.sum(f(a, loc, 1.3)))(x)
        pdf = scipy.stats.t.pdf(x, df, scale=1.3)
        want = {"cdf": pdf, "sf": -pdf,
                "logcdf": pdf / scipy.stats.t.cdf(x, df, scale=1.3),
                "logsf": -pdf / scipy.stats.t.sf(x, df, scale=1.3)}[fn]
        np.testing.assert_allclose(g, want, rtol=1e-13)
        check_grads(f, (x, loc, np.array(1.3)), order=2)
        np.testing.assert_allclose(pb.jacfwd(lambda a, f=f: f(a, loc, 1.3))(x),
                                   np.diag(want), rtol=1e-13, atol=0)
    # the second derivative at the centre: pdf'(0) = 0 (cdf, sf); for the logarithms
    # -(pdf(0)/sf(0))^2 = -(2 pdf(0))^2
    p0 = scipy.stats.t.pdf(0.0, 3.5)
    h = pb.grad(pb.grad(lambda a: ours(a, 3.5)))(0.0)
    np.testing.assert_allclose(h, 0.0 if fn in ("cdf", "sf") else -(2 * p0) ** 2,
                               rtol=1e-13, atol=1e-15)


def test_t_cdf_values_where_the_centre_switches_form() -> None:
    """The symmetric form gives the derivatives for |y| < 1e-4 sqrt(df) only, the value stays
    the centre's form's: values there and next to it match SciPy's, float32 stays float32."""
    for df in (0.5, 3.5, 40.0):
        edge = 1e-4 * np.sqrt(df)
        x = np.array([0.0, edge * 0.999, edge * 1.001, -edge * 0.5, -edge * 2.0])
        np.testing.assert_allclose(pstats.t.cdf(x, df), scipy.stats.t.cdf(x, df),
                                   rtol=4e-16, atol=0)
    x32 = np.array([0.0, 1e-5, -0.5], np.float32)
    got = pb.grad(lambda a: pnp.sum(pstats.t.logsf(a, 3.5)))(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, -scipy.stats.t.pdf(x32, 3.5) / scipy.stats.t.sf(x32, 3.5),
                               rtol=1e-6)


# ----------------------------------------------------------------------------- odeint-time-shape
# SciPy's odeint reads a scalar y0 as one equation (func sees y of shape (1,)): the result is
# (len(t), 1). pullback's kept y0's shape, (len(t),). (The fuzzer's description named the
# shapes of its program's inputs: y0 was x0, 0-d; t = K[0], (1,); (2, 1) was w's.)


def _decay(y: Any, t: Any, k: Any) -> Any:
    return -k * y * (1.0 + 0.5 * pnp.cos(t))


def _decay_np(y: Any, t: Any, k: Any) -> Any:
    return -k * y * (1.0 + 0.5 * np.cos(t))


def test_odeint_of_a_scalar_y0_is_scipys() -> None:
    rows = {"ode": spec("ode", lambda y0, t, w: pint.odeint(_forced, y0, t, args=(w,), **TOL),
                        lambda y0, t, w: si.odeint(_forced, y0, t, (w,), **TOL),
                        [((), (1,), (2, 1))])}
    all_checks("def program(m, R, K, x0):\n    return R[0](x0, K[0], 1.0 + 0.4 * "
               "m.tanh(m.broadcast_to(x0, (2, 1))))\n", [np.array(0.41)], rows,
               K=[np.array([0.28])])
    t = np.array([0.0, 0.7, 1.5])
    rows = {"decay": spec("decay", lambda y0, k: pint.odeint(_decay, y0, t, k, **TOL),
                          lambda y0, k: si.odeint(_decay_np, y0, t, (k,), **TOL),
                          [((), ())])}
    all_checks(_program("R[0](1.0 + 0.5 * m.sin(x0), 0.8 + 0.3 * m.tanh(x1))", 2),
               [np.array(0.3), np.array(-0.4)], rows)
    # a closed form: y(t) = y0 exp(-k (t + sin(t) / 2)); and a func returning a scalar
    y = pint.odeint(_decay, 1.5, t, 0.8, **TOL)
    assert y.shape == (3, 1) == si.odeint(_decay_np, 1.5, t, (0.8,)).shape
    want = 1.5 * np.exp(-0.8 * (t + np.sin(t) / 2))
    np.testing.assert_allclose(y[:, 0], want, rtol=1e-10)
    scalar = pint.odeint(lambda v, s: -v[0], np.array(2.0), t, **TOL)
    np.testing.assert_allclose(scalar[:, 0], 2.0 * np.exp(-t), rtol=1e-10)

    def f(y0: Any, k: Any) -> Any:
        return pint.odeint(_decay, y0, t, k, **TOL)

    g = pb.grad(lambda y0, k: pnp.sum(f(y0, k)), argnums=(0, 1))(1.5, 0.8)
    s = t + np.sin(t) / 2
    np.testing.assert_allclose(g, (np.sum(want / 1.5), np.sum(-s * want)), rtol=1e-8)
    jv = pb.jvp(f, (1.5, 0.8), (1.0, 0.0))[1]
    assert jv.shape == (3, 1)
    np.testing.assert_allclose(jv[:, 0], want / 1.5, rtol=1e-8)
    check_grads(f, (np.array(1.5), np.array(0.8)), order=2, rtol=1e-6)


# ----------------------------------------------------------------------------- polyint-k-shape
# numpy.polyint(p, m, k) with one constant (len(k) == 1) and m > 1 uses k[0] * ones(m): k of
# shape (1, 1) or (1, m) too. Traced, only a 1-d k of length 1 was broadcast; others refused.


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("kshape", [(1, 1), (1, 2), (1,), (), (3,), (2, 1)])
def test_polyint_constants_are_read_as_numpys(m: int, kshape: tuple) -> None:
    p = np.array([0.7, -1.2, 2.0])
    k = np.linspace(0.5, 1.5, int(np.prod(kshape))).reshape(kshape)
    try:
        want = np.polyint(p, m, k)
    except ValueError:
        with pytest.raises(ValueError):
            pb.jvp(lambda kk: pnp.polyint(p, m, kk), (k,), (np.ones(kshape),))
        return
    rows = {"polyint": spec("polyint", lambda a, kk: pnp.polyint(a, m, kk),
                            lambda a, kk: np.polyint(a, m, kk), [((3,), kshape)])}
    all_checks(_program("R[0](m.sin(x0), m.cos(x1))", 2),
               [np.arcsin(p / 2.5), np.arccos(k / 2.0)], rows)
    got, tangent = pb.jvp(lambda kk: pnp.polyint(p, m, kk), (k,), (np.ones(kshape),))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-15)
    # polyint is linear in k: its derivative along ones is polyint(0, m, ones)
    np.testing.assert_allclose(tangent, np.polyint(np.zeros(3), m, np.ones(kshape)),
                               rtol=1e-15)
    check_grads(lambda a, kk: pnp.polyint(a, m, kk) ** 2, (p, k), order=2)


def test_polyint_reproducer_and_dtypes() -> None:
    rows = {"polyint": spec("polyint", lambda a, kk: pnp.polyint(a, 2, kk),
                            lambda a, kk: np.polyint(a, 2, kk), [((2,), (1, 1))])}
    all_checks("def program(m, R, K, x0):\n    return R[0](2.0 * m.sin(m.broadcast_to("
               "x0, (2,))), m.broadcast_to(x0, (1, 1)))\n", [np.array(-0.63)], rows)
    p32, k32 = np.array([1.0, 2.0], np.float32), np.array([[3.0]], np.float32)
    got = pb.jvp(lambda a: pnp.polyint(a, 2, k32), (p32,), (p32,))[0]
    assert got.dtype == np.polyint(p32, 2, k32).dtype == np.float64


# ----------------------------------------------------------------------------- trapezoid-dtype
# scipy.integrate.trapezoid returns y's dtype (float64 for integer y): it sums the terms
# d * (y[1:] + y[:-1]) / 2 with dtype=y's. pullback returned the terms' dtype (float32 y with
# float64 x: float64).


@pytest.mark.parametrize("ydt", [np.float32, np.float64, np.complex64, np.int64])
@pytest.mark.parametrize("xdt", [np.float32, np.float64, np.int64])
def test_trapezoid_dtype_is_scipys(ydt: Any, xdt: Any) -> None:
    y = (np.linspace(-1.0, 1.0, 12) * (1.0 + 0.5j if ydt == np.complex64 else 3.0)).reshape(4, 3)
    y = y.astype(ydt)
    x = np.array([0, 2, 4, 7] if xdt == np.int64 else [0.1, 0.5, 0.9, 1.4]).astype(xdt)
    want = si.trapezoid(y, x, axis=0)
    got = pint.trapezoid(y, x, axis=0)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if np.float32 in (ydt, xdt) else 1e-15)
    for dx in (0.5, np.float64(0.5), np.float32(0.5)):
        assert np.asarray(pint.trapezoid(y, dx=dx)).dtype == si.trapezoid(y, dx=dx).dtype
    if ydt != np.int64:
        v, t = pb.jvp(lambda a: pint.trapezoid(a, x, axis=0), (y,), (y,))
        assert v.dtype == t.dtype == want.dtype
        np.testing.assert_allclose(t, want, rtol=1e-6 if want.dtype != np.float64 else 1e-15)
    if xdt != np.int64:
        (gx,) = pb.vjp(lambda b: pint.trapezoid(y, b, axis=0), x)[1](np.ones_like(want))
        assert gx.dtype == x.dtype


def test_trapezoid_dtype_reproducer_and_derivatives() -> None:
    rows = {"trapezoid": spec("trapezoid", lambda y, x: pint.trapezoid(y, x, axis=0),
                              lambda y, x: si.trapezoid(y, x, axis=0), [((4, 3), (4,))])}
    all_checks("def program(m, R, K, x0):\n    return R[0](x0, K[0])\n",
               [np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3)], rows,
               K=[np.array([0.1, 0.5, 0.9, 1.4])])
    all_checks(_program("R[0](m.sin(x0), m.cumsum(0.3 + x1 * x1))", 2),
               [np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.array([0.1, 0.5, 0.9, 1.4])],
               rows)
    y, x = np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.array([0.1, 0.5, 0.9, 1.4])
    check_grads(lambda a, b: pint.trapezoid(a * a, pnp.cumsum(b * b), axis=0), (y, x), order=2)


# ----------------------------------------------------------------------------- full
# np.full(shape, v) fills through copyto, which drops leading axes of length 1 of v:
# np.full((2, 3), v) of v of shape (1, 1, 1) is (2, 3); pullback broadcast v to (2, 3)
# directly, which NumPy refuses, and its pullback summed a repeated axis (fuzz seed 3000358)

@pytest.mark.parametrize(("vshape", "shape"), [((1, 1, 1), (2, 3)), ((1, 1, 3), (3,)),
                                               ((1, 2, 1), (2, 3)), ((1,), ())])
def test_full_drops_the_values_leading_unit_axes(vshape: tuple, shape: tuple) -> None:
    all_checks(_program(f"m.full({shape}, m.sin(x0)) * 2.0"),
               [np.linspace(0.2, 0.9, int(np.prod(vshape))).reshape(vshape)])


def test_full_still_refuses_what_numpy_refuses() -> None:
    with pytest.raises(ValueError):
        np.full((3,), np.ones((2, 1, 3)))
    with pytest.raises(ValueError):
        pb.grad(lambda v: pnp.sum(pnp.full((3,), v)))(np.ones((2, 1, 3)))


# ----------------------------------------------------------------------------- scipy dtype
# SciPy's ufuncs take the first of their loops that accepts the arguments: where the float64
# loop is listed first, a Python number with a float32 array gives float64 (gammainc(1.7,
# x32), xlogy, beta, yn(2, x32)); pullback kept float32 (fuzz seed 3002749 and others)

WIDENED = [("gammainc", (1.7, None)), ("gammaincc", (1.7, None)), ("xlogy", (2.0, None)),
           ("xlog1py", (2, None)), ("beta", (None, 1.5)), ("betaln", (2.5, None)),
           ("yn", (2, None))]


@pytest.mark.parametrize(("name", "args"), WIDENED, ids=[n for n, _ in WIDENED])
def test_scipy_ufunc_dtype_with_a_python_number(name: str, args: tuple) -> None:
    x32 = np.array([0.6, 1.3, 2.2], np.float32)
    ref, f = getattr(scipy.special, name), getattr(psp, name)

    def call(fn: Any, x: Any) -> Any:
        return fn(*(x if a is None else a for a in args))

    want = call(ref, x32)
    assert want.dtype == np.float64  # SciPy widens (if it stops, this regression is moot)
    got = call(f, x32)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-13)
    value, tangent = pb.jvp(lambda x: call(f, x), (x32,), (np.ones(3, np.float32),))
    assert value.dtype == tangent.dtype == np.float64
    x64 = x32.astype(np.float64)
    h = 1e-6
    diff = (call(ref, x64 + h) - call(ref, x64 - h)) / (2 * h)
    np.testing.assert_allclose(tangent, diff, rtol=1e-7)
    g = pb.grad(lambda x: pnp.sum(call(f, x)))(x32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, diff, rtol=1e-6)
    # a float32 parameter keeps float32, as in SciPy
    args32 = tuple(None if a is None else np.float32(a) for a in args)
    assert (getattr(psp, name)(*(x32 if a is None else a for a in args32)).dtype
            == ref(*(x32 if a is None else a for a in args32)).dtype == np.float32)


# ----------------------------------------------------------------------------- mvn points
# scipy.stats.multivariate_normal.logpdf broadcasts x - mean: points whose last axis has one
# entry are the points (x, ..., x); pullback refused them (fuzz seed 4001107)

@pytest.mark.parametrize("xshape", [(3, 1), (1,), (2, 3, 1)])
def test_multivariate_normal_points_with_one_entry_broadcast(xshape: tuple) -> None:
    x = np.linspace(-0.4, 0.7, int(np.prod(xshape))).reshape(xshape)
    mean, cov = np.array([0.2, -0.1]), np.array([[1.5, -0.1], [-0.1, 1.2]])
    want = scipy.stats.multivariate_normal.logpdf(x, mean, cov)
    got = pstats.multivariate_normal.logpdf(x, mean, cov)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(pstats.multivariate_normal.pdf(x, mean, cov),
                               scipy.stats.multivariate_normal.pdf(x, mean, cov), rtol=1e-13)
    check_grads(lambda x, m, c: pstats.multivariate_normal.logpdf(x, m, c),
                (x, mean, cov), order=2)


# ----------------------------------------------------------------------------- issue 16: inputs
# SciPy 1.17.1 takes that pullback.scipy refused (block-diag-nd, lu-factor-rect,
# fftconvolve-valid, fftconvolve-0d, and expm, dirichlet, solve_sylvester found with them)


def _rows(*keys: str) -> dict:
    return {k: fuzz.ROWS[k] for k in keys}


def _same(got: Any, want: Any, rtol: float = 1e-13) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                  want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-15)


def test_block_diag_of_stacks_of_blocks_is_scipys() -> None:
    # scipy.linalg.block_diag of 3-d arrays: stacks of blocks, leading axes broadcast
    all_checks("def program(m, R, K, x0):\n    return R[0](m.broadcast_to(x0, (3, 2, 2)), "
               "m.broadcast_to(x0, (3, 1, 3)), m.broadcast_to(x0, (3, 3)))\n",
               [np.array(0.89)], _rows("scipy.linalg.block_diag"))
    rng = np.random.default_rng(16)
    for shapes in [((3, 2, 2), (3, 1, 3), (3,)), ((2, 1, 1, 2), (3, 2, 2), ()),
                   ((1, 2), (4, 1, 1)), ((0, 2, 2), (1, 1))]:
        arrs = [rng.standard_normal(s) for s in shapes]
        _same(pla.block_diag(*arrs), sla.block_diag(*arrs), rtol=0)
    arrs = [rng.standard_normal(s) for s in ((3, 2, 2), (2,), (3, 1, 1))]
    check_grads(lambda a, b, c: pla.block_diag(a, b, c) ** 2, arrs, order=2)
    with pytest.raises(ValueError, match=r"block_diag: the leading \(stack\) axes"):
        pla.block_diag(np.ones((3, 2, 2)), np.ones((2, 1, 3)))
    with pytest.raises(ValueError):  # SciPy refuses it too
        sla.block_diag(np.ones((3, 2, 2)), np.ones((2, 1, 3)))


@pytest.mark.parametrize("shape", [(2, 1), (1, 2), (3, 2), (2, 3), (4, 2), (2, 2, 3), (3,),
                                   (1,), ()])
def test_lu_factor_of_rectangular_matrices_is_scipys(shape: tuple) -> None:
    rng = np.random.default_rng(len(shape) * 10 + sum(shape))
    a = rng.uniform(-1.0, 1.0, shape)
    if len(shape) == 2:
        a += 4.0 * np.eye(*shape)
    lu, piv = pla.lu_factor(a)
    want_lu, want_piv = sla.lu_factor(a)
    _same(lu, want_lu)
    _same(piv, want_piv)
    # jvp: P (dL U + L dU) reconstructs da, with L (m, k) and U (k, n) from the packed lu
    if len(shape) == 2:
        m, n = shape
        k = min(m, n)
        e = rng.standard_normal(shape)
        _, (dlu, _) = pb.jvp(pla.lu_factor, (a,), (e,))
        L = np.tril(lu, -1)[:, :k] + np.eye(m, k)
        U = np.triu(lu)[:k]
        dL, dU = np.tril(dlu, -1)[:, :k], np.triu(dlu)[:k]
        P = np.eye(m)[:, pla._permutation(piv, m)]
        np.testing.assert_allclose(P @ (dL @ U + L @ dU), e, rtol=1e-13, atol=1e-14)
    check_grads(lambda x: pla.lu_factor(x)[0], (a,), order=2)


def test_lu_factor_rectangular_reproducer_and_lu_solve_refuses_as_scipy() -> None:
    all_checks("def program(m, R, K, x0):\n    return R[0](4.0 + 0.01 * "
               "m.tanh(x0.reshape(2, 1)))\n", [np.array([0.64, -0.51])],
               _rows("scipy.linalg.lu_factor[stacked]"))
    a = np.array([[4.0, 1.0, 2.0], [4.01, 3.0, 1.0]])
    with pytest.raises(ValueError, match="lu_solve: argument 'lu' must be a square matrix"):
        pla.lu_solve(pla.lu_factor(a), np.ones(2))
    with pytest.raises(Exception, match="shape"):  # SciPy: an f2py error
        sla.lu_solve(sla.lu_factor(a), np.ones(2))


def test_fftconvolve_broadcasts_axes_of_size_one_as_scipy() -> None:
    # 'valid' compares the sizes along the convolved axes only: (4, 1, 3) with (4, 2, 1)
    all_checks("def program(m, R, K, x0):\n    return R[0](1.25 + 0.7 * m.sin("
               "m.broadcast_to(x0, (4, 1, 3))), 0.5 + m.exp(-m.broadcast_to(x0, "
               "(4, 2, 1)) ** 2))\n", [np.array(0.91)], _rows("scipy.signal.fftconvolve[valid]"))
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, (4, 1, 3)), rng.uniform(0.5, 2.0, (4, 2, 1))
    for mode in ("full", "same", "valid"):
        for axes in (None, 0, (0, 2), 1, [-1]):
            _same(psig.fftconvolve(a, b, mode, axes), ssig.fftconvolve(a, b, mode, axes))
    # 'same' is in1's shape along every axis, the broadcast ones too (was (3, 4))
    a, b = rng.uniform(0.5, 2.0, (1, 4)), rng.uniform(0.5, 2.0, (3, 2))
    _same(psig.fftconvolve(a, b, "same", axes=1), ssig.fftconvolve(a, b, "same", axes=1))
    check_grads(lambda x, y: psig.fftconvolve(x, y, "valid") ** 2,
                (rng.uniform(0.5, 2.0, (4, 1, 3)), rng.uniform(0.5, 2.0, (4, 2, 1))), order=2)
    for bad, msg in (([0, 0], "all axes must be unique"), ([], "axes cannot be empty"),
                     (5, "out of bounds"), (0.5, "axes must be a scalar or iterable")):
        with pytest.raises(ValueError, match=msg):
            psig.fftconvolve(np.ones((3, 3)), np.ones((2, 2)), axes=bad)
        with pytest.raises(ValueError):
            ssig.fftconvolve(np.ones((3, 3)), np.ones((2, 2)), axes=bad)
    # integer and boolean inputs: float64, as SciPy's
    for dt in (np.int64, bool):
        x, y = np.ones((3, 2), dt), np.ones((2, 2), dt)
        _same(psig.fftconvolve(x, y), ssig.fftconvolve(x, y))


def test_fftconvolve_of_0d_and_empty_inputs_is_scipys() -> None:
    all_checks("def program(m, R, K, x0):\n    return R[0](1.25 + 0.7 * m.tanh(x0), "
               "1.25 + 0.7 * m.sin(x0))\n", [np.array(0.6)],
               _rows("scipy.signal.fftconvolve[axes]"))
    x, y = np.array(1.5), np.array(-0.5)
    for mode, axes in (("full", None), ("valid", 0), ("same", [0, 1])):
        _same(psig.fftconvolve(x, y, mode, axes), ssig.fftconvolve(x, y, mode, axes))
    assert pb.grad(lambda u: psig.fftconvolve(u, y, axes=0), argnums=0)(x) == -0.5
    for s1, s2 in (((2, 0), (2, 3)), ((0,), (3,))):
        _same(psig.fftconvolve(np.ones(s1), np.ones(s2)), ssig.fftconvolve(np.ones(s1),
                                                                          np.ones(s2)))


@pytest.mark.parametrize("x", [np.array(0.3), np.array([-0.7]), np.array(0.3, np.float32),
                               np.array(2), np.array(0.5 + 1.5j)])
def test_expm_of_a_0d_or_one_entry_input_is_scipys(x: np.ndarray) -> None:
    _same(pla.expm(x), sla.expm(x), rtol=1e-15)
    if x.dtype.kind == "f":
        t = pb.jvp(pla.expm, (x,), (np.ones_like(x),))[1]
        _same(t, sla.expm(x))  # d exp = exp
        check_grads(pla.expm, (x,), order=2)
    with pytest.raises(ValueError, match="must be a square matrix"):
        pla.expm(np.array([0.3, 0.4]))
    with pytest.raises(np.linalg.LinAlgError):  # SciPy refuses it too
        sla.expm(np.array([0.3, 0.4]))
    # sqrtm: SciPy 1.17.1 returns exp(x) for these (not a root): refused by design, saying so
    with pytest.raises(NotImplementedError, match="returns exp"):
        pla.sqrtm(x)


@pytest.mark.parametrize("fn", ["entropy", "mean", "var", "logpdf", "pdf"])
def test_dirichlet_of_one_entry_alpha_is_scipys(fn: str) -> None:
    alpha = np.array([2.5])
    args = {"logpdf": (np.array([1.0]),), "pdf": (np.ones((1, 3)),)}.get(fn, ())
    ours, theirs = getattr(pstats.dirichlet, fn), getattr(scipy.stats.dirichlet, fn)
    _same(ours(*args, alpha), theirs(*args, alpha))
    # the function is constant in alpha (0, 1 or 0): its derivatives are exactly 0
    g = pb.grad(lambda a: pnp.sum(ours(*args, a)))(alpha)
    assert np.all(g == 0), g
    check_grads(lambda a: ours(*args, a), (alpha,), order=2)
    with pytest.raises(ValueError, match="at least 1 entry"):
        ours(*args, np.array([]))


def test_dirichlet_one_entry_points_and_refusals_as_scipy() -> None:
    alpha = np.array([2.5])
    for x in (np.array([]), np.zeros((0, 3)), np.array([[1.0]])):
        _same(pstats.dirichlet.logpdf(x, alpha), scipy.stats.dirichlet.logpdf(x, alpha))
    for x, a in ((np.array([0.3]), alpha), (np.array(1.0), alpha), (np.zeros((1, 0)), alpha),
                 (np.array([0.0, 1.0]), np.array([0.5, 2.0]))):
        with pytest.raises((ValueError, IndexError)):  # SciPy: IndexError for a 0-d x
            scipy.stats.dirichlet.logpdf(x, a)
        with pytest.raises(ValueError, match="pullback.scipy.stats.dirichlet"):
            pstats.dirichlet.logpdf(x, a)


@pytest.mark.parametrize("shapes", [((1, 1), (1, 1), ()), ((3, 3), (3, 3), ()),
                                    ((1, 1), (1, 1), (1,)), ((2, 1, 1), (1, 1), (1,)),
                                    ((2, 2, 2), (2, 2), ())])
def test_solve_sylvester_reads_a_0d_or_1d_q_as_scipy(shapes: tuple) -> None:
    rng = np.random.default_rng(7)
    sa, sb, sq = shapes
    a = rng.uniform(-1.0, 1.0, sa) + 3.0 * np.eye(sa[-1])
    b = rng.uniform(-1.0, 1.0, sb) + 3.0 * np.eye(sb[-1])
    q = rng.standard_normal(sq)
    x = pla.solve_sylvester(a, b, q)
    _same(x, sla.solve_sylvester(a, b, q), rtol=1e-12)
    if not sq:  # q stands for q times the identity
        np.testing.assert_allclose(a @ x + x @ b, q * np.eye(sa[-1]) + 0 * x, atol=1e-13)
    check_grads(pla.solve_sylvester, (a, b, q), order=2)


def test_solve_sylvester_refuses_the_q_scipy_refuses() -> None:
    for sa, sb, sq in (((1, 1), (2, 2), ()), ((2, 2), (2, 2), (2,)), ((2, 2), (2, 2), (1, 1)),
                       ((1, 1), (2, 2), (1,))):
        a, b, q = np.eye(*sa) * 2.0, np.eye(*sb) * 3.0, np.ones(sq)
        with pytest.raises(ValueError):
            sla.solve_sylvester(a, b, q)
        with pytest.raises(ValueError, match="pullback.scipy.linalg.solve_sylvester: .*'q'"):
            pla.solve_sylvester(a, b, q)


# ----------------------------------------------------------------------------- odeint dtypes
# odeint's and solve_ivp's pullback returned the times' and arguments' cotangents in the
# solution's dtype: float32 times with a float64 y0 gave a RuleError (fuzz seeds 3004189,
# 4004939)

@pytest.mark.parametrize("dtypes", [(np.float64, np.float32, np.float32),
                                    (np.float32, np.float64, np.float32),
                                    (np.float32, np.float32, np.float64)],
                         ids=["y0-64", "t-64", "w-64"])
@pytest.mark.parametrize("solver", ["odeint", "solve_ivp"])
def test_odeint_cotangents_take_each_arguments_dtype(solver: str, dtypes: tuple) -> None:
    y0 = np.array([0.3, -0.2], dtypes[0])
    t = np.array([0.5, 1.0, 2.0], dtypes[1])
    w = np.array([0.7, 1.1], dtypes[2])

    def loss(lib: Any, y0: Any, t: Any, w: Any) -> Any:
        if solver == "odeint":
            ys = lib.odeint(_forced, y0, t, args=(w,), **TOL)
        else:
            ys = lib.solve_ivp(lambda s, y, w: _forced(y, s, w), (0.0, 3.0), y0, "DOP853", t,
                               args=(w,), **TOL).y
        return pnp.sum(ys * ys)

    grads = pb.grad(lambda *a: loss(pint, *a), argnums=(0, 1, 2))(y0, t, w)
    assert [g.dtype for g in grads] == [np.dtype(d) for d in dtypes]
    plain = [a.astype(np.float64) for a in (y0, t, w)]

    def fd(i: int) -> np.ndarray:  # central differences of SciPy's solution, in float64
        out = []
        for k in range(plain[i].size):
            up, down = [p.copy() for p in plain], [p.copy() for p in plain]
            up[i][k] += 1e-5
            down[i][k] -= 1e-5
            out.append((float(loss(si, *up)) - float(loss(si, *down))) / 2e-5)
        return np.array(out)

    for i in range(3):
        np.testing.assert_allclose(grads[i], fd(i), rtol=2e-5, atol=1e-6)


# ----------------------------------------------------------------------------- trapezoid x
# scipy.integrate.trapezoid broadcasts the differences of a 1-d x against the intervals: two
# points give one spacing for every interval; pullback refused them (fuzz seed 4005468)

@pytest.mark.parametrize(("ny", "nx"), [(2, 1), (2, 3), (2, 4), (1, 2)])
def test_trapezoid_one_interval_takes_every_difference(ny: int, nx: int) -> None:
    # one interval (or one spacing) broadcasts in SciPy's formula (fuzz seed 3012843)
    y, x = np.sin(np.arange(ny) + 1.0), np.cumsum(np.arange(nx) + 1.0)
    np.testing.assert_allclose(pint.trapezoid(y, x), si.trapezoid(y, x), rtol=1e-15)
    check_grads(pint.trapezoid, (y, x), order=2)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_trapezoid_two_points_give_one_spacing(n: int) -> None:
    y = np.sin(np.arange(2.0 * n)).reshape(n, 2)
    x = np.array([0.2, 0.7])
    np.testing.assert_allclose(pint.trapezoid(y, x, axis=0), si.trapezoid(y, x, axis=0),
                               rtol=1e-15)
    check_grads(lambda y, x: pint.trapezoid(y, x, axis=0), (y, x), order=2)
    with pytest.raises(ValueError, match="cumulative_trapezoid: if given, length of x"):
        pint.cumulative_trapezoid(y, np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6][: n + 1]), axis=0)


# ----------------------------------------------------------------------------- numpy edges
# NumPy's copyto drops the source's leading axes of length 1 (fuzz seed 3006788); put and
# putmask of empty values write nothing and check no index (4001109, 4002675); polymul reads
# an empty coefficient array as the zero polynomial (3001788); trapezoid sums over ``axis``
# of the product, which an x of more dimensions than y makes longer (4007890)

@pytest.mark.parametrize("body", [
    "m.copyto(x0 * 1.0, m.broadcast_to(m.sin(x1), (1, 3)), where=m.array([True, False, True]))",
    "m.copyto(x0 * 1.0, m.broadcast_to(m.sin(x1), (1, 1, 3)))",
])
def test_copyto_drops_leading_unit_axes(body: str) -> None:
    src = "def program(m, R, K, x0, x1):\n    b = x0 * 1.0\n    " + body.replace(
        "m.copyto(x0 * 1.0,", "m.copyto(b,") + "\n    return b\n"
    all_checks(src, [np.array([0.3, -1.2, 0.8]), np.array(0.7)])


@pytest.mark.parametrize("body", ["m.put(b, [0, 4, 0], m.sin(x1)[:0])",
                                  "m.putmask(b, m.array([True, False, True]), m.sin(x1)[:0])"])
def test_put_and_putmask_of_empty_values_write_nothing(body: str) -> None:
    src = f"def program(m, R, K, x0, x1):\n    b = m.sin(x0) * 1.0\n    {body}\n    return b\n"
    all_checks(src, [np.array([0.3, -1.2, 0.8]), np.array([0.5, 0.25])])


def test_polymul_of_empty_coefficients_is_numpys() -> None:
    all_checks(_program("m.polymul(m.sin(x0), m.tanh(x1))", 2), [np.zeros(0), np.array([0.5, 2.0])])
    all_checks(_program("m.polymul(m.sin(x0), m.tanh(x0))"), [np.zeros(0)])


@pytest.mark.parametrize(("yshape", "xshape", "axis"), [((1, 3), (4, 1, 3), -1),
                                                        ((3,), (2, 3), -1), ((3, 2), (3, 2), 0)])
def test_trapezoid_sums_over_the_products_axis(yshape: tuple, xshape: tuple, axis: int) -> None:
    y = np.linspace(-1.0, 1.0, int(np.prod(yshape))).reshape(yshape)
    x = np.cumsum(np.linspace(0.2, 0.9, int(np.prod(xshape)))).reshape(xshape)
    all_checks(_program(f"m.trapezoid(m.sin(x0), m.exp(x1 / 4), axis={axis})", 2), [y, x])


# ----------------------------------------------------------------------------- odeint empty
# odeint of an empty y0: SciPy's LSODA reports illegal input and returns the empty solution;
# pullback raised its "integrator failed" error, and its derivative rules called the user's
# function on an empty state (fuzz seed 3012859)

def test_odeint_of_no_equations_is_the_empty_solution() -> None:
    t = np.array([0.04, 0.39, 0.78])
    w = np.array([1.0, 0.45])
    ys = pint.odeint(_forced, np.zeros(0), t, args=(w,), **TOL)
    assert ys.shape == (3, 0) and ys.dtype == np.float64
    assert pint.solve_ivp(lambda s, y: -y, (0.0, 1.0), np.zeros(0), t_eval=t).y.shape == (0, 3)
    src = ("def program(m, R, K, x0):\n    return R[0](m.zeros(0), K[0] + 0.01 * m.tanh(x0), "
           "1.0 + 0.2 * m.tanh(x0))\n")
    rows = {"odeint": spec("odeint", lambda y0, t, w: pint.odeint(_forced, y0, t, args=(w,)),
                           lambda y0, t, w: si.odeint(_forced, y0, t, (w,)), [((0,), (3,), ())])}
    all_checks(src, [np.array([0.3, -0.1, 0.6])], rows, K=[t])


# ----------------------------------------------------------------------------- vecdot axis
# NumPy's vecdot is a gufunc (n),(n)->(): ``axis`` picks the contracted axis in each operand
# before the others broadcast. pullback broadcast first and summed the product over ``axis``:
# vecdot(a (2, 2), b (2,), axis=0) contracted a's rows with b broadcast along them, a wrong
# value and wrong derivatives in every transformation (eager NumPy was right) (seed 4016306)

@pytest.mark.parametrize("name", ["vecdot", "linalg.vecdot"])
@pytest.mark.parametrize(("sa", "sb", "axis"), [((2, 3), (2,), 0), ((2, 3, 2), (2, 3), 1),
                                                ((4, 1, 3), (2, 3), -1), ((2, 2), (2,), 0)])
def test_vecdot_contracts_each_operands_own_axis(name: str, sa: tuple, sb: tuple,
                                                 axis: int) -> None:
    rng = np.random.default_rng(0)
    all_checks(_program(f"m.{name}(m.sin(x0), m.tanh(x1), axis={axis})", 2),
               [rng.standard_normal(sa), rng.standard_normal(sb)])


def test_vecdot_axis_does_not_broadcast() -> None:
    a, b = np.ones((2, 3)), np.ones((1, 3))
    with pytest.raises(ValueError):
        np.vecdot(a, b, axis=0)
    with pytest.raises(ValueError, match="vecdot: the operands' axis 0 must have one length"):
        pb.grad(lambda a: pnp.sum(pnp.vecdot(a, b, axis=0)))(a)


# ----------------------------------------------------------------------------- cov rowvar
# NumPy 2.2 transposes every 2-d m for rowvar=False, one observation of several variables
# too ((1, 5) gives a 5 x 5 matrix); pullback followed the older rule that kept a single row
# as one variable and returned a scalar under every transformation (fuzz seed 3015863)

@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (1, 1), (3, 4)])
def test_cov_rowvar_false_transposes_by_dimensions(shape: tuple) -> None:
    x = np.linspace(-1.0, 1.5, int(np.prod(shape))).reshape(shape)
    all_checks(_program("m.cov(m.sin(x0) + x0 * x0, rowvar=False, bias=True)"), [x])


# ----------------------------------------------------------------------------- scipy solve shapes
# SciPy 1.17's solve reads 'a' at least 2-d and 'b' at least 1-d (a 0-d b is a vector of one
# entry), and a 1 by 1 'a' divides a 'b' of any number of rows (b / a), whatever assume_a
# says; a 'b' of two or more dimensions is a stack of matrices and the stack axes broadcast.
# pullback refused a 0-d b (seeds 3004791, 3006820, 4009835: "Input operand 1 does not have
# enough dimensions"; 4003615: an IndexError through solve_triangular), a 1 by 1 a with b of
# 2 rows (3009306, 3000750); lu_solve failed on an empty system (3005288) and on a stacked
# lu with one (3, 3) b for all of them (3000361); vmap of solve with a stacked a and a
# constant (3, 3) b failed (pnp.linalg.solve did not broadcast a constant b's stack axes)

_SOLVE_SHAPES = [
    (3004791, "scipy.linalg.solve[transposed]", (1, 1), "x0", [np.array(-0.327)]),
    (3006820, "scipy.linalg.solve[None]", (1, 1, 1), "(2.0 * m.sin(x0))", [np.array(1.77)]),
    (4009835, "scipy.linalg.solve[her]", (1, 1, 1), "(2.0 * m.tanh(x0))", [np.array(0.59)]),
    (3009306, "scipy.linalg.solve[sym-lower]", (1, 1),
     "(2.0 * m.sin(m.broadcast_to(x0, (2, 1))))", [np.array(0.0123)]),
    (4003615, "scipy.linalg.solve[lower triangular]", (1, 1), "(2.0 * m.sin(x0))",
     [np.array(-0.733)]),
    (3000750, "scipy.linalg.solve[pos]", (1, 1), "m.broadcast_to(x0, (2,))",
     [np.array([-1.18])]),
]


@pytest.mark.parametrize(("seed", "row", "ashape", "b", "xs"), _SOLVE_SHAPES,
                         ids=[str(case[0]) for case in _SOLVE_SHAPES])
def test_scipy_solve_reads_b_as_scipy(seed: int, row: str, ashape: tuple, b: str,
                                      xs: list) -> None:
    src = (f"def program(m, R, K, x0):\n    return R[0]((K[0] + 0.01 * "
           f"m.tanh(m.broadcast_to(x0.sum(), {ashape}))), {b})\n")
    all_checks(src, xs, _rows(row), K=[np.full(ashape, 2.9)], seed=seed)


def test_scipy_solve_one_by_one_a_divides_b() -> None:
    a = np.array([[2.5]])
    for b in [np.array(3.0), np.array([1.0, -2.0]), np.ones((3, 2)), np.ones((1, 3, 2))]:
        for kw in [{}, {"assume_a": "pos"}, {"assume_a": "lower triangular"},
                   {"transposed": True}]:
            _same(pla.solve(a, b, **kw), sla.solve(a, b, **kw), rtol=0)
    with pytest.raises(np.linalg.LinAlgError):  # SciPy: "A singular matrix detected."
        pla.solve(np.zeros((1, 1)), np.ones(2))
    with pytest.raises(ValueError, match="solve: a 1 by 1 'a'.*stack of 3"):
        pla.solve(a, np.ones((3, 2, 1)))  # SciPy 1.17 refuses it too
    with pytest.raises(ValueError):
        sla.solve(a, np.ones((3, 2, 1)))
    check_grads(lambda x, y: pla.solve(x, y, assume_a="pos"), (a, np.array([1.0, -2.0])),
                order=2)


def test_lu_solve_of_an_empty_system_is_empty() -> None:
    all_checks("def program(m, R, K, x0):\n    return R[0]((K[0] + 0.01 * m.sin(m.broadcast_to("
               "x0, (0, 0)))), (2.0 * m.tanh(m.broadcast_to(x0, (0,)))))\n",
               [np.array(1.79)], _rows("scipy.linalg.lu_solve"),
               K=[np.zeros((0, 0))], seed=3005288)
    x = pla.lu_solve(pla.lu_factor(np.zeros((0, 0))), np.zeros((0, 2)))
    _same(x, sla.lu_solve(sla.lu_factor(np.zeros((0, 0))), np.zeros((0, 2))), rtol=0)


def test_lu_solve_of_a_stack_broadcasts_b() -> None:
    rng = np.random.default_rng(3000361)
    k = rng.uniform(-0.5, 0.5, (3, 3, 3)) + 4.0 * np.eye(3)
    k = k[:, [2, 0, 1], :]
    all_checks("def program(m, R, K, x0):\n    return R[0]((K[0] + 0.01 * m.tanh("
               "m.broadcast_to(x0, (3, 3, 3)))), m.broadcast_to(x0, (3, 3)))\n",
               [np.array(0.127)], _rows("scipy.linalg.lu_solve"), K=[k], seed=3000361)
    b = rng.standard_normal((3, 3))
    for trans in (0, 1):
        _same(pla.lu_solve(pla.lu_factor(k), b, trans=trans),
              sla.lu_solve(sla.lu_factor(k), b, trans=trans))


def test_vmap_of_scipy_solve_with_a_stacked_a_and_a_constant_b() -> None:
    rng = np.random.default_rng(0)
    a = np.eye(3) * 2 + 0.1 * rng.standard_normal((3, 3, 3))
    a = a + np.swapaxes(a, -1, -2)
    b = rng.standard_normal((3, 3))
    x = rng.standard_normal((3, 3, 3, 2))
    for kw in [{"assume_a": "sym", "lower": True}, {}, {"assume_a": "pos"}]:
        def f(t: Any, kw: dict = kw) -> Any:
            return pla.solve(a + 0.01 * pnp.tanh(t), b, **kw)

        want = np.stack([sla.solve(a + 0.01 * np.tanh(x[..., i]), b, **kw) for i in range(2)])
        _same(pb.vmap(f, in_axes=-1)(x), want, rtol=1e-12)
        _same(pb.jit(f)(x[..., 0]), want[0], rtol=1e-12)


# ----------------------------------------------------------------------------- reshape copy
# NumPy's reshape copies when the base's layout does not allow a view (a transposed or
# strided base): a write into the result does not reach the base. pullback made every
# reshape of a traced array a view, so the write reached the base, a different value
# (found from fuzz seed 4021658). The arrays of the values decide, as in NumPy; under jit and
# vmap, which have no such arrays, a reshape stays a view (docs/conventions.md)

@pytest.mark.parametrize(("view", "copies"), [("y.T.reshape(-1)", True),
                                              ("y[:, ::2].reshape(-1)", True),
                                              ("y.reshape(-1)", False),
                                              ("y[1:].reshape(-1)", False),
                                              ("y.T.T.reshape(3, 2)", False)])
def test_reshape_writes_through_only_when_numpy_makes_a_view(view: str, copies: bool) -> None:
    src = ("def program(m, R, K, x0):\n    y = m.sin(x0) * 1.0\n    z = " + view +
           "\n    z[0] = z[1] * z[-1]\n    return y * 2.0 + m.sum(z * z)\n")
    xs = [np.linspace(-1.0, 1.2, 6).reshape(2, 3)]
    if not copies:
        all_checks(src, xs)
        return
    out = fuzz.check_program(fuzz.compile_program(src), fuzz.Rows([], {}), [], xs, seed=0,
                             only=["value", "jvp", "vjp", "hvp"])
    assert not out.failures, "\n".join(str(f) for f in out.failures)


# ----------------------------------------------------------------------------- layouts
# ascontiguousarray of a transposed traced array is a copy in NumPy: a write into it must not
# reach the array it was made from (pullback returned the transposed view itself); and
# scipy.linalg.solve's solution is C-ordered as SciPy's, so that a reshape of it is a view in
# both (fuzz seed 4021658: the triangular path gave Fortran order, the reshape then copied)

def test_ascontiguousarray_of_a_transposed_array_is_a_copy() -> None:
    src = ("def program(m, R, K, x0):\n    y = m.sin(x0) * 1.0\n"
           "    c = m.ascontiguousarray(y.T)\n    c[0, 0] = c[1, 1] * c[2, 0]\n"
           "    z = c.reshape(-1)\n    z[1] = z[2] * z[3]\n    return y * 2.0 + m.sum(c * c)\n")
    out = fuzz.check_program(fuzz.compile_program(src), fuzz.Rows([], {}), [],
                             [np.linspace(-1.0, 1.2, 6).reshape(2, 3)], seed=0,
                             only=["value", "jvp", "vjp", "hvp"])
    assert not out.failures, "\n".join(str(f) for f in out.failures)


@pytest.mark.parametrize("assume_a", ["lower triangular", "upper triangular", "pos", "sym",
                                      "gen"])
def test_scipy_solve_is_c_ordered_as_scipys(assume_a: str) -> None:
    a = np.eye(3) * 2.0 + np.tril(np.ones((3, 3))) * 0.1
    a = a if "triangular" in assume_a else a + a.T
    b = np.ones((3, 2))
    want = sla.solve(a, b, assume_a=assume_a)
    got = pla.solve(a, b, assume_a=assume_a)
    assert got.flags.c_contiguous == want.flags.c_contiguous
    traced, _ = pb.vjp(lambda b: pla.solve(a, b, assume_a=assume_a), b)
    assert np.asarray(traced).flags.c_contiguous == want.flags.c_contiguous


def test_vmap_of_numpy_solve_with_a_constant_stacked_b() -> None:
    # pnp.linalg.solve broadcast the stack axes of a traced b only: under vmap a constant
    # (3, 3) b met a batched stack of (3, 3) matrices (found with fuzz seed 3002615)
    rng = np.random.default_rng(0)
    A = np.eye(3) * 3.0 + 0.1 * rng.standard_normal((3, 3, 3))
    B = rng.standard_normal((3, 3))
    src = "def program(m, R, K, x0):\n    return m.linalg.solve(K[0] + 0.01 * m.tanh(x0), K[1])\n"
    all_checks(src, [rng.standard_normal((3, 3, 3))], K=[A, B])


@pytest.mark.parametrize("name", ["expm", "sqrtm", "logm"])
def test_matrix_functions_of_a_stack_of_no_matrices(name: str) -> None:
    # SciPy 1.17: expm and sqrtm of a (0, n, n) stack are empty, logm refuses zero-size
    # batches; pullback's stacking failed with "need at least one array to stack" (seed
    # 3009474)
    a = np.zeros((0, 2, 2))
    f = getattr(pla, name)
    try:
        want = getattr(sla, name)(a)
    except ValueError:
        with pytest.raises(ValueError, match=f"{name}: a stack of no matrices"):
            f(a)
        return
    assert f(a).shape == want.shape and f(a).dtype == want.dtype
    assert pb.jvp(f, (a,), (a,))[1].shape == (0, 2, 2)
    assert pb.grad(lambda a: pnp.sum(f(a)))(a).shape == (0, 2, 2)
