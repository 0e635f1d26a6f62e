"""Dask arrays flow through pullback without being computed behind the user's back.

The spec-row test runs every row of the spec table (its first shape) on Dask arrays chunked
in two along every axis, in reverse mode (``vjp``) and forward mode (``jvp``), and checks:

- building the value and the derivative computes nothing (a callback counts Dask's
  ``compute`` calls; the synchronous scheduler runs them), and Dask's fallback to NumPy (its
  ``FutureWarning`` for a function it lacks, which computes) is an error;
- every array result is a Dask array, and no NumPy array as large as the data is embedded in
  its graph (a constant of zeros or ones made with ``np.zeros`` instead of in Dask, or an
  input computed and put back);
- one ``compute`` gives what pullback gives on the same NumPy arrays (which
  ``tests/test_ops.py`` checks against finite differences), to rounding (the chunked sums
  add in another order).

A row that needs what Dask cannot do raises ``UnsupportedOperation`` naming Dask and the
operation (``REFUSED``, the capability table of ``pullback.core.backends``); rows that fail
for reasons of their own are strict expected failures with the reason (``KNOWN``).
"""

from __future__ import annotations

import re
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from library_rows import leaves, prepare
from pullback.core import backends
from specs import ALL_SPECS, OpSpec

da = pytest.importorskip("dask.array")
import dask  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

ROOT = Path(__file__).parent.parent


class _Counting(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.computes = 0

    def _start(self, dsk):  # noqa: ANN001 - dask's hook
        self.computes += 1


def _logistic_data(seed: int) -> tuple:
    """A logistic regression's data on NumPy and on Dask (4 chunks of rows) and its weights."""
    rng = np.random.default_rng(seed)
    Xn = rng.standard_normal((400, 5))
    yn = (rng.random(400) < 0.5).astype(float)
    X, y = da.from_array(Xn, chunks=(100, 5)), da.from_array(yn, chunks=100)
    return Xn, yn, X, y, rng.standard_normal(5) * 0.1


def _logistic_loss(w, X, y):
    z = X @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - y * z)


def test_the_gradient_of_a_logistic_loss_is_one_lazy_dask_graph():
    Xn, yn, X, y, w = _logistic_data(0)
    loss = _logistic_loss

    with _Counting() as counter:
        g = pb.grad(loss)(w, X, y)
        assert isinstance(g, da.Array)
        assert counter.computes == 0  # building the gradient computes nothing
        value = g.compute()
        assert counter.computes == 1
    # no NumPy array of a data's axis length in the graph (the mean's cotangent broadcast
    # in NumPy was one: 8 bytes a row, sent to the cluster with the graph)
    own: list = []
    _graph_arrays(list(dict(X.__dask_graph__()).values()) +
                  list(dict(y.__dask_graph__()).values()), own)
    found: list = []
    _graph_arrays(list(dict(g.__dask_graph__()).values()), found)
    own_ids = {id(a) for a in own}
    assert not [a.shape for a in found if id(a) not in own_ids and a.size >= 100]
    p = 1.0 / (1.0 + np.exp(-(Xn @ w)))
    np.testing.assert_allclose(value, Xn.T @ (p - yn) / len(yn), rtol=1e-12)


# ----------------------------------------------------------------------------- every spec row

#: rows that need what Dask cannot do lazily: the operation named in the error (a prefix of
#: an entry of pullback.core.backends.CAPABILITIES["dask"])
_MASK = "x[mask] with a Dask boolean mask"
_UNKNOWN = "arrays of unknown shape"
_EIG = "eig and eigvals"
_VALUES = "checks of the values while the graph is built"
REFUSED = {
    "getitem[mask]": _MASK,
    "getitem[traced-mask-edge]": _MASK,
    "nonzero[constant]": _UNKNOWN,
    "flatnonzero[constant]": _UNKNOWN,
    "argwhere[constant]": _UNKNOWN,
    # value-shaped results: how many unique, common or kept values there are
    "unique": _UNKNOWN,
    "unique[counts]": _UNKNOWN,
    "unique_all": _UNKNOWN,
    "unique_counts": _UNKNOWN,
    "unique_inverse": _UNKNOWN,
    "unique_values": _UNKNOWN,
    "union1d": _UNKNOWN,
    "intersect1d": _UNKNOWN,
    "setxor1d": _UNKNOWN,
    "setdiff1d": _UNKNOWN,
    "trim_zeros": _UNKNOWN,
    "trim_zeros[front]": _UNKNOWN,
    "linalg.eig[complex]": _EIG,  # a real matrix with complex eigenvalues
    "linalg.eig[values]": _EIG,
    "linalg.eig[vectors]": _EIG,
    "linalg.eigvals": _EIG,
    "poly[matrix]": _EIG,
    "roots": _VALUES,
    "geomspace": _VALUES,
    "geomspace[negative]": _VALUES,
    "asarray_chkfinite": _VALUES,
    "real_if_close": _VALUES,
    "polydiv": _VALUES,
    "histogram": _VALUES,  # bins from the data's range: is it finite?
}

