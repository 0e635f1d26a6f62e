"""Verdicts and reports for ``pullback.check``.

A comparison of a derivative computed by pullback (``computed``) with a numerical one
(``expected``, with an error estimate) gives one of these verdicts:

- ``ok``: they agree within the tolerance;
- ``kink``: the left and right one-sided derivatives disagree (the function has a kink
  there) and the computed value lies between them; or they agree but the derivative itself
  has a kink there (the second derivative jumps, as a Huber loss at its switch point), so
  central differences cannot converge, and the computed value matches the one-sided ones;
- ``uncertain``: they disagree by more than the tolerance but by less than the tolerance
  plus the numerical error estimate: the numerical derivative is not accurate enough to
  decide;
- ``fail``: they disagree by more than the tolerance plus the error estimate;
- ``error``: computing the derivative raised an exception.

The tolerance of an entry is ``atol + rtol * (|expected| + 1e-3 * scale)``: ``scale`` is the
largest entry of the compared derivative plus the size of derivative that rounding noise in
the function's values can fake, so an entry that is zero by cancellation is not held to a
relative tolerance of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np

from pullback.check.numeric import Estimate

__all__ = [
    "VERDICTS",
    "CheckRow",
    "GradientCheckError",
    "Item",
    "Localisation",
    "Report",
    "default_rtol",
    "format_table",
]

VERDICTS = ("ok", "kink", "uncertain", "fail", "error")
_RANK = {v: i for i, v in enumerate(VERDICTS)}
#: entries far below the largest one get a tolerance relative to the largest, times this
DELTA = 1e-3
#: the numerical error estimate counts this many times in the fail threshold
K_EST = 2.0
JUMP = "jump: the function itself is discontinuous here, so no derivative exists"
BEND = ("kink in the derivative (the second derivative jumps here): left {L:.6g}, right {R:.6g} "
        "agree; checked against them, as central differences cannot converge at such a point")


def default_rtol(dtype: np.dtype) -> float:
    """The default relative tolerance for derivatives computed in ``dtype``.

    float64: 1e-7 (a derivative wrong by a relative 1e-6 is caught); float32: 2e-3;
    float16: 3e-2; complex128 and complex64 as float64 and float32. Correct low-precision
    derivatives differ from the float64 oracle by their own rounding, a few units of
    ``sqrt(eps)`` at most for well-conditioned code.

    Example:
        >>> default_rtol(np.dtype(np.float32)), default_rtol(np.dtype(np.complex128))
        (0.002, 1e-07)
    """
    # np.finfo of a complex dtype describes its real and imaginary parts (complex128: 64)
    bits = np.finfo(dtype).bits if np.dtype(dtype).kind in "fc" else 64
    if bits >= 64:
        return 1e-7
    if bits >= 32:
        return 2e-3
    return 3e-2


def dot_rtol(dtype: np.dtype) -> float:
    """Tolerance of the dot-product test (forward against reverse mode), relative to the
    sum of the absolute products: rounding only."""
    bits = np.finfo(dtype).bits
    return 1e-10 if bits >= 64 else (1e-4 if bits >= 32 else 1e-2)


# ----------------------------------------------------------------------------- items


@dataclass
class Item:
    """The worst entry of one comparison."""

    verdict: str
    where: str
    expected: float
    computed: float
    abs_error: float
    rel_error: float
    estimate: float
    tolerance: float
    detail: str = ""

    def key(self) -> tuple[int, float]:
        ratio = self.abs_error / self.tolerance if self.tolerance > 0 else (
            np.inf if self.abs_error > 0 else 0.0
        )
        if not np.isfinite(ratio):
            ratio = np.inf
        return _RANK[self.verdict], float(ratio)


def worst(items: list[Item]) -> Item | None:
    """The item with the worst verdict, then the largest error relative to its tolerance."""
    return max(items, key=Item.key) if items else None


def _real(x: Any) -> float:
    z = complex(x)
    return z.real if z.imag == 0 else abs(z)


def one_sided(est: Estimate) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(left, right, left_error, right_error)`` of an estimate that has one-sided
    derivatives (``est.left`` is not None: the four are set together)."""
    return cast(
        "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]",
        (est.left, est.right, est.left_error, est.right_error),
    )


