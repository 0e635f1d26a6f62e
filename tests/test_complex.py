"""Complex inputs, against an independent oracle.

The convention (JAX's): a cotangent ``g`` pairs with a tangent ``t`` as ``Re(sum(g * t))``,
without conjugation, so ``vjp`` is the transpose of the real-linear JVP and ``grad`` of a
real function of complex input is the conjugate of its steepest-ascent direction.

Every row of the complex spec table (``COMPLEX_SPECS`` in the family files of
``tests/specs``) is checked as ``tests/test_ops.py`` checks the real rows: the value against
NumPy; reverse mode and forward mode against central differences of the NumPy function that
take the real and imaginary parts of each input as separate real variables; and second order
three ways against differences of the first-order gradient. The functions that refuse
complex input raise ``TypeError`` naming it (never a silent cast to real).
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
import specs
from pullback.scipy import special as ps
from specs import OpSpec, sample

MODES = ("value", "rev", "fwd", "fwd-rev", "rev-rev", "rev-fwd")


NOT_CHECKED, KNOWN_WRONG, refuses_complex = (specs.NOT_CHECKED_COMPLEX,
                                              specs.KNOWN_WRONG_COMPLEX, specs.refuses_complex)
DERIVED = [r for r in specs.DERIVED_COMPLEX_SPECS if r.id not in NOT_CHECKED]
_DERIVED_IDS = {id(r) for r in DERIVED}


COMPLEX_SPECS = specs.COMPLEX_SPECS + DERIVED


# ----------------------------------------------------------------------------- the oracle


def _central(f, x, d, h):
    return (np.asarray(f(x + h * d)) - np.asarray(f(x - h * d))) / (2 * h)


def directional(f, x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The derivative of ``f`` at ``x`` along ``d`` (complex ``x`` and ``d`` allowed: the
    real-linear derivative), by Richardson-extrapolated central differences (error O(h^6))."""
    dtype = np.result_type(x, d, np.float64)
    x, d = np.asarray(x, dtype), np.asarray(d, dtype)
    h = 1e-2 * max(1.0, float(np.max(np.abs(x), initial=0.0)))
    d1, d2, d3 = (_central(f, x, d, h / k) for k in (1, 2, 4))
    r1, r2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    return (16 * r2 - r1) / 15


def oracle_jvp(f, args: list, tangents: list) -> np.ndarray:
    """The derivative of ``f(*args)`` along ``tangents`` (None: the argument held fixed)."""
    idx = [i for i, t in enumerate(tangents) if t is not None]
    dtype = np.result_type(*(args[i] for i in idx), *(tangents[i] for i in idx), np.float64)
    flat_x = np.concatenate([np.ravel(args[i]).astype(dtype) for i in idx])
    flat_t = np.concatenate([np.ravel(tangents[i]).astype(dtype) for i in idx])

    def g(v):
        new, start = list(args), 0
        for i in idx:
            n = np.size(args[i])
            piece = v[start:start + n].reshape(np.shape(args[i]))
            new[i] = piece if np.iscomplexobj(args[i]) else piece.real
            start += n
        return f(*new)

    return directional(g, flat_x, flat_t)


def oracle_cotangent(f, args: list, k: int, w: np.ndarray) -> np.ndarray:
    """The cotangent of argument ``k`` for the output cotangent ``w``: entry ``j`` is
    ``Re(sum(w * df/dRe(x_j))) - 1j * Re(sum(w * df/dIm(x_j)))``."""
    x = np.asarray(args[k])
    out = np.zeros(x.shape, x.dtype)
    for j in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[j] = 1.0
        tangents = [None] * len(args)
        tangents[k] = e
        value = np.real(np.sum(w * oracle_jvp(f, args, tangents)))
        if np.iscomplexobj(x):
            tangents[k] = 1j * e
            value = value - 1j * np.real(np.sum(w * oracle_jvp(f, args, tangents)))
        out[j] = value
    return out


