"""pb.debug_nans: the first NaN or infinity is reported where it appears, in every mode."""

import os
import subprocess
import sys

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.core import reverse, trace


def _loss(x):
    y = pnp.log(x)  # the line the forward-value error must name
    return pnp.sum(y * 2.0)


def test_off_by_default_and_free_when_off():
    assert trace.debug_hook is None and reverse.cotangent_hook is None
    with np.errstate(all="ignore"):
        g = pb.grad(lambda x: pnp.sum(pnp.sqrt(x)))(np.array([1.0, 0.0]))
    assert g[0] == 0.5 and np.isinf(g[1])


def test_a_nan_forward_value_names_the_primitive_the_mode_and_the_user_line():
    line = _loss.__code__.co_firstlineno + 1
    with pb.debug_nans(), pytest.raises(FloatingPointError) as err:
        pb.grad(_loss)(np.array([1.0, -1.0]))
    msg = str(err.value)
    assert "'log'" in msg and "forward value" in msg and "nan" in msg
    assert f"{__file__}:{line}" in msg and "(2,)" in msg
    assert trace.debug_hook is None  # restored on the way out of the block


def test_an_infinite_cotangent_names_the_operation_recorded_in_the_forward_pass():
    def f(x):
        return pnp.sum(pnp.sqrt(x))

    line = f.__code__.co_firstlineno + 1
    with pb.debug_nans(), pytest.raises(FloatingPointError) as err:
        pb.grad(f)(np.array([1.0, 0.0]))
    msg = str(err.value)
    assert "pullback of 'sqrt'" in msg and "cotangent" in msg and "inf" in msg
    assert f"{__file__}:{line}" in msg


def test_an_infinite_tangent_in_forward_mode():
    with pb.debug_nans(), pytest.raises(FloatingPointError, match="'sqrt'.*tangent"):
        pb.jvp(pnp.sqrt, (np.array([0.0]),), (np.array([1.0]),))


def test_second_order_and_a_block_switched_off_inside():
    with pb.debug_nans():
        h = pb.hessian(lambda x: pnp.sum(x**3))(np.array([1.0, 2.0]))
        np.testing.assert_array_equal(h, np.diag([6.0, 12.0]))
        with pb.debug_nans(False), np.errstate(all="ignore"):
            assert np.isnan(pb.grad(lambda x: pnp.sum(pnp.log(x) * x))(np.array([-1.0]))[0])
        with pytest.raises(FloatingPointError, match="'log'"):
            pb.hessian(lambda x: pnp.sum(pnp.log(x)))(np.array([-1.0]))


def test_the_environment_variable_turns_it_on():
    code = (
        "import numpy as np, pullback as pb, pullback.numpy as pnp\n"
        "try:\n"
        "    pb.grad(lambda x: pnp.sum(pnp.log(x)))(np.array([-1.0]))\n"
        "except FloatingPointError as e:\n"
        "    print('raised', 'log' in str(e))\n"
    )
    env = dict(os.environ, PULLBACK_DEBUG_NANS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "raised True", out.stderr
