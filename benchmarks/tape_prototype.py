"""A prototype of the lightest eager reverse mode, to measure what the present design costs.

Run: ``python benchmarks/tape_prototype.py``. It times, for the notebook's network (the
``network`` workload), in one process and on CPU time (``time.thread_time``, so that a loaded
machine's waiting does not count):

- the hand-written NumPy baseline,
- pullback's eager ``value_and_grad``,
- prototype 1: a tape of ``(rule, parent slots, operands, result)`` tuples and one small
  ``_V`` object per value (no ``Node``, no trace level, no ``bind``, no promotion, no
  rule tables), with the rules as plain functions;
- prototype 2: pullback's rule interface kept (primitives with ``impl`` and a joint rule
  ``vjp(g, ans, args, params, needs)``), applied through one generic ``apply`` that does what
  ``bind``, ``VJPTrace.process``, ``Node`` and ``VJPTracer`` do now, in one call, with the tape
  a list of tuples and cotangents in a list indexed by tape slot.

The prototype handles only what the network needs (2-d/1-d float64 matmul, maximum with a
scalar, subtract, multiply, sum); it is what a design with per-primitive dispatch resolved
once (no ``bind`` -> ``process`` -> ``Node`` -> tracer chain) could cost at best, not a
replacement. Not imported by pullback or its tests.

It then times the digits workload's training step (value and gradients of ``mlp_loss`` for
the MLP 64-128-10 on a batch of 32, then ``p - lr * g``): NumPy by hand, pullback's eager
``grad``, and prototype 2 extended with the operations that program uses (broadcasting
add/subtract/multiply whose rules sum over the broadcast axes, transpose, exp, log, sum with
axis/keepdims, negative, divide). Its ReLU rule is ``g * (x > 0)``, without pullback's
handling of ties (g/2) and of infinite cotangents, which costs pullback about three NumPy
calls on the (32, 128) array.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pullback as pb
import pullback.numpy as pnp
from benchmarks.libs import load_libs
from benchmarks.workloads import (
    _digits,
    _init_mlp,
    _one_hot,
    _spaces,
    mlp_loss,
    mlp_numpy,
    network_numpy,
)

__all__ = ["apply", "grad_mlp_generic", "grad_network", "grad_network_generic", "main"]


class _V:
    """A value on the tape: the array and its slot (-1: a constant)."""

    __slots__ = ("val", "slot")

    def __init__(self, val: Any, slot: int):
        self.val = val
        self.slot = slot

    def __matmul__(self, other: Any) -> _V:
        return _record(_matmul_vjp, self, other, self.val @ _val(other))

    def __sub__(self, other: Any) -> _V:
        return _record(_sub_vjp, self, other, self.val - _val(other))

    def __mul__(self, other: Any) -> _V:
        return _record(_mul_vjp, self, other, self.val * _val(other))

    def __rmul__(self, other: Any) -> _V:
        return _record(_mul_vjp, other, self, _val(other) * self.val)


_TAPE: list[tuple] = []


def _val(x: Any) -> Any:
    return x.val if type(x) is _V else x


def _slot(x: Any) -> int:
    return x.slot if type(x) is _V else -1


def _record(rule: Any, x: Any, y: Any, out: Any) -> _V:
    tape = _TAPE
    tape.append((rule, _slot(x), _slot(y), _val(x), _val(y), out))
    return _V(out, len(tape) - 1)


def _matmul_vjp(g: Any, x: Any, y: Any, out: Any) -> tuple:
    return np.outer(g, y), x.T @ g  # matrix @ vector, the network's only case


def _sub_vjp(g: Any, x: Any, y: Any, out: Any) -> tuple:
    return g, -g


def _mul_vjp(g: Any, x: Any, y: Any, out: Any) -> tuple:
    return g * y, g * x


def _max_vjp(g: Any, x: Any, y: Any, out: Any) -> tuple:
    return g * (x > y), None


def _sum_vjp(g: Any, x: Any, y: Any, out: Any) -> tuple:
    return np.broadcast_to(g, x.shape).copy(), None


def maximum(x: _V, y: float) -> _V:
    return _record(_max_vjp, x, y, np.maximum(x.val, y))


def total(x: _V) -> _V:
    return _record(_sum_vjp, x, None, np.add.reduce(x.val))


def _leaf(x: Any) -> _V:
    _TAPE.append((None, -1, -1, None, None, x))
    return _V(x, len(_TAPE) - 1)


def grad_network(x: Any, W1: Any, W2: Any, y: Any) -> tuple:
    """Value and gradients of the network's loss by the prototype tape."""
    _TAPE.clear()
    xs, W1s, W2s = _leaf(x), _leaf(W1), _leaf(W2)
    r = W2s @ maximum(W1s @ xs, 0.0) - y
    loss = 0.5 * total(r * r)
    tape = _TAPE
    cts: list[Any] = [None] * len(tape)
    cts[loss.slot] = np.ones(())
    for i in range(len(tape) - 1, -1, -1):
        g = cts[i]
        if g is None:
            continue
        rule, sx, sy, vx, vy, out = tape[i]
        if rule is None:
            continue
        cts[i] = None
        gx, gy = rule(g, vx, vy, out)
        if sx >= 0:
            prev = cts[sx]
            cts[sx] = gx if prev is None else prev + gx
        if sy >= 0 and gy is not None:
            prev = cts[sy]
            cts[sy] = gy if prev is None else prev + gy
    return loss.val, (cts[xs.slot], cts[W1s.slot], cts[W2s.slot])


