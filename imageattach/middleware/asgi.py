"""The ASGI 3 front end of the static file server: I/O only, the rules are in
:mod:`.core`.

Whole files go out as ``http.response.pathsend`` when the server advertises
it in ``scope['extensions']`` (granian), so the server sends them itself.
Otherwise bodies are read in a worker thread, in one read when they fit in
``chunk_size`` and in ``chunk_size`` chunks beyond, and streaming stops when
the client disconnects.  The open + ``fstat`` the core makes runs on the
event loop: like nginx, only metadata calls are made there.

Lifespan and websocket scopes go to the wrapped app untouched, and messages
of the wrapped app (``pathsend`` included) pass through unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias, cast

try:
    import anyio
    import anyio.to_thread
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("the ASGI middleware needs anyio: pip install 'imageattach[asgi]'") from error

from .. import observe
from ..exceptions import ConfigurationError
from ..hosturl import host_url_context
from ..validation import check_int
from .baseurl import scope_url_getter
from .core import REQUEST_HEADERS, Miss, Request, Response, StaticServer
from .files import FileBody, read_at
from .hookfailure import hook_failed
from .miss import MissResult
from .options import ServeOptions, make_options

__all__ = ["MIN_CHUNK_SIZE", "StaticFilesMiddleware"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The smallest ``chunk_size``: fewer, larger reads keep thread hops rare.
MIN_CHUNK_SIZE = 64 * 1024

_PATHSEND = "http.response.pathsend"
_WANTED = {name.encode(): field for name, field in REQUEST_HEADERS.items()}


class StaticFilesMiddleware:
    """Serve the files of ``dir_path`` under ``url_path``; pass every other
    request to ``app`` (with the request's base URL current for ``locate()``).

    :param app: the ASGI 3 application to wrap.
    :param url_path: the URL path prefix, e.g. ``'/images'``.
    :param dir_path: the directory to serve (``None``: no local files, every
        request under ``url_path`` goes to the ``on_miss`` hook).
    :param chunk_size: bytes per read and per body message (at least 64 KiB).
    :param pathsend: use ``http.response.pathsend`` when the server offers it.
    :param options: a :class:`~.options.ServeOptions`; further keyword
        arguments override its fields, e.g. ``cors=True``.
    """

    def __init__(
        self,
        app: ASGIApp,
        url_path: str,
        dir_path: str | os.PathLike[str] | None,
        *,
        chunk_size: int = 256 * 1024,
        pathsend: bool = True,
        options: ServeOptions | None = None,
        **overrides: Any,
    ) -> None:
        if not callable(app):
            raise ConfigurationError("app must be an ASGI 3 callable")
        check_int("chunk_size", chunk_size, minimum=MIN_CHUNK_SIZE)
        if not isinstance(pathsend, bool):
            raise ConfigurationError("pathsend must be a bool")
        self.app = app
        self.options = make_options(options, overrides)
        self.chunk_size = chunk_size
        self.pathsend = pathsend
        self.core = StaticServer(url_path, dir_path, self.options)
        self._prefix = self.core.prefix
        self._encoded = {pair: _encode(pair) for pair in self.core.constant_headers()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            rest = path[len(root_path) :]
            if not rest or rest[0] == "/":
                path = rest or "/"
        if path.startswith(self._prefix):
            # Synchronous up to the hook, if any: no coroutine for a static hit.
            request = self._request(scope, path)
            extensions = scope.get("extensions")
            by_path = self.pathsend and extensions is not None and _PATHSEND in extensions
            decided = self.core.decide(request, by_path=by_path)
            if isinstance(decided, Miss):
                decided = self.core.after_miss(request, await self._call_hook(decided, request))
            if decided is not None:
                recorder = observe.recorder
                if recorder is not None:
                    recorder.responded(decided.status, request.method, decided.body_length)
                await self._send(decided, by_path, receive, send)
                return
        await self._call_app(scope, receive, send)

    @staticmethod
    def _request(scope: Scope, path: str) -> Request:
        raw_path = scope.get("raw_path")
        query_string = scope.get("query_string")
        request = Request(
            scope["method"],
            path,
            query_string.decode("latin-1") if query_string else "",
            raw_path.decode("latin-1") if raw_path and b"%" in raw_path else None,
        )
        for name, value in scope["headers"]:
            field = _WANTED.get(name)
            if field is not None:
                previous = getattr(request, field)
                text = value.decode("latin-1")
                setattr(request, field, text if previous is None else f"{previous}, {text}")
        return request

    async def _call_hook(self, miss: Miss, request: Request) -> MissResult:
        hook = self.options.on_miss
        assert hook is not None
        try:
            if self.options.async_on_miss:
                return await cast(Callable[[str, str], Awaitable[MissResult]], hook)(
                    miss.relative_path, request.query_string
                )
            return await anyio.to_thread.run_sync(
                cast(Callable[[str, str], MissResult], hook),
                miss.relative_path,
                request.query_string,
            )
        except Exception:
            return hook_failed(miss.relative_path)

    async def _send(self, response: Response, by_path: bool, receive: Receive, send: Send) -> None:
        """Send ``response``; a whole file by its path when ``by_path`` (the
        server offers ``pathsend`` and it is not turned off)."""
        try:
            shared = response.shared
            if shared is None:
                headers = self._encode_headers(response.headers)
            else:
                if shared.encoded is None:
                    shared.encoded = self._encode_headers(response.headers)
                headers = list(shared.encoded)  # a copy: the server owns the message
            start = {"type": "http.response.start", "status": response.status, "headers": headers}
            body = response.body
            if type(body) is bytes:
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            assert isinstance(body, FileBody)
            if by_path and body.whole and body.path is not None:
                await send(start)
                await send({"type": _PATHSEND, "path": body.path})
                return
            assert body.fd >= 0  # only a by-path answer has none, and it went above
            if body.length <= self.chunk_size:
                data = await anyio.to_thread.run_sync(read_at, body.fd, body.length, body.offset)
                await send(start)
                await send({"type": "http.response.body", "body": data})
                return
            await send(start)
            await self._stream(body, receive, send)
        finally:
            response.close()

    def _encode_headers(self, headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        encoded = self._encoded
        return [encoded.get(pair) or _encode(pair) for pair in headers]

    async def _stream(self, body: FileBody, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            offset = body.offset
            remaining = body.length
            while remaining:
                size = min(self.chunk_size, remaining)
                data = await anyio.to_thread.run_sync(read_at, body.fd, size, offset)
                offset += size
                remaining -= size
                try:
                    await send(
                        {"type": "http.response.body", "body": data, "more_body": remaining > 0}
                    )
                except OSError:
                    break  # the client is gone (ASGI 2.4 servers raise on send)
            group.cancel_scope.cancel()

    async def _call_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The URL is the scope's as the app leaves it (a proxy-headers
        # middleware inside rewrites it in place).
        with host_url_context(scope_url_getter(scope, self.options.proxy_trust)):
            await self.app(scope, receive, send)


def _encode(header: tuple[str, str]) -> tuple[bytes, bytes]:
    """A header as ASGI wants it: lower-case name, both as bytes."""
    return header[0].lower().encode("latin-1"), header[1].encode("latin-1")


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
