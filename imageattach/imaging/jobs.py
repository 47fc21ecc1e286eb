"""imageattach's two image operations, each run as a job in a decoding
worker (:mod:`imageattach.imaging.sandbox`): :func:`probe` and
:func:`make_thumbnail`.  The options are checked here, in the calling
process, so a bad call fails without a worker."""

from __future__ import annotations

import dataclasses
from typing import IO

from wand.image import FILTER_TYPES

from ..exceptions import ArgumentError, CorruptImageError, ImageTooLargeError
from ..limits import DEFAULT_LIMITS, ImageLimits, check_limits
from ..sizing import thumbnail_mimetype
from .formats import ACCEPTED_MIMETYPES
from .info import ImageInfo
from .sandbox import get_sandbox

__all__ = ["DEFAULT_MAX_PIXELS", "check_filter", "make_thumbnail", "probe"]

#: What a thumbnail can be encoded as.
_THUMBNAIL_MIMETYPES = frozenset(thumbnail_mimetype(m) for m in ACCEPTED_MIMETYPES)

#: Largest source accepted by default, in pixels (width x height): 50 MP
#: covers every camera photo in common use.
DEFAULT_MAX_PIXELS: int = DEFAULT_LIMITS.pixels


def probe(
    source: bytes | IO[bytes],
    *,
    max_pixels: int | None = None,
    limits: ImageLimits | None = None,
    allow_active_svg: bool = False,
) -> ImageInfo:
    """Identify an image from its header: ImageMagick's *ping* of the first
    frame, no pixel decoded.  ``source`` is bytes or a binary file (read
    from its current position, which is kept).  ``max_pixels`` overrides
    ``limits.pixels``.  SVG with scripts, event handlers, ``foreignObject``
    or external references is refused unless ``allow_active_svg``.

    :raises CorruptImageError: not an image, truncated, garbage, or the
        decoder crashed on it.
    :raises UnsupportedImageError: a format imageattach does not accept, or
        SVG active content.
    :raises ImageTooLargeError: above ``limits`` (pixels, frames, metadata
        bytes, memory).
    :raises ImageTimeoutError: the worker ran out of time.
    :raises ImagingUnavailableError: no worker was free in time (transient).
    :raises ImagingPolicyError: ImageMagick runs without imageattach's policy.
    """
    limits = _limits(limits, max_pixels)
    reply, _ = get_sandbox().run(
        "probe", {"allow_active_svg": bool(allow_active_svg)}, source, limits
    )
    return _checked_info(reply.get("info"))


def make_thumbnail(
    source: bytes | IO[bytes],
    *,
    width: int,
    height: int,
    info: ImageInfo | None = None,
    filter: str = "undefined",
    quality: int | None = None,
    max_pixels: int | None = None,
    limits: ImageLimits | None = None,
) -> tuple[bytes, str]:
    """Encode a ``width`` x ``height`` thumbnail of ``source``'s first frame.

    The size is taken as given: compute it with
    :func:`imageattach.sizing.thumbnail_size` to keep the aspect ratio.
    ``info`` is ``source``'s :func:`probe` result if the caller already has
    it (else the worker probes).  Returns ``(data, mimetype)``; the mimetype
    is :func:`imageattach.sizing.thumbnail_mimetype` of the source's (PNG
    for SVG and PDF).  The same input always gives the same bytes.

    :raises ArgumentError: bad ``width``, ``height``, ``filter`` or
        ``quality`` (a :exc:`ValueError`).
    :raises ImageError: as :func:`probe`, also when only the decoder notices.
    """
    limits = _limits(limits, max_pixels)
    _check_options(width, height, filter, quality, limits.pixels)
    params = {
        "width": width,
        "height": height,
        "info": None if info is None else dataclasses.asdict(info),
        "filter": filter,
        "quality": quality,
    }
    reply, data = get_sandbox().run("thumbnail", params, source, limits)
    mimetype = reply.get("mimetype")
    expected = _THUMBNAIL_MIMETYPES if info is None else {thumbnail_mimetype(info.mimetype)}
    if mimetype not in expected or not data:
        raise CorruptImageError("the image cannot be decoded (the decoder failed)")
    return data, str(mimetype)


def _limits(limits: ImageLimits | None, max_pixels: int | None) -> ImageLimits:
    limits = check_limits("limits", limits) or DEFAULT_LIMITS
    return limits if max_pixels is None else limits.replace(pixels=max_pixels)


def _checked_info(value: object) -> ImageInfo:
    """The :class:`ImageInfo` a worker replied, if it is one: a worker is
    not trusted to say what a server may store."""
    try:
        info = ImageInfo(**value)  # type: ignore[arg-type]
    except TypeError:
        info = None
    numbers = () if info is None else (info.width, info.height, info.frames, info.orientation)
    if (
        info is None
        or info.mimetype not in ACCEPTED_MIMETYPES
        or not all(type(number) is int and number >= 1 for number in numbers)
        or info.orientation > 8
    ):
        raise CorruptImageError("the image cannot be decoded (the decoder failed)")
    return info


def _check_options(
    width: int, height: int, filter: str, quality: int | None, max_pixels: int
) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ArgumentError(f"{name} must be a positive integer, not {value!r}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"a {width}x{height} thumbnail exceeds the limit of {max_pixels} pixels"
        )
    check_filter(filter)
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100
    ):
        raise ArgumentError(f"quality must be 1..100, not {quality!r}")


def check_filter(filter: str) -> None:
    """Check that ``filter`` is an ImageMagick resize filter name
    (``wand.image.FILTER_TYPES``).

    :raises ArgumentError: it is not.
    """
    if not isinstance(filter, str) or filter not in FILTER_TYPES:
        raise ArgumentError(f"unknown resize filter {filter!r}; one of {', '.join(FILTER_TYPES)}")
