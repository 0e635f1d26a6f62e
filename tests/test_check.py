"""pullback.check: the detection matrix, reports, kinks, localisation, Taylor test, CLI.

Planted errors (a factor 1 + 1e-6, a flipped sign, a transposed matrix, a missing broadcast
sum, the wrong axis, an error only at second order) must all be caught; correct rules at
kinks, in float32 and float16, and near overflow must not be flagged.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import textwrap

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.check import (
    GradientCheckError,
    check_grads,
    cli_audit,
    cli_check,
    report,
    taylor_test,
)
from pullback.cli import main as cli_main
from pullback.numpy._registry import PRIMITIVES

X = np.array([0.3, -1.1, 0.8, 1.7])
RNG = np.random.default_rng(1234)
A = RNG.standard_normal((3, 3))  # not symmetric: A.T != A


@contextlib.contextmanager
def swapped(prim_name: str, attr: str, rule):
    """Temporarily replace a registered primitive's ``vjp`` or ``jvp`` rule."""
    prim = PRIMITIVES[prim_name]
    old = getattr(prim, attr)
    setattr(prim, attr, rule)
    try:
        yield prim
    finally:
        setattr(prim, attr, old)


def _failing_modes(f, args, **kw) -> set[tuple[str, int]]:
    rep = report(f, args, locate=False, **kw)
    return {(r.mode, r.order) for r in rep.rows if not r.passed}


# ----------------------------------------------------------------------------- planted errors


def _sin_times(factor):
    @pb.custom_vjp
    def sin_f(x):
        return pnp.sin(x)

    sin_f.defvjp(lambda x: (pnp.sin(x), x), lambda x, g: (g * pnp.cos(x) * factor,))
    return sin_f


@pytest.mark.parametrize("method", ["auto", "complex", "richardson", "central"])
def test_relative_error_of_1e_6_is_caught_by_every_accurate_method(method):
    f = _sin_times(1 + 1e-6)
    assert _failing_modes(lambda x: pnp.sum(f(x) * x), (X,), method=method) == {
        ("fwd", 1),
        ("rev", 1),
    }
    with pytest.raises(GradientCheckError):
        check_grads(f, (X,), method=method)


def test_correct_rule_passes_with_every_method():
    f = _sin_times(1.0)
    for method in ("auto", "complex", "richardson", "central", "forward"):
        rep = report(lambda x: f(x) * x, (X,), method=method, order=2)
        assert rep.ok, (method, str(rep))
        # one-sided differences are accurate to ~1e-8 only: some checks cannot decide
        allowed = {"ok", "uncertain"} if method == "forward" else {"ok"}
        assert {r.verdict for r in rep.rows} <= allowed, (method, str(rep))


def test_flipped_sign_in_a_custom_jvp_is_caught_in_both_modes():
    @pb.custom_jvp
    def f(x):
        return pnp.exp(x) * x

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), -(pnp.exp(x) * (1.0 + x)) * t

    assert _failing_modes(f, (X,)) == {("fwd", 1), ("rev", 1)}


def test_transposed_matrix_is_caught_though_both_modes_agree():
    @pb.primitive
    def lin(x):
        return A @ x, lambda u: (A @ u,)  # should be A.T @ u

    rep = report(lin, (X[:3],), locate=False)
    failing = {(r.mode, r.order) for r in rep.rows if not r.passed}
    # the JVP is derived from the (wrong) pullback, so the dot-product test cannot see it
    assert failing == {("fwd", 1), ("rev", 1)}
    assert [r.verdict for r in rep.rows if r.mode == "dot"] == ["ok"]


