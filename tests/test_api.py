"""The transformations: semantics, pytrees, nesting to third order, errors, memory, threads."""

import gc
import threading
import weakref
from collections import namedtuple

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp

RNG = np.random.default_rng(42)


def f_scalar(x):
    return pnp.sum(pnp.sin(x) * pnp.exp(0.3 * x))


def f_vec(x):
    return pnp.tanh(x) * pnp.sum(x**2)


X = RNG.uniform(-1, 1, 4)


# ----------------------------------------------------------------------------- first order


def test_grad_matches_oracle_and_closed_form():
    g = pb.grad(f_scalar)(X)
    want = np.cos(X) * np.exp(0.3 * X) + 0.3 * np.sin(X) * np.exp(0.3 * X)
    np.testing.assert_allclose(g, want, rtol=1e-14)


def test_vjp_returns_tuple_and_jvp_agree_with_oracle():
    out, vjp_fn = pb.vjp(f_vec, X)
    w = RNG.standard_normal(4)
    jac = oracle.jacobian(lambda x: np.tanh(x) * np.sum(x**2), [X], 0)
    cts = vjp_fn(w)
    assert isinstance(cts, tuple) and len(cts) == 1
    np.testing.assert_allclose(cts[0], w @ jac, rtol=1e-9)
    t = RNG.standard_normal(4)
    out2, t_out = pb.jvp(f_vec, (X,), (t,))
    np.testing.assert_allclose(out, out2)
    np.testing.assert_allclose(t_out, jac @ t, rtol=1e-9)


def test_jacobians_both_modes_agree_with_oracle():
    jac = oracle.jacobian(lambda x: np.tanh(x) * np.sum(x**2), [X], 0)
    np.testing.assert_allclose(pb.jacrev(f_vec)(X), jac, rtol=1e-9)
    np.testing.assert_allclose(pb.jacfwd(f_vec)(X), jac, rtol=1e-9)
    assert pb.jacobian is pb.jacrev


def test_jacobian_shape_is_out_shape_plus_in_shape():
    A = RNG.standard_normal((2, 3))

    def f(x):  # (3, 2) -> (2, 2)
        return pnp.matmul(A, x) * 2.0

    x = RNG.standard_normal((3, 2))
    for jac in (pb.jacrev, pb.jacfwd):
        J = jac(f)(x)
        assert J.shape == (2, 2, 3, 2)
        want = np.einsum("ik,jl->ijkl", 2 * A, np.eye(2))
        np.testing.assert_allclose(J, want, rtol=1e-15)


def test_argnums_tuple_and_negative():
    f = lambda x, y, z: pnp.sum(x * y**2 + z)  # noqa: E731
    x, y, z = 1.5, 2.0, 3.0
    gx, gz = pb.grad(f, argnums=(0, 2))(x, y, z)
    assert (float(gx), float(gz)) == (4.0, 1.0)
    assert float(pb.grad(f, argnums=-2)(x, y, z)) == 6.0


def test_value_and_grad_has_aux():
    def f(x):
        return pnp.sum(x**2), {"norm": pnp.sqrt(pnp.sum(x**2))}

    (value, aux), g = pb.value_and_grad(f, has_aux=True)(X)
    np.testing.assert_allclose(value, np.sum(X**2))
    assert isinstance(aux["norm"], np.floating | np.ndarray)  # aux is concrete, not traced
    np.testing.assert_allclose(aux["norm"], np.linalg.norm(X))
    np.testing.assert_allclose(g, 2 * X)
    g2, aux2 = pb.grad(f, has_aux=True)(X)
    np.testing.assert_allclose(g2, 2 * X)
    out, vjp_fn, aux3 = pb.vjp(f, X, has_aux=True)
    np.testing.assert_allclose(aux3["norm"], aux["norm"])
    out, t, aux4 = pb.jvp(f, (X,), (X,), has_aux=True)
    np.testing.assert_allclose(t, 2 * X @ X)


def test_kwargs_pass_through_grad():
    f = lambda x, scale=1.0: pnp.sum(x) * scale  # noqa: E731
    np.testing.assert_allclose(pb.grad(f)(X, scale=3.0), np.full(4, 3.0))


def test_stop_gradient():
    f = lambda x: pnp.sum(x * pb.stop_gradient(x))  # noqa: E731
    np.testing.assert_allclose(pb.grad(f)(X), X)
    tree = pb.stop_gradient({"a": 1.0, "b": [2.0]})
    assert tree == {"a": 1.0, "b": [2.0]}
    # stops every level, also the outer one of a nested derivative
    h = pb.grad(pb.grad(lambda x: x**2 * pb.stop_gradient(x**2)))(3.0)
    assert float(h) == 18.0


