"""``scipy.signal``: ``convolve``, ``correlate`` and ``fftconvolve`` (modes ``full``, ``same``
and ``valid``, any number of dimensions), differentiable in both inputs in reverse and
forward mode to any order. Implemented with NumPy (no SciPy needed).

One primitive computes the full convolution along some axes (elementwise along the others),
directly (a sliding window) or by FFT; ``same`` and ``valid`` are slices of it. Convolution is
bilinear: the cotangent of ``in1`` is the ``valid`` part of the convolution of the output's
cotangent with ``in2`` reversed, and symmetrically for ``in2`` (no conjugation: pullback's
pairing ``Re(sum(g * t))`` makes the transpose of a complex-linear map its plain transpose).
These rules call the primitive again, so higher orders come for free.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import signal
    >>> signal.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> pb.grad(lambda k: signal.convolve(np.array([1.0, 2.0, 3.0]), k, "valid")[0])(
    ...     np.array([0.0, 1.0, 0.5]))
    array([3., 2., 1.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import pullback.numpy as pnp
from pullback.core.rules import defbatch, defbilinear
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy._registry import batch_front, new_primitive
from pullback.scipy import _lazy

__all__ = ["convolve", "correlate", "fftconvolve"]

_MODES = ("full", "same", "valid")


# ----------------------------------------------------------------------------- the primitive


def _direct(x: np.ndarray, y: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The full convolution along ``axes`` by a sliding window (exact sums of products)."""
    dtype = np.result_type(x, y)
    pad = [(0, 0)] * x.ndim
    for ax in axes:
        pad[ax] = (y.shape[ax] - 1, y.shape[ax] - 1)
    xp = np.pad(x.astype(dtype, copy=False), pad)
    windows = np.lib.stride_tricks.sliding_window_view(
        xp, tuple(y.shape[ax] for ax in axes), axis=axes)
    # windows: x's shape (padded, then cut to the output) + the kernel's shape at the end
    kernel = np.flip(y, axis=axes).astype(dtype, copy=False)
    other = [ax for ax in range(x.ndim) if ax not in axes]
    # put the kernel's convolved axes last and keep its other axes in place (equal to x's)
    kernel = np.moveaxis(kernel, axes, range(x.ndim - len(axes), x.ndim))
    k_shape = tuple(kernel.shape[: len(other)])
    kernel = kernel.reshape(
        tuple(k_shape[other.index(ax)] if ax in other else 1 for ax in range(x.ndim))
        + kernel.shape[len(other):])
    return np.sum(windows * kernel, axis=tuple(range(x.ndim, x.ndim + len(axes))))


