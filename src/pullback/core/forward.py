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
        primals: Any
        tangents: Any
        if len(args) == 2:  # the common case, without the lists
            x, y = args
            if type(x) is JVPTracer and x._trace is self:
                xp, tx = x._primal, x.tangent
            else:
                xp, tx = x, zero
            if type(y) is JVPTracer and y._trace is self:
                yp, ty = y._primal, y.tangent
            else:
                yp, ty = y, zero
            primals, tangents = (xp, yp), (tx, ty)
        else:
            primals = []
            tangents = []
            for a in args:
                if type(a) is JVPTracer and a._trace is self:
                    primals.append(a._primal)
                    tangents.append(a.tangent)
                else:
                    primals.append(a)
                    tangents.append(zero)
            primals, tangents = tuple(primals), tuple(tangents)
        if prim.nondiff:
            return prim.bind(*primals, **params)
        jvp = prim.jvp
        if jvp is None or prim.custom_jvp:
            ans, t_out = prim.jvp_apply(primals, tangents, params)
        else:  # Primitive.jvp_apply, inline
            ans = bind(prim, *primals, **params)
            t_out = jvp(tangents, ans, primals, params)
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
