"""Rows for ``pullback.numpy.linalg``.

The samplers build matrices whose derivatives are well defined and well conditioned, so that
finite differences (steps of about 1e-2) are accurate: well-conditioned square matrices,
symmetric matrices with known, well-separated eigenvalues, rectangular matrices with known,
well-separated singular values. Eigenvectors and singular vectors enter only through
functions that do not depend on their signs (``v**2``, ``u @ diag(f(s)) @ vh``).
"""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _batch_matrices(shape, make):
    """Apply ``make(n_rows, n_cols)`` to each matrix of a stack of shape ``shape``."""
    *batch, m, n = shape
    mats = [make(m, n) for _ in range(int(np.prod(batch, dtype=np.int64)))]
    return np.array(mats).reshape(shape)


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def well_conditioned(rng, shape):
    """The identity plus a perturbation of norm at most 0.6: singular values in (0.4, 1.6)."""
    return _batch_matrices(
        shape, lambda m, n: np.eye(m, n) + 0.6 * rng.uniform(-1, 1, (m, n)) / max(m, n)
    )


def negative_det(rng, shape):
    """A well-conditioned matrix whose first row is negated: det < 0."""
    x = well_conditioned(rng, shape)
    x[..., 0, :] *= -1
    return x


def symmetric(rng, shape, low=-1.0, high=1.0):
    """Symmetric matrices with eigenvalues spread evenly over [low, high] (gaps >= 2/(n-1)
    for the default range), shuffled, plus a little noise."""

    def make(m, n):
        w = np.linspace(low, high, n) + rng.uniform(-0.05, 0.05, n) * (high - low) / max(n, 2)
        q = _orthogonal(rng, n)
        a = (q * w) @ q.T
        return (a + a.T) / 2

    return _batch_matrices(shape, make)


def spd(rng, shape):
    """Symmetric positive definite matrices, eigenvalues spread over [0.5, 1.5]."""
    return symmetric(rng, shape, 0.5, 1.5)


def spread_singular(rng, shape):
    """Matrices ``u diag(s) v^T`` with singular values spread over [0.5, 1.5]."""

    def make(m, n):
        k = min(m, n)
        s = np.linspace(1.5, 0.5, k) if k > 1 else np.array([1.0])
        u = _orthogonal(rng, m)[:, :k]
        v = _orthogonal(rng, n)[:, :k]
        return (u * s) @ v.T

    return _batch_matrices(shape, make)


def spread_entries(rng, shape):
    """Entries with magnitudes at least 0.1 apart (no near-ties of |x|), random signs."""
    size = int(np.prod(shape, dtype=np.int64))
    mags = 0.5 + 1.5 * rng.permutation(size) / max(size, 1)
    return (mags * rng.choice([-1.0, 1.0], size)).reshape(shape)


