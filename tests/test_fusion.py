"""The fusion pass and the Numba backend of pb.jit: which equations become one kernel (on a
printed IR), every spec-table row compiled with fused kernels equals eager (values and
gradients), fused and unfused code agree, every ufunc, reduction, cast and broadcast a
kernel spells equals NumPy (specials included), the threaded loops equal the serial ones,
and the compiled kernels are cached on disk.

Kernels run two ways: with CPython (``executor="python"``: the same loop source, no Numba
needed, so these tests always run) and compiled by Numba (skipped when Numba is not
installed). Numba's compilation is the slow part, so the Numba tests are few and small; the
spec table is compiled by Numba in a sample of its rows (all of them with
``PULLBACK_TEST_NUMBA_ALL=1``), its kernels cached under ``.venv/pullback-cache``.
"""

from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.compile import codegen_numba, fusion
from pullback.compile import jit as jit_module
from pullback.compile.codegen_numba import compile_graph_numba, kernel_source
from pullback.compile.codegen_numpy import rewrite as codegen_numpy_rewrite
from pullback.compile.fusion import UFUNCS, fuse, kernels
from specs import ALL_SPECS, OpSpec, sample

HAS_NUMBA = codegen_numba.available()
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the fast extra)")
_VENV = Path(__file__).resolve().parents[1] / ".venv"
if HAS_NUMBA and "PULLBACK_CACHE_DIR" not in os.environ and _VENV.is_dir():
    os.environ["PULLBACK_CACHE_DIR"] = str(_VENV / "pullback-cache")


@pytest.fixture
def fuse_everything(monkeypatch):
    """Every group of one operation or more becomes a kernel, whatever its size."""
    monkeypatch.setattr(fusion, "MIN_OPS", 1)
    monkeypatch.setattr(fusion, "MIN_SIZE", 1)
    monkeypatch.setattr(fusion, "MIN_OPS_SMALL", 1)


@pytest.fixture
def python_kernels(monkeypatch, fuse_everything):
    """Kernels run by CPython: the loop source of the Numba backend, without Numba."""
    monkeypatch.setattr(codegen_numba, "EXECUTOR", "python")
    monkeypatch.setattr(jit_module, "numba_available", lambda: True)


# ----------------------------------------------------------------------------- the pass


