"""The ``pullback check`` and ``pullback audit`` commands.

Every mistake on the command line (a module that cannot be imported, a bad ``--shape``,
``--dtype`` or ``--seed``, an ``--only`` that names no function) ends the command with exit
status 2 and one line on standard error that says what to do; no Python traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from pullback.check.audit import audit
from pullback.check.domains import DOMAINS, sample
from pullback.check.grads import MODES, report
from pullback.check.numeric import METHODS

#: the dtypes ``pullback check --dtype`` draws inputs in
DTYPES = ("float64", "float32", "float16", "complex128", "complex64")
#: the domains ``pullback check --domain`` draws inputs from (those of floating values)
CLI_DOMAINS = tuple(n for n, d in DOMAINS.items() if d.differentiable
                    and n != "well_conditioned")

# ----------------------------------------------------------------------------- parsing


class _Parser(argparse.ArgumentParser):
    """argparse, with each error on one line of standard error that says what to do."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; run "
                     f"`{self.prog} --help` for the options\n")


def _fail(command: str, message: str) -> int:
    """Print ``message`` as one line on standard error; returns the exit status 2."""
    print(f"{command}: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _parse_shape(text: str) -> tuple[int, ...]:
    body = text.strip().strip("()[]").strip()
    if body in ("", "scalar"):
        return ()
    parts = [p.strip() for p in body.split(",")]
    if parts[-1] == "" and len(parts) > 1:  # a trailing comma, as in (3,)
        parts.pop()
    dims = []
    for p in parts:
        try:
            dims.append(int(p))
        except ValueError:
            dims.append(-1 if p == "" else None)
        if dims[-1] is None or dims[-1] < 0:
            what = "an empty dimension" if p == "" else f"the dimension {p!r}"
            raise argparse.ArgumentTypeError(
                f"{text!r} has {what}: write non-negative whole numbers separated by single "
                "commas, like 3,4 (or '' for a scalar)"
            )
    return tuple(dims)


def _whole(what: str, low: int, example: int) -> Callable[[str], int]:
    """A parser of whole numbers of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            kind = "a positive" if low == 1 else "a non-negative"
            raise argparse.ArgumentTypeError(
                f"expected {kind} whole number {what} (such as {example}), got {text!r}"
            )
        return value

    return parse


def _dtype(text: str) -> str:
    if text not in DTYPES:
        raise argparse.ArgumentTypeError(
            f"unknown dtype {text!r}: use one of {', '.join(DTYPES)}"
        )
    return text


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(","))
    if not modes or any(m not in MODES for m in modes):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write fwd, rev or fwd,rev"
        )
    return modes


def _joined(argv: Sequence[str]) -> list[str]:
    """``--shape -3,4`` as ``--shape=-3,4``: argparse would take ``-3,4`` for an option."""
    out, args = [], list(argv)
    i = 0
    while i < len(args):
        if args[i] == "--shape" and i + 1 < len(args):
            out.append(f"--shape={args[i + 1]}")
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


# ----------------------------------------------------------------------------- loading


class _LoadError(Exception):
    """The function named on the command line cannot be loaded (the message says why)."""


def _load_function(spec: str) -> Callable:
    if ":" not in spec:
        raise _LoadError(
            f"expected MODULE:FUNCTION (for example mymodel:loss, or path/to/file.py:loss), "
            f"got {spec!r}"
        )
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise _LoadError(
            f"expected MODULE:FUNCTION (for example mymodel:loss), got {spec!r}: name both"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    is_path = mod_name.endswith(".py") or os.sep in mod_name
    try:
        if is_path:
            if not os.path.isfile(mod_name):
                raise _LoadError(
                    f"there is no file {mod_name!r} (from {spec!r}); give the path of a Python "
                    "file, relative to the current directory, or a module name"
                )
            module_spec = importlib.util.spec_from_file_location(
                os.path.splitext(os.path.basename(mod_name))[0], mod_name)
            if module_spec is None or module_spec.loader is None:
                raise _LoadError(f"cannot load {mod_name!r} as a Python module")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except _LoadError:
        raise
    except ModuleNotFoundError as err:
        if err.name and mod_name.split(".")[0] == err.name.split(".")[0]:
            raise _LoadError(
                f"cannot import {mod_name!r}: no module of that name; run from the directory "
                "that contains it, add that directory to PYTHONPATH, or give a path like "
                "path/to/file.py:FUNCTION"
            ) from None
        raise _LoadError(
            f"cannot import {mod_name!r}: it imports {err.name!r}, which is not installed "
            f"({err}); install it, or fix the import"
        ) from None
    except SyntaxError as err:
        raise _LoadError(
            f"cannot import {mod_name!r}: syntax error in {err.filename}, line {err.lineno} "
            f"({err.msg}); fix the file"
        ) from None
    except Exception as err:  # the module itself raised while being imported
        raise _LoadError(
            f"cannot import {mod_name!r}: importing it raised {type(err).__name__}: {err}; "
            "fix the module (it must import without errors)"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(module) if not n.startswith("_")]
            close = difflib.get_close_matches(attr, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _LoadError(
                f"module {mod_name!r} has no attribute {attr!r}{hint}; name a function "
                "defined in it"
            ) from None
    if not callable(obj):
        raise _LoadError(
            f"{spec} is a {type(obj).__name__}, not a function; name a function"
        )
    return obj


def _draw(rng: np.random.Generator, domain: str, shape: tuple, dtype: str) -> np.ndarray:
    """One input: from ``domain``, in ``dtype`` (a complex dtype draws the real and
    imaginary parts from the domain)."""
    if np.dtype(dtype).kind == "c" and domain != "complex":
        real = sample(rng, domain, shape)
        return (real + 1j * sample(rng, domain, shape)).astype(dtype)
    return sample(rng, domain, shape, dtype)


# ----------------------------------------------------------------------------- commands


def cli_check(argv: Sequence[str]) -> int:
    """``pullback check MODULE:FUNCTION --shape 3,4 [--shape ...] [--dtype float32]``.

    Draws one input per ``--shape`` (uniform in (-2, 2) by default, seeded), checks the
    function's derivatives and prints the report; returns 0 when every check passes, 1
    otherwise, and 2, with one line on standard error, for a mistake on the command line
    (a module that cannot be imported, a bad option, a function that returns nothing to
    differentiate).

    Example:
        >>> cli_check(["numpy:sin", "--shape", "3"])  # doctest: +ELLIPSIS
        derivative check of sin: ...
        0
    """
    prog = "pullback check"
    parser = _Parser(
        prog=prog,
        description="Check a function's derivatives (pullback's against numerical ones).",
    )
    parser.add_argument("function", help="MODULE:FUNCTION, or path/to/file.py:FUNCTION")
    parser.add_argument("--shape", action="append", type=_parse_shape, default=None,
                        help="shape of one positional argument, like 3,4 ('' for a scalar); "
                        "repeat for each argument")
    parser.add_argument("--dtype", default="float64", type=_dtype,
                        help=f"one of {', '.join(DTYPES)}")
    parser.add_argument("--order", type=_whole("for the order", 1, 2), default=1)
    parser.add_argument("--modes", type=_modes, default=MODES, help="fwd, rev or fwd,rev")
    parser.add_argument("--method", default="auto", choices=METHODS)
    parser.add_argument("--probes", type=_whole("of probes", 1, 3), default=3)
    parser.add_argument("--full", action="store_true", help="every coordinate, not probes")
    parser.add_argument("--domain", default="real", choices=CLI_DOMAINS,
                        help="where inputs are drawn: " + "; ".join(
                            f"{n}: {DOMAINS[n].description.split(';')[0]}"
                            for n in CLI_DOMAINS))
    parser.add_argument("--seed", type=_whole("for the seed", 0, 0), default=0)
    parser.add_argument("--taylor", action="store_true", help="add the Taylor-remainder test")
    opts = parser.parse_args(_joined(argv))
    try:
        f = _load_function(opts.function)
    except _LoadError as err:
        return _fail(prog, str(err))
    rng = np.random.default_rng(opts.seed)
    shapes = opts.shape or [(3,)]
    args = tuple(_draw(rng, opts.domain, s, opts.dtype) for s in shapes)
    try:
        rep = report(f, args, order=opts.order, modes=opts.modes, method=opts.method,
                     probes=opts.probes, full=opts.full, seed=opts.seed, taylor=opts.taylor)
    except (TypeError, ValueError) as err:
        message = str(err)
        if message.startswith("pullback.check of "):  # the function is named on the line
            message = message.split(": ", 1)[-1]
        return _fail(prog, f"{opts.function}: {message}")
    except Exception as err:  # the user's function raised at the inputs drawn
        given = " ".join(f"--shape {','.join(map(str, s)) or repr('')}" for s in shapes)
        return _fail(prog, f"{opts.function} raised {type(err).__name__}: {err} at inputs of "
                           f"{given} (dtype {opts.dtype}); give the shapes and dtype it "
                           "expects, or fix the function")
    print(rep)
    return 0 if rep.ok else 1


def cli_audit(argv: Sequence[str]) -> int:
    """``pullback audit``: check every registered rule and print the health table.

    Returns 0 when no rule fails, 1 otherwise (functions without a case do not fail), and
    2, with one line on standard error, for a bad option or an ``--only`` that names no
    function.

    Example:
        >>> cli_audit(["--only", "sin", "--order", "1"])  # doctest: +ELLIPSIS
        function ...
        0
    """
    prog = "pullback audit"
    parser = _Parser(
        prog=prog,
        description="Check every registered derivative rule on inputs from its domain.",
    )
    parser.add_argument("--order", type=_whole("for the order", 1, 2), default=2)
    parser.add_argument("--probes", type=_whole("of probes", 1, 2), default=2)
    parser.add_argument("--seed", type=_whole("for the seed", 0, 0), default=0)
    parser.add_argument("--only", action="append", default=None,
                        help="audit only this function (repeatable), like sin, linalg.inv or "
                        "scipy.special.erf")
    opts = parser.parse_args(list(argv))
    try:
        rep = audit(order=opts.order, probes=opts.probes, seed=opts.seed, only=opts.only)
    except ValueError as err:  # an --only that names no function
        message = str(err).replace("pullback.check.audit: only=", "--only ")
        return _fail(prog, message.replace(", or the names of the functions passed", ""))
    print(rep)
    return 0 if rep.ok else 1
