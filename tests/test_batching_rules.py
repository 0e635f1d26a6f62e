"""Batching rules: every registered primitive declares its ``vmap`` rule where it is defined.

A rule is vectorised (one call of the NumPy kernel for the whole batch) unless the
primitive cannot be: then its rule is a per-entry loop declared on purpose
(``pullback.core.batching.batch_by_looping``, which records why). A registered primitive
without a rule is an error under ``vmap``; user primitives without one are looped over.

The oracle of every test is the function applied to each entry on its own (no batching
rule involved), stacked.
"""

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.core import batching
from pullback.core.trace import PRIMITIVES, Primitive, new_primitive
from pullback.extend import defbatch, defelementwise
from pullback.scipy import special

#: the primitives that loop over entries, and in which case; each rule says why
DECLARED_LOOPS = {
    "argwhere": "always: the number of indices depends on the values",
    "nonzero": "always: the number of indices depends on the values",
    "flatnonzero": "always: the number of indices depends on the values",
    "linalg.lstsq": "always: NumPy's lstsq takes one matrix",
    "getitem_dyn": "only for a boolean mask that differs between entries",
    "scatter_dyn": "only for a boolean mask that differs between entries",
    "constant_call": "always: an arbitrary NumPy function without derivative (searchsorted...)",
    "constant_call_tuple": "always: the same, with several results (histogram2d...)",
}


def missing_rules(prims: dict) -> list:
    """Primitives with no batching rule, or with the bare loop installed as one."""
    return sorted(name for name, p in prims.items()
                  if p.batch is None or p.batch is batching.batch_by_loop)


def declared_loops() -> set:
    """Primitives whose rule may loop over entries on purpose (it carries ``loop_reason``)."""
    return {name for name, p in PRIMITIVES.items() if getattr(p.batch, "loop_reason", None)}


@pytest.fixture(name="loops")
def loops_fixture(monkeypatch):
    """The names of the primitives that ran once per batch entry (``batch_by_loop``)."""
    ran = []
    original = batching.batch_by_loop

    def counting(prim, *args, **kwargs):
        ran.append(prim.name)
        return original(prim, *args, **kwargs)

    monkeypatch.setattr(batching, "batch_by_loop", counting)
    return ran


def check(f, *args, in_axes=0, loops=None, rtol=1e-13):
    """``vmap(f)`` against the stacked per-entry results; no undeclared per-entry loop."""
    axes = (in_axes,) * len(args) if in_axes is None or isinstance(in_axes, int) else in_axes
    size = next(np.shape(a)[ax] for a, ax in zip(args, axes, strict=True) if ax is not None)
    entries = [f(*[a if ax is None else np.take(a, b, axis=ax)
                   for a, ax in zip(args, axes, strict=True)]) for b in range(size)]
    if loops is not None:
        del loops[:]
    got = pb.vmap(f, in_axes=in_axes)(*args)
    if isinstance(entries[0], tuple):
        for k, part in enumerate(got):
            want = np.stack([np.asarray(e[k]) for e in entries])
            np.testing.assert_allclose(part, want, rtol=rtol, atol=1e-14)
    else:
        want = np.stack([np.asarray(e) for e in entries])
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-14)
        assert np.asarray(got).dtype == want.dtype
    if loops is not None:
        undeclared = set(loops) - declared_loops()
        assert not undeclared, f"ran once per entry without declaring it: {sorted(undeclared)}"
    return got


RNG = np.random.default_rng(11)


def rand(*shape):
    return RNG.standard_normal(shape)


# ----------------------------------------------------------------------------- the registry


def test_every_registered_primitive_has_a_batching_rule():
    assert len(PRIMITIVES) > 140
    assert missing_rules(PRIMITIVES) == []


def test_the_check_catches_a_missing_rule_and_the_bare_loop():
    bare = Primitive("bare", np.sin)
    silent = Primitive("silent", np.sin)
    silent.batch = batching.batch_by_loop
    ruled = Primitive("ruled", np.sin)
    defbatch(ruled, lambda vals, batched, params, size: ruled.bind(*vals))
    assert missing_rules({"bare": bare, "silent": silent, "ruled": ruled}) == ["bare", "silent"]


