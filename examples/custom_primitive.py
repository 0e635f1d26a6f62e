"""Custom primitives in the notebook's ``(value, vjp)`` format, with ``@pb.primitive``.

1. ``softplus``: its pullback is written with ``pullback.numpy``, so pullback can
   differentiate the pullback itself: forward mode and second derivatives work with no
   more code.
2. ``clipped_identity``: a straight-through estimator, whose pullback is deliberately *not*
   the derivative of its value, written in plain NumPy; forward mode then needs a JVP rule,
   which the error message asks for, and ``defjvp`` adds.
3. A wrong rule is caught: a pullback returning a cotangent of the wrong shape raises
   ``pb.RuleError`` naming the primitive and both shapes.

Run: ``python examples/custom_primitive.py`` (under a second).
"""

from __future__ import annotations

import numpy as np

import pullback as pb
import pullback.numpy as pnp


@pb.primitive
def softplus(x):
    """``log(1 + exp(x))``, computed stably; its pullback is ``u * sigmoid(x)``."""
    value = pnp.maximum(x, 0.0) + pnp.log1p(pnp.exp(-pnp.abs(x)))

    def vjp(u):
        return (u / (1.0 + pnp.exp(-x)),)

    return value, vjp


@pb.primitive
def clipped_identity(x):
    """``clip(x, -1, 1)`` whose pullback passes the cotangent straight through."""
    return np.clip(x, -1.0, 1.0), lambda u: (np.asarray(u).copy(),)


@pb.primitive
def broken(x):
    """A pullback that returns the wrong shape: pullback refuses it."""
    return np.sum(x**2), lambda u: (2.0 * u,)


def central(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def main() -> None:
    with np.printoptions(precision=6, linewidth=110):
        _main()


def _main() -> None:
    x = np.array([-30.0, -1.0, 0.0, 2.0, 40.0])
    sigmoid = 1.0 / (1.0 + np.exp(-x))

    print("1. softplus, a primitive whose pullback pullback can differentiate")
    print("   value           ", softplus(x))
    grad = pb.grad(lambda x: pnp.sum(softplus(x)))(x)
    print("   reverse mode    ", grad, " (sigmoid(x):", sigmoid, ")")
    _, tangent = pb.jvp(softplus, (x,), (np.ones_like(x),))
    print("   forward mode    ", tangent)
    second = pb.grad(lambda x: pnp.sum(pb.grad(lambda y: pnp.sum(softplus(y)))(x)))(x)
    print("   second derivative", second)
    print("   closed form      ", sigmoid * (1 - sigmoid))
    print("   central difference of the first derivative",
          central(lambda x: pb.grad(lambda y: pnp.sum(softplus(y)))(x), x))

    print("\n2. a straight-through estimator: a pullback in plain NumPy")
    y = np.array([-3.0, 0.5, 2.0])
    print("   value", clipped_identity(y), " gradient", pb.grad(
        lambda y: pnp.sum(clipped_identity(y)))(y))
    try:
        pb.jvp(clipped_identity, (y,), (np.ones(3),))
    except Exception as err:  # the error says how to add forward mode
        print(f"   forward mode without a rule: {type(err).__name__}: {err}")

    @clipped_identity.defjvp
    def clipped_identity_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return clipped_identity(x), t

    print("   forward mode with defjvp:", pb.jvp(clipped_identity, (y,), (np.ones(3),))[1])

    print("\n3. a wrong pullback is caught, not trusted")
    try:
        pb.grad(broken)(np.ones(3))
    except pb.RuleError as err:
        print(f"   RuleError: {err}")


if __name__ == "__main__":
    main()
