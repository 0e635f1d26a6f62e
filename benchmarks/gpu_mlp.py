"""GPU: value and gradients of an MLP 2048-2048-2048-10 (ReLU), batch 512, float32, on CuPy
(issue 15): pullback eager (``pb.value_and_grad``) and compiled (``pb.jit``) against the same
computation written by hand in CuPy, and against PyTorch (cuda) when it is installed, in the
same run (interleaved rounds, each timed to a device synchronisation).

Goals: eager at most 1.1x hand-written CuPy, compiled at most 1.0x.

Without CuPy or without a GPU it says so in one line and exits with status 0 (skipped), so it
can sit beside the CPU benchmarks. Run on a machine with an NVIDIA GPU and
``pip install -e '.[gpu]'``: ``python benchmarks/gpu_mlp.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import pullback as pb
from pullback import nn

SIZES = (2048, 2048, 2048, 10)
BATCH = 512


def gpu_problem() -> str | None:
    """Why this benchmark cannot run here, or None."""
    try:
        import cupy
    except Exception as err:  # noqa: BLE001 - ImportError, or a broken CUDA install
        return f"CuPy cannot be imported ({type(err).__name__}: {err})"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy finds no GPU"
    except Exception as err:  # noqa: BLE001 - no driver, no device
        return f"CuPy finds no usable GPU ({type(err).__name__}: {err})"
    return None


def _loss(params: list, x: Any, labels: Any) -> Any:
    return nn.softmax_cross_entropy(nn.mlp(params, x), labels)


def _by_hand(cp: Any) -> Callable[[list, Any, Any], tuple[Any, list]]:
    """The loss and its gradient written in CuPy: forward, softmax cross-entropy, backward."""

    def value_and_grad(params: list, x: Any, labels: Any) -> tuple[Any, list]:
        acts = [x]
        h = x
        for i, layer in enumerate(params):
            z = h @ layer["W"].T + layer["b"]  # W is (n_out, n_in), as pullback.nn
            h = cp.maximum(z, 0) if i < len(params) - 1 else z
            acts.append(h)
        logits = h
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - cp.log(cp.exp(shifted).sum(axis=1, keepdims=True))
        n = x.shape[0]
        value = -logp[cp.arange(n), labels].mean()
        g = cp.exp(logp)
        g[cp.arange(n), labels] -= 1
        g /= n
        grads: list = [None] * len(params)
        for i in range(len(params) - 1, -1, -1):
            grads[i] = {"W": g.T @ acts[i], "b": g.sum(axis=0)}
            if i:
                g = (g @ params[i]["W"]) * (acts[i] > 0)
        return value, grads

    return value_and_grad


def _torch_case(rng: np.random.Generator, params_np: list, x_np: np.ndarray,
                y_np: np.ndarray) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    dev = torch.device("cuda")
    ps = [{k: torch.tensor(v, device=dev, requires_grad=True) for k, v in layer.items()}
          for layer in params_np]
    x, y = torch.tensor(x_np, device=dev), torch.tensor(y_np, device=dev)

    def run() -> Any:
        h = x
        for i, layer in enumerate(ps):
            h = h @ layer["W"].T + layer["b"]
            if i < len(ps) - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, y)
        grads = torch.autograd.grad(loss, [v for layer in ps for v in layer.values()])
        torch.cuda.synchronize()
        return loss, grads

    return run


def main(rounds: int = 20) -> int:
    problem = gpu_problem()
    if problem is not None:
        print(f"gpu_mlp: skipped: needs CuPy and an NVIDIA GPU, and here {problem} "
              "(pip install -e '.[gpu]' on a machine with a GPU)")
        return 0
    import cupy as cp

    rng = np.random.default_rng(0)
    params_np = [{k: v.astype(np.float32) for k, v in layer.items()}
                 for layer in nn.init_mlp(list(SIZES), rng)]
    x_np = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y_np = rng.integers(0, SIZES[-1], BATCH)
    params = [{k: cp.asarray(v) for k, v in layer.items()} for layer in params_np]
    x, y = cp.asarray(x_np), cp.asarray(y_np)

    eager = pb.value_and_grad(_loss)
    compiled = pb.jit(pb.value_and_grad(_loss))
    hand = _by_hand(cp)
    cases: dict[str, Callable[[], Any]] = {
        "by hand (CuPy)": lambda: hand(params, x, y),
        "pullback eager": lambda: eager(params, x, y),
        "pullback jit": lambda: compiled(params, x, y),
    }
    torch_run = _torch_case(rng, params_np, x_np, y_np)
    if torch_run is not None:
        cases["PyTorch (cuda)"] = torch_run

    # the same values first
    want_v, want_g = hand(params, x, y)
    for name in ("pullback eager", "pullback jit"):
        v, g = cases[name]()
        assert abs(float(v) - float(want_v)) <= 1e-4 * abs(float(want_v)), name
        for a, b in zip(g, want_g, strict=True):
            for k in ("W", "b"):
                np.testing.assert_allclose(cp.asnumpy(a[k]), cp.asnumpy(b[k]),
                                           rtol=2e-3, atol=1e-5, err_msg=name)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up: kernels compiled, jit traced
        fn()
    cp.cuda.Device().synchronize()
    for _ in range(rounds):
        for name, fn in cases.items():  # interleaved
            cp.cuda.Device().synchronize()
            t0 = time.perf_counter()
            fn()
            cp.cuda.Device().synchronize()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["by hand (CuPy)"])
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, "
          f"{cp.cuda.runtime.getDeviceProperties(0)['name'].decode()}; median of {rounds}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"  {name:16s} {t * 1e3:8.2f} ms  {t / base:5.2f}x hand-written CuPy")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    sys.exit(main(ap.parse_args().rounds))
