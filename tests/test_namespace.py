"""Issue 9: NumPy's whole namespace, array-likes, ndarray methods and the errors that say
what to write instead.

Derivatives here are checked against closed forms (the spec table and tests/test_programs.py
check the functions against finite differences in both modes and to second order).
"""

from __future__ import annotations

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.core.trace import TracerConversionError
from pullback.numpy import _namespace


def _cause(err: BaseException, kind: type) -> BaseException:
    """``err`` or the first exception of its ``__cause__``/``__context__`` chain of ``kind``."""
    while err is not None and not isinstance(err, kind):
        err = err.__cause__ or err.__context__
    assert err is not None, f"no {kind.__name__} in the chain"
    return err


# ----------------------------------------------------------------------------- errors


def test_writing_a_traced_scalar_into_np_zeros_names_the_fixes() -> None:
    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = x[i] ** 2
        return out.sum()

    # NumPy replaces the conversion's error by its own ValueError ("setting an array
    # element with a sequence") for a scalar write: the transformation raises pullback's
    # again, under every transformation
    x = np.ones(3)
    for run in (lambda: pb.grad(f)(x), lambda: pb.jvp(f, (x,), (x,)),
                lambda: pb.vmap(f)(np.ones((2, 3))), lambda: pb.jit(f)(x),
                lambda: pb.grad(pb.jit(f))(x)):
        with pytest.raises(TracerConversionError) as info:
            run()
        text = str(info.value)
        assert "plain NumPy array" in text and "out[i] = ..." in text
        assert "pnp.zeros" in text and "np.zeros_like(x)" in text and "np.stack" in text
        assert isinstance(info.value.__cause__, ValueError)  # NumPy's, kept in the chain


def test_a_valueerror_of_numpy_elsewhere_is_left_alone() -> None:
    # the swap happens only for NumPy's error at the write that converted the traced value
    def f(x):
        out = np.zeros(3)
        try:
            out[0] = x[0]
        except ValueError:
            pass
        np.zeros(3)[0] = [1.0, 2.0]  # a real sequence: NumPy's own error, unrelated
        return x.sum()

    with pytest.raises(ValueError, match="sequence") as info:
        pb.grad(f)(np.ones(3))
    assert not isinstance(info.value, TracerConversionError)


def test_writing_a_traced_slice_into_a_plain_array_names_the_fixes() -> None:
    def f(x):
        out = np.empty(3)
        out[:] = x * 2.0
        return out.sum()

    with pytest.raises(TracerConversionError, match=r"plain NumPy array.*pnp\.zeros.*np\.stack"):
        pb.grad(f)(np.ones(3))


def test_the_suggested_fixes_work() -> None:
    x = np.array([1.0, 2.0, 3.0])

    def with_buffer(x):
        out = pnp.zeros(3)
        for i in range(3):
            out[i] = x[i] ** 2
        return out.sum()

    def with_zeros_like(x):
        out = np.zeros_like(x)
        for i in range(3):
            out[i] = x[i] ** 2
        return out.sum()

    def with_stack(x):
        return np.stack([x[i] ** 2 for i in range(3)]).sum()

    for f in (with_buffer, with_zeros_like, with_stack):
        np.testing.assert_allclose(pb.grad(f)(x), 2 * x, rtol=1e-15)


def test_np_array_of_traced_values_names_pnp_array_and_np_stack() -> None:
    with pytest.raises(TracerConversionError, match=r"np\.array.*pnp\.array.*np\.stack"):
        pb.grad(lambda x: np.array([x[0] * x[1], x[2]]).sum())(np.ones(3))
    with pytest.raises(TracerConversionError, match=r"pnp\.mean\(\[a, b\]\)"):
        pb.grad(lambda x: np.mean([x[0], x[1]]))(np.ones(2))


def test_item_and_tolist_say_why() -> None:
    for call in (lambda x: x[0].item(), lambda x: x.tolist()):
        with pytest.raises(TracerConversionError, match="Python numbers.*index the array"):
            pb.grad(call)(np.ones(2))


def test_refused_functions_name_themselves_and_the_reason() -> None:
    x = np.array([0.5, 1.0])
    with pytest.raises(NotImplementedError, match=r"pullback\.numpy\.i0 .*I1"):
        pb.grad(lambda x: pnp.sum(pnp.i0(x)))(x)
    with pytest.raises(NotImplementedError, match=r"i0 .*I1"):
        pb.grad(lambda x: np.sum(np.i0(x)))(x)  # NumPy's own function dispatches here
    with pytest.raises(NotImplementedError, match="save.*return the value"):
        pb.grad(lambda x: np.save("never-written.npy", x) or x.sum())(x)
    with pytest.raises(NotImplementedError, match="shares_memory.*no memory"):
        pb.grad(lambda x: np.shares_memory(x, x) or x.sum())(x)
    # outside a transformation they are NumPy's
    np.testing.assert_array_equal(pnp.i0(x), np.i0(x))