# ----------------------------------------------------------------------------- variant 2
# pullback's own rule interface kept: primitives with ``impl`` and a joint reverse rule
# ``vjp(g, ans, args, params, needs)`` (pullback's elementwise/bilinear rules, written the same
# way), applied through one generic ``apply`` (bind, process, Node and tracer in one call).


class _Prim:
    __slots__ = ("impl", "vjp")

    def __init__(self, impl: Any, vjp: Any):
        self.impl = impl
        self.vjp = vjp


class _T:
    """A traced value: the array and its tape slot."""

    __slots__ = ("val", "slot")

    def __init__(self, val: Any, slot: int):
        self.val = val
        self.slot = slot

    def __matmul__(self, other: Any) -> _T:
        return apply(_MATMUL, self, other)

    def __sub__(self, other: Any) -> _T:
        return apply(_SUB, self, other)

    def __mul__(self, other: Any) -> _T:
        return apply(_MUL, self, other)

    def __rmul__(self, other: Any) -> _T:
        return apply(_MUL, other, self)


_TAPE2: list[tuple] = []


def apply(prim: _Prim, *args: Any, **params: Any) -> _T:
    """Generic application: values, parent slots, the implementation, one tape entry."""
    vals = []
    slots = []
    cls = _T
    for a in args:
        if isinstance(a, _T):
            vals.append(a.val)
            slots.append(a.slot)
            cls = type(a)
        else:
            vals.append(a)
            slots.append(-1)
    out = prim.impl(*vals, **params)
    tape = _TAPE2
    tape.append((prim, slots, vals, out, params))
    return cls(out, len(tape) - 1)


def _elementwise_vjp(dx: Any, dy: Any) -> Any:
    def vjp(g: Any, ans: Any, args: list, params: dict, needs: list) -> list:
        return [g * dx(ans, *args) if needs[0] >= 0 else None,
                g * dy(ans, *args) if needs[1] >= 0 else None]
    return vjp


_MATMUL = _Prim(np.matmul, lambda g, ans, args, params, needs: [
    np.outer(g, args[1]) if needs[0] >= 0 else None,
    args[0].T @ g if needs[1] >= 0 else None])
_SUB = _Prim(np.subtract, lambda g, ans, args, params, needs: [
    g if needs[0] >= 0 else None, -g if needs[1] >= 0 else None])
_MUL = _Prim(np.multiply, _elementwise_vjp(lambda ans, x, y: y, lambda ans, x, y: x))
_MAX = _Prim(np.maximum, lambda g, ans, args, params, needs: [
    g * (args[0] > args[1]) if needs[0] >= 0 else None, None])
_SUM = _Prim(np.add.reduce, lambda g, ans, args, params, needs: [
    np.broadcast_to(g, args[0].shape).copy()])


def grad_network_generic(x: Any, W1: Any, W2: Any, y: Any) -> tuple:
    """Value and gradients of the network's loss by the generic prototype tape."""
    tape = _TAPE2
    tape.clear()
    leaves = []
    for v in (x, W1, W2):
        tape.append((None, (), (), v, None))
        leaves.append(_T(v, len(tape) - 1))
    xs, W1s, W2s = leaves
    r = W2s @ apply(_MAX, W1s @ xs, 0.0) - y
    loss = 0.5 * apply(_SUM, r * r)
    cts: list[Any] = [None] * len(tape)
    cts[loss.slot] = np.ones(())
    for i in range(len(tape) - 1, -1, -1):
        g = cts[i]
        if g is None:
            continue
        prim, slots, vals, out, params = tape[i]
        if prim is None:
            continue
        cts[i] = None
        for s, ct in zip(slots, prim.vjp(g, out, vals, params, slots), strict=True):
            if s >= 0 and ct is not None:
                prev = cts[s]
                cts[s] = ct if prev is None else prev + ct
    return loss.val, tuple(cts[t.slot] for t in leaves)


