"""Objects for ``--from``/``--to module:attribute`` in the command-line tests."""

from __future__ import annotations

#: One entry per instance of :class:`NotAStore` ever made (there must be none).
made: list[NotAStore] = []


class NotAStore:
    """A class that is not a Store (like a model class given by mistake):
    the command line must refuse it without instantiating it."""

    def __init__(self) -> None:
        made.append(self)
