"""Run the benchmark suite of issue 6 and write docs/performance.md.

Usage::

    python benchmarks/run.py                       # everything, writes docs/performance.md
    python benchmarks/run.py --only network,chain --quick   # a subset, printed only
    python benchmarks/run.py --libs numpy,pullback,jax      # fewer columns

Every library runs on one thread (``--threads``). Before anything is timed, each library's
result is compared with the hand-written NumPy baseline; a disagreement is printed with its
traceback, the cell reads FAILED and the run exits with status 1 (after writing the report).
A full run (no ``--only``, no ``--quick``) writes ``docs/performance.md``; a partial run
prints the Markdown unless ``--output`` names a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import os  # noqa: E402

from benchmarks.libs import configure_threads  # noqa: E402  (before NumPy is imported)


def _threads_from_argv(argv: list[str]) -> int:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 1


if __name__ == "__main__":  # imported (by the tests), it leaves the environment alone
    configure_threads(_threads_from_argv(sys.argv))
    # Numba's kernels compiled afresh in each run (the first-call column measures that)
    import tempfile

    os.environ.setdefault("PULLBACK_CACHE_DIR", tempfile.mkdtemp(prefix="pullback-bench-"))

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import harness  # noqa: E402
from benchmarks import long as long_programs  # noqa: E402
from benchmarks.harness import Case, Timing, check_case, time_case  # noqa: E402
from benchmarks.libs import LABELS, LIBS, Libs, limit_blas_threads, load_libs  # noqa: E402
from benchmarks.workloads import WORKLOADS, build  # noqa: E402

PROFILED = ("network", "chain")


@dataclass
class Result:
    """What was measured for one case."""

    case: Case
    times: dict[str, Timing] = field(default_factory=dict)
    fwd_times: dict[str, Timing] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    #: seconds of each library's first call (tracing and compiling included)
    first: dict[str, float] = field(default_factory=dict)

    def ratio(self, lib: str) -> float | None:
        """Time / NumPy's time, whatever the case's metric."""
        t, base = self.times.get(lib), self.times.get("numpy")
        return None if t is None or base is None else t.median / base.median

    def value(self, lib: str) -> float | None:
        """The case's metric for ``lib``: ratio, µs per op, steps per second or grad/fwd."""
        c, t = self.case, self.times.get(lib)
        if t is None:
            return None
        if c.metric == "per_op":
            return t.median / c.count * 1e6
        if c.metric == "steps":
            return c.count / t.median
        if c.metric == "grad_fwd":
            f = self.fwd_times.get(lib)
            return None if f is None else t.median / f.median
        base = self.times.get("numpy")
        return None if base is None else t.median / base.median


# ----------------------------------------------------------------------------- formatting


def fmt_time(seconds: float) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.23 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            v = seconds / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{seconds * 1e9:.2g} ns"


def _ratio(r: float) -> str:
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x" if r < 100 else f"{r:,.0f}x"


def cell(res: Result, lib: str) -> str:
    """The table cell of ``lib`` for ``res``."""
    c = res.case
    if lib in res.failed:
        return "FAILED"
    t = res.times.get(lib)
    if t is None:
        return c.missing.get(lib, "n/a")
    base = res.times.get("numpy")
    ratio = t.median / base.median if base else float("nan")
    if c.metric == "ratio":
        return f"{_ratio(ratio)} ({fmt_time(t.median)})"
    if c.metric == "per_op":
        return f"{res.value(lib):.3g} µs/op ({_ratio(ratio)})"
    if c.metric == "steps":
        return f"{res.value(lib):,.0f}/s ({_ratio(ratio)} time)"
    v = res.value(lib)
    f = res.fwd_times.get(lib)
    if v is None or f is None:
        return "n/a"
    return f"{v:.2f} ({fmt_time(t.median)} / {fmt_time(f.median)})"


def _metric_name(c: Case) -> str:
    return {
        "ratio": "time / NumPy's",
        "per_op": "µs per op",
        "steps": "steps per second",
        "grad_fwd": "gradient time / forward time",
    }[c.metric]


