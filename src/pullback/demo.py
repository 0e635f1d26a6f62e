"""``pullback demo``: the project's main job, end to end.

1. The course notebook, replayed: its ReLU, two-layer network, squared loss and their
   composition are differentiated by pullback, and each pullback is compared with the
   notebook's forward difference (eps = 1e-3), with a complex-step derivative and with the
   notebook's hand-written closed-form pullbacks.
2. An MLP trained on scikit-learn's digits with Adam, with a progress bar.
3. A PNG of the training and test curves.
4. A final gradient check of the trained model's loss: reverse mode against forward mode and
   against extrapolated central differences, along random directions.

scikit-learn, matplotlib and tqdm (the ``demo`` extra) are imported here only, so that
``import pullback`` never needs them.

Example:
    >>> main(["--epochs", "1", "--out", "/tmp/pullback-demo"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import pullback as pb
from pullback import io, nn, optim
from pullback.core.tree import tree_leaves, tree_map

__all__ = ["main"]

#: the accuracy the demo's default run must reach on the held-out digits
TARGET_ACCURACY = 0.97


# ----------------------------------------------------------------------------- the notebook
# The notebook's functions in plain NumPy, each returning its value and its hand-written
# pullback, as in the course. They are the closed-form reference for pullback's results and
# accept complex input, so that the complex step can check them too.


def nb_relu(x: np.ndarray) -> tuple[np.ndarray, Callable]:
    """The notebook's ReLU and its pullback ``u -> u * (x > 0)``."""
    return np.maximum(x, 0), lambda u: (u * (np.real(x) > 0),)


def nb_dot(W: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, Callable]:
    """The notebook's ``W @ x`` and its pullback ``u -> (outer(u, x), W.T @ u)``."""
    return W @ x, lambda u: (np.outer(u, x), W.T @ u)


