"""pullback.numpy.random: draws with traced parameters, differentiated pathwise.

Oracles are closed forms: a location-scale draw ``loc + scale * z`` has ``d/d loc = 1`` and
``d/d scale = z``, with ``z`` NumPy's own standard draw from a generator in the same state;
a gather's Jacobian is the one-hot matrix of NumPy's index. Every derivative is taken in
reverse and forward mode, and to second order. Values are compared with NumPy's own call
for the same seed (exactly, except lognormal: one unit in the last place, see the module).
"""

from __future__ import annotations

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp

SEED = 1234
LOC = np.array([0.3, -1.0, 2.0])
SCALE = np.array([0.5, 2.0, 1.5])


def generator():
    return np.random.default_rng(SEED)


def random_state():
    return np.random.RandomState(SEED)


MAKERS = [pytest.param(generator, id="Generator"), pytest.param(random_state, id="RandomState")]

#: name -> (NumPy's standard draw of the same stream, the transform of it, parameter names)
LOCATION_SCALE = ["normal", "laplace", "logistic", "gumbel"]


def standard(name, gen, shape):
    """The standard draw, from NumPy's public methods: what the closed forms are made of."""
    if name == "normal" or name == "lognormal":
        return gen.standard_normal(shape)
    if name == "uniform":
        return gen.random(shape) if isinstance(gen, np.random.Generator) else \
            gen.random_sample(shape)
    if name == "exponential":
        return gen.standard_exponential(shape)
    return getattr(gen, name)(0.0, 1.0, shape)  # laplace, logistic, gumbel


def both_modes(f, x):
    """The Jacobian of ``f`` at ``x`` by reverse and by forward mode."""
    return pb.jacrev(f)(x), pb.jacfwd(f)(x)


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("name", LOCATION_SCALE + ["lognormal", "uniform"])
@pytest.mark.parametrize("size", [None, (4, 3)])
def test_traced_draw_equals_numpys_own(make, name, size):
    low_high = name == "uniform"
    a, b = (LOC, LOC + SCALE) if low_high else (LOC, SCALE)
    expected = getattr(make(), name)(a, b, size)
    traced, _ = pb.jvp(lambda a: getattr(pnp.random, name)(make(), a, b, size),
                       (a,), (np.ones(3),))
    if name == "lognormal":
        np.testing.assert_allclose(traced, expected, rtol=2.3e-16, atol=0)
    else:
        np.testing.assert_array_equal(traced, expected)


@pytest.mark.parametrize("make", MAKERS)
def test_exponential_equals_numpys_own(make):
    expected = make().exponential(SCALE, (2, 3))
    traced = pb.vjp(lambda s: pnp.random.exponential(make(), s, (2, 3)), SCALE)[0]
    np.testing.assert_array_equal(traced, expected)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("name", LOCATION_SCALE + ["lognormal"])
def test_numpys_draw_is_the_transform_of_its_standard_draw(make, name):
    """What the module relies on: NumPy's own draw is loc + scale * z for the same state."""
    z = standard(name, make(), (4, 3))
    transform = LOC + SCALE * z
    if name == "lognormal":
        np.testing.assert_allclose(make().lognormal(LOC, SCALE, (4, 3)), np.exp(transform),
                                   rtol=2.3e-16, atol=0)
    else:
        np.testing.assert_array_equal(getattr(make(), name)(LOC, SCALE, (4, 3)), transform)


def test_generator_advances_as_numpys_call_would():
    ours, theirs = generator(), generator()
    pb.grad(lambda m: pnp.sum(pnp.random.normal(ours, m, 1.0, size=5)))(0.0)
    theirs.normal(0.0, 1.0, size=5)
    assert ours.random() == theirs.random()


def test_legacy_global_state():
    """rng=None (or the numpy.random module) is the global state of np.random.normal."""
    np.random.seed(SEED)
    expected = np.random.normal(LOC, SCALE)
    for rng in (None, np.random):
        np.random.seed(SEED)
        traced = pb.vjp(lambda m, rng=rng: pnp.random.normal(rng, m, SCALE), LOC)[0]
        np.testing.assert_array_equal(traced, expected)


