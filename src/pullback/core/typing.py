"""The type aliases of pullback's public signatures, for readers and type checkers.

They name what an argument or a result is; at run time they are plain aliases and change
nothing. ``PyTree`` and ``Array`` are spelled ``Any`` on purpose: a pytree may hold any
leaf (and any registered container), and inside a transformation an array is a
:class:`~pullback.core.trace.Tracer` whose operators and array methods ``pullback.numpy``
installs at import time, where no type checker can see them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy.typing as npt

__all__ = ["Array", "ArrayLike", "DTypeLike", "PyTree"]

PyTree: TypeAlias = Any
"""A pytree: a leaf (an array, a number, a traced value, any object that is not a
container) or a tuple, list, dict, namedtuple, ``None`` or registered container
(:func:`pullback.tree.register_pytree_node`) of pytrees."""

ArrayLike: TypeAlias = npt.ArrayLike
"""What an array argument accepts: a NumPy array, a NumPy or Python number, a nested
sequence of numbers, or a traced value (a ``Tracer`` has ``__array__``)."""

Array: TypeAlias = Any
"""What an array result is: a NumPy array or NumPy scalar, or, inside a transformation,
the ``Tracer`` that stands for one."""

DTypeLike: TypeAlias = npt.DTypeLike
"""A dtype, or anything ``numpy.dtype`` accepts (``np.float32``, ``"float64"``, ``float``)."""
