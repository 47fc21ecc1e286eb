"""ServeStatic's ASGI middleware serving the store's directory from the URL root."""

from __future__ import annotations

from typing import Any

from servestatic import ServeStaticASGI

from .common import not_found_asgi, settings
from .whitenoise_peer import MIMETYPES


def build_asgi(root: str, prefix: str = "") -> Any:
    return ServeStaticASGI(not_found_asgi, root=root, mimetypes=MIMETYPES)


def asgi() -> Any:
    return build_asgi(settings()[0])