def _fmt_value(c: Case, v: float) -> str:
    if c.metric == "ratio":
        return _ratio(v)
    if c.metric == "per_op":
        return f"{v:.3g} µs"
    if c.metric == "steps":
        return f"{v:,.0f}/s"
    return f"{v:.2f}"


def _verdict(res: Result, lib: str, target: object) -> tuple[str, str, str]:
    if target is None:
        return ("—", "none set", "—")
    v = res.value(lib)
    if lib in res.failed:
        return ("FAILED", str(target), "no")
    if v is None:
        return (res.case.missing.get(lib, "n/a"), str(target), "not measured")
    return (_fmt_value(res.case, v), str(target), "**yes**" if target.met(v) else "no")


# ----------------------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informational only
        return "?"


def _git() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "src"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {rev}" + (" with uncommitted changes in src/" if dirty else "")


def environment(libs: Libs, threads: int, threading_note: str, timer: str = "wall") -> list[str]:
    """Markdown bullet lines: machine, versions, date."""
    try:
        visible = len(os.sched_getaffinity(0))
    except AttributeError:
        visible = os.cpu_count()
    v = libs.versions
    others = []
    for name in ("numba", "autograd", "torch", "jax"):
        if name in v:
            extra = f" (jaxlib {v['jaxlib']})" if name == "jax" and "jaxlib" in v else ""
            others.append(f"{name} {v[name]}{extra}")
        else:
            others.append(f"{name}: {libs.missing.get(name, 'not requested')}")
    jit = "pb.jit present" if libs.has("pullback.jit") else "no pb.jit yet"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores ({visible} usable by this "
        f"process); every library on {threads} thread{'s' if threads != 1 else ''} "
        f"({threading_note}; torch.set_num_threads({threads}); XLA single-threaded Eigen)",
        f"- OS: {platform.platform()}; load average at the start (1/5/15 min): {load} (other "
        "work on the machine makes all columns noisier, the medians of interleaved rounds "
        "limit its effect)",
        "- Timer: " + ("the CPU time of the process (`time.process_time`, all its threads): "
                       "time spent waiting for a core while other work runs is not counted"
                       if timer == "cpu" else "wall-clock time (`time.perf_counter`)")
        + "; first calls in wall-clock time",
        f"- Python {platform.python_version()}, NumPy {np.__version__} (BLAS: {_blas()})",
        f"- pullback {v['pullback']} ({_git()}; {jit})",
        "- " + "; ".join(others),
    ]


# ----------------------------------------------------------------------------- running


def run_case(
    case: Case, budget: float, rounds: int, log: object, min_rounds: int = 3
) -> Result:
    """Check every library of ``case`` against NumPy, then time those that agree."""
    res = Result(case)
    for lib in list(case.impls):
        if lib == "numpy":
            continue
        try:
            res.first.update(check_case(case, name=lib))
        except Exception as exc:  # noqa: BLE001 - reported loudly, the run goes on
            print(f"\n!!! {case.key}: {lib} FAILED its check:", file=log)
            traceback.print_exc(file=log)
            res.failed[lib] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    impls = {k: v for k, v in case.impls.items() if k not in res.failed}
    res.times = time_case(impls, budget, rounds, min_rounds=min_rounds)
    if case.fwd:
        fwd = {k: v for k, v in case.fwd.items() if k not in res.failed}
        res.fwd_times = time_case(fwd, budget, rounds, min_rounds=min_rounds)
    return res


