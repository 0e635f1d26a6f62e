"""Dask: the gradient of a logistic loss over an n x 100 float64 Dask array on a 2-worker
LocalCluster, pb.grad against the hand-written Dask gradient X.T @ (sigmoid(X @ w) - y) / n
(as dask-glm writes it), in the same run: time and peak memory of the workers.

The data is made lazily from a seed, chunk by chunk (never all in memory), so n can make it
several times the workers' memory. Run: ``python benchmarks/dask_grad.py --rows 8_000_000``.
"""

from __future__ import annotations

import argparse
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from distributed.diagnostics import MemorySampler

import pullback as pb
import pullback.numpy as pnp


def loss(w, X, y):
    z = X @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - y * z)


def by_hand(w, X, y):
    return X.T @ (1.0 / (1.0 + da.exp(-(X @ w))) - y) / X.shape[0]


def main(rows: int, cols: int, chunk_rows: int, memory_limit: str, repeats: int) -> dict:
    rng = da.random.default_rng(0)
    X = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    y = (rng.random(rows, chunks=chunk_rows) < 0.5).astype(np.float64)
    w = np.random.default_rng(1).standard_normal(cols) * 0.1
    data_gb = rows * cols * 8 / 1e9
    results: dict = {"pullback": [], "by hand": []}
    peaks: dict = {"pullback": 0.0, "by hand": 0.0}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None) as cluster, \
            Client(cluster):
        print(f"data {rows:,} x {cols} float64 = {data_gb:.2f} GB in {X.numblocks[0]} chunks; "
              f"2 workers x {memory_limit}")
        sampler = MemorySampler()
        values = {}
        for r in range(repeats):
            for name in ("pullback", "by hand"):  # interleaved
                t0 = time.perf_counter()
                g = pb.grad(loss)(w, X, y) if name == "pullback" else by_hand(w, X, y)
                build = time.perf_counter() - t0
                with sampler.sample(f"{name} {r}", interval=0.1):
                    values[name] = g.compute()
                results[name].append(time.perf_counter() - t0)
                print(f"  {name:8s} run {r}: {results[name][-1]:.2f} s (graph built in "
                      f"{build * 1e3:.1f} ms, {len(g.__dask_graph__())} tasks)")
        for label, samples in sampler.samples.items():  # (time, cluster memory in bytes)
            name = label.rsplit(" ", 1)[0]
            peaks[name] = max(peaks[name], max(m for _, m in samples) / 1e9)
        np.testing.assert_allclose(values["pullback"], values["by hand"], rtol=1e-10)
    out = {name: (float(np.median(t)), peaks[name]) for name, t in results.items()}
    ratio = out["pullback"][0] / out["by hand"][0]
    for name, (t, peak) in out.items():
        print(f"{name:8s}: median {t:.2f} s, peak cluster memory {peak:.2f} GB")
    print(f"pullback / by hand: {ratio:.2f}x time")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=2_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--chunk-rows", type=lambda s: int(s.replace("_", "")), default=100_000)
    parser.add_argument("--memory-limit", default="1.5GB")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    main(a.rows, a.cols, a.chunk_rows, a.memory_limit, a.repeats)
