"""Generate ``docs/coverage.md``: every public function and primitive, and what the spec
table checks of it.

Run ``make coverage`` (or ``python tools/coverage.py``; ``--check`` only compares and exits
with status 1 when the page is stale). ``tests/test_coverage.py`` fails when the page is
stale or when a registered primitive has no spec row.

A function counts as covered in a mode when a spec row exercises it and ``tests/test_ops.py``
checks that mode for the row: every row with a differentiable argument is checked in reverse
and forward mode, and to second order unless the row says ``order=1``. A row exercises the
function whose name it carries (``linalg.``, ``fft.``, ``special.`` prefixes for the
submodules, ``at.set`` for a method of what ``at`` returns) or whose object it calls
directly. Which primitives a row exercises is found by
tracing it: its function, its reverse-mode pullback and its forward-mode derivative are
evaluated under ``pb.vjp``, and the recorded nodes are walked back from the outputs;
non-differentiable primitives, which are never recorded, are named by the row's ``covers``.

Example:
    >>> import coverage_tool  # doctest: +SKIP
    >>> print(coverage_tool.render(coverage_tool.collect()))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "coverage.md"
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

import pullback as pb  # noqa: E402
from pullback.core.reverse import VJPTracer  # noqa: E402
from pullback.numpy import _namespace  # noqa: E402
from pullback.numpy._registry import PRIMITIVES  # noqa: E402

#: (module, prefix of row and primitive names)
MODULES = [
    ("pullback.numpy", ""),
    ("pullback.numpy.linalg", "linalg."),
    ("pullback.numpy.fft", "fft."),
    ("pullback.scipy.special", "special."),
]
#: pullback.scipy.stats: one module per distribution, rows named "stats.norm.logpdf"
MODULES += [(f"pullback.scipy.stats.{d}", f"stats.{d}.") for d in pb.scipy.stats.__all__]
#: the other pullback.scipy modules (loaded on first use), rows named "scipy.linalg.expm"
MODULES += [(f"pullback.scipy.{m}", f"scipy.{m}.")
            for m in ("linalg", "signal", "integrate", "optimize")]


@dataclass
class Function:
    """One public function and what the spec table checks of it."""

    module: str
    name: str  # qualified: "sin", "linalg.inv", "special.erf"
    obj: Any
    constant: bool = False  # no derivative: outputs are constants
    constructor: bool = False  # NumPy's constructor (a buffer inside a transformation)
    rows: int = 0  # rows that exercise it
    rev: bool = False
    fwd: bool = False
    second: bool = False
    #: complex input: "yes" (a complex row checks it), "refused" (pullback says complex input
    #: is not supported), "not checked" (listed in tests/specs: the oracle cannot check the
    #: derived row, or it is a known bug), "real only" (NumPy's function, or the row's
    #: domain, takes real input only)
    complex: str = "real only"


@dataclass
class Name:
    """One public callable of NumPy and what ``pullback.numpy`` makes of it."""

    name: str  # qualified: "sin", "linalg.eig", "fft.rfftn"
    kind: str  # "differentiable", "pass-through", "refused" or "missing"
    note: str = ""


@dataclass
class Coverage:
    functions: list[Function] = field(default_factory=list)
    #: every public callable of numpy, numpy.linalg and numpy.fft
    namespace: list[Name] = field(default_factory=list)
    #: primitive name -> ids of the rows that exercise it
    primitives: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # row id -> why it could not be traced

    @property
    def missing_primitives(self) -> list[str]:
        return sorted(name for name, rows in self.primitives.items() if not rows)

    @property
    def missing_names(self) -> list[str]:
        """NumPy names in no table, or marked differentiable without a spec row in both
        modes to second order."""
        return [n.name for n in self.namespace if n.kind == "missing"]


#: the NumPy modules whose public callables the namespace table lists, with their place in
#: pullback.numpy
NUMPY_MODULES = [("numpy", ""), ("numpy.linalg", "linalg."), ("numpy.fft", "fft.")]


def namespace(functions: list[Function]) -> list[Name]:
    """Every public callable of NumPy's modules, classified by ``pullback.numpy._namespace``,
    with the spec table's verdict for the differentiable ones."""
    by_name = {f.name: f for f in functions}
    out = []
    for numpy_name, prefix in NUMPY_MODULES:
        numpy_module = importlib.import_module(numpy_name)
        ours = importlib.import_module("pullback.numpy" + ("." + prefix[:-1] if prefix else ""))
        for name in sorted(_namespace.public_callables(numpy_module)):
            qualified = prefix + name
            defined = vars(ours).get(name)
            kind, note = _namespace.classify(qualified, defined)
            fn = by_name.get(qualified)
            if kind == "constructor":
                kind = "differentiable"  # decided below from the Function
            if kind == "differentiable" and fn is not None:
                if fn.constructor:
                    kind, note = "pass-through", "constructor (inside a transformation, a " \
                        "buffer that accepts traced writes)"
                elif fn.constant:
                    kind = "pass-through"
                    note = "no derivative (integer, boolean or piecewise-constant result): " \
                        "traced arguments are used as constants"
                elif not fn.rows:
                    kind, note = "missing", "defined, but no spec row"
                elif fn.rev and fn.fwd and fn.second:
                    note = "both modes, order 2"
                else:
                    note = "first order only" if fn.rev and fn.fwd else "**incomplete rows**"
            elif kind == "differentiable":
                kind, note = "missing", "defined, but not a public function of pullback.numpy"
            elif kind == "constant":
                kind, note = "pass-through", f"no derivative ({note}): traced arguments are " \
                    "used as constants"
            out.append(Name(qualified, kind, note))
    return out


