"""The benchmark suite's correctness, at tiny sizes: no timing is asserted anywhere.

Every workload's hand-written NumPy baseline must agree with pullback (eager, and compiled
when ``pb.jit`` exists); the baselines of the network and the Rosenbrock Hessian are also
checked against central differences, so that baseline and library cannot be wrong together.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import workloads  # noqa: E402
from benchmarks.harness import Impl, check_case  # noqa: E402
from benchmarks.libs import load_libs  # noqa: E402

LIBS = load_libs(("numpy", "pullback", "pullback.jit"))


@pytest.mark.parametrize("name", list(workloads.WORKLOADS))
def test_baseline_agrees_with_pullback(name: str) -> None:
    cases = workloads.build(name, LIBS, tiny=True)
    assert cases
    for case in cases:
        assert "numpy" in case.impls and "pullback" in case.impls
        check_case(case)


def test_check_catches_a_wrong_gradient() -> None:
    (case,) = workloads.build("network", LIBS, tiny=True)
    good = case.impls["pullback"]

    def off_by_a_little(out: object) -> list:
        arrays = good.to_numpy(out)
        arrays[2] = arrays[2] * (1 + 1e-7)  # dW1 wrong by a relative 1e-7
        return arrays

    case.impls = {"numpy": case.impls["numpy"], "pullback": Impl(good.run, off_by_a_little)}
    with pytest.raises(AssertionError, match="network: pullback result 2"):
        check_case(case)


def _central_grad(f: object, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_network_baseline_against_finite_differences() -> None:
    rng = np.random.default_rng(11)
    x, W1, W2, y = (rng.standard_normal(s) for s in ((40,), (5, 40), (10, 5), (10,)))

    def loss(x: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> float:
        r = W2 @ np.maximum(W1 @ x, 0.0) - y
        return 0.5 * float(r @ r)

    value, gx, gW1, gW2 = workloads.network_numpy(x, W1, W2, y)
    assert value == pytest.approx(loss(x, W1, W2), rel=1e-14)
    np.testing.assert_allclose(gx, _central_grad(lambda v: loss(v, W1, W2), x), rtol=1e-7,
                               atol=1e-8)
    np.testing.assert_allclose(gW1, _central_grad(lambda v: loss(x, v, W2), W1), rtol=1e-7,
                               atol=1e-8)
    np.testing.assert_allclose(gW2, _central_grad(lambda v: loss(x, W1, v), W2), rtol=1e-7,
                               atol=1e-8)


def test_rosenbrock_baselines_against_finite_differences() -> None:
    rng = np.random.default_rng(12)
    x = rng.uniform(-1.5, 1.5, 8)
    v = rng.standard_normal(8)
    f = lambda x: float(workloads.rosenbrock(np, x))
    grad = lambda x: _central_grad(f, x, 1e-5)
    H = workloads.rosenbrock_hessian_numpy(x)
    # the Hessian of a quartic by differences of central-difference gradients
    H_fd = np.stack([(grad(x + 1e-4 * e) - grad(x - 1e-4 * e)) / 2e-4 for e in np.eye(8)])
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=0)
    np.testing.assert_allclose(workloads.rosenbrock_hvp_numpy(x, v), H @ v, rtol=1e-13)


def test_chain_and_mlp_baselines_against_finite_differences() -> None:
    x = np.random.default_rng(13).uniform(-1, 1, 3)
    value, g = workloads.chain_numpy(x, blocks=3)
    f = lambda x: float(workloads.chain_numpy(x, blocks=3)[0])
    assert value == pytest.approx(f(x))
    np.testing.assert_allclose(g, _central_grad(f, x), rtol=1e-7, atol=1e-9)

    params, X, Y = workloads._mlp_data(14, [4, 3, 2], 5, np.float64)
    _, grads = workloads.mlp_numpy(params, X, Y)
    for k, p in enumerate(params):

        def loss_k(v: np.ndarray, k: int = k) -> float:
            ps = list(params)
            ps[k] = v
            return float(workloads.mlp_numpy_loss(ps, X, Y))

        np.testing.assert_allclose(grads[k], _central_grad(loss_k, p), rtol=1e-6, atol=1e-9)


def test_run_writes_a_report(tmp_path: Path) -> None:
    from benchmarks import run

    out = tmp_path / "perf.md"
    rc = run.main(
        ["--only", "outside", "--quick", "--libs", "numpy,pullback", "--no-profile",
         "--output", str(out)]
    )
    assert rc == 0
    text = out.read_text()
    assert "| workload | NumPy by hand | pullback eager |" in text
    assert "sin of 10 numbers outside any transformation" in text
    assert "## Machine and versions" in text


def test_unknown_workload_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        workloads.build("nope", LIBS)


def test_profile_sorts_samples_into_categories() -> None:
    pytest.importorskip("pyinstrument")
    from benchmarks.profile_eager import CATEGORIES, profile_case, render_profile

    (case,) = workloads.build("chain", LIBS, tiny=True)
    prof = profile_case(case, seconds=0.2)
    assert prof.calls > 0
    assert set(prof.categories) <= set(CATEGORIES)
    # the chain's own NumPy work and its backward bookkeeping are both seen
    assert prof.categories[CATEGORIES[0]] + prof.categories[CATEGORIES[1]] > 0
    assert prof.categories[CATEGORIES[5]] > 0
    assert "| where | share of time |" in render_profile(prof)


def test_dask_pass_counting_on_a_tiny_array() -> None:
    """The hand-written Dask gradient makes each chunk of X once (threaded scheduler)."""
    dask_grad = pytest.importorskip("benchmarks.dask_grad")
    X = dask_grad.lazy_X(40, 3, 10)
    y = np.zeros(40)
    w = np.full(3, 0.1)
    assert dask_grad.passes(dask_grad.by_hand(w, X, y), X) == 1.0
    assert dask_grad.passes(X.sum() + X.sum(), X) == 1.0  # shared X: still one pass