def test_fusion_pass_on_a_printed_ir():
    def f(x, b, W):
        h = pnp.tanh(x @ W + b)  # the product stays on BLAS; add and tanh: one kernel
        return pnp.sum(h * h, axis=1), pnp.exp(-h)

    g = pb.make_graph(f, np.ones((8, 4)), np.ones(5), np.ones((4, 5))).simplified()
    assert str(g) == (
        "{ lambda ; a:f64[8,4] b:f64[5] c:f64[4,5]. let\n"
        "    d:f64[8,5] = matmul a c\n"
        "    e:f64[8,5] = add d b\n"
        "    f:f64[8,5] = tanh e\n"
        "    g:f64[8,5] = multiply f f\n"
        "    h:f64[8] = sum[axes=(1,) keepdims=False] g\n"
        "    i:f64[8,5] = negative f\n"
        "    j:f64[8,5] = exp i\n"
        "  in (h, j) }"
    )
    fused = fuse(g, min_size=1)
    assert str(fused) == (
        "{ lambda ; a:f64[8,4] b:f64[5] c:f64[4,5]. let\n"
        "    d:f64[8,5] = matmul a c\n"
        "    e:f64[8] f:f64[8,5] = fused[kernel=k0[8,5]{add tanh multiply sum negative exp}] d b\n"
        "  in (e, f) }"
    )
    [k] = kernels(fused)
    assert [e.prim.name for e in k.eqns] == ["add", "tanh", "multiply", "sum", "negative", "exp"]
    assert k.shape == (8, 5) and len(k.inputs) == 2 and len(k.outputs) == 2
    # the fused graph means what the graph meant (its kernels run unfused by NumPy)
    args = [np.random.default_rng(0).standard_normal(s) for s in ((8, 4), (5,), (4, 5))]
    for got, want in zip(fused(*args), g(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15)


def test_a_reduction_ends_its_group_and_products_split_groups():
    def f(x):
        z = pnp.exp(x)
        s = pnp.sum(z, axis=1, keepdims=True)  # complete only after the loop...
        return pnp.log(s) + z / s  # ...so its readers are another group

    g = pb.make_graph(f, np.ones((6, 4))).simplified()
    ks = kernels(fuse(g, min_size=1))
    names = [[e.prim.name for e in k.eqns] for k in ks]
    # log(s) on (6,1): after the loop, in the same kernel (its epilogue)
    assert names == [["exp", "sum", "log"], ["divide", "add"]]
    assert repr(ks[0]) == "k0[6,4]{exp sum | [6,1] log}"
    assert [e.prim.name for e in ks[0].epilogue] == ["log"] and ks[1].epilogue == []


def _epilogues(x, b, w):
    z = pnp.exp(x * w)
    s = pnp.sum(z, axis=0)  # (4,): its epilogue reads it and an outside input
    m = pnp.max(z, axis=1, keepdims=True)  # (3, 1): another shape, not in the epilogue
    t = pnp.sum(z)  # a whole-array sum: a scalar the epilogue reads
    u = b - 0.1 * s
    v = pnp.sqrt(u * u + t)
    return v, u, m, z + m


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
def test_epilogue_after_the_loop_equals_numpy(executor):
    """Equations on a reduction's result run after the loop in the same kernel (an SGD
    update of a bias, 1 / sum); the other shapes and readers of the loop stay outside."""
    rng = np.random.default_rng(9)
    x, b, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    g = pb.make_graph(_epilogues, x, b, w).simplified()
    fn, source, _, fused = compile_graph_numba(g, "epi", executor=executor, min_size=1)
    ks = kernels(fused)
    assert [e.prim.name for e in ks[0].epilogue] == ["multiply", "subtract", "multiply",
                                                     "add", "sqrt"]
    assert "for i0 in range(4):" in source  # the epilogue's loop over s's shape
    for a, want in zip(fn(x, b, w), _epilogues(x, b, w), strict=True):
        _close(a, want, "epilogue")


def test_small_groups_stay_numpy_calls():
    g = pb.make_graph(lambda x: pnp.sin(x) + 2.0 * x, np.ones(300)).simplified()
    # 3 operations on 300 numbers: a kernel; a lone operation stays a NumPy call
    assert [[e.prim.name for e in k.eqns] for k in kernels(fuse(g))] == [["sin", "multiply", "add"]]
    assert kernels(fuse(g, min_ops=4, min_size=1)) == []
    g1 = pb.make_graph(lambda x: pnp.sin(x), np.ones(3)).simplified()
    assert kernels(fuse(g1)) == [] and len(kernels(fuse(g1, min_ops=1, min_size=1))) == 1
    # on small arrays, groups of MIN_OPS_SMALL operations or more (a kernel call costs about
    # two NumPy calls), fewer stay NumPy calls
    g2 = pb.make_graph(lambda x: pnp.sin(x) * 2.0, np.ones(3)).simplified()
    assert len(kernels(fuse(g2))) == (1 if fusion.MIN_OPS_SMALL <= 2 else 0)


def test_order_stays_valid_when_an_outside_value_comes_between():
    # d = x * 2 starts a group; the product reads it; e = d + product cannot join the group
    # (the product is computed after the group starts), so it starts its own
    def f(x, W):
        d = x * 2.0
        p = d @ W
        return pnp.sin(d + p) * 3.0

    g = pb.make_graph(f, np.ones((4, 4)), np.ones((4, 4))).simplified()
    fused = fuse(g, min_ops=1, min_size=1)
    assert [e.prim.name for e in fused.eqns] == ["fused", "matmul", "fused"]
    args = (np.arange(16.0).reshape(4, 4) / 10, np.eye(4) + 0.1)
    np.testing.assert_allclose(fused(*args)[0], f(*args), rtol=1e-15)


# ----------------------------------------------------------------------------- the spec table


def _tol(dtype) -> float:
    return 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11


def _close(got, want, what: str) -> None:
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} != {np.shape(want)}"
    assert np.result_type(got) == np.result_type(want), (
        f"{what}: dtype {np.result_type(got)} != {np.result_type(want)}"
    )
    want = np.asarray(want)
    if want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = np.abs(want[np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 0.0
    tol = _tol(want.dtype)
    # summation order differs (a loop against NumPy's pairwise sums): relative to the scale
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def _row_setup(row: OpSpec, shapes: tuple):
    rng = np.random.default_rng(zlib.crc32(f"{row.id}{shapes}fusion".encode()))
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    diff = [i for i in range(len(args)) if row.differentiable(i)]

    def f(*dargs):
        new = list(args)
        for i, d in zip(diff, dargs, strict=True):
            new[i] = d
        return row.fn(*new, **row.kwargs)

    return rng, f, [args[i] for i in diff]


def _check_row(row: OpSpec, shapes: tuple) -> int:
    """Compiled with the fusing backend, value and gradients equal eager; the kernel count."""
    rng, f, dargs = _row_setup(row, shapes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = f(*dargs)
        jf = pb.jit(f, backend="numba")
        try:
            got = jf(*dargs)
        except pb.ConcretizationError:
            # tracing is the same for both backends: the NumPy one refuses it too
            with pytest.raises(pb.ConcretizationError):
                pb.jit(f, backend="numpy")(*dargs)
            return 0
        _close(got, want, "value")
        count = sum(len(kernels(e.fused)) for e in jf._cache.values())
        if not dargs:
            return count
        w = rng.standard_normal(np.shape(want)).astype(np.result_type(want))
        def loss(*d):  # a real scalar (the real part for complex results)
            s = pnp.sum(f(*d) * w)
            return pnp.real(s) if np.iscomplexobj(want) else s

        vg = pb.value_and_grad(loss, argnums=tuple(range(len(dargs))))
        value, grads = vg(*dargs)
        jvg = pb.jit(vg, backend="numba")
        try:
            c_value, c_grads = jvg(*dargs)
        except TypeError as err:  # what the NumPy backend cannot compile either
            with pytest.raises(type(err)):
                pb.jit(vg, backend="numpy")(*dargs)
            return count
        _close(c_value, value, "value of sum(f * w)")
        for k, (g, cg) in enumerate(zip(grads, c_grads, strict=True)):
            _close(cg, g, f"gradient {k}")
        return count + sum(len(kernels(e.fused)) for e in jvg._cache.values())


def _cases():
    for row in ALL_SPECS:
        for shapes in row.shapes:
            yield pytest.param(row, shapes, id=f"{row.id}-{'x'.join(map(str, shapes))}")


@pytest.mark.parametrize("row,shapes", list(_cases()))
def test_spec_row_fused_equals_eager(row, shapes, python_kernels):
    """Every row, every group of one operation or more fused, kernels run by CPython."""
    _check_row(row, shapes)


def _numba_cases():
    everything = os.environ.get("PULLBACK_TEST_NUMBA_ALL") == "1"
    for k, case in enumerate(_cases()):
        if everything or k % 80 == 0:
            yield case


@needs_numba
@pytest.mark.parametrize("row,shapes", list(_numba_cases()))
def test_spec_row_numba_equals_eager(row, shapes, monkeypatch):
    """A sample of the rows (all with PULLBACK_TEST_NUMBA_ALL=1), compiled by Numba."""
    monkeypatch.setattr(fusion, "MIN_SIZE", 1)
    _check_row(row, shapes)


# ----------------------------------------------------------------------------- kernels


def _ufunc_program(x, y, m):
    """Every ufunc a kernel spells, with a reduction over each axis, on (rows, cols)."""
    out = []
    for name in sorted(UFUNCS):
        fn = getattr(np, name)
        if name.startswith("logical_"):
            args = (m, ~m)[: fn.nin]
        else:
            args = (x, y)[: fn.nin]
        out.append(fn(*args))
    return out


def _specials(dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (5, 8)).astype(dtype)
    x.flat[:8] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5]
    y = rng.uniform(-3, 3, (5, 8)).astype(dtype)
    y.flat[8:16] = [0.0, -0.0, np.nan, 2.0, np.inf, 1.0, -1.0, 3.0]
    return x, y, x > y


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_ufunc_in_a_kernel_equals_numpy(executor, dtype):
    x, y, m = _specials(dtype)
    g = pb.make_graph(lambda x, y, m: _ufunc_program(x, y, m), x, y, m)
    fn, _, _, fused = compile_graph_numba(g, "ufuncs", executor=executor, min_size=1)
    [k] = kernels(fused)
    assert {e.prim.name for e in k.eqns} >= UFUNCS  # and ~m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = _ufunc_program(x, y, m)
        got = fn(x, y, m)
    for name, a, b in zip(sorted(UFUNCS), got, want, strict=True):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        # the same functions of libm; NumPy's SIMD float32 loops differ by a few ulps
        rtol = 4e-7 if dtype == np.float32 else 4e-16
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)


def _reductions(x, b, c):
    z = pnp.where(x > 0, x * b, pnp.astype(x < c, x.dtype) - 1.5)  # broadcast inputs
    return (
        pnp.sum(z), pnp.sum(z, axis=0), pnp.sum(z, axis=(0, 2), keepdims=True),
        pnp.max(z, axis=1), pnp.min(z), pnp.max(z, axis=2, keepdims=True),
        pnp.sum(z * c, axis=-1),
    )


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nan", [False, True])
def test_reductions_casts_and_broadcasts_equal_numpy(executor, dtype, nan):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    if nan:
        x[1, 2, 3] = np.nan
    b = rng.standard_normal(5).astype(dtype)
    c = rng.standard_normal((3, 1, 1)).astype(dtype)
    g = pb.make_graph(_reductions, x, b, c).simplified()
    fn, _, _, fused = compile_graph_numba(g, "red", executor=executor, min_size=1)
    assert len(kernels(fused)) == 1
    got = fn(x, b, c)
    want = _reductions(x, b, c)
    for a, w in zip(got, want, strict=True):
        _close(a, w, "reduction")
        assert type(a) is type(w)  # a full reduction is NumPy's scalar, as eager


def _lane_reductions(x):
    z = pnp.exp(pnp.sin(x))  # a body that calls functions: its elements interleave
    return (pnp.sum(z), pnp.max(z, axis=1), pnp.min(z, axis=0), pnp.sum(z, axis=1),
            pnp.max(z), z * 2.0)


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("cols", [3, 4, 7, 9])
def test_interleaved_lanes_equal_numpy(executor, cols):
    """Four elements a pass (and the rest one by one): the results are NumPy's, the maxima
    of lanes that share a row included (each lane reads the row's maximum after the last
    lane's write)."""
    x = np.random.default_rng(7).uniform(-3, 3, (5, cols))
    x[2, cols - 1] = np.nan
    g = pb.make_graph(_lane_reductions, x)
    fn, source, _, fused = compile_graph_numba(g, "lanes", executor=executor, min_size=1)
    assert len(kernels(fused)) == 1
    assert ("for j in range(" in source) == (cols >= codegen_numba.LANES)
    for a, w in zip(fn(x), _lane_reductions(x), strict=True):
        _close(a, w, "interleaved")


def _rosenbrock(x):
    a, b = x[0::2], x[1::2]
    return pnp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
def test_scattered_outputs_fill_one_buffer(executor, monkeypatch):
    """The gradient of two slices: the kernel adds both halves into views of one buffer of
    zeros (no scatter_add, no add_at), and the Hessian equals eager and the closed form."""
    monkeypatch.setattr(codegen_numba, "EXECUTOR", executor)
    monkeypatch.setattr(jit_module, "numba_available", lambda: True)
    x = np.random.default_rng(8).uniform(-1.5, 1.5, 12)
    h = pb.jit(pb.hessian(_rosenbrock), backend="numba")
    src = h.source(x).split("@njit")[0]
    assert "_scatter_add" not in src and "_add_at" not in src
    assert src.count("_np.zeros(") == 1 and ", 1::2]" in src and ", 0::2]" in src
    a, b = x[0::2], x[1::2]
    want = np.zeros((12, 12))
    i = np.arange(0, 12, 2)
    want[i, i] = 1200.0 * a * a - 400.0 * b + 2.0
    want[i, i + 1] = want[i + 1, i] = -400.0 * a
    want[i + 1, i + 1] = 200.0
    _close(h(x), pb.hessian(_rosenbrock)(x), "hessian")
    _close(h(x), want, "hessian (closed form)")
    g = pb.jit(pb.grad(_rosenbrock), backend="numba")
    _close(g(x), pb.grad(_rosenbrock)(x), "gradient")


def test_zero_d_inputs_and_weak_scalars(python_kernels):
    f = pb.jit(lambda x, s: pnp.sum(pnp.exp(x * s) - s, axis=0))
    x = np.linspace(-1, 1, 12).reshape(4, 3).astype(np.float32)
    s = pnp.sum(x) + np.float32(0.5)  # a float32 NumPy scalar, traced as a 0-d input
    _close(f(x, s), np.sum(np.exp(x * s) - s, axis=0), "0-d input")


# ----------------------------------------------------------------------------- the backend


def _mlp_step(params, X, Y):
    def loss(p):
        h = pnp.maximum(X @ p[0].T + p[1], 0.0)
        z = h @ p[2].T + p[3]
        z = z - pb.stop_gradient(pnp.max(z, axis=1, keepdims=True))
        return -pnp.sum(Y * (z - pnp.log(pnp.sum(pnp.exp(z), axis=1, keepdims=True))))

    value, grads = pb.value_and_grad(loss)(params)
    return value, [p - 0.1 * g for p, g in zip(params, grads, strict=True)]


def _mlp_data(dtype=np.float64):
    rng = np.random.default_rng(5)
    params = [rng.standard_normal((16, 12)), rng.standard_normal(16),
              rng.standard_normal((4, 16)), rng.standard_normal(4)]
    X = rng.standard_normal((10, 12))
    Y = np.eye(4)[rng.integers(0, 4, 10)]
    return [p.astype(dtype) for p in params], X.astype(dtype), Y.astype(dtype)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_and_unfused_code_agree(dtype, monkeypatch):
    monkeypatch.setattr(fusion, "MIN_SIZE", 1)
    args = _mlp_data(dtype)
    fused = pb.jit(_mlp_step, backend="numba")
    plain = pb.jit(_mlp_step, backend="numpy")
    (v1, p1), (v2, p2) = fused(*args), plain(*args)
    assert "_kernel_k0(" in fused.source(*args) and "@njit" in fused.source(*args)
    assert "_kernel" not in plain.source(*args)
    _close(v1, v2, "loss")
    for a, b in zip(p1, p2, strict=True):
        _close(a, b, "parameters")


@needs_numba
def test_threads_equal_one_thread(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_SIZE", 1)
    args = _mlp_data()
    serial = pb.jit(_mlp_step, backend="numba")(*args)
    threaded_fn = pb.jit(_mlp_step, backend="numba", threads=2)
    threaded = threaded_fn(*args)
    assert "prange" in threaded_fn.source(*args)
    _close(threaded[0], serial[0], "loss")
    for a, b in zip(threaded[1], serial[1], strict=True):
        _close(a, b, "parameters")


@needs_numba
def test_kernels_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("PULLBACK_CACHE_DIR", str(tmp_path))
    x = np.linspace(0, 1, 64)
    f = pb.jit(lambda x: pnp.sum(pnp.sin(x) * pnp.cos(x) + 1.25), backend="numba")
    np.testing.assert_allclose(f(x), np.sum(np.sin(x) * np.cos(x) + 1.25), rtol=1e-13)
    sources = list((tmp_path / "kernels").glob("pullback_kernels_*.py"))
    assert len(sources) == 1
    assert "cache=True" in sources[0].read_text()
    assert list((tmp_path / "kernels" / "__pycache__").glob("*.nbi"))  # Numba's index


def test_kernel_source_is_loops_over_the_shape():
    g = fuse(pb.make_graph(lambda x, b: pnp.sum(pnp.exp(x + b), axis=0),
                           np.ones((3, 6)), np.ones(6)).simplified(), min_size=1)
    src = kernel_source(kernels(g)[0])
    # the body calls exp: 4 elements of the last axis a pass, interleaved, then the rest
    assert "for i0 in range(3):" in src and "for j in range(0, 4, 4):" in src
    assert "for i1 in range(4, 6):" in src
    assert "i1_3 = j + 3" in src and "math.exp(v2_3)" in src
    assert "in1[i1]" in src  # the broadcast input, read where it broadcasts
    assert "red0[i1] += " in src and "red0[i1_2] += " in src
    # no function called: one element a pass (LLVM vectorizes the loop itself)
    g1 = fuse(pb.make_graph(lambda x: x * 2.0 + 1.0, np.ones((3, 8))), min_size=1)
    src1 = kernel_source(kernels(g1)[0])
    assert "for i1 in range(8):" in src1 and "j" not in src1
    # a parallel loop over the first axis would race on the sum over it: a plain range
    assert "prange" not in kernel_source(kernels(g)[0], parallel=True)
    g2 = fuse(pb.make_graph(lambda x: pnp.sum(pnp.exp(x), axis=1), np.ones((3, 4))), min_size=1)
    assert "for i0 in prange(3):" in kernel_source(kernels(g2)[0], parallel=True)
    # two outputs added into one buffer could add into one element from two threads
    g3 = fuse(pb.make_graph(lambda x: (pnp.exp(x) * 2.0, pnp.sin(x) + 1.0), np.ones((3, 4))),
              min_size=1)
    [k3] = kernels(g3)
    assert "prange" in kernel_source(k3, parallel=True, sinks=frozenset({0}))
    two = kernel_source(k3, parallel=True, sinks=frozenset({0, 1}))
    assert "prange" not in two and "out0[i0, i1_0] += " in two


def test_jit_options_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="backend must be one of"):
        pb.jit(np.sin, backend="cuda")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        pb.jit(np.sin, threads=0)
    monkeypatch.setattr(jit_module, "numba_available", lambda: False)
    with pytest.raises(ImportError, match=r"pullback\[fast\]"):
        pb.jit(np.sin, backend="numba")
    assert pb.jit(np.sin, backend="auto").backend == "numpy"  # auto without Numba: NumPy
    monkeypatch.setattr(jit_module, "numba_available", lambda: True)
    assert pb.jit(np.sin, backend="auto").backend == "numba"
    assert pb.jit(np.sin).backend == "numpy"  # the default


# ----------------------------------------------------------------------------- rewrites


def test_rewrites_fold_transposes_and_scatters_and_reuse_buffers():
    """Both backends: (x.T @ y).T as y.T @ x, two scatter-adds into one buffer, out=."""
    def f(x, W):
        a, b = x[0::2], x[1::2]
        h = pnp.tanh(W.T @ x.reshape(-1, 1))  # a product of a transposed matrix
        return pnp.sum((b - a * a) ** 2) + pnp.sum(h * h)

    x = np.linspace(-1.0, 1.0, 8)
    W = np.random.default_rng(6).standard_normal((8, 3))
    g = pb.jit(pb.grad(f, argnums=(0, 1)), backend="numpy")
    src = g.source(x, W)
    assert "_add_at(" in src and src.count("_scatter_add(") == 1  # one buffer of zeros
    assert "out=" in src  # a dead temporary takes a result
    for got, want in zip(g(x, W), pb.grad(f, argnums=(0, 1))(x, W), strict=True):
        _close(got, want, "gradient")


def test_transpose_of_a_product_is_a_product_of_transposes():
    def f(x, y):
        return (x.T @ y).T * 2.0

    args = (np.arange(6.0).reshape(3, 2), np.arange(12.0).reshape(3, 4))
    g = pb.jit(f, backend="numpy")
    assert [e.prim.name for e in codegen_numpy_rewrite(g.graph(*args)).eqns] == [
        "transpose", "matmul", "multiply"]
    out = g(*args)
    np.testing.assert_array_equal(out, f(*args))
    assert out.flags.c_contiguous  # computed in the order it is read


def test_in_place_results_never_touch_inputs_or_viewed_arrays():
    def f(x):
        t = x * 2.0  # fresh, but viewed below: not reused
        v = t.T
        u = pnp.exp(x) + 1.0  # fresh, dead after the add: reused
        return u * 3.0, v

    x = np.ones((3, 3))
    x0 = x.copy()
    g = pb.jit(f, backend="numpy")
    src = g.source(x)
    assert "out=" in src
    a, v = g(x)
    np.testing.assert_array_equal(x, x0)  # the input is untouched
    np.testing.assert_allclose(a, (np.exp(x0) + 1.0) * 3.0)
    np.testing.assert_array_equal(v, (x0 * 2.0).T)


# ----------------------------------------------------------------------------- layouts


def _two_layers(W1, b1, W2, X):
    h = pnp.maximum(X @ W1.T + b1, 0.0)
    z = h @ W2.T
    return pnp.sum(pnp.tanh(z) * z)


def _layer_args(dtype, layout):
    """Odd shapes (every product at least FLIP_MIN rows and columns), as row-major arrays,
    column-major arrays, transposed views or strided views."""
    rng = np.random.default_rng(12)
    W1 = rng.standard_normal((45, 37)).astype(dtype)
    b1 = rng.standard_normal(45).astype(dtype)
    W2 = rng.standard_normal((33, 45)).astype(dtype)
    X = rng.standard_normal((39, 37)).astype(dtype)
    X[::5, ::3] = 0.0  # ReLU ties: the derivative's where(== 0) branch
    b1[::4] = 0.0
    if layout == "F":
        return [np.asfortranarray(a) for a in (W1, b1, W2, X)]
    if layout == "transposed":
        return [np.ascontiguousarray(a.T).T for a in (W1, b1, W2, X)]
    if layout == "strided":
        out = []
        for a in (W1, b1, W2, X):
            big = np.zeros(tuple(2 * n for n in a.shape), dtype)
            big[tuple(slice(None, None, 2) for _ in a.shape)] = a
            out.append(big[tuple(slice(None, None, 2) for _ in a.shape)])
        return out
    return [W1, b1, W2, X]


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transposed_products_and_column_major_kernels_equal_eager(executor, dtype,
                                                                   monkeypatch):
    """x @ W.T computed as (W @ x.T).T, the kernels after it looping column-major over
    column-major arrays (the bias gradient summed column by column): values and gradients
    equal eager on inputs of every layout."""
    monkeypatch.setattr(codegen_numba, "EXECUTOR", executor)
    monkeypatch.setattr(jit_module, "numba_available", lambda: True)
    vg = pb.value_and_grad(_two_layers, argnums=(0, 1, 2))
    jvg = pb.jit(vg, backend="numba")
    src = jvg.source(*_layer_args(dtype, "C"))
    if dtype == np.float32:  # OpenBLAS's sgemm is faster on the transposed product
        assert "f = (e.T @ d.T).T" in src  # x @ W1.T computed as (W1 @ x.T).T
        assert 'order="F"' in src  # a kernel filling column-major arrays
        assert 'fastmath={"reassoc"}' in src  # the bias gradient: sums down the columns
        assert "for i1 in range(45):\n        q0 = " in src
    else:  # dgemm is not: NumPy's layouts
        assert ".T @ " not in src and "order=" not in src and "fastmath" not in src
    for layout in ("C", "F", "transposed", "strided"):
        args = _layer_args(dtype, layout)
        value, grads = vg(*args)
        c_value, c_grads = jvg(*args)
        _close(c_value, value, f"value ({layout})")
        for k, (g, cg) in enumerate(zip(grads, c_grads, strict=True)):
            _close(cg, g, f"gradient {k} ({layout})")
            assert cg.flags.c_contiguous or cg.ndim < 2, f"gradient {k} ({layout})"
    assert jvg.trace_count == 1
    if executor == "numba":  # the column-major loops in parallel (prange over the columns)
        threaded = pb.jit(vg, backend="numba", threads=2)
        args = _layer_args(dtype, "C")
        assert "prange" in threaded.source(*args)
        value, grads = vg(*args)
        t_value, t_grads = threaded(*args)
        _close(t_value, value, "value (threads=2)")
        for k, (g, tg) in enumerate(zip(grads, t_grads, strict=True)):
            _close(tg, g, f"gradient {k} (threads=2)")


@pytest.mark.parametrize("executor", ["python", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_major_kernels_with_reductions_equal_numpy(executor, dtype):
    """A kernel over a transposed matrix loops column-major: sums and maxima along either
    axis and both, a broadcast row and column, and a column-major output."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((41, 35)).astype(dtype)
    r = rng.standard_normal(41).astype(dtype)
    c = rng.standard_normal((35, 1)).astype(dtype)

    def cols(x, r, c):  # reductions along the columns only: sums in registers
        y = pnp.exp(x.T) * r + c
        s = pnp.sum(y * y, axis=0, keepdims=True)
        return (pnp.sum(y, axis=0), pnp.max(y * 2.0, axis=0), pnp.tanh(y) @ x,
                pnp.log(s) * 0.5 - 1.0)  # an epilogue after the loop

    def both(x, r, c):  # along both axes: column-major loops, the sums in buffers
        y = pnp.sin(x.T) - r * c
        return pnp.sum(y, axis=0), pnp.sum(y * y, axis=1), pnp.max(y, axis=1), y @ x

    for f, by_column in ((cols, True), (both, False)):
        g = pb.make_graph(f, x, r, c)
        fn, src, _, fused = compile_graph_numba(g, "cols", executor=executor, min_size=1)
        assert ('fastmath={"reassoc"}' in src) == by_column
        assert 'order="F"' in src  # the kernel's output of its shape: column-major
        assert "    for i1 in range(41):\n        " in src  # the columns outermost
        got, want = g.unflatten_outputs(fn(x, r, c)), f(x, r, c)
        for k, (a, b) in enumerate(zip(got, want, strict=True)):
            _close(a, b, f"{f.__name__} output {k}")