def test_linearize():
    out, f_jvp = pb.linearize(f_vec, X)
    t = RNG.standard_normal(4)
    np.testing.assert_allclose(out, np.tanh(X) * np.sum(X**2))
    np.testing.assert_allclose(f_jvp(t), pb.jvp(f_vec, (X,), (t,))[1], rtol=1e-15)


def test_constant_output_has_zero_gradient():
    g = pb.grad(lambda x: 3.0)(X)
    np.testing.assert_array_equal(g, np.zeros(4))
    _, t = pb.jvp(lambda x: np.ones(2), (X,), (X,))
    np.testing.assert_array_equal(t, np.zeros(2))


def test_float32_stays_float32_through_every_mode():
    x = RNG.standard_normal(5).astype(np.float32)
    f = lambda x: pnp.sum(pnp.tanh(x) * 2.0 + x**2)  # noqa: E731
    g = pb.grad(f)(x)
    assert g.dtype == np.float32
    _, t = pb.jvp(f, (x,), (np.ones(5, np.float32),))
    assert np.result_type(t) == np.float32
    assert pb.hessian(f)(x).dtype == np.float32
    want = (1 - np.tanh(x.astype(np.float64)) ** 2) * 2 + 2 * x
    np.testing.assert_allclose(g, want, rtol=2e-6)


def test_integer_data_flows_through_as_constant():
    idx = np.array([2, 0])
    f = lambda x, i: pnp.sum(x[i] * i)  # noqa: E731
    np.testing.assert_allclose(pb.grad(f)(X, idx), [0.0, 0, 2, 0])


# ----------------------------------------------------------------------------- pytrees

Params = namedtuple("Params", ["w", "b"])


def test_pytree_inputs_and_outputs_in_every_transformation():
    params = {"layer": [Params(w=RNG.standard_normal(3), b=0.5)], "scale": 2.0}

    def f(p):
        layer = p["layer"][0]
        return pnp.sum(pnp.tanh(layer.w) * layer.b) * p["scale"]

    g = pb.grad(f)(params)
    assert isinstance(g["layer"][0], Params)
    w = params["layer"][0].w
    np.testing.assert_allclose(g["layer"][0].w, (1 - np.tanh(w) ** 2) * 0.5 * 2.0)
    np.testing.assert_allclose(g["layer"][0].b, np.sum(np.tanh(w)) * 2.0)
    np.testing.assert_allclose(g["scale"], np.sum(np.tanh(w)) * 0.5)

    def two_out(p):
        return {"a": p["layer"][0].w * 2.0, "b": (p["scale"] ** 2,)}

    out, vjp_fn = pb.vjp(two_out, params)
    ct = {"a": np.ones(3), "b": (np.float64(1.0),)}
    (gp,) = vjp_fn(ct)
    np.testing.assert_allclose(gp["layer"][0].w, np.full(3, 2.0))
    assert float(gp["scale"]) == 4.0 and float(gp["layer"][0].b) == 0.0
    jac = pb.jacrev(two_out)(params)
    np.testing.assert_allclose(jac["a"]["layer"][0].w, 2 * np.eye(3))
    jacf = pb.jacfwd(two_out)(params)
    np.testing.assert_allclose(jacf["b"][0]["scale"], 4.0)
    np.testing.assert_allclose(jacf["a"]["layer"][0].w, 2 * np.eye(3))


# ----------------------------------------------------------------------------- higher order


def g3(x):
    return pnp.sin(x) * pnp.exp(x)


def d3_closed_form(x):
    # (sin x e^x)''' = 2 e^x (cos x - sin x)
    return 2 * np.exp(x) * (np.cos(x) - np.sin(x))


@pytest.mark.parametrize(
    "third",
    [
        lambda f: pb.grad(pb.grad(pb.grad(f))),
        lambda f: lambda x: pb.jvp(pb.grad(pb.grad(f)), (x,), (1.0,))[1],
        lambda f: lambda x: pb.jvp(lambda y: pb.jvp(pb.grad(f), (y,), (1.0,))[1], (x,), (1.0,))[1],
        lambda f: pb.jacfwd(pb.jacrev(pb.grad(f))),
        lambda f: pb.jacrev(pb.jacfwd(pb.jacfwd(f))),
        lambda f: pb.grad(lambda x: pb.vjp(pb.grad(f), x)[1](1.0)[0]),
    ],
    ids=["rev-rev-rev", "fwd-rev-rev", "fwd-fwd-rev", "jacfwd-jacrev-grad", "jacrev-jacfwd-jacfwd",
         "grad-vjp-grad"],
)
def test_third_order_in_mixed_modes(third):
    x = 0.7
    np.testing.assert_allclose(third(g3)(x), d3_closed_form(x), rtol=1e-13)


