"""Thumbnail size and type arithmetic, shared by ``generate_thumbnail`` and
on-demand resize URLs so both always agree on the key of a size."""

from __future__ import annotations

import decimal
import math

from .exceptions import ArgumentError, ArgumentTypeError, ImageTooLargeError

__all__ = ["VECTOR_TYPES", "check_dimension", "thumbnail_mimetype", "thumbnail_size"]

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
