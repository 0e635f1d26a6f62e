"""pullback.io: parameters round-trip through .npz without pickle; corrupt, foreign or
mismatched files raise ParameterFileError with a message that says what is wrong."""

from __future__ import annotations

import json
import zipfile

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


def test_files_need_no_pickle_and_the_path_is_kept(tmp_path):
    path = tmp_path / "no_suffix"
    io.save(path, {"W": np.eye(2)})
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["no_suffix"]
    with np.load(path, allow_pickle=False) as data:  # every entry reads without pickle
        assert all(data[k].dtype != object for k in data.files)
    with zipfile.ZipFile(path) as z:
        assert not any(b"pickle" in z.read(n) for n in z.namelist())


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