def render(
    results: list[Result],
    libs: Libs,
    env: list[str],
    profiles: list[str],
    command: str,
    wall: float,
    quick: bool,
    extra: list[str] | None = None,
) -> str:
    """The Markdown of docs/performance.md (``extra``: more sections, before the notes)."""
    cols = [lib for lib in LIBS if lib in libs.modules or lib in libs.missing]
    out = [
        "# Performance",
        "",
        f"Generated by `{command}` in {wall:.0f} s"
        + (" (quick mode: fewer repeats, noisier)" if quick else "")
        + ". Do not edit by hand: run `make bench` again. How the suite works and how to "
        "add PyTorch and JAX: `benchmarks/README.md`.",
        "",
        "## Machine and versions",
        "",
        *env,
        "",
        "## Results",
        "",
        "Each cell is the median of repeated runs (timeit-style, after warm-up, libraries "
        "interleaved); `Nx` is the time relative to the hand-written NumPy forward and "
        "pullback measured in the same run. Every library's result was checked against the "
        "NumPy baseline before timing.",
        "",
        "| workload | " + " | ".join(LABELS[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for res in results:
        out.append(f"| {res.case.title} | " + " | ".join(cell(res, c) for c in cols) + " |")
    out += [
        "",
        "Cells: ratio rows give `time / NumPy's time (absolute time per call)`; the chain "
        "gives µs per op (ratio to NumPy); digits gives training steps per second (ratio of "
        "time to NumPy's); the large MLP gives each library's `gradient time / its own "
        "forward time (gradient time / forward time)`.",
        "",
        "## Targets of issue 6",
        "",
        "| workload | metric | pullback eager | target | met | pullback jit | target | met |",
        "|---|---|---:|---|---|---:|---|---|",
    ]
    for res in results:
        c = res.case
        if c.target_eager is None and c.target_jit is None:
            continue
        e = _verdict(res, "pullback", c.target_eager)
        j = _verdict(res, "pullback.jit", c.target_jit)
        out.append(f"| {c.key} | {_metric_name(c)} | " + " | ".join(e + j) + " |")
    out += _fast_section(results, cols)
    out += extra or []
    out += ["", "## What each workload measures", ""]
    for res in results:
        out.append(f"- **{res.case.key}**: {res.case.title}. {res.case.note}")
    if profiles:
        out += ["", "## Where the time goes (pullback eager)", "", _PROFILE_INTRO, ""]
        out += profiles
    failures = [(r.case.key, lib, msg) for r in results for lib, msg in r.failed.items()]
    if failures:
        out += ["", "## Failures", ""]
        out += [f"- {key}, {LABELS[lib]}: {msg}" for key, lib, msg in failures]
    return "\n".join(out) + "\n"


#: issue 12's targets for the eager path: pullback's time over NumPy's, at most
EAGER_TARGETS = {"network": 4.0, "hessian": 40.0, "hvp": 5.0, "mlp": 1.15, "digits": 2.5}

#: the compiled columns whose first call is reported
COMPILED = ("pullback.jit", "pullback.numba", "jax")


def _fast_section(results: list[Result], cols: list[str]) -> list[str]:
    """The targets of issue 12 (pb.jit against NumPy and JAX) and the first-call times."""
    jits = [c for c in ("pullback.jit", "pullback.numba") if c in cols]
    out = [
        "",
        "## Targets of issue 12 (pb.jit, time relative to NumPy by hand)",
        "",
        "A target is met when pb.jit's time over NumPy's is at most the target and at most "
        "JAX jit's in the same run (the digits row compares the time of the epoch).",
        "",
        "| workload | target | " + " | ".join(LABELS[c] for c in jits) + " | JAX jit | met |",
        "|---|---|" + "---:|" * len(jits) + "---:|---|",
    ]
    for res in results:
        c = res.case
        if c.target_fast is None:
            continue
        jax = res.ratio("jax")
        cells, met = [], []
        for lib in jits:
            r = None if lib in res.failed else res.ratio(lib)
            cells.append("FAILED" if lib in res.failed else "n/a" if r is None else _ratio(r))
            if r is not None:
                ok = r <= c.target_fast and (jax is None or r <= jax)
                met.append(f"{LABELS[lib].split('(')[-1].rstrip(')')}: "
                           + ("**yes**" if ok else "no"))
        jax_cell = "n/a" if jax is None else _ratio(jax)
        out.append(f"| {c.key} | ≤ {c.target_fast:g}x | " + " | ".join(cells)
                   + f" | {jax_cell} | {'; '.join(met) or '—'} |")
    eager = [res for res in results if res.case.key in EAGER_TARGETS and "pullback" in cols]
    if eager:
        out += [
            "",
            "## Eager targets of issue 12 (time relative to NumPy by hand)",
            "",
            "pullback's eager column against the ratios issue 12 restates for the eager path "
            "(the digits row compares the time of the epoch).",
            "",
            "| workload | target | pullback eager | met |",
            "|---|---|---:|---|",
        ]
        for res in eager:
            target = EAGER_TARGETS[res.case.key]
            r = None if "pullback" in res.failed else res.ratio("pullback")
            cell = "FAILED" if r is None else _ratio(r)
            met = "—" if r is None else "**yes**" if r <= target else "no"
            out.append(f"| {res.case.key} | ≤ {target:g}x | {cell} | {met} |")
    compiled = [c for c in COMPILED if c in cols]
    out += [
        "",
        "## First call (tracing and compiling included)",
        "",
        "The first call of each measured job, made by the correctness check before timing "
        "(a fresh Numba cache directory for this run, so the Numba column includes compiling "
        "its kernels; the first Numba compilation of the process also loads LLVM). The digits "
        "row is a whole epoch, whose first step compiles.",
        "",
        "| workload | " + " | ".join(LABELS[c] for c in compiled) + " |",
        "|---|" + "---:|" * len(compiled),
    ]
    for res in results:
        if not any(c in res.first for c in compiled):
            continue
        out.append(f"| {res.case.key} | " + " | ".join(
            fmt_time(res.first[c]) if c in res.first else "n/a" for c in compiled) + " |")
    return out


_PROFILE_INTRO = (
    "pyinstrument sampled pullback's eager `value_and_grad` every 0.1 ms on workloads 1 "
    "and 2 (`benchmarks/profile_eager.py`, which can be run alone). Each sample is sorted "
    "by its call stack: the backward pass (rules, bookkeeping), the traced function "
    "(NumPy kernels, tracing and dispatch, node recording) or the transformation's entry "
    "and exit. pyinstrument cannot see inside C functions, so a NumPy call's time counts "
    "for the pullback line that made it (each primitive's NumPy implementation gets a thin "
    "Python frame during the profile so that its time is charged to it); a line that "
    "applies NumPy to plain arrays counts as NumPy kernels. The profiler adds its own "
    "overhead to Python-heavy code, so the shares of Python overhead are upper bounds; "
    "the ratio of NumPy baseline time to pullback time in the results table is the other "
    "view of the NumPy share."
)


def _summary(prof: object, base: float | None) -> str:
    from benchmarks.profile_eager import CATEGORIES

    total = sum(prof.categories.values()) or 1.0
    share = {c: 100 * prof.categories[c] / total for c in CATEGORIES}
    numpy_share = share[CATEGORIES[0]] + share[CATEGORIES[1]]
    python = [(share[c], c) for c in CATEGORIES[2:7]]
    python.sort(reverse=True)
    text = (
        f"In short, for `{prof.key}`: NumPy kernels take {numpy_share:.0f}% of the eager "
        f"time; the rest is Python overhead, led by "
        + ", ".join(f"{c} ({s:.0f}%)" for s, c in python[:3])
        + "."
    )
    if base is not None:
        text += (
            f" Without the profiler the eager call takes {fmt_time(prof.unprofiled)}, the "
            f"hand-written NumPy {fmt_time(base)}: the NumPy work the program needs is "
            f"{100 * base / prof.unprofiled:.0f}% of pullback's time."
        )
    return text


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the workloads, write or print the report."""
    ap = argparse.ArgumentParser(
        description="pullback's benchmark suite (issue 6)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads: " + ", ".join(WORKLOADS),
    )
    ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
    ap.add_argument("--libs", help="comma-separated libraries (default: all installed)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, shorter profiles")
    ap.add_argument("--output", help="Markdown file to write (default: docs/performance.md "
                    "for a full run, standard output otherwise)")
    ap.add_argument("--no-profile", action="store_true", help="skip the pyinstrument section")
    ap.add_argument("--threads", type=int, default=1, help="threads for every library")
    ap.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                    help="cpu: the process's CPU time (default; time spent waiting for a core "
                    "on a loaded machine is not counted); wall: wall-clock time")
    ap.add_argument("--no-dask", action="store_true",
                    help="skip the Dask gradient of issue 15 (benchmarks/dask_grad.py; run with "
                    "a full run, not with --only; needs the 'dask' extra)")
    ap.add_argument("--no-long", action="store_true",
                    help="skip the long programs of issue 11 (benchmarks/long.py; run with a "
                    "full run, not with --only)")
    args = ap.parse_args(argv)

    names = list(WORKLOADS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        ap.error(f"--only: unknown workload(s) {unknown}; choose among {', '.join(WORKLOADS)}")
    wanted = tuple(LIBS) if not args.libs else tuple(n.strip() for n in args.libs.split(","))
    bad = [n for n in wanted if n not in LIBS]
    if bad:
        ap.error(f"--libs: unknown library {bad}; choose among {', '.join(LIBS)}")
    wanted = tuple(dict.fromkeys(("numpy", "pullback") + wanted))
    t_start = time.perf_counter()
    harness.TIMER = time.process_time if args.timer == "cpu" else time.perf_counter
    libs = load_libs(wanted, args.threads)
    threading_note, limiter = limit_blas_threads(args.threads)
    try:
        return _run(args, names, libs, threading_note, argv, t_start)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def _run(
    args: argparse.Namespace,
    names: list[str],
    libs: Libs,
    threading_note: str,
    argv: list[str] | None,
    t_start: float,
) -> int:
    budget, rounds, min_rounds, prof_s = (0.25, 3, 3, 0.5) if args.quick else (2.0, 21, 7, 3.0)
    log = sys.stderr
    env = environment(libs, args.threads, threading_note, args.timer)
    print("\n".join(env), file=log)

    results: list[Result] = []
    profiles: list[str] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            cases = build(name, libs)
        except Exception:
            print(f"\n!!! {name}: building the workload failed:", file=log)
            traceback.print_exc(file=log)
            return 1
        for case in cases:
            res = run_case(case, budget, rounds, log, min_rounds)
            results.append(res)
            print(
                f"{case.key:>16}: "
                + ", ".join(f"{lib} {cell(res, lib)}" for lib in case.impls)
                + f"  [{time.perf_counter() - t0:.1f} s]",
                file=log,
            )
            if name in PROFILED and not args.no_profile and "pullback" not in res.failed:
                profiles += _profile(case, res, prof_s, log)
    extra = [] if args.no_long or args.only else long_programs.section(args.quick, log=log)
    if not (args.no_dask or args.only):
        extra += _dask_section(args.quick, log)
    wall = time.perf_counter() - t_start
    if hasattr(os, "getloadavg"):
        env = env + [
            "- Load average at the end (1/5/15 min): "
            + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        ]
    given = sys.argv[1:] if argv is None else list(argv)
    command = "python benchmarks/run.py " + " ".join(given) if given else "make bench"
    text = render(results, libs, env, profiles, command, wall, args.quick, extra)
    output = args.output
    if output is None and not args.only and not args.quick:
        output = str(ROOT / "docs" / "performance.md")
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        print(f"wrote {output} ({wall:.0f} s)", file=log)
    else:
        print(text)
    return 1 if any(r.failed for r in results) else 0


def _dask_section(quick: bool, log: object) -> list[str]:
    """benchmarks/dask_grad.py's section, or a line saying why it was skipped."""
    try:
        from benchmarks import dask_grad
    except ImportError as err:
        print(f"Dask benchmark skipped: {err} (pip install -e '.[dask]')", file=log)
        return ["", f"Dask benchmark (issue 15) skipped: {err}."]
    return dask_grad.section(quick, log=log)  # type: ignore[arg-type]


def _profile(case: Case, res: Result, seconds: float, log: object) -> list[str]:
    try:
        from benchmarks.profile_eager import profile_case, render_profile
    except ImportError:
        return []
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("pyinstrument is not installed: no profile (pip install -e '.[bench]')", file=log)
        return ["pyinstrument was not installed: no profile this time."]
    prof = profile_case(case, seconds)
    prof.unprofiled = res.times["pullback"].median
    base = res.times["numpy"].median if "numpy" in res.times else None
    return [render_profile(prof), "", _summary(prof, base), ""]


if __name__ == "__main__":
    sys.exit(main())
