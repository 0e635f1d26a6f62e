"""What a new user trips over (issue 13): messages that say what happened and what to do.

Each test checks the words of one message; the derivative a suggested fix gives is checked
against a closed form.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import scipy.special as sp

import pullback as pb
import pullback.numpy as pnp
import pullback.scipy.special as psp
from pullback.extend import Primitive, defelementwise

X = np.array([0.3, -1.2])


# ----------------------------------------------------------------------------- pb.primitive


# SciPy ufuncs that pullback.scipy.special has (log_expit, expit, ...) dispatch to it on traced
# values and differentiate at every order; sindg and cosdg (degrees) have no pullback version
@pb.primitive
def sindg_scipy(x):
    return sp.sindg(x), lambda u: (u * (np.pi / 180) * sp.cosdg(x),)


@pytest.mark.parametrize("transform", [
    pytest.param(pb.hessian, id="hessian"),
    pytest.param(lambda f: pb.jacfwd(pb.grad(f)), id="jacfwd-of-grad"),
    pytest.param(lambda f: pb.grad(lambda x: pnp.sum(pb.grad(f)(x))), id="grad-of-grad"),
    pytest.param(lambda f: pb.jit(pb.grad(f)), id="jit-of-grad"),
])
def test_primitive_with_scipy_at_second_order_says_its_body_is_differentiated(transform):
    def f(x):
        return pnp.sum(sindg_scipy(x))

    # first order works
    np.testing.assert_allclose(pb.grad(f)(X), np.pi / 180 * np.cos(X * np.pi / 180),
                               rtol=1e-15)
    with pytest.raises(NotImplementedError) as info:
        transform(f)(X)
    message = str(info.value)
    for words in ("'sindg_scipy'", "differentiated again", "second derivative",
                  "its value and its pullback themselves", "scipy.special.sindg",
                  "pullback.extend", "defelementwise", "p.bind(x)", "defjvp"):
        assert words in message, words
    assert "define one with pullback.primitive" not in message


def test_the_suggested_extend_rule_gives_every_order():
    """The fix the message shows: a primitive of pullback.extend with a SciPy value and a
    rule in pullback's operations. d2/dx2 log_expit(x) = -expit(x) expit(-x)."""
    log_expit = Primitive("log_expit_for_test", sp.log_expit)
    defelementwise(log_expit, lambda ans, x: psp.expit(-x))

    def f(x):
        return pnp.sum(log_expit.bind(x))

    expected = np.diag(-sp.expit(X) * sp.expit(-X))
    np.testing.assert_allclose(pb.hessian(f)(X), expected, rtol=1e-14)
    np.testing.assert_allclose(pb.jacrev(pb.grad(f))(X), expected, rtol=1e-14)


def test_primitive_message_names_the_pullback_when_only_it_uses_scipy():
    @pb.primitive
    def sin_degrees(x):
        return pnp.sin(x * (np.pi / 180)), lambda u: (u * (np.pi / 180) * sp.cosdg(x),)

    with pytest.raises(NotImplementedError, match=r"'sin_degrees' \(its pullback\)"):
        pb.hessian(lambda x: pnp.sum(sin_degrees(x)))(X)


def test_scipy_ufuncs_pullback_has_differentiate_at_second_order_in_a_primitive():
    @pb.primitive
    def log_expit_scipy(x):
        return sp.log_expit(x), lambda u: (u * sp.expit(-x),)

    # d2/dx2 log_expit(x) = -expit(x) expit(-x)
    np.testing.assert_allclose(pb.hessian(lambda x: pnp.sum(log_expit_scipy(x)))(X),
                               np.diag(-sp.expit(X) * sp.expit(-X)), rtol=1e-14)


# ----------------------------------------------------------------------------- at[mask]


@pytest.mark.parametrize("method, suggestion", [
    ("set", "pnp.where(mask, v, x)"),
    ("add", "pnp.where(mask, x + v, x)"),
    ("multiply", "pnp.where(mask, x * v, x)"),
])
def test_at_mask_under_jit_explains_the_shape_and_suggests_where(method, suggestion):
    def f(x):
        return pnp.sum(getattr(x.at[x < 0], method)(2.0))

    with pytest.raises(NotImplementedError) as info:
        pb.jit(f)(X)
    message = str(info.value)
    for words in ("boolean mask", "pb.jit", "not known while it traces",
                  "x[mask] has no known shape", suggestion):
        assert words in message, words
    assert "vmap" not in message


def test_the_suggested_where_compiles_and_differentiates():
    def f(x):
        return pnp.sum(pnp.where(x < 0, 0.0, x) ** 2)

    np.testing.assert_allclose(pb.jit(pb.grad(f))(X), np.where(X < 0, 0.0, 2 * X), rtol=0)


def test_at_mask_under_vmap_says_vmap():
    with pytest.raises(NotImplementedError, match="under vmap, and differs between its entries"):
        pb.vmap(lambda x: x.at[x < 0].set(0.0))(np.stack([X, -X]))


