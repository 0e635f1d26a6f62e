"""All of NumPy's namespace in ``pullback.numpy``: the table of what each name is here.

Every public name of ``numpy``, ``numpy.linalg`` and ``numpy.fft`` is one of:

- **differentiable**: defined by ``pullback.numpy`` (a family module), with rules in both
  modes, checked to second order by the spec table (``tests/specs``);
- **pass-through**: either NumPy's own object (constants, dtypes and classes, constructors
  from shapes, readers, printing and error-state settings: :data:`PASS_THROUGH` says why),
  or, for functions whose results are integers, booleans or piecewise constant
  (:data:`CONSTANT`), a wrapper that takes traced arguments as constants (their values are
  used, no derivative flows: there is none);
- **refused** (:data:`REFUSED`): NumPy's function, which raises an error naming it and the
  reason when given a traced value.

Names that ``pullback.numpy`` does not define are looked up here by the module's
``__getattr__`` (:func:`lookup`), so ``pnp.float32``, ``pnp.random`` and ``pnp.errstate`` are
NumPy's own. ``tests/test_coverage.py`` fails when a public callable of NumPy is in no
table; ``docs/coverage.md`` lists them all.

Example:
    >>> import pullback.numpy as pnp
    >>> pnp.float32 is np.float32, pnp.searchsorted([1.0, 2.0], 1.5)
    (True, np.int64(1))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.numpy import _backends
from pullback.numpy._arraylike import has_tracer
from pullback.numpy._constant import constant_function
from pullback.numpy._registry import FUNCTIONS, binary, implements, unary

__all__ = [
    "CONSTANT",
    "CONSTRUCTORS",
    "PASS_THROUGH",
    "REFUSED",
    "classify",
    "install",
    "lookup",
    "public_callables",
]

# ----------------------------------------------------------------------------- the tables

#: functions whose results carry no derivative (integers, booleans, piecewise constants,
#: text): traced arguments are used as constants. Name -> what the result is.
CONSTANT: dict[str, str] = {
    # integer ufuncs (vectorised primitives)
    "bitwise_and": "integer bits", "bitwise_or": "integer bits", "bitwise_xor": "integer bits",
    "bitwise_count": "integer bits", "invert": "integer bits", "bitwise_not": "integer bits",
    "bitwise_invert": "integer bits", "left_shift": "integer bits",
    "right_shift": "integer bits", "bitwise_left_shift": "integer bits",
    "bitwise_right_shift": "integer bits", "gcd": "integers", "lcm": "integers",
    "spacing": "the spacing of floats, piecewise constant",
    # indices and counts
    "argpartition": "indices", "lexsort": "indices", "searchsorted": "indices",
    "digitize": "bin indices", "ravel_multi_index": "indices", "unravel_index": "indices",
    "diag_indices_from": "indices", "tril_indices_from": "indices",
    "triu_indices_from": "indices", "ix_": "index arrays",
    "packbits": "bits", "unpackbits": "bits",
    "histogram2d": "counts (edges from given bins or range)",
    "histogramdd": "counts (edges from given bins or range)",
    # booleans
    "isin": "booleans", "array_equiv": "a boolean", "iscomplex": "booleans",
    "isreal": "booleans", "isnat": "booleans", "isfortran": "a boolean",
    # metadata and text
    "einsum_path": "a contraction order", "min_scalar_type": "a dtype",
    "can_cast": "a boolean", "common_type": "a scalar type",
    "array2string": "text (the values)", "array_repr": "text (the values)",
    "array_str": "text (the values)", "format_float_positional": "text (the value)",
    "format_float_scientific": "text (the value)", "base_repr": "text",
    "binary_repr": "text", "datetime_as_string": "text",
    # linalg
    "linalg.matrix_rank": "an integer",
}

#: NumPy's own objects, used as they are (no array argument, or none a traced value can
#: stand for). Name -> what it is.
PASS_THROUGH: dict[str, str] = {
    **dict.fromkeys(["bartlett", "blackman", "hamming", "hanning"],
                    "constructor: a window from its length"),
    **dict.fromkeys(["indices", "diag_indices", "tril_indices", "triu_indices", "mask_indices"],
                    "constructor: indices from a shape"),
    "fromfunction": "constructor: calls the function on index grids (traced values it closes "
                    "over work)",
    **dict.fromkeys(["frombuffer", "fromfile", "fromiter", "fromregex", "fromstring",
                     "genfromtxt", "load", "loadtxt", "from_dlpack"],
                    "constructor: reads data"),
    "frompyfunc": "constructor: an object ufunc (on traced values use pnp.vectorize)",
    **dict.fromkeys(["busday_count", "busday_offset", "is_busday", "datetime_data"],
                    "dates"),
    "broadcast_shapes": "shapes", "nested_iters": "iterators",
    **dict.fromkeys(["isdtype", "issubdtype", "promote_types", "mintypecode", "typename"],
                    "dtypes"),
    **dict.fromkeys(["isscalar", "iterable"], "Python-level tests"),
    **dict.fromkeys(["get_printoptions", "set_printoptions", "printoptions", "getbufsize",
                     "setbufsize", "geterr", "seterr", "geterrcall", "seterrcall"],
                    "settings"),
    **dict.fromkeys(["get_include", "info", "show_config", "show_runtime", "test",
                     "linalg.test", "fft.test"], "tools"),
}

#: NumPy's constructors that ``pullback.numpy`` gives as buffers: NumPy's arrays outside a
#: transformation, traced constants that accept traced writes inside one (``full`` is also
#: differentiable in a traced ``fill_value``; ``linspace`` in its endpoints).
CONSTRUCTORS = frozenset({"zeros", "ones", "empty", "eye", "identity", "tri", "arange"})

#: NumPy's functions that refuse traced values, with the reason.
REFUSED: dict[str, str] = {
    "i0": "its derivative is the modified Bessel function I1, which NumPy does not provide "
          "(pullback.scipy.special has the Bessel functions)",
    "kaiser": "a traced beta would need the derivative of i0 (I1), which NumPy does not "
              "provide; pass beta as a constant",
    **dict.fromkeys(["asmatrix", "bmat"], "np.matrix cannot hold traced values (NumPy "
                    "deprecates it): use 2-d arrays and @"),
    **dict.fromkeys(["may_share_memory", "shares_memory"],
                    "traced values have no memory of their own; pullback follows NumPy's "
                    "views (writes through slices and reshapes reach their base) without it"),
    **dict.fromkeys(["save", "savetxt", "savez", "savez_compressed"],
                    "it writes to a file while the value is still being traced; return the "
                    "value from the transformed function and save the result"),
}


# ----------------------------------------------------------------------------- constants

# the integer ufuncs: vectorised primitives without derivative (also for ``&``, ``|``...)
bitwise_and = binary("bitwise_and", np.bitwise_and, None, None)
bitwise_or = binary("bitwise_or", np.bitwise_or, None, None)
bitwise_xor = binary("bitwise_xor", np.bitwise_xor, None, None)
left_shift = binary("left_shift", np.left_shift, None, None)
right_shift = binary("right_shift", np.right_shift, None, None)
gcd = binary("gcd", np.gcd, None, None)
lcm = binary("lcm", np.lcm, None, None)
invert = unary("invert", np.invert, None)
spacing = unary("spacing", np.spacing, None)
bitwise_not = bitwise_invert = invert
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift
_UFUNCS = {
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
    "left_shift": left_shift, "right_shift": right_shift, "gcd": gcd, "lcm": lcm,
    "invert": invert, "spacing": spacing, "bitwise_not": invert, "bitwise_invert": invert,
    "bitwise_left_shift": left_shift, "bitwise_right_shift": right_shift,
}
if hasattr(np, "bitwise_count"):
    bitwise_count = unary("bitwise_count", np.bitwise_count, None)
    _UFUNCS["bitwise_count"] = bitwise_count


def _histogram_nd(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``histogram2d``/``histogramdd``: the counts are constants; edges computed from traced
    samples (no explicit bins or range) or traced weights would need derivatives."""
    constant = constant_function(name, func, multiple=True)

    def histogram(*args: Any, **kwargs: Any) -> Any:
        if not has_tracer((args, kwargs)):
            return func(*args, **kwargs)
        names = ("x", "y", "bins", "range", "density", "weights") if name == "histogram2d" \
            else ("sample", "bins", "range", "density", "weights")
        given = dict(zip(names, args, strict=False)) | kwargs
        bins, rng = given.get("bins", 10), given.get("range")
        if has_tracer(given.get("weights")) or has_tracer(bins):
            raise NotImplementedError(
                f"pullback.numpy.{name}: traced weights or bins are not supported (the "
                "derivative of weighted counts is not implemented here); use pnp.histogram "
                "for one dimension, or pass them as constants")
        explicit = rng is not None or (not np.isscalar(bins) and all(
            np.ndim(b) == 1 for b in bins))
        if not explicit:
            raise NotImplementedError(
                f"pullback.numpy.{name}: with traced samples and no range= or explicit bin "
                "edges, the edges are computed from the samples and would carry a derivative "
                "NumPy's function does not give; pass range= or the edges as arrays")
        return tuple(constant(*args, **kwargs))

    histogram.__name__ = histogram.__qualname__ = name
    histogram.__doc__ = constant.__doc__
    histogram.__wrapped__ = func  # type: ignore[attr-defined]
    histogram.__pullback_kind__ = "constant"  # type: ignore[attr-defined]
    return histogram


