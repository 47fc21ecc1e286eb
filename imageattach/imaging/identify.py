"""Read an image's type and displayed size from its header, without decoding it.

Runs in a decoding worker (see :mod:`imageattach.imaging.sandbox`), on
untrusted bytes: only the first frame is pinged, frames are counted and
ancillary data measured by walking the file's structure
(:mod:`~imageattach.imaging.containers`), before ImageMagick sees the bytes.
"""

from __future__ import annotations

import math
import re

from wand.api import library
from wand.image import ORIENTATION_TYPES, Image
from wand.resource import limits as magick_limits

from ..exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from ..limits import ImageLimits
from . import policy, svg
from .containers import count_frames, png_ancillary_bytes
from .errors import wand_errors
from .formats import ACCEPTED_MIMETYPES, MIMETYPES, mimetype_of
from .headers import claimed_size
from .info import ImageInfo
from .sniff import looks_like_svg, pdf_media_boxes
from .svgsafety import check_active_content

__all__ = ["identify"]


def identify(data: bytes, *, limits: ImageLimits, allow_active_svg: bool = False) -> ImageInfo:
    """Identify an image from its header (ImageMagick's *ping* of the first
    frame: no pixel is decoded).  SVG with active content is refused unless
    ``allow_active_svg``.

    :raises CorruptImageError: not an image, truncated, or garbage.
    :raises UnsupportedImageError: a format imageattach does not accept, or
        an SVG with scripts or external references.
    :raises ImageTooLargeError: above ``limits`` (pixels, frames, chunk bytes).
    :raises ImagingPolicyError: ImageMagick runs without imageattach's policy.
    """
    policy.require()
    if not data:
        raise CorruptImageError("empty file")
    if looks_like_svg(data):
        if not allow_active_svg:
            check_active_content(data)
        return _probe_svg(data, limits.pixels)
    if data.startswith(b"%PDF-"):
        return _probe_pdf(data, limits.pixels)
    claimed = claimed_size(data)
    if claimed is not None:
        _check_pixels(*claimed, limits.pixels)
    if png_ancillary_bytes(data, cap=limits.chunk_bytes) > limits.chunk_bytes:
        raise ImageTooLargeError(
            f"the image carries more than {limits.chunk_bytes} bytes of metadata"
        )
    try:
        with wand_errors(), _ping_first_frame(data) as image:
            magick_format = _ISO_BRANDS.get(data[8:12], image.format or "")
            width, height = image.width, image.height
            orientation = ORIENTATION_TYPES.index(image.orientation) or 1
    except CorruptImageError:
        if claimed is not None and _beyond_imagemagick_limits(*claimed):
            raise ImageTooLargeError(
                f"a {claimed[0]}x{claimed[1]} image is above ImageMagick's width/height limits"
            ) from None
        raise
    mimetype = mimetype_of(magick_format)
    if mimetype is None or mimetype == "application/pdf":
        known = " (not accepted here)" if magick_format.upper() in MIMETYPES else ""
        raise UnsupportedImageError(
            f"image format {magick_format or 'unknown'}{known} is not accepted"
        )
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"the {magick_format} header gives no size")
    _check_pixels(width, height, limits.pixels)
    _check_complete(mimetype, data)
    frames = count_frames(data, mimetype, cap=limits.frames)
    if frames > limits.frames:
        raise ImageTooLargeError(f"the image has more than {limits.frames} frames or pages")
    if orientation >= 5:
        width, height = height, width
    return ImageInfo(mimetype, width, height, orientation, frames)


def _ping_first_frame(data: bytes) -> Image:
    """ImageMagick's header read of the first frame only ("[0]"): pinging a
    whole GIF or TIFF reads every frame's header, gigabytes for a frame bomb."""
    image = Image()
    try:
        hint = _format_hint(data)
        name = f"{hint}:upload[0]" if hint else "upload[0]"
        library.MagickSetFilename(image.wand, name.encode())
        if not library.MagickPingImageBlob(image.wand, data, len(data)):
            image.raise_exception()
            raise CorruptImageError("not an image in a recognised format")
        # Wand's image.sequence[0] clones the frame, and aborts the whole
        # process on a header without pixels; the iterator reads in place.
        library.MagickSetFirstIterator(image.wand)
        return image
    except BaseException:
        image.close()
        raise


