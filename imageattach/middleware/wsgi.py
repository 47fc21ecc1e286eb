"""The WSGI front end of the static file server: I/O only, the rules are in
:mod:`.core`.

Whole files go out through ``environ['wsgi.file_wrapper']`` when the server
has one (gunicorn then uses ``sendfile``); otherwise, and for ranges, small
bodies are read in one ``pread`` and larger ones streamed in ``block_size``
chunks.  Bodies are always bytes, and the file is closed on every path,
including a client that goes away (the server calls ``close()``).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any, TypeAlias, cast

from .. import observe
from ..exceptions import ConfigurationError
from ..hosturl import host_url_context
from ..validation import check_int
from .baseurl import environ_url_getter
from .contextbody import in_context
from .core import Miss, Request, Response, StaticServer
from .files import FileBody, read_at
from .hookfailure import hook_failed
from .miss import MissResult
from .options import ServeOptions, make_options

__all__ = ["StaticServerMiddleware"]

WSGIApp: TypeAlias = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Bodies up to this size, when not sent by ``wsgi.file_wrapper``, are read
#: in one call and returned as a one-item list (one write for the server).
READ_AT_ONCE = 1024 * 1024

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class StaticServerMiddleware:
    """Serve the files of ``dir_path`` under ``url_path``; pass every other
    request to ``app`` (with the request's base URL current for ``locate()``).

    :param app: the WSGI application to wrap.
    :param url_path: the URL path prefix, e.g. ``'/images'``.
    :param dir_path: the directory to serve (``None``: no local files, every
        request under ``url_path`` goes to the ``on_miss`` hook).
    :param block_size: the chunk size of streamed bodies.
    :param cors: as :attr:`ServeOptions.cors` (positional for the seed's sake).
    :param options: a :class:`~.options.ServeOptions`; further keyword
        arguments override its fields, e.g. ``missing='fallthrough'``.
    """

    def __init__(
        self,
        app: WSGIApp,
        url_path: str,
        dir_path: str | os.PathLike[str] | None,
        block_size: int = 8192,
        cors: bool | list[str] | tuple[str, ...] = False,
        *,
        options: ServeOptions | None = None,
        **overrides: Any,
    ) -> None:
        if not callable(app):
            raise ConfigurationError("app must be a WSGI callable")
        check_int("block_size", block_size)
        if cors is not False:
            overrides["cors"] = cors
        self.options = make_options(options, overrides)
        if self.options.async_on_miss:
            raise ConfigurationError("the WSGI middleware needs a blocking on_miss hook")
        self.app = app
        self.block_size = block_size
        self.core = StaticServer(url_path, dir_path, self.options)
        self._prefix = self.core.prefix
        self._on_miss = self.options.on_miss

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # The static hit is the hot path: the request is read here, inline.
        path: str = environ.get("PATH_INFO") or "/"
        if not path.startswith(self._prefix):
            return self._call_app(environ, start_response)
        if not path.isascii():
            # PEP 3333 strings carry the request's bytes as latin-1.
            with contextlib.suppress(UnicodeEncodeError):
                path = path.encode("latin-1").decode("utf-8", "surrogateescape")
        get = environ.get
        raw_path = get("RAW_URI") or get("REQUEST_URI")
        request = Request(
            environ["REQUEST_METHOD"],
            path,
            get("QUERY_STRING", ""),
            raw_path if raw_path and "%" in raw_path else None,
            get("HTTP_IF_MATCH"),
            get("HTTP_IF_NONE_MATCH"),
            get("HTTP_IF_MODIFIED_SINCE"),
            get("HTTP_IF_UNMODIFIED_SINCE"),
            get("HTTP_RANGE"),
            get("HTTP_IF_RANGE"),
            get("HTTP_ORIGIN"),
            get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
            get("HTTP_ACCEPT"),
        )
        decided = self.core.decide(request)
        if type(decided) is Response:
            return self._send(decided, environ, start_response)
        if isinstance(decided, Miss):
            decided = self._after_miss(request, decided)
            if decided is not None:
                return self._send(decided, environ, start_response)
        return self._call_app(environ, start_response)

    def _after_miss(self, request: Request, miss: Miss) -> Response | None:
        assert self._on_miss is not None
        try:
            # A coroutine function was refused at construction: this one blocks.
            result = cast(MissResult, self._on_miss(miss.relative_path, request.query_string))
        except Exception:
            result = hook_failed(miss.relative_path)
        return self.core.after_miss(request, result)

    def _send(
        self, response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        body = response.body
        recorder = observe.recorder
        if recorder is not None:
            recorder.responded(response.status, environ["REQUEST_METHOD"], response.body_length)
        if isinstance(body, bytes):
            start_response(_STATUS_LINES[response.status], response.headers)
            return [body] if body else []
        try:
            file_wrapper = environ.get("wsgi.file_wrapper")
            if file_wrapper is not None and body.whole:
                start_response(_STATUS_LINES[response.status], response.headers)
                wrapped: Iterable[bytes] = file_wrapper(body, self.block_size)
                return wrapped
            if body.length <= READ_AT_ONCE:
                data = read_at(body.fd, body.length, body.offset)
                body.close()
                start_response(_STATUS_LINES[response.status], response.headers)
                return [data]
            start_response(_STATUS_LINES[response.status], response.headers)
            return _FileSlice(body, self.block_size)
        except BaseException:
            body.close()
            raise

    def _call_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # The app and the consumption of its response iterable run in one
        # copied context, so streamed templates see the URL even when the
        # server iterates in another thread (granian); nothing leaks out.
        # The URL is the environ's as the app leaves it (a ProxyFix inside).
        context = contextvars.copy_context()
        manager = host_url_context(environ_url_getter(lambda: environ, self.options.proxy_trust))
        context.run(manager.__enter__)
        try:
            result = context.run(self.app, environ, start_response)
        except BaseException:
            context.run(manager.__exit__, None, None, None)
            raise
        return in_context(result, context, environ, lambda: manager.__exit__(None, None, None))


class _FileSlice:
    """Iterate over a :class:`FileBody` in ``block_size`` chunks (``pread``:
    the descriptor's position is never used)."""

    __slots__ = ("_block_size", "_body", "_offset", "_remaining")

    def __init__(self, body: FileBody, block_size: int) -> None:
        self._body = body
        self._block_size = block_size
        self._offset = body.offset
        self._remaining = body.length

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            self._body.close()
            raise StopIteration
        size = min(self._block_size, self._remaining)
        try:
            data = read_at(self._body.fd, size, self._offset)
        except BaseException:
            self._body.close()
            raise
        self._offset += size
        self._remaining -= size
        return data

    def close(self) -> None:
        self._body.close()
