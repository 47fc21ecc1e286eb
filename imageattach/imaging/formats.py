"""The image formats imageattach accepts, keyed by ImageMagick's format name.

The table is fixed (the keys of :data:`imageattach.stores.fs.EXTENSIONS` are
the mimetypes); a format is *accepted* when it is in this table, the
ImageMagick here has its coder, and the policy in force lets it read them.
"""

from __future__ import annotations

from wand.version import formats

from . import policy

__all__ = ["ACCEPTED_MIMETYPES", "CODERS", "MIMETYPES", "mimetype_of"]

#: ImageMagick format name (as a ping reports it) -> mimetype.
MIMETYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "SVG": "image/svg+xml",
    "PDF": "application/pdf",
    "ICO": "image/vnd.microsoft.icon",
    "BMP": "image/bmp",
    "BMP3": "image/bmp",
    "TIFF": "image/tiff",
    "HEIC": "image/heic",
    "AVIF": "image/avif",
    "JXL": "image/jxl",
}

#: Mimetype -> the coder that reads it, always given explicitly when decoding.
CODERS: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/svg+xml": "SVG",
    "application/pdf": "PDF",
    "image/vnd.microsoft.icon": "ICO",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heic": "HEIC",
    "image/avif": "AVIF",
    "image/jxl": "JXL",
}


def _accepted() -> frozenset[str]:
    present = set(formats())
    return frozenset(
        mimetype
        for mimetype, coder in CODERS.items()
        if coder in present and policy.is_coder_readable(coder)
    )


#: Mimetypes :func:`~imageattach.imaging.probe` accepts with the ImageMagick
#: and policy in this process (e.g. PDF only where the system policy lets
#: Ghostscript run, HEIC/AVIF/JXL only where the coder exists).
ACCEPTED_MIMETYPES: frozenset[str] = _accepted()


def mimetype_of(magick_format: str) -> str | None:
    """The mimetype of an ImageMagick format name, or ``None`` if not accepted."""
    mimetype = MIMETYPES.get(magick_format.upper())
    return mimetype if mimetype in ACCEPTED_MIMETYPES else None
