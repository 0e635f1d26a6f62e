"""Numerical derivatives for ``pullback.check``: forward, central, Richardson, complex step.

Everything here works on a flat view of a problem (:class:`Flat`): the differentiated inputs
are a list of arrays, the output is one vector (the floating leaves of the function's output,
raveled and concatenated). A directional derivative along ``d`` is the derivative at
``s = 0`` of the one-variable function ``phi(s) = f(x + s d)``, so every method is a
one-variable method applied to ``phi``:

- ``forward``: ``(phi(h) - phi(0)) / h``, ``h = sqrt(eps) * scale``;
- ``central``: ``(phi(h) - phi(-h)) / 2h``, ``h = eps**(1/3) * scale``;
- ``richardson``: central differences on a ladder of steps ``h, h/2, h/4, ...``, extrapolated
  over every window of four consecutive steps; each output entry takes the window with the
  smallest error estimate (truncation, from the extrapolation table, plus rounding). The same
  evaluations give extrapolated one-sided (left and right) derivatives, which find kinks;
- ``complex``: ``Im(phi(i h)) / h`` with a tiny ``h``: no subtraction, exact to rounding for
  functions that are real-analytic and accept complex input;
- ``auto``: ``complex`` where ``f`` is complex-safe (``f(x + i h d)`` is complex with real part
  ``f(x)`` and the complex-step derivative agrees with Richardson's), else ``richardson``.

Complex inputs: a complex argument is differentiated along complex directions ``d`` with a
real ``s``, so the real and imaginary parts are separate real directions (JAX's convention:
the JVP is the real-linear map ``d -> J d``, and a VJP is its transpose under
``<a, b> = Re(sum(a * b))``, without conjugation, so the gradient of a real ``f`` of ``z`` is
``df/dRe(z) - i df/dIm(z)``). The complex step needs real inputs (``f(x + i h d)`` moves a
complex ``x`` along ``i d``): ``method="complex"`` refuses a complex input, and ``auto`` uses
Richardson for it.

Where the derivative itself has a kink (the second derivative jumps, as a Huber loss at its
switch point), central differences converge only like ``h`` and their extrapolation stalls,
while the one-sided ones, smooth on each side, stay exact: when those agree with each other
and are far more accurate, they give the value (``Estimate.bend`` marks these entries).

``scale`` makes steps relative to the inputs: for a direction ``d`` it is the ``s`` at which
``s |d_i|`` reaches ``max(|x_i|, 1)`` for the most restrictive entry. Inputs are up-cast to
float64 before any evaluation, so the oracle of a float32 or float16 function is computed in
float64 on a copy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pullback.core.trace import dtype_of, shape_of
from pullback.core.tree import tree_flatten, tree_unflatten

__all__ = ["METHODS", "Estimate", "Flat", "Outputs"]

METHODS = ("auto", "forward", "central", "richardson", "complex")

#: steps of the Richardson ladders: the largest relative step, levels per window and ladder
_TOP = 0.1
_WINDOW = 4
_MIN_LEVELS = 12
#: the complex step, relative to the input scale
_COMPLEX_STEP = 1e-20


def is_float_tree(tree: Any) -> bool:
    """Whether ``tree`` has at least one leaf and all its leaves are real floating-point."""
    leaves = tree_flatten(tree)[0]
    return bool(leaves) and all(dtype_of(x).kind == "f" for x in leaves)


def is_inexact_tree(tree: Any) -> bool:
    """Whether ``tree`` has at least one leaf and all its leaves are floating-point or
    complex: an argument the checker differentiates."""
    leaves = tree_flatten(tree)[0]
    return bool(leaves) and all(dtype_of(x).kind in "fc" for x in leaves)


def _leaf_text(x: Any) -> str:
    if isinstance(x, (str, bytes)) or not (hasattr(x, "dtype") or isinstance(x, (int, float,
                                                                                 complex))):
        return type(x).__name__
    kind, dt = type(x).__name__, str(dtype_of(x))
    return kind if kind == dt else f"{kind} of dtype {dt}"


def _describe(out: Any) -> str:
    """What a function returned, in words, for an error message."""
    if out is None:
        return "None"
    leaves = tree_flatten(out)[0]
    if not leaves:
        return f"an empty {type(out).__name__}"
    if len(leaves) == 1 and leaves[0] is out:
        return f"a value of type {_leaf_text(out)}"
    kinds = ", ".join(sorted({_leaf_text(x) for x in leaves}))
    return f"a {type(out).__name__} of {len(leaves)} leaves ({kinds})"


def has_inexact_leaf(tree: Any) -> bool:
    """Whether ``tree`` has a floating-point or complex leaf (an output to differentiate)."""
    for x in tree_flatten(tree)[0]:
        if isinstance(x, (str, bytes)):
            continue
        try:
            if dtype_of(x).kind in "fc":
                return True
        except Exception:  # a leaf that is not an array at all (an object)
            continue
    return False


def check_output(who: str, name: str, out: Any) -> None:
    """Raise a ``TypeError`` when ``out`` has no floating-point or complex leaf: there is no
    derivative to check (a function that returns None, an integer or a boolean)."""
    if not has_inexact_leaf(out):
        raise TypeError(
            f"{who}: {name} returned {_describe(out)}, which has no floating-point or complex "
            "output to differentiate; return the value whose derivatives you want checked "
            "(for example the loss, as a float array)"
        )


# ----------------------------------------------------------------------------- flat views


class Outputs:
    """Where the floating leaves of a function's output sit in one flat vector."""

    def __init__(self, out: Any):
        leaves, self.tree = tree_flatten(out)
        self.shapes = [shape_of(x) for x in leaves]
        self.dtypes = [dtype_of(x) for x in leaves]
        self.floating = [dt.kind in "fc" for dt in self.dtypes]
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.size = sum(n for n, fl in zip(self.sizes, self.floating, strict=True) if fl)
        self.nleaves = len(leaves)

    def vector(self, out: Any, who: str = "the function") -> tuple[np.ndarray, bool]:
        """The floating leaves of ``out`` as one vector, and whether they were all complex."""
        leaves, tree = tree_flatten(out)
        if tree != self.tree:
            raise ValueError(
                f"{who} returned a pytree of structure {tree!r} at a shifted input, but "
                f"{self.tree!r} at the base point: its output structure must not change"
            )
        parts, all_complex = [], True
        for x, fl in zip(leaves, self.floating, strict=True):
            if not fl:
                continue
            a = np.asarray(x)
            all_complex &= a.dtype.kind == "c"
            parts.append(a.ravel())
        if not parts:
            return np.zeros(0), False
        return np.concatenate(parts), all_complex

    def unflatten(self, vec: np.ndarray, cast: bool = True) -> Any:
        """A pytree shaped like the output from a flat vector (zeros for non-float leaves)."""
        leaves, start = [], 0
        for shape, dt, fl, n in zip(self.shapes, self.dtypes, self.floating, self.sizes,
                                    strict=True):
            if not fl:
                leaves.append(np.zeros(shape, dt))
                continue
            part = np.asarray(vec[start : start + n]).reshape(shape)
            leaves.append(part.astype(dt) if cast else part)
            start += n
        return tree_unflatten(self.tree, leaves)

    def label(self, i: int) -> str:
        """The output entry at flat position ``i``: ``[1, 2]``, or ``leaf 1 [0]`` in a pytree."""
        k, start = 0, 0
        for k, (shape, fl, n) in enumerate(zip(self.shapes, self.floating, self.sizes,
                                               strict=True)):
            if not fl:
                continue
            if i < start + n:
                idx = np.unravel_index(i - start, shape) if shape else ()
                body = "[" + ", ".join(str(int(j)) for j in idx) + "]" if shape else ""
                return body if self.nleaves == 1 else f"leaf {k} {body}".rstrip()
            start += n
        return f"[{i}]"