def test_hessian_and_hvp_against_closed_form():
    A = RNG.standard_normal((4, 4))
    A = A + A.T

    def f(x):
        return 0.5 * x @ A @ x + pnp.sum(x**4)

    H = A + np.diag(12 * X**2)
    np.testing.assert_allclose(pb.hessian(f)(X), H, rtol=1e-13)
    v = RNG.standard_normal(4)
    grads, hvps = pb.hvp(f, (X,), (v,))
    np.testing.assert_allclose(grads[0], A @ X + 4 * X**3, rtol=1e-13)
    np.testing.assert_allclose(hvps[0], H @ v, rtol=1e-13)


def test_vjp_inside_a_function_being_differentiated():
    def inner_grad_norm(x):
        _, vjp_fn = pb.vjp(pnp.sin, x)
        (g,) = vjp_fn(pnp.ones_like(x))
        return pnp.sum(g**2)  # sum cos(x)^2

    got = pb.grad(inner_grad_norm)(X)
    np.testing.assert_allclose(got, -2 * np.cos(X) * np.sin(X), rtol=1e-14)
    _, t = pb.jvp(inner_grad_norm, (X,), (np.ones(4),))
    np.testing.assert_allclose(t, np.sum(-2 * np.cos(X) * np.sin(X)), rtol=1e-14)


def test_no_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1 (a classic test of nested levels)
    f = lambda x: x * pb.grad(lambda y: x + y)(2.0)  # noqa: E731
    assert float(pb.grad(f)(3.0)) == 1.0
    g = lambda x: pb.jvp(lambda y: x * y, (2.0,), (1.0,))[1]  # noqa: E731
    assert float(pb.jvp(g, (3.0,), (1.0,))[1]) == 1.0


def test_hessian_of_pytree_function():
    f = lambda p: pnp.sum(p["a"] ** 2 * p["b"])  # noqa: E731
    p = {"a": np.array([1.0, 2.0]), "b": 3.0}
    H = pb.hessian(f)(p)
    np.testing.assert_allclose(H["a"]["a"], np.diag([6.0, 6.0]))
    np.testing.assert_allclose(H["a"]["b"], [2.0, 4.0])
    np.testing.assert_allclose(H["b"]["a"], [2.0, 4.0])
    np.testing.assert_allclose(H["b"]["b"], 0.0)


# ----------------------------------------------------------------------------- errors


def test_grad_of_non_scalar_names_the_shape():
    with pytest.raises(TypeError, match=r"grad.*scalar.*shape \(4,\).*jacrev"):
        pb.grad(f_vec)(X)


def test_grad_of_complex_or_integer_output_is_a_type_error():
    with pytest.raises(TypeError, match="real floating-point scalar"):
        pb.grad(lambda x: pnp.sum(x).astype(np.int64))(X)


def test_grad_of_tuple_output_suggests_has_aux():
    with pytest.raises(TypeError, match="has_aux"):
        pb.grad(lambda x: (pnp.sum(x), 1.0))(X)


def test_integer_input_names_the_argument():
    def loss(x, weights):
        return pnp.sum(x * weights)

    with pytest.raises(TypeError, match=r"argument 1 \('weights'\).*int64.*float"):
        pb.grad(loss, argnums=1)(X, np.arange(4))
    with pytest.raises(TypeError, match=r"argument 0 \('x'\).*bool"):
        pb.vjp(loss, np.ones(4, bool), X)
    with pytest.raises(TypeError, match=r"argument 0 \('x'\)"):
        pb.jvp(loss, (3, X), (3, X))
    with pytest.raises(TypeError, match="argument 0"):
        pb.jacfwd(lambda x: x * 2)(np.arange(3))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 does not fit a call with 2"):
        pb.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_cotangent_of_wrong_shape_dtype_structure():
    _, vjp_fn = pb.vjp(lambda x: {"a": x * 2.0}, X)
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(4,\)"):
        vjp_fn({"a": np.ones(3)})
    with pytest.raises(ValueError, match="dtype float32, expected float64"):
        vjp_fn({"a": np.ones(4, np.float32)})
    with pytest.raises(TypeError, match="structure"):
        vjp_fn(np.ones(4))