#: rows that fail for reasons of their own, each with the reason (strict expected failures)
KNOWN = {
    "at.set[one-side-traced]": "the row's own NumPy buffer (np.zeros(3)) is the size of the "
                               "data: the embedded-array check cannot tell them apart",
}
#: rows whose derivative in some mode is a constant made without the inputs (NumPy zeros)
CONSTANT_RESULTS: set[str] = set()

#: rows whose own function makes a NumPy array as large as the data that the result's graph
#: holds by right, which the embedded-array check cannot tell from a constant filled by a
#: rule: the solvers' starting point ``x0 = np.zeros(np.shape(p))``, an operand of the task
#: that runs SciPy's solver (the arrays equal to these are not reported)
ROW_ARRAYS = {
    f"scipy.optimize.{name}": lambda args: [np.zeros(np.size(args[0]))]
    for name in ("minimize", "root", "fixed_point", "least_squares")
}


def _chunks(shape: tuple) -> tuple:
    """Two chunks along every axis (one where the axis has length 0 or 1)."""
    return tuple(max(1, (n + 1) // 2) for n in shape)


def _dask(x: np.ndarray):
    return da.from_array(np.asarray(x), chunks=_chunks(np.shape(x)))


def _graph_arrays(value, found: list) -> None:
    """The NumPy arrays held in a Dask graph's values and tasks (recursively)."""
    if isinstance(value, np.ndarray):
        found.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _graph_arrays(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _graph_arrays(v, found)
    else:
        for attr in ("args", "kwargs", "value"):
            inner = getattr(value, attr, None)
            if inner is not None and not callable(inner):
                _graph_arrays(inner, found)


def _embedded(results: list, inputs: list, data: list, allowed: list = ()) -> list[str]:
    """Large NumPy arrays in the results' graphs that are not the inputs' own chunks: a
    constant filled in NumPy (np.zeros of the data's shape) or an input computed. Arrays equal
    to one of ``allowed`` (the row's own) are not reported."""
    own = []
    for x in inputs:
        _graph_arrays(list(dict(x.__dask_graph__()).values()), own)
    own_ids = {id(a) for a in own}
    large = max((a.size for a in data), default=0)
    bad = []
    for r in results:
        found: list = []
        _graph_arrays(list(dict(r.__dask_graph__()).values()), found)
        for a in found:
            if id(a) in own_ids or a.size < max(large, 2) or a.dtype.kind not in "fc":
                continue  # integer and boolean arrays: index constants
            if any(a.shape == b.shape and np.array_equal(a, b) for b in allowed):
                continue
            flat = a.reshape(-1)
            if np.all(flat == flat[0]) or any(
                a.shape == d.shape and np.array_equal(a, d) for d in data
            ):
                bad.append(f"array of shape {a.shape} and dtype {a.dtype}")
    return bad


def _cases():
    for row in ALL_SPECS:
        shapes = row.shapes[0]
        if not any(row.differentiable(i) for i in range(len(shapes))):
            continue
        for mode in ("rev", "fwd"):
            marks = []
            if row.id in KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[row.id]))
            yield pytest.param(row, mode, id=f"{row.id}-{mode}", marks=marks)


def _tolerance(arrays: list) -> dict:
    """Rounding of a sum in another order: float32's when any array is single precision."""
    if any(np.result_type(a) in (np.float32, np.complex64) for a in arrays):
        return dict(rtol=2e-5, atol=1e-6)
    return dict(rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("row,mode", list(_cases()))
def test_spec_row_on_dask_arrays(row: OpSpec, mode: str) -> None:
    run = prepare(row, mode, _dask, every_argument=False)
    args, x_np, x_da, seeds = run.args, run.x_np, run.x_lib, run.seeds_lib

    refused = REFUSED.get(row.id)
    with warnings.catch_warnings(), _Counting() as counter:
        # Dask's fallback for a NumPy function it lacks: it computes, behind the user's back
        warnings.filterwarnings("error", message=".*is not implemented by Dask")
        try:
            if mode == "rev":
                out, vjp_fn = pb.vjp(run.f_lib, *x_da)
                got = (out, vjp_fn(run.ct_lib))
            else:
                got = pb.jvp(run.f_lib, tuple(x_da), run.t_lib)
        except backends.UnsupportedOperation as e:
            assert refused is not None, f"refused, but not in REFUSED: {e}"
            assert f"Dask arrays do not support {refused}" in str(e)
            return
        assert refused is None, f"expected the capability table's error for {refused!r}"
        assert counter.computes == 0, "building the value and derivative computed Dask arrays"

    if mode == "rev":
        want = (run.out_np, pb.vjp(run.f_np, *x_np)[1](run.ct_np))
    else:
        want = pb.jvp(run.f_np, tuple(x_np), run.t_np)
    got_leaves, want_leaves = list(leaves(got)), list(leaves(want))
    assert len(got_leaves) == len(want_leaves)
    results = [g for g in got_leaves if isinstance(g, da.Array)]
    if row.id not in CONSTANT_RESULTS:
        for g, v in zip(got_leaves, want_leaves, strict=True):
            if isinstance(v, (np.ndarray, np.generic)):
                assert isinstance(g, da.Array), f"a result came back as {type(g).__name__}"
    allowed = ROW_ARRAYS[row.id](args) if row.id in ROW_ARRAYS else []
    bad = _embedded(results, x_da + seeds, x_np, allowed)
    assert not bad, f"NumPy arrays as large as the data in the result's graph: {bad}"

    with _Counting() as counter:
        values = dask.compute(*got_leaves, scheduler="synchronous")
        assert counter.computes == (1 if results else 0)
    tol = _tolerance(args + want_leaves)
    for g, v in zip(values, want_leaves, strict=True):
        assert np.shape(g) == np.shape(v)
        np.testing.assert_allclose(g, np.asarray(v), **tol)


# ----------------------------------------------------------------------------- the table


def test_every_limit_of_the_capability_table_is_documented():
    page = (ROOT / "docs" / "backends.md").read_text()
    for lib, limits in backends.CAPABILITIES.items():
        for limit in limits:
            assert limit.operation in page, f"{lib}: {limit.operation!r} not in backends.md"


def test_a_refusal_names_the_library_the_operation_and_what_to_do():
    x = da.from_array(np.arange(6.0) - 2.5, chunks=3)
    with pytest.raises(backends.UnsupportedOperation) as e:
        pb.grad(lambda x: pnp.sum(x[x > 0]))(x)
    text = str(e.value)
    assert "Dask arrays do not support x[mask]" in text
    assert "pnp.where(mask, x, 0)" in text
    assert "never computes a Dask array behind your back" in text


def test_a_masked_sum_written_with_where_stays_lazy():
    xn = np.arange(6.0) - 2.5
    x = da.from_array(xn, chunks=2)
    with _Counting() as counter:
        g = pb.grad(lambda x: pnp.sum(pnp.where(x > 0, x, 0.0) ** 2))(x)
        assert counter.computes == 0
    np.testing.assert_allclose(g.compute(), np.where(xn > 0, 2 * xn, 0.0), rtol=1e-15)


def test_the_seed_of_a_gradient_under_jvp_and_vmap_is_made_in_dask():
    # hvp and hessian differentiate grad again: the seed's broadcast in sum's transpose meets
    # a traced Dask value, and a NumPy seed of the data's length must not enter the graph
    xn = np.random.default_rng(0).normal(size=(40, 3))
    X = da.from_array(xn, chunks=(10, 3))
    w = np.array([0.3, -0.2, 0.1])

    def loss(w, X):
        return pnp.sum(pnp.tanh(X @ w) ** 2)

    with _Counting() as counter:
        hv = pb.jvp(lambda w: pb.grad(loss)(w, X), (w,), (np.ones(3),))[1]
        hess = pb.vmap(lambda v: pb.jvp(lambda w: pb.grad(loss)(w, X), (w,), (v,))[1])(np.eye(3))
        assert counter.computes == 0
    assert isinstance(hv, da.Array) and isinstance(hess, da.Array)
    assert _embedded([hv, hess], [X], [xn[:, 0]]) == []
    want = pb.hessian(loss)(w, xn)  # on NumPy; checked against differences in test_ops
    np.testing.assert_allclose(hess.compute(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hv.compute(), want @ np.ones(3), rtol=1e-12, atol=1e-14)


def test_scatter_add_with_repeated_indices_adds_up_lazily():
    # the derivative of x[idx] is a scatter-add: repeated indices accumulate (a bincount)
    wn = np.arange(4.0)
    idx = np.array([0, 2, 0, 3, 0])
    c = da.from_array(np.linspace(1.0, 2.0, 5), chunks=2)
    with _Counting() as counter:
        g = pb.grad(lambda w: pnp.sum(w[idx] * c))(wn)
        assert isinstance(g, da.Array) and counter.computes == 0
    want = np.zeros(4)
    np.add.at(want, idx, np.linspace(1.0, 2.0, 5))
    np.testing.assert_allclose(g.compute(), want, rtol=1e-15)


def test_the_numpy_path_makes_no_dask_call():
    # NumPy arrays never reach the Dask helpers: the fast checks come first
    x = np.arange(6.0).reshape(2, 3)
    g = pb.grad(lambda x: pnp.sum(pnp.sort(x, axis=1)[:, [0, 0]] ** 2))(x)
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, [[4 * x[0, 0], 0, 0], [4 * x[1, 0], 0, 0]])


def test_jit_compiles_for_dask_arrays_and_stays_lazy():
    # pb.jit(pb.grad(loss)) on Dask arrays: the graph traced once, evaluated with Dask's
    # functions (one lazy graph, nothing computed); NumPy arrays get NumPy's compiled code
    Xn, yn, X, y, w = _logistic_data(1)
    loss = _logistic_loss

    f = pb.jit(pb.grad(loss))
    with _Counting() as counter:
        g = f(w, X, y)
        g2 = f(w * 2, X, y)  # the cached version, for the same types and shapes
        assert counter.computes == 0
    assert isinstance(g, da.Array) and isinstance(g2, da.Array)
    assert f.cache_size == 1 and f.trace_count == 1
    assert "no NumPy code is generated" in f.source(w, X, y)
    # the mean's cotangent, folded into a constant of the data's length, is made in Dask
    assert not _embedded([g], [X, y], [Xn, yn])
    want = pb.grad(loss)(w, Xn, yn)
    np.testing.assert_allclose(g.compute(), want, rtol=1e-12)
    np.testing.assert_allclose(g2.compute(), pb.grad(loss)(w * 2, Xn, yn), rtol=1e-12)
    gn = f(w, Xn, yn)  # NumPy arrays: another entry of the cache, NumPy's generated code
    assert type(gn) is np.ndarray and f.cache_size == 2
    np.testing.assert_allclose(gn, want, rtol=1e-12)


def test_jit_of_a_spec_row_with_a_dask_path_stays_lazy():
    # a scatter-add (Dask's bincount path) and a sort (one chunk along the axis) under jit
    xn = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    x = da.from_array(xn, chunks=2)
    idx = np.array([0, 2, 0])

    def f(x):
        return pnp.sum(pnp.sort(x, axis=1)[idx] ** 2)

    with _Counting() as counter:
        g = pb.jit(pb.grad(f))(x)
        assert counter.computes == 0
    assert isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), pb.grad(f)(xn), rtol=1e-14)


