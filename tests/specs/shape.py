"""Rows for shape functions: reshape, ravel, transpose, swapaxes, moveaxis, expand_dims,
squeeze, broadcast_to, concatenate, stack, hstack, vstack, column_stack, split, array_split,
tile, repeat, flip, roll, pad, atleast_1d/2d/3d, sort, take, take_along_axis, select, diff,
interp. Shapes include 0-d and size-0 arrays and negative axes."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _both(fn):
    """``fn(module, *xs)`` as a pair (pullback.numpy version, NumPy reference)."""
    return dict(fn=lambda *xs: fn(pnp, *xs), ref=lambda *xs: fn(np, *xs))


def row(name, fn, shapes, *domains, **kw):
    return spec(name, *_both(fn).values(), shapes, *domains, **kw)


def _weighted(m, parts):
    """The pieces of a split, each scaled differently, laid end to end (one array to check)."""
    return m.concatenate([m.ravel(p) * (k + 1.0) for k, p in enumerate(parts)])


def _knots(rng, shape):
    """interp's sample points: evenly spaced from -1 to 1 (multiples of 0.25 for up to 5
    points), each moved by at most 0.02."""
    return np.linspace(-1.0, 1.0, shape[0]) + rng.uniform(-0.02, 0.02, shape)


def _queries(rng, shape):
    """Query points left of, inside and right of the knots, at least 0.055 away from any of
    them (the oracle's differences must not straddle a kink), |x| < 1.2 (a small step)."""
    return (rng.integers(-5, 5, shape) + rng.uniform(0.3, 0.7, shape)) * 0.25


def _distinct(rng, shape):
    """Values at least 0.3 apart in a random order (sort's order must not change under the
    oracle's small steps)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.3 - 0.15 * n + rng.uniform(-0.05, 0.05, n)).reshape(shape)

# fmt: off
SPECS = [
    spec("reshape", pnp.reshape, np.reshape, [((2, 3, 4),), ((0, 3),)],
         kwargs={"shape": (-1, 2)}, tag="infer"),
    spec("reshape", pnp.reshape, np.reshape, [((),)], kwargs={"shape": (1, 1)}, tag="0d"),
    row("reshape", lambda m, x: m.reshape(x, (3, 4), order="F"), [((2, 6),)], tag="order-F"),
    row("reshape", lambda m, x: x.reshape(4, 3), [((2, 6),)], tag="method"),
    spec("ravel", pnp.ravel, np.ravel, [((2, 3),), ((),), ((0, 2),)]),
    row("ravel", lambda m, x: m.ravel(x, order="F"), [((2, 3),)], tag="order-F"),
    row("ravel", lambda m, x: x.flatten(), [((2, 3),)], tag="flatten"),
    spec("transpose", pnp.transpose, np.transpose, [((),), ((0, 3),)], tag="edge"),
    row("transpose", lambda m, x: x.transpose(2, 0, 1), [((2, 3, 4),)], tag="method"),
    row("transpose", lambda m, x: x.T, [((2, 3),)], tag="T"),
    spec("swapaxes", pnp.swapaxes, np.swapaxes, [((2, 3, 4),)],
         kwargs={"axis1": 0, "axis2": -1}),
    row("swapaxes", lambda m, x: np.swapaxes(x, -1, 1), [((2, 3, 4),)], tag="np-dispatch"),
    spec("moveaxis", pnp.moveaxis, np.moveaxis, [((2, 3, 4),), ((2, 3, 0),)],
         kwargs={"source": 0, "destination": -1}),
    spec("moveaxis", pnp.moveaxis, np.moveaxis, [((2, 3, 4, 5),)],
         kwargs={"source": (0, -1), "destination": (2, 0)}, tag="several"),
    spec("expand_dims", pnp.expand_dims, np.expand_dims, [((2, 3),), ((),)],
         kwargs={"axis": -1}),
    spec("expand_dims", pnp.expand_dims, np.expand_dims, [((2, 3),)],
         kwargs={"axis": (0, 3)}, tag="several"),
    spec("squeeze", pnp.squeeze, np.squeeze, [((1, 3, 1),), ((1,),), ((1, 0),)]),
    spec("squeeze", pnp.squeeze, np.squeeze, [((1, 3, 1),)], kwargs={"axis": -1}, tag="axis"),
    spec("broadcast_to", pnp.broadcast_to, np.broadcast_to, [((3,),), ((1, 1),)],
         kwargs={"shape": (2, 3, 3)}, tag="front"),
    spec("broadcast_to", pnp.broadcast_to, np.broadcast_to, [((1,),)],
         kwargs={"shape": (0,)}, tag="empty"),
    row("broadcast_arrays", lambda m, x, y: m.stack(m.broadcast_arrays(x, y)),
        [((3, 1), (2,)), ((), (2, 2))]),

    row("concatenate", lambda m, x, y: m.concatenate([x, y], axis=-1),
        [((2, 3), (2, 0)), ((2, 1), (2, 3))], tag="neg-axis"),
    row("concatenate", lambda m, x, y: m.concatenate([x, y], axis=None),
        [((2, 3), (4,))], tag="axis-None"),
    row("concatenate", lambda m, x, y: m.concatenate([x, np.ones((2, 1)), y, y], axis=1),
        [((2, 2), (2, 1))], tag="constant-repeated"),
    row("concatenate", lambda m, x, y: np.concatenate([x, y]), [((2,), (3,))],
        tag="np-dispatch"),
    # lists, tuples and numbers are array-likes beside traced arrays
    row("concatenate", lambda m, x: m.concatenate([x, [1.0, 2.0]]), [((3,),), ((0,),)],
        tag="list"),
    row("concatenate", lambda m, x: np.concatenate([x, [1.0], (2.0, 3.0)]), [((2,),)],
        tag="list-np-dispatch"),
    row("concatenate", lambda m, x: m.concatenate([[[0.5]], x], axis=1), [((1, 2),)],
        tag="nested-list"),
    row("concatenate", lambda m, x: m.concatenate((x, [[1.5, 2.5]]), axis=None),
        [((2, 2),)], tag="list-axis-None"),
    row("stack", lambda m, x: m.stack([x, [1.0, 2.0]]), [((2,),)], tag="list"),
    row("stack", lambda m, x, y: m.stack([x, y], axis=1), [((2, 3), (2, 3)), ((0,), (0,))],
        tag="axis1"),
    row("stack", lambda m, x, y: m.stack([x, y], axis=-1), [((), ())], tag="0d"),
    row("hstack", lambda m, x, y: m.hstack([x, y]), [((2,), (3,)), ((2, 1), (2, 3)), ((), (2,))]),
    row("vstack", lambda m, x, y: m.vstack([x, y]), [((3,), (3,)), ((2, 3), (3,)), ((), ())]),
    row("dstack", lambda m, x, y: m.dstack([x, y]), [((2, 3), (2, 3)), ((3,), (3,))]),
    row("column_stack", lambda m, x, y: m.column_stack([x, y]), [((3,), (3, 2)), ((2,), (2,))]),
    row("atleast_1d", lambda m, x: m.atleast_1d(x), [((),), ((3,),), ((2, 3),)]),
    row("atleast_2d", lambda m, x: m.atleast_2d(x), [((),), ((3,),), ((2, 3),)]),
    row("atleast_3d", lambda m, x: m.atleast_3d(x), [((),), ((3,),), ((2, 3),), ((2, 3, 1, 2),)]),
    row("atleast_2d", lambda m, x, y: m.concatenate([m.ravel(a) for a in m.atleast_2d(x, y)]),
        [((), (3,))], tag="several"),

    row("split", lambda m, x: m.split(x, 3, axis=-1)[1], [((2, 6),), ((2, 0),)], tag="sections"),
    row("split", lambda m, x: _weighted(m, m.split(x, [1, 3])), [((5, 2),)], tag="indices"),
    row("split", lambda m, x: _weighted(m, m.split(x, [3, 1, -1])), [((5,),)],
        tag="overlapping"),
    row("split", lambda m, x: _weighted(m, np.split(x, 2)), [((4,),)], tag="np-dispatch"),
    row("array_split", lambda m, x: _weighted(m, m.array_split(x, 3)), [((5,),), ((2,),)]),
    row("array_split", lambda m, x: m.array_split(x, 2, axis=1)[0], [((3, 5),)], tag="axis1"),
    # one section: the whole array (it once crashed in reverse mode)
    row("split", lambda m, x: _weighted(m, m.split(x, 1)), [((4,),), ((2, 3),)], tag="one"),
    row("split", lambda m, x: m.split(x, 1, axis=1)[0], [((2, 3),)], tag="one-axis1"),
    row("split", lambda m, x: m.split(x, [], axis=0)[0], [((3,),)], tag="no-indices"),
    row("array_split", lambda m, x: _weighted(m, m.array_split(x, 1)), [((5,),)], tag="one"),

    row("tile", lambda m, x: m.tile(x, 2), [((3,),), ((),), ((2, 0),)]),
    row("tile", lambda m, x: m.tile(x, (2, 1, 3)), [((2, 3),), ((3,),)], tag="reps"),
    row("tile", lambda m, x: m.tile(x, (2,)), [((2, 3),)], tag="short-reps"),
    row("repeat", lambda m, x: m.repeat(x, 2), [((2, 3),), ((),)]),
    row("repeat", lambda m, x: m.repeat(x, 3, axis=-1), [((2, 2),), ((2, 0),)], tag="axis"),
    row("repeat", lambda m, x: m.repeat(x, [2, 0, 1], axis=0), [((3, 2),)], tag="counts"),
    row("repeat", lambda m, x: x.repeat(2, axis=1), [((2, 2),)], tag="method"),
    row("flip", lambda m, x: m.flip(x), [((2, 3),), ((),), ((0, 2),)]),
    row("flip", lambda m, x: m.flip(x, axis=(0, -1)), [((2, 3, 2),)], tag="axes"),
    row("fliplr", lambda m, x: m.fliplr(x), [((2, 3),)]),
    row("flipud", lambda m, x: m.flipud(x), [((3, 2),)]),
    row("roll", lambda m, x: m.roll(x, 2), [((2, 3),), ((),), ((0,),)]),
    row("roll", lambda m, x: m.roll(x, -1, axis=-1), [((2, 3),)], tag="axis"),
    row("roll", lambda m, x: m.roll(x, (1, 5), axis=(0, 1)), [((2, 3),)], tag="several"),

    row("pad", lambda m, x: m.pad(x, 2), [((3,),), ((2, 3),), ((0, 2),), ((),)]),
    row("pad", lambda m, x: m.pad(x, ((1, 0), (0, 2)), constant_values=1.5), [((2, 3),)],
        tag="constant-values"),
    row("pad", lambda m, x, c: m.pad(x, ((1, 0), (2, 1)), constant_values=c),
        [((2, 3), ()), ((0, 1), ())], tag="traced-value"),
    row("pad", lambda m, x, c: m.pad(x, ((1, 1), (2, 0)), constant_values=c),
        [((2, 3), (2, 2)), ((2, 3), (2,)), ((2, 3), (2, 1)), ((0, 1), (1, 2))],
        tag="traced-per-axis-values"),
    row("pad", lambda m, c: m.pad(np.ones(2, np.float32), 1, constant_values=c), [((),)],
        tag="float32-array-traced-value", rtol=1e-6, atol=1e-6,
        smooth=lambda c: np.pad(np.ones(2), 1, constant_values=c)),
    row("pad", lambda m, x: m.pad(x, (1, 2), mode="edge"), [((3,),), ((2, 3),), ((1,),)],
        tag="edge"),
    row("pad", lambda m, x: m.pad(x, ((2, 5), (1, 0)), mode="reflect"), [((3, 2),)],
        tag="reflect"),
    row("pad", lambda m, x: m.pad(x, (4, 3), mode="symmetric"), [((3,),)], tag="symmetric"),
    row("pad", lambda m, x: m.pad(x, (4, 1), mode="wrap"), [((3,),)], tag="wrap"),

    row("sort", lambda m, x: m.sort(x), [((5,),), ((2, 3),), ((0,),)], _distinct),
    row("sort", lambda m, x: m.sort(x, axis=0), [((4, 3),)], _distinct, tag="axis0"),
    row("sort", lambda m, x: m.sort(x, axis=None), [((2, 3),)], _distinct, tag="axis-None"),
    row("take", lambda m, x: m.take(x, [3, 0, 3, -1]), [((2, 3),)], tag="flat"),
    row("take", lambda m, x: m.take(x, np.array([[1, 1], [0, 2]]), axis=-1), [((2, 3),)],
        tag="axis"),
    row("take", lambda m, x: m.take(x, 1, axis=0), [((2, 3),)], tag="scalar"),
    row("take", lambda m, x: m.take(x, [5, -4], axis=0, mode="wrap"), [((3, 2),)], tag="wrap"),
    row("take", lambda m, x: m.take(x, [5, -4], mode="clip"), [((3,),)], tag="clip"),
    row("take", lambda m, x: x.take([0, 0]), [((3,),)], tag="method"),
    row("take_along_axis", lambda m, x: m.take_along_axis(x, np.array([[0, 2, 2], [1, 0, 0]]),
                                                          axis=-1), [((2, 3),)]),
    row("take_along_axis", lambda m, x: m.take_along_axis(x, np.array([[1], [0], [1]]), axis=1),
        [((3, 2),)], tag="broadcast"),
    row("take_along_axis", lambda m, x: m.take_along_axis(x, np.array([2, 0]), axis=None),
        [((2, 2),)], tag="axis-None"),
    row("take_along_axis", lambda m, x: m.take_along_axis(x, m.argsort(x, axis=0), axis=0),
        [((3, 2),)], tag="argsort"),

    row("select", lambda m, x, y: m.select([x > 0.5, x < -0.5], [x * y, m.sin(y)], default=y),
        [((3, 2), (3, 2)), ((3, 2), (2,)), ((), (3,))]),
    row("select", lambda m, x, y: m.select([x > 0, y > 0], [x, 2.0], 0.0), [((4,), (4,))],
        tag="constants"),
    row("diff", lambda m, x: m.diff(x), [((5,),), ((2, 3),), ((0,),)]),
    row("diff", lambda m, x: m.diff(x, n=2, axis=0), [((4, 2),)], tag="n=2"),
    row("diff", lambda m, x, y: m.diff(x, prepend=y, append=1.5), [((3, 2), (3, 1))],
        tag="prepend-append"),
    row("diff", lambda m, x, y: m.diff(x, axis=0, prepend=y), [((3, 2), ())], tag="prepend-0d"),
    spec("interp", pnp.interp, np.interp, [((7,), (5,), (5,)), ((), (5,), (5,)),
                                           ((2, 3), (2,), (2,)), ((4,), (1,), (1,)),
                                           ((0,), (3,), (3,))],
         _queries, _knots, "real", covers=("interp_locate",)),
    row("interp", lambda m, x, fp: m.interp(x, np.array([-0.5, 0.0, 0.75]), fp, left=-3.0,
                                            right=fp[0] * 2.0), [((6,), (3,))],
        _queries, "real", tag="left-right"),
    row("interp", lambda m, x, fp: m.interp(x, np.array([1.0, 0.0, 0.5]), fp, period=1.5),
        [((6,), (3,))], _queries, "real", tag="period"),
]
# fmt: on
