"""Rows for elementwise functions: NumPy's differentiable ufuncs, ``clip``, ``nan_to_num``,
``real``/``imag``/``conj``, and the non-differentiable ones (their rows check that traced
values pass through them as constants: the derivative flows through the other factor).

Domains keep the finite-difference oracle away from kinks, jumps and singularities.
"""

import numpy as np

import pullback.numpy as pnp
from specs import spec

UNARY = [((3, 2),), ((),), ((0,),), ((4,),)]
BINARY = [((3, 2), (3, 2)), ((3, 2), (2,)), ((1, 2), (3, 1)), ((), (4,)), ((0, 2), (2,))]
SMALL = [((3, 2),), ((),)]


def _signed(lo, hi):
    """|x| in (lo, hi) with random signs."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def _off_int(rng, shape):
    """Values at least 0.2 from every integer (floor, ceil, rint... are constant nearby)."""
    return rng.integers(-3, 3, shape) + rng.uniform(0.2, 0.8, shape)


def _distinct(rng, shape):
    """Values at least 0.3 apart and 0.15 from 0, in random order (no ties or sign changes
    under small perturbations)."""
    n = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(n) - n / 2 + 0.5) * 0.4 + rng.uniform(-0.05, 0.05, n)).reshape(shape)


def _clip_input(rng, shape):
    """Inside, below and above the bounds of the clip rows (-1 +- 0.2, 1 +- 0.2, +-0.5),
    never within 0.1 of one."""
    bins = np.array([[-2.0, -1.4], [-0.35, 0.35], [1.4, 2.0]])
    pick = bins[rng.integers(0, 3, shape)]
    return rng.uniform(pick[..., 0], pick[..., 1])


def _f32(fn):
    return lambda *xs: fn(*(pnp.astype(x, np.float32) for x in xs))


def _ref32(fn):
    return lambda *xs: fn(*(np.asarray(x).astype(np.float32) for x in xs))


def _np(name):
    """The same function called through plain ``numpy`` on traced values (dispatch)."""
    return getattr(np, name)


# quotient of the fmod/remainder rows in {-2, -1, 1}: x / y kept 0.1 away from integers
FMOD_X = _signed(2.3, 2.9)
FMOD_Y = (1.55, 1.95)
RES32 = dict(rtol=2e-5, atol=1e-6, order=1)  # float32: second order by the float64 rows

# fmt: off
SPECS = [
    # exp and log families
    spec("exp2",       pnp.exp2,       np.exp2,       UNARY),
    spec("expm1",      pnp.expm1,      np.expm1,      UNARY),
    spec("log2",       pnp.log2,       np.log2,       UNARY, "positive"),
    spec("log10",      pnp.log10,      np.log10,      UNARY, "positive"),
    spec("log1p",      pnp.log1p,      np.log1p,      UNARY, (-0.5, 2.0)),
    spec("logaddexp",  pnp.logaddexp,  np.logaddexp,  BINARY),
    spec("logaddexp2", pnp.logaddexp2, np.logaddexp2, BINARY),
    # trigonometric, inverse and hyperbolic
    spec("tan",        pnp.tan,        np.tan,        UNARY, (-1.2, 1.2)),
    spec("arcsin",     pnp.arcsin,     np.arcsin,     UNARY, (-0.9, 0.9)),
    spec("arccos",     pnp.arccos,     np.arccos,     UNARY, (-0.9, 0.9)),
    spec("arctan",     pnp.arctan,     np.arctan,     UNARY),
    spec("sinh",       pnp.sinh,       np.sinh,       UNARY),
    spec("cosh",       pnp.cosh,       np.cosh,       UNARY),
    spec("arcsinh",    pnp.arcsinh,    np.arcsinh,    UNARY),
    spec("arccosh",    pnp.arccosh,    np.arccosh,    UNARY, (1.2, 3.0)),
    spec("arctanh",    pnp.arctanh,    np.arctanh,    UNARY, (-0.9, 0.9)),
    spec("arctan2",    pnp.arctan2,    np.arctan2,    BINARY, "nonzero", "nonzero"),
    spec("hypot",      pnp.hypot,      np.hypot,      BINARY, "nonzero", "nonzero"),
    spec("sinc",       pnp.sinc,       np.sinc,       UNARY),
    spec("sinc",       pnp.sinc,       np.sinc,       [((3, 4),), ((),)], (-0.15, 0.15),
         tag="near-0"),
    spec("deg2rad",    pnp.deg2rad,    np.deg2rad,    UNARY),
    spec("rad2deg",    pnp.rad2deg,    np.rad2deg,    UNARY),
    spec("radians",    pnp.radians,    np.radians,    SMALL),
    spec("degrees",    pnp.degrees,    np.degrees,    SMALL),
    # powers and roots
    spec("square",     pnp.square,     np.square,     UNARY),
    spec("cbrt",       pnp.cbrt,       np.cbrt,       UNARY, "nonzero"),
    spec("reciprocal", pnp.reciprocal, np.reciprocal, UNARY, "nonzero"),
    spec("float_power", pnp.float_power, np.float_power, BINARY, "positive", "real"),
    spec("power",      pnp.power,      np.power,      [((3, 2), ())], "nonzero", "int",
         tag="negative-base"),
    spec("ldexp",      pnp.ldexp,      np.ldexp,      [((3, 2), (3, 2)), ((3, 2), (2,)),
                                                       ((), (4,)), ((0,), ())], "real", "int"),
    # signs and magnitudes
    spec("absolute",   pnp.absolute,   np.absolute,   UNARY, "nonzero"),
    spec("fabs",       pnp.fabs,       np.fabs,       UNARY, "nonzero"),
    spec("copysign",   pnp.copysign,   np.copysign,   BINARY, "nonzero", "nonzero"),
    spec("positive",   pnp.positive,   np.positive,   UNARY),
    # modular arithmetic, away from the jumps
    spec("fmod",       pnp.fmod,       np.fmod,       BINARY, FMOD_X, FMOD_Y),
    spec("remainder",  pnp.remainder,  np.remainder,  BINARY, FMOD_X, FMOD_Y),
    spec("mod",        pnp.mod,        np.mod,        [((3, 2), (2,))], FMOD_X, FMOD_Y),
    spec("remainder",  lambda x, y: x % y, lambda x, y: x % y, [((3, 2), ())], FMOD_X, FMOD_Y,
         tag="operator"),
    # two outputs
    spec("modf",       lambda x: pnp.modf(x)[0] * pnp.modf(x)[1],
         lambda x: np.modf(x)[0] * np.modf(x)[1], UNARY, _off_int),
    spec("modf",       lambda x: np.modf(x)[0], lambda x: np.modf(x)[0], SMALL, _off_int,
         tag="np-dispatch"),
    spec("frexp",      lambda x: pnp.frexp(x)[0] * pnp.frexp(x)[1],
         lambda x: np.frexp(x)[0] * np.frexp(x)[1], UNARY, _signed(1.1, 1.9),
         covers=("frexp_exponent",)),
    spec("frexp",      lambda x: np.frexp(x)[0], lambda x: np.frexp(x)[0], SMALL,
         _signed(2.2, 3.8), tag="np-dispatch", covers=("frexp_exponent",)),
    spec("divmod",     lambda x, y: np.multiply(*pnp.divmod(x, y)),
         lambda x, y: np.multiply(*np.divmod(x, y)), BINARY, FMOD_X, FMOD_Y),
    spec("divmod",     lambda x, y: divmod(x, y)[1], lambda x, y: divmod(x, y)[1],
         [((3, 2), ())], FMOD_X, FMOD_Y, tag="operator"),
    # selection
    spec("fmax",       pnp.fmax,       np.fmax,       BINARY),
    spec("fmin",       pnp.fmin,       np.fmin,       BINARY),
    spec("maximum",    pnp.maximum,    np.maximum,    [((3, 2), ())], tag="scalar"),
    spec("clip",       lambda a, lo, hi: pnp.clip(a, lo, hi), np.clip,
         [((3, 4), (), ()), ((3, 4), (4,), (3, 1)), ((), (), ()), ((0, 2), (2,), ())],
         _clip_input, (-1.2, -0.8), (0.8, 1.2)),
    spec("clip",       lambda a: pnp.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
         UNARY, _clip_input, tag="constant-bounds"),
    spec("clip",       lambda a: pnp.clip(a, max=0.5), lambda a: np.clip(a, max=0.5),
         SMALL, _clip_input, tag="max-only"),
    spec("clip",       lambda a: a.clip(-0.5), lambda a: a.clip(-0.5), SMALL, _clip_input,
         tag="method"),
    spec("nan_to_num", pnp.nan_to_num, np.nan_to_num, UNARY),
    # real-valued inputs of the complex functions
    spec("real",       pnp.real,       np.real,       SMALL),
    spec("imag",       lambda x: x + pnp.imag(x), lambda x: x + np.imag(x), SMALL),
    spec("conj",       pnp.conj,       np.conj,       SMALL),
    spec("conjugate",  pnp.conjugate,  np.conjugate,  SMALL),
    spec("conjugate",  lambda x: x.conj() + x.real + x.imag,
         lambda x: x.conj() + x.real + x.imag, SMALL, tag="methods"),
    # float32 stays float32 in both modes
    spec("arctan2",    _f32(pnp.arctan2), _ref32(np.arctan2), [((3, 2), (2,))], "nonzero",
         "nonzero", tag="float32", smooth=np.arctan2, **RES32),
    spec("logaddexp",  _f32(pnp.logaddexp), _ref32(np.logaddexp), [((3, 2), (3, 2))],
         tag="float32", smooth=np.logaddexp, **RES32),
    spec("sinc",       _f32(pnp.sinc), _ref32(np.sinc), [((4,),)], tag="float32", smooth=np.sinc,
         **RES32),
    spec("float_power", _f32(pnp.float_power), _ref32(np.float_power), [((3,), (3,))],
         "positive", tag="float32-in", smooth=np.float_power, rtol=1e-6, atol=1e-7, order=1),
    spec("cbrt",       _f32(pnp.cbrt), _ref32(np.cbrt), [((4,),)], "nonzero", tag="float32",
         smooth=np.cbrt, **RES32),
]

# the same functions through plain numpy on traced values (__array_ufunc__/__array_function__)
_DISPATCH = [
    ("exp2", "real"), ("expm1", "real"), ("log2", "positive"), ("log10", "positive"),
    ("log1p", "positive"), ("tan", (-1.2, 1.2)), ("arcsin", (-0.9, 0.9)),
    ("arccos", (-0.9, 0.9)), ("arctan", "real"), ("sinh", "real"), ("cosh", "real"),
    ("arcsinh", "real"), ("arccosh", (1.2, 3.0)), ("arctanh", (-0.9, 0.9)), ("sinc", "real"),
    ("deg2rad", "real"), ("rad2deg", "real"), ("radians", "real"), ("degrees", "real"),
    ("square", "real"), ("cbrt", "nonzero"), ("reciprocal", "nonzero"), ("fabs", "nonzero"),
    ("absolute", "nonzero"), ("positive", "real"), ("nan_to_num", "real"), ("real", "real"),
    ("conjugate", "real"),
]
SPECS += [spec(name, _np(name), _np(name), [((3, 2),)], dom, tag="np-dispatch")
          for name, dom in _DISPATCH]
_DISPATCH2 = [
    ("logaddexp", "real", "real"), ("logaddexp2", "real", "real"),
    ("arctan2", "nonzero", "nonzero"), ("hypot", "nonzero", "nonzero"),
    ("float_power", "positive", "real"), ("copysign", "nonzero", "nonzero"),
    ("fmod", FMOD_X, FMOD_Y), ("remainder", FMOD_X, FMOD_Y), ("fmax", "real", "real"),
    ("fmin", "real", "real"), ("ldexp", "real", "int"),
]
SPECS += [spec(name, _np(name), _np(name), [((3, 2), (2,))], d1, d2, tag="np-dispatch")
          for name, d1, d2 in _DISPATCH2]
SPECS += [
    spec("clip", lambda a, lo, hi: np.clip(a, lo, hi), np.clip, [((3, 4), (4,), ())],
         _clip_input, (-1.2, -0.8), (0.8, 1.2), tag="np-dispatch"),
    spec("imag", lambda x: x + np.imag(x), lambda x: x + np.imag(x), [((3, 2),)],
         tag="np-dispatch"),
]

# non-differentiable functions: traced values pass through as constants
_ND = [
    ("sign",        lambda x: x * pnp.sign(x),            lambda x: x * np.sign(x),   "nonzero"),
    ("floor",       lambda x: x * pnp.floor(x),           lambda x: x * np.floor(x),  _off_int),
    ("ceil",        lambda x: x * pnp.ceil(x),            lambda x: x * np.ceil(x),   _off_int),
    ("rint",        lambda x: x * pnp.rint(x),            lambda x: x * np.rint(x),   _off_int),
    ("trunc",       lambda x: x * pnp.trunc(x),           lambda x: x * np.trunc(x),  _off_int),
    ("fix",         lambda x: x * pnp.fix(x),             lambda x: x * np.fix(x),    _off_int),
    ("round",       lambda x: x * pnp.round(x),           lambda x: x * np.round(x),  _off_int),
    ("around",      lambda x: x * pnp.around(x),          lambda x: x * np.around(x), _off_int),
    ("around",      lambda x: x * x.round(),              lambda x: x * x.round(),    _off_int),
    ("signbit",     lambda x: pnp.where(pnp.signbit(x), -x, 2 * x),
                    lambda x: np.where(np.signbit(x), -x, 2 * x),                     "nonzero"),
    ("isfinite",    lambda x: pnp.where(pnp.isfinite(x), x, 0.0), lambda x: x,       "real"),
    ("isnan",       lambda x: pnp.where(pnp.isnan(x), 0.0, x),    lambda x: x,       "real"),
    ("isinf",       lambda x: pnp.where(pnp.isinf(x), 0.0, x),    lambda x: x,       "real"),
    ("isposinf",    lambda x: pnp.where(pnp.isposinf(x), 0.0, x), lambda x: x,       "real"),
    ("isneginf",    lambda x: pnp.where(pnp.isneginf(x), 0.0, x), lambda x: x,       "real"),
    ("logical_not", lambda x: pnp.where(pnp.logical_not(x > 0), -x, x), np.abs,      "nonzero"),
    ("greater",     lambda x: pnp.where(pnp.greater(x, 0), x, 0.0),
                    lambda x: np.where(x > 0, x, 0.0),                                "nonzero"),
    ("greater_equal", lambda x: pnp.where(pnp.greater_equal(x, 0), x, 0.0),
                    lambda x: np.where(x >= 0, x, 0.0),                               "nonzero"),
    ("less",        lambda x: pnp.where(pnp.less(x, 0), x, 0.0),
                    lambda x: np.where(x < 0, x, 0.0),                                "nonzero"),
    ("less_equal",  lambda x: pnp.where(pnp.less_equal(x, 0), x, 0.0),
                    lambda x: np.where(x <= 0, x, 0.0),                               "nonzero"),
    ("equal",       lambda x: pnp.where(pnp.equal(x, x), x, 0.0), lambda x: x,       "real"),
    ("not_equal",   lambda x: pnp.where(pnp.not_equal(x, x), 0.0, x), lambda x: x,   "real"),
    ("heaviside",   lambda x: x * pnp.heaviside(x, 0.5),  lambda x: x * np.heaviside(x, 0.5),
                                                                                       "nonzero"),
    ("floor_divide", lambda x: x * pnp.floor_divide(x, 0.7), lambda x: x * (x // 0.7),
                    lambda rng, s: (rng.integers(-3, 3, s) + rng.uniform(0.2, 0.8, s)) * 0.7),
    ("floor_divide", lambda x: x * (x // 0.7),            lambda x: x * (x // 0.7),
                    lambda rng, s: (rng.integers(-3, 3, s) + rng.uniform(0.2, 0.8, s)) * 0.7),
    ("logical_and", lambda x: pnp.where(pnp.logical_and(x > 0, x < 1), x, -x),
                    lambda x: np.where((x > 0) & (x < 1), x, -x),                     _off_int),
    ("logical_or",  lambda x: pnp.where(pnp.logical_or(x > 1, x < -1), x, -x),
                    lambda x: np.where((x > 1) | (x < -1), x, -x),                    _off_int),
    ("logical_xor", lambda x: pnp.where(pnp.logical_xor(x > 0, x < 1), x, -x),
                    lambda x: np.where((x > 0) ^ (x < 1), x, -x),                     _off_int),
    ("zeros_like",  lambda x: x + pnp.zeros_like(x),      lambda x: x,                "real"),
    ("ones_like",   lambda x: x * pnp.ones_like(x),       lambda x: x,                "real"),
    ("full_like",   lambda x: x * pnp.full_like(x, 3.0),  lambda x: x * np.full_like(x, 3.0),
                                                                                       "real"),
    ("empty_like",  lambda x: pnp.reshape(x, pnp.empty_like(x).shape), lambda x: x,  "real"),
    ("shape",       lambda x: pnp.reshape(x, pnp.shape(x)), lambda x: x,              "real"),
    ("ndim",        lambda x: x * pnp.ndim(x),            lambda x: x * np.ndim(x),   "real"),
    ("size",        lambda x: x * pnp.size(x),            lambda x: x * np.size(x),   "real"),
    ("isclose",     lambda x: pnp.where(pnp.isclose(x, 0.0), 0.0, x), lambda x: x,  "nonzero"),
    ("allclose",    lambda x: x * pnp.allclose(x, x),     lambda x: x,                "real"),
    ("array_equal", lambda x: x * pnp.array_equal(x, x),  lambda x: x,                "real"),
    ("any",         lambda x: x * pnp.any(x > 0),         lambda x: x * np.any(x > 0), "real"),
    ("all",         lambda x: x * pnp.all(x > -5),        lambda x: x,                "real"),
    ("all",         lambda x: x * (x > -5).all(),         lambda x: x,                "real"),
    ("count_nonzero", lambda x: x * pnp.count_nonzero(x > 0),
                    lambda x: x * np.count_nonzero(x > 0),                            "real"),
    ("iscomplexobj", lambda x: x * (1.0 + pnp.iscomplexobj(x)), lambda x: x,          "real"),
    ("isrealobj",   lambda x: x * pnp.isrealobj(x),       lambda x: x,                "real"),
    ("result_type", lambda x: pnp.astype(x, pnp.result_type(x, 1.0)), lambda x: x,   "real"),
]
SPECS += [spec(name, fn, ref, SMALL, dom, tag="constant", covers=(name,))
          for name, fn, ref, dom in _ND]
SPECS += [
    spec("asarray", lambda x, y: pnp.asarray([x, y]) * 2.0, lambda x, y: np.asarray([x, y]) * 2.0,
         [((3,), (3,)), ((), ())]),
    spec("array", lambda x, y: pnp.array([[x, 1.0], [2.0, y]]),
         lambda x, y: np.array([[x, 1.0], [2.0, y]]), [((), ())]),
    spec("asarray", lambda x: pnp.asarray(x, dtype=np.float32),
         lambda x: np.asarray(x, dtype=np.float32), [((3,),)], tag="float32", order=1,
         smooth=lambda x: x, rtol=1e-6, atol=1e-7),
    spec("astype", lambda x: x * pnp.astype(x, np.int64), lambda x: x * x.astype(np.int64),
         SMALL, _off_int, tag="to-int", covers=("astype_nondiff",)),
    spec("where", lambda c, x: pnp.where(c, x, 0.0), lambda c, x: np.where(c, x, 0.0),
         [((3, 2), (3, 2)), ((2,), (3, 2))], "nonzero", "real", tag="float-condition",
         covers=("astype_nondiff",)),
]

_ND_INDEX = [
    ("argmax",   lambda x: x * pnp.argmax(x, axis=-1, keepdims=True),
                 lambda x: x * np.argmax(x, axis=-1, keepdims=True)),
    ("argmin",   lambda x: x * pnp.argmin(x, axis=0, keepdims=True),
                 lambda x: x * np.argmin(x, axis=0, keepdims=True)),
    ("argmax",   lambda x: x * x.argmax(), lambda x: x * x.argmax()),
    ("argmin",   lambda x: x * x.argmin(axis=1, keepdims=True),
                 lambda x: x * x.argmin(axis=1, keepdims=True)),
    ("nanargmax", lambda x: x * pnp.nanargmax(x, axis=0), lambda x: x * np.nanargmax(x, axis=0)),
    ("nanargmin", lambda x: x * pnp.nanargmin(x), lambda x: x * np.nanargmin(x)),
    ("argsort",  lambda x: x * pnp.argsort(x, axis=-1), lambda x: x * np.argsort(x, axis=-1)),
    ("argsort",  lambda x: x * x.argsort(axis=0), lambda x: x * x.argsort(axis=0)),
    ("nonzero",  lambda x: x[pnp.nonzero(x > 0)], lambda x: x[np.nonzero(x > 0)]),
    ("nonzero",  lambda x: x[(x > 0).nonzero()], lambda x: x[np.nonzero(x > 0)]),
    ("nonzero",  lambda x: x[pnp.where(x > 0)], lambda x: x[np.where(x > 0)]),
    ("flatnonzero", lambda x: pnp.ravel(x)[pnp.flatnonzero(x > 0)],
                 lambda x: np.ravel(x)[np.flatnonzero(x > 0)]),
    ("argwhere", lambda x: x * pnp.argwhere(x > 0).shape[0],
                 lambda x: x * np.argwhere(x > 0).shape[0]),
]
SPECS += [spec(name, fn, ref, [((3, 4),), ((5, 1),)], _distinct, tag="constant",
               covers=(name,))
          for name, fn, ref in _ND_INDEX]
# fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts.


def _complex(re=(-1.5, 1.5), im=(-1.5, 1.5)):
    """Complex values with real and imaginary parts drawn from the two intervals."""
    return lambda rng, shape: rng.uniform(*re, shape) + 1j * rng.uniform(*im, shape)


def _off_cuts(rng, shape):
    """Real part in (0.3, 0.9), |imaginary part| in (0.2, 0.6): away from the branch cuts of
    log, sqrt, power and the inverse trigonometric and hyperbolic functions."""
    return rng.uniform(0.3, 0.9, shape) + 1j * _signed(0.2, 0.6)(rng, shape)


def _away_from_0(rng, shape):
    """|z| in (0.5, 2), any argument."""
    return rng.uniform(0.5, 2.0, shape) * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))


C, CUT, NZ = _complex(), _off_cuts, _away_from_0
CUNARY = [((3, 2),), ((),)]
CBINARY = [((3, 2), (3, 2)), ((3, 2), (2,))]

_HOLOMORPHIC = [
    ("exp", C), ("exp2", C), ("expm1", C), ("log", CUT), ("log2", CUT), ("log10", CUT),
    ("log1p", CUT), ("sin", C), ("cos", C), ("tan", _complex((-1.0, 1.0), (-1.0, 1.0))),
    ("sinh", C), ("cosh", C), ("tanh", _complex((-1.0, 1.0), (-1.0, 1.0))),
    ("arcsin", CUT), ("arccos", CUT), ("arctan", CUT), ("arcsinh", CUT), ("arccosh", CUT),
    ("arctanh", CUT), ("sqrt", CUT), ("square", C), ("reciprocal", NZ), ("negative", C),
    ("positive", C), ("sinc", _complex((-1.0, 1.0), (-0.5, 0.5))),
]
COMPLEX_SPECS = [spec(name, getattr(pnp, name), getattr(np, name), CUNARY, dom, tag="complex")
                 for name, dom in _HOLOMORPHIC]
# fmt: off
COMPLEX_SPECS += [
    spec("sinc",     pnp.sinc,     np.sinc,     [((4,),)], _complex((-0.1, 0.1), (-0.1, 0.1)),
         tag="complex-near-0"),
    spec("add",      pnp.add,      np.add,      CBINARY, C, C, tag="complex"),
    spec("subtract", pnp.subtract, np.subtract, CBINARY, C, C, tag="complex"),
    spec("multiply", pnp.multiply, np.multiply, CBINARY, C, C, tag="complex"),
    spec("multiply", pnp.multiply, np.multiply, [((3, 2), (3, 2))], C, "real",
         tag="complex-real"),
    spec("divide",   pnp.divide,   np.divide,   CBINARY, C, NZ, tag="complex"),
    spec("power",    pnp.power,    np.power,    CBINARY, CUT, C, tag="complex"),
    spec("power",    lambda z: z ** 3, lambda z: z ** 3, CUNARY, C, tag="complex-int"),
    spec("power",    lambda z: pnp.power(2.0, z), lambda z: np.power(2.0, z), CUNARY, C,
         tag="complex-exponent"),
    spec("float_power", pnp.float_power, np.float_power, CBINARY, CUT, C, tag="complex"),
    spec("absolute", pnp.absolute, np.absolute, CUNARY, NZ, tag="complex"),
    spec("abs",      lambda z: pnp.abs(z) ** 2, lambda z: np.abs(z) ** 2, CUNARY, C,
         tag="complex-squared"),
    spec("sign",     pnp.sign,     np.sign,     CUNARY, NZ, tag="complex"),
    spec("real",     pnp.real,     np.real,     CUNARY, C, tag="complex"),
    spec("imag",     pnp.imag,     np.imag,     CUNARY, C, tag="complex"),
    spec("conjugate", pnp.conjugate, np.conjugate, CUNARY, C, tag="complex"),
    spec("conjugate", lambda z: z.conj() * z.real + z.imag, lambda z: z.conj() * z.real + z.imag,
         CUNARY, C, tag="complex-methods"),
    spec("nan_to_num", pnp.nan_to_num, np.nan_to_num, CUNARY, C, tag="complex"),
    spec("where",    lambda z, w: pnp.where(pnp.real(z) > 0, z * w, w),
         lambda z, w: np.where(np.real(z) > 0, z * w, w), [((3, 2), (3, 2))],
         _complex((0.2, 0.8), (-1, 1)), C, tag="complex"),
]
# fmt: on
