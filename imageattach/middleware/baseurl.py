"""The base URL of a request (``scheme://host/root/``), which the front ends
make current for ``locate()`` while the wrapped app runs.

Built per request, never remembered: the seed kept the first request's
``Host`` for the life of the process (host-header poisoning).  Forwarded
headers count only when trusted, and are read by :mod:`imageattach.forwarded`.

An explicit port in the ``Host`` header is kept as the client sent it, even
the scheme's default one (``http://localhost:80/``), as the seed kept it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from werkzeug.sansio.utils import get_host

from ..forwarded import NOTHING, Forwarded, TrustedProxyHeaders, parse_forwarded

__all__ = [
    "ENVIRON_KEYS",
    "base_url",
    "environ_base_url",
    "environ_url_getter",
    "scope_base_url",
    "scope_key",
    "scope_url_getter",
]

#: The environ entries :func:`environ_base_url` reads: while they are
#: unchanged, so is its result.
ENVIRON_KEYS = (
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
    "werkzeug.proxy_fix.orig",
)

# Characters a URL path keeps as they are (WHATWG path segment), '%' included
# so that an already quoted root path is not quoted twice.
_SAFE = "!$&'()*+,/:;=@%"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Images are fetched over HTTP, also by the page of a WebSocket's app.
_WEBSOCKET_SCHEMES = {"ws": "http", "wss": "https"}


def base_url(
    scheme: str,
    host_header: str | None,
    server: tuple[str, int | None] | None,
    root_path: str | bytes,
    *,
    forwarded: Forwarded = NOTHING,
) -> str | None:
    """``scheme://host/root/``, or ``None`` if there is no usable host.

    :param forwarded: the trusted forwarded values (see
        :func:`imageattach.forwarded.parse_forwarded`).
    """
    if forwarded.proto:
        scheme = forwarded.proto
    if forwarded.host:
        host = forwarded.host
    elif host_header:
        # get_host validates the header (it returns "" for a malformed one);
        # the header itself is used, so an explicit port stays.
        host = host_header.strip() if get_host(scheme, host_header.strip(), None) else ""
    else:
        host = get_host(scheme, None, server)
    if not host:
        return None
    if forwarded.port is not None:
        name = host if host.endswith("]") or ":" not in host else host.rpartition(":")[0]
        host = name if forwarded.port == _DEFAULT_PORTS.get(scheme) else f"{name}:{forwarded.port}"
    root = quote(root_path, safe=_SAFE).rstrip("/")
    if forwarded.prefix:
        root = forwarded.prefix + root
    return f"{scheme}://{host}{root}/"


def environ_base_url(environ: Mapping[str, Any], trust: TrustedProxyHeaders | None) -> str | None:
    """The base URL of a WSGI request, as the app that receives ``environ``
    sees it.

    When Werkzeug's ``ProxyFix`` has already rewritten ``environ`` (it
    leaves ``werkzeug.proxy_fix.orig``), its rewrite stands and the
    forwarded headers are not applied a second time.
    """
    name = environ.get("SERVER_NAME")
    port = environ.get("SERVER_PORT")
    server = (name, int(port)) if name and port and port.isdigit() else None
    script_name: str = environ.get("SCRIPT_NAME", "")
    root: str | bytes = script_name
    if not script_name.isascii():
        with contextlib.suppress(UnicodeEncodeError):
            root = script_name.encode("latin-1")
    forwarded = NOTHING
    if trust is not None and "werkzeug.proxy_fix.orig" not in environ:
        forwarded = parse_forwarded(trust, lambda header: environ.get(_cgi_name(header)))
    return base_url(
        environ.get("wsgi.url_scheme", "http"),
        environ.get("HTTP_HOST"),
        server,
        root,
        forwarded=forwarded,
    )


def _cgi_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def scope_base_url(scope: Mapping[str, Any], trust: TrustedProxyHeaders | None) -> str | None:
    """The base URL of an ASGI HTTP or WebSocket request, as the app that
    receives ``scope`` sees it."""
    host: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            break
    forwarded = NOTHING
    if trust is not None:
        forwarded = parse_forwarded(trust, lambda header: _scope_header(scope, header))
    server = scope.get("server")
    scheme = scope.get("scheme", "http")
    return base_url(
        _WEBSOCKET_SCHEMES.get(scheme, scheme),
        host,
        (server[0], server[1]) if server else None,
        scope.get("root_path", ""),
        forwarded=forwarded,
    )


def scope_key(scope: Mapping[str, Any]) -> tuple[object, ...]:
    """While this is unchanged, so is :func:`scope_base_url`'s result (the
    headers list is compared by identity and length)."""
    headers = scope.get("headers", ())
    return (
        scope.get("scheme"),
        scope.get("server"),
        scope.get("root_path"),
        id(headers),
        len(headers),
    )


def _scope_header(scope: Mapping[str, Any], header: str) -> str | None:
    wanted = header.encode("latin-1")
    values = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == wanted]
    return ", ".join(values) if values else None


def environ_url_getter(
    environ_of: Callable[[], Mapping[str, Any]], trust: TrustedProxyHeaders | None
) -> Callable[[], str | None]:
    """A function giving :func:`environ_base_url` of ``environ_of()`` when
    ``locate()`` first needs it: after any middleware inside (``ProxyFix``)
    has rewritten the environ.  A page locates many images, so the URL is
    kept until one of :data:`ENVIRON_KEYS` changes."""
    memo: list[Any] = [None, None]  # (key, url)

    def compute() -> str | None:
        environ = environ_of()
        key = (id(environ), *map(environ.get, ENVIRON_KEYS))
        if memo[0] != key:
            memo[:] = [key, environ_base_url(environ, trust)]
        url: str | None = memo[1]
        return url

    return compute


def scope_url_getter(
    scope: Mapping[str, Any], trust: TrustedProxyHeaders | None
) -> Callable[[], str | None]:
    """As :func:`environ_url_getter`, for an ASGI ``scope`` (which a
    middleware inside may rewrite in place)."""
    memo: list[Any] = [None, None]

    def compute() -> str | None:
        key = scope_key(scope)
        if memo[0] != key:
            memo[:] = [key, scope_base_url(scope, trust)]
        url: str | None = memo[1]
        return url

    return compute
