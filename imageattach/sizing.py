"""Thumbnail size and type arithmetic, shared by ``generate_thumbnail`` and
on-demand resize URLs so both always agree on the key of a size."""

from __future__ import annotations

import decimal
import math

from .exceptions import ArgumentError, ArgumentTypeError, ImageTooLargeError

__all__ = [
    "FITS",
    "VECTOR_TYPES",
    "check_dimension",
    "render_size",
    "thumbnail_mimetype",
    "thumbnail_size",
]

#: How an image is fitted to a requested box: ``contain`` keeps the whole
#: image inside the box (today's proportional resize), ``cover`` fills the
#: exact box, cropping what overflows.
FITS: tuple[str, ...] = ("contain", "cover")

#: Mimetypes that are rasterised; their thumbnails are PNG.
VECTOR_TYPES: frozenset[str] = frozenset({"image/svg+xml", "application/pdf"})


def _round(value: float) -> int:
    """Round half up (the seed truncated; ``round()`` would round half to even)."""
    return max(1, int(decimal.Decimal(repr(value)).quantize(0, decimal.ROUND_HALF_UP)))


def thumbnail_size(
    original_width: int,
    original_height: int,
    *,
    width: int | None = None,
    height: int | None = None,
    ratio: float | None = None,
) -> tuple[int, int]:
    """The ``(width, height)`` of the thumbnail given by exactly one of
    ``width``, ``height`` or ``ratio``, keeping the original's aspect ratio.

    :raises ArgumentTypeError: unless exactly one of them is given, or one
        is of the wrong type (a :exc:`TypeError` too).
    :raises ArgumentError: if it is not positive (or not finite); a
        :exc:`ValueError` too.
    """
    given = [
        name
        for name, v in (("width", width), ("height", height), ("ratio", ratio))
        if v is not None
    ]
    if len(given) != 1:
        raise ArgumentTypeError("pass exactly one of width, height or ratio")
    if original_width <= 0 or original_height <= 0:
        raise ArgumentError("the original size must be positive")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, int | float | decimal.Decimal):
            raise ArgumentTypeError(f"ratio must be a number, not {ratio!r}")
        if not math.isfinite(ratio) or ratio <= 0:
            raise ArgumentError(f"ratio must be a positive number, not {ratio!r}")
        return _round(original_width * ratio), _round(original_height * ratio)
    if width is not None:
        check_dimension("width", width)
        return width, _round(original_height * width / original_width)
    assert height is not None
    check_dimension("height", height)
    return _round(original_width * height / original_height), height


def check_dimension(name: str, value: int) -> None:
    """Check that ``value`` is a usable width or height.

    :raises ArgumentTypeError: it is not an integer.
    :raises ArgumentError: it is not positive.
    :raises ImageTooLargeError: it is absurdly large.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be an integer, not {value!r}")
    if value <= 0:
        raise ArgumentError(f"{name} must be positive, not {value!r}")
    if value > 1_000_000:
        raise ImageTooLargeError(f"{name} {value} is larger than any image imageattach makes")


def thumbnail_mimetype(original_mimetype: str) -> str:
    """The mimetype of a thumbnail of an original of ``original_mimetype``."""
    return "image/png" if original_mimetype in VECTOR_TYPES else original_mimetype


def render_size(
    original_width: int,
    original_height: int,
    *,
    width: int | None,
    height: int | None,
    fit: str = "contain",
    upscale: bool = False,
) -> tuple[int, int]:
    """The ``(width, height)`` of a rendered variant of an original whose
    *displayed* size is ``original_width`` x ``original_height``.

    ``contain``: the largest size with the original's aspect ratio inside
    the ``width`` x ``height`` box (either may be ``None``: unbounded),
    rounded as :func:`thumbnail_size` rounds, so that a width alone gives
    the same size as ``thumbnail_size(width=...)``.  ``cover``: exactly the
    box (both are required).  Without ``upscale`` the result never exceeds
    the original: ``contain`` stops at the original's size, and a ``cover``
    box larger than the original on either side is scaled down, keeping its
    aspect ratio, until it fits in the original (the URL then names the
    clamped size).

    :raises ArgumentTypeError: a dimension of the wrong type, or ``cover``
        without both.
    :raises ArgumentError: an unknown ``fit``, or a size that is not positive.
    :raises ImageTooLargeError: an absurdly large box.
    """
    if fit not in FITS:
        raise ArgumentError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
    if original_width <= 0 or original_height <= 0:
        raise ArgumentError("the original size must be positive")
    if width is None and height is None:
        raise ArgumentTypeError("pass width, height or both")
    for name, value in (("width", width), ("height", height)):
        if value is not None:
            check_dimension(name, value)
    if fit == "cover":
        if width is None or height is None:
            raise ArgumentTypeError('fit="cover" needs both width and height')
        if upscale or (width <= original_width and height <= original_height):
            return width, height
        # The largest box of the requested shape inside the original.
        scale = min(original_width / width, original_height / height)
        return (
            min(original_width, _round(width * scale)),
            min(original_height, _round(height * scale)),
        )
    # contain: the binding side is taken as given and the other one rounded
    # (the same expressions as thumbnail_size, for the same results).
    if height is None or (width is not None and width * original_height <= height * original_width):
        assert width is not None
        if not upscale and width >= original_width:
            return original_width, original_height
        return width, _round(original_height * width / original_width)
    if not upscale and height >= original_height:
        return original_width, original_height
    return _round(original_width * height / original_height), height
