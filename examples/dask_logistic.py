"""Logistic regression on data larger than memory: Dask arrays on a ``dask.distributed``
cluster, full-batch gradients from ``pb.grad``, L-BFGS from SciPy, a progress bar.

The data ``X`` (``rows x cols``, float64) and the labels ``y`` are generated lazily, chunk by
chunk, from a seed: no chunk exists until a worker computes it, and none is kept (each pass
over the data makes the chunks again), so the data may be far larger than the memory of the
machine or the cluster. The loss (the mean logistic loss plus an L2 penalty) and its
gradient are written with ``pullback.numpy`` as for NumPy arrays; ``pb.value_and_grad`` of
them is one Dask graph, and each L-BFGS iteration computes it once: one pass over the data
for the value and the gradient together.

Run:

- ``python examples/dask_logistic.py``: 200,000 x 20 (32 MB) on a ``LocalCluster`` of 2
  worker processes, in seconds;
- ``python examples/dask_logistic.py --rows 100_000_000 --cols 100``: 80 GB, larger than
  most machines' memory; set ``--chunk-rows`` so that a chunk is some tens of MB (the default
  is 100,000 rows: 80 MB at 100 columns) and ``--workers`` to the cores you have;
- ``python examples/dask_logistic.py --scheduler tcp://host:8786``: the same on a running
  cluster (``dask scheduler`` and ``dask worker`` on its machines), instead of a local one.
"""

from __future__ import annotations

import argparse
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from scipy.optimize import minimize
from tqdm import tqdm

import pullback as pb
import pullback.numpy as pnp


def make_data(rows: int, cols: int, chunk_rows: int, seed: int = 0) -> tuple:
    """Lazy ``X`` (standard normal) and labels ``y`` from a logistic model with known weights
    (returned too): nothing is computed here."""
    w_true = np.random.default_rng(seed).standard_normal(cols) / np.sqrt(cols) * 3.0
    rng = da.random.default_rng(seed + 1)
    X = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    p = 1.0 / (1.0 + da.exp(-(X @ w_true)))
    y = (rng.random(rows, chunks=chunk_rows) < p).astype(np.float64)
    return X, y, w_true


def loss(w: np.ndarray, X: da.Array, y: da.Array, penalty: float) -> da.Array:
    """The mean logistic loss of the weights ``w`` plus ``penalty / 2 * |w|^2``."""
    z = X @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - y * z) + 0.5 * penalty * pnp.sum(w * w)


def fit(client: Client, X: da.Array, y: da.Array, penalty: float = 1e-3,
        maxiter: int = 50, progress: bool = True) -> tuple[np.ndarray, object]:
    """L-BFGS on the full batch: each evaluation builds the value and the gradient as one
    Dask graph with ``pb.value_and_grad`` and computes it on the cluster."""
    value_and_grad = pb.value_and_grad(loss)
    bar = tqdm(total=maxiter, desc="L-BFGS", unit="it", disable=not progress)
    passes = [0]

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(w, X, y, penalty)  # a graph: nothing computed yet
        value, grad = client.compute((value, grad), sync=True)  # one pass over the data
        passes[0] += 1
        bar.set_postfix(loss=f"{float(value):.6f}", passes=passes[0])
        return float(value), np.asarray(grad)

    result = minimize(fun, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": maxiter}, callback=lambda w: bar.update(1))
    bar.close()
    result.passes = passes[0]
    return result.x, result


def main(rows: int = 200_000, cols: int = 20, chunk_rows: int = 50_000, workers: int = 2,
         scheduler: str | None = None, maxiter: int = 50, progress: bool = True,
         seed: int = 0) -> dict:
    X, y, w_true = make_data(rows, cols, chunk_rows, seed)
    start = time.perf_counter()
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        print(f"data: {rows:,} x {cols} float64 ({rows * cols * 8 / 1e9:.2f} GB, "
              f"{X.numblocks[0]} chunks), made lazily; cluster: {client}")
        w, result = fit(client, X, y, maxiter=maxiter, progress=progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    seconds = time.perf_counter() - start
    cosine = float(w @ w_true / (np.linalg.norm(w) * np.linalg.norm(w_true)))
    print(f"{result.nit} iterations, {result.passes} passes over the data, {seconds:.1f} s; "
          f"final loss {result.fun:.6f}; cosine(w, w_true) = {cosine:.4f}")
    return {"w": w, "w_true": w_true, "result": result, "cosine": cosine}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=200_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--chunk-rows", type=lambda s: int(s.replace("_", "")), default=None,
                        help="rows per chunk (default: 100,000, or a quarter of the rows)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running scheduler (tcp://host:8786)")
    parser.add_argument("--maxiter", type=int, default=50)
    args = parser.parse_args()
    chunk = args.chunk_rows or min(100_000, max(1, args.rows // 4))
    main(args.rows, args.cols, chunk, args.workers, args.scheduler, args.maxiter)
