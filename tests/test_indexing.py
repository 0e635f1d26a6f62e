"""Functional index updates (``pnp.at(x)[idx]``, ``x.at[idx]``) and indexing of traced values:
semantics on plain arrays, repeated indices, derivatives against closed forms and the
finite-difference oracle, dtypes, and the errors (in-place assignment points to ``.at[]``)."""

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp


def _readonly(x):
    x = np.array(x)
    x.flags.writeable = False
    return x


# ----------------------------------------------------------------------------- plain arrays


def test_plain_update_returns_a_new_array_and_leaves_x_unchanged():
    x = _readonly(np.arange(5.0))
    for op, v, want in [
        ("set", 9.0, [0.0, 9.0, 2.0, 9.0, 4.0]),
        ("add", 1.0, [0.0, 2.0, 2.0, 4.0, 4.0]),
        ("multiply", 3.0, [0.0, 3.0, 2.0, 9.0, 4.0]),
    ]:
        out = getattr(pnp.at(x)[1::2], op)(v)
        assert isinstance(out, np.ndarray) and out is not x
        np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(x, np.arange(5.0))


def test_plain_get_is_getitem():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(pnp.at(x)[:, ::-1].get(), x[:, ::-1])


def test_plain_update_accepts_lists_and_python_numbers():
    np.testing.assert_array_equal(pnp.at([1.0, 2.0, 3.0])[[0, 2]].set([7, 8]), [7.0, 2.0, 8.0])


@pytest.mark.parametrize("seed", range(5))
def test_repeated_indices_match_numpy_ufunc_at(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3))
    idx = (rng.integers(-4, 4, 10), rng.integers(0, 3, 10))
    v = rng.standard_normal(10)
    for op, ufunc in (("add", np.add), ("multiply", np.multiply)):
        want = x.copy()
        ufunc.at(want, idx, v)
        np.testing.assert_array_equal(getattr(pnp.at(x)[idx], op)(v), want)


def test_set_with_repeated_indices_keeps_the_last_occurrence():
    x = np.zeros(4)
    idx = np.array([[2, 0], [2, 3], [0, 2]])  # C order: 2, 0, 2, 3, 0, 2
    v = np.arange(1.0, 7.0).reshape(3, 2)
    np.testing.assert_array_equal(pnp.at(x)[idx].set(v), [5.0, 0.0, 6.0, 4.0])
    # the same result traced, and only the winning values carry a derivative
    out, vjp_fn = pb.vjp(lambda x, v: pnp.at(x)[idx].set(v), x, v)
    np.testing.assert_array_equal(out, [5.0, 0.0, 6.0, 4.0])
    gx, gv = vjp_fn(np.array([10.0, 20.0, 30.0, 40.0]))
    np.testing.assert_array_equal(gx, [0.0, 20.0, 0.0, 0.0])
    np.testing.assert_array_equal(gv, [[0.0, 0.0], [0.0, 40.0], [10.0, 30.0]])


# ----------------------------------------------------------------------------- traced values


def test_jax_spelling_on_traced_values():
    x = np.arange(4.0)

    def f(x):
        y = x.at[1].set(10.0)
        y = y.at[np.array([0, 0])].add(x[3])
        return y.at[2:].multiply(x[:2]).at[::-1].get()

    want = np.array([3.0 * 1.0, 2.0 * 0.0, 10.0, 0.0 + 3.0 + 3.0])
    np.testing.assert_array_equal(pb.vjp(f, x)[0], want)
    np.testing.assert_array_equal(pb.jvp(f, (x,), (np.ones(4),))[0], want)
    jac = pb.jacrev(f)(x)
    np.testing.assert_allclose(jac, oracle.jacobian(lambda x: f_np(x), [x], 0), atol=1e-9)
    np.testing.assert_array_equal(pb.jacfwd(f)(x), jac)


def f_np(x):
    y = x.copy()
    y[1] = 10.0
    np.add.at(y, np.array([0, 0]), x[3])
    y[2:] *= x[:2]
    return y[::-1]


def test_add_with_repeated_indices_closed_form_gradient():
    rng = np.random.default_rng(108)
    idx = np.array([1, 3, 1, 1])
    x, v = rng.standard_normal(5), rng.standard_normal(4)
    g = rng.standard_normal(5)
    _, vjp_fn = pb.vjp(lambda x, v: pnp.at(x)[idx].add(v), x, v)
    gx, gv = vjp_fn(g)
    np.testing.assert_array_equal(gx, g)
    np.testing.assert_array_equal(gv, g[idx])  # every occurrence sees its position's cotangent


def test_multiply_with_repeated_indices_and_zeros_closed_form_gradient():
    idx = np.array([2, 0, 2, 2])
    x = np.array([1.5, -2.0, 0.5])
    v = np.array([3.0, 0.0, -1.0, 2.0])  # a zero among the factors of x[2]: no division
    f = lambda x, v: pnp.sum(pnp.at(x)[idx].multiply(v) ** 2)
    gx, gv = pb.grad(f, argnums=(0, 1))(x, v)
    y = np.array([x[0] * 0.0, x[1], x[2] * 3.0 * -1.0 * 2.0])
    np.testing.assert_allclose(gx, 2 * y * np.array([0.0, 1.0, -6.0]))
    # d y[2] / d v_k = x[2] * (product of the other factors of x[2])
    want_gv = 2 * y[np.array([2, 0, 2, 2])] * np.array(
        [x[2] * -1.0 * 2.0, x[0], x[2] * 3.0 * 2.0, x[2] * 3.0 * -1.0]
    )
    np.testing.assert_allclose(gv, want_gv)