def public_functions() -> list[Function]:
    """The public callables of each module that exists (classes and constants excluded)."""
    out, seen = [], set()
    for modname, prefix in MODULES:
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        names = getattr(module, "__all__", None) or [n for n in dir(module)
                                                      if not n.startswith("_")]
        for name in sorted(set(names)):
            obj = getattr(module, name, None)
            own_class = isinstance(obj, type) and obj.__module__.startswith("pullback")
            if obj is None or (isinstance(obj, type) and not own_class) or not callable(obj):
                continue
            qualified = prefix + name
            if qualified in seen:
                continue
            seen.add(qualified)
            prim = PRIMITIVES.get(qualified)
            kind = getattr(obj, "__pullback_kind__", None)
            out.append(Function(modname, qualified, obj,
                                constant=bool(prim and prim.nondiff) or kind == "constant",
                                constructor=kind == "constructor" or
                                qualified in _namespace.CONSTRUCTORS))
    return out


def _sample_args(row: Any, shapes: tuple) -> list:
    from specs import sample

    rng = np.random.default_rng(zlib.crc32(f"{row.id}{shapes}args".encode()))
    return [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]


def _walk(leaves: list, found: set[str]) -> None:
    stack = [leaf.node for leaf in leaves if isinstance(leaf, VJPTracer)]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.prim is not None and PRIMITIVES.get(node.prim.name) is node.prim:
            found.add(node.prim.name)
        stack.extend(p[0] for p in node.parents if p is not None)


def _trace(row: Any, shapes: tuple, found: set[str]) -> None:
    """Add to ``found`` the primitives recorded for ``row`` at argument shapes ``shapes``."""
    args = _sample_args(row, shapes)
    diff = [i for i in range(len(args)) if row.differentiable(i)]
    if not diff:
        return
    n = len(diff)

    def f(*dargs: Any) -> Any:
        full = list(args)
        for i, d in zip(diff, dargs, strict=True):
            full[i] = d
        return row.fn(*full, **row.kwargs)

    captured: list = []

    def traced(*inputs: Any) -> Any:
        # the cotangent and the tangents are inputs too, so that every rule's work (not
        # only the work that involves the primals) is recorded
        dargs, w, tangents = inputs[:n], inputs[n], inputs[n + 1 :]
        out, vjp_fn = pb.vjp(f, *dargs)
        cts = vjp_fn(w)
        _, t_out = pb.jvp(f, dargs, tangents)
        captured.extend([out, *cts, t_out])
        return out

    dargs = [args[i] for i in diff]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = f(*dargs)
        w = np.ones(np.shape(out), np.result_type(out))
        pb.vjp(traced, *dargs, w, *(np.ones(np.shape(d), d.dtype) for d in dargs))
    _walk(captured, found)


def exercised(row: Any) -> set[str]:
    """The registered primitives that ``row`` exercises: its function, pullback and forward
    derivative, traced on every shape of the row, plus ``row.covers``."""
    found = set(row.covers)
    for shapes in row.shapes:
        _trace(row, shapes, found)
    return found


