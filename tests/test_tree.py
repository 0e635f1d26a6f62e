"""Pytrees."""

from collections import namedtuple

import pytest

from pullback.tree import (
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

Point = namedtuple("Point", ["x", "y"])


def test_flatten_unflatten_round_trip_of_every_container():
    tree = {"b": [1.0, (2.0, None)], "a": Point(3.0, {"z": 4.0}), "c": ()}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [3.0, 4.0, 1.0, 2.0]  # dict keys sorted, None has no leaves
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == tree and isinstance(rebuilt["a"], Point)
    assert treedef.num_leaves == 4


def test_tree_map_over_several_trees_and_structure_mismatch():
    a = {"w": [1.0, 2.0], "b": 3.0}
    b = {"w": [10.0, 20.0], "b": 30.0}
    assert tree_map(lambda x, y: x + y, a, b) == {"w": [11.0, 22.0], "b": 33.0}
    with pytest.raises(TypeError, match="structure"):
        tree_map(lambda x, y: x + y, a, {"w": [1.0], "b": 2.0})


def test_structure_equality_and_repr():
    assert tree_structure([1, (2, 3)]) == tree_structure([4, (5, 6)])
    assert tree_structure([1, (2, 3)]) != tree_structure([1, [2, 3]])
    assert repr(tree_structure({"a": (1, [2])})) == "{'a': (*, [*])}"


def test_registered_class():
    class Box:
        def __init__(self, value, label):
            self.value, self.label = value, label

    register_pytree_node(Box, lambda b: ((b.value,), b.label), lambda label, ch: Box(ch[0], label))
    tree = [Box(1.0, "one"), Box(2.0, "two")]
    assert tree_leaves(tree) == [1.0, 2.0]
    mapped = tree_map(lambda v: v * 10, tree)
    assert [(b.value, b.label) for b in mapped] == [(10.0, "one"), (20.0, "two")]
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(Box, lambda b: ((), None), lambda a, c: None)


def test_unflatten_with_wrong_leaf_count():
    _, treedef = tree_flatten([1.0, 2.0])
    with pytest.raises(ValueError, match="2 leaves, got 3"):
        tree_unflatten(treedef, [1, 2, 3])
