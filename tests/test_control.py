"""pb.lax control flow: scan, fori_loop, while_loop, cond, switch, map.

Every construct is compared with the Python program it stands for (the unrolled loop, the
``if``): values, reverse and forward mode and second order against pullback's derivatives
of that program (the same arithmetic: tight tolerances) and against Richardson-extrapolated
finite differences of the construct itself (the independent oracle).
"""

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp
from pullback import lax

RNG = np.random.default_rng(11)
X = RNG.uniform(-1.0, 1.0, 4)
D = RNG.uniform(-1.0, 1.0, 4)
W = RNG.uniform(-1.0, 1.0, 4)  # fixed weights reducing vector outputs to a scalar


def check(fc, fu, x=X, d=D, second=True, reverse=True):
    """``fc`` (with control flow) against ``fu`` (the unrolled program) at ``x``."""
    np.testing.assert_allclose(fc(x), fu(x), rtol=1e-14, atol=1e-15)
    fd = oracle.jvp(fc, [x], [d])
    _, t = pb.jvp(fc, (x,), (d,))
    _, tu = pb.jvp(fu, (x,), (d,))
    np.testing.assert_allclose(t, tu, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(t, fd, rtol=1e-8, atol=1e-10)
    if reverse:
        g = pb.grad(fc)(x)
        np.testing.assert_allclose(g, pb.grad(fu)(x), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(g @ d, fd, rtol=1e-8, atol=1e-10)
    if not second:
        return
    hu = pb.jacfwd(pb.jacfwd(fu))(x)
    np.testing.assert_allclose(pb.jacfwd(pb.jacfwd(fc))(x), hu, rtol=1e-12, atol=1e-13)
    hd = oracle.jvp(lambda v: pb.jacfwd(fc)(v), [x], [d])
    np.testing.assert_allclose(hu @ d, hd, rtol=1e-6, atol=1e-8)
    if reverse:
        np.testing.assert_allclose(pb.hessian(fc)(x), hu, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(pb.jacrev(pb.grad(fc))(x), hu, rtol=1e-12, atol=1e-13)
        _, hv = pb.hvp(fc, (x,), (d,))
        np.testing.assert_allclose(hv[0], hu @ d, rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------- scan


def step(carry, x, w):
    theta, omega = carry["theta"], carry["omega"]
    new = {"theta": theta + 0.1 * omega, "omega": omega - 0.1 * w[0] * pnp.sin(theta) + 0.1 * x}
    return new, theta * w[1] + omega ** 2


def scan_program(w, reverse=False):
    init = {"theta": w[2] * pnp.ones(2), "omega": pnp.zeros(2) + w[3]}
    xs = np.linspace(-1.0, 1.0, 14).reshape(7, 2)
    carry, ys = lax.scan(lambda c, x: step(c, x, w), init, xs, reverse=reverse)
    return pnp.sum(carry["theta"] * carry["omega"]) + pnp.sum(ys * np.arange(14.0).reshape(7, 2))


def unrolled_program(w, reverse=False):
    carry = {"theta": w[2] * pnp.ones(2), "omega": pnp.zeros(2) + w[3]}
    xs = np.linspace(-1.0, 1.0, 14).reshape(7, 2)
    ys = [None] * 7
    for i in (range(6, -1, -1) if reverse else range(7)):
        carry, ys[i] = step(carry, xs[i], w)
    return pnp.sum(carry["theta"] * carry["omega"]) + pnp.sum(
        pnp.stack(ys) * np.arange(14.0).reshape(7, 2)
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_pytree_carry_and_outputs_both_modes_second_order(reverse):
    check(lambda w: scan_program(w, reverse), lambda w: unrolled_program(w, reverse))


def test_scan_over_differentiated_xs_and_length_without_xs():
    def fc(x):
        c, ys = lax.scan(lambda c, xi: (c * pnp.cos(xi) + xi, c * xi), 0.5, x)
        c, zs = lax.scan(lambda c, _: (c * 1.1, pnp.sin(c)), c, None, length=3)
        return c + pnp.sum(ys * W) + pnp.sum(zs)

    def fu(x):
        c, ys = 0.5, []
        for xi in x:
            c, y = c * pnp.cos(xi) + xi, c * xi
            ys.append(y)
        zs = []
        for _ in range(3):
            c, z = c * 1.1, pnp.sin(c)
            zs.append(z)
        return c + pnp.sum(pnp.stack(ys) * W) + pnp.sum(pnp.stack(zs))

    check(fc, fu)


def test_scan_results_match_jax_conventions():
    carry, ys = lax.scan(lambda c, x: (c + x, (c, {"x": x * 2})), 0.0, np.arange(3.0))
    assert carry == 3.0
    np.testing.assert_array_equal(ys[0], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ys[1]["x"], [0.0, 2.0, 4.0])
    carry, ys = lax.scan(lambda c, x: (c + x, c), 0.0, np.arange(3.0), reverse=True)
    np.testing.assert_array_equal(ys, [3.0, 2.0, 0.0])  # ys[i] belongs to xs[i]
    carry, ys = lax.scan(lambda c, x: (c + 1.0, None), 0.0, None, length=4)
    assert carry == 4.0 and ys is None
    carry, ys = lax.scan(lambda c, x: (c, x), 0.0, {"a": np.ones((2, 3))})
    assert ys["a"].shape == (2, 3)
    carry, ys = lax.scan(lambda c, x: (c + x[0], (x, c)), 1.0, np.ones((0, 3), np.float32))
    assert carry == 1.0 and ys[0].shape == (0, 3) and ys[0].dtype == np.float32
    assert ys[1].shape == (0,)


def test_scan_errors_name_the_problem():
    with pytest.raises(TypeError, match="leaf 0 is float64.*int64"):
        lax.scan(lambda c, x: (c + x, None), 0, np.ones(3))
    with pytest.raises(TypeError, match="structure"):
        lax.scan(lambda c, x: ((c, c), None), 0.0, np.ones(3))
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, np.ones(3))
    with pytest.raises(ValueError, match="must agree"):
        lax.scan(lambda c, x: (c, None), 0.0, {"a": np.ones(2), "b": np.ones(3)})
    with pytest.raises(ValueError, match="length"):
        lax.scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match="must agree"):
        lax.scan(lambda c, x: (c, None), 0.0, np.ones(3), length=4)
    with pytest.raises(TypeError, match="the y of step 1"):
        lax.scan(lambda c, x: (c + 1.0, np.ones(int(c))), 1.0, np.ones(3))


def test_map():
    xs = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(lax.map(lambda x: pnp.sum(x ** 2), xs), [1.0, 13.0, 41.0])

    def fc(x):
        return pnp.sum(lax.map(lambda r: pnp.sin(r) * r[::-1], x.reshape(2, 2)) * W.reshape(2, 2))

    def fu(x):
        rows = x.reshape(2, 2)
        return pnp.sum(pnp.stack([pnp.sin(r) * r[::-1] for r in rows]) * W.reshape(2, 2))

    check(fc, fu)


# ----------------------------------------------------------------------------- fori_loop


def test_fori_loop_both_modes_second_order():
    def body(i, x):
        return x + 0.2 * pnp.sin(x * (i + 1)) * x[::-1]

    check(lambda x: pnp.sum(lax.fori_loop(0, 5, body, x) * W),
          lambda x: pnp.sum(_unrolled_fori(0, 5, body, x) * W))
    check(lambda x: pnp.sum(lax.fori_loop(np.int64(2), np.int32(4), body, x) * W),
          lambda x: pnp.sum(_unrolled_fori(2, 4, body, x) * W))


def _unrolled_fori(lo, hi, body, x):
    for i in range(lo, hi):
        x = body(i, x)
    return x


def test_fori_loop_index_and_empty_range():
    assert lax.fori_loop(0, 4, lambda i, c: c + i, 0) == 6
    assert lax.fori_loop(3, 1, lambda i, c: c + 1.0, 5.0) == 5.0
    with pytest.raises(TypeError, match="lower must be an integer scalar"):
        lax.fori_loop(0.0, 3, lambda i, c: c, 1.0)


# ----------------------------------------------------------------------------- while_loop


def test_while_loop_forward_mode_and_second_order():
    def fc(x):
        def body(c):
            k, v = c
            return k + 1, v * pnp.cos(v) + x[::-1] * 0.3

        return pnp.sum(lax.while_loop(lambda c: c[0] < 6, body, (0, x))[1] * W)

    def fu(x):
        v = x
        for _ in range(6):
            v = v * pnp.cos(v) + x[::-1] * 0.3
        return pnp.sum(v * W)

    check(fc, fu, reverse=False)


def test_while_loop_value_dependent_trip_count():
    f = lambda x: lax.while_loop(lambda v: v < 100.0, lambda v: v * v, x)  # noqa: E731
    assert f(3.0) == 6561.0 and f(200.0) == 200.0
    out, t = pb.jvp(f, (3.0,), (1.0,))
    assert (out, t) == (6561.0, 8 * 3.0 ** 7)
    np.testing.assert_allclose(t, oracle.jvp(f, [np.array(3.0)], [np.array(1.0)]), rtol=1e-9)


def test_while_loop_reverse_mode_is_refused_clearly():
    f = lambda x: lax.while_loop(lambda v: v < 100.0, lambda v: v * v, x)  # noqa: E731
    with pytest.raises(TypeError, match="while_loop: reverse-mode.*fori_loop"):
        pb.grad(f)(3.0)
    with pytest.raises(TypeError, match="while_loop: reverse-mode"):
        pb.grad(lambda w: lax.while_loop(lambda v: v < 10.0, lambda v: v * w, 1.0))(2.0)
    def batched_bounds(x):  # traced bounds: a while_loop
        run = pb.vmap(lambda n: lax.fori_loop(0, n, lambda i, v: v * x, x))
        return pnp.sum(run(np.array([2, 3])))

    np.testing.assert_allclose(pb.jvp(batched_bounds, (2.0,), (1.0,)), (24.0, 3 * 4 + 4 * 8))
    with pytest.raises(TypeError, match="fori_loop with traced bounds: reverse-mode"):
        pb.grad(batched_bounds)(2.0)
    # a loop that does not depend on the differentiated input is fine in reverse mode
    g = pb.grad(lambda x: x * lax.while_loop(lambda v: v < 10.0, lambda v: v + 1.0, 0.0))(2.0)
    assert g == 10.0


def test_while_loop_errors():
    with pytest.raises(TypeError, match="cond_fun's result must be"):
        lax.while_loop(lambda v: np.ones(2) > 0, lambda v: v, 1.0)
    with pytest.raises(TypeError, match="leaf 0 is float64.*int64"):
        lax.while_loop(lambda v: v < 3, lambda v: v + 1.5, 0)


# ----------------------------------------------------------------------------- cond / switch


def test_cond_both_branches_both_modes_second_order():
    def fc(x):
        return lax.cond(x[0] > 0, lambda v: pnp.sum(pnp.sin(v) * v * W),
                        lambda v: pnp.sum(pnp.exp(v) * W), x)

    def fu(x):
        return pnp.sum(pnp.sin(x) * x * W) if x[0] > 0 else pnp.sum(pnp.exp(x) * W)

    for sign in (1.0, -1.0):
        x = X.copy()
        x[0] = sign * 0.7
        check(fc, fu, x=x)


def test_switch_clamps_and_differentiates():
    branches = [lambda v: pnp.sum(v ** 3 * W), lambda v: pnp.sum(pnp.tanh(v) * W),
                lambda v: pnp.sum(v * v[::-1])]
    for k in (-3, 0, 1, 2, 9):
        kk = min(max(k, 0), 2)
        check(lambda x, k=k: lax.switch(k, branches, x), branches[kk])
    assert lax.switch(np.int32(1), [lambda: 1.0, lambda: 2.0]) == 2.0
    with pytest.raises(TypeError, match="index must be an integer scalar"):
        lax.switch(1.0, branches, X)
    with pytest.raises(ValueError, match="at least one branch"):
        lax.switch(0, [], X)


def test_cond_operands_pytrees_and_errors():
    out = lax.cond(True, lambda a, b: {"s": a + b["k"]}, lambda a, b: {"s": a}, 1.0, {"k": 2.0})
    assert out == {"s": 3.0}
    assert lax.cond(np.bool_(False), lambda: 1.0, lambda: 2.0) == 2.0
    with pytest.raises(TypeError, match="predicate must be"):
        lax.cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="not a function"):
        lax.cond(True, 1.0, lambda: 2.0)


# ----------------------------------------------------------------------------- vmap


def test_vmap_of_cond_with_a_batched_predicate_selects_per_entry():
    def relu_ish(x):
        return lax.cond(x > 0, lambda v: v * v, lambda v: -0.5 * v, x)

    xs = np.array([-2.0, -0.5, 0.5, 3.0])
    np.testing.assert_allclose(pb.vmap(relu_ish)(xs), np.where(xs > 0, xs * xs, -0.5 * xs))
    np.testing.assert_allclose(pb.vmap(pb.grad(relu_ish))(xs), np.where(xs > 0, 2 * xs, -0.5))
    np.testing.assert_allclose(pb.grad(lambda v: pnp.sum(pb.vmap(relu_ish)(v)))(xs),
                               np.where(xs > 0, 2 * xs, -0.5))
    np.testing.assert_allclose(pb.jacfwd(pb.vmap(relu_ish))(xs),
                               np.diag(np.where(xs > 0, 2 * xs, -0.5)))
    np.testing.assert_allclose(pb.vmap(pb.grad(pb.grad(relu_ish)))(xs),
                               np.where(xs > 0, 2.0, 0.0))


def test_vmap_of_switch_with_batched_index_and_operands():
    branches = [lambda v: v * 2.0, lambda v: pnp.sin(v), lambda v: v ** 3]
    idx = np.array([0, 2, 1, 7, -1])
    xs = np.linspace(-1.0, 1.0, 5)
    want = np.array([branches[min(max(i, 0), 2)](x) for i, x in zip(idx, xs, strict=True)])
    np.testing.assert_allclose(pb.vmap(lambda i, x: lax.switch(i, branches, x))(idx, xs), want)
    g = pb.vmap(pb.grad(lambda x, i: lax.switch(i, branches, x)))(xs, idx)
    dwant = np.array([[2.0, np.cos(x), 3 * x * x][min(max(i, 0), 2)]
                      for i, x in zip(idx, xs, strict=True)])
    np.testing.assert_allclose(g, dwant, rtol=1e-14)


def test_vmap_of_while_loop_with_per_entry_trip_counts():
    def f(x):
        return lax.while_loop(lambda v: v < 10.0, lambda v: v * 2.0 + 0.1, x)

    xs = np.array([0.5, 3.0, 20.0, 9.9])
    want = np.array([f(x) for x in xs])
    np.testing.assert_allclose(pb.vmap(f)(xs), want)
    t = pb.jvp(pb.vmap(f), (xs,), (np.ones(4),))[1]
    twant = np.array([pb.jvp(f, (x,), (1.0,))[1] for x in xs])
    np.testing.assert_allclose(t, twant)
    np.testing.assert_allclose(pb.vmap(lambda x: pb.jvp(f, (x,), (1.0,))[1])(xs), twant)
    np.testing.assert_allclose(pb.jacfwd(pb.vmap(f))(xs), np.diag(twant))


def test_vmap_of_scan_and_fori_loop_match_per_entry_loops():
    ws = RNG.uniform(-1.0, 1.0, (3, 4))
    want = np.array([scan_program(w) for w in ws])
    np.testing.assert_allclose(pb.vmap(scan_program)(ws), want, rtol=1e-14)
    gwant = np.array([pb.grad(scan_program)(w) for w in ws])
    np.testing.assert_allclose(pb.vmap(pb.grad(scan_program))(ws), gwant, rtol=1e-13)
    np.testing.assert_allclose(pb.jacrev(pb.vmap(scan_program))(ws).sum(axis=0), gwant,
                               rtol=1e-13)
    xs = np.arange(3.0)
    np.testing.assert_allclose(
        pb.vmap(lambda x: lax.fori_loop(0, 3, lambda i, v: v * x + i, 1.0))(xs),
        [_unrolled_fori(0, 3, lambda i, v, x=x: v * x + i, 1.0) for x in xs],
    )


# ----------------------------------------------------------------------------- under jit


def check_jit(fc, x=X, d=D, reverse=True):
    """Under pb.jit (loops and branches staged as primitives) against eager evaluation."""
    np.testing.assert_allclose(pb.jit(fc)(x), fc(x), rtol=1e-14, atol=1e-15)
    tj = pb.jit(lambda v, t: pb.jvp(fc, (v,), (t,))[1])(x, d)
    np.testing.assert_allclose(tj, pb.jvp(fc, (x,), (d,))[1], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(pb.jit(pb.jacfwd(pb.jacfwd(fc)))(x), pb.jacfwd(pb.jacfwd(fc))(x),
                               rtol=1e-12, atol=1e-13)
    if reverse:
        np.testing.assert_allclose(pb.jit(pb.grad(fc))(x), pb.grad(fc)(x), rtol=1e-13,
                                   atol=1e-14)
        np.testing.assert_allclose(pb.jit(pb.hessian(fc))(x), pb.hessian(fc)(x), rtol=1e-12,
                                   atol=1e-13)
        np.testing.assert_allclose(pb.jit(pb.jacrev(pb.grad(fc)))(x), pb.hessian(fc)(x),
                                   rtol=1e-12, atol=1e-13)
        xs = np.stack([x, x[::-1], x * 0.5])
        np.testing.assert_allclose(pb.jit(pb.vmap(pb.grad(fc)))(xs),
                                   np.stack([pb.grad(fc)(v) for v in xs]), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(pb.grad(lambda v: pnp.sum(pb.jit(pb.vmap(fc))(v)))(xs),
                                   np.stack([pb.grad(fc)(v) for v in xs]), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("reverse", [False, True])
def test_jit_scan(reverse):
    check_jit(lambda w: scan_program(w, reverse))


def test_jit_fori_loop_cond_switch_map():
    def body(i, x):
        return x + 0.2 * pnp.sin(x * (i + 1)) * x[::-1]

    check_jit(lambda x: pnp.sum(lax.fori_loop(0, 5, body, x) * W))

    def fc(x):
        return lax.cond(x[0] > 0, lambda v: pnp.sum(pnp.sin(v) * v * W),
                        lambda v: pnp.sum(pnp.exp(v) * W), x)

    for sign in (1.0, -1.0):
        x = X.copy()
        x[0] = sign * 0.7
        check_jit(fc, x=x)
    branches = [lambda v, s: pnp.sum(v ** 3 * W) * s, lambda v, s: pnp.sum(pnp.tanh(v) * W),
                lambda v, s: pnp.sum(v * v[::-1]) + s]

    def fs(x):
        k = (x[1] > 0).astype(np.int64) + (x[2] > 0).astype(np.int64) * 5 - 1
        return lax.switch(k, branches, x, x[3])

    for signs in ((1, 1), (1, -1), (-1, -1), (-1, 1)):
        x = X.copy()
        x[1:3] = np.abs(x[1:3]) * signs
        check_jit(fs, x=x)
    check_jit(lambda x: pnp.sum(lax.map(lambda r: pnp.sin(r) * r[::-1], x.reshape(2, 2))
                                * W.reshape(2, 2)))


def test_jit_while_loop_forward_mode_and_reverse_error():
    def fc(x):
        def body(c):
            k, v = c
            return k + 1, v * pnp.cos(v) + x[::-1] * 0.3

        return pnp.sum(lax.while_loop(lambda c: c[0] < 6, body, (0, x))[1] * W)

    check_jit(fc, reverse=False)

    def until(x):  # a trip count that depends on the traced value
        return lax.while_loop(lambda v: pnp.sum(v) < 50.0, lambda v: v * 1.5 + 0.1, x)

    for x in (X, np.abs(X) + 10.0):
        np.testing.assert_allclose(pb.jit(until)(x), until(x), rtol=1e-15)
        np.testing.assert_allclose(pb.jit(pb.jacfwd(until))(x), pb.jacfwd(until)(x), rtol=1e-14)
    xs = np.stack([X, np.abs(X) + 10.0, X * 3])
    np.testing.assert_allclose(pb.jit(pb.vmap(until))(xs), np.stack([until(x) for x in xs]))
    with pytest.raises(TypeError, match="while_loop: reverse-mode"):
        pb.jit(pb.grad(lambda x: pnp.sum(until(x))))(X)
    # traced bounds make fori_loop a while_loop
    f = pb.jit(lambda x, n: lax.fori_loop(0, n, lambda i, v: v * x, x))
    assert f(2.0 * np.ones(()), np.int64(3)) == 16.0


def test_jit_graph_size_does_not_grow_with_the_steps():
    def run(x, n):
        def step(c, _):
            th, om = c
            return (th + 0.01 * om, om - 0.01 * pnp.sin(th) * x), th

        (th, om), ths = lax.scan(step, (x, x * 0.0), None, length=n)
        return th + pnp.sum(ths)

    sizes = {}
    for n in (10, 10_000):
        graph = pb.jit(pb.value_and_grad(run), static_argnums=1).graph(np.float64(0.3), n)
        sizes[n] = (len(graph), len(pb.make_graph(pb.value_and_grad(run), np.float64(0.3), n,
                                                  static_argnums=1)))
    assert sizes[10] == sizes[10_000], sizes
    assert sizes[10][1] < 40
    x = np.float64(0.3)
    val, g = pb.jit(pb.value_and_grad(run), static_argnums=1)(x, 50)
    np.testing.assert_allclose(val, run(x, 50), rtol=1e-14)
    np.testing.assert_allclose(g, pb.grad(run)(x, 50), rtol=1e-13)


def test_jit_python_control_flow_error_names_the_lax_fix():
    with pytest.raises(pb.ConcretizationError, match="pb.lax.cond.*pb.lax.while_loop"):
        pb.jit(lambda x: x if x > 0 else -x)(np.float64(1.0))


# ----------------------------------------------------------------------------- checkpointed scan

CHECKPOINTS = ["steps", True, "sqrt", "log", 12]


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("reverse", [False, True])
def test_checkpointed_scan_same_derivatives(checkpoint, reverse):
    def program(w, ck):
        def step(c, x):
            return (c * pnp.cos(x * w[0]) + w[1] * pnp.sin(c[::-1]),
                    {"y": pnp.sum(c * x) * w[2], "z": c[0]})

        xs = np.linspace(-1.0, 1.0, 23)
        c, ys = lax.scan(step, w[2:] * w[0], xs, reverse=reverse, checkpoint=ck)
        return pnp.sum(c * c) + pnp.sum(ys["y"] * xs) + pnp.sum(ys["z"] ** 2)

    fc = lambda w: program(w, checkpoint)  # noqa: E731
    fu = lambda w: program(w, None)  # noqa: E731 - the eager Python loop
    check(fc, fu)
    check_jit(fc)


def test_checkpoint_schedules_from_a_budget():
    from pullback.core.control import _levels_plan, checkpoint_levels

    assert checkpoint_levels(1000, "steps") == checkpoint_levels(1000, True) == 1
    assert checkpoint_levels(1000, "sqrt") == 2
    for n in (10, 100, 1000, 10_000):
        for budget in (40, 100, 1000):
            try:
                d = checkpoint_levels(n, budget)
            except ValueError:
                assert budget < _levels_plan(n, checkpoint_levels(n, "log"))[0]
                continue
            assert _levels_plan(n, d)[0] <= budget
            assert d == 1 or _levels_plan(n, d - 1)[0] > budget  # the fewest runs that fit
    with pytest.raises(ValueError, match="budget of 3 carries is too small for 1000 steps"):
        lax.scan(lambda c, x: (c, None), 0.0, np.ones(1000), checkpoint=3)
    with pytest.raises(ValueError, match="checkpoint must be"):
        lax.scan(lambda c, x: (c, None), 0.0, np.ones(3), checkpoint="some")


def test_checkpointed_scan_memory_falls_with_the_schedule():
    def loss(x, w, ck):
        def step(c, xi):
            for _ in range(3):
                c = pnp.sin(c) * w + c * 0.5 + xi
            return c, None

        c, _ = lax.scan(step, x, np.linspace(0.0, 0.01, 256), checkpoint=ck)
        return pnp.sum(c)

    import tracemalloc

    x = np.linspace(-1.0, 1.0, 5_000)  # 40 kB a carry
    peaks, grads = {}, {}
    for ck in (None, "steps", "sqrt", "log"):
        tracemalloc.start()
        try:
            grads[ck] = pb.grad(loss, argnums=(0, 1))(x, 0.9, ck)
            peaks[ck] = tracemalloc.get_traced_memory()[1] / (8 * x.size)
        finally:
            tracemalloc.stop()
        np.testing.assert_allclose(grads[ck][0], grads[None][0], rtol=1e-13)
        np.testing.assert_allclose(grads[ck][1], grads[None][1], rtol=1e-13)
    # in carries: every intermediate (about 256 x 12) / the 256 carries / about 2 x 16 / fewer
    assert peaks[None] > 8 * peaks["steps"], peaks
    assert peaks["steps"] > 4 * peaks["sqrt"], peaks
    assert peaks["sqrt"] < 64 and peaks["log"] < 64, peaks


def test_jit_generates_one_python_loop_calling_the_body():
    def run(x, n):
        c, ys = lax.scan(lambda c, _: (c * 0.9 + 1.0, c), x, None, length=n)
        return c + pnp.sum(ys)

    sources = [pb.jit(pb.value_and_grad(run), static_argnums=1).source(np.float64(0.5), n)
               for n in (10, 10_000)]
    code = [[line for line in src.splitlines() if not line.strip().startswith("del ")]
            for src in sources]  # big stacks are deleted early: the only difference
    assert len(code[0]) == len(code[1])
    assert "for _i" in sources[1] and "range(10000)" in sources[1]
    assert "range(9999, -1, -1)" in sources[1]  # the backward pass: a reverse loop
    # edge cases: no steps, no iterations, one branch
    f = pb.jit(lambda x: lax.scan(lambda c, xi: (c + xi, c * xi), x[0], x[:0]))
    c, ys = f(np.ones(3))
    assert c == 1.0 and ys.shape == (0,)
    g = pb.jit(lambda x: lax.while_loop(lambda v: v > 5.0, lambda v: v - 1.0, x))
    assert g(np.float64(2.0)) == 2.0 and g(np.float64(7.5)) == 4.5
    h = pb.jit(lambda x, k: lax.switch(k, [lambda v: v * 3.0], x))
    assert h(np.float64(2.0), np.int64(4)) == 6.0


def test_long_benchmark_programs_agree():
    """benchmarks/long.py's hand-written adjoint against pullback and finite differences
    (tiny sizes; nothing timed)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import long

    th0, om0 = np.linspace(0.5, 1.5, 3), np.zeros(3)
    value, grad = long.pendulum_by_hand(long.PARAMS, th0, om0, 40)
    v, g = pb.value_and_grad(long.pendulum_loss)(long.PARAMS, th0, om0, 40)
    np.testing.assert_allclose(v, value, rtol=1e-14)
    np.testing.assert_allclose(g, grad, rtol=1e-12)
    for e in np.eye(2):
        fd = oracle.jvp(lambda p: long.pendulum_unrolled(p, th0, om0, 40), [long.PARAMS], [e])
        np.testing.assert_allclose(grad @ e, fd, rtol=1e-8)
    rows = long.memory_rows(30, 50, True, sys.stderr)
    assert [r["label"] for r in rows][:2] == [v[0] for v in long.VARIANTS][:2]


def test_rnn_example_trains_and_checkpointing_keeps_the_gradient(capsys):
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "rnn.py"))
    final = example["main"](steps=60, hidden=16, length=12, batch=4)
    out = capsys.readouterr().out
    assert final < 2.5, out  # well below the uniform guess, log(27) = 3.3
    assert out.count("same gradient: True") == 3, out
    assert "(1 trace: the scan compiled once)" in out


def test_nested_control_flow_every_mode_and_order():
    """A scan of scans with a cond and a fori_loop inside, a checkpointed body, integer
    carries: eager and jit agree in both modes, at second and third order, under vmap."""
    x0 = np.array([0.3, -0.5, 0.8])

    def f(x):
        def outer(c, xi):
            def inner(h, k):
                h = lax.cond(pnp.sum(h) > 0, lambda v: pnp.sin(v) * xi,
                             lambda v: v * 0.5 + k, h)
                return h, pnp.sum(h)

            c, ys = lax.scan(inner, c, np.arange(3.0))
            c = lax.fori_loop(0, 2, lambda i, v: v * pnp.cos(v) + x[i], c)
            return c, ys

        c, ys = lax.scan(outer, x, x * 2)
        body = pb.checkpoint(lambda c, ix: ((c[0] + ix, c[1] * x[ix]), c[1]))
        (n, p), zs = lax.scan(body, (0, 1.0), np.array([0, 2, 1]))
        return pnp.sum(c ** 2) + pnp.sum(ys) + p + pnp.sum(zs) + n

    np.testing.assert_allclose(pb.grad(f)(x0) @ D[:3], oracle.jvp(f, [x0], [D[:3]]), rtol=1e-8)
    np.testing.assert_allclose(pb.jit(f)(x0), f(x0), rtol=1e-14)
    np.testing.assert_allclose(pb.jit(pb.grad(f))(x0), pb.grad(f)(x0), rtol=1e-13)
    np.testing.assert_allclose(pb.jit(pb.hessian(f))(x0), pb.hessian(f)(x0), rtol=1e-12,
                               atol=1e-13)

    def third(x):
        return pb.grad(lambda y: pb.grad(lambda z: pb.grad(f)(z)[0])(y)[1])(x)

    np.testing.assert_allclose(pb.jit(third)(x0), third(x0), rtol=1e-11, atol=1e-12)
    xs = np.stack([x0, x0 * 2])
    np.testing.assert_allclose(pb.jit(pb.vmap(pb.grad(f)))(xs),
                               np.stack([pb.grad(f)(v) for v in xs]), rtol=1e-13)

    def only_a_constant_batched(w, x):
        c, ys = lax.scan(lambda c, xi: (c * w + xi, c), x, x)
        return pnp.sum(ys) + pnp.sum(c)

    ws = np.array([0.5, 0.9])
    np.testing.assert_allclose(
        pb.jit(pb.vmap(pb.grad(only_a_constant_batched), in_axes=(0, None)))(ws, x0),
        [pb.grad(only_a_constant_batched)(w, x0) for w in ws], rtol=1e-13)


def test_jit_numba_backend_runs_the_loops():
    pytest.importorskip("numba")

    def f(x):
        c, ys = lax.scan(lambda c, xi: (pnp.sin(c) * xi + c, pnp.sum(c * c)), x, x[:3] + 1.0)
        return pnp.sum(c) + pnp.sum(ys) + lax.cond(c[0] > 0, lambda: c[1], lambda: -c[1])

    x = np.linspace(0.1, 0.9, 300)
    val, g = pb.jit(pb.value_and_grad(f), backend="numba")(x)
    np.testing.assert_allclose(val, f(x), rtol=1e-13)
    np.testing.assert_allclose(g, pb.grad(f)(x), rtol=1e-12)
