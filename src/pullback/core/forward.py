"""Forward mode: the JVP trace carries a tangent beside each primal."""

from __future__ import annotations

from typing import Any

from pullback.core.trace import Primitive, Trace, Tracer, bind, shape_of, zero

__all__ = ["JVPTrace", "JVPTracer"]


class JVPTracer(Tracer):
    __slots__ = ("tangent",)

    def __init__(self, trace: Trace, primal: Any, tangent: Any):
        self._trace = trace
        self._primal = primal
        self.tangent = tangent

    @property
    def ndim(self) -> int:
        try:
            return self._primal.ndim  # type: ignore[no-any-return]
        except AttributeError:
            return len(shape_of(self._primal))


class JVPTrace(Trace):
    __slots__ = ()

    def lift(self, value: Any) -> JVPTracer:
        """A constant as a tracer whose tangent is zero."""
        return JVPTracer(self, value, zero)

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        primals = []
        tangents = []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a._primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(zero)
        primals = tuple(primals)
        if prim.nondiff:
            return prim.bind(*primals, **params)
        jvp = prim.jvp
        if jvp is None or prim.custom_jvp:
            ans, t_out = prim.jvp_apply(primals, tuple(tangents), params)
        else:  # Primitive.jvp_apply, inline
            ans = bind(prim, *primals, **params)
            t_out = jvp(tuple(tangents), ans, primals, params)
        if prim.multiple_results:
            if t_out is zero or t_out is None:
                return ans
            return tuple(
                a if t is zero or t is None else JVPTracer(self, a, t)
                for a, t in zip(ans, t_out, strict=True)
            )
        if t_out is zero or t_out is None:
            if prim.view is not None and type(args[0]) is JVPTracer and args[0]._trace is self:
                # a view of a traced buffer stays traced, so writes through it reach the buffer
                return JVPTracer(self, ans, zero)
            return ans
        return JVPTracer(self, ans, t_out)
