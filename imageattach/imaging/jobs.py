"""imageattach's image operations, each run as a job in a decoding
worker (:mod:`imageattach.imaging.sandbox`): :func:`probe`,
:func:`make_thumbnail`, :func:`render` and :func:`preview_rgba`.  The
options are checked here, in the calling process, so a bad call fails
without a worker."""

from __future__ import annotations

import dataclasses
from typing import IO, Any

from wand.image import FILTER_TYPES

from ..exceptions import ArgumentError, ArgumentTypeError, CorruptImageError, ImageTooLargeError
from ..limits import DEFAULT_LIMITS, ImageLimits, check_limits
from ..sizing import check_dimension, thumbnail_mimetype
from .formats import ACCEPTED_MIMETYPES
from .headers import claimed_size
from .info import ImageInfo
from .render import FORMATS, PreviewResult, RenderResult, RenderSpec
from .sandbox import get_sandbox

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PREVIEW_SIDE",
    "check_filter",
    "make_thumbnail",
    "preview_rgba",
    "probe",
    "render",
]

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


def render(
    source: bytes | IO[bytes],
    spec: RenderSpec,
    *,
    info: ImageInfo | None = None,
    limits: ImageLimits | None = None,
) -> RenderResult:
    """Render a variant of ``source``'s first frame as ``spec`` says: fit
    (``contain``/``cover``), gravity, format and quality, EXIF oriented,
    in sRGB, metadata stripped.  Its size is ``spec.size(info.width,
    info.height)`` (:func:`imageattach.sizing.render_size`).  ``info`` is
    ``source``'s :func:`probe` result if the caller has it (else the worker
    probes).  The reply is checked: the announced size, the mimetype asked
    for, and the magic bytes (and header size, where imageattach can read
    it) of that format.

    :raises ArgumentTypeError: ``spec`` is not a :class:`RenderSpec`.
    :raises ImageTooLargeError: an ``upscale`` box above ``limits.pixels``,
        and as :func:`probe`.
    :raises ImageError: as :func:`probe`, also when only the decoder notices.
    """
    if not isinstance(spec, RenderSpec):
        raise ArgumentTypeError(f"spec must be a RenderSpec, not {spec!r}")
    limits = _limits(limits, None)
    if spec.upscale and spec.width and spec.height and spec.width * spec.height > limits.pixels:
        raise ImageTooLargeError(
            f"a {spec.width}x{spec.height} output exceeds the limit of {limits.pixels} pixels"
        )
    params = {
        "spec": spec.to_json(),
        "info": None if info is None else dataclasses.asdict(info),
    }
    reply, data = get_sandbox().run("render", params, source, limits)
    if info is not None:
        mimetypes: frozenset[str] = frozenset({spec.mimetype(info.mimetype)})
        expected: tuple[int, int] | None = spec.size(info.width, info.height)
    else:
        mimetypes = frozenset({FORMATS[spec.format]}) if spec.format else _THUMBNAIL_MIMETYPES
        expected = None
    mimetype = reply.get("mimetype")
    width, height = _reply_size(reply)
    if (
        mimetype not in mimetypes
        or not _within(spec, width, height, expected, limits.pixels)
        or not _has_magic(data, str(mimetype))
        or claimed_size(data) not in (None, (width, height))
    ):
        raise CorruptImageError("the image cannot be decoded (the decoder failed)")
    return RenderResult(data, str(mimetype), width, height)


#: The largest preview side :func:`preview_rgba` makes.
MAX_PREVIEW_SIDE = 100


