"""A character-level recurrent network trained with ``pb.lax.scan``.

A vanilla RNN (``h = tanh(x W + h U + b)``, then a softmax over the next character) reads
windows of a short built-in text; the loop over the characters of a window is a
``pb.lax.scan``, so under ``pb.jit`` the forward pass and the backward pass (backpropagation
through time) are each one Python loop in the generated code, whatever the window's length.
After training it writes a few characters greedily, then measures what checkpointing the
scan does to the memory of one gradient (``scan(..., checkpoint="sqrt")``).

Run: ``python examples/rnn.py`` (a few seconds).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

import pullback as pb
import pullback.numpy as pnp
from pullback import lax, nn, optim

TEXT = (
    "the quick brown fox jumps over the lazy dog. "
    "a loop that runs a thousand times is one loop in the compiled code. "
    "the gradient flows back through every step of the loop, "
    "and checkpointing keeps a few carries instead of every step. "
) * 2


def one_hot(indices: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size)[indices]


def loss(params: dict, xs: np.ndarray, ys: np.ndarray, checkpoint: object = None) -> object:
    """Mean cross-entropy of the next character; ``xs``, ``ys``: (time, batch, vocab)."""

    def step(h: object, inputs: tuple) -> tuple:
        x, y = inputs
        h = pnp.tanh(x @ params["W"] + h @ params["U"] + params["b"])
        logits = h @ params["V"] + params["c"]
        return h, -pnp.sum(y * nn.log_softmax(logits, axis=-1))

    h0 = pnp.zeros((xs.shape[1], params["U"].shape[0]))
    _, nll = lax.scan(step, h0, (xs, ys), checkpoint=checkpoint)
    return pnp.sum(nll) / (xs.shape[0] * xs.shape[1])


def batches(data: np.ndarray, length: int, batch: int, rng: np.random.Generator,
            vocab: int) -> tuple[np.ndarray, np.ndarray]:
    starts = rng.integers(0, len(data) - length - 1, batch)
    windows = np.stack([data[s:s + length + 1] for s in starts], axis=1)  # (time+1, batch)
    return one_hot(windows[:-1], vocab), one_hot(windows[1:], vocab)


def main(steps: int = 200, hidden: int = 48, length: int = 32, batch: int = 16,
         seed: int = 0) -> float:
    chars = sorted(set(TEXT))
    index = {ch: i for i, ch in enumerate(chars)}
    data = np.array([index[ch] for ch in TEXT])
    vocab = len(chars)
    rng = np.random.default_rng(seed)
    params = {
        "W": rng.normal(0, 0.3, (vocab, hidden)),
        "U": rng.normal(0, 1 / np.sqrt(hidden), (hidden, hidden)),
        "b": np.zeros(hidden),
        "V": rng.normal(0, 0.3, (hidden, vocab)),
        "c": np.zeros(vocab),
    }
    opt_init, opt_update = optim.adam(1e-2)
    state = opt_init(params)
    step = pb.jit(pb.value_and_grad(loss))

    start = time.perf_counter()
    for i in range(steps):
        xs, ys = batches(data, length, batch, rng, vocab)
        value, grads = step(params, xs, ys)
        params, state = opt_update(grads, state, params)
        if i % 100 == 0 or i == steps - 1:
            print(f"step {i:4d}  cross-entropy {float(value):.3f} nats "
                  f"(uniform guess: {np.log(vocab):.3f})")
    train_s = time.perf_counter() - start
    final = float(value)
    print(f"{steps} steps of {batch} windows of {length} characters in {train_s:.1f} s "
          f"({step.trace_count} trace: the scan compiled once)")

    # greedy generation, one character at a time (eagerly: a few matrix products)
    h, out = np.zeros(hidden), list("the ")
    for ch in out[:-1]:
        h = np.tanh(one_hot(np.array(index[ch]), vocab) @ params["W"] + h @ params["U"]
                    + params["b"])
    for _ in range(40):
        x = one_hot(np.array(index[out[-1]]), vocab)
        h = np.tanh(x @ params["W"] + h @ params["U"] + params["b"])
        out.append(chars[int(np.argmax(h @ params["V"] + params["c"]))])
    print("greedy continuation:", repr("".join(out)))

    # memory of one gradient over a long window: every intermediate of every step kept
    # (the eager Python loop), the carries kept (checkpoint="steps"), about 2 sqrt(n)
    long_xs, long_ys = batches(data, 256, batch, rng, vocab)
    plain = pb.value_and_grad(loss)(params, long_xs, long_ys)
    for checkpoint in (None, "steps", "sqrt"):
        tracemalloc.start()
        t = time.perf_counter()
        value, grads = pb.value_and_grad(loss)(params, long_xs, long_ys, checkpoint)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        same = all(np.allclose(grads[k], plain[1][k], rtol=1e-10, atol=1e-14) for k in grads)
        print(f"gradient over 256 characters, checkpoint={checkpoint!s:5}: peak "
              f"{peak / 1e6:5.1f} MB, {seconds:.2f} s (with tracemalloc), same gradient: "
              f"{same}")
    return final


if __name__ == "__main__":
    main()