def test_untraced_calls_are_numpys_own():
    assert pnp.random.normal(generator(), 0.0, 1.0) == generator().normal(0.0, 1.0)
    assert isinstance(pnp.random.normal(generator()), float)
    np.testing.assert_array_equal(pnp.random.choice(generator(), 5, 3),
                                  generator().choice(5, 3))


# ----------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("name", LOCATION_SCALE)
def test_location_scale_derivatives(make, name):
    """d/d loc = 1 and d/d scale = z elementwise (diagonal Jacobians), both modes."""
    z = standard(name, make(), 3)
    for jac in both_modes(lambda m: getattr(pnp.random, name)(make(), m, SCALE), LOC):
        np.testing.assert_array_equal(jac, np.eye(3))
    for jac in both_modes(lambda s: getattr(pnp.random, name)(make(), LOC, s), SCALE):
        np.testing.assert_array_equal(jac, np.diag(z))


@pytest.mark.parametrize("make", MAKERS)
def test_uniform_derivatives(make):
    u = standard("uniform", make(), 3)
    high = LOC + SCALE
    for jac in both_modes(lambda lo: pnp.random.uniform(make(), lo, high), LOC):
        np.testing.assert_array_equal(jac, np.diag(1 - u))
    for jac in both_modes(lambda hi: pnp.random.uniform(make(), LOC, hi), high):
        np.testing.assert_array_equal(jac, np.diag(u))


@pytest.mark.parametrize("make", MAKERS)
def test_exponential_derivative(make):
    e = standard("exponential", make(), 3)
    for jac in both_modes(lambda s: pnp.random.exponential(make(), s), SCALE):
        np.testing.assert_array_equal(jac, np.diag(e))


@pytest.mark.parametrize("make", MAKERS)
def test_lognormal_derivatives(make):
    z = standard("lognormal", make(), 3)
    x = np.exp(LOC + SCALE * z)
    for jac in both_modes(lambda m: pnp.random.lognormal(make(), m, SCALE), LOC):
        np.testing.assert_allclose(jac, np.diag(x), rtol=4.5e-16, atol=0)
    for jac in both_modes(lambda s: pnp.random.lognormal(make(), LOC, s), SCALE):
        np.testing.assert_allclose(jac, np.diag(z * x), rtol=4.5e-16, atol=0)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("name", LOCATION_SCALE)