class Flat:
    """A function of the differentiated arguments, seen as ``list of arrays -> vector``.

    ``fun`` takes the differentiated arguments (pytrees of float or complex arrays);
    ``args`` is the point. Evaluations happen on float64 (complex128) copies (the oracle's
    precision); ``phi0`` is the output there. A function whose output has no floating-point
    or complex leaf is a ``TypeError``: there is nothing to differentiate.
    """

    def __init__(self, fun: Callable[..., Any], args: Sequence[Any], who: str = "the function"):
        self.fun = fun
        self.who = who
        self.trees = []
        self.leaves: list[np.ndarray] = []  # original dtype
        self.arg_of: list[int] = []
        for i, a in enumerate(args):
            leaves, tree = tree_flatten(a)
            self.trees.append(tree)
            self.leaves.extend(np.asarray(x) for x in leaves)
            self.arg_of.extend([i] * len(leaves))
        self.x64 = [x.astype(np.result_type(x, np.float64)) for x in self.leaves]
        #: per leaf: a complex input (differentiated along its real and imaginary parts)
        self.leaf_complex = [x.dtype.kind == "c" for x in self.leaves]
        with np.errstate(all="ignore"):
            out = self.call(self.x64)
        check_output("pullback.check", who, out)
        self.outputs = Outputs(out)
        self.phi0, _ = self.outputs.vector(out, who)
        self.phi0 = self.phi0.astype(np.result_type(self.phi0, np.float64))
        real = [dt for dt, fl in zip(self.outputs.dtypes, self.outputs.floating, strict=True)
                if fl]
        #: the precision of the evaluations (coarser if f casts down internally)
        self.eval_eps = max(
            (float(np.finfo(dt).eps) for dt in real), default=float(np.finfo(np.float64).eps)
        )
        self.eval_eps = max(self.eval_eps, float(np.finfo(np.float64).eps))
        self.output_complex = any(dt.kind == "c" for dt in real)
        #: per set of arguments touched by a direction: is the complex step trustworthy
        self.complex_safe: dict[tuple[int, ...], bool] = {}

    def call(self, leaves: Sequence[np.ndarray]) -> Any:
        it = iter(leaves)
        args = [tree_unflatten(t, [next(it) for _ in range(t.num_leaves)]) for t in self.trees]
        return self.fun(*args)

    def phi(self, d: Sequence[np.ndarray], s: complex | float) -> tuple[np.ndarray, bool]:
        """``f(x + s d)`` as a vector (NaN where the evaluation raised), and all-complex."""
        with np.errstate(all="ignore"):
            out = self.call([x + s * di for x, di in zip(self.x64, d, strict=True)])
        return self.outputs.vector(out, self.who)

    def touched(self, d: Sequence[np.ndarray]) -> tuple[int, ...]:
        return tuple(sorted({self.arg_of[k] for k, di in enumerate(d) if np.any(di != 0)}))

    def touches_complex(self, d: Sequence[np.ndarray]) -> bool:
        """Whether ``d`` moves a complex input (the complex step cannot be used then)."""
        return any(c and np.any(di != 0) for c, di in zip(self.leaf_complex, d, strict=True))


