"""Image URLs follow the request the application sees: garbage collection of
an abandoned response never clears a later request's URL, ``ProxyFix`` works
in either order, forwarded headers are trusted from each framework's
configuration, and an explicit port is kept."""

from __future__ import annotations

import asyncio
import gc
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bottle
import flask
import httpx
import pytest
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from imageattach.adapters import asgi, wsgi
from imageattach.adapters.bottle import ImageAttachPlugin
from imageattach.adapters.flask import ImageAttach
from imageattach.adapters.pyramid import get_store
from imageattach.adapters.scoped import environ_host_url, scope_host_url
from imageattach.adapters.starlette import ImageAttachMiddleware
from imageattach.context import get_current_store
from imageattach.exceptions import ConfigurationError, ContextError
from imageattach.hosturl import current_host_url
from imageattach.store import Store
from imageattach.stores.fs import HttpExposedFileSystemStore

PROXIED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "example.com",
    "X-Forwarded-Prefix": "/app",
}
PUBLIC = "https://example.com/app/__images__/"


def where(store: Store) -> str:
    """What a view returns: the URL base its images get (checking that the
    store is the current one)."""
    assert isinstance(store, HttpExposedFileSystemStore)
    assert get_current_store() is store
    return store.base_url


# -- garbage collection ------------------------------------------------------


def flask_app(store: HttpExposedFileSystemStore) -> flask.Flask:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)

    @app.get("/stream")
    def stream() -> flask.Response:
        def chunks() -> Iterator[str]:
            yield where(store)
            yield "more"

        return flask.Response(flask.stream_with_context(chunks()))

    @app.get("/plain-stream")
    def plain_stream() -> flask.Response:
        def chunks() -> Iterator[str]:
            yield where(store)
            yield "more"

        return flask.Response(chunks())

    @app.get("/collect")
    def collect() -> str:
        before = where(store)
        gc.collect()
        return f"{before} {where(store)}"

    return app


@pytest.mark.parametrize("view", ["/stream", "/plain-stream"])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_abandoned_response_collected_later_leaves_the_next_request_alone(
    tmp_path: Path, view: str
) -> None:
    store = HttpExposedFileSystemStore(tmp_path)
    client = flask_app(store).test_client()
    gc.disable()
    try:
        for _ in range(3):
            abandoned = client.get(view, buffered=False)
            assert next(iter(abandoned.response)) == b"http://localhost/__images__/"
            abandoned.cycle = abandoned  # type: ignore[attr-defined]  # freed only by the GC
            del abandoned
            response = client.get("/collect", base_url="http://other.example/")
            assert response.status_code == 200
            assert response.text == (
                "http://other.example/__images__/ http://other.example/__images__/"
            )
    finally:
        gc.enable()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_collections_in_threads_never_mix_up_urls(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path)
    app = flask_app(store)
    failures: list[str] = []

    def run(index: int) -> None:
        client = app.test_client()
        host = f"http://host{index}.example/"
        for _ in range(20):
            abandoned = client.get("/stream", base_url=host, buffered=False)
            next(iter(abandoned.response))
            abandoned.cycle = abandoned  # type: ignore[attr-defined]
            del abandoned
            response = client.get("/collect", base_url=host)
            expected = f"{host}__images__/ {host}__images__/"
            if response.status_code != 200 or response.text != expected:
                failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_app_context_collected_later_does_not_pop_the_next_requests_store(
    tmp_path: Path,
) -> None:
    """Flask's app-context teardown runs when the abandoned stream is
    finalised; the store it pushed was in another context."""
    store = HttpExposedFileSystemStore(tmp_path)
    app = flask_app(store)
    gc.disable()
    try:
        abandoned = Client(app).get("/stream", buffered=False)
        next(iter(abandoned.response))
        abandoned.cycle = abandoned  # type: ignore[attr-defined]
        del abandoned
        with app.app_context():  # pushes the store in this (the test's) context
            gc.collect()
            assert get_current_store() is store
        with pytest.raises(ContextError):  # and its own teardown popped it
            get_current_store()
    finally:
        gc.enable()


# -- ProxyFix in either order ------------------------------------------------


def proxy_fix(app: Any) -> Any:
    return ProxyFix(app, x_proto=1, x_host=1, x_prefix=1)


