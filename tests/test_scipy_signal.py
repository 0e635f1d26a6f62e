"""pullback.scipy.signal: the transposes of convolution in closed form, complex inputs,
mixed second derivatives, errors, vmap and jit. The spec table checks every mode against
finite differences of SciPy's."""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

ss = pytest.importorskip("scipy.signal")
from pullback.scipy import signal as psig  # noqa: E402

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_gradients_are_correlations_with_the_other_input(mode, method):
    x, y = RNG.standard_normal((6, 5)), RNG.standard_normal((3, 2))
    out = ss.convolve(x, y, mode)
    w = RNG.standard_normal(out.shape)
    gx, gy = pb.grad(lambda a, b: pnp.sum(w * psig.convolve(a, b, mode, method)),
                     argnums=(0, 1))(x, y)
    # <w, conv(x, y)> is linear in x: its gradient is the matrix of that map applied to w
    basis = np.eye(x.size).reshape((x.size,) + x.shape)
    want_x = np.array([np.sum(w * ss.convolve(e, y, mode)) for e in basis]).reshape(x.shape)
    basis = np.eye(y.size).reshape((y.size,) + y.shape)
    want_y = np.array([np.sum(w * ss.convolve(x, e, mode)) for e in basis]).reshape(y.shape)
    np.testing.assert_allclose(gx, want_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, want_y, rtol=1e-12, atol=1e-12)
    # forward mode: conv(dx, y) + conv(x, dy)
    dx, dy = RNG.standard_normal(x.shape), RNG.standard_normal(y.shape)
    t = pb.jvp(lambda a, b: psig.convolve(a, b, mode, method), (x, y), (dx, dy))[1]
    np.testing.assert_allclose(t, ss.convolve(dx, y, mode) + ss.convolve(x, dy, mode),
                               rtol=1e-11, atol=1e-12)


def test_the_mixed_second_derivative_is_the_convolution_itself():
    # d/dx d/dy <w, conv(x, y)> along (dx, dy) = <w, conv(dx, dy)> (bilinear: nothing else)
    x, y = RNG.standard_normal(7), RNG.standard_normal(4)
    w = RNG.standard_normal(10)
    dx, dy = RNG.standard_normal(7), RNG.standard_normal(4)
    gy = pb.grad(lambda a, b: pnp.sum(w * psig.correlate(a, b)), argnums=1)
    mixed = pb.jvp(lambda a: gy(a, y), (x,), (dx,))[1]
    np.testing.assert_allclose(np.sum(mixed * dy), np.sum(w * ss.correlate(dx, dy)),
                               rtol=1e-12)
    assert np.all(pb.hessian(lambda a: pnp.sum(w * psig.correlate(a, y)))(x) == 0)


def test_complex_inputs_follow_scipy_and_the_pairing():
    x = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    y = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    for f, ref in ((psig.correlate, ss.correlate), (psig.fftconvolve, ss.fftconvolve)):
        np.testing.assert_allclose(f(x, y), ref(x, y), rtol=1e-12)
        dx = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
        t = pb.jvp(lambda a, f=f: f(a, y), (x,), (dx,))[1]
        np.testing.assert_allclose(t, ref(dx, y), rtol=1e-12, atol=1e-13)
        g = RNG.standard_normal(7) + 1j * RNG.standard_normal(7)
        back = pb.vjp(lambda a, f=f: f(a, y), x)[1](g)[0]
        np.testing.assert_allclose(np.real(np.sum(back * dx)), np.real(np.sum(g * t)),
                                   rtol=1e-12)


def test_plain_values_and_errors_as_scipy():
    a, b = np.arange(4), np.arange(3)
    assert psig.convolve(a, b).dtype == ss.convolve(a, b).dtype
    np.testing.assert_array_equal(psig.convolve(a, b), ss.convolve(a, b))
    with pytest.raises(ValueError, match="acceptable mode flags"):
        psig.convolve(a, b, mode="circular")
    with pytest.raises(ValueError, match="one must be at least as large"):
        psig.convolve(np.ones((3, 4)), np.ones((2, 5)), "valid")
    with pytest.raises(ValueError, match="same dimensionality"):
        psig.fftconvolve(np.ones((3, 4)), np.ones(2))


def test_vmap_and_jit_agree_with_eager():
    x, k = RNG.standard_normal((4, 9)), RNG.standard_normal((4, 3))

    def f(a, b):
        return psig.convolve(a, b, "same") + psig.fftconvolve(a, b, "same") \
            + psig.correlate(a, b, "same")

    eager = np.stack([f(x[i], k[i]) for i in range(4)])
    np.testing.assert_allclose(pb.vmap(f)(x, k), eager, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.vmap(f, in_axes=(0, None))(x, k[0]),
                               np.stack([f(v, k[0]) for v in x]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pb.jit(f)(x[0], k[0]), eager[0], rtol=1e-12, atol=1e-13)
    g = pb.grad(lambda b: pnp.sum(f(x[0], b) ** 2))
    np.testing.assert_allclose(pb.jit(g)(k[0]), g(k[0]), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.int64, bool, np.float16])
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_integer_boolean_and_float16_inputs_keep_scipys_dtype(dtype, method):
    a = (np.arange(6) % 3).astype(dtype)
    b = (np.arange(3) % 2 + 1).astype(dtype)
    for ours, theirs in ((psig.convolve, ss.convolve), (psig.correlate, ss.correlate)):
        want = theirs(a, b, "full", method)
        got = ours(a, b, "full", method)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-3,
                                   atol=1e-6)  # float16 by FFT: rounding-sized zeros
    if dtype in (bool, np.float16) and method == "direct":
        # SciPy's direct method refuses them in more than one dimension
        with pytest.raises(ValueError, match="Unsupported type"):
            ss.convolve(np.ones((3, 3), dtype), np.ones((2, 2), dtype), method=method)
        with pytest.raises(ValueError, match="direct method does not support"):
            psig.convolve(np.ones((3, 3), dtype), np.ones((2, 2), dtype), method=method)