@pytest.mark.parametrize("op", ["set", "add", "multiply"])
def test_hessian_of_updates_against_the_oracle(op):
    rng = np.random.default_rng(110)
    idx = (np.array([0, 2, 0]), slice(None, None, -1))
    x0 = rng.uniform(-1, 1, (3, 2))

    def f(x):
        v = pnp.sin(x[1]) * x[np.array([2, 0, 2])]  # v depends on x as well
        return pnp.sum(pnp.exp(0.5 * getattr(pnp.at(x)[idx], op)(v)))

    hess = pb.hessian(f)(x0)
    grad = pb.grad(f)
    want = oracle.jacobian(lambda x: grad(x), [x0], 0)
    np.testing.assert_allclose(hess, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(pb.jacrev(grad)(x0), hess, rtol=1e-12, atol=1e-14)


def test_update_dtypes_follow_x():
    x = np.arange(3.0, dtype=np.float32)
    v = np.array([2.0, 3.0])  # float64 values are cast to x's dtype, as in NumPy
    for op in ("set", "add", "multiply"):
        out, vjp_fn = pb.vjp(lambda x, v, op=op: getattr(pnp.at(x)[1:], op)(v), x, v)
        assert out.dtype == np.float32
        gx, gv = vjp_fn(np.ones(3, np.float32))
        assert gx.dtype == np.float32 and gv.dtype == np.float64


def test_update_broadcasts_values_like_numpy_assignment():
    x = np.zeros((2, 3))
    want = x.copy()
    want[:, 1:] = np.array([[[1.0, 2.0]]])  # a leading axis of length 1 is dropped
    got, vjp_fn = pb.vjp(lambda v: pnp.at(x)[:, 1:].set(v), np.array([[[1.0, 2.0]]]))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(vjp_fn(np.ones((2, 3)))[0], [[[2.0, 2.0]]])


def test_traced_integer_index_is_a_constant():
    x = np.array([0.5, 3.0, -1.0])
    g = pb.grad(lambda x: x[pnp.argmax(x)] ** 2)(x)
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    g = pb.grad(lambda x: pnp.sum(pnp.at(x)[pnp.argmin(x)].set(0.0)))(x)
    np.testing.assert_array_equal(g, [1.0, 1.0, 0.0])


def test_boolean_mask_of_a_traced_value():
    x = np.array([[1.0, -2.0], [3.0, -4.0]])
    g = pb.grad(lambda x: pnp.sum(x[x > 0] ** 2))(x)
    np.testing.assert_array_equal(g, [[2.0, 0.0], [6.0, 0.0]])


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_item_assignment_on_a_traced_value_is_a_functional_update(mode):
    def f(x):
        x[0] = 1.0
        return pnp.sum(x)

    if mode == "grad":
        np.testing.assert_array_equal(pb.grad(f)(np.ones(3)), [0.0, 1.0, 1.0])
    else:
        assert pb.jvp(f, (np.ones(3),), (np.ones(3),))[1] == 2.0


def test_out_of_bounds_update_names_the_method():
    with pytest.raises(IndexError, match=r"at\[\.\.\.\]\.set"):
        pnp.at(np.zeros(3))[np.array([0, 3])].set(1.0)
    with pytest.raises(IndexError, match=r"at\[\.\.\.\]\.add"):
        pb.grad(lambda x: pnp.sum(x.at[5].add(1.0)))(np.zeros(3))


def test_values_of_the_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match=r"at\[\.\.\.\]\.set: values of shape \(3,\)"):
        pnp.at(np.zeros((2, 2)))[0].set(np.ones(3))
    with pytest.raises(ValueError, match=r"cannot be broadcast"):
        pb.grad(lambda v: pnp.sum(pnp.at(np.zeros(4))[:2].add(v)))(np.ones((2, 2)))


def test_float_index_on_traced_value_is_rejected():
    with pytest.raises(IndexError, match="cannot be used as an index"):
        pb.grad(lambda x: x[x])(np.array([0.0]))


def test_third_order_through_updates_and_gathers():
    rng = np.random.default_rng(119)
    idx = np.array([1, 1, 0])
    x0 = rng.uniform(-1, 1, 3)

    def f(x):
        y = pnp.at(x)[idx].multiply(x[::-1]).at[idx].add(x[np.array([2, 2, 1])] ** 2)
        return pnp.sum(pnp.sin(y.at[2].set(x[0] * x[1])))

    third = pb.jacfwd(pb.hessian(f))(x0)
    hess = pb.hessian(f)
    want = oracle.jacobian(lambda x: hess(x), [x0], 0)
    np.testing.assert_allclose(third, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(pb.jacrev(hess)(x0), third, rtol=1e-12, atol=1e-13)


def test_indices_computed_from_the_data_under_vmap():
    rng = np.random.default_rng(120)
    xs = rng.standard_normal((4, 5))
    f = lambda x: x[pnp.argmax(x)] * pnp.take(x, pnp.argmin(x)) + pnp.sort(x)[1]  # noqa: E731
    want = np.array([x.max() * x.min() + np.sort(x)[1] for x in xs])
    np.testing.assert_allclose(pb.vmap(f)(xs), want, rtol=1e-15)
    grads = pb.vmap(pb.grad(f))(xs)
    np.testing.assert_allclose(grads, np.stack([pb.grad(f)(x) for x in xs]), rtol=1e-15)
    with pytest.raises(NotImplementedError, match="differ between vmap entries"):
        pb.vmap(lambda x: x.at[pnp.argmax(x)].set(0.0))(xs)
