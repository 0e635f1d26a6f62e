"""Products: ``multiply`` lives with the elementwise functions; here ``matmul``, ``dot``,
``outer``."""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback._core import Tracer, shape_of
from pullback._rules import defbilinear
from pullback.numpy._registry import implements, new_primitive
from pullback.numpy.reductions import sum as sum_
from pullback.numpy.shape import expand_dims, reshape, swapaxes

__all__ = ["dot", "matmul", "outer"]

matmul_p = new_primitive("matmul", np.matmul)


def _matmul_lhs(g: Any, x: Any, y: Any) -> Any:
    xnd, ynd = len(shape_of(x)), len(shape_of(y))
    if ynd == 1:
        # (..., n, k) @ (k,) -> (..., n);  (k,) @ (k,) -> ()
        return g * y if xnd == 1 else expand_dims(g, -1) * y
    if xnd == 1:
        # (k,) @ (..., k, m) -> (..., m): sum over m and the batch axes of y * g[..., None, :]
        if ynd == 2:
            return matmul(y, g)
        prod = y * expand_dims(g, -2)
        return sum_(prod, axis=tuple(i for i in range(ynd) if i != ynd - 2))
    return matmul(g, swapaxes(y, -1, -2))


def _matmul_rhs(g: Any, x: Any, y: Any) -> Any:
    xnd, ynd = len(shape_of(x)), len(shape_of(y))
    if xnd == 1:
        # (k,) @ (k,) -> (): g * x;  (k,) @ (..., k, m) -> (..., m): outer(x, g) per batch
        return g * x if ynd == 1 else expand_dims(x, -1) * expand_dims(g, -2)
    if ynd == 1:
        # (..., n, k) @ (k,) -> (..., n)
        if xnd == 2:
            return matmul(g, x)
        return sum_(x * expand_dims(g, -1), axis=tuple(range(xnd - 1)))
    return matmul(swapaxes(x, -1, -2), g)


defbilinear(
    matmul_p,
    lambda g, x, y: _matmul_lhs(g, x, y),
    lambda g, x, y: _matmul_rhs(g, x, y),
)


@implements(np.matmul)
def matmul(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.matmul`` (the ``@`` operator), batched and broadcasting.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.matmul(np.ones((2, 3)), np.ones(3))
        array([3., 3.])
    """
    if not (isinstance(x1, Tracer) or isinstance(x2, Tracer)):
        return np.matmul(x1, x2, **kwargs)
    if (
        not kwargs
        and isinstance(x1, (Tracer, np.ndarray))
        and isinstance(x2, (Tracer, np.ndarray))
        and x1.dtype == x2.dtype
        and 0 < x1.ndim <= 2
        and 0 < x2.ndim <= 2
    ):
        return matmul_p.bind(x1, x2)  # nothing to promote or broadcast
    from pullback.numpy._registry import _check_kwargs
    from pullback.numpy.shape import broadcast_to

    _check_kwargs("matmul", kwargs)
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        raise ValueError("matmul: input operand does not have enough dimensions (0-d array)")
    # one dtype for both; batch axes broadcast explicitly so the rules see equal batches
    x1, x2 = _promote_dtypes(x1, x2)
    if len(s1) > 2 or len(s2) > 2:
        if len(s1) >= 2 and len(s2) >= 2:
            batch = np.broadcast_shapes(s1[:-2], s2[:-2])
            if isinstance(x1, Tracer) and s1[:-2] != batch:
                x1 = broadcast_to(x1, batch + s1[-2:])
            if isinstance(x2, Tracer) and s2[:-2] != batch:
                x2 = broadcast_to(x2, batch + s2[-2:])
    return matmul_p.bind(x1, x2)


def _promote_dtypes(x: Any, y: Any) -> tuple[Any, Any]:
    from pullback.numpy.shape import astype

    dtype = np.result_type(*(a.dtype if hasattr(a, "dtype") else a for a in (x, y)))
    return tuple(
        astype(a, dtype) if isinstance(a, Tracer) and a.dtype != dtype else a for a in (x, y)
    )


@implements(np.dot)
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.dot`` for scalars, vectors and matrices.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    if not (isinstance(a, Tracer) or isinstance(b, Tracer)):
        return np.dot(a, b, out=out)
    from pullback.numpy.elementwise import multiply

    if out is not None:
        raise TypeError("pullback.numpy.dot: out= is not supported on traced values")
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    raise NotImplementedError(
        f"pullback.numpy.dot of {na}-d and {nb}-d arrays has no derivative rule yet; "
        "use pullback.numpy.matmul, or define one with pullback.primitive"
    )


@implements(np.outer)
def outer(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.outer``.

    Example:
        >>> import pullback.numpy as pnp
        >>> pnp.outer(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])).shape
        (2, 3)
    """
    if not (isinstance(a, Tracer) or isinstance(b, Tracer)):
        return np.outer(a, b, out=out)
    from pullback.numpy.elementwise import multiply

    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))

