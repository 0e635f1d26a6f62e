"""Saving and loading parameters: a pytree of arrays in a NumPy ``.npz`` file.

The file holds one array per leaf (``leaf_0``, ``leaf_1``, ... in flattening order) and a JSON
description of the tree (containers, dict keys, each leaf's shape and dtype) stored as a
text array. Nothing is pickled: files are written with plain arrays and read without
unpickling anything, so loading a file cannot run code.

Dicts (with string or integer keys), lists, tuples, ``None`` and Python numbers rebuild
themselves. Other containers (namedtuples such as an optimiser's state, registered classes)
are rebuilt by passing ``like=``, a pytree of the same structure, which is also the way to
check that a file fits a model: every leaf's shape and dtype must match.

Files may come from elsewhere, so :func:`load` treats them as untrusted: every array's
declared shape and dtype is checked against the archive's directory, the tree description
and ``like=`` before any memory is reserved for it, the whole file may declare at most
``max_bytes`` of data (:data:`DEFAULT_MAX_BYTES`, 1 GiB, unless told otherwise), and any
problem is reported as a :class:`ParameterFileError` (a ``ValueError``).

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

import ast
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import numpy as np

from pullback.core.trace import Tracer
from pullback.core.tree import PyTreeDef, tree_flatten, tree_unflatten
from pullback.core.typing import PyTree

__all__ = ["DEFAULT_MAX_BYTES", "MAX_DEPTH", "ParameterFileError", "load", "save"]

_Tree = TypeVar("_Tree")

#: The most data :func:`load` accepts from one file unless ``max_bytes=`` says otherwise:
#: 1 GiB, counted as the arrays' declared sizes (what loading them would allocate).
DEFAULT_MAX_BYTES = 1 << 30
#: The deepest nesting of containers that :func:`save` writes and :func:`load` reads.
MAX_DEPTH = 100

_META = "__pullback_tree__"
_FORMAT = "pullback-params"
_VERSION = 1
_PY_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex"}
_KINDS = {"bool": "b", "int": "iu", "float": "f", "complex": "c", "scalar": "biufc",
          "array": "biufc"}
_PY_TYPES = {"bool": bool, "int": int, "float": float, "complex": complex}
_NODE_KINDS = ("leaf", "none", "dict", "list", "tuple", "node")
_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 10_000  # characters of a .npy header (NumPy's own limit when it reads one)
_MAX_NDIM = 64
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand data more than about 1032 times
_CHUNK = 1 << 20
_NUMERIC_DESCR = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")
_TEXT_DESCR = re.compile(r"[<>|=]?U[0-9]{1,12}")


class ParameterFileError(ValueError):
    """A parameter file is unreadable, corrupt, not a pullback parameter file, larger than
    allowed, or does not fit the parameters expected.

    Example:
        >>> issubclass(ParameterFileError, ValueError)
        True
    """


# ----------------------------------------------------------------------------- structure


def _encode(treedef: PyTreeDef, depth: int = 0) -> dict:
    """A JSON-able description of ``treedef`` (leaves are ``{"t": "leaf"}``)."""
    kind = treedef.kind
    if kind is None:
        return {"t": "leaf"}
    if depth >= MAX_DEPTH:
        raise ValueError(
            f"save: params nests containers more than {MAX_DEPTH} levels deep, which load "
            "would refuse; flatten the structure (for example a list of layers instead of "
            "nested pairs)"
        )
    children = [_encode(c, depth + 1) for c in treedef.children]
    if kind is dict:
        keys = list(cast("tuple[Any, ...]", treedef.aux))
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


def _check_tree(tree: Any, where: str) -> int:
    """Validate a tree description read from a file (without recursion, so that no nesting
    can exhaust the stack) and return its number of leaves."""
    n_leaves = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        t = node.get("t") if isinstance(node, dict) else None
        if depth > MAX_DEPTH or (depth == MAX_DEPTH and t != "leaf"):
            raise ParameterFileError(
                f"load: {where} is corrupt or crafted: its tree nests containers more than "
                f"{MAX_DEPTH} levels deep (save never writes that); do not use this file"
            )
        if t not in _NODE_KINDS:
            raise ParameterFileError(
                f"load: {where} is corrupt: its tree description holds {_short(node)}, which "
                "is not a container or leaf written by pullback.io.save"
            )
        if t == "leaf":
            n_leaves += 1
            continue
        if t == "none":
            continue
        children = node.get("c")
        if not isinstance(children, list):
            raise ParameterFileError(
                f"load: {where} is corrupt: a {t} in its tree description has no list of "
                "children"
            )
        if t == "dict":
            keys = node.get("keys")
            if (not isinstance(keys, list) or len(keys) != len(children)
                    or not all(isinstance(k, (str, int)) and not isinstance(k, bool)
                               for k in keys)):
                raise ParameterFileError(
                    f"load: {where} is corrupt: a dict in its tree description does not have "
                    "one string or integer key per child"
                )
            if len(set(keys)) != len(keys):
                raise ParameterFileError(
                    f"load: {where} is corrupt: a dict in its tree description repeats a key, "
                    "so leaves would be lost"
                )
        if t == "node" and not isinstance(node.get("type"), str):
            raise ParameterFileError(
                f"load: {where} is corrupt: a container in its tree description has no type name"
            )
        stack.extend((c, depth + 1) for c in children)
    return n_leaves


def _decode(node: dict, leaves: Iterator[Any], where: str) -> Any:
    """Rebuild the tree described by ``node`` (checked by :func:`_check_tree`) from the
    iterator ``leaves``."""
    t = node["t"]
    if t == "leaf":
        return next(leaves)
    if t == "none":
        return None
    if t == "node":
        raise ParameterFileError(
            f"load: {where}: the file holds a {_cut(node['type'], 80)} container, which "
            "cannot be rebuilt from the file alone: pass like=, a pytree of the same structure "
            "(for example the optimiser's fresh init(params))"
        )
    children = node["c"]
    if t == "dict":
        return {k: _decode(c, leaves, where) for k, c in zip(node["keys"], children, strict=True)}
    if t == "list":
        return [_decode(c, leaves, where) for c in children]
    return tuple(_decode(c, leaves, where) for c in children)


def _iter_paths(node: dict) -> Iterator[str]:
    """A readable path for each leaf, such as ``[0]['W']``, in flattening order, one at a
    time (long dict keys shortened), so that a crafted tree cannot make them fill memory."""

    def labelled(node: dict, prefix: str) -> Iterator[tuple[str, dict]]:
        if node["t"] == "dict":
            pairs = zip(node["keys"], node["c"], strict=True)
            return ((f"{prefix}[{_short(k)}]", c) for k, c in pairs)
        fmt = "{}.{}" if node["t"] == "node" else "{}[{}]"
        return ((fmt.format(prefix, i), c) for i, c in enumerate(node.get("c", ())))

    if node["t"] == "leaf":
        yield "<root>"
        return
    stack = [labelled(node, "")]
    while stack:
        for path, child in stack[-1]:
            if child["t"] == "leaf":
                yield path
            elif child["t"] != "none":
                stack.append(labelled(child, path))
                break
        else:
            stack.pop()


def _path_of(node: dict, index: int) -> str:
    """The readable path of leaf ``index``."""
    for i, p in enumerate(_iter_paths(node)):
        if i == index:
            return p
    return f"<leaf {index}>"


def _strip(node: dict) -> dict:
    """The description without leaf details, to compare two structures."""
    out = {k: v for k, v in node.items() if k != "c"}
    if "c" in node:
        out["c"] = [_strip(c) for c in node["c"]]
    return out


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters for messages."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _size(n: int) -> str:
    """A byte count for people: ``18.6 GiB``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# ----------------------------------------------------------------------------- save


