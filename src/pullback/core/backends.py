"""Arrays of other libraries (Dask, CuPy): how pullback tells them apart, makes arrays like
them, and what each library cannot do.

pullback computes with NumPy's functions. Libraries whose arrays implement NumPy's dispatch
protocols (``__array_function__`` and ``__array_ufunc__``: Dask, CuPy) take those calls
themselves, so a rule written with NumPy's functions runs on their arrays unchanged, as long
as it does not make NumPy arrays (``np.zeros(shape)``), convert (``np.asarray``,
``float(x)``, ``x.item()``) or write into its inputs. The helpers here are the one place
where an array of the right library is made; NumPy arrays take a fast path first
(``type(x) is np.ndarray``), so NumPy's speed is unchanged.

What a library cannot do is listed in :data:`CAPABILITIES`, one :class:`Limit` per
operation: either how pullback does it there (say, with an axis in one chunk) or that it is
refused, with :class:`UnsupportedOperation` naming the library, the operation and what to do
instead. pullback never computes a lazy array behind the user's back.

Example:
    >>> import numpy as np
    >>> from pullback.core import backends
    >>> backends.library(np.ones(2)), backends.library(2.0)
    ('numpy', 'numpy')
    >>> backends.zeros((2,), np.float32, like=np.ones(3)).dtype
    dtype('float32')
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CAPABILITIES",
    "Limit",
    "UnsupportedOperation",
    "arange",
    "asarray_like",
    "base_value",
    "constant",
    "dask_array",
    "is_dask",
    "known_zeros",
    "library",
    "limits",
    "numpy_based",
    "refuse",
    "single_chunk",
    "zeros",
]

#: type -> library name ("numpy", "dask", "cupy", ...), filled as types are met
_LIBRARY: dict[type, str] = {
    np.ndarray: "numpy", float: "numpy", int: "numpy", bool: "numpy", complex: "numpy",
}


def library(x: Any) -> str:
    """The name of the library whose array ``x`` is: ``"numpy"`` for NumPy arrays, NumPy
    scalars, Python numbers and anything without NumPy's dispatch protocol; else the top-level
    module of its type (``"dask"``, ``"cupy"``). A traced value answers ``"pullback"``: ask
    about :func:`base_value` of it.

    Example:
        >>> library(np.float32(1.0)), library([1.0, 2.0])
        ('numpy', 'numpy')
    """
    t = type(x)
    try:
        return _LIBRARY[t]
    except KeyError:
        pass
    if issubclass(t, (np.ndarray, np.generic)) or not hasattr(t, "__array_function__"):
        name = "numpy"
    else:
        name = t.__module__.partition(".")[0]
    _LIBRARY[t] = name
    return name


def is_dask(x: Any) -> bool:
    """Whether ``x`` is a Dask array (without importing Dask).

    Example:
        >>> is_dask(np.ones(2))
        False
    """
    return type(x) is not np.ndarray and library(x) == "dask"


def known_zeros(x: Any) -> bool:
    """Whether the array ``x`` is all zeros, as far as can be told without computing a lazy
    array: NumPy arrays and an eager library's (CuPy) are looked at (for CuPy, one boolean
    read back from the device); a Dask array is known to be zeros only when it is Dask's
    ``zeros``/``zeros_like`` itself (as :func:`zeros` makes the cotangent of an unused
    output); a traced value is not known to be zeros.

    Rules use it to skip a term that an unused output's cotangent of zeros would multiply
    (a term that may hold NaN, where ``0 * NaN`` would spoil the result).

    Example:
        >>> known_zeros(np.zeros(3)), known_zeros(np.ones(3))
        (True, False)
    """
    if type(x) is np.ndarray or isinstance(x, (np.generic, float, int, complex)):
        return not np.any(x)
    lib = library(x)
    if lib == "dask":
        layers = getattr(getattr(x, "dask", None), "layers", {})
        return len(layers) == 1 and str(x.name).startswith(("zeros_like-", "zeros-"))
    if lib in ("numpy", "pullback"):  # a traced value, or something that is not an array
        return False
    return not bool(np.any(x))


def dask_array() -> Any:
    """The module ``dask.array`` (imported already wherever a Dask array exists).

    Example:
        >>> import dask.array  # doctest: +SKIP
        >>> dask_array().__name__  # doctest: +SKIP
        'dask.array'
    """
    return sys.modules["dask.array"]


def base_value(x: Any) -> Any:
    """The plain array under any number of traced values (``x`` itself when not traced).

    Example:
        >>> base_value(1.5)
        1.5
    """
    while True:
        try:
            x = x._primal
        except AttributeError:
            return x


def numpy_based(x: Any) -> bool:
    """Whether the plain value under ``x`` (through any number of traced values) is NumPy's:
    :func:`library` of :func:`base_value` is ``"numpy"``, with a fast path for NumPy arrays
    (rules ask it before making a constant in another library).

    Example:
        >>> numpy_based(np.ones(2)), numpy_based(2.0)
        (True, True)
    """
    while True:
        if type(x) is np.ndarray:
            return True
        inner = getattr(x, "_primal", _NO_PRIMAL)
        if inner is _NO_PRIMAL:
            return library(x) == "numpy"
        x = inner


_NO_PRIMAL = object()


def zeros(shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
    """Zeros of ``shape`` and ``dtype`` in the library of ``like`` (an array or traced value;
    NumPy when ``None``). Dask zeros of ``like``'s shape keep its chunks.

    Example:
        >>> zeros((2,), np.float64, like=np.ones(5)).tolist()
        [0.0, 0.0]
    """
    if like is None or type(like) is np.ndarray:
        return np.zeros(shape, dtype)
    like = base_value(like)
    if library(like) == "numpy":
        return np.zeros(shape, dtype)
    if tuple(shape) == tuple(like.shape):
        return np.zeros_like(like, dtype=dtype)
    return np.zeros_like(like, dtype=dtype, shape=shape)


def asarray_like(c: Any, like: Any) -> Any:
    """The NumPy data ``c`` (a constant: index positions, weights) as an array of ``like``'s
    library, moved there explicitly (``np.asarray(c, like=like)``, NEP 35: a copy to the GPU
    for CuPy, a one-chunk array for Dask); ``c`` itself when ``like`` is NumPy's or ``None``.

    Example:
        >>> asarray_like([1, 2], np.ones(3)).tolist()
        [1, 2]
    """
    if like is None or type(like) is np.ndarray:
        return np.asarray(c)
    like = base_value(like)
    if library(like) == "numpy":
        return np.asarray(c)
    return np.asarray(c, like=like)


def constant(c: Any, like: Any) -> Any:
    """A rule's NumPy constant ``c`` (a mask, weights, an identity) ready to meet ``like``
    (an array or traced value) in an operation: ``c`` itself for NumPy and Dask (Dask takes
    NumPy operands), moved into the library for the others (CuPy refuses NumPy operands).

    Example:
        >>> constant(np.eye(2), np.ones(2)).shape
        (2, 2)
    """
    if like is None or type(like) is np.ndarray:
        return c
    lib = library(base_value(like))
    if lib in ("numpy", "dask", "pullback"):  # "pullback": jit's abstract values (pb.jit
        return c  # moves its constants into an eager library when it runs)
    return asarray_like(c, like)


def arange(n: int, dtype: Any, like: Any = None) -> Any:
    """``np.arange(n, dtype=dtype)`` in the library of ``like`` (NumPy when ``None``).

    Example:
        >>> arange(3, np.int64).tolist()
        [0, 1, 2]
    """
    if like is None or type(like) is np.ndarray:
        return np.arange(n, dtype=dtype)
    like = base_value(like)
    if library(like) == "numpy":
        return np.arange(n, dtype=dtype)
    return np.arange(n, dtype=dtype, like=like)


def single_chunk(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with each of ``axes`` in one chunk, when ``x`` is a Dask array (Dask's FFT, sort
    and linear algebra work within a chunk); ``x`` itself otherwise.

    Example:
        >>> single_chunk(np.ones(3), (0,)).shape
        (3,)
    """
    if not is_dask(x):
        return x
    ndim = len(x.shape)
    axes = tuple(a % ndim for a in axes) if ndim else ()
    if all(len(x.chunks[a]) <= 1 for a in axes):
        return x
    return x.rechunk({a: -1 for a in axes})


