"""pb.jit: compiled and eager results agree (every spec-table row, the notebook's network, a
model with pytree parameters, Hessians, custom rules), the cache traces once per signature,
and control flow on traced values raises a clear error instead of running a stale trace."""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.compile.jit import RETRACE_WARNING
from specs import ALL_SPECS, VALUE_DEPENDENT_SHAPE, OpSpec, sample

# ----------------------------------------------------------------------------- spec table

#: functions (row names, or row ids) whose pullback.numpy wrapper computes from concrete
#: values (np.asarray of stop_gradient(x), the plain value under the tracers, Python `if` on
#: a mask), which a trace of shapes and dtypes cannot give, mapped to the reason: their rows
#: are expected to raise the clear error (xfail, not strict). Empty: every wrapper traces.
NOT_TRACEABLE: dict[str, str] = {}


def _not_traceable(row: OpSpec) -> str | None:
    return NOT_TRACEABLE.get(row.id, NOT_TRACEABLE.get(row.name))


def _shape_id(shapes: tuple) -> str:
    return "x".join(str(s).replace(" ", "") for s in shapes)


def _cases():
    for row in ALL_SPECS:
        for shapes in row.shapes:
            marks = ()
            reason = _not_traceable(row)
            if reason is not None:
                marks = pytest.mark.xfail(raises=(TypeError, RecursionError), reason=reason)
            yield pytest.param(row, shapes, id=f"{row.id}-{_shape_id(shapes)}", marks=marks)


def _row_setup(row: OpSpec, shapes: tuple):
    rng = np.random.default_rng(zlib.crc32(f"{row.id}{shapes}jit".encode()))
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    diff = [i for i in range(len(args)) if row.differentiable(i)]

    def f(*dargs):  # non-differentiable arguments are constants, as in test_ops
        new = list(args)
        for i, d in zip(diff, dargs, strict=True):
            new[i] = d
        return row.fn(*new, **row.kwargs)

    return rng, f, [args[i] for i in diff]


def _assert_same(got, want, what: str) -> None:
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} != {np.shape(want)}"
    assert np.result_type(got) == np.result_type(want), (
        f"{what}: dtype {np.result_type(got)} != {np.result_type(want)}"
    )
    # rounding differences of the compiled program's other order of operations: relative to
    # the entry, or to the largest entry for small ones (a few ulps of the array's scale)
    scale = float(np.max(np.abs(want), initial=0.0)) if np.size(want) else 0.0
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=4 * np.finfo(np.float64).eps * scale,
                               err_msg=what)


@pytest.mark.parametrize("row,shapes", list(_cases()))
def test_spec_row_compiled_equals_eager(row: OpSpec, shapes: tuple) -> None:
    rng, f, dargs = _row_setup(row, shapes)
    want = f(*dargs)
    try:
        got = pb.jit(f)(*dargs)
    except pb.ConcretizationError as err:
        if row.id not in VALUE_DEPENDENT_SHAPE:
            raise
        assert "depends on the values" in str(err)
        return  # the clear error, not a stale trace
    _assert_same(got, want, "value")
    if not dargs:
        return
    w = rng.standard_normal(np.shape(want)).astype(np.result_type(want))

    def F(*d):
        return pnp.sum(f(*d) * w)

    vg = pb.value_and_grad(F, argnums=tuple(range(len(dargs))))
    value, grads = vg(*dargs)
    c_value, c_grads = pb.jit(vg)(*dargs)
    _assert_same(c_value, value, "value of sum(f * w)")
    for k, (g, cg) in enumerate(zip(grads, c_grads, strict=True)):
        _assert_same(cg, g, f"gradient {k}")


def test_expectation_lists_name_existing_rows() -> None:
    ids = {row.id for row in ALL_SPECS}
    names = {row.name for row in ALL_SPECS}
    assert VALUE_DEPENDENT_SHAPE <= ids, VALUE_DEPENDENT_SHAPE - ids
    assert set(NOT_TRACEABLE) <= ids | names, set(NOT_TRACEABLE) - ids - names


# ----------------------------------------------------------------------------- the notebook


