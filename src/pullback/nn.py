"""Layers and losses for small neural networks, in the notebook's layout.

A weight matrix ``W`` has shape ``(n_out, n_in)`` and a layer computes ``x @ W.T + b``, which
for a single example ``x`` of shape ``(n_in,)`` is the notebook's ``W @ x``. Parameters of a
multi-layer perceptron are a list of ``{"W": ..., "b": ...}`` dicts, a pytree that
``pullback.grad`` differentiates and ``pullback.optim`` updates.

Everything here is composed from ``pullback.numpy`` operations: there are no derivative rules
of its own, so every function is differentiable in both modes and to any order, and on plain
arrays it runs at NumPy's speed.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback import nn
    >>> params = nn.init_mlp([3, 4, 2], rng=0)
    >>> x, labels = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    >>> loss = lambda p: nn.softmax_cross_entropy(nn.mlp(p, x), labels)
    >>> grads = pb.grad(loss)(params)
    >>> [g["W"].shape for g in grads]
    [(4, 3), (2, 4)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

import pullback.numpy as pnp
from pullback.core import backends
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.core.typing import Array, ArrayLike, DTypeLike
from pullback.numpy import reductions

__all__ = [
    "accuracy",
    "dense",
    "init_mlp",
    "log_softmax",
    "mlp",
    "relu",
    "softmax",
    "softmax_cross_entropy",
    "squared_loss",
]


def relu(x: Array) -> Array:
    """The rectified linear unit ``max(x, 0)``, elementwise.

    Its derivative is taken as 0 at ``x == 0``, as in the notebook (``(x > 0) * 1``) and in
    JAX.

    Example:
        >>> relu(np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 2.])
    """
    return pnp.where(x > 0, x, 0.0)


def dense(x: ArrayLike, W: ArrayLike, b: ArrayLike | None = None) -> Array:
    """An affine layer ``x @ W.T + b``, with ``W`` of shape ``(n_out, n_in)``.

    ``x`` has shape ``(..., n_in)``; for a vector ``x`` this is the notebook's ``W @ x (+ b)``.
    ``b`` (shape ``(n_out,)``) is optional.

    Example:
        >>> W = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 1.0]])
        >>> dense(np.array([1.0, 1.0]), W, np.zeros(3))
        array([3., 1., 2.])
    """
    w_shape, x_shape = shape_of(W), shape_of(x)
    if len(w_shape) != 2:
        raise ValueError(
            f"dense: W must be a matrix of shape (n_out, n_in), got shape {w_shape}"
        )
    if not x_shape or x_shape[-1] != w_shape[1]:
        raise ValueError(
            f"dense: x has shape {x_shape} but W has shape {w_shape}: the last axis of x must "
            f"have n_in = {w_shape[1]} entries (W is laid out as (n_out, n_in))"
        )
    y = pnp.matmul(x, pnp.transpose(W))
    if b is None:
        return y
    if shape_of(b) != (w_shape[0],):
        raise ValueError(
            f"dense: b has shape {shape_of(b)}, expected ({w_shape[0]},) to match W's "
            f"n_out = {w_shape[0]}"
        )
    return y + b


def init_mlp(
    sizes: Sequence[int],
    rng: np.random.Generator | int | None = 0,
    dtype: DTypeLike = np.float64,
) -> list[dict[str, np.ndarray]]:
    """Random parameters of a multi-layer perceptron with layer widths ``sizes``.

    Returns one ``{"W": (n_out, n_in), "b": (n_out,)}`` dict per layer. Weights are drawn
    from a centred normal distribution: He scaling (variance ``2 / n_in``) for the layers
    followed by a ReLU, Glorot scaling (variance ``2 / (n_in + n_out)``) for the last, linear
    layer; biases start at zero. ``rng`` is a ``numpy.random.Generator`` or an int seed, so
    the same seed gives the same parameters.

    Example:
        >>> params = init_mlp([64, 32, 10], rng=0)
        >>> [(p["W"].shape, p["b"].shape) for p in params]
        [((32, 64), (32,)), ((10, 32), (10,))]
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in sizes
    ):
        raise ValueError(
            f"init_mlp: sizes must list at least two positive integer widths (inputs, ..., "
            f"outputs), got {sizes!r}"
        )
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"init_mlp: dtype must be a floating type, got {dtype}")
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"init_mlp: rng must be a numpy.random.Generator or an int seed, got "
            f"{type(rng).__name__}"
        )
    params = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == n_layers - 1
        scale = np.sqrt(2.0 / (n_in + n_out)) if last else np.sqrt(2.0 / n_in)
        W = (scale * rng.standard_normal((n_out, n_in))).astype(dtype)
        params.append({"W": W, "b": np.zeros(n_out, dtype)})
    return params


