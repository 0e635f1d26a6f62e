"""Programs written the way people write NumPy, differentiated as they are.

Each program is written once, as a function of the module ``xp``, and run with plain
``numpy`` calls (on traced values they dispatch to pullback) and with ``pullback.numpy``.
Loops fill buffers, masks select, ``+=`` updates in place, lists are built and stacked,
views are written through, ``x.copy()`` and the array methods are used.

The oracle is independent of pullback's rules: Richardson-extrapolated differences of the
plain NumPy program, run on plain arrays (``pullback.check.numerical_jvp`` and
``numerical_vjp``, ``method="richardson"``). Second derivatives (forward over reverse and
reverse over reverse) are checked against differences of the first derivative, which the
first-order checks have verified. Programs that allow it are also checked under ``pb.jit``
(against eager) and ``pb.vmap`` (against a loop over the entries).

A few programs can only be written with ``pullback.numpy`` (``np.array([a * b, c])`` and
``np.mean([a, b])`` of traced values: NumPy converts the list itself, without dispatch):
with plain NumPy they raise the error that names the fix, which is checked too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.check import numerical_jvp, numerical_vjp
from pullback.core.trace import TracerConversionError

RTOL = 1e-7  # the Richardson oracle is good to about 1e-10 here; derivatives to 1e-7


@dataclass
class Program:
    name: str
    make: Callable  # make(xp) -> f(*args)
    shapes: tuple
    low: float = -2.0
    high: float = 2.0
    numpy_ok: bool = True  # plain NumPy calls work on traced values
    jit: bool = True
    vmap: bool = True
    order2: bool = True
    sampler: Callable | None = None
    notes: list = field(default_factory=list)

    def args(self, seed: int = 0) -> list:
        rng = np.random.default_rng(seed)
        if self.sampler is not None:
            return [self.sampler(rng, s) for s in self.shapes]
        return [rng.uniform(self.low, self.high, s) for s in self.shapes]


PROGRAMS: list[Program] = []


def program(*shapes: tuple, **options) -> Callable:
    def register(make: Callable) -> Callable:
        PROGRAMS.append(Program(make.__name__, make, shapes, **options))
        return make

    return register


def _away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


# ----------------------------------------------------------------------------- programs


@program((6,))
def fill_buffer_in_a_loop(xp):
    def f(x):
        out = xp.zeros_like(x)
        for i in range(len(x)):
            out[i] = xp.sin(x[i]) * x[i - 1]
        return out

    return f


@program((5,))
def recurrence_into_empty_like(xp):
    def f(x):  # an IIR filter: y[i] = 0.5 y[i-1] + x[i]
        y = xp.empty_like(x)
        y[0] = x[0]
        for i in range(1, len(x)):
            y[i] = 0.5 * y[i - 1] + x[i]
        return y

    return f


@program((4,))
def running_sum_in_python(xp):
    def f(x):
        acc = 0.0
        for v in x:
            acc += v ** 2
        return acc * xp.exp(x[0])

    return f


@program((6,), sampler=_away_from_zero)
def relu_by_mask_assignment(xp):
    def f(x):
        y = x.copy()
        y[y < 0] = 0.0
        return (y ** 2).sum() + y @ x

    return f


@program((5,))
def overlapping_augmented_assignment(xp):
    def f(x):
        y = x * 2.0
        y[1:] += y[:-1]  # NumPy reads the right-hand side before writing
        y[0] -= x[-1]
        y *= x
        return y

    return f


@program((3,))
def list_built_and_stacked(xp):
    def f(x):
        rows = []
        for i in range(3):
            rows.append(x * i + xp.cos(x))
        return xp.stack(rows)

    return f


@program((6,))
def write_through_a_slice_view(xp):
    def f(x):
        y = x.copy()
        v = y[::2]
        v *= 3.0
        v[0] = y[1] * y[2]
        return y

    return f


@program((6,))
def write_through_a_reshape_view(xp):
    def f(x):
        m = x.copy().reshape(2, 3)
        m[:, 0] = m[:, 1] ** 2
        m.T[2] += 1.0  # the transpose is a view too
        return m

    return f


@program((5,))
def standardise_with_methods(xp):
    def f(x):
        return (x - x.mean()) / x.std() + x.var(ddof=1) * x.prod()

    return f


@program((2, 4))
def softmax_rows_with_methods(xp):
    def f(x):
        e = xp.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return f


@program((5,), sampler=lambda rng, s: rng.choice([-1.5, 0.0, 1.5], s) + rng.uniform(-.4, .4, s))
def clip_and_cumsum_methods(xp):
    def f(x):
        return x.clip(-1.0, 1.0).cumsum() * x.cumprod()[-1]

    return f


@program((5,))
def sort_in_place(xp):
    def f(x):
        y = x.copy()
        y.sort()
        return y[:2].sum() * y[-1] + y

    return f


@program((4,))
def fill_then_write(xp):
    def f(x):
        buf = x.copy()
        buf.fill(2.0)
        buf[0] = x[0] * x[1]
        buf[-1] += x[2]
        return buf

    return f


@program((4,))
def polynomial_on_a_grid(xp):
    def f(x):
        t = xp.linspace(0.0, x[0], 5)
        return xp.polyval(x[1:], t)

    return f


@program((2,), low=0.5, high=1.5)
def integrate_with_trapezoid(xp):
    def f(p):
        t = xp.linspace(0.0, 1.0, 11)
        return xp.trapezoid(xp.sin(p[0] * t) * p[1], t)

    return f


@program((6,), sampler=_away_from_zero)
def where_and_select(xp):
    def f(x):
        a = xp.where(x > 0, x ** 2, -x)
        return xp.select([x < -1, x > 1], [a * 2.0, xp.log(xp.abs(x))], default=a)

    return f


@program((6,), sampler=_away_from_zero, jit=False, vmap=False)
def boolean_mask_read(xp):
    def f(x):
        return x[x > 0].sum() * x[x < 0].prod()

    return f


@program((5,))
def repeated_index_increment(xp):
    def f(x):
        y = x.copy()
        y[[0, 2, 2]] += 1.5 * x[:3]  # buffered: index 2 gets one increment, as in NumPy
        return y

    return f


@program((5,), sampler=_away_from_zero)
def scatter_with_ufunc_at(xp):
    def f(x):
        y = xp.zeros_like(x)
        np.add.at(y, [0, 2, 2, 4], x[:4] ** 2)  # unbuffered: index 2 gets both
        np.maximum.at(y, [1, 3], x[1:3])
        np.subtract.at(y, [4], x[0])
        return y

    return f


@program((6,))
def gradient_and_diff(xp):
    def f(x):
        return xp.gradient(x ** 2) + xp.append(xp.diff(x), 0.0)

    return f


@program((12,))
def covariance_of_data(xp):
    def f(x):
        return xp.cov(x.reshape(3, 4)) + xp.corrcoef(x.reshape(4, 3))[:3, :3]

    return f


@program((7,))
def smoothing_by_convolution(xp):
    def f(x):
        return xp.convolve(x, [0.25, 0.5, 0.25], mode="same") + xp.correlate(x, x[:2])[:1]

    return f


@program((6,))
def matrices_and_products(xp):
    def f(x):
        a = x.reshape(2, 3)
        g = a @ a.T + xp.eye(2)
        return xp.linalg.solve(g, a[:, 0]) + xp.trace(g) * xp.linalg.det(g)

    return f


@program((3,), sampler=_positive)
def newton_iterations(xp):
    def f(a):
        y = a.copy()
        for _ in range(6):
            y = 0.5 * (y + a / y)  # converges to sqrt(a)
        return y

    return f


@program((5,))
def concatenate_with_lists(xp):
    def f(x):
        return xp.concatenate([x, [1.0, 2.0]]) * xp.hstack([x[:2], x]).sum()

    return f


@program((2, 3))
def iterate_with_flat(xp):
    def f(x):
        s = 0.0
        for v in x.flat:
            s = s + v * v
        return s * x

    return f


@program((3, 4))
def apply_along_rows(xp):
    def f(x):
        return xp.apply_along_axis(lambda r: r / xp.sum(r ** 2), 1, x)

    return f


@program((3, 3), sampler=lambda rng, s: np.diag([1.0, 2.0, 3.0]) + 0.2 * rng.uniform(-1, 1, s),
         jit=False, vmap=False)
def eigenvalues_of_a_matrix(xp):
    def f(a):
        w = xp.linalg.eigvals(a)
        return xp.real(w) ** 2 + xp.imag(w)

    return f


@program((8,))
def power_spectrum(xp):
    def f(x):
        spec = xp.abs(xp.fft.rfft(x)) ** 2
        return xp.fft.fftshift(xp.concatenate([spec, spec[1:-1]]))

    return f


@program((4,))
def insert_and_delete(xp):
    def f(x):
        y = xp.insert(x, 2, x[0] * x[1])
        return xp.delete(y, 0) * xp.roll(y, 1)[1:]

    return f


@program((2, 3))
def fill_diagonal_and_put(xp):
    def f(x):
        a = xp.zeros((3, 3)) + x[0, 0]  # a new array of zeros, made from x
        xp.fill_diagonal(a, x[1])
        xp.put(a, [1, 5], x[0, 1:])
        return a

    return f


@program((3,), numpy_ok=False)
def array_of_traced_scalars(xp):
    def f(x):
        a, b, c = x[0], x[1], x[2]
        v = xp.array([a * b, c, a - c])
        return v * xp.mean([a, b]) + xp.sum([a, b * c])

    return f


@program((3,), numpy_ok=False)
def concatenation_trick_and_vectorize(xp):
    def f(x):
        g = xp.vectorize(lambda v: v * v + 1.0)
        return xp.r_[g(x), x[0], 0.0:2.0] * x[1]

    return f


@program((5,), jit=False, vmap=False)
def unique_values_of_repeated_data(xp):
    def f(x):
        data = xp.concatenate([x, x[:2]])
        u = xp.unique(data)
        return u * xp.arange(len(u))

    return f


PROGRAMS_BY_NAME = {p.name: p for p in PROGRAMS}
assert len(PROGRAMS) >= 25


# ----------------------------------------------------------------------------- the checks


def _ids(cases):
    return [f"{p.name}-{xp.__name__.split('.')[0]}" if xp is not None else p.name
            for p, xp in cases]


def _cases(need_numpy: bool = False):
    for p in PROGRAMS:
        for xp in (np, pnp):
            if xp is np and not p.numpy_ok:
                continue
            if need_numpy and xp is not np:
                continue
            yield p, xp


CASES = list(_cases())


def _reference(p: Program) -> Callable:
    """The program with plain NumPy, on plain arrays (the oracle's function)."""
    f = p.make(np) if p.numpy_ok else p.make(pnp)  # pnp on plain arrays is NumPy

    def ref(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(f(*args), dtype=float)

    return ref


def _directions(p: Program, out_shape: tuple, seed: int = 7) -> tuple:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(out_shape)
    vs = [rng.standard_normal(s) for s in p.shapes]
    return w, vs


@pytest.mark.parametrize("p,xp", CASES, ids=_ids(CASES))
def test_value_matches_numpy(p, xp) -> None:
    args = p.args()
    want = _reference(p)(*args)
    got = p.make(xp)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    traced, _ = pb.vjp(p.make(xp), *args)
    np.testing.assert_allclose(traced, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("p,xp", CASES, ids=_ids(CASES))
def test_reverse_mode(p, xp) -> None:
    args = p.args()
    ref = _reference(p)
    w, _ = _directions(p, np.shape(ref(*args)))
    _, vjp_fn = pb.vjp(p.make(xp), *args)
    got = vjp_fn(w)
    want = numerical_vjp(ref, tuple(args), w, method="richardson")
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("p,xp", CASES, ids=_ids(CASES))
def test_forward_mode(p, xp) -> None:
    args = p.args()
    ref = _reference(p)
    _, vs = _directions(p, np.shape(ref(*args)))
    _, got = pb.jvp(p.make(xp), tuple(args), tuple(vs))
    want = numerical_jvp(ref, tuple(args), tuple(vs), method="richardson")
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("p,xp", [c for c in CASES if c[0].order2],
                         ids=_ids([c for c in CASES if c[0].order2]))
def test_second_order(p, xp) -> None:
    """H v of F = <f, w> two ways, against differences of the (checked) gradient."""
    args = p.args()
    w, vs = _directions(p, np.shape(_reference(p)(*args)))
    nums = tuple(range(len(args)))
    f = p.make(xp)

    def F(*a):
        return pnp.sum(f(*a) * w)

    G = pb.grad(F, argnums=nums)
    want = [numerical_jvp(lambda *a, k=k: G(*a)[k], tuple(args), tuple(vs),
                          method="richardson") for k in nums]
    fwd_rev = pb.jvp(G, tuple(args), tuple(vs))[1]
    rev_rev = pb.grad(lambda *a: sum(pnp.sum(g * v) for g, v in zip(G(*a), vs, strict=True)),
                      argnums=nums)(*args)
    for k in nums:
        np.testing.assert_allclose(fwd_rev[k], want[k], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(rev_rev[k], want[k], rtol=1e-6, atol=1e-8)


JIT_CASES = [c for c in CASES if c[0].jit]


@pytest.mark.parametrize("p,xp", JIT_CASES, ids=_ids(JIT_CASES))
def test_under_jit(p, xp) -> None:
    args = p.args(seed=1)
    f = p.make(xp)
    np.testing.assert_allclose(pb.jit(f)(*args), _reference(p)(*args), rtol=1e-13, atol=1e-13)
    w, _ = _directions(p, np.shape(_reference(p)(*args)))
    nums = tuple(range(len(args)))
    grad = pb.grad(lambda *a: pnp.sum(f(*a) * w), argnums=nums)
    for g, e in zip(pb.jit(grad)(*args), grad(*args), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-13)


VMAP_CASES = [c for c in CASES if c[0].vmap]


@pytest.mark.parametrize("p,xp", VMAP_CASES, ids=_ids(VMAP_CASES))
def test_under_vmap(p, xp) -> None:
    batch = [p.args(seed=s) for s in (2, 3, 4)]
    stacked = [np.stack([b[i] for b in batch]) for i in range(len(p.shapes))]
    ref = _reference(p)
    want = np.stack([ref(*b) for b in batch])
    got = pb.vmap(p.make(xp))(*stacked)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_programs_that_need_pullback_numpy_say_so_with_plain_numpy() -> None:
    """np.array([a * b, c]) and np.mean([a, b]) of traced values: the error names the fix."""
    p = PROGRAMS_BY_NAME["array_of_traced_scalars"]
    with pytest.raises(TracerConversionError, match=r"pnp\.array.*np\.stack"):
        pb.grad(lambda x: np.sum(p.make(np)(x)))(p.args()[0])
