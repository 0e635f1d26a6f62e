"""SciPy's functions under SciPy's names, differentiable; SciPy itself is not needed.

``special`` (special functions) and ``stats`` (distributions) are implemented with NumPy.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import special
    >>> float(pb.grad(special.erf)(0.0))
    1.1283791670955126
"""

from pullback.scipy import special as special
from pullback.scipy import stats as stats

__all__ = ["special", "stats"]
