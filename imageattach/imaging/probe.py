"""Read an image's type and displayed size from its header, without decoding it."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import IO

from wand.api import library
from wand.image import ORIENTATION_TYPES, Image
from wand.resource import limits

from ..exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from . import policy, svg
from .errors import wand_errors
from .formats import ACCEPTED_MIMETYPES, MIMETYPES, mimetype_of
from .headers import claimed_size

__all__ = ["DEFAULT_MAX_PIXELS", "ImageInfo", "probe", "read_source"]

#: Largest source accepted, in pixels (width x height): 50 MP covers every
#: camera photo in common use, and bounds the work a single upload can cause.
DEFAULT_MAX_PIXELS: int = 50_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`probe` learnt from an image's header."""

    #: Normalised mimetype, a key of :data:`imageattach.stores.fs.EXTENSIONS`.
    mimetype: str
    #: Size as displayed, i.e. after applying the EXIF orientation.
    width: int
    height: int
    #: EXIF orientation, 1..8 (1 when the image has none).
    orientation: int
    #: Number of frames or pages (>= 1); thumbnails are made of the first.
    frames: int

    @property
    def stored_size(self) -> tuple[int, int]:
        """``(width, height)`` as stored in the file, before EXIF rotation."""
        if self.orientation >= 5:
            return self.height, self.width
        return self.width, self.height


def read_source(source: bytes | IO[bytes]) -> bytes:
    """The bytes of ``source``; a file object is read from its current
    position and, if seekable, put back there."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    position = source.tell() if source.seekable() else None
    data = source.read()
    if position is not None:
        source.seek(position)
    if not isinstance(data, bytes):
        raise TypeError(f"the file must be opened in binary mode, not {source!r}")
    return data


def probe(source: bytes | IO[bytes], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Identify an image from its header (ImageMagick's *ping*: no pixel is decoded).

    :raises CorruptImageError: not an image, truncated, or garbage.
    :raises UnsupportedImageError: an image format imageattach does not accept.
    :raises ImageTooLargeError: more than ``max_pixels`` pixels.
    :raises ImagingPolicyError: ImageMagick runs without imageattach's policy.
    """
    return probe_bytes(read_source(source), max_pixels=max_pixels)


def probe_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """:func:`probe` on bytes already in memory."""
    policy.require()
    if not data:
        raise CorruptImageError("empty file")
    if svg.looks_like_svg(data):
        return _probe_svg(data, max_pixels)
    if data.startswith(b"%PDF-"):
        return _probe_pdf(data, max_pixels)
    claimed = claimed_size(data)
    if claimed is not None:
        _check_pixels(*claimed, max_pixels)
    try:
        with wand_errors(), Image.ping(blob=data, format=_format_hint(data)) as image:
            magick_format = _ISO_BRANDS.get(data[8:12], image.format or "")
            frames = library.MagickGetNumberImages(image.wand)
            # Wand's image.sequence[0] clones the frame, and aborts the whole
            # process on a header without pixels; the iterator reads in place.
            library.MagickSetFirstIterator(image.wand)
            width, height = image.width, image.height
            orientation = ORIENTATION_TYPES.index(image.orientation) or 1
    except CorruptImageError:
        if claimed is not None and _beyond_imagemagick_limits(*claimed):
            raise ImageTooLargeError(
                f"{claimed[0]}x{claimed[1]} image exceeds ImageMagick's width/height limits"
            ) from None
        raise
    mimetype = mimetype_of(magick_format)
    if mimetype is None or mimetype == "application/pdf":
        known = " (not accepted here)" if magick_format.upper() in MIMETYPES else ""
        raise UnsupportedImageError(
            f"image format {magick_format or 'unknown'}{known} is not accepted"
        )
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"{magick_format} header gives no size")
    _check_pixels(width, height, max_pixels)
    _check_complete(mimetype, data)
    if orientation >= 5:
        width, height = height, width
    return ImageInfo(mimetype, width, height, orientation, max(frames, 1))


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
        raise UnsupportedImageError("SVG is not accepted here: librsvg 2.52+ and cairo are needed")
    width, height = svg.size(data)
    _check_pixels(width, height, max_pixels)
    return ImageInfo("image/svg+xml", width, height, 1, 1)


#: Density at which a PDF's first page is rendered to learn its size: tiny,
#: since ImageMagick 6 cannot ping a PDF held in memory.
_PDF_PROBE_DENSITY = 9
_NUMBER = rb"\s*(-?[\d.]+)"
_PDF_MEDIABOX = re.compile(rb"/MediaBox\s*\[" + _NUMBER * 4 + rb"\s*\]")


def _probe_pdf(data: bytes, max_pixels: int) -> ImageInfo:
    """Size of the first page in points (pixels at 72 DPI).  Pages are not
    counted: ``frames`` is 1, and thumbnails show the first page."""
    if "application/pdf" not in ACCEPTED_MIMETYPES:
        raise UnsupportedImageError(
            "PDF is not accepted here: the ImageMagick policy in force refuses the PDF coder "
            "(Debian's default; see docs/imaging.md to allow it)"
        )
    # ImageMagick sizes Ghostscript's canvas from the MediaBox entries it finds
    # in the file the same way, so a huge one must be refused before rendering.
    for box in _PDF_MEDIABOX.finditer(data):
        left, bottom, right, top = (float(v) for v in box.groups())
        _check_pixels(math.ceil(abs(right - left)), math.ceil(abs(top - bottom)), max_pixels)
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
    return bool(width > limits["width"] or height > limits["height"])


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
