"""pullback.optim: each optimiser's updates against its formula written out in NumPy, the
schedules, purity, dtypes, errors, a differentiated optimiser step, and short training runs
whose loss falls."""

from __future__ import annotations

import math

import numpy as np
import pytest

import oracle
import pullback as pb
from pullback import nn, optim


def _params():
    rng = np.random.default_rng(0)
    return [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)},
            (rng.standard_normal(4), 1.5)]


def _grads(seed):
    rng = np.random.default_rng(seed)
    return [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)},
            (rng.standard_normal(4), float(rng.standard_normal()))]


def _leaves(tree):
    return [np.asarray(x) for x in pb.tree.tree_leaves(tree)]


def _readonly(tree):
    def freeze(x):
        if isinstance(x, np.ndarray):
            x = x.copy()
            x.flags.writeable = False
        return x

    return pb.tree.tree_map(freeze, tree)


def _run(opt, steps=3):
    """``steps`` updates from _params() with gradients _grads(1), _grads(2), ..."""
    params = _readonly(_params())
    state = opt.init(params)
    history = [params]
    for t in range(1, steps + 1):
        params, state = opt.update(_readonly(_grads(t)), state, params)
        assert pb.tree.tree_structure(params) == pb.tree.tree_structure(_params())
        history.append(params)
    return history, state


def _assert_close(tree, expected_leaves):
    for got, want in zip(_leaves(tree), expected_leaves, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)


def test_sgd_matches_formula():
    history, state = _run(optim.sgd(0.1))
    p = _leaves(_params())
    for t in range(1, 4):
        p = [x - 0.1 * g for x, g in zip(p, _leaves(_grads(t)), strict=True)]
        _assert_close(history[t], p)
    assert state.step == 3


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_formula(nesterov):
    history, state = _run(optim.momentum(0.1, beta=0.8, nesterov=nesterov))
    p = _leaves(_params())
    v = [np.zeros_like(x) for x in p]
    for t in range(1, 4):
        g = _leaves(_grads(t))
        v = [0.8 * vi + gi for vi, gi in zip(v, g, strict=True)]
        step = [gi + 0.8 * vi for gi, vi in zip(g, v, strict=True)] if nesterov else v
        p = [x - 0.1 * s for x, s in zip(p, step, strict=True)]
        _assert_close(history[t], p)
    _assert_close(state.velocity, v)


@pytest.mark.parametrize("weight_decay", [None, 0.3])
def test_adam_and_adamw_match_formula(weight_decay):
    b1, b2, eps, lr = 0.8, 0.95, 1e-3, 0.05
    if weight_decay is None:
        opt = optim.adam(lr, b1=b1, b2=b2, eps=eps)
    else:
        opt = optim.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    history, state = _run(opt)
    p = _leaves(_params())
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    for t in range(1, 4):
        g = _leaves(_grads(t))
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi**2 for vi, gi in zip(v, g, strict=True)]
        new = []
        for x, mi, vi in zip(p, m, v, strict=True):
            direction = (mi / (1 - b1**t)) / (np.sqrt(vi / (1 - b2**t)) + eps)
            if weight_decay is not None:
                direction = direction + weight_decay * x
            new.append(x - lr * direction)
        p = new
        _assert_close(history[t], p)
    _assert_close(state.mu, m)
    _assert_close(state.nu, v)
    assert state.step == 3


def test_adam_defaults_are_the_papers():
    # first step of Adam: m_hat = g and v_hat = g^2, so each coordinate moves by
    # lr * g / (|g| + eps) with lr = 1e-3 and eps = 1e-8
    g = np.array([2.0, -0.5, 1e-8])
    p, _ = optim.adam().update(g, optim.adam().init(np.zeros(3)), np.zeros(3))
    np.testing.assert_allclose(p, -1e-3 * g / (np.abs(g) + 1e-8), rtol=1e-15)
    # b2 = 0.999: the second step's v_hat mixes both squares with weights 0.999 : 1
    init, update = optim.adam(1.0, b1=0.0)
    p, s = update(np.array([1.0]), init(np.zeros(1)), np.zeros(1))
    p, s = update(np.array([3.0]), s, p)
    v_hat = (0.999 * 0.001 * 1.0 + 0.001 * 9.0) / (1 - 0.999**2)
    np.testing.assert_allclose(p, -1.0 / (1.0 + 1e-8) - 3.0 / (np.sqrt(v_hat) + 1e-8),
                               rtol=1e-15)