# ----------------------------------------------------------------------------- estimates


@dataclass
class Estimate:
    """A numerical directional derivative: flat value, error estimate, one-sided values."""

    value: np.ndarray
    error: np.ndarray
    method: str
    step: float
    #: |phi(0)| |d| / max(|x|, 1): the size of a derivative that rounding noise can fake
    fscale: float = 0.0
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    left_error: np.ndarray | None = None
    right_error: np.ndarray | None = None
    #: entries where the function itself jumps at the point (no derivative exists)
    jump: np.ndarray | None = None
    #: entries where the derivative has a kink (the second derivative jumps): the value
    #: comes from the one-sided derivatives, which agree, central differences cannot converge
    bend: np.ndarray | None = None

    def dot(self, w: np.ndarray) -> tuple[complex | float, float]:
        """``<w, value>`` and its error bound."""
        return _safe_dot(w, self.value), float(_safe_dot(np.abs(w), self.error).real)


def _safe_dot(a: np.ndarray, b: np.ndarray) -> Any:
    """``sum(a * b)`` computed with scaling, so that values near overflow do not overflow."""
    if a.size == 0:
        return 0.0
    sa = float(np.max(np.abs(a), initial=0.0))
    sb = float(np.max(np.abs(b), initial=0.0))
    if not (np.isfinite(sa) and np.isfinite(sb)) or sa == 0.0 or sb == 0.0:
        with np.errstate(all="ignore"):
            return np.sum(a * b)
    with np.errstate(all="ignore"):
        return np.sum((a / sa) * (b / sb)) * sa * sb


