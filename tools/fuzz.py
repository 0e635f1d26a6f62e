"""Differential fuzzing: random programs made of the spec table's rows, checked against NumPy
and against numerical derivatives that use none of pullback's rules.

A program has one to three inputs (random shapes: 0-d, size-1 and empty axes included;
float32 or float64) and 3 to 12 operations, each a row of ``tests/specs`` (its function for
pullback, its ``ref`` for NumPy). Every argument of an operation is computed from an earlier
value: an adapter makes the shape (the value itself, ``broadcast_to``, ``reshape``, or a
``take`` of its raveled entries), then a smooth squashing map puts it in the row's domain
(``2 tanh(v)`` for "real", ``1.25 + 0.7 tanh(v)`` for "positive", a constant of the row's own
sampler plus ``0.01 tanh(v)`` for a structured domain such as distinct values or
well-conditioned matrices, ...). The maps are bounded, so every argument stays inside its
domain wherever the inputs go, also at the oracle's shifted points. Arguments that are not
differentiated (integers, masks) are constants. The generator runs each operation on NumPy
as it goes and keeps it only if its value is finite, moderate, not rounding noise, depends on
the inputs (mostly), and the row is differentiable at its actual arguments (:func:`kinked`:
one-sided difference quotients agree), so that the chain rule holds where it is checked.
Rows are picked by rendezvous hashing: adding a row to the table changes few programs.

Each program is written out as Python source (``def program(m, R, K, x0, ...)``, where ``m`` is
``pullback.numpy`` or ``numpy``, ``R`` the rows' functions and ``K`` the constants) and
checked, see :func:`check_program`:

- ``value``: pullback (eager, and the primal of ``vjp``/``jvp``) against the same program run
  with NumPy's functions (the rows' ``ref``), in the program's dtype: shape, dtype, values;
- ``jvp``: the output tangent along a random direction against :func:`jvp_oracle`
  (Richardson-extrapolated central differences of ``pullback.check.numeric``, the complex
  step where the NumPy program is complex-safe and agrees; a kink makes it inconclusive), in
  float64 on the float64 version of the program (the rows' ``smooth`` function where their
  ``ref`` rounds);
- ``vjp``: ``<vjp(w), v>`` against ``<w, J v>`` from the same oracle (a random cotangent);
- ``hvp``: ``pb.hvp`` of the scalarised program ``sum(f * w)``: ``<u, H v>`` against mixed
  second differences with Richardson extrapolation (:func:`mixed_second`); float64 programs
  only, as the spec table checks float32 rows to first order: second derivatives in float32
  lose all their digits where a function saturates (``1 - tanh(z)**2`` rounds to 0 or to a
  few units of epsilon, times the square of the chain's first derivatives);
- ``jit``: ``pb.jit`` of the program and of its gradient against eager;
- ``vmap``: ``pb.vmap`` (random ``in_axes``: 0, -1 or None) of the program and of its
  gradient against a loop.

Tolerances come from the precision pullback computes in (:data:`RTOL`: float32 as soon as a
value of the program is float32 or a row rounds to float32) plus the oracle's own error
estimate and the rounding noise of the program's natural scale (:data:`NOISE`); a check whose
oracle is not accurate enough to decide is counted as inconclusive, not passed. Exceptions
where NumPy runs are failures, except documented refusals (:func:`is_refusal`).

``make fuzz N=100000`` runs :func:`main`: failures are shrunk (drop operations, replace
arguments by constants, smaller shapes, float64) while they still fail, and written to
``fuzz-failures.txt`` as runnable Python snippets. ``tests/test_fuzz.py`` runs a fixed range
of seeds.

Example:
    >>> import fuzz  # doctest: +SKIP
    >>> built = fuzz.generate(0)  # doctest: +SKIP
    >>> fuzz.check(built).failures  # doctest: +SKIP
    []
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import functools
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    from tqdm import tqdm  # the demo extra: a progress bar for make fuzz
except ImportError:  # pragma: no cover
    tqdm = None

ROOT = Path(__file__).resolve().parent.parent
# run as a script, tools/ heads sys.path: its coverage.py would shadow the coverage package
# (numba, which pb.jit may use, imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tools"]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

import pullback as pb  # noqa: E402
import pullback.numpy as pnp  # noqa: E402
from pullback.check.numeric import Flat, directional  # noqa: E402
from specs import ALL_SPECS, VALUE_DEPENDENT_SHAPE, OpSpec, sample  # noqa: E402

Shape = tuple[int, ...]

CHECKS = ("value", "jvp", "vjp", "hvp", "jit", "vmap")

#: relative tolerance of derivatives, by the precision pullback computes in
RTOL = {"float64": 1e-8, "float32": 5e-4}
#: relative tolerance of values (pullback against NumPy, jit and vmap against eager)
VTOL = {"float64": 1e-9, "float32": 1e-4}
#: the largest entry an intermediate value may have (larger ones make the oracle inaccurate)
MAX_ABS = 1e4
#: the largest size of an operation's argument
MAX_SIZE = 48


# ----------------------------------------------------------------------------- the rows

#: rows (by name, or name prefix ending in ".") whose reference computes in float64 whatever
#: its input: their value's dtype says nothing about pullback's on float32 input (pullback
#: keeps float32 float32 by design), so float32 programs leave them out
#: (``tests/specs/reductions.py``: ``_logsumexp`` casts to float; SciPy's ``polygamma`` and
#: its distributions in ``scipy.stats``)
REF_FLOAT64 = {"logsumexp", "special.polygamma", "stats."}


def _ref_float64(name: str) -> bool:
    return name in REF_FLOAT64 or any(p.endswith(".") and name.startswith(p)
                                      for p in REF_FLOAT64)
#: rows (by name) whose NumPy reference never returns on some empty arrays: NumPy 2.4's
#: ``np.take(np.zeros((0, 3, 0)), [5, -4], axis=0, mode="wrap")`` loops forever
NUMPY_HANGS_ON_EMPTY = {"take"}
#: seconds a program may take (generation, checks and shrinking) before the runner stops
#: with a traceback of where it hangs
WATCHDOG = 600


def _keyed(rows: Iterable[OpSpec]) -> dict[str, OpSpec]:
    """Rows by key: the row's id, with ``#k`` for the k-th later row of the same id."""
    seen: dict[str, int] = {}
    out = {}
    for r in rows:
        k = seen.get(r.id, 0)
        seen[r.id] = k + 1
        out[f"{r.id}#{k}" if k else r.id] = r
    return out


ROWS = _keyed(ALL_SPECS)


def is_complex_row(row: OpSpec) -> bool:
    """Whether a row takes complex arguments (``complex=True`` or a ``"complex"`` domain)."""
    return bool(getattr(row, "complex", False)) or "complex" in row.domains


_USABLE: dict[int, tuple[dict, list[str], list[str]]] = {}


def usable(table: dict[str, OpSpec]) -> tuple[list[str], list[str]]:
    """The keys of the rows the generator draws from: (real rows, complex rows). Rows whose
    output shape depends on values, and rows with nothing to differentiate, are left out."""
    cached = _USABLE.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1], cached[2]
    real, cplx = [], []
    for key, row in table.items():
        if row.id in VALUE_DEPENDENT_SHAPE:
            continue
        if not any(row.differentiable(i) for i in range(len(row.shapes[0]))):
            continue
        (cplx if is_complex_row(row) else real).append(key)
    _USABLE[id(table)] = (table, real, cplx)
    return real, cplx


def _bind(fn: Callable, kwargs: dict) -> Callable:
    return (lambda *a: fn(*a, **kwargs)) if kwargs else fn


class Rows:
    """The functions of the rows a program uses, in three versions: ``pb`` (the row's
    function, for pullback), ``np`` (its NumPy reference) and ``oracle`` (its smooth float64
    version where the reference rounds, else the reference)."""

    def __init__(self, keys: Sequence[str], table: dict[str, OpSpec] | None = None):
        table = ROWS if table is None else table
        self.keys = list(keys)
        rows = [table[k] for k in self.keys]
        self.pb = [_bind(r.fn, r.kwargs) for r in rows]
        self.np = [_bind(r.ref, r.kwargs) for r in rows]
        self.oracle = [_bind(r.smooth or r.ref, r.kwargs) for r in rows]


# ----------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class Arg:
    """One argument of an operation: computed from the value named ``src`` (None: a constant
    drawn from the row's domain), shaped ``shape``, mapped into the domain by ``squash``
    (``raw``, ``tanh``, ``sin`` or ``exp``)."""

    src: str | None
    shape: Shape
    squash: str = "tanh"