def nb_mlp2(x: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> tuple[np.ndarray, Callable]:
    """The notebook's two-layer network ``W2 @ relu(W1 @ x)``, pullbacks chained by hand."""
    h, dot1 = nb_dot(W1, x)
    a, relu_vjp = nb_relu(h)
    out, dot2 = nb_dot(W2, a)

    def vjp(u: np.ndarray) -> tuple:
        gW2, ga = dot2(u)
        (gh,) = relu_vjp(ga)
        gW1, gx = dot1(gh)
        return gx, gW1, gW2

    return out, vjp


def nb_squared_loss(pred: np.ndarray, y: np.ndarray) -> tuple[Any, Callable]:
    """The notebook's ``0.5 * sum((pred - y) ** 2)`` and its pullback ``u -> (r u, -r u)``."""
    r = pred - y
    return 0.5 * np.sum(r**2), lambda u: (r * u, -r * u)


def nb_loss(x: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> tuple[Any, Callable]:
    """The notebook's loss, the squared loss of the two-layer network, chained by hand."""
    pred, mlp_vjp = nb_mlp2(x, W1, W2)
    value, loss_vjp = nb_squared_loss(pred, y)

    def vjp(u: Any) -> tuple:
        gpred, gy = loss_vjp(u)
        gx, gW1, gW2 = mlp_vjp(gpred)
        return gx, gy, gW1, gW2

    return value, vjp


def _value_only(f: Callable) -> Callable:
    return lambda *args: f(*args)[0]


def _numerical_vjp(f: Callable, args: Sequence[np.ndarray], i: int, u: Any,
                   method: str) -> np.ndarray:
    """``J_i^T u`` for ``f``'s Jacobian with respect to argument ``i``, one column at a time.

    ``"forward"`` is the notebook's one-sided difference with eps = 1e-3; ``"complex"`` the
    complex step ``Im f(x + i h e_j) / h`` with h = 1e-20, exact to rounding for functions
    that are real-analytic where they are evaluated.
    """
    x = np.asarray(args[i], dtype=float)
    base = np.asarray(f(*args))
    out = np.zeros(x.size)
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = 1.0
        new = list(args)
        if method == "forward":
            new[i] = x + 1e-3 * e.reshape(x.shape)
            col = (np.asarray(f(*new)) - base) / 1e-3
        else:
            new[i] = x + 1e-20j * e.reshape(x.shape)
            col = np.imag(np.asarray(f(*new))) / 1e-20
        out[j] = np.sum(col * u)
    return out.reshape(x.shape)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max |b|`` (the absolute error when ``b`` is zero)."""
    scale = float(np.max(np.abs(b), initial=0.0))
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))
    return err / scale if scale > 0 else err


def replay_notebook(rng: np.random.Generator) -> bool:
    """Part 1: differentiate the notebook's functions with pullback and check each pullback.

    Prints, for every argument, pullback's error against the notebook's forward difference
    (eps = 1e-3), against the complex step and against the notebook's closed-form pullback.
    Returns True when every exact check (complex step, closed form) agrees to 1e-10.
    """
    m, k = 5, 10
    x = np.linspace(-2.0, 2.0, 40)
    u_relu = np.linspace(-5.0, 2.0, 40)
    W1 = rng.random((m, x.size))
    W2 = rng.random((k, m))
    y = np.linspace(-2.0, 2.0, k)
    u_mlp = rng.standard_normal(k)
    u_loss = float(rng.random())

    def mlp2(x: Any, W1: Any, W2: Any) -> Any:
        return nn.mlp([{"W": W1}, {"W": W2}], x)

    def loss(x: Any, y: Any, W1: Any, W2: Any) -> Any:
        return nn.squared_loss(mlp2(x, W1, W2), y)

    cases = [
        ("relu", nn.relu, nb_relu, (x,), ("x",), u_relu),
        ("mlp2 (two-layer network)", mlp2, nb_mlp2, (x, W1, W2), ("x", "W1", "W2"), u_mlp),
        ("squared_loss", nn.squared_loss, nb_squared_loss, (W2 @ np.maximum(W1 @ x, 0), y),
         ("pred", "y"), u_loss),
        ("loss = squared_loss(mlp2)", loss, nb_loss, (x, y, W1, W2), ("x", "y", "W1", "W2"),
         u_loss),
    ]
    print(f"  {'pullback of':<27} {'arg':<5} {'notebook fwd diff':>17} {'complex step':>13} "
          f"{'closed form':>12}")
    print(f"  {'':<27} {'':<5} {'(eps=1e-3)':>17} {'(h=1e-20)':>13} {'(notebook)':>12}")
    ok = True
    for name, ours, notebook, args, names, u in cases:
        value, vjp_fn = pb.vjp(ours, *args)
        nb_value, nb_vjp = notebook(*args)
        cotangent = np.asarray(u, dtype=float) if np.ndim(u) else np.float64(u)
        grads = vjp_fn(cotangent)
        closed = nb_vjp(u)
        ok &= _rel_err(value, nb_value) < 1e-12
        for i, arg_name in enumerate(names):
            fd = _numerical_vjp(_value_only(notebook), args, i, u, "forward")
            cs = _numerical_vjp(_value_only(notebook), args, i, u, "complex")
            e_fd, e_cs, e_cf = (_rel_err(grads[i], ref) for ref in (fd, cs, closed[i]))
            ok &= e_cs < 1e-10 and e_cf < 1e-10
            label = name if i == 0 else ""
            print(f"  {label:<27} {arg_name:<5} {e_fd:>17.1e} {e_cs:>13.1e} {e_cf:>12.1e}")
    print("  (relative errors max|pullback - reference| / max|reference|; the forward difference")
    print("   is off by O(eps), the exact checks agree to rounding)")
    return ok


# ----------------------------------------------------------------------------- training


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 images, shipped with scikit-learn), split 75/25 with
    stratification, features standardised with the training set's statistics."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=seed, stratify=y
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 0.1
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def gpu_problem() -> str | None:
    """Why ``--device gpu`` cannot run here (CuPy missing, or no GPU it can use); None when
    CuPy sees a GPU.

    Example:
        >>> gpu_problem() is None or isinstance(gpu_problem(), str)
        True
    """
    try:
        import cupy
    except Exception as err:  # noqa: BLE001 - ImportError, or a broken CUDA install
        return f"CuPy cannot be imported ({type(err).__name__}: {' '.join(str(err).split())})"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as err:  # noqa: BLE001 - CUDA's errors when no driver or GPU is there
        return f"CuPy finds no usable GPU ({type(err).__name__}: {' '.join(str(err).split())})"
    return None if count > 0 else "CuPy finds no GPU"


def _device_functions(device: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The functions that move a NumPy array to ``device`` and back (identity for the CPU)."""
    if device != "gpu":
        return (lambda a: a), (lambda a: a)
    import cupy

    return cupy.asarray, cupy.asnumpy


def train(args: argparse.Namespace, data: tuple, to_device: Callable[[Any], Any] | None = None,
          to_host: Callable[[Any], Any] | None = None) -> tuple[list, dict[str, list[float]]]:
    """Part 2: train an MLP with Adam (cosine-decayed learning rate) on minibatches, on
    ``args.device`` ("cpu", or "gpu" with CuPy arrays): the data and parameters are moved
    there by ``to_device`` and the trained parameters brought back by ``to_host``.

    Returns the parameters (NumPy arrays) and the per-epoch history of loss and accuracy on
    both splits.
    """
    from tqdm import tqdm

    if to_device is None or to_host is None:
        to_device, to_host = _device_functions(getattr(args, "device", "cpu"))
    X_train, X_test, y_train, y_test = (to_device(a) for a in data)
    rng = np.random.default_rng(args.seed)
    sizes = [X_train.shape[1], *args.hidden, 10]
    params = tree_map(to_device, nn.init_mlp(sizes, rng))
    steps_per_epoch = -(-len(X_train) // args.batch_size)
    schedule = optim.cosine_decay_schedule(args.lr, args.epochs * steps_per_epoch, alpha=0.01)
    opt_init, opt_update = optim.adam(schedule)
    state = opt_init(params)

    def loss_fn(params: list, x: np.ndarray, labels: np.ndarray) -> Any:
        return nn.softmax_cross_entropy(nn.mlp(params, x), labels)

    value_and_grad = pb.value_and_grad(loss_fn)
    history: dict[str, list[float]] = {k: [] for k in
                                       ("train_loss", "train_acc", "test_loss", "test_acc")}
    n_params = sum(math.prod(leaf.shape) for leaf in tree_leaves(params))
    print(f"  MLP {' -> '.join(map(str, sizes))} ({n_params} parameters), Adam, lr {args.lr} "
          f"with cosine decay, batch {args.batch_size}, {len(X_train)} training and "
          f"{len(X_test)} held-out digits")
    bar = tqdm(range(args.epochs), desc="  training", unit="epoch", file=sys.stderr,
               disable=args.no_progress, leave=True)
    for _ in bar:
        order = rng.permutation(len(X_train))
        for start in range(0, len(X_train), args.batch_size):
            idx = order[start:start + args.batch_size]
            _, grads = value_and_grad(params, X_train[idx], y_train[idx])
            params, state = opt_update(grads, state, params)
        for split, x, labels in (("train", X_train, y_train), ("test", X_test, y_test)):
            logits = nn.mlp(params, x)
            history[f"{split}_loss"].append(float(nn.softmax_cross_entropy(logits, labels)))
            history[f"{split}_acc"].append(nn.accuracy(logits, labels))
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.4f}",
                        acc=f"{history['train_acc'][-1]:.3f}",
                        test_acc=f"{history['test_acc'][-1]:.3f}")
    bar.close()
    return tree_map(to_host, params), history


def plot(history: dict[str, list[float]], path: Path) -> Path:
    """Part 3: the loss and accuracy curves of both splits, as a PNG (matplotlib's Agg)."""
    from matplotlib.figure import Figure

    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig = Figure(figsize=(10, 4), dpi=100)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for split, style in (("train", "-"), ("test", "--")):
        ax_loss.plot(epochs, history[f"{split}_loss"], style, marker=".", label=split)
        ax_acc.plot(epochs, 100 * np.asarray(history[f"{split}_acc"]), style, marker=".",
                    label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_acc.axhline(100 * TARGET_ACCURACY, color="gray", lw=0.8, ls=":", label="97%")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy on digits")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("pullback demo: an MLP trained on scikit-learn's digits with Adam")
    fig.tight_layout()
    fig.savefig(path)
    return path


# ----------------------------------------------------------------------------- final check


def _richardson(loss_fn: Callable, params: list, d: list) -> float:
    """The derivative of ``loss_fn`` at ``params`` along ``d`` by ``pullback.check``'s
    Richardson extrapolation: central differences on a ladder of steps, the window with the
    smallest error estimate, for each output entry (steps across which a ReLU changes side
    give inconsistent windows and are not chosen)."""
    return float(pb.check.numerical_jvp(loss_fn, (params,), (d,), method="richardson"))


def gradient_check(params: list, x: np.ndarray, labels: np.ndarray,
                   rng: np.random.Generator, directions: int = 3) -> bool:
    """Part 4: the trained model's loss on a small batch, differentiated three ways.

    Along random unit directions ``d`` in parameter space, compares ``<grad L, d>`` (reverse
    mode) with ``jvp`` (forward mode) and with Richardson-extrapolated central differences
    (``pullback.check.numerical_jvp(..., method="richardson")``).
    """

    def loss_fn(p: list) -> Any:
        return nn.softmax_cross_entropy(nn.mlp(p, x), labels)

    value, grads = pb.value_and_grad(loss_fn)(params)
    print(f"  loss on {len(x)} held-out digits: {float(value):.6f}")
    print(f"  {'direction':<10} {'reverse <grad, d>':>19} {'forward (jvp)':>19} "
          f"{'rev - fwd':>10} {'Richardson':>19} {'rev - Rich.':>11}")
    ok = True
    for n in range(directions):
        d = tree_map(lambda p: rng.standard_normal(p.shape), params)
        norm = np.sqrt(sum(float(np.sum(leaf**2)) for leaf in tree_leaves(d)))
        d = [{k: v / norm for k, v in layer.items()} for layer in d]
        pairs = zip(tree_leaves(grads), tree_leaves(d), strict=True)
        rev = sum(float(np.sum(g * t)) for g, t in pairs)
        fwd = float(pb.jvp(loss_fn, (params,), (d,))[1])
        rich = _richardson(loss_fn, params, d)
        scale = max(abs(rev), 1e-300)
        e_fwd, e_rich = abs(rev - fwd) / scale, abs(rev - rich) / scale
        ok &= e_fwd < 1e-10 and e_rich < 1e-6
        print(f"  {n + 1:<10} {rev:>19.12e} {fwd:>19.12e} {e_fwd:>10.1e} {rich:>19.12e} "
              f"{e_rich:>11.1e}")
    print("  (errors relative to the reverse-mode value; forward and reverse mode agree to")
    print("   rounding, the difference quotient to its truncation error)")
    return ok


# ----------------------------------------------------------------------------- command line


_MAX_SEED = 2**32 - 1  # scikit-learn's random_state takes seeds up to 2**32 - 1


class _Parser(argparse.ArgumentParser):
    """argparse, with each error on one line of standard error that says what to do."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; run "
                     f"`{self.prog} --help` for the options\n")


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive layer widths separated by commas (such as 256 or 128,64), "
            f"got {text!r}"
        )
    return sizes


def _count(what: str, example: int) -> Callable[[str], int]:
    """A parser of positive whole numbers of ``what``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"expected a positive whole number of {what} (such as {example}), got {text!r}"
            )
        return value

    return parse


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a positive finite learning rate (such as 1e-3), got {text!r}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to {_MAX_SEED} (such as 0), got {text!r}"
        )
    return value


