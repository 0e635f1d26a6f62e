"""Rows for reductions: axis as int, tuple, negative or None, keepdims, 0-d and size-0 arrays;
products with exact zeros among the entries; max/min on distinct values (ties have their
own tests in ``tests/test_special_values.py``); NaN-ignoring reductions with NaNs."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _with_zeros(rng, shape):
    """Values in (-2, 2) with about a third of the entries exactly zero."""
    x = rng.uniform(-2.0, 2.0, shape)
    return np.where(rng.random(shape) < 0.35, 0.0, x)


def _distinct(rng, shape):
    """Values at least 0.3 apart, in random order."""
    n = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(n) - n / 2 + 0.5) * 0.4 + rng.uniform(-0.05, 0.05, n)).reshape(shape)


def _with_nans(sampler):
    def sample(rng, shape):
        x = np.asarray(sampler(rng, shape), dtype=float)
        return np.where(rng.random(shape) < 0.25, np.nan, x)

    return sample


def _real(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def _rows(name, fn, ref, cases, *domains, **kw):
    """One row per ``(tag, shapes, kwargs)`` case."""
    return [spec(name, fn, ref, shapes, *domains, kwargs=kwargs, tag=tag, **kw)
            for tag, shapes, kwargs in cases]


def _logsumexp(a, axis=None, b=None, keepdims=False):
    """A reference independent of pullback: the direct formula, shifted by the maximum (a
    0-d array is read as shape (1,), as SciPy does)."""
    a = np.asarray(a, dtype=float)
    a = a.reshape(1) if a.ndim == 0 else a
    m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(a - m) if b is None else b * np.exp(a - m)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(e, axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)



R3 = [((3, 4, 2),)]
AXES = [
    ("axis-none",     [((3, 4),), ((5,),), ((),)],  {}),
    ("axis1",         R3,                           {"axis": 1}),
    ("neg-axis",      R3,                           {"axis": -1}),
    ("tuple-keepdims", R3,                          {"axis": (0, -1), "keepdims": True}),
    ("none-keepdims", [((3, 4),)],                  {"axis": None, "keepdims": True}),
    ("empty-kept",    [((0, 3),)],                  {"axis": 1}),
]
# slices of 5 or more: an all-NaN slice (a NaN result) is left to the special-values tests
NAN_EXTREMA = [
    ("axis-none",     [((3, 4),)],    {}),
    ("axis1",         [((3, 5, 2),)], {"axis": 1}),
    ("neg-axis",      [((3, 2, 5),)], {"axis": -1}),
    ("tuple-keepdims", R3,            {"axis": (0, -1), "keepdims": True}),
]
EMPTY_REDUCED = [("empty-reduced", [((0, 3),), ((2, 0),)], {"axis": 0})]

# fmt: off
SPECS = (
    _rows("sum",   pnp.sum,   np.sum,   AXES[1:] + EMPTY_REDUCED)
    + _rows("mean",  pnp.mean,  np.mean,  AXES[2:])
    + _rows("prod",  pnp.prod,  np.prod,  AXES + EMPTY_REDUCED
            + [("odd", [((7, 3),), ((5,),)], {"axis": 0})], _with_zeros)
    + _rows("prod",  pnp.prod,  np.prod,  [("no-zeros", [((3, 5),)], {"axis": -1})])
    + _rows("max",   pnp.max,   np.max,   AXES, _distinct)
    + _rows("min",   pnp.min,   np.min,   AXES, _distinct)
    + _rows("amax",  pnp.amax,  np.amax,  AXES[:3], _distinct)
    + _rows("amin",  pnp.amin,  np.amin,  AXES[:3], _distinct)
    + _rows("ptp",   pnp.ptp,   np.ptp,   AXES, _distinct)
    + _rows("var",   pnp.var,   np.var,   AXES + [
            ("ddof1", [((3, 4, 2),)], {"axis": 1, "ddof": 1}),
            ("ddof1-none", [((5,),)], {"ddof": 1})])
    + _rows("std",   pnp.std,   np.std,   [
            ("axis-none", [((3, 4),), ((5,),)], {}), *AXES[1:],
            ("ddof1", [((3, 4, 2),)], {"axis": -2, "ddof": 1})], _distinct)
    + _rows("cumsum", pnp.cumsum, np.cumsum, [
            ("axis-none", [((3, 4),), ((),), ((0,),)], {}),
            ("axis0", [((3, 4),), ((0, 2),)], {"axis": 0}),
            ("neg-axis", [((2, 3, 4),)], {"axis": -2})])
    + _rows("cumprod", pnp.cumprod, np.cumprod, [
            ("axis-none", [((3, 4),), ((),), ((0,),), ((5,),)], {}),
            ("axis1-odd", [((3, 7),)], {"axis": 1}),
            ("neg-axis", [((2, 3, 4),), ((0, 3, 2),)], {"axis": -2})], _with_zeros)
    + _rows("nansum",  pnp.nansum,  np.nansum,  AXES[:4], _with_nans(_real))
    + _rows("nanmean", pnp.nanmean, np.nanmean, [("axis-none", [((3, 4),)], {}), *AXES[2:5]],
            _with_nans(_real))
    + _rows("nanprod", pnp.nanprod, np.nanprod, AXES[:4], _with_nans(_with_zeros))
    + _rows("nanmax",  pnp.nanmax,  np.nanmax,  NAN_EXTREMA, _with_nans(_distinct))
    + _rows("nanmin",  pnp.nanmin,  np.nanmin,  NAN_EXTREMA, _with_nans(_distinct))
    + _rows("logsumexp", pnp.logsumexp, _logsumexp, AXES)
    + _rows("nancumsum",  pnp.nancumsum,  np.nancumsum,  [
            ("axis-none", [((3, 4),), ((),)], {}), ("neg-axis", [((2, 3, 4),)], {"axis": -1})],
            _with_nans(_real))
    + _rows("nancumprod", pnp.nancumprod, np.nancumprod, [
            ("axis-none", [((3, 4),)], {}), ("axis0", [((5, 3),)], {"axis": 0})],
            _with_nans(_with_zeros))
    + _rows("nanvar", pnp.nanvar, np.nanvar, NAN_EXTREMA[:3] + [
            ("ddof1-keepdims", [((3, 6),)], {"axis": 1, "ddof": 1, "keepdims": True})],
            _with_nans(_real))
    + _rows("nanstd", pnp.nanstd, np.nanstd, NAN_EXTREMA[:3], _with_nans(_distinct))
    + _rows("median", pnp.median, np.median, [
            ("axis-none", [((3, 4),), ((5,),), ((),)], {}),
            ("axis1-odd", [((3, 5, 2),)], {"axis": 1}),
            ("neg-axis-even", [((3, 2, 4),)], {"axis": -1}),
            ("tuple-keepdims", R3, {"axis": (0, -1), "keepdims": True}),
            ("empty-kept", [((0, 3),)], {"axis": 1})], _distinct)
    + _rows("quantile", pnp.quantile, np.quantile, [
            ("scalar-q", [((3, 4),), ((7,),)], {"q": 0.3}),
            ("q-array-axis", [((3, 5, 2),)], {"q": [0.0, 0.25, 0.6, 1.0], "axis": 1}),
            ("q-2d-tuple-keepdims", R3, {"q": [[0.1], [0.9]], "axis": (0, 2),
                                         "keepdims": True})], _distinct)
    + _rows("percentile", pnp.percentile, np.percentile, [
            ("scalar-q", [((3, 4),)], {"q": 75}),
            ("q-list-neg-axis", [((3, 5),)], {"q": [10, 50, 95], "axis": -1})], _distinct)
    + [
    spec("average", lambda a, w: pnp.average(a, axis=1, weights=w),
         lambda a, w: np.average(a, axis=1, weights=w), [((3, 4), (4,)), ((0, 2), (2,))],
         "real", "positive", tag="1d-weights"),
    spec("average", lambda a, w: pnp.average(a, axis=-1, weights=w, keepdims=True),
         lambda a, w: np.average(a, axis=-1, weights=w, keepdims=True), [((2, 3, 4), (4,))],
         "real", "positive", tag="neg-axis-keepdims"),
    spec("average", lambda a, w: pnp.average(a, axis=(0, 2), weights=w),
         lambda a, w: np.average(a, axis=(0, 2), weights=w), [((3, 4, 2), (3, 2))],
         "real", "positive", tag="tuple-axis"),
    spec("average", lambda a, w: pnp.average(a, weights=w), lambda a, w: np.average(a, weights=w),
         [((3, 4), (3, 4)), ((), ())], "real", "positive", tag="full-weights"),
    spec("average", lambda a, w: np.multiply(*pnp.average(a, axis=0, weights=w, returned=True)),
         lambda a, w: np.multiply(*np.average(a, axis=0, weights=w, returned=True)),
         [((3, 4), (3,))], "real", "positive", tag="returned"),
    spec("average", pnp.average, np.average, [((3, 4),), ((),)], tag="unweighted"),
    spec("logsumexp", lambda a, b: pnp.logsumexp(a, axis=-1, b=b),
         lambda a, b: _logsumexp(a, axis=-1, b=b), [((3, 4), (4,)), ((3, 4), (3, 4))],
         "real", "positive", tag="b"),
    spec("logsumexp", lambda a, b: pnp.logsumexp(a, b=b, return_sign=True)[0],
         lambda a, b: _logsumexp(a, b=b), [((5,), (5,))], "real", "positive", tag="sign"),
    # methods on traced values
    spec("max",     lambda x: x.max(axis=0), lambda x: x.max(axis=0), [((3, 4),)], _distinct,
         tag="method"),
    spec("min",     lambda x: x.min(-1, keepdims=True), lambda x: x.min(-1, keepdims=True),
         [((3, 4),)], _distinct, tag="method"),
    spec("prod",    lambda x: x.prod(axis=1), lambda x: x.prod(axis=1), [((3, 4),)], _with_zeros,
         tag="method"),
    spec("var",     lambda x: x.var(ddof=1), lambda x: x.var(ddof=1), [((3, 4),)], tag="method"),
    spec("std",     lambda x: x.std(axis=0), lambda x: x.std(axis=0), [((3, 4),)], tag="method"),
    spec("cumsum",  lambda x: x.cumsum(axis=1), lambda x: x.cumsum(axis=1), [((3, 4),)],
         tag="method"),
    spec("cumprod", lambda x: x.cumprod(), lambda x: x.cumprod(), [((3, 4),)], _with_zeros,
         tag="method"),
    ]
)

# the same reductions through plain numpy on traced values (__array_function__)
_DISPATCH = [
    ("sum", {"axis": (0, 1)}, "real"), ("mean", {"axis": 0}, "real"),
    ("prod", {"axis": 1}, _with_zeros), ("max", {"axis": 1}, _distinct),
    ("min", {}, _distinct), ("amax", {"axis": 0}, _distinct), ("amin", {}, _distinct),
    ("ptp", {"axis": 1}, _distinct), ("var", {"axis": 1, "ddof": 1}, "real"),
    ("std", {}, "real"), ("cumsum", {"axis": 0}, "real"), ("cumprod", {"axis": 1}, _with_zeros),
    ("average", {"axis": 1}, "real"), ("nansum", {"axis": 1}, _with_nans(_real)),
    ("nanmean", {}, _with_nans(_real)), ("nanprod", {}, _with_nans(_real)),
    ("nanmax", {"axis": 0}, _with_nans(_distinct)), ("nanmin", {}, _with_nans(_distinct)),
    ("nancumsum", {"axis": 1}, _with_nans(_real)), ("nancumprod", {}, _with_nans(_real)),
    ("nanvar", {"axis": 1}, _with_nans(_real)), ("nanstd", {}, _with_nans(_distinct)),
    ("median", {"axis": 0}, _distinct), ("quantile", {"q": 0.4, "axis": 1}, _distinct),
    ("percentile", {"q": [20, 80]}, _distinct),
]
SPECS += [spec(name, getattr(np, name), getattr(np, name), [((3, 4),)], dom, kwargs=kw,
               tag="np-dispatch") for name, kw, dom in _DISPATCH]

# the methods of binary ufuncs: pullback.numpy's (pnp.multiply.outer), and NumPy's own on
# traced values (np.multiply.outer, through __array_ufunc__); add/multiply/maximum/minimum
# are NumPy's reductions, the others a left fold along the axis
_UFUNC_METHODS = [
    ("multiply", "outer", [((3,), (2, 2)), ((), (3,))], {}, "real", ""),
    ("arctan2", "outer", [((2,), (3,))], {}, "real", ""),
    ("subtract", "reduce", [((4, 3),)], {"axis": 1}, "real", "axis1"),
    ("subtract", "reduce", [((5,),)], {}, "real", "1d"),
    ("divide", "reduce", [((3, 2),)], {"axis": 0, "keepdims": True}, "positive", "keepdims"),
    ("maximum", "reduce", [((3, 4),)], {"axis": None}, _distinct, "axis-none"),
    ("hypot", "reduce", [((3, 4),), ((),), ((1,),)], {"axis": None, "keepdims": True}, "real",
     "axis-none"),  # from hypot's identity 0: hypot.reduce([-2.0]) is 2.0, as NumPy's
    ("logaddexp", "reduce", [((3, 4),)], {"axis": 0}, "real", "axis0"),
    ("add", "accumulate", [((3, 4),)], {"axis": 1}, "real", ""),
    ("maximum", "accumulate", [((5,),), ((3, 4),)], {}, _distinct, ""),
    ("logaddexp", "accumulate", [((3, 4),)], {"axis": -1}, "real", ""),
    ("multiply", "reduceat", [((6,),)], {"indices": [0, 2, 2, 5]}, _with_zeros, ""),
    ("subtract", "reduceat", [((3, 6),)], {"indices": [1, 4], "axis": 1}, "real", ""),
]
for _uf, _meth, _shapes, _kw, _dom, _tag in _UFUNC_METHODS:
    _doms = (_dom, _dom) if _meth == "outer" else (_dom,)
    SPECS += [
        spec(f"{_uf}.{_meth}", getattr(getattr(pnp, _uf), _meth),
             getattr(getattr(np, _uf), _meth), _shapes, *_doms, kwargs=_kw, tag=_tag),
        spec(f"{_uf}.{_meth}", getattr(getattr(np, _uf), _meth),
             getattr(getattr(np, _uf), _meth), _shapes, *_doms, kwargs=_kw,
             tag=f"{_tag}-np-dispatch" if _tag else "np-dispatch"),
    ]
# fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts.


def _complex(rng, shape):
    return rng.uniform(-2.0, 2.0, shape) + 1j * rng.uniform(-2.0, 2.0, shape)


def _complex_with_zeros(rng, shape):
    return np.where(rng.random(shape) < 0.35, 0.0, _complex(rng, shape))


def _complex_distinct(rng, shape):
    """Real parts at least 0.3 apart (NumPy orders complex values by real part first)."""
    return _distinct(rng, shape) + 1j * rng.uniform(-1.0, 1.0, shape)


def _complex_with_nans(rng, shape):
    return np.where(rng.random(shape) < 0.25, np.nan, _complex(rng, shape))


def _scipy_logsumexp(a, axis=None, keepdims=False):
    """SciPy's complex logsumexp (the principal log of the sum of exponentials)."""
    m = np.max(np.real(a), axis=axis, keepdims=True, initial=-np.inf)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