# ----------------------------------------------------------------------------- capabilities


class UnsupportedOperation(NotImplementedError):
    """An operation that a library's arrays cannot do lazily (see :data:`CAPABILITIES`)."""


@dataclass(frozen=True)
class Limit:
    """What pullback does with one operation on one library's arrays.

    ``refused``: True when the operation raises :class:`UnsupportedOperation`; False when it
    works with the cost or condition told in ``how``. ``instead``: what to do.
    """

    operation: str
    refused: bool
    how: str
    instead: str = ""


_DASK = [
    Limit(
        "x[mask] with a Dask boolean mask, under a transformation",
        True,
        "the result's length is unknown until the mask is computed (chunks of size nan), so "
        "no cotangent or tangent can be shaped for it",
        "use pnp.where(mask, x, 0) (or a masked sum: pnp.sum(pnp.where(mask, x, 0))), or "
        "compute the mask first (mask.compute()) and index with the NumPy mask",
    ),
    Limit(
        "arrays of unknown shape (nan in the shape: from x[mask], nonzero, argwhere, "
        "flatnonzero, unique), under a transformation",
        True,
        "derivatives need every shape, and a lazy array whose shape depends on its values "
        "does not know it",
        "compute what decides the shape first (mask.compute(), x.compute_chunk_sizes()), or "
        "write the computation with a fixed shape (pnp.where instead of a selection)",
    ),
    Limit(
        "integer-array indexing by NumPy arrays on several axes or of several dimensions "
        "(x[rows, cols], x[idx2d], np.diagonal)",
        False,
        "Dask takes one 1-d integer array at a time: x is flattened (a rechunk into 1-d) and "
        "indexed at the flat positions",
        "for large x, index one axis at a time (x[rows][:, cols])",
    ),
    Limit(
        "integer-array indexing by lazy (Dask) integer arrays on several axes, or mixed with "
        "other index arrays",
        True,
        "Dask takes one 1-d integer array at a time, and the flat positions of lazy indices "
        "are not known while the graph is built",
        "index along one axis at a time (pnp.take(x, idx, axis=k)), or compute the indices "
        "first (idx.compute())",
    ),
    Limit(
        "scatter-add: the derivative of x[int_array] and x.at[idx].add (repeated indices "
        "add up)",
        False,
        "one bincount over the flat positions of the indexed elements: each chunk of the "
        "cotangent makes a dense array of x's size before they are summed",
        "fine when x (the indexed array) is a parameter; for a large x prefer slices",
    ),
    Limit(
        "FFT (np.fft.*) along an axis split into several chunks",
        False,
        "that axis is rechunked into one chunk (Dask's FFT works within a chunk)",
        "chunk the data along the other axes",
    ),
    Limit(
        "sort, argsort, median, percentile, quantile along an axis",
        False,
        "that axis is rechunked into one chunk, then NumPy sorts each block",
        "chunk the data along the other axes",
    ),
    Limit(
        "linear algebra of a matrix (inv, solve, det, slogdet, cholesky, qr, svd, eigh, "
        "pinv, lstsq, matrix_power, matrix_rank, matrix norms)",
        False,
        "each matrix of a stack is one chunk and NumPy's routine runs on it (Dask's blocked "
        "algorithms are not used): a matrix must fit in a worker's memory",
        "for a tall matrix X (n x d, n large), write the normal equations (X.T @ X) with "
        "pullback's products, which stay chunked",
    ),
    Limit(
        "eig and eigvals (general, non-symmetric matrices)",
        True,
        "NumPy's result is real when every eigenvalue is real and complex otherwise: the "
        "dtype depends on the values, which a lazy array does not know",
        "use eigh/eigvalsh for symmetric matrices, pass a complex matrix (its results are "
        "complex whatever the values: eig(a.astype(complex)) stays lazy), or compute the "
        "matrix first",
    ),
    Limit(
        "SciPy's routines (pullback.scipy.linalg, pullback.scipy.signal, "
        "pullback.scipy.integrate, pullback.scipy.optimize)",
        False,
        "SciPy's routine runs block by block in the Dask graph, with the axes it works on in "
        "one chunk: each matrix of a stack (linalg), the convolved axes (signal), the whole "
        "problem (an ODE's state, times and arguments; an optimisation's x0 and arguments) "
        "for the solvers; the other axes are mapped chunk by chunk. A check that needs the "
        "values (a singular matrix, a solver that does not converge, a singular Jacobian or "
        "a bound at the solution) raises when the result is computed, and a solver's report "
        "(nit, message) is not known before then",
        "a matrix, the convolved axes and a solver's problem must fit in a worker's memory: "
        "chunk the data along the other axes",
    ),
    Limit(
        "sqrtm and logm of a real matrix",
        False,
        "the result is real: its dtype is chosen before the values are known. A real matrix "
        "with an eigenvalue on the closed negative real axis, whose principal root or "
        "logarithm is complex (SciPy's result would be complex), raises when computed",
        "pass a complex matrix (A.astype(complex)): its result is complex whatever the "
        "values",
    ),
    Limit(
        "numbers that SciPy's solvers take while the graph is built (root_scalar's bracket, "
        "x0 and x1; minimize's and least_squares' bounds; solve_ivp's t_span end, and its "
        "inputs when t_eval is not given)",
        True,
        "SciPy takes them as Python numbers before it runs (and without t_eval, solve_ivp's "
        "own steps decide the result's length), which a lazy array does not have until it "
        "is computed",
        "pass them as NumPy arrays or numbers (they are not differentiated), or give "
        "solve_ivp's t_eval",
    ),
    Limit(
        "checks of the values while the graph is built (geomspace's zero endpoints, "
        "asarray_chkfinite, real_if_close's dtype, polydiv's leading zeros, roots' zero "
        "coefficients, histogram's range from the data)",
        True,
        "the check decides an error, a dtype or a shape from the values, which a lazy array "
        "does not have until it is computed",
        "compute the array first (x.compute()) and pass the NumPy array; for "
        "asarray_chkfinite, check lazily (pnp.isfinite(x).all(), computed when you choose)",
    ),
    Limit(
        "jit (pb.jit)",
        False,
        "compiled for the inputs' library: the traced and simplified graph (the cache key "
        "holds the arrays' type) is evaluated one primitive at a time with the library's own "
        "functions, which build one Dask graph without computing; NumPy's generated code (its "
        "in-place writes and out= buffers) is not used",
        "",
    ),
]

