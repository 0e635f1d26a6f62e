"""The workloads of issue 6, each for every library that is installed.

Each ``build_*`` function returns a list of :class:`~benchmarks.harness.Case`. The same
mathematical program is written once for the NumPy-like namespaces (pullback.numpy,
autograd.numpy, jax.numpy: the ``xp`` argument) and once for PyTorch; the baseline is
hand-written NumPy: the forward pass, then the pullback written out by hand, with in-place
updates where they are natural. ``tiny=True`` shrinks every size (for the correctness test).

Inputs are converted to each library's own arrays before timing (torch tensors, JAX device
arrays), so a timing is the library's own cost, not the conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Case, Impl, Target
from benchmarks.libs import JIT_BACKENDS, Libs

__all__ = ["WORKLOADS", "build"]

# ----------------------------------------------------------------------------- helpers


def _np_list(out: Any) -> list:
    """Flatten nested tuples/lists of arrays (any library) into a list of NumPy arrays."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _np_list(o)]
    if hasattr(out, "detach"):  # torch
        return [out.detach().numpy()]
    return [np.asarray(out)]


def _impl(run: Callable[[], Any]) -> Impl:
    return Impl(run, _np_list)


def _jax_impl(libs: Libs, fn: Callable, *args: Any) -> Impl:
    jax = libs["jax"]
    return _impl(lambda: jax.block_until_ready(fn(*args)))


def _missing(libs: Libs, *names: str) -> dict[str, str]:
    if "pullback.jit" in names:
        names = names + ("pullback.numba",)
    return {n: libs.missing[n] for n in names if n in libs.missing}


def _jits(libs: Libs) -> dict[str, Callable]:
    """``lib -> jit`` for the pb.jit columns present: ``pb.jit`` with each backend."""
    import pullback as pb

    return {
        lib: functools.partial(pb.jit, backend=backend)
        for lib, backend in JIT_BACKENDS.items()
        if libs.has(lib)
    }


def _pnp() -> Any:
    import pullback.numpy as pnp

    return pnp


class _Space:
    """The few functions the shared programs need, for one NumPy-like namespace."""

    def __init__(self, xp: Any, max_shift: Callable[[Any], Any] | None):
        self.xp = xp
        self.max_shift = max_shift


def _spaces(libs: Libs) -> dict[str, _Space]:
    """pullback, autograd and JAX namespaces, with a stop-gradient max for softmax."""
    import pullback as pb

    pnp = _pnp()
    out = {}
    if hasattr(pnp, "max"):
        out["pullback"] = _Space(
            pnp, lambda z: pb.stop_gradient(pnp.max(z, axis=-1, keepdims=True))
        )
    else:  # pullback.numpy has no max yet: the logits here are small, exp cannot overflow
        out["pullback"] = _Space(pnp, None)
    if libs.has("autograd"):
        import autograd.numpy as anp

        out["autograd"] = _Space(anp, lambda z: anp.max(z, axis=-1, keepdims=True))
    if libs.has("jax"):
        import jax
        import jax.numpy as jnp

        out["jax"] = _Space(
            jnp, lambda z: jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
        )
    return out


# ----------------------------------------------------------------------------- 1. network


def network_loss(sp: _Space, x: Any, W1: Any, W2: Any, y: Any) -> Any:
    """The notebook's loss: ``0.5 * |W2 relu(W1 x) - y|^2``."""
    xp = sp.xp
    r = W2 @ xp.maximum(W1 @ x, 0.0) - y
    return 0.5 * xp.sum(r * r)


def network_numpy(x: np.ndarray, W1: np.ndarray, W2: np.ndarray, y: np.ndarray) -> tuple:
    """Value and gradients with respect to x, W1, W2, by hand."""
    h = W1 @ x
    a = np.maximum(h, 0.0)
    r = W2 @ a
    r -= y
    loss = 0.5 * (r @ r)
    gh = W2.T @ r
    gh *= h > 0
    return loss, W1.T @ gh, np.outer(gh, x), np.outer(r, a)


