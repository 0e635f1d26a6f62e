"""pullback.io: parameters round-trip through .npz without pickle; corrupt, foreign or
mismatched files raise ParameterFileError with a message that says what is wrong."""

from __future__ import annotations

import json
import re
import struct
import tracemalloc
import zipfile
from io import BytesIO

import numpy as np
import pytest

import pullback as pb
from pullback import io, nn, optim


def _assert_same(a, b):
    la, da = pb.tree.tree_flatten(a)
    lb, db = pb.tree.tree_flatten(b)
    assert da == db
    for x, y in zip(la, lb, strict=True):
        assert type(x) is type(y)
        np.testing.assert_array_equal(x, y)
        assert np.asarray(x).dtype == np.asarray(y).dtype


def test_round_trip_of_mlp_parameters(tmp_path):
    params = nn.init_mlp([5, 7, 3], rng=0)
    path = io.save(tmp_path / "params.npz", params)
    assert path == tmp_path / "params.npz" and path.is_file()
    _assert_same(io.load(path), params)
    _assert_same(io.load(path, like=nn.init_mlp([5, 7, 3], rng=1)), params)


def test_round_trip_of_mixed_containers_dtypes_and_scalars(tmp_path):
    tree = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "c128": np.array([1 + 2j, -3j]),
        "ints": np.array([1, 2, 3], dtype=np.int16),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 4)),
        "zero_d": np.array(2.5),
        "np_scalar": np.float32(1.25),
        "py": (1.5, 3, True, None),
        7: [[], {"nested": np.ones(2)}],
    }
    path = tmp_path / "tree.npz"
    io.save(path, tree)
    loaded = io.load(path)
    _assert_same(loaded, tree)
    assert isinstance(loaded["py"], tuple) and loaded["py"][3] is None
    assert 7 in loaded


def test_namedtuple_state_needs_like_and_round_trips_with_it(tmp_path):
    params = nn.init_mlp([3, 2], rng=0)
    init, update = optim.adam(0.1)
    state = update(pb.tree.tree_map(np.ones_like, params), init(params), params)[1]
    io.save(tmp_path / "state.npz", state)
    with pytest.raises(io.ParameterFileError, match="AdamState container.*pass like="):
        io.load(tmp_path / "state.npz")
    loaded = io.load(tmp_path / "state.npz", like=init(params))
    assert isinstance(loaded, optim.AdamState) and loaded.step == 1
    _assert_same(loaded, state)


def test_files_need_no_pickle(tmp_path):
    path = io.save(tmp_path / "p.npz", {"W": np.eye(2)})
    with np.load(path, allow_pickle=False) as data:  # every entry reads without pickle
        assert all(data[k].dtype != object for k in data.files)
    with zipfile.ZipFile(path) as z:
        assert not any(b"pickle" in z.read(n) for n in z.namelist())


def test_save_appends_npz_like_np_savez_and_load_finds_it(tmp_path):
    tree = {"W": np.eye(2)}
    assert io.save(tmp_path / "ckpt", tree) == tmp_path / "ckpt.npz"
    assert io.save(str(tmp_path / "run.v2"), tree) == tmp_path / "run.v2.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz", "run.v2.npz"]
    _assert_same(io.load(tmp_path / "ckpt"), tree)
    _assert_same(io.load(str(tmp_path / "ckpt")), tree)
    _assert_same(io.load(tmp_path / "ckpt.npz"), tree)
    # a file named without the suffix (copied, or saved by an older pullback) is still read
    (tmp_path / "legacy").write_bytes((tmp_path / "ckpt.npz").read_bytes())
    _assert_same(io.load(tmp_path / "legacy"), tree)
    with pytest.raises(FileNotFoundError, match=r"no parameter file at '.*nope.npz' or "
                                                r"'.*nope'; check the path"):
        io.load(tmp_path / "nope")