def notebook_loss(x, y, W1, W2):
    """The notebook's loss: 0.5 * sum((W2 relu(W1 x) - y) ** 2)."""
    h = pnp.maximum(W1 @ x, 0)
    r = W2 @ h - y
    return 0.5 * pnp.sum(r**2)


def notebook_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 2, 40)
    y = np.linspace(-2, 2, 10)
    W1 = rng.uniform(-1, 1, (5, 40))
    W2 = rng.uniform(-1, 1, (10, 5))
    return x, y, W1, W2


def notebook_closed_form(x, y, W1, W2):
    """The notebook's hand-written pullbacks."""
    x1 = W1 @ x
    x2 = np.maximum(x1, 0)
    r = W2 @ x2 - y
    g2 = W2.T @ r
    g1 = g2 * (x1 > 0)
    return 0.5 * np.sum(r**2), (W1.T @ g1, -r, np.outer(g1, x), np.outer(r, x2))


def test_notebook_network_value_and_all_gradients() -> None:
    vg = pb.value_and_grad(notebook_loss, argnums=(0, 1, 2, 3))
    step = pb.jit(vg)
    for seed in range(3):  # new values, same signature: one trace
        data = notebook_data(seed)
        value, grads = step(*data)
        e_value, e_grads = vg(*data)
        c_value, c_grads = notebook_closed_form(*data)
        _assert_same(value, e_value, "value")
        np.testing.assert_allclose(value, c_value, rtol=1e-13)
        for k, (g, eg, cg) in enumerate(zip(grads, e_grads, c_grads, strict=True)):
            _assert_same(g, eg, f"gradient {k}")
            np.testing.assert_allclose(g, cg, rtol=1e-12, atol=1e-12, err_msg=f"gradient {k}")
    assert step.trace_count == 1


def test_notebook_primitive_in_the_seed_format_compiles() -> None:
    @pb.primitive
    def relu(x):
        return np.maximum(x, 0), lambda u: (u * (x > 0),)

    def loss(x, y, W1, W2):
        r = W2 @ relu(W1 @ x) - y
        return 0.5 * pnp.sum(r**2)

    vg = pb.value_and_grad(loss, argnums=(0, 1, 2, 3))
    data = notebook_data(1)
    value, grads = pb.jit(vg)(*data)
    c_value, c_grads = notebook_closed_form(*data)
    np.testing.assert_allclose(value, c_value, rtol=1e-13)
    for g, cg in zip(grads, c_grads, strict=True):
        np.testing.assert_allclose(g, cg, rtol=1e-12, atol=1e-12)


def test_mlp_with_pytree_parameters_and_float32() -> None:
    rng = np.random.default_rng(3)
    params = pb.tree.tree_map(lambda a: a.astype(np.float32), pb.nn.init_mlp([6, 8, 3], rng))
    x = rng.standard_normal((5, 6)).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]

    def loss(params, x, labels):
        return pb.nn.softmax_cross_entropy(pb.nn.mlp(params, x), labels)

    vg = pb.value_and_grad(loss)
    step = pb.jit(vg)
    value, grads = step(params, x, labels)
    e_value, e_grads = vg(params, x, labels)
    _assert_same(value, e_value, "loss")
    leaves, tree = pb.tree.tree_flatten(grads)
    e_leaves, e_tree = pb.tree.tree_flatten(e_grads)
    assert tree == e_tree
    for k, (g, eg) in enumerate(zip(leaves, e_leaves, strict=True)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, eg, rtol=1e-6, atol=0, err_msg=f"leaf {k}")
    # a training step in float32 stays float32, and one trace serves every step
    for _ in range(3):
        _, grads = step(params, x, labels)
        params = pb.tree.tree_map(lambda p, g: p - np.float32(0.1) * g, params, grads)
    assert step.trace_count == 1
    assert all(p.dtype == np.float32 for p in pb.tree.tree_leaves(params))


# ----------------------------------------------------------------------------- transformations


