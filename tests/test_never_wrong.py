"""Regressions of the "never silently wrong" sweep: each case once gave a result that
differed from NumPy or from the mathematics without a word, or a misleading error."""

import linecache

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

X = np.array([0.5, -1.0, 2.0])


# ----------------------------------------------------------------------------- augmented assignment


def test_augmented_assignment_on_a_traced_array_updates_every_name_for_it_as_numpy_does():
    def f(x, np=np):
        h = x * 2
        a = h
        a += 1  # NumPy updates h too
        return np.sum(h**2)

    x = np.array([1.0, 2.0, 3.0])
    value, g = pb.value_and_grad(f)(x)
    assert value == f(x) == 83.0
    np.testing.assert_allclose(g, 4 * (2 * x + 1), rtol=1e-15)


@pytest.mark.parametrize("op", ["-=", "*=", "/=", "**=", "+="])
def test_every_augmented_operator_matches_numpy_through_an_alias(op):
    code = f"def f(x, np):\n    y = x * 1.0\n    z = y\n    z {op} x\n    return np.sum(y * x)\n"
    ns: dict = {}
    exec(code, ns)
    f = ns["f"]
    x = np.array([1.5, 2.0, 0.5])
    value, g = pb.value_and_grad(lambda v: f(v, pnp))(x)
    assert value == pytest.approx(f(x, np), rel=1e-15)
    num = pb.check.numerical_vjp(lambda v: f(v, np), (x,), 1.0, method="richardson")[0]
    np.testing.assert_allclose(g, num, rtol=1e-9)


def test_augmented_assignment_on_a_traced_scalar_rebinds_as_numpy_does():
    def f(x):
        s = pnp.sum(x)  # a NumPy scalar in NumPy: `s += ...` rebinds, t keeps the old value
        t = s
        s += pnp.sum(x**2)
        return s + 10.0 * t

    def numpy_f(x):
        s = np.sum(x)
        t = s
        s += np.sum(x**2)
        return s + 10.0 * t

    value, g = pb.value_and_grad(f)(X)
    assert value == numpy_f(X)
    np.testing.assert_allclose(g, 11.0 + 2 * X, rtol=1e-15)


def test_plus_equals_into_a_plain_numpy_array_names_what_happened_and_the_fix():
    def f(x):
        acc = np.zeros(3)
        acc += x**2
        return pnp.sum(acc)

    with pytest.raises(TypeError) as err:
        pb.grad(f)(X)
    msg = str(err.value)
    assert "acc += x" in msg and "plain NumPy array" in msg and "pnp.stack" in msg
    assert "out" not in msg.split(":")[0]  # no longer blames an out= the user never wrote


# ----------------------------------------------------------------------------- jit and closures


def test_jit_sees_writes_into_arrays_it_closes_over():
    W = np.ones(3)
    f = lambda x: pnp.sum(pnp.sin(x) * W)  # noqa: E731
    jf, jg = pb.jit(f), pb.jit(pb.grad(f))
    assert jf(X) == pytest.approx(np.sum(np.sin(X)))
    np.testing.assert_allclose(jg(X), np.cos(X), rtol=1e-15)
    W[:] = 7.0
    assert jf(X) == pytest.approx(7.0 * np.sum(np.sin(X)), rel=1e-15)
    np.testing.assert_allclose(jg(X), 7.0 * np.cos(X), rtol=1e-15)


SCALE = np.array([2.0, 3.0, 4.0])


def _scaled(x):
    return pnp.sum(SCALE * x**2)


def test_jit_sees_a_global_rebound_and_a_global_of_a_called_function():
    global SCALE
    old = SCALE
    try:
        j = pb.jit(pb.grad(lambda x: _scaled(x)))
        np.testing.assert_allclose(j(X), 2 * SCALE * X, rtol=1e-15)
        SCALE = np.array([1.0, 1.0, 1.0])  # a new array bound to the name
        np.testing.assert_allclose(j(X), 2 * X, rtol=1e-15)
        SCALE[1] = 5.0  # and a write into it
        np.testing.assert_allclose(j(X), 2 * SCALE * X, rtol=1e-15)
        assert j.trace_count == 3
    finally:
        SCALE = old


def test_clear_cache_drops_the_generated_sources_from_linecache():
    j = pb.jit(lambda x: pnp.exp(-x))
    j(X)
    j(np.ones((2, 2)))
    names = [j.source(X), j.source(np.ones((2, 2)))]  # two compiled versions
    files = [k for k, v in linecache.cache.items()
             if "pullback.jit" in str(k) and "".join(v[2]) in names]
    assert len(files) == 2
    j.clear_cache()
    assert not [k for k in files if k in linecache.cache]


