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

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
