"""SciPy's functions under SciPy's names, differentiable; SciPy itself is not needed.

Example:
    >>> import numpy as np, pullback as pb
    >>> from pullback.scipy import special
    >>> float(pb.grad(special.erf)(0.0))
    1.1283791670955126
"""

from pullback.scipy import special as special

__all__ = ["special"]
