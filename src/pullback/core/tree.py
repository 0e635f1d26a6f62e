"""Pytrees: nested containers of arrays, flattened to a list of leaves and a structure.

Containers are tuple, list, dict (keys sorted), namedtuple, ``None`` (a container with no
children) and classes registered with :func:`register_pytree_node`. Everything else is a leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np

from pullback.core.typing import PyTree

__all__ = [
    "PyTree",
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]


_T = TypeVar("_T")


class _NodeType(NamedTuple):
    flatten: Callable[[Any], tuple[Iterable[PyTree], Hashable]]
    unflatten: Callable[[Hashable, list[PyTree]], Any]


_registry: dict[type, _NodeType] = {}


def register_pytree_node(
    cls: type[_T],
    flatten: Callable[[_T], tuple[Iterable[PyTree], Hashable]],
    unflatten: Callable[[Hashable, list[PyTree]], _T],
) -> None:
    """Make ``cls`` a pytree container.

    ``flatten(obj)`` returns ``(children, aux)`` with ``aux`` hashable static data, and
    ``unflatten(aux, children)`` rebuilds the object.

    Example:
        >>> class Pair:
        ...     def __init__(self, a, b):
        ...         self.a, self.b = a, b
        >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None),
        ...                      lambda aux, ch: Pair(*ch))
        >>> tree_leaves(Pair(1.0, [2.0, 3.0]))
        [1.0, 2.0, 3.0]
    """
    if cls in _registry:
        raise ValueError(f"register_pytree_node: {cls.__name__} is already registered")
    _registry[cls] = _NodeType(flatten, unflatten)


register_pytree_node(tuple, lambda t: (t, None), lambda _, ch: tuple(ch))
register_pytree_node(list, lambda t: (t, None), lambda _, ch: list(ch))
register_pytree_node(type(None), lambda _: ((), None), lambda _, __: None)


def _dict_flatten(d: dict[Any, PyTree]) -> tuple[list[PyTree], tuple[Any, ...]]:
    try:
        keys = tuple(sorted(d))
    except TypeError:
        keys = tuple(d)
    return [d[k] for k in keys], keys


def _dict_unflatten(keys: Hashable, children: list[PyTree]) -> dict[Any, PyTree]:
    return dict(zip(cast("tuple[Any, ...]", keys), children, strict=True))


register_pytree_node(dict, _dict_flatten, _dict_unflatten)


def _is_namedtuple(x: object) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


class PyTreeDef:
    """The structure of a pytree: its container types and static data, without leaves."""

    __slots__ = ("kind", "aux", "children", "num_leaves")

    def __init__(self, kind: type | None, aux: Hashable, children: tuple[PyTreeDef, ...]):
        self.kind = kind  # None marks a leaf
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, self.aux, tuple(c._key() for c in self.children))

    def __eq__(self, other: object) -> bool:
        # the comparison of the keys, without building them (tuples of children compare
        # identical entries, such as the one leaf structure, without calling __eq__)
        return self is other or (
            isinstance(other, PyTreeDef)
            and self.kind is other.kind
            and (self.aux is other.aux or self.aux == other.aux)
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is dict:
            keys = cast("tuple[Any, ...]", self.aux)
            return "{" + ", ".join(
                f"{k!r}: {c!r}" for k, c in zip(keys, self.children, strict=True)
            ) + "}"
        if self.kind is type(None):
            return "None"
        return f"{self.kind.__name__}({inner})"


_LEAF = PyTreeDef(None, None, ())


def _node_type(x: object) -> tuple[type, _NodeType] | None:
    cls = type(x)
    node = _registry.get(cls)
    if node is not None:
        return cls, node
    if _is_namedtuple(x):
        new: Callable[..., Any] = cls
        return cls, _NodeType(lambda t: (tuple(t), None), lambda _, ch: new(*ch))
    return None


def tree_flatten(tree: PyTree) -> tuple[list[Any], PyTreeDef]:
    """Split a pytree into its list of leaves and its structure.

    Example:
        >>> leaves, treedef = tree_flatten({"b": 2.0, "a": (1.0, None)})
        >>> leaves
        [1.0, 2.0]
        >>> tree_unflatten(treedef, [10.0, 20.0])
        {'a': (10.0, None), 'b': 20.0}
    """
    leaves: list[Any] = []
    treedef = _flatten_into(tree, leaves)
    return leaves, treedef


def _flatten_into(tree: PyTree, leaves: list[Any]) -> PyTreeDef:
    if type(tree) is np.ndarray:  # the common leaf, without the registry's look-ups
        leaves.append(tree)
        return _LEAF
    found = _node_type(tree)
    if found is None:
        leaves.append(tree)
        return _LEAF
    cls, node = found
    children, aux = node.flatten(tree)
    return PyTreeDef(cls, aux, tuple([_flatten_into(c, leaves) for c in children]))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> PyTree:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``.

    Example:
        >>> _, treedef = tree_flatten([1.0, (2.0, 3.0)])
        >>> tree_unflatten(treedef, [4.0, 5.0, 6.0])
        [4.0, (5.0, 6.0)]
    """
    if treedef.kind is None and type(leaves) is list and len(leaves) == 1:
        return leaves[0]
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"tree_unflatten: structure {treedef!r} has {treedef.num_leaves} leaves, "
            f"got {len(leaves)}"
        )
    it = iter(leaves)
    return _build(treedef, it)


