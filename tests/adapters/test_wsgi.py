"""The framework-neutral WSGI store-context middleware."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.test import Client
from werkzeug.wsgi import FileWrapper

from imageattach.adapters.wsgi import StoreContextMiddleware, in_context, install, request_context
from imageattach.hosturl import current_host_url, host_url_context
from imageattach.store import Store

Current = Callable[[], Store | None]


def test_streamed_body_keeps_the_host_url_the_serving_middleware_set(
    store: Store, current: Current
) -> None:
    seen: list[tuple[Store | None, str | None]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def body() -> Iterator[bytes]:
            seen.append((current(), current_host_url()))
            yield b"x"

        start_response("200 OK", [])
        return body()

    inner = StoreContextMiddleware(app, store)

    def serving_middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # Like the real one: the host URL is current only during the call.
        with host_url_context("http://testhost/"):
            return inner(environ, start_response)

    assert Client(serving_middleware).get("/").get_data() == b"x"
    assert seen == [(store, "http://testhost/")]
    assert current_host_url() is None


def test_lists_and_file_wrappers_pass_through(store: Store) -> None:
    body = [b"a"]
    context = request_context(store)
    assert in_context(body, context) is body
    wrapped = FileWrapper(open(__file__, "rb"))  # noqa: SIM115 - closed below
    try:
        assert in_context(wrapped, context, {"wsgi.file_wrapper": FileWrapper}) is wrapped
        assert in_context(wrapped, context, {}) is not wrapped
    finally:
        wrapped.close()


def test_install_without_a_serving_store_only_adds_the_context(store: Store) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b""]

    installed = install(app, store)
    assert isinstance(installed, StoreContextMiddleware)
    assert installed.app is app
