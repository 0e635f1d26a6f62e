"""Rows for the functions of issue 9 (``numeric``, ``manipulation``, the rest of
``numpy.linalg`` and ``numpy.fft``) and for the primitives without derivative of the
namespace tables (integer ufuncs, ``constant_call``).

Most rows are written once, as a function of the module ``xp``, and run with
``pullback.numpy`` (the function) and with NumPy (the reference)."""

import numpy as np

import pullback.numpy as pnp
from specs import spec


def _row(name, make, shapes, *domains, tag="", **kw):
    return spec(name, make(pnp), make(np), shapes, *domains, tag=tag, **kw)


def _joined(split):
    """The pieces of a split, weighted and joined (one array to check)."""

    def make(xp):
        def f(a):
            return xp.concatenate([xp.ravel(p) * (k + 1.0) for k, p in enumerate(split(xp, a))])

        return f

    return make


def _increasing(rng, shape):
    """Strictly increasing coordinates (spacings in (0.5, 1.5))."""
    return np.cumsum(rng.uniform(0.5, 1.5, shape), axis=-1)


def _wrapped(rng, shape):
    """A phase with jumps larger than pi (what unwrap corrects)."""
    return np.cumsum(rng.uniform(-6.0, 6.0, shape), axis=-1)


def _distinct_eigenvalues(rng, shape):
    """A matrix with well separated real eigenvalues (1, 2, 3, ... ) and a well conditioned
    eigenvector matrix."""
    n = shape[-1]
    q = np.eye(n) + 0.3 * rng.uniform(-1.0, 1.0, (n, n))
    return q @ np.diag(np.arange(1.0, n + 1)) @ np.linalg.inv(q)


