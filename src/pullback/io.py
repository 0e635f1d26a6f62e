"""Saving and loading parameters: a pytree of arrays in a NumPy ``.npz`` file.

The file holds one array per leaf (``leaf_0``, ``leaf_1``, ... in flattening order) and a JSON
description of the tree (containers, dict keys, each leaf's shape and dtype) stored as a
text array. Nothing is pickled: files are written with plain arrays and read with
``allow_pickle=False``, so loading a file cannot run code.

Dicts (with string or integer keys), lists, tuples, ``None`` and Python numbers rebuild
themselves. Other containers (namedtuples such as an optimiser's state, registered classes)
are rebuilt by passing ``like=``, a pytree of the same structure, which is also the way to
check that a file fits a model: every leaf's shape and dtype must match.

Example:
    >>> import tempfile, os, numpy as np
    >>> from pullback import io, nn
    >>> params = nn.init_mlp([3, 4, 2], rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> _ = io.save(path, params)
    >>> loaded = io.load(path, like=params)
    >>> all(np.array_equal(a["W"], b["W"]) for a, b in zip(params, loaded))
    True
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pullback._core import Tracer
from pullback._tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["ParameterFileError", "load", "save"]

_META = "__pullback_tree__"
_FORMAT = "pullback-params"
_VERSION = 1
_PY_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex"}


class ParameterFileError(ValueError):
    """A parameter file is unreadable, corrupt, or does not fit the parameters expected."""


# ----------------------------------------------------------------------------- structure


def _encode(treedef: PyTreeDef) -> dict:
    """A JSON-able description of ``treedef`` (leaves are ``{"t": "leaf"}``)."""
    kind = treedef.kind
    children = [_encode(c) for c in treedef.children]
    if kind is None:
        return {"t": "leaf"}
    if kind is dict:
        keys = list(treedef.aux)
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(
                    f"save: dict key {k!r} ({type(k).__name__}) cannot be stored; use string "
                    "or integer keys"
                )
        return {"t": "dict", "keys": keys, "c": children}
    if kind in (list, tuple):
        return {"t": kind.__name__, "c": children}
    if kind is type(None):
        return {"t": "none"}
    return {"t": "node", "type": f"{kind.__module__}.{kind.__qualname__}", "c": children}


def _decode(node: Any, leaves: Any, where: str) -> Any:
    """Rebuild the tree described by ``node`` from the iterator ``leaves``."""
    if not isinstance(node, dict) or "t" not in node:
        raise ParameterFileError(f"load: {where}: malformed tree description {node!r}")
    t = node["t"]
    if t == "leaf":
        return next(leaves)
    if t == "none":
        return None
    if t == "node":
        raise ParameterFileError(
            f"load: {where}: the file holds a {node.get('type')} container, which cannot be "
            "rebuilt from the file alone: pass like=, a pytree of the same structure (for "
            "example the optimiser's fresh init(params))"
        )
    children = node.get("c", [])
    if t == "dict":
        return {k: _decode(c, leaves, where) for k, c in zip(node["keys"], children, strict=True)}
    if t == "list":
        return [_decode(c, leaves, where) for c in children]
    if t == "tuple":
        return tuple(_decode(c, leaves, where) for c in children)
    raise ParameterFileError(f"load: {where}: unknown container kind {t!r} in the file")


def _paths(node: dict, prefix: str = "") -> list[str]:
    """A readable path for each leaf, such as ``[0]['W']``, in flattening order."""
    t = node["t"]
    if t == "leaf":
        return [prefix or "<root>"]
    if t == "dict":
        return [p for k, c in zip(node["keys"], node["c"]) for p in _paths(c, f"{prefix}[{k!r}]")]
    if t in ("list", "tuple"):
        return [p for i, c in enumerate(node["c"]) for p in _paths(c, f"{prefix}[{i}]")]
    if t == "node":
        return [p for i, c in enumerate(node["c"]) for p in _paths(c, f"{prefix}.{i}")]
    return []


def _strip(node: dict) -> dict:
    """The description without leaf details, to compare two structures."""
    out = {k: v for k, v in node.items() if k != "c"}
    if "c" in node:
        out["c"] = [_strip(c) for c in node["c"]]
    return out


# ----------------------------------------------------------------------------- save / load


def save(path: str | os.PathLike, params: Any) -> Path:
    """Write the pytree ``params`` to the ``.npz`` file ``path`` (replaced atomically).

    Leaves must be arrays or numbers (not values being traced); the path is used as given
    (no ``.npz`` is appended). Returns the path.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> save(path, {"W": np.eye(2), "b": np.zeros(2)}).name
        'p.npz'
    """
    path = Path(path)
    leaves, treedef = tree_flatten(params)
    arrays: dict[str, np.ndarray] = {}
    info = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, Tracer):
            raise TypeError(
                f"save: leaf {i} is a value being traced; save parameters outside "
                "transformations (for example after the training step returns)"
            )
        py = _PY_SCALARS.get(type(leaf))
        arr = np.asarray(leaf)
        if arr.dtype.kind not in "biufc":
            raise TypeError(
                f"save: leaf {i} has dtype {arr.dtype} ({type(leaf).__name__}); only numeric "
                "and boolean arrays can be saved without pickle"
            )
        arrays[f"leaf_{i}"] = arr
        kind = py or ("scalar" if isinstance(leaf, np.generic) else "array")
        info.append({"kind": kind, "shape": list(arr.shape), "dtype": arr.dtype.str})
    meta = {"format": _FORMAT, "version": _VERSION, "tree": _encode(treedef), "leaves": info}
    arrays[_META] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Read parameters written by :func:`save`.

    With ``like`` (a pytree such as freshly initialised parameters) the file must have
    ``like``'s structure and every leaf its shape and dtype, and the result is rebuilt with
    ``like``'s containers. Raises :class:`ParameterFileError` (a ``ValueError``) when the file
    is unreadable, corrupt, not a pullback parameter file, or does not fit ``like``.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> _ = save(path, [{"W": np.eye(2)}, 0.5])
        >>> load(path)
        [{'W': array([[1., 0.],
               [0., 1.]])}, 0.5]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no parameter file at {str(path)!r}")
    where = repr(str(path))
    readable = (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile,
                zlib.error)
    try:
        data = np.load(path, allow_pickle=False)
    except readable as err:
        raise _unreadable(where, err) from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ParameterFileError(
            f"load: {where} holds a single array (.npy), not parameters written by "
            "pullback.io.save"
        )
    with data:
        try:
            meta = _read_meta(data, where)
            arrays = []
            for i in range(len(meta["leaves"])):
                name = f"leaf_{i}"
                if name not in data.files:
                    raise ParameterFileError(
                        f"load: {where} is incomplete: the array of leaf {i} ({name}) is missing"
                    )
                arrays.append(data[name])
        except ParameterFileError:
            raise
        except readable as err:
            raise _unreadable(where, err) from err

    try:
        return _rebuild(where, meta, arrays, like)
    except ParameterFileError:
        raise
    except (KeyError, TypeError, IndexError, ValueError, StopIteration) as err:
        raise ParameterFileError(
            f"load: {where} is corrupt: its tree description does not match its arrays "
            f"({type(err).__name__}: {err})"
        ) from err


def _rebuild(where: str, meta: dict, arrays: list[np.ndarray], like: Any) -> Any:
    """The loaded pytree: leaves checked against the description, then put in containers."""
    info = meta["leaves"]
    paths = _paths(meta["tree"])
    if len(paths) != len(arrays):
        raise ParameterFileError(
            f"load: {where} is corrupt: its tree has {len(paths)} leaves but it lists "
            f"{len(arrays)}"
        )
    values = []
    for i, (arr, leaf, p) in enumerate(zip(arrays, info, paths)):
        if list(arr.shape) != list(leaf["shape"]) or arr.dtype.str != leaf["dtype"]:
            raise ParameterFileError(
                f"load: {where} is corrupt: leaf {i} {p} has shape {arr.shape} and dtype "
                f"{arr.dtype}, but the file's description says {tuple(leaf['shape'])} and "
                f"{np.dtype(leaf['dtype'])}"
            )
        kind = leaf["kind"]
        if kind in ("bool", "int", "float", "complex"):
            values.append({"bool": bool, "int": int, "float": float,
                           "complex": complex}[kind](arr[()]))
        elif kind == "scalar":
            values.append(arr[()])
        else:
            values.append(arr)

    if like is None:
        tree = _decode(meta["tree"], iter(values), where)
        return tree
    return _fit(where, meta, values, paths, like)


def _unreadable(where: str, err: BaseException) -> ParameterFileError:
    if "pickle" in str(err):
        return ParameterFileError(
            f"load: {where} is not an .npz archive of parameters (NumPy could read it only as "
            "pickled data, which pullback never loads); write it with pullback.io.save"
        )
    return ParameterFileError(
        f"load: {where} is not a readable parameter file, or it is corrupt "
        f"({type(err).__name__}: {err}); write it again with pullback.io.save"
    )


def _read_meta(data: Any, where: str) -> dict:
    if _META not in data.files:
        raise ParameterFileError(
            f"load: {where} was not written by pullback.io.save (no {_META!r} entry; it holds "
            f"{sorted(data.files)[:5]}); write parameters with pullback.io.save"
        )
    try:
        meta = json.loads(str(data[_META][()]))
    except json.JSONDecodeError as err:
        raise ParameterFileError(f"load: {where} is corrupt: its tree description is "
                                 f"not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ParameterFileError(f"load: {where} is not a pullback parameter file")
    if meta.get("version") != _VERSION:
        raise ParameterFileError(
            f"load: {where} has format version {meta.get('version')!r}; this pullback reads "
            f"version {_VERSION}"
        )
    if not isinstance(meta.get("tree"), dict) or not isinstance(meta.get("leaves"), list):
        raise ParameterFileError(f"load: {where} is corrupt: its tree description is incomplete")
    return meta


def _fit(where: str, meta: dict, values: list, paths: list[str], like: Any) -> Any:
    """``values`` in ``like``'s containers, after checking structure, shapes and dtypes."""
    like_leaves, like_def = tree_flatten(like)
    like_tree = _encode(like_def)
    if _strip(like_tree) != _strip(meta["tree"]):
        mine, theirs = _paths(meta["tree"]), _paths(like_tree)
        missing = [p for p in theirs if p not in mine][:3]
        extra = [p for p in mine if p not in theirs][:3]
        detail = "; ".join(
            part for part in (f"missing from the file: {', '.join(missing)}" if missing else "",
                              f"not expected: {', '.join(extra)}" if extra else "") if part
        ) or "the containers differ"
        raise ParameterFileError(
            f"load: {where} does not fit like=: its structure {_tree_text(meta['tree'])} differs "
            f"from the expected {_tree_text(like_tree)} ({detail})"
        )
    for value, expected, p in zip(values, like_leaves, paths):
        got, want = np.asarray(value), np.asarray(expected)
        if got.shape != want.shape or got.dtype != want.dtype:
            raise ParameterFileError(
                f"load: {where} does not fit like=: {p} has shape {got.shape} and dtype "
                f"{got.dtype} in the file, but {want.shape} and {want.dtype} are expected"
            )
    return tree_unflatten(like_def, values)


def _tree_text(node: dict) -> str:
    """A compact text form of a tree description, such as ``[{'W': *, 'b': *}]``."""
    t = node["t"]
    if t == "leaf":
        return "*"
    if t == "none":
        return "None"
    inner = [_tree_text(c) for c in node.get("c", [])]
    if t == "dict":
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(node["keys"], inner)) + "}"
    if t == "list":
        return "[" + ", ".join(inner) + "]"
    if t == "tuple":
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    return f"{node.get('type', '?').rsplit('.', 1)[-1]}(" + ", ".join(inner) + ")"
