"""Optimisers as pairs of pure functions over pytrees, and learning-rate schedules.

Each optimiser returns an :class:`Optimizer`, a named pair ``(init, update)``::

    opt_init, opt_update = optim.adam(1e-3)
    state = opt_init(params)
    params, state = opt_update(grads, state, params)

Nothing is mutated: ``update`` returns new parameters and a new state. Parameters are any
pytree of floating arrays (a list of layer dicts, a dict, a tuple...); gradients must have
the same structure. The updates are written with ``pullback.numpy`` operations, so an
optimiser step can itself be differentiated (for example to tune a learning rate).

The learning rate ``lr`` is a number or a schedule: a function of the step count (0 for the
first update) returning the rate. The schedules take optax's names, arguments and meaning:
:func:`constant_schedule`, :func:`exponential_decay`, :func:`cosine_decay_schedule`,
:func:`warmup_cosine_decay_schedule`, :func:`piecewise_constant_schedule`.

Complex parameters descend: ``pb.grad`` of a real loss of complex ``z`` follows JAX's
convention and is the *conjugate* of the direction of steepest ascent
(``pb.grad(lambda z: abs(z) ** 2)(z) == 2 * conj(z)``), so every optimiser steps along
``-conj(g)``, and Adam's second moment is ``|g|**2``. A complex least-squares problem
trained with any of them reaches its solution.

Example:
    >>> import numpy as np
    >>> init, update = sgd(0.1)
    >>> params = {"w": np.array([1.0, 2.0])}
    >>> state = init(params)
    >>> params, state = update({"w": np.array([1.0, -1.0])}, state, params)
    >>> params["w"]
    array([0.9, 2.1])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np

import pullback.numpy as pnp
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.core.tree import tree_flatten, tree_map, tree_structure
from pullback.core.typing import Array, PyTree

__all__ = [
    "AdamState",
    "InitFn",
    "MomentumState",
    "Optimizer",
    "Schedule",
    "SGDState",
    "UpdateFn",
    "adam",
    "adamw",
    "constant",
    "constant_schedule",
    "cosine_decay",
    "cosine_decay_schedule",
    "exponential_decay",
    "momentum",
    "piecewise_constant_schedule",
    "sgd",
    "warmup_cosine_decay_schedule",
]

#: a learning rate: a number, or a function of the step count (from 0) returning one
Schedule = Callable[[int], float]
LearningRate = float | Schedule


_State = TypeVar("_State")
_State_co = TypeVar("_State_co", covariant=True)


class InitFn(Protocol[_State_co]):
    """An optimiser's ``init(params) -> state``: the first state for the pytree ``params``."""

    def __call__(self, params: PyTree, /) -> _State_co: ...


class UpdateFn(Protocol[_State]):
    """An optimiser's ``update(grads, state, params) -> (params, state)``: one step, the new
    parameters (a pytree like ``params``) and the new state; nothing is mutated."""

    def __call__(self, grads: PyTree, state: _State, params: PyTree, /) -> tuple[PyTree, _State]:
        ...


class Optimizer(NamedTuple):
    """An optimiser: ``state = init(params)``, ``params, state = update(grads, state, params)``."""

    init: InitFn[Any]
    update: UpdateFn[Any]


class SGDState(NamedTuple):
    """State of :func:`sgd`: the number of updates done."""

    step: int