# ----------------------------------------------------------------------------- argnums


def test_repeated_argnums_are_refused():
    f = lambda x, y: pnp.sum(x * y)  # noqa: E731
    with pytest.raises(ValueError, match=r"argnums \(0, 0\).*more than once"):
        pb.grad(f, argnums=(0, 0))(X, X)
    with pytest.raises(ValueError, match="more than once"):
        pb.jacrev(f, argnums=(1, -1))(X, X)


def test_numpy_integer_argnums_work_and_other_types_say_what_is_expected():
    f = lambda x, y: pnp.sum(x * y)  # noqa: E731
    np.testing.assert_array_equal(pb.grad(f, argnums=np.int64(1))(X, 2 * X), X)
    for bad in (0.0, "0", True, (0, 1.0)):
        with pytest.raises(TypeError, match=r"argnums must be an int or a tuple of ints"):
            pb.grad(f, argnums=bad)(X, X)


# ----------------------------------------------------------------------------- results


def test_vjp_fn_and_linearize_keep_the_point_they_were_built_at():
    x = X.copy()
    f = lambda v: pnp.sin(v) * v  # noqa: E731
    _, vjp_fn = pb.vjp(f, x)
    _, jvp_fn = pb.linearize(f, x)
    want = np.cos(X) * X + np.sin(X)
    x[:] = 0.0
    np.testing.assert_allclose(vjp_fn(np.ones(3))[0], want, rtol=1e-15)
    np.testing.assert_allclose(jvp_fn(np.ones(3)), want, rtol=1e-15)


def test_gradients_are_separate_arrays_and_never_the_callers_cotangent():
    ga, gb = pb.grad(lambda a, b: pnp.sum(a + b), argnums=(0, 1))(X, X)
    assert ga is not gb
    ga *= 10.0
    np.testing.assert_array_equal(gb, np.ones(3))
    ct = np.ones(3)
    (g,) = pb.vjp(lambda x: x, X)[1](ct)
    assert g is not ct
    g *= 2.0
    np.testing.assert_array_equal(ct, np.ones(3))


def test_the_gradient_with_respect_to_a_python_number_is_a_numpy_scalar():
    g = pb.grad(lambda x: 3.0)(1.0)
    assert type(g) is np.float64 and g == 0.0
    g = pb.grad(lambda x: x * x)(3.0)
    assert type(g) is np.float64 and g == 6.0


def test_jacrev_of_a_complex_output_of_real_input_refuses_and_jacfwd_gives_it():
    x = np.array([1.0, 2.0, 0.5, -1.0])
    with pytest.raises(TypeError, match="^jacrev of fft: .*complex.*jacfwd"):
        pb.jacrev(np.fft.fft)(x)
    n = len(x)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    np.testing.assert_allclose(pb.jacfwd(np.fft.fft)(x), dft, atol=1e-14)


def test_jit_keeps_the_broadcast_that_feeds_a_matrix_product():
    # the simplifier once dropped broadcast_to before matmul: core dimensions do not broadcast
    W = np.ones((2, 2))
    f = lambda a: pnp.sum(pnp.sin(pnp.sum(a @ W, axis=1)))  # noqa: E731
    a = np.array([[0.3, -0.2], [1.0, 0.5]])
    want = np.outer(np.cos((a @ W).sum(axis=1)), W.sum(axis=1))
    np.testing.assert_allclose(pb.grad(f)(a), want, rtol=1e-15)
    np.testing.assert_allclose(pb.jit(pb.grad(f))(a), want, rtol=1e-15)


def test_an_element_read_from_an_array_is_a_copy_not_a_view():
    # NumPy's y[0] of a 1-d y is a scalar: later writes into y do not reach it
    def swap(x, np=np):
        y = x * 1.0
        y[0], y[2] = y[2], y[0]
        return y

    def keep(x, np=np):
        y = x * 1.0
        b = y[0]
        y[0] = 5.0 * x[1]
        return b * y

    x = np.array([1.0, 2.0, 3.0])
    for f in (swap, keep):
        np.testing.assert_array_equal(f(x, pnp), f(x))
        num = pb.check.numerical_jacobian(f, x, method="richardson")
        traced = lambda v, f=f: f(v, pnp)  # noqa: E731
        np.testing.assert_allclose(pb.jacrev(traced)(x), num, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(pb.jacfwd(traced)(x), num, rtol=1e-9, atol=1e-12)