def test_bad_arguments_name_the_function_and_the_argument(tmp_path):
    with pytest.raises(TypeError, match="save: path must be a str or os.PathLike, got int"):
        io.save(3, [np.ones(1)])
    with pytest.raises(TypeError, match="load: path must be a str or os.PathLike, got NoneType"):
        io.load(None)
    path = io.save(tmp_path / "p", [np.ones(1)])
    for bad, error in ((-1, ValueError), (1.5, TypeError), ("1e9", TypeError), (True, TypeError)):
        with pytest.raises(error, match=r"load: max_bytes must be a non-negative integer or "
                                            r"None \(no limit\), got"):
            io.load(path, max_bytes=bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"save: cannot write .*; choose a path in a writable"):
        io.save(tmp_path / "file" / "under" / "p.npz", [np.ones(1)])


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "p.npz"
    io.save(path, [np.zeros(2)])
    io.save(path, [np.ones(3)])
    _assert_same(io.load(path), [np.ones(3)])
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="leaf 0 has dtype object"):
        io.save(tmp_path / "x.npz", [np.array([{}], dtype=object)])
    with pytest.raises(TypeError, match="leaf 0 has dtype <U"):
        io.save(tmp_path / "x.npz", ["text"])
    with pytest.raises(TypeError, match=r"dict key \(1, 2\)"):
        io.save(tmp_path / "x.npz", {(1, 2): np.ones(1)})
    with pytest.raises(TypeError, match="save: leaf 0 is a value being traced"):
        pb.grad(lambda x: io.save(tmp_path / "x.npz", [x]) and 0.0)(1.0)
    assert not (tmp_path / "x.npz").exists()


# ----------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "params.npz"
    io.save(path, nn.init_mlp([4, 3, 2], rng=0))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no parameter file at"):
        io.load(tmp_path / "nope.npz")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.ParameterFileError, match="not a readable parameter file, or it is "
                                                    "corrupt.*BadZipFile"):
        io.load(saved)


def test_flipped_bytes_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    start = data.index(b"leaf_0.npy") + 200  # inside the first array's data
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(io.ParameterFileError, match="corrupt.*CRC"):
        io.load(saved)


def test_a_file_that_is_not_npz(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"certainly not a zip archive")
    with pytest.raises(io.ParameterFileError, match="not an .npz archive of parameters"):
        io.load(path)


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.ones(3))
    with pytest.raises(io.ParameterFileError, match=r"holds a single array \(.npy\)"):
        io.load(path)


def test_an_npz_not_written_by_save(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, W=np.ones(3))
    with pytest.raises(io.ParameterFileError, match="not written by pullback.io.save.*'W'"):
        io.load(path)


