"""Pytrees: ``tree_map``, ``tree_leaves``, ``tree_flatten``, ``tree_unflatten``,
``tree_structure``, ``register_pytree_node``."""

from pullback.core.tree import (
    PyTreeDef,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]