@pytest.mark.parametrize("order", ["proxyfix-first", "extension-first"])
def test_flask_with_proxyfix_in_either_order(tmp_path: Path, order: str) -> None:
    store = HttpExposedFileSystemStore(tmp_path)
    app = flask.Flask(__name__)
    if order == "proxyfix-first":  # Flask's documented order: ProxyFix ends up inside
        app.wsgi_app = proxy_fix(app.wsgi_app)  # type: ignore[method-assign]
        ImageAttach(app, store=store)
    else:
        ImageAttach(app, store=store)
        app.wsgi_app = proxy_fix(app.wsgi_app)  # type: ignore[method-assign]

    @app.get("/")
    def index() -> str:
        return f"{where(store)} {flask.request.url_root}"

    @app.get("/stream")
    def stream() -> flask.Response:
        return flask.Response(where(store) for _ in range(2))

    client = app.test_client()
    assert client.get("/", headers=PROXIED).text == f"{PUBLIC} https://example.com/app/"
    assert client.get("/stream", headers=PROXIED).text == PUBLIC * 2
    # Without the headers: the request's own URL.
    assert client.get("/").text == "http://localhost/__images__/ http://localhost/"


@pytest.mark.parametrize("order", ["proxyfix-inside", "proxyfix-outside"])
def test_pyramid_with_proxyfix_in_either_order(tmp_path: Path, order: str) -> None:
    config = Configurator(settings={"imageattach.store_path": str(tmp_path)})
    config.include("imageattach.adapters.pyramid")

    def index(request: Request) -> Response:
        return Response(where(request.imageattach_store))

    config.add_route("index", "/")
    config.add_view(index, route_name="index")
    router = config.make_wsgi_app()
    store = get_store(router.registry)
    if order == "proxyfix-inside":
        app = wsgi.serve(proxy_fix(router), store)
    else:
        app = proxy_fix(wsgi.serve(router, store))
    assert Client(app).get("/", headers=PROXIED).text == PUBLIC


@pytest.mark.parametrize("order", ["proxyfix-inside", "proxyfix-outside"])
def test_bottle_with_proxyfix_in_either_order(tmp_path: Path, order: str) -> None:
    store = HttpExposedFileSystemStore(tmp_path)
    app = bottle.Bottle()
    app.route("/", callback=lambda: where(store))
    if order == "proxyfix-inside":  # the serving middleware, ProxyFix, Bottle
        app.install(ImageAttachPlugin(store, serve=False))
        served: Any = wsgi.serve(proxy_fix(app), store)
    else:
        app.install(ImageAttachPlugin(store))
        served = proxy_fix(app)
    assert Client(served).get("/", headers=PROXIED).text == PUBLIC


@pytest.mark.parametrize("order", ["proxyfix-inside", "proxyfix-outside"])
def test_any_wsgi_app_with_proxyfix_in_either_order(tmp_path: Path, order: str) -> None:
    store = HttpExposedFileSystemStore(tmp_path)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [where(store).encode()]

    if order == "proxyfix-inside":
        served = wsgi.install(proxy_fix(app), store)
    else:
        served = proxy_fix(wsgi.install(app, store))
    assert Client(served).get("/", headers=PROXIED).text == PUBLIC


