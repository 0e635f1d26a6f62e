"""Sub-programs for control flow and checkpointing: a function traced once into a graph.

``pb.checkpoint``, and ``pb.lax.scan``/``while_loop``/``cond`` under ``pb.jit``, need the
function they wrap as a value they can run again, differentiate, batch and compile: a
:class:`Body`. :func:`trace_body` traces the function with abstract inputs under a
:class:`CaptureTrace`, which records one equation per primitive as ``make_graph`` does and
turns every value of an enclosing transformation that the function closes over (a
parameter being differentiated, a value of the ``pb.jit`` trace around it) into an extra
input of the graph: the "constants" handed back beside the body, which the caller passes
as ordinary arguments of its primitive, so that every transformation sees them.

The core (``pullback.core.control``) knows bodies only through this module's hook, set when
it is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pullback.compile.codegen_numpy import compile_graph
from pullback.compile.ir import Graph
from pullback.compile.passes import simplify
from pullback.compile.trace import GraphTrace, GraphTracer
from pullback.compile.values import Const, ShapedArray, Var, gc_paused, map_vars
from pullback.core import control
from pullback.core.trace import Primitive, Tracer, dtype_of, new_trace, shape_of

__all__ = ["Body", "CaptureTrace", "trace_body"]


class CaptureTrace(GraphTrace):
    """A graph trace whose function may close over values of enclosing transformations:
    each such value becomes an input of the graph (captured once, in order of first use)."""

    __slots__ = ("captured", "captured_vars")

    def __init__(self, level: int):
        super().__init__(level)
        self.captured: list[Any] = []
        self.captured_vars: list[Var] = []

    def own(self, x: Any) -> Any:
        """``x`` as a value of this trace: foreign tracers become (captured) inputs."""
        if isinstance(x, GraphTracer) and x._trace is self:
            return x
        if not isinstance(x, Tracer):
            return x
        for k, c in enumerate(self.captured):
            if c is x:
                return GraphTracer(self, self.captured_vars[k])
        var = Var(ShapedArray(shape_of(x), dtype_of(x)))
        self.captured.append(x)
        self.captured_vars.append(var)
        return GraphTracer(self, var)

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        args = tuple(self.own(a) for a in args)
        params = map_vars(params, self.own, kind=Tracer)
        return super().process(prim, args, params)


class Body:
    """A traced sub-program: ``graph`` over ``n_in`` inputs (captured constants first).

    Calling it evaluates the graph by binding each primitive, so every transformation
    around the call sees the operations (this is how a loop body is differentiated and
    batched); :meth:`run` evaluates it with compiled NumPy code on plain arrays.
    """

    def __init__(self, graph: Graph, name: str = "body"):
        self.graph = graph
        self.name = name
        self.in_avals = [(v.aval.shape, v.aval.dtype) for v in graph.invars]
        self.out_avals = [
            (a.aval.shape, a.aval.dtype) if a.aval is not None else ((), None)
            for a in graph.outvars
        ]
        #: transformed bodies made from this one (jvp, vmap, saving...), by key
        self.derived: dict[Any, Any] = {}
        self._fn: Callable | None = None
        self._source: str | None = None

    def __repr__(self) -> str:
        return (f"<{self.name}: {len(self.graph.invars)} in, {len(self.graph.eqns)} eqns, "
                f"{len(self.graph.outvars)} out>")

    # ------------------------------------------------------------------------- evaluation

    def __call__(self, *inputs: Any) -> list[Any]:
        return self.evaluate(inputs)

    def evaluate(
        self,
        inputs: Sequence[Any],
        saved: dict[int, list[Any]] | None = None,
        reuse: Callable[[Primitive, list, dict, list], Any] | None = None,
    ) -> list[Any]:
        """The outputs, each equation bound on the inputs; the equations numbered in
        ``saved`` are handed to ``reuse(prim, inputs, params, saved_outputs)`` instead."""
        graph = self.graph
        if len(inputs) != len(graph.invars):
            raise TypeError(f"{self.name}: expected {len(graph.invars)} inputs, got {len(inputs)}")
        env: dict[Var, Any] = dict(zip(graph.invars, inputs, strict=True))

        def read(a: Any) -> Any:
            return env[a] if isinstance(a, Var) else a.value

        for k, e in enumerate(graph.eqns):
            ins = [read(a) for a in e.inputs]
            params = map_vars(e.params, lambda v: env[v])
            if saved is not None and k in saved and reuse is not None:
                out = reuse(e.prim, ins, params, saved[k])
            else:
                out = e.prim.bind(*ins, **params)
            if e.multiple:
                env.update(zip(e.outvars, out, strict=True))
            else:
                env[e.outvars[0]] = out
        return [read(a) for a in graph.outvars]

    def _compile(self) -> None:
        if self._fn is None:
            with gc_paused():
                self._fn, self._source, _ = compile_graph(simplify(self.graph), self.name)

    def compiled(self) -> Callable[..., tuple]:
        """The compiled NumPy function of :meth:`run` (the tuple of output leaves)."""
        self._compile()
        return self._fn  # type: ignore[return-value]

    def run(self, *values: Any) -> tuple:
        """The outputs for plain NumPy inputs, by the compiled code of the simplified graph."""
        if self._fn is None:
            self._compile()
        out: tuple = self._fn(*values)  # type: ignore[misc]
        return out

    @property
    def source(self) -> str:
        """The generated NumPy source of :meth:`run`."""
        self._compile()
        return self._source  # type: ignore[return-value]

    # ------------------------------------------------------------------------- saving

    def saving(self, policy: Callable[[Primitive, dict], bool]) -> tuple[Body, dict[int, list]]:
        """This body with the outputs of the equations that ``policy(prim, params)`` keeps
        added to its outputs; and, per kept equation, the positions of its outputs."""
        key = ("saving", policy)
        hit: tuple[Body, dict[int, list]] | None = self.derived.get(key)
        if hit is not None:
            return hit
        graph = self.graph
        outvars = list(graph.outvars)
        position = {id(a): k for k, a in enumerate(outvars) if isinstance(a, Var)}
        slots: dict[int, list] = {}
        for k, e in enumerate(graph.eqns):
            if e.prim.custom_rules or not policy(e.prim, e.params):
                continue
            pos = []
            for v in e.outvars:
                if id(v) not in position:
                    position[id(v)] = len(outvars)
                    outvars.append(v)
                pos.append(position[id(v)])
            slots[k] = pos
        body = Body(Graph(graph.invars, graph.eqns, outvars, name=graph.name), self.name)
        self.derived[key] = (body, slots)
        return body, slots


def trace_body(
    fn: Callable[..., Sequence[Any]], in_avals: Sequence[tuple], name: str = "body"
) -> tuple[Body, list[Any]]:
    """Trace ``fn`` (flat inputs to a flat list of outputs) on abstract inputs of the given
    ``(shape, dtype)``; return the body, whose inputs are the captured values then ``fn``'s,
    and the captured values (tracers of enclosing transformations).

    Example:
        >>> import numpy as np, pullback as pb, pullback.numpy as pnp
        >>> def outer(w):
        ...     body, captured = trace_body(lambda x: [pnp.sin(x) * w], [((2,), np.float64)])
        ...     return body(*captured, np.ones(2))[0]  # w is captured: an input
        >>> round(float(pb.grad(lambda w: pnp.sum(outer(w)))(3.0)), 4)  # 2 sin(1)
        1.6829
        >>> body, captured = trace_body(lambda x: [x * 2.0], [((2,), np.float64)])
        >>> body.run(np.ones(2)), captured
        ((array([2., 2.]),), [])
    """
    with gc_paused(), new_trace(CaptureTrace) as tr:
        args = [tr.new_input(ShapedArray(shape, dtype)) for shape, dtype in in_avals]
        outs = fn(*args)
        outvars: list[Any] = []
        for leaf in outs:
            leaf = tr.own(leaf)
            if isinstance(leaf, GraphTracer):
                outvars.append(leaf._var)
            else:
                outvars.append(Const(leaf))
        eqns = tr.eqns
    invars = tr.captured_vars + [a._var for a in args]
    graph = Graph(invars, eqns, outvars, name=name)
    return Body(graph, name), list(tr.captured)


control.register_stager(trace_body)
