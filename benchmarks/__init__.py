"""The benchmark suite of pullback: ``python benchmarks/run.py`` (or ``make bench``).

See ``benchmarks/README.md``. Nothing here is imported by the library or its tests, except
``tests/test_benchmarks.py``, which checks the baselines' gradients against pullback.
"""