def test_float32_parameters_stay_float32():
    params = {"w": np.ones(3, np.float32)}
    grads = {"w": np.full(3, 0.5, np.float32)}
    for opt in (optim.sgd(0.1), optim.momentum(0.1, nesterov=True), optim.adam(0.1),
                optim.adamw(0.1)):
        state = opt.init(params)
        new, state = opt.update(grads, state, params)
        new, state = opt.update(grads, state, new)
        assert new["w"].dtype == np.float32
        assert all(leaf.dtype == np.float32 for leaf in pb.tree.tree_leaves(state)
                   if isinstance(leaf, np.ndarray))


def test_updates_are_pure():
    params, grads = _params(), _grads(1)
    before = [x.copy() for x in _leaves(params)]
    opt = optim.adam(0.1)
    state = opt.init(params)
    new1, state1 = opt.update(grads, state, params)
    new2, state2 = opt.update(grads, state, params)  # the same state gives the same step
    _assert_close(new1, _leaves(new2))
    assert state.step == 0 and state1.step == state2.step == 1
    _assert_close(params, before)
    assert not any(np.any(x) for x in _leaves(state.mu))


# ----------------------------------------------------------------------------- schedules


def test_schedules_follow_optax():
    """Each schedule against optax's formula written out (optax's names and argument order)."""
    e = optim.exponential_decay(0.5, 2, 0.1)
    np.testing.assert_allclose([e(k) for k in range(3)], [0.5, 0.5 * 0.1**0.5, 0.05],
                               rtol=1e-15)
    e = optim.exponential_decay(init_value=2.0, transition_steps=3, decay_rate=0.5,
                                transition_begin=4, staircase=True, end_value=0.4)
    assert [e(k) for k in (0, 4, 6, 7, 9, 10, 100)] == [2.0, 2.0, 2.0, 1.0, 1.0, 0.5, 0.4]
    grow = optim.exponential_decay(1.0, 1, 2.0, end_value=5.0)
    assert [grow(k) for k in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert optim.exponential_decay(1.0, 5, 0.0)(50) == 1.0  # decay_rate 0: constant, as optax

    c = optim.cosine_decay_schedule(2.0, decay_steps=4, alpha=0.1, exponent=2.0)
    np.testing.assert_allclose(
        [c(k) for k in range(7)],
        [2.0 * (0.9 * (0.5 * (1 + math.cos(math.pi * min(k, 4) / 4))) ** 2 + 0.1)
         for k in range(7)], rtol=1e-15)

    w = optim.warmup_cosine_decay_schedule(0.1, 1.0, warmup_steps=4, decay_steps=10,
                                           end_value=0.2)
    expected = [0.1 + 0.9 * k / 4 for k in range(4)] + [
        0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(k - 4, 6) / 6)) for k in range(4, 13)]
    np.testing.assert_allclose([w(k) for k in range(13)], expected, rtol=1e-15)
    no_warmup = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=0, decay_steps=2)
    np.testing.assert_allclose([no_warmup(k) for k in range(3)], [1.0, 0.5, 0.0], atol=1e-16)

    p = optim.piecewise_constant_schedule(1.0, {10: 0.5, 5: 0.1})
    assert [p(k) for k in (0, 4, 5, 9, 10, 99)] == [1.0, 1.0, 0.1, 0.1, 0.05, 0.05]
    assert optim.piecewise_constant_schedule(0.3)(10**6) == 0.3
    assert optim.constant_schedule(0.3)(10**6) == optim.constant(0.3)(10**6) == 0.3