def test_the_backends_page_code_runs(capsys):
    text = (ROOT / "docs" / "backends.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks
    with _Counting() as counter:
        exec(compile("\n".join(blocks), "docs/backends.md", "exec"), {})
        assert counter.computes == 1  # the page's one g.compute()
    assert "Array (5,)" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw"])
def test_a_whole_training_step_stays_lazy_and_matches_numpy(name):
    # loss, gradient and the optimiser's update on Dask batches: the new parameters are Dask
    # arrays, nothing computed over two steps; computed, they are NumPy's
    from pullback import nn, optim

    rng = np.random.default_rng(3)
    Xn = rng.standard_normal((60, 5))
    yn = (Xn[:, 0] > 0).astype(np.int64) + (Xn[:, 1] > 1)
    X, y = da.from_array(Xn, chunks=(20, 5)), da.from_array(yn, chunks=20)

    def loss(p, X, y):
        return nn.softmax_cross_entropy(nn.mlp(p, X), y)

    def train(X, y):
        params = nn.init_mlp([5, 8, 3], rng=0)
        init, update = getattr(optim, name)(0.05)
        state = init(params)
        for _ in range(2):
            _, grads = pb.value_and_grad(loss)(params, X, y)
            params, state = update(grads, state, params)
        return params

    with _Counting() as counter:
        lazy = train(X, y)
        assert counter.computes == 0
    assert all(isinstance(v, da.Array) for layer in lazy for v in layer.values())
    (got,) = dask.compute(lazy, scheduler="synchronous")
    for g, w in zip(got, train(Xn, yn), strict=True):
        np.testing.assert_allclose(g["W"], w["W"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g["b"], w["b"], rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- SciPy's routines


def test_scipy_routines_on_plain_dask_arrays_stay_lazy():
    # outside any transformation too: Dask arrays in, Dask arrays out, nothing computed
    from pullback.scipy import integrate, linalg, optimize, signal

    rng = np.random.default_rng(4)
    an = rng.standard_normal((4, 3, 3)) * 0.3 + 2 * np.eye(3)
    a = da.from_array(an, chunks=(2, 3, 3))  # a stack of 4 matrices in 2 chunks
    xn = rng.standard_normal((3, 8))
    x = da.from_array(xn, chunks=(1, 4))
    k = np.array([1.0, -2.0, 0.5])
    pn = np.array([0.5, 1.5])
    with _Counting() as counter:
        e = linalg.expm(a)
        lu, piv = linalg.lu_factor(a)
        c = signal.fftconvolve(x, k[None, :], axes=1)
        y = integrate.odeint(lambda y, t, p: -p * y, da.from_array(pn, chunks=1),
                             np.array([0.0, 0.5, 1.0]), 1.5)
        # a NumPy state with a Dask parameter, also under vmap (one solve per entry)
        yk = integrate.odeint(lambda y, t, p: -p * y, pn, np.array([0.0, 1.0]),
                              da.from_array(pn, chunks=1))
        yv = pb.vmap(lambda k: integrate.odeint(lambda y, t, p: -p * y, np.ones(1),
                                                np.array([0.0, 1.0]), k))(
            da.from_array(pn, chunks=1))
        r = optimize.root(lambda z, p: z + 0.5 * pnp.sin(z) - p, np.zeros(2),
                          args=(da.from_array(pn, chunks=1),))
        assert counter.computes == 0
    for v in (e, lu, piv, c, y, yk, yv, r.x, r.fun):
        assert isinstance(v, da.Array)
    assert e.chunks[0] == (2, 2)  # the stack stays chunked: one task per chunk of matrices
    assert "when computed" in r.message
    got = dask.compute(e, lu, piv, c, y, yk, yv, r.x, scheduler="synchronous")
    want = (linalg.expm(an), *linalg.lu_factor(an), signal.fftconvolve(xn, k[None, :], axes=1),
            integrate.odeint(lambda y, t, p: -p * y, pn, np.array([0.0, 0.5, 1.0]), 1.5),
            integrate.odeint(lambda y, t, p: -p * y, pn, np.array([0.0, 1.0]), pn),
            pb.vmap(lambda k: integrate.odeint(lambda y, t, p: -p * y, np.ones(1),
                                               np.array([0.0, 1.0]), k))(pn),
            optimize.root(lambda z, p: z + 0.5 * pnp.sin(z) - p, np.zeros(2), args=(pn,)).x)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_sqrtm_of_a_real_dask_matrix_is_real_and_a_negative_eigenvalue_raises_when_computed():
    from pullback.scipy import linalg

    good = np.array([[4.0, 1.0], [0.0, 9.0]])
    root = linalg.sqrtm(da.from_array(good, chunks=1))
    assert root.dtype == np.float64
    np.testing.assert_allclose(root.compute() @ root.compute(), good, rtol=1e-13)
    bad = da.from_array(np.array([[-4.0, 0.0], [0.0, 9.0]]), chunks=1)
    with _Counting() as counter:
        lazy = linalg.sqrtm(bad)  # declared real, as the dtype cannot wait for the values
        assert counter.computes == 0
    with pytest.raises(np.linalg.LinAlgError, match=r"sqrtm.*A\.astype\(complex\)"):
        lazy.compute()
    # a complex matrix: a complex result whatever the values, as NumPy's
    z = linalg.sqrtm(bad.astype(complex)).compute()
    np.testing.assert_allclose(z, np.diag([2j, 3.0]), atol=1e-13)


def test_the_optimisers_checks_on_dask_arrays_run_when_computed():
    from pullback.scipy import optimize

    p = da.from_array(np.array([1.0, 2.0]), chunks=1)

    # a Hessian that is singular at the minimum (x[1] is free): refused when the gradient is
    # computed, as it is at once on NumPy arrays
    def flat(p):
        return pnp.sum(optimize.minimize(lambda x, p: (x[0] - p[0]) ** 2, np.zeros(2),
                                         args=(p,)).x)

    with _Counting() as counter:
        g = pb.grad(flat)(p)
        assert counter.computes == 0
    with pytest.raises(optimize.OptimizeError, match="Hessian .* is singular"):
        g.compute()
    with pytest.raises(optimize.OptimizeError, match="Hessian .* is singular"):
        pb.grad(flat)(np.array([1.0, 2.0]))
    # a solver that does not converge: its error when the solution is computed
    stuck = optimize.root(lambda x, p: x ** 3 - 0 * p, np.full(2, 0.5), args=(p,), tol=1e-14)
    with pytest.raises(optimize.OptimizeError, match="did not converge"):
        stuck.x.compute()
    # a solution on a bound: refused when computed
    lb = optimize.least_squares(lambda x, c: x - c, np.full(2, 2.0), args=(p,),
                                bounds=(np.array([1.5, -np.inf]), np.inf))
    with pytest.raises(optimize.OptimizeError, match="on a bound"):
        lb.x.compute()


def test_scipy_solvers_refuse_numbers_they_need_before_they_run():
    from pullback.scipy import integrate, optimize

    p = da.from_array(np.array([2.0]), chunks=1)
    with pytest.raises(backends.UnsupportedOperation) as e:
        optimize.root_scalar(lambda x, a: x * x - a, args=(4.0,), bracket=(p[0] - 2, 3.0))
    assert "Dask arrays do not support numbers that SciPy's solvers take" in str(e.value)
    assert "'bracket' is a Dask array" in str(e.value)
    with pytest.raises(backends.UnsupportedOperation, match="'bounds' is a Dask array"):
        optimize.minimize(lambda x, c: pnp.sum((x - c) ** 2), np.zeros(1), args=(1.0,),
                          bounds=[(p[0], None)])
    with pytest.raises(backends.UnsupportedOperation, match="and no t_eval"):
        integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), p)
    # with t_eval given, the solution is lazy
    with _Counting() as counter:
        sol = integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), p, t_eval=np.array([1.0]),
                                  rtol=1e-10, atol=1e-12)
        assert counter.computes == 0
    np.testing.assert_allclose(sol.y.compute(), [[2 * np.exp(-1.0)]], rtol=1e-8)


