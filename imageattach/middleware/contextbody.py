"""WSGI response bodies iterated and closed inside a request's context.

A WSGI app's work continues after it returns: the server iterates the body,
perhaps in another thread (granian does), and calls ``close()``.  Both the
serving middleware (the request's host URL) and the framework adapters (the
request's store) run the app in a copied :class:`contextvars.Context`; this
module keeps the body's iteration and closing in that same context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["in_context"]


class _ContextBody:
    __slots__ = ("_body", "_context", "_next", "_on_close")

    def __init__(
        self,
        body: Iterable[bytes],
        context: contextvars.Context,
        on_close: Callable[[], object] | None,
    ) -> None:
        self._body = body
        self._context = context
        self._on_close = on_close
        self._next = context.run(iter, body).__next__

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return self._context.run(self._next)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._context.run(close)
        finally:
            if self._on_close is not None:
                self._context.run(self._on_close)


def in_context(
    body: Iterable[bytes],
    context: contextvars.Context,
    environ: dict[str, Any] | None = None,
    on_close: Callable[[], object] | None = None,
) -> Iterable[bytes]:
    """``body``, iterated and closed in ``context``; ``on_close`` runs in it
    once the body is closed (or at once, when there is nothing left to run).

    Lists and the server's ``wsgi.file_wrapper`` run no application code while
    they are sent, so they are returned as they are; wrapping a file wrapper
    would also cost the server its ``sendfile`` path.
    """
    file_wrapper = None if environ is None else environ.get("wsgi.file_wrapper")
    if isinstance(body, list | tuple | bytes) or (
        isinstance(file_wrapper, type) and isinstance(body, file_wrapper)
    ):
        if on_close is not None:
            context.run(on_close)
        return body
    try:
        return _ContextBody(body, context, on_close)
    except BaseException:
        if on_close is not None:
            context.run(on_close)
        raise
