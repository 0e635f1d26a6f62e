"""SciPy's functions under SciPy's names, differentiable.

``special`` (special functions) and ``stats`` (distributions) are implemented with NumPy
and need no SciPy (but ``special``'s Bessel functions, which import it on their first
call). ``linalg``, ``signal``, ``integrate`` and ``optimize`` are loaded on first use
(``pullback.scipy.linalg``, or ``import pullback.scipy.linalg``): those that compute values
with SciPy import it then, so that ``import pullback`` stays fast and works without SciPy.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import special
    >>> float(pb.grad(special.erf)(0.0))
    1.1283791670955126
"""

import importlib
from typing import Any

from pullback.scipy import _hint  # noqa: F401 - names SciPy's functions in conversion errors
from pullback.scipy import special as special
from pullback.scipy import stats as stats

__all__ = ["integrate", "linalg", "optimize", "signal", "special", "stats"]

_LAZY = {"integrate", "linalg", "optimize", "signal"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:  # a submodule loaded on first use (PEP 562)
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