class MomentumState(NamedTuple):
    """State of :func:`momentum`: the step count and the velocity ``v`` (a pytree)."""

    step: int
    velocity: PyTree


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: the step count and the moment estimates."""

    step: int
    mu: PyTree
    nu: PyTree


# ----------------------------------------------------------------------------- schedules


def constant(lr: float) -> Schedule:
    """The schedule that is ``lr`` at every step (:func:`constant_schedule`).

    Example:
        >>> constant(0.1)(1000)
        0.1
    """
    lr = _check_rate("constant", "lr", lr)
    return lambda step: lr


def constant_schedule(value: float) -> Schedule:
    """The schedule that is ``value`` at every step (optax's ``constant_schedule``).

    Example:
        >>> constant_schedule(0.1)(1000)
        0.1
    """
    value = _check_rate("constant_schedule", "value", value)
    return lambda step: value


def exponential_decay(
    init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0,
    staircase: bool = False, end_value: float | None = None,
) -> Schedule:
    """``init_value * decay_rate ** ((step - transition_begin) / transition_steps)`` after
    ``transition_begin`` steps (``init_value`` before), as optax's ``exponential_decay``.

    With ``staircase=True`` the exponent is rounded down (the rate drops once every
    ``transition_steps`` steps). ``end_value`` bounds the rate: from below when
    ``decay_rate < 1``, from above otherwise. ``decay_rate == 0`` gives the constant
    ``init_value``, as in optax.

    The arguments are optax's, in optax's order; before, pullback's own order was
    ``(lr, decay_rate, decay_steps)``.

    Example:
        >>> s = exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
        >>> s(0), s(10), s(20)
        (1.0, 0.5, 0.25)
        >>> t = exponential_decay(1.0, 10, 0.5, transition_begin=5, staircase=True,
        ...                       end_value=0.3)
        >>> t(5), t(14), t(15), t(100)
        (1.0, 1.0, 0.5, 0.3)
    """
    who = "exponential_decay"
    if not isinstance(transition_steps, (int, np.integer)) or isinstance(transition_steps,
                                                                          bool):
        raise TypeError(
            f"{who}: transition_steps must be an integer >= 1, got {transition_steps!r}: the "
            "arguments are optax's, exponential_decay(init_value, transition_steps, "
            "decay_rate, transition_begin=0, staircase=False, end_value=None) (pullback's "
            "order before was (lr, decay_rate, decay_steps))"
        )
    init_value = _check_rate(who, "init_value", init_value)
    transition_steps = _check_steps(who, "transition_steps", transition_steps, minimum=1)
    decay_rate = _check_rate(who, "decay_rate", decay_rate)
    transition_begin = _check_steps(who, "transition_begin", transition_begin, minimum=0)
    end = None if end_value is None else _check_rate(who, "end_value", end_value)
    if decay_rate == 0.0:
        return lambda step: init_value

    def schedule(step: int) -> float:
        elapsed = step - transition_begin
        if elapsed <= 0:
            return init_value
        p = elapsed / transition_steps
        value = init_value * decay_rate ** (math.floor(p) if staircase else p)
        if end is not None:
            value = max(value, end) if decay_rate < 1.0 else min(value, end)
        return value

    return schedule


def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """A half cosine from ``init_value`` down to ``alpha * init_value`` over
    ``decay_steps``, then ``alpha * init_value`` (optax's ``cosine_decay_schedule``):
    ``init_value * ((1 - alpha) * c ** exponent + alpha)`` with
    ``c = (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2``.

    Example:
        >>> s = cosine_decay_schedule(1.0, decay_steps=10, alpha=0.1)
        >>> s(0), round(s(5), 12), round(s(10), 12), round(s(99), 12)
        (1.0, 0.55, 0.1, 0.1)
    """
    who = "cosine_decay_schedule"
    init_value = _check_rate(who, "init_value", init_value)
    decay_steps = _check_steps(who, "decay_steps", decay_steps, minimum=1)
    alpha = _check_rate(who, "alpha", alpha)
    exponent = _check_rate(who, "exponent", exponent)

    def schedule(step: int) -> float:
        c = 0.5 * (1.0 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
        return init_value * ((1.0 - alpha) * math.pow(c, exponent) + alpha)

    return schedule


def warmup_cosine_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
    end_value: float = 0.0, exponent: float = 1.0,
) -> Schedule:
    """A linear warm-up from ``init_value`` to ``peak_value`` over ``warmup_steps``, then a
    half cosine from ``peak_value`` to ``end_value``, reached at step ``decay_steps``
    (which counts the warm-up, as in optax's ``warmup_cosine_decay_schedule``).

    Example:
        >>> s = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=14,
        ...                                  end_value=0.1)
        >>> s(0), s(2), s(4), round(s(9), 12), round(s(14), 12), round(s(50), 12)
        (0.0, 0.5, 1.0, 0.55, 0.1, 0.1)
    """
    who = "warmup_cosine_decay_schedule"
    init_value = _check_rate(who, "init_value", init_value)
    peak_value = _check_rate(who, "peak_value", peak_value)
    warmup_steps = _check_steps(who, "warmup_steps", warmup_steps, minimum=0)
    decay_steps = _check_steps(who, "decay_steps", decay_steps, minimum=warmup_steps + 1)
    end_value = _check_rate(who, "end_value", end_value)
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    decay = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return init_value + (peak_value - init_value) * step / warmup_steps
        return decay(step - warmup_steps)

    return schedule


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: dict[int, float] | None = None
) -> Schedule:
    """``init_value`` times every scale whose boundary the step has reached
    (``step >= boundary``), as optax's ``piecewise_constant_schedule``.

    Example:
        >>> s = piecewise_constant_schedule(1.0, {100: 0.1, 200: 0.5})
        >>> s(99), s(100), round(s(200), 12)
        (1.0, 0.1, 0.05)
    """
    who = "piecewise_constant_schedule"
    init_value = _check_rate(who, "init_value", init_value)
    pieces = sorted(
        (_check_steps(who, "a boundary", b, minimum=0), _check_rate(who, "a scale", f))
        for b, f in (boundaries_and_scales or {}).items()
    )

    def schedule(step: int) -> float:
        value = init_value
        for boundary, scale in pieces:
            if step >= boundary:
                value *= scale
        return value

    return schedule


def cosine_decay(lr: float, decay_steps: int, final_lr: float = 0.0,
                 warmup_steps: int = 0) -> Schedule:
    """Deprecated: use :func:`cosine_decay_schedule` (``alpha = final_lr / lr``) or
    :func:`warmup_cosine_decay_schedule`, optax's names.

    A linear warm-up from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps``, then a half
    cosine from ``lr`` down to ``final_lr`` over ``decay_steps``; ``final_lr`` afterwards.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", DeprecationWarning)
        ...     s = cosine_decay(1.0, decay_steps=10, final_lr=0.0)
        >>> s(0), round(s(5), 12), s(10), s(99)
        (1.0, 0.5, 0.0, 0.0)
    """
    warnings.warn(
        "pullback.optim.cosine_decay is deprecated: use optax's names, "
        "cosine_decay_schedule(init_value, decay_steps, alpha=final_lr / lr) or "
        "warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps, "
        "end_value=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    lr = _check_rate("cosine_decay", "lr", lr)
    final_lr = _check_rate("cosine_decay", "final_lr", final_lr)
    decay_steps = _check_steps("cosine_decay", "decay_steps", decay_steps, minimum=1)
    warmup_steps = _check_steps("cosine_decay", "warmup_steps", warmup_steps, minimum=0)

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        t = min(step - warmup_steps, decay_steps) / decay_steps
        return final_lr + (lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * t))

    return schedule


# ----------------------------------------------------------------------------- optimisers


def sgd(lr: LearningRate) -> Optimizer:
    """Plain gradient descent: ``p = p - lr * g``.

    Example:
        >>> init, update = sgd(0.5)
        >>> p, s = update(np.array([2.0]), init(np.array([1.0])), np.array([1.0]))
        >>> p
        array([0.])
    """
    rate = _schedule("sgd", lr)

    def init(params: PyTree) -> SGDState:
        _check_params("sgd", params)
        return SGDState(step=0)

    def update(grads: PyTree, state: SGDState, params: PyTree) -> tuple[PyTree, SGDState]:
        _check_update("sgd", grads, state, params, SGDState)
        grads = tree_map(_ascent, grads)
        a = rate(state.step)
        new = tree_map(lambda p, g: p - _cast(a, p) * g, params, grads)
        return new, SGDState(step=state.step + 1)

    return Optimizer(init, update)


def momentum(lr: LearningRate, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Gradient descent with momentum: ``v = beta * v + g``, then ``p = p - lr * v``.

    With ``nesterov=True`` the step looks ahead along the new velocity:
    ``p = p - lr * (g + beta * v)`` (the form used by PyTorch and optax). ``v`` starts at 0.

    Example:
        >>> init, update = momentum(0.1, beta=0.5)
        >>> p = np.array([1.0]); s = init(p)
        >>> p, s = update(np.array([1.0]), s, p)
        >>> p, s = update(np.array([1.0]), s, p)  # v = 0.5 * 1 + 1 = 1.5
        >>> p
        array([0.75])
    """
    rate = _schedule("momentum", lr)
    beta = _check_rate("momentum", "beta", beta)

    def init(params: PyTree) -> MomentumState:
        _check_params("momentum", params)
        return MomentumState(step=0, velocity=tree_map(pnp.zeros_like, params))

    def update(
        grads: PyTree, state: MomentumState, params: PyTree
    ) -> tuple[PyTree, MomentumState]:
        _check_update("momentum", grads, state, params, MomentumState)
        grads = tree_map(_ascent, grads)
        a = rate(state.step)
        v = tree_map(lambda v, g: _cast(beta, v) * v + g, state.velocity, grads)
        if nesterov:
            new = tree_map(lambda p, g, v: p - _cast(a, p) * (g + _cast(beta, v) * v),
                           params, grads, v)
        else:
            new = tree_map(lambda p, v: p - _cast(a, p) * v, params, v)
        return new, MomentumState(step=state.step + 1, velocity=v)

    return Optimizer(init, update)


def adam(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma and Ba, 2015), bias-corrected, with ``eps`` outside the square root.

    At step ``t`` (1 for the first update): ``m = b1 m + (1 - b1) g``,
    ``v = b2 v + (1 - b2) g**2``, ``m_hat = m / (1 - b1**t)``, ``v_hat = v / (1 - b2**t)`` and
    ``p = p - lr * m_hat / (sqrt(v_hat) + eps)``.

    Example:
        >>> init, update = adam(0.1)
        >>> p, s = update(np.array([3.0]), init(np.array([1.0])), np.array([1.0]))
        >>> p  # the first step moves every coordinate by about lr
        array([0.9])
    """
    return _adam("adam", lr, b1, b2, eps, weight_decay=0.0)


def adamw(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> Optimizer:
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019):
    ``p = p - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p)``, with ``m_hat`` and
    ``v_hat`` as in :func:`adam` (the decay does not pass through the moments).

    Example:
        >>> init, update = adamw(0.1, weight_decay=0.5)
        >>> p, s = update(np.array([0.0]), init(np.array([1.0])), np.array([1.0]))
        >>> p  # no gradient: only the decay, 1 - 0.1 * 0.5
        array([0.95])
    """
    return _adam("adamw", lr, b1, b2, eps, weight_decay)


def _adam(who: str, lr: LearningRate, b1: float, b2: float, eps: float,
          weight_decay: float) -> Optimizer:
    rate = _schedule(who, lr)
    b1 = _check_rate(who, "b1", b1, upper=1.0)
    b2 = _check_rate(who, "b2", b2, upper=1.0)
    eps = _check_rate(who, "eps", eps)
    weight_decay = _check_rate(who, "weight_decay", weight_decay)

    def init(params: PyTree) -> AdamState:
        _check_params(who, params)
        zeros = tree_map(pnp.zeros_like, params)
        return AdamState(step=0, mu=zeros, nu=tree_map(_real_zeros, params))

    def update(grads: PyTree, state: AdamState, params: PyTree) -> tuple[PyTree, AdamState]:
        _check_update(who, grads, state, params, AdamState)
        grads = tree_map(_ascent, grads)
        t = state.step + 1
        a = rate(state.step)
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        mu = tree_map(lambda m, g: _cast(b1, m) * m + _cast(1.0 - b1, m) * g, state.mu, grads)
        nu = tree_map(lambda v, g: _cast(b2, v) * v + _cast(1.0 - b2, v) * _abs2(g),
                      state.nu, grads)

        def step(p: Array, m: Array, v: Array) -> Array:
            direction = (m / _cast(c1, m)) / (pnp.sqrt(v / _cast(c2, v)) + _cast(eps, v))
            if weight_decay:
                direction = direction + _cast(weight_decay, p) * p
            return p - _cast(a, p) * direction

        new = tree_map(step, params, mu, nu)
        return new, AdamState(step=t, mu=mu, nu=nu)

    return Optimizer(init, update)


# ----------------------------------------------------------------------------- helpers


def _ascent(g: Array) -> Array:
    """The direction of steepest ascent for the gradient ``g``: ``g`` itself for real
    parameters, ``conj(g)`` for complex ones (``pb.grad`` follows JAX's convention, whose
    gradient of a real loss of complex ``z`` is the conjugate of the ascent direction)."""
    return pnp.conj(g) if dtype_of(g).kind == "c" else g


def _abs2(g: Array) -> Array:
    """``|g|**2``, real (``g * g`` for real ``g``); smooth, so a step stays differentiable."""
    if dtype_of(g).kind == "c":
        return pnp.real(g * pnp.conj(g))
    return g * g


def _real_zeros(p: Array) -> Array:
    """Zeros shaped like ``p`` in its real dtype (Adam's second moment of complex ``p``)."""
    if dtype_of(p).kind == "c":
        return pnp.zeros(shape_of(p), np.finfo(dtype_of(p)).dtype)
    return pnp.zeros_like(p)


def _cast(c: float, like: Array) -> Array:
    """The Python number ``c`` as a NumPy scalar of ``like``'s dtype, so float32 stays
    float32 (a scalar, not a 0-d array: CuPy takes NumPy scalars, not NumPy arrays).

    A traced ``c`` (a learning rate being differentiated) is left to NumPy's promotion.
    """
    if isinstance(c, Tracer):
        return c
    return np.dtype(dtype_of(like)).type(c)


def _check_rate(who: str, name: str, value: Any, upper: float | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a number, got {type(value).__name__}") from None
    if not math.isfinite(number) or number < 0 or (upper is not None and number >= upper):
        bound = f"[0, {upper})" if upper is not None else "a finite number >= 0"
        raise ValueError(f"{who}: {name} must be in {bound}, got {number}")
    return number


def _check_steps(who: str, name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _schedule(who: str, lr: LearningRate) -> Schedule:
    if callable(lr):
        return lr
    return constant(_check_rate(who, "lr", lr))


def _check_params(who: str, params: PyTree) -> None:
    leaves, _ = tree_flatten(params)
    for i, leaf in enumerate(leaves):
        if dtype_of(leaf).kind not in "fc":
            raise TypeError(
                f"{who}: parameter leaf {i} has dtype {dtype_of(leaf)}; parameters must be "
                "floating-point arrays (convert them with .astype(float))"
            )


def _check_update(who: str, grads: PyTree, state: object, params: PyTree, kind: type) -> None:
    if not isinstance(state, kind):
        raise TypeError(
            f"{who}: update expected the state returned by this optimiser's init "
            f"({kind.__name__}), got {type(state).__name__}"
        )
    p_def, g_def = tree_structure(params), tree_structure(grads)
    if p_def != g_def:
        raise TypeError(
            f"{who}: grads have structure {g_def} but params have structure {p_def}; pass the "
            "gradient of the loss with respect to these very params"
        )
    for i, (p, g) in enumerate(zip(tree_flatten(params)[0], tree_flatten(grads)[0], strict=True)):
        if shape_of(p) != shape_of(g):
            raise ValueError(
                f"{who}: gradient leaf {i} has shape {shape_of(g)} but its parameter has shape "
                f"{shape_of(p)}"
            )