def _rotation_like(rng, shape):
    """A matrix with a complex pair and a real eigenvalue, all well separated."""
    q = np.eye(3) + 0.3 * rng.uniform(-1.0, 1.0, (3, 3))
    block = np.array([[1.0, -2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    return q @ block @ np.linalg.inv(q)


# ----------------------------------------------------------------------------- manipulation


def _insert(xp):
    return lambda a, v: xp.insert(a, [1, 3], v)


def _insert_axis(xp):
    return lambda a, v: xp.insert(a, 1, v, axis=1)


def _delete(xp):
    return lambda a: xp.delete(a, [0, 2])


def _delete_axis(xp):
    return lambda a: xp.delete(a, 1, axis=0)


def _append(xp):
    return lambda a, b: xp.append(a, b)


def _append_axis(xp):
    return lambda a, b: xp.append(a, b, axis=0)


def _block(xp):
    return lambda a, b: xp.block([[a, b], [b * 2.0, a]])


def _piecewise(xp):
    return lambda x: xp.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, xp.sin])


def _piecewise_otherwise(xp):
    return lambda x: xp.piecewise(x, [x < -0.5, x > 0.5], [lambda v: v * 3.0, 1.5, xp.cos])


def _apply_along(xp):
    return lambda a: xp.apply_along_axis(lambda v: v * xp.sum(v ** 2), 1, a)


def _apply_along_scalar(xp):
    return lambda a: xp.apply_along_axis(lambda v: xp.prod(v), 0, a)


def _apply_over(xp):
    return lambda a: xp.apply_over_axes(xp.sum, a ** 2, [0, 2])


def _trim(xp):
    return lambda x: xp.trim_zeros(xp.concatenate([[0.0], x, [0.0, 0.0]]))


def _trim_front(xp):
    return lambda x: xp.trim_zeros(xp.concatenate([[0.0], x, [0.0]]), "f")


def _unique_dup(xp):
    return lambda x: xp.unique(xp.concatenate([x, x[:2]]))


def _unique_counts_values(xp):
    return lambda x: xp.unique(xp.concatenate([x, x[1:2]]), return_counts=True)[0]


def _unique_all(xp):
    return lambda x: xp.unique_all(xp.concatenate([x, x[:1]])).values


def _unique_counts(xp):
    return lambda x: xp.unique_counts(x).values


def _unique_inverse(xp):
    return lambda x: xp.unique_inverse(x).values


def _unique_values(xp):
    return lambda x: xp.sort(xp.unique_values(xp.concatenate([x, x[:1]])))


def _union(xp):
    return lambda x, y: xp.union1d(x, xp.concatenate([y, x[:1]]))


def _intersect(xp):
    return lambda x, y: xp.intersect1d(x, xp.concatenate([y, x[1:3]]))


def _setdiff(xp):
    return lambda x, y: xp.setdiff1d(xp.concatenate([x, y[:2]]), y)


def _setxor(xp):
    return lambda x, y: xp.setxor1d(x, xp.concatenate([y, x[:2]]))


def _write(fill):
    def make(xp):
        def f(a, v):
            b = a * 1.0
            fill(xp, b, v)
            return b

        return f

    return make


def _vectorize(xp):
    return lambda x: xp.vectorize(lambda v: v * v + xp.sin(v))(x)


def _vectorize_two(xp):
    return lambda x, y: xp.vectorize(lambda u, v: u * v - v)(x, y)


def _r(xp):
    return lambda a, b: xp.r_[a, b, 1.0, 0:2]


def _r_axis(xp):
    return lambda a, b: xp.r_["1,2,0", a, b]


def _c(xp):
    return lambda a, b: xp.c_[a, b]


def _cumulative_sum(xp):
    return lambda x: xp.cumulative_sum(x, axis=1, include_initial=True)


def _cumulative_prod(xp):
    return lambda x: xp.cumulative_prod(x, include_initial=True)


# ----------------------------------------------------------------------------- numeric


def _linspace(**kw):
    return lambda xp: lambda a, b: xp.linspace(a, b, **kw)


def _logspace(xp):
    return lambda a, b, base: xp.logspace(a, b, 4, base=base)


def _geomspace(xp):
    return lambda a, b: xp.geomspace(a, b, 5)


def _geomspace_negative(xp):
    return lambda a, b: xp.geomspace(-a, -b, 4, endpoint=False)


def _meshgrid(**kw):
    return lambda xp: lambda x, y: xp.stack(xp.meshgrid(x, y, **kw))


def _trapezoid_x(xp):
    return lambda y, x: xp.trapezoid(y, x)


def _trapezoid_axis(xp):
    return lambda y: xp.trapezoid(y, dx=0.5, axis=0)


def _gradient(**kw):
    return lambda xp: lambda f: xp.gradient(f, **kw)


def _gradient_2d(xp):
    return lambda f: xp.stack(xp.gradient(f, 0.5, 2.0))


def _gradient_coords(**kw):
    return lambda xp: lambda f, x: xp.gradient(f, x, **kw)


def _ediff1d(xp):
    return lambda a, b: xp.ediff1d(a, to_begin=b, to_end=[1.0, 2.0])


def _correlate(mode):
    return lambda xp: lambda a, v: xp.correlate(a, v, mode)


def _convolve(mode):
    return lambda xp: lambda a, v: xp.convolve(a, v, mode)


def _correlate_complex(xp):
    return lambda a, b: xp.real(xp.correlate(a + 1j * b, b - 0.5j * a, "full") * (1 - 2j))


def _angle(xp):
    return lambda a, b: xp.angle(a + 1j * b, deg=True)


def _unwrap(xp):
    return lambda p: xp.unwrap(p)


def _real_if_close(xp):
    return lambda x: xp.real_if_close(x + 0j) * 2.0


def _polyval(xp):
    return lambda p, x: xp.polyval(p, x)


def _poly2(name, **kw):
    return lambda xp: lambda a, b: getattr(xp, name)(a, b, **kw)


def _polyder(xp):
    return lambda p: xp.polyder(p, 2)


def _polyint(xp):
    return lambda p, k: xp.polyint(p, 2, k)


def _polydiv(xp):
    return lambda u, v: xp.concatenate(xp.polydiv(u, v))


def _polyfit(xp):
    return lambda x, y: xp.polyfit(x, y, 2)


def _polyfit_weighted(xp):
    return lambda x, y, w: xp.polyfit(x, y, 1, w=w)


def _poly(xp):
    return lambda z: xp.poly(z)


def _poly_matrix(xp):
    return lambda a: xp.poly(a)


def _roots(xp):
    return lambda p: xp.sort(xp.real(xp.roots(p)))


def _cov(**kw):
    return lambda xp: lambda m: xp.cov(m, **kw)


def _cov_y(xp):
    return lambda m, y: xp.cov(m, y, ddof=0)


def _cov_weights(xp):
    return lambda m, aw: xp.cov(m, fweights=np.array([1, 2, 1, 3, 1]), aweights=aw)


def _corrcoef(xp):
    return lambda m: xp.corrcoef(m)


def _bincount(xp):
    return lambda w: xp.bincount(np.array([0, 3, 3, 1, 0]), weights=w, minlength=5)


def _histogram_edges(xp):
    return lambda a: xp.histogram(a, 4)[1]


def _histogram_weights(xp):
    return lambda a, w: xp.histogram(a, [-2.0, -0.5, 0.0, 1.0, 2.0], weights=w,
                                     density=True)[0]


def _histogram_bin_edges(xp):
    return lambda a: xp.histogram_bin_edges(a, 3, range=(-1.0, 1.0)) + xp.max(a)


def _nanquantile(**kw):
    mask = np.array([[False, True, False, False], [False, False, False, True],
                     [True, False, False, False]])

    def make(xp):
        return lambda x: xp.nanquantile(xp.where(mask, np.nan, x), **kw)

    return make


def _nanpercentile(xp):
    mask = np.array([False, True, False, False, False])
    return lambda x: xp.nanpercentile(xp.where(mask, np.nan, x), [25, 50, 90])


def _nanmedian(xp):
    mask = np.array([True, False, False, False, False, True])
    return lambda x: xp.nanmedian(xp.where(mask, np.nan, x))


def _nextafter(xp):
    return lambda x, y: xp.nextafter(x, y) * 2.0


# ----------------------------------------------------------------------------- linalg


def _eigvals_real(xp):
    return lambda a: xp.linalg.eigvals(a)


def _eig_vectors(xp):
    return lambda a: xp.linalg.eig(a).eigenvectors


def _eig_complex(xp):
    def f(a):
        w, v = xp.linalg.eig(a)
        return xp.real(w) + 2.0 * xp.imag(w) + xp.sum(xp.real(v) - xp.imag(v) * 0.5, axis=0)

    return f


def _multi_dot(xp):
    return lambda a, b, c: xp.linalg.multi_dot([a, b, c])


def _multi_dot_vectors(xp):
    return lambda a, b, c: xp.linalg.multi_dot([a, b, c])


def _tensorsolve(xp):
    return lambda a, b: xp.linalg.tensorsolve(a.reshape(2, 3, 6), b)


def _tensorinv(xp):
    return lambda a: xp.linalg.tensorinv(a.reshape(6, 2, 3), ind=1)


def _la(name, **kw):
    return lambda xp: lambda *args: getattr(xp.linalg, name)(*args, **kw)


def _spread(rng, shape):
    """Samples whose minimum and maximum are well apart from the rest (the edges of a
    histogram's bins move with them)."""
    return rng.permutation(np.linspace(-1.5, 1.5, shape[-1]) + rng.uniform(-0.1, 0.1))


def _off_edges(rng, shape):
    """Samples away from the bin edges -2, -0.5, 0, 1, 2 (the counts stay put)."""
    return rng.choice([-1.2, -0.25, 0.5, 1.5], shape) + rng.uniform(-0.15, 0.15, shape)


def _well_conditioned(rng, shape):
    return np.eye(shape[-1]) * 2.0 + 0.3 * rng.uniform(-1.0, 1.0, shape)


# ----------------------------------------------------------------------------- fft


def _fft_parts(name, **kw):
    def make(xp):
        def f(x):
            z = getattr(xp.fft, name)(x, **kw)
            return xp.real(z) + 2.0 * xp.imag(z)

        return f

    return make


def _fft_real(name, **kw):
    return lambda xp: lambda x: getattr(xp.fft, name)(x, **kw)


def _fft_inverse_real(name, **kw):
    return lambda xp: lambda x, y: getattr(xp.fft, name)(x + 1j * y, **kw)


def _fftfreq(name):
    return lambda xp: lambda d: getattr(xp.fft, name)(5, d)


# ----------------------------------------------------------------------------- constants


def _integer(xp, name, *operands):
    """``x`` times an integer function of constant operands: the row names its primitive."""
    return lambda x: x * getattr(xp, name)(*operands).sum()


_INTS = (np.array([5, 6, 12]), np.array([3, 4, 8]))
_CONSTANT_ROWS = [
    ("bitwise_and", _INTS), ("bitwise_or", _INTS), ("bitwise_xor", _INTS),
    ("left_shift", (_INTS[0], np.array([1, 2, 0]))), ("right_shift", (_INTS[0], 1)),
    ("gcd", _INTS), ("lcm", _INTS), ("invert", (_INTS[0],)),
    ("spacing", (np.array([1.0, 2.0]),)),
] + ([("bitwise_count", (_INTS[0],))] if hasattr(np, "bitwise_count") else [])


def _searchsorted(xp):
    return lambda x: x * xp.searchsorted(np.array([-1.0, 0.0, 1.0]), x)


def _digitize_tuple(xp):
    return lambda x: x * xp.unravel_index(xp.argmax(x), (2, 3))[1]


# fmt: off
SPECS = [
    # manipulation
    _row("insert", _insert, [((5,), (2,)), ((5,), ())]),
    _row("insert", _insert_axis, [((2, 3), (2,))], tag="axis"),
    _row("delete", _delete, [((5,),), ((3, 2),)]),
    _row("delete", _delete_axis, [((3, 4),)], tag="axis"),
    _row("append", _append, [((2, 3), (4,)), ((3,), ())]),
    _row("append", _append_axis, [((2, 3), (1, 3))], tag="axis"),
    _row("resize", lambda xp: lambda a: xp.resize(a, (3, 4)), [((5,),), ((2, 2),)]),
    _row("rot90", lambda xp: lambda a: xp.rot90(a), [((2, 3),)]),
    _row("rot90", lambda xp: lambda a: xp.rot90(a, 3, axes=(1, 2)), [((2, 3, 4),)], tag="axes"),
    _row("rollaxis", lambda xp: lambda a: xp.rollaxis(a, 2, 0), [((2, 3, 4),)]),
    _row("diagflat", lambda xp: lambda v: xp.diagflat(v, 1), [((3,),), ((2, 2),)]),
    _row("matrix_transpose", lambda xp: lambda a: xp.matrix_transpose(a), [((2, 3, 4),)]),
    _row("hsplit", _joined(lambda xp, a: xp.hsplit(a, [1])), [((2, 3),), ((4,),)]),
    _row("vsplit", _joined(lambda xp, a: xp.vsplit(a, 2)), [((4, 3),)]),
    _row("dsplit", _joined(lambda xp, a: xp.dsplit(a, [1, 2])), [((1, 2, 4),)]),
    _row("unstack", _joined(lambda xp, a: xp.unstack(a, axis=1)), [((2, 3),)]),
    spec("row_stack", lambda a, b: pnp.row_stack([a, b]), lambda a, b: np.vstack([a, b]),
         [((3,), (3,)), ((2, 3), (3,))]),
    spec("full", lambda v: pnp.full((2, 3), v), lambda v: np.full((2, 3), v), [((),), ((3,),)]),
    _row("block", _block, [((2, 2), (2, 2)), ((2,), (2,))]),
    _row("compress", lambda xp: lambda a: xp.compress([True, False, True], a, axis=0),
         [((3, 2),)]),
    _row("extract", lambda xp: lambda a: xp.extract(np.array([1, 0, 1, 1], bool), a),
         [((4,),)]),
    _row("choose", lambda xp: lambda a, b: xp.choose(np.array([0, 1, 1, 0]), [a, b]),
         [((4,), (4,)), ((4,), ())]),
    _row("piecewise", _piecewise, [((5,),)], "nonzero"),
    _row("piecewise", _piecewise_otherwise, [((6,),)], (0.6, 2.0), tag="otherwise"),
    _row("apply_along_axis", _apply_along, [((2, 3),)]),
    _row("apply_along_axis", _apply_along_scalar, [((3, 2),)], tag="scalar"),
    _row("apply_over_axes", _apply_over, [((2, 3, 4),)]),
    _row("trim_zeros", _trim, [((3,),)], "nonzero"),
    _row("trim_zeros", _trim_front, [((3,),)], "nonzero", tag="front"),
    _row("sort_complex", lambda xp: lambda a: xp.real(xp.sort_complex(a)) * 2.0, [((5,),)]),
    _row("partition", lambda xp: lambda a: xp.partition(a, 2), [((5,),)]),
    _row("partition", lambda xp: lambda a: xp.partition(a, 1, axis=0), [((3, 4),)],
         tag="axis"),
    _row("unique", _unique_dup, [((5,),)]),
    _row("unique", _unique_counts_values, [((4,),)], tag="counts"),
    _row("unique_all", _unique_all, [((4,),)]),
    _row("unique_counts", _unique_counts, [((4,),)]),
    _row("unique_inverse", _unique_inverse, [((4,),)]),
    _row("unique_values", _unique_values, [((4,),)]),
    _row("union1d", _union, [((3,), (4,))]),
    _row("intersect1d", _intersect, [((4,), (3,))]),
    _row("setdiff1d", _setdiff, [((4,), (3,))]),
    _row("setxor1d", _setxor, [((4,), (3,))]),
    _row("asanyarray", lambda xp: lambda a: xp.asanyarray(a) * 2.0, [((3,),)]),
    _row("ascontiguousarray", lambda xp: lambda a: xp.ascontiguousarray(a.T) * 2.0,
         [((2, 3),)]),
    _row("asfortranarray", lambda xp: lambda a: xp.asfortranarray(a) * 2.0, [((2, 3),)]),
    _row("require", lambda xp: lambda a: xp.require(a) * 2.0, [((3,),)]),
    _row("asarray_chkfinite", lambda xp: lambda a: xp.asarray_chkfinite(a) * 2.0, [((3,),)]),
    _row("cumulative_sum", _cumulative_sum, [((2, 3),)]),
    _row("cumulative_prod", _cumulative_prod, [((4,),)]),
    _row("copyto", _write(lambda xp, b, v: xp.copyto(b, v)), [((2, 3), (3,))]),
    _row("copyto", _write(lambda xp, b, v: xp.copyto(b, v, where=np.array([True, False, True]))),
         [((2, 3), (3,))], tag="where"),
    _row("put", _write(lambda xp, b, v: xp.put(b, [0, 4, 0], v)), [((2, 3), (2,))]),
    _row("putmask", _write(lambda xp, b, v: xp.putmask(b, np.array([1, 0, 1, 1], bool), v)),
         [((4,), (3,))]),
    _row("place", _write(lambda xp, b, v: xp.place(b, np.array([1, 0, 1, 1], bool), v)),
         [((4,), (2,))]),
    _row("fill_diagonal", _write(lambda xp, b, v: xp.fill_diagonal(b, v)), [((3, 3), ()),
                                                                           ((3, 3), (3,))]),
    _row("put_along_axis",
         _write(lambda xp, b, v: xp.put_along_axis(b, np.array([[0], [2]]), v, axis=1)),
         [((2, 3), (2, 1))]),
    _row("vectorize", _vectorize, [((2, 3),)]),
    _row("vectorize", _vectorize_two, [((3,), (2, 1))], tag="two"),
    _row("r_", _r, [((2,), ())]),
    _row("r_", _r_axis, [((3,), (3,))], tag="directive"),
    _row("c_", _c, [((3,), (3, 2))]),
    # numeric
    _row("linspace", _linspace(num=5), [((), ()), ((3,), (3,))]),
    _row("linspace", _linspace(num=4, endpoint=False, axis=1), [((2,), (2,))], tag="axis"),
    _row("logspace", _logspace, [((), (), ())], "real", "real", "positive"),
    _row("geomspace", _geomspace, [((), ()), ((2,), (2,))], "positive", "positive"),
    _row("geomspace", _geomspace_negative, [((), ())], "positive", "positive", tag="negative"),
    _row("meshgrid", _meshgrid(), [((3,), (4,))]),
    _row("meshgrid", _meshgrid(indexing="ij"), [((3,), (4,))], tag="ij"),
    _row("vander", lambda xp: lambda x: xp.vander(x, 4), [((3,),)]),
    _row("vander", lambda xp: lambda x: xp.vander(x, increasing=True), [((3,),)],
         tag="increasing"),
    _row("trapezoid", lambda xp: lambda y: xp.trapezoid(y, dx=0.3), [((5,),), ((2, 4),)]),
    _row("trapezoid", _trapezoid_x, [((5,), (5,)), ((2, 4), (4,))], tag="x"),
    _row("trapezoid", _trapezoid_axis, [((3, 2),)], tag="axis"),
    _row("gradient", _gradient(), [((6,),)]),
    _row("gradient", _gradient(edge_order=2), [((6,),)], tag="edge2"),
    _row("gradient", _gradient_2d, [((4, 5),)], tag="2d"),
    # the oracle's steps (1e-2 of the largest coordinate) leave a truncation error near 1e-6
    # in the second derivatives here (checked against smaller steps): looser tolerances
    _row("gradient", _gradient_coords(), [((6,), (6,))], "real", _increasing, tag="coords",
         rtol=1e-6),
    _row("gradient", _gradient_coords(edge_order=2), [((6,), (6,))], "real", _increasing,
         tag="coords-edge2", rtol=1e-5),
    _row("ediff1d", _ediff1d, [((5,), ()), ((2, 2), (2,))]),
    _row("correlate", _correlate("valid"), [((5,), (3,)), ((3,), (5,))]),
    _row("correlate", _correlate("same"), [((5,), (3,)), ((3,), (4,)), ((4,), (4,))],
         tag="same"),
    _row("correlate", _correlate("full"), [((5,), (2,)), ((2,), (5,))], tag="full"),
    _row("correlate", _correlate_complex, [((4,), (4,))], tag="complex"),
    _row("convolve", _convolve("full"), [((5,), (3,)), ((2,), (4,))]),
    _row("convolve", _convolve("same"), [((5,), (3,)), ((3,), (4,))], tag="same"),
    _row("convolve", _convolve("valid"), [((5,), (3,))], tag="valid"),
    _row("angle", _angle, [((4,), (4,))], "nonzero", "nonzero"),
    _row("unwrap", _unwrap, [((6,),)], _wrapped),
    _row("real_if_close", _real_if_close, [((3,),)]),
    _row("polyval", _polyval, [((3,), (4,)), ((1,), ())]),
    _row("polyadd", _poly2("polyadd"), [((3,), (2,)), ((2,), (4,))]),
    _row("polysub", _poly2("polysub"), [((3,), (2,)), ((2,), (2,))]),
    _row("polymul", _poly2("polymul"), [((3,), (2,))]),
    _row("polyder", _polyder, [((4,),)]),
    _row("polyint", _polyint, [((3,), (2,))]),
    _row("polydiv", _polydiv, [((5,), (3,))], "nonzero", "nonzero"),
    _row("polyfit", _polyfit, [((6,), (6,))], _increasing, "real", rtol=1e-6),
    _row("polyfit", _polyfit_weighted, [((5,), (5,), (5,))], _increasing, "real", "positive",
         tag="weighted", rtol=1e-6),
    _row("poly", _poly, [((3,),)]),
    _row("poly", _poly_matrix, [((3, 3),)], _distinct_eigenvalues, tag="matrix"),
    _row("roots", _roots, [((4,),)], "nonzero"),
    _row("cov", _cov(), [((3, 5),), ((5,),)]),
    _row("cov", _cov(rowvar=False, bias=True), [((5, 2),)], tag="rowvar"),
    _row("cov", _cov_y, [((2, 5), (5,))], tag="y"),
    _row("cov", _cov_weights, [((2, 5), (5,))], "real", "positive", tag="weights"),
    _row("corrcoef", _corrcoef, [((3, 5),)]),
    _row("vecdot", lambda xp: lambda a, b: xp.vecdot(a, b), [((2, 3), (3,))]),
    _row("matvec", lambda xp: lambda a, b: xp.matvec(a, b), [((2, 3, 4), (4,))]),
    _row("vecmat", lambda xp: lambda a, b: xp.vecmat(a, b), [((3,), (2, 3, 4))]),
    _row("nextafter", _nextafter, [((4,), (4,))]),
    _row("bincount", _bincount, [((5,),)]),
    _row("histogram", _histogram_edges, [((7,),)], _spread),
    _row("histogram", _histogram_weights, [((7,), (7,))], _off_edges, "real", tag="weights"),
    _row("histogram_bin_edges", _histogram_bin_edges, [((5,),)]),
    _row("nanquantile", _nanquantile(q=0.3, axis=1), [((3, 4),)]),
    _row("nanquantile", _nanquantile(q=[0.2, 0.75]), [((3, 4),)], tag="vector"),
    _row("nanpercentile", _nanpercentile, [((5,),)]),
    _row("nanmedian", _nanmedian, [((6,),)]),
    # linalg
    # eigenvalue problems: the oracle's steps are large for them, as for svd (rtol 1e-6)
    _row("linalg.eig", _eigvals_real, [((3, 3),), ((2, 3, 3),)], _distinct_eigenvalues,
         tag="values", rtol=1e-6),
    _row("linalg.eig", _eig_vectors, [((3, 3),)], _distinct_eigenvalues, tag="vectors",
         rtol=1e-6),
    _row("linalg.eig", _eig_complex, [((3, 3),)], _rotation_like, tag="complex", rtol=1e-6),
    _row("linalg.eigvals", _eigvals_real, [((3, 3),)], _distinct_eigenvalues, rtol=1e-5),
    _row("linalg.cond", _la("cond"), [((3, 3),)], _well_conditioned, rtol=1e-6),
    _row("linalg.cond", _la("cond", p="fro"), [((3, 3),)], _well_conditioned, tag="fro"),
    _row("linalg.cross", _la("cross"), [((2, 3), (3,))]),
    _row("linalg.diagonal", _la("diagonal", offset=1), [((2, 3, 3),)]),
    _row("linalg.matmul", _la("matmul"), [((2, 3), (3, 4))]),
    _row("linalg.matrix_norm", _la("matrix_norm"), [((2, 3, 3),)]),
    _row("linalg.matrix_norm", _la("matrix_norm", ord=1, keepdims=True), [((3, 4),)],
         tag="ord1"),
    _row("linalg.matrix_transpose", _la("matrix_transpose"), [((2, 3),)]),
    _row("linalg.multi_dot", _multi_dot, [((2, 3), (3, 4), (4, 2))]),
    _row("linalg.multi_dot", _multi_dot_vectors, [((3,), (3, 4), (4,))], tag="vectors"),
    _row("linalg.outer", _la("outer"), [((2,), (3,))]),
    _row("linalg.svdvals", _la("svdvals"), [((3, 2),)]),
    _row("linalg.tensordot", _la("tensordot", axes=1), [((2, 3), (3, 4))]),
    _row("linalg.tensorinv", _tensorinv, [((6, 6),)], _well_conditioned),
    _row("linalg.tensorsolve", _tensorsolve, [((6, 6), (2, 3))], _well_conditioned, "real"),
    _row("linalg.trace", _la("trace", offset=-1), [((2, 3, 3),)]),
    _row("linalg.vecdot", _la("vecdot", axis=0), [((3, 2), (3, 1))]),
    _row("linalg.vector_norm", _la("vector_norm"), [((2, 3),)]),
    _row("linalg.vector_norm", _la("vector_norm", axis=(0, 2), ord=3, keepdims=True),
         [((2, 3, 2),)], tag="axes"),
    # fft
    _row("fft.rfftn", _fft_parts("rfftn"), [((3, 4),), ((2, 3, 4),)]),
    _row("fft.rfftn", _fft_parts("rfftn", s=(2, 6), axes=(0, 2)), [((3, 2, 5),)], tag="s"),
    _row("fft.rfft2", _fft_parts("rfft2", norm="ortho"), [((3, 4),)]),
    _row("fft.irfftn", _fft_inverse_real("irfftn"), [((3, 3), (3, 3))]),
    _row("fft.irfftn", _fft_inverse_real("irfftn", s=(2, 4)), [((3, 3), (3, 3))], tag="s"),
    _row("fft.irfft2", _fft_inverse_real("irfft2", norm="forward"), [((2, 3), (2, 3))]),
    _row("fft.hfft", _fft_inverse_real("hfft"), [((4,), (4,))]),
    _row("fft.hfft", _fft_inverse_real("hfft", n=5, norm="ortho"), [((3,), (3,))], tag="n"),
    _row("fft.ihfft", _fft_parts("ihfft"), [((5,),), ((4,),)]),
    _row("fft.fftshift", _fft_real("fftshift"), [((5,),), ((2, 3),)]),
    _row("fft.fftshift", _fft_real("fftshift", axes=1), [((2, 3),)], tag="axes"),
    _row("fft.ifftshift", _fft_real("ifftshift"), [((5,),), ((3, 4),)]),
    _row("fft.fftfreq", _fftfreq("fftfreq"), [((),)], "positive"),
    _row("fft.rfftfreq", _fftfreq("rfftfreq"), [((),)], "positive"),
    # primitives without derivative
    *[_row(name, lambda xp, n=name, ops=ops: _integer(xp, n, *ops), [((2,),)], covers=(name,))
      for name, ops in _CONSTANT_ROWS],
    _row("searchsorted", _searchsorted, [((4,),)], "nonzero", covers=("constant_call",)),
    _row("unravel_index", _digitize_tuple, [((2, 3),)], covers=("constant_call_tuple",)),
    _row("linalg.matrix_rank", lambda xp: lambda a: a * xp.linalg.matrix_rank(a), [((3, 3),)],
         covers=("constant_call",)),
]
# fmt: on