def _npz_path(path: Any, func: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    return path if str(path).endswith(".npz") else Path(f"{path}.npz")


def save(path: str | os.PathLike[str], params: PyTree) -> Path:
    """Write the pytree ``params`` to the ``.npz`` file ``path`` (replaced atomically).

    As with ``np.savez``, ``.npz`` is appended to ``path`` when it does not end with it:
    ``save("ckpt", p)`` writes ``ckpt.npz`` (and ``load("ckpt")`` reads it back). Leaves must
    be numeric or boolean arrays or numbers (not values being traced), dict keys strings or
    integers, and containers nested at most :data:`MAX_DEPTH` levels deep. Missing parent
    directories are created. Returns the path written.

    Example:
        >>> import tempfile, os, numpy as np
        >>> folder = tempfile.mkdtemp()
        >>> save(os.path.join(folder, "p"), {"W": np.eye(2), "b": np.zeros(2)}).name
        'p.npz'
    """
    path = _npz_path(path, "save")
    leaves, treedef = tree_flatten(params)
    arrays: dict[str, Any] = {}  # np.savez's keyword arguments: the arrays by name
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise type(err)(
            err.errno, f"save: cannot write {str(path)!r} ({err.strerror or err}); choose a "
            "path in a writable directory"
        ) from err
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


# ----------------------------------------------------------------------------- load


@overload
def load(path: str | os.PathLike[str], like: None = None, *,
         max_bytes: int | None = DEFAULT_MAX_BYTES) -> PyTree: ...
@overload
def load(path: str | os.PathLike[str], like: _Tree, *,
         max_bytes: int | None = DEFAULT_MAX_BYTES) -> _Tree: ...
def load(path: str | os.PathLike[str], like: PyTree = None, *,
         max_bytes: int | None = DEFAULT_MAX_BYTES) -> PyTree:
    """Read parameters written by :func:`save`.

    ``path`` is found as :func:`save` names it: ``load("ckpt")`` reads ``ckpt.npz`` (or, when
    there is no ``ckpt.npz``, a file named exactly ``ckpt``). With ``like`` (a pytree such as
    freshly initialised parameters) the file must have ``like``'s structure and every leaf
    its shape and dtype, and the result is rebuilt with ``like``'s containers.

    The file is treated as untrusted: each array's declared shape and dtype is checked
    against the archive's directory, the tree description and ``like`` before memory is
    reserved for it, and the arrays together may declare at most ``max_bytes`` bytes
    (:data:`DEFAULT_MAX_BYTES`, 1 GiB; ``None`` for no limit, for files you trust). Raises
    :class:`ParameterFileError` (a ``ValueError``) when the file is unreadable, corrupt,
    crafted, not a pullback parameter file, over ``max_bytes``, or does not fit ``like``;
    ``FileNotFoundError`` when there is no such file.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "p")
        >>> _ = save(path, [{"W": np.eye(2)}, 0.5])
        >>> load(path)
        [{'W': array([[1., 0.],
               [0., 1.]])}, 0.5]
    """
    if max_bytes is not None:
        if not isinstance(max_bytes, (int, np.integer)) or isinstance(max_bytes, bool):
            raise TypeError(
                f"load: max_bytes must be a non-negative integer or None (no limit), got "
                f"{max_bytes!r} ({type(max_bytes).__name__})"
            )
        if max_bytes < 0:
            raise ValueError(
                f"load: max_bytes must be a non-negative integer or None (no limit), got "
                f"{max_bytes!r}"
            )
    path = _find(path)
    where = repr(str(path))
    try:
        return _load(path, where, like, max_bytes)
    except ParameterFileError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, OverflowError,
            struct.error, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error,
            NotImplementedError, RuntimeError) as err:
        # RecursionError is a RuntimeError; NotImplementedError too, for zip features
        # (compression methods, encryption) that pullback.io.save never uses.
        raise ParameterFileError(
            f"load: {where} is not a readable parameter file, or it is corrupt "
            f"({type(err).__name__}: {_cut(str(err), 200)}); write it again with "
            "pullback.io.save"
        ) from err