def _fft(x: np.ndarray, y: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The full convolution along ``axes`` by FFT (sizes x + y - 1 along them)."""
    sizes = [x.shape[ax] + y.shape[ax] - 1 for ax in axes]
    dtype = np.result_type(x, y, np.float32)
    if dtype.kind == "c":
        out = np.fft.ifftn(np.fft.fftn(x, sizes, axes) * np.fft.fftn(y, sizes, axes), sizes,
                           axes)
    else:
        out = np.fft.irfftn(np.fft.rfftn(x, sizes, axes) * np.fft.rfftn(y, sizes, axes),
                            sizes, axes)
    return out.astype(dtype, copy=False)


def _convolve_impl(x: Any, y: Any, axes: tuple[int, ...], method: str) -> np.ndarray:
    if (type(x) is not np.ndarray or type(y) is not np.ndarray) and _lazy.foreign(
            "pullback.scipy.signal.convolve", x, y):
        return _convolve_lazy(x, y, axes, method)
    x, y = np.asarray(x), np.asarray(y)
    if any(x.shape[ax] == 0 or y.shape[ax] == 0 for ax in axes):
        shape = list(np.broadcast_shapes(*(tuple(1 if i in axes else n for i, n in
                                                  enumerate(v.shape)) for v in (x, y))))
        for ax in axes:
            shape[ax] = max(x.shape[ax] + y.shape[ax] - 1, 0)
        return np.zeros(shape, np.result_type(x, y))
    return _fft(x, y, axes) if method == "fft" else _direct(x, y, axes)


def _convolve_lazy(x: Any, y: Any, axes: tuple[int, ...], method: str) -> Any:
    """:func:`_convolve_impl` of Dask operands: the convolved axes (moved last) in one chunk,
    the other axes mapped chunk by chunk."""
    x, y = _lazy.as_value(x), _lazy.as_value(y)
    nd, k = x.ndim, len(axes)
    last = tuple(range(nd - k, nd))
    x, y = np.moveaxis(x, axes, last), np.moveaxis(y, axes, last)
    core = tuple(max(x.shape[a] + y.shape[a] - 1, 0) for a in last)
    dtype = np.result_type(x.dtype, y.dtype, *((np.float32,) if method == "fft" else ()))
    if any(x.shape[a] == 0 or y.shape[a] == 0 for a in last):
        dtype = np.result_type(x.dtype, y.dtype)
    full = _lazy.apply(lambda a, b: _convolve_impl(a, b, last, method),
                       "pullback.scipy.signal.convolve", [x, y], [k, k], [(core, dtype)])
    return np.moveaxis(full, last, axes)


#: the full convolution of ``x`` and ``y`` along ``axes`` (their other axes equal)
convolve_p = new_primitive("scipy.signal.convolve", _convolve_impl)


def _valid_part(full: Any, n: Sequence[int], m: Sequence[int], axes: tuple[int, ...]) -> Any:
    """The entries ``m-1 .. m-1+n`` of ``full`` along each of ``axes``."""
    index: list[Any] = [slice(None)] * len(shape_of(full))
    for ax, a, b in zip(axes, n, m, strict=True):
        index[ax] = slice(b - 1, b - 1 + a)
    return full[tuple(index)]


def _transpose_lhs(g: Any, x: Any, y: Any, axes: tuple[int, ...], method: str) -> Any:
    full = convolve_p.bind(g, pnp.flip(y, axis=axes), axes=axes, method=method)
    return _valid_part(full, [shape_of(x)[ax] for ax in axes],
                       [shape_of(y)[ax] for ax in axes], axes)


def _transpose_rhs(g: Any, x: Any, y: Any, axes: tuple[int, ...], method: str) -> Any:
    full = convolve_p.bind(g, pnp.flip(x, axis=axes), axes=axes, method=method)
    return _valid_part(full, [shape_of(y)[ax] for ax in axes],
                       [shape_of(x)[ax] for ax in axes], axes)


defbilinear(convolve_p, _transpose_lhs, _transpose_rhs)


def _batch(vals: list, batched: list, params: dict, size: int) -> Any:
    x, y = (batch_front(v, b, size) for v, b in zip(vals, batched, strict=True))
    axes = tuple(ax + 1 for ax in params["axes"])
    return convolve_p.bind(x, y, axes=axes, method=params["method"])


defbatch(convolve_p, _batch)


# ----------------------------------------------------------------------------- modes


def _as_array(v: Any) -> Any:
    return _lazy.as_value(v)  # traced values and Dask arrays as they are


def _check_mode(name: str, mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"pullback.scipy.signal.{name}: acceptable mode flags are 'valid', "
                         f"'same', or 'full', got {mode!r}")


def _convolve(name: str, in1: Any, in2: Any, mode: str, axes: tuple[int, ...],
              method: str) -> Any:
    """SciPy's convolution along ``axes`` in ``mode``, other axes broadcast."""
    x, y = _as_array(in1), _as_array(in2)
    nd = len(shape_of(x))
    sx, sy = shape_of(x), shape_of(y)
    if len(sy) != nd:
        raise ValueError(f"pullback.scipy.signal.{name}: in1 and in2 should have the same "
                         f"dimensionality, got shapes {sx} and {sy}")
    if nd == 0:
        return x * y
    dtype = np.result_type(dtype_of(x), dtype_of(y))
    if dtype.kind not in "fcb" and method == "fft":
        dtype = np.dtype(np.float64)
    if dtype.kind in "fc":
        x = x if dtype_of(x) == dtype else pnp.astype(x, dtype)
        y = y if dtype_of(y) == dtype else pnp.astype(y, dtype)
    # the other axes broadcast (fftconvolve's 'axes'): give both the common sizes
    other = [ax for ax in range(nd) if ax not in axes]
    for ax in other:
        if sx[ax] != sy[ax] and 1 not in (sx[ax], sy[ax]):
            raise ValueError(f"pullback.scipy.signal.{name}: incompatible shapes for in1 and "
                             f"in2: {sx} and {sy} (axis {ax} is not convolved: its sizes "
                             "must match or be 1)")
    common = [max(sx[ax], sy[ax]) for ax in range(nd)]
    tx = tuple(common[ax] if ax in other else sx[ax] for ax in range(nd))
    ty = tuple(common[ax] if ax in other else sy[ax] for ax in range(nd))
    x = x if sx == tx else pnp.broadcast_to(x, tx)
    y = y if sy == ty else pnp.broadcast_to(y, ty)
    if mode == "valid":
        bigger = [sx[ax] >= sy[ax] for ax in axes]
        if not (all(bigger) or not any(s1 > s2 for s1, s2 in zip(
                (sx[ax] for ax in axes), (sy[ax] for ax in axes), strict=True))):
            raise ValueError(f"pullback.scipy.signal.{name}: for 'valid' mode, one must be at "
                             "least as large as the other in every dimension")
        if not all(bigger):
            x, y = y, x
    if isinstance(x, Tracer) or isinstance(y, Tracer):
        full = convolve_p.bind(x, y, axes=axes, method=method)
    else:
        full = _convolve_impl(x, y, axes, method)
    if mode == "full":
        return full
    n1 = [shape_of(x)[ax] for ax in axes]
    n2 = [shape_of(y)[ax] for ax in axes]
    index: list[Any] = [slice(None)] * nd
    for k, ax in enumerate(axes):
        length = n1[k] + n2[k] - 1
        if mode == "same":  # in1's size, centred
            keep = sx[ax]
            start = (length - keep) // 2
        else:
            keep = abs(n1[k] - n2[k]) + 1
            start = min(n1[k], n2[k]) - 1
        index[ax] = slice(start, start + keep)
    return full[tuple(index)]


def _in_scipys_dtype(name: str, x: Any, y: Any, method: str, run: Any) -> Any:
    """``run()`` (the convolution) in SciPy's dtype: the inputs' for integers (rounded from
    the FFT's), booleans (nonzero) and float16; SciPy's direct method refuses booleans and
    float16 in more than one dimension, and so does pullback."""
    want = np.result_type(dtype_of(x), dtype_of(y))
    narrow = want.kind in "iub" or want == np.float16
    if narrow and method == "direct" and len(shape_of(x)) > 1:
        raise ValueError(f"pullback.scipy.signal.{name}: the direct method does not support "
                         f"{want} in {len(shape_of(x))} dimensions (SciPy raises 'Unsupported "
                         "type'); use method='fft' or convert the inputs to float64")
    out = run()
    if not narrow or dtype_of(out) == want:
        return out
    if want.kind in "iub" and dtype_of(out).kind in "fc":
        out = pnp.round(out)
    return pnp.astype(out, want)


def _method(name: str, method: str, x: Any, y: Any) -> str:
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"pullback.scipy.signal.{name}: acceptable method flags are 'auto', "
                         f"'direct', or 'fft', got {method!r}")
    if method != "auto":
        return method
    # direct for small inputs (exact sums), FFT when the work of the direct sums is large
    n = int(np.prod(shape_of(x), dtype=np.int64)) * int(np.prod(shape_of(y), dtype=np.int64))
    return "fft" if n > 1 << 16 else "direct"


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The n-dimensional convolution of ``in1`` and ``in2``; ``scipy.signal.convolve``.

    ``mode``: ``'full'`` (every overlap), ``'same'`` (``in1``'s size, centred) or
    ``'valid'`` (no zero padding; one input must be at least as large as the other along
    every axis). ``method``: ``'direct'`` (sums of products), ``'fft'``, or ``'auto'``
    (direct unless the product of the sizes exceeds 65536). Differentiable in both inputs.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import signal
        >>> signal.convolve(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0]), mode="same")
        array([1., 3., 5.])
    """
    _check_mode("convolve", mode)
    x, y = _as_array(in1), _as_array(in2)
    m = _method("convolve", method, x, y)
    return _in_scipys_dtype("convolve", x, y, m, lambda: _convolve(
        "convolve", x, y, mode, tuple(range(len(shape_of(x)))), m))


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The n-dimensional cross-correlation ``z[k] = sum_l in1[l] conj(in2[l - k + N - 1])``:
    ``convolve(in1, in2 reversed and conjugated)``; ``scipy.signal.correlate``.
    Differentiable in both inputs.

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import signal
        >>> signal.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), mode="valid")
        array([2., 3.])
    """
    _check_mode("correlate", mode)
    x, y = _as_array(in1), _as_array(in2)
    nd = len(shape_of(y))
    if nd:
        y = pnp.flip(y, axis=tuple(range(nd)))
    if dtype_of(y).kind == "c":
        y = pnp.conjugate(y)
    m = _method("correlate", method, x, y)
    return _in_scipys_dtype("correlate", x, y, m, lambda: _convolve(
        "correlate", x, y, mode, tuple(range(len(shape_of(x)))), m))