def test_loops_are_declared_and_say_why():
    assert declared_loops() == set(DECLARED_LOOPS)
    for name in DECLARED_LOOPS:
        reason = PRIMITIVES[name].batch.loop_reason
        assert isinstance(reason, str) and len(reason) > 20, name


def test_a_rule_that_loops_without_declaring_it_is_caught(loops):
    prim = new_primitive("test.loops_silently", np.cumsum)
    try:
        defbatch(prim, lambda vals, batched, params, size:
                 batching.batch_by_loop(prim, vals, batched, params, size))
        with pytest.raises(AssertionError, match="test.loops_silently"):
            check(prim.bind, rand(3, 4), loops=loops)
    finally:
        del PRIMITIVES["test.loops_silently"]


def test_a_registered_primitive_without_a_rule_is_an_error():
    prim = new_primitive("test.no_batch_rule", np.sin)
    defelementwise(prim, lambda ans, x: pnp.cos(x))
    try:
        with pytest.raises(NotImplementedError,
                           match=r"'test.no_batch_rule' has no batching rule.*"
                                 r"pullback\.extend\.defbatch"):
            pb.vmap(prim.bind)(rand(3, 2))
        np.testing.assert_allclose(prim.bind(np.ones(2)), np.sin(np.ones(2)))  # still usable
    finally:
        del PRIMITIVES["test.no_batch_rule"]


def test_user_primitives_without_a_rule_are_applied_per_entry(loops):
    @pb.custom_vjp
    def f(x):
        return pnp.sin(x) * 2.0

    f.defvjp(lambda x: (f(x), x), lambda x, g: (2.0 * g * pnp.cos(x),))

    @pb.primitive
    def cube(x):
        return x**3, lambda u: (3 * u * x**2,)

    mine = Primitive("mine", lambda x: x[::-1])  # pullback.extend, not registered by name
    xs = rand(4, 3)
    for fun in (f, cube, mine.bind):
        del loops[:]
        got = pb.vmap(fun)(xs)
        np.testing.assert_allclose(got, np.stack([fun(x) for x in xs]), rtol=1e-15)
        assert loops, "a user primitive is applied once per entry"


def test_declared_loops_loop_and_stack():
    m = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]])
    np.testing.assert_array_equal(pb.vmap(lambda v: pnp.flatnonzero(v > 0))(m), [[0, 2], [1, 2]])
    np.testing.assert_array_equal(pb.vmap(lambda v: pnp.nonzero(v > 0)[0])(m), [[0, 2], [1, 2]])
    with pytest.raises(ValueError, match="'argwhere' gives results of different shapes"):
        pb.vmap(pnp.argwhere)(np.array([[1.0, 0.0], [1.0, 1.0]]))
    a, b = rand(3, 4, 2), rand(3, 4)
    check(lambda a, b: pnp.linalg.lstsq(a, b)[0], a, b)


# ----------------------------------------------------------------------------- scipy.special


@pytest.mark.parametrize("name", ["erf", "erfc", "gammaln", "digamma", "expit", "logit"])
def test_scipy_special_is_one_kernel_call(name, monkeypatch, loops):
    prim = PRIMITIVES[f"special.{name}"]
    calls = []
    impl = prim.impl
    monkeypatch.setattr(prim, "impl", lambda *a, **k: calls.append(a[0].shape) or impl(*a, **k))
    x = RNG.uniform(0.1, 0.9, (5, 3))
    check(getattr(special, name), x, loops=loops)
    assert calls == [(5, 3)]  # one call for the whole batch (the oracle calls NumPy itself)


def test_scipy_special_of_two_arguments_and_an_order(loops):
    x, y = RNG.uniform(0.5, 2.0, (4, 3)), RNG.uniform(0.5, 2.0, (3,))
    check(special.xlogy, x, y, in_axes=(0, None), loops=loops)
    check(lambda v: special.polygamma(2, v), x, loops=loops)
    check(pb.grad(lambda v: pnp.sum(special.erf(v) * special.gammaln(v))), x, loops=loops)


