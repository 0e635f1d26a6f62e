"""The NumPy layer's implementations for arrays of other libraries (Dask, CuPy), where the
NumPy idiom a primitive uses does not exist there: ``np.add.at``, in-place writes into a copy,
``np.take_along_axis``, ``np.argsort``, ``np.linalg``'s routines, SciPy's ufuncs.

Each helper here takes the place of that idiom when an operand is not a NumPy array and
returns an array of the operands' library. Two kinds of library:

- **Dask** (lazy): each helper stays lazy (a Dask graph; nothing is computed), with Dask's
  own routines or NumPy's block by block;
- **eager libraries** (CuPy, and any other library with NumPy's dispatch protocols): the
  library's own functions through the protocols, with NumPy constants (index positions)
  moved into the library explicitly (``np.asarray(c, like=x)``) and scatter-adds written as
  one ``bincount`` (no ``np.add.at``).

NumPy arrays never come here: the callers test ``type(x) is np.ndarray`` first. What a
library cannot do at all is refused with :func:`pullback.core.backends.refuse`, from the
table :data:`pullback.core.backends.CAPABILITIES`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from pullback.core import backends

__all__ = [
    "argsort",
    "blockwise",
    "foreign",
    "getitem",
    "linalg",
    "partition_index",
    "partition_index_numpy",
    "scatter_add",
    "searchsorted",
    "searchsorted_any",
    "set_at",
    "take",
    "take_along",
    "take_along_add",
]


def foreign(*xs: Any) -> str | None:
    """The library of the first operand that is not NumPy's (``"dask"``...), else None."""
    for x in xs:
        if type(x) is not np.ndarray:
            lib = backends.library(x)
            if lib != "numpy":
                return lib
    return None


def blockwise(impl: Callable[..., Any]) -> Callable[..., Any]:
    """An elementwise NumPy implementation (``impl(*arrays, **params)``, NumPy-only code:
    ``np.frompyfunc``, ``np.errstate``, in-place writes) that also takes Dask arrays: run
    block by block on the operands broadcast to one shape and chunking."""

    @functools.wraps(impl)
    def call(*args: Any, **kwargs: Any) -> Any:
        lib = foreign(*args)
        if lib is None:
            return impl(*args, **kwargs)
        who = getattr(impl, "__name__", "an elementwise function").strip("_")
        if lib != "dask":  # NumPy-only code (SciPy's ufuncs) on arrays computed at once
            raise backends.refuse(f"pullback.scipy.special ({who})", lib, "SciPy's special")
        da = backends.dask_array()
        where = [i for i, a in enumerate(args) if hasattr(a, "shape")]  # Python numbers stay
        arrays = da.broadcast_arrays(*(args[i] if backends.is_dask(args[i])
                                       else da.asarray(args[i]) for i in where))

        def block(*blocks: Any) -> Any:
            full = list(args)
            for i, b in zip(where, blocks, strict=True):
                full[i] = b
            return impl(*full, **kwargs)

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the dtype, from one element of each operand
            dtype = np.asarray(block(*(np.ones(1, a.dtype) for a in arrays))).dtype
        return da.map_blocks(block, *arrays, dtype=dtype)

    return call


def _like(*xs: Any) -> Any:
    """The first operand of another library than NumPy (whose library results are made in)."""
    for x in xs:
        if type(x) is not np.ndarray and backends.library(x) != "numpy":
            return x
    return None


def _bincount(pos: Any, flat: Any, size: int, dtype: Any) -> Any:
    """Zeros of ``size`` with each ``flat[k]`` added at ``pos[k]`` (repeated positions add
    up), in the operands' library: one ``bincount`` (complex: one for each part)."""

    def count(w: Any) -> Any:
        return np.bincount(pos, weights=w, minlength=size)

    if np.dtype(dtype).kind == "c":
        out = count(flat.real) + 1j * count(flat.imag)
    else:
        out = count(flat)
    return out.astype(dtype)


def _is_advanced(i: Any) -> bool:
    return isinstance(i, (np.ndarray, list)) or backends.library(i) != "numpy"


