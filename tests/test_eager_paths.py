"""The eager reverse mode's one-step paths (operators of the tape's tracers, ``sum``, the lean
rules of add/subtract/multiply, grad's exit, ``tree_map`` of lists of arrays) give what the
general path gives: every derivative against central differences, in both modes, and the
cases each path leaves to the general one (promotion, Python numbers marked weak, nested
transformations, lists holding other leaves)."""

import numpy as np
import pytest

import oracle
import pullback as pb
import pullback.numpy as pnp
from pullback.core.reverse import VJPTracer
from pullback.numpy._util import mark_weak
from pullback.tree import tree_map


def _fd_grad(f, x):
    """The gradient of the real scalar ``f`` at ``x`` by the shared oracle (extrapolated
    central differences)."""
    return oracle.jacobian(f, [x], 0)


_BINARY = [
    ("add", lambda a, b: a + b),
    ("radd", lambda a, b: b + a),
    ("sub", lambda a, b: a - b),
    ("rsub", lambda a, b: b - a),
    ("mul", lambda a, b: a * b),
    ("rmul", lambda a, b: b * a),
    ("div", lambda a, b: a / b),
    ("rdiv", lambda a, b: b / a),
]

# (shape of the traced operand, the other operand): arrays of one shape, broadcasting both
# ways, a Python float and int, a NumPy scalar, a float32 array (promotion), an int array
_OTHERS = [
    ((3, 4), lambda: np.linspace(1.0, 2.0, 12).reshape(3, 4)),
    ((3, 4), lambda: np.linspace(1.0, 2.0, 4)),
    ((4,), lambda: np.linspace(1.0, 2.0, 12).reshape(3, 4)),
    ((3, 1), lambda: np.linspace(1.0, 2.0, 4)),
    ((3, 4), lambda: 1.5),
    ((3, 4), lambda: 2),
    ((3, 4), lambda: np.float64(1.25)),
    ((3, 4), lambda: np.linspace(1.0, 2.0, 12, dtype=np.float32).reshape(3, 4)),
    ((3, 4), lambda: np.arange(1, 13).reshape(3, 4)),
]


