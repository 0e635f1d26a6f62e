"""A Griffe extension used by the documentation site (``mkdocs.yml``): it reads pullback's
docstrings as they are written and rewrites the few reStructuredText habits in them into
the Markdown that mkdocstrings renders.

- An ``Example:`` section becomes ``Examples:``, so that its ``>>>`` lines are rendered as
  Python sessions (Google style knows only the plural; the singular would be an admonition
  whose ``>>>`` lines Markdown reads as nested quotes).
- Sphinx roles (``:func:`report```, ``:class:`~pullback.check.Report```) become code spans.
- A paragraph ending in ``::`` (reStructuredText's literal-block marker) ends in ``:``; the
  indented block after it is a Markdown code block already.

The source files are not changed; only what the site shows.
"""

from __future__ import annotations

import re
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


class DocstringForMarkdown(griffe.Extension):
    """Rewrite each docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
