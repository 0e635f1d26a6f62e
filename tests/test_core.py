"""The core stands alone: it differentiates functions of Python floats built from primitives
defined here, with their rules written in ``bind`` (the import directions are tested in
``test_layout.py``)."""

import math

import pytest

from pullback.core import rules as _rules
from pullback.core import trace as _core
from pullback.core.api import grad, jvp, vjp

mul_p = _core.Primitive("test_mul", lambda x, y: x * y)
sin_p = _core.Primitive("test_sin", math.sin)
cos_p = _core.Primitive("test_cos", math.cos)
neg_p = _core.Primitive("test_neg", lambda x: -x)
_rules.defvjp(mul_p, lambda g, ans, x, y: mul_p.bind(g, y), lambda g, ans, x, y: mul_p.bind(g, x))
_rules.defjvp(mul_p, lambda t, ans, x, y: mul_p.bind(t, y), lambda t, ans, x, y: mul_p.bind(x, t))
_rules.defelementwise(sin_p, lambda ans, x: cos_p.bind(x))
_rules.defelementwise(cos_p, lambda ans, x: neg_p.bind(sin_p.bind(x)))
_rules.deflinear(neg_p, lambda g, x: neg_p.bind(g))


def f(x, y):
    return mul_p.bind(sin_p.bind(x), y)


def test_core_on_python_floats_reverse_and_forward():
    out, vjp_fn = vjp(f, 0.5, 3.0)
    assert out == math.sin(0.5) * 3.0
    gx, gy = vjp_fn(1.0)
    assert gx == pytest.approx(math.cos(0.5) * 3.0, rel=1e-15)
    assert gy == pytest.approx(math.sin(0.5), rel=1e-15)
    _, t = jvp(f, (0.5, 3.0), (1.0, 0.0))
    assert t == pytest.approx(math.cos(0.5) * 3.0, rel=1e-15)


def test_core_on_python_floats_second_order():
    d2 = grad(grad(lambda x: sin_p.bind(x)))(0.5)
    assert d2 == pytest.approx(-math.sin(0.5), rel=1e-15)
    _, t = jvp(grad(lambda x: sin_p.bind(x)), (0.5,), (1.0,))
    assert t == pytest.approx(-math.sin(0.5), rel=1e-15)


def test_zero_is_symbolic():
    assert not _core.zero and repr(_core.zero) == "zero"
    assert _rules.add_tangents(_core.zero, 2.0) == 2.0
    assert _rules.add_tangents(2.0, _core.zero) == 2.0


def test_missing_rule_names_the_primitive():
    p = _core.Primitive("no_rules", lambda x: x)
    with pytest.raises(NotImplementedError, match="no reverse-mode rule for primitive 'no_rules'"):
        grad(lambda x: p.bind(x))(1.0)
    with pytest.raises(NotImplementedError, match="no forward-mode rule for primitive 'no_rules'"):
        jvp(lambda x: p.bind(x), (1.0,), (1.0,))
