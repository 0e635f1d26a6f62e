"""Array-likes: lists, tuples and nested lists that hold traced values, as NumPy takes them.

NumPy documents most arguments as ``array_like``: ``np.mean([a, b])`` builds an array from the
list first. A list holding traced values cannot become a NumPy array (the derivative would
be lost), so every public function of ``pullback.numpy`` is given the step NumPy takes, with
a traced result: :func:`accepts_array_likes` wraps it so that when its call fails on a list
or tuple holding traced values, the call is made again with those turned into traced
arrays (``pnp.asarray``: a ``stack`` of the parts). Arguments that are sequences *of*
arrays (``concatenate``'s, ``stack``'s) have their items turned into arrays one by one.

The retry costs nothing when nothing is traced or no list is passed: the first call is the
function itself (one Python call more for the wrapper).

Example:
    >>> import numpy as np, pullback as pb, pullback.numpy as pnp
    >>> pb.grad(lambda a, b: pnp.mean([a, a * b]), argnums=(0, 1))(2.0, 3.0)
    (np.float64(2.0), np.float64(1.0))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from pullback.core.trace import Tracer, TracerConversionError
from pullback.numpy._constructors import asarray
from pullback.numpy._registry import FUNCTIONS, UFUNCS

__all__ = ["SEQUENCE_ARGUMENTS", "accepts_array_likes", "has_tracer", "install", "to_array"]

#: functions whose arguments at these positions (or of these names) are sequences *of*
#: array-likes: their items are converted one by one, never stacked into one array
SEQUENCE_ARGUMENTS: dict[str, tuple[tuple[int, str], ...]] = {
    "concatenate": ((0, "arrays"),),
    "concat": ((0, "arrays"),),
    "stack": ((0, "arrays"),),
    "hstack": ((0, "tup"),),
    "vstack": ((0, "tup"),),
    "row_stack": ((0, "tup"),),
    "dstack": ((0, "tup"),),
    "column_stack": ((0, "tup"),),
    "select": ((0, "condlist"), (1, "choicelist")),
    "choose": ((1, "choices"),),
    "piecewise": ((1, "condlist"),),
    "linalg.multi_dot": ((0, "arrays"),),
}

_SEQUENCES = (list, tuple)


def has_tracer(obj: Any) -> bool:
    """Whether ``obj`` is a traced value or a (nested) list or tuple holding one.

    Example:
        >>> has_tracer([1.0, [2.0]])
        False
    """
    if isinstance(obj, Tracer):
        return True
    if type(obj) in _SEQUENCES or isinstance(obj, _SEQUENCES):
        return any(has_tracer(o) for o in obj)
    return False


def to_array(obj: Any) -> Any:
    """``obj`` as a traced array when it is a list or tuple holding traced values (NumPy's
    ``asarray`` of it, differentiable); anything else unchanged.

    Example:
        >>> to_array([1.0, 2.0])
        [1.0, 2.0]
    """
    if isinstance(obj, _SEQUENCES) and has_tracer(obj):
        return asarray(obj)
    return obj


def _items_to_arrays(obj: Any) -> Any:
    if isinstance(obj, _SEQUENCES) and not isinstance(obj, Tracer):
        return type(obj)(to_array(o) for o in obj) if type(obj) in _SEQUENCES else \
            [to_array(o) for o in obj]
    return to_array(obj)


def _converted(args: tuple, kwargs: dict,
               sequences: Iterable[tuple[int, str]]) -> tuple[tuple, dict] | None:
    """The call's arguments with array-likes holding traced values made arrays, or None when
    there are none."""
    positions = {p for p, _ in sequences}
    names = {n for _, n in sequences}
    changed = False
    new_args = []
    for i, a in enumerate(args):
        b = _items_to_arrays(a) if i in positions else to_array(a)
        changed = changed or b is not a
        new_args.append(b)
    new_kwargs = {}
    for k, v in kwargs.items():
        w = _items_to_arrays(v) if k in names else to_array(v)
        changed = changed or w is not v
        new_kwargs[k] = w
    return (tuple(new_args), new_kwargs) if changed else None


def accepts_array_likes(fn: Callable[..., Any],
                        sequences: Iterable[tuple[int, str]] = ()) -> Callable[..., Any]:
    """``fn``, also accepting lists and tuples of traced values where it takes arrays.

    ``sequences`` names the arguments (position, name) that are sequences of arrays.

    Example:
        >>> import pullback.numpy as pnp
        >>> accepts_array_likes(pnp.sum)([1.0, 2.0])
        np.float64(3.0)
    """
    sequences = tuple(sequences)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TracerConversionError:
            converted = _converted(args, kwargs, sequences)
            if converted is None:
                raise
        return fn(*converted[0], **converted[1])

    wrapper.__array_likes__ = fn  # type: ignore[attr-defined]
    return wrapper


def install(module: Any, prefix: str = "") -> None:
    """Give every public function of ``module`` (and its entries in NumPy's dispatch tables)
    the array-like step; ``prefix`` is the module's place in NumPy (``"linalg."``)."""
    wrapped: dict[int, Callable[..., Any]] = {}
    names = getattr(module, "__all__", None) or [n for n in vars(module) if n[0] != "_"]
    for name in names:
        fn = getattr(module, name, None)
        if not callable(fn) or isinstance(fn, type) or hasattr(fn, "__array_likes__"):
            continue
        new = wrapped.get(id(fn))
        if new is None:
            new = wrapped[id(fn)] = accepts_array_likes(fn, SEQUENCE_ARGUMENTS.get(prefix + name,
                                                                                   ()))
        setattr(module, name, new)
    for table in (FUNCTIONS, UFUNCS):
        for key, fn in table.items():
            if id(fn) in wrapped:
                table[key] = wrapped[id(fn)]