@dataclass(frozen=True)
class Op:
    """``v<uid> = row(*args)``; ``uid`` also seeds the operation's constants."""

    uid: int
    row: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Program:
    """Inputs ``x0, x1, ...`` (shapes), operations, and the value returned (the last)."""

    seed: int
    dtype: str
    inputs: tuple[Shape, ...]
    ops: tuple[Op, ...]
    complex: bool = False
    #: the inputs' names are ``x<id>`` and their values are seeded by the id (default: their
    #: positions), so that the shrinker can drop an unused input without changing the others
    input_ids: tuple[int, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return self.input_ids or tuple(range(len(self.inputs)))

    def describe(self) -> str:
        rows = ", ".join(op.row for op in self.ops)
        shapes = ", ".join(str(s) for s in self.inputs)
        return f"seed {self.seed}, {self.dtype}, inputs {shapes}: {rows}"


class Invalid(Exception):
    """The program cannot be built (NumPy fails on it, or a value leaves the safe range)."""


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([abs(int(k)) for k in key])


def inputs_of(prog: Program) -> list[np.ndarray]:
    """The program's inputs: uniform in (-2, 2), in its dtype, read-only."""
    xs = []
    for i, shape in zip(prog.ids, prog.inputs, strict=True):
        x = _rng(prog.seed, 0, i).uniform(-2.0, 2.0, shape).astype(prog.dtype)
        x.flags.writeable = False
        xs.append(x)
    return xs


def _fmt(x: float) -> str:
    return repr(float(x))


def _positive(c: str, squash: str) -> str:
    """A map of ``c`` into (0.5, 2)."""
    if squash == "sin":
        return f"(1.25 + 0.7 * m.sin({c}))"
    if squash == "exp":
        return f"(0.55 + 1.4 * m.exp(-({c} * {c})))"
    return f"(1.25 + 0.7 * m.tanh({c}))"


def _interval(c: str, squash: str, lo: float, hi: float) -> str:
    """A map of ``c`` into (lo, hi), 2.5% of the width away from the ends."""
    mid, half = (lo + hi) / 2, 0.475 * (hi - lo)
    if squash == "exp":
        return f"({_fmt(lo + 0.025 * (hi - lo))} + {_fmt(0.95 * (hi - lo))} * m.exp(-({c} * {c})))"
    fn = "sin" if squash == "sin" else "tanh"
    return f"({_fmt(mid)} + {_fmt(half)} * m.{fn}({c}))"


def _bounded(c: str, squash: str) -> str:
    """A map of ``c`` into (-1, 1)."""
    return f"m.sin({c})" if squash == "sin" else f"m.tanh({c})"


_SYMMETRIC = {"symmetric", "spd"}
#: named domains that are intervals (the others: the generic "sample plus a little")
_INTERVALS = {"unit": (-0.9, 0.9), "gt1": (1.2, 3.0)}


@dataclass
class Built:
    """A program written out: its source, the rows and constants it uses, its inputs."""

    prog: Program
    source: str
    keys: list[str]
    K: list[np.ndarray]
    xs: list[np.ndarray]
    #: the precision pullback computes in: "float32" as soon as one value is float32
    precision: str
    table: dict[str, OpSpec] = field(default_factory=lambda: ROWS)
    #: the largest entry of any value of the program (its rounding reaches the output)
    scale: float = 1.0

    def rows(self) -> Rows:
        return Rows(self.keys, self.table)

    def function(self) -> Callable:
        return compile_program(self.source)


@functools.lru_cache(maxsize=4096)
def _compiled(expr: str) -> Any:
    return compile(expr, "<fuzz expression>", "eval")


def compile_program(source: str) -> Callable:
    """The ``program`` function defined by ``source``."""
    ns: dict[str, Any] = {}
    exec(compile(source, "<fuzz program>", "exec"), ns)
    return ns["program"]


class Builder:
    """Writes a program out one operation at a time, running each on NumPy to learn the
    shapes and reject what NumPy rejects or what leaves the safe range."""

    def __init__(self, prog: Program, table: dict[str, OpSpec]):
        self.prog = prog
        self.table = table
        self.K: list[np.ndarray] = []
        self.keys: list[str] = []
        self.lines: list[str] = []
        self.ops: list[Op] = []
        xs = inputs_of(prog)
        self.xs = xs
        self.names = [f"x{i}" for i in prog.ids]
        #: NumPy values in the program's dtype, and the float64 values of the oracle version
        self.vals: dict[str, np.ndarray] = dict(zip(self.names, xs, strict=True))
        self.vals64: dict[str, np.ndarray] = {
            n: x.astype(np.float64) for n, x in zip(self.names, xs, strict=True)
        }
        #: the oracle version at inputs moved a little: finds values that do not depend on
        #: the inputs (the generator avoids most of them: their derivatives are all zero)
        self.moved: dict[str, np.ndarray] = {
            n: x + 1e-3 * _rng(prog.seed, 3, i).standard_normal(x.shape)
            for i, (n, x) in zip(prog.ids, self.vals64.items(), strict=True)
        }
        self.precision = prog.dtype
        self.rows_np: list[Callable] = []
        self.rows_or: list[Callable] = []

    # the source of one argument ------------------------------------------------------

    def _const(self, x: np.ndarray) -> str:
        self.K.append(x)
        return f"K[{len(self.K) - 1}]"

    def _float_const(self, x: np.ndarray, like: np.dtype) -> str:
        x = np.asarray(x)
        real = np.dtype(like) if np.dtype(like).kind == "f" else np.dtype(self.prog.dtype)
        if x.dtype.kind == "f":
            x = x.astype(real)
        elif x.dtype.kind == "c":
            x = x.astype(np.result_type(real, np.complex64))
        return self._const(x)

    def _adapt(self, name: str, src: np.ndarray, shape: Shape, rng: np.random.Generator) -> str:
        """``name`` (shaped like ``src``) made into ``shape``."""
        s = src.shape
        if s == shape:
            return name
        try:
            ok = np.broadcast_shapes(s, shape) == shape
        except ValueError:
            ok = False
        if ok:
            return f"m.broadcast_to({name}, {shape!r})"
        if src.size == int(np.prod(shape, dtype=np.int64)) and rng.random() < 0.5:
            return f"m.reshape({name}, {shape!r})"
        if src.size > 0:
            idx = rng.integers(0, src.size, shape)
            return f"m.take(m.ravel({name}), {self._const(idx)})"
        return f"m.broadcast_to(m.sum({name}), {shape!r})"

    def _arg(self, op: Op, j: int, a: Arg) -> str:
        row = self.table[op.row]
        dom = row.domain(j)
        rng = _rng(self.prog.seed, 1, op.uid, j)
        dt = np.dtype(self.prog.dtype)
        if not row.differentiable(j):
            return self._const(sample(rng, dom, a.shape))
        if a.src is None:
            return self._float_const(sample(rng, dom, a.shape), dt)
        src = self.vals[a.src]
        c = self._adapt(a.src, src, a.shape, rng)
        like = src.dtype if src.dtype.kind == "f" else dt
        if src.dtype.kind == "c" and dom != "complex":
            c, like = f"m.real({c})", np.dtype(src.dtype.char.lower())
        if isinstance(dom, str) and dom in ("real", "normal"):
            if a.squash == "raw":
                return c
            return f"(2.0 * {_bounded(c, a.squash)})"
        if isinstance(dom, str) and dom == "positive":
            return _positive(c, a.squash)
        if isinstance(dom, str) and dom == "nonzero":
            signs = rng.choice([-1.0, 1.0], a.shape)
            return f"({self._float_const(signs, like)} * {_positive(c, a.squash)})"
        if isinstance(dom, str) and dom == "complex":
            if src.dtype.kind != "c":
                return f"(2.0 * m.tanh({c}) + 2j * m.sin({c}))"
            if a.squash == "raw":
                return c
            return f"(2.0 * {c} / m.sqrt(1.0 + m.real({c} * m.conj({c}))))"
        bounds = _INTERVALS.get(dom) if isinstance(dom, str) else dom
        if isinstance(bounds, tuple):
            lo, hi = bounds
            return _interval(c, a.squash, float(lo), float(hi))
        # a structured domain (distinct values, well-conditioned matrices, ...): its own
        # sample, moved a little (keeps its gaps and margins)
        base = self._float_const(sample(rng, dom, a.shape), like)
        t = _bounded(c, a.squash)
        if getattr(dom, "__name__", "") in _SYMMETRIC:
            return f"({base} + 0.005 * ({t} + m.swapaxes({t}, -1, -2)))"
        return f"({base} + 0.01 * {t})"

    # adding an operation --------------------------------------------------------------

    def add(self, op: Op, constant: bool = True) -> bool:
        """Append ``op`` if NumPy runs it and its value is finite and moderate (and, unless
        ``constant``, depends on the inputs: it changes when they move)."""
        nk, nkeys = len(self.K), len(self.keys)
        try:
            self._add(op, constant)
        except Invalid:
            del self.K[nk:]
            del self.keys[nkeys:]
            del self.rows_np[nkeys:]
            del self.rows_or[nkeys:]
            return False
        return True

    def _add(self, op: Op, constant: bool = True) -> None:
        row = self.table.get(op.row)
        if row is None or len(op.args) != len(row.shapes[0]):
            raise Invalid(f"no row {op.row!r} with {len(op.args)} arguments")
        if row.name in NUMPY_HANGS_ON_EMPTY and any(0 in a.shape for a in op.args):
            raise Invalid(f"{op.row}: NumPy's {row.name} can hang on empty arrays")
        if _ref_float64(row.name) and (self.prog.dtype == "float32"
                                        or self.precision == "float32"):
            raise Invalid(f"{op.row}: its NumPy reference computes in float64")
        for a in op.args:
            if a.src is not None and a.src not in self.vals:
                raise Invalid(f"no value {a.src}")
            if int(np.prod(a.shape, dtype=np.int64)) > MAX_SIZE:
                raise Invalid("argument too large")
        try:
            args = [self._arg(op, j, a) for j, a in enumerate(op.args)]
        except Exception as err:  # the row's sampler does not take this shape
            raise Invalid(f"sampler: {err}") from err
        if op.row in self.keys:
            r = self.keys.index(op.row)
        else:
            r = len(self.keys)
            self.keys.append(op.row)
            self.rows_np.append(_bind(row.ref, row.kwargs))
            self.rows_or.append(_bind(row.smooth or row.ref, row.kwargs))
        expr = f"R[{r}]({', '.join(args)})"
        name = f"v{op.uid}"
        if name in self.vals:
            raise Invalid(f"duplicate uid {op.uid}")
        K64 = [k.astype(np.float64) if k.dtype.kind == "f" else k for k in self.K]
        out = self._eval(expr, self.vals, self.rows_np, self.K)
        out64 = self._eval(expr, self.vals64, self.rows_or, K64)
        try:
            moved = self._eval(expr, self.moved, self.rows_or, K64)
        except Invalid:
            moved = None
        if moved is not None and moved.shape != out64.shape:
            raise Invalid("the output's shape depends on the values")
        with np.errstate(all="ignore"):
            still = moved is None or _max(moved - out64) <= 1e-10 * max(_max(out64), 1.0)
        if not constant and still:
            raise Invalid("the value does not depend (noticeably) on the inputs")
        if out.shape != out64.shape:
            raise Invalid("the oracle version has another shape")
        kinds = "fc" if self.prog.complex else "f"
        if out.dtype.kind not in kinds or out64.dtype.kind not in kinds:
            raise Invalid(f"output dtype {out.dtype}")
        for v in (out, out64):
            if not np.all(np.isfinite(v)) or (v.size and np.max(np.abs(v)) > MAX_ABS):
                raise Invalid("a value is not finite or too large")
            if 0 < _max(v) < 1e-7:
                raise Invalid("a value is rounding noise (cancellation)")
        if (out.dtype == np.float32 or any(k.dtype == np.float32 for k in self.K)
                or row.smooth is not None):  # a row that rounds to float32 inside
            self.precision = "float32"
        # the program's dtype against float64: a value dominated by rounding is useless
        rtol = 1e-2 if self.precision == "float32" else 1e-6
        if _compare(out, out64, rtol):
            raise Invalid("the value differs from its float64 version (rounding dominates)")
        self._probe(op, row, args, K64)
        self.vals[name] = out
        self.vals64[name] = out64
        self.moved[name] = out64 if moved is None else moved
        self.lines.append(f"    {name} = {expr}")
        self.ops.append(op)
        self.names.append(name)

    def _probe(self, op: Op, row: OpSpec, args: list[str], K64: list) -> None:
        """Reject an operation whose own arguments sit where it has no derivative (a kink,
        a jump): the chain rule does not hold there, whatever the program's derivative is.
        The row alone, at its actual arguments, along a random direction of its
        differentiated ones: one-sided derivatives must agree."""
        diff = [j for j in range(len(args)) if row.differentiable(j)]
        ns = {"m": np, "K": K64}
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                vals = [np.asarray(eval(_compiled(a), ns, self.vals64)) for a in args]
        except Exception as err:
            raise Invalid(f"argument: {err}") from err
        diff = [j for j in diff if vals[j].dtype.kind == "f" and vals[j].size]
        if not diff:
            return
        fn = _bind(row.smooth or row.ref, row.kwargs)

        def f(*dv: np.ndarray) -> Any:
            full = list(vals)
            for j, v in zip(diff, dv, strict=True):
                full[j] = v
            return fn(*full)

        rng = _rng(self.prog.seed, 4, op.uid)
        d = [rng.standard_normal(vals[j].shape) for j in diff]
        if kinked(f, [vals[j].astype(np.float64) for j in diff], d):
            raise Invalid(f"{op.row} is not differentiable at its arguments")

    @staticmethod
    def _eval(expr: str, vals: dict, rows: list, K: list) -> np.ndarray:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                out = eval(_compiled(expr), {"m": np, "R": rows, "K": K}, vals)
        except Exception as err:
            raise Invalid(f"NumPy: {type(err).__name__}: {err}") from err
        if isinstance(out, (tuple, list)):
            raise Invalid("the row returns a sequence")
        return np.asarray(out)

    def built(self) -> Built:
        params = ", ".join(f"x{i}" for i in self.prog.ids)
        ret = self.names[-1]
        if self.prog.complex and self.vals[ret].dtype.kind == "c":
            body = self.lines + [f"    return m.real({ret}) + 2.0 * m.imag({ret})"]
        else:
            body = self.lines + [f"    return {ret}"]
        source = "\n".join([f"def program(m, R, K, {params}):", *body]) + "\n"
        prog = dataclasses.replace(self.prog, ops=tuple(self.ops))
        scale = max([_max(v) for v in self.vals.values()] + [1.0])
        return Built(prog, source, list(self.keys), list(self.K), self.xs, self.precision,
                     self.table, scale)


def build(prog: Program, table: dict[str, OpSpec] | None = None) -> Built:
    """Write ``prog`` out; :class:`Invalid` if one of its operations cannot be built."""
    b = Builder(prog, ROWS if table is None else table)
    for op in prog.ops:
        if not b.add(op):
            raise Invalid(f"operation v{op.uid} ({op.row}) cannot be built")
    if not prog.ops:
        raise Invalid("no operations")
    return b.built()


# ----------------------------------------------------------------------------- generation


def _random_shape(rng: np.random.Generator, max_ndim: int = 3) -> Shape:
    ndim = int(rng.integers(0, max_ndim + 1))
    return tuple(int(d) for d in rng.choice([0, 1, 2, 3, 4], ndim, p=[0.05, 0.2, 0.3, 0.3, 0.15]))


def _shape_options(
    rng: np.random.Generator, row: OpSpec, recent: Shape | None = None
) -> list[tuple[Shape, ...]]:
    """Shapes to try for a row's arguments: one of its own, the same with its sizes changed
    consistently (equal sizes stay equal), with a batch axis in front, or (for broadcasting
    rows) a random broadcasting family."""
    listed = row.shapes[int(rng.integers(len(row.shapes)))]
    opts = []
    sizes = sorted({d for s in listed for d in s if d > 1})
    remap = {d: int(rng.choice([0, 1, 2, 3, 4, 5], p=[0.04, 0.12, 0.28, 0.28, 0.18, 0.1]))
             for d in sizes}
    opts.append(tuple(tuple(remap.get(d, d) for d in s) for s in listed))
    b = int(rng.integers(1, 4))
    opts.append(tuple((b, *s) for s in listed))
    full = _random_shape(rng)
    fam = []
    for _ in listed:
        k = int(rng.integers(0, len(full) + 1))
        fam.append(tuple(1 if rng.random() < 0.3 else d for d in full[len(full) - k :]))
    opts.append(tuple(fam))
    if recent is not None:  # the shape of the latest value: no adapter needed
        opts.append(tuple(recent for _ in listed))
    rng.shuffle(opts)
    return [listed] + opts if rng.random() < 0.4 else opts + [listed]


def _pick_source(rng: np.random.Generator, b: Builder, shape: Shape) -> str:
    """The latest value, one whose shape fits ``shape`` (no reshuffling adapter), or any."""
    names = b.names
    r = rng.random()
    if r < 0.4:
        return names[-1]
    if r < 0.8:
        fit = [n for n in names if _fits(b.vals[n].shape, shape)]
        if fit:
            return fit[int(rng.integers(len(fit)))]
    return names[int(rng.integers(len(names)))]


def _fits(s: Shape, t: Shape) -> bool:
    try:
        return np.broadcast_shapes(s, t) == t
    except ValueError:
        return False


def _propose(
    rng: np.random.Generator, b: Builder, uid: int, key: str, shapes: tuple[Shape, ...]
) -> Op:
    row = b.table[key]
    args = []
    diff = [j for j in range(len(shapes)) if row.differentiable(j)]
    forced = int(rng.choice(diff)) if diff else -1
    for j, shape in enumerate(shapes):
        if not row.differentiable(j):
            args.append(Arg(None, shape))
            continue
        if j != forced and rng.random() < 0.12:
            args.append(Arg(None, shape))
            continue
        src = _pick_source(rng, b, shape)
        squash = str(rng.choice(["tanh", "sin", "exp"], p=[0.5, 0.3, 0.2]))
        v = b.vals[src]
        if row.domain(j) in ("real", "normal", "complex"):
            small = v.size == 0 or float(np.max(np.abs(v))) <= 3.0
            squash = "raw" if small and rng.random() < 0.5 else squash
        args.append(Arg(src, shape, squash))
    return Op(uid, key, tuple(args))


@functools.lru_cache(maxsize=8)
def _key_hashes(keys: tuple[str, ...]) -> np.ndarray:
    """A 64-bit hash per row key (stable across runs and Python versions)."""
    return np.array([int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(),
                                    "little") for k in keys], dtype=np.uint64)