def _find(path: Any) -> Path:
    """The file that ``load(path)`` reads: the one ``save(path)`` writes, else ``path``."""
    npz = _npz_path(path, "load")
    for candidate in dict.fromkeys((npz, Path(path))):
        if candidate.is_file():
            return candidate
    tried = " or ".join(repr(str(p)) for p in dict.fromkeys((npz, Path(path))))
    raise FileNotFoundError(f"load: no parameter file at {tried}; check the path")


def _load(path: Path, where: str, like: PyTree, max_bytes: int | None) -> PyTree:
    with open(path, "rb") as f:
        start = f.read(len(_NPY_MAGIC))
        archive_size = os.fstat(f.fileno()).st_size
    if start == _NPY_MAGIC:
        raise ParameterFileError(
            f"load: {where} holds a single array (.npy), not parameters written by "
            "pullback.io.save"
        )
    if not start.startswith(b"PK"):
        raise ParameterFileError(
            f"load: {where} is not an .npz archive of parameters (it does not start like a "
            "zip archive); write parameters with pullback.io.save"
        )
    with zipfile.ZipFile(path) as zf:
        reader = _Reader(zf, where, archive_size, max_bytes)
        meta = reader.meta()
        tree, info = meta["tree"], meta["leaves"]
        n_leaves = _check_tree(tree, where)
        if n_leaves != len(info):
            raise ParameterFileError(
                f"load: {where} is corrupt: its tree has {n_leaves} leaves but it lists "
                f"{len(info)}"
            )
        leaves = [_leaf_info(where, i, leaf, tree) for i, leaf in enumerate(info)]
        declared = sum(nbytes for _, _, _, nbytes in leaves)
        reader.charge(declared, f"its {len(leaves)} arrays declare data of")
        like_def = None if like is None else _check_like(where, tree, leaves, like)
        members = [reader.member(f"leaf_{i}", i, leaf, tree) for i, leaf in enumerate(leaves)]
        values = [reader.read(member, i, leaf, tree)
                  for i, (member, leaf) in enumerate(zip(members, leaves, strict=True))]
    if like_def is None:
        return _decode(tree, iter(values), where)
    return tree_unflatten(like_def, values)