def collect() -> Coverage:
    """Trace every spec row and match rows to public functions and primitives."""
    from specs import ALL_SPECS

    cov = Coverage(functions=public_functions())
    cov.primitives = {name: [] for name in PRIMITIVES}
    by_name: dict[str, list] = {}
    by_obj: dict[int, list] = {}
    for row in ALL_SPECS:
        by_name.setdefault(row.name, []).append(row)
        by_obj.setdefault(id(row.fn), []).append(row)
        try:
            prims = exercised(row)
        except Exception as exc:  # reported on the page and by the test, not hidden
            cov.errors[row.id] = f"{type(exc).__name__}: {exc}"
            prims = set(row.covers)
        for name in prims:
            if name in cov.primitives and row.id not in cov.primitives[name]:
                cov.primitives[name].append(row.id)
    for fn in cov.functions:
        rows = by_name.get(fn.name, []) + by_obj.get(id(fn.obj), [])
        # rows of what the function returns: "at.set" for pnp.at(x)[idx].set(v)
        rows += [r for name, rs in by_name.items() if name.startswith(fn.name + ".") for r in rs]
        # a function without a primitive (shape, ndim...) is a constant when its rows say so
        fn.constant = fn.constant or bool(rows) and all(fn.name in r.covers for r in rows)
        if fn.constant:
            rows += [r for r in ALL_SPECS if fn.name in r.covers]
        rows = list({id(r): r for r in rows}.values())
        fn.rows = len(rows)
        for r in rows:
            if any(r.differentiable(i) for i in range(len(r.shapes[0]))):
                fn.rev = fn.fwd = True
                fn.second = fn.second or r.order >= 2
    _complex_verdicts(cov.functions)
    # aliases (concat and concatenate, acos and arccos) are one function: one verdict
    groups: dict[int, list[Function]] = {}
    for fn in cov.functions:
        groups.setdefault(id(fn.obj), []).append(fn)
    for group in groups.values():
        best = max(group, key=lambda f: (f.rows, f.rev, f.second))
        for fn in group:
            fn.rows, fn.rev, fn.fwd, fn.second = best.rows, best.rev, best.fwd, best.second
            fn.complex = _best_complex(f.complex for f in group)
            fn.constant = fn.constant or best.constant
    cov.namespace = namespace(cov.functions)
    return cov


_COMPLEX_ORDER = ("yes", "refused", "not checked", "real only")


def _best_complex(verdicts: Any) -> str:
    return min(verdicts, key=_COMPLEX_ORDER.index)


def _complex_verdicts(functions: list[Function]) -> None:
    """Each function's verdict on complex input, from the written complex rows and the
    derived ones (``specs.DERIVED_COMPLEX_SPECS``), as ``tests/test_complex.py`` checks
    them."""
    import specs

    unchecked = set(specs.NOT_CHECKED_COMPLEX) | set(specs.KNOWN_WRONG_COMPLEX)
    verdict: dict[str, str] = {}
    for row in specs.COMPLEX_SPECS:
        verdict[row.name] = "yes"
    for row in specs.DERIVED_COMPLEX_SPECS:
        if row.id in unchecked:
            v = "not checked"
        else:
            rng = np.random.default_rng(zlib.crc32(f"complex{row.id}{row.shapes[0]}args"
                                                   .encode()))
            args = [specs.sample(rng, row.domain(i), s) for i, s in enumerate(row.shapes[0])]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = "refused" if specs.refuses_complex(row, args) else "yes"
        old = verdict.get(row.name)
        verdict[row.name] = v if old is None else _best_complex((old, v))
    for fn in functions:
        if fn.constant or fn.constructor:
            continue
        if fn.name in verdict:
            fn.complex = verdict[fn.name]


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no row**"


