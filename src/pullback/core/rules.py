"""Rule kinds: one declaration gives a primitive both its reverse- and forward-mode rules.

- :func:`defelementwise`: derivatives as functions of ``(ans, *args)``;
  VJP ``g * d``, JVP ``t * d``.
- :func:`deflinear`: linear in its first argument; give the transpose, the JVP is the op itself.
- :func:`defbilinear`: linear in each of two arguments; give both transposes.
- :func:`defnondiff`: no derivative; outputs are constants to every transformation.
- :func:`defvjp` / :func:`defjvp`: general per-argument rules with the flat signatures
  ``rule(g, ans, *args, **params)`` and ``rule(t, ans, *args, **params)``.

Rules are written with pullback's own operations, so they are differentiable again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pullback.core.trace import Primitive, zero

__all__ = [
    "add_tangents",
    "defbatch",
    "defbilinear",
    "defelementwise",
    "defjvp",
    "defjvp_joint",
    "deflinear",
    "defnondiff",
    "defvjp",
    "defvjp_joint",
]


def add_tangents(a: Any, b: Any) -> Any:
    """Sum of two tangents or cotangents, either of which may be symbolic zero.

    Example:
        >>> from pullback.extend import zero
        >>> add_tangents(zero, 2.0), add_tangents(1.0, 2.0)
        (2.0, 3.0)
    """
    if a is zero:
        return b
    if b is zero:
        return a
    return a + b


def _missing(prim: Primitive, i: int) -> Callable[..., Any]:
    def rule(*_: Any, **__: Any) -> Any:
        raise NotImplementedError(
            f"primitive '{prim.name}' has no derivative with respect to argument {i}; "
            "pass it as a constant (pb.stop_gradient), define the rule with "
            "pullback.extend.defvjp/defjvp, or wrap the function with pullback.primitive"
        )

    return rule


def defvjp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Per-argument reverse rules ``rule(g, ans, *args, **params)``; ``None`` for none.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defvjp
        >>> cube = Primitive("cube", lambda x: x ** 3)
        >>> defvjp(cube, lambda g, ans, x: g * 3 * x ** 2)
        >>> pb.grad(cube.bind)(2.0)
        np.float64(12.0)
    """
    rules = tuple(_missing(prim, i) if r is None else r for i, r in enumerate(rules))
    prim.vjp = _vjp_of_rules(prim, rules)


def _arity_error(prim: Primitive, n_rules: int, n_args: int) -> TypeError:
    return TypeError(f"primitive '{prim.name}' has {n_rules} reverse rules for {n_args} arguments")


