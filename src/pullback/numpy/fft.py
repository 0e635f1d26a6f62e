"""``pullback.numpy.fft``: NumPy's discrete Fourier transforms, differentiable in both modes.

Each transform is linear, so one rule gives both modes: the JVP is the transform of the
tangent, the VJP its transpose, itself a transform (hence derivatives of any order).

Complex values follow JAX's convention for real-valued functions of real inputs: a
cotangent ``g`` of a complex value ``z`` pairs with a tangent ``t`` as ``Re(sum(g * t))``
(no conjugation). The gradient of a real loss ``L`` with respect to a complex intermediate
``z = x + iy`` is therefore ``dL/dx - i dL/dy``, and the gradients with respect to the real
inputs are exactly those of ``L`` seen as a real function. With this pairing the transpose
of ``fft`` is ``fft`` (the DFT matrix is symmetric) and that of ``ifft`` is ``ifft``.

``rfft`` takes real input (the imaginary part of complex input would be dropped: it
raises instead); ``irfft`` reads, like NumPy, only the real part of the zero-frequency
term (and of the Nyquist term for even ``n``): the derivatives with respect to the
imaginary parts of those terms are zero.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> energy = lambda x: pnp.sum(pnp.abs(pnp.fft.fft(x)) ** 2)  # Parseval: 4 * |x|^2
    >>> pb.grad(energy)(np.array([1.0, 2.0, 0.0, -1.0]))
    array([ 8., 16.,  0., -8.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.rules import defbatch, deflinear
from pullback.core.trace import Tracer, dtype_of, shape_of
from pullback.numpy._registry import batch_along, implements, new_primitive
from pullback.numpy._util import normalize_axis, result_dtype
from pullback.numpy.elementwise import conjugate, real
from pullback.numpy.shape import astype, concatenate, getitem, roll

__all__ = [
    "fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
    "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn",
]

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}


# ----------------------------------------------------------------------------- helpers


def _norm(name: str, norm: Any) -> str:
    try:
        return _NORMS[norm]
    except (KeyError, TypeError):
        raise ValueError(
            f"pullback.numpy.fft.{name}: invalid value {norm!r} for argument 'norm'; use "
            "None, 'backward', 'ortho' or 'forward'"
        ) from None


def _length(name: str, n: Any, what: str = "n") -> int:
    if int(n) != n or n < 1:
        raise ValueError(
            f"pullback.numpy.fft.{name}: invalid number of data points {n!r} (argument "
            f"'{what}'); it must be a positive integer"
        )
    return int(n)


def _complex(x: Any) -> Any:
    """``x`` as complex, in the precision of its real dtype (float32 -> complex64)."""
    dtype = result_dtype(x, np.complex64)
    return x if dtype_of(x) == dtype else astype(x, dtype)


def _resize(x: Any, n: int, axis: int) -> Any:
    """``x`` cropped or zero-padded to length ``n`` along ``axis``, as NumPy's ``n=`` does."""
    shape = shape_of(x)
    have = shape[axis]
    if have == n:
        return x
    if have > n:
        return getitem(x, (slice(None),) * axis + (slice(0, n),))
    pad = backends.zeros(shape[:axis] + (n - have,) + shape[axis + 1 :], dtype_of(x), like=x)
    return concatenate([x, pad], axis=axis)


# ----------------------------------------------------------------------------- primitives


def _fftn_impl(x: Any, axes: tuple[int, ...], norm: str, inverse: bool) -> Any:
    x = x if type(x) is np.ndarray else backends.single_chunk(x, axes)  # Dask: one chunk
    return (np.fft.ifftn if inverse else np.fft.fftn)(x, axes=axes, norm=norm)


#: complex-to-complex transform over ``axes``; its transpose is itself
fftn_p = new_primitive("fft.fftn", _fftn_impl)
deflinear(fftn_p, lambda g, x, axes, norm, inverse: fftn_p.bind(g, axes=axes, norm=norm,
                                                                  inverse=inverse))
defbatch(fftn_p, batch_along(fftn_p, "axes"))  # the transformed axes move past the batch axis

#: real-to-complex transform along ``axis`` (``n`` is the input's length there)
rfft_p = new_primitive(
    "fft.rfft", lambda x, axis, norm: np.fft.rfft(backends.single_chunk(x, (axis,)), axis=axis,
                                                  norm=norm)
)


def _rfft_transpose(g: Any, x: Any, axis: int, norm: str) -> Any:
    # Re(sum_k g_k X_k) = sum_j x_j Re(sum_k g_k e^{-2 pi i jk/n}): a full fft of g padded to n
    full = _resize(g, shape_of(x)[axis], axis)
    return real(fftn_p.bind(full, axes=(axis,), norm=norm, inverse=False))