def render(cov: Coverage) -> str:
    """The Markdown page."""
    diff = [f for f in cov.functions if not f.constant]
    const = [f for f in cov.functions if f.constant]
    both = [f for f in diff if f.rev and f.fwd]
    second = [f for f in diff if f.second]
    distinct = {id(f.obj) for f in both}
    lines = [
        "# Coverage",
        "",
        "Generated by `tools/coverage.py` (`make coverage`) from the registry of",
        "`pullback.numpy` and the spec table in `tests/specs/`: do not edit by hand.",
        "`tests/test_coverage.py` fails when this page is stale or when a registered primitive",
        "has no spec row.",
        "",
        "A function is covered in a mode when a spec row exercises it and `tests/test_ops.py`",
        "checks that mode for the row: reverse mode (`vjp`) and forward mode (`jvp`) against",
        "finite differences of NumPy's own function, second order three ways (forward over",
        "reverse, reverse over reverse, reverse over forward). Functions without a derivative",
        "(comparisons, rounding, `argmax`, ...) are checked to pass traced values through as",
        "constants.",
        "",
        "The complex column says what a function does with complex input: `yes` when a",
        "complex row (written, or derived from the real row by adding imaginary parts to its",
        "inputs) checks the value, both modes and second order against differences that",
        "treat real and imaginary parts as separate variables (`tests/test_complex.py`);",
        "`refused` when pullback raises an error that says complex input is not supported",
        "there (never a silent cast to real); `real only` when NumPy's function refuses",
        "complex input or takes real values by definition.",
        "",
        "## Summary",
        "",
        f"- differentiable functions: {len(diff)}",
        f"- **with both modes (reverse and forward): {len(both)}** "
        f"({len(distinct)} distinct functions, aliases such as `abs`/`absolute` counted once)",
        f"- to second order: {len(second)}",
        f"- without a derivative (constants): {len(const)}, "
        f"with a row: {sum(1 for f in const if f.rows)}",
        f"- without a spec row: {sum(1 for f in cov.functions if not f.rows)}",
        f"- registered primitives: {len(cov.primitives)}, "
        f"without a spec row: {len(cov.missing_primitives)}",
        f"- complex input, of the differentiable functions: checked by a complex row in "
        f"both modes and at second order {sum(1 for f in diff if f.complex == 'yes')}, "
        f"refused with an error that says so "
        f"{sum(1 for f in diff if f.complex == 'refused')}, not checked "
        f"{sum(1 for f in diff if f.complex == 'not checked')} (listed with the reason in "
        f"`tests/specs`), real input only (NumPy's function refuses complex input, or it "
        f"takes real values by definition) {sum(1 for f in diff if f.complex == 'real only')}",
        "",
    ]
    lines += _render_namespace(cov)
    for modname, _ in MODULES:
        fns = [f for f in cov.functions if f.module == modname]
        if not fns:
            continue
        lines += [f"## `{modname}`", "",
                  "| function | reverse | forward | second order | complex |",
                  "|---|---|---|---|---|"]
        for f in fns:
            if f.constructor:
                status = ["constructor"] * 3
            elif f.constant:
                status = ["constant" if f.rows else "**no row**"] * 3
            elif not f.rows:
                status = ["**no row**"] * 3
            else:
                status = [_mark(f.rev), _mark(f.fwd), "yes" if f.second else "first order only"]
            status.append("—" if f.constant or f.constructor else f.complex)
            lines.append(f"| `{f.name}` | " + " | ".join(status) + " |")
        lines.append("")
    lines += ["## Primitives", "",
              "Each registered primitive and the number of spec rows that exercise it.", "",
              "| primitive | kind | rows |", "|---|---|---|"]
    for name in sorted(cov.primitives):
        kind = "constant" if PRIMITIVES[name].nondiff else "differentiable"
        count = len(cov.primitives[name])
        lines.append(f"| `{name}` | {kind} | {count if count else '**none**'} |")
    lines.append("")
    if cov.errors:
        lines += ["## Rows that could not be traced", ""]
        lines += [f"- `{rid}`: {msg}" for rid, msg in sorted(cov.errors.items())]
        lines.append("")
    return "\n".join(lines)


def _render_namespace(cov: Coverage) -> list[str]:
    counts = {k: sum(1 for n in cov.namespace if n.kind == k)
              for k in ("differentiable", "pass-through", "refused", "missing")}
    own = sum(1 for n in cov.namespace if n.kind == "pass-through"
              and not n.note.startswith("no derivative"))
    lines = [
        "## NumPy's namespace",
        "",
        "Every public callable of `numpy`, `numpy.linalg` and `numpy.fft` (functions, ufuncs",
        "and classes), and what `pullback.numpy` offers under its name:",
        "",
        "- **differentiable**: a `pullback.numpy` function checked by the spec table in both",
        "  modes to second order;",
        "- **pass-through**: either a function whose result has no derivative (integers,",
        "  booleans, piecewise constants), which takes traced arguments as constants, or",
        "  NumPy's own object (classes, dtypes, constructors from shapes, readers, settings);",
        "- **refused**: NumPy's function, which raises an error naming itself and the reason",
        "  when given a traced value.",
        "",
        f"Counts: {len(cov.namespace)} names; **differentiable: {counts['differentiable']}**; "
        f"pass-through: {counts['pass-through']} ({counts['pass-through'] - own} without "
        f"derivative, {own} NumPy's own); refused: {counts['refused']}; not in any table: "
        f"{counts['missing']}.",
        "",
        "| name | in pullback.numpy | note |",
        "|---|---|---|",
    ]
    for n in cov.namespace:
        kind = f"**{n.kind}**" if n.kind == "missing" else n.kind
        note = n.note.replace("|", "\\|")
        lines.append(f"| `{n.name}` | {kind} | {note} |")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Write the page (or, with ``--check``, report whether it is current)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    cov = collect()
    text = render(cov)
    if args.check:
        current = PAGE.read_text() if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `make coverage`", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text)
    both = sum(1 for f in cov.functions if not f.constant and f.rev and f.fwd)
    kinds = {k: sum(1 for n in cov.namespace if n.kind == k)
             for k in ("differentiable", "pass-through", "refused", "missing")}
    print(f"wrote {PAGE.relative_to(ROOT)}: {both} functions with both modes; "
          f"{len(cov.missing_primitives)} primitives without a spec row"
          + (f": {', '.join(cov.missing_primitives)}" if cov.missing_primitives else "")
          + f"; NumPy's namespace: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
