"""Dask arrays flow through pullback without being computed behind the user's back."""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

da = pytest.importorskip("dask.array")
from dask.callbacks import Callback  # noqa: E402


class _Counting(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.computes = 0

    def _start(self, dsk):  # noqa: ANN001 - dask's hook
        self.computes += 1


def test_the_gradient_of_a_logistic_loss_is_one_lazy_dask_graph():
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((400, 5))
    yn = (rng.random(400) < 0.5).astype(float)
    X, y = da.from_array(Xn, chunks=(100, 5)), da.from_array(yn, chunks=100)
    w = rng.standard_normal(5) * 0.1

    def loss(w, X, y):
        z = X @ w
        return pnp.mean(pnp.logaddexp(0.0, z) - y * z)

    with _Counting() as counter:
        g = pb.grad(loss)(w, X, y)
        assert isinstance(g, da.Array)
        assert counter.computes == 0  # building the gradient computes nothing
        value = g.compute()
        assert counter.computes == 1
    p = 1.0 / (1.0 + np.exp(-(Xn @ w)))
    np.testing.assert_allclose(value, Xn.T @ (p - yn) / len(yn), rtol=1e-12)