def test_the_oracle_follows_the_convention() -> None:
    # grad |z|^2 = 2 conj(z); grad Re(c z) = c (holomorphic: no conjugation)
    z = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    got = oracle_cotangent(lambda z: np.sum(np.abs(z) ** 2), [z], 0, np.array(1.0))
    np.testing.assert_allclose(got, 2 * np.conj(z), rtol=1e-12)
    got = oracle_cotangent(lambda z: np.real(np.sum((2.0 - 3.0j) * z)), [z], 0, np.array(1.0))
    np.testing.assert_allclose(got, [2.0 - 3.0j] * 2, rtol=1e-12)
    np.testing.assert_allclose(pb.grad(lambda z: pnp.sum(pnp.abs(z) ** 2))(z), 2 * np.conj(z),
                               rtol=1e-15)


# ----------------------------------------------------------------------------- the table


def _shape_id(shapes: tuple) -> str:
    return "x".join(str(s).replace(" ", "") for s in shapes)


def _cases():
    derived = {id(r) for r in DERIVED}
    for row in COMPLEX_SPECS:
        # a derived row is checked on its first shapes, second order as reverse over forward
        # (the written rows, and the real rows, check the other shapes and orders)
        for shapes in row.shapes[:1] if id(row) in derived else row.shapes:
            for mode in MODES:
                if mode not in ("value", "rev", "fwd") and row.order < 2:
                    continue
                if id(row) in derived and mode in ("fwd-rev", "rev-rev"):
                    continue
                marks = ([pytest.mark.xfail(reason=KNOWN_WRONG[row.id], strict=True)]
                         if row.id in KNOWN_WRONG else [])
                yield pytest.param(row, shapes, mode, id=f"{row.id}-{_shape_id(shapes)}-{mode}",
                                   marks=marks)


def _rng(row: OpSpec, shapes: tuple, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"complex{row.id}{shapes}{salt}".encode()))