def build_network(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb

    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    W1 = rng.standard_normal((5, 40)) / np.sqrt(40)
    W2 = rng.standard_normal((10, 5)) / np.sqrt(5)
    y = rng.standard_normal(10)
    spaces = _spaces(libs)
    impls = {"numpy": _impl(lambda: network_numpy(x, W1, W2, y))}

    def loss_for(name: str) -> Callable:
        sp = spaces[name]
        return lambda x, W1, W2, y: network_loss(sp, x, W1, W2, y)

    vg = pb.value_and_grad(loss_for("pullback"), argnums=(0, 1, 2))
    impls["pullback"] = _impl(lambda: vg(x, W1, W2, y))
    for lib, jit in _jits(libs).items():
        vg_jit = jit(pb.value_and_grad(loss_for("pullback"), argnums=(0, 1, 2)))
        impls[lib] = _impl(lambda vg_jit=vg_jit: vg_jit(x, W1, W2, y))
    if libs.has("autograd"):
        vg_ag = libs["autograd"].value_and_grad(loss_for("autograd"), argnum=(0, 1, 2))
        impls["autograd"] = _impl(lambda: vg_ag(x, W1, W2, y))
    if libs.has("torch"):
        torch = libs["torch"]
        xt, W1t, W2t = (torch.tensor(a, requires_grad=True) for a in (x, W1, W2))
        yt = torch.tensor(y)

        def run_torch() -> tuple:
            r = W2t @ torch.relu(W1t @ xt) - yt
            loss = 0.5 * torch.sum(r * r)
            return loss, torch.autograd.grad(loss, (xt, W1t, W2t))

        impls["torch"] = _impl(run_torch)
    if libs.has("jax"):
        jax = libs["jax"]
        vg_j = jax.jit(jax.value_and_grad(loss_for("jax"), argnums=(0, 1, 2)))
        impls["jax"] = _jax_impl(libs, vg_j, *map(jax.numpy.asarray, (x, W1, W2, y)))
    return [
        Case(
            "network",
            "the notebook's network (x 40, W1 5x40, W2 10x5), value and 3 gradients",
            "ratio",
            impls,
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            target_eager=Target("<=", 4.0),
            target_jit=Target("<=", 1.3),
            target_fast=1.2,
            note="float64; loss 0.5*|W2 relu(W1 x) - y|^2; gradients with respect to x, "
            "W1, W2; the baseline is the notebook's pullbacks written inline.",
        )
    ]


# ----------------------------------------------------------------------------- 2. chain

CHAIN_SCALE, CHAIN_SHIFT = 1.5, 0.1


def chain_fn(sp: _Space, x: Any, blocks: int) -> Any:
    """``blocks`` times: sin, tanh, multiply by a constant, add a constant; then sum."""
    xp = sp.xp
    for _ in range(blocks):
        x = xp.tanh(xp.sin(x)) * CHAIN_SCALE + CHAIN_SHIFT
    return xp.sum(x)


def chain_numpy(x: np.ndarray, blocks: int) -> tuple:
    """Value and gradient of :func:`chain_fn`, by hand (the forward stores what it needs)."""
    before_sin = []
    after_tanh = []
    for _ in range(blocks):
        before_sin.append(x)
        t = np.tanh(np.sin(x))
        after_tanh.append(t)
        x = t * CHAIN_SCALE
        x += CHAIN_SHIFT
    value = x.sum()
    g = np.full_like(x, CHAIN_SCALE)
    for k in range(blocks - 1, -1, -1):
        t = after_tanh[k]
        g *= 1.0 - t * t
        g *= np.cos(before_sin[k])
        if k:
            g *= CHAIN_SCALE
    return value, g


def build_chain(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb

    blocks = 5 if tiny else 50
    n_ops = 4 * blocks
    x = np.random.default_rng(1).uniform(-1.0, 1.0, 4 if tiny else 16)
    spaces = _spaces(libs)
    impls = {"numpy": _impl(lambda: chain_numpy(x, blocks))}

    def f_for(name: str) -> Callable:
        sp = spaces[name]
        return lambda x: chain_fn(sp, x, blocks)

    vg = pb.value_and_grad(f_for("pullback"))
    impls["pullback"] = _impl(lambda: vg(x))
    for lib, jit in _jits(libs).items():
        vg_jit = jit(pb.value_and_grad(f_for("pullback")))
        impls[lib] = _impl(lambda vg_jit=vg_jit: vg_jit(x))
    if libs.has("autograd"):
        vg_ag = libs["autograd"].value_and_grad(f_for("autograd"))
        impls["autograd"] = _impl(lambda: vg_ag(x))
    if libs.has("torch"):
        torch = libs["torch"]
        xt = torch.tensor(x, requires_grad=True)

        def run_torch() -> tuple:
            h = xt
            for _ in range(blocks):
                h = torch.tanh(torch.sin(h)) * CHAIN_SCALE + CHAIN_SHIFT
            value = torch.sum(h)
            return value, torch.autograd.grad(value, xt)

        impls["torch"] = _impl(run_torch)
    if libs.has("jax"):
        jax = libs["jax"]
        vg_j = jax.jit(jax.value_and_grad(f_for("jax")))
        impls["jax"] = _jax_impl(libs, vg_j, jax.numpy.asarray(x))
    return [
        Case(
            "chain",
            f"{n_ops} chained elementwise ops on {x.size} numbers, value and gradient",
            "per_op",
            impls,
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            count=n_ops,
            target_eager=Target("<=", 8.0),
            target_jit=Target("<=", 3.0),
            target_fast=0.11,
            note="float64; 50 times (sin, tanh, *1.5, +0.1), then a sum; reported per op "
            "(time / 200).",
        )
    ]


# ----------------------------------------------------------------------------- 3, 4. Rosenbrock


def rosenbrock(xp: Any, x: Any) -> Any:
    """The extended Rosenbrock function: pairs (a, b) of x, ``100 (b - a^2)^2 + (1 - a)^2``."""
    a = x[0::2]
    b = x[1::2]
    return xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def rosenbrock_hessian_numpy(x: np.ndarray) -> np.ndarray:
    """The Hessian of :func:`rosenbrock`, by hand: 2x2 blocks on the diagonal."""
    n = x.size
    a = x[0::2]
    b = x[1::2]
    H = np.zeros((n, n))
    flat = H.reshape(-1)  # a view: diagonal and next-diagonal entries by flat index
    i = np.arange(0, n, 2) * (n + 1)
    flat[i] = 1200.0 * a * a - 400.0 * b + 2.0
    off = -400.0 * a
    flat[i + 1] = off
    flat[i + n] = off
    flat[i + n + 1] = 200.0
    return H


def rosenbrock_hvp_numpy(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The Hessian of :func:`rosenbrock` times ``v``, by hand, without forming it."""
    a = x[0::2]
    b = x[1::2]
    va = v[0::2]
    vb = v[1::2]
    # d2/da2 = 1200 a^2 - 400 b + 2, d2/dadb = -400 a, d2/db2 = 200
    s = -400.0 * a
    out = np.empty_like(x)
    out[0::2] = (1200.0 * a * a - 400.0 * b + 2.0) * va + s * vb
    out[1::2] = s * va + 200.0 * vb
    return out


def _torch_rosenbrock(torch: Any) -> Callable:
    def f(x: Any) -> Any:
        a = x[0::2]
        b = x[1::2]
        return torch.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)

    return f


def build_hessian(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb

    pnp = _pnp()
    n = 6 if tiny else 30
    x = np.random.default_rng(2).uniform(-1.5, 1.5, n)
    f_pb = lambda x: rosenbrock(pnp, x)
    impls = {"numpy": _impl(lambda: rosenbrock_hessian_numpy(x))}
    h = pb.hessian(f_pb)
    impls["pullback"] = _impl(lambda: h(x))
    for lib, jit in _jits(libs).items():
        h_jit = jit(pb.hessian(f_pb))
        impls[lib] = _impl(lambda h_jit=h_jit: h_jit(x))
    if libs.has("autograd"):
        import autograd.numpy as anp

        h_ag = libs["autograd"].hessian(lambda x: rosenbrock(anp, x))
        impls["autograd"] = _impl(lambda: h_ag(x))
    if libs.has("torch"):
        torch = libs["torch"]
        h_t = torch.func.hessian(_torch_rosenbrock(torch))
        xt = torch.tensor(x)
        impls["torch"] = _impl(lambda: h_t(xt))
    if libs.has("jax"):
        jax = libs["jax"]
        h_j = jax.jit(jax.hessian(lambda x: rosenbrock(jax.numpy, x)))
        impls["jax"] = _jax_impl(libs, h_j, jax.numpy.asarray(x))
    return [
        Case(
            "hessian",
            f"Hessian of the extended Rosenbrock function, n = {n}",
            "ratio",
            impls,
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            target_eager=Target("<=", 40.0),
            target_jit=Target("<=", 1.5),
            target_fast=1.2,
            note="float64; pullback.hessian, autograd.hessian, torch.func.hessian, "
            "jax.jit(jax.hessian); the baseline writes the 2x2 diagonal blocks by hand.",
        )
    ]


def build_hvp(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb

    pnp = _pnp()
    n = 10 if tiny else 10_000
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.5, 1.5, n)
    v = rng.standard_normal(n)
    f_pb = lambda x: rosenbrock(pnp, x)
    impls = {"numpy": _impl(lambda: rosenbrock_hvp_numpy(x, v))}
    impls["pullback"] = _impl(lambda: pb.hvp(f_pb, (x,), (v,))[1][0])
    for lib, jit in _jits(libs).items():
        hvp_jit = jit(lambda x, v: pb.hvp(f_pb, (x,), (v,))[1][0])
        impls[lib] = _impl(lambda hvp_jit=hvp_jit: hvp_jit(x, v))
    if libs.has("autograd"):
        import autograd.numpy as anp

        hvp_ag = libs["autograd"].hessian_vector_product(lambda x: rosenbrock(anp, x))
        impls["autograd"] = _impl(lambda: hvp_ag(x, v))
    if libs.has("torch"):
        torch = libs["torch"]
        f_t = _torch_rosenbrock(torch)
        xt, vt = torch.tensor(x), torch.tensor(v)
        impls["torch"] = _impl(
            lambda: torch.func.jvp(torch.func.grad(f_t), (xt,), (vt,))[1]
        )
    if libs.has("jax"):
        jax = libs["jax"]
        f_j = lambda x: rosenbrock(jax.numpy, x)
        hvp_j = jax.jit(lambda x, v: jax.jvp(jax.grad(f_j), (x,), (v,))[1])
        impls["jax"] = _jax_impl(libs, hvp_j, jax.numpy.asarray(x), jax.numpy.asarray(v))
    return [
        Case(
            "hvp",
            f"Hessian-vector product, extended Rosenbrock, n = {n:,}",
            "ratio",
            impls,
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            target_eager=Target("<=", 5.0),
            target_fast=0.7,
            note="float64; forward-over-reverse (pullback.hvp, torch.func.jvp of grad, "
            "jax.jvp of grad; autograd.hessian_vector_product is reverse-over-reverse); "
            "the baseline computes H v from the analytic 2x2 blocks.",
        )
    ]


# ----------------------------------------------------------------------------- 5, 6, 7. MLPs


def mlp_loss(sp: _Space, params: list, X: Any, Y: Any) -> Any:
    """Mean softmax cross-entropy of an MLP (ReLU, ``params = [W1, b1, W2, b2, ...]``,
    ``W`` of shape ``(n_out, n_in)``), ``Y`` one-hot."""
    xp = sp.xp
    h = X
    n = len(params) // 2
    for k in range(n - 1):
        h = xp.maximum(h @ params[2 * k].T + params[2 * k + 1], 0.0)
    z = h @ params[-2].T + params[-1]
    if sp.max_shift is not None:
        z = z - sp.max_shift(z)
    lse = xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))
    return -xp.sum(Y * (z - lse)) / X.shape[0]


def _torch_mlp_loss(torch: Any) -> Callable:
    def loss(params: list, X: Any, Y: Any) -> Any:
        h = X
        n = len(params) // 2
        for k in range(n - 1):
            h = torch.relu(h @ params[2 * k].T + params[2 * k + 1])
        z = h @ params[-2].T + params[-1]
        z = z - z.detach().amax(dim=-1, keepdim=True)
        lse = torch.log(torch.sum(torch.exp(z), dim=-1, keepdim=True))
        return -torch.sum(Y * (z - lse)) / X.shape[0]

    return loss


def mlp_numpy_forward(params: list, X: np.ndarray, Y: np.ndarray) -> tuple:
    """The loss and what the backward pass needs: the pre-activations and activations."""
    n = len(params) // 2
    acts = [X]
    pre = []
    h = X
    for k in range(n - 1):
        z = h @ params[2 * k].T
        z += params[2 * k + 1]
        pre.append(z)
        h = np.maximum(z, 0.0)
        acts.append(h)
    z = h @ params[-2].T
    z += params[-1]
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    # rows of Y sum to one: -sum(Y * (z - log s)) = sum(log s) - sum(Y * z)
    loss = (np.log(s).sum() - np.vdot(Y, z)) / X.shape[0]
    return loss, e, s, pre, acts


def mlp_numpy_loss(params: list, X: np.ndarray, Y: np.ndarray) -> Any:
    """The forward pass alone."""
    return mlp_numpy_forward(params, X, Y)[0]


def mlp_numpy(params: list, X: np.ndarray, Y: np.ndarray) -> tuple:
    """Loss and gradients (a list like ``params``), by hand."""
    loss, e, s, pre, acts = mlp_numpy_forward(params, X, Y)
    g = e
    g /= s
    g -= Y
    g *= 1.0 / X.shape[0]
    n = len(params) // 2
    grads: list = [None] * (2 * n)
    for k in range(n - 1, -1, -1):
        grads[2 * k] = g.T @ acts[k]
        grads[2 * k + 1] = g.sum(axis=0)
        if k:
            g = g @ params[2 * k]
            g *= pre[k - 1] > 0
    return loss, grads


def _init_mlp(rng: np.random.Generator, sizes: list, dtype: Any) -> list:
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        params.append((rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dtype))
        params.append((0.01 * rng.standard_normal(n_out)).astype(dtype))
    return params


def _one_hot(labels: np.ndarray, k: int, dtype: Any) -> np.ndarray:
    return np.eye(k, dtype=dtype)[labels]


def _mlp_data(seed: int, sizes: list, batch: int, dtype: Any) -> tuple:
    rng = np.random.default_rng(seed)
    params = _init_mlp(rng, sizes, dtype)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    Y = _one_hot(rng.integers(0, sizes[-1], batch), sizes[-1], dtype)
    return params, X, Y


def _mlp_impls(libs: Libs, params: list, X: np.ndarray, Y: np.ndarray, fwd: bool) -> dict:
    """Value and gradients (``fwd=False``) or the forward value alone, for every library."""
    import pullback as pb

    spaces = _spaces(libs)

    def loss_for(name: str) -> Callable:
        sp = spaces[name]
        return lambda params, X, Y: mlp_loss(sp, params, X, Y)

    impls = {}
    if fwd:
        impls["numpy"] = _impl(lambda: mlp_numpy_loss(params, X, Y))
        f_pb = loss_for("pullback")
        impls["pullback"] = _impl(lambda: f_pb(params, X, Y))
        for lib, jit in _jits(libs).items():
            f_jit = jit(loss_for("pullback"))
            impls[lib] = _impl(lambda f_jit=f_jit: f_jit(params, X, Y))
        if libs.has("autograd"):
            f_ag = loss_for("autograd")
            impls["autograd"] = _impl(lambda: f_ag(params, X, Y))
    else:
        impls["numpy"] = _impl(lambda: mlp_numpy(params, X, Y))
        vg = pb.value_and_grad(loss_for("pullback"))
        impls["pullback"] = _impl(lambda: vg(params, X, Y))
        for lib, jit in _jits(libs).items():
            vg_jit = jit(pb.value_and_grad(loss_for("pullback")))
            impls[lib] = _impl(lambda vg_jit=vg_jit: vg_jit(params, X, Y))
        if libs.has("autograd"):
            vg_ag = libs["autograd"].value_and_grad(loss_for("autograd"))
            impls["autograd"] = _impl(lambda: vg_ag(params, X, Y))
    if libs.has("torch"):
        torch = libs["torch"]
        loss_t = _torch_mlp_loss(torch)
        p_t = [torch.tensor(p, requires_grad=not fwd) for p in params]
        X_t, Y_t = torch.tensor(X), torch.tensor(Y)
        if fwd:

            def run_torch() -> Any:
                with torch.no_grad():
                    return loss_t(p_t, X_t, Y_t)

        else:

            def run_torch() -> Any:
                loss = loss_t(p_t, X_t, Y_t)
                return loss, torch.autograd.grad(loss, p_t)

        impls["torch"] = _impl(run_torch)
    if libs.has("jax"):
        jax = libs["jax"]
        f_j = loss_for("jax")
        f_j = jax.jit(f_j if fwd else jax.value_and_grad(f_j))
        args = ([jax.numpy.asarray(p) for p in params], jax.numpy.asarray(X), jax.numpy.asarray(Y))
        impls["jax"] = _jax_impl(libs, f_j, *args)
    return impls


def build_mlp(libs: Libs, tiny: bool) -> list[Case]:
    sizes = [8, 6, 6, 3] if tiny else [784, 256, 256, 10]
    batch = 4 if tiny else 128
    params, X, Y = _mlp_data(5, sizes, batch, np.float32)
    return [
        Case(
            "mlp",
            f"MLP {'-'.join(map(str, sizes))}, batch {batch}, float32, value and gradients",
            "ratio",
            _mlp_impls(libs, params, X, Y, fwd=False),
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            rtol=2e-4,
            atol=2e-5,
            target_eager=Target("<=", 1.15),
            target_fast=0.93,
            note="float32; ReLU, mean softmax cross-entropy on one-hot labels; gradients "
            "with respect to the 6 weights and biases.",
        )
    ]


def build_mlp_large(libs: Libs, tiny: bool) -> list[Case]:
    sizes = [8, 8, 8, 3] if tiny else [2048, 2048, 2048, 10]
    batch = 4 if tiny else 512
    params, X, Y = _mlp_data(6, sizes, batch, np.float32)
    return [
        Case(
            "mlp_large",
            f"MLP {'-'.join(map(str, sizes))}, batch {batch}, float32: gradient / forward",
            "grad_fwd",
            _mlp_impls(libs, params, X, Y, fwd=False),
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            fwd=_mlp_impls(libs, params, X, Y, fwd=True),
            rtol=1e-3,
            atol=1e-4,
            target_eager=Target("<=", 2.7),
            note="float32; each library's value-and-gradients time over its own forward "
            "time (PyTorch's forward under no_grad, JAX's jitted, pullback's on plain "
            "arrays; the pullback jit column compares pb.jit of each).",
        )
    ]


def _digits(tiny: bool) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        if not tiny:
            raise
        rng = np.random.default_rng(7)
        return rng.uniform(0, 1, (64, 64)), rng.integers(0, 10, 64)
    data = load_digits()
    return data.data / 16.0, data.target


def build_digits(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb
    from pullback.tree import tree_map

    X_all, labels = _digits(tiny)
    batch, hidden, lr = (8, 16, 0.1) if tiny else (32, 128, 0.1)
    rng = np.random.default_rng(8)
    order = rng.permutation(len(X_all))
    n_steps = 3 if tiny else len(X_all) // batch
    batches = []
    for s in range(n_steps):
        idx = order[s * batch : (s + 1) * batch]
        batches.append((X_all[idx], _one_hot(labels[idx], 10, np.float64)))
    params0 = _init_mlp(rng, [64, hidden, 10], np.float64)
    spaces = _spaces(libs)

    def run_numpy() -> list:
        params = [p.copy() for p in params0]
        for X, Y in batches:
            _, grads = mlp_numpy(params, X, Y)
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
        return params

    impls = {"numpy": _impl(run_numpy)}

    def step_for(name: str, vg: Callable | None = None) -> Callable:
        sp = spaces[name]
        grad = vg or pb.grad(lambda params, X, Y: mlp_loss(sp, params, X, Y))

        def step(params: list, X: Any, Y: Any) -> list:
            return tree_map(lambda p, g: p - lr * g, params, grad(params, X, Y))

        return step

    def epoch(step: Callable, params: list, data: list) -> Callable:
        def run() -> list:
            p = params
            for X, Y in data:
                p = step(p, X, Y)
            return p

        return run

    impls["pullback"] = _impl(epoch(step_for("pullback"), params0, batches))
    for lib, jit in _jits(libs).items():
        impls[lib] = _impl(epoch(jit(step_for("pullback")), params0, batches))
    if libs.has("autograd"):
        ag = libs["autograd"]
        sp_ag = spaces["autograd"]
        g_ag = ag.grad(lambda params, X, Y: mlp_loss(sp_ag, params, X, Y))

        def step_ag(params: list, X: Any, Y: Any) -> list:
            return [p - lr * g for p, g in zip(params, g_ag(params, X, Y), strict=True)]

        impls["autograd"] = _impl(epoch(step_ag, params0, batches))
    if libs.has("torch"):
        torch = libs["torch"]
        loss_t = _torch_mlp_loss(torch)
        data_t = [(torch.tensor(X), torch.tensor(Y)) for X, Y in batches]

        def run_torch() -> list:
            params = [torch.tensor(p, requires_grad=True) for p in params0]
            for X, Y in data_t:
                grads = torch.autograd.grad(loss_t(params, X, Y), params)
                with torch.no_grad():
                    for p, g in zip(params, grads, strict=True):
                        p -= lr * g
            return params

        impls["torch"] = _impl(run_torch)
    if libs.has("jax"):
        jax = libs["jax"]
        sp_j = spaces["jax"]
        g_j = jax.grad(lambda params, X, Y: mlp_loss(sp_j, params, X, Y))
        step_j = jax.jit(
            lambda params, X, Y: [
                p - lr * g for p, g in zip(params, g_j(params, X, Y), strict=True)
            ]
        )
        data_j = [(jax.numpy.asarray(X), jax.numpy.asarray(Y)) for X, Y in batches]
        params_j = [jax.numpy.asarray(p) for p in params0]
        impls["jax"] = _impl(
            lambda: jax.block_until_ready(epoch(step_j, params_j, data_j)())
        )
    return [
        Case(
            "digits",
            f"digits, MLP 64-{hidden}-10, batch {batch}, SGD: training steps per second",
            "steps",
            impls,
            _missing(libs, "pullback.jit", "autograd", "torch", "jax"),
            count=n_steps,
            rtol=1e-8,
            atol=1e-10,
            target_eager=Target(">=", 2500.0),
            target_jit=Target(">=", 6000.0),
            target_fast=0.8,
            note=f"float64; one epoch of {n_steps} SGD steps (lr {lr}) from the same "
            "initial weights, timed as a whole; checked by comparing the weights after "
            "the epoch with the baseline's. PyTorch and NumPy update in place, the others "
            "functionally (JAX jits the whole step).",
        )
    ]


# ----------------------------------------------------------------------------- 8. outside


def build_outside(libs: Libs, tiny: bool) -> list[Case]:
    pnp = _pnp()
    cases = []
    for n in (10, 100 if tiny else 100_000):
        x = np.random.default_rng(9).standard_normal(n)
        impls = {
            "numpy": _impl(lambda x=x: np.sin(x)),
            "pullback": _impl(lambda x=x: pnp.sin(x)),
        }
        if libs.has("autograd"):
            import autograd.numpy as anp

            impls["autograd"] = _impl(lambda x=x: anp.sin(x))
        if libs.has("torch"):
            torch = libs["torch"]
            impls["torch"] = _impl(functools.partial(torch.sin, torch.tensor(x)))
        if libs.has("jax"):
            jnp = libs["jax"].numpy
            impls["jax"] = _jax_impl(libs, jnp.sin, jnp.asarray(x))
        missing = {lib: "n/a (no transformation)" for lib in JIT_BACKENDS}
        missing.update(_missing(libs, "autograd", "torch", "jax"))
        cases.append(
            Case(
                f"outside-{n}",
                f"sin of {n:,} numbers outside any transformation",
                "ratio",
                impls,
                missing,
                note="float64; pnp.sin on a plain array against np.sin; the other "
                "libraries' own sin on their own arrays (jax.numpy.sin not jitted).",
            )
        )
    return cases


# ----------------------------------------------------------------------------- 9. fill


def fill_loop(xp: Any, x: Any) -> Any:
    """``out[i] = sin(x[i]) * x[i - 1]`` written as a loop that fills a buffer (issue 9);
    the loss is ``0.5 * |out|^2``."""
    out = xp.zeros_like(x)
    for i in range(len(x)):
        out[i] = xp.sin(x[i]) * x[i - 1]
    return 0.5 * xp.sum(out * out)


def fill_stack(xp: Any, x: Any) -> Any:
    """The same program, the values collected in a list and stacked."""
    parts = []
    for i in range(len(x)):
        parts.append(xp.sin(x[i]) * x[i - 1])
    out = xp.stack(parts)
    return 0.5 * xp.sum(out * out)


def fill_numpy(x: np.ndarray) -> tuple:
    """Value and gradient of :func:`fill_loop`, by hand (vectorised, as one would write it)."""
    s = np.sin(x)
    prev = np.roll(x, 1)
    out = s * prev
    g = out * prev * np.cos(x)  # d/dx[i] through sin(x[i])
    g += np.roll(out * s, -1)  # d/dx[i] through x[i] as the previous entry of out[i + 1]
    return 0.5 * (out @ out), g


def build_fill(libs: Libs, tiny: bool) -> list[Case]:
    import pullback as pb

    pnp = _pnp()
    n = 20 if tiny else 200
    x = np.random.default_rng(12).standard_normal(n)
    cases = []
    for key, program, how in (("fill-loop", fill_loop, "a loop filling a buffer, out[i] = ..."),
                              ("fill-stack", fill_stack, "a list of values and np.stack")):
        vg = pb.value_and_grad(lambda x, program=program: program(pnp, x))
        impls = {
            "numpy": _impl(lambda: fill_numpy(x)),
            "pullback": _impl(lambda vg=vg: vg(x)),
        }
        for lib, jit in _jits(libs).items():
            vg_jit = jit(pb.value_and_grad(lambda x, program=program: program(pnp, x)))
            impls[lib] = _impl(lambda vg_jit=vg_jit: vg_jit(x))
        cases.append(
            Case(
                key,
                f"{how}: {n} steps of out[i] = sin(x[i]) * x[i-1], value and gradient",
                "ratio",
                impls,
                _missing(libs, "pullback.jit"),
                note="float64; the program written the way people write NumPy, traced step "
                "by step (3 primitives a step, plus the write), against the vectorised "
                "gradient written by hand; 'fill-loop' over 'fill-stack' is the cost of the "
                "writes into a buffer (issue 9).",
            )
        )
    return cases


#: name -> builder, in the order of issue 6
WORKLOADS: dict[str, Callable[[Libs, bool], list[Case]]] = {
    "network": build_network,
    "chain": build_chain,
    "hessian": build_hessian,
    "hvp": build_hvp,
    "mlp": build_mlp,
    "mlp_large": build_mlp_large,
    "digits": build_digits,
    "outside": build_outside,
    "fill": build_fill,
}


def build(name: str, libs: Libs, tiny: bool = False) -> list[Case]:
    """The cases of workload ``name`` for the libraries in ``libs``.

    Example:
        >>> from benchmarks.libs import load_libs
        >>> [c.key for c in build("network", load_libs(("numpy", "pullback")), tiny=True)]
        ['network']
    """
    if name not in WORKLOADS:
        raise ValueError(
            f"build: unknown workload {name!r}; choose among {', '.join(WORKLOADS)}"
        )
    return WORKLOADS[name](libs, tiny)