def _writable_directory(out: Path) -> str | None:
    """Create ``out`` if needed and check that a file can be written there; returns what is
    wrong, or None."""
    if out.exists() and not out.is_dir():
        return (f"{str(out)!r} is a file, not a directory; choose a directory, such as "
                "--out demo-out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        return (f"cannot write to the directory {str(out)!r} "
                f"({type(err).__name__}: {err.strerror or err}); choose a directory that can "
                "be created and written, such as --out demo-out")
    return None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pullback demo",
        description="The notebook replayed with pullback, then an MLP trained on scikit-learn's "
        "digits with Adam, its curves plotted and its gradient checked.",
    )
    p.add_argument("--epochs", type=_count("epochs", 30), default=30,
                   help="training epochs (30)")
    p.add_argument("--hidden", type=_hidden, default=[256],
                   help="hidden layer widths, comma-separated (256)")
    p.add_argument("--lr", type=_learning_rate, default=1e-3,
                   help="Adam's initial learning rate, cosine-decayed to 1%% of it (1e-3)")
    p.add_argument("--batch-size", type=_count("examples per minibatch", 32), default=32,
                   help="minibatch size (32)")
    p.add_argument("--seed", type=_seed, default=0,
                   help=f"seed of the split, init and batches, 0 to {_MAX_SEED} (0)")
    p.add_argument("--out", type=Path, default=Path("demo-out"),
                   help="directory for the PNG and the saved parameters, created if needed "
                   "(demo-out)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="where to train: cpu (NumPy, the default) or gpu (CuPy arrays on an "
                   "NVIDIA GPU; needs the 'gpu' extra)")
    return p


def main(argv: list[str]) -> int:
    """Run the demo with command-line options ``argv``; returns the exit status (0 when every
    derivative check passes, 1 when one fails, 2 when the output cannot be written or the
    ``demo`` extra is missing). Invalid options raise ``SystemExit(2)`` after one line on
    standard error that says what to do.

    Example:
        >>> main(["--epochs", "1", "--out", "/tmp/pullback-demo"])  # doctest: +SKIP
        0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    problem = _writable_directory(args.out)
    if problem is not None:
        parser.error(f"argument --out: {problem}")
    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError as err:
        print(f"pullback demo needs the 'demo' extra ({err.name} is missing): "
              "pip install 'pullback[demo]'", file=sys.stderr)
        return 2
    if args.device == "gpu":
        problem = gpu_problem()
        if problem is not None:
            print(f"pullback demo: --device gpu needs CuPy and an NVIDIA GPU, and here {problem}"
                  ": install the 'gpu' extra (pip install 'pullback[gpu]') on a machine with a "
                  "GPU, or train on the CPU with --device cpu (the default)", file=sys.stderr)
            return 2
    # The demo's matrices are small (a batch of 32 against 256 hidden units): BLAS threads
    # cost more than they save there, and on a busy machine they contend for the cores and
    # slow training several times over. threadpoolctl comes with scikit-learn.
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _run(args)
    except OSError as err:  # the output directory removed, or the disk full, during the run
        print(f"pullback demo: error: {type(err).__name__}: {' '.join(str(err).split())}; "
              f"check that --out {str(args.out)!r} is still writable and has free space",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    print(f"pullback demo: seed {args.seed}, {args.epochs} epochs, hidden {args.hidden}, "
          f"lr {args.lr}, device {args.device}, output in {args.out}/")

    print("\n[1/4] The notebook, replayed with pullback")
    notebook_ok = replay_notebook(rng)

    print("\n[2/4] Training an MLP on scikit-learn's digits")
    data = load_data(args.seed)
    t0 = time.perf_counter()
    params, history = train(args, data)
    X_test, y_test = data[1], data[3]
    acc = history["test_acc"][-1]
    correct = round(acc * len(y_test))
    verdict = "reached" if acc >= TARGET_ACCURACY else "not reached"
    print(f"  trained in {time.perf_counter() - t0:.1f} s: train loss "
          f"{history['train_loss'][-1]:.4f}, train accuracy {100 * history['train_acc'][-1]:.2f}%")
    print(f"  test accuracy: {100 * acc:.2f}% ({correct} of {len(y_test)} held-out digits; "
          f"target {100 * TARGET_ACCURACY:.0f}% {verdict})")
    args.out.mkdir(parents=True, exist_ok=True)
    saved = io.save(args.out / "params.npz", params)
    reloaded = io.load(saved, like=params)
    same = nn.accuracy(nn.mlp(reloaded, X_test), y_test) == acc
    print(f"  parameters saved to {saved} (reloaded: same test accuracy {'yes' if same else 'NO'})")

    print("\n[3/4] Training curves")
    png = plot(history, args.out / "training_curves.png")
    print(f"  training curves written to {png}")

    print("\n[4/4] Gradient check of the trained model's loss")
    check_ok = gradient_check(params, X_test[:16], y_test[:16], rng)

    ok = notebook_ok and check_ok and same
    print(f"\nderivative checks: {'all passed' if ok else 'FAILED'}; "
          f"test accuracy {100 * acc:.2f}%; total {time.perf_counter() - start:.1f} s")
    return 0 if ok else 1