def test_jit_of_a_scipy_routine_on_dask_arrays_stays_lazy():
    from pullback.scipy import linalg

    an = np.array([[0.3, 0.1], [-0.2, 0.4]])
    a = da.from_array(an, chunks=1)
    f = pb.jit(pb.grad(lambda a: pnp.sum(linalg.expm(a) ** 2)))
    with _Counting() as counter:
        g = f(a)
        assert counter.computes == 0
    assert isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), pb.grad(lambda a: pnp.sum(linalg.expm(a) ** 2))(an),
                               rtol=1e-12)


# ----------------------------------------------------------------------------- a cluster


def test_a_training_step_on_a_local_cluster():
    # an MLP trained by Adam on Dask batches, on a 2-process dask.distributed cluster: each
    # gradient is built without computing anything, then computed by the cluster at once
    distributed = pytest.importorskip("distributed")
    from pullback import nn, optim

    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((600, 5))
    yn = (Xn[:, 0] + Xn[:, 1] > 0).astype(np.int64) + (Xn[:, 2] > 1)
    X, y = da.from_array(Xn, chunks=(150, 5)), da.from_array(yn, chunks=150)
    params = nn.init_mlp([5, 8, 3], rng=0)
    init, update = optim.adam(0.05)
    state = init(params)

    def loss(p, X, y):
        return nn.softmax_cross_entropy(nn.mlp(p, X), y)

    want = pb.grad(loss)(params, Xn, yn)  # the same step on NumPy arrays
    losses = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        for step in range(3):
            with _Counting() as counter:  # a compute behind our back would run locally
                value, grads = pb.value_and_grad(loss)(params, X, y)
                assert counter.computes == 0
            assert isinstance(value, da.Array)
            assert all(isinstance(g, da.Array) for layer in grads for g in layer.values())
            value, grads = client.compute((value, grads), sync=True)
            if step == 0:
                for g, w in zip(grads, want, strict=True):
                    np.testing.assert_allclose(g["W"], w["W"], rtol=1e-12, atol=1e-15)
                    np.testing.assert_allclose(g["b"], w["b"], rtol=1e-12, atol=1e-15)
            params, state = update(grads, state, params)
            losses.append(float(value))
    assert losses[2] < losses[1] < losses[0]


