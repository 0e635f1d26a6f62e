"""The public way to add primitives and their derivative rules to pullback.

Most users never need this module: ``@pb.primitive``, ``pb.custom_vjp`` and
``pb.custom_jvp`` wrap a whole function. ``pullback.extend`` is for adding an operation the
way pullback's own NumPy layer does: a :class:`Primitive` with a NumPy implementation, one
rule declaration that gives both modes (:func:`defelementwise`, :func:`deflinear`,
:func:`defbilinear`, :func:`defnondiff`), or general per-argument rules (:func:`defvjp`,
:func:`defjvp`) or joint ones (:func:`defvjp_joint`, :func:`defjvp_joint`), and a batching
rule for ``vmap`` (:func:`defbatch`; without one, ``vmap`` applies the primitive once per
batch entry). Rules are written with pullback's own operations (``pullback.numpy``, or the
strict primitives of :mod:`pullback.core.lax`), so that they are differentiable again and
higher orders work. ``zero`` is the symbolic zero tangent or cotangent.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> from pullback.extend import Primitive, defelementwise
    >>> logcosh = Primitive("logcosh", lambda x: np.log(np.cosh(x)))
    >>> defelementwise(logcosh, lambda ans, x: pnp.tanh(x))
    >>> pb.grad(lambda x: pnp.sum(logcosh.bind(x)))(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.7616])
    >>> pb.hessian(lambda x: logcosh.bind(x))(0.5).round(4)
    np.float64(0.7864)
"""

from pullback.core import lax as lax
from pullback.core.rules import (
    add_tangents,
    defbatch,
    defbilinear,
    defelementwise,
    defjvp,
    defjvp_joint,
    deflinear,
    defnondiff,
    defvjp,
    defvjp_joint,
)
from pullback.core.trace import (
    Primitive,
    RuleError,
    Tracer,
    Zero,
    bind,
    dtype_of,
    shape_of,
    zero,
)
from pullback.core.tree import register_pytree_node

__all__ = [
    "Primitive",
    "RuleError",
    "Tracer",
    "Zero",
    "add_tangents",
    "bind",
    "defbatch",
    "defbilinear",
    "defelementwise",
    "defjvp",
    "defjvp_joint",
    "deflinear",
    "defnondiff",
    "defvjp",
    "defvjp_joint",
    "dtype_of",
    "lax",
    "register_pytree_node",
    "shape_of",
    "zero",
]