def rosenbrock(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
        H[i + 1, i + 1] += 200
    return H


def test_hessian_and_hvp_compile() -> None:
    x = np.random.default_rng(5).uniform(-1.5, 1.5, 7)
    H = pb.jit(pb.hessian(rosenbrock))(x)
    np.testing.assert_allclose(H, pb.hessian(rosenbrock)(x), rtol=1e-14, atol=0)
    np.testing.assert_allclose(H, rosenbrock_hessian(x), rtol=1e-12, atol=1e-10)
    v = np.arange(7.0)
    hvp = pb.jit(lambda x, v: pb.hvp(rosenbrock, (x,), (v,)))
    g, hv = hvp(x, v)
    np.testing.assert_allclose(hv[0], rosenbrock_hessian(x) @ v, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(g[0], pb.grad(rosenbrock)(x), rtol=1e-14)


def test_jvp_and_third_order_compile() -> None:
    f = lambda x: pnp.sum(pnp.sin(x) * pnp.exp(x))  # noqa: E731
    x = np.linspace(-1, 1, 4)
    d3 = pb.grad(lambda x: pb.grad(lambda x: pb.grad(f)(x)[0])(x)[1])
    np.testing.assert_allclose(pb.jit(d3)(x), d3(x), rtol=1e-14, atol=0)
    t = np.ones(4)
    out, tan = pb.jit(lambda x, t: pb.jvp(f, (x,), (t,)))(x, t)
    e_out, e_tan = pb.jvp(f, (x,), (t,))
    np.testing.assert_allclose(tan, e_tan, rtol=1e-14)


def test_custom_vjp_and_multiple_results_compile() -> None:
    @pb.custom_vjp
    def softclip(x):
        return pnp.tanh(x) * 2.0

    softclip.defvjp(lambda x: (pnp.tanh(x) * 2.0, x), lambda x, g: (g * 2.0 / pnp.cosh(x) ** 2,))

    def f(x):
        a, b = pnp.split(x, 2)
        return pnp.sum(softclip(a) * b)

    x = np.linspace(-1, 1, 6)
    vg = pb.value_and_grad(f)
    c_value, c_grad = pb.jit(vg)(x)
    value, grad = vg(x)
    np.testing.assert_allclose(c_value, value, rtol=1e-14)
    np.testing.assert_allclose(c_grad, grad, rtol=1e-14)


def test_jit_inside_a_transformation_runs_eagerly() -> None:
    f = pb.jit(lambda x: pnp.sum(pnp.sin(x) ** 2))
    x = np.linspace(0, 1, 3)
    np.testing.assert_allclose(pb.grad(f)(x), np.sin(2 * x), rtol=1e-14)
    np.testing.assert_allclose(pb.hessian(f)(x), np.diag(2 * np.cos(2 * x)), rtol=1e-13)
    assert f.trace_count == 0  # the transformations saw through it


def test_linear_function_of_a_traced_index() -> None:
    # the cotangent reaching the scatter is a constant, the index a traced operand
    jg = pb.jit(pb.grad(lambda x, i: pnp.sum(x[i])))
    np.testing.assert_array_equal(jg(np.ones(3), np.array([0, 0, 2])), [2.0, 0.0, 1.0])
    np.testing.assert_array_equal(jg(np.ones(3), np.array([1, 1, 1])), [0.0, 3.0, 0.0])
    assert jg.trace_count == 1


def test_integer_and_boolean_arrays_are_traced() -> None:
    f = pb.jit(lambda x, i, m: pnp.sum(pnp.where(m, x[i], 0.0) ** 2))
    x = np.arange(5.0)
    assert f(x, np.array([0, 4, 4]), np.array([True, False, True])) == 16.0
    assert f(x, np.array([1, 2, 3]), np.array([True, True, False])) == 5.0
    assert f.trace_count == 1


# ----------------------------------------------------------------------------- the cache


def test_one_trace_per_signature() -> None:
    calls = []

    def f(x, scale):
        calls.append(1)
        return pnp.sum(x * scale["a"]) + scale["b"]

    jf = pb.jit(f)
    x = np.ones(3)
    s = {"a": np.float64(2.0), "b": np.ones(3)}
    np.testing.assert_array_equal(jf(x, s), [7.0, 7.0, 7.0])
    jf(x + 1, {"a": np.float64(3.0), "b": np.zeros(3)})  # new values: no trace
    assert (jf.trace_count, len(calls)) == (1, 1)
    jf(np.ones(4), {"a": np.float64(2.0), "b": np.ones(4)})  # new shapes
    assert jf.trace_count == 2
    jf(np.ones(4, np.float32), {"a": np.float64(2.0), "b": np.ones(4)})  # new dtype
    assert jf.trace_count == 3
    jf(x, {"a": np.float64(2.0), "b": 1.0})  # a Python float: static, new structure
    jf(x, {"a": np.float64(2.0), "b": 1.0})
    assert jf.trace_count == 4
    jf(x, {"a": np.float64(2.0), "b": 2.0})  # another static value
    assert jf.trace_count == 5
    jf(x + 5, s)  # back to the first signature
    assert jf.trace_count == 5 and jf.cache_size == 5
    assert len(calls) == 5
    jf.clear_cache()
    jf(x, s)
    assert jf.trace_count == 6


def test_results_follow_the_arguments_not_the_first_call() -> None:
    jf = pb.jit(lambda x, n: x**n, static_argnums=1)
    np.testing.assert_array_equal(jf(np.array([2.0]), 3), [8.0])
    np.testing.assert_array_equal(jf(np.array([3.0]), 3), [27.0])
    np.testing.assert_array_equal(jf(np.array([3.0]), 2), [9.0])
    assert jf.trace_count == 2
    kw = pb.jit(lambda x, *, n: x * n, static_argnames="n")
    assert kw(np.float64(2.0), n=4) == 8.0 and kw(np.float64(2.0), n=5) == 10.0
    assert kw.trace_count == 2


def test_static_arguments_must_be_hashable() -> None:
    jf = pb.jit(lambda x, opts: x * opts[0], static_argnums=1)
    with pytest.raises(TypeError, match="static argument 1 .* not hashable"):
        jf(np.ones(2), [2.0])
    assert jf(np.ones(2), (2.0,))[0] == 2.0


def test_retracing_warns() -> None:
    jf = pb.jit(lambda x, a: x * a)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(RETRACE_WARNING + 2):
            jf(np.ones(2), float(k))
    assert len([w for w in caught if "compiled" in str(w.message)]) == 1
    assert "np.float64" in str(caught[0].message)


def test_constant_outputs_are_fresh_arrays() -> None:
    jg = pb.jit(pb.grad(lambda x, y: pnp.sum(x * 2.0), argnums=(0, 1)))
    gx, gy = jg(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros(3))
    gy[:] = 7.0  # the caller owns what it gets
    gx[:] = 7.0
    gx2, gy2 = jg(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(gy2, np.zeros(3))
    np.testing.assert_array_equal(gx2, [2.0, 2.0])


def test_outputs_keep_their_structure() -> None:
    def f(params, x):
        return {"y": params["w"] * x, "extra": [x.sum(), None, "label"], "n": 3}

    out = pb.jit(f)({"w": np.float64(2.0)}, np.ones(2))
    assert set(out) == {"y", "extra", "n"} and out["n"] == 3
    assert out["extra"][1] is None and out["extra"][2] == "label"
    np.testing.assert_array_equal(out["y"], [2.0, 2.0])


def test_keyword_arguments_namedtuples_aux_and_array_subclasses() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", "scaled total")
    f = pb.jit(lambda x, *, scale: Pair(x * scale, pnp.sum(x)))
    out = f(np.ones(2), scale=np.float64(3.0))
    assert isinstance(out, Pair) and out.total == 2.0
    np.testing.assert_array_equal(f(np.ones(2), scale=np.float64(4.0)).scaled, [4.0, 4.0])
    assert f.trace_count == 1  # a traced keyword argument
    vg = pb.jit(pb.value_and_grad(lambda x: (pnp.sum(x**2), {"top": pnp.max(x)}), has_aux=True))
    (value, aux), g = vg(np.arange(3.0))
    assert value == 5.0 and aux == {"top": 2.0}
    np.testing.assert_array_equal(g, [0.0, 2.0, 4.0])
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])  # elementwise, as pnp.multiply treats it
    np.testing.assert_array_equal(pb.jit(pnp.multiply)(m, m), [[1.0, 4.0], [9.0, 16.0]])


def test_source_is_straight_line_numpy() -> None:
    vg = pb.jit(pb.value_and_grad(notebook_loss, argnums=(2, 3)))
    data = notebook_data()
    src = vg.source(*data)
    assert src.startswith("def notebook_loss(a, b, c, d):")
    body = src.splitlines()[1:]
    assert all(line.startswith("    ") for line in body)
    assert not any(w in src for w in ("for ", "while ", "if ", "lambda"))
    assert body[-1].strip().startswith("return (")
    # the simplified graph is smaller than the raw trace
    assert len(vg.graph(*data)) < len(pb.make_graph(pb.value_and_grad(notebook_loss,
                                                                      argnums=(2, 3)), *data))
    assert vg.trace_count == 1  # source() and graph() share the cache


# ----------------------------------------------------------------------------- control flow


def _branchy(x):
    if pnp.sum(x) > 0:
        return x * 2.0
    return -x


@pytest.mark.parametrize(
    "fn,what",
    [
        (_branchy, r"bool\(\)"),
        (pb.grad(lambda x: pnp.sum(_branchy(x))), r"bool\(\)"),
        (lambda x: x * float(pnp.max(x)), r"float\(\)"),
        (lambda x: x[: int(pnp.sum(x > 0))], r"int\(\)"),
        (lambda x: sum(x[i] for i in range(pnp.sum(x > 0))), "as an integer"),
        (lambda x: x[x > 0], "output shape that depends on the values"),
        (lambda x: pnp.nonzero(x)[0] * 1.0, "output shape that depends on the values"),
    ],
)
def test_value_dependent_python_raises_a_clear_error(fn, what) -> None:
    jf = pb.jit(fn)
    x = np.array([1.0, -2.0, 3.0])
    for _ in range(2):  # every call says so: nothing stale is cached
        with pytest.raises(pb.ConcretizationError, match=what) as info:
            jf(x)
        message = str(info.value)
        assert message.startswith("jit of ")
        assert "pnp.where" in message and "static" in message
    assert jf.cache_size == 0


def test_static_argument_makes_branching_work() -> None:
    def f(x, positive):
        return x * 2.0 if positive else -x

    jf = pb.jit(f, static_argnums=1)
    np.testing.assert_array_equal(jf(np.ones(2), True), [2.0, 2.0])
    np.testing.assert_array_equal(jf(np.ones(2), False), [-1.0, -1.0])
    # the same logic without Python control flow needs no static argument
    jw = pb.jit(lambda x: pnp.where(pnp.sum(x) > 0, x * 2.0, -x))
    np.testing.assert_array_equal(jw(np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(jw(-np.ones(2)), [1.0, 1.0])
    assert jw.trace_count == 1


def test_jit_rejects_non_callables() -> None:
    with pytest.raises(TypeError, match="expected a function"):
        pb.jit(3)
    deco = pb.jit(static_argnums=0)
    assert deco(lambda n, x: x * n)(3, np.ones(1))[0] == 3.0


def test_scalar_constants_replaces_uniform_constants_beside_full_shape_operands() -> None:
    # the pass behind pb.jit on Dask: printed IR before and after, and the same numbers
    from pullback.compile.jit import scalar_constants

    x = np.linspace(-1.0, 1.0, 4)
    g = pb.make_graph(pb.grad(lambda x: pnp.mean(pnp.sin(x) * x)), x).simplified()
    assert "lambda b:f64[4] ;" in str(g)  # the mean's cotangent: an array constant
    s = scalar_constants(g)
    assert str(s) == (
        "{ lambda ; a:f64[4]. let\n"
        "    b:f64[4] = sin a\n"
        "    c:f64[4] = multiply 0.25:f64[] a\n"
        "    d:f64[4] = multiply 0.25:f64[] b\n"
        "    e:f64[4] = cos a\n"
        "    f:f64[4] = multiply c e\n"
        "    g:f64[4] = add d f\n"
        "  in (g,) }"
    ), str(s)
    np.testing.assert_array_equal(s(x)[0], g(x)[0])
    # a constant that gives the result its shape stays an array (a scalar would not broadcast)
    c = pb.make_graph(lambda x: x + np.full((3, 2), 2.0), np.ones(2)).simplified()
    assert str(scalar_constants(c)) == str(c)
    # float32 data keeps its dtype: the scalar is a NumPy scalar of the constant's dtype
    x32 = np.ones(4, np.float32)
    g32 = pb.make_graph(pb.grad(lambda x: pnp.mean(x * x)), x32).simplified()
    out = scalar_constants(g32)(x32)[0]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, g32(x32)[0])


def test_graph_evaluation_drops_intermediates_after_their_last_use() -> None:
    # Graph.evaluate (pb.jit on CuPy and Dask arrays) forgets each intermediate after the
    # last equation that reads it: an eager library frees its memory then, not at the end
    g = pb.make_graph(lambda x: pnp.sin(pnp.cos(x)) * x + pnp.exp(x), np.ones(3)).simplified()
    names = g.names()
    assert str(g) == (
        "{ lambda ; a:f64[3]. let\n"
        "    b:f64[3] = cos a\n"
        "    c:f64[3] = sin b\n"
        "    d:f64[3] = multiply c a\n"
        "    e:f64[3] = exp a\n"
        "    f:f64[3] = add d e\n"
        "  in (f,) }"
    ), str(g)
    dead = [sorted(names[v] for v in vs) for vs in g._dead_after()]
    assert dead == [[], ["b"], ["c"], ["a"], ["d", "e"]]
    x = np.linspace(0.0, 1.0, 3)
    np.testing.assert_array_equal(g.evaluate([x])[0], np.sin(np.cos(x)) * x + np.exp(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_on_large_float_arrays_is_a_bitwise_select(dtype) -> None:
    # the NumPy backend writes where(c, a, b) of >= SELECT_SIZE floats as integer bit
    # operations (no branch per element): the same bits as np.where, NaN payloads, signed
    # zeros and infinities included, for arrays, broadcast operands and numbers
    from pullback.compile.codegen_numpy import SELECT_SIZE

    n = SELECT_SIZE
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n).astype(dtype)
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.0]
    x[6] = np.frombuffer(np.array([0x7FF8DEAD if dtype == np.float32 else 0x7FF800000000DEAD],
                                  np.int32 if dtype == np.float32 else np.int64).tobytes(),
                         dtype)[0]  # a NaN with a payload
    y = rng.standard_normal(n).astype(dtype)
    y[:4] = [-0.0, np.nan, 1.0, -np.inf]
    bias = rng.standard_normal(1).astype(dtype)

    def f(x, y, bias):
        return (pnp.where(x > 0, x, 0.0), pnp.where(y > x, y, x), pnp.where(x == 0, bias, -0.0),
                pnp.where(pnp.isnan(x), 1.5, y))

    jf = pb.jit(f)
    src = jf.source(x, y, bias)
    assert src.count("_select(") == 4, src
    for got, want in zip(jf(x, y, bias), f(x, y, bias), strict=True):
        assert got.dtype == want.dtype == dtype
        it = np.int32 if dtype == np.float32 else np.int64
        np.testing.assert_array_equal(got.view(it), np.asarray(want).view(it))
    # below the size, and for a mask that is not boolean, np.where as before
    small = pb.jit(lambda x: pnp.where(x > 0, x, 0.0)).source(x[:8])
    assert "_where(" in small and "_select(" not in small


def test_relu_gradient_uses_bitwise_selects_and_matches_eager() -> None:
    # the MLP's ReLU derivative (1 above 0, 1/2 at 0, 0 below) on 128 x 256 float32
    rng = np.random.default_rng(6)
    W = rng.standard_normal((256, 64)).astype(np.float32)
    X = rng.standard_normal((128, 64)).astype(np.float32)
    X[0] = 0.0  # ties at zero

    def loss(W, X):
        return pnp.sum(pnp.maximum(X @ W.T, 0.0) ** 2)

    g = pb.jit(pb.grad(loss))
    assert "_select(" in g.source(W, X)
    np.testing.assert_array_equal(g(W, X), pb.grad(loss)(W, X))