def test_missing_broadcast_sum_is_caught():
    # a bias add whose pullback hands back one row instead of the sum over the batch axis
    @pb.custom_vjp
    def add_bias(x, b):
        return x + b

    add_bias.defvjp(lambda x, b: (x + b, None), lambda _, g: (g, g[0]))
    x, b = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    failing = _failing_modes(lambda x, b: pnp.sum(pnp.sin(add_bias(x, b))), (x, b))
    assert ("rev", 1) in failing and ("fwd", 1) in failing
    rep = report(lambda x, b: pnp.sum(pnp.sin(add_bias(x, b))), (x, b), locate=False)
    assert {r.argument for r in rep.rows if not r.passed} == {"argument 1 ('b')"}


def test_missing_broadcast_sum_in_the_registry_rule_is_caught():
    # the registered broadcast_to transpose, replaced by one that forgets to sum
    def first_slice(g, ans, args, params, needs):
        (x,) = args
        lead = g.ndim - x.ndim
        return (pnp.reshape(g[(0,) * lead], x.shape),)

    x, b = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    # (b broadcast explicitly: the eager tape records `x + b` with NumPy's broadcasting, and the
    # sum over the broadcast axis is then add's rule's)
    with swapped("broadcast_to", "vjp", first_slice):
        rep = report(lambda x, b: pnp.sum(pnp.tanh(x + pnp.broadcast_to(b, x.shape)) ** 2),
                     (x, b))
    bad = {(r.argument, r.mode) for r in rep.rows if not r.passed}
    # forward mode is untouched: the numerical check of rev and the dot test both see it
    assert bad == {("argument 1 ('b')", "rev"), ("argument 1 ('b')", "dot")}
    assert rep.localisation is not None and rep.localisation.primitive == "broadcast_to"


def test_cotangent_of_the_wrong_shape_is_reported_as_an_error():
    @pb.custom_vjp
    def add_bias(x, b):
        return x + b

    add_bias.defvjp(lambda x, b: (x + b, None), lambda _, g: (g, g))  # no sum at all
    x, b = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    with pytest.raises(GradientCheckError) as info:
        check_grads(lambda x, b: pnp.sum(add_bias(x, b) ** 2), (x, b), modes=("rev",))
    rows = info.value.report.failures
    assert {r.verdict for r in rows} == {"error"}
    assert "RuleError" in str(info.value) and "shape (4, 3)" in str(info.value)


def test_wrong_axis_is_caught():
    @pb.primitive
    def colsum(x):
        # the pullback of x.sum(axis=0) broadcasts u along axis 0: u[None, :], not u[:, None]
        return x.sum(axis=0), lambda u: (np.broadcast_to(u[:, None], x.shape),)

    x = RNG.standard_normal((3, 3))
    assert _failing_modes(lambda x: colsum(x) ** 2, (x,)) == {("fwd", 1), ("rev", 1)}


def test_swapped_registry_jvp_is_caught_by_fwd_and_dot_and_localised():
    def slightly_wrong(tangents, ans, args, params):
        (t,), (x,) = tangents, args
        return t * pnp.cos(x) * (1 + 1e-6)

    def model(x):
        return pnp.sum(pnp.exp(pnp.sin(x)))

    with swapped("sin", "jvp", slightly_wrong):
        rep = report(model, (X,))
    assert {(r.mode, r.order) for r in rep.rows if not r.passed} == {("fwd", 1), ("dot", 1)}
    loc = rep.localisation
    line = inspect.getsourcelines(model)[1] + 1
    assert loc.primitive == "sin" and loc.site == f"{__file__}:{line}"


def test_error_only_at_second_order_is_caught_at_order_two():
    @pb.custom_jvp
    def f(x):
        return pnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return pnp.sin(x), pnp.cos(pb.stop_gradient(x)) * t  # right value, no 2nd derivative

    check_grads(f, (X,), order=1)
    assert _failing_modes(f, (X,), order=2) == {("fwd", 2), ("rev", 2)}