_EAGER = [
    Limit(
        "SciPy's special functions (pullback.scipy.special, and the distributions of "
        "pullback.scipy.stats built on them)",
        True,
        "their values come from SciPy's ufuncs and NumPy-only code (np.frompyfunc), which run "
        "on NumPy arrays in the CPU's memory",
        "copy the arguments to NumPy (cupy.asnumpy) for these functions, or write the "
        "function with pullback.numpy's elementwise operations",
    ),
    Limit(
        "pullback.scipy.linalg, pullback.scipy.signal, pullback.scipy.integrate, "
        "pullback.scipy.optimize",
        True,
        "SciPy's routines convert their arguments to NumPy arrays",
        "copy the arguments to NumPy (cupy.asnumpy), or use pullback.numpy.linalg",
    ),
    Limit(
        "scatter-add: the derivative of x[int_array] and x.at[idx].add (repeated indices "
        "add up)",
        False,
        "one bincount of the flat positions of the indexed elements, in the library (no "
        "np.add.at); the positions are made in NumPy and copied to the device once",
        "",
    ),
    Limit(
        "np.take with mode='wrap' or 'clip', index constants, take_along_axis with NumPy "
        "indices",
        False,
        "the positions are wrapped or clipped, then copied into the library "
        "(np.asarray(c, like=x)) and used as an index",
        "",
    ),
    Limit(
        "jit (pb.jit)",
        False,
        "compiled for the inputs' library: the simplified graph is evaluated one primitive at "
        "a time with the library's functions (CuPy kernels), its NumPy constants copied to "
        "the device on each call; NumPy's generated code is not used",
        "",
    ),
    Limit(
        "eig and eigvals (general, non-symmetric matrices)",
        False,
        "the library's own eig runs (recent CuPy has cupy.linalg.eig); NumPy's result is real "
        "when every eigenvalue is real and complex otherwise, so one boolean (are all the "
        "eigenvalues real?) is read back from the device to choose the dtype, a "
        "synchronisation",
        "use eigh/eigvalsh for symmetric matrices (nothing read back)",
    ),
]

