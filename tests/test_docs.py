"""Documentation: every public function has a docstring with an example, and the examples run."""

import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import pullback


def _modules():
    names = ["pullback"]
    for info in pkgutil.walk_packages(pullback.__path__, "pullback."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, extraglobs={"np": np}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def _public_functions():
    seen = set()
    for name in MODULES:
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        if public is None or name.split(".")[-1].startswith("_"):
            continue
        for attr in public:
            obj = getattr(module, attr, None)
            if inspect.isfunction(obj) and id(obj) not in seen:
                seen.add(id(obj))
                yield pytest.param(obj, id=f"{name}.{attr}")


@pytest.mark.parametrize("obj", list(_public_functions()))
def test_public_function_has_docstring_with_example(obj):
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc, f"{obj.__module__}.{obj.__qualname__} has no example in its docstring"
