"""Response bodies iterated and closed in the request's context."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator

from imageattach.middleware.contextbody import in_context

current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="server")


def test_a_generator_runs_and_closes_in_the_context_even_from_another_thread() -> None:
    context = contextvars.copy_context()
    context.run(current.set, "request")
    seen: list[str] = []

    def body() -> Iterator[bytes]:
        try:
            seen.append(current.get())
            yield b"a"
            seen.append(current.get())
            yield b"b"
        finally:
            seen.append("closed in " + current.get())

    wrapped = in_context(body(), context, {}, lambda: seen.append("on_close in " + current.get()))
    chunks: list[bytes] = []
    thread = threading.Thread(target=lambda: chunks.extend([next(iter(wrapped))]))
    thread.start()
    thread.join()
    chunks.append(next(iter(wrapped)))
    wrapped.close()  # type: ignore[attr-defined]

    assert chunks == [b"a", b"b"]
    assert seen == ["request", "request", "closed in request", "on_close in request"]
    assert current.get() == "server"


def test_lists_are_returned_as_they_are_and_on_close_runs_at_once() -> None:
    context = contextvars.copy_context()
    closed: list[bool] = []
    body = [b"x"]
    assert in_context(body, context, {}, lambda: closed.append(True)) is body
    assert closed == [True]
