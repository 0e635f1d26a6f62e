"""Rows for indexing: ``x[idx]`` in all its NumPy forms, and the functional updates
``pnp.at(x)[idx].set/add/multiply`` and ``x.at[idx]...`` (NumPy references: assignment to a
copy, ``numpy.add.at``, ``numpy.multiply.at``)."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _get(idx, tag, shapes):
    return spec("getitem", lambda x: x[idx], lambda x: x[idx], shapes, tag=tag)


def _np_set(x, idx, v):
    out = np.array(x, copy=True)
    out[idx] = v
    return out


def _np_ufunc_at(ufunc):
    def ref(x, idx, v):
        out = np.array(x, copy=True)
        ufunc.at(out, idx, v)
        return out

    return ref


def _at(op, idx, shapes, tag, *domains, **kw):
    """A row for ``pnp.at(x)[idx].<op>(v)``."""
    ref = {"set": _np_set, "add": _np_ufunc_at(np.add), "multiply": _np_ufunc_at(np.multiply)}
    return spec(f"at.{op}", lambda x, v: getattr(pnp.at(x)[idx], op)(v),
                lambda x, v: ref[op](x, idx, v), shapes, *domains, tag=tag, **kw)


def _at_attr(x):
    """``x.at`` (JAX's spelling) on traced values; ``pnp.at(x)`` for the plain value check."""
    return x.at if hasattr(x, "at") else pnp.at(x)


def _i(*xs):
    return np.array(xs, dtype=np.intp)


MASK = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])

# fmt: off
SPECS = [
    _get(np.s_[::-2, 1:],            "neg-step",            [((3, 4),)]),
    _get(np.s_[-1:0:-1],             "neg-start-stop",      [((4,),), ((4, 2),)]),
    _get(np.s_[2:2],                 "empty-slice",         [((4, 2),)]),
    _get(np.s_[1],                   "int",                 [((3, 4),), ((3,),)]),
    _get(np.s_[-1, 2],               "neg-int",             [((3, 4),)]),
    _get(np.s_[()],                  "empty-tuple",         [((),), ((2, 3),)]),
    _get(np.s_[...],                 "ellipsis-only",       [((),), ((2,),)]),
    _get(np.s_[None],                "newaxis-0d",          [((),)]),
    _get(np.s_[..., None, 0],        "ellipsis-newaxis",    [((2, 3, 4),)]),
    _get(np.s_[:, None, 1:, None],   "newaxes",             [((2, 3),)]),
    _get(_i(0, 2, 0, -1),            "int-array-repeated",  [((3, 2),)]),
    _get([1, 0, 1],                  "list",                [((3,),)]),
    _get(np.s_[:, _i(1, -1, 1)],     "int-array-axis1",     [((2, 3),)]),
    _get((_i(0, 1), slice(None), _i(1, 0)), "advanced-split", [((2, 3, 2),)]),
    _get((slice(None), _i(0, 1, 1), _i(1, 0, 1)), "advanced-adjacent", [((2, 3, 2),)]),
    _get((_i(0, 1)[:, None], _i(0, 2, 1)), "advanced-broadcast", [((2, 3),)]),
    _get(np.array(1),                "0d-int-array",        [((3, 2),)]),
    _get(_i(),                       "empty-int-array",     [((3, 2),)]),
    _get(MASK,                       "mask-2d",             [((3, 4),)]),
    _get(np.array([True, False, True]), "mask-rows",        [((3, 4),)]),
    _get(np.s_[:, np.array([False, True, True, False])], "mask-axis1", [((3, 4),)]),
    _get((Ellipsis, _i(2, 0)),       "ellipsis-int-array",  [((2, 2, 3),)]),
    spec("getitem", lambda x: x[pnp.argmax(x)] * x[pnp.argmin(x, axis=0)],
         lambda x: x[np.argmax(x)] * x[np.argmin(x, axis=0)], [((4,),)], tag="traced-index",
         covers=("getitem_dyn", "scatter_dyn")),  # the gather when the index is a value
    # (under vmap and jit, which run every row; under vjp/jvp the index is a constant)
    spec("getitem", lambda x: x[x > 0.5], lambda x: x[x > 0.5], [((2, 0),), ((),)],
         tag="traced-mask-edge"),
    spec("getitem", lambda x: pnp.stack([row * (i + 1.0) for i, row in enumerate(x)]),
         lambda x: np.stack([row * (i + 1.0) for i, row in enumerate(x)]), [((3, 2),)],
         tag="iteration"),

    _at("set", np.s_[1:, ::-1],      [((3, 4), (2, 4)), ((3, 4), (4,)), ((3, 4), ())], "slices"),
    _at("set", _i(0, 2, 0, 4),       [((5,), (4,)), ((5, 2), (4, 1)), ((5,), ())], "repeated"),
    _at("set", MASK,                 [((3, 4), (8,)), ((3, 4), ())], "mask"),
    _at("set", (Ellipsis, _i(1, 1)), [((2, 3), (2, 2)), ((2, 3), (1, 2, 2))], "ellipsis-repeated"),
    _at("set", np.s_[()],            [((), ()), ((2,), (2,))], "whole"),
    _at("set", _i(),                 [((3,), ())], "empty"),
    _at("add", np.s_[::2],           [((5,), (3,)), ((5, 2), (2,))], "slice"),
    _at("add", _i(0, 2, 0, 4, 0),    [((5,), (5,)), ((5,), ()), ((5, 2), (5, 2))], "repeated"),
    _at("add", (_i(0, 1, 0)[:, None], _i(1, 1)), [((2, 3), (3, 2))], "repeated-2d"),
    _at("add", MASK,                 [((3, 4), (8,))], "mask"),
    _at("multiply", np.s_[1:],       [((3,), (2,)), ((3, 2), ())], "slice"),
    _at("multiply", _i(1, 1, 3, 1),  [((4,), (4,)), ((4, 2), (4, 1))], "repeated"),
    _at("multiply", MASK,            [((3, 4), ())], "mask"),
    spec("at.set", lambda x, v: _at_attr(_at_attr(_at_attr(x)[_i(2, 2)].set(v))[0].add(v[0]))[1:]
         .multiply(v[1]),
         lambda x, v: _np_ufunc_at(np.multiply)(_np_ufunc_at(np.add)(
             _np_set(x, _i(2, 2), v), 0, v[0]), np.s_[1:], v[1]),
         [((4,), (2,))], tag="traced-chain"),
    spec("at.set", lambda x: _at_attr(x)[1].set(2.5) * pnp.at(np.zeros(3))[_i(0, 0)].set(x[:2]),
         lambda x: _np_set(x, 1, 2.5) * _np_set(np.zeros(3), _i(0, 0), x[:2]),
         [((3,),)], tag="one-side-traced"),
    spec("at.set", lambda x, v: pnp.at(pnp.astype(x, np.float32))[1:].set(v),
         lambda x, v: _np_set(x.astype(np.float32), np.s_[1:], v), [((3,), (2,))],
         tag="float32", rtol=1e-6, atol=1e-6, order=1,
         smooth=lambda x, v: _np_set(x, np.s_[1:], v)),
]
# fmt: on
