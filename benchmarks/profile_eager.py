"""Where the time of pullback's eager path goes: pyinstrument samples, sorted into phases.

Run alone: ``python benchmarks/profile_eager.py [--seconds 3] [network chain ...]``; ``run.py``
calls :func:`profile_case` for the "where the time goes" section of docs/performance.md.

Each sample's call stack is put in one category:

- NumPy kernels, forward / backward: the deepest pullback frame is on a line that runs a NumPy
  computation (``prim.impl(...)``, a wrapper's ``ufunc(x)``, arithmetic in a rule), or calls
  into NumPy (Python-level NumPy functions, NumPy builtins);
- tracing and dispatch: wrappers, ``promote``, ``bind``, ``Trace.process``, tracer properties;
- node recording: creating ``Node`` and tracer objects;
- rule execution: Python of the rules around their NumPy kernels, and the call into them;
- backward-pass bookkeeping: ``backward_pass`` and ``_toposort`` themselves, cotangent checks,
  slots, zeros;
- entry and exit: ``vjp``/``grad`` before and after the function (argument checks, pytrees,
  the seed).

pyinstrument does not see inside C functions and takes its samples at Python call and return
events, so the time of a NumPy call made in the middle of a pullback line would be charged
to whatever Python call comes next. While profiling, each primitive's NumPy implementation is
therefore wrapped in a one-line Python function, ``numpy_kernel``, whose frame carries that
time (the wrapper costs well under 0.1 µs a call). Beyond that, the categories rest on the
lines shown in the top-lines table, not on guesses about the code.
"""

from __future__ import annotations

import argparse
import builtins
import linecache
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import Case

__all__ = ["CATEGORIES", "Profile", "classify", "profile_case", "render_profile"]

CATEGORIES = (
    "NumPy kernels, forward",
    "NumPy kernels, backward (rules, accumulation)",
    "tracing and dispatch",
    "node recording",
    "rule execution (Python around the kernels)",
    "backward-pass bookkeeping",
    "entry and exit (argument checks, pytrees, seeding)",
    "the function's own Python",
    "outside pullback (timing loop)",
)

#: a line of pullback's (or the benchmark's) that does NumPy work on plain arrays
_KERNEL_LINE = re.compile(
    r"\.impl\(|\bufunc\(|\bfunc\(|return a \+ b|\w\s*[-+*/@]\s*[\w(]|\bnp\.\w+\("
)
#: pullback functions whose NumPy calls are bookkeeping (dtype, shape), not computation
_BOOKKEEPING_NUMPY = {"promote", "shape_of", "dtype_of", "size", "_check_cotangent",
                      "_check_like", "_check_scalar", "_check_differentiable"}


@dataclass(frozen=True)
class _Frame:
    func: str
    file: str
    line: int

    @property
    def own(self) -> bool:
        return "/pullback/" in self.file or "/benchmarks/" in self.file

    @property
    def bench(self) -> bool:
        return "/benchmarks/" in self.file

    @property
    def numpy(self) -> bool:
        if self.file == "<built-in>":
            name = self.func
            if name.startswith(("ufunc.", "ndarray.", "generic.")):
                return True
            return "." not in name and hasattr(np, name) and not hasattr(builtins, name)
        return "/numpy/" in self.file and "/pullback/" not in self.file

    def label(self) -> str:
        short = self.file.split("/src/")[-1].split("/benchmarks/")[-1]
        return f"{self.func} ({short}:{self.line})"


def _parse(ident: str) -> _Frame:
    parts = ident.split("\x00")
    func = parts[0]
    file = parts[1] if len(parts) > 1 else "?"
    line = 0
    if len(parts) > 2:
        for attr in parts[2].split("\x01")[1:]:
            if attr.startswith("l"):
                line = int(attr[1:])
    return _Frame(func, file, line)


def _source(frame: _Frame) -> str:
    return linecache.getline(frame.file, frame.line).strip() if frame.line else ""


def classify(stack: list[_Frame]) -> str:
    """The category of one sample (frames from the outermost to the innermost)."""
    first = next((i for i, f in enumerate(stack) if "/pullback/" in f.file), None)
    if first is None:
        return CATEGORIES[8]
    frames = stack[first:]
    if any(f.func == "numpy_kernel" and f.bench for f in frames):
        backward = any(f.func == "backward_pass" and "/pullback/" in f.file for f in frames)
        return CATEGORIES[1] if backward else CATEGORIES[0]
    own_idx = max(i for i, f in enumerate(frames) if f.own)
    own = frames[own_idx]
    foreign = frames[own_idx + 1 :]
    if foreign:
        kernel = foreign[0].numpy and own.func not in _BOOKKEEPING_NUMPY
    else:
        kernel = (
            not own.bench
            and bool(_KERNEL_LINE.search(_source(own)))
            and own.func not in _BOOKKEEPING_NUMPY
        )
    backward = next(
        (i for i, f in enumerate(frames) if f.func == "backward_pass" and "/pullback/" in f.file),
        None,
    )
    if backward is not None:
        below = frames[backward + 1 :]
        in_rule = any(
            (f.func == "backward" and f.file.endswith("core/trace.py"))
            or f.file.endswith(("core/rules.py", "custom.py"))
            or ("/pullback/numpy/" in f.file and not f.file.endswith("_registry.py"))
            for f in below
        )
        if kernel:
            return CATEGORIES[1]
        if in_rule or (not foreign and re.search(r"\.(vjp|backward)\(", _source(own))):
            return CATEGORIES[4]  # inside a rule, or the call into it
        return CATEGORIES[5]
    user = next((i for i, f in enumerate(frames) if f.bench), None)
    if user is not None:
        if kernel:
            return CATEGORIES[0]
        below = frames[user:]
        if any(f.func == "__init__" and f.file.endswith("_reverse.py") for f in below):
            return CATEGORIES[3]
        if re.search(r"\b(Node|VJPTracer|JVPTracer)\(", _source(own)):
            return CATEGORIES[3]
        if own.bench:
            return CATEGORIES[7]
        return CATEGORIES[2]
    return CATEGORIES[6]