def compare_vector(
    computed: np.ndarray,
    est: Estimate,
    rtol: float,
    atol: float,
    label: Callable[[int], str],
) -> Item | None:
    """Compare a computed derivative vector with a numerical one, entry by entry."""
    c = np.asarray(computed)
    e = est.value
    if e.size == 0:
        return None
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)) + est.fscale
        mag = np.abs(e) + DELTA * scale
        tol = atol + rtol * mag
        err = np.abs(c - e)
        verdict = np.where(err <= tol, 0, np.where(err <= tol + K_EST * est.error, 2, 3))
        # no usable numerical value: cannot decide; an overflowing computed value fails only
        # where the numerical one is finite and meaningful (its error below its size)
        unknown = ~(np.isfinite(e) & np.isfinite(est.error))
        reliable = ~unknown & (est.error <= 0.5 * np.abs(e))
        verdict[unknown] = 2
        verdict[~np.isfinite(c) & ~unknown] = np.where(reliable, 3, 2)[~np.isfinite(c) & ~unknown]
        detail = np.full(e.shape, "", dtype=object)
        if est.left is not None and np.isrealobj(est.left) and np.isrealobj(c):
            L, R, L_err, R_err = one_sided(est)
            lr_err = K_EST * (L_err + R_err)
            gap = np.abs(L - R)
            kink = np.isfinite(gap) & np.isfinite(lr_err) & (gap > tol + lr_err)
            lo = np.minimum(L, R)
            hi = np.maximum(L, R)
            inside = (c >= lo - tol - lr_err) & (c <= hi + tol + lr_err)
            verdict[kink & inside] = 1
            verdict[kink & ~inside] = 3
            dist = np.maximum(np.maximum(lo - c, c - hi), 0.0)
            err = np.where(kink, dist, err)
            for j in np.flatnonzero(kink):
                detail[j] = f"kink: left {L[j]:.6g}, right {R[j]:.6g}"
        if est.bend is not None:
            bend = est.bend & (verdict == 0)
            verdict[bend] = 1
            L, R, _, _ = one_sided(est)  # a bend is found from the one-sided derivatives
            for j in np.flatnonzero(bend):
                detail[j] = BEND.format(L=_real(L[j]), R=_real(R[j]))
        if est.jump is not None:
            jump = est.jump & np.isfinite(c)
            verdict[jump] = 1
            err = np.where(jump, 0.0, err)
            detail[jump] = JUMP
    ratio = np.where(tol > 0, err / np.where(tol > 0, tol, 1.0), np.where(err > 0, np.inf, 0))
    ratio = np.nan_to_num(ratio, nan=np.inf)
    order = np.lexsort((ratio, verdict))
    i = int(order[-1])
    return Item(
        VERDICTS[int(verdict[i])],
        label(i),
        _real(e[i]),
        _real(c[i]),
        float(err[i]),
        _ratio(err[i], mag[i]),
        float(est.error[i]),
        float(tol[i]),
        str(detail[i]),
    )


def compare_scalar(
    computed: float,
    w: np.ndarray,
    est: Estimate,
    rtol: float,
    atol: float,
    extra: float,
    where: str,
) -> Item:
    """Compare ``computed`` with ``<w, expected>`` (a projection of a numerical derivative).

    ``extra`` is the sum of absolute products on the computed side, for the tolerance scale.
    """
    e, e_err = est.dot(w)
    if np.iscomplexobj(e) and not np.iscomplexobj(computed):
        # a real input's cotangent is Re(w^T J) (JAX's convention): compare real parts
        e = e.real
    aw = np.abs(w)
    with np.errstate(all="ignore"):
        fin = np.isfinite(est.value)
        terms = float(np.real(_dot_abs(aw[fin], np.abs(est.value[fin]))))
        scale = terms + extra + est.fscale * float(np.sum(aw))
        mag = abs(e) + DELTA * scale
        tol = atol + rtol * mag
        err = abs(computed - e)
    detail = ""
    if not (np.isfinite(e) and np.isfinite(e_err)):
        verdict = "uncertain"
    elif not np.isfinite(computed):
        verdict = "fail" if e_err <= 0.5 * abs(e) else "uncertain"
    elif err <= tol:
        verdict = "ok"
    elif err <= tol + K_EST * e_err:
        verdict = "uncertain"
    else:
        verdict = "fail"
    if est.jump is not None and np.any(est.jump & (w != 0)) and np.isfinite(computed):
        return Item("kink", where, _real(e), _real(computed), 0.0, 0.0, float(e_err),
                    float(tol), JUMP)
    if est.left is not None and np.isfinite(e) and np.isrealobj(w) and np.isrealobj(est.left):
        # entries with a kink contribute an interval [min(wL, wR), max(wL, wR)]
        L, R, L_err, R_err = one_sided(est)
        lr_err = K_EST * (L_err + R_err)
        with np.errstate(all="ignore"):
            entry_tol = atol + rtol * (np.abs(est.value) + DELTA * scale)
            kink = np.isfinite(L - R) & np.isfinite(lr_err) & (np.abs(L - R) > entry_tol + lr_err)
        if np.any(kink):
            wl, wr = w * L, w * R
            base = np.where(kink, 0.0, w * est.value)
            lo = float(np.sum(base + np.where(kink, np.minimum(wl, wr), 0.0)))
            hi = float(np.sum(base + np.where(kink, np.maximum(wl, wr), 0.0)))
            slack = tol + float(np.sum(aw * np.where(kink, lr_err, K_EST * est.error)))
            if lo - slack <= computed <= hi + slack:
                verdict, err = "kink", 0.0
            else:
                verdict, err = "fail", max(lo - computed, computed - hi)
            detail = f"kink: between {lo:.6g} and {hi:.6g}"
    if verdict == "ok" and est.bend is not None and np.any(est.bend & (w != 0)):
        i = int(np.flatnonzero(est.bend & (w != 0))[0])
        L, R, _, _ = one_sided(est)
        verdict, detail = "kink", BEND.format(L=_real(L[i]), R=_real(R[i]))
    return Item(
        verdict,
        where,
        _real(e),
        _real(computed),
        float(err),
        _ratio(err, mag),
        float(e_err),
        float(tol),
        detail,
    )


