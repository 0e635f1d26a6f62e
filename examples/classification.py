"""Classification: three interleaved spirals, an MLP, softmax cross-entropy and AdamW.

Shows integer labels with ``nn.softmax_cross_entropy``, ``nn.accuracy``, minibatches,
``optim.adamw`` with a warm-up and cosine schedule, saving the trained parameters with
``pullback.io`` and loading them back, checked against their shapes.

Run: ``python examples/classification.py`` (a few seconds).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import pullback as pb
from pullback import io, nn, optim


def spirals(n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points on three spiral arms (with noise), labelled by arm."""
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), 3)
    labels = np.repeat(np.arange(3), n_per_class)
    angle = 4.0 * r + labels * 2 * np.pi / 3 + 0.3 * rng.standard_normal(r.size)
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1), labels


def main(epochs: int = 60, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    x, labels = spirals(200, rng)
    order = rng.permutation(len(x))
    train, test = order[:450], order[450:]

    params = nn.init_mlp([2, 64, 64, 3], rng)

    def loss(params, x, labels):
        return nn.softmax_cross_entropy(nn.mlp(params, x), labels)

    batch = 64
    steps = epochs * -(-len(train) // batch)
    schedule = optim.warmup_cosine_decay_schedule(2e-4, 1e-2, warmup_steps=50,
                                                  decay_steps=50 + steps, end_value=1e-4)
    opt_init, opt_update = optim.adamw(schedule, weight_decay=1e-4)
    state = opt_init(params)
    grad = pb.grad(loss)
    for epoch in range(epochs):
        shuffled = rng.permutation(train)
        for start in range(0, len(train), batch):
            idx = shuffled[start:start + batch]
            params, state = opt_update(grad(params, x[idx], labels[idx]), state, params)
        if epoch % 15 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:4d}  train loss {float(loss(params, x[train], labels[train])):.4f}"
                  f"  test accuracy {nn.accuracy(nn.mlp(params, x[test]), labels[test]):.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = io.save(Path(tmp) / "spirals.npz", params)
        # like= checks that the file fits the architecture, leaf by leaf
        restored = io.load(path, like=nn.init_mlp([2, 64, 64, 3], 0))
    acc = nn.accuracy(nn.mlp(restored, x[test]), labels[test])
    print(f"test accuracy of the parameters saved and loaded again: {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
