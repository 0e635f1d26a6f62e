"""Prototypes of an eager Hessian-vector product that could meet issue 12's 5x target.

Run: ``python benchmarks/hvp_prototype.py [rounds [n]]`` (default 21 rounds, n = 10,000).
For the ``hvp`` workload (the extended Rosenbrock function, n = 10,000), in one process, on
CPU time (``time.process_time``, as ``run.py`` does), in interleaved rounds (median, min,
max), it times:

- the hand-written NumPy Hessian-vector product (``rosenbrock_hvp_numpy``),
- pullback's eager ``pb.hvp`` (forward-over-reverse: a JVP trace around a VJP tape),
- design 1, "fused": one ``_V`` object per value carrying ``(primal, tangent)``; each
  operation computes its primal and its tangent as it is recorded on one reverse tape; one
  backward sweep carries ``(cotangent, tangent of cotangent)`` pairs, each rule using its
  first and second derivative. Forward-over-reverse fused into one interpreter.
- design 2, "replay": the forward pass is recorded once (primals only, like a VJP tape, as a
  list of ``(op, input slots, constant)``), then two sweeps over plain arrays in lists: a
  tangent sweep forward, then the backward sweep of pairs.
- design 3, "dual": design 1's tape, but the backward sweep evaluates pullback-style
  first-order VJP rules (``g * y``, ``g * 2x``...) on dual numbers ``(cotangent,
  cotangent-tangent)``, ``(primal, tangent)``: each rule's tangent comes generically, without a
  second set of hand-written rules.

All three return the gradient and the Hessian-vector product (as ``pb.hvp`` does), are checked
against the hand-written product to 1e-12 relative, and count their NumPy calls (every
array operation of the prototypes goes through the namespace ``K``, which a counting run
replaces). Both keep symbolic zeros (``None``: the output's cotangent-tangent seed is zero)
and let a scalar cotangent (``sum``'s transpose) stay a scalar until it meets an array.
They handle only what Rosenbrock uses (strided slicing, multiply, subtract, add, square,
multiplication and subtraction by a scalar, sum); not imported by pullback or its tests.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pullback as pb
import pullback.numpy as pnp
from benchmarks.workloads import rosenbrock, rosenbrock_hvp_numpy

__all__ = ["hvp_dual", "hvp_fused", "hvp_replay", "main"]

_PLAIN = SimpleNamespace(
    multiply=np.multiply, subtract=np.subtract, add=np.add, negative=np.negative,
    square=np.square, sum=np.sum, zeros=np.zeros,
)
#: the array operations of the prototypes (replaced by counting wrappers in ``count_calls``)
K = _PLAIN


def _add(a: Any, b: Any) -> Any:
    """Sum of two cotangents, ``None`` standing for zero."""
    if a is None:
        return b
    if b is None:
        return a
    return K.add(a, b)


def _mul(a: Any, b: Any) -> Any:
    """Product with a possibly-zero (``None``) first factor."""
    return None if a is None else K.multiply(a, b)


# ----------------------------------------------------------------------------- design 1: fused

_TAPE: list[tuple[Any, tuple[int, ...], Any]] = []


class _V:
    """A recorded value: primal ``p``, tangent ``t`` (``None`` for zero), tape ``slot``."""

    __slots__ = ("p", "slot", "t")

    def __init__(self, p: Any, t: Any, rule: Any, parents: tuple[int, ...], saved: Any) -> None:
        self.p = p
        self.t = t
        self.slot = len(_TAPE)
        _TAPE.append((rule, parents, saved))

    def __getitem__(self, idx: slice) -> _V:
        return _V(self.p[idx], None if self.t is None else self.t[idx], _bw_getitem,
                  (self.slot,), (idx, self.p.shape))

    def __mul__(self, other: Any) -> _V:
        if isinstance(other, _V):
            if other is self:  # x * x: one square rule
                return self ** 2
            t = _add(_mul(self.t, other.p), _mul(other.t, self.p))
            return _V(K.multiply(self.p, other.p), t, _bw_mul, (self.slot, other.slot),
                      (self, other))
        return _V(K.multiply(self.p, other), _mul(self.t, other), _bw_scale, (self.slot,),
                  other)

    __rmul__ = __mul__

    def __sub__(self, other: _V) -> _V:
        t = self.t if other.t is None else (
            K.negative(other.t) if self.t is None else K.subtract(self.t, other.t))
        return _V(K.subtract(self.p, other.p), t, _bw_sub, (self.slot, other.slot), None)

    def __rsub__(self, c: float) -> _V:
        return _V(K.subtract(c, self.p), None if self.t is None else K.negative(self.t),
                  _bw_scale, (self.slot,), -1.0)

    def __add__(self, other: _V) -> _V:
        return _V(K.add(self.p, other.p), _add(self.t, other.t), _bw_add,
                  (self.slot, other.slot), None)

    def __pow__(self, k: int) -> _V:
        if k != 2:
            raise NotImplementedError("hvp_prototype: only ** 2")
        # d(x^2) = 2 x dx; saved: 2 x and 2 dx (the second derivative's factor)
        two_x = K.multiply(2.0, self.p)
        two_t = None if self.t is None else K.multiply(2.0, self.t)
        return _V(K.square(self.p), None if two_t is None else K.multiply(two_t, self.p),
                  _bw_square, (self.slot,), (two_x, two_t, self.p, self.t))


def _bw_getitem(g: Any, gd: Any, saved: Any) -> Any:
    return ("scatter", saved, g, gd)  # accumulated in place by the sweep


def _bw_scale(g: Any, gd: Any, c: Any) -> Any:
    return ((K.multiply(c, g), _mul(gd, c)),)


def _bw_add(g: Any, gd: Any, saved: Any) -> Any:
    return ((g, gd), (g, gd))


def _bw_sub(g: Any, gd: Any, saved: Any) -> Any:
    return ((g, gd), (K.negative(g), None if gd is None else K.negative(gd)))


def _bw_mul(g: Any, gd: Any, saved: Any) -> Any:
    x, y = saved  # d(g y) = gd y + g dy
    gx = K.multiply(g, y.p)
    gy = K.multiply(g, x.p)
    gxd = _add(_mul(gd, y.p), None if y.t is None else K.multiply(g, y.t))
    gyd = _add(_mul(gd, x.p), None if x.t is None else K.multiply(g, x.t))
    return ((gx, gxd), (gy, gyd))


def _bw_square(g: Any, gd: Any, saved: Any) -> Any:
    two_x, two_t = saved[:2]  # g 2x; its tangent gd 2x + g 2 dx
    return ((K.multiply(g, two_x),
             _add(_mul(gd, two_x), None if two_t is None else K.multiply(g, two_t))),)


def _sum(v: _V) -> _V:
    return _V(K.sum(v.p), None if v.t is None else K.sum(v.t), _bw_add1, (v.slot,), None)


def _bw_add1(g: Any, gd: Any, saved: Any) -> Any:
    return ((g, gd),)  # sum's transpose: a scalar broadcasts where it meets an array


def _sweep(n_slots: int, seed: int, gs: list[Any], gds: list[Any], rules: Any) -> None:
    """The backward sweep of (cotangent, cotangent-tangent) pairs from slot ``seed`` down."""
    for i in range(seed, -1, -1):
        g = gs[i]
        if g is None:
            continue
        rule, parents, saved = rules(i)
        if rule is None:
            continue
        out = rule(g, gds[i], saved)
        if out[0] == "scatter":  # getitem: add into the parent's buffers in place
            (idx, shape), g1, gd1 = out[1], out[2], out[3]
            p = parents[0]
            if gs[p] is None:
                gs[p] = K.zeros(shape)
            gs[p][idx] += g1
            if gd1 is not None:
                if gds[p] is None:
                    gds[p] = K.zeros(shape)
                gds[p][idx] += gd1
            continue
        for p, (g1, gd1) in zip(parents, out, strict=True):
            gs[p] = _add(gs[p], g1)
            gds[p] = _add(gds[p], gd1)


def hvp_fused(f: Any, x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design 1: ``(gradient, Hessian @ v)`` of scalar ``f`` at ``x``, one fused interpreter."""
    _TAPE.clear()
    xv = _V(x, v, None, (), None)
    out = f(xv)
    n = len(_TAPE)
    gs: list[Any] = [None] * n
    gds: list[Any] = [None] * n
    gs[out.slot] = 1.0
    _sweep(n, out.slot, gs, gds, _TAPE.__getitem__)
    _TAPE.clear()
    return gs[xv.slot], gds[xv.slot]