def _like(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A random direction of ``dtype`` (complex ones with both parts random), read-only."""
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    x = np.array(x.astype(dtype))
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("row,shapes,mode", list(_cases()))
def test_complex_row(row: OpSpec, shapes: tuple, mode: str) -> None:
    rng = _rng(row, shapes, "args")
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    diff = [i for i in range(len(args)) if row.differentiable(i)]
    assert any(np.iscomplexobj(args[i]) for i in diff), "a complex row needs complex input"
    if id(row) in _DERIVED_IDS and refuses_complex(row, args):
        return  # said, not computed (see refuses_complex)

    def full(fn):
        def call(*dargs):
            new = list(args)
            for i, d in zip(diff, dargs, strict=True):
                new[i] = d
            return fn(*new, **row.kwargs)

        return call

    f, ref = full(row.fn), full(row.ref)
    dargs = [args[i] for i in diff]
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)  # never a silent cast
        expected = np.asarray(ref(*dargs))
        tol = dict(rtol=row.rtol, atol=row.atol)

        if mode == "value":
            got = f(*dargs)
            np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
            assert np.shape(got) == expected.shape and np.result_type(got) == expected.dtype
            traced, _ = pb.vjp(f, *dargs)
            np.testing.assert_allclose(traced, expected, rtol=1e-13, atol=1e-15)
            assert np.result_type(traced) == expected.dtype
            return

        rng = _rng(row, shapes, "directions")
        w = _like(rng, expected.shape, expected.dtype)
        vs = [_like(rng, np.shape(a), np.result_type(a)) for a in dargs]

        if mode == "rev":
            _, vjp_fn = pb.vjp(f, *dargs)
            cts = vjp_fn(w)
            for k, i in enumerate(diff):
                want = oracle_cotangent(ref, dargs, k, w)
                assert cts[k].shape == args[i].shape and cts[k].dtype == args[i].dtype
                np.testing.assert_allclose(cts[k], want, err_msg=f"argument {i}", **tol)
            return

        if mode == "fwd":
            _, t_out = pb.jvp(f, tuple(dargs), tuple(vs))
            assert np.shape(t_out) == expected.shape
            assert np.result_type(t_out) == expected.dtype
            np.testing.assert_allclose(t_out, oracle_jvp(ref, dargs, vs), **tol)
            return

        # second order: H v for the real scalar F(x) = Re(sum(f(x) * w)), against differences
        # of the gradient; Re(sum(G(x) * v)) is the pairing whose gradient is H v again
        nums = tuple(range(len(dargs)))

        def F(*d):
            return pnp.real(pnp.sum(f(*d) * w))

        G = pb.grad(F, argnums=nums)
        want = [oracle_jvp(lambda *d, k=k: G(*d)[k], dargs, vs) for k in nums]
        if mode == "fwd-rev":
            got = pb.jvp(G, tuple(dargs), tuple(vs))[1]
        elif mode == "rev-rev":
            def pairing(*d):
                return sum(pnp.real(pnp.sum(g * v)) for g, v in zip(G(*d), vs, strict=True))

            got = pb.grad(pairing, argnums=nums)(*dargs)
        else:  # rev-fwd
            got = pb.grad(lambda *d: pb.jvp(F, d, tuple(vs))[1], argnums=nums)(*dargs)
        for k in nums:
            np.testing.assert_allclose(got[k], want[k], err_msg=f"argument {diff[k]}", **tol)


def _vmap_rows():
    for row in specs.COMPLEX_SPECS:
        yield pytest.param(row, row.shapes[0], id=row.id)


@pytest.mark.parametrize("row,shapes", list(_vmap_rows()))
def test_vmap_of_complex_rows_matches_a_loop(row: OpSpec, shapes: tuple) -> None:
    rng = np.random.default_rng(5)
    args = [np.stack([sample(rng, row.domain(i), s) for _ in range(3)])
            for i, s in enumerate(shapes)]
    f = lambda *a: row.fn(*a, **row.kwargs)  # noqa: E731
    want = np.stack([np.asarray(f(*[a[b] for a in args])) for b in range(3)])
    got = pb.vmap(f)(*args)
    assert np.result_type(got) == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- conventions


def test_grad_of_a_real_function_is_the_conjugate_steepest_ascent_direction() -> None:
    z = np.array([3.0 + 4.0j, -1.0 + 0.5j])
    np.testing.assert_allclose(pb.grad(lambda z: pnp.sum(pnp.abs(z) ** 2))(z), 2 * np.conj(z),
                               rtol=1e-15)
    # the same in forward mode: the directional derivative along t is Re(sum(g * t))
    t = np.array([0.5 - 1.0j, 2.0 + 0.25j])
    _, dt = pb.jvp(lambda z: pnp.sum(pnp.abs(z) ** 2), (z,), (t,))
    np.testing.assert_allclose(dt, np.real(np.sum(2 * np.conj(z) * t)), rtol=1e-15)
    # and at second order: the Hessian of |z|^2 is twice the identity on (Re z, Im z)
    hv = pb.jvp(pb.grad(lambda z: pnp.sum(pnp.abs(z) ** 2)), (z,), (t,))[1]
    np.testing.assert_allclose(hv, 2 * np.conj(t), rtol=1e-15)


def test_std_and_var_of_complex_values_are_real() -> None:
    z = np.array([1.0 + 2.0j, -1.0, 0.5j])
    assert pnp.var(z).dtype == np.float64
    value, g = pb.value_and_grad(pnp.var)(z)
    np.testing.assert_allclose(value, np.var(z), rtol=1e-15)
    # var = mean(|z - mean|^2): gradient 2 conj(z - mean) / n
    np.testing.assert_allclose(g, 2 * np.conj(z - z.mean()) / 3, rtol=1e-14)


def test_eigh_and_svd_gauge_is_documented_and_gauge_invariant_results_agree() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    h = (a + a.conj().T) / 2
    t = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    t = (t + t.conj().T) / 2
    # eigh: V^H dV has a zero diagonal (the eigenvectors' phases are held fixed)
    (w, v), (dw, dv) = pb.jvp(lambda h: tuple(pnp.linalg.eigh(h)), (h,), (t,))
    np.testing.assert_allclose(np.diagonal(v.conj().T @ dv), 0.0, atol=1e-13)
    # svd: V^H dV has a zero diagonal; U^H dU has i Im(u_i^H t v_i) / s_i on its diagonal
    (u, s, vh), (du, ds, dvh) = pb.jvp(lambda a: tuple(pnp.linalg.svd(a)), (a,), (t,))
    V, dV = vh.conj().T, dvh.conj().T
    np.testing.assert_allclose(np.diagonal(V.conj().T @ dV), 0.0, atol=1e-13)
    p = np.diagonal(u.conj().T @ t @ V)
    np.testing.assert_allclose(np.diagonal(u.conj().T @ du), 1j * p.imag / s, atol=1e-13)


def test_slogdet_sign_of_a_complex_matrix_is_differentiable() -> None:
    rng = np.random.default_rng(1)
    a = np.eye(3) + 0.3 * (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))
    t = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    (sign, logdet), (dsign, dlog) = pb.jvp(lambda a: tuple(pnp.linalg.slogdet(a)), (a,), (t,))
    tau = np.trace(np.linalg.solve(a, t))  # d log det = tr(a^-1 da)
    np.testing.assert_allclose(dlog, tau.real, rtol=1e-13)
    np.testing.assert_allclose(dsign, sign * 1j * tau.imag, rtol=1e-13)


# ----------------------------------------------------------------------------- refusals

REFUSED = [
    ("erf", ps.erf), ("erfc", ps.erfc), ("expit", ps.expit), ("logit", ps.logit),
    ("gammaln", ps.gammaln), ("digamma", ps.digamma), ("psi", ps.psi),
    ("polygamma", lambda z: ps.polygamma(1, z)),
]


@pytest.mark.parametrize("name,func", REFUSED, ids=[r[0] for r in REFUSED])
def test_real_only_special_functions_refuse_complex_input(name, func) -> None:
    z = np.array([0.5 + 0.5j, 1.0 - 0.25j])
    who = "digamma" if name == "psi" else name
    message = rf"special\.{who}: complex input .* is not supported"
    with pytest.raises(TypeError, match=message):
        func(z)
    with pytest.raises(TypeError, match=message):
        pb.grad(lambda z: pnp.sum(pnp.real(func(z))))(z)
    with pytest.raises(TypeError, match=message):
        pb.jvp(func, (z,), (z,))


@pytest.mark.parametrize("func", [
    lambda z: pnp.arctan2(z, z), lambda z: pnp.hypot(z, z), pnp.fabs, pnp.cbrt,
    lambda z: pnp.logaddexp(z, z), lambda z: pnp.fmod(z, 2.0), pnp.floor,
    lambda z: pnp.quantile(z, 0.5), lambda z: pnp.percentile(z, 50.0),
], ids=["arctan2", "hypot", "fabs", "cbrt", "logaddexp", "fmod", "floor", "quantile",
        "percentile"])
def test_functions_numpy_refuses_complex_input_for_refuse_it_on_traced_values(func) -> None:
    z = np.array([0.5 + 0.5j, 1.0 - 0.25j])
    with pytest.raises(TypeError):
        func(z)
    with pytest.raises(TypeError):
        pb.grad(lambda z: pnp.sum(pnp.real(func(z))))(z)
    with pytest.raises(TypeError):
        pb.jvp(func, (z,), (z,))


def test_rfft_refuses_complex_input() -> None:
    with pytest.raises(TypeError, match="rfft: argument 'a' is complex"):
        pb.grad(lambda z: pnp.sum(pnp.real(pnp.fft.rfft(z))))(np.array([1.0 + 1.0j, 2.0]))


# ----------------------------------------------------------------------------- derived rows


def test_the_derived_complex_table_names_existing_rows() -> None:
    ids = {r.id for r in specs.DERIVED_COMPLEX_SPECS}
    assert set(NOT_CHECKED) <= ids, set(NOT_CHECKED) - ids
    assert set(KNOWN_WRONG) <= ids, set(KNOWN_WRONG) - ids
    # most of the table is checked: a sampler change that drops rows silently shows here
    assert len(DERIVED) > 300, len(DERIVED)