# ----------------------------------------------------------------------------- the digits step
# The generic prototype on the digits workload's step (MLP 64-128-10, batch 32, softmax
# cross-entropy, the ``mlp_loss`` program): the operations it needs, with NumPy's broadcasting
# recorded as it is (the rules sum over broadcast axes), every rule a plain NumPy function.


def _unb(g: Any, shape: tuple) -> Any:
    """``g`` summed over the axes that broadcasting to its shape added to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return np.add.reduce(g, axis=axes).reshape(shape)


def _shape(v: Any) -> tuple:
    return np.shape(v)


_ADD = _Prim(np.add, lambda g, ans, a, p, n: [
    _unb(g, _shape(a[0])) if n[0] >= 0 else None, _unb(g, _shape(a[1])) if n[1] >= 0 else None])
_SUBB = _Prim(np.subtract, lambda g, ans, a, p, n: [
    _unb(g, _shape(a[0])) if n[0] >= 0 else None,
    -_unb(g, _shape(a[1])) if n[1] >= 0 else None])
_MULB = _Prim(np.multiply, lambda g, ans, a, p, n: [
    _unb(g * a[1], _shape(a[0])) if n[0] >= 0 else None,
    _unb(g * a[0], _shape(a[1])) if n[1] >= 0 else None])
_DIV = _Prim(np.divide, lambda g, ans, a, p, n: [g * (1.0 / a[1]) if n[0] >= 0 else None, None])
_NEG = _Prim(np.negative, lambda g, ans, a, p, n: [-g])
_EXP = _Prim(np.exp, lambda g, ans, a, p, n: [g * ans])
_LOG = _Prim(np.log, lambda g, ans, a, p, n: [g * (1.0 / a[0])])
_TRANSPOSE = _Prim(np.transpose, lambda g, ans, a, p, n: [g.T])
_MATMUL2 = _Prim(np.matmul, lambda g, ans, a, p, n: [
    np.matmul(g, a[1].T) if n[0] >= 0 else None,
    np.matmul(g.T, a[0]).T if n[1] >= 0 else None])
_RELU = _Prim(np.maximum, lambda g, ans, a, p, n: [g * (a[0] > a[1]), None])


def _sum_impl(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def _sum_vjp_generic(g: Any, ans: Any, a: list, p: dict, n: list) -> list:
    x = a[0]
    if p.get("axis") is None:
        out = np.empty(x.shape, x.dtype)
        out.fill(g)
        return [out]
    if not p.get("keepdims"):
        g = np.expand_dims(g, p["axis"])
    return [np.broadcast_to(g, x.shape).copy()]


_SUMP = _Prim(_sum_impl, _sum_vjp_generic)


class _T2(_T):
    """:class:`_T` with the operators the MLP program uses."""

    __slots__ = ()
    __array_ufunc__ = None  # `array @ value`, `array * value`: NumPy defers to the operators

    def __matmul__(self, o: Any) -> _T:
        return apply(_MATMUL2, self, o)

    def __rmatmul__(self, o: Any) -> _T:
        return apply(_MATMUL2, o, self)

    def __add__(self, o: Any) -> _T:
        return apply(_ADD, self, o)

    def __sub__(self, o: Any) -> _T:
        return apply(_SUBB, self, o)

    def __mul__(self, o: Any) -> _T:
        return apply(_MULB, self, o)

    def __rmul__(self, o: Any) -> _T:
        return apply(_MULB, o, self)

    def __truediv__(self, o: Any) -> _T:
        return apply(_DIV, self, o)

    def __neg__(self) -> _T:
        return apply(_NEG, self)

    @property
    def T(self) -> _T:  # noqa: N802 - NumPy's name
        return apply(_TRANSPOSE, self)


class _XP:
    """The few NumPy functions ``mlp_loss`` calls, on the prototype's values."""

    @staticmethod
    def maximum(x: Any, y: Any) -> _T:
        return apply(_RELU, x, y)

    @staticmethod
    def exp(x: Any) -> _T:
        return apply(_EXP, x)

    @staticmethod
    def log(x: Any) -> _T:
        return apply(_LOG, x)

    @staticmethod
    def sum(x: Any, axis: Any = None, keepdims: bool = False) -> _T:
        return apply(_SUMP, x, axis=axis, keepdims=keepdims)


class _ProtoSpace:
    xp = _XP

    @staticmethod
    def max_shift(z: Any) -> Any:  # a constant: the value only
        return np.max(z.val, axis=-1, keepdims=True)