# ----------------------------------------------------------------------------- indexing

I = np.array([0, 2, 1, 2])  # noqa: E741
J = np.array([1, 0, 0, 3])


@pytest.mark.parametrize("idx", [
    (I, slice(None), J),  # advanced entries apart: NumPy puts their axis first
    (slice(None), np.array([0, 1, 1, 0]), J),  # together, after a slice: they stay in place
    (Ellipsis, J),
    (1, slice(None), J),  # an integer among arrays counts as advanced
    (I[:2, None], None, J[:3]),  # apart (None), broadcast to 2-d
    (np.array([True, False, True]), slice(None), 0),
    (True, slice(1, None)),
])
def test_getitem_with_constant_advanced_indices(idx, loops):
    xs = rand(5, 3, 2, 4)
    check(lambda x: x[idx], xs, loops=loops)
    check(pb.grad(lambda x: pnp.sum(pnp.sin(x[idx]))), xs, loops=loops)


INDEX_BY_VALUES = {  # pnp.getitem: a plain array (in_axes None) cannot take a traced index
    "front": lambda v, k: pnp.getitem(v, pnp.argsort(k)[:3] % 3),
    "after-slice": lambda v, k: pnp.getitem(v, (slice(None), pnp.argsort(k))),
    "apart": lambda v, k: pnp.getitem(v, (pnp.argmax(k) % 3, slice(None),
                                          pnp.argsort(k)[:2])),
    "ellipsis": lambda v, k: pnp.getitem(v, (Ellipsis, pnp.argsort(k))),
    "int-after-slice": lambda v, k: pnp.getitem(v, (slice(None), pnp.argmax(k))),
    "with-constant": lambda v, k: pnp.getitem(v, (np.array([2, 0]), pnp.argsort(k)[:2])),
}


@pytest.mark.parametrize("where", sorted(INDEX_BY_VALUES))
@pytest.mark.parametrize("axes", [(0, 0), (None, 0), (0, None)])
def test_getitem_with_indices_that_are_values(where, axes, loops):
    """Indices computed from the data (getitem_dyn), the same or different per entry."""
    f = INDEX_BY_VALUES[where]
    x, keys = rand(6, 3, 4, 4), rand(6, 4)
    args = (x if axes[0] == 0 else x[0], keys if axes[1] == 0 else keys[0])
    check(f, *args, in_axes=axes, loops=loops)
    check(pb.grad(lambda v, k: pnp.sum(pnp.sin(f(v, k)))), *args, in_axes=axes, loops=loops)


def test_a_mask_per_entry_is_a_declared_loop(loops):
    xs = np.array([[1.0, -1.0, 2.0], [-3.0, 4.0, 5.0]])  # two positive entries in each
    check(lambda x: x[x > 0], xs, loops=loops)
    assert set(loops) == {"getitem_dyn"}


@pytest.mark.parametrize("idx", [(I, slice(None), J), np.s_[1:, ::2],
                                 (slice(None), np.array([0, 1, 1]))])
def test_functional_updates(idx, loops):
    x, v = rand(5, 3, 2, 4), rand(5, *np.empty((3, 2, 4))[idx].shape)
    for op in ("set", "add", "multiply"):
        check(lambda x, v, op=op: getattr(pnp.at(x)[idx], op)(v), x, v, loops=loops)
        check(lambda x, v, op=op: getattr(pnp.at(x)[idx], op)(v), x, v[0], in_axes=(0, None),
              loops=loops)
        check(lambda x, v, op=op: getattr(pnp.at(x)[idx], op)(v), x[0], v, in_axes=(None, 0),
              loops=loops)
    check(pb.grad(lambda x, v: pnp.sum(pnp.at(x)[idx].set(v) ** 2), argnums=(0, 1)), x, v,
          loops=loops)


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
@pytest.mark.parametrize("axes", [(0, 0), (0, None), (None, 0)])
def test_take_with_indices_per_entry(mode, axes, loops):
    x, ind = rand(4, 3, 5, 2), RNG.integers(-5, 9 if mode != "raise" else 5, (4, 2, 3))
    args = (x if axes[0] == 0 else x[0], ind if axes[1] == 0 else ind[0])

    def f(v, i):
        return pnp.take(v, i, axis=1, mode=mode)

    check(f, *args, in_axes=axes, loops=loops)
    check(pb.grad(lambda v, i: pnp.sum(pnp.cos(f(v, i)))), *args, in_axes=axes, loops=loops)


