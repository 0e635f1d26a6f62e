"""vmap: one vectorised pass equals a loop over the batch, also under and around derivatives."""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
import pullback.scipy.special  # noqa: F401 - its primitives are registered too
from specs import ALL_SPECS, VALUE_DEPENDENT_SHAPE, sample
from test_batching_rules import (
    declared_loops,
    loops_fixture,  # noqa: F401 - the fixture `loops`
)

RNG = np.random.default_rng(7)


def loop(f, *args):
    return np.stack([f(*[a[i] for a in args]) for i in range(len(args[0]))])


def test_vmap_matches_a_loop_on_a_small_network():
    W = RNG.standard_normal((3, 4))
    xs = RNG.standard_normal((5, 4))

    def f(x):
        return pnp.tanh(W @ x) * pnp.sum(x**2) + pnp.maximum(x[:3], 0.0)

    np.testing.assert_allclose(pb.vmap(f)(xs), loop(f, xs), rtol=1e-15)


def test_in_axes_none_and_out_axes():
    xs = RNG.standard_normal((4, 3))
    y = RNG.standard_normal(3)
    out = pb.vmap(lambda x, y: x * y + 1.0, in_axes=(1, None), out_axes=1)(xs.T, y)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, (xs * y + 1.0).T)


def test_vmap_of_grad_and_grad_of_vmap():
    xs = RNG.standard_normal((6, 3))
    f = lambda x: pnp.sum(pnp.sin(x) * x)  # noqa: E731
    per_example = pb.vmap(pb.grad(f))(xs)
    np.testing.assert_allclose(per_example, np.sin(xs) + xs * np.cos(xs), rtol=1e-15)
    total = pb.grad(lambda xs: pnp.sum(pb.vmap(f)(xs)))(xs)
    np.testing.assert_allclose(total, per_example, rtol=1e-15)


def test_unmapped_output_is_broadcast():
    out = pb.vmap(lambda x: np.ones(2))(np.zeros((3, 5)))
    assert out.shape == (3, 2)


def test_mismatched_sizes_and_control_flow_errors():
    with pytest.raises(ValueError, match="same size"):
        pb.vmap(lambda x, y: x + y)(np.ones((3, 2)), np.ones((4, 2)))

    def branchy(x):
        return x if pnp.sum(x) > 0 else -x

    with pytest.raises(TypeError, match="where"):
        pb.vmap(branchy)(np.ones((3, 2)))


def _rows():
    for row in ALL_SPECS:
        if row.id in VALUE_DEPENDENT_SHAPE:
            continue  # entries of different shapes: not vectorisable
        shapes = row.shapes[0]
        yield pytest.param(row, shapes, id=f"{row.id}")


@pytest.mark.parametrize("row,shapes", list(_rows()))
def test_vmap_of_every_spec_row_matches_a_loop(row, shapes, loops):
    """Every primitive's batching rule agrees with a Python loop over the entries, keeps the
    dtype (float32 rows stay float32), and is vectorised: no primitive runs once per entry
    unless its rule is declared a loop."""
    rng = np.random.default_rng(3)
    batch = 3
    args = [np.stack([sample(rng, row.domain(i), s) for _ in range(batch)])
            for i, s in enumerate(shapes)]
    f = lambda *a: row.fn(*a, **row.kwargs)  # noqa: E731
    try:
        want = np.stack([np.asarray(f(*[a[b] for a in args])) for b in range(batch)])
    except (ValueError, IndexError):
        pytest.skip("entries have different shapes: not vectorisable")
    if want.dtype == object:
        pytest.skip("ragged results")
    del loops[:]  # the per-entry reference above may loop (it runs outside vmap)
    try:
        got = pb.vmap(f)(*args)
    except ValueError as err:
        if "different shapes" in str(err):
            pytest.skip("entries have different shapes: not vectorisable")
        raise
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.asarray(got).dtype == want.dtype, f"vmap gives {np.asarray(got).dtype}"
    undeclared = set(loops) - declared_loops()
    assert not undeclared, f"ran once per entry without declaring it: {sorted(undeclared)}"


def test_float32_rows_are_among_them():
    assert any("float32" in param.id for param in _rows())