#: library -> the operations its arrays cannot do as NumPy's do (``docs/backends.md``).
#: ``"cupy"`` is also the table of any other library with NumPy's dispatch protocols whose
#: arrays are computed at once (see :func:`limits`)
CAPABILITIES: dict[str, list[Limit]] = {"dask": _DASK, "cupy": _EAGER}


def limits(lib: str) -> list[Limit]:
    """The capability table of ``lib``: its own, or CuPy's for another library with NumPy's
    dispatch protocols (an eager array library); none for NumPy.

    Example:
        >>> [limit.operation for limit in limits("dask") if limit.refused][0][:8]
        'x[mask] '
        >>> limits("numpy")
        []
    """
    if lib == "numpy":
        return []
    return CAPABILITIES.get(lib, CAPABILITIES["cupy"])

_NAMES = {"dask": "Dask", "cupy": "CuPy", "numpy": "NumPy"}


def refuse(who: str, lib: str, operation: str, found: str = "") -> UnsupportedOperation:
    """The error for ``who`` (a function's name) doing ``operation`` (a prefix of a
    :class:`Limit`'s ``operation`` in :data:`CAPABILITIES`) on arrays of ``lib``; ``found``
    says what was given. Raise it: ``raise refuse(...)``.

    Example:
        >>> e = refuse("pullback.numpy.linalg.eig", "dask", "eig and eigvals")
        >>> str(e).startswith("pullback.numpy.linalg.eig: Dask arrays do not support eig")
        True
    """
    for limit in limits(lib):
        if limit.refused and limit.operation.startswith(operation):
            break
    else:
        raise ValueError(f"refuse: no refused operation {operation!r} for {lib!r}")
    name = _NAMES.get(lib, lib)
    where = f" ({found})" if found else ""
    return UnsupportedOperation(
        f"{who}: {name} arrays do not support {limit.operation}{where}: {limit.how}. "
        f"Instead, {limit.instead}. (pullback never computes a {name} array behind your back; "
        "the table of what each library supports is in docs/backends.md)"
    )
