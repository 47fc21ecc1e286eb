"""The image formats imageattach accepts.

The table is fixed (its mimetypes are keys of
:data:`imageattach.filetypes.EXTENSIONS`).  A raster format or PDF is
*accepted* when the ImageMagick here has its coder and the policy in force
lets it read; SVG when librsvg is here (it never reaches ImageMagick).
"""

from __future__ import annotations

from wand.version import formats

from . import policy, svg

__all__ = ["ACCEPTED_MIMETYPES", "CODERS", "MIMETYPES", "mimetype_of"]

#: ImageMagick format name (as a ping reports it) -> mimetype.
MIMETYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "PDF": "application/pdf",
    "ICO": "image/vnd.microsoft.icon",
    "BMP": "image/bmp",
    "BMP3": "image/bmp",
    "TIFF": "image/tiff",
    "HEIC": "image/heic",
    "AVIF": "image/avif",
    "JXL": "image/jxl",
}

#: Mimetype -> the ImageMagick coder that reads and writes it; always named
#: explicitly when decoding, never guessed from the data or a filename.
CODERS: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
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
    accepted = {
        mimetype
        for mimetype, coder in CODERS.items()
        if coder in present and policy.is_coder_readable(coder)
    }
    if svg.available():
        accepted.add("image/svg+xml")
    return frozenset(accepted)


#: Mimetypes :func:`~imageattach.imaging.probe` accepts in this process.
#: E.g. PDF only where the system policy lets Ghostscript run (Debian's does
#: not), HEIC/AVIF/JXL only where ImageMagick has the coder.
ACCEPTED_MIMETYPES: frozenset[str] = _accepted()


def mimetype_of(magick_format: str) -> str | None:
    """The mimetype of an ImageMagick format name, or ``None`` if not accepted."""
    mimetype = MIMETYPES.get(magick_format.upper())
    return mimetype if mimetype in ACCEPTED_MIMETYPES else None
