"""The core: the trace machinery, free of the NumPy namespace layer.

- :mod:`~pullback.core.trace`: ``Primitive``, ``bind``, the thread-local trace stack, the
  ``Tracer`` base class and the symbolic ``zero``;
- :mod:`~pullback.core.tree`: pytrees;
- :mod:`~pullback.core.rules`: the rule kinds (elementwise, linear, bilinear, nondiff,
  per-argument ``defvjp``/``defjvp``);
- :mod:`~pullback.core.forward` and :mod:`~pullback.core.reverse`: the JVP and VJP traces
  and the backward pass;
- :mod:`~pullback.core.batching`: ``vmap``;
- :mod:`~pullback.core.api`: ``vjp``, ``jvp``, ``grad``, Jacobians, Hessians, ``linearize``.

The core imports nothing of ``pullback.numpy``, ``pullback.scipy``, ``pullback.check`` or
``pullback.compile`` (``tests/test_layout.py`` holds it to that).
"""
