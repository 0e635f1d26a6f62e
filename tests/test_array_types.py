"""Arrays of a library with CuPy's rules flow through pullback without being converted to NumPy.

No GPU is needed: ``devicearray.DeviceArray`` (tests/devicearray.py) is an array on a "device"
that implements NumPy's dispatch protocols with CuPy's rules: converting it to NumPy raises, a
NumPy array among its operands raises (NumPy scalars and Python numbers are fine), two devices
in one call raise, SciPy's ufuncs and ``ufunc.at`` raise. Inputs live on device 1, so that an
array made on the default device would be caught too.

The spec-row test runs every row of the spec table (its first shape) on device arrays, in
reverse mode (``vjp``) and forward mode (``jvp``), and checks that every array result is a
device array on the inputs' device and equals pullback's result on the same NumPy arrays
(which ``tests/test_ops.py`` checks against finite differences).

A row that needs what an eager library cannot do raises ``UnsupportedOperation`` naming the
operation (the capability table of ``pullback.core.backends``, CuPy's, used for any eager
library); rows that fail for reasons of their own are strict expected failures, each with its
reason (``KNOWN``): where a rule still makes a NumPy constant that meets the device arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
import pullback.scipy.special as sps
from devicearray import DeviceArray, to_device, to_host
from library_rows import leaves, prepare
from pullback.core import backends
from specs import ALL_SPECS, OpSpec

# ----------------------------------------------------------------------------- the stand-in


def test_the_stand_in_refuses_conversion_mixing_and_other_devices():
    x = to_device(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="a NumPy array"):
        x + np.ones(3)
    with pytest.raises(TypeError, match="a NumPy array"):
        x * np.asarray(2.0)  # 0-d NumPy arrays too, as CuPy
    with pytest.raises(TypeError, match="devices"):
        x + to_device(np.ones(3), device=2)
    with pytest.raises(TypeError, match="ufunc.at"):
        np.add.at(x, [0, 0], 1.0)
    y = x * np.float64(2.0) + 1  # NumPy scalars and Python numbers are fine
    assert isinstance(y, DeviceArray) and y.device == 1
    assert isinstance(np.sum(y), DeviceArray)  # reductions stay on the device
    z = np.asarray([1.0, 2.0, 3.0], like=x)  # NumPy data onto the device: explicit
    assert isinstance(z, DeviceArray) and z.device == 1
    assert float(np.sum(x)) == 3.0


# ----------------------------------------------------------------------------- pullback on it


def test_the_gradient_of_a_logistic_loss_stays_on_the_device():
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((40, 5))
    yn = (rng.random(40) < 0.5).astype(float)
    X, y, w = to_device(Xn), to_device(yn), to_device(rng.standard_normal(5) * 0.1)

    def loss(w, X, y):
        z = X @ w
        return pnp.mean(pnp.logaddexp(0.0, z) - y * z)

    value, g = pb.value_and_grad(loss)(w, X, y)
    assert isinstance(g, DeviceArray) and g.device == 1
    assert isinstance(value, DeviceArray)
    wn = to_host(w)
    p = 1.0 / (1.0 + np.exp(-(Xn @ wn)))
    np.testing.assert_allclose(to_host(g), Xn.T @ (p - yn) / len(yn), rtol=1e-12)
    (g2,), (h,) = pb.hvp(lambda w: loss(w, X, y), (w,), (to_device(np.ones(5)),))
    want = Xn.T @ ((p * (1 - p)) * (Xn @ np.ones(5))) / len(yn)
    assert isinstance(h, DeviceArray) and isinstance(g2, DeviceArray)
    np.testing.assert_allclose(to_host(h), want, rtol=1e-12)
    J = pb.jacrev(lambda w: X @ w)(w)  # the basis made on the device
    assert isinstance(J, DeviceArray)
    np.testing.assert_allclose(to_host(J), Xn, rtol=1e-15)
    J = pb.jacfwd(lambda w: X @ w)(w)
    assert isinstance(J, DeviceArray)
    np.testing.assert_allclose(to_host(J), Xn, rtol=1e-15)


@pytest.mark.parametrize("name", ["eigvalsh", "svdvals", "nuclear", "qr", "abs-complex"])
def test_vmap_of_gradients_stays_on_the_device(name: str) -> None:
    # where's batching rule made a NumPy array of an unbatched Python number (it met the
    # device arrays in eigh/svd/qr/the nuclear norm and complex abs under vmap)
    fns = {
        "eigvalsh": lambda a: pnp.sum(pnp.linalg.eigvalsh(a + pnp.swapaxes(a, -1, -2)) ** 3),
        "svdvals": lambda a: pnp.sum(pnp.linalg.svdvals(a) ** 3),
        "nuclear": lambda a: pnp.linalg.norm(a, "nuc"),
        "qr": lambda a: pnp.sum(pnp.linalg.qr(a)[1] ** 3),
        "abs-complex": lambda a: pnp.sum(pnp.abs(a + 1j * pnp.sin(a)) ** 3),
    }
    f = pb.grad(fns[name])
    stack = np.random.default_rng(3).standard_normal((4, 3, 3))
    got = pb.vmap(f)(to_device(stack))
    assert isinstance(got, DeviceArray) and got.device == 1
    want = np.stack([f(a) for a in stack])  # one NumPy matrix at a time
    np.testing.assert_allclose(to_host(got), want, rtol=1e-10, atol=1e-12)


def test_jit_compiles_for_device_arrays():
    # the cache key holds the array type; the graph runs with the library's functions, its
    # NumPy constants copied to the device
    rng = np.random.default_rng(2)
    Xn, wn = rng.standard_normal((30, 4)), rng.standard_normal(4)
    f = pb.jit(pb.grad(lambda w, X: pnp.mean(pnp.tanh(X @ w) ** 2)))
    g = f(to_device(wn), to_device(Xn))
    assert isinstance(g, DeviceArray) and g.device == 1
    want = f(wn, Xn)
    assert type(want) is np.ndarray and f.cache_size == 2
    np.testing.assert_allclose(to_host(g), want, rtol=1e-12)
    np.testing.assert_allclose(want, pb.grad(lambda w: pnp.mean(pnp.tanh(Xn @ w) ** 2))(wn),
                               rtol=1e-12)


def test_a_training_step_of_an_mlp_on_device_arrays():
    # pullback.nn and pullback.optim with parameters and batches on the device
    from pullback import nn, optim

    rng = np.random.default_rng(4)
    Xn = rng.standard_normal((40, 5))
    yn = (Xn[:, 0] > 0).astype(np.int64)

    def loss(p, X, y):
        return nn.softmax_cross_entropy(nn.mlp(p, X), y)

    def train(X, y, move):
        params = [{k: move(v) for k, v in layer.items()} for layer in nn.init_mlp([5, 8, 2],
                                                                                  rng=0)]
        init, update = optim.adam(0.05)
        state = init(params)
        for _ in range(2):
            _, grads = pb.value_and_grad(loss)(params, X, y)
            params, state = update(grads, state, params)
        return params, nn.accuracy(nn.mlp(params, X), y)

    got, acc = train(to_device(Xn), to_device(yn), to_device)
    want, acc_np = train(Xn, yn, lambda v: v)
    assert acc == acc_np
    for g, w in zip(got, want, strict=True):
        assert isinstance(g["W"], DeviceArray) and isinstance(g["b"], DeviceArray)
        np.testing.assert_allclose(to_host(g["W"]), w["W"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(to_host(g["b"]), w["b"], rtol=1e-12, atol=1e-15)


def test_the_demos_training_runs_on_device_arrays():
    # pullback demo --device gpu trains with CuPy's asarray/asnumpy; the stand-in's here
    import argparse

    from pullback import demo

    rng = np.random.default_rng(5)
    data = (rng.standard_normal((50, 6)), rng.standard_normal((20, 6)),
            rng.integers(0, 10, 50), rng.integers(0, 10, 20))
    args = argparse.Namespace(seed=0, hidden=[8], epochs=2, batch_size=16, lr=1e-2,
                              no_progress=True, device="gpu")
    params, history = demo.train(args, data, to_device=to_device, to_host=to_host)
    args.device = "cpu"
    want, history_np = demo.train(args, data)
    assert all(type(v) is np.ndarray for layer in params for v in layer.values())
    for g, w in zip(params, want, strict=True):
        np.testing.assert_allclose(g["W"], w["W"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(history["test_loss"], history_np["test_loss"], rtol=1e-10)


def test_scatter_add_with_repeated_indices_is_one_bincount_on_the_device():
    w = to_device(np.arange(4.0))
    idx = np.array([0, 2, 0, 3, 0])  # a NumPy index, as CuPy accepts
    c = to_device(np.linspace(1.0, 2.0, 5))
    g = pb.grad(lambda w: pnp.sum(w[idx] * c))(w)
    assert isinstance(g, DeviceArray)
    want = np.zeros(4)
    np.add.at(want, idx, np.linspace(1.0, 2.0, 5))
    np.testing.assert_allclose(to_host(g), want, rtol=1e-15)


def test_arrays_on_two_devices_raise_the_librarys_error():
    x, y = to_device(np.ones(3), device=1), to_device(np.ones(3), device=2)
    with pytest.raises(TypeError, match="devices"):
        pb.grad(lambda x, y: pnp.sum(x * y))(x, y)


def test_mixing_with_numpy_arrays_is_as_the_library_allows():
    # CuPy refuses a NumPy operand: pullback does not convert it behind the user's back
    x = to_device(np.ones(3))
    with pytest.raises(TypeError, match="a NumPy array"):
        pb.grad(lambda x: pnp.sum(x * np.arange(3.0)))(x)


def test_special_functions_are_refused_with_the_tables_error():
    x = to_device(np.linspace(0.1, 0.9, 3))
    with pytest.raises(backends.UnsupportedOperation) as e:
        pb.grad(lambda x: pnp.sum(sps.gammaln(x)))(x)
    text = str(e.value)
    assert "arrays do not support SciPy's special functions" in text
    assert "cupy.asnumpy" in text


def test_the_numpy_path_is_unchanged():
    x = np.arange(6.0).reshape(2, 3)
    g = pb.grad(lambda x: pnp.sum(pnp.triu(x) ** 2))(x)
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(g, 2 * np.triu(x))


# ----------------------------------------------------------------------------- every spec row

#: families refused on eager device libraries through the capability table (SciPy's ufuncs,
#: and SciPy's routines, which run on NumPy arrays): a row of these families may also pass
#: (written with pullback.numpy's operations); any other outcome, such as the device array's
#: own refusal of a NumPy operand, fails
_ROUTINES = "pullback.scipy.linalg, pullback.scipy.signal, pullback.scipy.integrate"
REFUSED_FAMILIES = {"special.": "SciPy's special functions", "stats.": "SciPy's special functions",
                    "scipy.linalg.": _ROUTINES, "scipy.signal.": _ROUTINES,
                    "scipy.integrate.": _ROUTINES, "scipy.optimize.": _ROUTINES}

#: rows (or "row-mode") that fail for reasons of their own: strict expected failures (none
#: now: a rule's NumPy constants are made in the operands' library)
KNOWN: dict[str, str] = {}


def _on_device(x):
    if isinstance(x, np.ndarray):
        out = DeviceArray(np.array(x), 1)
        out._data.flags.writeable = False  # as the spec inputs: a rule must not write
        return out
    return x


def _cases():
    for row in ALL_SPECS:
        shapes = row.shapes[0]
        if not any(row.differentiable(i) for i in range(len(shapes))):
            continue
        for mode in ("rev", "fwd"):
            marks = []
            reason = KNOWN.get(f"{row.id}-{mode}", KNOWN.get(row.id))
            if reason is not None:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            yield pytest.param(row, mode, id=f"{row.id}-{mode}", marks=marks)


def run_row(row: OpSpec, mode: str) -> str:
    """Run ``row`` on device arrays in ``mode``: "pass", or "refused: <operation>" for the
    capability table's error; raises on anything else."""
    run = prepare(row, mode, _on_device, every_argument=True, directions_to_lib=to_device)
    try:
        if mode == "rev":
            out, vjp_fn = pb.vjp(run.f_lib, *run.x_lib)
            got = (out, vjp_fn(run.ct_lib))
            want = (run.out_np, pb.vjp(run.f_np, *run.x_np)[1](run.ct_np))
        else:
            got = pb.jvp(run.f_lib, tuple(run.x_lib), run.t_lib)
            want = pb.jvp(run.f_np, tuple(run.x_np), run.t_np)
    except backends.UnsupportedOperation as e:
        return f"refused: {e}"
    got_leaves, want_leaves = list(leaves(got)), list(leaves(want))
    assert len(got_leaves) == len(want_leaves)
    for g, v in zip(got_leaves, want_leaves, strict=True):
        if isinstance(v, (np.ndarray, np.generic)):
            assert isinstance(g, DeviceArray), f"a result came back as {type(g).__name__}"
            assert g.device == 1, f"a result on device {g.device}, not the inputs' device 1"
        assert np.shape(g) == np.shape(v)
        np.testing.assert_allclose(to_host(g), np.asarray(v), rtol=1e-9, atol=1e-12)
    return "pass"


@pytest.mark.parametrize("row,mode", list(_cases()))
def test_spec_row_on_device_arrays(row: OpSpec, mode: str) -> None:
    outcome = run_row(row, mode)
    if outcome.startswith("refused"):
        family = next((v for k, v in REFUSED_FAMILIES.items() if row.id.startswith(k)), None)
        assert family is not None, f"refused, but not in REFUSED_FAMILIES: {outcome}"
        assert f"arrays do not support {family}" in outcome


def test_every_limit_of_the_eager_table_is_documented():
    page = (Path(__file__).parent.parent / "docs" / "backends.md").read_text()
    for limit in backends.CAPABILITIES["cupy"]:
        assert limit.operation in page, f"{limit.operation!r} not in backends.md"
    assert backends.limits("devicearray") is backends.CAPABILITIES["cupy"]
