"""Dask: the gradient of a logistic loss over an n x 100 float64 Dask array on a 2-worker
LocalCluster, pb.grad against the hand-written Dask gradient X.T @ (sigmoid(X @ w) - y) / n
(as dask-glm writes it), in the same run: time and peak memory of the workers.

The data is made lazily from a seed, chunk by chunk (never all in memory), so n can make it
several times the workers' memory. Run: ``python benchmarks/dask_grad.py`` (4,000,000 rows,
3.2 GB, 2 workers x 600 MB).
``pb.jit(pb.grad(loss))`` (compiled for Dask: the traced graph evaluated with Dask's
functions) is timed too. ``make bench`` runs :func:`section` on a small n (a few seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, get_worker
from distributed.diagnostics import MemorySampler

import pullback as pb
import pullback.numpy as pnp

_LOCAL_COUNT = [0]


def _chunk(block_id, cols: int, chunk_rows: int):
    """One chunk of X, made from a seed that depends on the chunk's index; each call is
    counted (on a distributed worker: on the worker object; otherwise in this process), so
    that the passes a gradient makes over the data can be measured."""
    try:
        worker = get_worker()
        worker._pb_chunks = getattr(worker, "_pb_chunks", 0) + 1
    except ValueError:
        _LOCAL_COUNT[0] += 1
    rng = np.random.default_rng(1000 + block_id[0])
    return rng.standard_normal((chunk_rows, cols))


def lazy_X(rows: int, cols: int, chunk_rows: int) -> da.Array:
    """X made chunk by chunk by a counted, seeded generator (``rows`` a multiple of
    ``chunk_rows``)."""
    n = rows // chunk_rows
    return da.map_blocks(lambda block_id=None: _chunk(block_id, cols, chunk_rows),
                         dtype=np.float64, chunks=((chunk_rows,) * n, (cols,)),
                         meta=np.empty((0, 0)))


def _take_worker_count(dask_worker) -> int:
    n = getattr(dask_worker, "_pb_chunks", 0)
    dask_worker._pb_chunks = 0
    return n


def passes(g, X: da.Array, client=None) -> float:
    """Compute ``g`` and return how many times each chunk of ``X`` (from :func:`lazy_X`) was
    made, on average: the number of passes over the data."""
    if client is not None:
        client.run(_take_worker_count)
        g.compute()
        made = sum(client.run(_take_worker_count).values())
    else:
        _LOCAL_COUNT[0] = 0
        g.compute(scheduler="threads")
        made = _LOCAL_COUNT[0]
    return made / X.numblocks[0]


def loss(w, X, y):
    z = X @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - y * z)


def by_hand(w, X, y):
    return X.T @ (1.0 / (1.0 + da.exp(-(X @ w))) - y) / X.shape[0]


NAMES = ("pullback", "pb.jit", "by hand")


def main(rows: int, cols: int, chunk_rows: int, memory_limit: str, repeats: int,
         log: TextIO = sys.stdout) -> dict:
    rng = da.random.default_rng(0)
    X = lazy_X(rows, cols, chunk_rows)
    y = (rng.random(rows, chunks=chunk_rows) < 0.5).astype(np.float64)
    w = np.random.default_rng(1).standard_normal(cols) * 0.1
    data_gb = rows * cols * 8 / 1e9
    results: dict = {name: [] for name in NAMES}
    peaks: dict = {name: 0.0 for name in NAMES}
    tasks: dict = {}
    jitted = pb.jit(pb.grad(loss))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print(f"data {rows:,} x {cols} float64 = {data_gb:.2f} GB in {X.numblocks[0]} chunks; "
              f"2 workers x {memory_limit}", file=log)
        npass = {}
        for name in NAMES:
            g = (pb.grad(loss)(w, X, y) if name == "pullback" else
                 jitted(w, X, y) if name == "pb.jit" else by_hand(w, X, y))
            npass[name] = passes(g, X, client)
            print(f"  {name:8s}: {npass[name]:.2f} passes over X", file=log)
        sampler = MemorySampler()
        values = {}
        for r in range(repeats):
            for name in NAMES:  # interleaved
                t0 = time.perf_counter()
                g = (pb.grad(loss)(w, X, y) if name == "pullback" else
                     jitted(w, X, y) if name == "pb.jit" else by_hand(w, X, y))
                tasks[name] = len(g.__dask_graph__())
                build = time.perf_counter() - t0
                with sampler.sample(f"{name} {r}", interval=0.1):
                    values[name] = g.compute()
                results[name].append(time.perf_counter() - t0)
                print(f"  {name:8s} run {r}: {results[name][-1]:.2f} s (graph built in "
                      f"{build * 1e3:.1f} ms, {tasks[name]} tasks)", file=log)
        for label, samples in sampler.samples.items():  # (time, cluster memory in bytes)
            name = label.rsplit(" ", 1)[0]
            peaks[name] = max(peaks[name], max(m for _, m in samples) / 1e9)
        np.testing.assert_allclose(values["pullback"], values["by hand"], rtol=1e-10)
        np.testing.assert_allclose(values["pb.jit"], values["by hand"], rtol=1e-10)
    out = {name: (float(np.median(t)), peaks[name], tasks[name], npass[name])
           for name, t in results.items()}
    for name, (t, peak, n, p) in out.items():
        print(f"{name:8s}: median {t:.2f} s, peak cluster memory {peak:.2f} GB, {n} tasks, "
              f"{p:.2f} passes",
              file=log)
    for name in ("pullback", "pb.jit"):
        print(f"{name} / by hand: {out[name][0] / out['by hand'][0]:.2f}x time", file=log)
    out["data_gb"] = data_gb
    return out


def section(quick: bool = False, log: TextIO = sys.stderr) -> list[str]:
    """The Markdown section for ``make bench``: a small n (160 MB; ``quick``: 40 MB), so that
    it takes seconds; the issue's size (several times the workers' memory) is a command-line
    run: ``python benchmarks/dask_grad.py`` (4,000,000 rows, 3.2 GB, 2 workers x 600 MB)."""
    rows = 50_000 if quick else 200_000
    out = main(rows, 100, rows // 8, "1GB", 2 if quick else 3, log=log)
    hand = out["by hand"][0]
    lines = [
        "",
        "## Dask: the gradient of a logistic loss (issue 15)",
        "",
        f"`benchmarks/dask_grad.py`: a {rows:,} x 100 float64 Dask array "
        f"({out['data_gb']:.2f} GB, 8 chunks of rows, made lazily from a seed) on a 2-worker "
        "`LocalCluster` (1 GB a worker); the gradient built and computed, median of the "
        "interleaved runs, against the hand-written Dask gradient "
        "`X.T @ (sigmoid(X @ w) - y) / n`. Peak memory is the cluster's, sampled every 0.1 s. "
        "This size is small so that `make bench` stays short; the issue's size is a separate "
        "run (`python benchmarks/dask_grad.py`).",
        "",
        "| gradient | time (s) | vs by hand | peak cluster memory (GB) | tasks | passes over X |",
        "|---|---|---|---|---|---|",
    ]
    for name in NAMES:
        t, peak, n, p = out[name]
        lines.append(f"| {name} | {t:.2f} | {t / hand:.2f}x | {peak:.2f} | {n} | {p:.2f} |")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=4_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--chunk-rows", type=lambda s: int(s.replace("_", "")), default=50_000)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    main(a.rows, a.cols, a.chunk_rows, a.memory_limit, a.repeats)
