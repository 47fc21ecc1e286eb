"""The fixed table of the image types the middleware serves.

Fixed rather than asked of :mod:`mimetypes`, whose answers depend on the
platform and on ``/etc/mime.types``.  It is the store's own table
(:data:`imageattach.filetypes.EXTENSIONS`, which writes ``.jpe`` for JPEG) plus
the other common spellings of the same types.  Files with any other
extension are not served.
"""

from __future__ import annotations

from types import MappingProxyType

from ..filetypes import EXTENSIONS

__all__ = ["CONTENT_TYPES", "SVG"]

SVG = "image/svg+xml"

_ALIASES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".heif": "image/heif",
}


def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for mimetype, extension in EXTENSIONS.items():
        table.setdefault(extension, mimetype)
    for extension, mimetype in _ALIASES.items():
        table.setdefault(extension, mimetype)
    return table


#: Lower-case filename extension (with the dot) → ``Content-Type``.
CONTENT_TYPES = MappingProxyType(_table())
