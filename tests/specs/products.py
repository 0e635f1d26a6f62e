"""Rows for products: matmul, dot, vdot, inner, outer, tensordot, einsum, kron, trace, diag,
diagonal, triu, tril, cross. Shapes include broadcasting, 0-d and size-0 arrays, negative
axes."""

import warnings

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _f32(fn):
    """``fn`` on float32 copies of its float arguments: derivatives must stay float32."""
    return lambda *xs, **kw: fn(*(pnp.astype(x, np.float32) for x in xs), **kw)


def _ref32(fn):
    return lambda *xs, **kw: fn(*(np.asarray(x).astype(np.float32) for x in xs), **kw)


def _np_cross(*args, **kwargs):
    """``numpy.cross``, quiet about 2-vectors (deprecated in NumPy 2, still computed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(*args, **kwargs)


def _pnp_cross(*args, **kwargs):
    with warnings.catch_warnings():  # plain inputs take NumPy's path
        warnings.simplefilter("ignore", DeprecationWarning)
        return pnp.cross(*args, **kwargs)


def _einsum(subscripts):
    return dict(fn=lambda *ops: pnp.einsum(subscripts, *ops),
                ref=lambda *ops: np.einsum(subscripts, *ops))


def _einsum_row(tag, subscripts, shapes, **kw):
    e = _einsum(subscripts)
    return spec("einsum", e["fn"], e["ref"], shapes, tag=tag, **kw)


def _plain(fn_name, *args, **kwargs):
    """The same computation written with plain ``numpy`` on traced values (dispatch)."""
    return lambda *xs: getattr(np, fn_name)(*xs, *args, **kwargs)


# fmt: off
SPECS = [
    spec("matmul",    pnp.matmul,    np.matmul,    [((2, 1, 2, 3), (4, 3, 2)), ((3, 0), (0, 2)),
                                                    ((0, 3), (3, 2)), ((2, 3), (5, 3, 1)),
                                                    ((3,), (3,))], tag="broadcast-empty"),
    spec("matmul",    lambda x, y: x @ y, lambda x, y: x @ y, [((2, 3), (3,)), ((3,), (2, 3, 2))],
         tag="operator"),
    spec("matmul",    _f32(pnp.matmul), _ref32(np.matmul), [((2, 3), (3, 2))], tag="float32",
         rtol=1e-5, atol=1e-5, smooth=np.matmul, order=1),

    spec("dot",       pnp.dot,       np.dot,       [((2, 3, 4), (4,)), ((2, 3, 4), (5, 4, 2)),
                                                    ((4,), (2, 4, 3)), ((3, 2), (2, 2, 3)),
                                                    ((0, 3), (3,)), ((2, 3), ())], tag="nd"),
    spec("dot",       _plain("dot"), np.dot,       [((2, 3, 4), (4, 2))], tag="np-dispatch"),
    spec("vdot",      pnp.vdot,      np.vdot,      [((3,), (3,)), ((2, 3), (6,)),
                                                    ((2, 2), (2, 2)), ((0,), (0,))]),
    spec("inner",     pnp.inner,     np.inner,     [((3,), (3,)), ((2, 3), (4, 3)),
                                                    ((2, 1, 3), (3,)), ((), (2, 3)),
                                                    ((0, 3), (2, 3))]),
    spec("inner",     _plain("inner"), np.inner,   [((2, 3), (3,))], tag="np-dispatch"),
    spec("outer",     pnp.outer,     np.outer,     [((3,), (2, 2)), ((), (3,)), ((0,), (2,))],
         tag="flatten"),

    spec("tensordot", pnp.tensordot, np.tensordot, [((3, 4), (4, 2)), ((2, 3, 4), (4, 2)),
                                                    ((3,), (3,)), ((0, 3), (3, 4))],
         kwargs={"axes": 1}),
    spec("tensordot", pnp.tensordot, np.tensordot, [((2, 3, 4), (3, 4, 2)), ((3, 2), (3, 2))],
         tag="axes=2"),
    spec("tensordot", pnp.tensordot, np.tensordot, [((2, 3), (4,)), ((), (3,))],
         kwargs={"axes": 0}, tag="axes=0"),
    spec("tensordot", pnp.tensordot, np.tensordot, [((2, 3, 4), (4, 5, 3))],
         kwargs={"axes": ([1, -1], [-1, 0])}, tag="pairs"),
    spec("tensordot", pnp.tensordot, np.tensordot, [((2, 3), (3, 4))],
         kwargs={"axes": (1, 0)}, tag="int-pair"),
    spec("tensordot", _plain("tensordot", axes=([0], [1])), lambda x, y: np.tensordot(
        x, y, axes=([0], [1])), [((3, 2), (4, 3))], tag="np-dispatch"),

    _einsum_row("matmul",      "ij,jk->ik",        [((2, 3), (3, 4))]),
    _einsum_row("implicit",    "ij,jk",            [((2, 3), (3, 4))]),
    _einsum_row("implicit-order", "ba,cb",         [((2, 3), (4, 2))]),
    _einsum_row("trace",       "ii",               [((3, 3),), ((0, 0),)]),
    _einsum_row("diagonal",    "ii->i",            [((3, 3),)]),
    _einsum_row("diag-3",      "iji->ij",          [((2, 3, 2),)]),
    _einsum_row("sum-one",     "ij->i",            [((2, 3),)]),
    _einsum_row("transpose",   "ijk->kij",         [((2, 3, 4),)]),
    _einsum_row("outer",       "i,j->ij",          [((2,), (3,))]),
    _einsum_row("scalar",      ",ij->ji",          [((), (2, 3))]),
    _einsum_row("full-sum",    "ij,ij->",          [((2, 3), (2, 3)), ((2, 0), (2, 0))]),
    _einsum_row("broadcast-1", "ij,jk->ik",        [((2, 1), (3, 4))]),
    _einsum_row("ellipsis",    "...ij,...jk->...ik", [((2, 1, 2, 3), (4, 3, 2)),
                                                      ((2, 3), (5, 3, 2))]),
    _einsum_row("ellipsis-implicit", "...j,j",     [((2, 3), (3,)), ((3,), (3,))]),
    _einsum_row("ellipsis-mid", "i...j->j...i",    [((2, 3, 4),), ((2, 4),)]),
    _einsum_row("three",       "ij,jk,kl->il",     [((2, 3), (3, 4), (4, 2))]),
    _einsum_row("four-shared", "i,i,ij,j->",       [((3,), (3,), (3, 2), (2,))]),
    _einsum_row("bilinear",    "bi,ij,bj->b",      [((4, 2), (2, 3), (4, 3))]),
    spec("einsum", lambda x, y: pnp.einsum(x, [0, 1], y, [1, 2], [0, 2]),
         lambda x, y: np.einsum(x, [0, 1], y, [1, 2], [0, 2]), [((2, 3), (3, 2))],
         tag="sublists"),
    spec("einsum", lambda x, y: pnp.einsum(x, [Ellipsis, 1], y, [1]),
         lambda x, y: np.einsum(x, [Ellipsis, 1], y, [1]), [((2, 3), (3,))],
         tag="sublists-ellipsis"),
    spec("einsum", lambda x, y: np.einsum("ij,jk", x, y), lambda x, y: np.einsum("ij,jk", x, y),
         [((2, 3), (3, 2))], tag="np-dispatch"),
    spec("einsum", _f32(lambda x, y: pnp.einsum("ij,jk->ik", x, y)),
         _ref32(lambda x, y: np.einsum("ij,jk->ik", x, y)), [((2, 3), (3, 2))],
         tag="float32", rtol=1e-5, atol=1e-5, smooth=lambda x, y: x @ y, order=1),

    spec("kron",      pnp.kron,      np.kron,      [((2, 3), (2, 2)), ((2,), (3, 2)),
                                                    ((), (3,)), ((0, 2), (2, 2))]),
    spec("kron",      _plain("kron"), np.kron,     [((2,), (3,))], tag="np-dispatch"),

    spec("trace",     pnp.trace,     np.trace,     [((3, 3),), ((2, 4),), ((0, 0),)]),
    spec("trace",     pnp.trace,     np.trace,     [((2, 3, 4),)],
         kwargs={"offset": -1, "axis1": -1, "axis2": 0}, tag="offset-axes"),
    spec("trace",     lambda x: x.trace(1), lambda x: x.trace(1), [((3, 4),)], tag="method"),
    spec("diagonal",  pnp.diagonal,  np.diagonal,  [((3, 4),), ((2, 3, 4),), ((0, 3),)]),
    spec("diagonal",  pnp.diagonal,  np.diagonal,  [((2, 3, 4),)],
         kwargs={"offset": 1, "axis1": 2, "axis2": -3}, tag="offset-axes"),
    spec("diagonal",  pnp.diagonal,  np.diagonal,  [((3, 4),)], kwargs={"offset": 9},
         tag="offset-outside"),
    spec("diagonal",  lambda x: x.diagonal(-1), lambda x: x.diagonal(-1), [((3, 3),)],
         tag="method"),
    spec("diag",      pnp.diag,      np.diag,      [((3,),), ((3, 4),), ((0,),)]),
    spec("diag",      pnp.diag,      np.diag,      [((3,),), ((3, 4),)], kwargs={"k": -2},
         tag="k=-2"),
    spec("diag",      pnp.diag,      np.diag,      [((2,),)], kwargs={"k": 1}, tag="k=1"),
    spec("triu",      pnp.triu,      np.triu,      [((3, 4),), ((2, 3, 3),), ((3,),), ((0, 2),)]),
    spec("triu",      pnp.triu,      np.triu,      [((3, 4),)], kwargs={"k": -1}, tag="k=-1"),
    spec("tril",      pnp.tril,      np.tril,      [((3, 4),), ((2, 3, 3),), ((3,),)]),
    spec("tril",      pnp.tril,      np.tril,      [((4, 3),)], kwargs={"k": 1}, tag="k=1"),
    spec("cross",     _pnp_cross,    _np_cross,    [((3,), (3,)), ((4, 3), (3,)),
                                                    ((2, 1, 3), (4, 3)), ((0, 3), (3,)),
                                                    ((3,), (2,)), ((2,), (3,))]),
    spec("cross",     pnp.cross,     np.cross,     [((3, 2), (2, 3))], kwargs={"axisa": 0,
                                                    "axisb": -1, "axisc": 0}, tag="axes"),
    spec("cross",     pnp.cross,     np.cross,     [((3, 2), (3, 2))], kwargs={"axis": 0},
         tag="axis"),
    spec("cross",     _plain("cross"), np.cross,   [((2, 3), (2, 3))], tag="np-dispatch"),
]
# fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts.
# (vdot conjugates its first argument; its complex rows are derived from the real ones.)


def _complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


C = _complex
# fmt: off
COMPLEX_SPECS = [
    spec("matmul",    pnp.matmul,    np.matmul,    [((2, 3), (3, 2)), ((2, 2, 3), (3,))], C, C,
         tag="complex"),
    spec("matmul",    pnp.matmul,    np.matmul,    [((2, 3), (3, 2))], C, "real",
         tag="complex-real"),
    spec("dot",       pnp.dot,       np.dot,       [((2, 3), (3,))], C, C, tag="complex"),
    spec("inner",     pnp.inner,     np.inner,     [((2, 3), (4, 3))], C, C, tag="complex"),
    spec("outer",     pnp.outer,     np.outer,     [((3,), (2,))], C, C, tag="complex"),
    spec("einsum",    lambda x, y: pnp.einsum("ij,jk->ik", x, y),
         lambda x, y: np.einsum("ij,jk->ik", x, y), [((2, 3), (3, 2))], C, C, tag="complex"),
    spec("tensordot", pnp.tensordot, np.tensordot, [((2, 3, 4), (3, 4, 2))], C, C,
         tag="complex"),
    spec("kron",      pnp.kron,      np.kron,      [((2, 2), (2, 1))], C, C, tag="complex"),
    spec("trace",     pnp.trace,     np.trace,     [((3, 3),)], C, tag="complex"),
    spec("cross",     pnp.cross,     np.cross,     [((3,), (3,))], C, C, tag="complex"),
]
# fmt: on