def fftconvolve(in1: Any, in2: Any, mode: str = "full",
                axes: int | Sequence[int] | None = None) -> Any:
    """The convolution of ``in1`` and ``in2`` by FFT, along ``axes`` (all by default; the
    other axes broadcast); ``scipy.signal.fftconvolve``. Differentiable in both inputs.

    As SciPy's: an axis where either input has size 1 is not convolved but broadcast (the
    same values), so ``'valid'`` compares the sizes only along the axes that remain;
    ``'same'`` has ``in1``'s shape along every axis (centred); 0-d inputs give their
    product, and an empty input an empty 1-d float64 array, whatever ``mode`` and ``axes``
    say. Integer and boolean inputs give float64 (their product when no axis is convolved).

    Example:
        >>> import numpy as np
        >>> from pullback.scipy import signal
        >>> signal.fftconvolve(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0])).round(12)
        array([1., 3., 5., 3.])
    """
    x, y = _as_array(in1), _as_array(in2)
    sx, sy = shape_of(x), shape_of(y)
    nd = len(sx)
    if nd == 0 and not sy:  # SciPy: the product (mode and axes are not read)
        return x * y
    if len(sy) != nd:
        raise ValueError("pullback.scipy.signal.fftconvolve: in1 and in2 should have the same "
                         f"dimensionality, got shapes {sx} and {sy}")
    if 0 in sx or 0 in sy:  # SciPy: an empty 1-d float64 array, whatever the shapes
        return np.zeros((0,), np.float64)
    ax = _fft_axes(axes, nd)
    _check_mode("fftconvolve", mode)
    ax = tuple(a for a in ax if sx[a] != 1 and sy[a] != 1)  # size 1: broadcast
    for a in range(nd):
        if a not in ax and sx[a] != sy[a] and 1 not in (sx[a], sy[a]):
            raise ValueError(f"pullback.scipy.signal.fftconvolve: incompatible shapes for in1 "
                             f"and in2: {sx} and {sy} (axis {a} is not convolved: its sizes "
                             "must match or be 1)")
    if not ax:  # nothing to convolve: SciPy multiplies (in the inputs' dtype)
        full = x * y
    else:
        if mode == "valid":
            ok1 = all(sx[a] >= sy[a] for a in ax)
            if not ok1 and not all(sy[a] >= sx[a] for a in ax):
                raise ValueError("pullback.scipy.signal.fftconvolve: for 'valid' mode, one must "
                                 "be at least as large as the other in every dimension "
                                 f"convolved (axes {ax}), got shapes {sx} and {sy}")
            if not ok1:
                x, y = y, x
        if np.result_type(dtype_of(x), dtype_of(y)).kind not in "fc":  # SciPy: float64
            x, y = pnp.astype(x, np.float64), pnp.astype(y, np.float64)
        full = _convolve("fftconvolve", x, y, "full", ax, "fft")
    cur = shape_of(full)
    if mode == "full":
        return full
    if mode == "same":
        keep = sx
    else:
        keep = tuple(abs(sx[a] - sy[a]) + 1 if a in ax else cur[a] for a in range(nd))
    if keep == cur:
        return full
    return full[tuple(slice((c - k) // 2, (c - k) // 2 + k)
                      for c, k in zip(cur, keep, strict=True))]


def _fft_axes(axes: Any, nd: int) -> tuple[int, ...]:
    """SciPy's reading of ``fftconvolve``'s ``axes``: all by default, else unique, in range
    and not empty."""
    if axes is None:
        return tuple(range(nd))
    raw: list[Any]
    if isinstance(axes, (int, np.integer)):
        raw = [axes]
    else:
        try:
            raw = list(axes)
        except TypeError:
            raw = [None]
    if any(not isinstance(a, (int, np.integer)) for a in raw):
        raise ValueError("pullback.scipy.signal.fftconvolve: axes must be a scalar or iterable "
                         f"of integers, got {axes!r}")
    if not raw:
        raise ValueError("pullback.scipy.signal.fftconvolve: when provided, axes cannot be "
                         "empty")
    out = [int(a) % nd if -nd <= a < nd else _bad_axis(int(a), nd) for a in raw]
    if len(set(out)) != len(out):
        raise ValueError(f"pullback.scipy.signal.fftconvolve: all axes must be unique, got "
                         f"{axes!r}")
    return tuple(sorted(out))


def _bad_axis(axis: int, nd: int) -> int:
    raise ValueError(f"pullback.scipy.signal.fftconvolve: axis {axis} is out of bounds for "
                     f"inputs of {nd} dimensions")
