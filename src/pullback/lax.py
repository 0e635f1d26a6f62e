"""``pb.lax``: structured control flow with JAX's names, signatures and semantics.

``scan``, ``fori_loop``, ``while_loop``, ``cond``, ``switch`` and ``map`` run eagerly as the
Python programs they stand for (derivatives exactly those of the unrolled loop, in both
modes and at any order, under ``vmap`` too). Under ``pb.jit`` each is one loop or branch
in the generated code, traced once, whatever the number of steps, and so are its
derivatives. ``scan(..., checkpoint=...)`` bounds the memory of reverse mode over long
loops. See :mod:`pullback.core.control`.

Example:
    >>> import numpy as np, pullback as pb
    >>> pb.lax.fori_loop(0, 3, lambda i, x: 2.0 * x, 1.0)
    8.0
"""

from pullback.compile import staging as _staging  # noqa: F401 - installs the stager
from pullback.core.control import cond, fori_loop, map, scan, switch, while_loop

__all__ = ["cond", "fori_loop", "map", "scan", "switch", "while_loop"]
