"""Forward mode: the JVP trace carries a tangent beside each primal.

The common case, a primitive applied to values of one JVP trace whose primals are plain NumPy
values (forward mode is the outermost transformation, or the only one: ``jvp``, ``hvp``'s
forward level, ``jacfwd``/``hessian``'s, whose tangents may be batched), is applied by
:func:`jvp_apply1`/:func:`jvp_apply2` in one step: the NumPy layer's wrappers call them where
``bind`` would find the trace and call :meth:`JVPTrace.process`; they fall back (return None)
in every other case. :meth:`JVPTrace.process` itself calls the implementation directly when no
primal is traced by an outer level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pullback.core import trace as _trace_mod
from pullback.core.trace import Primitive, Trace, Tracer, bind, shape_of, zero

__all__ = ["JVPTrace", "JVPTracer", "jvp_apply1", "jvp_apply2"]


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
            # whether a primal is traced by an outer level (then bind finds that level)
            outer = isinstance(xp, Tracer) or isinstance(yp, Tracer)
        else:
            primals = []
            tangents = []
            outer = False
            for a in args:
                if type(a) is JVPTracer and a._trace is self:
                    p = a._primal
                    tangents.append(a.tangent)
                else:
                    p = a
                    tangents.append(zero)
                primals.append(p)
                if isinstance(p, Tracer):
                    outer = True
            primals, tangents = tuple(primals), tuple(tangents)
        if prim.nondiff:
            return prim.bind(*primals, **params)
        jvp = prim.jvp
        if jvp is None or prim.custom_jvp:
            ans, t_out = prim.jvp_apply(primals, tangents, params)
        else:  # Primitive.jvp_apply, inline (bind's work where no primal is traced)
            if outer or _trace_mod.debug_hook is not None:
                ans = bind(prim, *primals, **params)
            else:
                ans = prim.impl(*primals, **params)
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


#: the primal types the fast path takes (plain NumPy values: no outer level's tracer)
_PLAIN = (np.ndarray, np.generic)
#: Python numbers, which the wrappers leave to NumPy's weak promotion
_WEAK = (float, int)


def _direct(prim: Primitive) -> bool:
    """Whether :meth:`JVPTrace.process` applies ``prim`` as its implementation and its
    ``jvp`` rule, with one result (``bind`` adds the marking of views, which
    :func:`jvp_apply1` does as it does; :func:`jvp_apply2` takes no primitive with views)."""
    return not (prim.nondiff or prim.custom_jvp or prim.multiple_results or prim.jvp is None)


def jvp_apply1(prim: Primitive, x: Any, params: dict) -> Any:
    """``prim(x, **params)`` in one step (what ``bind`` then :meth:`JVPTrace.process` do),
    when ``x`` is a tracer of an active JVP trace whose primal is a plain NumPy value, ``prim``
    is an ordinary primitive (one result; a view of its argument is marked as ``bind`` marks
    it) and no ``debug_nans`` hook is set; None otherwise (then the caller takes the general
    path, ``bind``).

    Example:
        >>> from pullback.core.trace import new_trace, PRIMITIVES
        >>> with new_trace(JVPTrace) as trace:
        ...     y = jvp_apply1(PRIMITIVES["negative"], JVPTracer(trace, np.ones(2), np.ones(2)), {})
        >>> y.primal, y.tangent
        (array([-1., -1.]), array([-1., -1.]))
    """
    if type(x) is not JVPTracer:
        return None
    xp = x._primal
    trace = x._trace
    if (not isinstance(xp, _PLAIN) or not trace.active or _trace_mod.debug_hook is not None
            or not _direct(prim)):
        return None
    ans = prim.impl(xp, **params)
    t = prim.jvp((x.tangent,), ans, (xp,), params)  # type: ignore[misc]
    view = prim.view
    if view is None:
        if t is zero or t is None:
            return ans
        return JVPTracer(trace, ans, t)
    # a view of a traced buffer stays traced (as process does), and is marked (as bind does)
    out = JVPTracer(trace, ans, zero if t is None else t)
    view(out, (x,), params)
    return out


def jvp_apply2(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` in one step, for a binary elementwise primitive whose wrapper would
    bind it without promotion: each operand a tracer of one active JVP trace (with a plain
    NumPy primal) or a plain NumPy array, of one shape and dtype; or one of them a Python
    number (weak). None in every other case (then the caller takes the general path).

    Example:
        >>> from pullback.core.lax import mul_p
        >>> from pullback.core.trace import new_trace
        >>> with new_trace(JVPTrace) as trace:
        ...     y = jvp_apply2(mul_p, JVPTracer(trace, np.ones(2), np.ones(2)), 3.0)
        >>> y.primal, y.tangent
        (array([3., 3.]), array([3., 3.]))
    """
    if type(x) is JVPTracer:
        trace = x._trace
        xp = x._primal
        tx = x.tangent
        if type(y) is JVPTracer:
            if y._trace is not trace:
                return None
            yp = y._primal
            ty = y.tangent
        else:
            yp, ty = y, zero
            if type(y) in _WEAK:  # a Python number: NumPy promotes it weakly
                if not isinstance(xp, _PLAIN):
                    return None
            elif type(y) is not np.ndarray:
                return None
        if yp is not y or type(y) is np.ndarray:  # two arrays: one shape and dtype
            if ((type(xp) is not np.ndarray and not isinstance(xp, _PLAIN))
                    or (type(yp) is not np.ndarray and not isinstance(yp, _PLAIN))
                    or xp.shape != yp.shape):
                return None
            xd = xp.dtype
            yd = yp.dtype
            if xd is not yd and xd != yd:
                return None
    elif type(y) is JVPTracer:
        trace = y._trace
        yp = y._primal
        ty = y.tangent
        xp, tx = x, zero
        if type(yp) is not np.ndarray and not isinstance(yp, _PLAIN):
            return None
        if type(x) is np.ndarray:
            xd = x.dtype
            yd = yp.dtype
            if x.shape != yp.shape or (xd is not yd and xd != yd):
                return None
        elif type(x) not in _WEAK:
            return None
    else:
        return None
    if (not trace.active or _trace_mod.debug_hook is not None or not _direct(prim)
            or prim.view is not None):
        return None
    ans = prim.impl(xp, yp)
    t = prim.jvp((tx, ty), ans, (xp, yp), {})  # type: ignore[misc]
    if t is zero or t is None:
        return ans
    return JVPTracer(trace, ans, t)
