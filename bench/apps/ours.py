"""imageattach's own middleware: the store serves its directory under ``/<prefix>/``."""

from __future__ import annotations

from typing import Any

from imageattach.stores.fs import HttpExposedFileSystemStore

from .common import not_found_asgi, not_found_wsgi, settings


def build_wsgi(root: str, prefix: str) -> Any:
    return HttpExposedFileSystemStore(root, prefix).wsgi_middleware(not_found_wsgi)


def build_asgi(root: str, prefix: str) -> Any:
    return HttpExposedFileSystemStore(root, prefix).asgi_middleware(not_found_asgi)


def wsgi() -> Any:
    return build_wsgi(*settings())


def asgi() -> Any:
    return build_asgi(*settings())
