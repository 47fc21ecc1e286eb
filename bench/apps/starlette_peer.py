"""Starlette's ``StaticFiles`` serving the store's directory from the URL root.

``StaticFiles`` is an app rather than a middleware, so it is the whole app
here (it answers 404 itself); this is its fastest configuration.
"""

from __future__ import annotations

from typing import Any

from starlette.staticfiles import StaticFiles

from .common import settings


def build_asgi(root: str, prefix: str = "") -> Any:
    return StaticFiles(directory=root)


def asgi() -> Any:
    return build_asgi(settings()[0])