def _pick(hashes: np.ndarray, rng: np.random.Generator) -> int:
    """The index of the row with the highest mixed hash for a random draw (rendezvous
    hashing: a pick does not depend on the other rows, only on which row wins)."""
    x = hashes ^ np.uint64(int(rng.integers(0, 2**63)))
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return int(np.argmax(x))


def generate(seed: int, table: dict[str, OpSpec] | None = None) -> Built:
    """A random program, written out (``.prog`` is the program itself); the same for the
    same seed and spec table. :class:`Invalid` in the rare case that no operation fits."""
    table = ROWS if table is None else table
    real, cplx = usable(table)
    rng = _rng(seed, 7)
    is_complex = (rng.random() < 0.2 and bool(cplx)) or not real
    pool = cplx if is_complex else real
    if not pool:
        raise Invalid("no rows to draw from")
    hashes = _key_hashes(tuple(pool))
    dtype = "float32" if rng.random() < 0.3 else "float64"
    n_in = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    inputs = tuple(_random_shape(rng) for _ in range(n_in))
    b = Builder(Program(seed, dtype, inputs, (), is_complex), table)
    n_ops = int(rng.integers(3, 13))
    uid, attempts = 0, 0
    while len(b.ops) < n_ops and attempts < 30 * n_ops:
        # each attempt draws from its own stream and picks its row by rendezvous hashing:
        # adding a row to the spec table changes only the picks that the new row wins
        r = _rng(seed, 8, attempts)
        attempts += 1
        key = pool[_pick(hashes, r)]
        recent = b.vals[b.names[-1]].shape
        constant = r.random() < 0.1
        for shapes in _shape_options(r, table[key], recent)[:3]:
            if b.add(_propose(r, b, uid, key, shapes), constant):
                uid += 1
                break
    if not b.ops:
        raise Invalid(f"seed {seed}: no operation could be built")
    return b.built()