def mlp(params: Sequence[Mapping[str, ArrayLike]], x: ArrayLike) -> Array:
    """The multi-layer perceptron ``params`` applied to ``x``: ReLU between layers, the last
    layer linear (it returns logits or regression outputs).

    ``x`` has shape ``(n_in,)`` or ``(batch, n_in)``; each layer is a dict with ``"W"`` and,
    optionally, ``"b"`` (the notebook's two-layer network has none).

    Example:
        >>> params = init_mlp([3, 5, 2], rng=0)
        >>> mlp(params, np.ones((4, 3))).shape, mlp(params, np.ones(3)).shape
        ((4, 2), (2,))
    """
    if isinstance(params, Mapping) or not isinstance(params, Sequence) or not params:
        raise TypeError(
            f"mlp: params must be a non-empty list of layer dicts {{'W': ..., 'b': ...}} (as "
            f"returned by init_mlp), got {type(params).__name__}"
        )
    if len(shape_of(x)) not in (1, 2):
        raise ValueError(
            f"mlp: x must have shape (n_in,) or (batch, n_in), got shape {shape_of(x)}"
        )
    h = x
    for i, layer in enumerate(params):
        if not isinstance(layer, Mapping) or "W" not in layer:
            raise TypeError(f"mlp: layer {i} of params must be a dict with a 'W' entry")
        try:
            h = dense(h, layer["W"], layer.get("b"))
        except ValueError as err:
            raise ValueError(f"mlp: layer {i}: {err}") from None
        if i < len(params) - 1:
            h = relu(h)
    return h


def squared_loss(pred: Array, target: Array) -> Array:
    """The notebook's squared loss ``0.5 * sum((pred - target) ** 2)``, a 0-d value.

    Example:
        >>> squared_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
        np.float64(2.5)
    """
    if shape_of(pred) != shape_of(target):
        raise ValueError(
            f"squared_loss: pred has shape {shape_of(pred)} but target has shape "
            f"{shape_of(target)}; give them the same shape"
        )
    r = pred - target
    return 0.5 * pnp.sum(r * r)


def _check_axis(who: str, logits: ArrayLike, axis: int) -> int:
    ndim = len(shape_of(logits))
    if ndim == 0:
        raise ValueError(f"{who}: logits must have at least one axis, got a 0-d value")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"{who}: axis {axis} is out of bounds for logits of shape {shape_of(logits)}"
        )
    if shape_of(logits)[axis] == 0:
        raise ValueError(f"{who}: logits have no classes along axis {axis} (shape "
                         f"{shape_of(logits)})")
    return axis % ndim


def log_softmax(logits: ArrayLike, axis: int = -1) -> Array:
    """``logits - log(sum(exp(logits)))`` along ``axis``, computed stably.

    The largest logit is subtracted first, so logits of 1e3 (or -1e3) neither overflow nor
    lose the differences between classes.

    Example:
        >>> log_softmax(np.array([1000.0, 1000.0]))
        array([-0.69314718, -0.69314718])
    """
    return reductions.log_softmax(logits, _check_axis("log_softmax", logits, axis))


def softmax(logits: ArrayLike, axis: int = -1) -> Array:
    """The probabilities ``exp(logits) / sum(exp(logits))`` along ``axis``, computed stably.

    Example:
        >>> softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
    """
    return reductions.softmax(logits, _check_axis("softmax", logits, axis))