def test_inconsistent_modes_fail_the_dot_product_test():
    @pb.custom_vjp
    def f(x):
        return pnp.sin(x)

    f.defvjp(lambda x: (pnp.sin(x), x), lambda x, g: (-g * pnp.cos(x),))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return pnp.sin(x), pnp.cos(x) * t

    rep = report(f, (X,), locate=False)
    assert {(r.mode, r.verdict) for r in rep.rows} == {
        ("fwd", "ok"),
        ("rev", "fail"),
        ("dot", "fail"),
    }


def test_float32_wrong_rules_fail():
    x = X.astype(np.float32)
    assert _failing_modes(_sin_times(-1.0), (x,)) == {("fwd", 1), ("rev", 1)}
    assert _failing_modes(_sin_times(1.01), (x,)) == {("fwd", 1), ("rev", 1)}


# ----------------------------------------------------------------------------- not flagged


def relu_where(x):
    return pnp.where(x > 0, x, 0.0)


KINKS = [
    ("abs", lambda x: pnp.abs(x) * x[::-1], (np.array([0.0, 1.5, -0.7]),)),
    ("relu-maximum", lambda x: pnp.maximum(x, 0.0) ** 2 + pnp.maximum(x, 0.0),
     (np.array([0.0, 1.5, -0.7]),)),
    ("relu-where", lambda x: relu_where(x) + pnp.sin(x), (np.array([0.0, 1.5, -0.7]),)),
    ("maximum-ties", lambda x, y: pnp.maximum(x, y) * y,
     (np.array([1.0, 0.5, -0.2]), np.array([1.0, -0.5, -0.2]))),
    ("max-tie", lambda x: pnp.max(x) * x, (np.array([2.0, -1.0, 2.0]),)),
    ("relu-net", lambda W, x: pnp.sum(pb.nn.relu(W @ x) ** 2),
     (np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([1.0, 1.0]))),
]


@pytest.mark.parametrize("name,f,args", KINKS, ids=[k[0] for k in KINKS])
def test_correct_rules_at_kinks_are_not_flagged(name, f, args):
    rep = report(f, args, order=2)
    assert rep.ok, str(rep)
    assert "kink" in {r.verdict for r in rep.rows}, str(rep)
    check_grads(f, args, order=2)


def test_kink_accepts_only_values_between_the_one_sided_derivatives():
    @pb.primitive
    def bad_abs(x):
        return np.abs(x), lambda u: (u * (np.sign(x) + 2.0 * (x == 0)),)  # 2 at 0

    rep = report(bad_abs, (np.array([0.0, 1.5, -0.7]),), modes=("rev",), locate=False)
    (row,) = [r for r in rep.rows if r.mode == "rev"]
    assert row.verdict == "fail" and "kink: between" in row.detail


def huber(r, d=1.0):
    return pnp.where(pnp.abs(r) < d, 0.5 * r**2, d * (pnp.abs(r) - 0.5 * d))


@pytest.mark.parametrize("r", [np.array([1.0]), np.array([1.0, -1.0, 0.3, 2.0]),
                               np.array([[-1.0, 1.0], [1.0, -1.0]])],
                         ids=["one", "mixed", "all-at-the-switch"])
def test_huber_loss_at_its_switch_point_is_a_kink_not_uncertain(r):
    # |r| == d: the derivative is continuous (d sign r) but the second derivative jumps (1 to
    # 0), so central differences converge like h and cannot decide; the one-sided ones can
    rep = report(lambda r: pnp.sum(huber(r)), (r,), order=2)
    assert rep.ok, str(rep)
    first = [row for row in rep.rows if row.order == 1 and row.mode != "dot"]
    assert {row.verdict for row in first} == {"kink"}, str(rep)
    assert all("kink in the derivative" in row.detail for row in first), str(rep)
    assert {row.verdict for row in rep.rows if row.order == 2} <= {"ok", "kink"}, str(rep)
    assert "uncertain" not in {row.verdict for row in rep.rows}
    check_grads(huber, (r,), order=2)  # elementwise output too
    check_grads(lambda r: pnp.sum(huber(r)), (r,), order=2, full=True)


