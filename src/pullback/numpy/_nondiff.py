"""Functions without a derivative: traced arguments pass through as constants.

Comparisons and ``sign`` are primitives (in ``elementwise``); these are plain functions.
"""

from __future__ import annotations

import numpy as np

from pullback.numpy._registry import nondiff_function, unary

__all__ = [
    "all",
    "allclose",
    "any",
    "argmax",
    "argmin",
    "argsort",
    "around",
    "array_equal",
    "ceil",
    "count_nonzero",
    "empty_like",
    "flatnonzero",
    "floor",
    "full_like",
    "isclose",
    "iscomplexobj",
    "isfinite",
    "isinf",
    "isnan",
    "isrealobj",
    "logical_not",
    "ndim",
    "nonzero",
    "ones_like",
    "result_type",
    "rint",
    "round",
    "shape",
    "size",
    "trunc",
    "zeros_like",
]

# fmt: off
floor    = unary("floor",    np.floor,    None)
ceil     = unary("ceil",     np.ceil,     None)
rint     = unary("rint",     np.rint,     None)
trunc    = unary("trunc",    np.trunc,    None)
isfinite = unary("isfinite", np.isfinite, None)
isnan    = unary("isnan",    np.isnan,    None)
isinf    = unary("isinf",    np.isinf,    None)
logical_not = unary("logical_not", np.logical_not, None)

round      = nondiff_function("round",      np.round)
around     = nondiff_function("around",     np.around)
argmax     = nondiff_function("argmax",     np.argmax)
argmin     = nondiff_function("argmin",     np.argmin)
argsort    = nondiff_function("argsort",    np.argsort)
nonzero    = nondiff_function("nonzero",    np.nonzero)
flatnonzero = nondiff_function("flatnonzero", np.flatnonzero)
zeros_like = nondiff_function("zeros_like", np.zeros_like)
ones_like  = nondiff_function("ones_like",  np.ones_like)
full_like  = nondiff_function("full_like",  np.full_like)
empty_like = nondiff_function("empty_like", np.empty_like)
allclose   = nondiff_function("allclose",   np.allclose)
isclose    = nondiff_function("isclose",    np.isclose)
array_equal = nondiff_function("array_equal", np.array_equal)
any        = nondiff_function("any",        np.any)
all        = nondiff_function("all",        np.all)
count_nonzero = nondiff_function("count_nonzero", np.count_nonzero)
shape      = nondiff_function("shape",      np.shape)
ndim       = nondiff_function("ndim",       np.ndim)
size       = nondiff_function("size",       np.size)
iscomplexobj = nondiff_function("iscomplexobj", np.iscomplexobj)
isrealobj  = nondiff_function("isrealobj",  np.isrealobj)
result_type = nondiff_function("result_type", np.result_type)
# fmt: on