def _index_arrays(idx: tuple, who: str, lazy_integers: bool = False) -> None:
    """Refuse index arrays that are themselves lazy: masks (their selection has no known
    size), and integer arrays unless ``lazy_integers`` (one 1-d array, which Dask takes)."""
    for i in idx:
        if not isinstance(i, (np.ndarray, list, slice, int, np.integer)) and i is not None \
                and i is not Ellipsis and backends.library(i) != "numpy":
            if getattr(i, "dtype", None) == np.bool_:
                raise backends.refuse(who, backends.library(i), "x[mask] with a Dask boolean")
            if any(n != n for n in i.shape):  # nan: from nonzero, argwhere...
                raise backends.refuse(who, backends.library(i), "arrays of unknown shape",
                                      f"an index of shape {i.shape}")
            if lazy_integers and len(i.shape) <= 1:
                continue
            raise backends.refuse(who, backends.library(i), "integer-array indexing by lazy",
                                  f"a lazy index of shape {i.shape}")


def flat_positions(shape: tuple, idx: tuple, like: Any = None) -> Any:
    """The flat (C-order) position in an array of ``shape`` of each element of ``x[idx]``,
    computed from views with zero strides (no array of ``shape``'s size is made); in the
    library of ``like`` (NumPy when ``None``)."""
    ndim = len(shape)
    strides = [math.prod(shape[d + 1:]) for d in range(ndim)]
    pos = None
    for d, n in enumerate(shape):
        coord = backends.arange(n, np.int64, like).reshape(
            (1,) * d + (n,) + (1,) * (ndim - d - 1))
        part = np.broadcast_to(coord, shape)[idx] * strides[d]
        pos = part if pos is None else pos + part
    if pos is None:  # a 0-d array: x[idx] is x[()] or x[None]...
        return backends.zeros(np.empty(shape, np.bool_)[idx].shape, np.int64, like=like)
    return pos


def _plain_index(idx: tuple) -> tuple:
    """``idx`` with 0-d integer arrays as integers and NumPy masks as integer arrays (their
    positions: Dask would give chunks of unknown size for a mask)."""
    out: list = []
    for i in idx:
        if isinstance(i, np.ndarray):
            if i.dtype == np.bool_:
                out.extend(np.nonzero(i) if i.ndim else [i])
                continue
            if i.ndim == 0:
                i = int(i)
        out.append(i)
    return tuple(out)


def getitem(x: Any, idx: tuple, who: str = "getitem") -> Any:
    """``x[idx]`` of a Dask array for a constant NumPy index: integer arrays on several axes
    or of several dimensions go through flat positions (Dask takes one 1-d array at a time).
    Eager libraries (CuPy) index as NumPy does."""
    if not backends.is_dask(x):
        return x[idx]
    _index_arrays(idx, who, lazy_integers=sum(1 for i in idx if _is_advanced(i)) == 1)
    idx = _plain_index(idx)
    arrays = [i for i in idx if isinstance(i, np.ndarray)]
    if len(arrays) <= 1 and all(a.ndim <= 1 for a in arrays):
        return x[idx]
    pos = flat_positions(tuple(x.shape), idx)
    return x.reshape(-1)[pos.reshape(-1)].reshape(pos.shape)


def lazy_positions(indices: Any, n: int, mode: str) -> Any:
    """Lazy integer ``indices`` into a length ``n`` made non-negative as ``np.take``'s
    ``mode`` does ('wrap', 'clip'; 'raise' counts negative ones from the end and checks
    nothing: Dask raises when it computes)."""
    if mode == "wrap":
        return indices % n
    if mode == "clip":
        return np.clip(indices, 0, n - 1)
    return np.where(indices < 0, indices + n, indices)


def take(x: Any, indices: Any, axis: int, mode: str, who: str = "take") -> Any:
    """``np.take(x, indices, axis, mode=mode)`` of a Dask array, or with Dask indices; of an
    eager library's arrays (CuPy's ``take`` has no ``mode``), by indexing."""
    n = x.shape[axis]
    if not (backends.is_dask(x) or backends.is_dask(indices)):
        if foreign(indices):
            where = lazy_positions(indices, n, mode)
            x = x if foreign(x) else backends.asarray_like(x, indices)
        else:
            where = np.take(np.arange(n), indices, mode=mode)
        return x[(slice(None),) * axis + (where,)]
    if foreign(indices):
        where = lazy_positions(indices, n, mode)
        if not backends.is_dask(x):
            x = backends.dask_array().from_array(np.asarray(x))
    else:
        where = np.take(np.arange(n), indices, mode=mode)  # wrapped, clipped
    lead = (slice(None),) * axis
    if len(where.shape) <= 1:
        return getitem(x, lead + (where,), who)
    flat = getitem(x, lead + (where.reshape(-1),), who)
    return flat.reshape(tuple(x.shape[:axis]) + where.shape + tuple(x.shape[axis + 1:]))


