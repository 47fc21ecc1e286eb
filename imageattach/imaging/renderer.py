"""Render variants and tiny previews, in a decoding worker.

The decode path is :mod:`~imageattach.imaging.thumbnail`'s (probe or
checked ``info``, memory estimate before decoding, JPEG shrink-on-load,
PDF at >= 72 DPI, SVG through librsvg, first frame only), then: EXIF
auto-orient *before* any crop, ICC to sRGB, crop for ``cover`` by gravity,
resize, strip every piece of metadata, encode.  The server side, which
checks the options and the reply, is :mod:`~imageattach.imaging.jobs`.
"""

from __future__ import annotations

import math

from wand.color import Color
from wand.image import Image

from ..exceptions import ImageTooLargeError
from ..limits import ImageLimits
from ..sizing import render_size
from . import avif
from .color import to_srgb
from .errors import wand_errors
from .formats import CODERS
from .info import ImageInfo
from .render import DEFAULT_QUALITY, RenderSpec
from .thumbnail import (
    _BYTES_PER_PIXEL,
    _check_memory,
    _decode,
    _encode,
    source_info,
)

__all__ = [
    "ENTROPY_SIDE",
    "WEBP_METHOD",
    "crop_window",
    "entropy_offset",
    "preview_bytes",
    "render_bytes",
]

#: Longest side of the greyscale copy the ``entropy`` gravity measures:
#: enough to tell a detailed region from a plain one, cheap in Python.
ENTROPY_SIDE = 96
#: Grey levels of the entropy histograms (8-bit values >> 3): fewer bins
#: make noise and JPEG artefacts count less than real detail.
_ENTROPY_BINS = 32
#: The WebP encoder effort, libwebp's default and libvips' (``effort=4``).
WEBP_METHOD = 4


def render_bytes(
    data: bytes, *, spec: RenderSpec, info: ImageInfo | None, limits: ImageLimits
) -> tuple[bytes, str, int, int]:
    """Render ``spec`` of ``data``'s first frame: ``(bytes, mimetype, width,
    height)``.  ``info`` is the image's probe if the caller has it."""
    info = source_info(data, info, limits)
    width, height = spec.size(info.width, info.height)
    _check_output(width, height, limits)
    mimetype = spec.mimetype(info.mimetype)
    if spec.fit == "cover":
        # Decoded at the size that covers the box, the overflow is cropped.
        scale = max(width / info.width, height / info.height)
        decode_size = (
            max(width, math.ceil(info.width * scale)),
            max(height, math.ceil(info.height * scale)),
        )
    else:
        decode_size = (width, height)
    _check_memory(info, *decode_size, limits.memory)
    with wand_errors(), _decode(data, info, *decode_size) as image:
        _normalise(image)
        if spec.fit == "cover":
            left, top, crop_width, crop_height = crop_window(
                image, width / height, spec.gravity, spec.focal
            )
            image.crop(left, top, width=crop_width, height=crop_height)
            image.reset_coords()
        image.resize(width, height)
        image.reset_coords()  # a GIF frame's canvas offset would survive in the output
        image.strip()
        quality = spec.quality or DEFAULT_QUALITY.get(mimetype)
        return _encode_variant(image, mimetype, quality), mimetype, width, height


def preview_bytes(
    data: bytes, *, max_side: int, info: ImageInfo | None, limits: ImageLimits
) -> tuple[bytes, int, int]:
    """``(rgba, width, height)``: the first frame, EXIF oriented, in sRGB,
    at most ``max_side`` on its longer side (never enlarged), as 8-bit RGBA
    rows; transparent where the image is."""
    info = source_info(data, info, limits)
    width, height = render_size(
        info.width, info.height, width=max_side, height=max_side, fit="contain"
    )
    _check_memory(info, width, height, limits.memory)
    with wand_errors(), _decode(data, info, width, height) as image:
        _normalise(image)
        image.resize(width, height)
        rgba = bytes(image.export_pixels(channel_map="RGBA", storage="char"))
    return rgba, width, height


def _check_output(width: int, height: int, limits: ImageLimits) -> None:
    """Refuse an output above the pixel limit or the memory limit (possible
    with ``upscale``), before decoding."""
    if width * height > limits.pixels:
        raise ImageTooLargeError(
            f"a {width}x{height} output exceeds the limit of {limits.pixels} pixels"
        )
    if width * height * _BYTES_PER_PIXEL > limits.memory:
        raise ImageTooLargeError(f"a {width}x{height} output needs more memory than the limit")


def _normalise(image: Image) -> None:
    """Displayed orientation and sRGB pixels, before anything is measured
    or cropped."""
    image.auto_orient()
    image.reset_coords()
    if image.colorspace == "ycbcr":
        # ImageMagick 6's HEIC/AVIF reader hands over YCbCr samples.
        image.transform_colorspace("srgb")
    to_srgb(image)


