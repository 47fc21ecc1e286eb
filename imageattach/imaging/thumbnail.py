"""Make a thumbnail: validate -> decode (shrink-on-load) -> orient -> sRGB ->
resize -> strip -> encode."""

from __future__ import annotations

import math
from typing import IO

from wand.api import library
from wand.image import FILTER_TYPES, Image

from ..exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from ..sizing import thumbnail_mimetype
from . import policy, svg
from .color import to_srgb
from .errors import wand_errors
from .formats import ACCEPTED_MIMETYPES, CODERS
from .probe import DEFAULT_MAX_PIXELS, ImageInfo, probe_bytes, read_source

__all__ = ["DEFAULT_JPEG_QUALITY", "PNG_COMPRESSION_LEVEL", "make_thumbnail"]

#: JPEG/WebP quality when none is given: visually lossless for thumbnails.
DEFAULT_JPEG_QUALITY = 85
#: zlib level of PNG thumbnails: most of level 9's gain at a fraction of its time.
PNG_COMPRESSION_LEVEL = 6


def make_thumbnail(
    source: bytes | IO[bytes],
    *,
    width: int,
    height: int,
    info: ImageInfo | None = None,
    filter: str = "undefined",
    quality: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[bytes, str]:
    """Encode a ``width`` x ``height`` thumbnail of ``source``'s first frame.

    The size is taken as given: compute it with
    :func:`imageattach.sizing.thumbnail_size` to keep the aspect ratio.
    ``info`` is ``source``'s :func:`probe` result if the caller already has
    it.  Returns ``(data, mimetype)``; the mimetype is
    :func:`imageattach.sizing.thumbnail_mimetype` of the source's (PNG for
    SVG and PDF).  The same input always gives the same bytes.

    :raises CorruptImageError, UnsupportedImageError, ImageTooLargeError:
        as :func:`probe`, also when only the decoder notices.
    """
    _check_options(width, height, filter, quality, max_pixels)
    data = read_source(source)
    if info is None:
        info = probe_bytes(data, max_pixels=max_pixels)
    else:
        policy.require()
        if info.mimetype not in ACCEPTED_MIMETYPES:
            raise UnsupportedImageError(f"{info.mimetype} is not accepted")
        if info.width * info.height > max_pixels:
            raise ImageTooLargeError(
                f"{info.width}x{info.height} image exceeds the limit of {max_pixels} pixels"
            )
    mimetype = thumbnail_mimetype(info.mimetype)
    with wand_errors(), _decode(data, info, width, height) as image:
        image.auto_orient()
        to_srgb(image)
        image.resize(width, height, filter=filter)
        image.reset_coords()  # a GIF frame's canvas offset would survive in the output
        image.strip()
        return _encode(image, mimetype, quality), mimetype


def _check_options(
    width: int, height: int, filter: str, quality: int | None, max_pixels: int
) -> None:
    for name, value in (("width", width), ("height", height), ("max_pixels", max_pixels)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"a {width}x{height} thumbnail exceeds the limit of {max_pixels} pixels"
        )
    if filter not in FILTER_TYPES:
        raise ValueError(f"unknown resize filter {filter!r}; one of {', '.join(FILTER_TYPES)}")
    if quality is not None and (isinstance(quality, bool) or not 1 <= quality <= 100):
        raise ValueError(f"quality must be 1..100, not {quality!r}")


def _decode(data: bytes, info: ImageInfo, width: int, height: int) -> Image:
    """Decode the first frame with the coder ``info`` names (never guessed
    from the data or a filename), as small as the target size allows."""
    image = Image()
    try:
        resolution = None
        coder = CODERS.get(info.mimetype, "")
        if info.mimetype == "image/jpeg":
            # libjpeg then decodes at 1/2, 1/4 or 1/8 scale, no smaller than the
            # hint.  The hint is in stored orientation, and clamped: ImageMagick 6
            # decodes at twice the size when the hint exceeds the source.
            stored_width, stored_height = info.stored_size
            hint_width, hint_height = (height, width) if info.orientation >= 5 else (width, height)
            image.options["jpeg:size"] = (
                f"{min(hint_width, stored_width)}x{min(hint_height, stored_height)}"
            )
        elif info.mimetype == "image/svg+xml":
            # Rendered at the target size by librsvg (see svg.py); then PNG.
            data, coder = svg.render(data, width, height), "PNG"
        elif info.mimetype == "application/pdf":
            # Rasterised by Ghostscript at the density that gives the target size.
            scale = max(width / info.width, height / info.height)
            resolution = math.ceil(72 * scale * 100) / 100
        if resolution is not None:
            library.MagickSetResolution(image.wand, resolution, resolution)
        # "CODER:" makes ImageMagick use that coder whatever the bytes look
        # like (Wand's format= only names an extension, which magic bytes
        # override); "[0]" decodes the first frame or page only.
        library.MagickSetFilename(image.wand, f"{coder}:upload[0]".encode())
        if not library.MagickReadImageBlob(image.wand, data, len(data)):
            image.raise_exception()
            raise CorruptImageError(f"cannot decode the {info.mimetype} image")
        if image.width == 0 or image.height == 0:
            raise CorruptImageError(f"cannot decode the {info.mimetype} image")
        return image
    except BaseException:
        image.close()
        raise


def _encode(image: Image, mimetype: str, quality: int | None) -> bytes:
    image.format = CODERS[mimetype]
    image.depth = 8  # 16-bit sources and colour transforms would otherwise double PNG sizes
    if mimetype in ("image/jpeg", "image/webp"):
        image.compression_quality = quality or DEFAULT_JPEG_QUALITY
    if mimetype == "image/jpeg":
        image.interlace_scheme = "no"  # baseline: thumbnails are small, progressive gains little
    elif mimetype == "image/png":
        image.options["png:compression-level"] = str(PNG_COMPRESSION_LEVEL)
        # No text, time or other ancillary chunks: nothing about the server
        # leaks, and the same input always gives the same bytes.
        image.options["png:exclude-chunks"] = "all"
    blob: bytes = image.make_blob()
    return blob
