"""The apps tests/test_metrics_e2e.py runs under real servers: the store's
middleware (on-demand thumbnails, one worker and no queue) and the metrics
at ``/metrics``, mounted as docs/metrics.md shows.  From the environment:
``IA_ROOT`` (the store directory) and ``IA_KEY``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import imageattach.imaging  # the policy must be in force before wand loads

# isort: split
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import imageattach.metrics
from imageattach.stores.fs import HttpExposedFileSystemStore

store = HttpExposedFileSystemStore(
    os.environ["IA_ROOT"],
    "__images__",
    secret_key=os.environ["IA_KEY"],
    resize_workers=1,
    resize_queue=0,
)


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app"]


async def _asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"the app"})


wsgi_app = DispatcherMiddleware(
    store.wsgi_middleware(_app), {"/metrics": imageattach.metrics.wsgi_app()}
)

_served = store.asgi_middleware(_asgi_app)
_metrics = imageattach.metrics.asgi_app()


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/metrics":
        await _metrics(scope, receive, send)
    else:
        await _served(scope, receive, send)
