"""The compiler behind ``pb.jit`` and ``pb.make_graph``, one module per stage.

- :mod:`~pullback.compile.values`: the IR's atoms (abstract values, variables, constants,
  equations) and :class:`ConcretizationError`;
- :mod:`~pullback.compile.ir`: the :class:`Graph`, its printing and Graphviz rendering;
- :mod:`~pullback.compile.trace`: tracing a function into a graph (``make_graph``);
- :mod:`~pullback.compile.passes`: the simplification passes;
- :mod:`~pullback.compile.codegen_numpy`: the NumPy code generator;
- :mod:`~pullback.compile.jit`: ``pb.jit``, its cache and the compiled-function object.

Imports point down this list: a stage uses the stages above it, never those below.
"""