@pytest.mark.parametrize("axes", [(0, 0), (0, None), (None, 0)])
def test_take_along_axis_with_indices_per_entry(axes, loops):
    x, ind = rand(4, 3, 5), RNG.integers(0, 5, (4, 3, 2))
    args = (x if axes[0] == 0 else x[0], ind if axes[1] == 0 else ind[0])

    def f(v, i):
        return pnp.take_along_axis(v, i, axis=1)

    check(f, *args, in_axes=axes, loops=loops)
    check(pb.grad(lambda v, i: pnp.sum(pnp.cos(f(v, i)))), *args, in_axes=axes, loops=loops)


def test_sort_and_interp_with_sample_points_per_entry(loops):
    xp = np.sort(rand(4, 6), axis=-1)
    check(lambda v: pnp.sort(v, axis=None), rand(4, 2, 3), loops=loops)
    check(lambda q, xp, fp: pnp.interp(q, xp, fp), rand(4, 7), xp, rand(4, 6), loops=loops)
    check(lambda q, xp, fp: pnp.interp(q, xp, fp), rand(7), xp, rand(4, 6),
          in_axes=(None, 0, 0), loops=loops)
    check(pb.grad(lambda xp, q: pnp.sum(pnp.interp(q, xp, pnp.sin(xp)))), xp, rand(7),
          in_axes=(0, None), loops=loops)


# ----------------------------------------------------------------------------- products, linalg


@pytest.mark.parametrize("axes", [(0, 0), (0, None), (None, 0)])
def test_dot_einsum_and_solve_with_either_operand_batched(axes, loops):
    a, b = rand(3, 2, 4, 5), rand(3, 6, 5, 2)
    args = (a if axes[0] == 0 else a[0], b if axes[1] == 0 else b[0])
    check(pnp.dot, *args, in_axes=axes, loops=loops)
    check(lambda a, b: pnp.einsum("ijk,lkm->iljm", a, b), *args, in_axes=axes, loops=loops)
    check(pb.grad(lambda a, b: pnp.sum(pnp.dot(a, b) ** 2)), *args, in_axes=axes, loops=loops)
    m = rand(3, 4, 4) + 4 * np.eye(4)
    rhs = rand(3, 4)
    args = (m if axes[0] == 0 else m[0], rhs if axes[1] == 0 else rhs[0])
    check(pnp.linalg.solve, *args, in_axes=axes, loops=loops)
    check(pb.grad(lambda m, r: pnp.sum(pnp.linalg.solve(m, r))), *args, in_axes=axes,
          loops=loops)


def test_linear_algebra_maps_over_the_batch(loops):
    m = rand(3, 2, 4, 4)
    spd = m @ np.swapaxes(m, -1, -2) + 4 * np.eye(4)
    for f in (pnp.linalg.inv, pnp.linalg.det, pnp.linalg.cholesky, pnp.linalg.eigvalsh,
              lambda a: pnp.linalg.slogdet(a)[1], lambda a: pnp.linalg.svd(a)[1],
              lambda a: pnp.linalg.qr(a)[1] ** 2, pnp.linalg.pinv):
        check(f, spd, loops=loops, rtol=1e-10)
        check(pb.grad(lambda a, f=f: pnp.sum(f(a))), spd, loops=loops, rtol=1e-9)


