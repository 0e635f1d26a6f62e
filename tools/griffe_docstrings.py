"""A Griffe extension used by the documentation site (``mkdocs.yml``): it reads pullback's
docstrings as they are written and adapts them to what mkdocstrings renders.

- An ``Example:`` section becomes ``Examples:``, so that its ``>>>`` lines are rendered as
  Python sessions (Google style knows only the plural; the singular would be an admonition
  whose ``>>>`` lines Markdown reads as nested quotes).
- Sphinx roles (``:func:`report```, ``:class:`~pullback.check.Report```) become code spans.
- A paragraph ending in ``::`` (reStructuredText's literal-block marker) ends in ``:``; the
  indented block after it is a Markdown code block already.
- Public functions made by a factory at import time (``erf = _unary("erf", ...)`` in
  ``pullback.scipy.special``) are attributes to a static reader, without a signature or a
  docstring; they are replaced by what inspecting the imported module finds, so that they
  are documented like functions written with ``def``.

The source files are not changed; only what the site shows.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj|const):`~?([^`]+)`")
_LITERAL_MARKER = re.compile(r"::$", re.M)


def rewrite(text: str) -> str:
    """The docstring ``text`` with the rewrites above applied.

    Example:
        >>> rewrite("See :func:`report`::\\n\\nExample:\\n    >>> 1\\n    1")
        'See `report`:\\n\\nExamples:\\n    >>> 1\\n    1'
    """
    text = _EXAMPLE_HEADING.sub(r"\1Examples:", text)
    text = _ROLE.sub(r"`\1`", text)
    return _LITERAL_MARKER.sub(":", text)


def _rewrite_docstrings(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = rewrite(obj.docstring.value)


def _public_names(mod: griffe.Module) -> set[str]:
    exported = mod.exports
    if exported is not None:
        return {name for name in exported if isinstance(name, str)}
    return {name for name in mod.members if not name.startswith("_")}


def _made_by_a_call(member: griffe.Object | griffe.Alias) -> bool:
    return (not member.is_alias and member.is_attribute
            and isinstance(member.value, griffe.ExprCall))


def _import_root(mod: griffe.Module) -> Path:
    """The folder to import ``mod`` from (``src`` for ``src/pullback/scipy/special.py``)."""
    path = Path(mod.filepath)
    for _ in mod.path.split("."):
        path = path.parent
    return path.parent if Path(mod.filepath).name == "__init__.py" else path


class DocstringForMarkdown(griffe.Extension):
    """Rewrite each docstring once the object tree is complete, and document factory-made
    public functions from the imported module."""

    def on_module(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        names = [name for name in sorted(_public_names(mod))
                 if name in mod.members and _made_by_a_call(mod.members[name])]
        if not names:
            return
        # parse the inspected docstrings as the loader parses the static ones
        style = mod.docstring.parser if mod.docstring is not None else None
        options = mod.docstring.parser_options if mod.docstring is not None else None
        runtime = griffe.inspect(mod.path, filepath=Path(mod.filepath),
                                 import_paths=[_import_root(mod), *sys.path],
                                 docstring_parser=style or griffe.Parser.google,
                                 docstring_options=options or {})
        for name in names:
            found = runtime.members.get(name)
            if found is not None and not found.is_alias and found.is_function:
                found.lineno = mod.members[name].lineno
                found.endlineno = mod.members[name].endlineno
                _rewrite_docstrings(found)
                mod.set_member(name, found)

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        _rewrite_docstrings(obj)