def test_the_old_cosine_decay_still_works_and_is_deprecated():
    with pytest.warns(DeprecationWarning, match="cosine_decay_schedule"):
        s = optim.cosine_decay(1.0, decay_steps=4, final_lr=0.2)
    np.testing.assert_allclose([s(k) for k in range(6)],
                               [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(k, 4) / 4))
                                for k in range(6)], rtol=1e-15)
    with pytest.warns(DeprecationWarning):
        w = optim.cosine_decay(2.0, decay_steps=2, warmup_steps=2)
    assert [w(k) for k in range(5)] == [1.0, 2.0, 2.0, 1.0, 0.0]


def test_the_old_order_of_exponential_decay_is_refused():
    """exponential_decay(lr, decay_rate) was pullback's order: a rate where optax has
    transition_steps is an error that names optax's order, never a silent other schedule."""
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'decay_rate'"):
        optim.exponential_decay(1e-2, 0.99)
    with pytest.raises(TypeError, match=r"transition_steps must be an integer >= 1, got 0.99: "
                                        r"the arguments are optax's, exponential_decay\("
                                        r"init_value, transition_steps, decay_rate"):
        optim.exponential_decay(1e-2, 0.99, 10)


def test_a_schedule_sets_each_steps_rate():
    rates = [0.5, 0.25, 0.125]
    init, update = optim.sgd(lambda step: rates[step])
    p, s = np.array([1.0]), init(np.array([1.0]))
    for r in rates:
        q, s = update(np.array([1.0]), s, p)
        np.testing.assert_allclose(q, p - r, rtol=1e-15)
        p = q


# ----------------------------------------------------------------------------- errors


def test_errors():
    init, update = optim.adam(0.1)
    params = {"w": np.ones(2)}
    state = init(params)
    with pytest.raises(TypeError, match=r"adam: grads have structure \[\*\] but params"):
        update([np.ones(2)], state, params)
    with pytest.raises(ValueError, match=r"adam: gradient leaf 0 has shape \(3,\)"):
        update({"w": np.ones(3)}, state, params)
    with pytest.raises(TypeError, match="adam: update expected the state returned by this "
                                        "optimiser's init"):
        update({"w": np.ones(2)}, optim.sgd(0.1).init(params), params)
    with pytest.raises(TypeError, match="parameters must be floating-point"):
        init({"w": np.ones(2, int)})
    with pytest.raises(ValueError, match=r"adam: b1 must be in \[0, 1.0\)"):
        optim.adam(b1=1.0)
    with pytest.raises(ValueError, match="sgd: lr must be in a finite number >= 0"):
        optim.sgd(-1.0)
    with pytest.raises(TypeError, match="momentum: lr must be a number"):
        optim.momentum("fast")
    with pytest.raises(ValueError,
                       match="cosine_decay_schedule: decay_steps must be an integer >= 1"):
        optim.cosine_decay_schedule(0.1, 0)
    with pytest.raises(ValueError, match="warmup_cosine_decay_schedule: decay_steps must be an "
                                         "integer >= 5"):
        optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=4)
    with pytest.raises(ValueError, match="piecewise_constant_schedule: a scale must be in"):
        optim.piecewise_constant_schedule(1.0, {10: -0.5})


# ----------------------------------------------------------------------------- differentiable


def test_an_optimiser_step_can_be_differentiated_with_respect_to_the_learning_rate():
    """The hypergradient of one SGD step: d/dlr L(p - lr g(p)) = -<g(p - lr g(p)), g(p)>."""
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    p0 = np.array([1.0, -2.0])

    def loss(p):
        return 0.25 * (p @ A @ p) ** 2 / 10 + pb.numpy.sum(pb.numpy.sin(p))

    def after_one_step(lr):
        init, update = optim.sgd(lambda step: lr)
        params, _ = update(pb.grad(loss)(p0), init(p0), p0)
        return loss(params)

    lr = np.float64(0.05)
    want = oracle.jvp(after_one_step, [lr], [np.float64(1.0)])
    g0 = pb.grad(loss)(p0)
    closed = -pb.grad(loss)(p0 - lr * g0) @ g0
    np.testing.assert_allclose(pb.grad(after_one_step)(lr), want, rtol=1e-9)
    np.testing.assert_allclose(pb.grad(after_one_step)(lr), closed, rtol=1e-13)
    np.testing.assert_allclose(pb.jvp(after_one_step, (lr,), (1.0,))[1], closed, rtol=1e-13)