def _without_newaxes(idx: tuple, g: Any, ndim: int) -> tuple[tuple, Any]:
    """A basic index without ``None`` and ``Ellipsis`` (which Dask cannot assign through),
    and ``g`` without the axes of length 1 that the ``None`` entries made."""
    n_ellipsis = ndim - sum(1 for i in idx if i is not None and i is not Ellipsis)
    plain: list = []
    shape: list = []
    axis = 0
    for i in idx:
        if i is Ellipsis:
            plain += [slice(None)] * n_ellipsis
            shape += list(g.shape[axis:axis + n_ellipsis])
            axis += n_ellipsis
        elif i is None:
            axis += 1  # an axis of length 1 in g, dropped
        elif isinstance(i, slice):
            plain.append(i)
            shape.append(g.shape[axis])
            axis += 1
        else:  # an integer: no axis in g
            plain.append(i)
    shape += list(g.shape[axis:])
    if tuple(shape) != tuple(g.shape):
        g = g.reshape(tuple(shape))
    return tuple(plain), g


def take_add(g: Any, where: Any, shape: tuple, dtype: Any, axis: int,
             who: str = "take") -> Any:
    """The transpose of :func:`take` for lazy (Dask) non-negative positions ``where`` along
    ``axis``: zeros of ``shape`` with ``g`` added there, by one ``bincount`` of flat
    positions (computed lazily from ``where``)."""
    size = math.prod(shape)
    if size == 0 or math.prod(g.shape) == 0:
        return backends.zeros(shape, dtype, like=_like(g, where))
    lead, n, trail = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    k = len(where.shape)
    rows = backends.arange(lead, np.int64, where).reshape((lead,) + (1,) * (k + 1))
    cols = backends.arange(trail, np.int64, where).reshape((1,) * (k + 1) + (trail,))
    pos = (rows * n + where.reshape((1,) + tuple(where.shape) + (1,))) * trail + cols
    if backends.is_dask(where):
        da = backends.dask_array()
        g = g if backends.is_dask(g) else da.from_array(np.asarray(g))
        flat = g.reshape(-1)
        pos = pos.reshape(-1).rechunk(flat.chunks)
    else:
        g = g if foreign(g) else backends.asarray_like(g, where)
        flat, pos = g.reshape(-1), pos.reshape(-1)
    return _bincount(pos, flat, size, dtype).reshape(shape)


def searchsorted(a: Any, v: Any, side: str = "left") -> Any:
    """``np.searchsorted(a, v, side)`` with Dask operands: a NumPy ``a`` is searched block by
    block of ``v``; a Dask ``a`` is Dask's own."""
    if not (backends.is_dask(a) or backends.is_dask(v)):  # eager: one array on the device
        like = _like(a, v)
        a = a if foreign(a) else backends.asarray_like(a, like)
        v = v if foreign(v) or not hasattr(v, "shape") else backends.asarray_like(v, like)
        return np.searchsorted(a, v, side=side)
    da = backends.dask_array()
    if not backends.is_dask(a):
        v = v if backends.is_dask(v) else da.from_array(np.asarray(v))
        return v.map_blocks(lambda b: np.searchsorted(a, b, side=side), dtype=np.intp)
    return da.searchsorted(a, v if backends.is_dask(v) else da.from_array(np.asarray(v)),
                           side=side)


