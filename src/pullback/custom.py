"""Custom derivatives: ``primitive`` (the notebook's ``(value, vjp)`` format), ``custom_vjp``
and ``custom_jvp`` (as in JAX).

Each decorated function becomes an opaque :class:`~pullback.core.trace.Primitive`. A missing
mode is derived from the given one: a pullback ``u -> J^T u`` is linear in ``u``, so
``J t`` is the gradient of ``u -> <J^T u, t>``, one reverse pass through the pullback; in
the same way ``J^T g`` is the gradient of ``t -> <J t, g>``. This needs the given rule to
be written with operations pullback can differentiate; otherwise the error says which rule
to add.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from pullback.core import lax
from pullback.core.api import vjp
from pullback.core.trace import (
    Primitive,
    RuleError,
    Tracer,
    TracerConversionError,
    dtype_of,
    instantiate,
    shape_of,
    zero,
)
from pullback.core.tree import tree_leaves
from pullback.core.typing import PyTree

__all__ = ["custom_jvp", "custom_vjp", "primitive"]

#: a forward-mode rule: ``rule(primals, tangents) -> (out, tangent_out)``
JVPRule = Callable[[tuple[Any, ...], tuple[Any, ...]], tuple[PyTree, PyTree]]
#: the reverse-mode pair of ``custom_vjp``: ``fwd(*args) -> (out, residual)`` and
#: ``bwd(residual, g) -> one cotangent per argument``
FwdFn = Callable[..., tuple[PyTree, Any]]
BwdFn = Callable[[Any, PyTree], Sequence[Any]]
#: a function in the notebook's format: ``f(*args) -> (value, vjp)``, ``vjp(u)`` a tuple of
#: one cotangent per argument
NotebookFn = Callable[..., tuple[PyTree, Callable[[PyTree], Sequence[Any]]]]
_Rule = TypeVar("_Rule", bound=JVPRule)


def _as_cotangents(name: str, cts: object, nargs: int) -> tuple[Any, ...]:
    if not isinstance(cts, (tuple, list)):
        raise RuleError(
            f"the pullback of '{name}' must return a tuple with one cotangent per argument, "
            f"got {type(cts).__name__}; for one argument write `return (g,)`"
        )
    if len(cts) != nargs:
        raise RuleError(
            f"the pullback of '{name}' returned {len(cts)} cotangents for {nargs} arguments: "
            "return one per argument (None for an argument with no derivative)"
        )
    return tuple(zero if c is None else c for c in cts)


def _vdot(a: Any, b: Any) -> Any:
    if shape_of(a) != shape_of(b):
        b = lax.broadcast_to(b, shape_of(a))
    if dtype_of(b) != dtype_of(a):
        b = lax.convert(b, dtype_of(a))
    prod = lax.mul(a, b)
    return lax.reduce_sum(prod, tuple(range(len(shape_of(prod)))))


def _transpose_linear(
    name: str, how: str, fix: str, linear: Callable[..., tuple[Any, ...]],
    seeds: tuple[Any, ...], vectors: tuple[Any, ...],
) -> tuple[Any, ...]:
    """``L^T v`` for the linear map ``L = linear`` (its outputs paired with ``vectors``).

    ``L^T v`` is the gradient at ``seeds`` of ``s -> sum_i <L(s)_i, v_i>``: one reverse pass
    through the rule, so the rule must be written with operations pullback differentiates.
    """
    def pairing(*s: Any) -> Any:
        trace = s[0]._trace
        total = 0.0
        for out, v in zip(linear(*s), vectors, strict=True):
            if out is zero or v is zero:
                continue
            if not (isinstance(out, Tracer) and out._trace is trace):
                if not np.any(out):  # a constant zero block contributes nothing
                    continue
                raise TracerConversionError(
                    "its result does not depend on its linear input: it was computed outside "
                    "pullback, for example through numpy.asarray or a function without rules"
                )
            total = total + _vdot(out, v)
        return total

    try:
        total, back = vjp(pairing, *seeds)
    except (TypeError, NotImplementedError) as err:
        raise NotImplementedError(f"'{name}': {how} ({err}). {fix}") from err
    return back(np.ones((), dtype_of(total)))


#: the transformation a traced value belongs to, by its tracer's class
_TRANSFORMATIONS = {
    "JVPTracer": "forward mode (jvp, jacfwd, hessian)",
    "VJPTracer": "reverse mode (grad, vjp, jacrev)",
    "BatchTracer": "vmap",
    "GraphTracer": "pb.jit",
}


def _outer_transformations(values: Any) -> list[str]:
    """The transformations, outermost last, whose traced values ``values`` holds."""
    found: list[str] = []
    for leaf in tree_leaves(values):
        while isinstance(leaf, Tracer):
            name = _TRANSFORMATIONS.get(type(leaf).__name__, type(leaf).__name__)
            if name not in found:
                found.append(name)
            leaf = leaf._primal
    return found


@contextlib.contextmanager
def _on_traced_values(name: str, what: str, values: Any) -> Iterator[None]:
    """Explain an error raised while a user rule runs on traced values of outer levels.

    At second order (``hessian``, ``hvp``, ``grad`` of ``grad``), and for a derivative taken
    under ``jit`` or ``vmap``, pullback runs the user's function and its rule on the traced
    values of the outer transformation: whatever they compute is differentiated (or traced)
    again, so a SciPy or NumPy function without pullback rules fails there, though the
    function itself is a ``pb.primitive``.
    """
    outer = _outer_transformations(values)
    if not outer:
        yield
        return
    try:
        yield
    except (NotImplementedError, TracerConversionError) as err:
        root: BaseException = err  # the first failure, not a wrapper's restatement of it
        while isinstance(root.__cause__, (NotImplementedError, TracerConversionError)):
            root = root.__cause__
        cause = str(root).split(":")[0]
        message = (
            f"'{name}' ({what}) ran on values traced by {' and '.join(outer)}: when a "
            "pullback.primitive (or custom_vjp/custom_jvp) function is differentiated again "
            "(a second derivative: hessian, hvp, grad of grad) or differentiated under jit "
            "or vmap, pullback differentiates its value and its pullback themselves, so "
            "every operation in them must be one pullback can differentiate; here: "
            f"{cause}. Write them with pullback.numpy and pullback.scipy.special operations, "
            "or give the SciPy/NumPy function its own rules for the next order with "
            "pullback.extend, which pullback applies at every order, for example "
            "`p = pullback.extend.Primitive('sindg', scipy.special.sindg)`, "
            "`pullback.extend.defelementwise(p, lambda ans, x: pnp.pi / 180 * "
            "pnp.cos(pnp.deg2rad(x)))`, then call `p.bind(x)` in its place (a rule written "
            "with SciPy, "
            f"such as one given with {name}.defjvp(...), runs on traced values too and "
            "fails the same way)"
        )
        if isinstance(err, TracerConversionError):
            raise TracerConversionError(message) from err
        raise NotImplementedError(message) from err


class _CustomPrimitive(Primitive):
    """A user function with user rules; the two trace hooks use them."""

    __slots__ = ("fun", "user_vjp", "user_jvp")

    def __init__(self, fun: Callable[..., Any], impl: Callable[..., Any]):
        super().__init__(getattr(fun, "__name__", "custom"), impl)
        self.fun = fun
        self.user_vjp: tuple[FwdFn, BwdFn] | None = None  # (args) -> (ans, residual); bwd(res, g)
        self.user_jvp: JVPRule | None = None  # rule(primals, tangents) -> (out, t_out)

    # reverse mode ------------------------------------------------------------------------

    def _fwd_bwd(self) -> tuple[FwdFn, BwdFn]:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward_for_vjp(
        self, args: tuple[Any, ...], params: dict[str, Any]
    ) -> tuple[Any, Any]:
        fwd, _ = self._fwd_bwd()
        with _on_traced_values(self.name, "its value", args):
            return fwd(*args)

    def backward(
        self, g: Any, ans: Any, args: tuple[Any, ...], params: dict[str, Any], residual: Any,
        needs: tuple[bool, ...],
    ) -> tuple[Any, ...]:
        _, bwd = self._fwd_bwd()
        with _on_traced_values(self.name, "its pullback", args):
            return _as_cotangents(self.name, bwd(residual, g), len(args))

    # forward mode ------------------------------------------------------------------------

    def jvp_apply(
        self, primals: tuple[Any, ...], tangents: tuple[Any, ...], params: dict[str, Any]
    ) -> tuple[Any, Any]:
        if self.user_jvp is not None:
            full = tuple(instantiate(t, p) for t, p in zip(tangents, primals, strict=True))
            with _on_traced_values(self.name, "its JVP rule", primals):
                return self.user_jvp(primals, full)
        fwd, bwd = self._fwd_bwd()
        with _on_traced_values(self.name, "its value", primals):
            ans, residual = fwd(*primals)
        with _on_traced_values(self.name, "its pullback", primals):
            (t_out,) = _transpose_linear(
                self.name,
                "forward mode needs a JVP, and none could be derived from the pullback "
                "because pullback cannot differentiate it",
                f"Add a JVP with {self.name}.defjvp(rule), rule(primals, tangents) -> "
                "(out, tangent_out), or write the pullback with pullback.numpy operations",
                lambda u: _as_cotangents(self.name, bwd(residual, u), len(primals)),
                (instantiate(zero, ans),),
                tangents,
            )
        return ans, t_out

    def defjvp(self, rule: _Rule) -> _Rule:
        self.user_jvp = rule
        return rule


class primitive:
    """Declare a function in the notebook's format as a differentiable primitive.

    The decorated function returns ``(value, vjp)`` with ``vjp(u)`` a tuple of one cotangent
    per positional argument (``None`` where there is none). Called outside a transformation
    it returns the value alone.

    Example:
        >>> import numpy as np, pullback as pb
        >>> @pb.primitive
        ... def relu(x):
        ...     return np.maximum(x, 0), lambda u: (u * (x > 0),)
        >>> relu(np.array([-1.0, 2.0]))
        array([0., 2.])
        >>> pb.grad(lambda x: relu(x).sum())(np.array([-1.0, 2.0]))
        array([0., 1.])
    """

    def __init__(self, fun: NotebookFn):
        self.fun = fun
        self._prim = _NotebookPrimitive(fun)
        functools.update_wrapper(self, fun)

    def __call__(self, *args: PyTree) -> PyTree:
        return self._prim.bind(*args)

    def defjvp(self, rule: _Rule) -> _Rule:
        """Add a forward-mode rule ``rule(primals, tangents) -> (out, tangent_out)``."""
        return self._prim.defjvp(rule)


class _NotebookPrimitive(_CustomPrimitive):
    __slots__ = ()

    def __init__(self, fun: NotebookFn):
        super().__init__(fun, lambda *args: fun(*args)[0])

    def _fwd_bwd(self) -> tuple[FwdFn, BwdFn]:
        return self.fun, lambda vjp_fn, g: vjp_fn(g)


class _VJPPrimitive(_CustomPrimitive):
    __slots__ = ()

    def _fwd_bwd(self) -> tuple[FwdFn, BwdFn]:
        if self.user_vjp is None:
            raise NotImplementedError(
                f"custom_vjp function '{self.name}' has no rule: call {self.name}.defvjp(fwd, bwd)"
            )
        return self.user_vjp


class custom_vjp:
    """A function with a custom reverse-mode rule, as in JAX.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> @pb.custom_vjp
        ... def f(x):
        ...     return pnp.sin(x)
        >>> f.defvjp(lambda x: (pnp.sin(x), pnp.cos(x)), lambda cos_x, g: (g * cos_x,))
        >>> float(pb.grad(f)(0.0))
        1.0
    """

    def __init__(self, fun: Callable[..., PyTree]):
        self.fun = fun
        self._prim = _VJPPrimitive(fun, fun)
        functools.update_wrapper(self, fun)

    def __call__(self, *args: PyTree) -> PyTree:
        return self._prim.bind(*args)

    def defvjp(self, fwd: FwdFn, bwd: BwdFn) -> None:
        """``fwd(*args) -> (out, residual)``, ``bwd(residual, g) -> tuple of cotangents``."""
        self._prim.user_vjp = (fwd, bwd)

    def defjvp(self, rule: _Rule) -> _Rule:
        """Also give a forward-mode rule ``rule(primals, tangents) -> (out, tangent_out)``."""
        return self._prim.defjvp(rule)


class _JVPPrimitive(_CustomPrimitive):
    __slots__ = ()

    def _fwd_bwd(self) -> tuple[FwdFn, BwdFn]:
        if self.user_jvp is None:
            raise NotImplementedError(
                f"custom_jvp function '{self.name}' has no rule: decorate one with "
                f"@{self.name}.defjvp"
            )
        rule, name = self.user_jvp, self.name

        def fwd(*args: Any) -> tuple[Any, Any]:
            return self.fun(*args), args

        def bwd(args: tuple[Any, ...], g: Any) -> tuple[Any, ...]:
            return _transpose_linear(
                name,
                "reverse mode needs a pullback, and none could be derived from the JVP rule "
                "because pullback cannot differentiate it",
                "Write the JVP rule with pullback.numpy operations, or use pb.custom_vjp",
                lambda *ts: (rule(args, ts)[1],),
                tuple(instantiate(zero, a) for a in args),
                (g,),
            )

        return fwd, bwd


class custom_jvp:
    """A function with a custom forward-mode rule, as in JAX; reverse mode is derived.

    Example:
        >>> import pullback as pb, pullback.numpy as pnp
        >>> @pb.custom_jvp
        ... def f(x):
        ...     return pnp.exp(x)
        >>> @f.defjvp
        ... def f_jvp(primals, tangents):
        ...     (x,), (t,) = primals, tangents
        ...     return pnp.exp(x), pnp.exp(x) * t
        >>> float(pb.grad(f)(0.0))
        1.0
    """

    def __init__(self, fun: Callable[..., PyTree]):
        self.fun = fun
        self._prim = _JVPPrimitive(fun, fun)
        functools.update_wrapper(self, fun)

    def __call__(self, *args: PyTree) -> PyTree:
        return self._prim.bind(*args)

    def defjvp(self, rule: _Rule) -> _Rule:
        """``rule(primals, tangents) -> (out, tangent_out)``; returns ``rule``."""
        return self._prim.defjvp(rule)