@pytest.mark.parametrize("name,op", _BINARY, ids=[n for n, _ in _BINARY])
@pytest.mark.parametrize("shape,other", _OTHERS, ids=[str(i) for i in range(len(_OTHERS))])
def test_operators_of_the_tape_against_differences(name, op, shape, other):
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 2.0, shape)
    c = other()
    expect = op(x, c)

    def f(x):
        return pnp.sum(pnp.sin(op(x, c)))

    assert np.array_equal(np.asarray(pb.stop_gradient(op(x, c))), expect)
    g = pb.grad(f)(x)
    assert g.dtype == x.dtype and g.shape == x.shape
    np.testing.assert_allclose(g, _fd_grad(lambda v: np.sum(np.sin(op(v, c))), x),
                               rtol=1e-7, atol=1e-9)
    # forward mode, and second order (reverse over reverse, forward over reverse)
    t = np.ones_like(x)
    _, jt = pb.jvp(f, (x,), (t,))
    np.testing.assert_allclose(jt, np.sum(g * t), rtol=1e-12)
    hv = pb.grad(lambda x: pnp.vdot(pb.grad(f)(x), t))(x)
    np.testing.assert_allclose(hv, _fd_grad(lambda v: np.vdot(pb.grad(f)(v), t), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pb.hvp(f, (x,), (t,))[1][0], hv, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_operators_keep_the_dtype_of_the_traced_value(dtype):
    x = (np.arange(1.0, 7.0) * (1 + 0.5j if dtype is np.complex128 else 1)).astype(dtype)

    def f(x):
        y = (2.0 * x - 1.0) * x / 3.0 + (-x)
        return pnp.sum(pnp.real(y * pnp.conj(y)) if dtype is np.complex128 else y * y)

    out, g = pb.value_and_grad(f)(x)
    assert g.dtype == dtype
    if dtype is np.float32:
        assert out.dtype == np.float32
        # d/dx (y^2) with y = 2x^2/3 - x/3 - x = 2x^2/3 - 4x/3
        y = (2.0 * x - 1.0) * x / 3.0 + (-x)
        np.testing.assert_allclose(g, 2 * y * (4 * x / 3 - 4 / 3), rtol=1e-5)
    else:
        xr = x.real.astype(np.float64)
        # f is a function of the real and imaginary parts; pullback's gradient of a real
        # function of a complex input is the conjugate of df/dRe + i df/dIm
        def fr(v):
            z = v[0] + 1j * v[1]
            y = (2.0 * z - 1.0) * z / 3.0 + (-z)
            return np.sum((y * np.conj(y)).real)
        v = np.stack([xr, x.imag])
        d = _fd_grad(fr, v)
        np.testing.assert_allclose(g, np.conj(d[0] + 1j * d[1]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", [lambda t: 2.0 * t, lambda t: t * 2.0, lambda t: t + 1.0,
                                lambda t: 1.0 - t, lambda t: t / 2.0, lambda t: 3.0 / t,
                                lambda t: -t], ids=range(7))
def test_a_python_number_stays_weak_through_the_operators(op):
    # a traced 0-d value standing for a Python float (as matrix_rank's result is marked under
    # jit and vmap): what the operators make of it stays weak, so that a float32 array times
    # it stays float32, as in NumPy
    def f(x):
        t = mark_weak(pnp.sum(x), float)
        return pnp.sum(x.astype(np.float32) * op(t))

    x = np.array([1.0, 2.0])
    out, g = pb.value_and_grad(f)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.sum(x.astype(np.float32) * op(np.sum(x))), rtol=1e-6)
    np.testing.assert_allclose(g, _fd_grad(lambda v: np.sum(v * op(np.sum(v))), x),
                               rtol=1e-6, atol=1e-9)


def test_nested_transformations_take_the_general_path():
    x = np.array([0.3, -1.2, 2.0])

    def f(x):
        return pnp.sum(0.5 * (x * x) - x / 4.0 + 1.0)

    # grad of grad: the outer tape's values are tracers, not NumPy arrays
    hess_diag = pb.grad(lambda x: pnp.sum(pb.grad(f)(x)))(x)
    np.testing.assert_array_equal(hess_diag, np.ones(3))
    # vmap of grad, jvp of grad
    np.testing.assert_allclose(pb.vmap(pb.grad(f))(np.stack([x, 2 * x])),
                               np.stack([x - 0.25, 2 * x - 0.25]), rtol=1e-15)
    _, t = pb.jvp(pb.grad(f), (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, np.ones(3))


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (-1, True),
                                           (1, False), ((0, 1), False)])
def test_sum_of_the_tape_against_differences(axis, keepdims):
    x = np.random.default_rng(1).standard_normal((3, 4))
    w = np.random.default_rng(2).standard_normal(np.sum(x, axis=axis, keepdims=keepdims).shape)

    def f(x):
        return pnp.sum(pnp.sum(x * x, axis=axis, keepdims=keepdims) * w)

    g = pb.grad(f)(x)
    np.testing.assert_allclose(g, _fd_grad(lambda v: np.sum(np.sum(v * v, axis=axis,
                                                                   keepdims=keepdims) * w), x),
                               rtol=1e-7, atol=1e-9)
    # the Hessian of sum(sum(x * x) * w) is 2 w, broadcast back: H t for t = ones
    t = np.ones_like(x)
    expect = 2 * np.broadcast_to(w if keepdims or axis is None else
                                 np.expand_dims(w, axis), x.shape)
    np.testing.assert_array_equal(pb.hvp(f, (x,), (t,))[1][0], expect)
    np.testing.assert_array_equal(pb.grad(lambda x: pnp.vdot(pb.grad(f)(x), t))(x), expect)


def test_sum_errors_and_zero_d_on_the_tape():
    x = np.ones((2, 3))
    with pytest.raises(np.exceptions.AxisError, match="sum: axis 2 is out of bounds"):
        pb.grad(lambda x: pnp.sum(pnp.sum(x, axis=2)))(x)
    with pytest.raises(TypeError, match="keyword argument"):
        pb.grad(lambda x: pnp.sum(x, dtype=np.float32))(x)
    # a 0-d value: sum over no axis is the value itself; axis 0 is accepted, as NumPy does
    assert pb.grad(lambda s: pnp.sum(s * 3.0, axis=0))(np.float64(2.0)) == 3.0
    assert pb.grad(lambda s: pnp.sum(pnp.sum(s * s)))(np.array(2.0)) == 4.0


