"""Rows for writes into traced arrays (``x[idx] = v``, ``x[idx] += v``, ``x op= y``, views,
buffers): each program is written once and run with ``pullback.numpy`` (the function) and with
NumPy (the reference), so the row checks that pullback means what NumPy means."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _set_slice(xp):
    def f(x, v):
        y = x.copy()
        y[1:3] = v  # the overwritten entries of x get no derivative
        return y

    return f


def _add_repeated(xp):
    def f(x, v):
        y = x * 1.0
        y[np.array([0, 2, 0])] += v  # buffered: index 0 gets only the last increment
        return y

    return f


def _mask_set(xp):
    def f(x):
        y = x * 1.0
        y[y < 0] = 0.0
        return y * x

    return f


def _write_through_view(xp):
    def f(x):
        y = x * 1.0
        v = y[1:]
        v[0] = 3.0 * v[1]  # reaches y, as NumPy's view does
        v *= 2.0
        return y

    return f


def _fill_buffer(xp):
    def f(x):
        out = xp.zeros_like(x)
        for i in range(x.shape[0]):
            out[i] = xp.sin(x[i]) * x[i]
        return out

    return f


def _alias_inplace(xp):
    def f(x, y):
        h = x * 2.0
        a = h
        a += y  # h sees it
        a **= 2
        return h * x

    return f


def _reshape_view(xp):
    def f(x):
        y = x * 1.0
        z = y.reshape(2, 3)
        z[:, 0] = z[:, 1] * z[:, 2]  # reaches y through the reshape
        return y

    return f


def _row(name, make, shapes, *domains, **kw):
    return spec(name, make(pnp), make(np), shapes, *domains, tag=name.split(".", 1)[1], **kw)


# fmt: off
SPECS = [
    spec("copy", pnp.copy, np.copy, [((3, 2),), ((),), ((0,),)]),
    _row("mutation.set-slice",    _set_slice,          [((5,), (2,)), ((5,), ())]),
    _row("mutation.add-repeated", _add_repeated,       [((4,), (3,))]),
    _row("mutation.mask-set",     _mask_set,           [((6,),)], "nonzero"),
    _row("mutation.view-write",   _write_through_view, [((4,),), ((3, 2),)]),
    _row("mutation.fill-buffer",  _fill_buffer,        [((4,),), ((3, 2),)]),
    _row("mutation.alias-inplace", _alias_inplace,     [((3,), (3,)), ((2, 3), (3,))]),
    _row("mutation.reshape-view", _reshape_view,       [((6,),)]),
]
# fmt: on
