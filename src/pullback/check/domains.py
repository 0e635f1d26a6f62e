"""Input domains: the one table of where each function is checked, and the one sampler.

A *domain* says how to draw an argument and where that argument is valid:

- a name from :data:`DOMAINS`: ``"real"`` (uniform in (-2, 2)), ``"positive"`` ((0.5, 2)),
  ``"nonzero"`` (|x| in (0.5, 2), random signs), ``"unit"`` ((-0.9, 0.9)), ``"gt1"``
  ((1.2, 3)), ``"normal"`` (standard normal), ``"complex"`` (real and imaginary parts each
  uniform in (-2, 2)), ``"well_conditioned"`` (square matrices ``U(-1, 1) + 3 I``),
  ``"int"`` (0, 1 or 2: held fixed, not differentiated) or ``"bool"`` (a mask, held fixed);
- an interval ``(lo, hi)``: uniform in it;
- a callable ``(rng, shape) -> array``.

:func:`sample` draws from any of them. :data:`FUNCTION_DOMAINS` maps a public function's
name (as the audit discovers it: ``"log"``, ``"linalg.inv"``, ``"scipy.special.logit"``) to
the domains of its positional arguments, for the functions that are smooth only on part of
the real line (``log`` needs positive input, ``arcsin`` input in (-1, 1), ``divide`` a nonzero
divisor). Functions not listed are checked on ``"real"`` inputs.

This table is the one place to edit. The rule audit (:mod:`pullback.check.audit`) samples
every case that names no domains of its own from it, and the spec table of the test suite
(``tests/specs``) falls back to it for rows that name none. Rows and cases that do name
their own domains (narrower intervals to keep away from roots, callables for structured
inputs) are tested against it: every input they draw must lie where the table says the
function is valid (:func:`valid`, ``tests/test_audit.py``), so the two cannot drift apart.
Functions whose valid inputs do not factor into one domain per argument (``fmod``:
``x / y`` must not be an integer; ``power``: a negative base needs an integer exponent) are
not in the table; their audit cases and spec rows name domains of their own.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = sample(rng, domain_of("log", 0), (3,))
    >>> bool(valid(domain_of("log", 0), x).all())
    True
    >>> sample(rng, "int", (4,)).dtype.kind
    'i'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DOMAINS", "FUNCTION_DOMAINS", "Domain", "domain_of", "domains_of", "sample",
           "valid"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Domain:
    """A named domain: how to draw from it, and where its values are valid.

    ``draw(rng, shape)`` returns float64 (or complex128, integer, boolean) values;
    ``contains(x)`` returns a boolean per entry (per matrix for matrix domains), true where
    ``x`` is a valid input (it may be wider than what ``draw`` gives: ``"unit"`` draws in
    (-0.9, 0.9) and is valid in (-1, 1)).

    Example:
        >>> d = DOMAINS["positive"]
        >>> bool(d.contains(np.array([0.1])).all()), d.description
        (True, 'uniform in (0.5, 2); valid where x > 0')
    """

    draw: Callable[[np.random.Generator, Shape], np.ndarray]
    contains: Callable[[np.ndarray], np.ndarray]
    description: str
    #: a derivative is taken with respect to it (False for integers and masks)
    differentiable: bool = True


def _uniform(lo: float, hi: float) -> Callable[[np.random.Generator, Shape], np.ndarray]:
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def _nonzero(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _complex(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, shape) + 1j * rng.uniform(-2.0, 2.0, shape)


def _well_conditioned(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"domain 'well_conditioned' draws square matrices, got shape {shape}: give a "
            "shape ending in (n, n)"
        )
    return rng.uniform(-1.0, 1.0, shape) + 3.0 * np.eye(shape[-1])


def _cond_ok(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        return np.zeros(x.shape[:-2] if x.ndim >= 2 else (), bool)
    if x.size == 0:
        return np.ones(x.shape[:-2], bool)
    with np.errstate(all="ignore"):
        return np.linalg.cond(x) < 1e6


def _finite(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x)


DOMAINS: dict[str, Domain] = {
    "real": Domain(_uniform(-2.0, 2.0), _finite, "uniform in (-2, 2); valid everywhere"),
    "positive": Domain(_uniform(0.5, 2.0), lambda x: np.real(x) > 0,
                       "uniform in (0.5, 2); valid where x > 0"),
    "nonzero": Domain(_nonzero, lambda x: x != 0,
                      "|x| uniform in (0.5, 2), random signs; valid where x != 0"),
    "unit": Domain(_uniform(-0.9, 0.9), lambda x: np.abs(x) < 1,
                   "uniform in (-0.9, 0.9); valid where |x| < 1"),
    "gt1": Domain(_uniform(1.2, 3.0), lambda x: np.real(x) > 1,
                  "uniform in (1.2, 3); valid where x > 1"),
    "normal": Domain(lambda rng, shape: rng.standard_normal(shape), _finite,
                     "standard normal; valid everywhere"),
    "complex": Domain(_complex, _finite,
                      "real and imaginary parts uniform in (-2, 2); valid everywhere"),
    "well_conditioned": Domain(_well_conditioned, _cond_ok,
                               "square matrices U(-1, 1) + 3 I; valid where the condition "
                               "number is below 1e6"),
    "int": Domain(lambda rng, shape: rng.integers(0, 3, shape),
                  lambda x: np.asarray(x).dtype.kind in "iu" and np.ones(np.shape(x), bool),
                  "integers 0, 1, 2 (held fixed)", differentiable=False),
    "bool": Domain(lambda rng, shape: rng.random(shape) < 0.5,
                   lambda x: np.asarray(x).dtype.kind == "b" and np.ones(np.shape(x), bool),
                   "a random mask (held fixed)", differentiable=False),
}

# fmt: off
#: public function name -> the domains of its positional arguments (see the module's text)
FUNCTION_DOMAINS: dict[str, tuple[Any, ...]] = {
    **{n: ("positive",) for n in ("log", "log2", "log10", "sqrt")},
    "log1p": ((-0.5, 2.0),),
    "tan": ((-1.2, 1.2),),
    **{n: ("unit",) for n in ("arcsin", "arccos", "arctanh", "asin", "acos", "atanh")},
    **{n: ("gt1",) for n in ("arccosh", "acosh")},  # NumPy 2's names are the same ufuncs
    # kinks or infinite derivatives at 0
    **{n: ("nonzero",) for n in ("cbrt", "reciprocal", "frexp", "abs", "absolute", "fabs")},
    **{n: ("real", "nonzero") for n in ("divide", "true_divide", "floor_divide", "arctan2",
                                        "atan2")},
    **{n: ("nonzero", "nonzero") for n in ("hypot", "copysign")},
    "float_power": ("positive", "real"),
    "ldexp": ("real", "int"),
    "where": ("bool", "real", "real"),
    # scipy.special
    **{f"scipy.special.{n}": ("positive",) for n in ("digamma", "gammaln")},
    "scipy.special.logit": ((0.1, 0.9),),
    "scipy.special.xlogy": ("real", "positive"),
    **{f"scipy.special.{n}": ("positive",) for n in ("entr", "y0", "y1")},
    **{f"scipy.special.{n}": ("positive", "positive") for n in ("beta", "kl_div", "rel_entr")},
    "scipy.special.erfinv": ("unit",),
    "scipy.special.erfcinv": ((0.1, 1.9),),
    **{f"scipy.special.{n}": ("nonzero",) for n in ("i0e", "i1e")},  # kinks at 0
    # linear algebra: inverses exist and are well conditioned
    **{f"linalg.{n}": ("well_conditioned",) for n in ("det", "inv", "slogdet")},
    "linalg.solve": ("well_conditioned", "real"),
}
# fmt: on


def domains_of(name: str) -> tuple[Any, ...]:
    """The domains of the positional arguments of the public function ``name`` (``()`` when
    it is not in :data:`FUNCTION_DOMAINS`: every argument is ``"real"``).

    Example:
        >>> domains_of("divide"), domains_of("sin")
        (('real', 'nonzero'), ())
    """
    return FUNCTION_DOMAINS.get(name, ())


def domain_of(name: str, i: int) -> Any:
    """The domain of positional argument ``i`` of ``name`` (``"real"`` when not listed).

    Example:
        >>> domain_of("divide", 1), domain_of("divide", 5)
        ('nonzero', 'real')
    """
    found = domains_of(name)
    return found[i] if i < len(found) else "real"


def _named(domain: str) -> Domain:
    try:
        return DOMAINS[domain]
    except KeyError:
        raise ValueError(
            f"unknown domain {domain!r}: use one of {', '.join(map(repr, DOMAINS))}, an "
            "interval (lo, hi) or a callable (rng, shape) -> array"
        ) from None


def _interval(domain: Any) -> tuple[float, float] | None:
    if (isinstance(domain, tuple) and len(domain) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in domain)):
        return float(domain[0]), float(domain[1])
    return None


def is_domain(domain: Any) -> bool:
    """Whether ``domain`` is one domain (a name, an interval or a callable), not a tuple of
    per-argument domains."""
    return isinstance(domain, str) or callable(domain) or _interval(domain) is not None


def sample(
    rng: np.random.Generator,
    domain: Any,
    shape: Shape,
    dtype: Any = None,
    read_only: bool = False,
) -> np.ndarray:
    """An array of ``shape`` drawn from ``domain`` (a name, ``(lo, hi)`` or a callable).

    ``dtype`` casts floating draws (a real dtype casts complex draws to its complex
    counterpart: ``float32`` gives ``complex64``); integer and boolean domains and callables
    keep their own dtype. ``read_only=True`` returns a copy that cannot be written to, so
    that a rule that mutates its input fails.

    Example:
        >>> x = sample(np.random.default_rng(0), "nonzero", (2, 3), dtype="float32")
        >>> x.dtype, bool(np.all((np.abs(x) > 0.5) & (np.abs(x) < 2)))
        (dtype('float32'), True)
        >>> sample(np.random.default_rng(0), "complex", (2,)).dtype
        dtype('complex128')
    """
    cast = True
    if callable(domain):
        x = np.array(domain(rng, shape))
        cast = False
    elif (bounds := _interval(domain)) is not None:
        x = rng.uniform(bounds[0], bounds[1], shape)
    elif isinstance(domain, str):
        named = _named(domain)
        x = np.asarray(named.draw(rng, shape))
        cast = named.differentiable
    else:
        raise ValueError(
            f"unknown domain {domain!r}: use one of {', '.join(map(repr, DOMAINS))}, an "
            "interval (lo, hi) or a callable (rng, shape) -> array"
        )
    if cast and dtype is not None:
        dt = np.dtype(dtype)
        if x.dtype.kind == "c" and dt.kind == "f":
            dt = np.result_type(dt, np.complex64)
        x = x.astype(dt)
    x = np.array(x)
    if read_only:
        x.flags.writeable = False
    return x


def valid(domain: Any, x: Any) -> np.ndarray:
    """Where ``x`` lies in ``domain``'s valid region (per entry; per matrix for matrix
    domains). A callable domain says nothing about validity: all true.

    Example:
        >>> valid("unit", np.array([0.95, -1.5])).tolist()
        [True, False]
    """
    x = np.asarray(x)
    if callable(domain):
        return np.ones(np.shape(x), bool)
    bounds = _interval(domain)
    if bounds is not None:
        return (x >= bounds[0]) & (x <= bounds[1])
    return np.asarray(_named(domain).contains(x), bool)


def differentiable(domain: Any) -> bool:
    """Whether arguments from ``domain`` are differentiated (not ``"int"`` or ``"bool"``)."""
    return not (isinstance(domain, str) and not _named(domain).differentiable)