def test_the_dask_logistic_example_fits_what_numpy_fits(capsys):
    # examples/dask_logistic.py on a tiny size, against L-BFGS on the same data as NumPy
    # arrays with the closed-form gradient X.T (sigmoid(X w) - y) / n + penalty w
    pytest.importorskip("distributed")
    scipy_optimize = pytest.importorskip("scipy.optimize")
    example = runpy.run_path(str(ROOT / "examples" / "dask_logistic.py"))
    out = example["main"](rows=2000, cols=5, chunk_rows=500, workers=2, maxiter=100,
                          progress=False)
    assert "passes over the data" in capsys.readouterr().out
    X, y, _ = example["make_data"](2000, 5, 500)
    Xn, yn = np.asarray(X.compute()), np.asarray(y.compute())
    penalty = 1e-3

    def fun(w):
        z = Xn @ w
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.mean(np.logaddexp(0.0, z) - yn * z) + 0.5 * penalty * w @ w
        return value, Xn.T @ (p - yn) / len(yn) + penalty * w

    want = scipy_optimize.minimize(fun, np.zeros(5), jac=True, method="L-BFGS-B",
                                   options={"maxiter": 100}).x
    np.testing.assert_allclose(out["w"], want, rtol=1e-5, atol=1e-6)
    assert out["cosine"] > 0.95