def column_sums_apart(rng, shape):
    """Column j scaled by 1.5**j, entries 0.9..1 of that, random signs: the column sums of
    |x| are far apart (no ties for the 1-norm); transposed: rows apart, for the inf-norm."""
    *_, m, n = shape
    scale = 1.5 ** np.arange(n)
    return scale * rng.uniform(0.9, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


def row_sums_apart(rng, shape):
    return np.swapaxes(column_sums_apart(rng, shape[:-2] + (shape[-1], shape[-2])), -1, -2)


SQUARE = [((3, 3),), ((2, 3, 3),), ((1, 1),), ((0, 2, 2),)]
RECT = [((3, 2),), ((2, 3),), ((3, 3),), ((2, 3, 2),)]


def _slogdet(lib):
    return lambda a: (lambda sign, logdet: sign * logdet)(*lib.linalg.slogdet(a))


def _qr(lib, **kw):
    def f(a):
        q, r = lib.linalg.qr(a, **kw)
        return lib.concatenate([lib.reshape(q, (-1,)), lib.reshape(r, (-1,))])

    return f


def _eigh(lib, **kw):
    def f(a):
        w, v = lib.linalg.eigh(a, **kw)
        # v**2 does not depend on the signs; the eigenvalue-weighted product mixes w and v
        mix = (v * w[..., None, :] ** 3) @ lib.swapaxes(v, -1, -2)
        return lib.concatenate([lib.reshape(w, (-1,)), lib.reshape(v * v, (-1,)),
                                lib.reshape(mix, (-1,))])

    return f


def _svd(lib, **kw):
    def f(a):
        u, s, vh = lib.linalg.svd(a, **kw)
        mix = (u * s[..., None, :] ** 2) @ vh  # u diag(s^2) vh: sign-free
        return lib.concatenate([lib.reshape(u * u, (-1,)), s.reshape(-1),
                                lib.reshape(vh * vh, (-1,)), lib.reshape(mix, (-1,))])

    return f


def _lstsq(lib):
    def f(a, b):
        x, residuals, rank, s = lib.linalg.lstsq(a, b)
        return lib.concatenate([lib.reshape(x, (-1,)), residuals, s])

    return f


def _norm_row(ord, shapes, domain, tag, **kwargs):
    kw = {"ord": ord, **kwargs}
    return spec("linalg.norm", pnp.linalg.norm, np.linalg.norm, shapes, domain, kwargs=kw,
                tag=tag)


WELL, SYM, SPD, SV = well_conditioned, symmetric, spd, spread_singular

# fmt: off
SPECS = [
    spec("linalg.inv", pnp.linalg.inv, np.linalg.inv, SQUARE, WELL),
    spec("linalg.inv", np.linalg.inv, np.linalg.inv, [((3, 3),)], WELL, tag="numpy-dispatch"),
    spec("linalg.det", pnp.linalg.det, np.linalg.det, SQUARE, WELL),
    spec("linalg.det", pnp.linalg.det, np.linalg.det, [((3, 3),), ((2, 2, 2),)], negative_det,
         tag="negative"),
    spec("linalg.slogdet", _slogdet(pnp), _slogdet(np), SQUARE, WELL),
    spec("linalg.slogdet", _slogdet(pnp), _slogdet(np), [((3, 3),), ((2, 2, 2),)],
         negative_det, tag="negative"),
    spec("linalg.solve", pnp.linalg.solve, np.linalg.solve,
         [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)),
          ((1, 3, 3), (2, 3, 1)), ((2, 3, 3), (1, 3, 2)), ((0, 2, 2), (2,))], WELL, "real"),
    spec("linalg.solve", np.linalg.solve, np.linalg.solve, [((3, 3), (3, 2))], WELL, "real",
         tag="numpy-dispatch"),
    spec("linalg.pinv", pnp.linalg.pinv, np.linalg.pinv, RECT, SV),
    spec("linalg.pinv", pnp.linalg.pinv, np.linalg.pinv, [((3, 3),)], SPD,
         kwargs={"hermitian": True}, tag="hermitian"),
    spec("linalg.cholesky", pnp.linalg.cholesky, np.linalg.cholesky, SQUARE, SPD),
    spec("linalg.cholesky", pnp.linalg.cholesky, np.linalg.cholesky, [((3, 3),), ((2, 2, 2),)],
         SPD, kwargs={"upper": True}, tag="upper"),
    spec("linalg.qr", _qr(pnp), _qr(np), [((3, 2),), ((3, 3),), ((2, 3),), ((2, 4, 3),),
                                          ((2, 2, 3),)], WELL),
    spec("linalg.qr", pnp.linalg.qr, np.linalg.qr, [((3, 2),), ((2, 3),)], WELL,
         kwargs={"mode": "r"}, tag="r"),
    spec("linalg.qr", _qr(pnp, mode="complete"), _qr(np, mode="complete"),
         [((3, 3),), ((2, 3),)], WELL, tag="complete"),
    spec("linalg.eigh", _eigh(pnp), _eigh(np), [((3, 3),), ((2, 4, 4),), ((1, 1),),
                                                ((0, 2, 2),)], SYM),
    spec("linalg.eigh", _eigh(pnp, UPLO="U"), _eigh(np, UPLO="U"), [((3, 3),)], SYM,
         tag="upper"),
    spec("linalg.eigvalsh", pnp.linalg.eigvalsh, np.linalg.eigvalsh, [((3, 3),), ((2, 4, 4),)],
         SYM),
    spec("linalg.eigvalsh", pnp.linalg.eigvalsh, np.linalg.eigvalsh, [((3, 3),)], SYM,
         kwargs={"UPLO": "U"}, tag="upper"),
    spec("linalg.svd", _svd(pnp, full_matrices=False), _svd(np, full_matrices=False),
         RECT + [((4, 2),), ((1, 3),)], SV),
    # this seed's vectors make the oracle's second-order differences less accurate: 5e-8 at
    # h = 1e-2, 3e-7 at the default step (h = 1.4e-2), converging to 1e-11 at h = 2e-3
    spec("linalg.svd", _svd(pnp), _svd(np), [((3, 3),)], SV, tag="full-square", rtol=1e-6,
         atol=1e-6),
    spec("linalg.svd", pnp.linalg.svd, np.linalg.svd, RECT, SV, kwargs={"compute_uv": False},
         tag="values"),
    # vector norms
    _norm_row(None, [((4,),), ((3, 4),), ((2, 3, 2),), ((),), ((0,),)], "real", "default"),
    _norm_row(2, [((4,),)], "real", "2"),
    _norm_row(1, [((4,),)], "nonzero", "1"),
    _norm_row(np.inf, [((5,),)], spread_entries, "inf"),
    _norm_row(-np.inf, [((5,),)], spread_entries, "-inf"),
    _norm_row(3, [((4,),)], "nonzero", "3"),
    _norm_row(0.5, [((4,),)], "nonzero", "0.5"),
    _norm_row(-1, [((4,),)], "nonzero", "-1"),
    _norm_row(0, [((4,),)], "nonzero", "0"),
    _norm_row(3, [((3, 4),)], "nonzero", "3-axis0", axis=0),
    _norm_row(None, [((3, 4),)], "real", "axis-1-keepdims", axis=-1, keepdims=True),
    _norm_row(np.inf, [((3, 4),)], spread_entries, "inf-axis1", axis=1, keepdims=True),
    # matrix norms
    _norm_row("fro", [((3, 4),)], "real", "fro"),
    _norm_row("fro", [((2, 3, 4),)], "real", "fro-axes", axis=(2, 0), keepdims=True),
    _norm_row("nuc", [((3, 2),), ((2, 3),)], SV, "nuc"),
    _norm_row("nuc", [((2, 3, 4),)], "real", "nuc-axes", axis=(-1, 0), keepdims=True),
    _norm_row(2, [((3, 2),), ((3, 3),)], SV, "2-matrix"),
    _norm_row(-2, [((3, 2),), ((3, 3),)], SV, "-2-matrix"),
    _norm_row(2, [((2, 3, 4),)], "real", "2-matrix-axes", axis=(1, 2)),
    _norm_row(1, [((3, 4),)], column_sums_apart, "1-matrix"),
    _norm_row(-1, [((3, 4),)], column_sums_apart, "-1-matrix"),
    _norm_row(np.inf, [((4, 3),)], row_sums_apart, "inf-matrix"),
    _norm_row(-np.inf, [((4, 3),)], row_sums_apart, "-inf-matrix"),
    _norm_row(1, [((2, 3, 4),)], column_sums_apart, "1-matrix-axes-keepdims", axis=(-2, -1),
              keepdims=True),
    _norm_row(np.inf, [((2, 3, 4),)], column_sums_apart, "inf-matrix-axes", axis=(2, 1)),
    spec("linalg.norm", np.linalg.norm, np.linalg.norm, [((3, 4),)], tag="numpy-dispatch"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power,
         [((3, 3),), ((2, 2, 2),)], WELL, kwargs={"n": 5}, tag="5"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power, [((3, 3),)],
         WELL, kwargs={"n": 3}, tag="3"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power, [((3, 3),)],
         WELL, kwargs={"n": -2}, tag="-2"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power, [((3, 3),)],
         WELL, kwargs={"n": 0}, tag="0"),
    spec("linalg.lstsq", _lstsq(pnp), _lstsq(np),
         [((4, 2), (4,)), ((4, 2), (4, 3)), ((2, 3), (2,)), ((3, 3), (3, 2))], SV, "real"),
]
# fmt: on


