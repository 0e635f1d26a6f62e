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
    """Sum of two tangents or cotangents, either of which may be symbolic zero."""
    if a is zero:
        return b
    if b is zero:
        return a
    return a + b


def _missing(prim: Primitive, i: int) -> Callable[..., Any]:
    def rule(*_: Any, **__: Any) -> Any:
        raise NotImplementedError(
            f"primitive '{prim.name}' has no derivative with respect to argument {i}; "
            "pass it as a constant (pb.stop_gradient) or define the rule with pullback.primitive"
        )

    return rule


def defvjp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Per-argument reverse rules ``rule(g, ans, *args, **params)``; ``None`` for none."""
    rules = tuple(_missing(prim, i) if r is None else r for i, r in enumerate(rules))

    def vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
        if len(needs) != len(rules):
            raise TypeError(
                f"primitive '{prim.name}' has {len(rules)} reverse rules for {len(needs)} arguments"
            )
        return [rule(g, ans, *args, **params) if need else zero for rule, need in zip(rules, needs)]

    prim.vjp = vjp


def defjvp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Per-argument forward rules ``rule(t, ans, *args, **params)``; contributions are summed."""
    rules = tuple(_missing(prim, i) if r is None else r for i, r in enumerate(rules))

    def jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        out = zero
        for rule, t in zip(rules, tangents, strict=True):
            if t is not zero:
                out = add_tangents(out, rule(t, ans, *args, **params))
        return out

    prim.jvp = jvp


def defvjp_joint(prim: Primitive, rule: Callable[..., tuple]) -> None:
    """A reverse rule for all arguments at once: ``rule(g, ans, args, params, needs) -> tuple``."""
    prim.vjp = rule


def defjvp_joint(prim: Primitive, rule: Callable[..., Any]) -> None:
    """A forward rule for all arguments at once: ``rule(tangents, ans, args, params)``."""
    prim.jvp = rule


def defelementwise(prim: Primitive, *derivatives: Callable[..., Any] | None) -> None:
    """Elementwise rules from partial derivatives ``d(ans, *args, **params)``, one per argument."""
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


def deflinear(prim: Primitive, transpose: Callable[..., Any]) -> None:
    """A primitive linear in its first argument (the others are static data).

    ``transpose(g, x, *rest, **params)`` returns the cotangent of ``x``.
    """

    def vjp(g: Any, ans: Any, args: tuple, params: dict, needs: tuple) -> tuple:
        if any(needs[1:]):
            raise NotImplementedError(
                f"primitive '{prim.name}' is differentiable only in its first argument"
            )
        return (transpose(g, *args, **params),) + (zero,) * (len(args) - 1)

    def jvp(tangents: tuple, ans: Any, args: tuple, params: dict) -> Any:
        if any(t is not zero for t in tangents[1:]):
            raise NotImplementedError(
                f"primitive '{prim.name}' is differentiable only in its first argument"
            )
        return prim.bind(tangents[0], *args[1:], **params)

    prim.vjp = vjp
    prim.jvp = jvp


def defbilinear(
    prim: Primitive, lhs_transpose: Callable[..., Any], rhs_transpose: Callable[..., Any]
) -> None:
    """A primitive linear in each of its two arguments.

    ``lhs_transpose(g, x, y, **params)`` and ``rhs_transpose(g, x, y, **params)`` return the
    cotangents of ``x`` and ``y``; the JVP is ``prim(tx, y) + prim(x, ty)``.
    """
    defvjp(
        prim,
        lambda g, ans, x, y, **p: lhs_transpose(g, x, y, **p),
        lambda g, ans, x, y, **p: rhs_transpose(g, x, y, **p),
    )
    defjvp(
        prim,
        lambda t, ans, x, y, **p: prim.bind(t, y, **p),
        lambda t, ans, x, y, **p: prim.bind(x, t, **p),
    )


def defnondiff(prim: Primitive) -> None:
    """Outputs of ``prim`` carry no derivative: every trace passes them on as constants."""
    prim.nondiff = True
