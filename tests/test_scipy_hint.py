"""The error for SciPy's non-ufunc functions called on traced values: it names the SciPy
function the program called and pullback.scipy's replacement, when there is one."""

import numpy as np
import pytest
import scipy.interpolate
import scipy.linalg
import scipy.special
import scipy.stats
from scipy.linalg import solve_triangular

import pullback as pb
import pullback.numpy as pnp

X = np.array([0.1, 0.2])
A = np.array([[2.0, 1.0], [0.0, 3.0]])


@pytest.mark.parametrize("call, scipy_name", [
    (lambda x: scipy.stats.norm.logpdf(x), "scipy.stats.norm.logpdf"),
    (lambda x: scipy.stats.norm(0.0, 2.0).logpdf(x), "scipy.stats.norm.logpdf"),
    (lambda x: scipy.linalg.solve_triangular(A, x), "scipy.linalg.solve_triangular"),
    (lambda x: solve_triangular(A, x), "scipy.linalg.solve_triangular"),
    (lambda x: scipy.special.logsumexp(x), "scipy.special.logsumexp"),
])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_names_the_scipy_function_and_pullbacks(call, scipy_name, mode):
    f = lambda x: pnp.sum(call(x))  # noqa: E731
    with pytest.raises(pb.TracerConversionError) as err:
        if mode == "rev":
            pb.grad(f)(X)
        else:
            pb.jvp(f, (X,), (np.ones(2),))
    message = str(err.value)
    assert message.startswith(f"{scipy_name} was called on a traced value (shape (2,)")
    assert f"use pullback.{scipy_name}" in message


def test_a_function_pullback_lacks_says_so():
    with pytest.raises(pb.TracerConversionError,
                       match=r"^scipy.stats.entropy was called on a traced value.*pullback.scipy "
                             r"has no stats.entropy.*stop_gradient"):
        pb.grad(lambda x: scipy.stats.entropy(pnp.exp(x)))(X)


def test_numpy_conversions_keep_their_message():
    with pytest.raises(pb.TracerConversionError, match=r"^numpy.asarray\(\) of a traced value"):
        pb.grad(lambda x: np.asarray(x).sum())(X)
    with pytest.raises(pb.TracerConversionError, match=r"^float\(\) of a traced value"):
        pb.grad(lambda x: float(x[0]))(X)


def test_the_replacement_named_is_right():
    # the function the message points to gives SciPy's value, with a derivative
    x = np.array([0.3, -1.2])
    assert np.allclose(pb.scipy.special.logsumexp(x), scipy.special.logsumexp(x), rtol=1e-15)
    g = pb.grad(pb.scipy.special.logsumexp)(x)
    assert np.allclose(g, np.exp(x) / np.exp(x).sum(), rtol=1e-14)


def test_a_method_of_a_scipy_object_is_named_by_its_class():
    spline = scipy.interpolate.CubicSpline(np.arange(5.0), np.arange(5.0) ** 2)
    with pytest.raises(pb.TracerConversionError,
                       match=r"^scipy.interpolate.CubicSpline was called on a traced value.*"
                             r"pullback.scipy has no interpolate.CubicSpline"):
        pb.grad(lambda x: pnp.sum(spline(x)))(X)
