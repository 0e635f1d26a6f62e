"""NumPy's functions under NumPy's names, differentiable.

Outside a transformation each function is NumPy's own, plus a type check. Inside, traced
values are differentiated in both modes and to any order. Plain ``numpy`` calls on traced
values dispatch here through ``__array_ufunc__`` and ``__array_function__``.

Each family module (``elementwise``, ``reductions``, ``shape``, ``products``, ...) lists its
public names in ``__all__``; they are all re-exported here.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda x: pnp.sum(pnp.sin(x)))(np.zeros(2))
    array([1., 1.])
"""

from numpy import (  # constants and dtypes, not differentiable
    e,
    euler_gamma,
    float16,
    float32,
    float64,
    inf,
    int32,
    int64,
    nan,
    newaxis,
    pi,
)

from pullback.numpy import fft, linalg  # noqa: E402
from pullback.numpy import _batching_rules, _tracer
from pullback.numpy._constructors import *  # noqa: F403
from pullback.numpy._nondiff import *  # noqa: F403
from pullback.numpy._registry import PRIMITIVES  # noqa: E402, F401
from pullback.numpy.elementwise import *  # noqa: F403
from pullback.numpy.indexing import *  # noqa: F403
from pullback.numpy.products import *  # noqa: F403
from pullback.numpy.reductions import *  # noqa: F403
from pullback.numpy.shape import *  # noqa: F403

_ = (e, euler_gamma, float16, float32, float64, inf, int32, int64, nan, newaxis, pi)

# last, once every family has registered its primitives and methods
_tracer.install()
_batching_rules.install()