# ----------------------------------------------------------------------------- training


def test_sgd_reaches_the_minimum_of_a_quadratic():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -1.0])
    loss = lambda p: 0.5 * p @ A @ p - b @ p
    init, update = optim.momentum(0.2, beta=0.5, nesterov=True)
    p = np.zeros(2)
    state = init(p)
    for _ in range(200):
        p, state = update(pb.grad(loss)(p), state, p)
    np.testing.assert_allclose(p, np.linalg.solve(A, b), rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: optim.adam(1e-2), lambda: optim.adamw(1e-2),
                                  lambda: optim.momentum(5e-2), lambda: optim.sgd(1e-1)],
                         ids=["adam", "adamw", "momentum", "sgd"])
def test_short_training_run_lowers_the_loss(make):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    labels = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    params = nn.init_mlp([3, 16, 2], rng)

    def loss(p):
        return nn.softmax_cross_entropy(nn.mlp(p, x), labels)

    init, update = make()
    state = init(params)
    first = float(loss(params))
    for _ in range(150):
        params, state = update(pb.grad(loss)(params), state, params)
    last = float(loss(params))
    assert last < 0.5 * first, (first, last)
    assert nn.accuracy(nn.mlp(params, x), labels) > 0.85


# ----------------------------------------------------------------------------- complex


def _complex_least_squares():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 3)) + 1j * rng.standard_normal((6, 3))
    b = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    return A, b, np.linalg.lstsq(A, b, rcond=None)[0]


def _residual(A, b):
    def loss(z):
        r = A @ z - b
        return pb.numpy.sum(pb.numpy.real(r * pb.numpy.conj(r)))

    return loss


def test_complex_gradient_convention_and_one_descent_step():
    """pb.grad of |z|^2 is 2 conj(z) (JAX's convention); one SGD step moves z towards 0,
    along -conj(grad) = -2 z: z - lr * 2 z."""
    z = np.array([1.0 + 2.0j, -3.0 + 0.5j])
    g = pb.grad(lambda z: pb.numpy.sum(pb.numpy.abs(z) ** 2))(z)
    np.testing.assert_allclose(g, 2 * np.conj(z), rtol=1e-15)
    for opt in (optim.sgd(0.1), optim.momentum(0.1)):
        p, _ = opt.update(g, opt.init(z), z)
        np.testing.assert_allclose(p, z - 0.1 * 2 * z, rtol=1e-15)
    p, state = optim.adam(0.1).update(g, optim.adam(0.1).init(z), z)
    # Adam's first step: m_hat = conj(g), v_hat = |g|^2 (real), so z - lr conj(g) / (|g| + eps)
    np.testing.assert_allclose(p, z - 0.1 * np.conj(g) / (np.abs(g) + 1e-8), rtol=1e-15)
    assert state.nu.dtype == np.float64 and state.mu.dtype == np.complex128


@pytest.mark.parametrize("make, steps", [
    (lambda: optim.sgd(0.02), 3000),
    (lambda: optim.momentum(0.01, beta=0.9, nesterov=True), 1000),
    (lambda: optim.adam(optim.exponential_decay(0.05, 100, 0.7)), 3000),
], ids=["sgd", "momentum", "adam"])
def test_complex_least_squares_is_trained_to_its_solution(make, steps):
    A, b, solution = _complex_least_squares()
    loss = _residual(A, b)
    init, update = make()
    z = np.zeros(3, complex)
    state = init(z)
    for _ in range(steps):
        z, state = update(pb.grad(loss)(z), state, z)
    np.testing.assert_allclose(z, solution, rtol=1e-8, atol=1e-8)