def crop_window(
    image: Image, aspect: float, gravity: str, focal: tuple[float, float] | None
) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the largest window of ``aspect``
    (width / height) in ``image``, placed by ``gravity``."""
    full_width, full_height = image.width, image.height
    crop_width = min(full_width, max(1, round(full_height * aspect)))
    crop_height = min(full_height, max(1, round(full_width / aspect)))
    spare_x, spare_y = full_width - crop_width, full_height - crop_height
    if gravity == "entropy":
        left, top = entropy_offset(image, crop_width, crop_height)
    elif gravity == "focal":
        assert focal is not None
        left = _clamp(round(focal[0] * full_width - crop_width / 2), spare_x)
        top = _clamp(round(focal[1] * full_height - crop_height / 2), spare_y)
    else:
        left = 0 if "west" in gravity else spare_x if "east" in gravity else spare_x // 2
        top = 0 if "north" in gravity else spare_y if "south" in gravity else spare_y // 2
    return left, top, crop_width, crop_height


def _clamp(value: int, maximum: int) -> int:
    return max(0, min(value, maximum))


def entropy_offset(image: Image, crop_width: int, crop_height: int) -> tuple[int, int]:
    """The ``(left, top)`` of the ``crop_width`` x ``crop_height`` window
    with the most detail: of all positions along the axis being cropped,
    the one whose grey levels (on a small greyscale copy) have the highest
    Shannon entropy; the most central one among equals."""
    full_width, full_height = image.width, image.height
    horizontal = crop_width < full_width
    spare = full_width - crop_width if horizontal else full_height - crop_height
    if spare <= 0:
        return 0, 0
    scale = min(1.0, ENTROPY_SIDE / max(full_width, full_height))
    small_width = max(1, round(full_width * scale))
    small_height = max(1, round(full_height * scale))
    with image.clone() as small:
        small.resize(small_width, small_height, filter="box")
        levels = bytes(small.export_pixels(channel_map="I", storage="char"))
    # One histogram per line across the cropped axis (columns when cropping
    # the width), then a window of lines slid along it.
    lines = small_width if horizontal else small_height
    length = crop_width if horizontal else crop_height
    window = min(lines, max(1, round(length * scale)))
    histograms = [[0] * _ENTROPY_BINS for _ in range(lines)]
    for index, level in enumerate(levels):
        line = index % small_width if horizontal else index // small_width
        histograms[line][level >> 3] += 1
    counts = [0] * _ENTROPY_BINS
    for line in range(window):
        for bin_, count in enumerate(histograms[line]):
            counts[bin_] += count
    positions = lines - window
    centre = positions / 2
    best, best_key = 0, (-1.0, 0.0)
    for position in range(positions + 1):
        if position:
            leaving, entering = histograms[position - 1], histograms[position + window - 1]
            for bin_ in range(_ENTROPY_BINS):
                counts[bin_] += entering[bin_] - leaving[bin_]
        key = (round(_entropy(counts), 9), -abs(position - centre))
        if key > best_key:
            best, best_key = position, key
    offset = spare // 2 if positions == 0 else round(best * spare / positions)
    return (offset, 0) if horizontal else (0, offset)


def _entropy(counts: list[int]) -> float:
    """Shannon entropy, in bits, of a histogram."""
    total = sum(counts)
    if not total:
        return 0.0
    return math.log2(total) - sum(c * math.log2(c) for c in counts if c) / total


def _encode_variant(image: Image, mimetype: str, quality: int | None) -> bytes:
    """Encode for ``mimetype``.  JPEG is flattened on white; PNG, WebP and
    AVIF keep alpha (AVIF with alpha through libheif directly, since
    ImageMagick 6's HEIF writer drops it; flattened on white where libheif
    cannot be called, rather than turning transparent areas black)."""
    alpha = bool(image.alpha_channel)
    if mimetype == "image/avif" and alpha and avif.available():
        image.depth = 8
        return avif.encode_rgba(image, quality or DEFAULT_QUALITY[mimetype])
    if mimetype in ("image/jpeg", "image/avif") and alpha:
        image.background_color = Color("white")
        image.alpha_channel = "remove"
        image.alpha_channel = "off"
    if mimetype in ("image/webp", "image/avif"):
        image.format = CODERS[mimetype]
        image.depth = 8
        image.compression_quality = quality or DEFAULT_QUALITY[mimetype]
        if mimetype == "image/webp":
            image.options["webp:method"] = str(WEBP_METHOD)
        blob: bytes = image.make_blob()
        return blob
    # JPEG, PNG and the formats kept from the source: as thumbnails are.
    return _encode(image, mimetype, quality)
