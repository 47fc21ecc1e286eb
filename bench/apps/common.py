"""Settings from the environment and the trivial 404 apps every contender wraps."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

ROOT_VARIABLE = "BENCH_STATIC_ROOT"
PREFIX_VARIABLE = "BENCH_STATIC_PREFIX"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_NOT_FOUND = b"not found\n"
_NOT_FOUND_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_NOT_FOUND)))]


def settings() -> tuple[str, str]:
    """``(root, prefix)`` as set by the benchmark for a server process."""
    try:
        return os.environ[ROOT_VARIABLE], os.environ.get(PREFIX_VARIABLE, "__images__")
    except KeyError:
        raise RuntimeError(f"{ROOT_VARIABLE} must name the directory to serve") from None


def not_found_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A WSGI app that answers 404 to everything."""
    start_response("404 Not Found", list(_NOT_FOUND_HEADERS))
    return [_NOT_FOUND]


async def not_found_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that answers 404 to every request and completes lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(name.lower().encode(), value.encode()) for name, value in _NOT_FOUND_HEADERS]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": _NOT_FOUND})