@pytest.mark.parametrize("order", ["proxy-headers-inside", "proxy-headers-outside"])
def test_starlette_with_uvicorns_proxy_headers_in_either_order(tmp_path: Path, order: str) -> None:
    store = HttpExposedFileSystemStore(tmp_path)

    async def index(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse(where(store))

    middleware = [Middleware(ImageAttachMiddleware, store=store)]
    proxy = Middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    middleware = [*middleware, proxy] if order == "proxy-headers-inside" else [proxy, *middleware]
    app = Starlette(routes=[Route("/", index)], middleware=middleware)
    response = asyncio.run(get(app, {"X-Forwarded-Proto": "https"}))
    # uvicorn's middleware sets the scheme only: the host is the Host header.
    assert response.text == "https://internal:8000/__images__/"


async def get(app: Any, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as client:
        return await client.get("/", headers=headers)


# -- trusted forwarded headers from configuration -------------------------


def test_flask_config_trusts_forwarded_headers(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    app.config.update(
        IMAGEATTACH_STORE_PATH=str(tmp_path), IMAGEATTACH_TRUSTED_PROXY_HEADERS="true"
    )
    extension = ImageAttach(app)
    app.get("/")(lambda: where(extension.store))
    with app.app_context():
        assert app.test_client().get("/", headers=PROXIED).text == PUBLIC
        spoofed = {"Forwarded": "host=evil.example;proto=https"}
        assert app.test_client().get("/", headers=spoofed).text == ("http://localhost/__images__/")


def test_flask_config_is_validated_at_init(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    app.config.update(
        IMAGEATTACH_STORE_PATH=str(tmp_path), IMAGEATTACH_TRUSTED_PROXY_HEADERS="maybe"
    )
    with pytest.raises(ConfigurationError, match="IMAGEATTACH_TRUSTED_PROXY_HEADERS"):
        ImageAttach(app)
    app.config["IMAGEATTACH_TRUSTED_PROXY_HEADERS"] = True
    app.config["IMAGEATTACH_TRUSTED_PROXY_HEADER"] = True
    with pytest.raises(ConfigurationError) as raised:
        ImageAttach(app)
    message = str(raised.value)
    assert "did you mean 'IMAGEATTACH_TRUSTED_PROXY_HEADERS'?" in message
    # The store's serving options are listed with the adapter's settings.
    for name in ("IMAGEATTACH_SECRET_KEY", "IMAGEATTACH_MISSING", "IMAGEATTACH_FOLLOW_SYMLINKS"):
        assert name in message


def test_pyramid_settings_trust_rfc_7239_forwarded(tmp_path: Path) -> None:
    config = Configurator(
        settings={
            "imageattach.store_path": str(tmp_path),
            "imageattach.trusted_proxy_headers": "forwarded",
        }
    )
    config.include("imageattach.adapters.pyramid")
    config.add_route("index", "/")
    config.add_view(lambda request: Response(where(request.imageattach_store)), route_name="index")
    router = config.make_wsgi_app()
    client = Client(wsgi.serve(router, get_store(router.registry)))
    forwarded = {"Forwarded": 'for=1.2.3.4;host="evil.example", proto=https;host=example.com'}
    assert client.get("/", headers=forwarded).text == "https://example.com/__images__/"
    # X-Forwarded-* is not what this proxy sets: ignored.
    assert client.get("/", headers=PROXIED).text == "http://localhost/__images__/"


def test_pyramid_settings_are_validated_at_include(tmp_path: Path) -> None:
    config = Configurator(
        settings={"imageattach.store_path": str(tmp_path), "imageattach.trusted_proxies": "1"}
    )
    with pytest.raises(
        ConfigurationError, match=re.escape("did you mean 'imageattach.trusted_proxy_headers'")
    ):
        config.include("imageattach.adapters.pyramid")


def test_bottle_config_trusts_two_proxies(tmp_path: Path) -> None:
    app = bottle.Bottle()
    app.config.update(
        {"imageattach.store_path": str(tmp_path), "imageattach.trusted_proxy_headers": "2"}
    )
    plugin = ImageAttachPlugin()
    app.install(plugin)
    app.route("/", callback=lambda: where(plugin.store))
    headers = {
        "X-Forwarded-Proto": "https, http",
        "X-Forwarded-Host": "example.com, lb.internal",
        "X-Forwarded-Port": "8443, 80",
    }
    assert Client(app).get("/", headers=headers).text == "https://example.com:8443/__images__/"


def test_bottle_config_is_validated_at_install(tmp_path: Path) -> None:
    app = bottle.Bottle()
    app.config.update(
        {"imageattach.store_path": str(tmp_path), "imageattach.trusted_proxy_headers": "-1"}
    )
    with pytest.raises(ConfigurationError):
        app.install(ImageAttachPlugin())


def test_asgi_install_reads_x_forwarded_port_and_prefix(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, trusted_proxy_headers=True)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = where(store).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.com",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/app",
    }
    response = asyncio.run(get(asgi.install(app, store), headers))
    assert response.text == "https://example.com:8443/app/__images__/"


# -- ports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://example.com:8080/", "http://example.com:8080/__images__/"),
        ("http://localhost:80/", "http://localhost:80/__images__/"),
        ("https://example.com:8443/", "https://example.com:8443/__images__/"),
        ("http://[::1]:8080/", "http://[::1]:8080/__images__/"),
    ],
)
def test_an_explicit_port_is_kept(tmp_path: Path, base_url: str, expected: str) -> None:
    store = HttpExposedFileSystemStore(tmp_path)
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)
    app.get("/")(lambda: where(store))
    assert app.test_client().get("/", base_url=base_url).text == expected


def test_a_configured_host_url_with_a_port_is_kept(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    app.config.update(
        IMAGEATTACH_STORE_PATH=str(tmp_path), IMAGEATTACH_HOST_URL="http://example.com:8080/"
    )
    extension = ImageAttach(app)
    app.get("/")(lambda: extension.store.base_url)  # type: ignore[attr-defined]
    assert app.test_client().get("/").text == "http://example.com:8080/__images__/"


def test_the_memoised_url_follows_changes_to_the_environ_and_scope(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, trusted_proxy_headers=True)
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "a.example"}
    with environ_host_url(store, lambda: environ):
        assert current_host_url() == "http://a.example/"
        environ["HTTP_X_FORWARDED_HOST"] = "b.example"
        assert current_host_url() == "http://b.example/"
    scope: dict[str, Any] = {"type": "http", "scheme": "http", "headers": [(b"host", b"a")]}
    with scope_host_url(store, scope):
        assert current_host_url() == "http://a/"
        scope["scheme"] = "https"  # as uvicorn's ProxyHeadersMiddleware does
        assert current_host_url() == "https://a/"
        scope["headers"] = [(b"host", b"c")]
        assert current_host_url() == "https://c/"