def _integer_labels(who: str, logits: ArrayLike, labels: ArrayLike) -> Array | None:
    """``labels`` as class indices if they are integers, else None (probabilities).

    Traced labels (inside ``pb.jit`` or ``pb.vmap``) are checked for shape only: their values
    are not known while tracing."""
    dt = dtype_of(labels)
    if dt.kind not in "iu":
        return None
    n = shape_of(logits)[-1]
    if isinstance(labels, Tracer) or backends.library(labels) != "numpy":  # or lazy (Dask)
        if tuple(shape_of(labels)) != tuple(shape_of(logits)[:-1]):
            raise ValueError(
                f"{who}: integer labels have shape {shape_of(labels)}, but logits of shape "
                f"{shape_of(logits)} need one class index per example"
            )
        return labels
    labels = np.asarray(labels)
    if labels.shape != shape_of(logits)[:-1]:
        raise ValueError(
            f"{who}: integer labels have shape {labels.shape}, but logits of shape "
            f"{shape_of(logits)} need one class index per example, shape "
            f"{shape_of(logits)[:-1]} (or pass probabilities shaped like logits)"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(
            f"{who}: labels must be class indices in [0, {n}), found values from "
            f"{labels.min()} to {labels.max()}"
        )
    return labels.astype(np.int64)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> Array:
    """The mean over the batch of the cross-entropy between ``softmax(logits)`` and ``labels``.

    ``logits`` has shape ``(batch, n_classes)`` (or ``(n_classes,)`` for one example).
    ``labels`` are integer class indices of shape ``(batch,)`` (``()`` for one example), or
    probabilities (one-hot or soft) shaped like ``logits``; probability labels may be traced
    and are differentiated too. Stable for large logits (see :func:`log_softmax`).

    Example:
        >>> logits = np.array([[2.0, 0.0], [0.0, 1000.0]])
        >>> float(softmax_cross_entropy(logits, np.array([0, 1])))  # doctest: +ELLIPSIS
        0.0634...
    """
    who = "softmax_cross_entropy"
    if isinstance(labels, (list, tuple)):
        labels = np.asarray(labels)
    logp = log_softmax(logits, axis=-1)
    classes = _integer_labels(who, logits, labels)
    if classes is not None:
        # the class numbers in the labels' library (CuPy refuses NumPy operands)
        numbers = backends.constant(np.arange(shape_of(logits)[-1]), classes)
        hits = pnp.equal(numbers, pnp.expand_dims(classes, -1))
        probs = pnp.astype(hits, dtype_of(logp))
    else:
        if shape_of(labels) != shape_of(logits):
            raise ValueError(
                f"{who}: probability labels have shape {shape_of(labels)} but logits have shape "
                f"{shape_of(logits)}: give one probability per logit, or integer class indices "
                f"of shape {shape_of(logits)[:-1]}"
            )
        probs = labels
        if dtype_of(labels).kind == "b":  # one-hot given as booleans
            probs = np.asarray(labels).astype(dtype_of(logp))
    per_example = -pnp.sum(probs * logp, axis=-1)
    batch = int(np.prod(shape_of(per_example), dtype=np.int64))
    if batch == 0:
        raise ValueError(f"{who}: the batch is empty (logits of shape {shape_of(logits)})")
    return pnp.sum(per_example) / batch


def accuracy(logits: ArrayLike, labels: ArrayLike) -> float:
    """The fraction of examples whose largest logit is the labelled class, a Python float.

    ``labels`` are integer classes of shape ``(batch,)`` or probabilities (one-hot) shaped like
    ``logits`` (their argmax is the class). Not differentiable: it is a count.

    Example:
        >>> accuracy(np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), np.array([0, 1, 1]))
        0.6666666666666666
    """
    who = "accuracy"
    if isinstance(labels, (list, tuple)):
        labels = np.asarray(labels)
    _check_axis(who, logits, -1)
    classes = _integer_labels(who, logits, labels)
    if classes is None:
        if shape_of(labels) != shape_of(logits):
            raise ValueError(
                f"{who}: labels have shape {shape_of(labels)} but logits have shape "
                f"{shape_of(logits)}: pass integer classes or probabilities shaped like logits"
            )
        classes = pnp.argmax(labels, axis=-1)
    # in the logits' library (a Dask array is computed here: the result is a Python float)
    predicted = pnp.argmax(logits, axis=-1)
    if int(np.prod(shape_of(predicted), dtype=np.int64)) == 0:
        raise ValueError(f"{who}: the batch is empty (logits of shape {shape_of(logits)})")
    return float(np.mean(predicted == classes))