def test_a_wrong_huber_derivative_at_the_switch_point_fails():
    @pb.custom_jvp
    def bad_huber(r):
        return huber(r)

    @bad_huber.defjvp
    def _jvp(primals, tangents):
        (r,), (t,) = primals, tangents
        slope = pnp.where(pnp.abs(r) < 1.0, r, 0.9 * pnp.sign(r))  # 0.9 d sign(r): 10% off
        return huber(r), slope * t

    rep = report(lambda r: pnp.sum(bad_huber(r)), (np.array([1.0, -1.0, 0.3]),), locate=False)
    assert {(row.mode, row.verdict) for row in rep.rows if row.mode != "dot"} == {
        ("fwd", "fail"), ("rev", "fail")}, str(rep)


# ----------------------------------------------------------------------------- complex inputs

Z = np.array([1.0 + 2.0j, -0.5 + 0.3j, 0.7 - 1.1j])


def test_the_gradient_of_a_real_function_of_complex_input_is_jaxs():
    # JAX's convention: the VJP is the transpose of the real-linear JVP under Re(sum(a * b)),
    # so the gradient of a real f is df/dRe(z) - i df/dIm(z): 2 conj(z) for |z|^2
    f = lambda z: pnp.sum(pnp.abs(z) ** 2)  # noqa: E731
    np.testing.assert_allclose(pb.grad(f)(Z), 2 * np.conj(Z), rtol=1e-15)
    (g,) = pb.check.numerical_vjp(f, (Z,), np.array(1.0))
    np.testing.assert_allclose(g, 2 * np.conj(Z), rtol=1e-11)
    t = pb.check.numerical_jvp(f, (Z,), (np.array([1j, 0, 0]),))
    np.testing.assert_allclose(t, 2 * Z[0].imag, rtol=1e-11)  # d/dIm(z0)
    rep = report(f, (Z,), order=2, full=True)
    assert rep.ok and {r.verdict for r in rep.rows} == {"ok"}, str(rep)
    # every coordinate: the real and the imaginary part of each entry
    assert [(r.mode, r.compared) for r in rep.rows if r.order == 1] == [
        ("fwd", 6), ("rev", 6), ("dot", 3)]


@pytest.mark.parametrize("name,f,args", [
    ("holomorphic", lambda z: pnp.sin(z) * z, (Z,)),
    ("conjugate", lambda z: pnp.sin(z) * pnp.conj(z), (Z,)),
    ("mixed", lambda x, z: pnp.sum(x * pnp.abs(z) ** 2) + pnp.real(pnp.sum(z * z * x)),
     (np.array([0.3, -1.2, 2.0]), Z)),
    ("complex64", lambda z: pnp.exp(z) * pnp.conj(z), (Z.astype(np.complex64),)),
])
def test_complex_inputs_are_checked_by_richardson_in_both_modes(name, f, args):
    rep = report(f, args, order=2)
    assert rep.ok and {r.verdict for r in rep.rows} == {"ok"}, str(rep)
    methods = {r.method for r in rep.rows if r.mode in ("fwd", "rev")}
    complex_rows = {r.method for r in rep.rows if "'z'" in r.argument and r.mode != "dot"}
    assert complex_rows == {"richardson"} and methods <= {"richardson", "complex"}
    assert any("is complex" in note and "complex step needs real inputs" in note
               for note in rep.notes)
    assert "note: argument" in str(rep)
    assert taylor_test(f, args).verdict == "ok"