# ----------------------------------------------------------------------------- complex inputs
# Checked by tests/test_complex.py against differences in the real and imaginary parts.
# Eigenvectors and singular vectors are defined up to a phase (u_i and v_i share one): they
# enter only through functions that do not depend on it (|v|^2, v diag(f(w)) v^H, projectors).


def _unitary(rng, n):
    z = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    q, r = np.linalg.qr(z)
    return q * (np.diagonal(r) / np.abs(np.diagonal(r)))


def c_well_conditioned(rng, shape):
    """The identity plus a complex perturbation of norm at most 0.6."""
    return _batch_matrices(shape, lambda m, n: np.eye(m, n) + 0.6 * (
        rng.uniform(-1, 1, (m, n)) + 1j * rng.uniform(-1, 1, (m, n))) / (np.sqrt(2) * max(m, n)))


def c_hermitian(rng, shape, low=-1.0, high=1.0):
    """Hermitian matrices with eigenvalues spread evenly over [low, high], plus a little
    noise: ``q diag(w) q^H`` for a random unitary ``q``."""

    def make(m, n):
        w = np.linspace(low, high, n) + rng.uniform(-0.05, 0.05, n) * (high - low) / max(n, 2)
        q = _unitary(rng, n)
        a = (q * w) @ q.conj().T
        return (a + a.conj().T) / 2

    return _batch_matrices(shape, make)


