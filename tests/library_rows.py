"""One spec-table row run on another library's arrays, set up the same way for every library
(tests/test_array_types.py: device arrays with CuPy's rules; tests/test_dask.py: Dask).

:func:`prepare` draws the row's first shape's arguments and the directions of both modes
from seeds made of the row's id, and returns the row's function of its differentiable
arguments on NumPy arrays and on the library's, with the cotangent (reverse mode) or the
tangents (forward mode) in both.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from specs import OpSpec, sample


def leaves(tree: Any) -> Iterator[Any]:
    """The leaves of nested tuples and lists, in order."""
    if isinstance(tree, (tuple, list)):
        for t in tree:
            yield from leaves(t)
    else:
        yield tree


def row_rng(row: OpSpec, shapes: tuple, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{row.id}{shapes}{salt}".encode()))


@dataclass
class RowRun:
    """A row set up on NumPy arrays and on the library's (``*_lib``)."""

    args: list  # every argument, NumPy's
    f_np: Callable[..., Any]
    f_lib: Callable[..., Any]
    x_np: list  # the differentiable arguments
    x_lib: list
    out_np: Any
    ct_np: Any = None  # reverse mode: the cotangent, shaped like the output
    ct_lib: Any = None
    seeds_lib: list | None = None  # the library's cotangent leaves or tangents
    t_np: tuple = ()  # forward mode: the tangents
    t_lib: tuple = ()


def prepare(row: OpSpec, mode: str, to_lib: Callable[[Any], Any], every_argument: bool,
            directions_to_lib: Callable[[Any], Any] | None = None) -> RowRun:
    """``row`` in ``mode`` ("rev" or "fwd"); ``to_lib`` makes the library's array of a NumPy
    one, for every argument or (``every_argument=False``) the differentiable ones only;
    ``directions_to_lib`` (``to_lib`` by default) that of a cotangent or tangent."""
    to_dir = to_lib if directions_to_lib is None else directions_to_lib
    shapes = row.shapes[0]
    rng = row_rng(row, shapes, "args")
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    diff = [i for i in range(len(args)) if row.differentiable(i)]
    lib = [to_lib(a) if every_argument or i in diff else a for i, a in enumerate(args)]

    def full(base: list) -> Callable[..., Any]:
        def call(*dargs: Any) -> Any:
            new = list(base)
            for i, d in zip(diff, dargs, strict=True):
                new[i] = d
            return row.fn(*new, **row.kwargs)

        return call

    run = RowRun(args, full(args), full(lib), [args[i] for i in diff], [lib[i] for i in diff],
                 None)
    rng = row_rng(row, shapes, "directions")
    run.out_np = out = run.f_np(*run.x_np)
    if mode == "rev":
        w = tuple(rng.standard_normal(np.shape(o)).astype(np.result_type(o))
                  for o in leaves(out))
        w_lib = [to_dir(v) for v in w]
        nested = isinstance(out, (tuple, list))
        run.ct_np = w if nested else w[0]
        run.ct_lib = type(out)(w_lib) if nested else w_lib[0]
        run.seeds_lib = w_lib
    else:
        run.t_np = tuple(rng.standard_normal(np.shape(a)).astype(a.dtype) for a in run.x_np)
        run.t_lib = tuple(to_dir(v) for v in run.t_np)
        run.seeds_lib = list(run.t_lib)
    return run
