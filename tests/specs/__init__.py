"""The spec table: one row per differentiable function, checked by ``tests/test_ops.py``.

A row names the function, its NumPy reference, the argument shapes to try (broadcasting
pairs, 0-d and empty arrays included), each argument's input domain, keyword arguments and
tolerances. Family files (``core``, ``elementwise``, ``reductions``, ...) each define ``SPECS``;
``ALL_SPECS`` gathers them.

Domains are those of the library's one table, :mod:`pullback.check.domains` (which the rule
audit samples from too): ``"real"`` (uniform in (-2, 2)), ``"positive"`` ((0.5, 2)),
``"nonzero"`` (|x| in (0.5, 2) with random signs), ``"unit"``, ``"gt1"``, ``"complex"``,
``"well_conditioned"``, ``(lo, hi)``, ``"int"`` (integers, not differentiated), ``"bool"`` (a
mask, not differentiated), or a callable ``(rng, shape) -> array``. A row that names no domain
for an argument gets the function's domain from ``pullback.check.domains.FUNCTION_DOMAINS``
(``"real"`` for functions not listed there); a row that names one must stay inside the
table's valid region for that function (``tests/test_audit.py`` checks it).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import pullback as _pb
from pullback.check import domains as _domains

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    shapes: Sequence[tuple[Shape, ...]]
    domains: tuple[Any, ...] = ()
    kwargs: dict = field(default_factory=dict)
    rtol: float = 1e-7
    atol: float = 1e-9
    order: int = 2
    #: a label for the test id when the same function has several rows
    tag: str = ""
    #: a smooth float64 function with the same derivative, when ``ref`` rounds (float32)
    smooth: Callable[..., Any] | None = None
    #: primitives this row exercises that the graph walk cannot see (non-differentiable ones)
    covers: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.name}{'[' + self.tag + ']' if self.tag else ''}"

    @property
    def function(self) -> str:
        """The function's name in the library's domain table (``special.erf`` ->
        ``scipy.special.erf``)."""
        return f"scipy.{self.name}" if self.name.startswith("special.") else self.name

    def domain(self, i: int) -> Any:
        if i < len(self.domains):
            return self.domains[i]
        return _domains.domain_of(self.function, i)

    def differentiable(self, i: int) -> bool:
        return _domains.differentiable(self.domain(i))


def spec(name: str, fn: Callable, ref: Callable, shapes: Sequence, *domains: Any, **kw: Any):
    """One row: ``spec("sin", pnp.sin, np.sin, [((3,),), ((),)], "real")``."""
    return OpSpec(name, fn, ref, [tuple(s) for s in shapes], tuple(domains), **kw)


def sample(rng: np.random.Generator, domain: Any, shape: Shape) -> np.ndarray:
    """An input drawn from ``domain`` (the library's sampler), made read-only so that a
    mutating rule fails."""
    return _domains.sample(rng, domain, shape, read_only=True)


def _load() -> list[OpSpec]:
    rows: list[OpSpec] = []
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        rows.extend(importlib.import_module(f"{__name__}.{mod}").SPECS)
    return rows


ALL_SPECS: list[OpSpec] = _load()

#: rows whose output shape depends on input values: jit must refuse them with a clear error
#: (or, for shapes where it happens not to, agree with eager), and vmap cannot batch them
VALUE_DEPENDENT_SHAPE = {
    "getitem[mask]",  # x[x > 0]
    "getitem[traced-mask-edge]",
    "nonzero[constant]",  # x[pnp.nonzero(x > 0)] and friends
    "flatnonzero[constant]",
    "argwhere[constant]",
    "linalg.lstsq",  # NumPy's residuals are empty or not depending on the rank (m > n)
    "polyfit",  # lstsq
    "polyfit[weighted]",
    # issue 9: how many values are kept, or the dtype, depends on the values
    "trim_zeros", "trim_zeros[front]", "unique", "unique[counts]", "unique_all",
    "unique_counts", "unique_inverse", "unique_values", "union1d", "intersect1d",
    "setdiff1d", "setxor1d", "polydiv", "roots", "real_if_close", "poly[matrix]",
    "linalg.eig[values]", "linalg.eig[vectors]", "linalg.eig[complex]", "linalg.eigvals",
}


def _complex_load() -> list[OpSpec]:
    rows: list[OpSpec] = []
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        rows.extend(getattr(importlib.import_module(f"{__name__}.{mod}"), "COMPLEX_SPECS", []))
    return rows


#: the rows written for complex inputs (``COMPLEX_SPECS`` of the family files)
COMPLEX_SPECS: list[OpSpec] = _complex_load()

#: SciPy's routines that solve in real arithmetic: no complex variant (probing SciPy's Fortran
#: solvers with complex input prints their callbacks' errors)
REAL_SOLVERS = ("scipy.optimize.", "scipy.integrate.odeint", "scipy.integrate.solve_ivp")

#: how far from the real axis a derived complex row's inputs lie
IMAG = 0.3


def _complexified(domain: Any) -> Any:
    """``domain`` with an imaginary part uniform in (-IMAG, IMAG) added to its draws (its
    integer, boolean and complex draws are kept)."""
    if not _domains.differentiable(domain):
        return domain

    def draw(rng: np.random.Generator, shape: Shape) -> np.ndarray:
        x = np.asarray(_domains.sample(rng, domain, shape))
        if x.dtype.kind != "f":
            return x
        return x + 1j * rng.uniform(-IMAG, IMAG, x.shape).astype(x.dtype)

    return draw


def complex_variant(row: OpSpec) -> OpSpec | None:
    """The row on complex inputs, for a function that has no row written for them: every
    differentiable argument is drawn from the row's domain plus an imaginary part (so
    branch cuts on the real axis outside the domain stay away), tagged ``complex``. None
    when the row's domains are samplers of its own (times, matrices with structure), when it
    has nothing to differentiate, when its output shape depends on values, or when NumPy's
    (or SciPy's) function refuses complex input or casts it to real (``ComplexWarning``).

    Example:
        >>> row = next(r for r in ALL_SPECS if r.id == "sin")
        >>> complex_variant(row).id
        'sin[complex]'
    """
    tags = row.tag.split(",")
    if row.id in VALUE_DEPENDENT_SHAPE or "constant" in tags or any("float32" in t for t in tags):
        return None  # constant rows check real masks and counts, float32 rows the precision
    if row.name.startswith(REAL_SOLVERS):
        return None  # SciPy's solvers work in real arithmetic (pullback's refuse complex)
    n = len(row.shapes[0])
    if not any(row.differentiable(i) for i in range(n)):
        return None
    doms = []
    for i in range(n):
        dom = row.domain(i)
        if callable(dom) and _domains.differentiable(dom):
            return None
        doms.append(_complexified(dom))
    variant = dataclasses.replace(row, domains=tuple(doms),
                                  tag=f"{row.tag},complex" if row.tag else "complex")
    # the draw tests/test_complex.py makes: NumPy's function must take it without a cast
    rng = np.random.default_rng(zlib.crc32(f"complex{variant.id}{row.shapes[0]}args".encode()))
    try:
        args = [sample(rng, variant.domain(i), s) for i, s in enumerate(row.shapes[0])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # after: ComplexWarning is a RuntimeWarning, and the later filter wins
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            row.ref(*args, **row.kwargs)
    except Exception:  # NumPy's function refuses complex input: nothing to derive
        return None
    return variant


def _derived() -> list[OpSpec]:
    written = {r.name for r in COMPLEX_SPECS}
    out = []
    for row in ALL_SPECS:
        if row.name in written:
            continue
        variant = complex_variant(row)
        if variant is not None:
            out.append(variant)
    return out


#: a complex variant of every real row whose function accepts complex input and has no row
#: written for it (``tests/test_complex.py`` checks them as the written ones)
DERIVED_COMPLEX_SPECS: list[OpSpec] = _derived()


#: derived complex rows (``specs.DERIVED_COMPLEX_SPECS``) whose numerical oracle cannot
#: check them, by row id, with the reason; the real rows check their rules
NOT_CHECKED_COMPLEX = {
    # NumPy orders complex numbers lexicographically; the sampled real parts of a pair fall
    # within the oracle's difference step (1e-2), so its differences cross the switch
    "maximum[complex]": "a switch within the oracle's step",
    "partition[axis,complex]": "a switch within the oracle's step",
    "select[complex]": "a switch within the oracle's step",
}

#: derived rows that are wrong today (fix, then remove from here)
KNOWN_WRONG_COMPLEX: dict[str, str] = {}


def refuses_complex(row: OpSpec, args: list) -> bool:
    """Whether pullback's function refuses these complex arguments with an error that says
    so (a ``TypeError`` or ``NotImplementedError`` naming complex input): allowed for the
    derived rows (NumPy's or SciPy's function takes complex input, pullback's is
    real-valued: the special functions' series, say); ``docs/coverage.md`` lists each
    function's verdict, so a function that starts or stops refusing changes that page."""
    diff = [i for i in range(len(args)) if row.differentiable(i)]

    def f(*dargs):
        new = list(args)
        for i, d in zip(diff, dargs, strict=True):
            new[i] = d
        return row.fn(*new, **row.kwargs)

    try:
        _pb.vjp(f, *(args[i] for i in diff))  # traced: some refuse only there
    except (TypeError, NotImplementedError) as err:
        return "complex" in str(err)
    return False
