"""The request base URL made current for ``locate()``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from imageattach.adapters.wsgi import install
from imageattach.forwarded import TrustedProxyHeaders
from imageattach.middleware.baseurl import base_url, environ_base_url, scope_base_url
from imageattach.stores.fs import HttpExposedFileSystemStore


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("http", "example.com", None, ""), "http://example.com/"),
        # An explicit port in the Host header stays, as the seed kept it.
        (("http", "example.com:80", None, ""), "http://example.com:80/"),
        (("https", "example.com:443", None, "/"), "https://example.com:443/"),
        (("http", "example.com:8080", None, ""), "http://example.com:8080/"),
        (("http", None, ("10.0.0.1", 80), ""), "http://10.0.0.1/"),
        (("https", "example.com:8443", None, "/app/"), "https://example.com:8443/app/"),
        (("http", None, ("10.0.0.1", 8000), "/app"), "http://10.0.0.1:8000/app/"),
        (("http", "h", None, "/a b/é"), "http://h/a%20b/%C3%A9/"),
        (("http", "h", None, b"/\xc3\xa9"), "http://h/%C3%A9/"),
    ],
)
def test_base_url(arguments: tuple, expected: str) -> None:  # type: ignore[type-arg]
    assert base_url(*arguments) == expected


def test_a_malformed_host_gives_no_url() -> None:
    assert base_url("http", "evil.example/<script>", None, "") is None
    assert base_url("http", None, None, "") is None


def test_forwarded_values_use_the_nearest_proxy() -> None:
    hops = TrustedProxyHeaders(x_proto=1, x_host=1)
    proxied = {
        "HTTP_HOST": "internal:8000",
        "HTTP_X_FORWARDED_PROTO": "http, https",
        "HTTP_X_FORWARDED_HOST": "spoofed, cdn.example",
    }
    assert environ_base_url(proxied, hops) == "https://cdn.example/"
    assert environ_base_url({"HTTP_HOST": "h", "HTTP_X_FORWARDED_PROTO": "gopher"}, hops) == (
        "http://h/"
    )


ONE = TrustedProxyHeaders(x_proto=1, x_host=1, x_port=1, x_prefix=1)


def environ(**extra: str) -> dict[str, str]:
    return {
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "10.0.0.5",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "10.0.0.5:8000",
        "SCRIPT_NAME": "",
        **extra,
    }


def test_the_environ_without_trust_is_the_servers() -> None:
    spoofed = environ(HTTP_X_FORWARDED_HOST="evil.example", HTTP_FORWARDED="host=evil")
    assert environ_base_url(spoofed, None) == "http://10.0.0.5:8000/"


def test_trusted_x_forwarded_headers_with_a_script_name() -> None:
    proxied = environ(
        SCRIPT_NAME="/sub",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="example.com",
        HTTP_X_FORWARDED_PORT="443",
        HTTP_X_FORWARDED_PREFIX="/app",
    )
    # The forwarded port is the proxy's: its default is dropped.
    assert environ_base_url(proxied, ONE) == "https://example.com/app/sub/"
    proxied["HTTP_X_FORWARDED_PORT"] = "8443"
    assert environ_base_url(proxied, ONE) == "https://example.com:8443/app/sub/"


def test_a_forwarded_port_replaces_the_host_headers() -> None:
    assert environ_base_url(environ(HTTP_X_FORWARDED_PORT="9000"), ONE) == "http://10.0.0.5:9000/"
    ipv6 = environ(HTTP_HOST="[::1]", HTTP_X_FORWARDED_PORT="9000")
    assert environ_base_url(ipv6, ONE) == "http://[::1]:9000/"


def start_response(*args: Any) -> Callable[[bytes], object]:
    return lambda data: None


def test_an_environ_proxyfix_rewrote_is_not_rewritten_twice() -> None:
    seen: list[str | None] = []

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ_base_url(env, ONE))
        return []

    proxied = environ(
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="example.com",
        HTTP_X_FORWARDED_PREFIX="/app",
    )
    ProxyFix(app, x_proto=1, x_host=1, x_prefix=1)(proxied, start_response)
    assert seen == ["https://example.com/app/"]


def test_rfc_7239_in_an_environ() -> None:
    trust = TrustedProxyHeaders(forwarded=1)
    forwarded = environ(HTTP_FORWARDED='proto=https;host="example.com"')
    assert environ_base_url(forwarded, trust) == "https://example.com/"


def test_a_scope() -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "server": ("10.0.0.5", 8000),
        "root_path": "/root",
        "headers": [
            (b"host", b"10.0.0.5:8000"),
            (b"x-forwarded-host", b"spoofed.example"),
            (b"x-forwarded-host", b"example.com"),
            (b"x-forwarded-proto", b"https"),
        ],
    }
    assert scope_base_url(scope, None) == "http://10.0.0.5:8000/root/"
    # Two header fields are one list: the last value is the nearest proxy's.
    assert scope_base_url(scope, ONE) == "https://example.com/root/"
    websocket = {**scope, "type": "websocket", "scheme": "wss"}
    assert scope_base_url(websocket, None) == "https://10.0.0.5:8000/root/"
    assert scope_base_url({"type": "http", "headers": []}, None) is None


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        (False, "http://10.0.0.5:8000/"),
        (True, "https://example.com/"),
        ("forwarded", "https://rfc.example/"),
        ("x_proto=1", "https://10.0.0.5:8000/"),
    ],
)
def test_the_store_middleware_alone_trusts_only_what_is_configured(
    tmp_path: Path, trust: object, expected: str
) -> None:
    store = HttpExposedFileSystemStore(tmp_path, trusted_proxy_headers=trust)

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [store.base_url.encode()]

    headers = {
        "Host": "10.0.0.5:8000",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.com",
        "Forwarded": "proto=https;host=rfc.example",
    }
    expected += "__images__/"
    # Through an adapter and through the store's own middleware alone alike.
    assert Client(install(app, store)).get("/", headers=headers).text == expected
    assert Client(store.wsgi_middleware(app)).get("/", headers=headers).text == expected


PREFIXED = {
    "Host": "10.0.0.5:8000",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "example.com",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-Prefix": "/app",
}


def test_the_store_middleware_alone_applies_port_and_prefix(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, trusted_proxy_headers=True)

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [store.base_url.encode()]

    got = Client(store.wsgi_middleware(app)).get("/", headers=PREFIXED).text
    assert got == "https://example.com:8443/app/__images__/"


def test_the_store_middleware_sees_a_proxyfix_inside_it(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path)  # trusts nothing itself

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [store.base_url.encode()]

    inside = ProxyFix(app, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    got = Client(store.wsgi_middleware(inside)).get("/", headers=PREFIXED).text
    assert got == "https://example.com:8443/app/__images__/"


def test_the_asgi_middleware_sees_a_proxy_headers_middleware_inside_it(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = store.base_url.encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    served = store.asgi_middleware(ProxyHeadersMiddleware(app, trusted_hosts="*"))

    async def fetch() -> str:
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
            return (await client.get("/", headers={"X-Forwarded-Proto": "https"})).text

    assert asyncio.run(fetch()) == "https://internal/__images__/"
