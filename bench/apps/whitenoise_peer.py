"""WhiteNoise (WSGI) serving the store's directory from the URL root."""

from __future__ import annotations

from typing import Any

from whitenoise import WhiteNoise

from .common import not_found_wsgi, settings

#: WhiteNoise's own table has no ``.jpe`` (the store's JPEG extension); without
#: this it would answer ``application/octet-stream``.
MIMETYPES = {".jpe": "image/jpeg"}


def build_wsgi(root: str, prefix: str = "") -> Any:
    return WhiteNoise(not_found_wsgi, root=root, mimetypes=MIMETYPES)


def wsgi() -> Any:
    return build_wsgi(settings()[0])