def test_grad_gives_one_array_object_per_gradient():
    x, y = np.ones(3), np.ones(3)

    # add's rule passes the same cotangent to both operands: two objects come back
    gx, gy = pb.grad(lambda x, y: pnp.sum(pnp.sin(x + y)), argnums=(0, 1))(x, y)
    assert gx is not gy
    np.testing.assert_array_equal(gx, np.cos(x + y))
    np.testing.assert_array_equal(gy, np.cos(x + y))
    # an input that does not reach the output: zeros; a NumPy scalar: a scalar
    gx, gs = pb.grad(lambda x, s: pnp.sum(x * 2.0) + 0.0 * s, argnums=(0, 1))(x, np.float64(1))
    np.testing.assert_array_equal(gx, 2 * np.ones(3))
    assert type(gs) is np.float64 and gs == 0.0
    g0, g1 = pb.grad(lambda a, b: pnp.sum(a), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(g1, np.zeros(3))


def test_tree_map_of_lists_of_arrays():
    a = [np.ones(2), np.zeros((2, 2))]
    b = [np.full(2, 3.0), np.ones((2, 2))]
    out = tree_map(lambda p, g: p - 0.5 * g, a, b)
    assert type(out) is list
    np.testing.assert_array_equal(out[0], np.full(2, -0.5))
    np.testing.assert_array_equal(out[1], np.full((2, 2), -0.5))
    # lists that differ in length, or hold other leaves or containers: the general path
    with pytest.raises(TypeError, match="tree_map: tree 1 has structure"):
        tree_map(lambda p, g: p + g, a, b[:1])
    with pytest.raises(TypeError, match="tree_map: tree 1 has structure"):
        tree_map(lambda p, g: p + g, a, [b[0], (b[1],)])
    assert tree_map(lambda p, g: p + g, [np.ones(1), 2.0], [np.ones(1), 1.0])[1] == 3.0
    assert tree_map(lambda p: p, [np.ones(1), [np.ones(1)]])[1][0].shape == (1,)


def test_transpose_property_of_the_tape():
    W = np.arange(6.0).reshape(2, 3)
    v = np.arange(1.0, 4.0)

    def f(W):
        t = W.T
        assert type(t) is VJPTracer and t.shape == (3, 2)
        return pnp.sum((v @ t) ** 2)

    g = pb.grad(f)(W)
    np.testing.assert_allclose(g, _fd_grad(lambda M: np.sum((v @ M.T) ** 2), W), rtol=1e-7)
    # a vector's and a 3-d array's .T: the general path (no change, reversed axes)
    x = np.arange(3.0)
    np.testing.assert_array_equal(pb.grad(lambda x: pnp.sum(x.T * v))(x), v)
    a = np.ones((2, 3, 4))
    assert pb.grad(lambda a: pnp.sum(a.T[0]))(a).sum() == 6.0


def test_numpy_ufuncs_with_an_array_first():
    # `array op traced` reaches the tracer's __array_ufunc__: the one-step path for add,
    # subtract, multiply, divide and matmul, the wrappers for lists and other ufuncs
    X = np.random.default_rng(3).standard_normal((4, 3))
    W = np.random.default_rng(4).standard_normal((2, 3))

    def f(W):
        z = X @ W.T  # ndarray @ traced transpose
        z = np.subtract(np.ones((4, 2)), np.multiply(X[:, :2], z)) / np.full(2, 2.0)
        z = np.add([1.0, 2.0], z) + np.matmul([[1.0, 0.5, 0.25]], W.T)
        return pnp.sum(np.divide(np.ones((4, 2)), z + 10.0))

    def f_np(W):
        z = X @ W.T
        z = (np.ones((4, 2)) - X[:, :2] * z) / np.full(2, 2.0)
        z = np.add([1.0, 2.0], z) + np.matmul([[1.0, 0.5, 0.25]], W.T)
        return np.sum(1.0 / (z + 10.0))

    out, g = pb.value_and_grad(f)(W)
    assert out == f_np(W)
    np.testing.assert_allclose(g, _fd_grad(f_np, W), rtol=1e-7, atol=1e-10)
    t = np.ones_like(W)
    np.testing.assert_allclose(pb.hvp(f, (W,), (t,))[1][0],
                               _fd_grad(lambda v: np.vdot(pb.grad(f)(v), t), W),
                               rtol=1e-6, atol=1e-8)