def _leaf_info(where: str, i: int, leaf: Any, tree: dict) -> tuple[str, tuple, np.dtype, int]:
    """The file's description of leaf ``i``, checked: ``(kind, shape, dtype, nbytes)``."""
    ok = isinstance(leaf, dict) and isinstance(leaf.get("kind"), str) and leaf["kind"] in _KINDS
    shape: Any = leaf.get("shape") if ok else None
    ok = ok and isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    dtype = _dtype(leaf.get("dtype"), _NUMERIC_DESCR) if ok else None
    if not ok or dtype is None:
        raise ParameterFileError(
            f"load: {where} is corrupt: the description of leaf {i} {_path_of(tree, i)} "
            f"({_short(leaf, 120)}) is not a numeric array's kind, shape and dtype; only "
            "numeric and boolean arrays are stored"
        )
    kind = leaf["kind"]
    if dtype.kind not in _KINDS[kind] or (kind in _PY_TYPES and shape):
        raise ParameterFileError(
            f"load: {where} is corrupt: leaf {i} {_path_of(tree, i)} is described as kind "
            f"{kind!r} with shape {tuple(shape)} and dtype {dtype}, which do not go together"
        )
    return kind, tuple(shape), dtype, math.prod(shape) * dtype.itemsize


def _dtype(descr: Any, allowed: re.Pattern) -> np.dtype | None:
    """The dtype of an array description such as ``'<f8'`` if it is one of ``allowed``."""
    if not isinstance(descr, str) or not allowed.fullmatch(descr):
        return None
    try:
        return np.dtype(descr)
    except (TypeError, ValueError, OverflowError):
        return None


def _check_like(where: str, tree: dict, leaves: list, like: Any) -> PyTreeDef:
    """Check the file's description against ``like`` before any array is read."""
    like_leaves, like_def = tree_flatten(like)
    like_tree = _encode(like_def)
    if _strip(like_tree) != _strip(tree):
        expected = list(_iter_paths(like_tree))
        wanted = set(expected)
        found: set[str] = set()
        extra: list[str] = []
        for p in _iter_paths(tree):
            if p in wanted:
                found.add(p)
            elif len(extra) < 3:
                extra.append(p)
        missing = [p for p in expected if p not in found][:3]
        detail = "; ".join(
            part for part in (f"missing from the file: {', '.join(missing)}" if missing else "",
                              f"not expected: {', '.join(extra)}" if extra else "") if part
        ) or "the containers differ"
        raise ParameterFileError(
            f"load: {where} does not fit like=: its structure {_tree_text(tree)} differs "
            f"from the expected {_tree_text(like_tree)} ({detail})"
        )
    for i, ((kind, shape, dtype, _), expected) in enumerate(zip(leaves, like_leaves, strict=True)):
        got = np.dtype(_PY_TYPES[kind]) if kind in _PY_TYPES else dtype
        want = np.asarray(expected)
        if shape != want.shape or got != want.dtype:
            raise ParameterFileError(
                f"load: {where} does not fit like=: {_path_of(tree, i)} has shape {shape} and "
                f"dtype {got} in the file, but {want.shape} and {want.dtype} are expected"
            )
    return like_def