deflinear(rfft_p, _rfft_transpose)
defbatch(rfft_p, batch_along(rfft_p, "axis"))

#: complex-to-real transform along ``axis``, input of length ``n // 2 + 1`` there
irfft_p = new_primitive(
    "fft.irfft", lambda x, n, axis, norm: np.fft.irfft(backends.single_chunk(x, (axis,)), n=n,
                                                       axis=axis, norm=norm)
)


def _irfft_transpose(g: Any, x: Any, n: int, axis: int, norm: str) -> Any:
    # each of the terms 1..(n-1)//2 stands for itself and its conjugate mirror: weight 2
    m = n // 2 + 1
    head = _resize(fftn_p.bind(_complex(g), axes=(axis,), norm=norm, inverse=True), m, axis)
    weights = np.full(m, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    ndim = len(shape_of(x))
    weights = weights.reshape((m,) + (1,) * (ndim - 1 - axis)).astype(dtype_of(g))
    return head * backends.constant(weights, g)


deflinear(irfft_p, _irfft_transpose)
defbatch(irfft_p, batch_along(irfft_p, "axis"))


# ----------------------------------------------------------------------------- wrappers


def _transform(name: str, a: Any, s: Any, axes: Any, norm: Any, inverse: bool) -> Any:
    nd = len(shape_of(a))
    if axes is None:
        axes = range(nd) if s is None else range(-len(s), 0)
    axes = tuple(normalize_axis(int(ax), nd, f"pullback.numpy.fft.{name}", "axis")
                 for ax in axes)
    if s is not None:
        if len(s) != len(axes):
            raise ValueError(
                f"pullback.numpy.fft.{name}: arguments 's' and 'axes' have different lengths "
                f"({len(s)} and {len(axes)})"
            )
    x = _complex(a)
    if s is not None:
        for ax, n in zip(axes, s, strict=True):
            x = _resize(x, _length(name, n, "s"), ax)
    if not axes:
        return x
    return fftn_p.bind(x, axes=axes, norm=_norm(name, norm), inverse=inverse)


@implements(np.fft.fft)
def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
        out: Any = None) -> Any:
    """Differentiable ``numpy.fft.fft``: the 1-d discrete Fourier transform along ``axis``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.fft(np.array([1.0, 0.0, 0.0, 0.0]))
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    if not isinstance(a, Tracer):
        return np.fft.fft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("fft", out)
    return _transform("fft", a, None if n is None else (n,), (axis,), norm, inverse=False)


@implements(np.fft.ifft)
def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: Any = None) -> Any:
    """Differentiable ``numpy.fft.ifft``: the 1-d inverse transform along ``axis``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.ifft(np.array([4.0, 0.0, 0.0, 0.0]))
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    if not isinstance(a, Tracer):
        return np.fft.ifft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("ifft", out)
    return _transform("ifft", a, None if n is None else (n,), (axis,), norm, inverse=True)


