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

import sys

from numpy import e as e  # constants and dtypes, not differentiable
from numpy import euler_gamma as euler_gamma
from numpy import float16 as float16
from numpy import float32 as float32
from numpy import float64 as float64
from numpy import inf as inf
from numpy import int32 as int32
from numpy import int64 as int64
from numpy import nan as nan
from numpy import newaxis as newaxis
from numpy import pi as pi

from pullback.numpy import _arraylike, _namespace, _tracer, ufunc_methods
from pullback.numpy import _ndarray as _ndarray  # its methods, before _tracer.install()
from pullback.numpy import fft as fft
from pullback.numpy import linalg as linalg
from pullback.numpy import random as random
from pullback.numpy._constructors import *  # noqa: F403
from pullback.numpy._nondiff import *  # noqa: F403
from pullback.numpy._registry import PRIMITIVES as PRIMITIVES
from pullback.numpy.creation import *  # noqa: F403 (after _nondiff: its *_like are buffers)
from pullback.numpy.elementwise import *  # noqa: F403
from pullback.numpy.indexing import *  # noqa: F403
from pullback.numpy.manipulation import *  # noqa: F403
from pullback.numpy.numeric import *  # noqa: F403
from pullback.numpy.products import *  # noqa: F403
from pullback.numpy.reductions import *  # noqa: F403
from pullback.numpy.shape import *  # noqa: F403

# last, once every family has registered its primitives and methods
_tracer.install()
# lists and tuples of traced values are accepted wherever NumPy takes an array_like
_arraylike.install(sys.modules[__name__])
_arraylike.install(linalg, "linalg.")
_arraylike.install(fft, "fft.")
# every other NumPy name: NumPy's own object, or a wrapper of the tables in _namespace
_namespace.install({"": sys.modules[__name__], "linalg.": linalg, "fft.": fft,
                    "random.": random})
# the methods of the binary ufuncs: pnp.multiply.outer, pnp.maximum.reduce...
ufunc_methods.install(sys.modules[__name__])
