"""Make a thumbnail: validate -> decode (shrink-on-load) -> orient -> sRGB ->
resize -> strip -> encode."""

from __future__ import annotations

import math

from wand.api import library
from wand.image import Image

from ..exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from ..limits import ImageLimits
from ..sizing import thumbnail_mimetype
from . import policy, svg
from .color import to_srgb
from .errors import wand_errors
from .formats import ACCEPTED_MIMETYPES, CODERS
from .identify import identify
from .info import ImageInfo

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "MIN_PDF_DPI",
    "PNG_COMPRESSION_LEVEL",
    "source_info",
    "thumbnail_bytes",
]

#: JPEG/WebP quality when none is given: visually lossless for thumbnails.
DEFAULT_JPEG_QUALITY = 85
#: zlib level of PNG thumbnails: most of level 9's gain at a fraction of its time.
PNG_COMPRESSION_LEVEL = 6

#: The lowest density a PDF is rasterised at, in DPI.  A small thumbnail of
#: a large page would otherwise need under 1 DPI, which Ghostscript refuses;
#: below this the page is rendered at this density and then resized, as the
#: seed did (it always rendered at 72 DPI).
MIN_PDF_DPI = 72


def thumbnail_bytes(
    data: bytes,
    *,
    width: int,
    height: int,
    info: ImageInfo | None,
    filter: str,
    quality: int | None,
    limits: ImageLimits,
) -> tuple[bytes, str]:
    """Encode a ``width`` x ``height`` thumbnail of ``data``'s first frame
    (in a decoding worker; :func:`imageattach.imaging.make_thumbnail` is the
    public entry point, and has checked the options).  ``info`` is the
    image's probe if the caller has it; it is probed here otherwise."""
    info = source_info(data, info, limits)
    _check_memory(info, width, height, limits.memory)
    mimetype = thumbnail_mimetype(info.mimetype)
    with wand_errors(), _decode(data, info, width, height) as image:
        image.auto_orient()
        to_srgb(image)
        image.resize(width, height, filter=filter)
        image.reset_coords()  # a GIF frame's canvas offset would survive in the output
        image.strip()
        return _encode(image, mimetype, quality), mimetype


def source_info(data: bytes, info: ImageInfo | None, limits: ImageLimits) -> ImageInfo:
    """``info`` checked against ``limits``, or ``data`` probed if it is ``None``
    (SVG active content is allowed: the upload was checked when stored)."""
    if info is None:
        return identify(data, limits=limits, allow_active_svg=True)
    policy.require()
    if info.mimetype not in ACCEPTED_MIMETYPES:
        raise UnsupportedImageError(f"{info.mimetype} is not accepted")
    if info.width * info.height > limits.pixels:
        raise ImageTooLargeError(
            f"{info.width}x{info.height} image exceeds the limit of {limits.pixels} pixels"
        )
    return info


#: Bytes per pixel of ImageMagick's pixel cache (16-bit RGBA), twice over:
#: auto-orient and colour conversion make a full-size copy.
_BYTES_PER_PIXEL = 8 * 2


def _check_memory(info: ImageInfo, width: int, height: int, memory: int) -> None:
    """Refuse, before decoding, an image whose pixels cannot fit in
    ``memory``: a decoder that runs out of memory half-way often fails
    without saying why."""
    if info.mimetype == "image/svg+xml":
        pixels = width * height  # rendered at the target size
    elif info.mimetype == "application/pdf":
        scale = _pdf_dpi(info, width, height) / 72
        pixels = max(width * height, math.ceil(info.width * scale * info.height * scale))
    elif info.mimetype == "image/jpeg":
        pixels = math.prod(_jpeg_decoded_size(info, width, height))
    else:
        pixels = info.width * info.height
    need = pixels * _BYTES_PER_PIXEL
    if need > memory:
        raise ImageTooLargeError(
            f"the image needs about {need // 1024**2} MiB of memory to decode, "
            f"above the limit of {memory // 1024**2} MiB"
        )


def _jpeg_hint(info: ImageInfo, width: int, height: int) -> tuple[int, int]:
    """The ``jpeg:size`` hint: the target size in stored orientation,
    clamped to the source (ImageMagick 6 decodes at twice the size when the
    hint exceeds the source)."""
    stored_width, stored_height = info.stored_size
    hint_width, hint_height = (height, width) if info.orientation >= 5 else (width, height)
    return min(hint_width, stored_width), min(hint_height, stored_height)


def _jpeg_decoded_size(info: ImageInfo, width: int, height: int) -> tuple[int, int]:
    """The size libjpeg decodes at: 1/8, 1/4, 1/2 or full scale, no smaller
    than the hint."""
    stored_width, stored_height = info.stored_size
    hint_width, hint_height = _jpeg_hint(info, width, height)
    for denominator in (8, 4, 2):
        if (
            stored_width // denominator >= hint_width
            and stored_height // denominator >= hint_height
        ):
            return -(-stored_width // denominator), -(-stored_height // denominator)
    return stored_width, stored_height


def _decode(data: bytes, info: ImageInfo, width: int, height: int) -> Image:
    """Decode the first frame with the coder ``info`` names (never guessed
    from the data or a filename), as small as the target size allows."""
    image = Image()
    try:
        resolution = None
        coder = CODERS.get(info.mimetype, "")
        if info.mimetype == "image/jpeg":
            # libjpeg then decodes at 1/2, 1/4 or 1/8 scale, no smaller than the hint.
            image.options["jpeg:size"] = "{}x{}".format(*_jpeg_hint(info, width, height))
        elif info.mimetype == "image/svg+xml":
            # Rendered at the target size by librsvg (see svg.py); then PNG.
            data, coder = svg.render(data, width, height), "PNG"
        elif info.mimetype == "application/pdf":
            # Rasterised by Ghostscript at the density that gives the target
            # size, or at MIN_PDF_DPI and then resized.
            resolution = _pdf_dpi(info, width, height)
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


def _pdf_dpi(info: ImageInfo, width: int, height: int) -> float:
    """The density to render a PDF page at (its size in ``info`` is in
    points, 1/72 inch): enough for the target size, at least MIN_PDF_DPI."""
    scale = max(width / info.width, height / info.height)
    return max(MIN_PDF_DPI, math.ceil(72 * scale * 100) / 100)


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