class _Reader:
    """Reads members of an untrusted ``.npz`` archive, checking each against the zip
    directory, its ``.npy`` header and a budget of ``max_bytes`` before allocating."""

    def __init__(self, zf: zipfile.ZipFile, where: str, archive_size: int,
                 max_bytes: int | None):
        self.zf, self.where, self.archive_size, self.max_bytes = zf, where, archive_size, max_bytes
        self.charged = 0
        self.compressed = 0
        self.headers: dict[tuple[str, bytes], tuple[tuple, Any, bool]] = {}

    def charge(self, nbytes: int, what: str) -> None:
        """Count ``nbytes`` more against ``max_bytes`` (``what`` declares them)."""
        self.charged += nbytes
        if self.max_bytes is not None and self.charged > self.max_bytes:
            total = "" if self.charged == nbytes else f" ({_size(self.charged)} in all)"
            raise ParameterFileError(
                f"load: {self.where}: {what} {_size(nbytes)}{total}, more than max_bytes="
                f"{self.max_bytes} ({_size(self.max_bytes)}) allows; if you trust the file, "
                "pass a larger max_bytes= (or max_bytes=None)"
            )

    def _info(self, name: str, label: str) -> zipfile.ZipInfo:
        """The directory entry of member ``name``, checked without decompressing anything."""
        try:
            info = self.zf.getinfo(name + ".npy")
        except KeyError:
            raise ParameterFileError(
                f"load: {self.where} is incomplete: the array of {label} ({name}) is missing"
            ) from None
        problem = None
        if info.flag_bits & 0x41:
            problem = "is encrypted"
        elif info.flag_bits & 0x20 or info.compress_type not in (zipfile.ZIP_STORED,
                                                                  zipfile.ZIP_DEFLATED):
            problem = f"uses zip compression method {info.compress_type}, which NumPy never writes"
        elif info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            problem = (f"is stored uncompressed but its sizes disagree ({info.compress_size} "
                       f"and {info.file_size} bytes)")
        elif info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024:
            problem = (f"claims {_size(info.file_size)} uncompressed from "
                       f"{_size(info.compress_size)}, more than deflate can expand data "
                       "(a decompression bomb, or a corrupt directory)")
        elif info.header_offset + info.compress_size > self.archive_size:
            problem = "extends past the end of the file (the file is truncated)"
        if problem is None:
            self.compressed += info.compress_size
            if self.compressed > self.archive_size:
                problem = ("overlaps other members (together they are larger than the file), "
                           "as in a zip bomb")
        if problem is not None:
            raise ParameterFileError(
                f"load: {self.where} is corrupt or crafted: the array of {label} ({name}) "
                f"{problem}; do not use this file"
            )
        return info

    def _header(self, f: Any, name: str, label: str) -> tuple[tuple, Any, bool, int]:
        """Parse the ``.npy`` header at the start of member ``f``: ``(shape, descr,
        fortran_order, header length in bytes)``, reading at most ``_MAX_HEADER`` bytes."""

        def bad(why: str) -> ParameterFileError:
            return ParameterFileError(
                f"load: {self.where} is corrupt: the array of {label} ({name}) {why}; write "
                "it again with pullback.io.save"
            )

        head = f.read(10)
        if len(head) < 10 or head[:6] != _NPY_MAGIC:
            raise bad("is not a .npy array")
        if head[6] == 1:
            (length,), start, encoding = struct.unpack("<H", head[8:10]), 10, "latin1"
        elif head[6] in (2, 3):
            more = f.read(2)
            if len(more) < 2:
                raise bad("is truncated")
            (length,) = struct.unpack("<I", head[8:10] + more)
            start, encoding = 12, "latin1" if head[6] == 2 else "utf8"
        else:
            raise bad(f"has .npy format version {head[6]}.{head[7]}, which NumPy does not write")
        if length > _MAX_HEADER:
            raise bad(f"has a header of {length} bytes, longer than any NumPy writes")
        text = f.read(length)
        if len(text) < length:
            raise bad("is truncated inside its header")
        key = (encoding, text)
        if key not in self.headers:
            try:
                header = ast.literal_eval(text.decode(encoding))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError,
                    UnicodeDecodeError):
                header = None
            if not isinstance(header, dict) or set(header) != {"descr", "fortran_order",
                                                               "shape"}:
                raise bad("has an unreadable header")
            shape = header["shape"]
            if (not isinstance(shape, tuple) or len(shape) > _MAX_NDIM or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
                    or not isinstance(header["fortran_order"], bool)):
                raise bad(f"has an invalid shape or order in its header ({_short(header, 120)})")
            if length > 1000:  # parsed again if met again: a crafted file gains no memory
                return shape, header["descr"], header["fortran_order"], start + length
            self.headers[key] = shape, header["descr"], header["fortran_order"]
        return (*self.headers[key], start + length)

    def meta(self) -> dict:
        """The JSON description of the tree, checked and parsed."""
        if _META + ".npy" not in self.zf.NameToInfo:
            names = sorted(n[:-4] if n.endswith(".npy") else n for n in self.zf.namelist())
            raise ParameterFileError(
                f"load: {self.where} was not written by pullback.io.save (no {_META!r} entry; it "
                f"holds {', '.join(_short(n) for n in names[:5]) or 'nothing'}); write "
                "parameters with pullback.io.save"
            )
        info = self._info(_META, "the tree description")
        with self.zf.open(info) as f:
            shape, descr, _, start = self._header(f, _META, "the tree description")
            dtype = _dtype(descr, _TEXT_DESCR)
            if shape != () or dtype is None or start + dtype.itemsize != info.file_size:
                raise ParameterFileError(
                    f"load: {self.where} is corrupt: its tree description is not a text of the "
                    f"size the archive lists (header {_short(descr)}, shape {_short(shape)})"
                )
            self.charge(info.file_size, "its tree description is")
            raw = f.read(dtype.itemsize)
        if len(raw) != dtype.itemsize:
            raise ParameterFileError(f"load: {self.where} is corrupt: its tree description is "
                                     "truncated")
        text = str(np.frombuffer(raw, dtype=dtype, count=1)[0])
        del raw
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as err:
            raise ParameterFileError(f"load: {self.where} is corrupt: its tree description is "
                                     f"not valid JSON ({err})") from err
        except RecursionError as err:
            raise ParameterFileError(
                f"load: {self.where} is corrupt or crafted: its tree description nests too "
                "deeply to read; do not use this file"
            ) from err
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ParameterFileError(f"load: {self.where} is not a pullback parameter file")
        if meta.get("version") != _VERSION:
            raise ParameterFileError(
                f"load: {self.where} has format version {_short(meta.get('version'))}; this "
                f"pullback reads version {_VERSION}"
            )
        if not isinstance(meta.get("tree"), dict) or not isinstance(meta.get("leaves"), list):
            raise ParameterFileError(f"load: {self.where} is corrupt: its tree description is "
                                     "incomplete")
        return meta

    def member(self, name: str, i: int, leaf: tuple, tree: dict) -> tuple[zipfile.ZipInfo, int]:
        """Check the directory entry of leaf ``i`` against its description; returns the entry
        and the size of its ``.npy`` header (12 to ``_MAX_HEADER + 12`` bytes)."""
        info = self._info(name, f"leaf {i}")
        header_size = info.file_size - leaf[3]
        if not 10 <= header_size <= _MAX_HEADER + 12:
            # The sizes disagree: read the member's header (only) to say how.
            with self.zf.open(info) as f:
                self._check_header(f, name, i, leaf, tree, info)
        return info, header_size

    def _check_header(self, f: Any, name: str, i: int, leaf: tuple, tree: dict,
                      info: zipfile.ZipInfo) -> int:
        _, shape, dtype, nbytes = leaf
        found_shape, descr, fortran, start = self._header(f, name, f"leaf {i}")
        found = _dtype(descr, _NUMERIC_DESCR)
        if found is None:
            what = ("pickled Python objects (dtype object), which pullback never loads"
                    if isinstance(descr, str) and descr.lstrip("<>|=").startswith("O")
                    else f"{_short(descr, 80)} data, which is not a numeric array")
            raise ParameterFileError(
                f"load: {self.where}: leaf {i} {_path_of(tree, i)} holds {what}; only "
                "numeric and boolean arrays are read: write the file with pullback.io.save"
            )
        if found_shape != shape or found != dtype:
            raise ParameterFileError(
                f"load: {self.where} is corrupt: leaf {i} {_path_of(tree, i)} has shape "
                f"{found_shape} and dtype {found}, but the file's description says {shape} and "
                f"{dtype}"
            )
        if start + nbytes != info.file_size:
            raise ParameterFileError(
                f"load: {self.where} is corrupt or crafted: leaf {i} {_path_of(tree, i)} "
                f"declares shape {shape} and dtype {dtype} ({_size(nbytes)}), but its member "
                f"holds {_size(max(info.file_size - start, 0))} of data (truncated or padded); "
                "do not use this file"
            )
        return fortran

    def read(self, member: tuple[zipfile.ZipInfo, int], i: int, leaf: tuple,
             tree: dict) -> Any:
        """The value of leaf ``i``: its header checked, then its data read into an array
        allocated with the checked size, a chunk at a time."""
        info, _ = member
        kind, shape, dtype, nbytes = leaf
        with self.zf.open(info) as f:
            fortran = self._check_header(f, f"leaf_{i}", i, leaf, tree, info)
            flat = np.empty(math.prod(shape), dtype=dtype)
            buffer = flat.view(np.uint8)
            done = 0
            while done < nbytes:
                chunk = f.read(min(_CHUNK, nbytes - done))
                if not chunk:
                    raise ParameterFileError(
                        f"load: {self.where} is corrupt: the data of leaf {i} "
                        f"{_path_of(tree, i)} ends after {done} of {nbytes} bytes (truncated)"
                    )
                buffer[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                done += len(chunk)
            if f.read(1):
                raise ParameterFileError(f"load: {self.where} is corrupt: leaf {i} has data "
                                         "after its array")
        arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
        if kind in _PY_TYPES:
            return _PY_TYPES[kind](arr[()])
        if kind == "scalar":
            return arr[()]
        return arr


def _tree_text(node: dict, limit: int = 300) -> str:
    """A compact text form of a tree description, such as ``[{'W': *, 'b': *}]``, cut after
    about ``limit`` characters."""
    parts: list[str] = []
    size = 0
    stack: list[Any] = [node]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            size += len(item)
            continue
        t = item["t"]
        if t == "leaf":
            inner: list[tuple[str, Any]] = []
            text, close = "*", ""
        elif t == "none":
            text, close, inner = "None", "", []
        elif t == "dict":
            text, close = "{", "}"
            inner = [(f"{_short(k)}: ", c) for k, c in zip(item["keys"], item["c"], strict=True)]
        elif t in ("list", "tuple"):
            text, close = ("[", "]") if t == "list" else ("(", ",)" if len(item["c"]) == 1
                                                            else ")")
            inner = [("", c) for c in item["c"]]
        else:
            text, close = f"{_cut(item['type'], 80).rsplit('.', 1)[-1]}(", ")"
            inner = [("", c) for c in item["c"]]
        parts.append(text)
        size += len(text)
        todo: list[Any] = []
        for j, (label, child) in enumerate(inner):
            todo += ([", "] if j else []) + ([label] if label else []) + [child]
        stack.append(close)
        stack.extend(reversed(todo))
    text = "".join(parts)
    return text if not stack else text + "..."