# ----------------------------------------------------------------------------- design 2: replay

_REC: list[tuple[str, tuple[int, ...], Any]] = []
_VALS: list[Any] = []


class _R:
    """A recorded value of design 2: its slot in ``_VALS``/``_REC`` (primals only)."""

    __slots__ = ("slot",)

    def __init__(self, value: Any, op: str, ins: tuple[int, ...], const: Any) -> None:
        self.slot = len(_VALS)
        _VALS.append(value)
        _REC.append((op, ins, const))

    def __getitem__(self, idx: slice) -> _R:
        return _R(_VALS[self.slot][idx], "getitem", (self.slot,), idx)

    def __mul__(self, other: Any) -> _R:
        if isinstance(other, _R):
            if other is self:
                return self ** 2
            return _R(K.multiply(_VALS[self.slot], _VALS[other.slot]), "mul",
                      (self.slot, other.slot), None)
        return _R(K.multiply(_VALS[self.slot], other), "scale", (self.slot,), other)

    __rmul__ = __mul__

    def __sub__(self, other: _R) -> _R:
        return _R(K.subtract(_VALS[self.slot], _VALS[other.slot]), "sub",
                  (self.slot, other.slot), None)

    def __rsub__(self, c: float) -> _R:
        return _R(K.subtract(c, _VALS[self.slot]), "rsubc", (self.slot,), c)

    def __add__(self, other: _R) -> _R:
        return _R(K.add(_VALS[self.slot], _VALS[other.slot]), "add", (self.slot, other.slot),
                  None)

    def __pow__(self, k: int) -> _R:
        if k != 2:
            raise NotImplementedError("hvp_prototype: only ** 2")
        return _R(K.square(_VALS[self.slot]), "square", (self.slot,), None)