def test_value_dependent_shapes_are_refused_under_jit_not_guessed() -> None:
    x = np.array([3.0, 1.0, 3.0])
    with pytest.raises(pb.ConcretizationError, match="depends on the values"):
        pb.jit(lambda x: pnp.unique(x))(x)
    with pytest.raises(pb.ConcretizationError, match="depends on the values"):
        pb.jit(lambda a: pnp.linalg.eigvals(a))(np.diag(x))
    np.testing.assert_array_equal(pnp.unique(x), [1.0, 3.0])


def test_histogram2d_with_edges_from_traced_samples_is_refused() -> None:
    x = np.array([0.1, 0.5, 0.9])
    with pytest.raises(NotImplementedError, match="range= or the edges"):
        pb.grad(lambda x: pnp.sum(x * pnp.histogram2d(x, x, 2)[0].sum()))(x)
    counts = pb.grad(lambda x: pnp.sum(x) * pnp.histogram2d(x, x, 2, range=[[0, 1], [0, 1]])[0]
                     .sum())(x)
    np.testing.assert_allclose(counts, [3.0, 3.0, 3.0])


# ----------------------------------------------------------------------------- array-likes


def test_functions_accept_lists_of_traced_values() -> None:
    a, b, c = 2.0, 3.0, 5.0
    g = pb.grad(lambda a, b: pnp.mean([a, b]), argnums=(0, 1))(a, b)
    assert g == (0.5, 0.5)
    g = pb.grad(lambda a, b, c: pnp.sum([a, b * c]), argnums=(0, 1, 2))(a, b, c)
    assert g == (1.0, c, b)
    g = pb.grad(lambda a, b: pnp.prod(pnp.array([[a, b], [b, 1.0]])), argnums=(0, 1))(a, b)
    assert g == (b * b, 2 * a * b)
    g = pb.grad(lambda a, b: pnp.r_[a, b, 1.0] @ np.array([1.0, 2.0, 3.0]),
                argnums=(0, 1))(a, b)
    assert g == (1.0, 2.0)
    g = pb.grad(lambda a: pnp.stack([a, 1.0]).sum() * pnp.concatenate([[a], [1.0]])[0])(a)
    assert g == 2 * a + 1.0
    g = pb.grad(lambda a, b: pnp.dot([a, b], [b, 1.0]), argnums=(0, 1))(a, b)
    assert g == (b, a + 1.0)
    # plain NumPy dispatches when a traced value is among the arguments
    g = pb.grad(lambda x: np.sum(np.add([x[0], x[1]], x)))(np.ones(2))
    np.testing.assert_allclose(g, [2.0, 2.0])
    g = pb.grad(lambda x: pnp.linalg.norm([x[0], 4.0]))(np.array([3.0]))
    np.testing.assert_allclose(g, [0.6])


def test_sequence_arguments_keep_their_items_apart() -> None:
    x = np.array([1.0, 2.0])
    got = pb.grad(lambda x: pnp.sum(pnp.concatenate([x, [x[0], 3.0]]) ** 2))(x)
    np.testing.assert_allclose(got, [4.0, 4.0])  # x[0] twice, x[1] once
    got = pb.grad(lambda x: pnp.sum(pnp.vstack([x, [x[1], 1.0]])))(x)
    np.testing.assert_allclose(got, [1.0, 2.0])


# ----------------------------------------------------------------------------- namespace


def test_every_numpy_name_resolves() -> None:
    for module, ours in ((np, pnp), (np.linalg, pnp.linalg), (np.fft, pnp.fft)):
        for name in dir(module):
            if name.startswith("_"):
                continue
            getattr(ours, name)  # no AttributeError


def test_pass_through_objects_are_numpys_own() -> None:
    assert pnp.float32 is np.float32 and pnp.ndarray is np.ndarray
    assert pnp.errstate is np.errstate and pnp.newaxis is None
    assert pnp.broadcast_shapes is np.broadcast_shapes
    assert pnp.random.default_rng is np.random.default_rng
    with pytest.raises(AttributeError, match="pullback.numpy.*no_such_function"):
        pnp.no_such_function  # noqa: B018


