"""Cases, correctness checks and timing.

A workload builds one or more :class:`Case` objects: for each library a zero-argument
callable (:class:`Impl`) that does the whole measured job on inputs prepared beforehand, and
a converter of its result to a list of NumPy arrays for the check. The NumPy baseline is the
reference: every other library's result must agree with it before anything is timed.

Timing is timeit-style: warm-up, then rounds in which every library of the case runs once
(``loops`` calls, chosen so a round is long enough to time), interleaved so that a slow
moment of the machine hits all of them; the reported time per call is the median over rounds.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Impl", "Target", "check_case", "time_case", "Timing"]


@dataclass
class Impl:
    """One library's way to do a case: ``run()`` is timed, ``to_numpy(run())`` is checked."""

    run: Callable[[], Any]
    to_numpy: Callable[[Any], list]


@dataclass
class Target:
    """A target of issue 6: ``op`` is ``"<="`` or ``">="``, on the case's metric."""

    op: str
    value: float

    def met(self, x: float) -> bool:
        return x <= self.value if self.op == "<=" else x >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {_num(self.value)}"


def _num(x: float) -> str:
    return format(x, ",.6g")


@dataclass
class Case:
    """One row of the table.

    ``metric``: ``"ratio"`` (time / NumPy's time), ``"per_op"`` (µs per op, ``count`` ops a
    call), ``"steps"`` (steps per second, ``count`` steps a call) or ``"grad_fwd"`` (each
    library's gradient time over its own forward time, ``fwd`` holding the forward runs).
    """

    key: str
    title: str
    metric: str
    impls: dict[str, Impl]
    missing: dict[str, str] = field(default_factory=dict)
    fwd: dict[str, Impl] | None = None
    count: int = 1
    rtol: float = 1e-9
    atol: float = 1e-12
    target_eager: Target | None = None
    target_jit: Target | None = None
    #: issue 12: pb.jit's time / NumPy's at most this, and at most JAX jit's
    target_fast: float | None = None
    note: str = ""


def check_case(case: Case, name: str | None = None) -> dict[str, float]:
    """Run every library once and compare with the NumPy baseline; raise AssertionError.

    Returns the seconds of each library's first call (for a compiler: tracing and
    compiling included, when the case's callables had not run before)."""
    first: dict[str, float] = {}
    for impls, what in ((case.impls, "result"), (case.fwd or {}, "forward value")):
        if not impls:
            continue
        ref = [np.asarray(r) for r in impls["numpy"].to_numpy(impls["numpy"].run())]
        for lib, impl in impls.items():
            if lib == "numpy" or (name is not None and lib != name):
                continue
            t0 = time.perf_counter()
            out = impl.run()
            first.setdefault(lib, time.perf_counter() - t0)
            got = [np.asarray(g) for g in impl.to_numpy(out)]
            if len(got) != len(ref):
                raise AssertionError(
                    f"{case.key}: {lib} returned {len(got)} arrays, the NumPy baseline "
                    f"{len(ref)}"
                )
            for k, (g, r) in enumerate(zip(got, ref, strict=True)):
                if g.shape != r.shape:
                    raise AssertionError(
                        f"{case.key}: {lib} {what} {k} has shape {g.shape}, the NumPy "
                        f"baseline {r.shape}"
                    )
                scale = float(np.max(np.abs(r))) if r.size else 0.0
                np.testing.assert_allclose(
                    g.astype(np.float64),
                    r.astype(np.float64),
                    rtol=case.rtol,
                    atol=case.atol * max(scale, 1e-300),
                    err_msg=f"{case.key}: {lib} {what} {k} disagrees with the NumPy baseline",
                )
    return first


@dataclass
class Timing:
    """Median seconds per call (and the spread), per library."""

    median: float
    low: float
    high: float
    rounds: int
    loops: int


#: the clock of the timings: ``time.perf_counter`` (wall time) or ``time.process_time``
#: (the CPU time of this process, all its threads: on a shared machine, time spent waiting
#: for a core is not counted; every library runs on one thread)
TIMER: Callable[[], float] = time.perf_counter


def _per_call(fn: Callable[[], Any], loops: int) -> float:
    timer = TIMER
    t0 = timer()
    for _ in range(loops):
        fn()
    return (timer() - t0) / loops


def time_case(
    impls: dict[str, Impl],
    budget: float,
    rounds: int,
    min_round: float = 0.02,
    min_rounds: int = 3,
) -> dict[str, Timing]:
    """Median time per call of each implementation, interleaved in ``rounds`` rounds.

    ``budget`` (seconds) bounds each implementation's total: a slow one gets fewer rounds
    (at least ``min_rounds``). One warm-up call (beyond the check's) is made first.
    """
    single = {}
    for lib, impl in impls.items():
        impl.run()  # warm-up: caches, JIT compilation, allocator
        single[lib] = max(_per_call(impl.run, 1), 1e-7)
    loops = {}
    n_rounds = {}
    for lib, t in single.items():
        loops[lib] = max(1, math.ceil(min(min_round, budget / rounds) / t))
        n_rounds[lib] = max(min_rounds, min(rounds, int(budget / (t * loops[lib]))))
    samples: dict[str, list[float]] = {lib: [] for lib in impls}
    gc.collect()
    for r in range(max(n_rounds.values())):
        for lib, impl in impls.items():
            if r < n_rounds[lib]:
                samples[lib].append(_per_call(impl.run, loops[lib]))
    return {
        lib: Timing(statistics.median(s), min(s), max(s), len(s), loops[lib])
        for lib, s in samples.items()
    }