def test_a_wrong_rule_for_complex_input_is_caught():
    @pb.custom_vjp
    def sq(z):
        return pnp.abs(z) ** 2

    sq.defvjp(lambda z: (pnp.abs(z) ** 2, z), lambda z, g: (2.0 * g * z,))  # conj(z) forgotten
    rep = report(lambda z: pnp.sum(sq(z)), (Z,), locate=False)
    assert {(r.mode, r.verdict) for r in rep.rows} == {("fwd", "fail"), ("rev", "fail"),
                                                        ("dot", "ok")}, str(rep)
    with pytest.raises(GradientCheckError, match="is complex"):
        check_grads(lambda z: pnp.sum(sq(z)), (Z,))


def test_the_complex_step_refuses_complex_inputs():
    f = lambda z: pnp.sum(pnp.abs(z) ** 2)  # noqa: E731
    for call in (lambda: check_grads(f, (Z,), method="complex"),
                 lambda: report(f, (Z,), method="complex"),
                 lambda: pb.check.numerical_jvp(f, (Z,), (Z,), method="complex"),
                 lambda: pb.check.numerical_vjp(f, (Z,), np.array(1.0), method="complex")):
        with pytest.raises(ValueError, match="method='complex' cannot be used: argument 0 "
                                             "\\('z'\\) of <lambda> is complex, and the complex "
                                             "step needs real inputs"):
            call()
    check_grads(f, (Z,), method="richardson")
    with pytest.raises(TypeError, match="x is complex"):
        pb.check.numerical_jacobian(pnp.sin, Z)


# ----------------------------------------------------------------------------- no output


@pytest.mark.parametrize("f,what", [
    (lambda x: None, "returned None"),
    (lambda x: pnp.argmax(x), "returned a value of type int64"),
    (lambda x: (x > 0, 3), "returned a tuple of 2 leaves (int of dtype int64, ndarray of dtype "
                           "bool)"),
    (lambda x: "done", "returned a value of type str"),
])
def test_a_function_with_nothing_to_differentiate_is_a_type_error(f, what):
    message = f"<lambda> {what}, which has no floating-point or complex output to differentiate"
    for call in (lambda: check_grads(f, (X,)), lambda: report(f, (X,)),
                 lambda: taylor_test(f, (X,)),
                 lambda: pb.check.numerical_jvp(f, (X,), (X,)),
                 lambda: pb.check.numerical_vjp(f, (X,), X)):
        with pytest.raises(TypeError, match=re.escape(message)):
            call()