def test_constant_functions_take_traced_arguments() -> None:
    x = np.array([-0.5, 0.5, 1.5])
    bins = pnp.digitize(x, [0.0, 1.0])
    np.testing.assert_array_equal(bins, [0, 1, 2])
    got = pb.grad(lambda x: pnp.sum(x * pnp.digitize(x, [0.0, 1.0])))(x)
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0])
    got = pb.grad(lambda x: pnp.sum(x * np.searchsorted(x, [0.0, 1.0]).sum()))(x)
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])  # np.searchsorted dispatches too
    got = pb.grad(lambda x: pnp.sum(x * pnp.isin(x, [0.5])))(x)
    np.testing.assert_allclose(got, [0.0, 1.0, 0.0])
    # vmap: one NumPy call per entry, stacked
    got = pb.vmap(lambda v: pnp.searchsorted(np.array([0.0, 1.0]), v))(np.array([[-1.0, 0.5],
                                                                                [2.0, 0.5]]))
    np.testing.assert_array_equal(got, [[0, 1], [2, 1]])
    # jit: the call is recorded and made with the values
    got = pb.jit(lambda v: pnp.searchsorted(np.array([0.0, 1.0]), v) * v)(np.array([0.5, 2.0]))
    np.testing.assert_allclose(got, [0.5, 4.0])


def test_integer_operators_of_traced_masks_under_vmap() -> None:
    def f(x):
        inside = (x > -1.0) & (x < 1.0) | (x == 5.0)
        return pnp.where(inside ^ (x > 0.5), x * 2.0, -x)

    x = np.array([[-2.0, 0.0, 0.7], [5.0, -0.5, 3.0]])
    want = np.stack([np.where(((r > -1) & (r < 1) | (r == 5)) ^ (r > 0.5), 2 * r, -r)
                     for r in x])
    np.testing.assert_allclose(pb.vmap(f)(x), want)
    np.testing.assert_allclose(pb.jit(f)(x[0]), want[0])


def test_the_table_is_consistent() -> None:
    overlap = (set(_namespace.CONSTANT) & set(_namespace.PASS_THROUGH)) | \
        (set(_namespace.CONSTANT) & set(_namespace.REFUSED)) | \
        (set(_namespace.PASS_THROUGH) & set(_namespace.REFUSED))
    assert not overlap
    for name, reason in _namespace.REFUSED.items():
        assert len(reason) > 30, name


# ----------------------------------------------------------------------------- methods


def test_in_place_methods_act_on_every_alias() -> None:
    def f(x):
        y = x * 1.0
        alias = y
        y.sort()
        z = x * 1.0
        z.fill(2.0)
        z[0] = x[0]
        w = x * 1.0
        w.put([0, 2], [10.0, x[1] * 3.0])
        return alias * 1.0 + z + w

    x = np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(f(x), np.sort(x) + [3.0, 2.0, 2.0] + [10.0, 1.0, 3.0])
    g = pb.jacrev(f)(x)
    want = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]]) + np.diag([1.0, 0, 0])
    want += np.array([[0, 0, 0], [0, 1, 0], [0, 3, 0]])
    np.testing.assert_allclose(g, want)


def test_flat_view_and_flatten() -> None:
    def f(x):
        y = x * 1.0
        y.flat[1] = 5.0  # reaches y
        v = y.view()
        v[0, 0] = y[1, 1] * 2.0  # a view: reaches y
        f = y.flatten()
        f[0] = 100.0  # a copy: y keeps its value
        return sum(e * e for e in y.flat) + f.sum()

    x = np.arange(1.0, 5.0).reshape(2, 2)
    y = x.copy()
    y.flat[1] = 5.0
    y[0, 0] = y[1, 1] * 2.0
    np.testing.assert_allclose(f(x), (y ** 2).sum() + 100.0 + y.ravel()[1:].sum())
    g = pb.grad(f)(x)
    # y = [[2 x11, 5], [x10, x11]]: d/dx11 of (2x11)^2 + x11^2 + x11 (f keeps y[1, 1])
    want = np.array([[0.0, 0.0], [2 * x[1, 0] + 1, 8 * x[1, 1] + 2 * x[1, 1] + 1]])
    np.testing.assert_allclose(g, want)


