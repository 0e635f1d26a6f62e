"""SciPy's routines on Dask arrays, lazily: one helper for every family.

SciPy's routines (and pullback's NumPy-only implementations beside them) convert their
arguments to NumPy arrays, which for a Dask array would compute it. Each primitive of
``pullback.scipy`` that calls such code on plain arrays sends Dask operands here instead:
:func:`apply` runs the NumPy implementation block by block inside the Dask graph, with the
*core* axes of each operand (the matrix of a stack, the convolved axes, a whole ODE state or
optimisation problem) in one chunk and the other (leading) axes mapped chunk by chunk. The
results' shapes and dtypes are declared by the caller (they are known from the operands'
shapes and dtypes), so nothing is computed while the graph is built; a check that needs the
values (a singular matrix, a solver that did not converge) runs when the result is computed
and raises there.

Arrays of an eager library other than NumPy (CuPy) are refused with the capability table's
error (``pullback.core.backends.CAPABILITIES``): SciPy's routines run on NumPy arrays in the
CPU's memory. NumPy arrays never come here: the callers test ``type(x) is np.ndarray``
first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pullback.core import backends
from pullback.core.rules import defbatch, defjvp, defvjp
from pullback.core.trace import Primitive, Tracer
from pullback.numpy._registry import batch_front

__all__ = ["apply", "as_value", "checked", "foreign", "whole"]

#: the capability table's entry for SciPy's routines on an eager library's arrays
_EAGER = "pullback.scipy.linalg, pullback.scipy.signal"


def foreign(who: str, *xs: Any) -> bool:
    """Whether any of the plain values ``xs`` is a Dask array (then :func:`apply` runs the
    routine); raises the capability table's error for an eager library's array (CuPy); False
    for NumPy's (the fast test first)."""
    lazy = False
    for x in xs:
        if type(x) is np.ndarray:
            continue
        lib = backends.library(x)
        if lib == "dask":
            lazy = True
        elif lib not in ("numpy", "pullback"):
            raise backends.refuse(who, lib, _EAGER, f"a {type(x).__name__}")
    return lazy


def as_value(a: Any) -> Any:
    """``a`` as an array without computing it: a traced value or another library's array
    (Dask's) as it is, anything else through ``np.asarray``."""
    if type(a) is np.ndarray or isinstance(a, Tracer):
        return a
    if isinstance(a, np.generic) or backends.library(a) == "numpy":
        return np.asarray(a)
    return a


def apply(func: Callable[..., Any], who: str, arrays: Sequence[Any], cores: Sequence[int],
          outs: Sequence[tuple[tuple[int, ...], Any]], multiple: bool = False) -> Any:
    """``func(*arrays)`` (a NumPy implementation) on operands of which some are Dask arrays,
    as a lazy Dask array (a tuple of them with ``multiple``).

    The last ``cores[i]`` axes of ``arrays[i]`` are its core (put in one chunk); the leading
    axes of all operands broadcast together and are mapped chunk by chunk: ``func`` gets NumPy
    blocks with the same leading shape. ``outs`` gives each result's core shape and dtype
    (its leading axes are the broadcast leading axes); a block whose result has another dtype
    or shape raises when computed (``who`` names the function)."""
    da = backends.dask_array()
    operands = [a if backends.is_dask(a) else da.asarray(np.asarray(a)) for a in arrays]
    names = iter(f"c{k}" for k in range(1 << 20))
    ins = ["(" + ",".join(next(names) for _ in range(c)) + ")" for c in cores]
    sizes: dict[str, int] = {}
    results = []
    for shape, _ in outs:
        dims = []
        for n in shape:
            d = next(names)
            sizes[d] = int(n)
            dims.append(d)
        results.append("(" + ",".join(dims) + ")")
    signature = ",".join(ins) + "->" + ",".join(results)
    dtypes = [np.dtype(dt) for _, dt in outs]
    wanted = [tuple(int(n) for n in shape) for shape, _ in outs]

    def block(*blocks: Any) -> Any:
        leads = [b.shape[:b.ndim - c] for b, c in zip(blocks, cores, strict=True)]
        lead = np.broadcast_shapes(*leads)
        blocks = tuple(
            b if b.shape[:b.ndim - c] == lead else np.broadcast_to(b, lead + b.shape[b.ndim - c:])
            for b, c in zip(blocks, cores, strict=True))
        got = func(*blocks)
        got = tuple(got) if multiple else (got,)
        for k, (g, dt, shape) in enumerate(zip(got, dtypes, wanted, strict=True)):
            g = np.asarray(g)
            if g.dtype != dt or g.shape != lead + shape:
                raise TypeError(
                    f"{who}: result {k} of a block is {g.dtype} of shape {g.shape}, where "
                    f"{dt} of shape {lead + shape} was declared while the Dask graph was built "
                    "(a bug in pullback: please report it)")
        return got if multiple else got[0]

    got = da.apply_gufunc(block, signature, *operands, output_dtypes=dtypes if multiple
                          else dtypes[0], output_sizes=sizes, allow_rechunk=True,
                          vectorize=False)
    return tuple(got) if multiple else got


def whole(func: Callable[..., Any], who: str, arrays: Sequence[Any],
          outs: Sequence[tuple[tuple[int, ...], Any]], multiple: bool = False) -> Any:
    """``func(*arrays)`` with every operand whole (one chunk each): a solver's state, times
    and parameters; see :func:`apply`."""
    return apply(func, who, arrays, [np.ndim(a) for a in arrays], outs, multiple)


# ----------------------------------------------------------------------------- lazy checks


def _checked_impl(x: Any, check: Callable[[np.ndarray], None]) -> Any:
    if type(x) is np.ndarray or not backends.is_dask(x):
        check(np.asarray(x))
        return x

    def run(block: np.ndarray) -> np.ndarray:
        check(block)
        return block

    return x.rechunk(-1).map_blocks(run, dtype=x.dtype) if x.ndim else x.map_blocks(
        run, dtype=x.dtype)


#: ``checked_p.bind(x, check=f)``: ``x``, once ``f(x)`` (which raises for a value that must
#: not be used) has run: at once for NumPy arrays, when the result is computed for Dask
#: arrays (the whole array in one chunk). Its derivatives are the identity's. Not a
#: registered primitive: it carries a function.
checked_p = Primitive("scipy.checked", _checked_impl)
defjvp(checked_p, lambda t, ans, x, **params: t)
defvjp(checked_p, lambda g, ans, x, **params: g)
defbatch(checked_p, lambda vals, batched, params, size: checked_p.bind(
    batch_front(vals[0], batched[0], size), **params))


def checked(x: Any, check: Callable[[np.ndarray], None]) -> Any:
    """``x`` (a value whose plain array is a Dask array) checked by ``check`` when it is
    computed: a check that needs the values, which a lazy array does not have while the graph
    is built (a singular matrix, a solution on a bound)."""
    return checked_p.bind(x, check=check)
