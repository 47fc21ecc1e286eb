"""Response bodies iterated and closed in the request's context."""

from __future__ import annotations

import contextvars
import gc
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from imageattach.adapters.wsgi import install
from imageattach.hosturl import current_host_url, host_url_context
from imageattach.middleware.contextbody import in_context
from imageattach.stores.fs import HttpExposedFileSystemStore

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


# -- the request's base URL survives the garbage collection of another's --


def _gc_app(seen: list[object]) -> Callable[..., Iterator[bytes]]:
    """A WSGI app whose ``/collect`` runs the cyclic GC mid-request."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/collect":
            before = current_host_url()
            gc.collect()
            seen.append((before, current_host_url()))
        yield (current_host_url() or "none").encode()
        yield b"."

    return app


@pytest.mark.parametrize("make", ["wsgi", "install"])
def test_an_abandoned_body_collected_in_a_later_request_leaves_its_url(
    tmp_path: Path, make: str
) -> None:
    """The seed's bug: the abandoned body's context manager, finalised by the
    GC during the later request, reset that request's URL to ``None``."""
    seen: list[object] = []
    store = HttpExposedFileSystemStore(tmp_path)
    app = _gc_app(seen)
    served = store.wsgi_middleware(app) if make == "wsgi" else install(app, store)
    client = Client(served)
    gc.disable()
    try:
        abandoned = client.get("/stream", base_url="http://first.example/", buffered=False)
        assert next(iter(abandoned.response)) == b"http://first.example/"
        abandoned.cycle = abandoned  # type: ignore[attr-defined]  # only the GC frees it
        del abandoned
        response = client.get("/collect", base_url="http://second.example/")
    finally:
        gc.enable()
    assert seen == [("http://second.example/", "http://second.example/")]
    assert response.text == "http://second.example/."
    assert current_host_url() is None


def test_a_host_url_context_restores_only_in_its_own_context() -> None:
    manager = host_url_context("http://a.example")
    context = contextvars.copy_context()
    context.run(manager.__enter__)
    assert context.run(current_host_url) == "http://a.example/"
    with host_url_context("http://b.example/"):
        manager.__exit__(None, None, None)  # another context: a no-op
        assert current_host_url() == "http://b.example/"
    assert current_host_url() is None


def test_a_host_url_context_exits_nothing_once_another_is_current() -> None:
    def scenario() -> None:
        outer = host_url_context("http://a.example/")
        inner = host_url_context("http://b.example/")
        outer.__enter__()
        inner.__enter__()
        outer.__exit__(None, None, None)  # not the current value: left alone
        assert current_host_url() == "http://b.example/"
        inner.__exit__(None, None, None)
        assert current_host_url() == "http://a.example/"

    contextvars.copy_context().run(scenario)
    assert current_host_url() is None


def test_a_host_url_may_be_computed_when_needed() -> None:
    environ = {"HTTP_HOST": "before"}
    with host_url_context(lambda: f"http://{environ['HTTP_HOST']}"):
        environ["HTTP_HOST"] = "after.example"
        assert current_host_url() == "http://after.example/"


def test_an_abandoned_asgi_request_collected_later_leaves_the_others_url(
    tmp_path: Path,
) -> None:
    """A coroutine dropped mid-request (a server task that was never
    finished) is closed by the GC wherever it runs: its ``with`` blocks
    exit there, and must not touch that context's URL or store."""
    from imageattach.adapters.asgi import install as asgi_install
    from imageattach.context import get_current_store, store_context

    store = HttpExposedFileSystemStore(tmp_path)
    other = HttpExposedFileSystemStore(tmp_path / "other")

    class Suspend:
        def __await__(self) -> Generator[None, None, None]:
            yield None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Suspend()

    scope = {"type": "http", "method": "GET", "path": "/", "scheme": "http",
             "headers": [(b"host", b"first.example")], "query_string": b""}  # fmt: skip
    served_apps: list[Any] = [store.asgi_middleware(app), asgi_install(app, store)]
    for served in served_apps:
        coroutine = served(scope, None, None)
        contextvars.copy_context().run(coroutine.send, None)  # suspended in the app
        holder: list[object] = [coroutine]
        holder.append(holder)  # a cycle: only the GC frees it
        del coroutine, holder

        def later() -> tuple[str | None, object]:
            with host_url_context("http://second.example/"), store_context(other):
                gc.collect()
                return current_host_url(), get_current_store()

        gc.disable()
        try:
            assert contextvars.copy_context().run(later) == ("http://second.example/", other)
        finally:
            gc.enable()
