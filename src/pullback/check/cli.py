"""The ``pullback check`` and ``pullback audit`` commands."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.check.audit import audit
from pullback.check.grads import report
from pullback.check.numeric import METHODS

# ----------------------------------------------------------------------------- command line


def _parse_shape(text: str) -> tuple[int, ...]:
    text = text.strip().strip("()[]")
    if text in ("", "scalar"):
        return ()
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--shape {text!r}: write dimensions separated by commas, like 3,4 (or '' for a "
            "scalar)"
        ) from None


def _load_function(spec: str) -> Callable:
    if ":" not in spec:
        raise SystemExit(
            f"pullback check: expected MODULE:FUNCTION (for example mymodel:loss), got {spec!r}"
        )
    mod_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            path = mod_name
            module_spec = importlib.util.spec_from_file_location(
                os.path.splitext(os.path.basename(path))[0], path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ImportError as err:
        raise SystemExit(f"pullback check: cannot import {mod_name!r}: {err}") from err
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(
                f"pullback check: module {mod_name!r} has no attribute {attr!r}"
            ) from None
    if not callable(obj):
        raise SystemExit(f"pullback check: {spec} is not callable")
    return obj


def _sample(rng: np.random.Generator, domain: str, shape: tuple, dtype: Any) -> np.ndarray:
    if domain == "positive":
        x = rng.uniform(0.5, 2.0, shape)
    elif domain == "normal":
        x = rng.standard_normal(shape)
    else:
        x = rng.uniform(-2.0, 2.0, shape)
    return np.asarray(x).astype(dtype)


def cli_check(argv: Sequence[str]) -> int:
    """``pullback check MODULE:FUNCTION --shape 3,4 [--shape ...] [--dtype float32]``.

    Draws one input per ``--shape`` (uniform in (-2, 2), seeded), checks the function's
    derivatives and prints the report; returns 0 when every check passes, 1 otherwise.

    Example:
        >>> cli_check(["numpy:sin", "--shape", "3"])  # doctest: +ELLIPSIS
        derivative check of sin: ...
        0
    """
    parser = argparse.ArgumentParser(
        prog="pullback check",
        description="Check a function's derivatives (pullback's against numerical ones).",
    )
    parser.add_argument("function", help="MODULE:FUNCTION, or path/to/file.py:FUNCTION")
    parser.add_argument("--shape", action="append", type=_parse_shape, default=None,
                        help="shape of one positional argument, like 3,4 ('' for a scalar); "
                        "repeat for each argument")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32", "float16"))
    parser.add_argument("--order", type=int, default=1)
    parser.add_argument("--modes", default="fwd,rev", help="fwd, rev or fwd,rev")
    parser.add_argument("--method", default="auto", choices=METHODS)
    parser.add_argument("--probes", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="every coordinate, not probes")
    parser.add_argument("--domain", default="real", choices=("real", "positive", "normal"),
                        help="inputs uniform in (-2, 2), (0.5, 2), or standard normal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--taylor", action="store_true", help="add the Taylor-remainder test")
    opts = parser.parse_args(list(argv))
    f = _load_function(opts.function)
    rng = np.random.default_rng(opts.seed)
    shapes = opts.shape or [(3,)]
    args = tuple(_sample(rng, opts.domain, s, opts.dtype) for s in shapes)
    modes = tuple(m.strip() for m in opts.modes.split(",") if m.strip())
    try:
        rep = report(f, args, order=opts.order, modes=modes, method=opts.method,
                     probes=opts.probes, full=opts.full, seed=opts.seed, taylor=opts.taylor)
    except (TypeError, ValueError) as err:
        print(f"pullback check: {err}", file=sys.stderr)
        return 2
    print(rep)
    return 0 if rep.ok else 1


def cli_audit(argv: Sequence[str]) -> int:
    """``pullback audit``: check every registered rule and print the health table.

    Returns 0 when no rule fails, 1 otherwise (functions without a case do not fail).

    Example:
        >>> cli_audit(["--only", "sin", "--order", "1"])  # doctest: +ELLIPSIS
        function ...
        0
    """
    parser = argparse.ArgumentParser(
        prog="pullback audit",
        description="Check every registered derivative rule on inputs from its domain.",
    )
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--probes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", default=None,
                        help="audit only this function (repeatable)")
    opts = parser.parse_args(list(argv))
    rep = audit(order=opts.order, probes=opts.probes, seed=opts.seed, only=opts.only)
    print(rep)
    return 0 if rep.ok else 1
