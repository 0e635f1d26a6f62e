"""Rows for ``pullback.numpy.fft``: real-valued functions of real inputs with complex
intermediates (``real``, ``imag``, ``abs``, ``conj``, products of complex values)."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _parts(lib, transform, **kw):
    """Real and imaginary parts of the transform, weighted differently, as one real array."""

    def f(x):
        z = getattr(lib.fft, transform)(x, **kw)
        return lib.real(z) + 2.0 * lib.imag(z)

    return f


def _power(lib, transform, **kw):
    """The power spectrum |z|^2, through abs."""
    return lambda x: lib.abs(getattr(lib.fft, transform)(x, **kw)) ** 2


def _conj_product(lib, transform, **kw):
    """z * conj(z) * (1 + 2j), real part: a product of complex traced values."""

    def f(x):
        z = getattr(lib.fft, transform)(x, **kw)
        return lib.real(z * lib.conj(z) * (1.0 + 2.0j) + z * z)

    return f


def _irfft_of_parts(lib, **kw):
    """irfft of a spectrum built from two real arrays (real and imaginary parts)."""
    return lambda x, y: lib.fft.irfft(x + 1j * y, **kw)


def _rows(transform, shapes, kwargs_list):
    rows = []
    for kw in kwargs_list:
        tag = ",".join(f"{k}={v}" for k, v in kw.items())
        rows.append(spec(f"fft.{transform}", _parts(pnp, transform, **kw),
                         _parts(np, transform, **kw), shapes, tag=tag or "parts"))
    return rows


ONE_D = [((8,),), ((5,),), ((3, 4),), ((1,),)]
TWO_D = [((3, 4),), ((2, 3, 4),)]

# fmt: off
SPECS = [
    *_rows("fft", ONE_D, [{}, {"norm": "ortho"}, {"norm": "forward"}]),
    *_rows("fft", [((3, 4),)], [{"n": 6}, {"n": 3}, {"axis": 0}, {"n": 5, "axis": -2}]),
    *_rows("ifft", ONE_D, [{}, {"norm": "ortho"}, {"norm": "forward"}]),
    *_rows("ifft", [((3, 4),)], [{"n": 7, "axis": 0}]),
    *_rows("fft2", TWO_D, [{}, {"norm": "ortho"}, {"s": (4, 3)}, {"axes": (0, -1)}]),
    *_rows("ifft2", TWO_D, [{}, {"norm": "forward"}, {"s": (2, 5)}]),
    *_rows("fftn", [((2, 3, 4),), ((5,),)], [{}, {"norm": "ortho"}]),
    *_rows("fftn", [((2, 3, 4),)], [{"axes": (0, 2)}, {"s": (3, 2), "axes": (2, 0)}]),
    *_rows("ifftn", [((2, 3, 4),), ((5,),)], [{}, {"norm": "forward"}]),
    *_rows("ifftn", [((2, 3, 4),)], [{"s": (4, 4), "axes": (-2, -1)}]),
    *_rows("rfft", [((8,),), ((7,),), ((3, 4),), ((1,),)], [{}, {"norm": "ortho"},
                                                           {"norm": "forward"}]),
    *_rows("rfft", [((3, 6),)], [{"n": 4}, {"n": 9}, {"axis": 0}]),
    spec("fft.rfft", _power(pnp, "rfft"), _power(np, "rfft"), [((8,),), ((7,),), ((2, 5),)],
         tag="power"),
    spec("fft.fft", _power(pnp, "fft"), _power(np, "fft"), [((6,),)], tag="power"),
    spec("fft.fft2", _conj_product(pnp, "fft2"), _conj_product(np, "fft2"), [((3, 4),)],
         tag="conj-product"),
    spec("fft.fft", lambda x: np.real(np.fft.fft(x)), lambda x: np.real(np.fft.fft(x)),
         [((4,),)], tag="numpy-dispatch"),
    spec("fft.irfft", _irfft_of_parts(pnp), _irfft_of_parts(np),
         [((5,), (5,)), ((4,), (4,)), ((2, 3), (2, 3))]),
    spec("fft.irfft", _irfft_of_parts(pnp, n=7), _irfft_of_parts(np, n=7), [((5,), (5,))],
         tag="n=7"),
    spec("fft.irfft", _irfft_of_parts(pnp, n=4), _irfft_of_parts(np, n=4), [((5,), (5,))],
         tag="n=4"),
    spec("fft.irfft", _irfft_of_parts(pnp, n=10, norm="ortho"),
         _irfft_of_parts(np, n=10, norm="ortho"), [((4,), (4,))], tag="n=10,norm=ortho"),
    spec("fft.irfft", _irfft_of_parts(pnp, axis=0, norm="forward"),
         _irfft_of_parts(np, axis=0, norm="forward"), [((3, 2), (3, 2))],
         tag="axis=0,norm=forward"),
    spec("fft.irfft", lambda x: pnp.fft.irfft(pnp.fft.rfft(x) * pnp.fft.rfft(x)),
         lambda x: np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(x)), [((6,),), ((7,),)],
         tag="circular-convolution"),
]
# fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts.


def _complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _complex_rows(transform, shapes, kwargs_list):
    return [spec(f"fft.{transform}", lambda z, kw=kw: getattr(pnp.fft, transform)(z, **kw),
                 lambda z, kw=kw: getattr(np.fft, transform)(z, **kw), shapes, _complex,
                 tag="complex" + "".join(f",{k}={v}" for k, v in kw.items()))
            for kw in kwargs_list]


# fmt: off
COMPLEX_SPECS = [
    *_complex_rows("fft", [((8,),), ((3, 5),)], [{}, {"norm": "ortho"}, {"n": 6, "axis": 0}]),
    *_complex_rows("ifft", [((8,),), ((3, 5),)], [{}, {"norm": "forward"}]),
    *_complex_rows("fft2", [((3, 4),)], [{}, {"s": (4, 3)}]),
    *_complex_rows("ifft2", [((3, 4),)], [{}]),
    *_complex_rows("fftn", [((2, 3, 4),)], [{}, {"axes": (0, 2)}]),
    *_complex_rows("ifftn", [((2, 3, 4),)], [{"norm": "ortho"}]),
    *_complex_rows("irfft", [((5,),), ((2, 4),)], [{}, {"n": 7}]),
    spec("fft.fft", lambda z: pnp.abs(pnp.fft.fft(z)) ** 2, lambda z: np.abs(np.fft.fft(z)) ** 2,
         [((6,),)], _complex, tag="complex-power"),
]
# fmt: on
