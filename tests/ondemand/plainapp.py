"""What the apps run under real servers (serverapp.py, clusterapp.py)
share: the application they wrap in the store's middleware (a plain page,
WSGI and ASGI: any response not about an image is plainly the app's), and
the log file the tests read across server processes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any


def log_to(path: str, logger: str, line: str) -> None:
    """Append ``logger``'s records from INFO up to the file ``path``, each
    formatted by ``line`` (a :class:`logging.Formatter` format)."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(line))
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(logging.INFO)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app"]


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"the app"})
