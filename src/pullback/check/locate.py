"""Localisation for ``pullback.check``: which primitive's rule is wrong, and who called it.

:func:`record` runs a function under a recording trace of its own (a
:class:`~pullback.core.trace.Trace` subclass): ``bind`` hands it every primitive applied to its
tracers, and it records the primitive, its concrete inputs and parameters, and the call site
in the user's code (the innermost frame of the Python stack outside pullback and NumPy).
The checker then checks each recorded primitive's rules numerically at the inputs it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pullback.core.debug import call_site
from pullback.core.trace import Primitive, Trace, Tracer, dtype_of, new_trace
from pullback.core.tree import tree_flatten, tree_unflatten

__all__ = ["Record", "RecordTrace"]

@dataclass
class Record:
    """One primitive application seen by the recording trace."""

    prim: Primitive
    args: tuple
    params: dict
    traced: tuple[bool, ...]
    site: str
    function: str
    shapes: tuple = field(default=())

    @property
    def float_traced(self) -> tuple[int, ...]:
        """Positions of the arguments that depend on the inputs and carry derivatives."""
        return tuple(
            i
            for i, (a, t) in enumerate(zip(self.args, self.traced, strict=True))
            if t and dtype_of(a).kind == "f"
        )


class RecordTracer(Tracer):
    """A value followed by the recording trace."""

    __slots__ = ("_primal",)

    def __init__(self, trace: Trace, primal: Any):
        self._trace = trace
        self._primal = primal

    @property
    def primal(self) -> Any:
        return self._primal


class RecordTrace(Trace):
    """A trace that evaluates every primitive and records it with its call site."""

    __slots__ = ("records",)

    def __init__(self, level: int):
        super().__init__(level)
        self.records: list[Record] = []

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        vals = tuple(a._primal if isinstance(a, RecordTracer) and a._trace is self else a
                     for a in args)
        traced = tuple(isinstance(a, RecordTracer) and a._trace is self for a in args)
        ans = prim.bind(*vals, **params)
        site, function = call_site(2)
        copies = tuple(np.array(v) if isinstance(v, np.ndarray) else v for v in vals)
        shapes = tuple(np.shape(v) if not isinstance(v, Tracer) else v.shape for v in vals)
        self.records.append(Record(prim, copies, dict(params), traced, site, function, shapes))
        if prim.nondiff:
            return ans
        if prim.multiple_results:
            return tuple(RecordTracer(self, a) for a in ans)
        return RecordTracer(self, ans)


def record(f: Any, args: tuple, argnums: tuple[int, ...]) -> list[Record]:
    """Run ``f(*args)`` with the floating arguments ``argnums`` traced; return the records."""
    with new_trace(RecordTrace) as trace:
        full = list(args)
        for i in argnums:
            leaves, tree = tree_flatten(args[i])
            full[i] = tree_unflatten(tree, [RecordTracer(trace, x) for x in leaves])
        f(*full)
    return trace.records