# ----------------------------------------------------------------------------- oracles


def _gain(p: int, window: int) -> float:
    """How much Richardson over ``window`` steps (ratio 2, error series in h**p) amplifies
    rounding noise that grows like 1/h**2 (second differences)."""
    table = np.eye(window)
    cols = [table]
    for k in range(1, window):
        prev = cols[-1]
        cols.append(prev[1:] + (prev[1:] - prev[:-1]) / (2.0 ** (p * k) - 1))
    weights = cols[-1][0]
    return float(np.sum(np.abs(weights) * 4.0 ** -np.arange(window - 1, -1, -1)))


_WINDOW = 4
_GAIN2 = _gain(2, _WINDOW)


def mixed_second(
    F: Callable[..., Any],
    xs: Sequence[np.ndarray],
    us: Sequence[np.ndarray],
    vs: Sequence[np.ndarray],
    levels: int = 14,
) -> tuple[float, float]:
    """``<u, H v>`` for a scalar ``F`` of several arrays, and an error estimate: mixed central
    second differences ``[F(++) - F(+-) - F(-+) + F(--)] / 4h^2`` on a ladder of steps
    ``h, h/2, ...``, Richardson-extrapolated over windows of four steps (the error is a series
    in ``h^2``); the window with the smallest estimated error (truncation plus rounding) wins,
    and its error is at least its distance to the neighbouring windows' values (a window can
    look converged at steps still too large for a fast-varying ``F``). Only evaluations of
    ``F``; nothing of pullback."""
    xs = [np.asarray(x, np.float64) for x in xs]
    us = [np.asarray(u, np.float64) for u in us]
    vs = [np.asarray(v, np.float64) for v in vs]
    dmax = max([float(np.max(np.abs(d), initial=0.0)) for d in (*us, *vs)] + [0.0])
    if dmax == 0.0:
        return 0.0, 0.0
    xmax = max([float(np.max(np.abs(x), initial=0.0)) for x in xs] + [1.0])
    hs = 0.1 * xmax / dmax * 2.0 ** -np.arange(levels)

    def phi(s: float, t: float) -> float:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return float(F(*[x + s * u + t * v for x, u, v in zip(xs, us, vs, strict=True)]))
        except Exception:
            return float("nan")

    D, big = [], []
    for h in hs:
        p = [phi(h, h), phi(h, -h), phi(-h, h), phi(-h, -h)]
        D.append((p[0] - p[1] - p[2] + p[3]) / (4 * h * h))
        big.append(max(abs(q) for q in p))
    T = [np.array(D)]
    for k in range(1, _WINDOW):
        prev = T[-1]
        T.append(prev[1:] + (prev[1:] - prev[:-1]) / (4.0**k - 1))
    final, before = T[-1], T[-2]
    with np.errstate(all="ignore"):
        trunc = np.maximum(np.abs(final - before[1:]), np.abs(final - before[:-1]))
        bigw = np.array([max(big[k : k + _WINDOW]) for k in range(len(final))])
        h_last = hs[_WINDOW - 1 :]
        rounding = 4 * _GAIN2 * np.finfo(np.float64).eps * bigw / h_last**2
        est = trunc + rounding
    est[~np.isfinite(final) | ~np.isfinite(est)] = np.inf
    k = int(np.argmin(est))
    near = [final[j] for j in (k - 1, k + 1) if 0 <= j < len(final)]
    spread = max([abs(final[k] - f) for f in near] + [0.0])
    return float(final[k]), float(max(est[k], spread))


def kinked(f: Callable[..., Any], xs: Sequence[np.ndarray], d: Sequence[np.ndarray]) -> bool:
    """Whether ``f`` has a kink or a jump at ``xs`` along ``d``: the gap between its right
    and left difference quotients does not shrink with the step (it shrinks like the step
    where ``f`` is twice differentiable). Seven evaluations; an evaluation that fails or
    changes shape counts as a kink."""
    dmax = max([_max(v) for v in d] + [0.0])
    if dmax == 0.0:
        return False
    scale = max([_max(x) for x in xs] + [1.0])

    def at(s: float) -> np.ndarray:
        return np.asarray(f(*[x + s * v for x, v in zip(xs, d, strict=True)]), dtype=np.float64)

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            f0 = at(0.0)
            gaps, sizes, noise = [], [], []
            for h in 1e-3 * scale / dmax * 8.0 ** -np.arange(3):
                plus, minus = at(h), at(-h)
                if plus.shape != f0.shape or minus.shape != f0.shape:
                    return True
                right, left = (plus - f0) / h, (f0 - minus) / h
                gaps.append(np.abs(right - left))
                sizes.append(np.abs(right) + np.abs(left))
                big = np.maximum(np.abs(f0), np.maximum(np.abs(plus), np.abs(minus)))
                noise.append(8 * np.finfo(np.float64).eps * big / h)
    except Exception:
        return True
    if f0.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        fscale = _max(sizes[-1])
        big_gap = gaps[-1] > 1e-4 * (sizes[-1] + fscale) + 10 * noise[-1]
        not_shrinking = gaps[-1] > 0.3 * gaps[0]
        return bool(np.any((big_gap & not_shrinking) | ~np.isfinite(gaps[-1])))


