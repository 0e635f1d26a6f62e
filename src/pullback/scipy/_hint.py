"""The error for a SciPy function (not a ufunc) called on a traced value.

SciPy's ufuncs (``scipy.special.erf``) dispatch through NumPy's protocols; its other
functions (``scipy.stats.norm.logpdf``, ``scipy.linalg.solve_triangular``,
``scipy.special.logsumexp``) convert their arguments to plain arrays, which would drop the
derivative. When that conversion comes from inside SciPy, the error names the SciPy function
the program called and the ``pullback.scipy`` function to call instead, when there is one.
Installed as the core's ``library_hint``; the call stack is read only when the error is
raised.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from pullback.core import trace as _trace


def _in(frame: types.FrameType, package: str) -> bool:
    name = frame.f_globals.get("__name__", "")
    return isinstance(name, str) and (name == package or name.startswith(package + "."))


def _public_module(module: str) -> str:
    """``scipy.linalg._basic`` -> ``scipy.linalg``: the module path without private parts."""
    parts = module.split(".")
    keep = []
    for p in parts:
        if p.startswith("_"):
            break
        keep.append(p)
    return ".".join(keep)


def _resolve(dotted: str) -> Any:
    """The object at ``dotted`` among the loaded modules (no import), or None."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        mod = sys.modules.get(".".join(parts[:k]))
        if mod is None:
            continue
        obj: Any = mod
        for name in parts[k:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def _function_name(func: Any) -> str | None:
    """SciPy's public name of the function ``func`` (``scipy.linalg.solve_triangular``)."""
    module, name = getattr(func, "__module__", None), getattr(func, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str) or name.startswith("_"):
        return None
    if not (module == "scipy" or module.startswith("scipy.")):
        return None
    public = _public_module(module)
    found = _resolve(f"{public}.{name}")
    if found is None:
        return None
    return f"{public}.{name}"


def _method_name(frame: types.FrameType) -> str | None:
    """``scipy.stats.norm.logpdf`` for a method of a distribution (frozen or not);
    ``scipy.interpolate.CubicSpline`` (called) or ``scipy.interpolate.CubicSpline.derivative``
    for a method of an object of a public SciPy class."""
    owner = frame.f_locals.get("self")
    if owner is None:
        return None
    name = frame.f_code.co_name
    dist = getattr(owner, "dist", owner)  # a frozen distribution holds its family
    family = getattr(dist, "name", None)
    module = _public_module(frame.f_globals.get("__name__", ""))
    # a frozen distribution's family is a copy of SciPy's object: compare the classes
    if (isinstance(family, str) and not name.startswith("_")
            and type(_resolve(f"{module}.{family}")) is type(dist)):
        return f"{module}.{family}.{name}"
    cls = type(owner)
    public = _public_module(getattr(cls, "__module__", ""))
    if (public.startswith("scipy") and not cls.__name__.startswith("_")
            and _resolve(f"{public}.{cls.__name__}") is cls):
        if name == "__call__":
            return f"{public}.{cls.__name__}"
        if not name.startswith("_"):
            return f"{public}.{cls.__name__}.{name}"
    return None


def _frame_name(frame: types.FrameType) -> str | None:
    """SciPy's public name of the function a frame runs: itself, a method of a public
    object, or the function a decorator's wrapper wraps (found among its variables)."""
    if "self" in frame.f_code.co_varnames[:1]:
        return _method_name(frame)
    module = _public_module(frame.f_globals.get("__name__", ""))
    name = frame.f_code.co_name
    if not name.startswith("_") and "<" not in name:
        own = _resolve(f"{module}.{name}")
        if own is not None:
            return f"{module}.{name}"
    for value in frame.f_locals.values():  # a wrapper: the function it wraps
        if isinstance(value, types.FunctionType) and (found := _function_name(value)):
            return found
    return None


def _scipy_caller() -> str | None:
    """The public name of the SciPy function the program called, which is converting a
    traced value: the outermost of the SciPy frames nearest to the conversion that has a
    public name (NumPy's and pullback's frames in between are skipped)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and not _in(frame, "scipy"):  # up to the first SciPy frame
        # only the conversion itself (the core's tracer) and NumPy may lie in between: a
        # conversion in the user's code or in pullback's, called by SciPy, is not SciPy's
        if not (_in(frame, "pullback.core.trace") or _in(frame, __name__)
                or _in(frame, "numpy")):
            return None
        frame = frame.f_back
    run = []
    while frame is not None and (_in(frame, "scipy") or _in(frame, "numpy")):
        if _in(frame, "scipy"):
            run.append(frame)
        frame = frame.f_back
    for f in reversed(run):  # the outermost first
        if (name := _frame_name(f)) is not None:
            return name
    return None


def _replacement(name: str) -> str | None:
    """``pullback.scipy.stats.norm.logpdf`` for ``scipy.stats.norm.logpdf``, when it exists
    (SciPy's lazily loaded submodules of pullback are loaded to look)."""
    obj: Any = sys.modules.get("pullback.scipy")
    if obj is None:
        return None
    for part in name.split(".")[1:]:
        try:
            obj = getattr(obj, part)
        except (AttributeError, ImportError):
            return None
    return f"pullback.{name}"


def scipy_hint(found: str) -> str | None:
    """The message for a traced value converted inside SciPy, or None when SciPy is not the
    caller (the core's ``library_hint``)."""
    name = _scipy_caller()
    if name is None:
        return None
    ours = _replacement(name)
    if ours is not None:
        method = name.startswith("scipy.stats.") and name.count(".") == 3
        same = ("the same arguments; a frozen distribution's parameters as arguments too"
                if method else "the same arguments")
        return (
            f"{name} was called on {found}; use {ours} ({same}), which is "
            f"differentiable: SciPy's own function converts its arguments to plain NumPy "
            "arrays, which would drop the derivative"
        )
    return (
        f"{name} was called on {found}: SciPy's function converts its arguments to plain "
        "NumPy arrays, which would drop the derivative, and pullback.scipy has no "
        f"{name.removeprefix('scipy.')}. Write it with pullback.numpy operations (or "
        "pullback.scipy's functions), wrap it with pullback.custom_vjp and give its "
        "derivative, or call pb.stop_gradient(x) first if the derivative should be dropped"
    )


_trace.library_hint = scipy_hint
