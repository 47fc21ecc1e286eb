"""Docstring helpers kept from SQLAlchemy-ImageAttach (``sqlalchemy_imageattach.util``).

They adjust docstrings at run time, e.g. to document descriptors that a
class defines programmatically.  imageattach itself does not use them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

__all__ = ["append_docstring", "append_docstring_attributes", "get_minimum_indent"]


def get_minimum_indent(docstring: str, ignore_before: int = 1) -> str:
    r"""The shortest leading whitespace of the non-blank lines of
    ``docstring``, from line ``ignore_before`` on (the first line of a
    :pep:`257` docstring is not indented, so it is skipped by default)::

        >>> get_minimum_indent('Hello')
        ''
        >>> get_minimum_indent('Hello\n    world::\n        yeah')
        '    '
    """
    shortest: str | None = None
    for line in docstring.splitlines()[ignore_before:]:
        stripped = line.lstrip()
        if not stripped:
            continue
        indent = line[: len(line) - len(stripped)]
        if shortest is None or len(indent) < len(shortest):
            shortest = indent
    return shortest or ""


def append_docstring(docstring: str, *lines: str) -> str:
    """``docstring`` followed by ``lines``, each on a line of its own and
    indented as the docstring's body (blank lines stay empty)::

        >>> append_docstring('Summary.\\n\\n    Body.\\n    ', '', 'More.')
        'Summary.\\n\\n    Body.\\n    \\n\\n    More.'
    """
    indent = get_minimum_indent(docstring)
    return docstring + "".join("\n" + (indent + line if line.strip() else "") for line in lines)


def append_docstring_attributes(docstring: str | None, locals: Mapping[str, object]) -> str:
    """``docstring`` (``None`` counts as empty) with an ``.. attribute::``
    section for each value in ``locals`` that has a docstring of its own,
    in ``locals``' order; values without one are left out."""
    result = docstring or ""
    for name, value in locals.items():
        doc = value.__doc__
        if not doc:
            continue
        # Indent the first line like the rest before dedenting the whole.
        body = textwrap.dedent(get_minimum_indent(doc) + doc)
        result = append_docstring(
            result,
            "",
            ".. attribute:: " + name,
            "",
            *("   " + line for line in body.splitlines()),
        )
    return result