def _vjp_of_rules(prim: Primitive, rules: tuple) -> Callable[..., list]:
    """The joint reverse rule calling ``rule(g, ans, *args, **params)`` for each argument that
    needs a cotangent (``zero`` for the others). One and two arguments, the common cases, get
    a version without the loop (one Python call less per primitive in the backward pass)."""
    if len(rules) == 1:
        (r0,) = rules

        def vjp1(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
            if len(needs) != 1:
                raise _arity_error(prim, 1, len(needs))
            return [r0(g, ans, *args, **params) if needs[0] else zero]

        return vjp1
    if len(rules) == 2:
        r0, r1 = rules

        def vjp2(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
            if len(needs) != 2:
                raise _arity_error(prim, 2, len(needs))
            n0, n1 = needs
            return [r0(g, ans, *args, **params) if n0 else zero,
                    r1(g, ans, *args, **params) if n1 else zero]

        return vjp2

    def vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
        if len(needs) != len(rules):
            raise _arity_error(prim, len(rules), len(needs))
        return [
            rule(g, ans, *args, **params) if need else zero
            for rule, need in zip(rules, needs, strict=True)
        ]

    return vjp


def defjvp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Per-argument forward rules ``rule(t, ans, *args, **params)``; contributions are summed.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defjvp
        >>> cube = Primitive("cube", lambda x: x ** 3)
        >>> defjvp(cube, lambda t, ans, x: t * 3 * x ** 2)
        >>> pb.jvp(cube.bind, (2.0,), (1.0,))
        (8.0, np.float64(12.0))
    """
    rules = tuple(_missing(prim, i) if r is None else r for i, r in enumerate(rules))
    prim.jvp = _jvp_of_rules(rules)


def _jvp_of_rules(rules: tuple) -> Callable[..., Any]:
    """The joint forward rule summing ``rule(t, ans, *args, **params)`` over the arguments
    with a tangent; one and two arguments get a version without the loop."""
    if len(rules) == 1:
        (r0,) = rules

        def jvp1(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
            (t0,) = tangents
            return zero if t0 is zero else r0(t0, ans, *args, **params)

        return jvp1
    if len(rules) == 2:
        r0, r1 = rules

        def jvp2(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
            t0, t1 = tangents
            out = zero if t0 is zero else r0(t0, ans, *args, **params)
            if t1 is not zero:
                out = add_tangents(out, r1(t1, ans, *args, **params))
            return out

        return jvp2

    def jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        out = zero
        for rule, t in zip(rules, tangents, strict=True):
            if t is not zero:
                out = add_tangents(out, rule(t, ans, *args, **params))
        return out

    return jvp


def defvjp_joint(prim: Primitive, rule: Callable[..., tuple]) -> None:
    """A reverse rule for all arguments at once: ``rule(g, ans, args, params, needs) -> tuple``.

    ``needs[i]`` is True when argument ``i`` needs a cotangent; give ``zero`` (or None)
    for the others.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defvjp_joint, zero
        >>> mul = Primitive("mul", lambda x, y: x * y)
        >>> defvjp_joint(mul, lambda g, ans, args, params, needs: (
        ...     g * args[1] if needs[0] else zero, g * args[0] if needs[1] else zero))
        >>> pb.grad(mul.bind, argnums=(0, 1))(2.0, 5.0)
        (np.float64(5.0), np.float64(2.0))
    """
    def vjp(g: Any, ans: Any, args: tuple, params: dict, parents: tuple) -> tuple:
        # the backward pass hands over the node's parents (truthy where a cotangent is
        # needed); a rule sees plain booleans
        return rule(g, ans, args, params, tuple([p is not None for p in parents]))

    prim.vjp = vjp


def defjvp_joint(prim: Primitive, rule: Callable[..., Any]) -> None:
    """A forward rule for all arguments at once: ``rule(tangents, ans, args, params)``.

    ``tangents[i]`` is ``zero`` for an argument without a tangent.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defjvp_joint, zero
        >>> mul = Primitive("mul", lambda x, y: x * y)
        >>> defjvp_joint(mul, lambda ts, ans, args, params: sum(
        ...     t * other for t, other in zip(ts, args[::-1]) if t is not zero))
        >>> pb.jvp(mul.bind, (2.0, 5.0), (1.0, 0.0))
        (10.0, np.float64(5.0))
    """
    prim.jvp = rule


def defelementwise(prim: Primitive, *derivatives: Callable[..., Any] | None) -> None:
    """Elementwise rules from partial derivatives ``d(ans, *args, **params)``, one per argument.

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> from pullback.extend import Primitive, defelementwise
        >>> softplus = Primitive("softplus", lambda x: np.logaddexp(0.0, x))
        >>> defelementwise(softplus, lambda ans, x: 1.0 / (1.0 + pnp.exp(-x)))
        >>> pb.grad(lambda x: pnp.sum(softplus.bind(x)))(np.zeros(2))
        array([0.5, 0.5])
    """
    if len(derivatives) in (1, 2) and None not in derivatives:
        # the same rules as below, without a Python call between the rule and ``d``
        _defelementwise_fast(prim, derivatives)
        return
    defvjp(
        prim,
        *(
            None if d is None else (lambda g, ans, *a, d=d, **p: g * d(ans, *a, **p))
            for d in derivatives
        ),
    )
    defjvp(
        prim,
        *(
            None if d is None else (lambda t, ans, *a, d=d, **p: t * d(ans, *a, **p))
            for d in derivatives
        ),
    )


def _defelementwise_fast(prim: Primitive, derivatives: tuple) -> None:
    """:func:`defelementwise` for one or two arguments, each with a derivative."""
    if len(derivatives) == 1:
        (d0,) = derivatives

        def vjp1(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
            if len(needs) != 1:
                raise _arity_error(prim, 1, len(needs))
            return [g * d0(ans, *args, **params) if needs[0] else zero]

        def jvp1(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
            (t0,) = tangents
            return zero if t0 is zero else t0 * d0(ans, *args, **params)

        prim.vjp, prim.jvp = vjp1, jvp1
        return
    d0, d1 = derivatives

    def vjp2(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
        if len(needs) != 2:
            raise _arity_error(prim, 2, len(needs))
        n0, n1 = needs
        return [g * d0(ans, *args, **params) if n0 else zero,
                g * d1(ans, *args, **params) if n1 else zero]

    def jvp2(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        t0, t1 = tangents
        out = zero if t0 is zero else t0 * d0(ans, *args, **params)
        if t1 is not zero:
            out = add_tangents(out, t1 * d1(ans, *args, **params))
        return out

    prim.vjp, prim.jvp = vjp2, jvp2


def deflinear(prim: Primitive, transpose: Callable[..., Any]) -> None:
    """A primitive linear in its first argument (the others are static data).

    ``transpose(g, x, *rest, **params)`` returns the cotangent of ``x``.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, deflinear
        >>> flip = Primitive("flip", lambda x: x[::-1])
        >>> deflinear(flip, lambda g, x: flip.bind(g))
        >>> pb.vjp(flip.bind, np.array([1.0, 2.0]))[1](np.array([1.0, 0.0]))
        (array([0., 1.]),)
    """

    def vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
        if len(needs) > 1 and any(needs[1:]):
            raise NotImplementedError(
                f"primitive '{prim.name}' is differentiable only in its first argument"
            )
        return (transpose(g, *args, **params),) + (zero,) * (len(args) - 1)

    def jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        if len(tangents) > 1 and any([t is not zero for t in tangents[1:]]):
            raise NotImplementedError(
                f"primitive '{prim.name}' is differentiable only in its first argument"
            )
        if tangents[0] is zero:  # a traced constant (a buffer not yet written)
            return zero
        return prim.bind(tangents[0], *args[1:], **params)

    prim.vjp = vjp
    prim.jvp = jvp


def defbilinear(
    prim: Primitive, lhs_transpose: Callable[..., Any], rhs_transpose: Callable[..., Any]
) -> None:
    """A primitive linear in each of its two arguments.

    ``lhs_transpose(g, x, y, **params)`` and ``rhs_transpose(g, x, y, **params)`` return the
    cotangents of ``x`` and ``y``; the JVP is ``prim(tx, y) + prim(x, ty)``.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defbilinear
        >>> outer = Primitive("outer", np.outer)
        >>> defbilinear(outer, lambda g, x, y: g @ y, lambda g, x, y: x @ g)
        >>> pb.jvp(outer.bind, (np.ones(2), np.ones(2)), (np.ones(2), np.zeros(2)))[1]
        array([[1., 1.],
               [1., 1.]])
    """

    def vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> list:
        if len(needs) != 2:
            raise _arity_error(prim, 2, len(needs))
        x, y = args
        n0, n1 = needs
        return [lhs_transpose(g, x, y, **params) if n0 else zero,
                rhs_transpose(g, x, y, **params) if n1 else zero]

    def jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        tx, ty = tangents
        x, y = args
        out = zero if tx is zero else prim.bind(tx, y, **params)
        if ty is not zero:
            out = add_tangents(out, prim.bind(x, ty, **params))
        return out

    prim.vjp = vjp
    prim.jvp = jvp


def defbatch(prim: Primitive, rule: Callable[..., Any]) -> None:
    """The ``vmap`` rule of ``prim``: ``rule(vals, batched, params, size)`` returns the batched
    result, where ``vals[i]`` carries the batch axis in front when ``batched[i]`` is True.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defbatch
        >>> double = Primitive("double", lambda x: 2 * x)
        >>> defbatch(double, lambda vals, batched, params, size: double.bind(vals[0]))
        >>> pb.vmap(double.bind)(np.ones((3, 2))).shape
        (3, 2)
    """
    prim.batch = rule


def defnondiff(prim: Primitive) -> None:
    """Outputs of ``prim`` carry no derivative: every trace passes them on as constants.

    Example:
        >>> import numpy as np, pullback as pb
        >>> from pullback.extend import Primitive, defnondiff
        >>> rank = Primitive("rank", lambda x: np.argsort(np.argsort(x)).astype(x.dtype))
        >>> defnondiff(rank)
        >>> pb.grad(lambda x: (rank.bind(x) * x).sum())(np.array([3.0, 1.0]))
        array([1., 0.])
    """
    prim.nondiff = True