def grad_mlp_generic(params: list, X: Any, Y: Any) -> tuple:
    """Value and gradients of ``mlp_loss`` by the generic prototype tape."""
    tape = _TAPE2
    tape.clear()
    leaves = []
    for v in params:
        tape.append((None, (), (), v, None))
        leaves.append(_T2(v, len(tape) - 1))
    loss = mlp_loss(_ProtoSpace, leaves, X, Y)  # type: ignore[arg-type]
    cts: list[Any] = [None] * len(tape)
    cts[loss.slot] = np.ones(())
    for i in range(len(tape) - 1, -1, -1):
        g = cts[i]
        if g is None:
            continue
        prim, slots, vals, out, params_ = tape[i]
        if prim is None:
            continue
        cts[i] = None
        for s, ct in zip(slots, prim.vjp(g, out, vals, params_, slots), strict=False):
            if s >= 0 and ct is not None:
                prev = cts[s]
                cts[s] = ct if prev is None else prev + ct
    return loss.val, [cts[t.slot] for t in leaves]


def _digits_batch() -> tuple:
    """The digits workload's first batch and initial weights."""
    X_all, labels = _digits(False)
    rng = np.random.default_rng(8)
    order = rng.permutation(len(X_all))
    X = X_all[order[:32]]
    Y = _one_hot(labels[order[:32]], 10, np.float64)
    params = _init_mlp(rng, [64, 128, 10], np.float64)
    return params, X, Y


def _time(fn: Any, rounds: int = 15, budget: float = 0.03) -> float:
    clock = time.thread_time
    fn()
    t0 = clock()
    fn()
    loops = max(1, int(budget / max(clock() - t0, 1e-6)))
    samples = []
    for _ in range(rounds):
        t0 = clock()
        for _ in range(loops):
            fn()
        samples.append((clock() - t0) / loops)
    return statistics.median(samples)


def main() -> int:
    """Time NumPy, pullback's eager path and the prototype on the network; print ratios."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    W1 = rng.standard_normal((5, 40)) / np.sqrt(40)
    W2 = rng.standard_normal((10, 5)) / np.sqrt(5)
    y = rng.standard_normal(10)

    def loss(x: Any, W1: Any, W2: Any, y: Any) -> Any:
        r = W2 @ pnp.maximum(W1 @ x, 0.0) - y
        return 0.5 * pnp.sum(r * r)

    vg = pb.value_and_grad(loss, argnums=(0, 1, 2))
    ref = network_numpy(x, W1, W2, y)
    for got in (vg(x, W1, W2, y), grad_network(x, W1, W2, y),
                grad_network_generic(x, W1, W2, y)):
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
        for a, b in zip(got[1], ref[1:], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    t_np = _time(lambda: network_numpy(x, W1, W2, y))
    t_pb = _time(lambda: vg(x, W1, W2, y))
    t_proto = _time(lambda: grad_network(x, W1, W2, y))
    t_gen = _time(lambda: grad_network_generic(x, W1, W2, y))
    print(f"network, CPU time per call: NumPy {t_np * 1e6:.1f} us; pullback eager "
          f"{t_pb * 1e6:.1f} us ({t_pb / t_np:.2f}x); prototype tape {t_proto * 1e6:.1f} us "
          f"({t_proto / t_np:.2f}x); generic prototype (pullback's rule interface) "
          f"{t_gen * 1e6:.1f} us ({t_gen / t_np:.2f}x)")

    # the digits workload's training step (value and gradients, then the SGD update)
    params, X, Y = _digits_batch()
    sp = _spaces(load_libs(("numpy", "pullback")))["pullback"]
    g_pb = pb.grad(lambda p, X, Y: mlp_loss(sp, p, X, Y))
    ref = mlp_numpy(params, X, Y)[1]
    for got in (g_pb(params, X, Y), grad_mlp_generic(params, X, Y)[1]):
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    def step_np() -> None:
        ps = [p.copy() for p in params]
        for p, g in zip(ps, mlp_numpy(ps, X, Y)[1], strict=True):
            p -= 0.1 * g

    t_np = _time(step_np)
    t_pb = _time(lambda: [p - 0.1 * g for p, g in zip(params, g_pb(params, X, Y), strict=True)])
    t_gen = _time(lambda: [p - 0.1 * g for p, g in
                           zip(params, grad_mlp_generic(params, X, Y)[1], strict=True)])
    print(f"digits step, CPU time per step: NumPy {t_np * 1e6:.1f} us; pullback eager "
          f"{t_pb * 1e6:.1f} us ({t_pb / t_np:.2f}x); generic prototype "
          f"{t_gen * 1e6:.1f} us ({t_gen / t_np:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