def test_at_traced_integer_index_under_jit():
    with pytest.raises(NotImplementedError, match=r"index is a traced value under pb\.jit"):
        pb.jit(lambda x: x.at[pnp.argmax(x)].set(0.0))(X)


# ----------------------------------------------------------------------------- pytree paths


def loss(params, x):
    return pnp.sum(params["W1"] @ x + params["b1"])


def test_integer_leaf_named_by_its_path():
    params = {"W1": np.ones((2, 2)), "b1": np.arange(2)}
    for transform in (pb.grad, pb.jacrev, pb.jacfwd):
        with pytest.raises(TypeError, match=r"params\['b1'\] \(argument 0\) has dtype int64"):
            transform(loss)(params, np.ones(2))


def test_nested_and_namedtuple_paths():
    Layer = namedtuple("Layer", "W b")
    params = [Layer(np.ones(2), np.ones(2)), Layer(np.ones(2), np.arange(2))]
    with pytest.raises(TypeError, match=r"layers\[1\]\.b \(argument 0\)"):
        pb.grad(lambda layers: pnp.sum(layers[0].W))(params)


def test_tangent_and_cotangent_leaves_named_by_their_path():
    p = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    with pytest.raises(ValueError, match=r"tangent for p\['W1'\] \(argument 0\) has shape"):
        pb.jvp(lambda p: loss(p, np.ones(2)), (p,), ({"W1": np.ones((2, 3)), "b1": np.ones(2)},))
    with pytest.raises(ValueError, match=r"tangent for p\['b1'\] \(argument 0\) has dtype"):
        pb.jvp(lambda p: loss(p, np.ones(2)), (p,),
               ({"W1": np.ones((2, 2)), "b1": np.ones(2, np.float32)},))
    _, vjp_fn = pb.vjp(lambda p: p, {"W": np.ones(2), "b": [np.ones(2)]})
    with pytest.raises(ValueError, match=r"cotangent at \['b'\]\[0\] has shape \(3,\)"):
        vjp_fn({"W": np.ones(2), "b": [np.ones(3)]})


def test_a_single_array_keeps_the_short_message():
    with pytest.raises(TypeError, match=r"argument 0 \('x'\) has dtype int64"):
        pb.grad(lambda x: pnp.sum(x))(np.arange(3))


# ----------------------------------------------------------------------------- at[...].min/max


@pytest.mark.parametrize("method, ufunc", [("min", np.minimum), ("max", np.maximum)])
def test_at_min_max_match_numpy_ufunc_at_and_differentiate(method, ufunc):
    """Values as numpy.minimum.at / maximum.at (repeated indices included); the Jacobian is
    one-hot at whichever of x[i] and the values at i wins (closed form), in both modes."""
    x = np.array([1.0, 5.0, 3.0])
    idx = np.array([1, 1, 2, 0])
    v = np.array([4.0, 2.0, 7.0, 0.5])
    expected = x.copy()
    ufunc.at(expected, idx, v)
    np.testing.assert_array_equal(getattr(pnp.at(x)[idx], method)(v), expected)
    # the winner of each position: x's own entry (-1) or an occurrence k of v
    winner = []
    for i in range(3):
        candidates = [(x[i], -1)] + [(v[k], k) for k in range(4) if idx[k] == i]
        best = (min if method == "min" else max)(candidates, key=lambda c: c[0])
        winner.append(best[1])
    jx = np.array([[1.0 if (w == -1 and j == i) else 0.0 for j in range(3)]
                   for i, w in enumerate(winner)])
    jv = np.array([[1.0 if w == k else 0.0 for k in range(4)] for w in winner])

    def f(x, v):
        return getattr(x.at[idx], method)(v)

    for jac in (pb.jacrev(f, argnums=(0, 1))(x, v), pb.jacfwd(f, argnums=(0, 1))(x, v)):
        np.testing.assert_array_equal(jac[0], jx)
        np.testing.assert_array_equal(jac[1], jv)
    np.testing.assert_array_equal(pb.jit(f)(x, v), expected)


def test_at_max_second_order():
    """sum(x.at[1:].max(2.5) ** 3): the Hessian is 6 x on the entries that stay, 0 on the
    clipped ones."""
    x = np.array([1.0, 5.0, 2.0])
    expected = np.diag([6.0, 30.0, 0.0])

    def f(x):
        return pnp.sum(x.at[1:].max(2.5) ** 3)

    np.testing.assert_array_equal(pb.hessian(f)(x), expected)
    np.testing.assert_array_equal(pb.jacrev(pb.grad(f))(x), expected)


def test_at_min_under_jit_with_a_mask_suggests_minimum():
    with pytest.raises(NotImplementedError, match=r"pnp\.where\(mask, pnp\.minimum\(x, v\), x\)"):
        pb.jit(lambda x: x.at[x > 0].min(1.0))(X)