def _make_constant(name: str) -> Callable[..., Any]:
    module, _, short = name.rpartition(".")
    numpy_module = getattr(np, module) if module else np
    func = getattr(numpy_module, short)
    if short in ("histogram2d", "histogramdd"):
        wrapper = _histogram_nd(short, func)
    else:
        impl = _backends.searchsorted_any if name == "searchsorted" else func  # any library
        wrapper = constant_function(name, impl,
                                    multiple=short in ("unravel_index", "ix_",
                                                       "tril_indices_from",
                                                       "triu_indices_from",
                                                       "diag_indices_from"))
    try:
        implements(func)(wrapper)
    except TypeError:  # pragma: no cover - a NumPy object that is not hashable
        pass
    return wrapper


#: the wrappers of :data:`CONSTANT` (the ufuncs above, the rest made here), by name
CONSTANT_FUNCTIONS: dict[str, Callable[..., Any]] = {}
for _name in CONSTANT:
    _module, _, _short = _name.rpartition(".")
    if not hasattr(getattr(np, _module) if _module else np, _short):
        continue  # a NumPy that lacks it
    CONSTANT_FUNCTIONS[_name] = _UFUNCS.get(_name) or _make_constant(_name)


def _refusing(name: str, func: Callable[..., Any], reason: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def refuse(*args: Any, **kwargs: Any) -> Any:
        if has_tracer((args, tuple(kwargs.values()))):
            raise NotImplementedError(f"pullback.numpy.{name} cannot take traced values: "
                                      f"{reason}")
        return func(*args, **kwargs)

    refuse.__pullback_kind__ = "refused"  # type: ignore[attr-defined]
    return refuse


REFUSED_FUNCTIONS: dict[str, Callable[..., Any]] = {}
for _name, _reason in REFUSED.items():
    _module, _, _short = _name.rpartition(".")
    _numpy_module = getattr(np, _module) if _module else np
    if hasattr(_numpy_module, _short):
        REFUSED_FUNCTIONS[_name] = _refusing(_name, getattr(_numpy_module, _short), _reason)
        FUNCTIONS[getattr(_numpy_module, _short)] = REFUSED_FUNCTIONS[_name]


# ----------------------------------------------------------------------------- lookups


def lookup(prefix: str, name: str) -> Any:
    """The object ``pullback.numpy`` (``prefix`` ``""``), ``.linalg`` or ``.fft`` gives for a
    name it does not define: a wrapper of the tables, or NumPy's own object.

    Example:
        >>> lookup("", "float64") is np.float64
        True
    """
    qualified = prefix + name
    if qualified in CONSTANT_FUNCTIONS:
        return CONSTANT_FUNCTIONS[qualified]
    if qualified in REFUSED_FUNCTIONS:
        return REFUSED_FUNCTIONS[qualified]
    numpy_module = getattr(np, prefix[:-1]) if prefix else np
    if name.startswith("_") or not hasattr(numpy_module, name):
        where = "pullback.numpy" + ("." + prefix[:-1] if prefix else "")
        raise AttributeError(f"module '{where}' has no attribute '{name}'")
    return getattr(numpy_module, name)


def public_callables(module: Any) -> list[str]:
    """The public callable names of a NumPy module (functions, ufuncs and classes; not the
    submodules or constants).

    Example:
        >>> "sin" in public_callables(np), "pi" in public_callables(np)
        (True, False)
    """
    out = []
    for name in dir(module):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        if callable(obj) and not isinstance(obj, type(np)):
            out.append(name)
    return out


def classify(qualified: str, defined: Any) -> tuple[str, str]:
    """``(kind, note)`` for the NumPy name ``qualified`` (``"sin"``, ``"linalg.eig"``), given
    what ``pullback.numpy`` defines for it (``None`` when it defines nothing): kind is
    ``"differentiable"``, ``"constant"``, ``"pass-through"``, ``"refused"`` or ``"missing"``.

    Example:
        >>> classify("float64", None)
        ('pass-through', "a class or scalar type (NumPy's own)")
    """
    if qualified in REFUSED:
        return "refused", REFUSED[qualified]
    if qualified in CONSTANT:
        return "constant", CONSTANT[qualified]
    if qualified in PASS_THROUGH:
        return "pass-through", PASS_THROUGH[qualified]
    if qualified in CONSTRUCTORS:
        return "pass-through", ("constructor (inside a transformation, a buffer that accepts "
                                "traced writes)")
    module, _, short = qualified.rpartition(".")
    numpy_obj = getattr(getattr(np, module) if module else np, short, None)
    if defined is not None and defined is not numpy_obj:
        kind = getattr(defined, "__pullback_kind__", "differentiable")
        return kind, ""
    if isinstance(numpy_obj, type):
        return "pass-through", "a class or scalar type (NumPy's own)"
    return "missing", ""


def install(modules: dict[str, Any]) -> None:
    """Give the modules of ``pullback.numpy`` (by prefix: ``""``, ``"linalg."``, ``"fft."``)
    the lookup of :func:`lookup` for the names they do not define."""
    for prefix, module in modules.items():
        if "__getattr__" not in vars(module):  # a module's own lookup comes first
            module.__getattr__ = functools.partial(lookup, prefix)