def _build(treedef: PyTreeDef, it: Iterator[Any]) -> PyTree:
    if treedef.kind is None:
        return next(it)
    children = [next(it) if c.kind is None else _build(c, it) for c in treedef.children]
    cls = treedef.kind
    if cls is list:  # the common containers, without their registered functions
        return children
    if cls is tuple:
        return tuple(children)
    node = _registry.get(cls)
    if node is None:  # namedtuple
        return cls(*children)
    return node.unflatten(treedef.aux, children)


def tree_leaves(tree: PyTree) -> list[Any]:
    """The leaves of a pytree, in flattening order.

    Example:
        >>> tree_leaves([{"W": 1.0, "b": 2.0}, 3.0])
        [1.0, 2.0, 3.0]
    """
    return tree_flatten(tree)[0]


def tree_structure(tree: PyTree) -> PyTreeDef:
    """The structure of a pytree, without its leaves.

    Example:
        >>> tree_structure((1.0, [2.0]))
        (*, [*])
    """
    return tree_flatten(tree)[1]


def tree_map(f: Callable[..., Any], tree: PyTree, *rest: PyTree) -> PyTree:
    """Apply ``f`` to every leaf of ``tree`` (and the matching leaves of ``rest``).

    Example:
        >>> tree_map(lambda a, b: a + b, {"x": 1.0, "y": [2.0]}, {"x": 10.0, "y": [20.0]})
        {'x': 11.0, 'y': [22.0]}
    """
    if type(tree) is list and _array_list(tree, len(tree), rest):
        # lists of NumPy arrays of one length (a model's parameters and their gradients):
        # what the general path below does, without flattening and rebuilding
        return [f(*xs) for xs in zip(tree, *rest, strict=True)]
    leaves, treedef = tree_flatten(tree)
    others: list[list[Any]] = []
    for i, r in enumerate(rest):
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise TypeError(
                f"tree_map: tree {i + 1} has structure {r_def!r}, expected {treedef!r} "
                "like the first tree"
            )
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def _array_list(tree: list, n: int, rest: tuple) -> bool:
    """Whether ``tree`` and each of ``rest`` are lists of ``n`` NumPy arrays (leaves)."""
    for x in tree:
        if type(x) is not np.ndarray:
            return False
    for r in rest:
        if type(r) is not list or len(r) != n:
            return False
        for x in r:
            if type(x) is not np.ndarray:
                return False
    return True
