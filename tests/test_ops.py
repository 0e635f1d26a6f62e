"""Every spec-table row, checked against the finite-difference oracle.

For each row and argument shapes: the value against NumPy; reverse mode (``vjp``) and forward
mode (``jvp``) against the oracle's Jacobian; and second order three ways (forward over
reverse, reverse over reverse, reverse over forward) against central differences of the
first-order gradient, which the first-order tests have checked. Inputs are read-only.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import oracle
import pullback as pb
from specs import ALL_SPECS, OpSpec, sample

MODES = ("value", "rev", "fwd", "fwd-rev", "rev-rev", "rev-fwd")


def _shape_id(shapes: tuple) -> str:
    return "x".join(str(s).replace(" ", "") for s in shapes)


def _cases():
    for row in ALL_SPECS:
        for shapes in row.shapes:
            for mode in MODES:
                if mode not in ("value", "rev", "fwd") and row.order < 2:
                    continue
                if mode != "value" and not any(row.differentiable(i) for i in range(len(shapes))):
                    continue
                yield pytest.param(row, shapes, mode, id=f"{row.id}-{_shape_id(shapes)}-{mode}")


def _rng(row: OpSpec, shapes: tuple, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{row.id}{shapes}{salt}".encode()))


def _readonly(x: np.ndarray) -> np.ndarray:
    x = np.array(x)
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("row,shapes,mode", list(_cases()))
def test_op(row: OpSpec, shapes: tuple, mode: str) -> None:
    rng = _rng(row, shapes, "args")
    args = [sample(rng, row.domain(i), s) for i, s in enumerate(shapes)]
    diff = [i for i in range(len(args)) if row.differentiable(i)]

    def full(fn):
        def call(*dargs):
            new = list(args)
            for i, d in zip(diff, dargs, strict=True):
                new[i] = d
            return fn(*new, **row.kwargs)

        return call

    f, ref = full(row.fn), full(row.ref)
    dargs = [args[i] for i in diff]
    expected_value = np.asarray(ref(*dargs))
    if row.smooth is not None:
        ref = full(row.smooth)
    tol = dict(rtol=row.rtol, atol=row.atol)

    if mode == "value":
        got = f(*dargs)
        np.testing.assert_allclose(got, expected_value, rtol=1e-13, atol=0)
        assert np.shape(got) == expected_value.shape and np.result_type(got) == expected_value.dtype
        traced, _ = pb.vjp(f, *dargs)
        np.testing.assert_allclose(traced, expected_value, rtol=1e-13, atol=0)
        return

    rng = _rng(row, shapes, "directions")
    w = _readonly(rng.standard_normal(expected_value.shape).astype(expected_value.dtype))
    vs = [_readonly(rng.standard_normal(np.shape(a))) for a in dargs]

    if mode == "rev":
        _, vjp_fn = pb.vjp(f, *dargs)
        cts = vjp_fn(w)
        for k, i in enumerate(diff):
            jac = oracle.jacobian(ref, dargs, k)
            want = np.tensordot(w, jac, axes=w.ndim)
            assert cts[k].shape == args[i].shape and cts[k].dtype == args[i].dtype
            np.testing.assert_allclose(cts[k], want, err_msg=f"argument {i}", **tol)
        return

    if mode == "fwd":
        _, t_out = pb.jvp(f, tuple(dargs), tuple(vs))
        want = oracle.jvp(ref, dargs, vs)
        assert np.shape(t_out) == expected_value.shape
        np.testing.assert_allclose(t_out, want, **tol)
        return

    # second order: H v for the scalar F(x) = <f(x), w>, against differences of the gradient
    nums = tuple(range(len(dargs)))

    def F(*d):
        return pb.numpy.sum(f(*d) * w)

    G = pb.grad(F, argnums=nums)
    want = [oracle.jvp(lambda *d, k=k: G(*d)[k], dargs, vs) for k in nums]
    if mode == "fwd-rev":
        got = pb.jvp(G, tuple(dargs), tuple(vs))[1]
    elif mode == "rev-rev":
        got = pb.grad(
            lambda *d: sum(pb.numpy.sum(g * v) for g, v in zip(G(*d), vs, strict=True)),
            argnums=nums
        )(*dargs)
    else:  # rev-fwd
        got = pb.grad(lambda *d: pb.jvp(F, d, tuple(vs))[1], argnums=nums)(*dargs)
    for k in nums:
        np.testing.assert_allclose(got[k], want[k], err_msg=f"argument {diff[k]}", **tol)