def _t_getitem(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    t = ts[ins[0]]
    return None if t is None else t[c]


def _t_mul(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    a, b = ins
    return _add(_mul(ts[a], vals[b]), _mul(ts[b], vals[a]))


def _t_scale(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    return _mul(ts[ins[0]], c)


def _t_sub(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    ta, tb = ts[ins[0]], ts[ins[1]]
    if tb is None:
        return ta
    return K.negative(tb) if ta is None else K.subtract(ta, tb)


def _t_neg(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    t = ts[ins[0]]
    return None if t is None else K.negative(t)


def _t_add(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    return _add(ts[ins[0]], ts[ins[1]])


def _t_square(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    t = ts[ins[0]]
    return None if t is None else K.multiply(K.multiply(2.0, vals[ins[0]]), t)


def _t_sum(ts: Any, vals: Any, ins: Any, c: Any) -> Any:
    t = ts[ins[0]]
    return None if t is None else K.sum(t)


_TANGENT = {"getitem": _t_getitem, "mul": _t_mul, "scale": _t_scale, "sub": _t_sub,
            "rsubc": _t_neg, "add": _t_add, "square": _t_square, "sum": _t_sum}


def _b_mul(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    a, b = ins
    ta, tb = ts[a], ts[b]
    return ((K.multiply(g, vals[b]),
             _add(_mul(gd, vals[b]), None if tb is None else K.multiply(g, tb))),
            (K.multiply(g, vals[a]),
             _add(_mul(gd, vals[a]), None if ta is None else K.multiply(g, ta))))


def _b_scale(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    return ((K.multiply(c, g), _mul(gd, c)),)


def _b_rsubc(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    return ((K.negative(g), None if gd is None else K.negative(gd)),)


def _b_sub(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    return ((g, gd), (K.negative(g), None if gd is None else K.negative(gd)))


def _b_add(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    return ((g, gd), (g, gd))


def _b_square(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    two_x = K.multiply(2.0, vals[ins[0]])
    t = ts[ins[0]]
    return ((K.multiply(g, two_x),
             _add(_mul(gd, two_x), None if t is None else K.multiply(K.multiply(2.0, g), t))),)


def _b_sum(g: Any, gd: Any, ins: Any, c: Any, vals: Any, ts: Any) -> Any:
    return ((g, gd),)


_BACKWARD = {"mul": _b_mul, "scale": _b_scale, "rsubc": _b_rsubc, "sub": _b_sub,
             "add": _b_add, "square": _b_square, "sum": _b_sum}


def _r_sum(v: _R) -> _R:
    return _R(K.sum(_VALS[v.slot]), "sum", (v.slot,), None)


def hvp_replay(f: Any, x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design 2: record ``f``'s primal tape once, then a tangent sweep and a pair sweep."""
    _REC.clear()
    _VALS.clear()
    xr = _R(x, "input", (), None)
    out = f(xr)
    vals, rec = _VALS, _REC
    n = len(rec)
    ts: list[Any] = [None] * n
    ts[xr.slot] = v
    for i in range(1, n):  # tangent sweep
        op, ins, c = rec[i]
        ts[i] = _TANGENT[op](ts, vals, ins, c)
    gs: list[Any] = [None] * n
    gds: list[Any] = [None] * n
    gs[out.slot] = 1.0
    for i in range(out.slot, 0, -1):  # backward sweep of (cotangent, its tangent)
        g = gs[i]
        if g is None:
            continue
        op, ins, c = rec[i]
        gd = gds[i]
        if op == "getitem":
            p = ins[0]
            if gs[p] is None:
                gs[p] = K.zeros(vals[p].shape)
            gs[p][c] += g
            if gd is not None:
                if gds[p] is None:
                    gds[p] = K.zeros(vals[p].shape)
                gds[p][c] += gd
            continue
        for p, (g1, gd1) in zip(ins, _BACKWARD[op](g, gd, ins, c, vals, ts), strict=True):
            gs[p] = _add(gs[p], g1)
            gds[p] = _add(gds[p], gd1)
    _REC.clear()
    _VALS.clear()
    return gs[xr.slot], gds[xr.slot]


# ----------------------------------------------------------------------------- design 3: dual rules

class _D:
    """A dual number ``(p, t)`` (``t`` ``None`` for zero), no tape: the backward sweep of design
    3 evaluates first-order VJP rules on these, which gives each rule's tangent generically."""

    __slots__ = ("p", "t")

    def __init__(self, p: Any, t: Any) -> None:
        self.p = p
        self.t = t

    def __mul__(self, other: Any) -> _D:
        if isinstance(other, _D):
            return _D(K.multiply(self.p, other.p),
                      _add(_mul(self.t, other.p), _mul(other.t, self.p)))
        return _D(K.multiply(self.p, other), _mul(self.t, other))

    __rmul__ = __mul__

    def __neg__(self) -> _D:
        return _D(K.negative(self.p), None if self.t is None else K.negative(self.t))


def _d(v: _V) -> _D:
    return _D(v.p, v.t)


# first-order VJP rules, as pullback writes them (``g`` a cotangent, operands recorded values)
def _vjp_mul(g: _D, saved: Any) -> Any:
    x, y = saved
    return (g * _d(y), g * _d(x))


def _vjp_scale(g: _D, c: Any) -> Any:
    return (g * c,)


def _vjp_sub(g: _D, saved: Any) -> Any:
    return (g, -g)


def _vjp_add(g: _D, saved: Any) -> Any:
    return (g, g)


def _vjp_square(g: _D, saved: Any) -> Any:
    return (g * (2.0 * saved),)


def _vjp_sum(g: _D, saved: Any) -> Any:
    return (g,)


_FIRST_ORDER = {_bw_mul: _vjp_mul, _bw_scale: _vjp_scale, _bw_sub: _vjp_sub,
                _bw_add: _vjp_add, _bw_add1: _vjp_sum}


def hvp_dual(f: Any, x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design 3: design 1's tape, but the backward sweep evaluates the first-order VJP rules on
    dual numbers ``(cotangent, cotangent-tangent)`` and ``(primal, tangent)`` (no second set
    of rules)."""
    _TAPE.clear()
    xv = _V(x, v, None, (), None)
    out = f(xv)
    n = len(_TAPE)
    gs: list[Any] = [None] * n
    gds: list[Any] = [None] * n
    gs[out.slot] = 1.0
    for i in range(out.slot, 0, -1):
        g = gs[i]
        if g is None:
            continue
        rule, parents, saved = _TAPE[i]
        if rule is _bw_getitem:
            idx, shape = saved
            p = parents[0]
            if gs[p] is None:
                gs[p] = K.zeros(shape)
            gs[p][idx] += g
            if gds[i] is not None:
                if gds[p] is None:
                    gds[p] = K.zeros(shape)
                gds[p][idx] += gds[i]
            continue
        if rule is _bw_square:
            outs = _vjp_square(_D(g, gds[i]), _D(saved[2], saved[3]))
        else:
            outs = _FIRST_ORDER[rule](_D(g, gds[i]), saved)
        for p, d in zip(parents, outs, strict=True):
            gs[p] = _add(gs[p], d.p)
            gds[p] = _add(gds[p], d.t)
    _TAPE.clear()
    return gs[xv.slot], gds[xv.slot]


# ----------------------------------------------------------------------------- measuring

def _rosen_fused(x: Any) -> Any:
    a = x[0::2]
    b = x[1::2]
    return _sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def _rosen_replay(x: Any) -> Any:
    a = x[0::2]
    b = x[1::2]
    return _r_sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def count_calls(fn: Any) -> tuple[int, Counter]:
    """The NumPy calls ``fn`` makes through ``K`` (in-place ``+=`` on a slice counted too)."""
    global K
    counts: Counter = Counter()

    def wrap(name: str) -> Any:
        f = getattr(_PLAIN, name)

        def counted(*a: Any, **k: Any) -> Any:
            counts[name] += 1
            out = f(*a, **k)
            return _Counted(out, counts) if name == "zeros" else out

        return counted

    K = SimpleNamespace(**{name: wrap(name) for name in vars(_PLAIN)})
    try:
        fn()
    finally:
        K = _PLAIN
    return sum(counts.values()), counts


class _Counted(np.ndarray):
    """A buffer whose in-place slice additions are counted (the scatter of getitem's rule)."""

    def __new__(cls, arr: np.ndarray, counts: Counter) -> _Counted:
        obj = arr.view(cls)
        obj._counts = counts
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._counts = getattr(obj, "_counts", None)

    def __setitem__(self, idx: Any, val: Any) -> None:
        if self._counts is not None:
            self._counts["add (in place, slice)"] += 1
        np.ndarray.__setitem__(self, idx, val)


def _interleaved(fns: dict[str, Any], rounds: int, min_round: float = 0.02) -> dict[str, list]:
    clock = time.process_time
    loops = {}
    for name, fn in fns.items():
        fn()
        t0 = clock()
        fn()
        loops[name] = max(1, int(min_round / max(clock() - t0, 1e-6)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc.collect()
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            for _ in range(loops[name]):
                fn()
            samples[name].append((clock() - t0) / loops[name])
    return samples


def main(rounds: int = 21, n: int = 10_000) -> int:
    """Check, count and time NumPy by hand, ``pb.hvp`` and the two designs; print ratios."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.5, 1.5, n)
    v = rng.standard_normal(n)
    ref = rosenbrock_hvp_numpy(x, v)
    f_pb = lambda x: rosenbrock(pnp, x)  # noqa: E731
    g_ref, hv_pb = (r[0] for r in pb.hvp(f_pb, (x,), (v,)))
    for name, fn in (("fused", hvp_fused), ("replay", hvp_replay), ("dual", hvp_dual)):
        body = _rosen_replay if name == "replay" else _rosen_fused
        g, hv = fn(body, x, v)
        np.testing.assert_allclose(hv, ref, rtol=1e-12, atol=0, err_msg=name)
        np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=0, err_msg=name)
        total, counts = count_calls(lambda fn=fn, body=body: fn(body, x, v))
        print(f"{name}: {total} NumPy calls (besides the 2 slices of the primal and 2 of the "
              f"tangent): {dict(counts)}")
    np.testing.assert_allclose(hv_pb, ref, rtol=1e-12, atol=0)
    print("checked: all three designs' gradient and HVP agree with pb.hvp / the hand-written HVP "
          "to 1e-12 relative")
    fns = {
        "numpy": lambda: rosenbrock_hvp_numpy(x, v),
        "pullback": lambda: pb.hvp(f_pb, (x,), (v,)),
        "fused": lambda: hvp_fused(_rosen_fused, x, v),
        "replay": lambda: hvp_replay(_rosen_replay, x, v),
        "dual": lambda: hvp_dual(_rosen_fused, x, v),
    }
    samples = _interleaved(fns, rounds)
    med = {k: statistics.median(s) for k, s in samples.items()}
    for k, s in samples.items():
        print(f"{k:9s} median {med[k] * 1e6:7.1f} us  (min {min(s) * 1e6:.1f}, "
              f"max {max(s) * 1e6:.1f})  {med[k] / med['numpy']:.2f}x NumPy")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