def c_hpd(rng, shape):
    """Hermitian positive definite matrices, eigenvalues spread over [0.5, 1.5]."""
    return c_hermitian(rng, shape, 0.5, 1.5)


def c_spread_singular(rng, shape):
    """Complex ``u diag(s) v^H`` with singular values spread over [0.5, 1.5]."""

    def make(m, n):
        k = min(m, n)
        s = np.linspace(1.5, 0.5, k) if k > 1 else np.array([1.0])
        return (_unitary(rng, m)[:, :k] * s) @ _unitary(rng, n)[:, :k].conj().T

    return _batch_matrices(shape, make)


def c_general(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _H(lib, x):
    return lib.conj(lib.swapaxes(x, -1, -2))


def _c_slogdet(lib):
    def f(a):
        sign, logdet = lib.linalg.slogdet(a)
        return lib.concatenate([lib.reshape(sign, (-1,)), lib.reshape(logdet, (-1,))])

    return f


def _c_eigh(lib, **kw):
    def f(a):
        w, v = lib.linalg.eigh(a, **kw)
        # |v|^2 and v diag(w^3) v^H do not depend on the eigenvectors' phases
        mix = (v * w[..., None, :] ** 3) @ _H(lib, v)
        return lib.concatenate([lib.reshape(w, (-1,)), lib.reshape(lib.abs(v) ** 2, (-1,)),
                                lib.reshape(mix, (-1,))])

    return f


def _c_projector(lib):
    """The projector onto the eigenvectors of the two smallest eigenvalues."""

    def f(a):
        _, v = lib.linalg.eigh(a)
        low = v[..., :2]
        return low @ _H(lib, low)

    return f


def _c_svd(lib, **kw):
    def f(a):
        u, s, vh = lib.linalg.svd(a, **kw)
        # |u|^2, s, |vh|^2 and u diag(s^2) vh do not depend on the shared phases
        mix = (u * s[..., None, :] ** 2) @ vh
        return lib.concatenate([lib.reshape(lib.abs(u) ** 2, (-1,)), lib.reshape(s, (-1,)),
                                lib.reshape(lib.abs(vh) ** 2, (-1,)), lib.reshape(mix, (-1,))])

    return f


def _c_left_projector(lib):
    """The projectors onto the leading left (weighted by s) and right singular vectors (the
    shared phase cancels)."""

    def f(a):
        u, s, vh = lib.linalg.svd(a, full_matrices=False)
        lead = u[..., :1] * s[..., None, :1]
        left = lead @ _H(lib, u[..., :1])
        right = _H(lib, vh[..., :1, :]) @ vh[..., :1, :]
        return lib.concatenate([lib.reshape(left, (-1,)), lib.reshape(right, (-1,))])

    return f


CW, CH, CHPD, CSV, CG = (c_well_conditioned, c_hermitian, c_hpd, c_spread_singular, c_general)
CSQUARE = [((3, 3),), ((2, 2, 2),)]
CRECT = [((3, 2),), ((2, 3),), ((3, 3),)]


def _c_norm_row(ord, shapes, domain, tag, **kwargs):
    kw = {"ord": ord, **kwargs}
    return spec("linalg.norm", pnp.linalg.norm, np.linalg.norm, shapes, domain, kwargs=kw,
                tag=f"complex-{tag}")


# fmt: off
COMPLEX_SPECS = [
    spec("linalg.inv", pnp.linalg.inv, np.linalg.inv, CSQUARE, CW, tag="complex"),
    spec("linalg.det", pnp.linalg.det, np.linalg.det, CSQUARE, CW, tag="complex"),
    spec("linalg.slogdet", _c_slogdet(pnp), _c_slogdet(np), CSQUARE, CW, tag="complex"),
    spec("linalg.solve", pnp.linalg.solve, np.linalg.solve, [((3, 3), (3,)), ((2, 3, 3), (3, 2))],
         CW, CG, tag="complex"),
    spec("linalg.solve", pnp.linalg.solve, np.linalg.solve, [((3, 3), (3,))], "real", CG,
         tag="complex-rhs"),
    spec("linalg.pinv", pnp.linalg.pinv, np.linalg.pinv, CRECT, CSV, tag="complex"),
    spec("linalg.pinv", pnp.linalg.pinv, np.linalg.pinv, [((3, 3),)], CHPD,
         kwargs={"hermitian": True}, tag="complex-hermitian"),
    spec("linalg.cholesky", pnp.linalg.cholesky, np.linalg.cholesky, CSQUARE, CHPD,
         tag="complex"),
    spec("linalg.cholesky", pnp.linalg.cholesky, np.linalg.cholesky, [((3, 3),)], CHPD,
         kwargs={"upper": True}, tag="complex-upper"),
    spec("linalg.qr", _qr(pnp), _qr(np), [((3, 2),), ((3, 3),), ((2, 3),), ((2, 4, 3),)], CW,
         tag="complex"),
    spec("linalg.qr", pnp.linalg.qr, np.linalg.qr, [((3, 2),), ((2, 3),)], CW,
         kwargs={"mode": "r"}, tag="complex-r"),
    spec("linalg.qr", _qr(pnp, mode="complete"), _qr(np, mode="complete"), [((2, 3),)], CW,
         tag="complex-complete"),
    spec("linalg.eigh", _c_eigh(pnp), _c_eigh(np), [((3, 3),), ((2, 4, 4),)], CH,
         tag="complex"),
    spec("linalg.eigh", _c_eigh(pnp, UPLO="U"), _c_eigh(np, UPLO="U"), [((3, 3),)], CH,
         tag="complex-upper"),
    spec("linalg.eigh", _c_projector(pnp), _c_projector(np), [((4, 4),)], CH,
         tag="complex-projector"),
    spec("linalg.eigvalsh", pnp.linalg.eigvalsh, np.linalg.eigvalsh, [((3, 3),), ((2, 4, 4),)],
         CH, tag="complex"),
    spec("linalg.svd", _c_svd(pnp, full_matrices=False), _c_svd(np, full_matrices=False),
         CRECT + [((2, 3, 2),)], CSV, tag="complex"),
    spec("linalg.svd", _c_svd(pnp), _c_svd(np), [((3, 3),)], CSV, tag="complex-full-square"),
    spec("linalg.svd", _c_left_projector(pnp), _c_left_projector(np), [((3, 2),), ((2, 3),)],
         CSV, tag="complex-projector"),
    spec("linalg.svd", pnp.linalg.svd, np.linalg.svd, CRECT, CSV, kwargs={"compute_uv": False},
         tag="complex-values"),
    _c_norm_row(None, [((4,),), ((3, 4),)], CG, "default"),
    _c_norm_row(1, [((4,),)], CG, "1"),
    _c_norm_row(3, [((4,),)], CG, "3"),
    _c_norm_row(np.inf, [((5,),)], CG, "inf"),
    _c_norm_row("fro", [((3, 4),)], CG, "fro"),
    _c_norm_row("nuc", [((3, 2),)], CSV, "nuc"),
    _c_norm_row(2, [((3, 3),)], CSV, "2-matrix"),
    _c_norm_row(1, [((3, 4),)], CG, "1-matrix"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power,
         [((3, 3),), ((2, 2, 2),)], CW, kwargs={"n": 5}, tag="complex-5"),
    spec("linalg.matrix_power", pnp.linalg.matrix_power, np.linalg.matrix_power, [((3, 3),)],
         CW, kwargs={"n": -2}, tag="complex--2"),
    spec("linalg.lstsq", _lstsq(pnp), _lstsq(np), [((4, 2), (4,)), ((4, 2), (4, 3)),
                                                   ((2, 3), (2,))], CSV, CG, tag="complex"),
]
# fmt: on
