"""Rows for ``pullback.scipy.signal``, against SciPy's values. Inputs are positive (sums of
products without cancellation, so that FFT and direct sums agree with SciPy's to 1e-13)."""

from specs import spec

try:
    import scipy.signal as ss

    from pullback.scipy import signal as psig
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    ss = None

POS = (0.5, 2.0)
SHAPES = [((5,), (3,)), ((3,), (6,)), ((4, 5), (2, 3)), ((2, 3, 3), (2, 2, 2)), ((1,), (1,))]
VALID = [((5,), (3,)), ((3,), (6,)), ((4, 5), (2, 3)), ((1,), (1,))]

SPECS = []
if ss is not None:
    SPECS = [
        *[spec(f"scipy.signal.{name}", lambda a, b, f=ours, m=mode: f(a, b, mode=m),
               lambda a, b, f=theirs, m=mode: f(a, b, mode=m),
               VALID if mode == "valid" else SHAPES, POS, POS, tag=mode)
          for name, ours, theirs in [("convolve", psig.convolve, ss.convolve),
                                     ("correlate", psig.correlate, ss.correlate),
                                     ("fftconvolve", psig.fftconvolve, ss.fftconvolve)]
          for mode in ("full", "same", "valid")],
        spec("scipy.signal.convolve", lambda a, b: psig.convolve(a, b, method="fft"),
             lambda a, b: ss.convolve(a, b, method="fft"), [((6,), (4,)), ((3, 4), (2, 2))],
             POS, POS, tag="fft"),
        spec("scipy.signal.correlate", lambda a, b: psig.correlate(a, b, "same", "fft"),
             lambda a, b: ss.correlate(a, b, "same", "fft"), [((6,), (4,))], POS, POS,
             tag="fft"),
        spec("scipy.signal.fftconvolve", lambda a, b: psig.fftconvolve(a, b, axes=1),
             lambda a, b: ss.fftconvolve(a, b, axes=1), [((3, 6), (1, 4)), ((3, 6), (3, 2)),
                                                         ((), ())],
             POS, POS, tag="axes"),
        # axes where either input has size 1 are broadcast, not convolved (SciPy's reading):
        # 'valid' compares the other sizes only, 'same' keeps in1's shape on every axis
        spec("scipy.signal.fftconvolve", lambda a, b: psig.fftconvolve(a, b, "valid"),
             lambda a, b: ss.fftconvolve(a, b, "valid"), [((4, 1, 3), (4, 2, 1)),
                                                          ((1, 3), (3, 2))],
             POS, POS, tag="valid-broadcast"),
        spec("scipy.signal.fftconvolve", lambda a, b: psig.fftconvolve(a, b, "valid", (0, 2)),
             lambda a, b: ss.fftconvolve(a, b, "valid", (0, 2)), [((4, 1, 3), (4, 2, 1))],
             POS, POS, tag="valid-axes"),
        spec("scipy.signal.fftconvolve", lambda a, b: psig.fftconvolve(a, b, "same", axes=1),
             lambda a, b: ss.fftconvolve(a, b, "same", axes=1), [((1, 4), (3, 2)),
                                                                 ((2, 1), (1, 3))],
             POS, POS, tag="same-broadcast"),
        spec("scipy.signal.fftconvolve", lambda a, b: psig.fftconvolve(a, b, "same", axes=0),
             lambda a, b: ss.fftconvolve(a, b, "same", axes=0), [((5, 2), (3, 2))], POS, POS,
             tag="axes-same"),
    ]
