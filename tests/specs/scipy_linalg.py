"""Rows for ``pullback.scipy.linalg``, against SciPy's values (SciPy is a test dependency).

Factorisations that read one triangle are differentiated by the oracle along directions that
change the whole matrix, as SciPy's are: both read the same triangle, so they agree. LU rows
draw matrices whose pivots are clear (a permuted diagonally dominant matrix), so that the
oracle's steps do not change the pivoting; eigenvector rows fix each vector's sign."""

import numpy as np

import pullback.numpy as pnp
from specs import spec

try:
    import scipy.linalg as sla

    from pullback.scipy import linalg as pla
except ImportError:  # pragma: no cover - SciPy is in the dev extra
    sla = None


def _spd(rng, shape):
    a = rng.uniform(-1.0, 1.0, shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


def _pivoted(rng, shape):
    """A row permutation of a diagonally dominant matrix: partial pivoting finds it back,
    with a wide margin."""
    a = rng.uniform(-1.0, 1.0, shape) + 4.0 * np.eye(shape[-1])
    return a[..., rng.permutation(shape[-1]), :]


def _pivoted_rect(rng, shape):
    """A row permutation of a rectangular (or 1-d: a column) matrix whose leading square block
    is diagonally dominant: partial pivoting finds the rows back, with a wide margin."""
    if len(shape) < 2:
        col = rng.uniform(-1.0, 1.0, shape)
        if col.size:
            col.flat[rng.integers(col.size)] = 4.0 * rng.choice([-1.0, 1.0])
        return col
    m, n = shape[-2:]
    a = rng.uniform(-1.0, 1.0, shape) + 4.0 * np.eye(m, n)
    return a[..., rng.permutation(m), :]


def _symmetric(rng, shape):
    a = rng.uniform(-1.0, 1.0, shape)
    return a + np.swapaxes(a, -1, -2)


def _separated(rng, shape):
    """Symmetric matrices with eigenvalues near -3, 0, 3, ... (well separated: the oracle's
    steps stay far within the radius where eigenvalues are analytic)."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    a = rng.uniform(-0.3, 0.3, shape)
    d = np.diag(3.0 * np.arange(n) - 3.0) + a + np.swapaxes(a, -1, -2)
    return q @ d @ np.swapaxes(q, -1, -2)


def _loop(f):
    """SciPy's function applied to each matrix of a stack (SciPy before 1.15 takes one),
    with the stacks broadcast as SciPy 1.15 broadcasts them: every argument of two or more
    dimensions is a stack of matrices (``b`` of shape (3, 3) is one matrix for each of the
    matrices of ``a`` of shape (3, 3, 3)), a 1-d one a single vector."""

    def call(*args, **kw):
        args = [np.asarray(a) for a in args]
        lead = np.broadcast_shapes(*(a.shape[:-2] for a in args))
        if not lead:
            return f(*args, **kw)
        args = [np.broadcast_to(a, lead + a.shape[-2:]) if a.ndim >= 2 else a for a in args]
        out = [f(*(a[i] if a.ndim >= 2 else a for a in args), **kw)
               for i in np.ndindex(*lead)]
        out = np.stack(out)
        return out.reshape(lead + out.shape[1:])

    return call


def _signs(v):
    """Eigenvectors with the sign that makes each one's first entry positive."""
    return v * np.sign(v[..., :1, :])


def _psigns(v):
    return v * pnp.sign(v[..., :1, :])


WC = "well_conditioned"
SPECS = []
if sla is not None:
    solve_tri = _loop(sla.solve_triangular)
    SPECS = [
        spec("scipy.linalg.solve_triangular", pla.solve_triangular, sla.solve_triangular,
             [((3, 3), (3,)), ((3, 3), (3, 2))], WC, "real"),
        spec("scipy.linalg.solve_triangular",
             lambda a, b: pla.solve_triangular(a, b, lower=True, unit_diagonal=True),
             lambda a, b: sla.solve_triangular(a, b, lower=True, unit_diagonal=True),
             [((3, 3), (3, 2))], WC, "real", tag="lower-unit"),
        spec("scipy.linalg.solve_triangular",
             lambda a, b: pla.solve_triangular(a, b, trans=1, lower=True),
             lambda a, b: solve_tri(a, b, trans=1, lower=True),
             [((3, 3), (3,)), ((2, 3, 3), (2, 3, 2))], WC, "real", tag="trans"),
        spec("scipy.linalg.solve_triangular",
             lambda a, b: pla.solve_triangular(a, b, trans="C"),
             lambda a, b: sla.solve_triangular(a, b, trans="C"),
             [((3, 3), (3, 2))], WC, "real", tag="conj-trans"),
        spec("scipy.linalg.cholesky", pla.cholesky, sla.cholesky, [((3, 3),)], _spd),
        spec("scipy.linalg.cholesky", lambda a: pla.cholesky(a, lower=True),
             lambda a: sla.cholesky(a, lower=True), [((3, 3),)], _spd, tag="lower"),
        spec("scipy.linalg.cho_solve", lambda a, b: pla.cho_solve(pla.cho_factor(a), b),
             lambda a, b: sla.cho_solve(sla.cho_factor(a), b), [((3, 3), (3,)),
                                                                 ((3, 3), (3, 2))],
             _spd, "real"),
        spec("scipy.linalg.cho_solve",
             lambda a, b: pla.cho_solve(pla.cho_factor(a, lower=True), b),
             lambda a, b: sla.cho_solve(sla.cho_factor(a, lower=True), b),
             [((3, 3), (3, 2))], _spd, "real", tag="lower"),
        spec("scipy.linalg.cho_factor", lambda a: pla.cho_factor(a, lower=True)[0],
             lambda a: np.tril(sla.cho_factor(a, lower=True)[0]), [((3, 3),)], _spd),
        spec("scipy.linalg.lu_factor", lambda a: pla.lu_factor(a)[0],
             lambda a: sla.lu_factor(a)[0], [((3, 3),), ((4, 4),)], _pivoted),
        spec("scipy.linalg.lu_factor", lambda a: pla.lu_factor(a)[0],
             lambda a: _loop(lambda m: sla.lu_factor(m)[0])(a), [((2, 3, 3),)], _pivoted,
             tag="stacked", covers=("scipy.linalg.lu_permutation",)),
        # SciPy factors rectangular matrices (L (m, k), U (k, n)), a 1-d a as a column and a
        # 0-d one as 1 by 1
        spec("scipy.linalg.lu_factor", lambda a: pla.lu_factor(a)[0],
             lambda a: sla.lu_factor(a)[0], [((3, 2),), ((2, 3),), ((4, 2),), ((2, 4),),
                                             ((2, 1),), ((1, 3),), ((3,),), ((),)],
             _pivoted_rect, tag="rectangular"),
        spec("scipy.linalg.lu_factor", lambda a: pla.lu_factor(a)[0],
             lambda a: sla.lu_factor(a)[0], [((2, 3, 2),), ((2, 2, 3),)], _pivoted_rect,
             tag="rectangular-stacked"),
        spec("scipy.linalg.lu_solve", lambda a, b: pla.lu_solve(pla.lu_factor(a), b),
             lambda a, b: sla.lu_solve(sla.lu_factor(a), b), [((3, 3), (3,)),
                                                              ((4, 4), (4, 2))],
             _pivoted, "real"),
        spec("scipy.linalg.lu_solve", lambda a, b: pla.lu_solve(pla.lu_factor(a), b, trans=1),
             lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans=1), [((4, 4), (4, 2))],
             _pivoted, "real", tag="trans"),
        *[spec("scipy.linalg.solve", lambda a, b, k=k: pla.solve(a, b, assume_a=k),
               lambda a, b, k=k: sla.solve(a, b, assume_a=k), [((3, 3), (3,)),
                                                               ((3, 3), (3, 2))],
               _spd if k in ("pos", "sym", "her") else WC, "real", tag=str(k))
          for k in (None, "sym", "her", "pos", "diagonal", "upper triangular",
                    "lower triangular")],
        spec("scipy.linalg.solve", lambda a, b: pla.solve(a, b, lower=True, assume_a="sym"),
             lambda a, b: sla.solve(a, b, lower=True, assume_a="sym"), [((3, 3), (3,))],
             _spd, "real", tag="sym-lower"),
        spec("scipy.linalg.solve", lambda a, b: pla.solve(a, b, transposed=True),
             lambda a, b: sla.solve(a, b, transposed=True), [((3, 3), (3, 2))], WC, "real",
             tag="transposed"),
        # SciPy 1.17's shapes: a 0-d b is one entry, a 1 by 1 a divides any b (b / a), a b of
        # two or more dimensions is a stack of matrices whose stack axes broadcast with a's
        spec("scipy.linalg.solve", pla.solve, sla.solve,
             [((1, 1), ()), ((1, 1), (2,)), ((1, 1), (3, 2)), ((1, 1, 1), ()),
              ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)), ((1, 3, 3), (2, 3, 1))], WC, "real",
             tag="shapes"),
        spec("scipy.linalg.solve", lambda a, b: pla.solve(a, b, assume_a="tridiagonal"),
             lambda a, b: sla.solve(a, b, assume_a="tridiagonal"),
             [((3, 3), (3,)), ((2, 3, 3), (3, 2))], WC, "real", tag="tridiagonal"),
        spec("scipy.linalg.lu_solve", lambda a, b: pla.lu_solve(pla.lu_factor(a), b),
             lambda a, b: sla.lu_solve(sla.lu_factor(a), b), [((2, 3, 3), (3, 2)),
                                                              ((2, 3, 3), (3,))],
             _pivoted, "real", tag="stacked"),
        spec("scipy.linalg.cho_solve", lambda a, b: pla.cho_solve(pla.cho_factor(a), b),
             lambda a, b: sla.cho_solve(sla.cho_factor(a), b), [((2, 3, 3), (3, 2)),
                                                                 ((2, 3, 3), (2, 3, 1))],
             _spd, "real", tag="stacked"),
        spec("scipy.linalg.inv", pla.inv, sla.inv, [((3, 3),)], WC),
        spec("scipy.linalg.det", pla.det, sla.det, [((3, 3),)], WC),
        # SciPy: [[exp(a)]] for a 0-d a or one of shape (1,)
        spec("scipy.linalg.expm", pla.expm, sla.expm, [((3, 3),), ((2, 2, 2),), ((1, 1),),
                                                       ((),), ((1,),)]),
        spec("scipy.linalg.sqrtm", pla.sqrtm, _loop(sla.sqrtm), [((3, 3),), ((2, 2, 2),)], WC),
        spec("scipy.linalg.logm", pla.logm, _loop(sla.logm), [((3, 3),), ((2, 2, 2),)], WC),
        spec("scipy.linalg.solve_sylvester", pla.solve_sylvester, sla.solve_sylvester,
             [((3, 3), (2, 2), (3, 2))], WC, WC, "real"),
        # SciPy reads a 0-d q as q times the identity, a q of shape (1,) with 1 by 1 a and b
        # as a 1-d x; stacks of a and b broadcast (SciPy 1.17)
        spec("scipy.linalg.solve_sylvester", pla.solve_sylvester, sla.solve_sylvester,
             [((3, 3), (3, 3), ()), ((1, 1), (1, 1), ()), ((1, 1), (1, 1), (1,)),
              ((2, 1, 1), (1, 1), (1,)), ((2, 2, 2), (2, 2), ())], WC, WC, "real",
             tag="scalar-q"),
        spec("scipy.linalg.block_diag", lambda a, b, c: pla.block_diag(a, b, c),
             lambda a, b, c: sla.block_diag(a, b, c), [((2, 2), (1, 3), (3,)),
                                                       ((), (2, 1), (1, 1))]),
        # SciPy 1.17: stacks of blocks (leading axes broadcast)
        spec("scipy.linalg.block_diag", lambda a, b, c: pla.block_diag(a, b, c),
             lambda a, b, c: sla.block_diag(a, b, c), [((3, 2, 2), (3, 1, 3), (3, 3)),
                                                       ((2, 1, 2), (), (3, 2, 1, 1))],
             tag="stacked"),
        spec("scipy.linalg.eigh", lambda a: pla.eigh(a, eigvals_only=True),
             lambda a: sla.eigh(a, eigvals_only=True), [((3, 3),)], _symmetric,
             tag="values"),
        spec("scipy.linalg.eigh", lambda a: _psigns(pla.eigh(a, lower=False)[1]),
             lambda a: _signs(sla.eigh(a, lower=False)[1]), [((3, 3),)], _symmetric,
             tag="vectors"),
        *[spec("scipy.linalg.eigh", lambda a, b, t=t: pla.eigh(a, b, type=t)[0],
               lambda a, b, t=t: sla.eigh(a, b, type=t)[0], [((3, 3), (3, 3))],
               _separated, _spd, tag=f"generalised-{t}") for t in (1, 2, 3)],
        *[spec("scipy.linalg.eigh", lambda a, b, t=t: _psigns(pla.eigh(a, b, type=t)[1]),
               lambda a, b, t=t: _signs(sla.eigh(a, b, type=t)[1]), [((3, 3), (3, 3))],
               _separated, _spd, tag=f"generalised-vectors-{t}") for t in (1, 2, 3)],
        spec("scipy.linalg.eigh", lambda a, b: pla.eigh(a, b, lower=False)[0],
             lambda a, b: sla.eigh(a, b, lower=False)[0], [((3, 3), (3, 3))], _symmetric,
             _spd, tag="generalised-upper"),
    ]