def preview_rgba(
    source: bytes | IO[bytes],
    *,
    info: ImageInfo | None = None,
    limits: ImageLimits | None = None,
    max_side: int = MAX_PREVIEW_SIDE,
) -> PreviewResult:
    """A tiny preview of ``source``'s first frame, for placeholders
    (ThumbHash, BlurHash, a blurred ``data:`` URI): at most ``max_side``
    (<= :data:`MAX_PREVIEW_SIDE`) pixels on its longer side, never
    enlarged, EXIF oriented, in sRGB, as raw 8-bit RGBA rows.

    :raises ArgumentError: ``max_side`` not in 1..MAX_PREVIEW_SIDE.
    :raises ImageError: as :func:`probe`, also when only the decoder notices.
    """
    check_dimension("max_side", max_side)
    if max_side > MAX_PREVIEW_SIDE:
        raise ArgumentError(f"max_side must be at most {MAX_PREVIEW_SIDE}, not {max_side!r}")
    limits = _limits(limits, None)
    params = {"max_side": max_side, "info": None if info is None else dataclasses.asdict(info)}
    reply, data = get_sandbox().run("preview", params, source, limits)
    width, height = _reply_size(reply)
    if max(width, height) > max_side or len(data) != width * height * 4:
        raise CorruptImageError("the image cannot be decoded (the decoder failed)")
    return PreviewResult(data, width, height)


def _reply_size(reply: dict[str, Any]) -> tuple[int, int]:
    """The ``width`` and ``height`` a worker announced: positive ints."""
    width, height = reply.get("width"), reply.get("height")
    if type(width) is not int or type(height) is not int or width < 1 or height < 1:
        raise CorruptImageError("the image cannot be decoded (the decoder failed)")
    return width, height


def _within(
    spec: RenderSpec, width: int, height: int, expected: tuple[int, int] | None, pixels: int
) -> bool:
    """Whether a worker's announced output size is the one ``spec`` gives
    (``expected``, when the source's size is known) or at least bounded by it."""
    if expected is not None:
        return (width, height) == expected
    if width * height > pixels:
        return False
    if spec.fit == "cover" and spec.upscale:
        return (width, height) == (spec.width, spec.height)
    if spec.fit == "cover" and spec.width and spec.height:
        # Scaled down to fit the original: the box's shape, within rounding.
        return (
            width <= spec.width
            and height <= spec.height
            and _same_shape(width, height, spec.width, spec.height)
        )
    return (spec.width is None or width <= spec.width or spec.upscale) and (
        spec.height is None or height <= spec.height or spec.upscale
    )


def _same_shape(width: int, height: int, box_width: int, box_height: int) -> bool:
    """``width`` x ``height`` has the box's aspect ratio, to one pixel."""
    return abs(width * box_height - height * box_width) <= max(box_width, box_height)


#: The first bytes of each output format (``None``: any byte there).
_MAGIC: dict[str, tuple[tuple[bytes | None, ...], ...]] = {
    "image/jpeg": ((b"\xff\xd8\xff",),),
    "image/png": ((b"\x89PNG\r\n\x1a\n",),),
    "image/gif": ((b"GIF87a",), (b"GIF89a",)),
    "image/webp": ((b"RIFF", None, b"WEBP"),),
    "image/avif": ((None, b"ftypavif"), (None, b"ftypavis")),
    "image/heic": ((None, b"ftypheic"), (None, b"ftypheix"), (None, b"ftypmif1")),
    "image/bmp": ((b"BM",),),
    "image/tiff": ((b"II*\x00",), (b"MM\x00*",)),
    "image/vnd.microsoft.icon": ((b"\x00\x00\x01\x00",),),
    "image/jxl": ((b"\xff\x0a",), (b"\x00\x00\x00\x0cJXL ",)),
}


def _has_magic(data: bytes, mimetype: str) -> bool:
    """Whether ``data`` starts as a file of ``mimetype`` does (4-byte
    fields; ``None`` is a length or size field, not checked)."""
    for pattern in _MAGIC.get(mimetype, ()):
        position, matched = 0, True
        for part in pattern:
            size = 4 if part is None else len(part)
            if part is not None and data[position : position + size] != part:
                matched = False
                break
            position += size
        if matched:
            return True
    return False
