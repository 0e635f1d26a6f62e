"""Pytrees: ``tree_map``, ``tree_leaves``, ``tree_flatten``, ``tree_unflatten``,
``tree_structure``, ``register_pytree_node``; ``PyTree``, the type of a pytree in signatures."""

from pullback.core.tree import (
    PyTree,
    PyTreeDef,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

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