def test_second_order_location_scale(make, name):
    """f(loc, scale) = sum((loc + scale z)^2): its Hessian is 2 [[n, sum z], [sum z, sum z^2]]."""
    n = 6
    z = standard(name, make(), n)
    expected = 2 * np.array([[n, z.sum()], [z.sum(), z @ z]])

    def f(p):
        return pnp.sum(getattr(pnp.random, name)(make(), p[0], p[1], size=n) ** 2)

    p = np.array([0.3, 1.7])
    np.testing.assert_allclose(pb.hessian(f)(p), expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(pb.jacrev(pb.jacrev(f))(p), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("make", MAKERS)
def test_second_order_lognormal(make):
    """x = exp(m + s z): d2x/dm2 = x, d2x/dm ds = z x, d2x/ds2 = z^2 x."""
    z = standard("lognormal", make(), ())
    m, s = 0.2, 0.7
    x = np.exp(m + s * z)
    expected = np.array([[x, z * x], [z * x, z * z * x]])

    def f(p):
        return pnp.random.lognormal(make(), p[0], p[1])

    p = np.array([m, s])
    np.testing.assert_allclose(pb.hessian(f)(p), expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(pb.jacrev(pb.jacrev(f))(p), expected, rtol=1e-15, atol=0)


def test_uniform_second_order():
    """f = sum(draw^2), draw = lo + (hi - lo) u: d2f/dlo2 = 2 sum (1-u)^2, d2f/dhi2 = 2 sum u^2,
    d2f/dlo dhi = 2 sum u (1 - u)."""
    u = standard("uniform", generator(), 4)
    expected = 2 * np.array([[(1 - u) @ (1 - u), u @ (1 - u)], [u @ (1 - u), u @ u]])

    def f(p):
        return pnp.sum(pnp.random.uniform(generator(), p[0], p[1], size=4) ** 2)

    np.testing.assert_allclose(pb.hessian(f)(np.array([-1.0, 3.0])), expected, rtol=1e-14)


def test_derivative_matches_differences_with_fixed_seed():
    """An independent oracle besides the closed form: central differences of a function that
    seeds its own generator (so each evaluation draws the same numbers)."""
    def f(s):
        return np.sum(np.sin(np.random.default_rng(SEED).gumbel(0.5, s, size=4)))

    def f_traced(s):
        return pnp.sum(pnp.sin(pnp.random.gumbel(np.random.default_rng(SEED), 0.5, s, size=4)))

    h = 1e-5
    numeric = (f(1.3 + h) - f(1.3 - h)) / (2 * h)
    np.testing.assert_allclose(pb.grad(f_traced)(1.3), numeric, rtol=1e-8)


# ----------------------------------------------------------------------------- gathers

X = np.arange(12.0).reshape(4, 3) * 1.5 + 0.25


def one_hot(idx, n):
    return np.eye(n)[np.asarray(idx).ravel()]


@pytest.mark.parametrize("make", MAKERS)
def test_permutation(make):
    idx = make().permutation(4)
    np.testing.assert_array_equal(pnp.random.permutation(make(), pb.stop_gradient(X)),
                                  make().permutation(X))
    value = pb.vjp(lambda x: pnp.random.permutation(make(), x), X)[0]
    np.testing.assert_array_equal(value, make().permutation(X))
    x = X[:, 0]
    for jac in both_modes(lambda x: pnp.random.permutation(make(), x), x):
        np.testing.assert_array_equal(jac, one_hot(idx, 4))


def test_permutation_along_an_axis():
    idx = generator().permutation(3)
    value = pb.vjp(lambda x: pnp.random.permutation(generator(), x, axis=1), X)[0]
    np.testing.assert_array_equal(value, generator().permutation(X, axis=1))
    np.testing.assert_array_equal(value, X[:, idx])


@pytest.mark.parametrize("make", MAKERS)
def test_shuffle_rebinds_and_differentiates(make):
    idx = make().permutation(4)
    expected = X.copy()
    make().shuffle(expected)

    def f(x):
        y = x * 1.0
        alias = y
        assert pnp.random.shuffle(make(), y) is None
        return alias  # the name bound to the same array sees the shuffle, as in NumPy

    np.testing.assert_array_equal(pb.vjp(f, X)[0], expected)
    x = X[:, 1]
    for jac in both_modes(f, x):
        np.testing.assert_array_equal(jac, one_hot(idx, 4))


def test_shuffle_of_a_view_writes_through():
    def f(x):
        y = x * 1.0
        pnp.random.shuffle(generator(), y.T)  # the columns of y
        return y

    expected = X.copy()
    generator().shuffle(expected.T)
    np.testing.assert_array_equal(pb.vjp(f, X)[0], expected)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("kwargs", [
    {"size": 5}, {"size": 3, "replace": False}, {"size": (2, 2), "p": [0.1, 0.2, 0.3, 0.4]},
    {},
], ids=["replace", "no-replace", "p", "one"])
def test_choice(make, kwargs):
    a = X[:, 2]
    idx = make().choice(4, **kwargs)
    value = pb.vjp(lambda a: pnp.random.choice(make(), a, **kwargs), a)[0]
    np.testing.assert_array_equal(value, make().choice(a, **kwargs))
    for jac in both_modes(lambda a: pnp.random.choice(make(), a, **kwargs), a):
        np.testing.assert_array_equal(jac.reshape(-1, 4), one_hot(idx, 4))


def test_choice_rows_and_second_order():
    """choice of rows of a matrix, axis=1 for a Generator; the Hessian of sum(draw^3) is
    6 x on the diagonal, counted once per time each entry is drawn."""
    value = pb.vjp(lambda a: pnp.random.choice(generator(), a, 2, axis=1), X)[0]
    np.testing.assert_array_equal(value, generator().choice(X, 2, axis=1))
    a = X[:, 0]
    idx = generator().choice(4, 6)
    counts = np.bincount(idx, minlength=4)

    def f(a):
        return pnp.sum(pnp.random.choice(generator(), a, 6) ** 3)

    np.testing.assert_allclose(pb.hessian(f)(a), np.diag(6 * a * counts), rtol=1e-15)
    np.testing.assert_allclose(pb.jacrev(pb.grad(f))(a), np.diag(6 * a * counts), rtol=1e-15)


# ----------------------------------------------------------------------------- errors


def test_probabilities_have_no_pathwise_derivative():
    p = np.array([0.2, 0.3, 0.5])
    with pytest.raises(NotImplementedError) as info:
        pb.grad(lambda p: pnp.random.choice(generator(), np.arange(3.0), p=p))(p)
    message = str(info.value)
    for words in ("probabilities p", "score-function", "REINFORCE", "Gumbel-softmax",
                  "pb.stop_gradient(p)"):
        assert words in message
    # stop_gradient(p) draws without a derivative, as NumPy would
    drawn = pb.grad(lambda a: pnp.random.choice(generator(), a, p=pb.stop_gradient(p)))(
        np.arange(3.0))
    np.testing.assert_array_equal(drawn, one_hot(generator().choice(3, p=p), 3)[0])


@pytest.mark.parametrize("call, function", [
    (lambda rng, m: rng.normal(m, 1.0), "normal"),
    (lambda rng, m: rng.uniform(m, 5.0), "uniform"),
    (lambda rng, m: rng.exponential(m), "exponential"),
    (lambda rng, m: rng.laplace(m), "laplace"),
    (lambda rng, m: rng.logistic(m), "logistic"),
    (lambda rng, m: rng.lognormal(m), "lognormal"),
    (lambda rng, m: rng.gumbel(m), "gumbel"),
    (lambda rng, m: rng.permutation(m), "permutation"),
    (lambda rng, m: rng.choice(m, 2), "choice"),
    (lambda rng, m: rng.shuffle(m), "shuffle"),
])
def test_plain_generator_calls_name_the_function_to_call(call, function):
    rng = generator()
    with pytest.raises(pb.TracerConversionError) as info:
        pb.grad(lambda m: pnp.sum(call(rng, m * 1.0)))(np.array([1.0, 2.0]))
    assert f"pullback.numpy.random.{function}(rng, ...)" in str(info.value)


def test_plain_legacy_calls_name_the_function_to_call():
    with pytest.raises(pb.TracerConversionError,
                       match=r"pullback\.numpy\.random\.normal\(np\.random, \.\.\.\)"):
        pb.grad(lambda m: pnp.sum(np.random.normal(m, 1.0)))(np.array([1.0, 2.0]))
    state = np.random.RandomState(0)
    with pytest.raises(pb.TracerConversionError,
                       match=r"pullback\.numpy\.random\.laplace\(state, \.\.\.\)"):
        pb.grad(lambda m: pnp.sum(state.laplace(m)))(np.array([1.0, 2.0]))


def test_plain_call_without_a_pathwise_rule_says_so():
    rng = generator()
    with pytest.raises(pb.TracerConversionError, match="numpy.random's gamma") as info:
        pb.grad(lambda k: pnp.sum(rng.gamma(k)))(np.array([1.0, 2.0]))
    assert "no derivative" in str(info.value)


def test_other_conversions_keep_their_messages():
    with pytest.raises(pb.TracerConversionError) as info:
        pb.grad(lambda m: pnp.sum(np.asarray(m)))(np.array([1.0, 2.0]))
    assert "numpy.random" not in str(info.value)
    assert pb.grad(lambda m: m[0] * len(m))(np.array([1.0, 2.0]))[0] == 2.0


def test_under_jit_and_vmap_the_draw_is_refused():
    with pytest.raises(NotImplementedError, match="same draw on every call"):
        pb.jit(lambda m: pnp.random.normal(generator(), m, 1.0))(np.ones(2))
    with pytest.raises(NotImplementedError, match="shared by every entry"):
        pb.vmap(lambda m: pnp.random.normal(generator(), m, 1.0))(np.ones(2))


def test_argument_errors():
    with pytest.raises(ValueError, match="cannot be broadcast to size"):
        pb.grad(lambda m: pnp.sum(pnp.random.normal(generator(), m, 1.0, size=3)))(np.ones(2))
    with pytest.raises(ValueError, match="scale < 0"):
        pb.grad(lambda s: pnp.random.normal(generator(), 0.0, s))(-1.0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        pb.grad(lambda m: pnp.random.normal(0, m))(1.0)
    with pytest.raises(ValueError, match="1-dimensional"):
        pb.grad(lambda a: pnp.sum(pnp.random.choice(random_state(), a, 2)))(X)
