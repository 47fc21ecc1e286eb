"""The fixed tables of image file types, shared by the stores, the serving
middleware, resize URLs and rendering (below all of them, so none imports
another for a table).

Fixed rather than asked of :mod:`mimetypes`, whose answers depend on the
platform and Python version; ``.jpe`` for JPEG is what the seed wrote.
"""

from __future__ import annotations

from .exceptions import UnknownMimeTypeError

__all__ = ["EXTENSIONS", "OUTPUT_FORMATS", "guess_extension", "guess_mimetype"]

#: Filename extension of each accepted mimetype.
EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpe",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/svg+xml": ".svg",
    "application/pdf": ".pdf",
    "image/vnd.microsoft.icon": ".ico",
    "image/x-icon": ".ico",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "image/heic": ".heic",
    "image/jxl": ".jxl",
}

#: The formats variants are rendered in: ``locate(format=...)`` name -> mimetype.
OUTPUT_FORMATS: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}

_MIMETYPES: dict[str, str] = {}
for _mimetype, _extension in EXTENSIONS.items():
    _MIMETYPES.setdefault(_extension, _mimetype)


def guess_extension(mimetype: str) -> str:
    """The filename extension (e.g. ``'.png'``) for ``mimetype``.

    :raises UnknownMimeTypeError: for a mimetype outside :data:`EXTENSIONS`
        (the seed would have written ``None`` into the filename).
    """
    try:
        return EXTENSIONS[mimetype]
    except KeyError:
        raise UnknownMimeTypeError(
            f"no filename extension is known for mimetype {mimetype!r}; "
            f"accepted: {', '.join(sorted(EXTENSIONS))}"
        ) from None


def guess_mimetype(extension: str) -> str | None:
    """The mimetype stored under ``extension`` (``'.jpe'`` → ``'image/jpeg'``)."""
    return _MIMETYPES.get(extension.lower())