def test_attributes_and_simple_methods() -> None:
    seen = {}

    def f(x):
        seen.update(ndim=x.ndim, size=x.size, nbytes=x.nbytes, itemsize=x.itemsize,
                    device=x.device, namespace=x.__array_namespace__(),
                    contains=2.0 in x, base=x[1:].base is x)
        parts = [x.clip(0.0, 3.0).sum(), x.round(0).sum() * 0.0, x.repeat(2).sum(),
                 x.reshape(2, 2).swapaxes(0, 1)[0, 1], x.reshape(2, 2).diagonal().sum(),
                 x.reshape(2, 2).trace(), x.conj().sum(), x.real.sum(), x.imag.sum(),
                 x.astype(np.float64).sum(), x.reshape(1, 4).squeeze()[0],
                 x.cumsum()[-1], x.cumprod()[-1], x.std(), x.var(), x.max() - x.min(),
                 x.argmax() * 1.0, x.take([0, 0]).sum()]
        return sum(parts)

    x = np.array([1.0, 2.0, 0.5, 2.5])
    g = pb.grad(f)(x)
    assert seen == dict(ndim=1, size=4, nbytes=32, itemsize=8, device="cpu",
                        namespace=pnp, contains=True, base=True)
    want = pb.grad(lambda x: f(x))(x)  # the same function, as a check of determinism
    np.testing.assert_allclose(g, want)
    h = 1e-6
    fd = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_memory_level_methods_say_why() -> None:
    for call, words in ((lambda x: x.tobytes(), "no memory"),
                        (lambda x: x.view(np.int64), r"astype"),
                        (lambda x: x.resize(4), r"np\.resize"),
                        (lambda x: x.strides, "no memory")):
        with pytest.raises((TypeError, AttributeError), match=words):
            pb.grad(lambda x, call=call: call(x) or x.sum())(np.ones(2))


def test_copy_module_and_index() -> None:
    import copy

    g = pb.grad(lambda x: (copy.copy(x) * copy.deepcopy(x)).sum())(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])
    with pytest.raises(TracerConversionError, match=r"operator\.index"):
        pb.vmap(lambda i: [1.0, 2.0][i])(np.array([0, 1]))  # a traced integer


def test_ufunc_at_on_buffers_and_plain_arrays() -> None:
    x = np.array([1.0, 2.0, 3.0])

    def f(x):
        y = pnp.zeros(3)
        np.add.at(y, [0, 0, 2], x)  # every occurrence applies, as in NumPy
        np.multiply.at(y, [2], x[1])
        return y

    np.testing.assert_allclose(f(x), [3.0, 0.0, 6.0])
    np.testing.assert_allclose(pb.jacrev(f)(x), [[1, 1, 0], [0, 0, 0], [0, 3, 2]])
    with pytest.raises(TypeError, match=r"add\.at.*plain NumPy array.*pnp\.zeros"):
        pb.grad(lambda x: np.add.at(np.zeros(3), [0], x[0]) or x.sum())(x)
    with pytest.raises(NotImplementedError, match=r"divide\.at"):
        pb.grad(lambda x: np.divide.at(x * 1.0, [0], 2.0) or x.sum())(x)


def test_constructors_with_like_give_buffers() -> None:
    def f(x):
        out = np.zeros(3, like=x)
        for i in range(3):
            out[i] = x[i] ** 2
        e = np.eye(3, like=x)
        e[0, 1] = x[0]
        return out.sum() + e.sum() + np.full(2, 1.0, like=x).sum()

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(f(x), 14.0 + 3.0 + 1.0 + 2.0)
    np.testing.assert_allclose(pb.grad(f)(x), [3.0, 4.0, 6.0])


def test_ufunc_methods_refuse_what_numpy_refuses_and_what_is_not_supported() -> None:
    x = np.arange(1.0, 7.0).reshape(2, 3)
    # NumPy's own errors, from pullback's version too
    with pytest.raises(ValueError, match="not reorderable"):
        pb.grad(lambda x: pnp.sum(np.subtract.reduce(x, axis=(0, 1))))(x)
    with pytest.raises(ValueError, match="no identity"):
        pb.grad(lambda x: pnp.sum(np.subtract.reduce(x[:, :0], axis=1)) + x[0, 0])(x)
    with pytest.raises(NotImplementedError, match=r"numpy.subtract.reduce.*\['where'\]"):
        pb.grad(lambda x: pnp.sum(np.subtract.reduce(x, where=x > 2)))(x)
    # the methods are there on pullback.numpy's ufuncs, and agree with NumPy's on plain arrays
    for name in ("add", "subtract", "maximum", "logaddexp", "hypot", "arctan2", "power"):
        for meth in ("outer", "reduce", "accumulate", "reduceat"):
            assert callable(getattr(getattr(pnp, name), meth)), f"pnp.{name}.{meth}"
    np.testing.assert_array_equal(pnp.subtract.accumulate(x, axis=1),
                                  np.subtract.accumulate(x, axis=1))
    np.testing.assert_array_equal(pnp.power.reduce(x, axis=0), np.power.reduce(x, axis=0))
    # a left fold under jit and vmap: (a - b) - c, d/da = 1, d/db = d/dc = -1
    f = lambda v: np.subtract.reduce(v)  # noqa: E731
    np.testing.assert_array_equal(pb.jit(pb.grad(f))(np.array([5.0, 1.0, 2.0])), [1, -1, -1])
    np.testing.assert_array_equal(pb.vmap(f)(x), np.subtract.reduce(x, axis=1))
