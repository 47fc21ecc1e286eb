"""Starlette's ``StaticFiles`` serving the store's directory from the URL root.

``StaticFiles`` is an app rather than a middleware, and it raises
``HTTPException`` for a missing file (a Starlette app's exception middleware
would turn it into a response).  Here it is the whole app, with only a
``try`` around it for the 404: its fastest configuration.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from .common import Receive, Scope, Send, not_found_asgi, settings


def build_asgi(root: str, prefix: str = "") -> Any:
    static = StaticFiles(directory=root)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await not_found_asgi(scope, receive, send)
            return
        try:
            await static(scope, receive, send)
        except HTTPException as error:
            if error.status_code != 404:
                raise
            await not_found_asgi(scope, receive, send)

    return app


def asgi() -> Any:
    return build_asgi(settings()[0])