def test_jit_on_dask_reads_uniform_constants_as_scalars():
    # the mean's cotangent (1/n repeated n times) reaches the data as a NumPy scalar: no
    # array of the data's length in one chunk, no rechunking to meet the data's chunks, no
    # more tasks than the hand-written gradient X.T @ (sigmoid(X @ w) - y) / n (the chunks of
    # the two graphs differ only in the rule's two extra elementwise steps of logaddexp)
    Xn, yn, X, y, w = _logistic_data(3)
    loss = _logistic_loss

    f = pb.jit(pb.grad(loss))
    g = f(w, X, y)
    layers = {name.rsplit("-", 1)[0] for name in g.__dask_graph__().layers}
    assert not any("rechunk" in n or "zeros" in n for n in layers), sorted(layers)
    by_hand = X.T @ (1.0 / (1.0 + da.exp(-(X @ w))) - y) / 400
    optimized = len(dask.optimize(g)[0].__dask_graph__())
    assert optimized <= len(dask.optimize(by_hand)[0].__dask_graph__())
    assert "multiply 0.0025:f64[]" in f.source(w, X, y)
    np.testing.assert_allclose(g.compute(), pb.grad(loss)(w, Xn, yn), rtol=1e-13)


def test_a_cotangent_with_an_empty_chunk_is_scattered():
    # x[2:5] of chunks (3, 3) has chunks (1, 2); the product's pairs slice a cotangent of
    # chunks (1, 1) to chunks (1, 0), and Dask's __setitem__ with a value that has an empty
    # chunk made a graph that asked for the missing block ("Missing dependency")
    x = np.array([1.5, 0.5, -0.7, 2.0, 0.3, -1.1])
    xd = da.from_array(x, chunks=3)

    def f(x):
        return pnp.prod(x[2:5]) + pnp.sum(pnp.multiply.reduceat(x, [0, 2, 2, 5]) ** 2)

    value, g = pb.value_and_grad(f)(xd)
    got_value, got = dask.compute(value, g, scheduler="synchronous")
    want_value, want = pb.value_and_grad(f)(x)
    assert got_value == pytest.approx(float(want_value), rel=1e-15)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    # against the closed form: d/dx_i prod(x[2:5]) is the product of the other two
    np.testing.assert_allclose(
        pb.grad(lambda x: pnp.prod(x[2:5]))(xd).compute(),
        [0, 0, x[3] * x[4], x[2] * x[4], x[2] * x[3], 0], rtol=1e-15)