def jvp_oracle(
    f: Callable[..., Any],
    xs: Sequence[np.ndarray],
    vs: Sequence[np.ndarray],
    scale: float,
    complex_step: bool = True,
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(J v, error estimate, '')`` of ``f`` (a NumPy function of float64 arrays) along
    ``vs``, or ``(.., .., reason)`` when it cannot decide: ``"kink"`` where the one-sided
    derivatives differ or ``f`` jumps (no derivative to compare with), ``"jvp"`` where the
    error estimate is above 1% of ``scale``. Richardson-extrapolated central differences
    (:mod:`pullback.check.numeric`); the complex step instead where ``f`` is complex-safe
    and agrees with them. Only evaluations of ``f``."""
    flat = Flat(f, [np.asarray(x, np.float64) for x in xs], "the program")
    d = [np.asarray(v, np.float64) for v in vs]
    rich = directional(flat, d, "richardson")
    t, err = rich.value, rich.error
    if not np.all(np.isfinite(err)) or _max(err) > 1e-2 * max(_max(t), scale):
        return t, err, "jvp"
    if rich.left is not None and rich.right is not None:
        gap = np.abs(rich.left - rich.right)
        allowed = 20 * (rich.left_error + rich.right_error) + 1e-6 * (np.abs(t) + _max(t))
        with np.errstate(invalid="ignore"):
            kink = ~(gap <= allowed)
        if np.any(kink) or (rich.jump is not None and np.any(rich.jump)):
            return t, err, "kink"
    try:
        cs = directional(flat, d, "complex") if complex_step else None
    except ValueError:  # not complex-safe
        cs = None
    if cs is not None:
        with np.errstate(invalid="ignore"):
            agree = np.all(np.abs(cs.value - t) <= 4 * err + 1e-8 * (np.abs(t) + _max(t)))
        if agree:
            t, err = cs.value, cs.error
    shape = np.shape(f(*xs))
    return t.reshape(shape), err.reshape(shape), ""


# ----------------------------------------------------------------------------- checks


@dataclass
class Failure:
    """A check that failed: ``kind`` is the check (``value``, ``jvp``, ...) with a suffix
    (``-error``: pullback raised, ``-shape``/``-dtype``: wrong shape or dtype)."""

    kind: str
    message: str

    @property
    def check(self) -> str:
        return self.kind.split("-")[0]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class Outcome:
    """What :func:`check_program` found: failures, checks it could not decide (the oracle's
    error estimate too large), and what pullback refused with ``NotImplementedError`` (a
    documented limitation, not a wrong result)."""

    failures: list[Failure] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


#: exceptions that are pullback saying, by design, that it cannot do this (with what to do
#: instead): not wrong results. Other exceptions where NumPy runs are failures.
#: OptimizeError: pullback.scipy.optimize refuses to differentiate a solution SciPy's solver
#: did not converge to (or at a singular Jacobian, or on an active bound), where SciPy
#: returns it without a word
REFUSALS = ("NotImplementedError", "TracerConversionError", "ConcretizationError",
            "OptimizeError")
#: messages of other exception types that are such refusals
REFUSAL_MESSAGES = (r"a NumPy array cannot hold a derivative",)


def is_refusal(e: BaseException) -> bool:
    """Whether ``e`` is a documented refusal (:data:`REFUSALS`, :data:`REFUSAL_MESSAGES`)."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & set(REFUSALS)) or any(re.search(p, str(e)) for p in REFUSAL_MESSAGES)


@dataclass(frozen=True)
class Known:
    """A bug the fuzzer found that is not fixed yet: what its failures look like (a regular
    expression searched in ``"<kind>: <message>"``) and what it is."""

    pattern: str
    what: str


#: the bugs found so far (see the report in ``tests/test_fuzz.py``); the CI seeds that hit
#: them are expected failures there
KNOWN_BUGS: dict[str, Known] = {
    "numpy-scalar": Known(
        r"has dtype float64, NumPy's float32|cotangent( leaf \d+)? has dtype float32, "
        r"expected float64",
        "`x32 + 1j * np.sum(y64)` is complex64 in NumPy, complex128 traced. np.sum returns an "
        "np.float64 scalar, a subclass of Python's float, so Python's complex.__mul__ takes it "
        "and returns a Python complex, weak under NEP 50 (only a Python complex on the left of "
        "+ - * / ** with an np.float64 scalar on the right: np.float32 is no float subclass, "
        "np.complex128's reflected method wins, a Python float or int on the left defers to "
        "np.float64's). A 0-d array there gives complex128. Traced values do not record "
        "whether NumPy's result would be a scalar or a 0-d array (jit sees abstract shapes, vmap "
        "batched arrays), so the product is strong: matching needs that flag on every traced "
        "value through every operation"),
    # found by the batch of seeds 700000..701999 (issue 16), in modules of pullback.scipy
    "scipy-float64": Known(
        r"dtype float32, NumPy's float64|and dtype float32, NumPy's \([\d, ]*\) and float64|"
        r"cotangent( leaf \d+)? has dtype float64, expected float32",
        "SciPy computes in float64 and returns float64 for float32 input where pullback keeps "
        "float32: scipy.linalg.det and logm, scipy.integrate.odeint, solve_ivp and simpson "
        "(with x), scipy.special.multigammaln"),
}


def known_bugs(failures: Iterable[Failure], names: Iterable[str]) -> list[Failure]:
    """The failures that none of the known bugs ``names`` explains."""
    pats = [KNOWN_BUGS[n].pattern for n in names]
    return [f for f in failures if not any(re.search(p, f"{f.kind}: {f.message}") for p in pats)]


def _err(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


def _max(x: Any) -> float:
    a = np.abs(np.asarray(x))
    return float(np.max(a, initial=0.0)) if a.size else 0.0


def _compare(got: Any, want: Any, rtol: float, err: Any = 0.0, floor: float = 0.0) -> str:
    """'' if ``got`` matches ``want`` entry by entry within ``rtol`` times the entry plus the
    largest entry, plus the oracle's error estimate ``err`` (times 10) and ``floor``; else a
    description of the worst entry. Entries that are the same NaN or infinity match."""
    g = np.asarray(got, dtype=np.result_type(np.asarray(got).dtype, np.float64))
    w = np.asarray(want, dtype=np.result_type(np.asarray(want).dtype, np.float64))
    if g.shape != w.shape:
        return f"shape {g.shape}, expected {w.shape}"
    if g.size == 0:
        return ""
    finite = np.isfinite(w)
    scale = _max(w[finite])
    tol = rtol * (np.abs(w) + scale) + 10 * np.abs(np.asarray(err, dtype=float)) + floor
    with np.errstate(all="ignore"):
        diff = np.abs(g - w)
        same = (g == w) | (np.isnan(g) & np.isnan(w))
    bad = ~((diff <= tol) | same)
    if not np.any(bad):
        return ""
    ratio = np.where(bad, np.nan_to_num(diff / np.maximum(tol, 1e-300), nan=np.inf), 0)
    i = np.unravel_index(int(np.argmax(ratio)), g.shape)
    return (f"{int(np.sum(bad))} of {g.size} entries differ; at {tuple(int(k) for k in i)}: "
            f"got {g[i]!r}, expected {w[i]!r} (tolerance {float(tol[i]):.3g}, "
            f"largest expected entry {scale:.3g})")


def _proj(a: Sequence[Any], b: Sequence[Any]) -> tuple[float, float]:
    """``sum <a_k, b_k>`` and ``sum <|a_k|, |b_k|>`` (the scale of the sum)."""
    s, m = 0.0, 0.0
    for x, y in zip(a, b, strict=True):
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        s += float(np.sum(x * y))
        m += float(np.sum(np.abs(x) * np.abs(y)))
    return s, m


def _eps(precision: str) -> float:
    return float(np.finfo(precision).eps)


#: rounding noise allowed, in units of the precision's epsilon times the natural scale of a
#: derivative (the output's size times the direction's: what cancellation can leave behind)
NOISE = 1e3


def directions(seed: int, xs: Sequence[np.ndarray], out: np.ndarray) -> dict[str, Any]:
    """The random directions of the checks: tangents ``v`` and ``u`` (like the inputs),
    cotangent ``w`` (like the output), second inputs of the batch for vmap and its axes."""
    rng = _rng(seed, 2)
    v = [rng.standard_normal(x.shape).astype(x.dtype) for x in xs]
    u = [rng.standard_normal(x.shape).astype(x.dtype) for x in xs]
    w = rng.standard_normal(out.shape).astype(out.dtype)
    axes = [[0, -1, None][int(rng.choice(3, p=[0.5, 0.25, 0.25]))] for _ in xs]
    if all(a is None for a in axes):
        axes[0] = 0
    batch = int(rng.integers(1, 4))
    others = [[rng.uniform(-2.0, 2.0, x.shape).astype(x.dtype) for _ in range(batch - 1)]
              for x in xs]
    return dict(v=v, u=u, w=w, axes=axes, others=others)


#: one program in this many compiles with pb.jit's Numba backend (when pb.jit has backends
#: and Numba is installed): its compilation costs about 1 s a program, half of a run's time
#: at this rate; the others use the NumPy backend. Long runs may set it with the environment
#: variable ``PULLBACK_FUZZ_NUMBA_EVERY`` (the CI seeds use the default)
NUMBA_EVERY = int(os.environ.get("PULLBACK_FUZZ_NUMBA_EVERY", "10"))


def jit_backend(seed: int) -> str | None:
    """The backend ``pb.jit`` is checked with for ``seed``: ``"numba"`` for one seed in
    :data:`NUMBA_EVERY` where available, else ``"numpy"``; ``None`` where pb.jit has no
    ``backend`` parameter."""
    if "backend" not in inspect.signature(pb.jit).parameters:
        return None
    available = importlib.util.find_spec("numba") is not None
    return "numba" if available and seed % NUMBA_EVERY == 0 else "numpy"


class _Checks:
    """The checks of one program (see :func:`check_program`)."""

    def __init__(self, program: Callable, rows: Rows, K: Sequence[np.ndarray],
                 xs: Sequence[np.ndarray], seed: int, precision: str, scale: float = 1.0):
        self.res = Outcome()
        self.xs = list(xs)
        self.xs64 = [x.astype(np.float64) for x in self.xs]
        K64 = [k.astype(np.float64) if k.dtype.kind == "f" else k for k in K]
        self.f_pb = lambda *a: program(pnp, rows.pb, K, *a)
        self.f_np = lambda *a: program(np, rows.np, K, *a)
        self.f_or = lambda *a: program(np, rows.oracle, K64, *a)
        self.rtol, self.vtol, self.eps = RTOL[precision], VTOL[precision], _eps(precision)
        self.nums = tuple(range(len(self.xs)))
        self.want = np.asarray(self.f_np(*self.xs))
        self.d = directions(seed, self.xs, self.want)
        w = self.d["w"]
        w64 = w.astype(np.float64)
        self.F_pb = lambda *a: pnp.sum(self.f_pb(*a) * w)
        self.F_or = lambda *a: np.sum(self.f_or(*a) * w64)
        self.grad_fn = pb.grad(self.F_pb, argnums=self.nums)
        # values are O(1) by construction: noise is relative to 1 when the output is smaller
        # (an output that cancels to 0 still has derivatives made of O(1) terms)
        ymax = max(_max(self.want), 1.0)
        vmax = max([_max(v) for v in self.d["v"]] + [0.0])
        umax = max([_max(u) for u in self.d["u"]] + [0.0])
        wsum = float(np.sum(np.abs(w64)))
        self.vfloor = self.eps * (100 * ymax + 20 * scale)
        #: natural scales of a derivative (output size times direction size: what a wrong
        #: rule gets wrong by), and the rounding noise a correct one may carry
        self.jscale = ymax * vmax
        self.hscale = self.jscale * wsum * umax
        self.jfloor = NOISE * self.eps * self.jscale
        self.pfloor = self.jfloor * wsum
        self.hfloor = NOISE * self.eps * self.hscale
        self.t_or = self.err_or = None
        self.g_eager = None
        self.backend = jit_backend(seed)

    def fail(self, kind: str, msg: str) -> None:
        self.res.failures.append(Failure(kind, msg))

    def attempt(self, check: str, fn: Callable[[], None], what: str = "") -> None:
        """Run one check; pullback raising is a failure (``<check>-error``), except for a
        refusal by design (:func:`is_refusal`), counted as unsupported."""
        try:
            fn()
        except Exception as e:
            if is_refusal(e):
                self.res.unsupported.append(f"{check}: {what}{_err(e)}")
            else:
                self.fail(f"{check}-error", f"{what}{_err(e)}")

    def value_ok(self, kind: str, got: Any, what: str) -> bool:
        got_a, want = np.asarray(got), self.want
        if got_a.shape != want.shape:
            self.fail(f"{kind}-shape", f"{what} has shape {got_a.shape}, NumPy's {want.shape}")
            return False
        if got_a.dtype != want.dtype:
            self.fail(f"{kind}-dtype", f"{what} has dtype {got_a.dtype}, NumPy's {want.dtype}")
            return False
        msg = _compare(got_a, want, self.vtol, floor=self.vfloor)
        if msg:
            self.fail(kind, f"{what}: {msg}")
            return False
        return True

    # the checks ------------------------------------------------------------------------

    def value(self) -> None:
        self.value_ok("value", self.f_pb(*self.xs), "the eager value")

    def oracle(self) -> None:
        """``J v`` by :func:`jvp_oracle`; unset (and counted) where it cannot decide."""
        t, err, why = jvp_oracle(self.f_or, self.xs64, self.d["v"], self.jscale)
        if why:
            self.res.inconclusive.append(why)
            return
        self.t_or, self.err_or = t, err

    def jvp(self) -> None:
        y, t = pb.jvp(self.f_pb, tuple(self.xs), tuple(self.d["v"]))
        if not self.value_ok("value", y, "the primal output of jvp") or self.t_or is None:
            return
        t, want = np.asarray(t), self.want
        if t.shape != want.shape or t.dtype != want.dtype:
            self.fail("jvp-dtype", f"the output tangent has shape {t.shape} and dtype {t.dtype}, "
                      f"the output {want.shape} and {want.dtype}")
            return
        msg = _compare(t, self.t_or, self.rtol, self.err_or, self.jfloor)
        if msg:
            self.fail("jvp", f"output tangent along v: {msg}")

    def vjp(self) -> None:
        y, vjp_fn = pb.vjp(self.f_pb, *self.xs)
        w = self.d["w"]
        cts = vjp_fn(w)
        self.g_eager = cts
        if not self.value_ok("value", y, "the primal output of vjp"):
            return
        pairs = enumerate(zip(cts, self.xs, strict=True))
        bad = [(i, np.shape(c), np.asarray(c).dtype) for i, (c, x) in pairs
               if np.shape(c) != x.shape or np.asarray(c).dtype != x.dtype]
        if bad:
            self.fail("vjp-dtype", "cotangents (argument, shape, dtype) " + ", ".join(
                f"(x{i}, {s}, {dt})" for i, s, dt in bad) + " unlike the inputs")
            return
        if self.t_or is None:
            return
        got, gscale = _proj(cts, self.d["v"])
        want, wscale = _proj([w], [self.t_or])
        e = float(np.sum(np.abs(w.astype(np.float64)) * self.err_or))
        tol = self.rtol * max(gscale, wscale) + 10 * e + self.pfloor
        if not abs(got - want) <= tol:
            self.fail("vjp", f"<vjp(w), v> = {got!r}, <w, J v> = {want!r} (tolerance {tol:.3g})")

    def hvp(self) -> None:
        grads, hv = pb.hvp(self.F_pb, tuple(self.xs), tuple(self.d["v"]))
        bad = [i for i, (g, h, x) in enumerate(zip(grads, hv, self.xs, strict=True))
               if np.shape(g) != x.shape or np.shape(h) != x.shape
               or np.asarray(h).dtype != x.dtype]
        if bad:
            i = bad[0]
            self.fail("hvp-dtype", f"gradient or hvp of x{i} has shape {np.shape(grads[i])}/"
                      f"{np.shape(hv[i])}, dtype {np.asarray(hv[i]).dtype}, unlike the input")
            return
        got, gscale = _proj(hv, self.d["u"])
        want, err = mixed_second(self.F_or, self.xs64, self.d["u"], self.d["v"])
        if not np.isfinite(err) or err > 1e-2 * max(abs(want), gscale, self.hscale):
            self.res.inconclusive.append("hvp")
            return
        tol = self.rtol * max(gscale, abs(want)) + 10 * err + self.hfloor
        if not abs(got - want) <= tol:
            self.fail("hvp", f"<u, H v> = {got!r}, mixed differences give {want!r} +- "
                      f"{err:.2g} (tolerance {tol:.3g})")

    def jit(self, f: Callable) -> Callable:
        """``pb.jit(f)`` with this program's backend (:func:`jit_backend`)."""
        if self.backend is None:
            return pb.jit(f)
        return pb.jit(f, backend=self.backend)

    def jit_value(self) -> None:
        got = self.jit(self.f_pb)(*self.xs)
        want = self.want
        if np.shape(got) != want.shape or np.asarray(got).dtype != want.dtype:
            self.fail("jit-dtype", f"backend={self.backend}: jit's value has shape "
                      f"{np.shape(got)} and dtype {np.asarray(got).dtype}, NumPy's "
                      f"{want.shape} and {want.dtype}")
            return
        msg = _compare(got, want, self.vtol, floor=self.vfloor)
        if msg:
            self.fail("jit", f"backend={self.backend}: value: {msg}")

    def jit_grad(self) -> None:
        gj = self.jit(self.grad_fn)(*self.xs)
        for i, (a, b) in enumerate(zip(gj, self.g_eager, strict=True)):
            if np.asarray(a).dtype != np.asarray(b).dtype:
                msg = f"dtype {np.asarray(a).dtype}, eager {np.asarray(b).dtype}"
            else:
                msg = _compare(a, b, self.vtol, floor=self.pfloor)
            if msg:
                self.fail("jit", f"backend={self.backend}: gradient of x{i}: {msg}")
                return

    def vmap(self) -> None:
        axes, others = self.d["axes"], self.d["others"]
        batch = len(others[0]) + 1
        stacked, per = [], []
        for x, ax, rest in zip(self.xs, axes, others, strict=True):
            if ax is None:
                stacked.append(x)
                per.append([x] * batch)
            else:
                stacked.append(np.stack([x, *rest], axis=ax))
                per.append([x, *rest])
        for name, fn in (("value", self.f_pb), ("gradient", self.grad_fn)):
            try:
                loop = [fn(*[p[b] for p in per]) for b in range(batch)]
            except Exception:  # another batch entry outside what eager handles: not vmap's
                return
            got = pb.vmap(fn, in_axes=tuple(axes))(*stacked)
            if name == "value":
                pairs = [(got, np.stack([np.asarray(v) for v in loop]))]
            else:
                pairs = [(g, np.stack([np.asarray(v[i]) for v in loop]))
                         for i, g in enumerate(got)]
            for i, (a, b) in enumerate(pairs):
                if np.asarray(a).dtype != b.dtype:
                    msg = f"dtype {np.asarray(a).dtype}, loop {b.dtype}"
                else:
                    floor = self.vfloor if name == "value" else self.pfloor
                    msg = _compare(a, b, self.vtol, floor=floor)
                if msg:
                    what = "value" if name == "value" else f"gradient of x{i}"
                    self.fail("vmap", f"{what} (in_axes={tuple(axes)}, batch {batch}): {msg}")
                    return


def check_program(
    program: Callable,
    rows: Rows,
    K: Sequence[np.ndarray],
    xs: Sequence[np.ndarray],
    seed: int,
    only: Iterable[str] | None = None,
    precision: str | None = None,
    scale: float = 1.0,
) -> Outcome:
    """Run the checks (all of :data:`CHECKS`, or ``only`` those) on ``program``; directions
    are drawn from ``seed``. ``precision`` is the dtype pullback computes in (by default the
    lowest of the inputs'); ``scale`` the largest entry of the program's values (an
    intermediate of 700 rounds by 700 epsilon, which the output inherits)."""
    checks = set(CHECKS if only is None else only)
    if precision is None:
        precision = "float32" if any(x.dtype == np.float32 for x in xs) else "float64"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        c = _Checks(program, rows, K, xs, seed, precision, scale)
        if "value" in checks:
            c.attempt("value", c.value)
        if checks & {"jvp", "vjp"}:
            c.oracle()
        if "jvp" in checks:
            c.attempt("jvp", c.jvp)
        if "vjp" in checks or checks & {"jit", "vmap"}:
            c.attempt("vjp", c.vjp)
        if "hvp" in checks and precision == "float64":
            c.attempt("hvp", c.hvp)
        if "jit" in checks:
            where = f"backend={c.backend}: " if c.backend else ""
            c.attempt("jit", c.jit_value, where)
            if c.g_eager is not None:
                c.attempt("jit", c.jit_grad, f"{where}jit(grad): ")
        if "vmap" in checks:
            c.attempt("vmap", c.vmap, f"in_axes={tuple(c.d['axes'])}: ")
    return c.res


def check(built: Built, only: Iterable[str] | None = None) -> Outcome:
    """:func:`check_program` on a built program."""
    return check_program(built.function(), built.rows(), built.K, built.xs, built.prog.seed,
                         only, built.precision, built.scale)


def run_seed(seed: int, table: dict[str, OpSpec] | None = None,
             only: Iterable[str] | None = None) -> tuple[Built, Outcome]:
    """Generate, build and check the program of ``seed``; a crash of the checker itself is
    reported as a failure of kind ``fuzzer-error``."""
    built = generate(seed, table)
    try:
        return built, check(built, only)
    except Exception as e:  # a bug of the fuzzer or an oracle failure: never silent
        out = Outcome([Failure("fuzzer-error", f"{_err(e)}\n{traceback.format_exc()}")])
        return built, out


# ----------------------------------------------------------------------------- shrinking


def _uses(op: Op) -> set[str]:
    return {a.src for a in op.args if a.src is not None}


def _live(prog: Program) -> Program:
    """Drop the operations the output does not depend on (the output is the last value)."""
    if not prog.ops:
        return prog
    need = {f"v{prog.ops[-1].uid}"}
    keep = []
    for op in reversed(prog.ops):
        if f"v{op.uid}" in need:
            keep.append(op)
            need |= _uses(op)
    return dataclasses.replace(prog, ops=tuple(reversed(keep)))


def _replace_op(prog: Program, k: int, op: Op) -> Program:
    ops = list(prog.ops)
    ops[k] = op
    return dataclasses.replace(prog, ops=tuple(ops))


def _candidates(prog: Program, table: dict[str, OpSpec]) -> Iterable[Program]:
    """Smaller programs, the most promising first."""
    n = len(prog.ops)
    # the output earlier: a prefix of the program
    for k in range(n - 1):
        yield _live(dataclasses.replace(prog, ops=prog.ops[: k + 1]))
    # an operation bypassed: its uses read its first source instead (or a constant)
    for k in range(n - 1):
        op = prog.ops[k]
        name = f"v{op.uid}"
        first = next((a.src for a in op.args if a.src is not None), None)
        ops = []
        for o in prog.ops[k + 1 :]:
            ops.append(dataclasses.replace(o, args=tuple(
                dataclasses.replace(a, src=first) if a.src == name else a for a in o.args)))
        yield _live(dataclasses.replace(prog, ops=prog.ops[:k] + tuple(ops)))
    # an argument made a constant
    for k, op in enumerate(prog.ops):
        for j, a in enumerate(op.args):
            if a.src is not None and sum(b.src is not None for b in op.args) > 1:
                args = list(op.args)
                args[j] = dataclasses.replace(a, src=None)
                yield _live(_replace_op(prog, k, dataclasses.replace(op, args=tuple(args))))
    # unused inputs dropped
    used = set().union(*[_uses(op) for op in prog.ops]) if prog.ops else set()
    keep = [k for k, i in enumerate(prog.ids) if f"x{i}" in used]
    if keep and len(keep) < len(prog.inputs):
        yield dataclasses.replace(prog, inputs=tuple(prog.inputs[k] for k in keep),
                                  input_ids=tuple(prog.ids[k] for k in keep))
    # float64 instead of float32
    if prog.dtype == "float32":
        yield dataclasses.replace(prog, dtype="float64")
    # raw arguments
    for k, op in enumerate(prog.ops):
        for j, a in enumerate(op.args):
            if a.src is not None and a.squash != "raw" and table[op.row].domain(j) == "real":
                args = list(op.args)
                args[j] = dataclasses.replace(a, squash="raw")
                yield _replace_op(prog, k, dataclasses.replace(op, args=tuple(args)))
    # smaller input shapes
    for i, s in enumerate(prog.inputs):
        smaller = [(), (1,), (2,)] + [s[:j] + s[j + 1 :] for j in range(len(s))] + [
            s[:j] + (d - 1,) + s[j + 1 :] for j, d in enumerate(s) if d > 1]
        for t in smaller:
            if int(np.prod(t, dtype=np.int64)) < int(np.prod(s, dtype=np.int64)) or len(t) < len(s):
                inputs = list(prog.inputs)
                inputs[i] = t
                yield dataclasses.replace(prog, inputs=tuple(inputs))
    # smaller argument shapes: the row's own shapes, smallest first
    for k, op in enumerate(prog.ops):
        row = table[op.row]
        size = sum(int(np.prod(a.shape, dtype=np.int64)) for a in op.args)
        for shapes in sorted(row.shapes, key=lambda ss: sum(int(np.prod(s)) for s in ss)):
            if sum(int(np.prod(s, dtype=np.int64)) for s in shapes) >= size:
                break
            args = tuple(dataclasses.replace(a, shape=s)
                         for a, s in zip(op.args, shapes, strict=True))
            yield _replace_op(prog, k, dataclasses.replace(op, args=args))


def _size(prog: Program) -> tuple[int, int, int]:
    return (len(prog.ops), sum(len(op.args) for op in prog.ops) + sum(
        int(np.prod(a.shape, dtype=np.int64)) for op in prog.ops for a in op.args) + sum(
        int(np.prod(s, dtype=np.int64)) for s in prog.inputs) + len(prog.inputs),
        int(prog.dtype == "float32"))


def _shrink_checks(kind: str) -> set[str] | None:
    """The checks that can show a failure of ``kind`` (a wrong primal shows in jvp/vjp)."""
    check_name = kind.split("-")[0]
    if check_name not in CHECKS:
        return None
    return {"value", "jvp", "vjp"} if check_name == "value" else {"value", check_name}


def shrink(
    prog: Program,
    kind: str,
    table: dict[str, OpSpec] | None = None,
    budget: int = 400,
    like: Failure | None = None,
) -> Program:
    """The smallest program found that still fails with ``kind`` (and, given ``like``, with
    the same :func:`fingerprint`: the same failure, not another one of its kind):
    operations dropped or bypassed, arguments made constants, float64 instead of float32,
    smaller shapes."""
    table = ROWS if table is None else table
    target = fingerprint(like) if like is not None else None
    only = _shrink_checks(kind)
    tried = 0

    def fails(p: Program) -> bool:
        nonlocal tried
        tried += 1
        try:
            built = build(p, table)
            out = check(built, only)
        except Exception:
            return False
        return any(f.kind == kind and (target is None or fingerprint(f) == target)
                   for f in out.failures)

    best = prog
    improved = True
    while improved and tried < budget:
        improved = False
        for cand in _candidates(best, table):
            if tried >= budget:
                break
            if _size(cand) >= _size(best) or cand == best:
                continue
            if fails(cand):
                best = cand
                improved = True
                break
    return best


# ----------------------------------------------------------------------------- reproducers


def _literal(x: np.ndarray) -> str:
    x = np.asarray(x)
    body = repr(x.tolist())
    dt = f"np.{x.dtype.name}" if x.dtype.kind in "fiucb" else repr(x.dtype.str)
    if x.dtype.kind == "b":
        dt = "bool"
    text = f"np.array({body}, dtype={dt})"
    if x.size == 0 and x.ndim != 1:
        text += f".reshape({x.shape!r})"
    return text


def reproducer(built: Built, failure: Failure, note: str = "") -> str:
    """A runnable Python snippet (from the repository root) that shows ``failure``."""
    prog = built.prog
    checks = _shrink_checks(failure.kind)
    only = sorted(checks) if checks else None
    lines = [
        f"# fuzz seed {prog.seed}: {failure.kind}: {failure.message.splitlines()[0]}",
    ]
    if note:
        lines.append(f"# {note}")
    lines += [
        "# run from the repository root: .venv/bin/python <this file>",
        "import importlib.util",
        "import sys",
        "",
        "import numpy as np",
        "",
        'sys.path.insert(0, "tests")',
        'found = importlib.util.spec_from_file_location("fuzz", "tools/fuzz.py")',
        "fuzz = sys.modules['fuzz'] = importlib.util.module_from_spec(found)",
        "found.loader.exec_module(fuzz)",
        "",
        "nan, inf = np.nan, np.inf",
        f"R = fuzz.Rows({built.keys!r})  # spec-table rows by id (#k: the k-th row of that id)",
        "K = [",
        *[f"    {_literal(k)}," for k in built.K],
        "]",
        "xs = [",
        *[f"    {_literal(x)}," for x in built.xs],
        "]",
        "",
        built.source.rstrip(),
        "",
        "",
        "# pullback: program(pnp, R.pb, K, *xs); NumPy: program(np, R.np, K, *xs)",
        f"out = fuzz.check_program(program, R, K, xs, seed={prog.seed}, "
        f"only={only!r}, precision={built.precision!r}, scale={built.scale!r})",
        "for f in out.failures:",
        "    print(f)",
        "assert not out.failures",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the runner


def fingerprint(f: Failure) -> tuple[str, str]:
    """What a failure is, without its numbers: failures with the same fingerprint are most
    likely one bug (the runner shrinks a few examples of each, not all)."""
    msg = f.message.splitlines()[0] if f.message else ""
    kind = f.kind
    if kind.endswith("-error"):  # the same exception, whichever transformation met it
        kind = "error"
        msg = re.sub(r"^(in_axes=\([^)]*\): |eager \w+ on a batch entry: |backend=\w+: )", "",
                     msg)
        msg = msg.replace("jit(grad): ", "")
    msg = re.sub(r"in_axes=\([^)]*\)", "in_axes=...", msg)
    msg = re.sub(r"np\.float\d+\(([^)]*)\)", r"\1", msg)
    msg = re.sub(r"(?<![\w.])[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", "#", msg)
    return kind, msg


@dataclass
class Group:
    """Failures with one fingerprint: shrunk examples (failure, program) and all seeds."""

    kind: str
    pattern: str
    examples: list[tuple[Failure, Built]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)


#: shrunk examples kept per fingerprint (the same bug reached through other rows)
EXAMPLES = 5


def run(
    start: int,
    n: int,
    out: Path | None,
    progress: bool = True,
    shrink_budget: int = 400,
    table: dict[str, OpSpec] | None = None,
) -> dict[str, Any]:
    """Check the programs of seeds ``start .. start + n - 1``; shrink new failures and write
    them to ``out`` (rewritten as they are found), grouped by :func:`fingerprint`."""
    table = ROWS if table is None else table
    groups: dict[tuple[str, str], Group] = {}
    unsupported: dict[str, int] = {}
    stats: dict[str, Any] = {"programs": 0, "failed": 0, "inconclusive": 0, "invalid": 0,
                             "ops": 0}
    bar = tqdm(total=n, unit="prog", smoothing=0.05) if progress and tqdm else None
    t0 = time.perf_counter()
    for seed in range(start, start + n):
        faulthandler.dump_traceback_later(WATCHDOG, exit=True)
        try:
            built, outcome = run_seed(seed, table)
        except Invalid:
            stats["invalid"] += 1
        else:
            stats["programs"] += 1
            stats["ops"] += len(built.prog.ops)
            stats["inconclusive"] += len(outcome.inconclusive)
            for u in outcome.unsupported:
                key = fingerprint(Failure("unsupported", u))[1]
                unsupported[key] = unsupported.get(key, 0) + 1
            if outcome.failures:
                stats["failed"] += 1
                for f in _distinct(outcome.failures):
                    _record(groups, built, f, seed, table, shrink_budget)
                if out is not None:
                    _write(out, groups, unsupported, stats, start, seed - start + 1,
                           time.perf_counter() - t0)
        if out is not None and (seed - start) % 1000 == 999:
            _write(out, groups, unsupported, stats, start, seed - start + 1,
                   time.perf_counter() - t0)
        if bar:
            bar.update()
            bar.set_postfix(failed=stats["failed"], kinds=len(groups))
    faulthandler.cancel_dump_traceback_later()
    if bar:
        bar.close()
    if out is not None:
        _write(out, groups, unsupported, stats, start, n, time.perf_counter() - t0)
    stats["distinct"] = len(groups)
    stats["seconds"] = time.perf_counter() - t0
    return stats


def _distinct(failures: list[Failure]) -> list[Failure]:
    """One failure per fingerprint, and no failure of a check that only repeats another's
    (a wrong primal fails jvp and vjp alike: kept once)."""
    seen, out = set(), []
    for f in failures:
        fp = fingerprint(f)
        if fp[1] not in seen:
            seen.add(fp[1])
            out.append(f)
    return out


def _record(groups: dict, built: Built, f: Failure, seed: int, table: dict, budget: int) -> None:
    fp = fingerprint(f)
    group = groups.setdefault(fp, Group(*fp))
    group.seeds.append(seed)
    keys = set(built.keys)
    if len(group.examples) >= EXAMPLES or any(set(b.keys) <= keys for _, b in group.examples):
        return
    small = shrink(built.prog, f.kind, table, budget, like=f)
    try:
        sb = build(small, table)
        got = [g for g in check(sb, _shrink_checks(f.kind)).failures
               if fingerprint(g) == fingerprint(f)]
    except Exception:
        got = []
    group.examples.append((got[0], sb) if got else (f, built))


def _write(path: Path, groups: dict, unsupported: dict, stats: dict, start: int, done: int,
           seconds: float) -> None:
    lines = [
        f"# pullback fuzz: seeds {start}..{start + done - 1}, {stats['programs']} programs "
        f"({stats['ops']} operations), {stats['failed']} failed, {len(groups)} kinds of "
        f"failure, {stats['inconclusive']} inconclusive checks, {seconds:.0f} s",
        "# each kind of failure: its seeds, then shrunk programs as runnable snippets",
        "",
    ]
    for g in sorted(groups.values(), key=lambda g: (g.kind, -len(g.seeds))):
        seeds = ", ".join(str(s) for s in g.seeds[:30])
        more = f" and {len(g.seeds) - 30} more" if len(g.seeds) > 30 else ""
        lines += [
            "# " + "=" * 78,
            f"# {g.kind} in {len(g.seeds)} programs: {g.pattern}",
            f"# seeds {seeds}{more}",
            "",
        ]
        for f, b in g.examples:
            lines += [f"# rows: {', '.join(b.keys)}", reproducer(b, f)]
    if unsupported:
        lines += ["# " + "=" * 78, "# refused with NotImplementedError (not failures):"]
        lines += [f"#   {n} x {msg}" for msg, n in sorted(unsupported.items(),
                                                         key=lambda kv: -kv[1])]
    path.write_text("\n".join(lines) + "\n")


def _ci_table(start: int, n: int) -> int:
    """Print ``KNOWN = {seed: (bug, ...), ...}`` for the seeds that fail; a failure that no
    known bug explains is printed as a comment (a new bug: triage it first)."""
    print("KNOWN = {")
    status = 0
    for seed in range(start, start + n):
        built, out = run_seed(seed)
        if not out.failures:
            continue
        names = tuple(name for name, k in KNOWN_BUGS.items()
                      if any(re.search(k.pattern, f"{f.kind}: {f.message}") for f in out.failures)
                      and not k.pattern.startswith(r"\b"))  # NaN ones: assign by hand
        left = known_bugs(out.failures, names)
        print(f"    {seed}: {names!r},")
        for f in left:
            status = 1
            print(f"    # {seed} unexplained: {f.kind}: {f.message.splitlines()[0][:150]}")
    print("}")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/fuzz.py -n 1000 --start 0 --out fuzz-failures.txt``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1000, help="number of programs (default 1000)")
    p.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--out", default="fuzz-failures.txt", help="where failures are written")
    p.add_argument("--budget", type=int, default=400, help="shrinking attempts per failure")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--show", type=int, default=None, metavar="SEED",
                   help="print the program of SEED and its failures, then exit")
    p.add_argument("--ci-table", action="store_true",
                   help="print the KNOWN table of tests/test_fuzz.py for seeds START.. "
                        "START+N-1: the known bugs each failing seed hits")
    args = p.parse_args(argv)
    if args.ci_table:
        return _ci_table(args.start, args.n)
    if args.show is not None:
        built, outcome = run_seed(args.show)
        print(built.prog.describe())
        print(built.source)
        for f in outcome.failures:
            print(f)
        return 1 if outcome.failures else 0
    stats = run(args.start, args.n, Path(args.out), not args.no_progress, args.budget)
    print(", ".join(f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in stats.items()))
    print(f"failures written to {args.out}" if stats["distinct"] else "no failures")
    return 1 if stats["distinct"] else 0


if __name__ == "__main__":
    sys.exit(main())