C_AXES = [("complex", [((3, 4),), ((),)], {}), ("complex-axis", R3, {"axis": (0, -1)})]

# fmt: off
COMPLEX_SPECS = (
    _rows("sum",     pnp.sum,     np.sum,     C_AXES, _complex)
    + _rows("mean",    pnp.mean,    np.mean,    C_AXES, _complex)
    + _rows("prod",    pnp.prod,    np.prod,    C_AXES, _complex_with_zeros)
    + _rows("cumsum",  pnp.cumsum,  np.cumsum,  [("complex", [((3, 4),)], {"axis": 0})],
            _complex)
    + _rows("cumprod", pnp.cumprod, np.cumprod, [("complex", [((2, 5),)], {"axis": 1})],
            _complex_with_zeros)
    + _rows("var",     pnp.var,     np.var,     C_AXES + [
            ("complex-ddof1", [((3, 4, 2),)], {"axis": 1, "ddof": 1})], _complex)
    + _rows("std",     pnp.std,     np.std,     C_AXES + [
            ("complex-ddof1-keepdims", [((3, 4),)], {"axis": 0, "ddof": 1, "keepdims": True})],
            _complex)
    + _rows("nansum",  pnp.nansum,  np.nansum,  C_AXES[1:], _complex_with_nans)
    + _rows("nanmean", pnp.nanmean, np.nanmean, C_AXES[1:], _complex_with_nans)
    + _rows("nanvar",  pnp.nanvar,  np.nanvar,  [("complex", [((3, 5),)], {"axis": 1})],
            _complex_with_nans)
    + _rows("nanstd",  pnp.nanstd,  np.nanstd,  [("complex", [((3, 5),)], {"axis": -1})],
            _complex_with_nans)
    + _rows("max",     pnp.max,     np.max,     [("complex", [((3, 4),)], {"axis": 1})],
            _complex_distinct)
    + _rows("median",  pnp.median,  np.median,  [("complex", [((3, 4),), ((5,),)], {})],
            _complex_distinct)
    + _rows("logsumexp", pnp.logsumexp, _scipy_logsumexp, C_AXES[:1] + [
            ("complex-axis", [((3, 4),)], {"axis": 1, "keepdims": True})],
            lambda rng, s: _complex(rng, s) * 0.5)
    + [spec("average", lambda a, w: pnp.average(a, axis=0, weights=w),
            lambda a, w: np.average(a, axis=0, weights=w), [((3, 4), (3, 4))], _complex,
            "positive", tag="complex")]
)
# fmt: on