def test_fft_maps_over_the_batch(loops):
    x = rand(3, 4, 6)
    for f in (pnp.fft.fft, pnp.fft.fft2, pnp.fft.rfft, lambda v: pnp.fft.irfft(v, n=8, axis=0),
              lambda v: pnp.fft.ifftn(v, axes=(0,))):
        check(f, x, loops=loops)
        check(pb.grad(lambda v, f=f: pnp.sum(pnp.abs(f(v)) ** 2)), x, loops=loops)


# ----------------------------------------------------------------------------- without derivative


def test_reductions_without_derivative_over_each_entry(loops):
    x = rand(4, 3, 5)
    for f in (pnp.argmax, lambda v: pnp.argmin(v, axis=0),
              lambda v: pnp.argmax(v, axis=None, keepdims=True),
              lambda v: pnp.nanargmax(v, axis=-1), lambda v: pnp.argsort(v, axis=None),
              lambda v: pnp.argsort(v, 0), lambda v: pnp.any(v > 1, axis=(0, 1)),
              lambda v: pnp.all(v > -3), lambda v: pnp.all(v > -1, axis=1, keepdims=True),
              lambda v: pnp.count_nonzero(v > 0), lambda v: pnp.count_nonzero(v > 0, axis=1),
              lambda v: pnp.round(v, 1), lambda v: pnp.isclose(v, 0.5, atol=0.6)):
        check(f, x, loops=loops)


def test_like_constructors_and_comparisons_per_entry(loops):
    x, y = rand(4, 3), rand(4, 3)
    check(pnp.zeros_like, x, loops=loops)
    check(lambda v: pnp.ones_like(v, shape=(2,)), x, loops=loops)
    check(lambda v, f: pnp.full_like(v, f), x, y[:, 0], loops=loops)
    check(lambda v, f: pnp.full_like(v, f), x[0], y[:, 0], in_axes=(None, 0), loops=loops)
    check(lambda a, b: pnp.allclose(a, b, atol=0.5), x, x + y * 0.1, loops=loops)
    check(pnp.array_equal, x, np.where(y > 0, x, 0.0), loops=loops)
    check(lambda a: pnp.array_equal(a, np.ones(2)), x, loops=loops)
    z = np.where(y > 0, np.nan, x)
    check(lambda a: pnp.array_equal(a, a, equal_nan=True), z, loops=loops)


# ----------------------------------------------------------------------------- nested


NESTED = {
    "sort": lambda v: pnp.sort(v) * v,
    "take": lambda v: pnp.take(v, pnp.argsort(v)[:2]),
    "index-by-value": lambda v: v[pnp.argmax(v)] * v,
    "take_along_axis": lambda v: pnp.take_along_axis(v, pnp.argsort(v), axis=0),
    "at-split": lambda v: pnp.at(pnp.reshape(v, (2, 2)))[np.array([0, 1]),
                                                         np.array([1, 1])].set(v[:2] ** 2),
    "interp": lambda v: pnp.interp(v, pnp.sort(v), v**2),
    "solve": lambda v: pnp.linalg.solve(pnp.reshape(v, (2, 2)) + 3 * np.eye(2), v[:2]),
    "dot": lambda v: pnp.dot(pnp.reshape(v, (2, 1, 2)), pnp.reshape(v, (2, 2))),
}


@pytest.mark.parametrize("name", sorted(NESTED))
def test_vmap_of_vmap_and_of_derivatives(name, loops):
    """Batching rules applied to batched values again (vmap of vmap, and the batched passes
    of jacrev/jacfwd/hessian under vmap) agree with loops."""
    f = NESTED[name]
    x = rand(2, 3, 4)
    del loops[:]
    want = np.stack([np.stack([np.asarray(f(e)) for e in row]) for row in x])
    np.testing.assert_allclose(pb.vmap(pb.vmap(f))(x), want, rtol=1e-13, atol=1e-14)
    assert set(loops) <= declared_loops()
    for transform in (pb.jacrev, pb.jacfwd):
        check(transform(f), x[0], loops=loops, rtol=1e-12)
    check(pb.hessian(lambda v: pnp.sum(f(v) ** 2)), x[0], loops=loops, rtol=1e-11)
