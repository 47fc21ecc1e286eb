"""The apps the end-to-end tests serve with real servers (gunicorn, granian,
uvicorn): the store's middlewares around a tiny app that reports the base
URL current for ``locate()`` (and, for ASGI, the server's extensions).

The served directory comes from the ``E2E_ROOT`` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from imageattach.hosturl import current_host_url
from imageattach.stores.fs import HttpExposedFileSystemStore

store = HttpExposedFileSystemStore(os.environ["E2E_ROOT"], "images", cors=True)


def _wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = f"{current_host_url()}".encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("X-App", "1")],
    )
    return [body]


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    extensions = " ".join(sorted(scope.get("extensions") or {}))
    body = f"{current_host_url()} {extensions}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-app", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": body})


wsgi = store.wsgi_middleware(_wsgi_app)
asgi = store.asgi_middleware(_asgi_app)