@dataclass
class Profile:
    """Seconds per category, per top line and per function, over ``calls`` calls."""

    key: str
    title: str
    calls: int
    seconds: float
    categories: Counter = field(default_factory=Counter)
    lines: Counter = field(default_factory=Counter)
    line_category: dict = field(default_factory=dict)
    functions: Counter = field(default_factory=Counter)
    unprofiled: float | None = None  # seconds per call without the profiler, when known

    @property
    def per_call(self) -> float:
        return self.seconds / self.calls


def _wrap_impls() -> dict:
    """Give every primitive of pullback.numpy a Python frame around its NumPy call."""
    from pullback.numpy._registry import PRIMITIVES

    saved = {}
    for prim in PRIMITIVES.values():
        impl = prim.impl

        def numpy_kernel(*args: object, _impl: object = impl, **params: object) -> object:
            return _impl(*args, **params)

        saved[prim] = impl
        prim.impl = numpy_kernel
    return saved


def profile_case(case: Case, seconds: float = 3.0, interval: float = 1e-4) -> Profile:
    """Sample pullback's eager implementation of ``case`` for about ``seconds`` seconds.

    Example:
        >>> from benchmarks.libs import load_libs
        >>> from benchmarks.workloads import build
        >>> case = build("chain", load_libs(("numpy", "pullback")), tiny=True)[0]
        >>> profile_case(case, seconds=0.05).calls > 0
        True
    """
    from pyinstrument import Profiler

    run = case.impls["pullback"].run
    run()
    profiler = Profiler(interval=interval)
    calls = 0
    saved = _wrap_impls()
    try:
        profiler.start()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            run()
            calls += 1
        elapsed = time.perf_counter() - t0
        session = profiler.stop()
    finally:
        for prim, impl in saved.items():
            prim.impl = impl
    prof = Profile(case.key, case.title, calls, elapsed)
    for idents, t in session.frame_records:
        stack = [_parse(i) for i in idents]
        cat = classify(stack)
        prof.categories[cat] += t
        own = [f for f in stack if f.own]
        if own and "/pullback/" in "".join(f.file for f in stack):
            deepest = own[-1]
            prof.lines[deepest] += t
            prof.line_category.setdefault(deepest, Counter())[cat] += t
            for func in {f.label().split(":")[0] for f in own if "/pullback/" in f.file}:
                prof.functions[func] += t
    return prof


def render_profile(prof: Profile, top: int = 12) -> str:
    """Markdown: the categories, the top lines by self time and the top functions."""
    total = sum(prof.categories.values()) or 1.0
    out = [
        f"**{prof.title}** (`{prof.key}`): {prof.calls} calls in {prof.seconds:.1f} s, "
        f"{prof.per_call * 1e6:,.0f} µs per call under the profiler.",
        "",
        "| where | share of time |",
        "|---|---:|",
    ]
    for cat in CATEGORIES:
        if prof.categories[cat]:
            out.append(f"| {cat} | {100 * prof.categories[cat] / total:.1f}% |")
    out += [
        "",
        "Top lines by self time (C calls made on a line count for that line):",
        "",
        "| self | line | source | category |",
        "|---:|---|---|---|",
    ]
    for frame, t in prof.lines.most_common(top):
        cat = prof.line_category[frame].most_common(1)[0][0]
        src = _source(frame).replace("|", "\\|")
        if len(src) > 60:
            src = src[:57] + "..."
        out.append(f"| {100 * t / total:.1f}% | {frame.label()} | `{src}` | {cat} |")
    out += [
        "",
        "Top pullback functions by total time (with what they call):",
        "",
        "| total | function |",
        "|---:|---|",
    ]
    for func, t in prof.functions.most_common(top):
        out.append(f"| {100 * t / total:.1f}% | {func}) |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Profile the eager path on the named workloads and print the Markdown."""
    from benchmarks.libs import configure_threads

    configure_threads(1)
    from benchmarks.libs import load_libs
    from benchmarks.workloads import build

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["network", "chain"])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    libs = load_libs(("numpy", "pullback"))
    for name in args.workloads:
        for case in build(name, libs):
            print(render_profile(profile_case(case, args.seconds)))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
