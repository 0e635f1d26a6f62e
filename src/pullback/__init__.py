"""pullback: differentiate NumPy programs.

Each function returns its value and its pullback (the vector-Jacobian product), as in the
course notebook this library grew from; pullback chains them for you, in reverse and
forward mode, to any order, and checks them exactly.

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda x: pnp.sum(pnp.tanh(x) ** 2))(np.zeros(3))
    array([0., 0., 0.])
"""

from pullback import check as check
from pullback import extend as extend
from pullback import io as io
from pullback import lax as lax
from pullback import nn as nn
from pullback import numpy as numpy  # installs operators and dispatch on traced values
from pullback import optim as optim
from pullback import scipy as scipy
from pullback import tree as tree
from pullback.check import GradientCheckError, check_grads
from pullback.compile.ir import Graph
from pullback.compile.jit import jit
from pullback.compile.trace import make_graph
from pullback.compile.values import ConcretizationError
from pullback.core.api import (
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    stop_gradient,
    value_and_grad,
    vjp,
)
from pullback.core.batching import vmap
from pullback.core.control import checkpoint, checkpoint_name, checkpoint_policies, remat
from pullback.core.debug import debug_nans
from pullback.core.trace import RuleError, TracerConversionError
from pullback.custom import custom_jvp, custom_vjp, primitive

__version__ = "0.1.0"

__all__ = [
    "ConcretizationError",
    "GradientCheckError",
    "Graph",
    "RuleError",
    "TracerConversionError",
    "check",
    "check_grads",
    "checkpoint",
    "checkpoint_name",
    "checkpoint_policies",
    "custom_jvp",
    "custom_vjp",
    "debug_nans",
    "extend",
    "grad",
    "hessian",
    "hvp",
    "io",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jit",
    "jvp",
    "lax",
    "linearize",
    "make_graph",
    "nn",
    "numpy",
    "optim",
    "primitive",
    "remat",
    "scipy",
    "stop_gradient",
    "tree",
    "value_and_grad",
    "vjp",
    "vmap",
]
