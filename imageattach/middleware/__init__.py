"""The HTTP serving stack: a protocol-free core (:mod:`.core`) and its WSGI
(:mod:`.wsgi`) and ASGI (:mod:`.asgi`) front ends.  See ``docs/serving.md``.

The names below are imported lazily, so that ``import imageattach.middleware``
needs neither anyio nor the stores::

    from imageattach.middleware import ServeOptions, FILE_READY, MissResponse
    from imageattach.middleware.wsgi import StaticServerMiddleware
    from imageattach.middleware.asgi import StaticFilesMiddleware
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi import StaticFilesMiddleware
    from .core import Miss, Request, Response, StaticServer
    from .miss import FILE_READY, FileReady, MissResponse, MissResult, OnMiss, Redirect
    from .options import IMMUTABLE, ServeOptions, has_version_query
    from .wsgi import StaticServerMiddleware

__all__ = [
    "FILE_READY",
    "IMMUTABLE",
    "FileReady",
    "Miss",
    "MissResponse",
    "MissResult",
    "OnMiss",
    "Redirect",
    "Request",
    "Response",
    "ServeOptions",
    "StaticFilesMiddleware",
    "StaticServer",
    "StaticServerMiddleware",
    "has_version_query",
]

_MODULES = {
    "StaticFilesMiddleware": "asgi",
    "Miss": "core",
    "Request": "core",
    "Response": "core",
    "StaticServer": "core",
    "FILE_READY": "miss",
    "FileReady": "miss",
    "MissResponse": "miss",
    "MissResult": "miss",
    "OnMiss": "miss",
    "Redirect": "miss",
    "IMMUTABLE": "options",
    "ServeOptions": "options",
    "has_version_query": "options",
    "StaticServerMiddleware": "wsgi",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