FLOAT32 = [
    ("tanh-mlp", lambda W, x: pnp.sum(pnp.tanh(W @ x) ** 2),
     (RNG.standard_normal((4, 3)), RNG.standard_normal(3))),
    ("softmax-xent", lambda z: pnp.log(pnp.sum(pnp.exp(z))) - z[1], (RNG.standard_normal(5),)),
    ("normalise", lambda x: x / pnp.sqrt(pnp.sum(x * x)), (RNG.standard_normal(4),)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name,f,args", FLOAT32, ids=[k[0] for k in FLOAT32])
def test_correct_low_precision_derivatives_pass(name, f, args, dtype):
    args = tuple(a.astype(dtype) for a in args)
    rep = report(f, args, order=2)
    assert rep.dtype == np.dtype(dtype).name
    assert {r.verdict for r in rep.rows} == {"ok"}, str(rep)


NEAR_OVERFLOW = [
    ("exp-700", lambda x: pnp.exp(x) * 2.0, np.array([700.0, 705.0, -700.0])),
    ("exp-88-float32", lambda x: pnp.exp(x), np.array([85.0, 88.0, -80.0], np.float32)),
    ("tanh-1000", lambda x: pnp.tanh(x) * x, np.array([1000.0, -1000.0, 3.0])),
    ("logsumexp-large", lambda x: pnp.log(pnp.sum(pnp.exp(x - pnp.max(x)))) + pnp.max(x),
     np.array([1000.0, 999.0, 990.0])),
    ("square-1e150", lambda x: x * x, np.array([1e150, -3e150])),
]


@pytest.mark.parametrize("name,f,x", NEAR_OVERFLOW, ids=[k[0] for k in NEAR_OVERFLOW])
def test_near_overflow_is_not_flagged(name, f, x):
    rep = report(f, (x,), order=2)
    assert {r.verdict for r in rep.rows} == {"ok"}, str(rep)


def test_singular_points_are_uncertain_not_failed():
    # sqrt at 0: the derivative is infinite, the left side undefined; nothing to decide
    with np.errstate(divide="ignore"):  # sqrt's rule divides by sqrt(0)
        rep = report(pnp.sqrt, (np.array([0.0, 1.0]),), dot=False)
        check_grads(pnp.sqrt, (np.array([0.0, 1.0]),))
    assert {r.verdict for r in rep.rows} == {"uncertain"} and rep.ok


def test_explicit_tolerances_replace_the_defaults():
    f = _sin_times(1 + 1e-6)
    check_grads(f, (X,), rtol=1e-5)
    with pytest.raises(GradientCheckError):
        check_grads(f, (X,), rtol=1e-7)
    check_grads(f, (X,), rtol=0.0, atol=1e-5)
    rep = report(f, (X,), rtol=0.0, atol=1e-7, locate=False)
    assert rep.atol == 1e-7 and rep.rtol == 0.0 and not rep.ok


_WS = [RNG.standard_normal((6, 6)) / 2 for _ in range(30)]


def _deep(x):
    for W in _WS:
        x = pnp.tanh(W @ x)
    return pnp.sum(x)


HARD = [
    ("variance-offset-1e6", lambda x: pnp.var(x), (1e6 + RNG.standard_normal(6),)),
    ("deep-tanh-30", _deep, (RNG.standard_normal(6),)),
    ("norm-at-1e-100", lambda x: pnp.sqrt(pnp.sum(x * x)), (1e-100 * RNG.standard_normal(4),)),
    ("log-at-1e12", lambda x: pnp.sum(pnp.log(x) * x), (1e12 * RNG.uniform(1, 2, 4),)),
    ("relu-near-kink", lambda x: pnp.maximum(x, 0.0) * x, (np.array([1e-7, -3e-8, 2.0]),)),
    ("sqrt-near-0", pnp.sqrt, (np.array([1e-8, 1e-4, 4.0]),)),
    ("rosenbrock", lambda x: pnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),
     (RNG.standard_normal(5),)),
]


@pytest.mark.parametrize("name,f,args", HARD, ids=[k[0] for k in HARD])
def test_badly_scaled_and_deep_functions_are_checked_exactly(name, f, args):
    rep = report(f, args, order=2)
    assert {r.verdict for r in rep.rows} == {"ok"}, str(rep)


# ----------------------------------------------------------------------------- the report


def test_report_has_one_row_per_argument_mode_and_order():
    rep = report(lambda x, y: pnp.sum(pnp.sin(x) * y), (X, X[::-1].copy()), order=2, seed=7)
    keys = [(r.argument, r.mode, r.order) for r in rep.rows]
    expected = [
        (f"argument {i} ('{n}')", m, k)
        for k in (1, 2)
        for m in ("fwd", "rev", "dot")
        for i, n in enumerate("xy")
    ]
    assert sorted(keys) == sorted(expected)
    assert rep.seed == 7 and rep.ok and rep.rtol == 1e-7
    d = rep.to_dict()
    assert d["ok"] is True and len(d["rows"]) == 12
    for key in ("method", "step", "abs_error", "rel_error", "error_estimate", "tolerance",
                "verdict", "where", "expected", "computed"):
        assert key in d["rows"][0]
    assert all(r.compared == 3 for r in rep.rows)  # three probes by default


def test_dot_rows_need_both_modes_unless_asked_for():
    assert {r.mode for r in report(pnp.sin, (X,), modes=("rev",)).rows} == {"rev"}
    assert {r.mode for r in report(pnp.sin, (X,), modes="fwd", dot=True).rows} == {"fwd", "dot"}
    assert {r.mode for r in report(pnp.sin, (X,), dot=False).rows} == {"fwd", "rev"}


def test_full_compares_every_coordinate():
    x = RNG.standard_normal((2, 3))
    rep = report(lambda x: pnp.tanh(x) @ np.ones(3), (x,), full=True, dot=False)
    assert [(r.mode, r.compared) for r in rep.rows] == [("fwd", 6), ("rev", 6)]
    bad = report(lambda x: _sin_times(1 + 1e-6)(x), (x,), full=True, dot=False, locate=False)
    assert {r.verdict for r in bad.rows} == {"fail"}
    assert bad.rows[1].where.startswith("input [")


def test_error_message_is_a_readable_table():
    f = _sin_times(-1.0)
    with pytest.raises(GradientCheckError) as info:
        check_grads(lambda x, y: pnp.sum(f(x) * y), (X, X + 1.0), modes=("rev",))
    err = info.value
    assert isinstance(err, AssertionError)
    text = str(err)
    header = text.splitlines()[1]
    for col in ("argument", "mode", "order", "worst entry", "expected", "computed",
                "abs error", "tolerance", "rel error", "verdict"):
        assert col in header
    assert "argument 0 ('x')  rev" in text and "FAIL" in text
    assert "first wrong rule: primitive 'sin_f'" in text
    assert err.report.failures[0].rel_error > 1.0


def test_pb_check_grads_is_exported():
    assert pb.check_grads is check_grads and pb.GradientCheckError is GradientCheckError
    assert pb.check.report is report
    assert pb.check_grads(lambda x: pnp.sum(x ** 3), (X,), order=3) is None


def test_pytree_and_integer_arguments():
    params = {"W": RNG.standard_normal((2, 3)), "b": RNG.standard_normal(2)}

    def f(p, x, n):
        return pnp.sum(pnp.tanh(p["W"] @ x + p["b"]) ** n)

    rep = report(f, (params, X[:3], 2), order=2)
    assert rep.ok and {r.argument for r in rep.rows} == {"argument 0 ('p')", "argument 1 ('x')"}
    with pytest.raises(TypeError, match="argument 2 \\('n'\\)"):
        report(f, (params, X[:3], 2), argnums=2)


def test_input_errors_name_what_to_do():
    with pytest.raises(ValueError, match="unknown method 'fd'"):
        check_grads(pnp.sin, (X,), method="fd")
    with pytest.raises(ValueError, match="modes must be a subset"):
        check_grads(pnp.sin, (X,), modes=("forward",))
    with pytest.raises(ValueError, match="order must be a positive integer"):
        check_grads(pnp.sin, (X,), order=0)
    with pytest.raises(TypeError, match="no derivative to check"):
        check_grads(lambda n: n * 2, (np.arange(3),))


# ----------------------------------------------------------------------------- localisation


def test_localisation_names_the_first_wrong_rule_and_the_calling_line():
    @pb.custom_vjp
    def bad_square(x):
        return x * x

    bad_square.defvjp(lambda x: (x * x, x), lambda x, g: (g * x,))  # should be 2 x g

    def model(x):
        h = pnp.tanh(x)
        y = bad_square(h)
        return pnp.sum(pnp.sin(y) * h)

    source, start = inspect.getsourcelines(model)
    line = start + next(i for i, s in enumerate(source) if "bad_square(h)" in s)
    with pytest.raises(GradientCheckError) as info:
        check_grads(model, (X,))
    loc = info.value.report.localisation
    assert loc.primitive == "bad_square" and loc.function == "model"
    assert loc.site == f"{__file__}:{line}"
    assert f"called at {__file__}:{line} (in model)" in str(info.value)
    assert not loc.report.ok


def test_localisation_says_when_every_rule_is_right():
    def f(x):  # the derivative of x * x with one factor held constant: wrong, yet no rule is
        return pnp.sum(x * pb.stop_gradient(x))

    with pytest.raises(GradientCheckError) as info:
        check_grads(f, (X,))
    loc = info.value.report.localisation
    assert loc.primitive == "" and loc.checked >= 2
    assert "how they are combined" in str(info.value)


# ----------------------------------------------------------------------------- Taylor test


def test_taylor_test_observes_order_two_for_a_right_derivative():
    res = taylor_test(lambda x: pnp.sum(pnp.sin(x) * pnp.exp(x)), (X,))
    assert res.verdict == "ok" and abs(res.order - 2.0) < 0.05
    res = taylor_test(lambda x: pnp.sin(x) * pnp.exp(x), (X,), mode="fwd")
    assert res.verdict == "ok" and abs(res.order - 2.0) < 0.05


@pytest.mark.parametrize("factor", [-1.0, 1 + 1e-6])
def test_taylor_test_observes_order_one_for_a_wrong_derivative(factor):
    f = _sin_times(factor)
    res = taylor_test(lambda x: pnp.sum(f(x) * x), (X,))
    # a 1e-6 error shows only just above rounding, where residuals carry a few % of noise
    assert res.verdict == "fail" and abs(res.order - 1.0) < 0.15, str(res)


def test_taylor_test_of_a_linear_function_is_exact():
    res = taylor_test(lambda x: pnp.sum(x * 3.0), (X,))
    assert res.verdict == "ok" and np.isnan(res.order)
    res32 = taylor_test(lambda x: pnp.sum(pnp.tanh(x)), (X.astype(np.float32),))
    assert res32.verdict == "ok"


def test_taylor_rows_in_the_report():
    rep = report(lambda x: pnp.sum(pnp.exp(x)), (X,), taylor=True)
    (row,) = [r for r in rep.rows if r.mode == "taylor"]
    assert row.verdict == "ok" and abs(row.computed - 2.0) < 0.05


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    path = tmp_path / "usermodel.py"
    path.write_text(textwrap.dedent("""
        import numpy as np
        import pullback as pb
        import pullback.numpy as pnp

        def good(x, y):
            return pnp.sum(pnp.tanh(x @ y) ** 2)

        @pb.primitive
        def _bad_exp(x):
            return np.exp(x), lambda u: (u * np.exp(x) * 1.01,)

        def bad(x):
            return pnp.sum(_bad_exp(x))
    """))
    monkeypatch.chdir(tmp_path)
    return path


def test_cli_check_passes_a_good_function(user_module, capsys):
    assert cli_check(["usermodel:good", "--shape", "3,4", "--shape", "4"]) == 0
    out = capsys.readouterr().out
    assert "derivative check of good" in out and "argument 1 ('y')" in out


def test_cli_check_fails_a_bad_function_and_names_it(user_module, capsys):
    assert cli_check([f"{user_module}:bad", "--shape", "3", "--dtype", "float32"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "dtype float32" in out and "primitive '_bad_exp'" in out
    line = user_module.read_text().splitlines().index("    return pnp.sum(_bad_exp(x))") + 1
    assert f"usermodel.py:{line}" in out


def test_cli_dispatch_and_options(user_module, capsys):
    assert cli_main(["check", "usermodel:good", "--shape", "2,3", "--shape", "3",
                     "--order", "2", "--modes", "rev", "--method", "richardson"]) == 0
    out = capsys.readouterr().out
    assert "richardson" in out and "  fwd  " not in out
    assert cli_check(["usermodel:nothere"]) == 2
    assert "has no attribute 'nothere'" in capsys.readouterr().err
    assert cli_check(["usermodel"]) == 2
    assert "expected MODULE:FUNCTION" in capsys.readouterr().err


def test_cli_audit_exit_status(capsys):
    assert cli_audit(["--only", "sin", "--only", "abs", "--order", "1"]) == 0
    out = capsys.readouterr().out
    assert "sin" in out and "health: OK" in out