def _as64(x: Any) -> np.ndarray:
    """``x`` as float64, or complex128 if it is complex."""
    x = np.asarray(x)
    return x.astype(np.result_type(x, np.float64))


def _scales(flat: Flat, d: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """``(scale, small, fscale)``: the unit step along ``d`` (relative to max(|x|, 1)), the
    same relative to |x| alone (for inputs much smaller than 1), and the noise scale."""
    xv = np.concatenate([x.ravel() for x in flat.x64]) if flat.x64 else np.zeros(0)
    dv = np.concatenate([_as64(di).ravel() for di in d]) if d else np.zeros(0)
    mask = dv != 0
    ax, ad = np.abs(xv[mask]), np.abs(dv[mask])
    scale = float(np.min(np.maximum(ax, 1.0) / ad))
    rho = np.where(ax > 0, ax, 1.0)
    small = float(np.min(rho / ad))
    big = float(np.max(np.abs(flat.phi0), initial=0.0))
    fscale = big * float(np.max(ad)) / max(float(np.max(ax, initial=0.0)), 1.0)
    return scale, max(small, scale * 1e-280), fscale


def directional(
    flat: Flat, d: Sequence[np.ndarray], method: str = "auto", eps: float | None = None
) -> Estimate:
    """The derivative of ``flat`` at its point along ``d`` (a list like its leaves)."""
    d = [_as64(di) for di in d]
    n = flat.phi0.size
    if not any(np.any(di != 0) for di in d):
        zeros = np.zeros(n, flat.phi0.dtype)
        return Estimate(zeros, np.zeros(n), "exact", 0.0)
    scale, small, fscale = _scales(flat, d)
    if method == "forward":
        est = _forward(flat, d, eps if eps is not None else np.sqrt(flat.eval_eps) * scale)
    elif method == "central":
        est = _central(flat, d, eps if eps is not None else np.cbrt(flat.eval_eps) * scale)
    elif method == "richardson":
        est = _richardson(flat, d, scale, small, eps)
    elif method == "complex":
        est = _complex(flat, d, eps if eps is not None else _COMPLEX_STEP * scale, strict=True)
    elif method == "auto":
        est = _auto(flat, d, scale, small, eps)
    else:
        raise ValueError(
            f"pullback.check: unknown method {method!r}; use one of {', '.join(METHODS)}"
        )
    est.fscale = fscale
    return est


def _nan_phi(flat: Flat, d: Sequence[np.ndarray], s: float) -> np.ndarray:
    try:
        vec, _ = flat.phi(d, s)
    except Exception:  # a step outside the domain: that step is simply not used
        vec = np.full(flat.phi0.shape, np.nan)
    return vec


def _forward(flat: Flat, d: Sequence[np.ndarray], h: float) -> Estimate:
    p1, p2 = _nan_phi(flat, d, h), _nan_phi(flat, d, 2 * h)
    d1, d2 = (p1 - flat.phi0) / h, (p2 - flat.phi0) / (2 * h)
    big = np.maximum(np.abs(flat.phi0), np.maximum(np.abs(p1), np.abs(p2)))
    err = np.abs(d1 - d2) + 4 * flat.eval_eps * big / h
    return Estimate(d1, err, "forward", float(h))


def _central(flat: Flat, d: Sequence[np.ndarray], h: float) -> Estimate:
    p1, m1 = _nan_phi(flat, d, h), _nan_phi(flat, d, -h)
    p2, m2 = _nan_phi(flat, d, 2 * h), _nan_phi(flat, d, -2 * h)
    d1, d2 = (p1 - m1) / (2 * h), (p2 - m2) / (4 * h)
    big = np.max(np.abs(np.stack([p1, m1, p2, m2])), axis=0)
    err = np.abs(d1 - d2) / 3 + 2 * flat.eval_eps * big / h
    return Estimate(d1, err, "central", float(h))


def _roundoff_gain(p: int) -> float:
    """How much the four-level extrapolation amplifies rounding in the smallest step's
    difference: sum_k |c_k| h_last / h_k for the weights c_k of the final value."""
    table = np.eye(_WINDOW)
    cols = [table]
    for m in range(1, _WINDOW):
        prev = cols[-1]
        cols.append(prev[1:] + (prev[1:] - prev[:-1]) / (2.0 ** (p * m) - 1))
    weights = cols[-1][0]
    return float(np.sum(np.abs(weights) * 2.0 ** -np.arange(_WINDOW - 1, -1, -1)))


_GAIN = {1: _roundoff_gain(1), 2: _roundoff_gain(2)}


def _extrapolate(
    D: np.ndarray, p: int, big: np.ndarray, hs: np.ndarray, unit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Richardson over every window of four consecutive steps (ratio 2).

    ``D[j]`` is the difference quotient at step ``hs[j]``, whose error is a series in
    ``h**p, h**2p, ...``; ``big[j]`` bounds the function values it used. Returns, per entry,
    the extrapolated value of the best window, its error estimate and its smallest step.
    """
    with np.errstate(all="ignore"):
        T = [D]
        for m in range(1, _WINDOW):
            prev = T[-1]
            T.append(prev[1:] + (prev[1:] - prev[:-1]) / (2.0 ** (p * m) - 1))
        final, before = T[-1], T[-2]
        trunc = np.maximum(np.abs(final - before[1:]), np.abs(final - before[:-1]))
        nw = final.shape[0]
        wbig = np.max(np.stack([big[k : k + nw] for k in range(_WINDOW)]), axis=0)
        h_last = hs[_WINDOW - 1 :][:, None]
        rounding = 4 * _GAIN[p] * unit * wbig / h_last
        est = trunc + rounding
    est[~(np.isfinite(final) & np.isfinite(est))] = np.inf
    best = np.argmin(est, axis=0)
    cols = np.arange(final.shape[1])
    return final[best, cols], est[best, cols], hs[_WINDOW - 1 :][best]


def _ladders(scale: float, small: float, eps: float | None) -> list[np.ndarray]:
    """Geometric ladders of steps (ratio 2) from a tenth of the input scale down: one relative
    to max(|x|, 1), extended towards |x|; a second one relative to |x| alone when the input
    is so much smaller than 1 that the first cannot reach it."""
    if eps is not None:
        return [eps * 2.0 ** -np.arange(_WINDOW)]
    top = _TOP * scale
    bottom = _TOP * 2.0 ** -(_MIN_LEVELS - 1) * small
    n = int(np.ceil(np.log2(top / bottom))) + 1 if bottom > 0 else _MIN_LEVELS
    if n <= 2 * _MIN_LEVELS:
        return [top * 2.0 ** -np.arange(max(n, _MIN_LEVELS))]
    return [top * 2.0 ** -np.arange(_MIN_LEVELS), _TOP * small * 2.0 ** -np.arange(_MIN_LEVELS)]


def _richardson(
    flat: Flat, d: Sequence[np.ndarray], scale: float, small: float, eps: float | None
) -> Estimate:
    """Richardson on each ladder; per entry, the ladder relative to |x| unless its relative
    error estimate is a thousand times worse than the other's (the derivative is local:
    large steps can look converged where the function is not smooth at the scale of x, as
    |x + s d| is not at |x| = 1e-100)."""
    ests = [_richardson_ladder(flat, d, hs) for hs in _ladders(scale, small, eps)]
    if len(ests) == 1:
        return ests[0]
    coarse, fine = ests
    with np.errstate(all="ignore"):
        rel = [e.error / (np.abs(e.value) + 1e-3 * np.max(np.abs(e.value[np.isfinite(e.value)]),
                                                          initial=0.0) + 1e-300)
               for e in ests]
        best = np.where((rel[1] <= 1e3 * rel[0]) | ~np.isfinite(rel[0]), 1, 0)

    def pick(attr: str) -> np.ndarray:
        return np.choose(best, [getattr(e, attr) for e in ests])

    steps = np.choose(best, [np.full(best.shape, e.step) for e in ests])
    step = float(np.median(steps)) if steps.size else ests[0].step
    return Estimate(pick("value"), pick("error"), "richardson", step, 0.0, pick("left"),
                    pick("right"), pick("left_error"), pick("right_error"), pick("jump"),
                    pick("bend"))


def _richardson_ladder(flat: Flat, d: Sequence[np.ndarray], hs: np.ndarray) -> Estimate:
    plus = np.stack([_nan_phi(flat, d, h) for h in hs])
    minus = np.stack([_nan_phi(flat, d, -h) for h in hs])
    phi0 = flat.phi0[None, :]
    col = hs[:, None]
    with np.errstate(all="ignore"):
        central = (plus - minus) / (2 * col)
        right = (plus - phi0) / col
        left = (phi0 - minus) / col
        big_c = np.maximum(np.abs(plus), np.abs(minus))
        big_r = 2 * np.maximum(np.abs(plus), np.abs(phi0))
        big_l = 2 * np.maximum(np.abs(minus), np.abs(phi0))
        jump = _jumps(plus - minus, big_c, flat.eval_eps)
    unit = flat.eval_eps
    value, error, steps = _extrapolate(central, 2, big_c, hs, unit)
    rv, re, _ = _extrapolate(right, 1, big_r, hs, unit)
    lv, le, _ = _extrapolate(left, 1, big_l, hs, unit)
    bend = _bends(value, error, lv, le, rv, re) & ~jump
    if np.any(bend):
        value, error = value.copy(), error.copy()
        value[bend] = 0.5 * (lv[bend] + rv[bend])
        error[bend] = np.maximum(le[bend], re[bend]) + 0.5 * np.abs(lv[bend] - rv[bend])
    step = float(np.median(steps)) if steps.size else float(hs[-1])
    return Estimate(value, error, "richardson", step, 0.0, lv, rv, le, re, jump, bend)


#: how much more accurate than central differences the one-sided ones must be to replace them
_BEND_GAIN = 100.0


def _bends(
    value: np.ndarray, error: np.ndarray, lv: np.ndarray, le: np.ndarray, rv: np.ndarray,
    re: np.ndarray,
) -> np.ndarray:
    """Entries where the derivative has a kink: the left and right derivatives agree (within
    their estimates) and are both far more accurate than the central one. Central differences
    of a function whose second derivative jumps have an error term in ``h`` (odd), which
    their extrapolation (even powers) cannot remove; each one-sided quotient sees a smooth
    function and converges. For a smooth function the central estimate is the more accurate
    one, so this never replaces it there."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(lv) & np.isfinite(rv) & np.isfinite(le) & np.isfinite(re)
        agree = np.abs(lv - rv) <= 2.0 * (le + re)
        better = _BEND_GAIN * np.maximum(le, re) < np.where(np.isfinite(error), error, np.inf)
        return finite & agree & better


def _jumps(delta: np.ndarray, big: np.ndarray, unit: float) -> np.ndarray:
    """Entries where ``phi`` itself jumps at 0: ``phi(h) - phi(-h)`` does not shrink with
    ``h`` over the smallest four steps (it would shrink eightfold if ``phi`` were
    differentiable, and at least twofold if it were merely continuous there)."""
    a = np.abs(delta[-_WINDOW:])
    with np.errstate(all="ignore"):
        noise = 1e3 * unit * np.max(big[-_WINDOW:], axis=0)
        return (
            np.all(np.isfinite(a), axis=0)
            & (a[-1] > noise)
            & (a[-1] > 0.7 * a[0])
            & (np.min(a, axis=0) > 0.5 * np.max(a, axis=0))
        )


def _complex(
    flat: Flat, d: Sequence[np.ndarray], h: float, strict: bool
) -> Estimate | None:
    """The complex step, or ``None`` (``strict``: an error) when ``f`` is not complex-safe."""
    reason = None
    if flat.touches_complex(d):
        reason = ("its input is complex, and the complex step needs real inputs (f(x + ih d) "
                  "moves a complex x along i d, another direction); the real and imaginary "
                  "parts are differentiated by Richardson extrapolation instead")
    elif flat.output_complex:
        reason = "its output is complex for real input, so Im f(x + ih) is not h f'(x)"
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", np.exceptions.ComplexWarning)
                vec, all_complex = flat.phi(d, 1j * h)
        except Exception as err:  # any failure means: not usable with complex input
            reason = f"it failed on complex input ({type(err).__name__}: {err})"
        else:
            phi0 = flat.phi0
            tol = 1e4 * flat.eval_eps * (np.abs(phi0) + 1e-3 * np.max(np.abs(phi0), initial=0))
            if vec.size and not all_complex:
                reason = "it returned a real result for complex input (it drops the imaginary part)"
            elif np.any(np.abs(vec.real - phi0) > tol):
                reason = "the real part of f(x + ih) differs from f(x) (f is not real-analytic)"
    if reason is not None:
        if strict:
            raise ValueError(
                f"pullback.check: method='complex' cannot be used for {flat.who}: {reason}; "
                "use method='richardson' or 'auto'"
            )
        return None
    value = vec.imag / h
    err = 8 * flat.eval_eps * (np.abs(value) + 1e-3 * np.max(np.abs(value), initial=0.0))
    return Estimate(value, err, "complex", float(h))


def _auto(
    flat: Flat, d: Sequence[np.ndarray], scale: float, small: float, eps: float | None
) -> Estimate:
    if flat.touches_complex(d):  # the complex step needs real inputs
        return _richardson(flat, d, scale, small, None)
    key = flat.touched(d)
    safe = flat.complex_safe.get(key)
    h = eps if eps is not None else _COMPLEX_STEP * scale
    if safe:
        est = _complex(flat, d, h, strict=False)
        if est is not None:
            return est
    if safe is None:
        rich = _richardson(flat, d, scale, small, None)
        est = _complex(flat, d, h, strict=False)
        if est is not None:
            gap = np.abs(est.value - rich.value)
            allowed = 4 * rich.error + 1e-8 * (
                np.abs(rich.value) + 1e-3 * np.max(np.abs(rich.value), initial=0.0)
            )
            with np.errstate(invalid="ignore"):
                agree = bool(np.all(gap <= allowed))
            flat.complex_safe[key] = agree
            if agree:
                return est
        else:
            flat.complex_safe[key] = False
        return rich
    return _richardson(flat, d, scale, small, None)