#: HEIF files by their ISO-BMFF brand: ImageMagick 6 pings AVIF as HEIC.
_ISO_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC"}


def _format_hint(data: bytes) -> str | None:
    """A format for the ping of headers ImageMagick has no magic for (ICO):
    only chosen by the bytes, it names the one coder that may try them."""
    if data[:4] == b"\x00\x00\x01\x00" and data[4:6] != b"\x00\x00":
        return "ICO"
    return None


def _probe_svg(data: bytes, max_pixels: int) -> ImageInfo:
    if "image/svg+xml" not in ACCEPTED_MIMETYPES:
        # librsvg 2.52+ and cairo are needed (docs/imaging.md).
        raise UnsupportedImageError("SVG files are not accepted here")
    width, height = svg.size(data)
    _check_pixels(width, height, max_pixels)
    return ImageInfo("image/svg+xml", width, height, 1, 1)


#: Density at which a PDF's first page is rendered to learn its size: tiny,
#: since ImageMagick 6 cannot ping a PDF held in memory.
_PDF_PROBE_DENSITY = 9


def _probe_pdf(data: bytes, max_pixels: int) -> ImageInfo:
    """Size of the first page in points (pixels at 72 DPI).  Pages are not
    counted: ``frames`` is 1, and thumbnails show the first page."""
    if "application/pdf" not in ACCEPTED_MIMETYPES:
        # The ImageMagick policy in force refuses the PDF coder (Debian's
        # default); docs/imaging.md says how to allow it.
        raise UnsupportedImageError("PDF files are not accepted here")
    # ImageMagick sizes Ghostscript's canvas from the MediaBox entries it finds
    # in the file the same way, so a huge one must be refused before rendering.
    for left, bottom, right, top in pdf_media_boxes(data):
        width, height = abs(right - left), abs(top - bottom)
        if not (math.isfinite(width) and math.isfinite(height)):
            raise ImageTooLargeError("the PDF's page size exceeds the pixel limit")
        _check_pixels(math.ceil(width), math.ceil(height), max_pixels)
    with wand_errors(), Image(blob=data, format="PDF[0]", resolution=_PDF_PROBE_DENSITY) as image:
        box = image.metadata.get("pdf:HiResBoundingBox", "")
        scale = 72 / _PDF_PROBE_DENSITY
        fallback = (image.width * scale, image.height * scale)
    match = re.match(r"([\d.]+)x([\d.]+)", box)
    width, height = (float(match[1]), float(match[2])) if match else fallback
    size = max(1, math.ceil(width - 0.01)), max(1, math.ceil(height - 0.01))
    _check_pixels(*size, max_pixels)
    return ImageInfo("application/pdf", *size, 1, 1)


def _beyond_imagemagick_limits(width: int, height: int) -> bool:
    return bool(width > magick_limits["width"] or height > magick_limits["height"])


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{width}x{height} image exceeds the limit of {max_pixels} pixels")


def _check_complete(mimetype: str, data: bytes) -> None:
    """Refuse files cut short, which a header read cannot notice.

    ImageMagick decodes a truncated JPEG or PNG with only a warning (grey or
    missing rows), so the end of the data is checked here, cheaply.
    """
    if mimetype == "image/jpeg":
        # Marker bytes cannot occur in entropy-coded data (0xFF is stuffed), so
        # a complete file has an end-of-image marker after its last scan; data
        # appended after it (as some cameras do) is tolerated.
        complete = (
            b"\xff\xd9" in data[-32:] or data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") > 0
        )
    elif mimetype == "image/png":
        complete = b"IEND" in data[-64:] or data.rfind(b"IEND") > data.rfind(b"IDAT") > 0
    elif mimetype == "image/webp":
        complete = len(data) >= 8 + int.from_bytes(data[4:8], "little")
    else:
        return
    if not complete:
        raise CorruptImageError(f"truncated {mimetype} file")