@implements(np.fft.fft2)
def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.fft2``: the 2-d transform over ``axes``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.fft2(np.ones((2, 2))).real
        array([[4., 0.],
               [0., 0.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.fft2(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("fft2", out)
    return _transform("fft2", a, s, axes, norm, inverse=False)


@implements(np.fft.ifft2)
def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.ifft2``: the 2-d inverse transform over ``axes``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.ifft2(np.full((2, 2), 4.0)).real
        array([[4., 0.],
               [0., 0.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.ifft2(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("ifft2", out)
    return _transform("ifft2", a, s, axes, norm, inverse=True)


@implements(np.fft.fftn)
def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.fftn``: the n-d transform over ``axes`` (all by default).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.fftn(np.ones((2, 2, 2))).real.sum()
        np.float64(8.0)
    """
    if not isinstance(a, Tracer):
        return np.fft.fftn(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("fftn", out)
    return _transform("fftn", a, s, axes, norm, inverse=False)


@implements(np.fft.ifftn)
def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.ifftn``: the n-d inverse transform over ``axes``.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.ifftn(np.full((2, 2), 4.0)).real
        array([[4., 0.],
               [0., 0.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.ifftn(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("ifftn", out)
    return _transform("ifftn", a, s, axes, norm, inverse=True)


@implements(np.fft.rfft)
def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: Any = None) -> Any:
    """Differentiable ``numpy.fft.rfft``: the transform of real input, the ``n // 2 + 1``
    non-negative frequency terms.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.rfft(np.array([1.0, 1.0, 1.0, 1.0]))
        array([4.+0.j, 0.+0.j, 0.+0.j])
    """
    if not isinstance(a, Tracer):
        return np.fft.rfft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("rfft", out)
    if a.dtype.kind == "c":
        raise TypeError(
            f"pullback.numpy.fft.rfft: argument 'a' is complex ({a.dtype}); rfft takes real "
            "input (NumPy would drop the imaginary part): use fft, or pass pnp.real(a)"
        )
    axis = normalize_axis(axis, a.ndim, "pullback.numpy.fft.rfft", "axis")
    x = a if a.dtype.kind == "f" else astype(a, np.float64)
    if n is not None:
        x = _resize(x, _length("rfft", n), axis)
    return rfft_p.bind(x, axis=axis, norm=_norm("rfft", norm))


@implements(np.fft.irfft)
def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
          out: Any = None) -> Any:
    """Differentiable ``numpy.fft.irfft``: the inverse of :func:`rfft`, a real signal of
    length ``n`` (default ``2 * (m - 1)`` for ``m`` input terms).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.irfft(np.array([4.0, 0.0, 0.0]))
        array([1., 1., 1., 1.])
    """
    if not isinstance(a, Tracer):
        return np.fft.irfft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("irfft", out)
    axis = normalize_axis(axis, a.ndim, "pullback.numpy.fft.irfft", "axis")
    n = 2 * (a.shape[axis] - 1) if n is None else _length("irfft", n)
    if n < 1:
        raise ValueError(
            f"pullback.numpy.fft.irfft: invalid number of data points {n} (argument 'a' has "
            f"{a.shape[axis]} terms along axis {axis}); pass n"
        )
    x = _resize(_complex(a), n // 2 + 1, axis)
    return irfft_p.bind(x, n=n, axis=axis, norm=_norm("irfft", norm))


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(
            f"pullback.numpy.fft.{name}: out= is not supported on traced values; use the "
            "returned array"
        )


# ----------------------------------------------------------------------------- n-d real, shifts
# Composites of the transforms above, step by step as NumPy computes them.


def _cook(name: str, a: Any, s: Any, axes: Any, invreal: bool = False) -> tuple[list, list]:
    """NumPy's ``s`` and ``axes`` of an n-d transform (``s`` defaults to the input's shape
    along ``axes``, or the output length of an inverse real transform)."""
    shape = shape_of(a)
    if s is None:
        if axes is None:
            axes = list(range(-len(shape), 0))
        else:
            axes = list(axes)
        s = [shape[ax] for ax in axes]
        if invreal and s:
            s[-1] = (shape[axes[-1]] - 1) * 2
    else:
        s = list(s)
        if axes is None:
            axes = list(range(-len(s), 0))
        else:
            axes = list(axes)
    if len(s) != len(axes):
        raise ValueError(f"pullback.numpy.fft.{name}: shape and axes have different lengths")
    return s, axes


def _swap_direction(norm: Any) -> str:
    return {None: "forward", "backward": "forward", "ortho": "ortho",
            "forward": "backward"}[_norm("hfft", norm) if norm is not None else None]


@implements(np.fft.rfftn)
def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.rfftn``: ``rfft`` along the last axis, then ``fft`` along
    the others.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.rfftn(np.ones((2, 4))).real
        array([[8., 0., 0.],
               [0., 0., 0.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.rfftn(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("rfftn", out)
    s, axes = _cook("rfftn", a, s, axes)
    if not axes:
        raise ValueError("pullback.numpy.fft.rfftn: at least one axis must be transformed")
    out_ = rfft(a, s[-1], axes[-1], norm)
    for n, ax in zip(s[:-1], axes[:-1], strict=True):
        out_ = fft(out_, n, ax, norm)
    return out_


@implements(np.fft.rfft2)
def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.rfft2``: :func:`rfftn` over two axes.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.rfft2(np.ones((2, 2))).real
        array([[4., 0.],
               [0., 0.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.rfft2(a, s=s, axes=axes, norm=norm, out=out)
    return rfftn(a, s, axes, norm, out)


@implements(np.fft.irfftn)
def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.irfftn``: ``ifft`` along all axes but the last, then
    ``irfft`` along it.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.irfftn(np.array([[4.0, 0.0, 0.0]]))
        array([[1., 1., 1., 1.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.irfftn(a, s=s, axes=axes, norm=norm, out=out)
    _no_out("irfftn", out)
    s, axes = _cook("irfftn", a, s, axes, invreal=True)
    if not axes:
        raise ValueError("pullback.numpy.fft.irfftn: at least one axis must be transformed")
    x = a
    for n, ax in zip(s[:-1], axes[:-1], strict=True):
        x = ifft(x, n, ax, norm)
    return irfft(x, s[-1], axes[-1], norm)


@implements(np.fft.irfft2)
def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None, out: Any = None) -> Any:
    """Differentiable ``numpy.fft.irfft2``: :func:`irfftn` over two axes.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.irfft2(np.array([[4.0, 0.0], [0.0, 0.0]]))
        array([[1., 1.],
               [1., 1.]])
    """
    if not isinstance(a, Tracer):
        return np.fft.irfft2(a, s=s, axes=axes, norm=norm, out=out)
    return irfftn(a, s, axes, norm, out)


@implements(np.fft.hfft)
def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: Any = None) -> Any:
    """Differentiable ``numpy.fft.hfft``: the transform of a signal with Hermitian symmetry
    (``irfft`` of the conjugate, normalisation swapped).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.hfft(np.array([1.0, 0.0, 0.0]))
        array([1., 1., 1., 1.])
    """
    if not isinstance(a, Tracer):
        return np.fft.hfft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("hfft", out)
    if n is None:
        n = (shape_of(a)[axis] - 1) * 2
    x = conjugate(a) if dtype_of(a).kind == "c" else a
    return irfft(x, n, axis, _swap_direction(norm))


@implements(np.fft.ihfft)
def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
          out: Any = None) -> Any:
    """Differentiable ``numpy.fft.ihfft``: the inverse of :func:`hfft` (real input).

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.ihfft(np.array([1.0, 1.0, 1.0, 1.0]))
        array([1.-0.j, 0.-0.j, 0.-0.j])
    """
    if not isinstance(a, Tracer):
        return np.fft.ihfft(a, n=n, axis=axis, norm=norm, out=out)
    _no_out("ihfft", out)
    if n is None:
        n = shape_of(a)[axis]
    return conjugate(rfft(a, n, axis, _swap_direction(norm)))


def _shift(x: Any, axes: Any, sign: int) -> Any:
    nd = len(shape_of(x))
    if axes is None:
        axes = tuple(range(nd))
        shift = [sign * (dim // 2) for dim in shape_of(x)]
    elif isinstance(axes, (int, np.integer)):
        shift = sign * (shape_of(x)[axes] // 2)
    else:
        shift = [sign * (shape_of(x)[ax] // 2) for ax in axes]
    return roll(x, shift, axes)


@implements(np.fft.fftshift)
def fftshift(x: Any, axes: Any = None) -> Any:
    """Differentiable ``numpy.fft.fftshift``: the zero frequency moved to the centre.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.fftshift(np.array([0.0, 1.0, 2.0, -2.0, -1.0]))
        array([-2., -1.,  0.,  1.,  2.])
    """
    if not isinstance(x, Tracer):
        return np.fft.fftshift(x, axes)
    return _shift(x, axes, 1)


@implements(np.fft.ifftshift)
def ifftshift(x: Any, axes: Any = None) -> Any:
    """Differentiable ``numpy.fft.ifftshift``: the inverse of :func:`fftshift`.

    Example:
        >>> import numpy as np, pullback.numpy as pnp
        >>> pnp.fft.ifftshift(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
        array([ 0.,  1.,  2., -2., -1.])
    """
    if not isinstance(x, Tracer):
        return np.fft.ifftshift(x, axes)
    return _shift(x, axes, -1)


def _frequencies(name: str, ks: np.ndarray, n: int, d: Any) -> Any:
    if not isinstance(d, Tracer):
        return getattr(np.fft, name)(n, d)
    return backends.constant(ks, d) * (1.0 / (n * d))


def fftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """``numpy.fft.fftfreq``: the sample frequencies, differentiable in the spacing ``d``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.fft.fftfreq(4, 0.5)
        array([ 0. ,  0.5, -1. , -0.5])
    """
    if not isinstance(d, Tracer):
        return np.fft.fftfreq(n, d, device=device)
    N = (n - 1) // 2 + 1
    ks = np.concatenate([np.arange(0, N), np.arange(-(n // 2), 0)])
    return _frequencies("fftfreq", ks, n, d)


def rfftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """``numpy.fft.rfftfreq``: the non-negative sample frequencies, differentiable in ``d``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.fft.rfftfreq(4, 0.5)
        array([0. , 0.5, 1. ])
    """
    if not isinstance(d, Tracer):
        return np.fft.rfftfreq(n, d, device=device)
    return _frequencies("rfftfreq", np.arange(0, n // 2 + 1), n, d)