def _rewrite(path, meta=None, drop=None, replace=None):
    """Write ``path`` again with its description or arrays altered."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if meta is not None:
        arrays["__pullback_tree__"] = np.array(meta)
    if drop is not None:
        del arrays[drop]
    if replace is not None:
        arrays.update(replace)
    np.savez(path, **arrays)
    return path


def test_a_description_that_is_not_json(saved):
    _rewrite(saved, meta="{not json")
    with pytest.raises(io.ParameterFileError, match="not valid JSON"):
        io.load(saved)


def test_a_newer_format_version(saved):
    with np.load(saved) as data:
        meta = json.loads(str(data["__pullback_tree__"]))
    meta["version"] = 99
    _rewrite(saved, meta=json.dumps(meta))
    with pytest.raises(io.ParameterFileError, match="format version 99"):
        io.load(saved)


def test_a_missing_leaf(saved):
    _rewrite(saved, drop="leaf_2")
    with pytest.raises(io.ParameterFileError, match=r"incomplete: the array of leaf 2"):
        io.load(saved)


def test_a_leaf_that_disagrees_with_the_description(saved):
    _rewrite(saved, replace={"leaf_1": np.ones((2, 2))})
    with pytest.raises(io.ParameterFileError, match=r"leaf 1 \[0\]\['b'\] has shape \(2, 2\)"):
        io.load(saved)


def test_a_description_with_the_wrong_number_of_leaves(saved):
    with np.load(saved) as data:
        meta = json.loads(str(data["__pullback_tree__"]))
    meta["tree"]["c"].pop()
    _rewrite(saved, meta=json.dumps(meta))
    with pytest.raises(io.ParameterFileError, match="tree has 2 leaves but it lists 4"):
        io.load(saved)


# ----------------------------------------------------------------------------- like=


def test_like_with_other_shapes(saved):
    with pytest.raises(io.ParameterFileError,
                       match=r"does not fit like=: \[0\]\['W'\] has shape \(3, 4\) and dtype "
                             r"float64 in the file, but \(5, 4\)"):
        io.load(saved, like=nn.init_mlp([4, 5, 2], rng=0))


def test_like_with_another_dtype(saved):
    with pytest.raises(io.ParameterFileError, match="float64 in the file, but .* float32"):
        io.load(saved, like=nn.init_mlp([4, 3, 2], rng=0, dtype=np.float32))


def test_like_with_another_structure(saved):
    with pytest.raises(io.ParameterFileError,
                       match=r"structure \[\{'W': \*, 'b': \*\}, \{'W': \*, 'b': \*\}\] differs "
                             r"from the expected .*missing from the file: \[2\]\['W'\]"):
        io.load(saved, like=nn.init_mlp([4, 3, 3, 2], rng=0))
    with pytest.raises(io.ParameterFileError, match="not expected: .*\\['b'\\]"):
        io.load(saved, like=[{"W": np.ones((3, 4))}, {"W": np.ones((2, 3))}])


def test_parameter_file_error_is_a_value_error():
    assert issubclass(io.ParameterFileError, ValueError)


# ----------------------------------------------------------------------------- untrusted files
# Archives crafted by hand: every size, header and description is checked before memory is
# reserved, and whatever is wrong is a ParameterFileError that says what.


def _npy(arr):
    buf = BytesIO()
    np.save(buf, arr)  # pickles object arrays, as an attacker's file would
    return buf.getvalue()


def _npy_header(descr, shape, fortran=False):
    text = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def _meta(tree, leaves):
    meta = {"format": "pullback-params", "version": 1, "tree": tree, "leaves": leaves}
    return _npy(np.array(json.dumps(meta)))


def _archive(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            if isinstance(data, list):  # chunks, written one at a time
                with zf.open(name + ".npy", "w", force_zip64=True) as f:
                    for chunk in data:
                        f.write(chunk)
            else:
                zf.writestr(name + ".npy", data)
    return path


def _one_leaf(shape, dtype="<f8", kind="array"):
    return _meta({"t": "list", "c": [{"t": "leaf"}]},
                 [{"kind": kind, "shape": list(shape), "dtype": dtype}])


def _patch_directory(path, name, **fields):
    """Overwrite fields of member ``name`` in its local header and in the zip's central
    directory (offsets from the zip specification)."""
    local = {"flags": 6, "method": 8, "compressed": 18, "size": 22}
    central = {"flags": 8, "method": 10, "compressed": 20, "size": 24}
    with zipfile.ZipFile(path) as zf:
        at_local, at_central = zf.getinfo(name).header_offset, zf.start_dir
    data = bytearray(path.read_bytes())
    while data[at_central + 46:at_central + 46 + len(name)] != name.encode():
        sizes = struct.unpack_from("<HHH", data, at_central + 28)
        at_central += 46 + sum(sizes)
    for at, table in ((at_local, local), (at_central, central)):
        for field, value in fields.items():
            struct.pack_into("<H" if field in ("flags", "method") else "<I", data,
                             at + table[field], value)
    path.write_bytes(bytes(data))


def _peak_memory(fn):
    tracemalloc.start()
    try:
        try:
            fn()
        except io.ParameterFileError as err:
            return tracemalloc.get_traced_memory()[1], err
        return tracemalloc.get_traced_memory()[1], None
    finally:
        tracemalloc.stop()


def test_a_huge_declared_shape_is_refused_before_anything_is_allocated(tmp_path):
    """1 MB of data whose header and description declare 50,000 x 50,000 float64 (20 GB)."""
    shape = (50_000, 50_000)
    path = _archive(tmp_path / "huge.npz", {
        "__pullback_tree__": _one_leaf(shape),
        "leaf_0": _npy_header("<f8", shape) + bytes(1 << 20),
    })
    peak, err = _peak_memory(lambda: io.load(path))
    assert err is not None and peak < 16 << 20
    assert re.search(r"its 1 arrays declare data of 18.6 GiB \(18.6 GiB in all\), more than "
                     r"max_bytes=1073741824 \(1.0 GiB\) allows; if you trust the file, pass a "
                     r"larger max_bytes=", str(err))
    # without a limit, the member is still too small for what its header declares
    peak, err = _peak_memory(lambda: io.load(path, max_bytes=None))
    assert err is not None and peak < 16 << 20
    assert re.search(r"leaf 0 \[0\] declares shape \(50000, 50000\) and dtype float64 "
                     r"\(18.6 GiB\), but its member holds 1.0 MiB of data \(truncated or "
                     r"padded\); do not use this file", str(err))


def test_a_header_that_disagrees_with_the_description_is_refused_before_allocating(tmp_path):
    path = _archive(tmp_path / "liar.npz", {
        "__pullback_tree__": _one_leaf((3,)),
        "leaf_0": _npy_header("<f8", (50_000, 50_000)) + bytes(24),
    })
    peak, err = _peak_memory(lambda: io.load(path, max_bytes=None))
    assert err is not None and peak < 16 << 20
    assert re.search(r"leaf 0 \[0\] has shape \(50000, 50000\) and dtype float64, but the "
                     r"file's description says \(3,\)", str(err))


def test_a_decompression_bomb_is_refused_before_decompressing(tmp_path):
    """100 MB of zeros deflated to 100 kB: over max_bytes, refused from the zip directory."""
    shape = (100, 1 << 17)
    path = _archive(tmp_path / "bomb.npz", {
        "__pullback_tree__": _one_leaf(shape),
        "leaf_0": [_npy_header("<f8", shape)] + [bytes(1 << 20)] * 100,
    }, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    peak, err = _peak_memory(lambda: io.load(path, max_bytes=10_000_000))
    assert err is not None and peak < 16 << 20
    assert "declare data of 100.0 MiB (100.0 MiB in all), more than max_bytes=10000000 " \
           "(9.5 MiB)" in str(err)


def test_a_zip_directory_claiming_an_absurd_ratio_is_refused(tmp_path):
    """The directory says 3.7 GiB come out of a few hundred deflated bytes: no deflate
    stream expands that much, so the member is refused before it is decompressed."""
    shape = (4_000_000_000,)
    header = _npy_header("|u1", shape)
    path = _archive(tmp_path / "ratio.npz", {
        "__pullback_tree__": _one_leaf(shape, dtype="|u1"),
        "leaf_0": header + bytes(1000),
    }, compression=zipfile.ZIP_DEFLATED)
    _patch_directory(path, "leaf_0.npy", size=len(header) + shape[0])
    peak, err = _peak_memory(lambda: io.load(path, max_bytes=None))
    assert err is not None and peak < 16 << 20
    assert re.search(r"corrupt or crafted: the array of leaf 0 \(leaf_0\) claims 3.7 GiB "
                     r"uncompressed from \d+ bytes, more than deflate can expand data \(a "
                     r"decompression bomb", str(err))


def test_truncated_members(tmp_path):
    # the header declares 100 numbers, the member holds 50
    path = _archive(tmp_path / "short.npz", {
        "__pullback_tree__": _one_leaf((100,)),
        "leaf_0": _npy_header("<f8", (100,)) + bytes(400),
    })
    with pytest.raises(io.ParameterFileError, match=r"leaf 0 \[0\] declares shape \(100,\) and "
                                                    r"dtype float64 \(800 bytes\), but its member "
                                                    r"holds 400 bytes of data \(truncated"):
        io.load(path)
    # the zip directory says the member is longer than the file
    path = _archive(tmp_path / "cut.npz", {
        "__pullback_tree__": _one_leaf((100,)),
        "leaf_0": _npy_header("<f8", (100,)) + bytes(800),
    })
    _patch_directory(path, "leaf_0.npy", compressed=10_000, size=10_000)
    with pytest.raises(io.ParameterFileError, match=r"the array of leaf 0 \(leaf_0\) extends "
                                                    r"past the end of the file \(the file is "
                                                    r"truncated\)"):
        io.load(path, max_bytes=None)


def test_pickled_objects_are_never_loaded(tmp_path, saved):
    _rewrite(saved, replace={"leaf_0": np.array([{"a": 1}, None], dtype=object)})
    with pytest.raises(io.ParameterFileError, match=r"leaf 0 \[0\]\['W'\] holds pickled Python "
                                                    r"objects \(dtype object\), which pullback "
                                                    r"never loads"):
        io.load(saved)
    # described as an object array in the tree description too
    path = _archive(tmp_path / "objects.npz", {
        "__pullback_tree__": _one_leaf((2,), dtype="|O"),
        "leaf_0": _npy(np.array([{"a": 1}, None], dtype=object)),
    })
    with pytest.raises(io.ParameterFileError, match=r"the description of leaf 0 \[0\] .* is not a "
                                                    r"numeric array's kind, shape and dtype"):
        io.load(path)


@pytest.mark.parametrize("leaf, words", [
    (np.array(["ab", "cd"]), "holds '<U2' data, which is not a numeric array"),
    (np.array([b"ab"]), "holds '|S2' data, which is not a numeric array"),
    (np.zeros(2, dtype=[("x", "<f8")]), r"holds \[\('x', '<f8'\)\] data, which is not a numeric"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "holds '<M8\\[D\\]' data"),
])
def test_non_numeric_leaves_are_refused(saved, leaf, words):
    _rewrite(saved, replace={"leaf_1": leaf})
    with pytest.raises(io.ParameterFileError, match=words):
        io.load(saved)


def test_unsupported_zip_features_are_parameter_file_errors(saved):
    """Raw NotImplementedError (unknown compression) and RuntimeError (encryption) from
    zipfile become ParameterFileError."""
    data = saved.read_bytes()
    _patch_directory(saved, "leaf_0.npy", method=99)
    with pytest.raises(io.ParameterFileError, match=r"leaf_0\) uses zip compression method 99, "
                                                    r"which NumPy never writes"):
        io.load(saved)
    saved.write_bytes(data)
    _patch_directory(saved, "leaf_0.npy", flags=1)
    with pytest.raises(io.ParameterFileError, match=r"leaf_0\) is encrypted; do not use"):
        io.load(saved)


def test_deep_trees_are_parameter_file_errors_not_recursion_errors(saved, tmp_path):
    # JSON nested too deeply for Python's parser
    _rewrite(saved, meta="[" * 100_000 + "]" * 100_000)
    with pytest.raises(io.ParameterFileError, match="tree description nests too deeply"):
        io.load(saved)
    # a valid description, 300 lists deep (written by hand: json.dumps recurses)
    tree = '{"t": "list", "c": [' * 300 + '{"t": "leaf"}' + "]}" * 300
    meta = ('{"format": "pullback-params", "version": 1, "tree": ' + tree + ', "leaves": '
            '[{"kind": "array", "shape": [], "dtype": "<f8"}]}')
    path = _archive(tmp_path / "deep.npz", {
        "__pullback_tree__": _npy(np.array(meta)), "leaf_0": _npy(np.float64(1.0)),
    })
    with pytest.raises(io.ParameterFileError, match="nests containers more than 100 levels deep"):
        io.load(path)


def test_the_deepest_tree_save_writes_loads_and_deeper_ones_are_refused(tmp_path):
    tree = 1.0
    for _ in range(io.MAX_DEPTH):
        tree = [tree]
    path = io.save(tmp_path / "deep", tree)
    _assert_same(io.load(path), tree)
    with pytest.raises(ValueError, match="save: params nests containers more than 100 levels"):
        io.save(tmp_path / "deeper", [tree])


def test_a_description_that_repeats_a_dict_key(tmp_path):
    tree = {"t": "dict", "keys": ["W", "W"], "c": [{"t": "leaf"}, {"t": "leaf"}]}
    leaf = {"kind": "array", "shape": [1], "dtype": "<f8"}
    path = _archive(tmp_path / "twice.npz", {
        "__pullback_tree__": _meta(tree, [leaf, leaf]),
        "leaf_0": _npy(np.ones(1)), "leaf_1": _npy(np.ones(1)),
    })
    with pytest.raises(io.ParameterFileError, match="repeats a key, so leaves would be lost"):
        io.load(path)


def test_a_description_whose_kind_and_dtype_disagree(tmp_path):
    path = _archive(tmp_path / "kind.npz", {
        "__pullback_tree__": _one_leaf((), kind="int", dtype="<f8"),
        "leaf_0": _npy(np.float64(np.nan)),
    })
    with pytest.raises(io.ParameterFileError, match=r"leaf 0 \[0\] is described as kind "
                                                    r"'int' with shape \(\) and dtype float64, "
                                                    r"which do not go together"):
        io.load(path)


def test_like_is_checked_before_any_array_is_read(saved, monkeypatch):
    opened, orig = [], zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name)
        return orig(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(io.ParameterFileError, match="does not fit like="):
        io.load(saved, like=nn.init_mlp([4, 5, 2], rng=0))
    assert [getattr(n, "filename", n) for n in opened] == ["__pullback_tree__.npy"]


def test_max_bytes_counts_the_declared_data(saved):
    with zipfile.ZipFile(saved) as zf:
        text = zf.getinfo("__pullback_tree__.npy").file_size
    with pytest.raises(io.ParameterFileError, match=r"its tree description is 1.\d KiB, more "
                                                    r"than max_bytes=100 \(100 bytes\) allows"):
        io.load(saved, max_bytes=100)
    # the arrays: 3x4 + 3 + 2x3 + 2 float64
    with pytest.raises(io.ParameterFileError, match=r"its 4 arrays declare data of 184 bytes "
                                                    r"\([\d.]+ KiB in all\), more than max_bytes="):
        io.load(saved, max_bytes=text + 183)
    assert len(io.load(saved, max_bytes=text + 184)) == 2
    assert len(io.load(saved, max_bytes=None)) == 2


def test_twenty_thousand_leaves_round_trip(tmp_path):
    """Loading is linear in the number of leaves (it was quadratic: 6 s for these)."""
    tree = {f"p{i}": np.full(2, i, dtype=np.float32) for i in range(20_000)}
    path = io.save(tmp_path / "many", tree)
    loaded = io.load(path, like=tree)
    assert loaded.keys() == tree.keys()
    assert all(loaded[k][0] == v[0] for k, v in tree.items())


def test_memory_stays_proportional_to_the_file(tmp_path):
    """A 500 KiB archive whose description nests long keys above thousands of leaves once
    made load build every leaf's path (hundreds of MiB) to report that the counts differ."""
    tree = node = {"t": "list", "c": []}
    for _ in range(90):
        child = {"t": "dict", "keys": ["k" * 600], "c": []}
        node["c"].append(child)
        node = child
    node["c"].append({"t": "list", "c": [{"t": "leaf"}] * 5000})
    path = _archive(tmp_path / "paths.npz", {"__pullback_tree__": _meta(tree, [])})
    size = path.stat().st_size
    assert size < 520 << 10
    peak, err = _peak_memory(lambda: io.load(path))
    assert "its tree has 5000 leaves but it lists 0" in str(err)
    assert peak < 16 * size
