"""The apps the end-to-end tests run under real servers, set up from the
environment: ``IA_ROOT`` (the store directory), ``IA_KEY``, ``IA_LOG`` (where
generations are logged, one line each), and optional limits ``IA_WORKERS``,
``IA_QUEUE``, ``IA_MAX_DIMENSION``, ``IA_MAX_PIXELS``.

No database: the URL carries all the resizer needs, as in a separate
image-server process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)
from imageattach.stores.fs import HttpExposedFileSystemStore

_handler = logging.FileHandler(os.environ["IA_LOG"])
_handler.setFormatter(logging.Formatter("%(process)d %(message)s"))
_logger = logging.getLogger("imageattach.ondemand")
_logger.addHandler(_handler)
_logger.setLevel(logging.INFO)

store = HttpExposedFileSystemStore(
    os.environ["IA_ROOT"],
    "__images__",
    secret_key=os.environ["IA_KEY"],
    resize_workers=int(os.environ.get("IA_WORKERS", "2")),
    resize_queue=int(os.environ.get("IA_QUEUE", "8")),
    max_resize_dimension=int(os.environ.get("IA_MAX_DIMENSION", "4096")),
    max_source_pixels=int(os.environ.get("IA_MAX_PIXELS", "50000000")),
)


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app"]


async def _asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"the app"})


wsgi_app = store.wsgi_middleware(_app)
asgi_app = store.asgi_middleware(_asgi_app)
