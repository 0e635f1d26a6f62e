"""pb.checkpoint (pb.remat): the same derivatives as without it, in both modes, at second
order, nested, under vmap and jit, with its policies; the backward pass really recomputes
(counted) and really keeps less (tracemalloc)."""

import tracemalloc

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp
from pullback.extend import Primitive, defjvp, defvjp

RNG = np.random.default_rng(7)
X = RNG.uniform(-1.0, 1.0, 5)
D = RNG.uniform(-1.0, 1.0, 5)
A = RNG.uniform(-1.0, 1.0, (5, 5))


def layer(x, params):
    """A small layer with a matrix product, closed-over constants and a pytree argument."""
    h = pnp.tanh(A @ x * params["s"] + params["b"])
    return pnp.sin(h) * x[::-1] + h ** 2


def make_loss(wrap):
    def loss(x):
        params = {"s": x[0] ** 2 + 0.5, "b": x[1:3].sum()}  # traced, passed as a pytree
        y = x
        for _ in range(3):
            y = wrap(layer)(y, params)
        return pnp.sum(y * D) + pnp.sum(pnp.cos(y))

    return loss


PLAIN = make_loss(lambda f: f)


def same(fc, x=X):
    """``fc`` against PLAIN: values, both modes, second order, and the oracle."""
    np.testing.assert_allclose(fc(x), PLAIN(x), rtol=1e-15)
    g = pb.grad(fc)(x)
    np.testing.assert_allclose(g, pb.grad(PLAIN)(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g @ D, oracle.jvp(PLAIN, [x], [D]), rtol=1e-8)
    np.testing.assert_allclose(pb.jvp(fc, (x,), (D,))[1], g @ D, rtol=1e-13)
    h = pb.hessian(PLAIN)(x)
    np.testing.assert_allclose(h @ D, oracle.jvp(pb.grad(PLAIN), [x], [D]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pb.hessian(fc)(x), h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.jacrev(pb.grad(fc))(x), h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.jacfwd(pb.jacfwd(fc))(x), h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.hvp(fc, (x,), (D,))[1][0], h @ D, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "policy",
    [None, "nothing", "dots", "everything", pb.checkpoint_policies.dots_saveable,
     pb.checkpoint_policies.save_only_these_names("h"),
     pb.checkpoint_policies.save_any_names_but_these("h")],
)
def test_same_derivatives_as_without_checkpoint(policy):
    same(make_loss(lambda f: pb.checkpoint(f, policy=policy)))


def test_remat_is_checkpoint_and_nests():
    assert pb.remat is pb.checkpoint

    def outer(f):
        inner = pb.checkpoint(f)
        return pb.checkpoint(lambda x, p: inner(inner(x, p), p) * 0.5 + x * 0.5)

    def loss(x):
        params = {"s": x[0] ** 2 + 0.5, "b": x[1:3].sum()}
        y = outer(layer)(x, params)
        return pnp.sum(y * D) + pnp.sum(pnp.cos(y))

    def plain(x):
        params = {"s": x[0] ** 2 + 0.5, "b": x[1:3].sum()}
        y = layer(layer(x, params), params) * 0.5 + x * 0.5
        return pnp.sum(y * D) + pnp.sum(pnp.cos(y))

    np.testing.assert_allclose(pb.grad(loss)(X), pb.grad(plain)(X), rtol=1e-13)
    np.testing.assert_allclose(pb.hessian(loss)(X), pb.hessian(plain)(X), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.grad(loss)(X) @ D, oracle.jvp(plain, [X], [D]), rtol=1e-8)


def test_under_vmap_and_jit():
    fc = make_loss(pb.checkpoint)
    xs = RNG.uniform(-1.0, 1.0, (3, 5))
    want = np.stack([pb.grad(PLAIN)(x) for x in xs])
    np.testing.assert_allclose(pb.vmap(pb.grad(fc))(xs), want, rtol=1e-13)
    np.testing.assert_allclose(pb.grad(lambda v: pnp.sum(pb.vmap(fc)(v)))(xs), want, rtol=1e-13)
    np.testing.assert_allclose(pb.jacfwd(pb.vmap(fc))(xs).sum(axis=0), want, rtol=1e-13)
    np.testing.assert_allclose(pb.jit(pb.grad(fc))(X), pb.grad(PLAIN)(X), rtol=1e-13)
    np.testing.assert_allclose(pb.jit(pb.hessian(fc))(X), pb.hessian(PLAIN)(X), rtol=1e-12,
                               atol=1e-13)
    np.testing.assert_allclose(pb.jit(pb.vmap(pb.grad(fc)))(xs), want, rtol=1e-13)
    np.testing.assert_allclose(pb.jit(fc)(X), PLAIN(X), rtol=1e-15)


def test_kwargs_static_argnums_and_python_numbers():
    def f(x, n, *, scale):
        for _ in range(n):
            x = pnp.sin(x) * scale
        return x

    cf = pb.checkpoint(f, static_argnums=1)
    g = pb.grad(lambda x: pnp.sum(cf(x, 3, scale=1.5)))(X)
    np.testing.assert_allclose(g, pb.grad(lambda x: pnp.sum(f(x, 3, scale=1.5)))(X), rtol=1e-14)
    g = pb.grad(lambda s: pnp.sum(cf(X, 2, scale=s)))(1.5)  # a traced keyword argument
    np.testing.assert_allclose(g, pb.grad(lambda s: pnp.sum(f(X, 2, scale=s)))(1.5), rtol=1e-14)
    assert cf(X, 2, scale=1.0).shape == (5,)  # outside a transformation: a plain call


# ----------------------------------------------------------------------------- recomputation

CALLS = []


def _counted_impl(x):
    if x.shape == X.shape and np.array_equal(x, X):  # count real calls, not shape probes
        CALLS.append(1)
    return np.sin(x)


counted = Primitive("counted_sin", _counted_impl)
defvjp(counted, lambda g, ans, x: g * pnp.cos(x))
defjvp(counted, lambda t, ans, x: t * pnp.cos(x))


def _calls(policy, wrap=True):
    def f(x):
        return pnp.sum(pnp.cos(pb.checkpoint_name(counted.bind(x), "s")) * 2.0)

    g = pb.checkpoint(f, policy=policy) if wrap else f
    CALLS.clear()
    grad = pb.grad(g)(X)
    np.testing.assert_allclose(grad, -np.sin(np.sin(X)) * 2.0 * np.cos(X), rtol=1e-15)
    return len(CALLS)


def test_backward_pass_recomputes_unless_the_policy_keeps():
    assert _calls(None, wrap=False) == 1
    assert _calls(None) == 2  # the forward pass, then again in the backward pass
    assert _calls("everything") == 1
    assert _calls(pb.checkpoint_policies.save_only_these_names("s")) == 2  # the name's input
    assert _calls(lambda prim, params: prim is counted) == 1
    assert _calls(pb.checkpoint_policies.save_only_these_names("other")) == 2


# ----------------------------------------------------------------------------- memory


def _peak(fun, *args):
    tracemalloc.start()
    try:
        fun(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reverse_mode_keeps_only_the_checkpointed_inputs():
    def block(x, w):
        for _ in range(8):
            x = pnp.sin(x) * w + x * 0.5
        return x

    def loss(x, w, wrap):
        for _ in range(12):
            x = wrap(block)(x, w)
        return pnp.sum(x)

    x = np.linspace(-1.0, 1.0, 20_000)
    plain = _peak(pb.grad(loss, argnums=(0, 1)), x, 0.9, lambda f: f)
    kept = _peak(pb.grad(loss, argnums=(0, 1)), x, 0.9, pb.checkpoint)
    # 12 blocks of 8 steps of 4 arrays kept without checkpointing; 12 block inputs and one
    # block's intermediates with it: about 8x less (measured 10x)
    assert plain > 5 * kept, (plain, kept)
    g1 = pb.grad(loss, argnums=(0, 1))(x, 0.9, lambda f: f)
    g2 = pb.grad(loss, argnums=(0, 1))(x, 0.9, pb.checkpoint)
    np.testing.assert_allclose(g2[0], g1[0], rtol=1e-13)
    np.testing.assert_allclose(g2[1], g1[1], rtol=1e-13)


# ----------------------------------------------------------------------------- errors


def test_errors_name_the_fix():
    def branchy(x):
        return x if x[0] > 0 else -x

    with pytest.raises(pb.ConcretizationError, match="checkpoint of branchy.*pb.lax.cond"):
        pb.grad(lambda x: pnp.sum(pb.checkpoint(branchy)(x)))(X)
    with pytest.raises(ValueError, match="policy 'some'"):
        pb.checkpoint(pnp.sin, policy="some")
    with pytest.raises(TypeError, match="policy must be"):
        pb.checkpoint(pnp.sin, policy=3)
    with pytest.raises(TypeError, match="expected a function"):
        pb.checkpoint(3)
    with pytest.raises(TypeError, match="output leaf 0 is a str"):
        pb.grad(lambda x: pb.checkpoint(lambda v: "no")(x))(1.0)
    with pytest.raises(TypeError, match="name must be a str"):
        pb.checkpoint_name(X, 3)