def _ratio(err: float, mag: float) -> float:
    """``err / mag`` (nan when either is not a number, inf for an error against zero)."""
    if not (np.isfinite(err) and np.isfinite(mag)):
        return float("nan") if np.isnan(err) or np.isnan(mag) else float("inf")
    if mag > 0:
        return float(err / mag)
    return float("inf") if err > 0 else 0.0


def _dot_abs(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    sb = float(np.max(b, initial=0.0))
    if sb == 0 or not np.isfinite(sb):
        return float(np.sum(a * b))
    return float(np.sum(a * (b / sb))) * sb


def error_item(err: BaseException, where: str = "") -> Item:
    """The item for a derivative computation that raised."""
    text = f"{type(err).__name__}: {err}"
    return Item("error", where, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, text)


# ----------------------------------------------------------------------------- rows and reports


@dataclass
class CheckRow:
    """One line of a report: one argument, one mode, one order."""

    argument: str
    mode: str
    order: int
    method: str
    step: float
    abs_error: float
    rel_error: float
    error_estimate: float
    tolerance: float
    verdict: str
    where: str
    expected: float
    computed: float
    detail: str = ""
    compared: int = 0

    @classmethod
    def from_items(
        cls, argument: str, mode: str, order: int, method: str, step: float, items: list[Item]
    ) -> CheckRow:
        w = worst(items)
        if w is None:
            return cls(argument, mode, order, method, step, 0.0, 0.0, 0.0, 0.0, "ok", "-",
                       0.0, 0.0, "nothing to compare (empty input or output)", 0)
        return cls(argument, mode, order, method, step, w.abs_error, w.rel_error, w.estimate,
                   w.tolerance, w.verdict, w.where, w.expected, w.computed, w.detail, len(items))

    @property
    def passed(self) -> bool:
        return self.verdict in ("ok", "kink", "uncertain")


@dataclass
class Localisation:
    """The first primitive whose rule is wrong, and where the user's code called it."""

    primitive: str
    site: str
    function: str
    report: Report | None = None
    checked: int = 0
    note: str = ""

    def __str__(self) -> str:
        if not self.primitive:
            return f"localisation: {self.note}"
        text = (
            f"first wrong rule: primitive '{self.primitive}', called at {self.site}"
            f" (in {self.function})"
        )
        if self.report is not None:
            bad = [r for r in self.report.rows if not r.passed]
            if bad:
                r = bad[0]
                text += f": its {r.mode} derivative of order {r.order} for {r.argument} "
                if r.verdict == "error":
                    text += f"raised {r.detail}"
                elif not np.isfinite(r.abs_error):
                    text += f"is {r.computed:.6g} where the numerical one is {r.expected:.6g}"
                else:
                    text += (
                        f"is off by {r.abs_error:.2g} (tolerance {r.tolerance:.2g}, relative "
                        f"error {r.rel_error:.2g} against rtol {self.report.rtol:.2g})"
                    )
        return text


@dataclass
class Report:
    """The structured result of :func:`pullback.check.report`."""

    function: str
    seed: int
    dtype: str
    rtol: float
    atol: float
    order: int
    modes: tuple[str, ...]
    method: str
    rows: list[CheckRow] = field(default_factory=list)
    localisation: Localisation | None = None
    #: how the check was done where it differs from the default (complex inputs)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No row failed or raised (``uncertain`` and ``kink`` rows pass)."""
        return all(r.passed for r in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        return [r for r in self.rows if not r.passed]

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for r in self.rows:
            out[r.verdict] += 1
        return {k: v for k, v in out.items() if v}

    def summary(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in self.counts().items())
        return (
            f"derivative check of {self.function}: {len(self.rows)} checks ({counts}); "
            f"dtype {self.dtype}, rtol {self.rtol:.3g}, atol {self.atol:.3g}, seed {self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data (for JSON)."""
        out = asdict(self)
        out["ok"] = self.ok
        return out

    def table(self, rows: list[CheckRow] | None = None) -> str:
        return format_table(self.rows if rows is None else rows)

    def __str__(self) -> str:
        text = self.summary() + "\n" + self.table()
        for note in self.notes:
            text += f"\nnote: {note}"
        notes = [r for r in self.rows if r.detail and not r.passed]
        for r in notes:
            text += f"\n  {r.argument}, {r.mode}, order {r.order}: {r.detail}"
        if self.localisation is not None:
            text += "\n" + str(self.localisation)
        return text


_COLUMNS = (
    ("argument", "argument", "{}"),
    ("mode", "mode", "{}"),
    ("order", "order", "{}"),
    ("method", "method", "{}"),
    ("step", "step", "{:.1e}"),
    ("where", "worst entry", "{}"),
    ("expected", "expected", "{:.9g}"),
    ("computed", "computed", "{:.9g}"),
    ("abs_error", "abs error", "{:.1e}"),
    ("tolerance", "tolerance", "{:.1e}"),
    ("error_estimate", "estimate", "{:.1e}"),
    ("rel_error", "rel error", "{:.1e}"),
    ("verdict", "verdict", "{}"),
)


def format_table(rows: list[CheckRow]) -> str:
    """The rows as an aligned text table, one line each.

    Example:
        >>> import pullback.check as check, pullback.numpy as pnp
        >>> rep = check.report(pnp.sin, (np.array([0.5]),), modes=("rev",), dot=False)
        >>> print(format_table(rep.rows))  # doctest: +NORMALIZE_WHITESPACE
        argument          mode  order  method   step     worst entry  expected      computed ...
        argument 0 ('x')  rev   1      complex  1.9e-20  probe 2      -0.169983702  ...  ok
    """
    header = [c[1] for c in _COLUMNS]
    body = []
    for r in rows:
        cells = []
        for attr, _, fmt in _COLUMNS:
            v = getattr(r, attr)
            if isinstance(v, float) and not np.isfinite(v):
                cells.append("-" if np.isnan(v) else str(v))
            else:
                cells.append(fmt.format(v))
        if r.verdict not in ("ok", "kink"):
            cells[-1] = cells[-1].upper()
        body.append(cells)
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
              for cells in body]
    return "\n".join(lines)


class GradientCheckError(AssertionError):
    """A derivative disagrees with its numerical check. ``.report`` holds the details.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> @pb.custom_vjp
        ... def bad_sin(x):
        ...     return pnp.sin(x)
        >>> bad_sin.defvjp(lambda x: (pnp.sin(x), x), lambda x, g: (-g * pnp.cos(x),))
        >>> try:
        ...     pb.check_grads(bad_sin, (np.array([0.5, 1.0]),), modes=("rev",))
        ... except pb.GradientCheckError as err:
        ...     print(err.report.failures[0].verdict)
        fail
    """

    def __init__(self, report: Report):
        self.report = report
        failing = report.failures
        lines = [
            f"{report.function}: {len(failing)} of {len(report.rows)} derivative checks "
            f"failed (seed {report.seed}, dtype {report.dtype})",
            format_table(failing),
        ]
        for r in failing:
            if r.detail:
                lines.append(f"  {r.argument}, {r.mode}, order {r.order}: {r.detail}")
        lines += [f"note: {note}" for note in report.notes]
        if report.localisation is not None:
            lines.append(str(report.localisation))
        lines.append(
            "rel error is |computed - expected| / |expected| (see docs/checking.md); "
            "err.report holds every check"
        )
        super().__init__("\n".join(lines))