def searchsorted_any(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    """``np.searchsorted(a, v, side, sorter)`` for operands of any library: NumPy's own for
    NumPy operands, else :func:`searchsorted` (a NumPy ``a`` searched by another library's
    values in that library, or block by block of Dask values)."""
    if _like(a, v) is None:
        return np.searchsorted(a, v, side=side, sorter=sorter)
    if sorter is not None:
        a = np.take(a, sorter)
    if not hasattr(a, "shape"):  # a list of numbers
        a = np.asarray(a)
    return searchsorted(a, v, side=side)


def _no_empty_chunks(v: Any) -> Any:
    """A Dask array without chunks of length 0 (a slice ``x[0:1]`` of chunks ``(1, 1)`` has
    chunks ``(1, 0)``): Dask's ``__setitem__`` with such a value builds a graph that asks for
    the empty block, which the graph of a computed value does not have (a "Missing
    dependency" when computed)."""
    chunks = v.chunks
    if all(all(chunks_ax) for chunks_ax in chunks):
        return v
    return v.rechunk(tuple(tuple(c for c in ax if c) or (0,) for ax in chunks))


def scatter_add(g: Any, shape: tuple, dtype: Any, idx: tuple, who: str = "scatter_add") -> Any:
    """Zeros of ``shape`` with ``g`` added at the constant index ``idx`` (repeated positions
    add up, as ``np.add.at``), in ``g``'s library.

    Basic indices (ints, slices, ``None``, ``Ellipsis``) write ``g`` into zeros; advanced
    ones (integer arrays, masks) sum ``g`` by flat position with one ``bincount``.
    """
    like = _like(g, *idx)
    if like is None:
        raise TypeError(f"{who}: scatter_add takes an array of another library than NumPy")
    if not backends.is_dask(like):  # eager: written into zeros, or one bincount
        if not any(_is_advanced(i) for i in idx):
            out = backends.zeros(shape, dtype, like=like)
            if math.prod(g.shape):
                out[idx] = g if foreign(g) else backends.asarray_like(g, like)
            return out
        size = math.prod(shape)
        pos = flat_positions(shape, idx, like).reshape(-1)
        if size == 0 or math.prod(pos.shape) == 0:
            return backends.zeros(shape, dtype, like=like)
        g = g if foreign(g) else backends.asarray_like(g, like)
        flat = np.broadcast_to(g, pos.shape if len(g.shape) == 1 else g.shape).reshape(-1)
        return _bincount(pos, flat, size, dtype).reshape(shape)
    da = backends.dask_array()
    axis = len(idx) - 1
    if idx and all(isinstance(i, slice) and i == slice(None) for i in idx[:-1]) \
            and foreign(idx[-1]) \
            and getattr(idx[-1], "dtype", None) != np.bool_:  # x[:, :, lazy integers]
        where = lazy_positions(idx[-1], shape[axis], "raise")
        return take_add(g, where, shape, dtype, axis, who)
    _index_arrays(idx, who)
    if not any(_is_advanced(i) for i in idx):
        out = backends.zeros(shape, dtype, like=g)
        if math.prod(g.shape):
            idx, g = _without_newaxes(idx, g, len(shape))
            out[idx] = _no_empty_chunks(g)
        return out
    size = math.prod(shape)
    pos = flat_positions(shape, idx).reshape(-1)
    if size == 0 or pos.size == 0:
        return backends.zeros(shape, dtype, like=g)
    flat = g.reshape(-1)
    where = da.from_array(pos, chunks=flat.chunks)
    return _bincount(where, flat, size, dtype).reshape(shape)


def set_at(x: Any, v: Any, idx: tuple, who: str = "at[...].set") -> Any:
    """``x`` with ``x[idx]`` replaced by ``v`` (``idx`` names each element at most once), in
    the library of ``x`` or ``v``; ``x`` is not written to."""
    like = _like(x, v, *idx)
    if like is None:
        raise TypeError(f"{who}: set_at takes an array of another library than NumPy")
    if not backends.is_dask(like):  # eager: a copy, written into
        out = x.copy() if foreign(x) else backends.asarray_like(x, like).copy()
        out[idx] = v if foreign(v) or not hasattr(v, "shape") else backends.asarray_like(v, like)
        return out
    da = backends.dask_array()
    _index_arrays(idx, who)
    if not any(_is_advanced(i) for i in idx):
        out = x.copy() if backends.is_dask(x) else da.from_array(np.asarray(x))
        out[idx] = _no_empty_chunks(v) if backends.is_dask(v) else v
        return out
    shape, dtype = tuple(x.shape), x.dtype
    v = v if backends.is_dask(v) else da.from_array(np.asarray(v))
    hit = scatter_add(da.ones_like(v, dtype=np.int8), shape, np.int8, idx, who)
    return da.where(hit > 0, scatter_add(v, shape, dtype, idx, who), x)


def _along_blocks(arrays: list, axis: int) -> list:
    """Dask ``arrays`` of one rank broadcast to one shape but along ``axis``, with ``axis`` in
    one chunk: blocks that line up, for a function along ``axis``."""
    da = backends.dask_array()
    arrays = [a if backends.is_dask(a) else da.from_array(np.asarray(a)) for a in arrays]
    shapes = [list(a.shape) for a in arrays]
    full = [max(s[d] for s in shapes) for d in range(len(shapes[0]))]
    out = []
    for a, s in zip(arrays, shapes, strict=True):
        target = tuple(n if d == axis else full[d] for d, n in enumerate(s))
        if tuple(s) != target:
            a = da.broadcast_to(a, target)
        # the first array's chunks along the other axes, so that the blocks line up
        like = out[0].chunks if out else a.chunks
        out.append(a.rechunk(tuple(-1 if d == axis else c for d, c in enumerate(like))))
    return out


def argsort(x: Any, axis: int, who: str = "argsort", **kwargs: Any) -> Any:
    """``np.argsort(x, axis)`` of a Dask array: ``axis`` in one chunk, sorted block by block
    (``axis=None``: of the flattened array)."""
    if not backends.is_dask(x):  # eager: the library's own argsort
        return np.argsort(x, axis=axis, **{k: v for k, v in kwargs.items() if v is not None})
    da = backends.dask_array()
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % len(x.shape)
    (x,) = _along_blocks([x], axis)
    return da.map_blocks(np.argsort, x, axis=axis, dtype=np.intp, **kwargs)


def partition_index_numpy(a: np.ndarray, kth: Any, axis: int) -> np.ndarray:
    """Indices ``idx`` with ``take_along_axis(a, idx, axis) == np.partition(a, kth, axis)``,
    of a NumPy array."""
    out = np.partition(a, kth, axis=axis)
    order_a = np.argsort(a, axis=axis, kind="stable")
    order_out = np.argsort(out, axis=axis, kind="stable")
    idx = np.empty_like(order_a)
    np.put_along_axis(idx, order_out, order_a, axis=axis)
    return idx


def partition_index(x: Any, kth: Any, axis: int) -> Any:
    """:func:`partition_index_numpy` of another library's array: of a Dask array block by
    block (``axis`` in one chunk, NumPy's arrangement); of an eager library's with its own
    ``partition`` and ``argsort`` (no ``put_along_axis``: the inverse of one argsort)."""
    if not backends.is_dask(x):
        order_x = np.argsort(x, axis=axis, kind="stable")
        order_out = np.argsort(np.partition(x, kth, axis=axis), axis=axis, kind="stable")
        return np.take_along_axis(order_x, np.argsort(order_out, axis=axis), axis=axis)
    da = backends.dask_array()
    axis = axis % len(x.shape)
    (x,) = _along_blocks([x], axis)
    return da.map_blocks(partition_index_numpy, x, kth=kth, axis=axis, dtype=np.intp)


def take_along(x: Any, indices: Any, axis: int, who: str = "take_along_axis") -> Any:
    """``np.take_along_axis(x, indices, axis)`` for Dask operands, block by block."""
    if not (backends.is_dask(x) or backends.is_dask(indices)):  # eager: the library's own
        like = _like(x, indices)
        x = x if foreign(x) else backends.asarray_like(x, like)
        indices = indices if foreign(indices) else backends.asarray_like(indices, like)
        return np.take_along_axis(x, indices, axis=axis)
    da = backends.dask_array()
    x, indices = _along_blocks([x, indices], axis)
    return da.map_blocks(np.take_along_axis, x, indices, axis=axis, dtype=x.dtype,
                         chunks=indices.chunks)


def _put_along_add(g: np.ndarray, indices: np.ndarray, n: int, out_dtype: Any,
                   axis: int) -> np.ndarray:
    shape = list(g.shape)
    shape[axis] = n
    out = np.zeros(shape, out_dtype)
    nd = len(shape)
    index = tuple(
        indices if d == axis else np.arange(k).reshape((1,) * d + (k,) + (1,) * (nd - d - 1))
        for d, k in enumerate(g.shape)
    )
    np.add.at(out, index, g)
    return out


def take_along_add(g: Any, indices: Any, shape: tuple, dtype: Any, axis: int,
                   who: str = "take_along_axis") -> Any:
    """The transpose of :func:`take_along`: zeros of ``shape`` with ``g`` added where
    ``indices`` point along ``axis``, block by block."""
    if not (backends.is_dask(g) or backends.is_dask(indices)):  # eager: one bincount
        return _take_along_add_eager(g, indices, shape, dtype, axis)
    da = backends.dask_array()
    g, indices = _along_blocks([g, indices], axis)
    lead = tuple(shape[d] if d != axis else g.shape[d] for d in range(len(shape)))
    if tuple(g.shape) != lead:  # g broadcast against x's other axes: sum later
        g = da.broadcast_to(g, lead).rechunk({axis: -1})
        indices = da.broadcast_to(indices, lead).rechunk(g.chunks)
    chunks = tuple((shape[axis],) if d == axis else c for d, c in enumerate(g.chunks))
    return da.map_blocks(_put_along_add, g, indices, n=shape[axis], out_dtype=dtype,
                         axis=axis, chunks=chunks, dtype=dtype,
                         meta=np.empty((0,) * len(shape), dtype))


def _take_along_add_eager(g: Any, indices: Any, shape: tuple, dtype: Any, axis: int) -> Any:
    like = _like(g, indices)
    g = g if foreign(g) else backends.asarray_like(g, like)
    indices = indices if foreign(indices) else backends.asarray_like(indices, like)
    nd = len(shape)
    both = np.broadcast_shapes(tuple(g.shape), tuple(indices.shape))
    lead = tuple(both[d] if d == axis else shape[d] for d in range(len(shape)))
    size = math.prod(shape)
    if size == 0 or math.prod(lead) == 0:
        return backends.zeros(shape, dtype, like=like)
    n = shape[axis]
    pos: Any = 0
    for d in range(nd):
        stride = math.prod(shape[d + 1:])
        if d == axis:
            coord = np.where(indices < 0, indices + n, indices)
        else:
            coord = backends.arange(lead[d], np.int64, like).reshape(
                (1,) * d + (lead[d],) + (1,) * (nd - d - 1))
        pos = pos + coord * stride
    pos = np.broadcast_to(pos, lead).reshape(-1)
    flat = np.broadcast_to(g, lead).reshape(-1)
    return _bincount(pos, flat, size, dtype).reshape(shape)


def _sample(x: Any) -> np.ndarray:
    """One NumPy matrix (or vector) like the core of ``x``: an identity where it can be."""
    shape = tuple(x.shape)
    if len(shape) >= 2:
        return np.eye(shape[-2], shape[-1], dtype=x.dtype)
    return np.zeros(shape, x.dtype)


def linalg(func: Callable[..., Any], who: str, *args: Any, **kwargs: Any) -> Any:
    """``func`` (a ``numpy.linalg`` routine) of Dask operands: each matrix of a stack in one
    chunk, NumPy's routine run block by block over the stack's leading axes."""
    if not any(backends.is_dask(a) for a in args):  # eager: the library's own routine
        like = _like(*args)
        return func(*(backends.asarray_like(a, like) if type(a) is np.ndarray else a
                      for a in args), **kwargs)
    da = backends.dask_array()
    arrays = [i for i, a in enumerate(args) if hasattr(a, "shape")]
    cores = [min(len(args[i].shape), 2) for i in arrays]
    # the shapes and dtypes of one matrix's results, from NumPy on a sample
    sample = list(args)
    for i in arrays:
        sample[i] = _sample(args[i])
    out = func(*sample, **kwargs)
    multiple = isinstance(out, tuple)
    outs = tuple(out) if multiple else (out,)
    names = iter(f"d{k}" for k in range(1000))
    ins = ["(" + ",".join(next(names) for _ in range(c)) + ")" for c in cores]
    sizes: dict[str, int] = {}
    results = []
    for o in outs:
        dims = []
        for n in np.shape(o):
            d = next(names)
            sizes[d] = n
            dims.append(d)
        results.append("(" + ",".join(dims) + ")")
    signature = ",".join(ins) + "->" + ",".join(results)
    operands = [args[i] if backends.is_dask(args[i]) else da.from_array(np.asarray(args[i]))
                for i in arrays]
    consts = {i: a for i, a in enumerate(args) if i not in arrays}

    def block(*blocks: Any) -> Any:
        full = [None] * len(args)
        for i, b in zip(arrays, blocks, strict=True):
            full[i] = b
        for i, a in consts.items():
            full[i] = a
        result = func(*full, **kwargs)
        return tuple(result) if multiple else result

    got = da.apply_gufunc(
        block, signature, *operands, output_dtypes=[np.asarray(o).dtype for o in outs],
        output_sizes=sizes, allow_rechunk=True, vectorize=False,
    )
    return tuple(got) if multiple else got