def test_tangent_of_wrong_shape_dtype_structure():
    with pytest.raises(ValueError, match=r"tangent.*shape \(2,\), expected \(4,\)"):
        pb.jvp(f_vec, (X,), (np.ones(2),))
    with pytest.raises(ValueError, match="dtype float32, expected float64"):
        pb.jvp(f_vec, (X,), (np.ones(4, np.float32),))
    with pytest.raises(TypeError, match="structure"):
        pb.jvp(f_vec, (X,), ([X],))
    with pytest.raises(TypeError, match="tuple"):
        pb.jvp(f_vec, X, X)
    with pytest.raises(TypeError, match="1 primals but 2 tangents"):
        pb.jvp(f_vec, (X,), (X, X))


def test_numpy_function_without_rule_raises_not_implemented():
    window = np.lib.stride_tricks.sliding_window_view  # (np.unwrap has a rule since issue 9)
    with pytest.raises(NotImplementedError,
                       match=r"numpy\.sliding_window_view.*pullback\.primitive"):
        pb.grad(lambda x: np.sum(window(x, 2)))(X)


def test_conversion_of_traced_value_raises():
    with pytest.raises(pb.TracerConversionError, match="float.*stop_gradient"):
        pb.grad(lambda x: float(x) * 2.0)(1.0)
    with pytest.raises(TypeError, match=r"numpy\.asarray"):
        pb.grad(lambda x: np.sum(np.asarray(x)))(X)


def test_item_assignment_drops_the_overwritten_derivative_and_leaves_the_input_alone():
    def f(x):
        x[0] = 1.0
        return pnp.sum(x * x)

    x = X.copy()
    g = pb.grad(f)(x)
    np.testing.assert_array_equal(x, X)  # the caller's array is not written
    np.testing.assert_allclose(g, np.r_[0.0, 2 * X.ravel()[1:]].reshape(X.shape), rtol=1e-15)


def test_escaped_tracer_is_detected():
    leaked = []
    pb.grad(lambda x: (leaked.append(x), pnp.sum(x))[1])(X)
    with pytest.raises(RuntimeError, match="escaped"):
        pnp.sin(leaked[0])


# ----------------------------------------------------------------------------- scale, memory


def test_gradient_of_a_100000_operation_chain():
    def chain(x):
        for _ in range(50_000):
            x = pnp.sin(x) * 0.5
        return x

    g = pb.grad(chain)(0.3)
    # closed form: product of 0.5 cos(x_k) along the chain
    x, want = 0.3, 1.0
    for _ in range(50_000):
        want *= 0.5 * np.cos(x)
        x = np.sin(x) * 0.5
    np.testing.assert_allclose(g, want, rtol=1e-9)


def test_forward_values_freed_after_gradient():
    refs = []

    class Tracked(np.ndarray):
        pass

    def f(x):
        h = pnp.tanh(x)  # a forward value the backward pass needs
        refs.append(weakref.ref(h.primal))
        return pnp.sum(h * h)

    x = np.linspace(0, 1, 1000).view(Tracked)
    pb.grad(f)(x)
    gc.disable()
    try:
        assert refs[0]() is None, "a forward value outlived its gradient"
    finally:
        gc.enable()


def test_threads_differentiate_concurrently():
    results = {}
    barrier = threading.Barrier(2)

    def work(name, f, want):
        barrier.wait()
        for _ in range(200):
            g = pb.grad(pb.grad(f))(0.4)
            if not np.isclose(g, want(0.4), rtol=1e-13):
                results[name] = g
                return
        results[name] = "ok"

    t1 = threading.Thread(target=work, args=("sin", pnp.sin, lambda x: -np.sin(x)))
    t2 = threading.Thread(target=work, args=("exp", lambda x: pnp.exp(2.0 * x),
                                               lambda x: 4 * np.exp(2 * x)))
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    assert results == {"sin": "ok", "exp": "ok"}


def test_the_garbage_collector_is_paused_inside_a_transformation_and_restored() -> None:
    assert gc.isenabled()
    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return pnp.sum(x * x)

    pb.grad(f)(np.ones(3))
    pb.jit(f)(np.ones(3))
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        pb.grad(lambda x: x / 0 if float(pb.stop_gradient(x)) else 1 / 0)(0.0)
    assert gc.isenabled()  # restored after an error too
    gc.disable()
    try:
        pb.grad(f)(np.ones(3))
        assert not gc.isenabled()  # the user's choice is kept
    finally:
        gc.enable()
